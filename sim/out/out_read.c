/* out_read.c - reading back the tables of out_h5.c (HDF5 C API, 1.10).
 *
 * Only what out_h5.c writes is accepted: scalar attributes (variable-length
 * strings, 64-bit integers) and 1-D column datasets (IEEE f64, 64-bit
 * integers, fixed-length strings). Anything else, a file that is not HDF5,
 * a truncated one or one that another program wrote, is an input error
 * naming the file; HDF5's automatic error printing stays off.
 */
#include "out/out.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "out/out_int.h"
#include "util/str.h"

struct out_reader {
    hid_t file;
    char *path;      /* owned */
    diag_list *diag; /* borrowed */
};

static void bad(const out_reader *r, const char *fmt, ...) SP_PRINTF(2, 3);
static void bad(const out_reader *r, const char *fmt, ...)
{
    va_list ap;
    char *what;

    H5Eclear2(H5E_DEFAULT);
    va_start(ap, fmt);
    what = str_vformat(fmt, ap);
    va_end(ap);
    diag_error(r->diag, (sp_loc){r->path, 0}, "%s", what != NULL ? what : "cannot read it");
    free(what);
}

void out_read_close(out_reader *r)
{
    if (r == NULL)
        return;
    if (r->file >= 0)
        H5Fclose(r->file);
    H5Eclear2(H5E_DEFAULT);
    free(r->path);
    free(r);
}

/* Open group (NULL: the root) as an object to read attributes from.
 * @return the object (H5Oclose) or a negative id (reported) */
static hid_t open_obj(const out_reader *r, const char *group)
{
    hid_t o;

    if (group == NULL) {
        if ((o = H5Oopen(r->file, "/", H5P_DEFAULT)) < 0)
            bad(r, "cannot read its root group (damaged?)");
        return o;
    }
    if (H5Lexists(r->file, group, H5P_DEFAULT) <= 0 || (o = H5Gopen2(r->file, group, H5P_DEFAULT)) < 0) {
        bad(r, "no table \"%s\" in it", group);
        return H5I_INVALID_HID;
    }
    return o;
}

static const char *where(const char *group)
{
    return group != NULL ? group : "/";
}

/* Open attribute name of obj and check its class and size (size 0: any).
 * @return the attribute (H5Aclose) or a negative id (reported) */
static hid_t open_attr(const out_reader *r, hid_t obj, const char *group, const char *name, H5T_class_t cls,
                       size_t size)
{
    hid_t a, t, sp;
    int ok;

    if (H5Aexists(obj, name) <= 0 || (a = H5Aopen(obj, name, H5P_DEFAULT)) < 0) {
        bad(r, "%s has no attribute \"%s\"", where(group), name);
        return H5I_INVALID_HID;
    }
    t = H5Aget_type(a);
    sp = H5Aget_space(a);
    ok = t >= 0 && sp >= 0 && H5Tget_class(t) == cls && (size == 0 || H5Tget_size(t) == size) &&
         H5Sget_simple_extent_type(sp) == H5S_SCALAR;
    if (ok && cls == H5T_STRING)
        ok = H5Tis_variable_str(t) > 0;
    if (t >= 0)
        H5Tclose(t);
    if (sp >= 0)
        H5Sclose(sp);
    if (!ok) {
        H5Aclose(a);
        bad(r, "attribute \"%s\" of %s is not a %s", name, where(group),
            cls == H5T_STRING ? "string" : "64-bit integer");
        return H5I_INVALID_HID;
    }
    return a;
}

int out_read_attr_str(out_reader *r, const char *group, const char *name, char **value)
{
    hid_t obj, a, t;
    char *s = NULL;
    int err = SP_EINPUT;

    *value = NULL;
    if ((obj = open_obj(r, group)) < 0)
        return SP_EINPUT;
    a = open_attr(r, obj, group, name, H5T_STRING, 0);
    if (a >= 0) {
        t = H5Aget_type(a); /* read as stored: HDF5 converts no character set into another */
        if (t >= 0 && H5Aread(a, t, &s) >= 0) {
            *value = str_dup(s != NULL ? s : "");
            err = *value != NULL ? SP_OK : SP_ENOMEM;
            if (s != NULL)
                H5free_memory(s);
        } else {
            bad(r, "cannot read attribute \"%s\" of %s", name, where(group));
        }
        if (t >= 0)
            H5Tclose(t);
        H5Aclose(a);
    }
    H5Oclose(obj);
    return err;
}

int out_read_attr_i64(out_reader *r, const char *group, const char *name, long long *value)
{
    hid_t obj, a;
    int err = SP_EINPUT;

    *value = 0;
    if ((obj = open_obj(r, group)) < 0)
        return SP_EINPUT;
    a = open_attr(r, obj, group, name, H5T_INTEGER, 8);
    if (a >= 0) {
        if (H5Aread(a, H5T_NATIVE_LLONG, value) >= 0)
            err = SP_OK;
        else
            bad(r, "cannot read attribute \"%s\" of %s", name, where(group));
        H5Aclose(a);
    }
    H5Oclose(obj);
    return err;
}

/* The checksum block (out.h, OUT_USERBLOCK) against what follows it.
 * @return SP_OK, or SP_EINPUT (reported) */
static int check_seal(out_reader *r, const char *path)
{
    FILE *fp = fopen(path, "rb");
    char head[OUT_USERBLOCK + 1], canon[OUT_USERBLOCK];
    unsigned long want = 0;
    unsigned long long size = 0, got = 0;
    uint32_t crc = 0;
    size_t n;

    if (fp == NULL) {
        bad(r, "cannot open it: %s", strerror(errno));
        return SP_EINPUT;
    }
    n = fread(head, 1, OUT_USERBLOCK, fp);
    head[n] = '\0';
    if (n < OUT_USERBLOCK || strncmp(head, OUT_MAGIC, strlen(OUT_MAGIC)) != 0 ||
        sscanf(head + strlen(OUT_MAGIC), "crc32=%8lx size=%llu", &want, &size) != 2) {
        fclose(fp);
        if (n >= 8 && memcmp(head, "\211HDF\r\n\032\n", 8) == 0)
            bad(r, "an HDF5 file without scalepath's checksum block: not written by this scalepath");
        else
            bad(r, "not a scalepath HDF5 file (or a truncated one): no checksum block");
        return SP_EINPUT;
    }
    /* The block is exactly what out_commit() writes: the line, then zeros. */
    out_block_text(canon, (uint32_t)want, size);
    if (memcmp(canon, head, OUT_USERBLOCK) != 0) {
        fclose(fp);
        bad(r, "damaged: its checksum block is not as scalepath writes it");
        return SP_EINPUT;
    }
    if (out_body_crc(fp, &crc, &got) < 0) {
        fclose(fp);
        bad(r, "cannot read it: an I/O error part way through");
        return SP_EINPUT;
    }
    fclose(fp);
    if (got != size || crc != want) {
        bad(r, "damaged: %llu bytes with CRC-32 %08lx, where it was written with %llu bytes and %08lx", got,
            (unsigned long)crc, size, want);
        return SP_EINPUT;
    }
    return SP_OK;
}

int out_read_open(out_reader **out, const char *path, diag_list *diag)
{
    out_reader *r;
    long long schema = 0, complete = 0;
    htri_t is;
    int err;

    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    r = calloc(1, sizeof(*r));
    if (r == NULL || (r->path = str_dup(path)) == NULL) {
        free(r);
        return SP_ENOMEM;
    }
    r->file = H5I_INVALID_HID;
    r->diag = diag;
    if (check_seal(r, path) < 0) {
        out_read_close(r);
        return SP_EINPUT;
    }
    is = H5Fis_hdf5(path);
    if (is <= 0) {
        FILE *fp = fopen(path, "rb");
        if (fp == NULL)
            bad(r, "cannot open it: %s", strerror(errno));
        else
            bad(r, "not an HDF5 file (or a truncated one)");
        if (fp != NULL)
            fclose(fp);
        out_read_close(r);
        return SP_EINPUT;
    }
    r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (r->file < 0) {
        bad(r, "cannot open it as HDF5 (damaged or truncated?)");
        out_read_close(r);
        return SP_EINPUT;
    }
    /* Ours: the checksum block says so (no variable-length "generator" read). */
    err = SP_OK;
    if (H5Aexists(r->file, "schema_version") <= 0) {
        H5Eclear2(H5E_DEFAULT);
        bad(r, "has no attribute \"schema_version\": not a scalepath output");
        err = SP_EINPUT;
    }
    if (err == SP_OK && (err = out_read_attr_i64(r, NULL, "schema_version", &schema)) == SP_OK &&
        schema != OUT_SCHEMA_VERSION) {
        bad(r, "output schema version %lld; this scalepath reads version %d", schema, OUT_SCHEMA_VERSION);
        err = SP_EINPUT;
    }
    if (err == SP_OK && (H5Aexists(r->file, "complete") <= 0 ||
                         out_read_attr_i64(r, NULL, "complete", &complete) < 0 || complete != 1)) {
        H5Eclear2(H5E_DEFAULT);
        bad(r, "incomplete: the run that wrote it did not finish");
        err = SP_EINPUT;
    }
    if (err < 0) {
        out_read_close(r);
        return err;
    }
    *out = r;
    return SP_OK;
}

int out_read_has_attr(out_reader *r, const char *group, const char *name)
{
    hid_t obj = group == NULL ? H5Oopen(r->file, "/", H5P_DEFAULT)
                              : (H5Lexists(r->file, group, H5P_DEFAULT) > 0 ? H5Gopen2(r->file, group, H5P_DEFAULT)
                                                                              : H5I_INVALID_HID);
    htri_t yes;

    if (obj < 0) {
        H5Eclear2(H5E_DEFAULT);
        return group == NULL ? -1 : 0;
    }
    yes = H5Aexists(obj, name);
    H5Oclose(obj);
    H5Eclear2(H5E_DEFAULT);
    return yes > 0 ? 1 : yes == 0 ? 0 : -1;
}

int out_read_rows(out_reader *r, const char *group, size_t *nrows)
{
    long long n = 0;
    int err;

    *nrows = 0;
    if (group == NULL || group[0] == '\0') {
        bad(r, "a table needs a group name");
        return SP_EINPUT;
    }
    err = out_read_attr_i64(r, group, "rows", &n);
    if (err < 0)
        return err;
    if (n < 0 || (unsigned long long)n > SIZE_MAX / 64) {
        bad(r, "table \"%s\" says it has %lld rows", group, n);
        return SP_EINPUT;
    }
    *nrows = (size_t)n;
    return SP_OK;
}

static const char *type_name(out_type t)
{
    return t == OUT_F64 ? "64-bit floats" : t == OUT_I64 ? "64-bit signed integers"
                                      : t == OUT_U64 ? "64-bit unsigned integers" : "strings";
}

int out_read_col(out_reader *r, const char *group, const char *name, out_type type, void **data, size_t nrows)
{
    char *full;
    hid_t d = H5I_INVALID_HID, t = H5I_INVALID_HID, sp = H5I_INVALID_HID, mt = H5I_INVALID_HID;
    hsize_t dims[1] = {0};
    size_t cell = 0;
    void *buf = NULL;
    int ok, err = SP_EINPUT;

    *data = NULL;
    full = str_format("%s/%s", group, name);
    if (full == NULL)
        return SP_ENOMEM;
    if (H5Lexists(r->file, group, H5P_DEFAULT) <= 0 || H5Lexists(r->file, full, H5P_DEFAULT) <= 0 ||
        (d = H5Dopen2(r->file, full, H5P_DEFAULT)) < 0) {
        bad(r, "no column \"%s\"", full);
        goto done;
    }
    t = H5Dget_type(d);
    sp = H5Dget_space(d);
    ok = t >= 0 && sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1 &&
         H5Sget_simple_extent_dims(sp, dims, NULL) == 1;
    if (ok) {
        H5T_class_t cls = H5Tget_class(t);
        switch (type) {
        case OUT_F64:
            ok = cls == H5T_FLOAT && H5Tget_size(t) == 8;
            mt = H5Tcopy(H5T_NATIVE_DOUBLE);
            cell = sizeof(double);
            break;
        case OUT_I64:
        case OUT_U64:
            ok = cls == H5T_INTEGER && H5Tget_size(t) == 8 &&
                 H5Tget_sign(t) == (type == OUT_I64 ? H5T_SGN_2 : H5T_SGN_NONE);
            mt = H5Tcopy(type == OUT_I64 ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64);
            cell = 8;
            break;
        default:
            ok = cls == H5T_STRING && H5Tis_variable_str(t) == 0;
            cell = ok ? H5Tget_size(t) : 0;
            ok = ok && cell > 0;
            mt = H5Tcopy(t);
            break;
        }
    }
    if (!ok || mt < 0) {
        bad(r, "column \"%s\" does not hold %s", full, type_name(type));
        goto done;
    }
    if (dims[0] != (hsize_t)nrows) {
        bad(r, "column \"%s\" has %llu rows, its table %zu", full, (unsigned long long)dims[0], nrows);
        goto done;
    }
    if (type == OUT_STR) {
        /* The pointers, then the cells, each cell + 1 byte for a terminator. */
        if (nrows > 0 && cell + 1 > (SIZE_MAX / nrows - sizeof(char *)))
            goto nomem;
        buf = calloc(nrows > 0 ? nrows : 1, sizeof(char *) + cell + 1);
        if (buf == NULL)
            goto nomem;
        if (nrows > 0) {
            char **ptr = buf;
            char *text = (char *)buf + nrows * sizeof(char *), *raw = malloc(nrows * cell);
            if (raw == NULL)
                goto nomem;
            if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) {
                free(raw);
                bad(r, "cannot read column \"%s\" (damaged?)", full);
                goto done;
            }
            for (size_t i = 0; i < nrows; i++) {
                ptr[i] = text + i * (cell + 1);
                memcpy(ptr[i], raw + i * cell, cell);
                ptr[i][cell] = '\0';
            }
            free(raw);
        }
    } else {
        buf = calloc(nrows > 0 ? nrows : 1, cell);
        if (buf == NULL)
            goto nomem;
        if (nrows > 0 && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            bad(r, "cannot read column \"%s\" (damaged?)", full);
            goto done;
        }
    }
    *data = buf;
    buf = NULL;
    err = SP_OK;
    goto done;
nomem:
    err = SP_ENOMEM;
done:
    free(buf);
    if (mt >= 0)
        H5Tclose(mt);
    if (t >= 0)
        H5Tclose(t);
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    H5Eclear2(H5E_DEFAULT);
    free(full);
    return err;
}

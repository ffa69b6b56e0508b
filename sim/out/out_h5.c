/* out_h5.c - out.h on the HDF5 C API (1.10).
 *
 * The file is written in the HDF5 1.8 format (libver bounds V18..V18), not
 * the "earliest" one: keeping the creation order of links and attributes (so
 * that h5py lists columns in the order they were written) needs 1.8-style
 * object headers, and those also move large attribute sets into dense
 * storage. Every HDF5 1.8 or later reader, h5py included, reads it.
 *
 * Determinism: no object carries a timestamp. Time tracking is switched off
 * on the group and dataset creation property lists and on the file creation
 * property list, which the root group is created from. Intermediate groups
 * are created one by one with our own group property list rather than with
 * H5Pset_create_intermediate_group(): HDF5 creates those with the default
 * property list, so they would carry timestamps in this format (measured on
 * 1.10.8). String column buffers are zero-filled before they are written.
 *
 * Errors: HDF5's automatic error printing is switched off; every failure is
 * one diag_error() naming the output file, with the innermost HDF5 message
 * appended. The diag_list given to out_open() is borrowed until out_commit()
 * or out_discard(), because out_table() reports into it too. A handle on
 * which out_table() failed is never committed: out_commit() then removes the
 * partial file and returns SP_EIO.
 */
#include "out/out.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>
#include <zlib.h>

#include "out/out_int.h"
#include "util/str.h"

#ifndef SP_VERSION
#define SP_VERSION "unknown"
#endif

struct out_file {
    hid_t file;      /* open HDF5 file, or H5I_INVALID_HID once closed */
    hid_t gcpl;      /* group creation: no times, creation order kept */
    hid_t dcpl;      /* dataset creation: no times, attribute order kept */
    char *path;      /* final name, owned */
    char *partial;   /* path + ".partial", owned */
    diag_list *diag; /* borrowed from out_open(); may be NULL */
    int failed;      /* an out_table() failed: the file must not be committed */
};

/* The innermost entry of the current HDF5 error stack, which says what went
 * wrong; the outer ones only repeat which API call it was. */
typedef struct h5_detail {
    char text[256];
} h5_detail;

static herr_t walk_innermost(unsigned n, const H5E_error2_t *e, void *ctx)
{
    h5_detail *d = ctx;

    if (n == 0 && e->desc != NULL)
        snprintf(d->text, sizeof(d->text), "%s", e->desc);
    return 0;
}

/* Report a failure on f's file, with the HDF5 detail if there is one, and
 * clear the HDF5 error stack. */
static void fail(const out_file *f, const char *fmt, ...) SP_PRINTF(2, 3);
static void fail(const out_file *f, const char *fmt, ...)
{
    h5_detail d = {{0}};
    va_list ap;
    char *what;

    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_innermost, &d);
    H5Eclear2(H5E_DEFAULT);
    if (f->diag == NULL)
        return;
    va_start(ap, fmt);
    what = str_vformat(fmt, ap);
    va_end(ap);
    if (d.text[0] != '\0')
        diag_error(f->diag, (sp_loc){f->path, 0}, "cannot write HDF5 output: %s (HDF5: %s)",
                   what != NULL ? what : "error", d.text);
    else
        diag_error(f->diag, (sp_loc){f->path, 0}, "cannot write HDF5 output: %s",
                   what != NULL ? what : "error");
    free(what);
}

/* A UTF-8 string type: fixed-length and null-terminated for len bytes of
 * text, or variable-length for len == H5T_VARIABLE.
 * @return the type, or a negative id */
static hid_t str_type(size_t len)
{
    hid_t t = H5Tcopy(H5T_C_S1);

    if (t < 0)
        return H5I_INVALID_HID;
    if (H5Tset_size(t, len == H5T_VARIABLE ? H5T_VARIABLE : len + 1) < 0 ||
        H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* Write a scalar attribute of file type ftype from memory type mtype.
 * @return 0 or negative (the HDF5 error stack says why) */
static int put_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *buf)
{
    hid_t space, attr;
    herr_t rc;

    space = H5Screate(H5S_SCALAR);
    if (space < 0)
        return -1;
    attr = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(space);
    if (attr < 0)
        return -1;
    rc = H5Awrite(attr, mtype, buf);
    if (H5Aclose(attr) < 0)
        rc = -1;
    return rc < 0 ? -1 : 0;
}

/* Write a string attribute; NULL is stored as "". String attributes are
 * variable-length, which h5py reads as str (fixed-length ones come back as
 * numpy bytes); HDF5 keeps their text in a zero-filled global heap, so this
 * is as deterministic as the rest (checked by the unit test). */
static int put_str_attr(hid_t obj, const char *name, const char *s)
{
    hid_t t;
    int rc;

    if (s == NULL)
        s = "";
    t = str_type(H5T_VARIABLE);
    if (t < 0)
        return -1;
    rc = put_attr(obj, name, t, t, &s);
    H5Tclose(t);
    return rc;
}

static int put_i64_attr(hid_t obj, const char *name, long long v)
{
    return put_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &v);
}

/* Write the caller's attributes on obj, named objname in messages.
 * @return SP_OK, SP_EIO or SP_ENOMEM (reported) */
static int put_attrs(const out_file *f, hid_t obj, const char *objname, const out_attr *attrs,
                     size_t nattrs)
{
    for (size_t i = 0; i < nattrs; i++) {
        const out_attr *a = &attrs[i];
        int rc;

        if (a->name == NULL || a->name[0] == '\0') {
            fail(f, "attribute %zu of %s has no name", i, objname);
            return SP_EIO;
        }
        switch (a->type) {
        case OUT_STR:
            rc = put_str_attr(obj, a->name, a->s);
            break;
        case OUT_I64:
            rc = put_i64_attr(obj, a->name, a->i);
            break;
        case OUT_F64:
            rc = put_attr(obj, a->name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &a->f);
            break;
        default:
            fail(f, "attribute \"%s\" of %s: type %d is not one of F64, I64, STR", a->name,
                 objname, (int)a->type);
            return SP_EIO;
        }
        if (rc == 0 && a->type != OUT_STR && a->units != NULL) {
            char *uname = str_format("%s_units", a->name);

            if (uname == NULL) {
                fail(f, "out of memory writing attribute \"%s\" of %s", a->name, objname);
                return SP_ENOMEM;
            }
            rc = put_str_attr(obj, uname, a->units);
            free(uname);
        }
        if (rc != 0) {
            fail(f, "cannot write attribute \"%s\" of %s", a->name, objname);
            return SP_EIO;
        }
    }
    return SP_OK;
}

/* Close the HDF5 objects of f (not the partial file on disk).
 * @return 0, or -1 if HDF5 could not close the file (it may be incomplete) */
static int close_h5(out_file *f)
{
    int rc = 0;

    if (f->file >= 0 && H5Fclose(f->file) < 0)
        rc = -1;
    if (f->gcpl >= 0)
        H5Pclose(f->gcpl);
    if (f->dcpl >= 0)
        H5Pclose(f->dcpl);
    f->file = f->gcpl = f->dcpl = H5I_INVALID_HID;
    return rc;
}

static void release(out_file *f)
{
    free(f->path);
    free(f->partial);
    free(f);
}

/* Property lists shared by the whole file. @return 0 or -1 */
static int make_plists(out_file *f, hid_t *fcpl, hid_t *fapl)
{
    const unsigned order = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;

    *fcpl = H5Pcreate(H5P_FILE_CREATE);
    *fapl = H5Pcreate(H5P_FILE_ACCESS);
    f->gcpl = H5Pcreate(H5P_GROUP_CREATE);
    f->dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (*fcpl < 0 || *fapl < 0 || f->gcpl < 0 || f->dcpl < 0)
        return -1;
    /* The file creation list is a group creation list for the root group. Creation order is
     * kept so that readers list columns and attributes in the order they were written. */
    if (H5Pset_obj_track_times(*fcpl, 0) < 0 || H5Pset_obj_track_times(f->gcpl, 0) < 0 ||
        H5Pset_obj_track_times(f->dcpl, 0) < 0 || H5Pset_link_creation_order(*fcpl, order) < 0 ||
        H5Pset_link_creation_order(f->gcpl, order) < 0 ||
        H5Pset_attr_creation_order(*fcpl, order) < 0 ||
        H5Pset_attr_creation_order(f->gcpl, order) < 0 ||
        H5Pset_attr_creation_order(f->dcpl, order) < 0)
        return -1;
    if (H5Pset_userblock(*fcpl, OUT_USERBLOCK) < 0)
        return -1;
    if (H5Pset_libver_bounds(*fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0 ||
        H5Pset_fclose_degree(*fapl, H5F_CLOSE_STRONG) < 0)
        return -1;
    return 0;
}

int out_open(out_file **out, const char *path, const out_attr *attrs, size_t nattrs,
             diag_list *diag)
{
    static const long long schema = OUT_SCHEMA_VERSION;
    hid_t fcpl = H5I_INVALID_HID, fapl = H5I_INVALID_HID;
    out_file *f;
    int rc;

    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    f = calloc(1, sizeof(*f));
    if (f == NULL)
        return SP_ENOMEM;
    f->file = f->gcpl = f->dcpl = H5I_INVALID_HID;
    f->diag = diag;
    f->path = str_dup(path);
    f->partial = str_format("%s.partial", path);
    if (f->path == NULL || f->partial == NULL) {
        release(f);
        return SP_ENOMEM;
    }
    if (make_plists(f, &fcpl, &fapl) < 0) {
        fail(f, "cannot set up HDF5 property lists");
        goto fail_noclean;
    }
    errno = 0;
    f->file = H5Fcreate(f->partial, H5F_ACC_TRUNC, fcpl, fapl);
    if (f->file < 0) {
        int err = errno;

        if (err != 0) {
            H5Eclear2(H5E_DEFAULT);
            fail(f, "cannot create \"%s\": %s", f->partial, strerror(err));
        } else {
            fail(f, "cannot create \"%s\"", f->partial);
        }
        goto fail_noclean;
    }
    H5Pclose(fcpl);
    H5Pclose(fapl);
    fcpl = fapl = H5I_INVALID_HID;

    if (put_i64_attr(f->file, "schema_version", schema) < 0 ||
        put_str_attr(f->file, "generator", "scalepath") < 0 ||
        put_str_attr(f->file, "generator_version", SP_VERSION) < 0) {
        fail(f, "cannot write the root attributes");
        rc = SP_EIO;
        goto fail_unlink;
    }
    rc = put_attrs(f, f->file, "the root group", attrs, nattrs);
    if (rc != SP_OK)
        goto fail_unlink;
    *out = f;
    return SP_OK;

fail_unlink: /* rc: SP_EIO, or SP_ENOMEM from put_attrs */
    close_h5(f);
    remove(f->partial);
    release(f);
    return rc;
fail_noclean:
    if (fcpl >= 0)
        H5Pclose(fcpl);
    if (fapl >= 0)
        H5Pclose(fapl);
    close_h5(f);
    release(f);
    return SP_EIO;
}

/* make_group's answer when out of memory (HDF5's failures are -1). */
#define GROUP_NOMEM ((hid_t)-2)

/* Create group `name` and any missing groups above it, all with f->gcpl.
 * @return the open group, or a negative id (reported): GROUP_NOMEM when out
 * of memory */
static hid_t make_group(const out_file *f, const char *name)
{
    char *buf = str_dup(name);
    char *p;
    hid_t g;

    if (buf == NULL) {
        fail(f, "out of memory creating group \"%s\"", name);
        return GROUP_NOMEM;
    }
    /* Each '/' after the first character ends an intermediate group: cut the path there,
     * create that prefix if it is missing, and put the '/' back. */
    for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
        htri_t exists;

        *p = '\0';
        exists = H5Lexists(f->file, buf, H5P_DEFAULT);
        if (exists > 0) {
            /* HDF5's own message for a dataset in the way is obscure. */
            H5O_info_t info;

            if (H5Oget_info_by_name2(f->file, buf, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
                exists = -1;
            } else if (info.type != H5O_TYPE_GROUP) {
                fail(f, "cannot create group \"%s\": \"%s\" exists and is not a group", name,
                     buf);
                free(buf);
                return H5I_INVALID_HID;
            }
        } else if (exists == 0) {
            hid_t ig = H5Gcreate2(f->file, buf, H5P_DEFAULT, f->gcpl, H5P_DEFAULT);

            if (ig < 0)
                exists = -1;
            else
                H5Gclose(ig);
        }
        if (exists < 0) {
            fail(f, "cannot create group \"%s\"", buf);
            free(buf);
            return H5I_INVALID_HID;
        }
        *p = '/';
    }
    free(buf);
    if (H5Lexists(f->file, name, H5P_DEFAULT) > 0) {
        fail(f, "cannot create group \"%s\": it exists already", name);
        return H5I_INVALID_HID;
    }
    g = H5Gcreate2(f->file, name, H5P_DEFAULT, f->gcpl, H5P_DEFAULT);
    if (g < 0)
        fail(f, "cannot create group \"%s\"", name);
    return g;
}

/* Check a table's names: HDF5 would take '/' as a path and ',' would break
 * the "columns" attribute. @return SP_OK or SP_EIO (reported) */
static int check_table(const out_file *f, const char *group, const out_col *cols, size_t ncols,
                       size_t nrows)
{
    size_t len;

    if (group == NULL || group[0] == '\0' || strcmp(group, "/") == 0) {
        fail(f, "a table needs a group name other than \"/\"");
        return SP_EIO;
    }
    len = strlen(group);
    if (group[len - 1] == '/' || strstr(group, "//") != NULL) {
        fail(f, "group name \"%s\" has an empty component", group);
        return SP_EIO;
    }
    for (size_t c = 0; c < ncols; c++) {
        const char *n = cols[c].name;

        if (n == NULL || n[0] == '\0' || strchr(n, '/') != NULL || strchr(n, ',') != NULL) {
            fail(f, "table \"%s\": column %zu has a bad name \"%s\" (empty, or with '/' or ',')",
                 group, c, n != NULL ? n : "");
            return SP_EIO;
        }
        if (nrows > 0 && cols[c].data == NULL) {
            fail(f, "table \"%s\": column \"%s\" has %zu rows but no data", group, n, nrows);
            return SP_EIO;
        }
        if (cols[c].type != OUT_F64 && cols[c].type != OUT_U64 && cols[c].type != OUT_I64 &&
            cols[c].type != OUT_STR) {
            fail(f, "table \"%s\": column \"%s\" has unknown type %d", group, n,
                 (int)cols[c].type);
            return SP_EIO;
        }
    }
    return SP_OK;
}

/* Pack nrows strings into one zero-filled buffer of fixed-size cells.
 * @return the buffer (free()) and *cell_len = longest string; NULL if out of memory */
static char *pack_strings(const char *const *s, size_t nrows, size_t *cell_len)
{
    size_t longest = 0;
    char *buf;

    for (size_t r = 0; r < nrows; r++) {
        size_t n = s[r] != NULL ? strlen(s[r]) : 0;

        if (n > longest)
            longest = n;
    }
    *cell_len = longest;
    if (nrows > 0 && longest + 1 > SIZE_MAX / nrows)
        return NULL;
    buf = calloc(nrows > 0 ? nrows : 1, longest + 1);
    if (buf == NULL)
        return NULL;
    for (size_t r = 0; r < nrows; r++)
        if (s[r] != NULL)
            memcpy(buf + r * (longest + 1), s[r], strlen(s[r]));
    return buf;
}

/* Write one column as a 1-D dataset of nrows under group g.
 * @return SP_OK, SP_EIO or SP_ENOMEM (reported) */
static int put_column(const out_file *f, hid_t g, const char *group, const out_col *c,
                      size_t nrows)
{
    hsize_t dims[1] = {nrows};
    hid_t ftype, mtype, strt = H5I_INVALID_HID, space, dset;
    const void *data = c->data;
    char *packed = NULL;
    int ok;

    switch (c->type) {
    case OUT_F64:
        ftype = H5T_IEEE_F64LE;
        mtype = H5T_NATIVE_DOUBLE;
        break;
    case OUT_U64:
        ftype = H5T_STD_U64LE;
        mtype = H5T_NATIVE_UINT64;
        break;
    case OUT_I64:
        ftype = H5T_STD_I64LE;
        mtype = H5T_NATIVE_INT64;
        break;
    default: {
        size_t cell_len;

        packed = pack_strings(c->data, nrows, &cell_len);
        if (packed == NULL) {
            fail(f, "out of memory writing column \"%s/%s\"", group, c->name);
            return SP_ENOMEM;
        }
        strt = str_type(cell_len);
        if (strt < 0) {
            free(packed);
            fail(f, "cannot make a string type for column \"%s/%s\"", group, c->name);
            return SP_EIO;
        }
        ftype = mtype = strt;
        data = packed;
        break;
    }
    }

    ok = 0;
    space = H5Screate_simple(1, dims, NULL);
    dset = space < 0 ? H5I_INVALID_HID
                     : H5Dcreate2(g, c->name, ftype, space, H5P_DEFAULT, f->dcpl, H5P_DEFAULT);
    if (dset >= 0) {
        /* An empty dataset needs no write, and HDF5 wants a buffer for one. */
        ok = (nrows == 0 || H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) &&
             put_str_attr(dset, "units", c->units) == 0 &&
             put_str_attr(dset, "description", c->description) == 0;
        if (H5Dclose(dset) < 0)
            ok = 0;
    }
    if (space >= 0)
        H5Sclose(space);
    if (strt >= 0)
        H5Tclose(strt);
    free(packed);
    if (!ok) {
        fail(f, "cannot write column \"%s/%s\"", group, c->name);
        return SP_EIO;
    }
    return SP_OK;
}

/* The column names joined with ','. @return the string (free()) or NULL */
static char *join_names(const out_col *cols, size_t ncols)
{
    size_t len = 1;
    char *s, *p;

    for (size_t c = 0; c < ncols; c++)
        len += strlen(cols[c].name) + 1;
    s = malloc(len);
    if (s == NULL)
        return NULL;
    p = s;
    for (size_t c = 0; c < ncols; c++) {
        size_t n = strlen(cols[c].name);

        if (c > 0)
            *p++ = ',';
        memcpy(p, cols[c].name, n);
        p += n;
    }
    *p = '\0';
    return s;
}

int out_table(out_file *f, const char *group, const out_attr *attrs, size_t nattrs,
              const out_col *cols, size_t ncols, size_t nrows)
{
    char *names = NULL;
    hid_t g = H5I_INVALID_HID;
    int rc;

    rc = check_table(f, group, cols, ncols, nrows);
    if (rc != SP_OK)
        goto done;
    if ((unsigned long long)nrows > (unsigned long long)INT64_MAX) {
        fail(f, "table \"%s\" has too many rows", group);
        rc = SP_EIO;
        goto done;
    }
    g = make_group(f, group);
    if (g < 0) {
        rc = g == GROUP_NOMEM ? SP_ENOMEM : SP_EIO;
        goto done;
    }
    rc = put_attrs(f, g, group, attrs, nattrs);
    if (rc != SP_OK)
        goto done;
    names = join_names(cols, ncols);
    if (names == NULL) {
        fail(f, "out of memory writing table \"%s\"", group);
        rc = SP_ENOMEM;
        goto done;
    }
    if (put_str_attr(g, "columns", names) < 0 || put_i64_attr(g, "rows", (long long)nrows) < 0) {
        fail(f, "cannot write the attributes of table \"%s\"", group);
        rc = SP_EIO;
        goto done;
    }
    for (size_t c = 0; c < ncols && rc == SP_OK; c++)
        rc = put_column(f, g, group, &cols[c], nrows);
done:
    free(names);
    if (g >= 0 && H5Gclose(g) < 0 && rc == SP_OK) {
        fail(f, "cannot close group \"%s\"", group);
        rc = SP_EIO;
    }
    if (rc != SP_OK)
        f->failed = 1;
    return rc;
}

void out_block_text(char head[], uint32_t crc, unsigned long long size)
{
    memset(head, 0, OUT_USERBLOCK);
    snprintf(head, OUT_USERBLOCK, OUT_MAGIC "crc32=%08lx size=%llu\n", (unsigned long)crc, size);
}

int out_body_crc(FILE *fp, uint32_t *crc, unsigned long long *size)
{
    unsigned char buf[65536];
    uLong c = crc32(0L, Z_NULL, 0);
    size_t n;

    *size = 0;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) { /* 64 KiB at a time: fits crc32's uInt */
        c = crc32(c, buf, (uInt)n);
        *size += n;
    }
    *crc = (uint32_t)c;
    return ferror(fp) ? -1 : 0;
}

/* Fill the user block of the closed file at path with the checksum of what
 * follows it. @return 0 or -1 (errno says why) */
static int seal(const char *path)
{
    FILE *fp = fopen(path, "r+b");
    char head[OUT_USERBLOCK];
    uint32_t crc = 0;
    unsigned long long size = 0;
    int ok;

    if (fp == NULL)
        return -1;
    ok = fseek(fp, OUT_USERBLOCK, SEEK_SET) == 0 && out_body_crc(fp, &crc, &size) == 0;
    out_block_text(head, crc, size);
    ok = ok && fseek(fp, 0, SEEK_SET) == 0 && fwrite(head, 1, sizeof(head), fp) == sizeof(head);
    if (fclose(fp) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

int out_commit(out_file *f)
{
    if (f->failed) {
        if (f->diag != NULL)
            diag_error(f->diag, (sp_loc){f->path, 0},
                       "not written: a table could not be written (see above)");
        out_discard(f);
        return SP_EIO;
    }
    if (put_i64_attr(f->file, "complete", 1) < 0) {
        fail(f, "cannot write the \"complete\" attribute");
        out_discard(f);
        return SP_EIO;
    }
    if (close_h5(f) < 0) {
        fail(f, "cannot finish \"%s\"", f->partial);
        out_discard(f);
        return SP_EIO;
    }
    if (seal(f->partial) < 0) {
        int err = errno;

        if (f->diag != NULL)
            diag_error(f->diag, (sp_loc){f->path, 0}, "cannot write the checksum of \"%s\": %s", f->partial,
                       strerror(err));
        out_discard(f);
        return SP_EIO;
    }
    if (rename(f->partial, f->path) != 0) {
        int err = errno;

        if (f->diag != NULL)
            diag_error(f->diag, (sp_loc){f->path, 0}, "cannot rename \"%s\" into place: %s",
                       f->partial, strerror(err));
        out_discard(f);
        return SP_EIO;
    }
    release(f);
    return SP_OK;
}

void out_discard(out_file *f)
{
    if (f == NULL)
        return;
    close_h5(f);
    H5Eclear2(H5E_DEFAULT);
    remove(f->partial);
    release(f);
}

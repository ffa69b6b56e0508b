/* test_out.c - out_h5.c: round trip through the HDF5 C API, the .partial
 * convention, errors on an unwritable path, and byte-identical output;
 * out_read.c: reading it back, and refusing files that are not ours.
 *
 * Scratch files go to TMPDIR_BUILD (the test build folder).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <hdf5.h>
#include <zlib.h>

#include "out/out.h"
#include "util/diag.h"

#ifndef TMPDIR_BUILD
#define TMPDIR_BUILD "."
#endif

/* Relative to a folder of this process's own (see main): the test and its
 * valgrind run may go at the same time under ctest -j. */
#define SCRATCH(name) "test_out_" name

static int setup(void **state)
{
    diag_list *diag;

    if (diag_new(&diag, 0) != SP_OK)
        return -1;
    *state = diag;
    return 0;
}

static int teardown(void **state)
{
    diag_free(*state);
    return 0;
}

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void remove_both(const char *path)
{
    char partial[1024];

    snprintf(partial, sizeof(partial), "%s.partial", path);
    remove(path);
    remove(partial);
}

/* The three-row table used by several tests. */
static const double t_time[3] = {0.5, 1.25, -3e-9};
static const uint64_t t_bytes[3] = {8, 1048576, UINT64_MAX};
static const int64_t t_delta[3] = {-1, 0, INT64_MAX};
static const char *const t_name[3] = {"ring", "tree \xc3\xa9t\xc3\xa9", ""};

static const out_col t_cols[4] = {
    {"time", OUT_F64, "us", "time per call", t_time},
    {"bytes", OUT_U64, "B", "message size", t_bytes},
    {"delta", OUT_I64, "1", "signed count", t_delta},
    {"algo", OUT_STR, NULL, "algorithm name", t_name},
};

static int write_sample(const char *path, diag_list *diag)
{
    const out_attr root[] = {
        OUT_ATTR_STR("command", "scalepath nccl --op all_reduce"),
        OUT_ATTR_I64("ranks", 16, "1"),
        OUT_ATTR_F64("link_bw", 25.5, "GB/s"),
        OUT_ATTR_I64("seed", 7, NULL),
    };
    const out_attr grp[] = {
        OUT_ATTR_STR("op", "all_reduce"),
        OUT_ATTR_F64("latency", 1.5, "us"),
    };
    out_file *f;
    int rc;

    rc = out_open(&f, path, root, sizeof(root) / sizeof(root[0]), diag);
    if (rc != SP_OK)
        return rc;
    rc = out_table(f, "/nccl/all_reduce", grp, sizeof(grp) / sizeof(grp[0]), t_cols, 4, 3);
    if (rc != SP_OK) {
        out_discard(f);
        return rc;
    }
    /* A second table under the same parent group, and an empty one. */
    rc = out_table(f, "/nccl/all_gather", NULL, 0, t_cols, 4, 3);
    if (rc == SP_OK)
        rc = out_table(f, "empty", NULL, 0, t_cols, 4, 0);
    if (rc != SP_OK) {
        out_discard(f);
        return rc;
    }
    return out_commit(f);
}

/* Read helpers: each fails the test on any HDF5 error. */
static long long read_i64_attr(hid_t obj, const char *name)
{
    long long v = -12345;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);

    assert_true(a >= 0);
    assert_int_equal(H5Aread(a, H5T_NATIVE_LLONG, &v), 0);
    H5Aclose(a);
    return v;
}

static double read_f64_attr(hid_t obj, const char *name)
{
    double v = -1.0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);

    assert_true(a >= 0);
    assert_int_equal(H5Aread(a, H5T_NATIVE_DOUBLE, &v), 0);
    H5Aclose(a);
    return v;
}

/* Check that string attribute `name` of obj is a variable-length UTF-8
 * string equal to want. */
static void check_str_attr(hid_t obj, const char *name, const char *want)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t;
    char *got = NULL;

    assert_true(a >= 0);
    t = H5Aget_type(a);
    assert_int_equal(H5Tget_class(t), H5T_STRING);
    assert_int_equal(H5Tget_cset(t), H5T_CSET_UTF8);
    assert_true(H5Tis_variable_str(t) > 0);
    assert_int_equal(H5Aread(a, t, &got), 0);
    assert_non_null(got);
    assert_string_equal(got, want);
    H5free_memory(got);
    H5Tclose(t);
    H5Aclose(a);
}

static void check_dataset_attrs(hid_t g, const out_col *c)
{
    hid_t d = H5Dopen2(g, c->name, H5P_DEFAULT);

    assert_true(d >= 0);
    check_str_attr(d, "units", c->units != NULL ? c->units : "");
    check_str_attr(d, "description", c->description);
    H5Dclose(d);
}

/* Read a whole 1-D numeric dataset; check its file type and length. */
static void read_numeric(hid_t g, const char *name, hid_t want_type, hid_t mtype, size_t nrows,
                         void *buf)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    hid_t t, s;
    hsize_t dims[1] = {0};

    assert_true(d >= 0);
    t = H5Dget_type(d);
    assert_true(H5Tequal(t, want_type) > 0);
    s = H5Dget_space(d);
    assert_int_equal(H5Sget_simple_extent_ndims(s), 1);
    H5Sget_simple_extent_dims(s, dims, NULL);
    assert_int_equal(dims[0], nrows);
    if (nrows > 0)
        assert_int_equal(H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
}

static void check_table(hid_t file, const char *group, size_t nrows)
{
    hid_t g = H5Gopen2(file, group, H5P_DEFAULT);
    double time[3];
    uint64_t bytes[3];
    int64_t delta[3];

    assert_true(g >= 0);
    check_str_attr(g, "columns", "time,bytes,delta,algo");
    assert_int_equal(read_i64_attr(g, "rows"), (long long)nrows);

    read_numeric(g, "time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, nrows, time);
    read_numeric(g, "bytes", H5T_STD_U64LE, H5T_NATIVE_UINT64, nrows, bytes);
    read_numeric(g, "delta", H5T_STD_I64LE, H5T_NATIVE_INT64, nrows, delta);
    for (size_t r = 0; r < nrows; r++) {
        assert_true(time[r] == t_time[r]);
        assert_true(bytes[r] == t_bytes[r]);
        assert_true(delta[r] == t_delta[r]);
    }

    /* Strings: fixed-length UTF-8, sized to the longest value. */
    {
        hid_t d = H5Dopen2(g, "algo", H5P_DEFAULT);
        hid_t t = H5Dget_type(d);
        hid_t s = H5Dget_space(d);
        hsize_t dims[1] = {0};
        size_t size;
        char *buf;

        assert_true(d >= 0);
        assert_int_equal(H5Tget_class(t), H5T_STRING);
        assert_int_equal(H5Tget_cset(t), H5T_CSET_UTF8);
        assert_int_equal(H5Tis_variable_str(t), 0);
        H5Sget_simple_extent_dims(s, dims, NULL);
        assert_int_equal(dims[0], nrows);
        size = H5Tget_size(t);
        if (nrows > 0) {
            assert_int_equal(size, strlen(t_name[1]) + 1);
            buf = calloc(nrows, size);
            assert_non_null(buf);
            assert_int_equal(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
            for (size_t r = 0; r < nrows; r++)
                assert_string_equal(buf + r * size, t_name[r]);
            free(buf);
        }
        H5Sclose(s);
        H5Tclose(t);
        H5Dclose(d);
    }
    for (size_t c = 0; c < 4; c++)
        check_dataset_attrs(g, &t_cols[c]);
    H5Gclose(g);
}

static void test_out_h5__round_trip(void **state)
{
    diag_list *diag = *state;
    const char *path = SCRATCH("round_trip.h5");
    hid_t file, g;

    remove_both(path);
    assert_int_equal(write_sample(path, diag), SP_OK);
    assert_int_equal(diag_count(diag), 0);
    assert_true(exists(path));
    assert_false(exists(SCRATCH("round_trip.h5.partial")));

    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    assert_int_equal(read_i64_attr(file, "schema_version"), OUT_SCHEMA_VERSION);
    assert_int_equal(read_i64_attr(file, "complete"), 1);
    check_str_attr(file, "generator", "scalepath");
#ifdef SP_VERSION
    check_str_attr(file, "generator_version", SP_VERSION);
#endif
    check_str_attr(file, "command", "scalepath nccl --op all_reduce");
    assert_int_equal(read_i64_attr(file, "ranks"), 16);
    check_str_attr(file, "ranks_units", "1");
    assert_true(read_f64_attr(file, "link_bw") == 25.5);
    check_str_attr(file, "link_bw_units", "GB/s");
    assert_int_equal(read_i64_attr(file, "seed"), 7);
    assert_int_equal(H5Aexists(file, "seed_units"), 0);
    assert_int_equal(H5Aexists(file, "command_units"), 0);

    g = H5Gopen2(file, "/nccl/all_reduce", H5P_DEFAULT);
    assert_true(g >= 0);
    check_str_attr(g, "op", "all_reduce");
    assert_true(read_f64_attr(g, "latency") == 1.5);
    check_str_attr(g, "latency_units", "us");
    H5Gclose(g);

    check_table(file, "/nccl/all_reduce", 3);
    check_table(file, "/nccl/all_gather", 3);
    check_table(file, "/empty", 0);
    assert_int_equal(H5Fclose(file), 0);
    remove(path);
}

static void test_out_h5__large_attribute(void **state)
{
    diag_list *diag = *state;
    const char *path = SCRATCH("large_attr.h5");
    size_t n = 200000; /* past the 64 KiB limit of compact attribute storage */
    char *big = malloc(n + 1);
    out_attr attrs[1];
    out_file *f;
    hid_t file;

    assert_non_null(big);
    memset(big, 'x', n);
    big[n] = '\0';
    attrs[0] = OUT_ATTR_STR("inputs", big);
    remove_both(path);
    assert_int_equal(out_open(&f, path, attrs, 1, diag), SP_OK);
    assert_int_equal(out_commit(f), SP_OK);
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    check_str_attr(file, "inputs", big);
    H5Fclose(file);
    free(big);
    remove(path);
}

static void test_out_h5__discard_leaves_nothing(void **state)
{
    diag_list *diag = *state;
    const char *path = SCRATCH("discard.h5");
    out_file *f;

    remove_both(path);
    assert_int_equal(out_open(&f, path, NULL, 0, diag), SP_OK);
    assert_true(exists(SCRATCH("discard.h5.partial")));
    assert_int_equal(out_table(f, "/a/b", NULL, 0, t_cols, 4, 3), SP_OK);
    out_discard(f);
    out_discard(NULL);
    assert_false(exists(path));
    assert_false(exists(SCRATCH("discard.h5.partial")));
    assert_int_equal(diag_count(diag), 0);
}

static void test_out_h5__missing_directory_is_eio(void **state)
{
    diag_list *diag = *state;
    const char *path = SCRATCH("no_such_dir/x.h5");
    out_file *f = (out_file *)&f; /* must be set to NULL */

    assert_int_equal(out_open(&f, path, NULL, 0, diag), SP_EIO);
    assert_null(f);
    assert_int_equal(diag_error_count(diag), 1);
    assert_non_null(strstr(diag_text(diag, 0), path));
    assert_non_null(strstr(diag_text(diag, 0), ": error: "));
    assert_non_null(strstr(diag_text(diag, 0), "No such file or directory"));
    assert_false(exists(path));
    assert_false(exists(SCRATCH("no_such_dir/x.h5.partial")));
}

static void test_out_h5__failed_table_is_never_committed(void **state)
{
    diag_list *diag = *state;
    const char *path = SCRATCH("failed_table.h5");
    const out_col bad[1] = {{"a,b", OUT_F64, "1", "comma in name", t_time}};
    out_file *f;

    remove_both(path);
    assert_int_equal(out_open(&f, path, NULL, 0, diag), SP_OK);
    assert_int_equal(out_table(f, "/t", NULL, 0, t_cols, 4, 3), SP_OK);
    /* The same group twice is an HDF5 error. */
    assert_int_equal(out_table(f, "/t", NULL, 0, t_cols, 4, 3), SP_EIO);
    assert_int_equal(diag_error_count(diag), 1);
    assert_non_null(strstr(diag_text(diag, 0), path));
    assert_non_null(strstr(diag_text(diag, 0), "\"/t\""));
    assert_non_null(strstr(diag_text(diag, 0), "exists already"));
    /* A dataset in the way of an intermediate group. */
    assert_int_equal(out_table(f, "/t/time/x", NULL, 0, t_cols, 4, 3), SP_EIO);
    assert_int_equal(diag_error_count(diag), 2);
    assert_non_null(strstr(diag_text(diag, 1), "\"/t/time\" exists and is not a group"));
    assert_int_equal(out_table(f, "/u", NULL, 0, bad, 1, 3), SP_EIO);
    assert_int_equal(diag_error_count(diag), 3);
    assert_non_null(strstr(diag_text(diag, 2), "a,b"));
    assert_int_equal(out_commit(f), SP_EIO);
    assert_false(exists(path));
    assert_false(exists(SCRATCH("failed_table.h5.partial")));
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf;
    long n;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    assert_true(n > 0);
    rewind(fp);
    buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void test_out_h5__same_input_same_bytes(void **state)
{
    diag_list *diag = *state;
    const char *a = SCRATCH("same_a.h5"), *b = SCRATCH("same_b.h5");
    time_t t0;
    unsigned char *ba, *bb;
    size_t la, lb;

    remove_both(a);
    remove_both(b);
    assert_int_equal(write_sample(a, diag), SP_OK);
    /* Let the clock pass a second boundary, so that any timestamp HDF5 wrote
     * would differ between the two files. */
    t0 = time(NULL);
    while (time(NULL) == t0) {
        struct timespec ts = {0, 20 * 1000 * 1000};

        nanosleep(&ts, NULL);
    }
    assert_int_equal(write_sample(b, diag), SP_OK);
    ba = slurp(a, &la);
    bb = slurp(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    free(ba);
    free(bb);
    remove(a);
    remove(b);
}


/* The last message of diag contains needle. */
static void assert_said(const diag_list *diag, const char *needle)
{
    size_t n = diag_count(diag);

    assert_true(n > 0);
    if (strstr(diag_text(diag, n - 1), needle) == NULL)
        fail_msg("expected \"%s\" in: %s", needle, diag_text(diag, n - 1));
}

/* What out_table() wrote, out_read_*() gives back exactly. */
static void test_out_read__round_trip(void **state)
{
    diag_list *diag = *state;
    const char *path = SCRATCH("read.h5");
    out_reader *r;
    size_t n = 0;
    double *tm;
    uint64_t *by;
    int64_t *de;
    char **al;
    char *cmd;
    long long ranks;

    remove_both(path);
    assert_int_equal(write_sample(path, diag), SP_OK);
    assert_int_equal(out_read_open(&r, path, diag), SP_OK);
    assert_int_equal(out_read_attr_str(r, NULL, "command", &cmd), SP_OK);
    assert_string_equal(cmd, "scalepath nccl --op all_reduce");
    free(cmd);
    assert_int_equal(out_read_attr_i64(r, NULL, "ranks", &ranks), SP_OK);
    assert_int_equal(ranks, 16);
    assert_int_equal(out_read_attr_str(r, "/nccl/all_reduce", "op", &cmd), SP_OK);
    assert_string_equal(cmd, "all_reduce");
    free(cmd);
    assert_int_equal(out_read_rows(r, "/nccl/all_reduce", &n), SP_OK);
    assert_int_equal(n, 3);
    assert_int_equal(out_read_col(r, "/nccl/all_reduce", "time", OUT_F64, (void **)&tm, n), SP_OK);
    assert_int_equal(out_read_col(r, "/nccl/all_reduce", "bytes", OUT_U64, (void **)&by, n), SP_OK);
    assert_int_equal(out_read_col(r, "/nccl/all_reduce", "delta", OUT_I64, (void **)&de, n), SP_OK);
    assert_int_equal(out_read_col(r, "/nccl/all_reduce", "algo", OUT_STR, (void **)&al, n), SP_OK);
    for (size_t i = 0; i < 3; i++) {
        assert_memory_equal(&tm[i], &t_time[i], sizeof(double)); /* bit for bit */
        assert_true(by[i] == t_bytes[i]);
        assert_true(de[i] == t_delta[i]);
        assert_string_equal(al[i], t_name[i]);
    }
    free(tm);
    free(by);
    free(de);
    free(al);
    assert_int_equal(out_read_rows(r, "/empty", &n), SP_OK);
    assert_int_equal(n, 0);
    assert_int_equal(out_read_col(r, "/empty", "algo", OUT_STR, (void **)&al, 0), SP_OK);
    free(al);
    assert_int_equal(diag_count(diag), 0);

    /* Each mistake is an input error that names what is wrong. */
    assert_int_equal(out_read_col(r, "/nccl/all_reduce", "time", OUT_I64, (void **)&de, 3), SP_EINPUT);
    assert_said(diag, "does not hold 64-bit signed integers");
    assert_int_equal(out_read_col(r, "/nccl/all_reduce", "nope", OUT_F64, (void **)&tm, 3), SP_EINPUT);
    assert_said(diag, "no column \"/nccl/all_reduce/nope\"");
    assert_int_equal(out_read_col(r, "/nccl/all_reduce", "time", OUT_F64, (void **)&tm, 4), SP_EINPUT);
    assert_said(diag, "has 3 rows, its table 4");
    assert_int_equal(out_read_rows(r, "/nccl/nothing", &n), SP_EINPUT);
    assert_said(diag, "no table \"/nccl/nothing\"");
    assert_int_equal(out_read_attr_i64(r, NULL, "command", &ranks), SP_EINPUT);
    assert_said(diag, "attribute \"command\" of / is not a 64-bit integer");
    assert_int_equal(out_read_attr_str(r, NULL, "absent", &cmd), SP_EINPUT);
    assert_null(cmd);
    assert_said(diag, "has no attribute \"absent\"");
    assert_true(strstr(diag_text(diag, 0), path) != NULL);
    out_read_close(r);
    remove(path);
}

/* Not ours, not HDF5, cut short, or never committed: refused, and said why. */
/* Write a checksum block for the file at path, as out_commit() does. */
static void seal_like_out(const char *path)
{
    FILE *fp = fopen(path, "r+b");
    unsigned char buf[4096];
    char head[OUT_USERBLOCK];
    uLong crc = crc32(0L, Z_NULL, 0);
    unsigned long long size = 0;
    size_t n;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, OUT_USERBLOCK, SEEK_SET), 0);
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
        crc = crc32(crc, buf, (uInt)n);
        size += n;
    }
    memset(head, 0, sizeof(head));
    snprintf(head, sizeof(head), OUT_MAGIC "crc32=%08lx size=%llu\n", (unsigned long)crc, size);
    assert_int_equal(fseek(fp, 0, SEEK_SET), 0);
    assert_int_equal(fwrite(head, 1, sizeof(head), fp), sizeof(head));
    fclose(fp);
}

static void copy_bytes(const char *from, const char *to, long keep, long flip)
{
    FILE *fp = fopen(from, "rb");
    long size;
    unsigned char *buf;

    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    rewind(fp);
    buf = malloc((size_t)size);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    if (flip >= 0 && flip < size)
        buf[flip] ^= 0x04;
    fp = fopen(to, "wb");
    assert_non_null(fp);
    fwrite(buf, 1, keep >= 0 && keep < size ? (size_t)keep : (size_t)size, fp);
    fclose(fp);
    free(buf);
}

/* Not ours, not HDF5, cut short, damaged, or never committed: refused, and
 * said why, before HDF5 parses a damaged byte (the checksum block). */
static void test_out_read__refuses_other_files(void **state)
{
    diag_list *diag = *state;
    const char *good = SCRATCH("good.h5"), *bad = SCRATCH("bad.h5"), *text = SCRATCH("text.h5");
    out_reader *r = NULL;
    FILE *fp;

    remove_both(good);
    assert_int_equal(out_read_open(&r, SCRATCH("absent.h5"), diag), SP_EINPUT);
    assert_null(r);
    assert_said(diag, "cannot open it");

    fp = fopen(text, "w");
    assert_non_null(fp);
    fputs("format_version = 1;\n", fp);
    fclose(fp);
    assert_int_equal(out_read_open(&r, text, diag), SP_EINPUT);
    assert_said(diag, "not a scalepath HDF5 file (or a truncated one)");

    /* Half of a good file, then a good file with one bit changed past its block. */
    assert_int_equal(write_sample(good, diag), SP_OK);
    copy_bytes(good, bad, 4000, -1);
    assert_int_equal(out_read_open(&r, bad, diag), SP_EINPUT);
    assert_null(r);
    assert_said(diag, "damaged: 3488 bytes");
    copy_bytes(good, bad, -1, 3000);
    assert_int_equal(out_read_open(&r, bad, diag), SP_EINPUT);
    assert_said(diag, "damaged");
    copy_bytes(good, bad, -1, -1);
    assert_int_equal(out_read_open(&r, bad, diag), SP_OK); /* the copy itself is fine */
    out_read_close(r);
    r = NULL;

    /* A file of ours whose run did not finish: no "complete" attribute. */
    {
        hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
        hid_t h, sp = H5Screate(H5S_SCALAR), st = H5Tcopy(H5T_C_S1), a;
        const char *gen = "scalepath";
        long long v = OUT_SCHEMA_VERSION;

        assert_true(fcpl >= 0 && H5Pset_userblock(fcpl, OUT_USERBLOCK) >= 0);
        h = H5Fcreate(text, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
        assert_true(h >= 0 && sp >= 0 && st >= 0);
        assert_true(H5Tset_size(st, H5T_VARIABLE) >= 0);
        a = H5Acreate2(h, "generator", st, sp, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(a >= 0 && H5Awrite(a, st, &gen) >= 0);
        H5Aclose(a);
        a = H5Acreate2(h, "schema_version", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &v) >= 0);
        H5Aclose(a);
        H5Tclose(st);
        H5Sclose(sp);
        H5Fclose(h);
        H5Pclose(fcpl);
    }
    seal_like_out(text);
    assert_int_equal(out_read_open(&r, text, diag), SP_EINPUT);
    assert_said(diag, "incomplete");

    /* HDF5 written by someone else: no block; with a block, none of our attributes. */
    {
        hid_t h = H5Fcreate(text, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(h >= 0);
        H5Fclose(h);
    }
    assert_int_equal(out_read_open(&r, text, diag), SP_EINPUT);
    assert_said(diag, "an HDF5 file without scalepath's checksum block");
    {
        hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
        hid_t h;
        assert_true(fcpl >= 0 && H5Pset_userblock(fcpl, OUT_USERBLOCK) >= 0);
        h = H5Fcreate(text, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
        assert_true(h >= 0);
        H5Fclose(h);
        H5Pclose(fcpl);
    }
    seal_like_out(text);
    assert_int_equal(out_read_open(&r, text, diag), SP_EINPUT);
    assert_said(diag, "has no attribute \"schema_version\": not a scalepath output");
    remove(good);
    remove(bad);
    remove(text);
}

int main(int argc, char **argv)
{
    char dir[512];

    snprintf(dir, sizeof(dir), "%s/test_out.%ld", TMPDIR_BUILD, (long)getpid());
    if ((mkdir(dir, 0755) != 0 && errno != EEXIST) || chdir(dir) != 0) {
        perror(dir);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_out_h5__round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_h5__large_attribute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_h5__discard_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_h5__missing_directory_is_eio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_h5__failed_table_is_never_committed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_out_h5__same_input_same_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_read__round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_read__refuses_other_files, setup, teardown),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* out.h - results as self-describing HDF5.
 *
 * A file holds root attributes (schema version, generator version, SimGrid
 * version, the command line, inputs) and one group per experiment, each a
 * table: one 1-D dataset per column, all of the same length, every dataset
 * carrying "units" and "description" string attributes. The layout is the
 * contract with analysis/ and is documented in docs/output-format.md.
 *
 * Nothing partial is ever left under the final name: out_open() creates
 * "<path>.partial", out_commit() closes it and renames it to <path>;
 * out_discard() removes it. Objects are written without timestamps, so the
 * same inputs give byte-identical files.
 *
 * Ownership: out_open() gives the caller a handle that out_commit() or
 * out_discard() releases (exactly one of them). Column data and strings are
 * borrowed for the duration of the call only.
 */
#ifndef SP_OUT_H
#define SP_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

#define OUT_SCHEMA_VERSION 1

/* Every file begins with a user block of OUT_USERBLOCK bytes (HDF5 starts
 * after it): the text "scalepath-h5 crc32=XXXXXXXX size=N\n", the CRC-32 of
 * the N bytes that follow the block, then zeros. out_read_open() checks it
 * before HDF5 parses a byte, so a damaged file is refused, not parsed. */
#define OUT_USERBLOCK 512
#define OUT_MAGIC "scalepath-h5 "

typedef enum out_type { OUT_F64, OUT_U64, OUT_I64, OUT_STR } out_type;

typedef struct out_attr {
    const char *name;
    out_type type; /* OUT_F64, OUT_I64 or OUT_STR */
    double f;
    long long i;
    const char *s;
    const char *units; /* numeric attributes: stored as "<name>_units"; NULL = none */
} out_attr;

#define OUT_ATTR_STR(n, v) ((out_attr){(n), OUT_STR, 0.0, 0, (v), NULL})
#define OUT_ATTR_I64(n, v, u) ((out_attr){(n), OUT_I64, 0.0, (v), NULL, (u)})
#define OUT_ATTR_F64(n, v, u) ((out_attr){(n), OUT_F64, (v), 0, NULL, (u)})

typedef struct out_col {
    const char *name;
    out_type type;
    const char *units;       /* e.g. "B", "us", "GB/s" (1e9 B/s), "1" for counts */
    const char *description; /* one line */
    const void *data;        /* nrows of double / uint64_t / int64_t / const char * */
} out_col;

typedef struct out_file out_file;

/**
 * Create "<path>.partial" and write the root attributes every file has
 * (schema_version, generator, generator_version) plus attrs (callers add
 * simgrid_version, command, inputs).
 * @return SP_OK; SP_EIO (reported in diag, nothing left on disk); SP_ENOMEM
 */
SP_MUST_USE int out_open(out_file **out, const char *path, const out_attr *attrs, size_t nattrs,
                         diag_list *diag);

/**
 * Write one experiment table as group `group` (e.g. "/nccl/all_reduce";
 * intermediate groups are created), with attributes on the group.
 * @return SP_OK or SP_EIO
 */
SP_MUST_USE int out_table(out_file *f, const char *group, const out_attr *attrs, size_t nattrs,
                          const out_col *cols, size_t ncols, size_t nrows);

/* Mark complete (root attribute complete = 1), close, write the checksum
 * block (OUT_USERBLOCK) and rename into place. The handle is released even
 * on failure. @return SP_OK or SP_EIO */
SP_MUST_USE int out_commit(out_file *f);

/* Close and delete the partial file. NULL is fine. */
void out_discard(out_file *f);

/*
 * Reading back what out_table() wrote (merging the parts of a sharded study,
 * docs/output-format.md). out_read_open() accepts only a complete file of
 * ours whose checksum block matches its contents (OUT_MAGIC), this
 * schema_version, complete = 1. The block catches damage, not forgery: a
 * forged file with a valid block can still crash HDF5 1.10 when a
 * variable-length string is read (its global heap has no checksum), so
 * readers of files they did not write read integers, floats and
 * fixed-length strings only, as out_read_open() itself does. Every
 * failure is one diag_error() naming the file and what is wrong with it; the
 * diag_list is borrowed until out_read_close().
 */
typedef struct out_reader out_reader;

/* @return SP_OK; SP_EINPUT (not such a file: reported); SP_ENOMEM */
SP_MUST_USE int out_read_open(out_reader **out, const char *path, diag_list *diag);
void out_read_close(out_reader *r); /* NULL is fine */

/**
 * A string or integer attribute of the root group (group NULL) or of a table.
 * @param[out] value  string: owned by the caller (free())
 * @return SP_OK; SP_EINPUT (missing, or of another type: reported); SP_ENOMEM
 */
SP_MUST_USE int out_read_attr_str(out_reader *r, const char *group, const char *name, char **value);
SP_MUST_USE int out_read_attr_i64(out_reader *r, const char *group, const char *name, long long *value);

/* 1 if the root group (group NULL) or the table has attribute name, 0 if not, -1 on an HDF5 error. */
int out_read_has_attr(out_reader *r, const char *group, const char *name);

/* The rows of a table (its "rows" attribute). @return SP_OK; SP_EINPUT (reported) */
SP_MUST_USE int out_read_rows(out_reader *r, const char *group, size_t *nrows);

/**
 * One column of a table, of the type it was written with and nrows long.
 * @param[out] data  owned by the caller, one free(): double[], int64_t[],
 *                   uint64_t[], or for OUT_STR a char *[nrows] whose strings
 *                   live in the same allocation
 * @return SP_OK; SP_EINPUT (missing, another type or length: reported); SP_ENOMEM
 */
SP_MUST_USE int out_read_col(out_reader *r, const char *group, const char *name, out_type type, void **data,
                             size_t nrows);

#endif

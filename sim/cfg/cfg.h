/* cfg.h - thin layer over libconfig shared by every loader.
 *
 * It opens a file with good errors (file:line for syntax errors, strerror for
 * I/O), validates a group against a key table (unknown keys with a "did you
 * mean" hint, unknown unit suffixes, missing keys, wrong types, out-of-range
 * numbers) and reads values that were validated. Every problem goes to the
 * diag_list; validation keeps going so one run reports all of them.
 *
 * Ownership: a cfg_file owns its config_t; strings read from it live until
 * cfg_close(), so callers copy what they keep.
 */
#ifndef SP_CFG_H
#define SP_CFG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/diag.h"

typedef struct cfg_names cfg_names;

typedef struct cfg_file {
    config_t cfg;
    char *path;      /* as given by the caller, owned */
    char *dir;       /* its folder, where @include paths start; NULL: the working folder */
    cfg_names *names; /* @included files' paths from the working folder, for locations; owned */
    diag_list *diag; /* borrowed */
} cfg_file;

typedef enum cfg_type {
    CFG_NUMBER, /* int or float, read as double */
    CFG_INT,    /* integer only */
    CFG_STRING,
    CFG_BOOL,
    CFG_GROUP,
    CFG_LIST,   /* list ( ... ) of groups */
    CFG_INTS,   /* an integer, or an array [ ... ] of them (each checked against min, max) */
} cfg_type;

typedef struct cfg_key {
    const char *name;   /* with its unit suffix, e.g. "bandwidth_GBps" */
    cfg_type type;
    bool required;
    double min, max;    /* numbers only; not checked when both are 0 */
    bool min_exclusive; /* value must be > min rather than >= min */
    const char *help;   /* one line, for docs and messages */
} cfg_key;

/**
 * Read and parse a libconfig file; @include paths resolve from its folder.
 * @param[out] out  the opened file, owned by the caller (cfg_close)
 * @return SP_OK; SP_EINPUT if it cannot be read (strerror) or on a syntax
 *         error (reported at file:line); SP_EIO on a libconfig I/O failure
 *         after opening; SP_ENOMEM
 */
SP_MUST_USE int cfg_open(cfg_file *out, const char *path, diag_list *diag);
void cfg_close(cfg_file *f);

/**
 * Fold into *crc the CRC-32 (zlib) of a libconfig file's bytes and then of
 * each file it @includes, depth first, resolved as cfg_open() resolves them
 * (from the top file's folder, as libconfig 1.5 does, 10 levels at most):
 * whether two runs read the same inputs. Start *crc at 0.
 * @return SP_OK; SP_EINPUT (a file cannot be read: reported); SP_ENOMEM
 */
SP_MUST_USE int cfg_digest(const char *path, uint32_t *crc, diag_list *diag);

/**
 * Write a libconfig file to out with each file it @includes copied in where
 * libconfig reads it (resolved as cfg_open() resolves them, nested ones
 * too; an @include inside a comment or a string stays as it is; the rest
 * of an @include's line follows the copy), between comment lines naming
 * it: one file that reads the same wherever it is put. A comment the file
 * leaves open at its end is closed, so that text written after it is read.
 * @return SP_OK; SP_EINPUT (a file cannot be read, nesting more than 10
 *         deep, or an included file ending inside a string, which one file
 *         cannot hold: reported); SP_ENOMEM. A write error is out's (ferror).
 */
SP_MUST_USE int cfg_flatten(const char *path, FILE *out, diag_list *diag);

/* Where a setting was written; falls back to the file's own path and line 1
 * for the root group. */
sp_loc cfg_loc(const cfg_file *f, const config_setting_t *s);

/**
 * Check every member of group against keys: unknown keys, missing required
 * keys, types and ranges. what names the group in messages ("node", "gpu
 * \"H100\"").
 * @return SP_OK or SP_EINPUT (all problems are in f->diag)
 */
SP_MUST_USE int cfg_check(const cfg_file *f, const config_setting_t *group, const cfg_key *keys,
                          const char *what);

/* Getters for members already checked by cfg_check(); they return dflt when
 * the member is absent. Strings belong to the cfg_file. */
double cfg_number(const config_setting_t *group, const char *key, double dflt);
long long cfg_int(const config_setting_t *group, const char *key, long long dflt);
const char *cfg_string(const config_setting_t *group, const char *key, const char *dflt);
/* A CFG_INTS member: its values (at most max) into out; @return how many it
 * has (1 for a plain integer, 0 when absent or of another type). */
size_t cfg_ints(const config_setting_t *group, const char *key, long long *out, size_t max);
bool cfg_bool(const config_setting_t *group, const char *key, bool dflt);

/* The type name libconfig would use, for messages. */
const char *cfg_type_name(int config_type);

#endif

/* cfg.c - libconfig with located, complete diagnostics.
 *
 * libconfig 1.5 reads "450" as an int and refuses it as a float, cannot tell
 * a missing key from a wrong type, and reports I/O failures without a reason;
 * these helpers cover all three (measured, see shared STYLE.md).
 */
#include "cfg/cfg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "util/str.h"

struct cfg_names {
    char **v;
    size_t n;
};

/* libconfig (1.5, Debian 12's) names an @included file as the directive
 * wrote it, which it opens from the given file's folder (its include_dir,
 * joined with a '/' even to a name that starts with one): the path from the
 * working folder instead (kept until cfg_close), so that FILE:LINE opens
 * in an editor. NULL if out of memory (the caller keeps libconfig's name). */
static const char *include_path(const cfg_file *f, const char *file)
{
    cfg_names *t = f->names;
    char *joined, **nv;

    if (f->dir == NULL || strcmp(file, f->path) == 0)
        return file;
    if ((joined = str_format("%s/%s", f->dir, file)) == NULL)
        return NULL;
    for (size_t i = 0; t != NULL && i < t->n; i++)
        if (strcmp(t->v[i], joined) == 0) {
            free(joined);
            return t->v[i];
        }
    if (t == NULL || (nv = realloc(t->v, (t->n + 1) * sizeof(*nv))) == NULL) {
        free(joined);
        return NULL;
    }
    t->v = nv;
    t->v[t->n++] = joined;
    return joined;
}

static int walk(const char *path, const char *dir, int depth, uint32_t *crc, FILE *flat, int *open, int *stop,
                diag_list *diag);

int cfg_open(cfg_file *out, const char *path, diag_list *diag)
{
    char *dir, *slash;
    struct stat st;
    int err = SP_OK, stop = 0, open = 0;

    memset(out, 0, sizeof(*out));
    out->diag = diag;
    /* libconfig says only "file I/O error", and its scanner ends the process
     * on a folder or a read error: every file it would read (the file and
     * its @includes) is checked first, and each problem said. A file that is
     * not a regular one (a pipe) is left to libconfig: reading it first would
     * empty it. */
    if ((err = diag_check_input(diag, path)) < 0)
        return err;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((dir = str_dup(path)) == NULL)
            return SP_ENOMEM;
        slash = strrchr(dir, '/');
        err = walk(path, slash != NULL ? (*slash = '\0', dir) : ".", 0, NULL, NULL, &open, &stop, diag);
        free(dir);
    }
    if (err < 0)
        return err;
    if ((out->path = str_dup(path)) == NULL || (dir = str_dup(path)) == NULL) {
        free(out->path);
        out->path = NULL;
        return SP_ENOMEM;
    }
    slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    if ((out->names = calloc(1, sizeof(*out->names))) == NULL) {
        free(dir);
        free(out->path);
        out->path = NULL;
        return SP_ENOMEM;
    }
    config_init(&out->cfg);
    config_set_include_dir(&out->cfg, slash != NULL ? dir : ".");
    if (slash != NULL)
        out->dir = dir;
    else
        free(dir);
    if (!config_read_file(&out->cfg, path)) {
        const char *file = config_error_file(&out->cfg);
        if (file != NULL) {
            const char *from_here = include_path(out, file);
            if (from_here != NULL)
                file = from_here;
        }
        const char *text = config_error_text(&out->cfg);
        if (config_error_type(&out->cfg) == CONFIG_ERR_FILE_IO) {
            diag_error(diag, (sp_loc){path, 0}, "cannot read: %s",
                       text != NULL ? text : "I/O error");
            cfg_close(out);
            return SP_EIO;
        }
        if (text != NULL && strstr(text, "include") != NULL)
            diag_error(diag, (sp_loc){file != NULL ? file : path, (unsigned)config_error_line(&out->cfg)},
                       "%s (@include paths are relative to the folder of the file given)", text);
        else
            diag_error(diag, (sp_loc){file != NULL ? file : path, (unsigned)config_error_line(&out->cfg)},
                       "syntax error: not valid libconfig here (a missing ';' or '}', a file cut "
                       "short, or stray bytes)");
        cfg_close(out);
        return SP_EINPUT;
    }
    return SP_OK;
}

/* The file's bytes (free()), NUL-terminated, in *buf and its length in *len. */
static int slurp(const char *path, char **buf, size_t *len, diag_list *diag)
{
    FILE *fp = fopen(path, "rb");
    char *b = NULL;
    size_t n = 0, cap = 0;
    struct stat st;

    *buf = NULL;
    *len = 0;
    if (fp == NULL) {
        /* A missing or unreadable input is the user's input problem. */
        diag_error(diag, (sp_loc){path, 0}, "cannot read: %s", strerror(errno));
        return SP_EINPUT;
    }
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        diag_error(diag, (sp_loc){path, 0}, "cannot read: not a regular file (a folder?)");
        fclose(fp);
        return SP_EINPUT;
    }
    for (;;) {
        size_t got;
        if (cap - n < 4096) {
            char *nb = realloc(b, cap = cap * 2 + 8192);
            if (nb == NULL) {
                free(b);
                fclose(fp);
                return SP_ENOMEM;
            }
            b = nb;
        }
        got = fread(b + n, 1, cap - n - 1, fp);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(fp)) {
        diag_error(diag, (sp_loc){path, 0}, "cannot read: an I/O error part way through");
        free(b);
        fclose(fp);
        return SP_EINPUT;
    }
    fclose(fp);
    b[n] = '\0';
    if (memchr(b, '\0', n) != NULL) { /* libconfig would read up to it, and no further */
        unsigned line = 1;
        for (const char *q = b; *q != '\0'; q++)
            line += *q == '\n';
        diag_error(diag, (sp_loc){path, line}, "a NUL byte: not a text file");
        free(b);
        return SP_EINPUT;
    }
    *buf = b;
    *len = n;
    return SP_OK;
}

/* If line (up to its end) is "@include" then a quoted name, as libconfig's
 * grammar has it, point *name at the name and return its length (0 for
 * `@include ""`, which libconfig opens as the folder itself); else leave
 * *name alone and return 0. */
static size_t include_name(const char *line, const char **name)
{
    const char *p = line, *q;

    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "@include", 8) != 0)
        return 0;
    p += 8;
    if (*p != ' ' && *p != '\t')
        return 0; /* libconfig's @include takes blanks before its name */
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '"' || (q = strchr(p + 1, '"')) == NULL || memchr(p + 1, '\n', (size_t)(q - p - 1)) != NULL)
        return 0; /* not an include libconfig would take: cfg_open() reports it */
    *name = p + 1;
    return (size_t)(q - p - 1);
}

/* What is open at the end of line, given what was open at its start: 0
 * nothing, 1 a block comment, 2 a string (libconfig's strings may run over
 * lines). Comments are # and // to the end of the line and slash-star to
 * star-slash across lines, none of them inside a string. */
static int open_after(const char *line, int open)
{
    const char *p = line;

    while (*p != '\0' && *p != '\n') {
        if (open == 1) {
            if (p[0] == '*' && p[1] == '/') {
                open = 0;
                p++;
            }
        } else if (open == 2) {
            if (p[0] == '\\' && p[1] != '\0' && p[1] != '\n')
                p++;
            else if (p[0] == '"')
                open = 0;
        } else if (p[0] == '"') {
            open = 2;
        } else if (p[0] == '#' || (p[0] == '/' && p[1] == '/')) {
            break;
        } else if (p[0] == '/' && p[1] == '*') {
            open = 1;
            p++;
        }
        p++;
    }
    return open;
}

static const char *next_line(const char *line)
{
    const char *eol = strchr(line, '\n');
    return eol != NULL ? eol + 1 : NULL;
}

/* Write a line's text from p to its end, and a newline. */
static void put_line(FILE *flat, const char *p)
{
    const char *eol = strchr(p, '\n');
    fwrite(p, 1, eol != NULL ? (size_t)(eol - p) : strlen(p), flat);
    fputc('\n', flat);
}

/* Read a file and the files it @includes (named relative to dir, the
 * first file's folder, as libconfig names them), each a readable regular
 * file of text; with crc, fold their bytes into it; with flat, write it
 * there with its includes copied in. *open (open_after()) is what is open
 * where the file starts, and where it ends on return: libconfig reads an
 * included file in place of its @include, so a comment or a string it
 * leaves open runs on into the rest of the including line and beyond.
 * Every problem is said, but nesting too deep (a cycle) or running out of
 * memory sets *stop and ends the whole walk. */
static int walk(const char *path, const char *dir, int depth, uint32_t *crc, FILE *flat, int *open, int *stop,
                diag_list *diag)
{
    char *buf;
    const char *line;
    size_t len;
    unsigned lineno = 1;
    struct stat st;
    int err = slurp(path, &buf, &len, diag);

    if (err < 0)
        return err;
    if (crc != NULL)
        *crc = (uint32_t)crc32(*crc, (const Bytef *)buf, (uInt)len);
    for (line = buf; !*stop && line != NULL && *line != '\0'; line = next_line(line), lineno++) {
        const char *name = NULL;
        size_t n = *open != 0 ? 0 : include_name(line, &name);
        char *inc;
        int e;

        if (name == NULL) {
            *open = open_after(line, *open);
            if (flat != NULL) /* the line as it is, ended */
                put_line(flat, line);
            continue;
        }
        if (depth >= 10) {
            diag_error(diag, (sp_loc){path, lineno}, "@include nested more than 10 deep (a file that includes itself?)");
            err = SP_EINPUT;
            *stop = 1;
            break;
        }
        if ((inc = str_format("%s/%.*s", dir, (int)n, name)) == NULL) { /* as libconfig joins them */
            err = SP_ENOMEM;
            *stop = 1;
            break;
        }
        if ((e = stat(inc, &st)) != 0 || !S_ISREG(st.st_mode) || (e = access(inc, R_OK)) != 0) {
            diag_error(diag, (sp_loc){path, lineno},
                       "cannot open include file \"%.*s\": %s (@include paths are relative to the folder of "
                       "the file given)", (int)n, name, e != 0 ? strerror(errno) : "not a regular file (a folder?)");
            e = SP_EINPUT;
        } else {
            if (flat != NULL)
                fprintf(flat, "# --- %s, copied in from its @include by scalepath\n", inc);
            e = walk(inc, dir, depth + 1, crc, flat, open, stop, diag);
            if (flat != NULL && e == SP_OK && *open == 2) {
                diag_error(diag, (sp_loc){inc, 0}, "ends inside a string, which libconfig continues into the file "
                           "that includes it: not copied into one file");
                e = SP_EINPUT;
                *stop = 1;
            } else if (flat != NULL) {
                fprintf(flat, "# --- end of %s\n", inc);
            }
        }
        /* libconfig reads on after the name's closing quote. */
        *open = open_after(name + n + 1, *open);
        if (flat != NULL && e == SP_OK)
            put_line(flat, name + n + 1);
        if (e < 0 && (err == SP_OK || e == SP_ENOMEM))
            err = e;
        if (e == SP_ENOMEM)
            *stop = 1;
        free(inc);
    }
    free(buf);
    return err;
}

/* walk() from the top file, its includes named from its folder. */
static int walk_top(const char *path, uint32_t *crc, FILE *flat, diag_list *diag)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash != NULL ? str_format("%.*s", (int)(slash - path), path) : str_dup(".");
    int err, stop = 0, open = 0;

    if (dir == NULL)
        return SP_ENOMEM;
    err = walk(path, dir, 0, crc, flat, &open, &stop, diag);
    free(dir);
    if (err == SP_OK && flat != NULL && open == 1) /* a comment libconfig ends at the end: so that text added after
                                                      it is read */
        fputs("*/\n", flat);
    return err;
}

int cfg_digest(const char *path, uint32_t *crc, diag_list *diag)
{
    return walk_top(path, crc, NULL, diag);
}

int cfg_flatten(const char *path, FILE *out, diag_list *diag)
{
    return walk_top(path, NULL, out, diag);
}

void cfg_close(cfg_file *f)
{
    if (f->path != NULL)
        config_destroy(&f->cfg);
    free(f->path);
    f->path = NULL;
    free(f->dir);
    f->dir = NULL;
    if (f->names != NULL) {
        for (size_t i = 0; i < f->names->n; i++)
            free(f->names->v[i]);
        free(f->names->v);
        free(f->names);
        f->names = NULL;
    }
}

sp_loc cfg_loc(const cfg_file *f, const config_setting_t *s)
{
    const char *file = s != NULL ? config_setting_source_file(s) : NULL;
    unsigned line = s != NULL ? config_setting_source_line(s) : 0;

    if (file == NULL)
        file = f->path;
    else {
        const char *from_here = include_path(f, file);
        if (from_here != NULL)
            file = from_here;
    }
    if (line == 0)
        line = 1; /* the root group starts at the top of the file */
    return (sp_loc){file, line};
}

const char *cfg_type_name(int t)
{
    switch (t) {
    case CONFIG_TYPE_GROUP:
        return "a group { }";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a number";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array [ ]";
    case CONFIG_TYPE_LIST:
        return "a list ( )";
    default:
        return "unknown";
    }
}

static const char *want_name(cfg_type t)
{
    switch (t) {
    case CFG_NUMBER:
        return "a number";
    case CFG_INT:
        return "an integer";
    case CFG_STRING:
        return "a string";
    case CFG_BOOL:
        return "true or false";
    case CFG_GROUP:
        return "a group { }";
    case CFG_INTS:
        return "an integer or an array [ ] of integers";
    default:
        return "a list ( )";
    }
}

static bool type_ok(cfg_type want, int got)
{
    switch (want) {
    case CFG_NUMBER:
        return got == CONFIG_TYPE_INT || got == CONFIG_TYPE_INT64 || got == CONFIG_TYPE_FLOAT;
    case CFG_INT:
        return got == CONFIG_TYPE_INT || got == CONFIG_TYPE_INT64;
    case CFG_STRING:
        return got == CONFIG_TYPE_STRING;
    case CFG_BOOL:
        return got == CONFIG_TYPE_BOOL;
    case CFG_GROUP:
        return got == CONFIG_TYPE_GROUP;
    case CFG_INTS:
        return got == CONFIG_TYPE_INT || got == CONFIG_TYPE_INT64 || got == CONFIG_TYPE_ARRAY;
    default:
        return got == CONFIG_TYPE_LIST;
    }
}

static double number_of(const config_setting_t *s)
{
    int t = config_setting_type(s);

    if (t == CONFIG_TYPE_FLOAT)
        return config_setting_get_float(s);
    return (double)config_setting_get_int64(s);
}

/* The part of a key before its unit suffix: "bandwidth_GBps" -> "bandwidth". */
static size_t stem_len(const char *key)
{
    const char *u = strrchr(key, '_');

    return u != NULL ? (size_t)(u - key) : strlen(key);
}

static void report_unknown(const cfg_file *f, const config_setting_t *s, const cfg_key *keys,
                           const char *what)
{
    const char *name = config_setting_name(s);
    const cfg_key *best = NULL;
    unsigned best_d = 255;
    size_t sl = stem_len(name);

    for (const cfg_key *k = keys; k->name != NULL; k++) {
        unsigned d;
        /* Same quantity, other unit: name the units we accept. */
        if (sl < strlen(name) && stem_len(k->name) == sl && strncmp(k->name, name, sl) == 0 &&
            strchr(k->name, '_') != NULL) {
            diag_error(f->diag, cfg_loc(f, s),
                       "%s: unknown unit \"%s\" in \"%s\" (this quantity is given as \"%s\")", what,
                       name + sl + 1, name, k->name);
            return;
        }
        d = str_distance(name, k->name);
        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    if (best != NULL && best_d <= 3)
        diag_error(f->diag, cfg_loc(f, s), "%s: unknown key \"%s\" (did you mean \"%s\"?)", what,
                   name, best->name);
    else
        diag_error(f->diag, cfg_loc(f, s), "%s: unknown key \"%s\"", what, name);
}

int cfg_check(const cfg_file *f, const config_setting_t *group, const cfg_key *keys,
              const char *what)
{
    int err = SP_OK;
    int n = config_setting_length(group);

    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        const cfg_key *k = keys;

        if (name == NULL)
            continue;
        while (k->name != NULL && strcmp(k->name, name) != 0)
            k++;
        if (k->name == NULL) {
            report_unknown(f, s, keys, what);
            err = SP_EINPUT;
            continue;
        }
        if (!type_ok(k->type, config_setting_type(s))) {
            diag_error(f->diag, cfg_loc(f, s), "%s: \"%s\" must be %s, got %s", what, name,
                       want_name(k->type), cfg_type_name(config_setting_type(s)));
            err = SP_EINPUT;
            continue;
        }
        if (k->type == CFG_INTS && config_setting_type(s) == CONFIG_TYPE_ARRAY) {
            int len = config_setting_length(s);
            if (len == 0) {
                diag_error(f->diag, cfg_loc(f, s), "%s: \"%s\" must not be empty", what, name);
                err = SP_EINPUT;
            }
            for (int e = 0; e < len; e++) {
                const config_setting_t *x = config_setting_get_elem(s, (unsigned)e);
                int t = config_setting_type(x);
                double v = t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64 ? number_of(x) : NAN;
                if (isnan(v) && t == CONFIG_TYPE_FLOAT) {
                    diag_error(f->diag, cfg_loc(f, s), "%s: \"%s\"[%d] must be an integer (no decimal point), got %g",
                               what, name, e, config_setting_get_float(x));
                    err = SP_EINPUT;
                } else if (isnan(v)) {
                    diag_error(f->diag, cfg_loc(f, s), "%s: \"%s\"[%d] must be an integer, got %s", what, name, e,
                               cfg_type_name(t));
                    err = SP_EINPUT;
                } else if ((k->min != 0.0 || k->max != 0.0) && !(v >= k->min && v <= k->max)) {
                    diag_error(f->diag, cfg_loc(f, s), "%s: \"%s\"[%d] must be >= %.15g and <= %.15g, got %.15g",
                               what, name, e, k->min, k->max, v);
                    err = SP_EINPUT;
                }
            }
            continue;
        }
        if ((k->type == CFG_NUMBER || k->type == CFG_INT || k->type == CFG_INTS) && (k->min != 0.0 || k->max != 0.0)) {
            double v = number_of(s);
            bool low = k->min_exclusive ? !(v > k->min) : !(v >= k->min);
            if ((low || !(v <= k->max)) && k->min == k->max) {
                diag_error(f->diag, cfg_loc(f, s), "%s: \"%s\" must be %g, got %g", what, name,
                           k->min, v);
                err = SP_EINPUT;
            } else if (low || !(v <= k->max)) {
                diag_error(f->diag, cfg_loc(f, s), "%s: \"%s\" must be %s %g and <= %g, got %g",
                           what, name, k->min_exclusive ? ">" : ">=", k->min, k->max, v);
                err = SP_EINPUT;
            }
        }
        if (k->type == CFG_STRING && config_setting_get_string(s)[0] == '\0') {
            diag_error(f->diag, cfg_loc(f, s), "%s: \"%s\" must not be empty", what, name);
            err = SP_EINPUT;
        }
    }
    for (const cfg_key *k = keys; k->name != NULL; k++) {
        if (k->required && config_setting_get_member(group, k->name) == NULL) {
            diag_error(f->diag, cfg_loc(f, group), "%s: missing key \"%s\" (%s)", what, k->name,
                       k->help);
            err = SP_EINPUT;
        }
    }
    return err;
}

/* The getters tolerate a wrong type (returning dflt) so that code reading
 * a group that failed cfg_check() cannot crash. */
double cfg_number(const config_setting_t *group, const char *key, double dflt)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    return s != NULL && type_ok(CFG_NUMBER, config_setting_type(s)) ? number_of(s) : dflt;
}

long long cfg_int(const config_setting_t *group, const char *key, long long dflt)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    return s != NULL && type_ok(CFG_INT, config_setting_type(s)) ? config_setting_get_int64(s)
                                                                  : dflt;
}

size_t cfg_ints(const config_setting_t *group, const char *key, long long *out, size_t max)
{
    const config_setting_t *s = config_setting_get_member(group, key);
    size_t n;

    if (s == NULL || !type_ok(CFG_INTS, config_setting_type(s)))
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_ARRAY) {
        if (max > 0)
            out[0] = config_setting_get_int64(s);
        return 1;
    }
    n = (size_t)config_setting_length(s);
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = config_setting_get_int64_elem(s, (int)i);
    return n;
}

const char *cfg_string(const config_setting_t *group, const char *key, const char *dflt)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    return s != NULL && config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s)
                                                                     : dflt;
}

bool cfg_bool(const config_setting_t *group, const char *key, bool dflt)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    return s != NULL && config_setting_type(s) == CONFIG_TYPE_BOOL ? config_setting_get_bool(s) != 0
                                                                   : dflt;
}

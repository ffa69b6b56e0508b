/* diag.c - located diagnostics. */
#include "util/diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/str.h"
#include "util/vec.h"

struct diag_list {
    char **msgs;      /* formatted messages, owned */
    size_t n, cap;
    size_t max_kept;  /* 0 = unlimited */
    size_t errors;    /* errors reported, kept or not */
    size_t dropped;   /* messages not kept (limit reached or out of memory) */
};

int diag_new(diag_list **out, size_t max_kept)
{
    diag_list *d = calloc(1, sizeof(*d));

    *out = NULL;
    if (d == NULL)
        return SP_ENOMEM;
    d->max_kept = max_kept;
    *out = d;
    return SP_OK;
}

void diag_free(diag_list *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->msgs[i]);
    free(d->msgs);
    free(d);
}

static const char *level_name(diag_level lv)
{
    switch (lv) {
    case DIAG_ERROR:
        return "error";
    case DIAG_WARNING:
        return "warning";
    default:
        return "note";
    }
}

SP_PRINTF(4, 0) static void add(diag_list *d, diag_level lv, sp_loc at, const char *fmt, va_list ap)
{
    char *body, *msg;

    if (lv == DIAG_ERROR)
        d->errors++;
    if (d->max_kept != 0 && d->n >= d->max_kept) {
        d->dropped++;
        return;
    }
    body = str_vformat(fmt, ap);
    if (body == NULL) {
        d->dropped++;
        return;
    }
    if (at.file != NULL && at.line > 0)
        msg = str_format("%s:%u: %s: %s", at.file, at.line, level_name(lv), body);
    else if (at.file != NULL)
        msg = str_format("%s: %s: %s", at.file, level_name(lv), body);
    else
        msg = str_format("scalepath: %s: %s", level_name(lv), body);
    free(body);
    if (msg == NULL) {
        d->dropped++;
        return;
    }
    if (vec_reserve((void **)&d->msgs, &d->cap, d->n + 1, sizeof(*d->msgs)) < 0) {
        free(msg);
        d->dropped++;
        return;
    }
    d->msgs[d->n++] = msg;
}

#define DEFINE_LEVEL(fn, lv)                                                                       \
    void fn(diag_list *d, sp_loc at, const char *fmt, ...)                                         \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        add(d, lv, at, fmt, ap);                                                                   \
        va_end(ap);                                                                                \
    }
DEFINE_LEVEL(diag_error, DIAG_ERROR)
DEFINE_LEVEL(diag_warning, DIAG_WARNING)
DEFINE_LEVEL(diag_note, DIAG_NOTE)

size_t diag_error_count(const diag_list *d)
{
    return d->errors;
}

size_t diag_count(const diag_list *d)
{
    return d->n;
}

const char *diag_text(const diag_list *d, size_t i)
{
    return i < d->n ? d->msgs[i] : NULL;
}

void diag_print(const diag_list *d, FILE *fp)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(fp, "%s\n", d->msgs[i]);
    if (d->dropped > 0)
        fprintf(fp, "... and %zu more\n", d->dropped);
}

int diag_check_input(diag_list *d, const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0 || access(path, R_OK) != 0) {
        diag_error(d, (sp_loc){path, 0}, "cannot read: %s", strerror(errno));
        return SP_EINPUT;
    }
    if (S_ISDIR(st.st_mode)) {
        diag_error(d, (sp_loc){path, 0}, "cannot read: a folder, not a file");
        return SP_EINPUT;
    }
    return SP_OK;
}

/* diag.h - located diagnostics: collect every problem, print them together.
 *
 * Loaders keep going after a bad item and record one message per problem, so
 * a single run reports everything. Messages read
 *     file:line: error: what, got X, expected Y
 * which editors can jump to. A diag_list copies every string it is given.
 */
#ifndef SP_DIAG_H
#define SP_DIAG_H

#include <stddef.h>
#include <stdio.h>

#include "util/err.h"

typedef struct sp_loc {
    const char *file; /* borrowed; diag copies it; NULL = no file */
    unsigned line;    /* 1-based; 0 = unknown */
} sp_loc;

typedef enum diag_level { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } diag_level;

typedef struct diag_list diag_list;

/**
 * Create an empty list.
 * @param[out] out   the list, owned by the caller (diag_free); NULL on failure
 * @param max_kept   messages kept beyond this are only counted (0 = no limit)
 * @return SP_OK or SP_ENOMEM
 */
SP_MUST_USE int diag_new(diag_list **out, size_t max_kept);
void diag_free(diag_list *d); /* NULL is fine */

void diag_error(diag_list *d, sp_loc at, const char *fmt, ...) SP_PRINTF(3, 4);
void diag_warning(diag_list *d, sp_loc at, const char *fmt, ...) SP_PRINTF(3, 4);
void diag_note(diag_list *d, sp_loc at, const char *fmt, ...) SP_PRINTF(3, 4);

size_t diag_error_count(const diag_list *d);
size_t diag_count(const diag_list *d);           /* messages kept, all levels */
const char *diag_text(const diag_list *d, size_t i); /* i-th kept message, formatted */

/* Whether path names an input file: SP_OK; else SP_EINPUT, having said
 * "PATH: error: cannot read: " and why (missing, no permission, a folder). */
SP_MUST_USE int diag_check_input(diag_list *d, const char *path);

/* Print all messages in order, then "... and N more" if some were dropped. */
void diag_print(const diag_list *d, FILE *fp);

#endif

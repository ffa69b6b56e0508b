/* str.h - small string helpers (libc only). Every returned string is owned
 * by the caller and released with free(); NULL means out of memory. */
#ifndef SP_STR_H
#define SP_STR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

char *str_dup(const char *s);
char *str_format(const char *fmt, ...) SP_PRINTF(1, 2);
char *str_vformat(const char *fmt, va_list ap) SP_PRINTF(1, 0);

/* Levenshtein distance, capped at 255; for "did you mean" hints. */
unsigned str_distance(const char *a, const char *b);

/**
 * Parse a byte size such as "8", "64K", "1M", "8G" (powers of 1024, as
 * nccl-tests reads them).
 * @return SP_OK or SP_EINPUT (garbage, overflow, or a negative number)
 */
SP_MUST_USE int str_parse_size(uint64_t *out, const char *s);

#endif

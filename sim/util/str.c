/* str.c - small string helpers. */
#include "util/str.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);

    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

char *str_vformat(const char *fmt, va_list ap)
{
    va_list aq;
    int n;
    char *p;

    va_copy(aq, ap);
    n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        return NULL;
    p = malloc((size_t)n + 1);
    if (p != NULL)
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *str_format(const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = str_vformat(fmt, ap);
    va_end(ap);
    return p;
}

unsigned str_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned row[64];

    if (la >= 63 || lb >= 63)
        return 255;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            unsigned best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb] > 255 ? 255 : row[lb];
}

int str_parse_size(uint64_t *out, const char *s)
{
    char *end;
    unsigned long long v;
    uint64_t mult = 1;

    *out = 0;
    if (s == NULL || !isdigit((unsigned char)s[0]))
        return SP_EINPUT;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return SP_EINPUT;
    switch (toupper((unsigned char)*end)) {
    case '\0':
        break;
    case 'K':
        mult = 1ull << 10;
        end++;
        break;
    case 'M':
        mult = 1ull << 20;
        end++;
        break;
    case 'G':
        mult = 1ull << 30;
        end++;
        break;
    case 'T':
        mult = 1ull << 40;
        end++;
        break;
    default:
        return SP_EINPUT;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end != '\0' || (v != 0 && mult > UINT64_MAX / v))
        return SP_EINPUT;
    *out = (uint64_t)v * mult;
    return SP_OK;
}

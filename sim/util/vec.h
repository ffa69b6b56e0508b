/* vec.h - growable arrays: one helper instead of a realloc dance per type.
 *
 *     if (vec_reserve((void **)&p->links, &cap, p->nlinks + 1, sizeof(*p->links)) < 0) ...
 *
 * The array keeps its contents when it grows; on failure it is unchanged.
 */
#ifndef SP_VEC_H
#define SP_VEC_H

#include <stddef.h>
#include <stdlib.h>

#include "util/err.h"

/* Make room for `need` elements of `size` bytes, doubling from 32.
 * @return SP_OK or SP_ENOMEM */
SP_MUST_USE static inline int vec_reserve(void **arr, size_t *cap, size_t need, size_t size)
{
    size_t n = *cap ? *cap : 32;
    void *q;

    if (need <= *cap)
        return SP_OK;
    while (n < need)
        n *= 2;
    if ((q = realloc(*arr, n * size)) == NULL)
        return SP_ENOMEM;
    *arr = q;
    *cap = n;
    return SP_OK;
}

#endif

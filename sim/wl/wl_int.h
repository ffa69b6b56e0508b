/* wl_int.h - internals shared by the workload readers (wl_*.c only). */
#ifndef SP_WL_INT_H
#define SP_WL_INT_H

#include "wl/wl.h"

/* A workload under construction. */
typedef struct wl_builder {
    wl *w;
    size_t *cap;      /* per rank: capacity of its ops array */
    size_t gcap, scap;
    int err;          /* the first SP_ENOMEM, sticky */
    uint32_t *hash;   /* string pool index + 1 by hash of the string, open addressing; */
    size_t hcap;      /* power of two; the readers release it with wl__builder_done() */
} wl_builder;

/* Release what the builder holds beside the workload (not the workload). */
void wl__builder_done(wl_builder *b);

/* The pool's copy of s (one per distinct string). */
const char *wl__intern(wl_builder *b, const char *s);

/* The group named prefix<base> of `size` ranks base + i * stride, created on
 * first use; returns its index. */
int wl__group(wl_builder *b, const char *prefix, int r, int size, int stride, int base);

/* The group `name` with exactly these ranks (sorted copy), created on first
 * use; returns its index, or -1 if a group of that name has other ranks. */
int wl__group_ranks(wl_builder *b, const char *name, const int *ranks, int n);

/* Append an operation to a rank (deps copied); returns its index. */
uint32_t wl__add_op(wl_builder *b, int rank, wl_op op, const uint32_t *deps, uint32_t ndeps);

#endif

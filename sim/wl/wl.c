/* wl.c - workloads: what every reader shares (building, freeing, checking). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"
#include "util/vec.h"
#include "wl/wl_int.h"

static const char *const kind_names[] = {"compute", "collective", "send", "recv"};

const char *wl_op_kind_name(wl_op_kind k)
{
    return k <= WL_RECV ? kind_names[k] : "?";
}

int wl_coll_sms(const wl_op *op, int channels)
{
    return op->sms > 0 ? op->sms : op->sms < 0 ? 0 : channels;
}

size_t wl_op_count(const wl *w)
{
    size_t n = 0;
    for (int r = 0; r < w->nranks; r++)
        n += w->ranks[r].nops;
    return n;
}

void wl_free(wl *w)
{
    if (w == NULL)
        return;
    for (int r = 0; r < w->nranks && w->ranks != NULL; r++) {
        for (size_t i = 0; i < w->ranks[r].nops; i++)
            free(w->ranks[r].ops[i].deps);
        free(w->ranks[r].ops);
    }
    free(w->ranks);
    for (size_t g = 0; g < w->ngroups; g++) {
        free(w->groups[g].ranks);
        free(w->groups[g].name);
    }
    free(w->groups);
    for (size_t i = 0; i < w->nstrings; i++)
        free(w->strings[i]);
    free(w->strings);
    free(w->layer_names);
    free(w->path);
    free(w->format);
    free(w);
}

typedef struct p2p_key {
    int src, dst, tag;
    uint64_t bytes;
    size_t order; /* position among the rank's ops: FIFO matching */
    const wl_op *op;
} p2p_key;

static int cmp_p2p(const void *a, const void *b)
{
    const p2p_key *x = a, *y = b;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    if (x->dst != y->dst)
        return x->dst < y->dst ? -1 : 1;
    if (x->tag != y->tag)
        return x->tag < y->tag ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

/* Every send meets a receive with the same (source, destination, tag), in
 * order and of the same size; anything else would leave a rank blocked. */
static int check_p2p(const wl *w, diag_list *diag)
{
    size_t ns = 0, nr = 0, total = wl_op_count(w);
    p2p_key *s = malloc((total + 1) * sizeof(*s)), *r = malloc((total + 1) * sizeof(*r));
    int err = SP_OK;

    if (s == NULL || r == NULL) {
        free(s);
        free(r);
        return SP_ENOMEM;
    }
    for (int q = 0; q < w->nranks; q++)
        for (size_t i = 0; i < w->ranks[q].nops; i++) {
            const wl_op *op = &w->ranks[q].ops[i];
            if (op->kind == WL_SEND)
                s[ns++] = (p2p_key){q, op->peer, op->tag, op->bytes, i, op};
            else if (op->kind == WL_RECV)
                r[nr++] = (p2p_key){op->peer, q, op->tag, op->bytes, i, op};
        }
    qsort(s, ns, sizeof(*s), cmp_p2p);
    qsort(r, nr, sizeof(*r), cmp_p2p);
    for (size_t i = 0, j = 0; (i < ns || j < nr) && err == SP_OK;) {
        int c = i < ns && j < nr ? (s[i].src != r[j].src   ? (s[i].src < r[j].src ? -1 : 1)
                                    : s[i].dst != r[j].dst ? (s[i].dst < r[j].dst ? -1 : 1)
                                    : s[i].tag != r[j].tag ? (s[i].tag < r[j].tag ? -1 : 1)
                                                           : 0)
                : i < ns ? -1
                         : 1;
        if (c < 0) {
            diag_error(diag, s[i].op->src, "rank %d sends to rank %d (tag %d) but rank %d never receives it",
                       s[i].src, s[i].dst, s[i].tag, s[i].dst);
            err = SP_EINPUT;
        } else if (c > 0) {
            diag_error(diag, r[j].op->src, "rank %d receives from rank %d (tag %d) but rank %d never sends it",
                       r[j].dst, r[j].src, r[j].tag, r[j].src);
            err = SP_EINPUT;
        } else {
            if (s[i].bytes != r[j].bytes) {
                diag_error(diag, r[j].op->src,
                           "rank %d receives %llu B from rank %d (tag %d), which sends %llu B", r[j].dst,
                           (unsigned long long)r[j].bytes, r[j].src, r[j].tag,
                           (unsigned long long)s[i].bytes);
                err = SP_EINPUT;
            }
            i++;
            j++;
        }
    }
    free(s);
    free(r);
    return err;
}

int wl_check(const wl *w, int platform_ranks, diag_list *diag)
{
    int err = SP_OK;

    if (w->nranks > platform_ranks) {
        diag_error(diag, (sp_loc){w->path, 0}, "the workload has %d ranks, the platform %d", w->nranks,
                   platform_ranks);
        return SP_EINPUT;
    }
    for (int r = 0; r < w->nranks; r++)
        for (size_t i = 0; i < w->ranks[r].nops; i++) {
            const wl_op *op = &w->ranks[r].ops[i];
            for (uint32_t d = 0; d < op->ndeps; d++)
                if (op->deps[d] >= i) {
                    diag_error(diag, op->src, "rank %d operation %zu depends on operation %u, "
                               "which does not come before it", r, i, op->deps[d]);
                    err = SP_EINPUT;
                }
            if ((op->kind == WL_SEND || op->kind == WL_RECV) &&
                (op->peer < 0 || op->peer >= w->nranks || op->peer == r)) {
                diag_error(diag, op->src, "rank %d operation %zu: peer rank %d is not another rank of the "
                           "trace (0..%d)", r, i, op->peer, w->nranks - 1);
                err = SP_EINPUT;
            }
            if (op->kind == WL_COLL && (op->group < 0 || (size_t)op->group >= w->ngroups)) {
                diag_error(diag, op->src, "rank %d operation %zu: no communicator group %d", r, i,
                           op->group);
                err = SP_EINPUT;
            } else if (op->kind == WL_COLL) {
                const wl_group *g = &w->groups[op->group];
                int member = 0;
                for (int m = 0; m < g->n; m++)
                    member |= g->ranks[m] == r;
                if (!member) {
                    diag_error(diag, op->src, "rank %d operation %zu: a collective in group %s, "
                               "which does not include rank %d", r, i, g->name, r);
                    err = SP_EINPUT;
                }
            }
        }
    if (err == SP_OK)
        err = check_p2p(w, diag);
    /* Every member issues the same collectives on a group, in order: compare
     * each member's sequence with the group's first member's. */
    for (size_t g = 0; g < w->ngroups && err == SP_OK; g++) {
        const wl_group *gr = &w->groups[g];
        const wl_rank *first;
        if (gr->folded)
            continue; /* only some members have operations */
        if (gr->n < 1 || gr->ranks[0] < 0 || gr->ranks[gr->n - 1] >= w->nranks) {
            diag_error(diag, (sp_loc){w->path, 0}, "group %s has ranks outside 0..%d", gr->name,
                       w->nranks - 1);
            err = SP_EINPUT;
            continue;
        }
        first = &w->ranks[gr->ranks[0]];
        for (int m = 1; m < gr->n; m++) {
            const wl_rank *other = &w->ranks[gr->ranks[m]];
            size_t i = 0, j = 0;
            for (;;) {
                while (i < first->nops && !(first->ops[i].kind == WL_COLL && first->ops[i].group == (int)g))
                    i++;
                while (j < other->nops && !(other->ops[j].kind == WL_COLL && other->ops[j].group == (int)g))
                    j++;
                if (i == first->nops || j == other->nops) {
                    if (i != first->nops || j != other->nops) {
                        diag_error(diag, (sp_loc){w->path, 0},
                                   "group %s: ranks %d and %d issue different numbers of collectives",
                                   gr->name, gr->ranks[0], gr->ranks[m]);
                        err = SP_EINPUT;
                    }
                    break;
                }
                if (first->ops[i].coll != other->ops[j].coll || first->ops[i].bytes != other->ops[j].bytes) {
                    diag_error(diag, other->ops[j].src,
                               "group %s: rank %d issues %s of %llu B where rank %d issues %s of %llu B",
                               gr->name, gr->ranks[m], coll_kind_name(other->ops[j].coll),
                               (unsigned long long)other->ops[j].bytes, gr->ranks[0],
                               coll_kind_name(first->ops[i].coll), (unsigned long long)first->ops[i].bytes);
                    err = SP_EINPUT;
                    break;
                }
                i++;
                j++;
            }
        }
    }
    return err;
}

/* --- building ----------------------------------------------------------- */


static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void wl__builder_done(wl_builder *b)
{
    free(b->cap);
    free(b->hash);
    b->cap = NULL;
    b->hash = NULL;
}

const char *wl__intern(wl_builder *b, const char *s)
{
    wl *w = b->w;
    char *c;
    size_t slot;

    if (b->err < 0)
        return "";
    /* Keep the table at most half full. */
    if (2 * (w->nstrings + 1) > b->hcap) {
        size_t cap = b->hcap ? 2 * b->hcap : 256;
        uint32_t *h = calloc(cap, sizeof(*h));
        if (h == NULL) {
            b->err = SP_ENOMEM;
            return "";
        }
        for (size_t i = 0; i < w->nstrings; i++) {
            size_t k = hash_str(w->strings[i]) & (cap - 1);
            while (h[k] != 0)
                k = (k + 1) & (cap - 1);
            h[k] = (uint32_t)i + 1;
        }
        free(b->hash);
        b->hash = h;
        b->hcap = cap;
    }
    for (slot = hash_str(s) & (b->hcap - 1); b->hash[slot] != 0; slot = (slot + 1) & (b->hcap - 1))
        if (strcmp(w->strings[b->hash[slot] - 1], s) == 0)
            return w->strings[b->hash[slot] - 1];
    if ((c = str_dup(s)) == NULL ||
        vec_reserve((void **)&w->strings, &b->scap, w->nstrings + 1, sizeof(*w->strings)) < 0) {
        free(c);
        b->err = SP_ENOMEM;
        return "";
    }
    b->hash[slot] = (uint32_t)w->nstrings + 1;
    w->strings[w->nstrings++] = c;
    return c;
}

static int cmp_rank(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int wl__group_ranks(wl_builder *b, const char *name, const int *ranks, int n)
{
    wl *w = b->w;
    wl_group *g;

    for (size_t i = 0; i < w->ngroups; i++)
        if (strcmp(w->groups[i].name, name) == 0)
            return (int)i;
    if (vec_reserve((void **)&w->groups, &b->gcap, w->ngroups + 1, sizeof(*w->groups)) < 0) {
        b->err = SP_ENOMEM;
        return 0;
    }
    g = &w->groups[w->ngroups];
    g->n = n;
    g->folded = false;
    g->ranks = malloc(((size_t)n + 1) * sizeof(int));
    g->name = str_dup(name);
    if (g->ranks == NULL || g->name == NULL) {
        free(g->ranks);
        free(g->name);
        b->err = SP_ENOMEM;
        return 0;
    }
    memcpy(g->ranks, ranks, (size_t)n * sizeof(int));
    qsort(g->ranks, (size_t)n, sizeof(int), cmp_rank);
    return (int)w->ngroups++;
}

/* Group of `size` ranks base + i * stride, named prefix<base>: created once,
 * found again by name. */
int wl__group(wl_builder *b, const char *prefix, int r, int size, int stride, int base)
{
    char name[48];
    int *ranks = malloc(((size_t)size + 1) * sizeof(int)), g;

    (void)r;
    if (ranks == NULL) {
        b->err = SP_ENOMEM;
        return 0;
    }
    snprintf(name, sizeof(name), "%s%d", prefix, base);
    for (int i = 0; i < size; i++)
        ranks[i] = base + i * stride;
    g = wl__group_ranks(b, name, ranks, size);
    free(ranks);
    return g;
}

uint32_t wl__add_op(wl_builder *b, int rank, wl_op op, const uint32_t *deps, uint32_t ndeps)
{
    wl_rank *wr = &b->w->ranks[rank];

    if (b->err < 0)
        return 0;
    if (vec_reserve((void **)&wr->ops, &b->cap[rank], wr->nops + 1, sizeof(*wr->ops)) < 0) {
        b->err = SP_ENOMEM;
        return 0;
    }
    op.ndeps = 0;
    op.deps = NULL;
    if (ndeps > 0) {
        if ((op.deps = malloc(ndeps * sizeof(uint32_t))) == NULL) {
            b->err = SP_ENOMEM;
            return 0;
        }
        memcpy(op.deps, deps, ndeps * sizeof(uint32_t));
        op.ndeps = ndeps;
    }
    wr->ops[wr->nops] = op;
    return (uint32_t)wr->nops++;
}


int wl_build_start(wl_builder **out, const char *path, const char *format, int nranks)
{
    wl_builder *b = calloc(1, sizeof(*b));

    *out = NULL;
    if (b == NULL || (b->w = calloc(1, sizeof(*b->w))) == NULL ||
        (b->w->ranks = calloc((size_t)nranks + 1, sizeof(wl_rank))) == NULL ||
        (b->cap = calloc((size_t)nranks + 1, sizeof(size_t))) == NULL ||
        (b->w->path = str_dup(path)) == NULL || (b->w->format = str_dup(format)) == NULL) {
        if (b != NULL) {
            wl__builder_done(b);
            wl_free(b->w);
        }
        free(b);
        return SP_ENOMEM;
    }
    b->w->nranks = nranks;
    *out = b;
    return SP_OK;
}

int wl_build_group(wl_builder *b, const char *name, const int *ranks, int n, bool folded)
{
    int g = wl__group_ranks(b, name, ranks, n);
    if (b->err == SP_OK)
        b->w->groups[g].folded = folded;
    return g;
}

uint32_t wl_build_op(wl_builder *b, int rank, const wl_op *op, const char *name, const uint32_t *deps,
                     uint32_t ndeps)
{
    wl_op o = *op;
    o.name = wl__intern(b, name);
    return wl__add_op(b, rank, o, deps, ndeps);
}

size_t wl_build_nops(const wl_builder *b, int rank)
{
    return b->w->ranks[rank].nops;
}

int wl_build_finish(wl_builder *b, wl **out)
{
    int err = b->err;

    *out = NULL;
    if (err == SP_OK)
        *out = b->w;
    else
        wl_free(b->w);
    wl__builder_done(b);
    free(b);
    return err;
}

void wl_build_abort(wl_builder *b)
{
    if (b == NULL)
        return;
    wl_free(b->w);
    wl__builder_done(b);
    free(b);
}

static double peak_of(const plat_gpu *g, plat_prec prec)
{
    return g->peak_flops[prec] > 0.0 ? g->peak_flops[prec] : g->peak_flops[PLAT_BF16];
}

size_t wl_compute_times(wl *w, wl_compute_mode mode, const plat *p, const plat_gpu *recorded,
                        plat_prec prec)
{
    size_t roofline = 0;

    for (int r = 0; r < w->nranks; r++) {
        const plat_gpu *gpu = &plat_type_of_rank(p, r)->gpu;
        double peak = peak_of(gpu, prec), from = recorded != NULL ? peak_of(recorded, prec) : peak;
        for (size_t i = 0; i < w->ranks[r].nops; i++) {
            wl_op *op = &w->ranks[r].ops[i];
            int known = op->flops > 0.0 || op->mem_bytes > 0.0;
            if (op->kind != WL_COMPUTE || op->stream == WL_STREAM_HOST)
                continue;
            if (known && (mode == WL_COMPUTE_ROOFLINE || op->duration_s <= 0.0)) {
                double t_flops = op->flops / peak;
                double t_mem = gpu->mem_bw_Bps > 0.0 ? op->mem_bytes / gpu->mem_bw_Bps : 0.0;
                op->duration_s = t_flops > t_mem ? t_flops : t_mem;
                roofline++;
            } else if (recorded != NULL) {
                op->duration_s *= from / peak;
            }
        }
    }
    return roofline;
}

/* coll_ring.c - NCCL's ring algorithm as staged point-to-point transfers.
 *
 * All-reduce is a reduce-scatter then an all-gather: 2(n-1) steps, in each
 * of which every member sends one chunk of S/n to its ring successor and
 * receives one from its predecessor (shared/NCCL.md 1.2). All-gather and
 * reduce-scatter take n-1 steps of S/n, S being the total buffer (1.3).
 *
 * Rings. On one node, or with one GPU per node, any ring order is
 * equivalent, so one logical ring carries all channels. With several GPUs
 * and NICs per node, there is one ring per NIC (rail) carrying 1/R of the
 * data; ring r enters each node at GPU r and visits the node's GPUs in
 * order, so each NIC sends one ring's traffic and receives another's.
 */
#include <stdlib.h>
#include <string.h>

#include "coll/coll.h"

struct coll_plan {
    const plat *plat;
    coll_kind kind;
    coll_algo algo;
    coll_proto proto;
    int n;          /* members */
    int *ranks;     /* member -> global rank */
    int rings;      /* R */
    int *order;     /* R x n: position -> member */
    int *pos;       /* R x n: member -> position */
    int nsteps;     /* per ring */
    uint64_t chunk; /* wire bytes per transfer */
    int channels;
    double base_s;  /* charged once, before the first stage */
    double *hop_s;  /* R x n: software latency of the hop member -> successor, by member */
};

void coll_plan_free(coll_plan *c)
{
    if (c == NULL)
        return;
    free(c->ranks);
    free(c->order);
    free(c->pos);
    free(c->hop_s);
    free(c);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Channels NCCL would run this op on: the communicator's channels, reduced
 * while each channel would get less than 512 threads x 64 B (Simple) of the
 * op's bytes (topoGetAlgoInfo; shared/NCCL.md 1.6). */
static int channels_used(const plat *p, uint64_t bytes)
{
    int c = p->nccl.channels > 0 ? p->nccl.channels : 2;
    while (c > 1 && bytes < (uint64_t)c * 512u * 64u)
        c--;
    return c;
}

int coll_plan_new(coll_plan **out, const plat *p, coll_kind kind, const int *ranks, int n,
                  uint64_t bytes)
{
    coll_plan *c;
    int multi_node_rails;
    int *sorted;

    *out = NULL;
    if (n < 1 || kind >= COLL_NKINDS || p->nranks < n)
        return SP_EINPUT;
    for (int i = 0; i < n; i++)
        if (ranks[i] < 0 || ranks[i] >= p->nranks)
            return SP_EINPUT;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return SP_ENOMEM;
    c->plat = p;
    c->kind = kind;
    c->algo = COLL_ALGO_RING;
    c->proto = COLL_PROTO_SIMPLE;
    c->n = n;
    c->channels = channels_used(p, bytes);
    c->ranks = malloc((size_t)n * sizeof(int));
    if (c->ranks == NULL) {
        coll_plan_free(c);
        return SP_ENOMEM;
    }
    memcpy(c->ranks, ranks, (size_t)n * sizeof(int));
    /* Members are ordered by global rank, so members of a node are contiguous. */
    qsort(c->ranks, (size_t)n, sizeof(int), cmp_int);
    for (int i = 1; i < n; i++)
        if (c->ranks[i] == c->ranks[i - 1]) {
            coll_plan_free(c);
            return SP_EINPUT;
        }
    sorted = c->ranks;

    multi_node_rails = plat_rank_node(p, sorted[0]) != plat_rank_node(p, sorted[n - 1]) &&
                       p->gpus_per_node > 1 && p->nic.count > 1;
    c->rings = multi_node_rails ? p->nic.count : 1;
    if (c->rings > COLL_MAX_RINGS)
        c->rings = COLL_MAX_RINGS;
    c->order = malloc((size_t)c->rings * (size_t)n * sizeof(int));
    c->pos = malloc((size_t)c->rings * (size_t)n * sizeof(int));
    c->hop_s = malloc((size_t)c->rings * (size_t)n * sizeof(double));
    if (c->order == NULL || c->pos == NULL || c->hop_s == NULL) {
        coll_plan_free(c);
        return SP_ENOMEM;
    }
    for (int r = 0; r < c->rings; r++) {
        int *ord = c->order + (size_t)r * n;
        int k = 0;
        for (int i = 0; i < n;) {
            /* The members on the node of member i: [i, j). */
            int j = i, len;
            while (j < n && plat_rank_node(p, sorted[j]) == plat_rank_node(p, sorted[i]))
                j++;
            len = j - i;
            for (int q = 0; q < len; q++)
                ord[k++] = i + (q + r) % len;
            i = j;
        }
        for (int q = 0; q < n; q++)
            c->pos[(size_t)r * n + ord[q]] = q;
    }

    c->nsteps = n < 2 ? 0 : (kind == COLL_ALL_REDUCE ? 2 * (n - 1) : n - 1);
    {
        /* Each ring carries bytes / R, cut into n chunks; rounded up to whole bytes. */
        uint64_t per_ring = (bytes + (uint64_t)c->rings - 1) / (uint64_t)c->rings;
        uint64_t payload = (per_ring + (uint64_t)n - 1) / (uint64_t)n;
        double wire = (double)payload / coll_proto_wire_efficiency(c->proto);
        c->chunk = (uint64_t)(wire + 0.5);
    }

    /* Software latency. NCCL's hwLat is its whole per-hop latency; SimGrid
     * already charges the physical route latency, so only the rest is added. */
    c->base_s = 0.0;
    {
        int one_gpu = p->gpus_per_node == 1;
        for (int r = 0; r < c->rings; r++)
            for (int m = 0; m < n; m++) {
                int succ = c->order[(size_t)r * n + (c->pos[(size_t)r * n + m] + 1) % n];
                plat_path path = plat_route(p, sorted[m], sorted[succ]);
                double hw = coll_nccl_hw_latency_us(path.cls, c->algo, c->proto, one_gpu) * 1e-6;
                double extra = hw - path.lat_s;
                if (p->nccl.latency == PLAT_LAT_NONE || extra < 0.0)
                    extra = 0.0;
                c->hop_s[(size_t)r * n + m] = extra;
            }
        if (p->nccl.latency == PLAT_LAT_NCCL)
            c->base_s = coll_nccl_base_latency_us(c->algo, c->proto) * 1e-6;
    }
    *out = c;
    return SP_OK;
}

int coll_plan_members(const coll_plan *c)
{
    return c->n;
}

int coll_plan_rank(const coll_plan *c, int member)
{
    return c->ranks[member];
}

coll_algo coll_plan_algo(const coll_plan *c)
{
    return c->algo;
}

coll_proto coll_plan_proto(const coll_plan *c)
{
    return c->proto;
}

int coll_plan_channels(const coll_plan *c)
{
    return c->channels;
}

int coll_plan_rings(const coll_plan *c)
{
    return c->rings;
}

int coll_plan_nstages(const coll_plan *c, int member)
{
    (void)member;
    /* One stage even with no transfer, so the base latency is charged. */
    return c->nsteps > 0 ? c->nsteps : 1;
}

void coll_plan_stage(const coll_plan *c, int m, int stage, coll_stage *out)
{
    int n = c->n;

    out->nsend = out->nrecv = 0;
    out->delay_s = stage == 0 ? c->base_s : 0.0;
    if (c->nsteps == 0 || c->chunk == 0)
        return;
    /* In lock step, the stage lasts as long as the slowest hop among this member's rings. */
    {
        double hop = 0.0;
        for (int r = 0; r < c->rings; r++) {
            const int *ord = c->order + (size_t)r * n;
            int q = c->pos[(size_t)r * n + m];
            out->send[out->nsend++] = (coll_xfer){ord[(q + 1) % n], c->chunk, r};
            out->recv[out->nrecv++] = (coll_xfer){ord[(q + n - 1) % n], c->chunk, r};
            if (c->hop_s[(size_t)r * n + m] > hop)
                hop = c->hop_s[(size_t)r * n + m];
        }
        out->delay_s += hop;
    }
}

uint64_t coll_plan_bytes_sent(const coll_plan *c, int member)
{
    uint64_t total = 0;
    coll_stage st;

    for (int s = 0; s < coll_plan_nstages(c, member); s++) {
        coll_plan_stage(c, member, s, &st);
        for (int i = 0; i < st.nsend; i++)
            total += st.send[i].bytes;
    }
    return total;
}

double coll_plan_alpha_beta_s(const coll_plan *c)
{
    double total = 0.0;
    coll_stage st;

    for (int s = 0; s < coll_plan_nstages(c, 0); s++) {
        double worst = 0.0;
        for (int m = 0; m < c->n; m++) {
            coll_plan_stage(c, m, s, &st);
            double t = st.delay_s;
            double slowest = 0.0;
            for (int i = 0; i < st.nsend; i++) {
                plat_path path = plat_route(c->plat, c->ranks[m], c->ranks[st.send[i].peer]);
                double x = path.lat_s + (double)st.send[i].bytes / path.bw_Bps;
                if (x > slowest)
                    slowest = x;
            }
            if (t + slowest > worst)
                worst = t + slowest;
        }
        total += worst;
    }
    return total;
}

/* coll_ring.c - NCCL's ring algorithm as staged point-to-point transfers.
 *
 * All-reduce is a reduce-scatter then an all-gather: 2(n-1) steps, in each
 * of which every member sends one chunk of S/n to its ring successor and
 * receives one from its predecessor (shared/NCCL.md 1.2). All-gather and
 * reduce-scatter take n-1 steps of S/n, S being the total buffer (1.3).
 *
 * Rings. Members are grouped by node, in rank order. On one node any ring
 * order is equivalent: one logical ring carries all channels. Across nodes
 * there is one ring per rail (NIC) that every node's members use, each
 * carrying 1/R of the data. Ring r enters node k at the first member on the
 * node's r-th rail, visits the node's members in order, and leaves through
 * the same rail: the network transfer goes NIC r to NIC r on the next node
 * (rail-aligned, so it never crosses a spine it need not). When the node's
 * last member is on another rail, it hands its chunk to the entry member
 * over the intra-node fabric and the entry member sends it on (NCCL's PXN):
 * both transfers run in the same stage, as chunks pipeline in NCCL.
 *
 * The transfer pattern is the same in every stage, so it is built once as
 * a list of (src, dst, ring) and bucketed per member. Transfers of several
 * rings between the same pair in the same stage become one flow carrying
 * their sum: on the same path, SimGrid's fair sharing would finish them
 * together anyway, and the event count drops by up to the ring count.
 */
#include <stdlib.h>
#include <string.h>

#include "coll/coll.h"

typedef struct xfer {
    int src, dst, ring; /* members; the first ring of a merged transfer */
    int mult;           /* chunks it carries (rings sharing the same pair) */
} xfer;

struct coll_plan {
    const plat *plat;
    coll_kind kind;
    coll_algo algo;
    coll_proto proto;
    int n;          /* members */
    int *ranks;     /* member -> global rank, ascending */
    int rings;      /* R */
    int nsteps;     /* per ring */
    uint64_t chunk; /* wire bytes per transfer */
    int channels;
    double base_s;  /* charged once, before the first stage */
    double step_s;  /* software latency charged before every stage */
    double intra_sum, inter_sum; /* ring 0: software latency of its intra / inter-node hops */
    int intra_hops, inter_hops;  /* ... and their counts */
    int one_gpu;    /* one GPU per node in the communicator */
    int nodes;      /* nodes the communicator spans */
    xfer *sends;    /* bucketed by src: member m's at [send0[m], send0[m + 1]) */
    xfer *recvs;    /* bucketed by dst */
    int *send0, *recv0;
};

void coll_plan_free(coll_plan *c)
{
    if (c == NULL)
        return;
    free(c->ranks);
    free(c->sends);
    free(c->recvs);
    free(c->send0);
    free(c->recv0);
    free(c);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_xfer(const void *a, const void *b)
{
    const xfer *x = a, *y = b;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    if (x->dst != y->dst)
        return x->dst < y->dst ? -1 : 1;
    return (x->ring > y->ring) - (x->ring < y->ring);
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

typedef struct node_span {
    int first, count; /* members [first, first + count) */
    int rails[COLL_MAX_RINGS];
    int nrails;       /* distinct NICs of its members, ascending */
} node_span;

/* Bucket the transfers by a key (src or dst) with a counting sort that
 * keeps their order: deterministic stages. */
static int bucket(xfer **out, int **start, const xfer *x, size_t nx, int n, int by_dst)
{
    int *cnt = calloc((size_t)n + 1, sizeof(int));
    xfer *b = malloc((nx ? nx : 1) * sizeof(*b));

    if (cnt == NULL || b == NULL) {
        free(cnt);
        free(b);
        return SP_ENOMEM;
    }
    for (size_t i = 0; i < nx; i++)
        cnt[(by_dst ? x[i].dst : x[i].src) + 1]++;
    for (int m = 0; m < n; m++)
        cnt[m + 1] += cnt[m];
    {
        int *pos = malloc(((size_t)n + 1) * sizeof(int));
        if (pos == NULL) {
            free(cnt);
            free(b);
            return SP_ENOMEM;
        }
        memcpy(pos, cnt, ((size_t)n + 1) * sizeof(int));
        for (size_t i = 0; i < nx; i++)
            b[pos[by_dst ? x[i].dst : x[i].src]++] = x[i];
        free(pos);
    }
    *out = b;
    *start = cnt;
    return SP_OK;
}

/* Build the ring transfers; *nx gets their count. */
/* NCCL's software latency of one hop beyond the physical route latency
 * that SimGrid charges (never negative), and whether it crosses nodes. */
static double hop_latency(const coll_plan *c, int a, int b, int one_gpu, int *inter)
{
    plat_path path = plat_route(c->plat, c->ranks[a], c->ranks[b]);
    double hw = coll_nccl_hw_latency_us(path.cls, c->algo, c->proto, one_gpu) * 1e-6;

    *inter = path.cls == PLAT_PATH_NET;
    return hw > path.lat_s ? hw - path.lat_s : 0.0;
}

static void count_hop(coll_plan *c, int a, int b, int one_gpu)
{
    int inter;
    double l = hop_latency(c, a, b, one_gpu, &inter);

    if (inter) {
        c->inter_sum += l;
        c->inter_hops++;
    } else {
        c->intra_sum += l;
        c->intra_hops++;
    }
}

static int build_rings(coll_plan *c, xfer **out, size_t *nx)
{
    const plat *p = c->plat;
    int n = c->n, nn = 0;
    node_span *nodes = calloc((size_t)n, sizeof(*nodes));
    xfer *x = NULL;
    size_t cap, k = 0;

    *out = NULL;
    if (nodes == NULL)
        return SP_ENOMEM;
    for (int i = 0; i < n;) {
        node_span *s = &nodes[nn++];
        int j = i;
        while (j < n && plat_rank_node(p, c->ranks[j]) == plat_rank_node(p, c->ranks[i]))
            j++;
        s->first = i;
        s->count = j - i;
        for (int q = i; q < j; q++) {
            int nic = plat_rank_nic(p, c->ranks[q]);
            if (nic >= 0 && (s->nrails == 0 || s->rails[s->nrails - 1] != nic) &&
                s->nrails < COLL_MAX_RINGS)
                s->rails[s->nrails++] = nic;
        }
        i = j;
    }
    c->rings = 1;
    if (nn > 1) {
        c->rings = COLL_MAX_RINGS;
        for (int q = 0; q < nn; q++)
            if (nodes[q].nrails < c->rings)
                c->rings = nodes[q].nrails;
        if (c->rings < 1)
            c->rings = 1;
    }
    {
        /* One GPU per node: NCCL takes inter-node latency from its Tree row. */
        int one_gpu = 1;
        for (int m = 0; m < n; m++)
            if (plat_type_of_rank(p, c->ranks[m])->gpus > 1)
                one_gpu = 0;
        c->one_gpu = one_gpu;
    }
    cap = (size_t)c->rings * ((size_t)n + (size_t)nn) + 1;
    if ((x = malloc(cap * sizeof(*x))) == NULL) {
        free(nodes);
        return SP_ENOMEM;
    }
    for (int r = 0; r < c->rings; r++) {
        if (nn == 1) {
            for (int q = 0; q < n; q++) {
                x[k++] = (xfer){q, (q + 1) % n, r, 1};
                if (r == 0)
                    count_hop(c, q, (q + 1) % n, c->one_gpu);
            }
            continue;
        }
        for (int q = 0; q < nn; q++) {
            const node_span *s = &nodes[q], *next = &nodes[(q + 1) % nn];
            int rail = s->nrails > r ? s->rails[r] : -1;
            int next_rail = next->nrails > r ? next->rails[r] : -1;
            int entry = s->first, next_entry = next->first, exit, sender;
            /* The entry member: the node's first member on the ring's rail. */
            for (int m = s->first; m < s->first + s->count; m++)
                if (plat_rank_nic(p, c->ranks[m]) == rail) {
                    entry = m;
                    break;
                }
            for (int m = next->first; m < next->first + next->count; m++)
                if (plat_rank_nic(p, c->ranks[m]) == next_rail) {
                    next_entry = m;
                    break;
                }
            /* The chain entry, entry+1, ..., wrapping, ends at exit. */
            for (int i = 0; i + 1 < s->count; i++) {
                int a = s->first + (entry - s->first + i) % s->count;
                int b = s->first + (entry - s->first + i + 1) % s->count;
                x[k++] = (xfer){a, b, r, 1};
                if (r == 0)
                    count_hop(c, a, b, c->one_gpu);
            }
            exit = s->first + (entry - s->first + s->count - 1) % s->count;
            sender = exit;
            if (exit != entry && plat_rank_nic(p, c->ranks[exit]) != rail) {
                x[k++] = (xfer){exit, entry, r, 1}; /* PXN: hand over to the rail's GPU */
                sender = entry;
            }
            x[k++] = (xfer){sender, next_entry, r, 1};
            if (r == 0)
                count_hop(c, sender, next_entry, c->one_gpu);
        }
    }
    c->nodes = nn;
    free(nodes);
    /* Merge transfers between the same pair: sort by (src, dst, ring), keep the first. */
    qsort(x, k, sizeof(*x), cmp_xfer);
    {
        size_t w = 0;
        for (size_t i = 0; i < k; i++) {
            if (w > 0 && x[w - 1].src == x[i].src && x[w - 1].dst == x[i].dst)
                x[w - 1].mult += x[i].mult;
            else
                x[w++] = x[i];
        }
        k = w;
    }
    *out = x;
    *nx = k;
    return SP_OK;
}

int coll_plan_new(coll_plan **out, const plat *p, coll_kind kind, const int *ranks, int n,
                  uint64_t bytes)
{
    coll_plan *c;
    xfer *x = NULL;
    size_t nx = 0;
    int err;

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
    if ((c->ranks = malloc((size_t)n * sizeof(int))) == NULL) {
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

    c->nsteps = n < 2 ? 0 : (kind == COLL_ALL_REDUCE ? 2 * (n - 1) : n - 1);
    if (n >= 2) {
        if ((err = build_rings(c, &x, &nx)) < 0 ||
            (err = bucket(&c->sends, &c->send0, x, nx, n, 0)) < 0 ||
            (err = bucket(&c->recvs, &c->recv0, x, nx, n, 1)) < 0) {
            free(x);
            coll_plan_free(c);
            return err;
        }
        free(x);
    }
    {
        /* Each ring carries bytes / R, cut into n chunks; rounded up to whole bytes. */
        uint64_t per_ring = (bytes + (uint64_t)c->rings - 1) / (uint64_t)(c->rings ? c->rings : 1);
        uint64_t payload = (per_ring + (uint64_t)n - 1) / (uint64_t)n;
        double wire = (double)payload / coll_proto_wire_efficiency(c->proto);
        c->chunk = (uint64_t)(wire + 0.5);
    }

    /* Software latency, as NCCL's model has it (shared/NCCL.md 2.4): base
     * latency once, and (nsteps - nInter) intra-node plus nInter inter-node
     * hop latencies, nInter = 2(N-1) for all-reduce and N-1 otherwise. Each
     * hop's latency is NCCL's hwLat less the physical route latency SimGrid
     * already charges. The total is spread evenly over the stages: in lock
     * step, charging each stage its slowest hop would pay the network
     * latency in every step, where NCCL's pipelined ring pays it only on the
     * steps that cross nodes. */
    if (p->nccl.latency == PLAT_LAT_NCCL) {
        c->base_s = coll_nccl_base_latency_us(c->algo, c->proto) * 1e-6;
        if (c->nsteps > 0) {
            int n_inter = c->nodes > 1 ? (kind == COLL_ALL_REDUCE ? 2 : 1) * (c->nodes - 1) : 0;
            double intra = c->intra_hops ? c->intra_sum / c->intra_hops : 0.0;
            double inter = c->inter_hops ? c->inter_sum / c->inter_hops : 0.0;
            if (n_inter > c->nsteps)
                n_inter = c->nsteps;
            c->step_s = (intra * (c->nsteps - n_inter) + inter * n_inter) / c->nsteps;
        }
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
    out->nsend = out->nrecv = 0;
    out->delay_s = stage == 0 ? c->base_s : 0.0;
    if (c->nsteps == 0 || c->chunk == 0)
        return;
    out->delay_s += c->step_s;
    for (int i = c->send0[m]; i < c->send0[m + 1] && out->nsend < COLL_MAX_XFERS; i++)
        out->send[out->nsend++] = (coll_xfer){c->sends[i].dst, c->chunk * (uint64_t)c->sends[i].mult,
                                              c->sends[i].ring};
    for (int i = c->recv0[m]; i < c->recv0[m + 1] && out->nrecv < COLL_MAX_XFERS; i++)
        out->recv[out->nrecv++] = (coll_xfer){c->recvs[i].src, c->chunk * (uint64_t)c->recvs[i].mult,
                                              c->recvs[i].ring};
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
            double slowest = 0.0;
            coll_plan_stage(c, m, s, &st);
            for (int i = 0; i < st.nsend; i++) {
                plat_path path = plat_route(c->plat, c->ranks[m], c->ranks[st.send[i].peer]);
                double t = path.lat_s + (double)st.send[i].bytes / path.bw_Bps;
                if (t > slowest)
                    slowest = t;
            }
            if (st.delay_s + slowest > worst)
                worst = st.delay_s + slowest;
        }
        total += worst;
    }
    return total;
}

/* coll_plan.c - collectives as staged point-to-point transfers: NCCL's
 * choice of algorithm and protocol, then the ring or tree laid out on the
 * platform.
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
#include "coll/coll_tune.h"

#include <math.h>

typedef struct xfer {
    int src, dst, ring; /* members; the first ring of a merged transfer */
    double mult;        /* chunks it carries (rings sharing the same pair; NVLS-Tree's
                         * NVLink flows carry a fraction of its network chunk) */
} xfer;

struct coll_plan {
    const plat *plat;
    coll_kind kind;
    coll_algo algo;
    coll_proto proto;
    int n;          /* members */
    int *ranks;     /* member -> global rank, ascending */
    int root;       /* a rooted collective's root, a member; 0 otherwise */
    int rings;      /* R */
    int nsteps;     /* per ring */
    uint64_t chunk; /* wire bytes per transfer */
    int channels;
    double model_us; /* NCCL's predicted time of the choice */
    double inflate;  /* wire bytes per payload byte: the protocol's cost relative to Simple */
    double base_s;  /* charged once, before the first stage */
    double step_s;  /* software latency charged before every stage */
    double intra_sum, inter_sum; /* ring 0: software latency of its intra / inter-node hops */
    int intra_hops, inter_hops;  /* ... and their counts */
    int one_gpu;    /* one GPU per node in the communicator */
    int nodes;      /* nodes the communicator spans */
    int together;   /* one stage of flows that carry others' data: starts when all have begun */
    xfer *sends;    /* bucketed by src: member m's at [send0[m], send0[m + 1]) */
    xfer *recvs;    /* bucketed by dst */
    int *send0, *recv0;
    coll_xfer *sendx, *recvx; /* the same as coll_plan_stage hands them out (fill_stages) */
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
    free(c->sendx);
    free(c->recvx);
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

/* Channels NCCL would run this op on: the communicator's runtime channels,
 * reduced while each channel would get less than threads x threshold bytes
 * (topoGetAlgoInfo; shared/NCCL.md 1.6): Simple 512 x 64 B, LL128 640 x 8 B,
 * LL 512 x 8 B (x n for Ring). */
static int channels_used(int runtime, coll_algo a, coll_proto p, int n, uint64_t bytes)
{
    uint64_t per = p == COLL_PROTO_SIMPLE ? 512u * 64u : p == COLL_PROTO_LL128 ? 640u * 8u : 512u * 8u;
    int c = runtime > 0 ? runtime : 2;

    if (p == COLL_PROTO_LL && a == COLL_ALGO_RING)
        per *= (uint64_t)n;
    while (c > 1 && bytes < (uint64_t)c * per)
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

static double stage_seconds(const coll_plan *c, bool with_latency);
static void fill_stages(coll_plan *c);

/* Build the ring transfers; *nx gets their count. */
/* Group the members by node (they are sorted by rank, so a node's are
 * contiguous) and list each node's rails; returns the node count. */
static int group_nodes(const coll_plan *c, node_span *nodes)
{
    const plat *p = c->plat;
    int n = c->n, nn = 0;

    for (int i = 0; i < n;) {
        node_span *s = &nodes[nn++];
        int j = i;
        while (j < n && plat_rank_node(p, c->ranks[j]) == plat_rank_node(p, c->ranks[i]))
            j++;
        s->first = i;
        s->count = j - i;
        s->nrails = 0;
        for (int q = i; q < j; q++) {
            int nic = plat_rank_nic(p, c->ranks[q]);
            if (nic >= 0 && (s->nrails == 0 || s->rails[s->nrails - 1] != nic) &&
                s->nrails < COLL_MAX_RINGS)
                s->rails[s->nrails++] = nic;
        }
        i = j;
    }
    return nn;
}

/* Rings (rails) every node can take part in: the fewest rails of a node. */
static int rail_count(const node_span *nodes, int nn)
{
    int r = COLL_MAX_RINGS;

    if (nn < 2)
        return 1;
    for (int q = 0; q < nn; q++)
        if (nodes[q].nrails < r)
            r = nodes[q].nrails;
    return r < 1 ? 1 : r;
}

/* The node's first member on its r-th rail (its first member if none). */
static int rail_entry(const coll_plan *c, const node_span *s, int r)
{
    int rail = s->nrails > r ? s->rails[r] : -1;

    for (int m = s->first; m < s->first + s->count; m++)
        if (plat_rank_nic(c->plat, c->ranks[m]) == rail)
            return m;
    return s->first;
}

/* Merge transfers between the same pair: sort by (src, dst, ring), keep
 * the first, add up the chunks. Returns the new count. */
static size_t merge_xfers(xfer *x, size_t k)
{
    size_t w = 0;

    qsort(x, k, sizeof(*x), cmp_xfer);
    for (size_t i = 0; i < k; i++) {
        if (w > 0 && x[w - 1].src == x[i].src && x[w - 1].dst == x[i].dst)
            x[w - 1].mult += x[i].mult;
        else
            x[w++] = x[i];
    }
    return w;
}

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

/* Whether the ring edge a -> b is left out: a broadcast's ring is a chain
 * from the root to the member before it (no edge into the root), a
 * reduce's a chain from the member after the root to the root (no edge out
 * of it), as NCCL runs them (shared/NCCL.md 1.3). */
static int skipped(const coll_plan *c, int a, int b)
{
    return (c->kind == COLL_BROADCAST && b == c->root) || (c->kind == COLL_REDUCE && a == c->root);
}

/* A builder's start: the members grouped by node (c->nodes of them) and the
 * rails they use (c->rings); NULL when out of memory. */
static node_span *plan_nodes(coll_plan *c, int *nn)
{
    node_span *nodes = calloc((size_t)c->n, sizeof(*nodes));

    if (nodes == NULL)
        return NULL;
    *nn = c->nodes = group_nodes(c, nodes);
    c->rings = rail_count(nodes, *nn);
    return nodes;
}

/* A builder's transfer array, cap entries; NULL when out of memory, and
 * then the spans are freed too, so the builder only returns SP_ENOMEM. */
static xfer *plan_xfers(node_span *nodes, size_t cap)
{
    xfer *x = malloc(cap * sizeof(*x));

    if (x == NULL)
        free(nodes);
    return x;
}

/* A builder's end: the spans freed, the transfers merged and handed out. */
static int plan_done(node_span *nodes, xfer *x, size_t k, xfer **out, size_t *nx)
{
    free(nodes);
    *nx = merge_xfers(x, k);
    *out = x;
    return SP_OK;
}

static int build_rings(coll_plan *c, xfer **out, size_t *nx)
{
    const plat *p = c->plat;
    int n = c->n, nn = 0;
    node_span *nodes = plan_nodes(c, &nn);
    xfer *x = NULL;
    size_t cap, k = 0;

    *out = NULL;
    if (nodes == NULL)
        return SP_ENOMEM;
    {
        /* One GPU per node: NCCL takes inter-node latency from its Tree row. */
        int one_gpu = 1;
        for (int m = 0; m < n; m++)
            if (plat_type_of_rank(p, c->ranks[m])->gpus > 1)
                one_gpu = 0;
        c->one_gpu = one_gpu;
    }
    cap = (size_t)c->rings * ((size_t)n + (size_t)nn) + 1;
    if ((x = plan_xfers(nodes, cap)) == NULL)
        return SP_ENOMEM;
    for (int r = 0; r < c->rings; r++) {
        if (nn == 1) {
            for (int q = 0; q < n; q++) {
                if (skipped(c, q, (q + 1) % n))
                    continue;
                x[k++] = (xfer){q, (q + 1) % n, r, 1};
                if (r == 0)
                    count_hop(c, q, (q + 1) % n, c->one_gpu);
            }
            continue;
        }
        for (int q = 0; q < nn; q++) {
            const node_span *s = &nodes[q], *next = &nodes[(q + 1) % nn];
            int rail = s->nrails > r ? s->rails[r] : -1;
            int entry = rail_entry(c, s, r), next_entry = rail_entry(c, next, r), exit, sender;
            /* The chain entry, entry+1, ..., wrapping, ends at exit. */
            for (int i = 0; i + 1 < s->count; i++) {
                int a = s->first + (entry - s->first + i) % s->count;
                int b = s->first + (entry - s->first + i + 1) % s->count;
                if (skipped(c, a, b))
                    continue;
                x[k++] = (xfer){a, b, r, 1};
                if (r == 0)
                    count_hop(c, a, b, c->one_gpu);
            }
            exit = s->first + (entry - s->first + s->count - 1) % s->count;
            if (skipped(c, exit, next_entry))
                continue;
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
    return plan_done(nodes, x, k, out, nx);
}

/* NCCL's double binary tree over nodes (trees.cc; shared/NCCL.md 1.4):
 * in tree 0 node i's parent is (i ^ b) | 2b for the lowest set bit b of i,
 * or i ^ b when that is out of range; node 0 is the root. Tree 1 mirrors
 * tree 0 (i -> N-1-i) for even N and shifts it by one for odd N. */
static int tree0_parent(int i, int nn)
{
    int b, up;

    if (i == 0)
        return -1;
    b = i & -i;
    up = (i ^ b) | (b << 1);
    return up < nn ? up : i ^ b;
}

static int tree_parent(int t, int i, int nn)
{
    int m, pm;

    if (t == 0)
        return tree0_parent(i, nn);
    m = nn % 2 == 0 ? nn - 1 - i : (i + 1) % nn;
    pm = tree0_parent(m, nn);
    if (pm < 0)
        return -1;
    return nn % 2 == 0 ? nn - 1 - pm : (pm + nn - 1) % nn;
}

/* Node q's edges to its parents in both trees on rail r, each way, between
 * the nodes' rail-r entry GPUs; appended at x[k]. Returns the new count. */
static size_t add_parent_edges(const coll_plan *c, const node_span *nodes, int nn, int q, int r, xfer *x,
                               size_t k)
{
    int entry = rail_entry(c, &nodes[q], r);

    for (int t = 0; t < 2 && nn > 1; t++) {
        int parent = tree_parent(t, q, nn), pe;
        if (parent < 0)
            continue;
        pe = rail_entry(c, &nodes[parent], r);
        x[k++] = (xfer){entry, pe, r, 1};
        x[k++] = (xfer){pe, entry, r, 1};
    }
    return k;
}

/* Tree all-reduce as one stage of edge flows (NCCL.md 7.3, level 3): each of
 * the two trees reduces S/2 up and broadcasts it down, pipelined, so in
 * steady state every tree edge carries S/2 each way at once. Inside a node
 * the tree is a chain from the node's head GPU; across nodes the edges join
 * head GPUs, one per rail, each rail carrying 1/R of the data as NCCL's
 * channels spread over the NICs. */
static int build_tree(coll_plan *c, xfer **out, size_t *nx)
{
    int n = c->n, nn = 0;
    node_span *nodes = plan_nodes(c, &nn);
    xfer *x;
    size_t k = 0, cap;

    *out = NULL;
    if (nodes == NULL)
        return SP_ENOMEM;
    cap = 2 * 2 * (size_t)c->rings * ((size_t)n + (size_t)nn) + 1;
    if ((x = plan_xfers(nodes, cap)) == NULL)
        return SP_ENOMEM;
    for (int r = 0; r < c->rings; r++) {
        for (int q = 0; q < nn; q++) {
            const node_span *s = &nodes[q];
            int entry = rail_entry(c, s, r);
            /* The chain inside the node, both trees, both ways. */
            for (int i = 0; i + 1 < s->count; i++) {
                int a = s->first + (entry - s->first + i) % s->count;
                int b = s->first + (entry - s->first + i + 1) % s->count;
                for (int t = 0; t < 2; t++) {
                    x[k++] = (xfer){a, b, r, 1};
                    x[k++] = (xfer){b, a, r, 1};
                }
            }
            k = add_parent_edges(c, nodes, nn, q, r, x, k);
        }
    }
    return plan_done(nodes, x, k, out, nx);
}

/* NCCL's p2p sends to a GPU on another node go through the GPU of the
 * sender's node that sits next to the NIC of the communicator's GPU with
 * the peer's device index there (NCCL_P2P_PXN_LEVEL = 2: ncclTopoGetNetDev
 * in NCCL's src/graph/search.cc; shared/NCCL.md 4): over NVLink, then out of
 * that GPU's NIC, so with a NIC per GPU the network carries rail-aligned
 * traffic only, one flow per NIC and peer. Both transfers run at once, as
 * NCCL's chunks pipeline. NCCL's topology holds the communicator's GPUs
 * only: without a GPU of that index among them (a pipeline group has one
 * GPU per node) the GPU sends from its own NIC, across the spine
 * (plat_route). */
/* Of ranks[0..n), the index of the one that relays node's sends to a GPU
 * of device index `local` on another node (the rule above), or -1. */
static int relay_among(const plat *p, const int *ranks, int n, int node, int local)
{
    int twin = -1, relay = -1;

    for (int i = 0; i < n; i++)
        if (plat_rank_node(p, ranks[i]) == node && plat_rank_local(p, ranks[i]) == local)
            twin = i;
    if (twin < 0 || plat_rank_nic(p, ranks[twin]) < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (plat_rank_node(p, ranks[i]) == node && plat_rank_nic(p, ranks[i]) == plat_rank_nic(p, ranks[twin]) &&
            (relay < 0 || ranks[i] < ranks[relay]))
            relay = i;
    return relay;
}

int coll_pxn_relay(const plat *p, const int *ranks, int n, int src, int dst)
{
    int node = plat_rank_node(p, src), i;

    if (node == plat_rank_node(p, dst) || plat_type_of_node(p, node)->intra.kind != PLAT_INTRA_NVSWITCH)
        return -1;
    i = relay_among(p, ranks, n, node, plat_rank_local(p, dst));
    return i < 0 || ranks[i] == src ? -1 : ranks[i];
}

/* The same as a table: relay[q * width + l] is the member that relays node
 * q's sends to a GPU of device index l on another node, or -1. */
static int *pxn_relays(const coll_plan *c, const node_span *nodes, int nn, int *width)
{
    const plat *p = c->plat;
    int w = 0, *relay;

    for (size_t i = 0; i < p->ntypes; i++)
        if (p->types[i].gpus > w)
            w = p->types[i].gpus;
    *width = w;
    if ((relay = malloc(((size_t)nn * (size_t)w + 1) * sizeof(int))) == NULL)
        return NULL;
    for (int q = 0; q < nn; q++) {
        const node_span *s = &nodes[q];
        int node = plat_rank_node(p, c->ranks[s->first]);
        int nvlink = plat_type_of_node(p, node)->intra.kind == PLAT_INTRA_NVSWITCH;
        for (int l = 0; l < w; l++) {
            int i = nvlink ? relay_among(p, c->ranks + s->first, s->count, node, l) : -1;
            relay[q * w + l] = i < 0 ? -1 : s->first + i;
        }
    }
    return relay;
}

typedef struct pxn_map {
    int *relay;   /* see pxn_relays */
    int *node_of; /* per member: its node span */
    int width;
    int relayed;  /* some member relays another's data */
} pxn_map;

/* Member a sends to member b, through the member that relays to b's device
 * index on a's node when there is one (PXN). Appended at x[k]; returns the
 * new count. */
static size_t add_p2p(const coll_plan *c, pxn_map *m, xfer *x, size_t k, int a, int b)
{
    int r = -1;

    if (m->node_of[a] != m->node_of[b])
        r = m->relay[m->node_of[a] * m->width + plat_rank_local(c->plat, c->ranks[b])];
    if (r >= 0 && r != a) {
        x[k++] = (xfer){a, r, 0, 1};
        x[k++] = (xfer){r, b, 0, 1};
        m->relayed = 1;
    } else {
        x[k++] = (xfer){a, b, 0, 1};
    }
    return k;
}

/* NCCL's p2p engine as flows: all-to-all sends bytes / n from every member
 * to every other, all at once (NCCL's rounds are permutations, so with fair
 * sharing the concurrent flows move the same bytes per link); send/recv
 * sends everything to the next member; gather sends bytes / n from every
 * other member to the root, scatter from the root to every other (NCCL
 * 2.28 runs both as grouped sends and receives). A send to
 * another node is relayed as above (PXN). */
static int build_p2p(coll_plan *c, xfer **out, size_t *nx)
{
    int n = c->n, nn;
    size_t cap = c->kind == COLL_ALL_TO_ALL ? (size_t)n * (size_t)(n - 1) : (size_t)n;
    node_span *nodes = plan_nodes(c, &nn);
    pxn_map pxn = {NULL, NULL, 0, 0};
    xfer *x;
    size_t k = 0;

    if (nodes == NULL)
        return SP_ENOMEM;
    pxn.relay = pxn_relays(c, nodes, nn, &pxn.width);
    pxn.node_of = malloc((size_t)n * sizeof(int));
    x = malloc((2 * cap + 1) * sizeof(*x));
    if (pxn.relay == NULL || pxn.node_of == NULL || x == NULL) {
        free(pxn.relay);
        free(pxn.node_of);
        free(x);
        free(nodes);
        return SP_ENOMEM;
    }
    for (int q = 0; q < nn; q++)
        for (int m = nodes[q].first; m < nodes[q].first + nodes[q].count; m++)
            pxn.node_of[m] = q;
    for (int a = 0; a < n; a++) {
        if (c->kind == COLL_SEND_RECV) {
            k = add_p2p(c, &pxn, x, k, a, (a + 1) % n);
            continue;
        }
        if (c->kind == COLL_GATHER || c->kind == COLL_SCATTER) {
            if (a != c->root)
                k = c->kind == COLL_GATHER ? add_p2p(c, &pxn, x, k, a, c->root)
                                           : add_p2p(c, &pxn, x, k, c->root, a);
            continue;
        }
        for (int i = 1; i < n; i++)
            k = add_p2p(c, &pxn, x, k, a, (a + i) % n);
    }
    free(pxn.relay);
    free(pxn.node_of);
    c->rings = 1;
    /* A relay's flows carry others' data: they wait, as one-stage plans do,
     * until every member has begun (coll.h). */
    if (pxn.relayed)
        c->together = 1;
    return plan_done(nodes, x, k, out, nx);
}

/* Every member of node s sends `chunks` chunks to every other: the
 * uniform exchange that stands for an NVSwitch's reduction and multicast
 * (build_nvls). Appended at x[k]; returns the new count. */
static size_t add_node_exchange(const node_span *s, double chunks, xfer *x, size_t k)
{
    for (int a = 0; a < s->count; a++)
        for (int i = 1; i < s->count; i++)
            x[k++] = (xfer){s->first + a, s->first + (a + i) % s->count, 0, chunks};
    return k;
}

/* NVLS all-reduce on a node of k members: S (k + 1) / (k (k - 1)) per pair
 * (build_nvls), in chunks of S / per_S, at nvlsEfficiency. */
/* NVLS on one node as the loads it puts on each GPU's NVLink ports.
 * All-reduce: the NVSwitch reads every GPU's buffer to reduce it (S up per
 * GPU) and each GPU writes its reduced slice, which the switch multicasts
 * (S / n up; S down per GPU, its own slice and the n - 1 others), plus the
 * reduced slice each reads back (S / n down): S (n + 1) / n each way. On a
 * non-blocking switch a uniform exchange, S (n + 1) / (n (n - 1)) from
 * every GPU to every other, puts exactly these loads on the ports, so it
 * stands for the switch's reduction and multicast in one stage of flows.
 * All-gather (S the total): each GPU writes its S / n once and the switch
 * multicasts it, so every GPU receives (n - 1) S / n; reduce-scatter
 * mirrors it (the switch reads (n - 1) S / n from each GPU for the others'
 * reduced slices). The busy direction carries (n - 1) S / n, which a
 * uniform exchange of S / n per pair reproduces; the idle direction is
 * overstated, which costs nothing on full-duplex ports. The chunk is set by
 * the caller; this lays out the pairs. */
static int build_nvls(coll_plan *c, xfer **out, size_t *nx)
{
    int n = c->n;
    xfer *x = malloc((size_t)n * (size_t)(n - 1) * sizeof(*x) + 1);
    const node_span all = {0, n, {0}, 0};
    size_t k;

    if (x == NULL)
        return SP_ENOMEM;
    k = add_node_exchange(&all, 1.0, x, 0);
    c->rings = 1;
    c->nodes = 1;
    *out = x;
    *nx = k;
    return SP_OK;
}

static double nvls_pair_chunks(int k, double per_S, double eff)
{
    return k > 1 ? (k + 1.0) / ((double)k * (k - 1.0)) * per_S / eff : 0.0;
}

/* Each node's rail-r head sends `chunks` chunks to the next node's rail-r
 * head: the permutation that stands for a switch reducing (or multicasting)
 * across nodes (build_innet). Appended at x[k]; returns the new count. */
static size_t add_rail_shift(const coll_plan *c, const node_span *nodes, int nn, double chunks, xfer *x, size_t k)
{
    for (int r = 0; r < c->rings; r++)
        for (int q = 0; q < nn; q++)
            x[k++] = (xfer){rail_entry(c, &nodes[q], r), rail_entry(c, &nodes[(q + 1) % nn], r), r, chunks};
    return k;
}

/* NVLS-Tree all-reduce across nodes as one stage of edge flows, pipelined
 * in steady state like Tree. Inside every node the NVSwitch reduces and
 * multicasts as in NVLS (the uniform exchange of build_nvls, S (k + 1) /
 * (k (k - 1)) per pair for k members, at nvlsEfficiency); across nodes one
 * head GPU per rail joins NCCL's double binary tree of nodes, each tree
 * edge carrying S / 2 per tree over the R rails each way, as Tree's do.
 * The chunk is the network edge's S / (2 R); the NVLink pairs carry their
 * payload as a multiple of it. */
static int build_nvls_tree(coll_plan *c, double eff, xfer **out, size_t *nx)
{
    int nn = 0;
    node_span *nodes = plan_nodes(c, &nn);
    xfer *x;
    size_t k = 0, cap = 0;

    *out = NULL;
    if (nodes == NULL)
        return SP_ENOMEM;
    for (int q = 0; q < nn; q++)
        cap += (size_t)nodes[q].count * (size_t)(nodes[q].count - 1);
    cap += 4 * (size_t)c->rings * (size_t)nn + 1;
    if ((x = plan_xfers(nodes, cap)) == NULL)
        return SP_ENOMEM;
    for (int q = 0; q < nn; q++) /* the network chunk is S / (2 R) */
        k = add_node_exchange(&nodes[q], nvls_pair_chunks(nodes[q].count, 2.0 * c->rings, eff), x, k);
    for (int r = 0; r < c->rings; r++)
        for (int q = 0; q < nn; q++)
            k = add_parent_edges(c, nodes, nn, q, r, x, k);
    return plan_done(nodes, x, k, out, nx);
}

/* Collectives reduced (or multicast) in the network: all-reduce by CollNet
 * and by NVLS across nodes, all-gather and reduce-scatter by CollNet Direct
 * (laid out in the function's first branch), as one stage of flows
 * pipelined in steady state. All-reduce: each rail's share S / R is the
 * chunk. Inside every node, per rail r:
 * - CollNet Chain: a chain from the rail's GPU (the head) through the
 *   node's members, each edge carrying S / R up (reduce) and down
 *   (broadcast);
 * - CollNet Direct: every member sends the head its S / R share and gets
 *   the reduced S / R back (ncclTopoSearchTryCollnetDirect's pattern);
 * - NVLS: the NVSwitch reduces and multicasts, the uniform exchange of
 *   build_nvls at nvlsEfficiency ((k + 1) / (k (k - 1)) x S per pair for k
 *   members, over the R rails' chunks).
 * Across nodes the head sends S / R into the network and gets S / R back,
 * reduced by the switches. The switches are not endpoints of the simulated
 * platform, so a permutation stands for them: head (q, r) sends its chunk
 * to head (q + 1, r). On a non-blocking fabric this puts exactly the
 * reduction's load, S / R each way, on every head's NIC and cable; above
 * the leaf it loads uplinks that SHARP's aggregation tree, which sends one
 * stream per switch upwards, leaves lighter, which costs nothing on a
 * non-blocking fat tree. Where the platform is oversubscribed this
 * overstates the uplink load. */
static int build_innet(coll_plan *c, coll_algo algo, double nvls_eff, xfer **out, size_t *nx)
{
    int nn = 0;
    node_span *nodes = plan_nodes(c, &nn);
    xfer *x;
    size_t k = 0, cap = 0;

    *out = NULL;
    if (nodes == NULL)
        return SP_ENOMEM;
    for (int q = 0; q < nn; q++)
        cap += (size_t)nodes[q].count * (size_t)(nodes[q].count + 2 * c->rings);
    cap += (size_t)c->rings * (size_t)nn + 1;
    if ((x = plan_xfers(nodes, cap)) == NULL)
        return SP_ENOMEM;
    if (c->kind != COLL_ALL_REDUCE) {
        /* Direct all-gather / reduce-scatter: every member a head; the
         * chunk is S / n. Over NVLink each member exchanges with every
         * other of its node the N chunks of its rail (after the network for
         * all-gather, before it for reduce-scatter); each head's NIC
         * carries the N chunks of its rail in the busy direction (the
         * switch multicasts, or reduces, the rest), at NCCL's 0.9 of the
         * network's bandwidth. */
        for (int q = 0; q < nn; q++)
            k = add_node_exchange(&nodes[q], nn, x, k);
        k = add_rail_shift(c, nodes, nn, nn / 0.9, x, k);
    } else {
        for (int q = 0; q < nn; q++) {
            const node_span *s = &nodes[q];
            if (algo == COLL_ALGO_NVLS) { /* the chunk is S / R */
                k = add_node_exchange(s, nvls_pair_chunks(s->count, c->rings, nvls_eff), x, k);
                continue;
            }
            for (int r = 0; r < c->rings; r++) {
                int head = rail_entry(c, s, r);
                for (int i = 0; i + 1 < s->count; i++) {
                    /* Chain: consecutive members from the head; Direct: the head and each other. */
                    int a = algo == COLL_ALGO_COLLNET_CHAIN ? s->first + (head - s->first + i) % s->count : head;
                    int b = s->first + (head - s->first + i + 1) % s->count;
                    x[k++] = (xfer){a, b, r, 1};
                    x[k++] = (xfer){b, a, r, 1};
                }
            }
        }
        k = add_rail_shift(c, nodes, nn, 1.0, x, k);
    }
    return plan_done(nodes, x, k, out, nx);
}

/* The intra-node graph NCCL's search would find on a node type: the speed
 * step (GB/s per channel, by architecture) that fits the most of the
 * node's per-GPU bandwidth, then NCCL's duplication of channels at >= 25
 * GB/s (shared/NCCL.md 1.6, 2.2). */
static void intra_graph(const plat_node_type *ty, int sm, int *channels, double *bw_GBps)
{
    int nst;
    const double *st = coll_speed_steps(sm, false, &nst);
    double total = ty->intra.bw_Bps / 1e9, best = 0.0;
    int ch = 1;
    double bw = total;

    for (int i = 0; i < nst; i++) {
        int k = (int)(total / st[i]);
        if (k > 32)
            k = 32;
        if (k >= 1 && k * st[i] > best + 1e-9) {
            best = k * st[i];
            ch = k;
            bw = st[i];
        }
    }
    if (bw >= 25.0 && !(sm > 80 && bw < 50.0 && ch > 4)) {
        ch *= 2;
        bw /= 2;
    }
    *channels = ch;
    *bw_GBps = bw;
}

/* The NICs a communicator's members use per node (rails) and the slowest
 * GPU-to-NIC path among them, NCCL's figure (GB/s). */
static int net_paths(const coll_plan *c, int *nics, double *nic_GBps)
{
    node_span *spans = calloc((size_t)c->n, sizeof(*spans));

    *nics = 1;
    *nic_GBps = 1e9;
    if (spans == NULL)
        return SP_ENOMEM;
    *nics = rail_count(spans, group_nodes(c, spans));
    free(spans);
    for (int m = 0; m < c->n; m++) {
        const plat_node_type *ty = plat_type_of_rank(c->plat, c->ranks[m]);
        double b = fmin(ty->nic.host_bw_Bps, ty->nic.line_bw_Bps * ty->nic.efficiency) / 1e9;
        if (b < *nic_GBps)
            *nic_GBps = b;
    }
    return SP_OK;
}

/* Whether the members are whole nodes (every GPU of each node they touch). */
static int whole_nodes(const coll_plan *c)
{
    int whole = 1;

    for (int m = 0, run = 0; m < c->n && whole; m++) {
        int node = plat_rank_node(c->plat, c->ranks[m]);
        run = m > 0 && plat_rank_node(c->plat, c->ranks[m - 1]) == node ? run + 1 : 1;
        if (m + 1 == c->n || plat_rank_node(c->plat, c->ranks[m + 1]) != node)
            whole = run == plat_node_gpus(c->plat, node);
    }
    return whole;
}

/* Across nodes: one channel per NIC the members use on every node, at the
 * speed step under the NIC's rate. */
static void inter_graph(int sm, int nics, double nic_GBps, int *channels, double *bw_GBps)
{
    int nst;
    const double *st = coll_speed_steps(sm, true, &nst);

    *channels = nics;
    *bw_GBps = st[nst - 1];
    for (int i = 0; i < nst; i++)
        if (st[i] <= nic_GBps + 1e-9) {
            *bw_GBps = st[i];
            break;
        }
}

/* The inputs of NCCL's tuning for this communicator: ranks, nodes, ranks per
 * node, the GPUs' architecture, and the graph NCCL's topology search would
 * find (from the platform file, else derived as that search does). */
static int tune_input(const coll_plan *c, int collnet, coll_tune_in *in)
{
    const plat *p = c->plat;
    int ppn = 0, run = 0, sm = 1000, nodes = 0, intra_nvlink = 1, nvls = 1, nics = 1, nvswitch = 1;
    double nic_bw = 0.0;

    for (int m = 0; m < c->n; m++) {
        const plat_node_type *ty = plat_type_of_rank(p, c->ranks[m]);
        if (m == 0 || plat_rank_node(p, c->ranks[m]) != plat_rank_node(p, c->ranks[m - 1])) {
            nodes++;
            run = 0;
        }
        if (++run > ppn)
            ppn = run;
        if (ty->gpu.sm < sm)
            sm = ty->gpu.sm;
        if (ty->gpus > 1 && ty->intra.kind != PLAT_INTRA_NVSWITCH)
            intra_nvlink = 0;
        if (ty->intra.kind != PLAT_INTRA_NVSWITCH || ty->intra.nvswitch_gen < 3)
            nvls = 0;
        if (ty->intra.kind != PLAT_INTRA_NVSWITCH)
            nvswitch = 0;
    }
    if (nodes > 1 && net_paths(c, &nics, &nic_bw) < 0)
        return SP_ENOMEM;
    /* NVLS needs NVLink SHARP (NVSwitch gen 3+) and SM90+; its runtime
     * channels are NCCL's defaults (shared/NCCL.md 1.6): 16 on SM90; 24 on
     * SM100 in one node, 32 across nodes. The model prices its graph. */
    *in = (coll_tune_in){c->kind, c->n, nodes, ppn, sm, p->nccl.cpu_amd, intra_nvlink,
                         p->nccl.graph_channels, p->nccl.graph_bw_GBps, nvls && sm >= 90,
                         sm < 100 ? 16 : nodes == 1 ? 24 : 32, {0, 0.0, 0.0}, 0, !p->nccl.cpu_arm,
                         false, false, {0, 0.0, 0.0, 0.0}};
    if (in->nvls) {
        const plat_node_type *ty = plat_type_of_rank(p, c->ranks[0]);
        in->nvls_graph = coll_nvls_graph_search(sm, ppn, ty->intra.bw_Bps / 1e9, nodes, nic_bw, nics);
    }
    /* CollNet: the fabric reduces in the network, NCCL_COLLNET_ENABLE, more
     * than one node and at most NCCL_MAX_DIRECT_ARITY + 1 = 8 ranks a node. */
    in->nvswitch = nvswitch && ppn > 1;
    in->collnet = collnet && nodes > 1 && ppn <= 8 && p->fabric.in_network_reduction;
    if (in->collnet) {
        const plat_node_type *ty = plat_type_of_rank(p, c->ranks[0]);
        in->collnet_graph = coll_collnet_graph_search(sm, ppn, ty->intra.bw_Bps / 1e9, nics, nic_bw);
    }
    if (in->graph_channels <= 0) {
        if (nodes <= 1)
            intra_graph(plat_type_of_rank(p, c->ranks[0]), sm, &in->graph_channels, &in->graph_bw_GBps);
        else
            inter_graph(sm, nics, nic_bw, &in->graph_channels, &in->graph_bw_GBps);
    }
    /* The runtime channels: the platform's logged count, which holds for
     * whole nodes only; else twice the graph's (rings and trees). */
    in->comm_channels = p->nccl.channels > 0 && whole_nodes(c) ? p->nccl.channels : 2 * in->graph_channels;
    return SP_OK;
}

int coll_plan_new(coll_plan **out, const plat *p, coll_kind kind, const int *ranks, int n,
                  uint64_t bytes, const coll_opts *opts)
{
    return coll_plan_new_rooted(out, p, kind, ranks, n, bytes, -1, opts);
}

int coll_plan_new_rooted(coll_plan **out, const plat *p, coll_kind kind, const int *ranks, int n,
                         uint64_t bytes, int root, const coll_opts *opts)
{
    coll_plan *c;
    xfer *x = NULL;
    size_t nx = 0;
    coll_tune_in tin;
    coll_tune tune;
    unsigned amask = opts != NULL && opts->algo_mask ? opts->algo_mask : ~0u;
    unsigned pmask = opts != NULL && opts->proto_mask ? opts->proto_mask : ~0u;
    coll_algo shape;
    int single, innet, err;

    *out = NULL;
    if (n < 1 || kind >= COLL_NKINDS || p->nranks < n || root < -1 || (root >= 0 && coll_kind_root(kind) < 0))
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
    c->inflate = 1.0;
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
    if (root >= 0) {
        c->root = -1;
        for (int i = 0; i < n; i++)
            if (c->ranks[i] == root)
                c->root = i;
        if (c->root < 0) { /* not a member */
            coll_plan_free(c);
            return SP_EINPUT;
        }
    }

    /* NCCL's choice, and what it predicts. */
    if (tune_input(c, opts != NULL && opts->collnet, &tin) < 0) {
        coll_plan_free(c);
        return SP_ENOMEM;
    }
    coll_tune_compute(&tune, &tin);
    c->model_us = NAN;
    if (n >= 2 && coll_kind_is_p2p(kind)) {
        /* The p2p engine: LL up to channels x 16 KiB per peer (NCCL_P2P_LL_THRESHOLD),
         * else Simple (shared/NCCL.md 5). */
        uint64_t per_peer = kind == COLL_SEND_RECV ? bytes : bytes / (uint64_t)n;
        c->algo = COLL_ALGO_P2P;
        c->proto = per_peer <= (uint64_t)tin.graph_channels * 16384u ? COLL_PROTO_LL : COLL_PROTO_SIMPLE;
        if (!(amask >> COLL_ALGO_P2P & 1u) || !(pmask >> c->proto & 1u)) {
            coll_plan_free(c);
            return SP_EINPUT;
        }
        c->inflate = 1.0 / coll_proto_wire_efficiency(c->proto);
    } else if (n >= 2) {
        if (coll_tune_select(&tune, bytes, amask, pmask, &c->algo, &c->proto) < 0) {
            coll_plan_free(c);
            return SP_EINPUT;
        }
        c->model_us = coll_tune_time_us(&tune, c->algo, c->proto, bytes);
        /* Protocols cost bandwidth against Simple on the same algorithm (LL sends
         * half payload per line, LL128 15/16, and NCCL's per-channel caps); PAT
         * against Ring Simple, whose flows it shares here. */
        if (c->algo == COLL_ALGO_NVLS && tin.nnodes == 1) {
            /* NVLS runs at nvlsEfficiency of the NVLink ports (NCCL's model). */
            c->inflate = 1.0 / coll_nvls_efficiency(tin.sm);
        } else if (c->algo == COLL_ALGO_NVLS_TREE || c->algo == COLL_ALGO_NVLS) {
            /* build_nvls_tree and build_innet charge nvlsEfficiency on the
             * NVLink flows alone. */
        } else if (c->algo == COLL_ALGO_COLLNET_DIRECT) {
            /* NCCL's model runs CollNet Direct all-reduce at 0.85 on SM90+
             * (all-gather and reduce-scatter: 0.9 of the network, in
             * build_innet). */
            if (tin.sm >= 90 && kind == COLL_ALL_REDUCE)
                c->inflate = 1.0 / 0.85;
        } else if (c->algo == COLL_ALGO_COLLNET_CHAIN) {
            /* No factor in NCCL's model. */
        } else {
            coll_algo base = c->algo == COLL_ALGO_PAT ? COLL_ALGO_RING : c->algo;
            double simple = tune.bus_GBps[base][COLL_PROTO_SIMPLE];
            double chosen = tune.bus_GBps[c->algo][c->proto];
            if (simple > 0.0 && chosen > 0.0 && simple > chosen)
                c->inflate = simple / chosen;
            /* NCCL's size-dependent Tree efficiency (its correction table)
             * slows the flows as it slows NCCL's own estimate. */
            c->inflate /= coll_tune_bw_factor(&tune, c->algo, c->proto, bytes);
        }
    }
    c->channels = channels_used(tin.comm_channels, c->algo, c->proto, n, bytes);
    /* NVLS always runs on its own channel count (shared/NCCL.md 1.6). */
    if (c->algo == COLL_ALGO_NVLS || c->algo == COLL_ALGO_NVLS_TREE)
        c->channels = tin.nvls_channels;

    /* Shapes: ring steps; or one stage of concurrent edge flows (tree,
     * broadcast/reduce chains in steady state, p2p). */
    shape = c->algo;
    innet = shape == COLL_ALGO_COLLNET_DIRECT || shape == COLL_ALGO_COLLNET_CHAIN ||
            (shape == COLL_ALGO_NVLS && tin.nnodes > 1);
    single = shape == COLL_ALGO_TREE || shape == COLL_ALGO_P2P || shape == COLL_ALGO_NVLS ||
             shape == COLL_ALGO_NVLS_TREE || innet || kind == COLL_BROADCAST || kind == COLL_REDUCE;
    /* One stage of flows stands for chunk streams that carry other members'
     * data (partial sums, forwarded pieces): without chunks, the causal bound
     * left is that they start once every member has begun (coll.h). The p2p
     * engine's flows carry their sender's own data, unless a member relays
     * (build_p2p). */
    c->together = single && shape != COLL_ALGO_P2P && n >= 2;
    if (single)
        c->nsteps = n < 2 ? 0 : 1;
    else
        c->nsteps = n < 2 ? 0 : (kind == COLL_ALL_REDUCE ? 2 * (n - 1) : n - 1);
    if (n >= 2) {
        err = innet                     ? build_innet(c, shape, coll_nvls_efficiency(tin.sm), &x, &nx)
              : shape == COLL_ALGO_TREE ? build_tree(c, &x, &nx)
              : shape == COLL_ALGO_P2P  ? build_p2p(c, &x, &nx)
              : shape == COLL_ALGO_NVLS ? build_nvls(c, &x, &nx)
              : shape == COLL_ALGO_NVLS_TREE
                  ? build_nvls_tree(c, coll_nvls_efficiency(tin.sm), &x, &nx)
                  : build_rings(c, &x, &nx);
        if (err < 0 || (err = bucket(&c->sends, &c->send0, x, nx, n, 0)) < 0 ||
            (err = bucket(&c->recvs, &c->recv0, x, nx, n, 1)) < 0 ||
            (c->sendx = malloc((nx ? nx : 1) * sizeof(coll_xfer))) == NULL ||
            (c->recvx = malloc((nx ? nx : 1) * sizeof(coll_xfer))) == NULL) {
            if (err == SP_OK)
                err = SP_ENOMEM;
            free(x);
            coll_plan_free(c);
            return err;
        }
        free(x);
    }
    {
        /* Payload per transfer. Ring: bytes / R per ring in n chunks; broadcast and
         * reduce chains: bytes / R per ring; tree and NVLS-Tree's network edges:
         * bytes / 2 per tree over R rails; in-network reduction: bytes / R per
         * rail for all-reduce, bytes / n for all-gather and reduce-scatter
         * (build_innet); NVLS: see build_nvls; all-to-all:
         * bytes / n per peer; send/recv: bytes. Rounded up. */
        uint64_t R = (uint64_t)(c->rings ? c->rings : 1);
        uint64_t per_ring = (bytes + R - 1) / R, payload;
        if (innet && kind != COLL_ALL_REDUCE)
            payload = (bytes + (uint64_t)n - 1) / (uint64_t)n;
        else if (innet)
            payload = per_ring;
        else if (shape == COLL_ALGO_TREE || shape == COLL_ALGO_NVLS_TREE)
            payload = (per_ring + 1) / 2;
        else if (shape == COLL_ALGO_NVLS && kind == COLL_ALL_REDUCE)
            payload = (uint64_t)ceil((double)bytes * (n + 1) / ((double)n * (n - 1)));
        else if (shape == COLL_ALGO_NVLS)
            payload = (bytes + (uint64_t)n - 1) / (uint64_t)n;
        else if (kind == COLL_ALL_TO_ALL || kind == COLL_GATHER || kind == COLL_SCATTER)
            payload = (bytes + (uint64_t)n - 1) / (uint64_t)n;
        else if (kind == COLL_SEND_RECV || single)
            payload = kind == COLL_SEND_RECV ? bytes : per_ring;
        else
            payload = (per_ring + (uint64_t)n - 1) / (uint64_t)n;
        /* A calibration fitted to the user's own log scales the transfer time. */
        double scale = p->nccl.calib_scale > 0.0 ? p->nccl.calib_scale : 1.0;
        c->chunk = (uint64_t)((double)payload * c->inflate + 0.5);
        fill_stages(c);
        /* NVLS-Tree runs no faster than NCCL's per-channel NVLS-Tree cap
         * allows (its kernels' throughput, which links alone do not bound):
         * where the flows would beat it, they are inflated to it. */
        if (shape == COLL_ALGO_NVLS_TREE && tune.nvls_tree_cap_GBps > 0.0 && c->chunk > 0) {
            double busy = stage_seconds(c, false);
            double need = (double)bytes * 2.0 * (n - 1) / n / (tune.nvls_tree_cap_GBps * 1e9);
            if (busy < 0.0) { /* out of memory */
                coll_plan_free(c);
                return SP_ENOMEM;
            }
            if (busy > 0.0 && need > busy)
                c->inflate *= need / busy;
            /* ... and, on Blackwell with x86 hosts, slowed by size as NCCL's
             * estimate is. */
            c->inflate /= coll_tune_bw_factor(&tune, c->algo, c->proto, bytes);
        }
        c->chunk = (uint64_t)((double)payload * c->inflate * scale + 0.5);
        fill_stages(c);
    }

    /* Software latency, as NCCL's model has it (shared/NCCL.md 2.4). Ring and
     * PAT: base latency once, and (nsteps - nInter) intra-node plus nInter
     * inter-node hop latencies (nInter = 2(N-1) for all-reduce, N-1
     * otherwise), each hop's less the physical route latency SimGrid already
     * charges; the total is spread evenly over the stages (in lock step,
     * charging each stage its slowest hop would pay the network latency in
     * every step, where NCCL's pipelined ring pays it only on the steps that
     * cross nodes). Tree: its whole model latency before the single stage of
     * edge flows, less the physical latency of the longest tree path. */
    if (p->nccl.latency == PLAT_LAT_NCCL && n >= 2) {
        if (single) {
            /* One stage: the model's whole latency (or, for p2p, which NCCL does
             * not model, one Ring hop on the slowest path) less the physical
             * latency of the longest path, which SimGrid charges. */
            double phys = 0.0, lat_us = 0.0;
            for (size_t i = 0; i < (size_t)c->send0[n]; i++) {
                plat_path r = plat_route(p, c->ranks[c->sends[i].src], c->ranks[c->sends[i].dst]);
                double hw = coll_nccl_base_latency_us(COLL_ALGO_P2P, c->proto) +
                            coll_nccl_hw_latency_us(r.cls, COLL_ALGO_P2P, c->proto, 0);
                if (r.lat_s > phys)
                    phys = r.lat_s;
                if (hw > lat_us)
                    lat_us = hw;
            }
            if (shape != COLL_ALGO_P2P)
                lat_us = tune.lat_us[c->algo][c->proto];
            c->base_s = lat_us * 1e-6 - phys;
            if (c->base_s < 0.0)
                c->base_s = 0.0;
        } else if (c->algo == COLL_ALGO_PAT) {
            c->base_s = coll_nccl_base_latency_us(COLL_ALGO_PAT, COLL_PROTO_SIMPLE) * 1e-6;
            c->step_s = (tune.lat_us[COLL_ALGO_PAT][COLL_PROTO_SIMPLE] * 1e-6 - c->base_s) /
                        c->nsteps;
        } else {
            int n_inter = c->nodes > 1 ? (kind == COLL_ALL_REDUCE ? 2 : 1) * (c->nodes - 1) : 0;
            double intra = c->intra_hops ? c->intra_sum / c->intra_hops : 0.0;
            double inter = c->inter_hops ? c->inter_sum / c->inter_hops : 0.0;
            /* NCCL's plateau factor on multi-node Ring Simple all-reduce. */
            double mult = coll_tune_lat_factor(&tune, c->algo, c->proto, bytes);
            c->base_s = coll_nccl_base_latency_us(c->algo, c->proto) * 1e-6 * mult;
            if (n_inter > c->nsteps)
                n_inter = c->nsteps;
            c->step_s = (intra * (c->nsteps - n_inter) + inter * n_inter) / c->nsteps * mult;
        }
    }
    if (n >= 2 && p->nccl.calib_scale > 0.0) { /* ... and its software latency, and adds its fitted latency */
        c->base_s = c->base_s * p->nccl.calib_scale + p->nccl.calib_lat_s;
        c->step_s *= p->nccl.calib_scale;
    }
    *out = c;
    return SP_OK;
}

double coll_plan_model_us(const coll_plan *c)
{
    return c->model_us;
}

int coll_plan_members(const coll_plan *c)
{
    return c->n;
}

int coll_plan_rank(const coll_plan *c, int member)
{
    return c->ranks[member];
}

int coll_plan_root(const coll_plan *c)
{
    return coll_kind_root(c->kind) < 0 ? -1 : c->ranks[c->root];
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

int coll_comm_channels(const plat *p)
{
    int n = p->nranks < 2 ? 0 : plat_node_gpus(p, 0) > 1 ? plat_node_gpus(p, 0) : 2;
    int *ranks = n > 0 ? malloc((size_t)n * sizeof(int)) : NULL;
    const coll_opts ring = {1u << COLL_ALGO_RING, 1u << COLL_PROTO_SIMPLE, 0};
    coll_plan *c = NULL;
    int ch = 0, err;

    if (n == 0)
        return 0;
    if (ranks == NULL)
        return SP_ENOMEM;
    for (int i = 0; i < n; i++)
        ranks[i] = i;
    if ((err = coll_plan_new(&c, p, COLL_ALL_REDUCE, ranks, n, 1ull << 30, &ring)) == SP_OK)
        ch = coll_plan_channels(c);
    else if (err == SP_ENOMEM)
        ch = SP_ENOMEM;
    coll_plan_free(c);
    free(ranks);
    return ch;
}

int coll_plan_rings(const coll_plan *c)
{
    return c->rings;
}

int coll_plan_starts_together(const coll_plan *c)
{
    return c->together;
}

int coll_plan_nstages(const coll_plan *c, int member)
{
    (void)member;
    /* One stage even with no transfer, so the base latency is charged. */
    return c->nsteps > 0 ? c->nsteps : 1;
}

/* Wire bytes of a transfer: its chunks times the chunk; at least one byte. */
static uint64_t xfer_bytes(const coll_plan *c, const xfer *x)
{
    double b = (double)c->chunk * x->mult;
    return b < 1.0 ? 1u : (uint64_t)(b + 0.5);
}

/* The transfers as coll_plan_stage hands them out, for the chunk now set:
 * the same in every stage. */
static void fill_stages(coll_plan *c)
{
    if (c->sendx == NULL || c->recvx == NULL)
        return;
    for (int i = 0; i < c->send0[c->n]; i++)
        c->sendx[i] = (coll_xfer){c->sends[i].dst, xfer_bytes(c, &c->sends[i]), c->sends[i].ring};
    for (int i = 0; i < c->recv0[c->n]; i++)
        c->recvx[i] = (coll_xfer){c->recvs[i].src, xfer_bytes(c, &c->recvs[i]), c->recvs[i].ring};
}

void coll_plan_stage(const coll_plan *c, int m, int stage, coll_stage *out)
{
    out->nsend = out->nrecv = 0;
    out->send = out->recv = NULL;
    out->delay_s = stage == 0 ? c->base_s : 0.0;
    if (c->nsteps == 0 || c->chunk == 0 || c->sendx == NULL)
        return;
    out->delay_s += c->step_s;
    out->send = c->sendx + c->send0[m];
    out->nsend = c->send0[m + 1] - c->send0[m];
    out->recv = c->recvx + c->recv0[m];
    out->nrecv = c->recv0[m + 1] - c->recv0[m];
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
    return stage_seconds(c, true);
}

/* Per stage: the busiest link's bytes over its bandwidth (concurrent flows
 * share it); with_latency, the largest delay plus the latest flow's end, its
 * route latency after the busiest link on its route drains; summed over the
 * stages. Exact for the fluid model when the flows that share a link are
 * equal. */
static double stage_seconds(const coll_plan *c, bool with_latency)
{
    const plat *p = c->plat;
    double total = 0.0;
    double *load = calloc(2 * p->nlinks + 1, sizeof(double)); /* per link and direction */
    coll_stage st;

    if (load == NULL)
        return -1.0;
    for (int s = 0; s < coll_plan_nstages(c, 0); s++) {
        double delay = 0.0, busy = 0.0;
        memset(load, 0, 2 * p->nlinks * sizeof(double));
        for (int m = 0; m < c->n; m++) {
            coll_plan_stage(c, m, s, &st);
            if (st.delay_s > delay)
                delay = st.delay_s;
            for (int i = 0; i < st.nsend; i++) {
                plat_path path = plat_route(p, c->ranks[m], c->ranks[st.send[i].peer]);
                for (int h = 0; h < path.hops; h++) {
                    /* A SHARED link has one capacity for both directions. */
                    int dir = p->links[path.links[h]].sharing == PLAT_SPLITDUPLEX ? path.down[h] : 0;
                    load[2 * path.links[h] + (size_t)dir] += (double)st.send[i].bytes;
                }
            }
        }
        for (size_t l = 0; l < 2 * p->nlinks; l++)
            if (p->links[l / 2].sharing != PLAT_FATPIPE && load[l] / p->links[l / 2].bw_Bps > busy)
                busy = load[l] / p->links[l / 2].bw_Bps;
        if (with_latency) {
            /* Each flow ends its route's latency after the busiest link it
             * crosses drains: a long route on a lightly loaded path need not
             * add its latency to the busiest link's time. */
            double end = 0.0;
            for (int m = 0; m < c->n; m++) {
                coll_plan_stage(c, m, s, &st);
                for (int i = 0; i < st.nsend; i++) {
                    plat_path path = plat_route(p, c->ranks[m], c->ranks[st.send[i].peer]);
                    double worst = 0.0;
                    for (int h = 0; h < path.hops; h++) {
                        const plat_link *k = &p->links[path.links[h]];
                        int dir = k->sharing == PLAT_SPLITDUPLEX ? path.down[h] : 0;
                        if (k->sharing != PLAT_FATPIPE && load[2 * path.links[h] + (size_t)dir] / k->bw_Bps > worst)
                            worst = load[2 * path.links[h] + (size_t)dir] / k->bw_Bps;
                    }
                    if (path.lat_s + worst > end)
                        end = path.lat_s + worst;
                }
            }
            total += delay + end;
        } else {
            total += busy;
        }
    }
    free(load);
    return total;
}

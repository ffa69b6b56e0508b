/* coll_tune.c - NCCL 2.30.7's tuning model (src/graph/tuning.cc), as read in
 * shared/NCCL.md section 2: bus bandwidth per (algorithm, protocol) from
 * the graph's channels x per-channel bandwidth, protocol factors and
 * per-architecture caps; latency from base and per-hop constants; the
 * algorithm conversion to algorithm bandwidth; selection by least time.
 * NVLS on one node (all-reduce, all-gather, reduce-scatter) and NVLS-Tree
 * across nodes (all-reduce) are in it; CollNet is not.
 */
#include "coll/coll_tune.h"

#include <math.h>

/* Architecture rows: 0 Volta (< SM80), 1 Ampere (SM80-89), 2 Hopper (SM90-99), 3 Blackwell. */
static int arch_row(int sm)
{
    return sm < 80 ? 0 : sm < 90 ? 1 : sm < 100 ? 2 : 3;
}

/* Column by node count: N = 1, N = 2, N >= 3. */
static int node_col(int nnodes)
{
    return nnodes <= 1 ? 0 : nnodes == 2 ? 1 : 2;
}

/* llMaxBw: one node takes the GPU row; several nodes the CPU row (0: Intel,
 * ARM and others, 1: AMD or mixed), which are the first two rows. */
static const double ll_max_bw[4][3] = {
    {39.0, 39.0, 20.4}, {87.7, 22.5, 19.0}, {141.0, 45.0, 35.0}, {282.0, 90.0, 70.0}};
static const double per_ch_ring_ll128[4] = {20.0, 20.0, 36.7, 40.0};
static const double per_ch_tree_ll128[4][3] = {
    {20.0, 20.0, 20.0}, {20.0, 20.0, 20.0}, {36.7, 36.7, 29.0}, {55.6, 31.67, 20.0}};
static const double per_ch_tree[4][3] = {
    {26.5, 18.5, 10.0}, {24.0, 23.6, 17.8}, {38.7, 41.4, 36.0}, {70.0, 42.8, 24.0}};
/* Per-channel NVLS-Tree cap, Hopper and Blackwell only (N = 2 / N >= 3). */
static const double per_ch_nvls_tree[4][3] = {
    {0.0, 0.0, 0.0}, {0.0, 0.0, 0.0}, {0.0, 57.7, 45.5}, {0.0, 96.0, 80.0}};

/* Tree AllReduce bandwidth correction, by floor(log2(S / 64)), 64 B .. 256 MiB. */
static const double tree_corr[COLL_NPROTOS][24] = {
    {1, 1, 1, 1, .9, .8, .7, .7, .7, .7, .6, .5, .4, .4, .5, .6, .7, .8, .9, 1, 1, 1, 1, 1},
    {1, 1, 1, 1, 1, .9, .8, .8, .8, .7, .6, .6, .6, .6, .6, .6, .8, .9, .9, .9, .9, 1, 1, 1},
    {.9, .9, .9, .9, .9, .9, .9, .8, .7, .6, .6, .5, .5, .5, .5, .6, .7, .8, .7, .7, .8, .9, .9, .9},
};

double coll_nvls_efficiency(int sm)
{
    return sm >= 100 ? 0.74 : sm >= 90 ? 0.85 : 0.0;
}

static double min2(double a, double b)
{
    return a < b ? a : b;
}

void coll_tune_compute(coll_tune *out, const coll_tune_in *in)
{
    int n = in->nranks, N = in->nnodes, ppn = in->ppn;
    int arch = arch_row(in->sm), col = node_col(N);
    int C = in->graph_channels > 0 ? in->graph_channels : 1;
    double bus = C * in->graph_bw_GBps;
    double ll_max = N > 1 ? ll_max_bw[in->cpu_amd ? 1 : 0][col] : ll_max_bw[arch][0];
    bool one_gpu = ppn == 1;
    plat_path_class intra = in->intra_nvlink ? PLAT_PATH_NVLINK : PLAT_PATH_PCIE;
    bool rooted = in->kind == COLL_BROADCAST || in->kind == COLL_REDUCE;
    /* nsteps: 2(n-1) for all-reduce, n for broadcast/reduce, n-1 otherwise. */
    int nsteps = in->kind == COLL_ALL_REDUCE ? 2 * (n - 1) : rooted ? n : n - 1;
    int n_inter = N > 1 ? (in->kind == COLL_ALL_REDUCE ? 2 : 1) * (N - 1) : 0;
    /* Multi-node rings floor intra-node steps at the network overhead:
     * 1 us on Intel/ARM, 2 on AMD, x3 for Simple. */
    double net_overhead = in->cpu_amd ? 2.0 : 1.0;

    *out = (coll_tune){0};
    out->channels = C;
    out->nranks = n;
    if (n < 2 || coll_kind_is_p2p(in->kind))
        return; /* p2p operations have no algorithm choice in NCCL */

    for (int p = 0; p < COLL_NPROTOS; p++) {
        double intra_lat = coll_nccl_hw_latency_us(intra, COLL_ALGO_RING, (coll_proto)p, 0);
        double inter_lat = coll_nccl_hw_latency_us(PLAT_PATH_NET, COLL_ALGO_RING, (coll_proto)p, one_gpu);
        double b;

        /* Ring: every collective here. */
        b = bus;
        if (p == COLL_PROTO_LL)
            b = min2(ll_max, 0.5 * bus);
        else if (p == COLL_PROTO_LL128)
            b = min2(0.92 * bus, C * per_ch_ring_ll128[arch]);
        /* LL128 needs NVLink inside the node (it is off on PCIe-only nodes). */
        if (p == COLL_PROTO_LL128 && !in->intra_nvlink && ppn > 1)
            b = 0.0;
        out->bus_GBps[COLL_ALGO_RING][p] = b;
        out->bw_GBps[COLL_ALGO_RING][p] = nsteps > 0 ? b * n / nsteps : 0.0;
        if (N > 1) {
            double floor_lat = net_overhead * (p == COLL_PROTO_SIMPLE ? 3.0 : 1.0);
            if (intra_lat < floor_lat)
                intra_lat = floor_lat;
        }
        if (rooted) /* a pipelined chain: base + one hop when all channels match */
            out->lat_us[COLL_ALGO_RING][p] = coll_nccl_base_latency_us(COLL_ALGO_RING, (coll_proto)p) +
                                             (N > 1 ? inter_lat : intra_lat);
        else
            out->lat_us[COLL_ALGO_RING][p] = coll_nccl_base_latency_us(COLL_ALGO_RING, (coll_proto)p) +
                                             (nsteps - n_inter) * intra_lat + n_inter * inter_lat;

        /* Tree: all-reduce only. */
        if (in->kind == COLL_ALL_REDUCE) {
            double t_intra = coll_nccl_hw_latency_us(intra, COLL_ALGO_TREE, (coll_proto)p, 0);
            double t_inter = coll_nccl_hw_latency_us(PLAT_PATH_NET, COLL_ALGO_TREE, (coll_proto)p, 0);
            b = min2(0.92 * bus, C * per_ch_tree[arch][col]);
            if (p == COLL_PROTO_LL)
                b = min2(ll_max, b / 3.8);
            else if (p == COLL_PROTO_LL128)
                b = min2((N == 1 ? 7.0 / 9.0 : 120.0 / 128.0) * b, C * per_ch_tree_ll128[arch][col]);
            if (one_gpu)
                b *= 0.85; /* all the node's network traffic on one GPU */
            if (p == COLL_PROTO_LL128 && !in->intra_nvlink && ppn > 1)
                b = 0.0;
            out->bus_GBps[COLL_ALGO_TREE][p] = b;
            out->bw_GBps[COLL_ALGO_TREE][p] = 0.5 * b;
            out->lat_us[COLL_ALGO_TREE][p] =
                coll_nccl_base_latency_us(COLL_ALGO_TREE, (coll_proto)p) +
                2.0 * ((ppn - 1) * t_intra + floor(log2((double)N)) * t_inter);
        }
    }
    /* PAT: all-gather and reduce-scatter with one GPU per node, Simple only. */
    if ((in->kind == COLL_ALL_GATHER || in->kind == COLL_REDUCE_SCATTER) && one_gpu && N == n &&
        in->sm >= 60) {
        double inter = coll_nccl_hw_latency_us(PLAT_PATH_NET, COLL_ALGO_PAT, COLL_PROTO_SIMPLE, 1);
        out->bus_GBps[COLL_ALGO_PAT][COLL_PROTO_SIMPLE] = 0.75 * bus;
        out->bw_GBps[COLL_ALGO_PAT][COLL_PROTO_SIMPLE] = 0.75 * bus;
        out->lat_us[COLL_ALGO_PAT][COLL_PROTO_SIMPLE] =
            coll_nccl_base_latency_us(COLL_ALGO_PAT, COLL_PROTO_SIMPLE) +
            floor(log2((double)N)) * inter / 3.5 + 2.8 * n;
    }
    /* NVLS and NVLS-Tree, Simple only (shared/NCCL.md 2.3, 2.4). Per NVLS
     * channel, busBw = min(b x nvlsEfficiency x (Cn - 1) / Cn x (2 for
     * all-reduce, else (ppn - 1) / ppn), bwInter (x 2 for NVLS-Tree at
     * N <= 2), the NVLS-Tree cap), times the Cn channels; b x Cn is the
     * node's NVLink graph (the graph itself on one node) and bwInter x Cn the
     * network graph here. All-reduce converts as Ring does (n / nsteps);
     * all-gather and reduce-scatter do not convert. Latency: the NVLink NVLS
     * hop (no base), plus 2 log2 N network hops for NVLS-Tree. NVLS needs
     * two ranks on a node at least; across nodes NCCL runs all-reduce as
     * NVLS-Tree (NVLS proper would need CollNet, which is not modelled). */
    if (in->nvls && in->nvls_channels >= 2 && ppn >= 2) {
        double cn = in->nvls_channels;
        double eff = coll_nvls_efficiency(in->sm);
        double node_bus = N > 1 && in->intra_bus_GBps > 0.0 ? in->intra_bus_GBps : bus;
        double nvl = node_bus * eff * (cn - 1.0) / cn;
        double lat = coll_nccl_hw_latency_us(PLAT_PATH_NVLINK, COLL_ALGO_NVLS, COLL_PROTO_SIMPLE, 0);
        if (N == 1 && (in->kind == COLL_ALL_REDUCE || in->kind == COLL_ALL_GATHER ||
                       in->kind == COLL_REDUCE_SCATTER)) {
            double b = in->kind == COLL_ALL_REDUCE ? nvl * 2.0 : nvl * (ppn - 1.0) / ppn;
            out->bus_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] = b;
            out->bw_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] =
                in->kind == COLL_ALL_REDUCE ? b * n / nsteps : b;
            out->lat_us[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] = lat;
        } else if (N > 1 && in->kind == COLL_ALL_REDUCE && per_ch_nvls_tree[arch][col] > 0.0) {
            double b = min2(nvl * 2.0, bus * (N <= 2 ? 2.0 : 1.0));
            b = min2(b, cn * per_ch_nvls_tree[arch][col]);
            out->bus_GBps[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE] = b;
            out->bw_GBps[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE] = b * n / nsteps;
            out->lat_us[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE] =
                coll_nccl_hw_latency_us(PLAT_PATH_NVLINK, COLL_ALGO_NVLS_TREE, COLL_PROTO_SIMPLE, 0) +
                2.0 * log2((double)N) *
                    coll_nccl_hw_latency_us(PLAT_PATH_NET, COLL_ALGO_NVLS_TREE, COLL_PROTO_SIMPLE, 0);
        }
    }
    out->multi_node_ring_simple_plateau = in->kind == COLL_ALL_REDUCE && N > 1 && in->sm >= 80;
}

double coll_tune_time_us(const coll_tune *t, coll_algo a, coll_proto p, uint64_t bytes)
{
    double bw = t->bw_GBps[a][p], lat = t->lat_us[a][p];

    if (bw <= 0.0)
        return -1.0;
    if (a == COLL_ALGO_TREE) {
        /* The correction table is indexed by floor(log2(S / 64)), capped at 256 MiB. */
        int i = bytes >= 64 ? (int)floor(log2((double)bytes / 64.0)) : 0;
        if (i > 23)
            i = 23;
        bw *= tree_corr[p][i];
    }
    if (a == COLL_ALGO_RING && p == COLL_PROTO_SIMPLE && t->multi_node_ring_simple_plateau &&
        (double)bytes / ((double)t->channels * t->nranks) >= 64.0)
        lat *= 1.4;
    return lat + (double)bytes / (1000.0 * bw);
}

int coll_tune_select(const coll_tune *t, uint64_t bytes, unsigned algo_mask, unsigned proto_mask,
                     coll_algo *algo, coll_proto *proto)
{
    double best = -1.0;

    for (int a = 0; a < COLL_NALGOS; a++) {
        if (!(algo_mask >> a & 1u))
            continue;
        for (int p = 0; p < COLL_NPROTOS; p++) {
            double tm;
            if (!(proto_mask >> p & 1u))
                continue;
            tm = coll_tune_time_us(t, (coll_algo)a, (coll_proto)p, bytes);
            if (tm >= 0.0 && (best < 0.0 || tm < best)) {
                best = tm;
                *algo = (coll_algo)a;
                *proto = (coll_proto)p;
            }
        }
    }
    return best >= 0.0 ? SP_OK : SP_EINPUT;
}

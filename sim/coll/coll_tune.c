/* coll_tune.c - NCCL 2.30.7's tuning model (src/graph/tuning.cc), as read in
 * shared/NCCL.md section 2: bus bandwidth per (algorithm, protocol) from
 * the graph's channels x per-channel bandwidth, protocol factors and
 * per-architecture caps; latency from base and per-hop constants; the
 * algorithm conversion to algorithm bandwidth; selection by least time.
 * NVLS on one node (all-reduce, all-gather, reduce-scatter), NVLS-Tree
 * across nodes (all-reduce), and, where the fabric reduces in the network
 * and CollNet is enabled, CollNet Direct and Chain and NVLS across nodes
 * for all-reduce and CollNet Direct for all-gather and reduce-scatter
 * (NCCL's src/tuning/collnet.cc and nvls.cc, as quoted in
 * docs/collectives.md).
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

/* Search speed steps (shared/NCCL.md 2.2), rows as arch_row minus Volta. */
static const double intra_steps[3][13] = {
    {40, 30, 20, 18, 15, 12, 10, 9, 7, 6, 5, 4, 3},
    {60, 50, 40, 30, 24, 20, 15, 12, 11, 6, 3, 0, 0},
    {90, 80, 70, 60, 50, 45, 40, 30, 24, 20, 19, 18, 0}};
static const int intra_count[3] = {13, 11, 12};
static const double inter_steps[3][20] = {
    {48, 30, 28, 24, 20, 18, 15, 12, 10, 9, 7, 6, 5, 4, 3, 2.4, 1.2, 0.24, 0.12, 0},
    {48, 45, 42, 40, 30, 24, 22, 20, 17.5, 15, 12, 6, 3, 2.4, 1.2, 0.24, 0.12, 0, 0, 0},
    {96, 86, 80, 48, 45.1, 42, 40, 30, 24, 22, 20, 17.5, 15, 12, 6, 3, 2.4, 1.2, 0.24, 0.12}};
static const int inter_count[3] = {19, 17, 20};

const double *coll_speed_steps(int sm, bool inter, int *n)
{
    int row = sm < 90 ? 0 : sm < 100 ? 1 : 2;
    *n = inter ? inter_count[row] : intra_count[row];
    return inter ? inter_steps[row] : intra_steps[row];
}

coll_nvls_graph coll_nvls_graph_search(int sm, int ppn, double link_GBps, int nnodes,
                                       double nic_GBps, int nics)
{
    coll_nvls_graph g = {0, 0.0, 0.0};
    int heads = ppn < 32 ? ppn : 32; /* NCCL_MAX_NVLS_ARITY */
    int min_ch = nnodes > 1 ? 1 : heads, n, i = 0, best_i = -1;
    const double *st = coll_speed_steps(sm, nnodes > 1, &n);
    double max_bw = nnodes > 1 ? nic_GBps : link_GBps;
    double total = ppn > 1 ? link_GBps * ppn / (ppn - 1.0) : link_GBps;

    if (sm < 90 || ppn < 2 || link_GBps <= 0.0 || (nnodes > 1 && (nics < 1 || nic_GBps <= 0.0)))
        return g;
    /* The first step at most the largest path and, times the channels
     * required, at most the GPU's total (scaled by n / (n - 1) off rings). */
    while (i < n - 1 && (st[i] > max_bw + 1e-9 || st[i] * min_ch > total + 1e-9))
        i++;
    for (; i < n; i++) {
        double b = st[i];
        int k = (int)floor(link_GBps / b + 1e-9) - 1;
        /* Descend while the step is above 0.49 of the best found. */
        if (best_i >= 0 && b / g.bw_intra_GBps <= 0.49)
            break;
        if (k > heads)
            k = heads;
        if (nnodes > 1 && k > nics) /* one head per NIC */
            k = nics;
        if (k < min_ch || k < 1)
            continue;
        /* NCCL's comparison for NVLS: more channels first, then k x b. */
        if (k > g.channels || (k == g.channels && k * b > g.channels * g.bw_intra_GBps + 1e-9)) {
            g.channels = k;
            g.bw_intra_GBps = b;
            best_i = i;
        }
    }
    if (best_i < 0)
        return (coll_nvls_graph){0, 0.0, 0.0};
    /* Second pass: raise bwInter a step at a time while below 2 x bwIntra. */
    g.bw_inter_GBps = g.bw_intra_GBps;
    for (i = best_i; i > 0 && g.bw_inter_GBps < 2.0 * g.bw_intra_GBps - 1e-9; i--) {
        if (nnodes > 1 && st[i - 1] > nic_GBps + 1e-9)
            break;
        g.bw_inter_GBps = st[i - 1];
    }
    return g;
}

coll_collnet_graph coll_collnet_graph_search(int sm, int ppn, double link_GBps, int nics,
                                             double nic_GBps)
{
    coll_collnet_graph g = {0, 0.0, 0.0, 0.0};
    int n, i = 0;
    const double *st = coll_speed_steps(sm, true, &n);

    if (nics < 1 || nic_GBps <= 0.0 || ppn < 1)
        return g;
    while (i < n - 1 && st[i] > nic_GBps + 1e-9)
        i++;
    g.channels = nics;
    g.bw_inter_GBps = st[i];
    for (int direct = 0; direct < 2; direct++) {
        double per_port = direct ? 2.0 : (double)nics; /* NVLink load per unit of bw_intra */
        int k = i;
        double b = st[i];
        /* One GPU per node has no NVLink load to fit. */
        while (k > 0 && b < 2.0 * g.bw_inter_GBps - 1e-9 &&
               (ppn < 2 || st[k - 1] * per_port <= link_GBps + 1e-9))
            b = st[--k];
        if (direct)
            g.bw_intra_direct_GBps = b;
        else
            g.bw_intra_GBps = b;
    }
    return g;
}

double coll_nvls_efficiency(int sm)
{
    return sm >= 100 ? 0.74 : sm >= 90 ? 0.85 : 0.0;
}

static double min2(double a, double b)
{
    return a < b ? a : b;
}

/* NVLS's per-channel NVLink term on its graph: bwIntra x nvlsEfficiency x
 * (Cn - 1) / Cn (shared/NCCL.md 2.3). */
static double nvls_link_GBps(const coll_tune_in *in)
{
    double cn = in->nvls_graph.channels;
    return in->nvls_graph.bw_intra_GBps * coll_nvls_efficiency(in->sm) * (cn - 1.0) / cn;
}

/* CollNet Direct's latency: 2 (min(1, ppn - 1) intraLat + 0.4 us (ppn - 1))
 * + interLat (src/tuning/collnet.cc). */
static double collnet_direct_lat_us(plat_path_class intra, int ppn, bool one_gpu)
{
    return 2.0 * ((ppn > 1 ? 1 : 0) * coll_nccl_hw_latency_us(intra, COLL_ALGO_COLLNET_DIRECT, COLL_PROTO_SIMPLE, 0) +
                  0.4 * (ppn - 1)) +
           coll_nccl_hw_latency_us(PLAT_PATH_NET, COLL_ALGO_COLLNET_DIRECT, COLL_PROTO_SIMPLE, one_gpu);
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
    out->channels = in->comm_channels > 0 ? in->comm_channels : C;
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
    /* NVLS and NVLS-Tree, Simple only (shared/NCCL.md 2.3, 2.4). Per channel
     * of the NVLS graph (Cn heads at bwIntra / bwInter, coll_nvls_graph_search;
     * not the runtime NVLS channel count), busBw = min(bwIntra x
     * nvlsEfficiency x (Cn - 1) / Cn x (2 for all-reduce, else (ppn - 1) /
     * ppn), bwInter (x 2 for NVLS-Tree at N <= 2), the NVLS-Tree cap), times
     * Cn. On 8 H100 that is 8 x 40 / 60 GB/s (NCCL's "Pattern 5, nChannels 8,
     * bw 40/60"): 476 GB/s, as NVIDIA quotes ("a peak busBw of ~480GB/s",
     * nccl-tests #212). All-reduce converts as Ring does (n / nsteps);
     * all-gather and reduce-scatter do not convert. Latency: the NVLink NVLS
     * hop (no base), plus 2 log2 N network hops for NVLS-Tree. NVLS needs
     * two ranks on a node at least; across nodes NCCL runs all-reduce as
     * NVLS-Tree; NVLS proper needs CollNet (below). */
    if (in->nvls && in->nvls_graph.channels >= 2 && ppn >= 2) {
        double cn = in->nvls_graph.channels;
        double nvl = nvls_link_GBps(in);
        double inter = in->nvls_graph.bw_inter_GBps;
        double lat = coll_nccl_hw_latency_us(PLAT_PATH_NVLINK, COLL_ALGO_NVLS, COLL_PROTO_SIMPLE, 0);
        /* All-gather and reduce-scatter need every rank a head: NCCL turns
         * them off above NCCL_MAX_NVLS_ARITY (32) ranks per node. */
        if (N == 1 && (in->kind == COLL_ALL_REDUCE ||
                       ((in->kind == COLL_ALL_GATHER || in->kind == COLL_REDUCE_SCATTER) && ppn <= 32))) {
            double b = cn * min2(in->kind == COLL_ALL_REDUCE ? nvl * 2.0 : nvl * (ppn - 1.0) / ppn, inter);
            out->bus_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] = b;
            out->bw_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] =
                in->kind == COLL_ALL_REDUCE ? b * n / nsteps : b;
            out->lat_us[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] = lat;
        } else if (N > 1 && in->kind == COLL_ALL_REDUCE && per_ch_nvls_tree[arch][col] > 0.0) {
            double b = min2(nvl * 2.0, inter * (N <= 2 ? 2.0 : 1.0));
            out->nvls_tree_cap_GBps = cn * per_ch_nvls_tree[arch][col];
            out->nvls_tree_corr = in->sm >= 100 && in->cpu_x86; /* NCCL 2.29 and later */
            b = cn * min2(b, per_ch_nvls_tree[arch][col]);
            out->bus_GBps[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE] = b;
            out->bw_GBps[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE] = b * n / nsteps;
            out->lat_us[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE] =
                coll_nccl_hw_latency_us(PLAT_PATH_NVLINK, COLL_ALGO_NVLS_TREE, COLL_PROTO_SIMPLE, 0) +
                2.0 * log2((double)N) *
                    coll_nccl_hw_latency_us(PLAT_PATH_NET, COLL_ALGO_NVLS_TREE, COLL_PROTO_SIMPLE, 0);
        }
    }
    /* CollNet, all-reduce, Simple only (src/tuning/collnet.cc): busBw = C x
     * bwIntra; Direct divides it by f - (f - 1) / 2 for f = ppn / C GPUs per
     * NIC, and by 1 / 0.85 on SM90+; algorithm bandwidth is half of it.
     * Latency: Direct 2 (min(1, ppn - 1) intraLat + 0.4 us (ppn - 1)) +
     * interLat; Chain 2 (ppn - 1) intraLat + interLat. With CollNet, NVLS
     * runs across nodes too (src/tuning/nvls.cc): C x min(NVLS's NVLink
     * term, bwInter), converted as Ring; latency the NVLink NVLS hop plus the
     * network one. */
    if (in->collnet && N > 1 && in->kind == COLL_ALL_REDUCE && in->collnet_graph.channels > 0) {
        const coll_collnet_graph *g = &in->collnet_graph;
        double inter_c = coll_nccl_hw_latency_us(PLAT_PATH_NET, COLL_ALGO_COLLNET_CHAIN, COLL_PROTO_SIMPLE, one_gpu);
        double intra_c = coll_nccl_hw_latency_us(intra, COLL_ALGO_COLLNET_CHAIN, COLL_PROTO_SIMPLE, 0);
        double b = g->channels * g->bw_intra_GBps;

        out->bus_GBps[COLL_ALGO_COLLNET_CHAIN][COLL_PROTO_SIMPLE] = b;
        out->bw_GBps[COLL_ALGO_COLLNET_CHAIN][COLL_PROTO_SIMPLE] = 0.5 * b;
        out->lat_us[COLL_ALGO_COLLNET_CHAIN][COLL_PROTO_SIMPLE] = 2.0 * (ppn - 1) * intra_c + inter_c;
        if (in->nvswitch) {
            double f = (double)ppn / g->channels;
            b = g->channels * g->bw_intra_direct_GBps / (f - (f - 1.0) / 2.0);
            if (in->sm >= 90)
                b *= 0.85;
            out->bus_GBps[COLL_ALGO_COLLNET_DIRECT][COLL_PROTO_SIMPLE] = b;
            out->bw_GBps[COLL_ALGO_COLLNET_DIRECT][COLL_PROTO_SIMPLE] = 0.5 * b;
            out->lat_us[COLL_ALGO_COLLNET_DIRECT][COLL_PROTO_SIMPLE] = collnet_direct_lat_us(intra, ppn, one_gpu);
        }
        if (in->nvls && in->nvls_graph.channels >= 2 && ppn >= 2) {
            double cn = in->nvls_graph.channels;
            b = cn * min2(nvls_link_GBps(in) * 2.0, in->nvls_graph.bw_inter_GBps);
            out->bus_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] = b;
            out->bw_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] = b * n / nsteps;
            out->lat_us[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] =
                coll_nccl_hw_latency_us(PLAT_PATH_NVLINK, COLL_ALGO_NVLS, COLL_PROTO_SIMPLE, 0) +
                coll_nccl_hw_latency_us(PLAT_PATH_NET, COLL_ALGO_NVLS, COLL_PROTO_SIMPLE, 0);
        }
    }
    /* CollNet Direct all-gather and reduce-scatter (the SHARP plugin's
     * iallgather / ireducescatter), Simple only: every local rank must be a
     * head (ppn <= the NIC channels); busBw = ppn x min(bwIntra, 0.9 x
     * bwInter), not converted; latency as Direct's all-reduce. */
    if (in->collnet && N > 1 && in->nvswitch &&
        (in->kind == COLL_ALL_GATHER || in->kind == COLL_REDUCE_SCATTER) && in->collnet_graph.channels > 0 &&
        ppn <= in->collnet_graph.channels) {
        const coll_collnet_graph *g = &in->collnet_graph;
        double b = ppn * min2(g->bw_intra_direct_GBps, 0.9 * g->bw_inter_GBps);
        out->bus_GBps[COLL_ALGO_COLLNET_DIRECT][COLL_PROTO_SIMPLE] = b;
        out->bw_GBps[COLL_ALGO_COLLNET_DIRECT][COLL_PROTO_SIMPLE] = b;
        out->lat_us[COLL_ALGO_COLLNET_DIRECT][COLL_PROTO_SIMPLE] = collnet_direct_lat_us(intra, ppn, one_gpu);
    }
    out->ring_plateau = in->kind == COLL_ALL_REDUCE && N > 1 ? (in->sm < 80 ? 1.9 : 1.4) : 1.0;
}

double coll_tune_bw_factor(const coll_tune *t, coll_algo a, coll_proto p, uint64_t bytes)
{
    if ((a == COLL_ALGO_TREE || (a == COLL_ALGO_NVLS_TREE && t->nvls_tree_corr)) && bytes >= 64) {
        /* Indexed by floor(log2(S / 64)); NCCL applies entries 0-22 to Tree
         * (64 B to below 512 MiB) and 0-23 to NVLS-Tree, none below 64 B. */
        int i = (int)floor(log2((double)bytes / 64.0));
        if (i < (a == COLL_ALGO_TREE ? 23 : 24))
            return tree_corr[p][i];
    }
    return 1.0;
}

double coll_tune_lat_factor(const coll_tune *t, coll_algo a, coll_proto p, uint64_t bytes)
{
    if (a == COLL_ALGO_RING && p == COLL_PROTO_SIMPLE && t->ring_plateau > 1.0 &&
        (double)bytes / ((double)t->channels * t->nranks) >= 64.0)
        return t->ring_plateau;
    return 1.0;
}

double coll_tune_time_us(const coll_tune *t, coll_algo a, coll_proto p, uint64_t bytes)
{
    double bw = t->bw_GBps[a][p], lat = t->lat_us[a][p];

    if (bw <= 0.0)
        return -1.0;
    bw *= coll_tune_bw_factor(t, a, p, bytes);
    lat *= coll_tune_lat_factor(t, a, p, bytes);
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

/* coll_tune.h - NCCL's cost model and algorithm/protocol selection, in plain C.
 *
 * NCCL predicts, for every (algorithm, protocol), t = latency + bytes /
 * bandwidth from its tuning tables (src/graph/tuning.cc, 2.30.7; the
 * constants are in shared/NCCL.md section 2) and runs the cheapest. The
 * simulator uses the same model to choose what to simulate, as NCCL would,
 * and to know each protocol's bandwidth relative to Simple.
 *
 * Units: microseconds and GB/s (1e9 B/s), as NCCL's model has them.
 */
#ifndef SP_COLL_TUNE_H
#define SP_COLL_TUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "coll/coll.h"

/* NCCL's NVLS graph: one channel per head GPU, at bw_intra GB/s per channel
 * on NVLink and bw_inter towards the network (or the second search pass's
 * step on one node). Not the runtime NVLS channel count. */
typedef struct coll_nvls_graph {
    int channels;
    double bw_intra_GBps;
    double bw_inter_GBps;
} coll_nvls_graph;

/* NCCL's search speed steps in GB/s per channel, highest first, for an
 * architecture: intra-node steps, or inter-node ones (shared/NCCL.md 2.2).
 * Sets *n to their count. */
const double *coll_speed_steps(int sm, bool inter, int *n);

/**
 * The NVLS graph NCCL's topology search finds (src/graph/search.cc,
 * ncclTopoCompute with ncclTopoSearchTryNvls): up to min(32, ppn) heads;
 * each channel charges its bandwidth on every GPU's NVSwitch port, twice on
 * its head's, so k channels at b need (k + 1) b <= the port's bandwidth;
 * on one node every GPU must be a head. The speed steps are the
 * architecture's intra-node ones on one node, the inter-node ones across
 * nodes, where each head needs a NIC of its own (at most nics channels)
 * and no step may exceed the NIC path. Like NCCL, it prefers more
 * channels, then more channels x bandwidth. The second pass raises
 * bw_inter while it is below 2 x bw_intra and fits.
 * @param link_GBps a GPU's NVLink bandwidth to its NVSwitch, NCCL's figure
 * @param nic_GBps  across nodes: the GPU-to-NIC path bandwidth; else unused
 * @return channels 0 when no graph fits (NVLS is then unavailable)
 */
coll_nvls_graph coll_nvls_graph_search(int sm, int ppn, double link_GBps, int nnodes,
                                       double nic_GBps, int nics);

/* NCCL's CollNet graph (Direct and Chain alike here): one channel per NIC
 * head, bw_inter the speed step the GPU-to-NIC path takes, and bw_intra
 * raised from it by the search's second pass ("increase bwIntra for trees
 * (2 nodes or collnet)") one step at a time while below 2 x bw_inter and
 * while the NVLink load still fits: a Chain channel puts bw_intra on every
 * GPU's port, a Direct channel bw_intra on its head's and bw_intra / (ppn -
 * 1) on each other GPU's (ncclTopoSearchTryCollnetDirect), so C channels
 * need C x bw_intra (Chain) or 2 x bw_intra (Direct, C = ppn) per port. */
typedef struct coll_collnet_graph {
    int channels;
    double bw_intra_GBps; /* Chain's */
    double bw_intra_direct_GBps;
    double bw_inter_GBps;
} coll_collnet_graph;

/**
 * The CollNet graph for nics NIC heads per node at nic_GBps each, GPUs with
 * link_GBps of NVLink (NCCL's figure) and ppn ranks per node.
 * @return channels 0 when nothing fits
 */
coll_collnet_graph coll_collnet_graph_search(int sm, int ppn, double link_GBps, int nics,
                                             double nic_GBps);

/* What NCCL's tuning needs to know about a communicator. */
typedef struct coll_tune_in {
    coll_kind kind;
    int nranks;            /* n */
    int nnodes;            /* N */
    int ppn;               /* ranks per node (the largest, for mixed nodes) */
    int sm;                /* compute capability x 10 of the GPUs (the smallest) */
    bool cpu_amd;          /* multi-node LL cap: the AMD/mixed CPU row */
    bool intra_nvlink;     /* the intra-node path is NVLink (else PCIe) */
    int graph_channels;    /* C: channels of the ring/tree graph */
    double graph_bw_GBps;  /* b: per-channel bandwidth the search found */
    bool nvls;             /* NVLink SHARP usable: NVSwitch gen 3+ in every node, SM90+ */
    int nvls_channels;     /* NVLS runtime channels (16 on SM90; 24 on SM100 in one node, 32 across) */
    coll_nvls_graph nvls_graph; /* the NVLS graph the model prices (coll_nvls_graph_search) */
    int comm_channels;     /* the communicator's runtime channels; 0: the graph's C */
    bool cpu_x86;          /* x86 hosts (Intel or AMD): NVLS-Tree's size correction on SM100+ */
    bool collnet;          /* CollNet usable: the fabric reduces in the network, it is enabled
                            * (NCCL_COLLNET_ENABLE), N > 1 and ppn <= 8 (NCCL_MAX_DIRECT_ARITY + 1) */
    bool nvswitch;         /* an NVSwitch in the nodes: CollNet Direct needs one */
    coll_collnet_graph collnet_graph; /* coll_collnet_graph_search */
} coll_tune_in;

typedef struct coll_tune {
    double lat_us[COLL_NALGOS][COLL_NPROTOS]; /* 0 with bw 0 = unavailable */
    double bw_GBps[COLL_NALGOS][COLL_NPROTOS]; /* algorithm bandwidth (bytes / time) */
    double bus_GBps[COLL_NALGOS][COLL_NPROTOS]; /* before the algorithm's conversion */
    double ring_plateau;       /* multi-node Ring Simple all-reduce latency factor once S / (C n) >= 64
                                * (1.4; 1.9 before SM80), 1 elsewhere */
    double nvls_tree_cap_GBps; /* NVLS-Tree: graph channels x NCCL's per-channel cap (0: none) */
    bool nvls_tree_corr;       /* NVLS-Tree takes Tree's correction table (SM100+, x86 hosts) */
    int channels; /* the communicator's runtime channels (the plateau's C) */
    int nranks;
} coll_tune;

/* NCCL's nvlsEfficiency for a compute capability: 0.85 Hopper, 0.74
 * Blackwell, 0 before (tuning.cc, shared/NCCL.md 2.2). */
double coll_nvls_efficiency(int sm);

/* Fill the table for a communicator. */
void coll_tune_compute(coll_tune *out, const coll_tune_in *in);

/* The size-dependent factors of NCCL's time: on the bandwidth, Tree
 * all-reduce's correction table (0.4-1, by floor(log2(S / 64)), from 64 B
 * to below 512 MiB), which NCCL 2.29 and later also apply to NVLS-Tree on
 * Blackwell with x86 hosts (to below 1 GiB); on the latency, the multi-node Ring Simple all-reduce
 * plateau (x 1.4, x 1.9 before SM80, once S / (C n) >= 64 B, C the runtime
 * channels). 1 elsewhere. */
double coll_tune_bw_factor(const coll_tune *t, coll_algo a, coll_proto p, uint64_t bytes);
double coll_tune_lat_factor(const coll_tune *t, coll_algo a, coll_proto p, uint64_t bytes);

/* NCCL's predicted time of (algo, proto) for `bytes` (the op's count bytes),
 * in microseconds; a negative value if the pair is unavailable. */
double coll_tune_time_us(const coll_tune *t, coll_algo a, coll_proto p, uint64_t bytes);

/**
 * Choose as NCCL does: the cheapest available (algo, proto) among those the
 * masks allow (bit i = algorithm or protocol i; ~0u = all).
 * @return SP_OK; SP_EINPUT if the masks leave nothing available
 */
SP_MUST_USE int coll_tune_select(const coll_tune *t, uint64_t bytes, unsigned algo_mask,
                                 unsigned proto_mask, coll_algo *algo, coll_proto *proto);

#endif

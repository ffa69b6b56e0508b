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
    int nvls_channels;     /* NVLS channels (16 on SM90; 24 on SM100 in one node, 32 across nodes) */
    double intra_bus_GBps; /* across nodes: the node's NVLink graph, channels x bw (NVLS-Tree) */
} coll_tune_in;

typedef struct coll_tune {
    double lat_us[COLL_NALGOS][COLL_NPROTOS]; /* 0 with bw 0 = unavailable */
    double bw_GBps[COLL_NALGOS][COLL_NPROTOS]; /* algorithm bandwidth (bytes / time) */
    double bus_GBps[COLL_NALGOS][COLL_NPROTOS]; /* before the algorithm's conversion */
    bool multi_node_ring_simple_plateau;       /* x1.4 latency once S/(C n) >= 64 */
    int channels;
    int nranks;
} coll_tune;

/* NCCL's nvlsEfficiency for a compute capability: 0.85 Hopper, 0.74
 * Blackwell, 0 before (tuning.cc, shared/NCCL.md 2.2). */
double coll_nvls_efficiency(int sm);

/* Fill the table for a communicator. */
void coll_tune_compute(coll_tune *out, const coll_tune_in *in);

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

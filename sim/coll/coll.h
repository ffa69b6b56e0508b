/* coll.h - collective planning: (collective, communicator, bytes, platform)
 * -> a plan of point-to-point transfers in stages. No SimGrid here.
 *
 * A plan is read stage by stage for each member of the communicator:
 * coll_plan_stage() fills the transfers a member posts together in one stage
 * (after a software delay); the engine posts them, waits for all of them,
 * then moves on. The plan is computed on demand from compact state (ring
 * orders, step sizes), so its memory is O(members x rings), not O(steps).
 *
 * Model (see docs/collectives.md): NCCL's selection picks the algorithm
 * (Ring, Tree for all-reduce, PAT at one GPU per node, NVLS on one
 * NVSwitch node, NVLS-Tree across such nodes) and protocol (LL,
 * LL128, Simple) from its cost model (coll_tune.h). Channels that share a
 * path are aggregated into one flow per ring step; with several NICs per node there is one ring per NIC
 * (rail), each carrying an equal share of the data, entering and leaving
 * every node through that rail's NIC (the last GPU of a node's chain hands
 * its data to the rail's GPU over the intra-node fabric when it is on
 * another rail, as NCCL's PXN does; the p2p engine's sends to another node
 * and rail relay the same way). Latency per step is the
 * physical route latency (simulated by SimGrid) plus NCCL's software per-hop
 * latency beyond it (hwLat), and NCCL's base latency once per operation,
 * unless the platform selects the ideal alpha-beta model (latency = "none").
 *
 * Units: bytes, seconds. Ownership: coll_plan_new() gives the caller a plan
 * released with coll_plan_free(); it borrows the plat, which must outlive it.
 */
#ifndef SP_COLL_H
#define SP_COLL_H

#include <stdint.h>

#include "plat/plat.h"
#include "util/err.h"

typedef enum coll_kind {
    COLL_ALL_REDUCE,
    COLL_ALL_GATHER,
    COLL_REDUCE_SCATTER,
    COLL_BROADCAST, /* rooted (coll_plan_new_rooted) */
    COLL_REDUCE,    /* rooted */
    COLL_ALL_TO_ALL,
    COLL_SEND_RECV, /* each rank to the next, as nccl-tests' sendrecv */
    COLL_GATHER,    /* to the root, on the p2p engine (NCCL 2.28's ncclGather) */
    COLL_SCATTER,   /* from the root, on the p2p engine (ncclScatter) */
    COLL_NKINDS
} coll_kind;

typedef enum coll_algo {
    COLL_ALGO_TREE,
    COLL_ALGO_RING,
    COLL_ALGO_PAT,
    COLL_ALGO_NVLS, /* NVLink SHARP: the NVSwitch reduces and multicasts (one node) */
    COLL_ALGO_NVLS_TREE, /* NVLS inside each node, a tree of nodes across them (all-reduce) */
    COLL_ALGO_COLLNET_DIRECT, /* in-network reduction (SHARP): every GPU a head with its own NIC */
    COLL_ALGO_COLLNET_CHAIN,  /* in-network reduction: a chain inside the node to each NIC's GPU */
    COLL_ALGO_P2P, /* the p2p engine: all-to-all, send/recv; no algorithm choice */
    COLL_NALGOS
} coll_algo;
typedef enum coll_proto { COLL_PROTO_LL, COLL_PROTO_LL128, COLL_PROTO_SIMPLE, COLL_NPROTOS } coll_proto;

const char *coll_kind_name(coll_kind k);   /* nccl-tests name: "all_reduce", ... */
const char *coll_algo_name(coll_algo a);   /* NCCL_ALGO spelling: "Ring" */
const char *coll_proto_name(coll_proto p); /* NCCL_PROTO spelling: "Simple" */
SP_MUST_USE int coll_kind_parse(coll_kind *out, const char *name);

/* Parse a comma-separated NCCL_ALGO / NCCL_PROTO style list ("Ring,Tree",
 * "LL128"; case-insensitive) into a bit mask. @return SP_OK or SP_EINPUT */
SP_MUST_USE int coll_algo_mask_parse(unsigned *out, const char *list);
SP_MUST_USE int coll_proto_mask_parse(unsigned *out, const char *list);

/* nccl-tests bus bandwidth factor for n ranks (doc/PERFORMANCE.md):
 * all_reduce 2(n-1)/n; all_gather, reduce_scatter, alltoall, gather,
 * scatter (n-1)/n; broadcast, reduce, sendrecv 1. */
double coll_busbw_factor(coll_kind k, int n);

/* Whether the collective reduces (nccl-tests prints the redop column). */
int coll_kind_reduces(coll_kind k);

/* The default root nccl-tests prints (without -r): 0 for broadcast, reduce, gather and
 * scatter, -1 for collectives without a root. */
int coll_kind_root(coll_kind k);

/* Whether NCCL runs it on its p2p engine (all-to-all, send/recv, gather, scatter). */
int coll_kind_is_p2p(coll_kind k);

/* The GPU that relays a p2p send from rank src to rank dst, or -1: NCCL's
 * PXN (NCCL_P2P_PXN_LEVEL = 2) sends to a GPU on another node and another
 * rail through the communicator's GPU on the destination's rail on the
 * sender's node, over NVLink, then out of that GPU's NIC. Without such a
 * GPU among ranks[0..n) (a pipeline group has one per node) the sender
 * uses its own NIC. The lowest such rank; the p2p plans use the same. */
int coll_pxn_relay(const plat *p, const int *ranks, int n, int src, int dst);

/* Fraction of wire bytes that is payload for a protocol: LL 8/16, LL128
 * 120/128, Simple 1 (NCCL src/device/prims_*.h line formats). */
double coll_proto_wire_efficiency(coll_proto p);

/* NCCL 2.30.7 tuning constants (src/graph/tuning.cc), microseconds. */
double coll_nccl_base_latency_us(coll_algo a, coll_proto p);
double coll_nccl_hw_latency_us(plat_path_class cls, coll_algo a, coll_proto p, int one_gpu_per_node);

#define COLL_MAX_RINGS 64

typedef struct coll_xfer {
    int peer;       /* member index in the communicator */
    uint64_t bytes; /* bytes on the wire, > 0 */
    int ring;       /* which ring (channel group) it belongs to */
} coll_xfer;

/* A member's transfers in one stage, borrowed from the plan (valid while it
 * lives). A member has the same number of sends (receives) in every stage:
 * an all-to-all's or a gather root's may be as many as the members. */
typedef struct coll_stage {
    double delay_s; /* software latency charged before posting */
    int nsend, nrecv;
    const coll_xfer *send; /* nsend of them */
    const coll_xfer *recv; /* nrecv of them */
} coll_stage;

typedef struct coll_plan coll_plan;

/* Choices left open to NCCL's selection, like NCCL_ALGO and NCCL_PROTO:
 * bit i of a mask allows algorithm (protocol) i. */
typedef struct coll_opts {
    unsigned algo_mask;  /* 0 = all */
    unsigned proto_mask; /* 0 = all */
    int collnet;         /* NCCL_COLLNET_ENABLE=1: CollNet, and NVLS across nodes, where the
                          * fabric reduces in the network (plat fabric.in_network_reduction) */
} coll_opts;

/**
 * Plan one collective over a communicator: choose (algorithm, protocol) as
 * NCCL's cost model does among those allowed, then lay out its transfers.
 * @param[out] out  the plan, owned by the caller (coll_plan_free); NULL on failure
 * @param p         expanded platform (borrowed, must outlive the plan)
 * @param ranks     global ranks of the members, n of them (copied)
 * @param bytes     nccl-tests size: the buffer for all_reduce, the total
 *                  (all ranks') buffer for all_gather and reduce_scatter
 * @param opts      NULL: everything NCCL would consider
 * @return SP_OK; SP_EINPUT on a bad argument or when the options allow no
 *         algorithm for this collective; SP_ENOMEM
 */
SP_MUST_USE int coll_plan_new(coll_plan **out, const plat *p, coll_kind kind, const int *ranks,
                              int n, uint64_t bytes, const coll_opts *opts);

/**
 * The same, rooted at a given member: root is the global rank of the root
 * of a broadcast, reduce, gather or scatter (one of ranks), or -1 for the
 * lowest of ranks, which coll_plan_new() takes. The broadcast's and
 * reduce's chain runs along the same ring from (to) the root, as NCCL's
 * does; gather and scatter send to (from) it.
 * @return as coll_plan_new(); SP_EINPUT also when root is not among ranks,
 *         is below -1, or is given (>= 0) for a collective without a root
 */
SP_MUST_USE int coll_plan_new_rooted(coll_plan **out, const plat *p, coll_kind kind, const int *ranks,
                                     int n, uint64_t bytes, int root, const coll_opts *opts);
void coll_plan_free(coll_plan *c); /* NULL is fine */

int coll_plan_members(const coll_plan *c);
int coll_plan_rank(const coll_plan *c, int member); /* global rank of a member */
int coll_plan_root(const coll_plan *c); /* global rank of its root; -1 for a collective without one */
coll_algo coll_plan_algo(const coll_plan *c);
coll_proto coll_plan_proto(const coll_plan *c);
int coll_plan_channels(const coll_plan *c); /* channels NCCL would use for this op */

/* NCCL's runtime channels of a communicator over one whole node of the
 * platform (over the first two nodes where a node has one GPU): those a
 * large Ring all-reduce runs on. 0 when the platform has one GPU (or no
 * Ring plan), SP_ENOMEM when out of memory. For the memory model's count of
 * NCCL's buffers. */
int coll_comm_channels(const plat *p);
int coll_plan_rings(const coll_plan *c);    /* rings simulated (one per rail) */

/* NCCL's predicted time of the chosen (algo, proto), microseconds; NaN
 * for p2p operations, which NCCL's tuning does not model. */
double coll_plan_model_us(const coll_plan *c);

/* 1 when the plan's flows may not start before every member has begun.
 * One-stage plans (tree, NVLS, NVLS-Tree, CollNet, and the broadcast and
 * reduce chains) lay out whole chunk streams as single flows, and most of
 * them carry other members' data: partial sums, or pieces forwarded. Not
 * being chunked, they cannot wait for that data piece by piece. So the only
 * causal bound left is to start them together once the last member has
 * begun, which is the collective start ASTRA-sim and SimAI use. For large
 * messages it is also what NCCL's bounded connection buffers
 * (NCCL_STEPS slots) force on a pipeline that waits for its slowest
 * member. Ring and PAT plans wait stage by stage for the data they forward,
 * and the p2p engine's flows carry their sender's own data: 0 for them,
 * unless some member relays others' data to another node (PXN). */
int coll_plan_starts_together(const coll_plan *c);

/* Stages member m runs; the same for every member of a plan. */
int coll_plan_nstages(const coll_plan *c, int member);
void coll_plan_stage(const coll_plan *c, int member, int stage, coll_stage *out);

/* Totals over the whole plan, for tests and reports: bytes member m sends. */
uint64_t coll_plan_bytes_sent(const coll_plan *c, int member);

/* The alpha-beta time of the plan on an idle fabric: sum over stages of the
 * largest delay plus the latest flow's end (its route latency + the load of
 * the busiest link on its route / that link's bandwidth). The simulation
 * must reproduce this exactly when nothing else shares links and the flows
 * sharing a link are equal. Negative when out of memory. */
double coll_plan_alpha_beta_s(const coll_plan *c);

#endif

/* plat.h - the platform model: GPUs, node types, intra-node fabrics, NICs and
 * the fabric that joins the nodes.
 *
 * A platform file (platforms/NAME.cfg, libconfig) describes either one node
 * type (`node`, the node count chosen at run time) or several (`node_types`
 * plus a fixed composition `nodes`, for heterogeneous clusters), and a
 * fabric template. plat_set_nodes() expands the template into a graph of
 * vertices (GPUs and routers) and links; plat_xml_write() turns that graph
 * into a SimGrid platform; plat_route() answers route questions from the
 * template without SimGrid, so planners and tests need no engine.
 *
 * Units: the files carry units in key names (bandwidth_GBps, latency_us,
 * memory_GB, rate_Gbps); inside, everything is SI: seconds, bytes, bytes/s,
 * flop/s. GB means 1e9 bytes, as vendors and nccl-tests use it.
 *
 * Ownership: plat_load() gives the caller a plat to release with
 * plat_free(). Every string and array inside belongs to the plat. The plat is
 * read-only except through plat_set_nodes().
 */
#ifndef SP_PLAT_H
#define SP_PLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/diag.h"

/* Precisions a GPU may have a peak rate for. */
typedef enum plat_prec {
    PLAT_FP64,
    PLAT_FP32,
    PLAT_TF32,
    PLAT_FP16,
    PLAT_BF16,
    PLAT_FP8,
    PLAT_FP4,
    PLAT_NPREC
} plat_prec;

const char *plat_prec_name(plat_prec p); /* "fp64", ... as in the files */

/* One measured GEMM: (m x k) * (k x n) at a precision, and its throughput
 * over the dense peak of that precision (efficiency.gemm_shapes). */
typedef struct plat_gemm_shape {
    plat_prec prec;
    double m, n, k;
    double eff;
} plat_gemm_shape;

/* One measured fused-attention kernel (efficiency.attention_shapes): seq
 * queries over kv_seq keys, causal (self-attention, kv_seq = seq) or with no
 * mask (a ring-attention step's block), heads heads (x sequences) of
 * head_dim, bf16, its forward and backward throughput over the dense bf16
 * peak. */
typedef struct plat_attn_shape {
    double seq, kv_seq, heads, head_dim;
    bool causal;
    double eff_fwd, eff_bwd;
} plat_attn_shape;

typedef struct plat_gpu {
    char *model;                   /* catalogue name, e.g. "H100-SXM" */
    char *arch;                    /* "volta" | "ampere" | "ada" | "hopper" | "blackwell" */
    int sm;                        /* compute capability x 10, e.g. 90 */
    double peak_flops[PLAT_NPREC]; /* dense peak, flop/s; 0 = not supported */
    double mem_bytes;              /* GPU memory, bytes (HBM, or the unified pool) */
    double mem_bw_Bps;             /* its bandwidth, bytes/s */
    double host_mem_bytes;         /* CPU memory the GPU reaches coherently (GB300), 0 = none */
    double host_mem_bw_Bps;        /* its bandwidth, bytes/s */
    bool unified;                  /* memory shared with the CPU (GB10) */
    double host_link_Bps;          /* to the host's memory, per direction, achieved from page-locked
                                      memory, bytes/s; 0 = not described (host_link) */
    double host_link_lat_s;        /* a host-device copy's fixed cost */
    double host_link_pageable_Bps; /* copies from or to pageable memory, bytes/s */
    double tdp_W;                  /* board power, W */
    int sm_count;                  /* streaming multiprocessors; 0 = not given */
    double eff_gemm;               /* achieved / dense peak, large GEMMs; 0 = not given */
    double eff_gemm_fp8;           /* the same for FP8 (and narrower) GEMMs; eff_gemm if not measured */
    double eff_attention;          /* achieved / dense peak, fused attention; 0 = not given */
    double eff_memory;             /* achieved / peak memory bandwidth, element-wise; 0 = not given */
    plat_gemm_shape *gemm_shapes;  /* measured GEMMs (owned), which override eff_gemm / eff_gemm_fp8
                                      for their precision: the nearest in log(m, n, k) is used */
    size_t ngemm_shapes;
    plat_attn_shape *attn_shapes;  /* measured attention (owned), which overrides eff_attention:
                                      the nearest of the same mask in log(seq, heads, head_dim),
                                      and kv_seq without the mask, is used */
    size_t nattn_shapes;
    sp_loc src;
} plat_gpu;

typedef enum plat_intra_kind {
    PLAT_INTRA_NONE,     /* one GPU per node */
    PLAT_INTRA_NVSWITCH, /* every GPU on a non-blocking NVLink switch (also NVL72 domains) */
    PLAT_INTRA_PCIE,     /* GPUs on PCIe under one host bridge */
} plat_intra_kind;

typedef struct plat_intra {
    plat_intra_kind kind;
    double spec_bw_Bps;   /* per GPU, per direction, as specified */
    double efficiency;    /* achievable / specified, in (0, 1] */
    double bw_Bps;        /* spec_bw_Bps * efficiency */
    double lat_s;         /* GPU to GPU, one way */
    int nvswitch_gen;     /* 0 = none; NVLink SHARP needs gen 3+ */
    bool p2p;             /* PCIe: peer-to-peer DMA between GPUs (else through host memory) */
    double bounce_bw_Bps; /* PCIe without P2P: host-memory path, shared by the node's GPUs */
    sp_loc src;
} plat_intra;

typedef struct plat_nic {
    char *model;          /* NULL: the node has no NIC */
    int count;            /* NICs per node; GPU g uses NIC g * count / gpus */
    int ports;            /* cable ports per NIC */
    double line_bw_Bps;   /* per port, line rate in bytes/s */
    double efficiency;    /* wire efficiency (packet headers), in (0, 1] */
    double host_bw_Bps;   /* GPU/host side of the NIC (PCIe), bytes/s per direction */
    double lat_s;         /* NIC processing, one way, per end */
    sp_loc src;
} plat_nic;

typedef struct plat_node_type {
    char *id;             /* short id used in `nodes` */
    char *name;           /* product name, e.g. "DGX H100" */
    plat_gpu gpu;         /* copied from the catalogue */
    int gpus;             /* GPUs per node */
    double price_USD;     /* list price of one node; 0 = not published */
    double power_W;       /* one node, maximum */
    double cloud_USD_per_gpu_hour; /* 0 = not offered / not given */
    plat_intra intra;
    plat_nic nic;
    sp_loc src;
} plat_node_type;

typedef enum plat_fabric_kind {
    PLAT_FABRIC_NONE,     /* one node only */
    PLAT_FABRIC_DIRECT,   /* two nodes, cabled back to back */
    PLAT_FABRIC_RING,     /* switchless: port 1 of node k to port 0 of node k+1 */
    PLAT_FABRIC_SWITCH,   /* N nodes on one switch */
    PLAT_FABRIC_FAT_TREE, /* rail-optimized leaf / spine (/ core) Clos */
} plat_fabric_kind;

typedef struct plat_fabric {
    plat_fabric_kind kind;
    int switch_ports;        /* switch radix (switch, fat-tree) */
    double switch_lat_s;     /* port to port, per switch crossed */
    double cable_lat_s;      /* per cable, one way */
    double port_bw_Bps;      /* switch port rate, bytes/s; 0 = the NIC's rate */
    bool closed;             /* ring: close the ring (else a chain) */
    int tiers;               /* fat-tree: 2 (leaf-spine) or 3 (leaf-spine-core) */
    int nodes_per_unit;      /* fat-tree: nodes per scalable unit (one leaf per rail per unit) */
    double oversubscription; /* fat-tree: leaf downlink / uplink bandwidth, >= 1 */
    bool in_network_reduction; /* switch, fat-tree: the switches reduce (SHARP; NCCL's CollNet) */
    sp_loc src;
} plat_fabric;

typedef enum plat_latency_model {
    PLAT_LAT_NCCL, /* physical latency plus NCCL's software per-step latency */
    PLAT_LAT_NONE, /* physical link latency only: an ideal alpha-beta fabric */
} plat_latency_model;

/* The largest calibration factors a platform file takes (its `calibration`
 * group; scalepath calibrate refuses to write a fit beyond them). */
#define PLAT_CALIB_LATENCY_US_MAX 1e6
#define PLAT_CALIB_TIME_SCALE_MAX 100.0

typedef struct plat_nccl {
    int channels;                 /* runtime collective channels; 0 = derive */
    int graph_channels;           /* channels NCCL's topology search finds; 0 = derive */
    double graph_bw_GBps;         /* their per-channel bandwidth, GB/s; 0 = derive */
    bool cpu_amd;                 /* host CPUs are AMD (NCCL's multi-node LL cap row) */
    bool cpu_arm;                 /* host CPUs are Arm, not x86 (NCCL's NVLS-Tree correction is x86's) */
    double launch_s;              /* host time of one kernel launch, s (measured); 0 = not known */
    plat_latency_model latency;
    double calib_lat_s;           /* fitted to a measured log: added to every collective (0 = none) */
    double calib_scale;           /* ... and multiplying its transfer time (1 = none) */
    sp_loc src;
} plat_nccl;

/* The expanded topology: vertices are GPUs (hosts) or routers. */
typedef struct plat_vertex {
    char *name; /* unique, SimGrid id */
    int rank;   /* GPU rank, or -1 for a router */
    int node;   /* the node it belongs to (GPUs, NVSwitch or PCIe hub and ports,
                 * NICs), or -1 for the fabric's switches */
} plat_vertex;

typedef enum plat_sharing {
    PLAT_SPLITDUPLEX, /* each direction has the full bandwidth */
    PLAT_SHARED,      /* one capacity for both directions (host memory) */
    PLAT_FATPIPE,     /* no sharing: a zero-cost marker that only weighs a route */
} plat_sharing;

typedef struct plat_link {
    char *name;    /* unique, SimGrid id */
    double bw_Bps; /* per direction, or in all for PLAT_SHARED */
    double lat_s;
    plat_sharing sharing;
    uint32_t a, b; /* the vertices it joins (UP is a to b); PLAT_NONE for shared/marker links */
} plat_link;

/* An adjacency of the graph: crossing it from a to b uses the link, then
 * the marker link `mark` nmarks times (a no-cost FATPIPE link that makes
 * the edge count more in shortest-path routing, which counts links, to
 * break ties deterministically). Most links have one edge; a shared
 * host-memory link has one per GPU. */
typedef struct plat_edge {
    uint32_t a, b, link;
    uint32_t mark;  /* marker link, when nmarks > 0 */
    int nmarks;
} plat_edge;

typedef enum plat_path_class {
    PLAT_PATH_SELF,
    PLAT_PATH_NVLINK,
    PLAT_PATH_PCIE,
    PLAT_PATH_NET,
} plat_path_class;

#define PLAT_MAX_HOPS 16

typedef struct plat_path {
    plat_path_class cls;
    double lat_s;                   /* sum of link latencies along the route */
    double bw_Bps;                  /* bottleneck bandwidth along the route */
    int hops;                       /* links on the route */
    uint32_t links[PLAT_MAX_HOPS];  /* indices into plat.links, source to destination */
    uint8_t down[PLAT_MAX_HOPS];    /* 1 where the link is crossed from its b to its a */
} plat_path;

typedef struct plat {
    char *path;        /* file it was loaded from */
    char *name;        /* short id, e.g. "dgx-h100" */
    char *description;
    plat_node_type *types;
    size_t ntypes;
    plat_gpu *catalogue; /* every GPU of the file's catalogue */
    size_t ncatalogue;
    int *comp_type;    /* fixed composition (heterogeneous): node type of each entry */
    int *comp_count;   /* ... and how many nodes of it; NULL when homogeneous */
    size_t ncomp;
    int fixed_nodes;   /* nodes in the composition; 0 = chosen with -n */
    plat_fabric fabric;
    plat_nccl nccl;
    char **files;      /* file names that sp_loc fields point to, owned */
    size_t nfiles;

    /* Set by plat_set_nodes(). */
    int nodes;
    int nranks;
    int *node_type;    /* per node: index into types */
    int *node_rank0;   /* per node: its first rank */
    int *rank_node;    /* per rank: its node */
    plat_vertex *vertices;
    size_t nvertices;
    plat_link *links;
    size_t nlinks;
    plat_edge *edges;
    size_t nedges;
    struct plat_topo *topo; /* vertex and link indices by role, for routes */
} plat;

/**
 * Load and check a platform file; the topology is expanded later by
 * plat_set_nodes().
 * @param[out] out  the platform, owned by the caller; NULL on failure
 * @param path      libconfig file; @include paths resolve from its folder
 * @param diag      gets one located message per problem found
 * @return SP_OK; SP_EINPUT (every problem is in diag); SP_ENOMEM
 */
SP_MUST_USE int plat_load(plat **out, const char *path, diag_list *diag);
void plat_free(plat *p); /* NULL is fine */

/**
 * Expand the fabric template (replacing an earlier expansion). nodes is the
 * -n option; 0 takes the file's fixed composition (or 1 node).
 * @return SP_OK; SP_EINPUT if the template cannot hold that many nodes
 *         (reported at the fabric's line); SP_ENOMEM
 */
SP_MUST_USE int plat_set_nodes(plat *p, int nodes, diag_list *diag);

const plat_node_type *plat_type_of_node(const plat *p, int node);
const plat_node_type *plat_type_of_rank(const plat *p, int rank);
int plat_rank_node(const plat *p, int rank);  /* node of a rank */
int plat_rank_local(const plat *p, int rank); /* index of the GPU in its node */
int plat_rank_nic(const plat *p, int rank);   /* NIC the GPU uses, -1 if none */
int plat_node_gpus(const plat *p, int node);  /* GPUs of a node */
bool plat_is_homogeneous(const plat *p);

/* The route between two ranks, from the template (no SimGrid); it names
 * the same links SimGrid's shortest path uses. */
plat_path plat_route(const plat *p, int src_rank, int dst_rank);

/* Whether every route between two nodes' GPUs on different rails has one
 * shortest path, so SimGrid takes the one plat_route() names: on a switch,
 * on a fat-tree of nodes with a NIC per GPU, and wherever no node has two
 * GPUs. Not between nodes cabled back to back or in a ring, nor where GPUs
 * share a NIC: there an equally short path relays over either node's
 * NVLink, and which one SimGrid takes is its own. */
bool plat_rail_routes_unique(const plat *p);

/* Whether a SimGrid file of some nodes only (plat_xml_write_nodes) routes
 * between their GPUs exactly as the whole platform's does: on a switch or a
 * fat-tree, where a node hangs off the fabric by its NICs, so a path through
 * a third node (in and out of two of its NICs, over its NVLink or PCIe:
 * four links or more, plus the two NIC ports) is always longer than the
 * fabric's own (none on a switch, leaf - spine - leaf on a fat-tree); and
 * only where every route has one shortest path (plat_rail_routes_unique,
 * no GPUs sharing a NIC, no multi-GPU node whose GPUs talk through host
 * memory), so that SimGrid's tie-breaking, which depends on the graph it
 * sees, never decides. */
bool plat_nodes_prunable(const plat *p);

/* The name SimGrid knows a rank's host by (owned by the plat). */
const char *plat_rank_host(const plat *p, int rank);

/* "2 x DGX Spark (1 GB10)" or "2 x DGX Spark (1 GB10) + 1 x DGX Station
 * (1 GB300)" for the expanded platform, into buf (always terminated). */
void plat_describe(const plat *p, char *buf, size_t size);

/* What the template promises for a bisection: nodes [0, N/2) each send to
 * node k + N/2, GPU g to GPU g (rail-aligned), all at once. Returns the
 * throughput in bytes/s from one half to the other: the smaller of what the
 * first half's GPUs can inject (NIC host side and wire) and what the cut
 * between the halves carries. 0 for one node. */
double plat_bisection_Bps(const plat *p);

/* A GPU of the platform file's catalogue by model name; NULL if absent. */
const plat_gpu *plat_catalogue_find(const plat *p, const char *model);

/* Name of a fabric template, as in the files. */
const char *plat_fabric_name(plat_fabric_kind k);

/**
 * Write the expanded platform as SimGrid XML (DTD 4.1).
 * @return SP_OK or SP_EIO
 */
SP_MUST_USE int plat_xml_write(const plat *p, FILE *fp);

/**
 * The same with only the nodes whose keep[node] is non-zero: their GPUs,
 * hubs and NICs, and the fabric's switches on the routes between them (a
 * switch left with one route is a dead end, left out too). Routes between
 * the kept GPUs are the whole platform's where plat_nodes_prunable(); the
 * caller checks that. keep NULL: every node, as plat_xml_write.
 * @return SP_OK, SP_EIO or SP_ENOMEM
 */
SP_MUST_USE int plat_xml_write_nodes(const plat *p, const uint8_t *keep, FILE *fp);

/* Print every key of the platform format as Markdown tables (group, key,
 * type, required, bounds, meaning), from the same tables the loader checks
 * against; docs/platform-format.md includes this output verbatim. */
void plat_format_doc(FILE *fp);

#endif

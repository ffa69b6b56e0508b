/* plat.h - the platform model: GPUs, nodes, intra-node fabric, NICs and the
 * fabric that joins the nodes.
 *
 * A platform file (platforms/NAME.cfg, libconfig) describes one node type and a
 * fabric template; the node count is chosen at run time with
 * plat_set_nodes(), which expands the template into a graph of vertices
 * (GPUs and routers) and links. plat_xml_write() turns that graph into a
 * SimGrid platform; plat_path() answers route questions without SimGrid, so
 * planners and tests need no engine.
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

typedef struct plat_gpu {
    char *model;                   /* catalogue name, e.g. "H100-SXM" */
    char *arch;                    /* "volta" | "ampere" | "ada" | "hopper" | "blackwell" */
    int sm;                        /* compute capability x 10, e.g. 90 */
    double peak_flops[PLAT_NPREC]; /* dense peak, flop/s; 0 = not supported */
    double mem_bytes;              /* GPU-visible memory, bytes */
    double mem_bw_Bps;             /* memory bandwidth, bytes/s */
    bool unified;                  /* memory shared with the CPU (GB10) */
    double tdp_W;                  /* board power, W */
    sp_loc src;
} plat_gpu;

typedef enum plat_intra_kind { PLAT_INTRA_NONE, PLAT_INTRA_NVSWITCH } plat_intra_kind;

typedef struct plat_intra {
    plat_intra_kind kind;
    double spec_bw_Bps; /* per GPU, per direction, as specified */
    double efficiency;  /* achievable / specified, in (0, 1] */
    double bw_Bps;      /* spec_bw_Bps * efficiency */
    double lat_s;       /* GPU to GPU through the switch, one way */
    int nvswitch_gen;   /* 0 = none; NVLink SHARP needs gen 3+ */
    sp_loc src;
} plat_intra;

typedef struct plat_nic {
    char *model;
    int count;            /* NICs per node; GPU g uses NIC g * count / gpus */
    int ports;            /* cable ports per NIC */
    double line_bw_Bps;   /* per port, line rate in bytes/s */
    double efficiency;    /* wire efficiency (packet headers), in (0, 1] */
    double host_bw_Bps;   /* GPU/host side of the NIC (PCIe), bytes/s per direction */
    double lat_s;         /* NIC processing, one way, per end */
    sp_loc src;
} plat_nic;

typedef enum plat_fabric_kind {
    PLAT_FABRIC_DIRECT, /* two nodes, cabled back to back */
    PLAT_FABRIC_SWITCH, /* N nodes on one switch */
} plat_fabric_kind;

typedef struct plat_fabric {
    plat_fabric_kind kind;
    int switch_ports;      /* switch only */
    double switch_lat_s;   /* port to port, switch only */
    double cable_lat_s;    /* per cable, one way */
    sp_loc src;
} plat_fabric;

typedef enum plat_latency_model {
    PLAT_LAT_NCCL, /* physical latency plus NCCL's software per-step latency */
    PLAT_LAT_NONE, /* physical link latency only: an ideal alpha-beta fabric */
} plat_latency_model;

typedef struct plat_nccl {
    int channels;                 /* runtime collective channels; 0 = derive */
    plat_latency_model latency;
    sp_loc src;
} plat_nccl;

/* The expanded topology: vertices are GPUs (hosts) or routers. */
typedef struct plat_vertex {
    char *name;  /* unique, SimGrid id */
    int rank;    /* GPU rank, or -1 for a router */
} plat_vertex;

typedef struct plat_link {
    char *name;   /* unique, SimGrid id */
    double bw_Bps; /* per direction */
    double lat_s;
    uint32_t a, b; /* vertex indices it joins */
} plat_link;

typedef enum plat_path_class {
    PLAT_PATH_SELF,
    PLAT_PATH_NVLINK,
    PLAT_PATH_NET,
} plat_path_class;

typedef struct plat_path {
    plat_path_class cls;
    double lat_s;  /* sum of link latencies along the route */
    double bw_Bps; /* bottleneck bandwidth along the route */
    int hops;      /* links on the route */
} plat_path;

typedef struct plat {
    char *path;          /* file it was loaded from */
    char *name;          /* short id, e.g. "dgx-h100" */
    char *description;
    char *node_name;     /* e.g. "DGX H100" */
    plat_gpu gpu;        /* the node's GPU (copied from the catalogue) */
    int gpus_per_node;
    double price_USD;    /* list price of one node */
    double power_W;      /* one node, maximum */
    plat_intra intra;
    plat_nic nic;
    plat_fabric fabric;
    plat_nccl nccl;

    char **files;        /* file names that sp_loc fields point to, owned */
    size_t nfiles;

    /* Set by plat_set_nodes(). */
    int nodes;
    int nranks;
    plat_vertex *vertices;
    size_t nvertices;
    plat_link *links;
    size_t nlinks;
} plat;

/**
 * Load and check a platform file; the topology is expanded later by
 * plat_set_nodes().
 * @param[out] out  the platform, owned by the caller; NULL on failure
 * @param path      libconfig file; @include paths resolve from its folder
 * @param diag      gets one located message per problem found
 * @return SP_OK; SP_EINPUT (every problem is in diag); SP_EIO; SP_ENOMEM
 */
SP_MUST_USE int plat_load(plat **out, const char *path, diag_list *diag);
void plat_free(plat *p); /* NULL is fine */

/**
 * Expand the fabric template for a node count (replacing an earlier one).
 * @return SP_OK; SP_EINPUT if the template cannot hold that many nodes
 *         (reported at the fabric's line); SP_ENOMEM
 */
SP_MUST_USE int plat_set_nodes(plat *p, int nodes, diag_list *diag);

int plat_rank_node(const plat *p, int rank);  /* node of a rank */
int plat_rank_local(const plat *p, int rank); /* index of the GPU in its node */
int plat_rank_nic(const plat *p, int rank);   /* index of the NIC the GPU uses */

/* The route between two ranks, computed from the template (no SimGrid). */
plat_path plat_route(const plat *p, int src_rank, int dst_rank);

/* The name SimGrid knows a rank's host by (owned by the plat). */
const char *plat_rank_host(const plat *p, int rank);

/**
 * Write the expanded platform as SimGrid XML (DTD 4.1).
 * @return SP_OK or SP_EIO
 */
SP_MUST_USE int plat_xml_write(const plat *p, FILE *fp);

/* Print every key of the platform format as Markdown tables (group, key,
 * type, required, bounds, meaning), from the same tables the loader checks
 * against; docs/platform-format.md includes this output verbatim. */
void plat_format_doc(FILE *fp);

#endif

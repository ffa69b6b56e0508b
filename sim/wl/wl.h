/* wl.h - workloads: per-rank graphs of compute and communication operations.
 *
 * A wl is what a replay executes: for every rank, an ordered list of
 * operations (compute for a duration, a collective in a communicator group,
 * or a point-to-point send/receive), each with the operations it waits for.
 * Readers (wl_aicb.c for AICB / ASTRA-sim 1.0 text workloads; Chakra next)
 * build it; wl_check() validates it against a platform before any
 * simulation. No SimGrid here.
 *
 * Units: seconds, bytes. Ownership: wl_load_*() give the caller a wl to
 * release with wl_free(); every array and string inside belongs to it.
 */
#ifndef SP_WL_H
#define SP_WL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coll/coll.h"
#include "plat/plat.h"
#include "util/diag.h"

typedef enum wl_op_kind { WL_COMPUTE, WL_COLL, WL_SEND, WL_RECV } wl_op_kind;

/* The stream an operation runs on, as on a GPU: operations of one stream
 * run in order; streams overlap. Compute kernels on one, the tensor /
 * model-parallel collectives on another, data-parallel (gradient)
 * collectives on a third, as frameworks issue them on separate streams. */
typedef enum wl_stream {
    WL_STREAM_COMPUTE,
    WL_STREAM_COMM,
    WL_STREAM_COMM_DP,
    WL_STREAM_HOST, /* CPU-side operations of a trace: they overlap the GPU's */
    WL_STREAM_P2P,  /* pipeline sends and receives (generated training steps) */
    WL_STREAM_CP,   /* context parallelism's exchanges (generated steps: the CP group's communicator) */
    WL_NSTREAMS
} wl_stream;

typedef struct wl_op {
    wl_op_kind kind;
    const char *name;   /* borrowed from the wl's string pool */
    double duration_s;  /* compute: recorded duration (or set by wl_compute_times) */
    double flops;       /* compute: operations, for a roofline time (Chakra num_ops); 0 = unknown */
    double mem_bytes;   /* compute: bytes moved (Chakra tensor_size); 0 = unknown */
    coll_kind coll;     /* collective */
    uint64_t bytes;     /* collective: nccl-tests size; send/recv: message size */
    int group;          /* collective: index into wl.groups */
    int peer;           /* send/recv: the other rank */
    uint64_t node_id;   /* Chakra: the node's id */
    int tag;            /* send/recv: matched with the peer's op of the same tag */
    int sms;            /* collective: SMs its kernels hold beside compute; 0: one per
                           channel of its NCCL plan (NCCL's CTAs); -1: none (copy engines) */
    uint32_t *deps;     /* ops of the same rank that must finish first (indices) */
    uint32_t ndeps;
    int layer;          /* the workload's layer (for per-layer reports), -1 if none */
    wl_stream stream;
    sp_loc src;         /* where it was read */
} wl_op;

typedef struct wl_rank {
    wl_op *ops;
    size_t nops;
} wl_rank;

typedef struct wl_group {
    int *ranks;  /* ascending */
    int n;
    char *name;  /* "tp3", "dp0", ... */
    bool folded; /* members beyond the ranks that have operations: the group's
                    collectives take their duration_s (timed apart), see train.h */
} wl_group;

typedef struct wl {
    char *path;
    char *format;       /* "aicb" */
    int nranks;
    wl_rank *ranks;
    wl_group *groups;
    size_t ngroups;
    char **layer_names; /* per layer index */
    size_t nlayers;
    char **strings;     /* string pool */
    size_t nstrings;
    bool nominal_compute; /* compute durations are the GPU's alone (generated steps): while a
                             collective runs, compute loses the SMs of its CTAs (eng); false
                             for traces, whose recorded durations already include it */
} wl;

/* How AICB / ASTRA-sim 1.0 times are read. */
typedef enum wl_time_unit { WL_TIME_NS, WL_TIME_US, WL_TIME_CYCLES } wl_time_unit;

typedef struct wl_aicb_opts {
    wl_time_unit unit;  /* AICB / SimAI: ns; ASTRA-sim 1.0: cycles */
    double cycle_hz;    /* for WL_TIME_CYCLES */
    int nranks;         /* ranks to lay the workload on (the platform's) */
} wl_aicb_opts;

/**
 * Read an AICB / ASTRA-sim 1.0 text workload (policy line, layer count,
 * one 12-field line per layer) and lay one training iteration on nranks
 * ranks: forward through the layers, backward in reverse (input gradient,
 * then weight gradient whose collective overlaps what follows), and a wait
 * for every collective at the end.
 * @param[out] out  the workload; NULL on failure
 * @return SP_OK; SP_EINPUT (every problem located in diag); SP_ENOMEM
 */
SP_MUST_USE int wl_load_aicb(wl **out, const char *path, const wl_aicb_opts *opts,
                             diag_list *diag);
void wl_free(wl *w); /* NULL is fine */

/**
 * Read a Chakra execution trace: one file per rank, `<prefix>.<rank>.et`
 * (plain or gzipped), each a sequence of varint-framed protobuf records, a
 * GlobalMetadata then Nodes. Compute and memory nodes take their recorded
 * durations, CPU operations run on a host stream, collectives run in their
 * process group (pg_name, from the comm-groups JSON) or all the trace's ranks,
 * send/receive nodes match by (source, destination, tag). Data and control
 * dependencies both order nodes; a dependency on a node absent from the
 * file is warned about and ignored; a cycle is an error.
 * @param max_ranks  the platform's ranks: a trace with more is an error
 * @return SP_OK; SP_EINPUT (each problem names its file and record); SP_ENOMEM
 */
typedef struct wl_chakra_opts {
    int max_ranks;           /* the platform's ranks: a trace with more is an error */
    const char *comm_groups; /* JSON {"pg_name": [ranks...], ...}; NULL: all ranks */
} wl_chakra_opts;

SP_MUST_USE int wl_load_chakra(wl **out, const char *prefix, const wl_chakra_opts *opts,
                               diag_list *diag);

/* How compute durations are set before a replay. */
typedef enum wl_compute_mode {
    WL_COMPUTE_RECORDED, /* recorded durations; a roofline time where none is recorded */
    WL_COMPUTE_ROOFLINE, /* max(flops / peak, bytes / memory bandwidth) wherever known */
} wl_compute_mode;

/**
 * Set compute durations for the GPU each rank runs on (the platform's, by
 * rank): roofline times from the operation's flops and bytes (that GPU's
 * dense peak for `prec`, and its memory bandwidth), and, when the trace was
 * recorded on another GPU (`recorded` not NULL), recorded durations scaled
 * by peak(recorded) / peak(this GPU) for `prec`. Returns how many
 * operations got a roofline time.
 */
size_t wl_compute_times(wl *w, wl_compute_mode mode, const plat *p, const plat_gpu *recorded,
                        plat_prec prec);

/**
 * Check a workload before it is simulated: dependencies point to earlier
 * operations of the same rank (so the graph is acyclic), groups hold valid
 * ranks, and every member of a group issues the same collectives on it in
 * the same order (kind and size), without which the replay would deadlock.
 * @return SP_OK or SP_EINPUT (every problem located in diag)
 */
SP_MUST_USE int wl_check(const wl *w, int platform_ranks, diag_list *diag);

/* Building a workload (for generators outside wl/, such as train/). The
 * builder owns the workload until wl_build_finish() hands it over; on any
 * allocation failure the calls become no-ops and finish reports SP_ENOMEM. */
typedef struct wl_builder wl_builder;

SP_MUST_USE int wl_build_start(wl_builder **out, const char *path, const char *format, int nranks);
/* The group `name` with these ranks (copied, sorted), created on first use;
 * its index. */
int wl_build_group(wl_builder *b, const char *name, const int *ranks, int n, bool folded);
/* Append an operation to a rank; name is copied into the string pool, deps
 * (indices of earlier operations of the rank) are copied. Its index. */
uint32_t wl_build_op(wl_builder *b, int rank, const wl_op *op, const char *name, const uint32_t *deps,
                     uint32_t ndeps);
/* Operations of a rank so far. */
size_t wl_build_nops(const wl_builder *b, int rank);
/* Hand over the workload (NULL on failure) and release the builder. */
SP_MUST_USE int wl_build_finish(wl_builder *b, wl **out);
/* Release the builder and the workload under construction. */
void wl_build_abort(wl_builder *b);

/* Total operations over all ranks. */
size_t wl_op_count(const wl *w);

const char *wl_op_kind_name(wl_op_kind k);

/* The SMs collective `op` holds beside compute when NCCL would run it on
 * `channels` channels (one CTA each): op->sms where set (none where it is
 * negative), else the channels. */
int wl_coll_sms(const wl_op *op, int channels);

#endif

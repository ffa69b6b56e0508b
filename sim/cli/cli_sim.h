/* cli_sim.h - what replay, train and study share: a plan for every
 * collective of a workload, folded collectives timed apart, the replay on
 * the engine, and each rank's summary (internal to sim/cli/). */
#ifndef SP_CLI_SIM_H
#define SP_CLI_SIM_H

#include "coll/coll.h"
#include "eng/eng.h"
#include "out/out.h"
#include "plat/plat.h"
#include "wl/wl.h"

typedef struct cli_plan_entry cli_plan_entry;

typedef struct cli_sim {
    const wl *w;
    const coll_plan ***plans; /* per rank, per operation: borrowed from the cache, NULL if none */
    eng_op_time **times;      /* per rank, per operation, after cli_sim_run() */
    cli_plan_entry *cache;    /* one plan per (group, collective, bytes) */
    size_t ncache, cache_cap;
} cli_sim;

/* Communication families of a rank's time, by the group's name prefix. */
typedef enum cli_family { CLI_TP, CLI_CP, CLI_EP, CLI_DP, CLI_PP, CLI_OTHER, CLI_NFAMILIES } cli_family;
const char *cli_family_name(cli_family f); /* "tp", "cp", "ep", "dp" (also "edp"), "pp", "other" */

typedef struct cli_rank_summary {
    double finish;                  /* s, its last operation's end */
    double compute;                 /* s, busy time of its compute stream */
    double comm;                    /* s, collectives and transfers, overlapped or not */
    double exposed;                 /* s, communication that no compute hides */
    double exposed_by[CLI_NFAMILIES]; /* the same by family (pp: waiting for a stage) */
} cli_rank_summary;

/**
 * Plan every collective of a workload before SimGrid starts (no bad input
 * reaches it). Plans are shared by operations of the same group, kind and
 * size. On failure the problem is located at the operation.
 * @return SP_OK; SP_EINPUT (no algorithm allowed); SP_ENOMEM
 */
SP_MUST_USE int cli_sim_plan(cli_sim *s, const plat *p, const wl *w, const coll_opts *co, diag_list *diag);

/**
 * Time the collectives of folded groups (wl_group.folded) on the engine,
 * on an otherwise idle platform, and set their operations' duration_s.
 * Folded groups of a generated layout are alike (same size, placement
 * shifted by a stride), so each (collective, size, group size) is timed
 * once, on the first group that issues it.
 * @return SP_OK or the engine's error
 */
SP_MUST_USE int cli_sim_fold(cli_sim *s, eng *e, wl *w, diag_list *diag);

/**
 * The nodes a run of s uses (for eng_new_nodes): those of the ranks with
 * operations and of the members of the folded collectives cli_sim_fold
 * times (the first of each kind).
 * @param[out] out  per node, 1 if used; the caller frees it
 * @return SP_OK or SP_ENOMEM
 */
SP_MUST_USE int cli_sim_nodes(const cli_sim *s, const plat *p, uint8_t **out);

/* Replay the workload on the engine; times are kept in s. */
SP_MUST_USE int cli_sim_run(cli_sim *s, eng *e, diag_list *diag);

/* A rank's summary from the times of the last run. @return SP_OK or SP_ENOMEM */
SP_MUST_USE int cli_sim_summary(const cli_sim *s, int rank, cli_rank_summary *out);

/* Per layer l < nlayers of a rank: out[3l] compute, out[3l+1] communication,
 * out[3l+2] communication no compute hides (s; out zeroed by the caller). */
SP_MUST_USE int cli_sim_layers(const cli_sim *s, int rank, size_t nlayers, double *out);

/* The iteration time: the latest finish over the ranks. */
double cli_sim_makespan(const cli_sim *s);

/* Write the Perfetto / Chrome-trace timeline of the last run (temporary name, then rename). */
SP_MUST_USE int cli_sim_write_timeline(const cli_sim *s, const plat *p, const char *path, diag_list *diag);

/* Add the table /replay/ops (every operation's times, group, algorithm) to an open output. */
SP_MUST_USE int cli_sim_write_ops(const cli_sim *s, out_file *f);

void cli_sim_free(cli_sim *s); /* NULL members are fine */

#endif

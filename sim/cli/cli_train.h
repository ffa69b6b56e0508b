/* cli_train.h - what `train` and `study` share: the layout options, one
 * simulated training configuration, its printout and its HDF5 row
 * (internal to sim/cli/). */
#ifndef SP_CLI_TRAIN_H
#define SP_CLI_TRAIN_H

#include <stdbool.h>

#include "cli/cli_sim.h"
#include "eng/eng.h"
#include "model/model.h"
#include "out/out.h"
#include "plat/plat.h"
#include "train/train.h"

#define CLI_TRAIN_MAX_STAGES 16

typedef struct cli_train_args {
    train_config cfg;
    int gbs;  /* global batch in sequences; 0 = from micro-batches */
    int fold; /* 0 auto, 1 on, 2 off */
} cli_train_args;

typedef struct cli_train_result {
    model_memory mem;
    double capacity;       /* bytes of GPU memory */
    bool fits;
    double step_s;         /* simulated optimizer step */
    double tokens_per_s;
    double tflops_per_gpu; /* model FLOPs (train_model_flops_per_token) per second per GPU, 1e12 */
    double tflops_per_gpu_causal; /* the same, attention's causal half only (Megatron-LM's count) */
    double moe_load;              /* MoE: train_moe_load, 1 for dense models */
    double moe_dropped;           /* MoE: share of the busiest rank's routed tokens dropped */
    double mfu;            /* of the dense bf16 peak */
    size_t nops;           /* operations simulated */
    double simgrid_nodes;  /* nodes SimGrid was given (eng_node_count): the others run nothing */
    int nstages;           /* pipeline stages summarised (all, up to CLI_TRAIN_MAX_STAGES) */
    int stage_rank[CLI_TRAIN_MAX_STAGES];
    cli_rank_summary stage[CLI_TRAIN_MAX_STAGES];
    double pp_wait[CLI_TRAIN_MAX_STAGES]; /* s waiting for other stages: receives no compute hides, and
                                             the end of the step after the stage finished */
} cli_train_result;

void cli_train_defaults(cli_train_args *a);

/* A layout option (getopt code c: T P C V E Z B S G M L F g R U O Q a x W I s,
 * 301 --moe-capacity, 302 --moe-pad, 304 --lora-targets, 305 --fp8-params,
 * 306 --no-weight-cache, 307 --lora-dropout, 308 --lora-a2a, 309 --cp-comm-type) into a.
 * @return SP_OK; SP_EINPUT (reported); 1 if c is not a layout option */
int cli_train_layout_opt(cli_train_args *a, int c, const char *val, diag_list *diag);
/* After the options: --lora-targets or --lora-dropout given for full training is refused
 * (train refuses --lora-a2a so itself, and train_check again).
 * @return SP_OK; SP_EINPUT (reported) */
SP_MUST_USE int cli_train_lora_check(const model_layout *l, diag_list *diag);

/* DP from the platform's GPUs, micro-batches from the global batch, folding. */
SP_MUST_USE int cli_train_resolve(cli_train_args *a, const plat *p, diag_list *diag);
/* l's micro-batches per step, once its DP is known: gbs / (micro-batch x DP)
 * when gbs > 0 (SP_EINPUT, reported, if that does not divide), else as given,
 * or PP when none was. */
SP_MUST_USE int cli_train_microbatches(int gbs, model_layout *l, diag_list *diag);

/**
 * Memory fit, then one step built by train_build() and simulated on *e.
 * @param e  the engine; if *e is NULL, one is started here on the nodes the
 *           step uses (eng_new_nodes; the caller frees it with eng_free)
 * @param keep, keep_w  if not NULL, receive the simulation and workload
 *                      (the caller frees them with cli_sim_free, wl_free)
 */
/**
 * The nodes one step of c uses (cli_sim_nodes), added to keep (per node,
 * non-zero if used): the workload is built and planned, then freed; for an
 * engine that several configurations share (study's rungs).
 * @return SP_OK; the build's or the plan's error (reported in diag)
 */
SP_MUST_USE int cli_train_nodes(const plat *p, const model *m, const train_config *c, const coll_opts *co,
                                uint8_t *keep, diag_list *diag);

SP_MUST_USE int cli_train_simulate(eng **e, const plat *p, const model *m, const train_config *c,
                                   const coll_opts *co, cli_train_result *res, cli_sim *keep, wl **keep_w,
                                   diag_list *diag);

/* "TP 8 x CP 1 x PP 16 x DP 64, ZeRO-1, ..." */
void cli_train_describe(const cli_train_args *a, char *buf, size_t size);
void cli_train_print(const cli_train_result *r, const plat *p);

typedef struct cli_train_row {
    const char *label;    /* the study's rung name, or the platform's */
    const char *platform; /* platform id */
    const char *model;
    const char *mode;     /* "pretrain", "full fine-tune", ... */
    int nodes, gpus;
    const cli_train_args *a;
    const cli_train_result *r;
} cli_train_row;

/* A table of configurations and their results (one row each). */
SP_MUST_USE int cli_train_write_rows(out_file *f, const char *group, const cli_train_row *rows, size_t n);

#endif

/* study.h - the scale-up study: training jobs on a ladder of platforms,
 * the parallelism search on each rung, and the economics that turn step
 * times into days, dollars and kilowatt-hours, and a recommendation.
 *
 * A study file (libconfig, docs/study-format.md) names the jobs (a model
 * file, full pretraining or a full / LoRA / QLoRA fine-tune, the tokens to
 * train on, sequence length, global batch, a deadline) and the ladder's
 * rungs (a platform file, a node count, a cloud price), and what the lab
 * already owns. Paths are relative to the study file. No SimGrid here:
 * the caller simulates the layouts study_search() proposes.
 *
 * Ownership: study_load() gives the caller a study (study_free()), which
 * owns its models and platforms (expanded to each rung's node count).
 */
#ifndef SP_STUDY_H
#define SP_STUDY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coll/coll.h"
#include "model/model.h"
#include "plat/plat.h"
#include "train/train.h"
#include "util/diag.h"

typedef struct study_job {
    char *name;
    char *model_path;
    model *m;
    char *mode;           /* "pretrain", "full", "lora", "qlora" */
    model_tune tune;
    int lora_rank;
    unsigned lora_targets; /* LoRA / QLoRA: layers with adapters, MODEL_LORA_* bits */
    double lora_dropout;  /* LoRA / QLoRA: dropout before each adapter (model_layout) */
    bool lora_a2a;        /* LoRA / QLoRA under TP: adapters' output by all-to-all (train_config) */
    model_adam adam;      /* precision of Adam's moments */
    bool unfused_loss;    /* the loss as plain PyTorch computes it (model_layout) */
    bool fp8_params;      /* FP8: linear weights stored in FP8 (model_layout) */
    bool no_weight_cache; /* FP8: no quantized weights kept between micro-batches (model_layout) */
    bool tp_overlap;      /* TP communication pipelined with its GEMMs (train_config) */
    bool sms_free;        /* compute keeps every SM beside collectives (train_config) */
    double moe_imbalance; /* MoE: the busiest EP rank's tokens over the mean, >= 1 */
    double moe_capacity;  /* MoE: experts' capacity factor; 0 = dropless (train_config) */
    bool moe_pad;         /* MoE: inputs padded to the capacity (train_config) */
    int max_cp;           /* context parallel: sizes 1, 2, 4 .. max_cp searched (1 = none) */
    train_cp_comm cp_comm; /* context parallelism's method where CP > 1 (train_config) */
    double tokens;        /* tokens to train on */
    int seq_len;
    int global_batch;     /* sequences per optimizer step */
    plat_prec prec;
    double deadline_days; /* 0 = none */
    int line;
} study_job;

typedef struct study_rung {
    char *name;
    char *platform_path;
    plat *p;
    int nodes;
    double cloud_USD_per_gpu_hour; /* 0 = not offered */
    double extra_capex_USD;        /* beyond the nodes (a switch, cables) */
    coll_opts coll;                /* NCCL's options on this rung: collnet (NCCL_COLLNET_ENABLE) */
    int line;
} study_rung;

typedef struct study {
    char *path, *name, *description;
    double electricity_USD_per_kWh;
    char *owned_node;   /* product name of the nodes the lab owns (node type `name`), or NULL */
    int owned_count;
    int max_simulated;  /* layouts simulated per job and rung (the best estimates) */
    study_job *jobs;
    size_t njobs;
    study_rung *rungs;
    size_t nrungs;
} study;

/**
 * Load and check a study, its models and platforms; every problem is
 * reported, each at its file and line.
 * @return SP_OK; SP_EINPUT; SP_ENOMEM
 */
SP_MUST_USE int study_load(study **out, const char *path, diag_list *diag);
void study_free(study *s); /* NULL is fine */

/**
 * The CRC-32 of what a study reads: its file, every job's model file and
 * every rung's platform file, each with what it @includes (cfg_digest()).
 * The parts of a sharded study are merged only when their digests agree.
 * @return SP_OK; SP_EINPUT (a file cannot be read any more: reported); SP_ENOMEM
 */
SP_MUST_USE int study_digest(const study *s, uint32_t *crc, diag_list *diag);

typedef struct study_candidate {
    train_config c;
    double estimate_s;    /* train_estimate() */
    model_memory mem;
    size_t seq;           /* enumeration order, breaks ties */
} study_candidate;

/**
 * The parallelism search of a job on a rung: every layout (TP within a
 * node, dividing the query and key/value heads; CP 1, 2, 4 .. up to the
 * job's max_cp, 2 x CP dividing the sequence; PP; DP the rest; EP within
 * DP for MoE models;
 * ZeRO 0-3 for full training;
 * micro-batch 1, 2, 4, 8 dividing the global batch; interleaving 1, 2, 4;
 * recompute none, selective, full) whose memory fits the GPU, ranked by
 * train_estimate(), best first (ties: the first enumerated). When none
 * fits, *n is 0 and *least holds the smallest memory need found, with its
 * layout in *least_cfg.
 * @param co        NCCL's options on the rung (its collnet), for the
 *                  estimates; NULL: NCCL's defaults
 * @param[out] out  array owned by the caller (free())
 * @return SP_OK; SP_ENOMEM
 */
SP_MUST_USE int study_search(const study_job *j, const plat *p, const coll_opts *co, study_candidate **out, size_t *n,
                             study_candidate *least, diag_list *diag);

/* Economics and the verdict of one (job, rung). */
typedef struct study_outcome {
    bool fits;
    double tokens_per_s;      /* simulated; 0 when it does not fit */
    double days;              /* to train the job's tokens */
    double capex_USD;         /* to buy the rung, less what the lab owns */
    double cloud_USD;         /* renting the rung's GPUs for that time; 0 = not offered */
    double energy_kWh;        /* the rung's nodes at their maximum power for that time; 0 = unknown */
    double electricity_USD;
    bool meets_deadline;
    bool pareto;              /* no other rung is both cheaper to buy and faster */
    bool recommended;
} study_outcome;

/* Days, dollars and energy of a job on a rung at tokens_per_s (0 = does not fit). */
void study_economics(const study *s, size_t job, size_t rung, double tokens_per_s, study_outcome *o);

/**
 * Mark the Pareto front (capex against days, among rungs where the job
 * fits) and the recommended rung: the cheapest to buy that meets the
 * deadline (ties: the faster); with no deadline or none meeting it, the
 * fastest. out has one entry per rung.
 * @return the recommended rung, or -1 when the job fits nowhere
 */
int study_recommend(const study *s, size_t job, study_outcome *out);

#endif

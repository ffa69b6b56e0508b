/* study.c - study files, the parallelism search, economics, the verdict. */
#include "study/study.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cfg/cfg.h"
#include "coll/coll.h"
#include "util/str.h"
#include "util/vec.h"

/* clang-format off */
static const cfg_key root_keys[] = {
    {"format_version",          CFG_INT,    true,  1, 1, false, "study format version, 1"},
    {"name",                    CFG_STRING, true,  0, 0, false, "the study's name"},
    {"description",             CFG_STRING, false, 0, 0, false, "one paragraph for the report"},
    {"electricity_USD_per_kWh", CFG_NUMBER, true,  0, 100, false, "electricity price"},
    {"owned",                   CFG_GROUP,  false, 0, 0, false, "what the lab already owns: { node; count; }"},
    {"max_simulated",           CFG_INT,    false, 1, 64, false, "layouts simulated per job and rung, best estimates first (default 2)"},
    {"jobs",                    CFG_LIST,   true,  0, 0, false, "the training jobs"},
    {"ladder",                  CFG_LIST,   true,  0, 0, false, "the rungs: platforms and node counts"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key owned_keys[] = {
    {"node",  CFG_STRING, true, 0, 0, false, "node product name, as the platform's node `name`"},
    {"count", CFG_INT,    true, 0, 1e6, false, "how many"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key job_keys[] = {
    {"name",          CFG_STRING, true,  0, 0, false, "the job's name"},
    {"model",         CFG_STRING, true,  0, 0, false, "model file, relative to the study"},
    {"mode",          CFG_STRING, true,  0, 0, false, "pretrain, full (fine-tune), lora or qlora"},
    {"tokens",        CFG_NUMBER, true,  0, 1e16, true, "tokens to train on"},
    {"seq_len",       CFG_INT,    true,  1, 1 << 24, false, "tokens per sequence"},
    {"global_batch",  CFG_INT,    true,  1, 1 << 24, false, "sequences per optimizer step"},
    {"precision",     CFG_STRING, false, 0, 0, false, "GEMM precision: bf16 (default), fp8, fp4"},
    {"deadline_days", CFG_NUMBER, false, 0, 1e6, false, "the time to train it should take at most; 0 = none"},
    {"lora_rank",     CFG_INT,    false, 1, 65536, false, "LoRA / QLoRA adapter rank (default 16)"},
    {"lora_targets",  CFG_STRING, false, 0, 0, false, "LoRA / QLoRA: layers with adapters, as train's --lora-targets (default all)"},
    {"lora_dropout",  CFG_NUMBER, false, 0, 0.99, false, "LoRA / QLoRA: dropout before each adapter, as train's --lora-dropout (default 0)"},
    {"lora_a2a",      CFG_BOOL,   false, 0, 0, false,
     "LoRA / QLoRA under TP: adapters' output back to the sequence shards by all-to-all, as train's --lora-a2a (default false)"},
    {"adam_state",    CFG_STRING, false, 0, 0, false, "Adam's moments: fp32 (default), bf16, int8 or pure-bf16"},
    {"loss",          CFG_STRING, false, 0, 0, false, "cross-entropy: fused (Megatron-LM, default) or unfused (PyTorch)"},
    {"fp8_params",    CFG_BOOL,   false, 0, 0, false,
     "FP8: the linear weights stored in FP8, as train's --fp8-params (default false)"},
    {"weight_cache",  CFG_BOOL,   false, 0, 0, false,
     "FP8: quantized weights kept between micro-batches (default true; false as train's --no-weight-cache)"},
    {"tp_overlap",    CFG_BOOL,   false, 0, 0, false, "TP communication pipelined with its GEMMs (default false)"},
    {"context_parallel", CFG_INT, false, 1, 1 << 20, false,
     "the largest context-parallel size the search tries, a power of two: CP 1, 2, 4 .. up to it (default 1: none)"},
    {"cp_comm_type",  CFG_STRING, false, 0, 0, false,
     "context parallelism's method where CP > 1, as train's --cp-comm-type: p2p (default, Megatron-LM's), all_gather or a2a"},
    {"sm_contention", CFG_BOOL,   false, 0, 0, false, "compute loses the SMs of collectives beside it (default true)"},
    {"moe_imbalance", CFG_NUMBER, false, 1, 1e6, false, "MoE: busiest expert-parallel rank's tokens over the mean (default 1)"},
    {"moe_capacity_factor", CFG_NUMBER, false, 0, 1e6, true,
     "MoE: experts' capacity factor (Megatron-LM's); tokens beyond it are dropped (default: none, dropless)"},
    {"moe_pad", CFG_BOOL, false, 0, 0, false, "MoE: pad every expert's input to its capacity (default false)"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key rung_keys[] = {
    {"name",                   CFG_STRING, true,  0, 0, false, "the rung's name"},
    {"platform",               CFG_STRING, true,  0, 0, false, "platform file, relative to the study"},
    {"nodes",                  CFG_INTS,   false, 1, 1 << 20, false,
     "nodes (default 1); an array [1, 2, 4] makes one rung per count, named \"NAME, N nodes\""},
    {"cloud_USD_per_gpu_hour", CFG_NUMBER, false, 0, 1e4, false, "on-demand price per GPU-hour; 0 = not offered"},
    {"extra_capex_USD",        CFG_NUMBER, false, 0, 1e10, false, "to buy beyond the nodes (a switch, cables)"},
    {"collnet",                CFG_BOOL,   false, 0, 0, false,
     "NCCL_COLLNET_ENABLE=1: in-network reduction (SHARP), which the platform's fabric must have (default false)"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
/* clang-format on */

void study_free(study *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->njobs; i++) {
        free(s->jobs[i].name);
        free(s->jobs[i].model_path);
        free(s->jobs[i].mode);
        model_free(s->jobs[i].m);
    }
    for (size_t i = 0; i < s->nrungs; i++) {
        free(s->rungs[i].name);
        free(s->rungs[i].platform_path);
        plat_free(s->rungs[i].p);
    }
    free(s->jobs);
    free(s->rungs);
    free(s->path);
    free(s->name);
    free(s->description);
    free(s->owned_node);
    free(s);
}

/* path relative to the folder of `base`. */
static char *relative_to(const char *base, const char *path)
{
    const char *slash = strrchr(base, '/');
    if (path[0] == '/' || slash == NULL)
        return str_dup(path);
    return str_format("%.*s/%s", (int)(slash - base), base, path);
}

int study_digest(const study *s, uint32_t *crc, diag_list *diag)
{
    int err;

    *crc = 0;
    err = cfg_digest(s->path, crc, diag);
    for (size_t j = 0; j < s->njobs && err == SP_OK; j++)
        err = cfg_digest(s->jobs[j].model_path, crc, diag);
    for (size_t r = 0; r < s->nrungs && err == SP_OK; r++)
        err = cfg_digest(s->rungs[r].platform_path, crc, diag);
    return err;
}

/* The line of a member of g (or of g when it is absent), in the study file. */
static unsigned key_line(const cfg_file *f, const config_setting_t *g, const char *key)
{
    const config_setting_t *k = config_setting_get_member(g, key);
    return cfg_loc(f, k != NULL ? k : g).line;
}

static int load_job(study *s, study_job *j, const cfg_file *f, const config_setting_t *g, diag_list *diag)
{
    static const char *const modes[] = {"pretrain", "full", "lora", "qlora"};
    const char *mode, *prec;
    int err = cfg_check(f, g, job_keys, "job"), k;
    sp_loc at = cfg_loc(f, g);

    j->line = (int)at.line;
    /* Go on after a bad key: the model file's problems are reported too. */
    mode = cfg_string(g, "mode", "");
    for (k = 0; k < 4 && strcmp(modes[k], mode) != 0; k++)
        ;
    if (k == 4 && config_setting_get_member(g, "mode") != NULL) {
        diag_error(diag, (sp_loc){s->path, key_line(f, g, "mode")},
                   "job: mode \"%s\": expected pretrain, full, lora or qlora", mode);
        err = SP_EINPUT;
    }
    j->tune = k == 2 ? MODEL_TRAIN_LORA : k == 3 ? MODEL_TRAIN_QLORA : MODEL_TRAIN_FULL;
    prec = cfg_string(g, "precision", "bf16");
    j->prec = PLAT_BF16;
    for (k = 0; k < PLAT_NPREC && strcmp(plat_prec_name((plat_prec)k), prec) != 0; k++)
        ;
    if (k != PLAT_BF16 && k != PLAT_FP16 && k != PLAT_FP8 && k != PLAT_FP4) {
        diag_error(diag, (sp_loc){s->path, key_line(f, g, "precision")},
                   "job: precision \"%s\": expected bf16, fp16, fp8 or fp4", prec);
        err = SP_EINPUT;
    } else {
        j->prec = (plat_prec)k;
    }
    j->tokens = cfg_number(g, "tokens", 0.0);
    j->seq_len = (int)cfg_int(g, "seq_len", 1);
    j->global_batch = (int)cfg_int(g, "global_batch", 1);
    j->deadline_days = cfg_number(g, "deadline_days", 0.0);
    j->lora_rank = (int)cfg_int(g, "lora_rank", 16);
    j->lora_dropout = cfg_number(g, "lora_dropout", 0.0);
    if (j->tune == MODEL_TRAIN_FULL && j->lora_dropout > 0.0) {
        diag_error(diag, (sp_loc){s->path, key_line(f, g, "lora_dropout")},
                   "job: lora_dropout applies to mode lora or qlora, not \"%s\"", mode);
        err = SP_EINPUT;
    }
    j->lora_a2a = cfg_bool(g, "lora_a2a", false);
    if (j->tune == MODEL_TRAIN_FULL && j->lora_a2a) {
        diag_error(diag, (sp_loc){s->path, key_line(f, g, "lora_a2a")},
                   "job: lora_a2a applies to mode lora or qlora, not \"%s\"", mode);
        err = SP_EINPUT;
    }
    {
        const char *t = cfg_string(g, "lora_targets", "all"), *why = NULL;
        if (model_lora_targets_parse(t, &j->lora_targets, &why) < 0) {
            if (why != NULL)
                diag_error(diag, (sp_loc){s->path, key_line(f, g, "lora_targets")}, "job: lora_targets \"%s\": %s",
                           t, why);
            else
                diag_error(diag, (sp_loc){s->path, key_line(f, g, "lora_targets")},
                           "job: lora_targets \"%s\": expected a comma-separated list of qkv, proj, fc1, fc2, "
                           "attention, mlp, all (Megatron-LM's layers) or q, k, v, o, gate, up, down, all-linear "
                           "(Hugging Face's modules, also as q_proj ...)", t);
            err = SP_EINPUT;
        } else if (j->tune == MODEL_TRAIN_FULL && config_setting_get_member(g, "lora_targets") != NULL) {
            diag_error(diag, (sp_loc){s->path, key_line(f, g, "lora_targets")},
                       "job: lora_targets applies to mode lora or qlora, not \"%s\"", mode);
            err = SP_EINPUT;
        }
    }
    {
        const char *a = cfg_string(g, "adam_state", "fp32");
        if (model_adam_parse(a, &j->adam) < 0) {
            diag_error(diag, (sp_loc){s->path, key_line(f, g, "adam_state")},
                       "job: adam_state \"%s\": expected fp32, bf16, int8 or pure-bf16", a);
            err = SP_EINPUT;
        }
    }
    {
        const char *loss = cfg_string(g, "loss", "fused");
        if (model_loss_parse(loss, &j->unfused_loss) < 0) {
            diag_error(diag, (sp_loc){s->path, key_line(f, g, "loss")},
                       "job: loss \"%s\": expected fused or unfused", loss);
            err = SP_EINPUT;
        }
    }
    j->fp8_params = cfg_bool(g, "fp8_params", false);
    j->no_weight_cache = !cfg_bool(g, "weight_cache", true);
    if ((j->fp8_params || config_setting_get_member(g, "weight_cache") != NULL) && j->prec != PLAT_FP8) {
        const char *key = j->fp8_params ? "fp8_params" : "weight_cache";
        diag_error(diag, (sp_loc){s->path, key_line(f, g, key)}, "job: %s applies to precision fp8, not %s", key,
                   plat_prec_name(j->prec));
        err = SP_EINPUT;
    } else if (j->fp8_params &&
               (j->tune == MODEL_TRAIN_QLORA || (j->tune == MODEL_TRAIN_FULL && j->adam == MODEL_ADAM_PURE_BF16))) {
        diag_error(diag, (sp_loc){s->path, key_line(f, g, "fp8_params")},
                   "job: fp8_params: not with %s (trained FP8 weights are requantized from an fp32 master copy; "
                   "QLoRA's base is NF4)",
                   j->tune == MODEL_TRAIN_QLORA ? "mode qlora" : "adam_state pure-bf16");
        err = SP_EINPUT;
    }
    j->tp_overlap = cfg_bool(g, "tp_overlap", false);
    j->max_cp = (int)cfg_int(g, "context_parallel", 1);
    long long seq = cfg_int(g, "seq_len", 0); /* 0 where missing: reported already */
    if ((j->max_cp & (j->max_cp - 1)) != 0) {
        diag_error(diag, (sp_loc){s->path, key_line(f, g, "context_parallel")},
                   "job: context_parallel %d: expected a power of two (the search tries CP 1, 2, 4 ..)", j->max_cp);
        err = SP_EINPUT;
    } else if (j->max_cp > 1 && seq % 4 != 0) {
        diag_error(diag, (sp_loc){s->path, key_line(f, g, "context_parallel")},
                   "job: context_parallel %d: CP splits each sequence in 2 x CP chunks, and seq_len %lld is not a "
                   "multiple of 4 (CP 2)", j->max_cp, seq);
        err = SP_EINPUT;
    }
    {
        const char *kind = cfg_string(g, "cp_comm_type", "p2p");
        if (train_cp_comm_parse(kind, &j->cp_comm) < 0) {
            diag_error(diag, (sp_loc){s->path, key_line(f, g, "cp_comm_type")},
                       "job: cp_comm_type \"%s\": expected p2p, all_gather or a2a", kind);
            err = SP_EINPUT;
        } else if (j->max_cp <= 1 && config_setting_get_member(g, "cp_comm_type") != NULL) {
            diag_error(diag, (sp_loc){s->path, key_line(f, g, "cp_comm_type")},
                       "job: cp_comm_type applies where the search tries context parallelism: set context_parallel "
                       "above 1");
            err = SP_EINPUT;
        }
    }
    j->sms_free = !cfg_bool(g, "sm_contention", true);
    j->moe_imbalance = cfg_number(g, "moe_imbalance", 1.0);
    j->moe_capacity = cfg_number(g, "moe_capacity_factor", 0.0);
    j->moe_pad = cfg_bool(g, "moe_pad", false);
    if ((j->name = str_dup(cfg_string(g, "name", ""))) == NULL || (j->mode = str_dup(mode)) == NULL ||
        (j->model_path = relative_to(s->path, cfg_string(g, "model", ""))) == NULL)
        return SP_ENOMEM;
    if (config_setting_get_member(g, "model") != NULL) {
        int e = model_load(&j->m, j->model_path, diag);
        if (e == SP_ENOMEM)
            return e;
        if (e < 0)
            err = SP_EINPUT;
    }
    if (j->m != NULL && j->tune != MODEL_TRAIN_FULL && model_lora_gate_missing(j->m, j->lora_targets)) {
        diag_error(diag, (sp_loc){s->path, key_line(f, g, "lora_targets")},
                   "job: lora_targets gate: %s has no gated FFN (its first FFN layer is up alone)", j->m->name);
        err = SP_EINPUT;
    }
    if (j->m != NULL && j->moe_imbalance > 1.0 && j->m->experts <= 1) {
        diag_error(diag, (sp_loc){s->path, key_line(f, g, "moe_imbalance")},
                   "job: moe_imbalance %g for %s, which has no mixture of experts", j->moe_imbalance, j->m->name);
        err = SP_EINPUT;
    }
    if (j->m != NULL && j->m->experts <= 1 && config_setting_get_member(g, "moe_capacity_factor") != NULL) {
        diag_error(diag, (sp_loc){s->path, key_line(f, g, "moe_capacity_factor")},
                   "job: moe_capacity_factor for %s, which has no mixture of experts", j->m->name);
        err = SP_EINPUT;
    }
    if (j->moe_pad && config_setting_get_member(g, "moe_capacity_factor") == NULL) {
        diag_error(diag, (sp_loc){s->path, key_line(f, g, "moe_pad")},
                   "job: moe_pad pads each expert's input to its capacity: it needs moe_capacity_factor");
        err = SP_EINPUT;
    }
    return err;
}

/* Rung r from ladder entry g, already checked (cfg_check): with nodes, the
 * count of an entry whose `nodes` is an array (named "NAME, N nodes"), or 0
 * for the entry's own (plain) `nodes`. */
static int load_rung(study *s, study_rung *r, const cfg_file *f, const config_setting_t *g, long long nodes,
                     diag_list *diag)
{
    sp_loc at = cfg_loc(f, g);
    const char *name = cfg_string(g, "name", "");
    int e;

    r->line = (int)at.line;
    r->cloud_USD_per_gpu_hour = cfg_number(g, "cloud_USD_per_gpu_hour", 0.0);
    r->extra_capex_USD = cfg_number(g, "extra_capex_USD", 0.0);
    r->coll.collnet = cfg_bool(g, "collnet", false);
    r->name = nodes > 0 ? str_format("%s, %lld node%s", name, nodes, nodes == 1 ? "" : "s") : str_dup(name);
    if (r->name == NULL || (r->platform_path = relative_to(s->path, cfg_string(g, "platform", ""))) == NULL)
        return SP_ENOMEM;
    if ((e = plat_load(&r->p, r->platform_path, diag)) == SP_ENOMEM)
        return e;
    if (e == SP_OK) {
        long long one = r->p->fixed_nodes > 0 ? r->p->fixed_nodes : 1;
        if (nodes == 0)
            cfg_ints(g, "nodes", &one, 1);
        else if (r->p->fixed_nodes > 0) {
            diag_error(diag, (sp_loc){s->path, key_line(f, g, "nodes")},
                       "rung \"%s\": platform %s has a fixed number of nodes; nodes cannot be a list", name,
                       r->platform_path);
            return SP_EINPUT;
        } else
            one = nodes;
        r->nodes = (int)one;
    }
    if (r->p != NULL && (e = plat_set_nodes(r->p, r->nodes, diag)) == SP_ENOMEM)
        return e;
    if (r->p == NULL || e < 0) {
        diag_error(diag, (sp_loc){s->path, at.line}, "rung \"%s\": platform %s cannot be used (see above)", r->name,
                   r->platform_path);
        return SP_EINPUT;
    }
    if (r->coll.collnet && !r->p->fabric.in_network_reduction) {
        diag_error(diag, (sp_loc){s->path, key_line(f, g, "collnet")},
                   "rung \"%s\": collnet needs a fabric that reduces in the network, and %s's does not "
                   "(fabric.in_network_reduction)",
                   r->name, r->platform_path);
        return SP_EINPUT;
    }
    return SP_OK;
}

/* Every rung of the ladder: one per entry, or one per count of an entry
 * whose nodes is an array. */
static int load_ladder(study *s, const cfg_file *f, const config_setting_t *ladder, diag_list *diag)
{
    int n = config_setting_length(ladder), err = SP_OK;
    size_t total = 0;

    if (n == 0) {
        diag_error(diag, cfg_loc(f, ladder), "study: ladder is empty");
        err = SP_EINPUT;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(ladder, (unsigned)i), *k;
        k = config_setting_get_member(g, "nodes");
        total += k != NULL && config_setting_type(k) == CONFIG_TYPE_ARRAY && config_setting_length(k) > 0
                     ? (size_t)config_setting_length(k)
                     : 1;
    }
    if ((s->rungs = calloc(total + 1, sizeof(*s->rungs))) == NULL)
        return SP_ENOMEM;
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(ladder, (unsigned)i);
        const config_setting_t *k = config_setting_get_member(g, "nodes");
        int e = cfg_check(f, g, rung_keys, "rung"), listed = k != NULL && config_setting_type(k) == CONFIG_TYPE_ARRAY;
        size_t cnt = listed && config_setting_length(k) > 0 ? (size_t)config_setting_length(k) : 1;
        long long *counts = calloc(cnt, sizeof(*counts));

        if (counts == NULL)
            return SP_ENOMEM;
        if (listed)
            cfg_ints(g, "nodes", counts, cnt);
        for (size_t c = 0; c < cnt; c++) {
            study_rung *r = &s->rungs[s->nrungs++];
            r->line = (int)cfg_loc(f, g).line;
            if (e == SP_OK)
                e = load_rung(s, r, f, g, listed ? counts[c] : 0, diag);
        }
        free(counts);
        if (e == SP_ENOMEM)
            return e;
        if (e < 0)
            err = e;
    }
    return err;
}

int study_load(study **out, const char *path, diag_list *diag)
{
    cfg_file f;
    const config_setting_t *root, *jobs, *ladder, *owned;
    study *s;
    int err;

    *out = NULL;
    if ((err = cfg_open(&f, path, diag)) < 0)
        return err;
    root = config_root_setting(&f.cfg);
    if ((s = calloc(1, sizeof(*s))) == NULL || (s->path = str_dup(path)) == NULL) {
        free(s);
        cfg_close(&f);
        return SP_ENOMEM;
    }
    err = cfg_check(&f, root, root_keys, "study");
    if ((s->name = str_dup(cfg_string(root, "name", ""))) == NULL ||
        (s->description = str_dup(cfg_string(root, "description", ""))) == NULL)
        err = SP_ENOMEM;
    s->electricity_USD_per_kWh = cfg_number(root, "electricity_USD_per_kWh", 0.0);
    s->max_simulated = (int)cfg_int(root, "max_simulated", 2);
    owned = config_setting_get_member(root, "owned");
    if (owned != NULL && config_setting_type(owned) == CONFIG_TYPE_GROUP) {
        int e = cfg_check(&f, owned, owned_keys, "owned");
        if (e < 0)
            err = err < 0 ? err : e;
        else if ((s->owned_node = str_dup(cfg_string(owned, "node", ""))) == NULL)
            err = SP_ENOMEM;
        s->owned_count = (int)cfg_int(owned, "count", 0);
    }
    jobs = config_setting_get_member(root, "jobs");
    ladder = config_setting_get_member(root, "ladder");
    if (jobs != NULL && config_setting_type(jobs) == CONFIG_TYPE_LIST && err != SP_ENOMEM) {
        int n = config_setting_length(jobs);
        if (n == 0) {
            diag_error(diag, cfg_loc(&f, jobs), "study: jobs is empty");
            err = SP_EINPUT;
        }
        if ((s->jobs = calloc((size_t)n + 1, sizeof(*s->jobs))) == NULL)
            err = SP_ENOMEM;
        for (int i = 0; i < n && s->jobs != NULL; i++) {
            int e = load_job(s, &s->jobs[i], &f, config_setting_get_elem(jobs, (unsigned)i), diag);
            s->njobs++;
            if (e < 0 && err != SP_ENOMEM)
                err = e;
        }
    }
    if (ladder != NULL && config_setting_type(ladder) == CONFIG_TYPE_LIST && err != SP_ENOMEM) {
        int e = load_ladder(s, &f, ladder, diag);
        if (e < 0 && err != SP_ENOMEM)
            err = e;
    }
    cfg_close(&f);
    /* Names tell jobs and rungs apart in the report and the HDF5 tables (and
     * a rung array's "NAME, N nodes" could meet a rung of that name). */
    for (size_t a = 0; err != SP_ENOMEM && a < s->njobs; a++)
        for (size_t b = 0; b < a; b++)
            if (s->jobs[a].name != NULL && s->jobs[b].name != NULL && strcmp(s->jobs[a].name, s->jobs[b].name) == 0) {
                diag_error(diag, (sp_loc){s->path, (unsigned)s->jobs[a].line},
                           "job \"%s\": another job has this name (line %d); names must differ", s->jobs[a].name,
                           s->jobs[b].line);
                err = SP_EINPUT;
                break;
            }
    for (size_t a = 0; err != SP_ENOMEM && a < s->nrungs; a++)
        for (size_t b = 0; b < a; b++)
            if (s->rungs[a].name != NULL && s->rungs[b].name != NULL &&
                strcmp(s->rungs[a].name, s->rungs[b].name) == 0) {
                if (s->rungs[a].line == s->rungs[b].line)
                    diag_error(diag, (sp_loc){s->path, (unsigned)s->rungs[a].line},
                               "rung \"%s\": its nodes array lists a count twice", s->rungs[a].name);
                else
                    diag_error(diag, (sp_loc){s->path, (unsigned)s->rungs[a].line},
                               "rung \"%s\": another rung has this name (line %d); names must differ",
                               s->rungs[a].name, s->rungs[b].line);
                err = SP_EINPUT;
                break;
            }
    /* What no layout search can get round: say it now, at the job's line. */
    for (size_t j = 0, loaded = err == SP_OK; loaded && j < s->njobs; j++)
        for (size_t r = 0; r < s->nrungs; r++) {
            const plat *p = s->rungs[r].p;
            const plat_gpu *g = &plat_type_of_rank(p, 0)->gpu;
            if (!plat_is_homogeneous(p)) {
                diag_error(diag, (sp_loc){s->path, (unsigned)s->rungs[r].line},
                           "rung \"%s\": platform %s mixes node types; a study models one GPU type per rung",
                           s->rungs[r].name, p->name);
                err = SP_EINPUT;
            } else if (!(g->peak_flops[s->jobs[j].prec] > 0.0)) {
                diag_error(diag, (sp_loc){s->path, (unsigned)s->jobs[j].line},
                           "job \"%s\": rung \"%s\": the %s has no %s peak rate", s->jobs[j].name, s->rungs[r].name,
                           g->model, plat_prec_name(s->jobs[j].prec));
                err = SP_EINPUT;
            } else if (!(g->eff_gemm > 0.0 && g->eff_attention > 0.0 && g->eff_memory > 0.0)) {
                diag_error(diag, (sp_loc){s->path, (unsigned)s->rungs[r].line},
                           "rung \"%s\": GPU %s has no efficiency table in %s", s->rungs[r].name, g->model,
                           s->rungs[r].platform_path);
                err = SP_EINPUT;
            } else if (s->jobs[j].max_cp > 1 && s->jobs[j].cp_comm == TRAIN_CP_P2P &&
                       !train_attention_blocks_measured(g)) {
                diag_warning(diag, (sp_loc){s->path, (unsigned)s->jobs[j].line},
                             "job \"%s\": rung \"%s\": GPU %s has no measured attention blocks (attention_shapes "
                             "with causal = false): the CP ring's kernels are priced as all_gather's, in even steps",
                             s->jobs[j].name, s->rungs[r].name, g->model);
            }
        }
    if (err < 0) {
        study_free(s);
        return err;
    }
    *out = s;
    return SP_OK;
}

/* --- the search --------------------------------------------------------- */

static int cmp_candidate(const void *a, const void *b)
{
    const study_candidate *x = a, *y = b;
    if (x->estimate_s != y->estimate_s)
        return x->estimate_s < y->estimate_s ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq); /* the enumeration order: deterministic */
}

int study_search(const study_job *j, const plat *p, const coll_opts *co, study_candidate **out, size_t *n,
                 study_candidate *least, diag_list *diag)
{
    static const int mbs_list[] = {1, 2, 4, 8};
    static const int vpp_list[] = {1, 2, 4};
    const model *m = j->m;
    int gpn = plat_node_gpus(p, 0), N = p->nranks, channels = coll_comm_channels(p);
    bool full = j->tune == MODEL_TRAIN_FULL;
    study_candidate *c = NULL;
    size_t cap = 0;
    diag_list *quiet = NULL;
    int err = SP_OK;

    *out = NULL;
    *n = 0;
    memset(least, 0, sizeof(*least));
    least->mem.total = INFINITY;
    if (channels < 0)
        return channels;
    if (diag_new(&quiet, 0) < 0) /* layouts that do not apply are skipped, not reported */
        return SP_ENOMEM;
    (void)diag;
    for (int tp = 1; tp <= gpn && err == SP_OK; tp *= 2) {
        if (gpn % tp != 0 || !model_tp_splits(m, tp))
            continue;
        for (int cp = 1; cp <= j->max_cp && tp * cp <= N && err == SP_OK; cp *= 2) {
            if (N % (tp * cp) != 0 || (cp > 1 && j->seq_len % (2 * cp) != 0)) /* in 2 x CP chunks */
                continue;
            for (int pp = 1; pp <= N / (tp * cp) && pp <= m->layers && err == SP_OK; pp++) {
                int dp;
                if ((N / (tp * cp)) % pp != 0)
                    continue;
                dp = N / (tp * cp * pp);
                for (int z = 0; z <= (full ? 3 : 0) && err == SP_OK; z++) {
                    /* Trained FP8 weights need a sharded optimizer (train_check_fp8),
                     * which on one data-parallel rank is the plain one. */
                    bool fp8_full = full && j->fp8_params;
                    if ((z == 3 && pp > 1) || (z > 0 && dp * cp == 1 && !(fp8_full && z == 1)) || (fp8_full && z == 0))
                        continue;
                    for (size_t b = 0; b < sizeof(mbs_list) / sizeof(*mbs_list) && err == SP_OK; b++) {
                        int mbs = mbs_list[b], micro;
                        if (j->global_batch % (mbs * dp) != 0)
                            continue;
                        micro = j->global_batch / (mbs * dp);
                        for (size_t v = 0; v < sizeof(vpp_list) / sizeof(*vpp_list) && err == SP_OK; v++) {
                            int vpp = vpp_list[v];
                            if (vpp > 1 && (pp == 1 || micro % pp != 0 || pp * vpp > m->layers))
                                continue;
                            for (int ep = 1; ep <= dp && err == SP_OK; ep *= 2) {
                                if (ep > 1 && (m->experts <= 1 || m->experts % ep != 0 || dp % ep != 0 || z >= 3))
                                    continue;
                                for (int rc = 0; rc < 3 && err == SP_OK; rc++) {
                                    study_candidate x;
                                    int e;
                                    memset(&x, 0, sizeof(x));
                                    x.c.l = (model_layout){tp, pp, dp, z, mbs, j->seq_len, micro, (model_recompute)rc, true,
                                                           j->tune, j->lora_rank, cp, vpp, ep, j->adam, channels,
                                                           j->prec == PLAT_FP8, j->unfused_loss, 0.0, j->lora_targets,
                                                           j->fp8_params, j->no_weight_cache, j->lora_dropout, false};
                                    x.c.prec = j->prec;
                                    x.c.tp_overlap = j->tp_overlap;
                                    x.c.cp_comm = cp > 1 ? j->cp_comm : TRAIN_CP_ALL_GATHER;
                                    x.c.lora_a2a = j->lora_a2a;
                                    x.c.sms_free = j->sms_free;
                                    /* The busiest of ep ranks takes at most every token. */
                                    x.c.moe_imbalance = ep > 1 ? fmin(j->moe_imbalance, ep) : 0.0;
                                    x.c.moe_capacity = j->moe_capacity;
                                    x.c.moe_pad = j->moe_pad;
                                    x.c.l.moe_load = train_moe_load(m, &x.c, NULL);
                                    /* a layout that does not apply is skipped (before its memory, so
                                     * that the least memory reported is a valid layout's); out of
                                     * memory ends the search */
                                    if ((e = train_check(m, p, &x.c, quiet)) < 0 ||
                                        (e = model_memory_per_gpu(&x.mem, m, &x.c.l, quiet)) < 0) {
                                        if (e == SP_ENOMEM)
                                            err = e;
                                        continue;
                                    }
                                    if (x.mem.total > plat_type_of_rank(p, 0)->gpu.mem_bytes) {
                                        if (x.mem.total < least->mem.total)
                                            *least = x;
                                        continue;
                                    }
                                    if ((e = train_estimate(m, p, &x.c, co, &x.estimate_s, quiet)) < 0) {
                                        if (e == SP_ENOMEM)
                                            err = e;
                                        continue;
                                    }
                                    if (vec_reserve((void **)&c, &cap, *n + 1, sizeof(*c)) < 0) {
                                        err = SP_ENOMEM;
                                        break;
                                    }
                                    x.seq = *n;
                                    c[(*n)++] = x;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    diag_free(quiet);
    if (err < 0) {
        free(c);
        *n = 0;
        return err;
    }
    if (*n > 1)
        qsort(c, *n, sizeof(*c), cmp_candidate);
    *out = c;
    return SP_OK;
}

/* --- economics ---------------------------------------------------------- */

void study_economics(const study *s, size_t job, size_t rung, double tokens_per_s, study_outcome *o)
{
    const study_rung *r = &s->rungs[rung];
    const plat *p = r->p;
    double hours, power_W = 0.0, price = 0.0;
    int owned = s->owned_count;
    bool power_known = true;

    memset(o, 0, sizeof(*o));
    /* What buying the rung costs: its nodes (less those the lab owns of the
     * same product), and what else the rung names. */
    for (int k = 0; k < p->nodes; k++) {
        const plat_node_type *t = plat_type_of_node(p, k);
        power_W += t->power_W;
        power_known = power_known && t->power_W > 0.0;
        if (s->owned_node != NULL && owned > 0 && strcmp(t->name, s->owned_node) == 0)
            owned--;
        else
            price += t->price_USD;
    }
    o->capex_USD = price + r->extra_capex_USD;
    if (!(tokens_per_s > 0.0))
        return;
    o->fits = true;
    o->tokens_per_s = tokens_per_s;
    hours = s->jobs[job].tokens / tokens_per_s / 3600.0;
    o->days = hours / 24.0;
    o->cloud_USD = r->cloud_USD_per_gpu_hour * p->nranks * hours;
    o->energy_kWh = power_known ? power_W * hours / 1000.0 : 0.0; /* 0: a node's power is not published */
    o->electricity_USD = o->energy_kWh * s->electricity_USD_per_kWh;
    o->meets_deadline = s->jobs[job].deadline_days <= 0.0 || o->days <= s->jobs[job].deadline_days;
}

int study_recommend(const study *s, size_t job, study_outcome *out)
{
    int best = -1, fastest = -1;

    for (size_t i = 0; i < s->nrungs; i++) {
        out[i].pareto = false;
        out[i].recommended = false;
        if (!out[i].fits)
            continue;
        if (fastest < 0 || out[i].days < out[fastest].days)
            fastest = (int)i;
        if (s->jobs[job].deadline_days > 0.0 && out[i].meets_deadline &&
            (best < 0 || out[i].capex_USD < out[best].capex_USD ||
             (out[i].capex_USD == out[best].capex_USD && out[i].days < out[best].days)))
            best = (int)i;
    }
    for (size_t i = 0; i < s->nrungs; i++) {
        bool dominated = false;
        if (!out[i].fits)
            continue;
        for (size_t k = 0; k < s->nrungs && !dominated; k++)
            dominated = k != i && out[k].fits && out[k].capex_USD <= out[i].capex_USD && out[k].days <= out[i].days &&
                        (out[k].capex_USD < out[i].capex_USD || out[k].days < out[i].days);
        out[i].pareto = !dominated;
    }
    if (best < 0)
        best = fastest;
    if (best >= 0)
        out[best].recommended = true;
    return best;
}

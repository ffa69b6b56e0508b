/* train.c - the training-step generator and its compute-time model. */
#include "train/train.h"

#include "util/vec.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* --- compute times ------------------------------------------------------ */

/* GEMM tiles: 128 x 128 outputs per thread block, the tile CUTLASS and
 * cuBLAS use for large bf16 GEMMs on Ampere and later (CUTLASS profiler's
 * default tensor-op kernels, cutlass_tensorop_*gemm_128x128_*); a GEMM's
 * tiles run in waves of one per SM, and a partial last wave idles SMs. */
#define TILE 128.0

static double gemm_bytes_per_elem(plat_prec prec)
{
    switch (prec) {
    case PLAT_FP8:
        return 1.0;
    case PLAT_FP4:
        return 0.5;
    case PLAT_FP32:
    case PLAT_TF32:
        return 4.0;
    case PLAT_FP64:
        return 8.0;
    default:
        return 2.0;
    }
}

double train_memory_time(const plat_gpu *g, double bytes)
{
    return bytes > 0.0 ? bytes / (g->mem_bw_Bps * g->eff_memory) : 0.0;
}

/* The share of the SMs a GEMM's output tiles keep busy: its tiles over the
 * waves of sm_count they need (1 when the SM count is not given). */
static double wave_fill(const plat_gpu *g, double m, double n)
{
    double tiles;

    if (g->sm_count <= 0)
        return 1.0;
    tiles = ceil(m / TILE) * ceil(n / TILE);
    return tiles / (ceil(tiles / g->sm_count) * g->sm_count);
}

double train_gemm_efficiency(const plat_gpu *g, plat_prec prec, double m, double n, double k)
{
    const plat_gemm_shape *best = NULL;
    double best_d = 0.0, eff;

    for (size_t i = 0; i < g->ngemm_shapes; i++) {
        const plat_gemm_shape *s = &g->gemm_shapes[i];
        double dm, dn, dk, d;
        if (s->prec != prec)
            continue;
        dm = log(m / s->m);
        dn = log(n / s->n);
        dk = log(k / s->k);
        d = dm * dm + dn * dn + dk * dk;
        if (best == NULL || d < best_d) { /* the first of equals: deterministic */
            best = s;
            best_d = d;
        }
    }
    if (best == NULL)
        return prec == PLAT_FP8 || prec == PLAT_FP4 ? g->eff_gemm_fp8 : g->eff_gemm;
    /* The measurement includes its own shape's wave quantization: divide it
     * out, so that this GEMM's own is applied once (train_gemm_time). */
    eff = best->eff / wave_fill(g, best->m, best->n);
    return eff < 1.0 ? eff : 1.0;
}

double train_gemm_time(const plat_gpu *g, plat_prec prec, double m, double n, double k)
{
    double flops = 2.0 * m * n * k, wave, t_flops, t_mem;

    if (m <= 0.0 || n <= 0.0 || k <= 0.0)
        return 0.0;
    wave = wave_fill(g, m, n);
    t_flops = flops / (g->peak_flops[prec] * train_gemm_efficiency(g, prec, m, n, k) * wave);
    t_mem = train_memory_time(g, (m * k + k * n + m * n) * gemm_bytes_per_elem(prec));
    return t_flops > t_mem ? t_flops : t_mem;
}

double train_attention_efficiency(const plat_gpu *g, const train_attn_kernel *k, bool backward)
{
    const plat_attn_shape *best = NULL;
    double best_d = 0.0;

    for (size_t i = 0; i < g->nattn_shapes && k->seq > 0.0 && k->kv_seq > 0.0 && k->heads > 0.0 && k->head_dim > 0.0;
         i++) {
        const plat_attn_shape *s = &g->attn_shapes[i];
        double ds, dk, dh, dd, d;
        if (s->causal != k->causal)
            continue;
        ds = log(k->seq / s->seq), dk = k->causal ? 0.0 : log(k->kv_seq / s->kv_seq);
        dh = log(k->heads / s->heads), dd = log(k->head_dim / s->head_dim);
        d = ds * ds + dk * dk + dh * dh + dd * dd;
        if (best == NULL || d < best_d) { /* the first of equals: deterministic */
            best = s;
            best_d = d;
        }
    }
    if (best == NULL)
        return g->eff_attention;
    return backward ? best->eff_bwd : best->eff_fwd;
}

static const char *const cp_comm_names[] = {"all_gather", "p2p", "a2a"};

const char *train_cp_comm_name(train_cp_comm k)
{
    return cp_comm_names[k];
}

int train_cp_comm_parse(const char *name, train_cp_comm *out)
{
    for (size_t k = 0; k < sizeof(cp_comm_names) / sizeof(*cp_comm_names); k++)
        if (strcmp(name, cp_comm_names[k]) == 0) {
            *out = (train_cp_comm)k;
            return SP_OK;
        }
    return SP_EINPUT;
}

bool train_attention_blocks_measured(const plat_gpu *g)
{
    for (size_t i = 0; i < g->nattn_shapes; i++)
        if (!g->attn_shapes[i].causal)
            return true;
    return false;
}

double train_attention_time(const plat_gpu *g, double flops, double bytes, const train_attn_kernel *k,
                            bool backward)
{
    double eff = train_attention_efficiency(g, k, backward);
    double t_flops = flops / (g->peak_flops[PLAT_BF16] * eff), t_mem = train_memory_time(g, bytes);
    return t_flops > t_mem ? t_flops : t_mem;
}

/* --- configuration ------------------------------------------------------ */

static int vpp_of(const train_config *c)
{
    return c->l.vpp > 1 ? c->l.vpp : 1;
}

static int cp_of(const train_config *c)
{
    return c->l.cp > 1 ? c->l.cp : 1;
}

double train_moe_load(const model *m, const train_config *c, double *dropped)
{
    const model_layout *l = &c->l;
    int ep = l->ep > 1 ? l->ep : 1, tp = l->tp > 1 ? l->tp : 1, cp = l->cp > 1 ? l->cp : 1;
    /* Dropless, the busiest rank takes imbalance x the mean (every rank
     * runs every expert at EP 1). */
    double want = ep > 1 && c->moe_imbalance > 1.0 ? c->moe_imbalance : 1.0, load = want;

    if (m->experts > 1 && c->moe_capacity > 0.0) {
        /* Megatron-LM's router (megatron/core/transformer/moe/moe_utils.py,
         * get_capacity with num_tokens = tokens x topk): each rank lets at
         * most ceil(its tokens x top_k / experts x factor) of its tokens
         * through to each expert. The busiest rank's experts receive that
         * from each of the ep ranks: at most ep x that each, and with
         * padding exactly that. */
        double routed = (double)l->micro_batch * l->seq_len / cp / tp * m->top_k;
        if (routed > 0.0) { /* no tokens (an empty layout): nothing to cap */
            double cap = ceil(routed / m->experts * c->moe_capacity) * m->experts / routed;
            load = c->moe_pad ? cap : fmin(want, cap);
        }
    }
    if (dropped != NULL)
        *dropped = want > load ? 1.0 - load / want : 0.0;
    return load;
}

double train_tokens_per_step(const train_config *c)
{
    return (double)c->l.micro_batch * c->l.seq_len * c->l.microbatches * c->l.dp;
}

double train_model_flops_per_token(const model *m, int seq_len, model_tune tune, bool causal)
{
    double multiplying = model_active_params(m) - model_position_params(m) -
                         (double)m->vocab * m->hidden * (m->tied_embeddings ? 0.0 : 1.0);
    return (tune == MODEL_TRAIN_FULL ? 6.0 : 4.0) * multiplying +
           (causal ? 6.0 : 12.0) * m->layers * model_q_dim(m) * seq_len;
}

int train_check_moe(const model *m, const train_config *c, diag_list *diag)
{
    const model_layout *l = &c->l;
    sp_loc at = {NULL, 0};
    int err = SP_OK;

    if (c->moe_imbalance != 0.0 &&
        (!(c->moe_imbalance >= 1.0) || m->experts <= 1 || c->moe_imbalance > (l->ep > 1 ? l->ep : 1))) {
        diag_error(diag, at, "MoE imbalance %g: expected a mixture-of-experts model and 1 to EP (%d; the busiest "
                   "rank takes at most every token)", c->moe_imbalance, l->ep > 1 ? l->ep : 1);
        err = SP_EINPUT;
    }
    if ((c->moe_capacity != 0.0 || c->moe_pad) && m->experts <= 1) {
        diag_error(diag, at, "MoE capacity%s: %s has no mixture of experts", c->moe_pad ? " and padding" : "",
                   m->name);
        err = SP_EINPUT;
    } else if (c->moe_capacity != 0.0 && !(c->moe_capacity > 0.0 && c->moe_capacity <= 1e6)) {
        diag_error(diag, at, "MoE capacity factor %g: expected a number above 0", c->moe_capacity);
        err = SP_EINPUT;
    } else if (c->moe_pad && c->moe_capacity == 0.0) {
        diag_error(diag, at, "MoE padding pads each expert's input to its capacity: it needs a capacity factor");
        err = SP_EINPUT;
    }
    return err;
}

int train_check_cp(const model *m, const train_config *c, diag_list *diag)
{
    const model_layout *l = &c->l;
    int err = SP_OK, cp = cp_of(c);
    sp_loc at = {NULL, 0};

    if (c->cp_comm == TRAIN_CP_P2P && cp <= 1) {
        diag_error(diag, at, "cp_comm_type p2p (the ring of context parallelism) needs cp > 1, got cp %d", cp);
        err = SP_EINPUT;
    }
    if (cp > 1 && l->seq_len % (2 * cp) != 0) {
        diag_error(diag, at, "context parallelism cuts each sequence into 2 x CP = %d chunks, rank r holding chunks r "
                   "and 2 x CP - 1 - r (Megatron-LM's get_batch_on_this_cp_rank, whatever the cp_comm_type): "
                   "sequence %d is not a multiple of %d", 2 * cp, l->seq_len, 2 * cp);
        err = SP_EINPUT;
    }
    if (c->cp_comm == TRAIN_CP_P2P && !l->flash_attention) {
        diag_error(diag, at, "cp_comm_type p2p runs fused attention kernels (Transformer Engine's ring): "
                   "not with unfused attention (--no-flash)");
        err = SP_EINPUT;
    }
    if (c->cp_comm == TRAIN_CP_A2A && cp <= 1) {
        diag_error(diag, at, "cp_comm_type a2a (context parallelism's all-to-all) needs cp > 1, got cp %d", cp);
        err = SP_EINPUT;
    }
    if (c->cp_comm == TRAIN_CP_A2A && cp > 1 && l->tp > 0 && model_tp_splits(m, l->tp)) {
        int q = m->heads / l->tp, kv = m->kv_heads / l->tp;
        if (q % cp != 0 || kv % cp != 0) {
            diag_error(diag, at, "cp_comm_type a2a splits each TP rank's heads over CP: %s has %d query and %d "
                       "key/value heads per TP rank, not both multiples of CP %d", m->name, q, kv, cp);
            err = SP_EINPUT;
        }
    }
    if (c->cp_comm == TRAIN_CP_A2A && !l->flash_attention) {
        diag_error(diag, at, "cp_comm_type a2a runs fused attention kernels (Transformer Engine's "
                   "AttnFuncWithCPAndQKVOA2A): not with unfused attention (--no-flash)");
        err = SP_EINPUT;
    }
    return err;
}

int train_check_fp8(const train_config *c, diag_list *diag)
{
    const model_layout *l = &c->l;
    sp_loc at = {NULL, 0};
    int err = SP_OK;

    if ((l->fp8_params || l->no_weight_cache) && c->prec != PLAT_FP8) {
        diag_error(diag, at, "%s: needs FP8 training (precision fp8), not %s",
                   l->fp8_params ? "FP8 parameters" : "no weight cache", plat_prec_name(c->prec));
        err = SP_EINPUT;
    }
    if (l->fp8_params && l->tune == MODEL_TRAIN_QLORA) {
        diag_error(diag, at, "FP8 parameters: not with QLoRA (its base is NF4)");
        err = SP_EINPUT;
    }
    /* Trained FP8 weights are requantized from the optimizer's fp32 master
     * shards: Megatron-LM refuses --fp8-param-gather without its
     * distributed optimizer or FSDP ("only supported with distributed
     * optimizer or torch fsdp2", megatron/training/arguments.py). */
    if (l->fp8_params && l->tune == MODEL_TRAIN_FULL && (l->zero == 0 || l->adam == MODEL_ADAM_PURE_BF16)) {
        diag_error(diag, at, "FP8 parameters: full training needs %s (the weights are requantized from the "
                   "optimizer's fp32 master copy, as Megatron-LM's distributed optimizer does)",
                   l->zero == 0 ? "ZeRO 1-3" : "an fp32 master weight, not pure-bf16 Adam");
        err = SP_EINPUT;
    }
    return err;
}

/* Whether a LoRA / QLoRA layout splits an adapter's rank over TP: at TP > 1
 * with adapters on a column-parallel layer (QKV, a dense model's first FFN
 * layer), whose first GEMM NeMo splits by columns, so the rank must be a
 * multiple of TP. */
static bool lora_rank_split(const model *m, const model_layout *l)
{
    unsigned t = l->lora_targets ? l->lora_targets : MODEL_LORA_ALL;

    return l->tune != MODEL_TRAIN_FULL && l->tp > 1 &&
           (model_lora_qkv_adapters(t) > 0 || (m->experts <= 1 && model_lora_fc1_adapters(m, t) > 0));
}

int train_check(const model *m, const plat *p, const train_config *c, diag_list *diag)
{
    const model_layout *l = &c->l;
    int err = SP_OK, vpp = vpp_of(c), cp = cp_of(c);
    sp_loc at = {NULL, 0}; /* the layout comes from the command line or a study's search */

    if (l->tp < 1 || l->pp < 1 || l->dp < 1 || l->micro_batch < 1 || l->seq_len < 1 || l->microbatches < 1) {
        diag_error(diag, at, "a layout needs tp, pp, dp, micro-batch, sequence and micro-batches >= 1");
        return SP_EINPUT;
    }
    if ((long long)l->tp * cp * l->pp * l->dp != p->nranks) {
        diag_error(diag, at, "TP %d x CP %d x PP %d x DP %d = %lld GPUs, but the platform has %d", l->tp, cp,
                   l->pp, l->dp, (long long)l->tp * cp * l->pp * l->dp, p->nranks);
        err = SP_EINPUT;
    }
    if (l->tp > 0 && !model_tp_splits(m, l->tp)) {
        diag_error(diag, at, "TP %d does not divide %s's %d attention heads and %d key/value heads (Megatron-LM "
                   "splits both over TP, never part of a head)", l->tp, m->name, m->heads, m->kv_heads);
        err = SP_EINPUT;
    }
    if (l->pp * vpp > m->layers + 2) {
        diag_error(diag, at, "PP %d x %d virtual stages exceeds the %d layers plus the embedding and the output "
                   "layer", l->pp, vpp, m->layers);
        err = SP_EINPUT;
    }
    if (vpp > 1 && (l->pp == 1 || l->microbatches % l->pp != 0)) {
        diag_error(diag, at, "the interleaved schedule (%d virtual stages) needs PP > 1 and micro-batches (%d) in "
                   "multiples of PP (%d)", vpp, l->microbatches, l->pp);
        err = SP_EINPUT;
    }
    if (m->learned_positions && l->seq_len > m->max_positions) {
        diag_error(diag, at, "sequence %d is longer than the model's %d learned positions", l->seq_len,
                   m->max_positions);
        err = SP_EINPUT;
    }
    if (l->seq_len % cp != 0) {
        diag_error(diag, at, "CP %d does not divide the sequence of %d tokens", cp, l->seq_len);
        err = SP_EINPUT;
    }
    if (l->zero < 0 || l->zero > 3 || (l->zero == 3 && l->pp > 1)) {
        diag_error(diag, at, "ZeRO stage %d: expected 0..3, and ZeRO-3 without pipeline parallelism", l->zero);
        err = SP_EINPUT;
    }
    if (train_check_moe(m, c, diag) < 0 || train_check_fp8(c, diag) < 0)
        err = SP_EINPUT;
    if (l->ep > 1 && (m->experts <= 1 || m->experts % l->ep != 0 || l->dp % l->ep != 0 || l->zero >= 3)) {
        diag_error(diag, at, "EP %d needs a mixture-of-experts model whose experts (%d) and DP (%d) it divides, "
                   "and ZeRO below 3", l->ep, m->experts, l->dp);
        err = SP_EINPUT;
    }
    if (l->tune != MODEL_TRAIN_FULL && model_lora_gate_missing(m, l->lora_targets)) {
        diag_error(diag, at, "LoRA target gate: %s has no gated FFN (its first FFN layer is up alone)", m->name);
        err = SP_EINPUT;
    }
    if (l->tune != MODEL_TRAIN_FULL && l->zero > 0) {
        diag_error(diag, at, "LoRA / QLoRA train small adapters: ZeRO is not used with them here");
        err = SP_EINPUT;
    }
    if (train_check_cp(m, c, diag) < 0)
        err = SP_EINPUT;
    if (l->tune == MODEL_TRAIN_FULL && c->lora_a2a) {
        diag_error(diag, at, "lora_a2a applies to LoRA / QLoRA, not to full training");
        err = SP_EINPUT;
    }
    if (lora_rank_split(m, l) && (l->lora_rank > 0 ? l->lora_rank : 16) % l->tp != 0) {
        diag_error(diag, at, "LoRA rank %d is not a multiple of TP %d: an adapter on a column-parallel layer splits "
                   "its rank over TP (NeMo's ColumnParallelLinear)", l->lora_rank > 0 ? l->lora_rank : 16, l->tp);
        err = SP_EINPUT;
    }
    if (!plat_is_homogeneous(p)) {
        diag_error(diag, (sp_loc){p->path, 0}, "platform %s mixes node types: train and study model one GPU type "
                   "per platform (replay a trace to mix them)", p->name);
        err = SP_EINPUT;
    }
    for (size_t t = 0; t < p->ntypes; t++) {
        const plat_gpu *g = &p->types[t].gpu;
        if (!(g->eff_gemm > 0.0 && g->eff_attention > 0.0 && g->eff_memory > 0.0)) {
            diag_error(diag, g->src, "GPU %s has no `efficiency` table (gemm, attention, memory): training "
                       "times need one", g->model);
            err = SP_EINPUT;
        }
        if (!(g->peak_flops[c->prec] > 0.0)) {
            diag_error(diag, g->src, "GPU %s has no %s peak rate", g->model, plat_prec_name(c->prec));
            err = SP_EINPUT;
        }
    }
    return err;
}

/* --- the graph ---------------------------------------------------------- */

/* A tensor-parallel block's GEMMs, s (costs.tpg). */
typedef struct tp_gemms {
    double col_fwd, row_fwd, col_dgrad, row_dgrad, col_wgrad, row_wgrad;
    double col_chunk, row_dgrad_chunk, row_split;
} tp_gemms;

/* Costs of one micro-batch on one GPU, seconds; collective sizes, bytes. */
typedef struct costs {
    double attn_fwd, attn_bwd, mlp_fwd, mlp_bwd, core_fwd, core_bwd; /* MoE: mlp = router and experts */
    /* CP's ring (cp_comm p2p): per pass, the kernel of the step on the
     * rank's own keys (causal: forward step 0, backward step CP - 1) and
     * of each other step; core_fwd and core_bwd are their sums. The keys
     * and values a rank holds, which each exchange of the ring moves (some
     * backward exchanges carry their gradients too, twice the bytes). */
    double ring_first_fwd, ring_step_fwd, ring_first_bwd, ring_step_bwd;
    uint64_t kv_step_bytes;
    /* CP's all-to-all (cp_comm a2a), the send buffers, bf16: a rank's
     * queries, keys and values (backward, their gradients) and its output
     * (backward, the output and its gradient: twice). */
    uint64_t a2a_qkv_bytes, a2a_out_bytes;
    double head_fwd, head_bwd, embed_fwd, embed_bwd, qlora_dequant;
    uint64_t tp_bytes;   /* all-gather output / reduce-scatter input of a block (nccl-tests size) */
    /* What a block's all-gathers move (nccl-tests size): its input, per
     * block, and the output gradient; FP8 under FP8 training (see
     * compute_costs). The reduce-scatters move tp_bytes. */
    uint64_t ag_in_bytes[2], ag_dy_bytes;
    uint64_t kv_bytes;   /* CP: keys and values of the whole sequence */
    uint64_t p2p_bytes;  /* activations between pipeline stages (sequence-parallel shard) */
    double layer_params; /* per GPU (TP shard; experts: EP shard) */
    double layer_trained;
    double layer_linear;   /* of layer_trained, the dense linear weights (FP8 with fp8_params) */
    double expert_trained; /* of layer_trained, the experts' (reduced over the expert-data-parallel ranks) */
    uint64_t a2a_bytes;  /* MoE: a rank's tokens x top_k, dispatched (all-to-all send buffer) */
    double embed_params; /* per GPU (TP shard), the input embedding; the output layer is as large */
    double position_params; /* a learned position table, beside the embedding, whole on each TP rank */
    /* LoRA / QLoRA under TP: per block (attention [0], FFN [1]) the adapters
     * on its column-parallel layer (QKV; the first FFN layer) and on its
     * row-parallel one (the projection; the second FFN layer); whether the
     * column-parallel layer's forward gather stays whole under TP overlap
     * (its adapters read its gathered input), else how many of its
     * adapters gather their own input; an adapter's rank-r activations
     * (tok x r, bf16). See lora_colls. */
    int lora_col[2], lora_row[2], lora_own[2];
    bool lora_whole[2];
    uint64_t lora_r_bytes;
    /* Per block (attention [0], FFN [1]) the GEMMs tp_block runs apart
     * (their times are in attn_* and mlp_* too): the column-parallel layer's
     * (QKV; the first FFN layer) and the row-parallel one's (the
     * projection; the second FFN layer), forward, input gradient and weight
     * gradient (0 when the weights are frozen); under TP overlap also one of
     * the tp chunks of the column-parallel forward and of the row-parallel
     * input gradient (a TP shard's rows each), and one of the TP_SPLITS
     * chunks of the row-parallel forward, each timed at its own shape. */
    tp_gemms tpg[2];
} costs;

typedef struct gen {
    wl_builder *b;
    const model *m;
    const plat *p;
    const train_config *c;
    int tp, cp, dp, pp, vpp, nv, zero, ep;
    bool moe;
    double grad_bytes; /* per gradient element reduced */
    costs k;
    train_gemm *rec;   /* when not NULL, compute_costs lists its GEMMs here (train_gemms) */
    size_t nrec;
    int *tp_group, *cp_group, *dp_group, *ep_group, *edp_group; /* per rank */
} gen;

static int rank_of(const gen *g, int t, int c, int d, int s)
{
    return t + g->tp * (c + g->cp * (d + g->dp * s));
}

/* count x the time of one GEMM (m x k) * (k x n) at precision pr, listed
 * in g->rec when it is set. Below 16 bits its operands are quantized apart
 * (linear_casts). */
static double gemm_at(gen *g, const plat_gpu *gpu, plat_prec pr, const char *name, const char *pass, double count,
                      double m, double n, double k)
{
    double t = train_gemm_time(gpu, pr, m, n, k);

    if (g->rec != NULL && g->nrec < TRAIN_MAX_GEMMS && m > 0.0 && n > 0.0 && k > 0.0)
        g->rec[g->nrec++] = (train_gemm){name, pass, pr, m, n, k, count, train_gemm_efficiency(gpu, pr, m, n, k), t};
    return count * t;
}

/* The same at the step's precision: every GEMM of the transformer layers. */
static double gemm(gen *g, const plat_gpu *gpu, const char *name, const char *pass, double count, double m,
                   double n, double k)
{
    return gemm_at(g, gpu, g->c->prec, name, pass, count, m, n, k);
}

/* Below 16 bits, Transformer Engine quantizes a linear layer's operands
 * once each (transformer_engine/pytorch/module/linear.py and
 * layernorm_linear.py), into a row-wise copy and, where the weight gradient
 * needs it, a column-wise one: the input of m tokens x in per micro-batch
 * (read 2 B, write the copies), unless the norm before the layer writes the
 * quantized copies itself instead of its bf16 output (LayerNormLinear's
 * with_quantized_norm: the QKV and first FFN GEMMs, no extra traffic); the
 * output gradient, m x out, once for both backward GEMMs; the weight and
 * its transpose on a step's first micro-batch, reused by the others
 * (is_first_microbatch, which Megatron-LM's forward_step sets), or on every
 * micro-batch (no_weight_cache, and QLoRA's dequantized weights); an FP8
 * weight (fp8_params) only its transpose. count layers alike (local
 * experts); adds the forward and backward times. */
static void linear_casts(const gen *g, const plat_gpu *gpu, double count, double m, double in, double out,
                         bool norm_writes_input, double *fwd, double *bwd)
{
    const model_layout *l = &g->c->l;
    double b = gemm_bytes_per_elem(g->c->prec), copies = l->tune == MODEL_TRAIN_FULL ? 2.0 : 1.0;
    bool cached = !l->no_weight_cache && l->tune != MODEL_TRAIN_QLORA; /* QLoRA dequantizes every micro-batch */
    double weight = (l->fp8_params ? 2.0 * b : 2.0 + 2.0 * b) / (cached ? l->microbatches : 1.0);

    if (b >= 2.0)
        return;
    *fwd += train_memory_time(gpu, count * ((norm_writes_input ? 0.0 : m * in * (2.0 + copies * b)) +
                                            in * out * weight));
    *bwd += train_memory_time(gpu, count * m * out * (2.0 + copies * b));
}

/* A LoRA adapter on a matrix of in x out: its two GEMMs through rank r,
 * tok x in x mid then tok x r x out, each as TP shards it (NeMo's
 * ParallelLinearAdapter: on a column-parallel layer the first is
 * column-parallel, mid its r / tp columns, gathered to r; on a row-parallel
 * layer the first reads the input's TP shard, the second writes its output's:
 * callers pass each GEMM's shard),
 * in bf16 under FP8 and FP4 training (plain linear layers outside
 * Transformer Engine's quantized ones), else at the step's precision. */
static double lora_matrix(gen *g, const char *name, const char *pass, double count, double tok, double in,
                          double mid, double out, int r)
{
    const plat_gpu *gpu = &plat_type_of_rank(g->p, 0)->gpu;
    plat_prec p = g->c->prec == PLAT_FP8 || g->c->prec == PLAT_FP4 ? PLAT_BF16 : g->c->prec;
    return gemm_at(g, gpu, p, name, pass, count, tok, mid, in) + gemm_at(g, gpu, p, name, pass, count, tok, out, r);
}

/* Context parallelism's attention as Transformer Engine's ring runs it
 * (AttnFuncWithCP with its load balancing: the sequence cut into 2 x CP
 * chunks of c tokens, rank r holding chunks r and 2CP-1-r). Step 0 is
 * causal over the rank's 2c queries and keys; each of the CP-1 later steps,
 * on the keys and values received, is a block with no mask: the 2c queries
 * over the first c keys (steps i <= r) or the last c queries over all 2c
 * (i > r). Rank CP-1 runs only the first kind, rank 0 only the second, and
 * the ring makes everyone wait for the slower of them: each pass takes, per
 * later step, the slower kind, its kernel (at its own shape's efficiency)
 * and its memory-bound work from TE's code together. Forward: the first
 * kind merges its partial output over all queries (read it and the
 * output, write the output) and copies the half of the received keys and
 * values it reads contiguous; the second merges over half the queries and
 * copies that half of the queries. Backward: the first copies the keys and
 * values' half again; the second copies half the queries, the output and
 * its gradient. Every rank zero-fills its output and merges step 0's. The
 * FLOPs add up to the causal share 1/CP of the whole sequence's. The
 * backward's sums of each step's gradients are in the measured kernels'
 * time (the measurements add each gradient into its accumulator, with as
 * many key/value heads as query heads), and the log-sum-exp merges (heads
 * x tokens) are left out, a few percent of that traffic. Taking the slower
 * kind per pass mixes the two ranks' passes (about 0.2% over the slower
 * rank's own sum here). Against an emulation on an H100:
 * bench/data/gemm/README.md. */
static void ring_attention(const gen *g, const plat_gpu *gpu, costs *k)
{
    const model *m = g->m;
    const model_layout *l = &g->c->l;
    double cp = g->cp, c = l->seq_len / (2.0 * cp), d = m->head_dim;
    double heads = (double)l->micro_batch * m->heads / g->tp;
    double qd = (double)l->micro_batch * model_q_dim(m) / g->tp, kvd = (double)l->micro_batch * model_kv_dim(m) / g->tp;
    double out = 2.0 * 2.0 * c * qd, kv = 2.0 * 2.0 * 2.0 * c * kvd; /* the rank's output; keys and values, bytes */
    const train_attn_kernel first = {2.0 * c, 2.0 * c, heads, d, true};
    const train_attn_kernel block[2] = {{2.0 * c, c, heads, d, false}, {c, 2.0 * c, heads, d, false}};
    const double block_bytes[2] = {2.0 * out + kv / 2.0, out + kv}; /* q read, o written; k and v read */
    const double fwd_mem[2] = {3.0 * out + kv, 1.5 * out + out}, bwd_mem[2] = {kv, 3.0 * out};
    double f_first = 4.0 * 2.0 * c * 2.0 * c * d * heads * 0.5, f_block = 4.0 * 2.0 * c * c * d * heads;
    double step_fwd = 0.0, step_bwd = 0.0;

    for (int i = 0; i < 2; i++) {
        step_fwd = fmax(step_fwd, train_attention_time(gpu, f_block, block_bytes[i], &block[i], false) +
                                      train_memory_time(gpu, fwd_mem[i]));
        step_bwd = fmax(step_bwd, train_attention_time(gpu, 2.5 * f_block, 2.0 * block_bytes[i], &block[i], true) +
                                      train_memory_time(gpu, bwd_mem[i]));
    }
    k->ring_first_fwd =
        train_attention_time(gpu, f_first, 2.0 * out + kv, &first, false) + train_memory_time(gpu, out + 3.0 * out);
    k->ring_first_bwd = train_attention_time(gpu, 2.5 * f_first, 2.0 * (2.0 * out + kv), &first, true);
    k->ring_step_fwd = step_fwd;
    k->ring_step_bwd = step_bwd;
}

/* Transformer Engine's userbuffer overlap pipelines the row-parallel
 * forward GEMM with its reduce-scatter in this many chunks: the default
 * num_splits of its "pipeline" method (initialize_ub, transformer_engine/
 * pytorch/module/base.py), which NeMo's tuned configurations keep. */
#define TP_SPLITS 4
/* The SMs its "pipeline" and "bulk" overlaps' communication kernels take
 * from the GEMMs beside them: initialize_ub's default num_sm (NeMo's tuned
 * configurations set 2 to 24 per layer). Its "ring_exchange" copies with
 * the copy engines (use_ce), taking none. */
#define TP_UB_SMS 16

/* A block's linear layer i (0 column-parallel, 1 row-parallel) of shape
 * a = (m, n, k) per TP shard: its casts and GEMMs added to the block's
 * forward and backward times, and kept apart in k->tpg[block] (with the
 * chunks TP overlap runs). Backward: the input gradient always; the weight
 * gradient when trained. */
static void linear_gemms(gen *g, const plat_gpu *gpu, int block, int i, const char *name, const double a[3],
                         double *fwd, double *bwd)
{
    costs *k = &g->k;
    plat_prec pr = g->c->prec;
    double f, d, w = 0.0;

    linear_casts(g, gpu, 1, a[0], a[2], a[1], i == 0, fwd, bwd);
    f = gemm(g, gpu, name, "fwd", 1, a[0], a[1], a[2]);
    *fwd += f;
    d = gemm(g, gpu, name, "dgrad", 1, a[0], a[2], a[1]);
    *bwd += d;
    if (g->c->l.tune == MODEL_TRAIN_FULL) {
        w = gemm(g, gpu, name, "wgrad", 1, a[2], a[1], a[0]);
        *bwd += w;
    }
    if (i == 0) {
        k->tpg[block].col_fwd = f;
        k->tpg[block].col_dgrad = d;
        k->tpg[block].col_wgrad = w;
        k->tpg[block].col_chunk = train_gemm_time(gpu, pr, a[0] / g->tp, a[1], a[2]);
    } else {
        k->tpg[block].row_fwd = f;
        k->tpg[block].row_dgrad = d;
        k->tpg[block].row_wgrad = w;
        k->tpg[block].row_dgrad_chunk = train_gemm_time(gpu, pr, a[0] / g->tp, a[2], a[1]);
        k->tpg[block].row_split = train_gemm_time(gpu, pr, a[0] / TP_SPLITS, a[1], a[2]);
    }
}

static void compute_costs(gen *g, const plat_gpu *gpu)
{
    const model *m = g->m;
    const model_layout *l = &g->c->l;
    double h = m->hidden, f = m->ffn, q = model_q_dim(m), kv = model_kv_dim(m), V = m->vocab;
    double S = l->seq_len, tok = (double)l->micro_batch * l->seq_len / g->cp, tp = g->tp;
    double up = (m->gated_ffn ? 2.0 : 1.0) * f; /* up (and gate) outputs */
    bool full = l->tune == MODEL_TRAIN_FULL;
    plat_prec hp = g->c->prec == PLAT_FP8 || g->c->prec == PLAT_FP4 ? PLAT_BF16 : g->c->prec; /* the head's */
    int r = l->lora_rank > 0 ? l->lora_rank : 16;
    unsigned targets = l->lora_targets ? l->lora_targets : MODEL_LORA_ALL;
    /* Under TP overlap the first FFN layer's adapters gather their own
     * input (lora_colls), their dropout on the shard before it. */
    bool fc1_own = !full && tp > 1 && g->c->tp_overlap;
    /* (m, n, k) of the block's GEMMs, per TP shard. */
    const double gemms_attn[2][3] = {{tok, (q + 2 * kv) / tp, h}, {tok, h, q / tp}};
    const double gemms_mlp[2][3] = {{tok, up / tp, h}, {tok, h, f / tp}};
    double core_flops = 4.0 * tok * S * q / tp * 0.5; /* QK^T and PV, causal: half */
    double core_bytes = 2.0 * (2.0 * tok * q + 2.0 * S * l->micro_batch * kv) / tp;
    double rotary = m->learned_positions || m->no_positions ? 0.0 : 2.0 * tok * (q + kv) / tp;
    double elem_attn = 2.0 * (tok / tp * 5.0 * h + rotary);                  /* norm, residual; rotary */
    double elem_mlp = 2.0 * (tok / tp * 5.0 * h + tok * (up + f) / tp);      /* norm, residual; SwiGLU */
    /* Hidden dropout, after attention and after the FFN (Megatron-LM's
     * default is 0.1 on both): forward reads the input, writes the output
     * and its 1-byte mask; backward reads the gradient and the mask and
     * writes the gradient: 5 B per element each way. Attention dropout runs
     * inside the attention kernel and is not timed (no published cost). */
    double drop = m->hidden_dropout > 0.0 ? tok / tp * 5.0 * h : 0.0;
    static const char *const attn_name[2] = {"attn.qkv", "attn.proj"}, *const mlp_name[2] = {"mlp.up", "mlp.down"};
    costs *k = &g->k;

    memset(k, 0, sizeof(*k));
    for (int i = 0; i < 2; i++) {
        linear_gemms(g, gpu, 0, i, attn_name[i], gemms_attn[i], &k->attn_fwd, &k->attn_bwd);
        if (!g->moe) /* the experts replace the dense FFN (below) */
            linear_gemms(g, gpu, 1, i, mlp_name[i], gemms_mlp[i], &k->mlp_fwd, &k->mlp_bwd);
    }
    /* The kernel's shape, for a measured table: the sequence, the rank's
     * query heads times the micro-batch's sequences. Context parallelism's
     * ring (cp_comm p2p) by its steps where the table measures blocks
     * without the mask; else its share of the FLOPs at the whole
     * sequence's efficiency (a rank's queries attend over the whole
     * sequence). */
    const train_attn_kernel whole = {S, S, (double)l->micro_batch * m->heads / tp, m->head_dim, true};
    if (g->cp > 1 && g->c->cp_comm == TRAIN_CP_A2A) {
        /* The all-to-all's kernel: causal over the whole sequence on heads /
         * CP of the rank's heads, the same FLOPs as the rank's share; its
         * keys and values those heads' alone. */
        const train_attn_kernel heads = {S, S, (double)l->micro_batch * m->heads / tp / g->cp, m->head_dim, true};
        double bytes = 2.0 * (2.0 * tok * q + 2.0 * S * l->micro_batch * kv / g->cp) / tp;
        k->core_fwd = train_attention_time(gpu, core_flops, bytes, &heads, false);
        k->core_bwd = train_attention_time(gpu, 2.5 * core_flops, 2.0 * bytes, &heads, true);
    } else if (g->cp > 1 && g->c->cp_comm == TRAIN_CP_P2P && train_attention_blocks_measured(gpu)) {
        ring_attention(g, gpu, k);
        k->core_fwd = k->ring_first_fwd + (g->cp - 1) * k->ring_step_fwd;
        k->core_bwd = k->ring_first_bwd + (g->cp - 1) * k->ring_step_bwd;
    } else {
        /* FlashAttention's backward pass: 5 matrix products to the
         * forward's 2, and twice the traffic. */
        k->core_fwd = train_attention_time(gpu, core_flops, core_bytes, &whole, false);
        k->core_bwd = train_attention_time(gpu, 2.5 * core_flops, 2.0 * core_bytes, &whole, true);
        /* The ring without measured blocks: the same share, in CP even steps. */
        k->ring_first_fwd = k->ring_step_fwd = k->core_fwd / g->cp;
        k->ring_first_bwd = k->ring_step_bwd = k->core_bwd / g->cp;
    }
    k->attn_fwd += k->core_fwd + train_memory_time(gpu, elem_attn + drop);
    k->attn_bwd += k->core_bwd + train_memory_time(gpu, 2.0 * elem_attn + drop);
    if (g->cp > 1 && g->c->cp_comm == TRAIN_CP_A2A) {
        /* Each tensor exchanged (backward: the output too) is copied twice,
         * read and written: laid out by destination on one side of its
         * all-to-all, its load-balancing chunks reordered on the other (TE's
         * flash_attn_a2a_communicate: movedim().contiguous(); and
         * reorder_seq_chunks_for_a2a_*'s index_select, its movedim() a no-op
         * in Megatron's sbhd layout). */
        k->a2a_qkv_bytes = (uint64_t)(2.0 * tok * (q + 2.0 * kv) / tp);
        k->a2a_out_bytes = (uint64_t)(2.0 * tok * q / tp);
        k->attn_fwd += train_memory_time(gpu, 4.0 * (double)(k->a2a_qkv_bytes + k->a2a_out_bytes));
        k->attn_bwd += train_memory_time(gpu, 4.0 * (double)(k->a2a_qkv_bytes + 2 * k->a2a_out_bytes));
    }
    k->mlp_fwd += train_memory_time(gpu, elem_mlp + drop);
    k->mlp_bwd += train_memory_time(gpu, 2.0 * elem_mlp + drop);
    if (!full) {
        /* Adapters on the targets (one per fused layer, qkv and fc1, or per
         * module apart; o; down): forward, then twice that backward. */
        for (int bwd = 0; bwd < 2; bwd++) {
            const char *pass = bwd ? "bwd" : "fwd";
            double x = bwd ? 2.0 : 1.0, gate = m->gated_ffn ? 2.0 : 1.0, a = 0.0, b = 0.0;
            if (targets & MODEL_LORA_QKV)
                a += lora_matrix(g, "lora.qkv", pass, x, tok, h, r / tp, (q + 2 * kv) / tp, r);
            if (targets & MODEL_LORA_Q)
                a += lora_matrix(g, "lora.q", pass, x, tok, h, r / tp, q / tp, r);
            if (targets & MODEL_LORA_K)
                a += lora_matrix(g, "lora.k", pass, x, tok, h, r / tp, kv / tp, r);
            if (targets & MODEL_LORA_V)
                a += lora_matrix(g, "lora.v", pass, x, tok, h, r / tp, kv / tp, r);
            if (targets & MODEL_LORA_PROJ)
                a += lora_matrix(g, "lora.o", pass, x, tok, q / tp, r, h / tp, r);
            if (!g->moe && (targets & MODEL_LORA_FC1)) /* the experts' adapters, below */
                b += lora_matrix(g, "lora.fc1", pass, x, tok, h, r / tp, gate * f / tp, r);
            if (!g->moe && (targets & MODEL_LORA_GATE) && m->gated_ffn)
                b += lora_matrix(g, "lora.gate", pass, x, tok, h, r / tp, f / tp, r);
            if (!g->moe && (targets & MODEL_LORA_UP))
                b += lora_matrix(g, "lora.up", pass, x, tok, h, r / tp, f / tp, r);
            if (!g->moe && (targets & MODEL_LORA_FC2))
                b += lora_matrix(g, "lora.down", pass, x, tok, f / tp, r, h / tp, r);
            if (l->lora_dropout > 0.0) {
                /* Dropout on each adapter's input, priced as the hidden
                 * dropout is: 5 B per element each way. The QKV and first
                 * FFN layers' adapters read the whole sequence (the base
                 * layer's gathered input, see lora_colls; the first FFN
                 * layer's, gathering it themselves, drop the shard), the
                 * others their TP shard. */
                a += train_memory_time(gpu, 5.0 * (model_lora_qkv_adapters(targets) * tok * h +
                                                   (targets & MODEL_LORA_PROJ ? tok * q / tp : 0.0)));
                if (!g->moe)
                    b += train_memory_time(gpu, 5.0 * (model_lora_fc1_adapters(m, targets) * h * tok /
                                                           (fc1_own ? tp : 1.0) +
                                                       (targets & MODEL_LORA_FC2 ? tok * f / tp : 0.0)));
            }
            *(bwd ? &k->attn_bwd : &k->attn_fwd) += a;
            *(bwd ? &k->mlp_bwd : &k->mlp_fwd) += b;
        }
    }
    /* The output layer stays in bf16 under FP8 and FP4 training: Megatron-LM's
     * is its own ColumnParallelLinear, outside Transformer Engine's
     * quantized layers (megatron/core/models/gpt/gpt_model.py). */
    /* The loss, memory-bound, bytes per logit. Fused (Megatron-LM): read the
     * bf16 logits, write and read their fp32 softmax forward; read it and
     * write the bf16 gradient backward. Unfused (PyTorch's F.cross_entropy
     * on an fp32 copy), one pass per operation: the copy (read 2, write 4)
     * and the log-softmax (read 4, write 4) forward; nll_loss's dense
     * gradient (write 4), the log-softmax's backward (read 4 + 4, write 4)
     * and the copy back to bf16 (read 4, write 2). */
    double loss_fwd = l->unfused_loss ? 14.0 : 10.0, loss_bwd = l->unfused_loss ? 22.0 : 6.0;
    k->head_fwd = gemm_at(g, gpu, hp, "head", "fwd", 1, tok, V / tp, h) + train_memory_time(gpu, tok * V / tp * loss_fwd);
    k->head_bwd = gemm_at(g, gpu, hp, "head", "dgrad", 1, tok, h, V / tp) +
                  train_memory_time(gpu, tok * V / tp * loss_bwd) +
                  (full ? gemm_at(g, gpu, hp, "head", "wgrad", 1, h, V / tp, tok) : 0.0);
    /* A learned position table adds a row read per token forward, and its
     * gradient rows backward. */
    double pos = m->learned_positions ? 2.0 * tok / tp * h : 0.0;
    k->embed_fwd = train_memory_time(gpu, 4.0 * tok / tp * h + pos);
    k->embed_bwd = full ? train_memory_time(gpu, 8.0 * tok / tp * h + pos) : 0.0;
    if (g->moe) {
        /* Mixture of experts on the sequence-parallel shard (tok / tp tokens): a
         * router GEMM, then each of the E / ep local experts takes its share of
         * the tok / tp x top_k dispatched tokens (balanced routing), times the
         * load of the busiest rank (train_moe_load: its imbalance, capped or
         * padded to the experts' capacity), which every rank then waits for. */
        double E = m->experts, local = E / g->ep, toks = tok / tp * m->top_k * train_moe_load(m, g->c, NULL);
        double per = toks / local;
        double fe = m->moe_ffn, upe = (m->gated_ffn ? 2.0 : 1.0) * fe;
        const double ge[2][3] = {{per, upe, h}, {per, h, fe}};
        /* Token permutations, each reading and writing every dispatched token
         * (Megatron's all-to-all dispatcher): into expert order before the
         * dispatch and back after the combine, and with several local
         * experts also a sort of the received chunks by expert and its
         * inverse. */
        double perm = (g->ep > 1 && local > 1.0 ? 4.0 : 2.0) * 2.0 * toks * h;
        double elem = 2.0 * (tok / tp * 5.0 * h + toks * (upe + fe) + perm);
        static const char *const expert_name[2] = {"moe.up", "moe.down"};
        /* The router is a plain linear layer, outside Transformer Engine:
         * bf16 under FP8 (Megatron-LM's TopKRouter). */
        k->mlp_fwd = gemm_at(g, gpu, hp, "moe.router", "fwd", 1, tok / tp, E, h) + train_memory_time(gpu, elem + drop);
        k->mlp_bwd =
            gemm_at(g, gpu, hp, "moe.router", "dgrad", 1, tok / tp, h, E) + train_memory_time(gpu, 2.0 * elem + drop);
        for (int i = 0; i < 2; i++) {
            linear_casts(g, gpu, local, ge[i][0], ge[i][2], ge[i][1], false, &k->mlp_fwd, &k->mlp_bwd);
            k->mlp_fwd += gemm(g, gpu, expert_name[i], "fwd", local, ge[i][0], ge[i][1], ge[i][2]);
            k->mlp_bwd += gemm(g, gpu, expert_name[i], "dgrad", local, ge[i][0], ge[i][2], ge[i][1]);
            if (full)
                k->mlp_bwd += gemm(g, gpu, expert_name[i], "wgrad", local, ge[i][2], ge[i][1], ge[i][0]);
        }
        k->a2a_bytes = (uint64_t)(toks * h * 2.0);
        if (!full) { /* each local expert's adapters on its share of the tokens */
            double gate = m->gated_ffn ? 2.0 : 1.0;
            for (int bwd = 0; bwd < 2; bwd++) {
                const char *pass = bwd ? "bwd" : "fwd";
                double x = bwd ? 2.0 : 1.0;
                double b = 0.0;
                if (targets & MODEL_LORA_FC1)
                    b += lora_matrix(g, "lora.moe.fc1", pass, local * x, per, h, r, gate * fe, r);
                if ((targets & MODEL_LORA_GATE) && m->gated_ffn)
                    b += lora_matrix(g, "lora.moe.gate", pass, local * x, per, h, r, fe, r);
                if (targets & MODEL_LORA_UP)
                    b += lora_matrix(g, "lora.moe.up", pass, local * x, per, h, r, fe, r);
                if (targets & MODEL_LORA_FC2)
                    b += lora_matrix(g, "lora.moe.down", pass, local * x, per, fe, r, h, r);
                if (l->lora_dropout > 0.0) /* on each local expert's adapter inputs, as above */
                    b += train_memory_time(gpu, 5.0 * local * per *
                                                    (model_lora_fc1_adapters(m, targets) * h +
                                                     (targets & MODEL_LORA_FC2 ? fe : 0.0)));
                *(bwd ? &k->mlp_bwd : &k->mlp_fwd) += b;
            }
        }
    }
    k->layer_params = (model_layer_params(m) - model_layer_expert_params(m)) / tp + model_layer_expert_params(m) / g->ep;
    k->layer_trained = full ? k->layer_params : 0.0;
    k->expert_trained = full ? model_layer_expert_params(m) / g->ep : 0.0;
    k->layer_linear = full ? model_layer_linear_params(m, l) - model_layer_linear_expert_params(m, l) : 0.0;
    if (!full) /* the adapters, as the memory accounting counts them: the experts' over EP */
        k->layer_trained = model_lora_layer_trained(m, l, &k->expert_trained);
    if (l->tune == MODEL_TRAIN_QLORA) /* NF4 weights dequantized to bf16 for every pass */
        k->qlora_dequant = train_memory_time(gpu, k->layer_params * (4.127 / 8.0 + 2.0));
    k->embed_params = V * h / tp;
    k->position_params = model_position_params(m);
    k->tp_bytes = (uint64_t)(tok * h * 2.0);
    if (!full && g->tp > 1) {
        k->lora_col[0] = model_lora_qkv_adapters(targets);
        k->lora_row[0] = targets & MODEL_LORA_PROJ ? 1 : 0;
        /* The experts' adapters run on their dispatched tokens, which the
         * experts here take without TP: no collectives of their own. */
        k->lora_col[1] = g->moe ? 0 : model_lora_fc1_adapters(m, targets);
        k->lora_row[1] = !g->moe && (targets & MODEL_LORA_FC2) ? 1 : 0;
        k->lora_whole[0] = g->c->tp_overlap && k->lora_col[0] > 0;
        k->lora_own[1] = fc1_own ? k->lora_col[1] : 0;
        k->lora_r_bytes = (uint64_t)(tok * r * 2.0);
    }
    /* Under FP8 training Transformer Engine gathers a linear layer's input
     * and its output gradient quantized, 1 byte an element: 1.x the norm's
     * FP8 output (layernorm_linear.py: ln_out in uint8 unless
     * return_layernorm_output) and the gradient cast before its gather
     * (grad_output_preprocess, "FP8 case with gather"), 2.x both through
     * gather_along_first_dim with their quantizers, and its userbuffers
     * likewise (initialize_ub: "AllGather buffers use fp8 when using fp8
     * recipe"). A layer that hands its norm's output to LoRA adapters
     * (return_layernorm_output, lora_colls) gathers it in bf16. The
     * reduce-scatters stay in bf16. */
    k->ag_dy_bytes = g->c->prec == PLAT_FP8 ? k->tp_bytes / 2 : k->tp_bytes;
    for (int b = 0; b < 2; b++)
        k->ag_in_bytes[b] = g->c->prec == PLAT_FP8 && k->lora_col[b] <= k->lora_own[b] ? k->tp_bytes / 2 : k->tp_bytes;
    k->kv_bytes = (uint64_t)(2.0 * S * l->micro_batch * kv / tp * 2.0);
    k->kv_step_bytes = k->kv_bytes / (uint64_t)g->cp;
    k->p2p_bytes = (uint64_t)(tok * h * 2.0 / tp);
}

static void gen_init(gen *g, const model *m, const plat *p, const train_config *c)
{
    g->m = m;
    g->p = p;
    g->c = c;
    g->tp = c->l.tp;
    g->cp = cp_of(c);
    g->dp = c->l.dp;
    g->pp = c->l.pp;
    g->vpp = vpp_of(c);
    g->nv = g->pp * g->vpp;
    g->zero = c->l.zero;
    g->ep = c->l.ep > 1 ? c->l.ep : 1;
    g->moe = m->experts > 1;
    g->grad_bytes = c->l.grad_fp32 ? 4.0 : 2.0;
    compute_costs(g, &plat_type_of_rank(p, 0)->gpu);
}

size_t train_gemms(const model *m, const plat *p, const train_config *c, train_gemm out[TRAIN_MAX_GEMMS],
                   train_layer_time *layer)
{
    gen g;

    memset(&g, 0, sizeof(g));
    g.rec = out;
    gen_init(&g, m, p, c);
    if (layer != NULL) {
        layer->fwd_s = g.k.attn_fwd + g.k.mlp_fwd + g.k.qlora_dequant;
        layer->bwd_s = g.k.attn_bwd + g.k.mlp_bwd + g.k.qlora_dequant;
        layer->attention_fwd_s = g.k.core_fwd;
        layer->attention_bwd_s = g.k.core_bwd;
        layer->dequant_s = g.k.qlora_dequant;
    }
    assert(g.nrec < TRAIN_MAX_GEMMS); /* room to spare: 40 at most (MoE with all-linear adapters) */
    return g.nrec;
}

/* One rank's emission state. */
typedef struct rank_state {
    int rank, t, c, d, s;
    uint32_t last;  /* last operation of the compute chain */
    uint32_t *dp_ops; /* the data-parallel collectives, which the optimizer waits for */
    size_t ndp, dpcap;
    int err;          /* SP_ENOMEM once an allocation failed */
} rank_state;

static uint32_t op_compute(gen *g, rank_state *st, const char *name, double dur, int layer)
{
    wl_op op = {0};
    uint32_t dep = st->last;

    op.kind = WL_COMPUTE;
    op.stream = WL_STREAM_COMPUTE;
    op.duration_s = dur;
    op.layer = layer;
    op.peer = -1;
    st->last = wl_build_op(g->b, st->rank, &op, name, &dep, dep == NONE ? 0 : 1);
    return st->last;
}

/* A collective on a stream after the given operations, holding `sms` SMs
 * beside compute (wl_op.sms: 0 for NCCL's CTAs); the compute chain is left
 * alone. */
static uint32_t op_coll_sms(gen *g, rank_state *st, wl_stream stream, const char *name, coll_kind kind,
                            uint64_t bytes, int group, int layer, const uint32_t *deps, uint32_t nd, int sms)
{
    wl_op op = {0};

    op.kind = WL_COLL;
    op.sms = sms;
    op.stream = stream;
    op.coll = kind;
    op.bytes = bytes > 0 ? bytes : 1;
    op.group = group;
    op.layer = layer;
    op.peer = -1;
    return wl_build_op(g->b, st->rank, &op, name, deps, nd);
}

/* The same run by NCCL. */
static uint32_t op_coll_on(gen *g, rank_state *st, wl_stream stream, const char *name, coll_kind kind, uint64_t bytes,
                           int group, int layer, const uint32_t *deps, uint32_t nd)
{
    return op_coll_sms(g, st, stream, name, kind, bytes, group, layer, deps, nd, 0);
}

/* The same on the model-parallel stream. */
static uint32_t op_coll_after(gen *g, rank_state *st, const char *name, coll_kind kind, uint64_t bytes, int group,
                              int layer, const uint32_t *deps, uint32_t nd)
{
    return op_coll_on(g, st, WL_STREAM_COMM, name, kind, bytes, group, layer, deps, nd);
}

/* A model-parallel collective on the compute chain (exposed). */
static void op_mp_coll(gen *g, rank_state *st, const char *name, coll_kind kind, uint64_t bytes, int group,
                       int layer)
{
    uint32_t dep = st->last;

    st->last = op_coll_after(g, st, name, kind, bytes, group, layer, &dep, dep == NONE ? 0 : 1);
}

static uint32_t op_dp_coll_in(gen *g, rank_state *st, const char *name, coll_kind kind, double bytes, uint32_t dep,
                              int layer, int group)
{
    wl_op op = {0};
    uint32_t idx;

    op.kind = WL_COLL;
    op.stream = WL_STREAM_COMM_DP;
    op.coll = kind;
    op.bytes = (uint64_t)(bytes > 1.0 ? bytes : 1.0);
    op.group = group;
    op.layer = layer;
    op.peer = -1;
    idx = wl_build_op(g->b, st->rank, &op, name, &dep, dep == NONE ? 0 : 1);
    if (vec_reserve((void **)&st->dp_ops, &st->dpcap, st->ndp + 1, sizeof(*st->dp_ops)) < 0) {
        st->err = SP_ENOMEM;
        return NONE;
    }
    st->dp_ops[st->ndp++] = idx;
    return idx;
}

static uint32_t op_dp_coll(gen *g, rank_state *st, const char *name, coll_kind kind, double bytes, uint32_t dep,
                           int layer)
{
    return op_dp_coll_in(g, st, name, kind, bytes, dep, layer, g->dp_group[st->rank]);
}

static void op_p2p(gen *g, rank_state *st, wl_op_kind kind, int peer, int tag, const char *name, int layer)
{
    wl_op op = {0};
    uint32_t dep = st->last;
    uint32_t idx;

    op.kind = kind;
    op.stream = WL_STREAM_P2P;
    op.bytes = g->k.p2p_bytes;
    op.peer = peer;
    op.tag = tag;
    op.layer = layer;
    /* A send follows the compute that produced its data; a receive is posted
     * when the work before it is done (the data arrives eagerly meanwhile, so
     * its time is only the wait for a late stage), and the compute that needs
     * it waits for it. */
    idx = wl_build_op(g->b, st->rank, &op, name, &dep, dep != NONE ? 1 : 0);
    if (kind == WL_RECV) {
        /* The next compute depends on both the chain and the receive: chain them
         * through a zero-time join. */
        wl_op join = {0};
        uint32_t deps[2];
        uint32_t nd = 0;
        if (st->last != NONE)
            deps[nd++] = st->last;
        deps[nd++] = idx;
        join.kind = WL_COMPUTE;
        join.stream = WL_STREAM_COMPUTE;
        join.layer = layer;
        join.peer = -1;
        st->last = wl_build_op(g->b, st->rank, &join, "pp wait", deps, nd);
    }
}

/* A compute operation that needs a ZeRO-3 gather first: both chained. */
static uint32_t op_compute_after(gen *g, rank_state *st, const char *name, double dur, int layer, uint32_t also)
{
    wl_op op = {0};
    uint32_t deps[2], nd = 0;

    if (also == NONE)
        return op_compute(g, st, name, dur, layer);
    if (st->last != NONE)
        deps[nd++] = st->last;
    deps[nd++] = also;
    op.kind = WL_COMPUTE;
    op.stream = WL_STREAM_COMPUTE;
    op.duration_s = dur;
    op.layer = layer;
    op.peer = -1;
    st->last = wl_build_op(g->b, st->rank, &op, name, deps, nd);
    return st->last;
}

/* LoRA adapters' own tensor-parallel collectives in a block, as NeMo's
 * ParallelLinearAdapter runs them under sequence parallelism (nemo/
 * collections/nlp/modules/common/megatron/adapters/parallel_adapters.py,
 * the NeMo 2.0 pre-release MLPerf Training v4.0 ran), after the block's
 * compute on its chain: plain torch.distributed calls, not overlapped.
 *   - An adapter on a column-parallel layer (QKV, the first FFN layer)
 *     reads that layer's input gathered over TP. Transformer Engine (1.5
 *     and later) returns the layer-norm output it gathered
 *     (return_layernorm_output_gathered), which NeMo asks for only where
 *     the layer's userbuffer all-gather is off: without TP overlap; under
 *     it, on QKV, whose overlap NeMo's LoRA recipes and NVIDIA's MLPerf
 *     runs turn off (Megatron-core 0.7's tp_comm_disable_qkv, later
 *     tp_comm_overlap_disable_qkv), so its gather stays whole and exposed
 *     (tp_block; its gradient's reduce-scatter, into which TE adds the
 *     adapter's, is exposed with frozen weights anyway). The first FFN
 *     layer keeps its overlap
 *     and its adapter gathers its input itself (forward an all-gather of
 *     tok x h, backward a reduce-scatter). The down-projection
 *     (column-parallel, gather_output) all-gathers its tok x r output
 *     forward; the up-projection's input gradient, tok x r, is all-reduced
 *     backward.
 *   - An adapter on a row-parallel layer (the projection, the second FFN
 *     layer) reads the TP shard: its down-projection (row-parallel)
 *     all-reduces tok x r forward; its tok x h/tp output goes back to the
 *     sequence shards by an all-gather of tok x h (then a local split;
 *     backward an all-gather again), or with lora_a2a (a2a_experimental)
 *     an all-to-all each way; backward its up-projection's input gradient,
 *     tok x r, is all-reduced.
 * All in bf16. */
static void lora_col_colls(gen *g, rank_state *st, int layer, int block, bool backward)
{
    const costs *k = &g->k;
    char name[48];
    int tpg = g->tp_group[st->rank];

    for (int i = 0; i < k->lora_col[block]; i++) {
        bool own = i < k->lora_own[block];
        if (own && !backward) {
            snprintf(name, sizeof(name), "L%d lora all_gather in", layer);
            op_mp_coll(g, st, name, COLL_ALL_GATHER, k->tp_bytes, tpg, layer);
        }
        snprintf(name, sizeof(name), "L%d lora %s", layer, backward ? "all_reduce dgrad col" : "all_gather r");
        op_mp_coll(g, st, name, backward ? COLL_ALL_REDUCE : COLL_ALL_GATHER, k->lora_r_bytes, tpg, layer);
        if (own && backward) {
            snprintf(name, sizeof(name), "L%d lora reduce_scatter in", layer);
            op_mp_coll(g, st, name, COLL_REDUCE_SCATTER, k->tp_bytes, tpg, layer);
        }
    }
}

static void lora_row_colls(gen *g, rank_state *st, int layer, int block, bool backward)
{
    const costs *k = &g->k;
    char name[48];
    int tpg = g->tp_group[st->rank];
    bool a2a = g->c->lora_a2a;

    for (int i = 0; i < k->lora_row[block]; i++) {
        if (!backward) {
            snprintf(name, sizeof(name), "L%d lora all_reduce r", layer);
            op_mp_coll(g, st, name, COLL_ALL_REDUCE, k->lora_r_bytes, tpg, layer);
        }
        snprintf(name, sizeof(name), "L%d lora %s", layer, a2a ? "all_to_all" : "all_gather out");
        op_mp_coll(g, st, name, a2a ? COLL_ALL_TO_ALL : COLL_ALL_GATHER,
                   a2a ? k->tp_bytes / (uint64_t)g->tp : k->tp_bytes, tpg, layer);
        if (backward) {
            snprintf(name, sizeof(name), "L%d lora all_reduce dgrad row", layer);
            op_mp_coll(g, st, name, COLL_ALL_REDUCE, k->lora_r_bytes, tpg, layer);
        }
    }
}

/* In the order the block runs them: forward the column-parallel layer's
 * adapters first, backward the row-parallel layer's. */
static void lora_colls(gen *g, rank_state *st, int layer, int block, bool backward)
{
    if (backward) {
        lora_row_colls(g, st, layer, block, backward);
        lora_col_colls(g, st, layer, block, backward);
    } else {
        lora_col_colls(g, st, layer, block, backward);
        lora_row_colls(g, st, layer, block, backward);
    }
}

/* Which pass a block's operations belong to (their names say so). */
typedef enum block_pass { PASS_FWD, PASS_RECOMPUTE, PASS_BWD } block_pass;

static const char *pass_name(block_pass p)
{
    return p == PASS_BWD ? "bwd" : p == PASS_RECOMPUTE ? "recompute" : "fwd";
}

/* Context parallelism's ring (cp_comm p2p) inside an attention block, as
 * Transformer Engine's AttnFuncWithCP runs it: each step's kernel beside the
 * exchange of the keys and values for the next (a send to the next rank of
 * the CP group and a receive from the previous, COLL_SEND_RECV), which the
 * next step waits for. Forward: step 0 on the rank's own keys (causal)
 * while the first exchange runs, CP - 1 exchanges in all; the steps
 * alternate between two streams, and an exchange, issued from one of them,
 * waits for what that stream ran before (PyTorch's NCCL calls wait for the
 * issuing stream): exchange i >= 2 for step i - 2's kernel and merges.
 * Backward, on one stream, in the forward's reverse order and the ring
 * turned round (simulated the same way round: on full-duplex links it
 * times the same): backward steps 0 to CP - 2 are the blocks, step CP - 1
 * the causal one; exchange i leaves with step i's kernel, carrying the
 * keys and values (i = 0), the keys and values and their gradients summed
 * so far (twice the bytes, 0 < i < CP - 1), or the gradients alone (i =
 * CP - 1), so from i = 1 it waits for the previous step's sum; the pass
 * ends when the last gradients have arrived and been summed. The rest of
 * the block's compute (`dur`, less the kernels) runs before the ring. The
 * exchanges run on a stream of their own (the CP group's communicator's),
 * not the TP collectives'. */
static void ring_block(gen *g, rank_state *st, int layer, const char *name, double dur, uint32_t also, block_pass ps)
{
    const costs *k = &g->k;
    int cp = g->cp, grp = g->cp_group[st->rank];
    bool backward = ps == PASS_BWD;
    double first = backward ? k->ring_first_bwd : k->ring_first_fwd;
    double step = backward ? k->ring_step_bwd : k->ring_step_fwd;
    uint32_t x = NONE, deps[2], before = NONE; /* forward: the kernel two steps back */
    char nm[64];

    op_compute_after(g, st, name, dur - (first + (cp - 1) * step), layer, also);
    for (int i = 0; i < cp; i++) {
        uint32_t prev = st->last, prev_x = x;
        bool diagonal = backward ? i == cp - 1 : i == 0;
        if (backward || i < cp - 1) {
            uint32_t nd = 0, after = backward || i == 0 ? prev : before;
            if (prev_x != NONE)
                deps[nd++] = prev_x;
            if (after != NONE)
                deps[nd++] = after;
            snprintf(nm, sizeof(nm), "L%d cp ring %s %s %d", layer, pass_name(ps),
                     !backward || i == 0 ? "kv" : i < cp - 1 ? "kv+dkv" : "dkv", i);
            x = op_coll_on(g, st, WL_STREAM_CP, nm, COLL_SEND_RECV,
                           backward && i > 0 && i < cp - 1 ? 2 * k->kv_step_bytes : k->kv_step_bytes, grp, layer, deps,
                           nd);
        }
        snprintf(nm, sizeof(nm), "L%d attn %s step %d", layer, pass_name(ps), i);
        before = i > 0 ? prev : NONE;
        op_compute_after(g, st, nm, diagonal ? first : step, layer, prev_x);
    }
    if (backward) {
        snprintf(nm, sizeof(nm), "L%d cp ring dkv wait", layer);
        op_compute_after(g, st, nm, 0.0, layer, x);
    }
}

/* A block's compute: one operation; for attention under CP's ring,
 * ring_block's; under CP's all-to-all, the kernel between its two
 * all-to-alls. */
static void block_compute(gen *g, rank_state *st, int layer, const char *name, double dur, uint32_t also, int block,
                          block_pass ps)
{
    const costs *k = &g->k;
    bool backward = ps == PASS_BWD;
    int grp = g->cp_group[st->rank];
    char nm[64];

    if (block == 0 && g->cp > 1 && g->c->cp_comm == TRAIN_CP_P2P) {
        ring_block(g, st, layer, name, dur, also, ps);
    } else if (block == 0 && g->cp > 1 && g->c->cp_comm == TRAIN_CP_A2A) {
        /* The rest of the block's compute, then the all-to-all into heads,
         * the kernel, the all-to-all back to the sequence shards, each
         * waiting for the one before (TE waits for each all-to-all), on the
         * CP group's stream. Backward: the output and its gradient in (TE
         * saves the output in sequence shards), the three gradients out. */
        double core = backward ? k->core_bwd : k->core_fwd;
        op_compute_after(g, st, name, dur - core, layer, also);
        snprintf(nm, sizeof(nm), "L%d cp all_to_all %s %s", layer, pass_name(ps), backward ? "out+dout" : "qkv");
        st->last = op_coll_on(g, st, WL_STREAM_CP, nm, COLL_ALL_TO_ALL,
                              backward ? 2 * k->a2a_out_bytes : k->a2a_qkv_bytes, grp, layer, &st->last, 1);
        snprintf(nm, sizeof(nm), "L%d attn %s core", layer, pass_name(ps));
        op_compute(g, st, nm, core, layer);
        snprintf(nm, sizeof(nm), "L%d cp all_to_all %s %s", layer, pass_name(ps), backward ? "dqkv" : "out");
        st->last = op_coll_on(g, st, WL_STREAM_CP, nm, COLL_ALL_TO_ALL,
                              backward ? k->a2a_qkv_bytes : k->a2a_out_bytes, grp, layer, &st->last, 1);
    } else {
        op_compute_after(g, st, name, dur, layer, also);
    }
}

/* Under TP overlap, a GEMM whose input Transformer Engine gathers as it
 * runs, by its "ring_exchange" method (initialize_ub's default for the
 * column-parallel forwards, qkv_fprop and fc1_fprop, and the row-parallel
 * input gradients, proj_dgrad and fc2_dgrad; transformer_engine/pytorch/
 * module/base.py): the GEMM cut into tp chunks of a TP shard's rows, the
 * rank's own chunk first while it sends that shard to the next rank of the
 * TP group and receives the previous rank's (one send/recv a step, tp - 1
 * steps), each later chunk waiting for the exchange that brought its
 * shard. With chunks alike, each step lasts the slower of a chunk's GEMM
 * and an exchange, which this times the same in three operations: tp - 1
 * chunks' GEMMs beside the tp - 1 exchanges back to back (one send/recv of
 * tp - 1 shards), then the last chunk after both. `bytes` is what the
 * whole gather would hold; `also` (unless NONE) is waited for by the first
 * GEMM. */
static void ring_gemm(gen *g, rank_state *st, int layer, const char *name, double chunk, uint64_t bytes,
                      uint32_t also)
{
    uint64_t shard = bytes / (uint64_t)g->tp;
    uint32_t deps[1], nd = 0, x;
    char nm[80];

    if (st->last != NONE)
        deps[nd++] = st->last;
    snprintf(nm, sizeof(nm), "L%d tp all_gather ring", layer);
    x = op_coll_sms(g, st, WL_STREAM_COMM, nm, COLL_SEND_RECV, shard * (uint64_t)(g->tp - 1), g->tp_group[st->rank],
                    layer, deps, nd, -1);
    if (g->tp > 2)
        snprintf(nm, sizeof(nm), "L%d %s chunks 1-%d", layer, name, g->tp - 1);
    else
        snprintf(nm, sizeof(nm), "L%d %s chunk 1", layer, name);
    op_compute_after(g, st, nm, (g->tp - 1) * chunk, layer, also);
    snprintf(nm, sizeof(nm), "L%d %s chunk %d", layer, name, g->tp);
    op_compute_after(g, st, nm, chunk, layer, x);
}

/* Under TP overlap, the row-parallel forward GEMM with its output's
 * reduce-scatter, by Transformer Engine's "pipeline" method (the default
 * for proj_fprop and fc2_fprop): TP_SPLITS chunks of rows, each chunk's
 * share reduce-scattered while the next chunks run. Timed the same in
 * three operations: the first chunk; the other chunks beside the
 * reduce-scatter of all but the last chunk's share; then (after the
 * LoRA adapters' collectives, which the model-parallel stream runs next)
 * the last share's reduce-scatter, exposed. */
static void pipeline_gemm(gen *g, rank_state *st, int layer, const char *name, double split, int block)
{
    uint64_t part = g->k.tp_bytes / TP_SPLITS;
    uint32_t deps[2], rs;
    int tpg = g->tp_group[st->rank];
    char nm[80];

    snprintf(nm, sizeof(nm), "L%d %s split 1", layer, name);
    deps[0] = op_compute(g, st, nm, split, layer);
    snprintf(nm, sizeof(nm), "L%d tp reduce_scatter pipelined", layer);
    rs = op_coll_sms(g, st, WL_STREAM_COMM, nm, COLL_REDUCE_SCATTER, part * (TP_SPLITS - 1), tpg, layer, deps, 1,
                     TP_UB_SMS);
    snprintf(nm, sizeof(nm), "L%d %s splits 2-%d", layer, name, TP_SPLITS);
    op_compute(g, st, nm, (TP_SPLITS - 1) * split, layer);
    lora_colls(g, st, layer, block, false);
    deps[0] = st->last;
    deps[1] = rs;
    snprintf(nm, sizeof(nm), "L%d tp reduce_scatter split %d", layer, TP_SPLITS);
    st->last = op_coll_sms(g, st, WL_STREAM_COMM, nm, COLL_REDUCE_SCATTER, g->k.tp_bytes - part * (TP_SPLITS - 1),
                           tpg, layer, deps, 2, TP_UB_SMS);
}

/* A tensor-parallel block (block 0 attention, 1 FFN) under sequence
 * parallelism, `dur` its compute (after `also` too, unless NONE), as
 * Transformer Engine's layers run it (layernorm_linear.py, linear.py).
 * Forward: the input all-gathered, the column-parallel GEMM, the rest of
 * the block, the row-parallel GEMM, its output reduce-scattered, all on the
 * compute chain; the LoRA adapters' collectives before the reduce-scatter.
 * Backward: the output gradient all-gathered for the row-parallel layer's
 * GEMMs, then the rest of the block, the adapters' collectives, and the
 * column-parallel layer: when its weight is trained, its input gathered
 * again beside its input-gradient GEMM (only the sequence shard was kept:
 * "Overlap input AG with dgrad") and the input gradient reduce-scattered
 * beside its weight-gradient GEMM ("Overlap dgrad-RS/AR with wgrad"), what
 * follows the block waiting for both (the layer norm's gradient, which
 * needs the reduce-scatter, is timed with the rest of the block's
 * elementwise work, before: a simplification); frozen, the reduce-scatter
 * follows the input gradient, exposed. Megatron-LM's own layers do the same (Korthikanti
 * et al., arXiv 2205.05198, section 4.2.2). With tp_overlap, TE's
 * userbuffers: the forward's gather and the backward's output-gradient
 * gather by ring_gemm, the forward's reduce-scatter by pipeline_gemm, the
 * backward's gather and reduce-scatter as above ("bulk", beside the same
 * GEMMs); where adapters read the column-parallel layer's gathered input
 * (lora_colls), its forward gather stays whole and exposed. */
static void tp_block(gen *g, rank_state *st, int layer, const char *what, double dur, uint32_t also, int block,
                     block_pass ps)
{
    static const char *const col_name[2] = {"qkv", "fc1"}, *const row_name[2] = {"proj", "fc2"};
    const costs *k = &g->k;
    bool backward = ps == PASS_BWD, ub = g->c->tp_overlap, full = g->c->l.tune == MODEL_TRAIN_FULL;
    char name[80];
    uint64_t bytes = k->tp_bytes;
    int tpg = g->tp_group[st->rank];

    snprintf(name, sizeof(name), "L%d %s", layer, what);
    if (g->tp <= 1) {
        block_compute(g, st, layer, name, dur, also, block, ps);
        return;
    }
    if (!backward && ub) {
        double rest = dur - k->tpg[block].col_fwd - k->tpg[block].row_fwd;
        char part[64];
        snprintf(part, sizeof(part), "%s %s", what, col_name[block]);
        if (k->lora_whole[block]) {
            snprintf(name, sizeof(name), "L%d tp all_gather", layer);
            op_mp_coll(g, st, name, COLL_ALL_GATHER, k->ag_in_bytes[block], tpg, layer);
            snprintf(name, sizeof(name), "L%d %s", layer, part);
            op_compute_after(g, st, name, k->tpg[block].col_fwd, layer, also);
        } else {
            ring_gemm(g, st, layer, part, k->tpg[block].col_chunk, k->ag_in_bytes[block], also);
        }
        snprintf(name, sizeof(name), "L%d %s", layer, what);
        block_compute(g, st, layer, name, rest, NONE, block, ps);
        snprintf(part, sizeof(part), "%s %s", what, row_name[block]);
        pipeline_gemm(g, st, layer, part, k->tpg[block].row_split, block);
        return;
    }
    if (!backward || (!ub && !full)) {
        /* One operation for the block's compute: nothing runs beside it. */
        snprintf(name, sizeof(name), "L%d tp all_gather", layer);
        op_mp_coll(g, st, name, COLL_ALL_GATHER, backward ? k->ag_dy_bytes : k->ag_in_bytes[block], tpg, layer);
        snprintf(name, sizeof(name), "L%d %s", layer, what);
        block_compute(g, st, layer, name, dur, also, block, ps);
        lora_colls(g, st, layer, block, backward);
        snprintf(name, sizeof(name), "L%d tp reduce_scatter", layer);
        op_mp_coll(g, st, name, COLL_REDUCE_SCATTER, bytes, tpg, layer);
        return;
    }
    {
        double col = k->tpg[block].col_dgrad + k->tpg[block].col_wgrad;
        double rest = dur - col - (ub ? k->tpg[block].row_dgrad : 0.0);
        uint32_t deps[2], x, rs;
        char part[64];
        if (ub) {
            snprintf(part, sizeof(part), "%s %s dgrad", what, row_name[block]);
            ring_gemm(g, st, layer, part, k->tpg[block].row_dgrad_chunk, k->ag_dy_bytes, also);
        } else {
            snprintf(name, sizeof(name), "L%d tp all_gather", layer);
            op_mp_coll(g, st, name, COLL_ALL_GATHER, k->ag_dy_bytes, tpg, layer);
        }
        snprintf(name, sizeof(name), "L%d %s", layer, what);
        block_compute(g, st, layer, name, rest, ub ? NONE : also, block, ps);
        lora_colls(g, st, layer, block, backward);
        if (!full) {
            snprintf(name, sizeof(name), "L%d %s %s dgrad", layer, what, col_name[block]);
            op_compute(g, st, name, k->tpg[block].col_dgrad, layer);
            snprintf(name, sizeof(name), "L%d tp reduce_scatter", layer);
            op_mp_coll(g, st, name, COLL_REDUCE_SCATTER, bytes, tpg, layer);
            return;
        }
        deps[0] = st->last;
        snprintf(name, sizeof(name), "L%d tp all_gather input", layer);
        x = op_coll_sms(g, st, WL_STREAM_COMM, name, COLL_ALL_GATHER, k->ag_in_bytes[block], tpg, layer, deps,
                        st->last != NONE, ub ? TP_UB_SMS : 0);
        snprintf(name, sizeof(name), "L%d %s %s dgrad", layer, what, col_name[block]);
        deps[0] = op_compute(g, st, name, k->tpg[block].col_dgrad, layer);
        deps[1] = x;
        snprintf(name, sizeof(name), "L%d tp reduce_scatter", layer);
        rs = op_coll_sms(g, st, WL_STREAM_COMM, name, COLL_REDUCE_SCATTER, bytes, tpg, layer, deps, 2,
                         ub ? TP_UB_SMS : 0);
        snprintf(name, sizeof(name), "L%d %s %s wgrad", layer, what, col_name[block]);
        op_compute_after(g, st, name, k->tpg[block].col_wgrad, layer, x);
        snprintf(name, sizeof(name), "L%d dgrad reduce-scatter wait", layer);
        op_compute_after(g, st, name, 0.0, layer, rs);
    }
}

/* A mixture-of-experts block on this rank's sequence shard: the router, the
 * tokens dispatched to their experts' ranks (all-to-all over the EP group),
 * the local experts, the results combined back (all-to-all). Backward: the
 * same in reverse. */
static void moe_block(gen *g, rank_state *st, int layer, const char *what, bool backward)
{
    char name[48];
    const costs *k = &g->k;

    if (g->ep > 1) {
        snprintf(name, sizeof(name), "L%d ep all_to_all %s", layer, backward ? "combine grad" : "dispatch");
        op_mp_coll(g, st, name, COLL_ALL_TO_ALL, k->a2a_bytes, g->ep_group[st->rank], layer);
    }
    snprintf(name, sizeof(name), "L%d moe %s", layer, what);
    op_compute(g, st, name, (backward ? k->mlp_bwd : k->mlp_fwd) + k->qlora_dequant / 2, layer);
    if (g->ep > 1) {
        snprintf(name, sizeof(name), "L%d ep all_to_all %s", layer, backward ? "dispatch grad" : "combine");
        op_mp_coll(g, st, name, COLL_ALL_TO_ALL, k->a2a_bytes, g->ep_group[st->rank], layer);
    }
}

static void layer_forward(gen *g, rank_state *st, int layer, bool recompute, uint32_t gathered)
{
    char name[48];
    const costs *k = &g->k;
    const char *what = recompute ? "recompute" : "fwd";

    if (g->cp > 1 && g->c->cp_comm == TRAIN_CP_ALL_GATHER) {
        snprintf(name, sizeof(name), "L%d cp kv all_gather", layer);
        op_mp_coll(g, st, name, COLL_ALL_GATHER, k->kv_bytes, g->cp_group[st->rank], layer);
    }
    snprintf(name, sizeof(name), "attn %s", what);
    tp_block(g, st, layer, name, k->attn_fwd + k->qlora_dequant / 2, gathered, 0, recompute ? PASS_RECOMPUTE : PASS_FWD);
    if (g->moe) {
        moe_block(g, st, layer, what, false);
        return;
    }
    snprintf(name, sizeof(name), "mlp %s", what);
    tp_block(g, st, layer, name, k->mlp_fwd + k->qlora_dequant / 2, NONE, 1, recompute ? PASS_RECOMPUTE : PASS_FWD);
}

static void layer_backward(gen *g, rank_state *st, int layer, uint32_t gathered)
{
    char name[48];
    const costs *k = &g->k;
    double extra = 0.0;

    if (g->c->l.recompute == MODEL_RECOMPUTE_FULL)
        layer_forward(g, st, layer, true, gathered), gathered = NONE;
    else if (g->c->l.recompute == MODEL_RECOMPUTE_SELECTIVE && !g->c->l.flash_attention)
        extra = k->core_fwd; /* the attention scores, recomputed */
    if (g->moe) {
        if (gathered != NONE) /* ZeRO-3's gather, needed by the experts' backward */
            op_compute_after(g, st, "zero3 wait", 0.0, layer, gathered);
        moe_block(g, st, layer, "bwd", true);
    } else {
        tp_block(g, st, layer, "mlp bwd", k->mlp_bwd + k->qlora_dequant / 2, gathered, 1, PASS_BWD);
    }
    tp_block(g, st, layer, "attn bwd", k->attn_bwd + extra + k->qlora_dequant / 2, NONE, 0, PASS_BWD);
    if (g->cp > 1 && g->c->cp_comm == TRAIN_CP_ALL_GATHER) {
        snprintf(name, sizeof(name), "L%d cp kv reduce_scatter", layer);
        op_mp_coll(g, st, name, COLL_REDUCE_SCATTER, k->kv_bytes, g->cp_group[st->rank], layer);
    }
}

/* Trained parameters of the input embedding (in virtual stage 0) and of the
 * output layer (in the last; none of its own when tied), full training only. */
static double embedding_trained(const gen *g)
{
    return g->c->l.tune == MODEL_TRAIN_FULL ? g->k.embed_params + g->k.position_params : 0.0;
}

static double output_trained(const gen *g)
{
    return g->m->tied_embeddings || g->c->l.tune != MODEL_TRAIN_FULL ? 0.0 : g->k.embed_params;
}

/* Where virtual stage vs holds no transformer layer (Llama 3's split: the
 * first chunk only the embedding, the last only the output layer), the
 * trained parameters it holds, a gradient bucket of their own; else 0. */
static double lone_head_params(const gen *g, int vs)
{
    if (model_vstage_layers(g->m, g->pp, g->vpp, vs) > 0)
        return 0.0;
    return vs == 0 ? embedding_trained(g) : vs == g->nv - 1 ? output_trained(g) : 0.0;
}

/* Gradient bytes of a layer (with the embedding or output layer it shares a
 * bucket with, when that sits in the layer's virtual stage). */
static double layer_grad_params(const gen *g, int layer)
{
    double n = g->k.layer_trained;

    if (layer == 0 && model_vstage_layers(g->m, g->pp, g->vpp, 0) > 0)
        n += embedding_trained(g);
    if (layer == g->m->layers - 1 && model_vstage_layers(g->m, g->pp, g->vpp, g->nv - 1) > 0)
        n += output_trained(g);
    return n;
}

/* Bytes of n parameters that ZeRO gathers, of which `linear` are linear
 * layers' weights: bf16, those in FP8 with fp8_params (Megatron-LM's
 * --fp8-param-gather; Megatron-FSDP gathers FP8 parameters so too). */
static double gathered_bytes(const gen *g, double n, double linear)
{
    return 2.0 * n - (g->c->l.fp8_params ? linear : 0.0);
}

/* ZeRO-3: gather a layer's parameters (gathered_bytes) on the data-parallel stream,
 * once the work issued so far is done: one layer ahead of its use. */
static uint32_t zero3_gather(gen *g, rank_state *st, int layer, const char *pass)
{
    char name[48];
    if (g->zero < 3 || g->dp * g->cp == 1)
        return NONE;
    snprintf(name, sizeof(name), "L%d dp param all_gather %s", layer, pass);
    return op_dp_coll(g, st, name, COLL_ALL_GATHER,
                      gathered_bytes(g, layer_grad_params(g, layer), g->k.layer_linear + g->k.expert_trained), st->last,
                      layer);
}

static void chunk_forward(gen *g, rank_state *st, int vs, int mb)
{
    int first = model_vstage_first(g->m, g->pp, g->vpp, vs), n = model_vstage_layers(g->m, g->pp, g->vpp, vs);
    uint32_t next = n > 0 ? zero3_gather(g, st, first, "fwd") : NONE;

    (void)mb;
    if (vs == 0)
        op_compute(g, st, "embedding fwd", g->k.embed_fwd, 0);
    for (int i = 0; i < n; i++) {
        uint32_t cur = next;
        next = i + 1 < n ? zero3_gather(g, st, first + i + 1, "fwd") : NONE;
        layer_forward(g, st, first + i, false, cur);
    }
    if (vs == g->nv - 1) {
        if (g->tp > 1)
            op_mp_coll(g, st, "output tp all_gather", COLL_ALL_GATHER, g->k.tp_bytes, g->tp_group[st->rank],
                       g->m->layers - 1);
        op_compute(g, st, "output+loss fwd", g->k.head_fwd, g->m->layers - 1);
    }
}

static void chunk_backward(gen *g, rank_state *st, int vs, int mb)
{
    int first = model_vstage_first(g->m, g->pp, g->vpp, vs), n = model_vstage_layers(g->m, g->pp, g->vpp, vs);
    bool last_mb = mb == g->c->l.microbatches - 1, grads = g->dp * g->cp > 1;
    uint32_t next = n > 0 ? zero3_gather(g, st, first + n - 1, "bwd") : NONE;
    coll_kind reduce = g->zero >= 1 ? COLL_REDUCE_SCATTER : COLL_ALL_REDUCE;
    char name[48];

    if (vs == g->nv - 1) {
        op_compute(g, st, "output+loss bwd", g->k.head_bwd, g->m->layers - 1);
        if (g->tp > 1)
            op_mp_coll(g, st, "output tp reduce_scatter", COLL_REDUCE_SCATTER, g->k.tp_bytes,
                       g->tp_group[st->rank], g->m->layers - 1);
    }
    for (int i = n - 1; i >= 0; i--) {
        int layer = first + i;
        uint32_t cur = next;
        next = i > 0 ? zero3_gather(g, st, layer - 1, "bwd") : NONE;
        layer_backward(g, st, layer, cur);
        if (layer == 0 && vs == 0)
            op_compute(g, st, "embedding bwd", g->k.embed_bwd, 0);
        /* Gradient buckets of one layer, reduced as soon as the last
         * micro-batch produced them (every micro-batch with ZeRO-3). */
        if (grads && (last_mb || g->zero >= 3) && layer_grad_params(g, layer) > 0.0) {
            /* Experts' gradients go to the ranks holding the same experts. */
            double experts = g->k.expert_trained, dense = layer_grad_params(g, layer) - experts;
            snprintf(name, sizeof(name), "L%d dp grad %s", layer, coll_kind_name(reduce));
            op_dp_coll(g, st, name, reduce, g->grad_bytes * dense, st->last, layer);
            if (experts > 0.0 && g->dp * g->cp > g->ep) {
                snprintf(name, sizeof(name), "L%d edp grad %s", layer, coll_kind_name(reduce));
                op_dp_coll_in(g, st, name, reduce, g->grad_bytes * experts, st->last, layer, g->edp_group[st->rank]);
            }
        }
    }
    /* A virtual stage of the embedding or the output layer alone. */
    if (n == 0 && vs == 0)
        op_compute(g, st, "embedding bwd", g->k.embed_bwd, 0);
    if (grads && last_mb && lone_head_params(g, vs) > 0.0) {
        snprintf(name, sizeof(name), "%s dp grad %s", vs == 0 ? "embedding" : "output", coll_kind_name(reduce));
        op_dp_coll(g, st, name, reduce, g->grad_bytes * lone_head_params(g, vs), st->last,
                   vs == 0 ? 0 : g->m->layers - 1);
    }
}

static int pp_peer(const gen *g, const rank_state *st, int vs)
{
    return rank_of(g, st->t, st->c, st->d, vs % g->pp);
}

/* Megatron-LM's 1F1B order (interleaved when vpp > 1): the warm-up forwards,
 * then one forward and one backward alternately, then the remaining
 * backwards. Virtual micro-batch k of this stage is micro-batch
 * (k / (pp * vpp)) * pp + k % pp of chunk (k / pp) % vpp (reversed for the
 * backward pass). */
static int sched_warmup(int pp, int v, int m, int s)
{
    int warm = v == 1 ? pp - s - 1 : (pp - s - 1) * 2 + (v - 1) * pp;
    return warm < m * v ? warm : m * v;
}

/* Stage s's k-th forward (or backward) in that order: its virtual stage and
 * micro-batch. */
static void sched_at(int pp, int v, int s, int k, bool fwd, int *vs, int *mb)
{
    int chunk = (k % (pp * v)) / pp;

    *mb = (k / (pp * v)) * pp + k % pp;
    if (v == 1)
        *mb = k, chunk = 0;
    if (!fwd)
        chunk = v - 1 - chunk;
    *vs = chunk * pp + s;
}

/* Stage s's k-th operation (0 <= k < 2 m v) in that order: a forward or a
 * backward, its virtual stage and micro-batch (rank_schedule and, on times,
 * train_pipeline_time). */
static void pipe_op(int pp, int v, int m, int s, int k, bool *fwd, int *vs, int *mb)
{
    int warm = sched_warmup(pp, v, m, s), total = m * v, nf, nb;

    /* The first warm are forwards; then a forward and a backward in turn
     * while forwards remain; then backwards. */
    if (k < warm) {
        nf = k, nb = 0, *fwd = true;
    } else if (k < warm + 2 * (total - warm)) {
        int j = k - warm;
        *fwd = j % 2 == 0;
        nf = warm + (j + 1) / 2, nb = j / 2;
        if (*fwd)
            nf = warm + j / 2;
    } else {
        nf = total, nb = k - total, *fwd = false;
    }
    sched_at(pp, v, s, *fwd ? nf : nb, *fwd, vs, mb);
}

static void rank_schedule(gen *g, rank_state *st)
{
    int m = g->c->l.microbatches;

    for (int k = 0; k < 2 * m * g->vpp; k++) {
        bool do_fwd;
        int vs, mb, V = g->nv;
        pipe_op(g->pp, g->vpp, m, st->s, k, &do_fwd, &vs, &mb);
        if (do_fwd) {
            if (vs > 0)
                op_p2p(g, st, WL_RECV, pp_peer(g, st, vs - 1), (mb * V + vs) * 2, "pp recv activations", -1);
            chunk_forward(g, st, vs, mb);
            if (vs < V - 1)
                op_p2p(g, st, WL_SEND, pp_peer(g, st, vs + 1), (mb * V + vs + 1) * 2, "pp send activations", -1);
        } else {
            if (vs < V - 1)
                op_p2p(g, st, WL_RECV, pp_peer(g, st, vs + 1), (mb * V + vs) * 2 + 1, "pp recv gradients", -1);
            chunk_backward(g, st, vs, mb);
            if (vs > 0)
                op_p2p(g, st, WL_SEND, pp_peer(g, st, vs - 1), (mb * V + vs - 1) * 2 + 1, "pp send gradients", -1);
        }
    }
}

/* The optimizer: Adam on this GPU's share of the trained parameters, a
 * memory-bound pass of model_adam_step_bytes each: master weight and both
 * moments read and written (24 B in fp32), the bf16 gradient read and the
 * bf16 weight written (4 B). */
static void rank_optimizer(gen *g, rank_state *st)
{
    const plat_gpu *gpu = &plat_type_of_rank(g->p, st->rank)->gpu;
    double trained = 0.0, experts = 0.0, linear = 0.0, share = g->zero >= 1 ? (double)g->dp * g->cp : 1.0;
    uint32_t *deps;
    wl_op op = {0};

    for (int c = 0; c < g->vpp; c++) {
        int vs = c * g->pp + st->s, first = model_vstage_first(g->m, g->pp, g->vpp, vs);
        trained += lone_head_params(g, vs);
        for (int i = 0; i < model_vstage_layers(g->m, g->pp, g->vpp, vs); i++) {
            trained += layer_grad_params(g, first + i);
            experts += g->k.expert_trained;
            linear += g->k.layer_linear;
        }
    }
    if ((deps = malloc((st->ndp + 2) * sizeof(*deps))) == NULL) {
        st->err = SP_ENOMEM;
        return;
    }
    if (st->ndp > 0)
        memcpy(deps, st->dp_ops, st->ndp * sizeof(*deps));
    if (st->last != NONE)
        deps[st->ndp] = st->last;
    op.kind = WL_COMPUTE;
    op.stream = WL_STREAM_COMPUTE;
    /* ZeRO shards experts' states over DP x CP / EP ranks, the rest over DP x CP. */
    op.duration_s = train_memory_time(gpu, model_adam_step_bytes(g->c->l.adam, g->c->l.grad_fp32) *
                                               ((trained - experts) / share + experts * (g->zero >= 1 ? g->ep : 1) / share));
    op.layer = -1;
    op.peer = -1;
    st->last = wl_build_op(g->b, st->rank, &op, "optimizer step", deps, (uint32_t)st->ndp + (st->last != NONE));
    free(deps);
    /* ZeRO-1/2: every GPU gathers the updated parameters. */
    if (g->zero >= 1 && g->zero <= 2 && g->dp * g->cp > 1) {
        uint32_t opt = st->last;
        op_dp_coll(g, st, "dp param all_gather", COLL_ALL_GATHER, gathered_bytes(g, trained - experts, linear), opt,
                   -1);
        if (experts > 0.0 && g->dp * g->cp > g->ep)
            op_dp_coll_in(g, st, "edp param all_gather", COLL_ALL_GATHER, gathered_bytes(g, experts, experts), opt,
                          -1, g->edp_group[st->rank]);
    }
}

static int make_groups(gen *g, bool fold)
{
    int n = g->p->nranks, *ranks = malloc(((size_t)n + 1) * sizeof(int));
    char name[48];

    if (ranks == NULL)
        return SP_ENOMEM;
    for (int s = 0; s < g->pp; s++)
        for (int d = 0; d < g->dp; d++)
            for (int c = 0; c < g->cp; c++)
                for (int t = 0; t < g->tp; t++) {
                    int r = rank_of(g, t, c, d, s), k = 0, e = d % g->ep, d2 = d / g->ep;
                    /* Folded: the first ep data-parallel replicas (one expert-parallel
                     * group) and, of the context-parallel ranks, the first. */
                    if (fold && (d >= g->ep || c > 0))
                        continue;
                    if (e == 0) {
                        for (int i = 0; i < g->ep; i++)
                            ranks[i] = rank_of(g, t, c, i + g->ep * d2, s);
                        snprintf(name, sizeof(name), "ep%d", r);
                        g->ep_group[r] = wl_build_group(g->b, name, ranks, g->ep, false);
                    } else {
                        g->ep_group[r] = g->ep_group[rank_of(g, t, c, g->ep * d2, s)];
                    }
                    /* Experts' gradients: the ranks with the same experts, over DP and CP. */
                    if (d2 == 0 && c == 0) {
                        int n2 = 0;
                        for (int j = 0; j < g->dp / g->ep; j++)
                            for (int cc = 0; cc < g->cp; cc++)
                                ranks[n2++] = rank_of(g, t, cc, e + g->ep * j, s);
                        snprintf(name, sizeof(name), "edp%d", r);
                        g->edp_group[r] = wl_build_group(g->b, name, ranks, n2, fold && (g->dp > g->ep || g->cp > 1));
                    } else {
                        g->edp_group[r] = g->edp_group[rank_of(g, t, 0, e, s)];
                    }
                    if (t == 0) {
                        for (int i = 0; i < g->tp; i++)
                            ranks[i] = rank_of(g, i, c, d, s);
                        snprintf(name, sizeof(name), "tp%d", r);
                        g->tp_group[r] = wl_build_group(g->b, name, ranks, g->tp, false);
                    } else {
                        g->tp_group[r] = g->tp_group[rank_of(g, 0, c, d, s)];
                    }
                    if (c == 0) {
                        for (int i = 0; i < g->cp; i++)
                            ranks[i] = rank_of(g, t, i, d, s);
                        snprintf(name, sizeof(name), "cp%d", r);
                        g->cp_group[r] = wl_build_group(g->b, name, ranks, g->cp, fold && g->cp > 1);
                    } else {
                        g->cp_group[r] = g->cp_group[rank_of(g, t, 0, d, s)];
                    }
                    /* Gradients are reduced over the data- and context-parallel ranks. */
                    if (c == 0 && d == 0) {
                        for (int dd = 0; dd < g->dp; dd++)
                            for (int cc = 0; cc < g->cp; cc++)
                                ranks[k++] = rank_of(g, t, cc, dd, s);
                        snprintf(name, sizeof(name), "dp%d", r);
                        g->dp_group[r] = wl_build_group(g->b, name, ranks, k, fold && (g->dp > g->ep || g->cp > 1));
                    } else {
                        g->dp_group[r] = g->dp_group[rank_of(g, t, 0, 0, s)];
                    }
                }
    free(ranks);
    return SP_OK;
}

int train_build(wl **out, const model *m, const plat *p, const train_config *c, diag_list *diag)
{
    gen g = {0};
    int err, n = p->nranks;

    *out = NULL;
    if ((err = train_check(m, p, c, diag)) < 0)
        return err;
    gen_init(&g, m, p, c);
    g.tp_group = calloc((size_t)n + 1, sizeof(int));
    g.cp_group = calloc((size_t)n + 1, sizeof(int));
    g.dp_group = calloc((size_t)n + 1, sizeof(int));
    g.ep_group = calloc((size_t)n + 1, sizeof(int));
    g.edp_group = calloc((size_t)n + 1, sizeof(int));
    if (g.tp_group == NULL || g.cp_group == NULL || g.dp_group == NULL || g.ep_group == NULL || g.edp_group == NULL) {
        err = SP_ENOMEM;
        goto done;
    }
    if ((err = wl_build_start(&g.b, m->path, "train", n)) < 0)
        goto done;
    if ((err = make_groups(&g, c->fold)) < 0) {
        wl_build_abort(g.b);
        goto done;
    }
    for (int s = 0; s < g.pp; s++)
        for (int d = 0; d < (c->fold ? g.ep : g.dp); d++)
            for (int cc = 0; cc < (c->fold ? 1 : g.cp); cc++)
                for (int t = 0; t < g.tp; t++) {
                    rank_state st = {rank_of(&g, t, cc, d, s), t, cc, d, s, NONE, NULL, 0, 0, SP_OK};
                    rank_schedule(&g, &st);
                    rank_optimizer(&g, &st);
                    free(st.dp_ops);
                    if (st.err < 0)
                        err = st.err;
                }
    if (err < 0) {
        wl_build_abort(g.b);
        goto done;
    }
    err = wl_build_finish(g.b, out);
    if (err == SP_OK)
        (*out)->nominal_compute = !c->sms_free;
done:
    free(g.tp_group);
    free(g.cp_group);
    free(g.dp_group);
    free(g.ep_group);
    free(g.edp_group);
    return err;
}

/* --- estimate for the parallelism search -------------------------------- */

/* NCCL's model time of a collective over `ranks` (the tuner's prediction),
 * seconds; 0 when there is nothing to do. */
static int model_time_ch(const plat *p, const coll_opts *co, coll_kind kind, const int *ranks, int n, double bytes,
                         double *out, int *channels)
{
    coll_plan *c = NULL;
    int err;

    *out = 0.0;
    if (channels != NULL)
        *channels = 0;
    if (n < 2 || bytes < 1.0)
        return SP_OK;
    if ((err = coll_plan_new(&c, p, kind, ranks, n, (uint64_t)bytes, co)) < 0)
        return err;
    *out = coll_plan_model_us(c) * 1e-6;
    if (channels != NULL)
        *channels = coll_plan_channels(c);
    coll_plan_free(c);
    return SP_OK;
}

static int model_time(const plat *p, const coll_opts *co, coll_kind kind, const int *ranks, int n, double bytes,
                      double *out)
{
    return model_time_ch(p, co, kind, ranks, n, bytes, out, NULL);
}

/* The time of a p2p-engine operation (all-to-all, send/recv), which NCCL's
 * model does not time: its alpha-beta time on an idle fabric, seconds. */
static int alpha_beta_time(const plat *p, coll_kind kind, const int *ranks, int n, uint64_t bytes, double *out)
{
    coll_plan *c = NULL;
    int err;

    *out = 0.0;
    if ((err = coll_plan_new(&c, p, kind, ranks, n, bytes, NULL)) < 0)
        return err;
    *out = coll_plan_alpha_beta_s(c);
    coll_plan_free(c);
    return *out < 0.0 ? SP_ENOMEM : SP_OK;
}

/* When compute of `work` seconds ends, started beside `beside` seconds of
 * a collective holding `share` of the SMs: slowed to 1 - share while the two
 * overlap, as the engine runs it (eng_run_workload). */
static double compute_beside(double work, double beside, double share)
{
    double rate = 1.0 - share;
    if (work <= 0.0)
        return 0.0;
    return work <= beside * rate ? work / rate : beside + (work - beside * rate);
}

/* Times of the blocks' tensor-parallel communication, s: the all-gathers
 * of a block's input and of the output gradient, the reduce-scatter;
 * under TP overlap, the same gathers by the ring's tp - 1 exchanges back
 * to back (ring_gemm), the reduce-scatter of all but the last of TP_SPLITS
 * shares and of the last (pipeline_gemm). */
typedef struct tp_times {
    double ag_in[2], ag_dy, rs;     /* of ag_in_bytes[block], ag_dy_bytes, tp_bytes */
    double ring_in[2], ring_dy;     /* the same gathers by the ring */
    double rs_pipe, rs_last;
    double ag_sms, rs_sms, ub_sms;  /* the share of the SMs NCCL's gathers and reduce-scatters hold, and the
                                       userbuffers' kernels (0 where compute keeps every SM: sms_free) */
} tp_times;

/* What of a block's tensor-parallel communication its compute leaves
 * exposed, as tp_block runs it, with the difference its GEMMs' chunks make
 * to the compute and the SMs the collectives beside them take (the LoRA
 * adapters' collectives apart: lora_exposed). */
static double tp_exposed(const gen *g, const tp_times *t, int block, bool backward)
{
    const tp_gemms *k = &g->k.tpg[block];
    bool ub = g->c->tp_overlap, full = g->c->l.tune == MODEL_TRAIN_FULL;
    double tp = g->tp, e = 0.0, ag_sms = ub ? t->ub_sms : t->ag_sms, rs_sms = ub ? t->ub_sms : t->rs_sms;

    if (g->tp <= 1)
        return 0.0;
    if (!backward && ub) { /* the ring on copy engines; the pipeline's reduce-scatter on SMs */
        double split = (TP_SPLITS - 1.0) * k->row_split;
        e = g->k.lora_whole[block] ? t->ag_in[block]
                                   : fmax((tp - 1.0) * k->col_chunk, t->ring_in[block]) + k->col_chunk - k->col_fwd;
        return e + k->row_split + fmax(compute_beside(split, t->rs_pipe, t->ub_sms), t->rs_pipe) + t->rs_last -
               k->row_fwd;
    }
    if (!backward || (!ub && !full))
        return (backward ? t->ag_dy : t->ag_in[block]) + t->rs;
    e = ub ? fmax((tp - 1.0) * k->row_dgrad_chunk, t->ring_dy) + k->row_dgrad_chunk - k->row_dgrad : t->ag_dy;
    if (!full)
        return e + t->rs;
    return e + fmax(compute_beside(k->col_dgrad, t->ag_in[block], ag_sms), t->ag_in[block]) - k->col_dgrad +
           fmax(compute_beside(k->col_wgrad, t->rs, rs_sms), t->rs) - k->col_wgrad;
}

/* The LoRA adapters' collectives of a block, forward or backward
 * (lora_colls), from their times: tok x r all-gather and all-reduce, the
 * output's exchange, the inputs some gather themselves (t_ag forward, t_rs
 * backward). */
static double lora_exposed(const gen *g, int block, bool backward, double t_rag, double t_rar, double t_out,
                           double t_ag, double t_rs)
{
    return g->k.lora_col[block] * (backward ? t_rar : t_rag) + g->k.lora_row[block] * (t_out + t_rar) +
           g->k.lora_own[block] * (backward ? t_rs : t_ag);
}

/* Data-parallel collectives for the estimate: the gradient buckets (all-
 * reduce, or reduce-scatter under ZeRO) and ZeRO-3's gathers of the first
 * layer ([0], with the embedding) and the last ([1], with the output layer;
 * with PP, a middle layer's), and a middle layer's bucket. */
typedef struct dp_times {
    double ag[2], rs[2], rs_dense;
    double lone;           /* the bucket of a first chunk holding the embedding alone */
    double ag_sms, rs_sms; /* the share of the SMs each kind holds while it runs (0: sms_free) */
} dp_times;

/* One micro-batch's layers under ZeRO-3 (PP 1), as chunk_forward and
 * chunk_backward order the data-parallel stream: the first layer's gather
 * exposed, then each layer's forward beside the next layer's gather; the
 * last layer's gather beside the output layer's backward, then each layer's
 * backward beside the reduce-scatter of the layer after it and the gather of
 * the one before; the first layer's reduce-scatter exposed at the end.
 * fwd and bwd: a layer's forward and backward time without ZeRO's
 * collectives; the output layer's backward is in the caller's sum. */
static double zero3_pass(const dp_times *z, double ag_mid, int layers, double fwd, double bwd, double head_bwd)
{
    double t = z->ag[0] + fmax(0.0, fmax(compute_beside(head_bwd, z->ag[1], z->ag_sms), z->ag[1]) - head_bwd);

    for (int l = 0; l < layers; l++) {
        double ag_next = l + 1 == layers ? 0.0 : l + 1 == layers - 1 ? z->ag[1] : ag_mid;
        t += fmax(compute_beside(fwd, ag_next, z->ag_sms), ag_next);
    }
    for (int l = layers - 1; l >= 0; l--) {
        double rs_after = l + 1 == layers ? 0.0 : l + 1 == layers - 1 ? z->rs[1] : z->rs_dense;
        double ag_before = l == 0 ? 0.0 : l - 1 == 0 ? z->ag[0] : ag_mid;
        double after_rs = compute_beside(bwd, rs_after, z->rs_sms);
        double done = after_rs <= rs_after ? after_rs
                                           : rs_after + compute_beside(after_rs - rs_after, ag_before, z->ag_sms);
        t += fmax(done, rs_after + ag_before);
    }
    return t + z->rs[0];
}

/* rank_schedule's order on times (train.h), as the engine runs what it
 * generates: on each stage, the compute stream runs the forwards and
 * backwards in that order, each once its input has been received; the
 * pipeline stream runs each one's receive and send in the same order, one
 * at a time: a send once its compute is done, its data arriving p2p
 * seconds later (eagerly: the receiver need not be waiting), a receive done
 * once the stream reaches it and the data is there. The bubble as the
 * schedule makes it, uneven stages (the output layer, a stage of the
 * embedding alone) as they are. */
typedef struct pipe_stage {
    int ncomp, nstream; /* the next operation of each stream, counted over the stage's 2 m v */
    double comp, stream; /* when each is free */
} pipe_stage;

double train_pipeline_time(int pp, int v, int m, const double *f, const double *b, double p2p, double *first_last)
{
    int V = pp * v, n = 2 * m * v, left = pp;
    size_t cells = (size_t)V * (size_t)m;
    /* Per virtual stage and micro-batch: when its forward and backward end
     * (cend); for the transfers into it, forward [0] and backward [1], when
     * the data arrives and when its receive is done. */
    double *cend = malloc(2 * cells * sizeof(double)), *arrive = malloc(2 * cells * sizeof(double));
    double *got = malloc(2 * cells * sizeof(double)), end = 0.0;
    pipe_stage *st = calloc((size_t)pp, sizeof(*st));

    if (pp < 1 || v < 1 || m < 1 || (v > 1 && m % pp != 0)) /* no such schedule (train_check) */
        left = 0, end = -1.0;
    if (cend == NULL || arrive == NULL || got == NULL || st == NULL)
        left = 0, end = -1.0;
    for (size_t i = 0; left > 0 && i < 2 * cells; i++)
        cend[i] = arrive[i] = got[i] = -1.0;
    while (left > 0) {
        int moved = 0;
        left = 0;
        for (int s = 0; s < pp; s++) {
            pipe_stage *x = &st[s];
            for (;;) { /* compute: the next operation whose input has arrived */
                bool fwd;
                int vs, mb;
                double in;
                if (x->ncomp >= n)
                    break;
                pipe_op(pp, v, m, s, x->ncomp, &fwd, &vs, &mb);
                in = fwd ? (vs == 0 ? 0.0 : got[(size_t)vs * m + mb])
                         : (vs == V - 1 ? cend[(size_t)vs * m + mb] : got[cells + (size_t)vs * m + mb]);
                if (in < 0.0)
                    break;
                x->comp = fmax(x->comp, in) + (fwd ? f[vs] : b[vs]);
                cend[(fwd ? 0 : cells) + (size_t)vs * m + mb] = x->comp;
                x->ncomp++;
                moved++;
            }
            while (x->nstream < 2 * n) { /* the pipeline stream: operation k's receive, then its send */
                int k = x->nstream / 2, vs, mb, to;
                bool fwd, recv = x->nstream % 2 == 0, has;
                size_t tr;
                pipe_op(pp, v, m, s, k, &fwd, &vs, &mb);
                has = recv ? (fwd ? vs > 0 : vs < V - 1) : (fwd ? vs < V - 1 : vs > 0);
                if (!has) {
                    x->nstream++;
                    continue;
                }
                to = recv ? vs : fwd ? vs + 1 : vs - 1; /* the receiving virtual stage */
                tr = (fwd ? 0 : cells) + (size_t)to * m + mb;
                if (recv ? arrive[tr] < 0.0 : k >= x->ncomp)
                    break; /* the data has not been sent; its compute is not done */
                if (recv) {
                    x->stream = got[tr] = fmax(x->stream, arrive[tr]);
                } else {
                    x->stream = fmax(x->stream, cend[(fwd ? 0 : cells) + (size_t)vs * m + mb]) + p2p;
                    arrive[tr] = x->stream;
                }
                x->nstream++;
                moved++;
            }
            left += x->ncomp < n || x->nstream < 2 * n;
        }
        if (left > 0 && moved == 0) { /* Megatron's order never deadlocks: a bug */
            end = -2.0;
            break;
        }
    }
    for (int s = 0; end >= 0.0 && s < pp; s++)
        end = fmax(end, fmax(st[s].comp, st[s].stream));
    for (int c = 0; end >= 0.0 && first_last != NULL && c < v; c++) /* the first stage's chunks' last backward */
        first_last[c] = cend[cells + (size_t)c * pp * m + m - 1];
    free(cend);
    free(arrive);
    free(got);
    free(st);
    return end;
}

/* ZeRO 0-2 without PP: how long the gradient buckets of the last
 * micro-batch outlast its backward (chunk_backward): each layer's bucket
 * (the first's with the embedding; rs[1]: the top layer's, with the output
 * layer) goes once its backward is done and the buckets before it are, the
 * backward beside them slowed by their SMs. */
static double dp_tail(const dp_times *z, int layers, double bwd)
{
    double compute = 0.0, comm = 0.0;

    for (int l = layers - 1; l >= 0; l--) {
        compute += compute_beside(bwd, fmax(0.0, comm - compute), z->rs_sms);
        comm = fmax(comm, compute) + (l == 0 ? z->rs[0] : l == layers - 1 ? z->rs[1] : z->rs_dense);
    }
    return comm - layers * bwd; /* beyond the backward as the caller counts it, unslowed */
}

int train_estimate(const model *m, const plat *p, const train_config *c, const coll_opts *co, double *step_s,
                   diag_list *diag)
{
    gen g = {0};
    int err, n = p->nranks, *ranks = malloc(((size_t)n + 1) * sizeof(int));
    double t_ag = 0.0, t_rs = 0.0, t_kv = 0.0, t_kv_bwd = 0.0, t_dp = 0.0, t_ar = 0.0, t_p2p = 0.0, t_a2a = 0.0,
           pipe = 0.0, t_rag = 0.0, t_rar = 0.0, t_out = 0.0, layer_mb, head, head_out[2], fwd,
           fwd_tp, fwd_lora, first_trained;
    tp_times tpt = {0};
    dp_times dpt = {{0.0, 0.0}, {0.0, 0.0}, 0.0, 0.0, 0.0, 0.0};
    int layers = 0, first_layers = 0, ch_rs = 0, ch_ag = 0, ch_tag = 0, ch_trs = 0;
    int sms = plat_type_of_rank(p, 0)->gpu.sm_count;

    *step_s = 0.0;
    if (ranks == NULL)
        return SP_ENOMEM;
    if ((err = train_check(m, p, c, diag)) < 0) {
        free(ranks);
        return err;
    }
    gen_init(&g, m, p, c);
    for (int ch = 0; ch < g.vpp; ch++) /* the first stage's layers */
        first_layers += model_vstage_layers(m, g.pp, g.vpp, ch * g.pp);
    /* and its trained parameters, as rank_optimizer counts them */
    first_trained = first_layers * g.k.layer_trained + embedding_trained(&g) + (g.pp == 1 ? output_trained(&g) : 0.0);
    /* The groups of rank 0. */
    for (int i = 0; i < g.tp; i++)
        ranks[i] = rank_of(&g, i, 0, 0, 0);
    err = model_time_ch(p, co, COLL_ALL_GATHER, ranks, g.tp, (double)g.k.tp_bytes, &t_ag, &ch_tag);
    if (err == SP_OK)
        err = model_time_ch(p, co, COLL_REDUCE_SCATTER, ranks, g.tp, (double)g.k.tp_bytes, &t_rs, &ch_trs);
    if (!c->sms_free && sms > 0) { /* compute beside them loses their CTAs' SMs */
        tpt.ag_sms = fmin(1.0, (double)ch_tag / sms);
        tpt.rs_sms = fmin(1.0, (double)ch_trs / sms);
        tpt.ub_sms = fmin(1.0, (double)TP_UB_SMS / sms);
    }
    tpt.rs = t_rs;
    for (int b = 0; b < 3 && err == SP_OK; b++) { /* the blocks' inputs, the output gradient */
        uint64_t bytes = b < 2 ? g.k.ag_in_bytes[b] : g.k.ag_dy_bytes;
        double *t = b < 2 ? &tpt.ag_in[b] : &tpt.ag_dy;
        if (bytes == g.k.tp_bytes) /* in bf16: the gather timed above */
            *t = t_ag;
        else
            err = model_time(p, co, COLL_ALL_GATHER, ranks, g.tp, (double)bytes, t);
    }
    if (err == SP_OK && g.tp > 1 && c->tp_overlap) {
        /* The ring's exchanges (send/recv: alpha-beta, as the CP ring's
         * below) and the pipelined reduce-scatter's two parts. */
        uint64_t part = g.k.tp_bytes / TP_SPLITS;
        for (int b = 0; b < 3 && err == SP_OK; b++)
            err = alpha_beta_time(p, COLL_SEND_RECV, ranks, g.tp,
                                  (b < 2 ? g.k.ag_in_bytes[b] : g.k.ag_dy_bytes) / (uint64_t)g.tp *
                                      (uint64_t)(g.tp - 1),
                                  b < 2 ? &tpt.ring_in[b] : &tpt.ring_dy);
        if (err == SP_OK)
            err = model_time(p, co, COLL_REDUCE_SCATTER, ranks, g.tp, (double)(part * (TP_SPLITS - 1)), &tpt.rs_pipe);
        if (err == SP_OK)
            err = model_time(p, co, COLL_REDUCE_SCATTER, ranks, g.tp,
                             (double)(g.k.tp_bytes - part * (TP_SPLITS - 1)), &tpt.rs_last);
    }
    if (err == SP_OK && g.k.lora_r_bytes > 0) { /* LoRA adapters under TP (lora_colls) */
        err = model_time(p, co, COLL_ALL_GATHER, ranks, g.tp, (double)g.k.lora_r_bytes, &t_rag);
        if (err == SP_OK)
            err = model_time(p, co, COLL_ALL_REDUCE, ranks, g.tp, (double)g.k.lora_r_bytes, &t_rar);
        if (err == SP_OK && !c->lora_a2a) {
            t_out = t_ag;
        } else if (err == SP_OK) { /* alpha-beta, as the experts' all-to-all below */
            err = alpha_beta_time(p, COLL_ALL_TO_ALL, ranks, g.tp, g.k.tp_bytes / (uint64_t)g.tp, &t_out);
        }
    }
    if (err == SP_OK && g.ep > 1) {
        /* All-to-all has no NCCL model time: its alpha-beta time on an idle fabric. */
        for (int i = 0; i < g.ep; i++)
            ranks[i] = rank_of(&g, 0, 0, i, 0);
        err = alpha_beta_time(p, COLL_ALL_TO_ALL, ranks, g.ep, g.k.a2a_bytes, &t_a2a);
    }
    for (int i = 0; i < g.cp && err == SP_OK; i++)
        ranks[i] = rank_of(&g, 0, i, 0, 0);
    if (err == SP_OK && c->cp_comm == TRAIN_CP_ALL_GATHER) {
        err = model_time(p, co, COLL_ALL_GATHER, ranks, g.cp, (double)g.k.kv_bytes, &t_kv);
        t_kv_bwd = t_kv;
    } else if (err == SP_OK && g.cp > 1 && c->cp_comm == TRAIN_CP_A2A) {
        /* The two all-to-alls of each pass, exposed (alpha-beta, as above):
         * forward the queries, keys and values, then the output; backward
         * the output and its gradient, then the three gradients. */
        const uint64_t bytes[3] = {g.k.a2a_qkv_bytes, g.k.a2a_out_bytes, 2 * g.k.a2a_out_bytes};
        double t[3] = {0.0, 0.0, 0.0};
        for (int i = 0; i < 3 && err == SP_OK; i++)
            err = alpha_beta_time(p, COLL_ALL_TO_ALL, ranks, g.cp, bytes[i], &t[i]);
        t_kv = t[0] + t[1];
        t_kv_bwd = t[2] + t[0];
    } else if (err == SP_OK && g.cp > 1 && c->cp_comm == TRAIN_CP_P2P) {
        /* The ring's exchanges (ring_block): what the steps' kernels do not
         * cover, exchange 0 beside the causal step. Send/recv has no NCCL
         * model time: alpha-beta on an idle fabric, as the all-to-alls
         * above. */
        double t_x = 0.0, t_2x = 0.0;
        err = alpha_beta_time(p, COLL_SEND_RECV, ranks, g.cp, g.k.kv_step_bytes, &t_x);
        if (err == SP_OK)
            err = alpha_beta_time(p, COLL_SEND_RECV, ranks, g.cp, 2 * g.k.kv_step_bytes, &t_2x);
        t_kv = fmax(0.0, t_x - g.k.ring_first_fwd) + (g.cp - 2) * fmax(0.0, t_x - g.k.ring_step_fwd);
        t_kv_bwd = fmax(0.0, t_x - g.k.ring_step_bwd) + (g.cp - 2) * fmax(0.0, t_2x - g.k.ring_step_bwd) +
                   fmax(0.0, t_x - g.k.ring_first_bwd);
    }
    for (int d = 0, k = 0; d < g.dp && err == SP_OK; d++)
        for (int i = 0; i < g.cp; i++)
            ranks[k++] = rank_of(&g, 0, i, d, 0);
    if (err == SP_OK && g.pp > 1) {
        /* Activations to the next stage: a two-member "all-gather" of twice the
         * bytes moves them once; its model time stands for the transfer. */
        ranks[0] = 0;
        ranks[1] = rank_of(&g, 0, 0, 0, 1);
        err = model_time(p, co, COLL_ALL_GATHER, ranks, 2, 2.0 * (double)g.k.p2p_bytes, &t_p2p);
        for (int d = 0, k = 0; d < g.dp; d++)
            for (int i = 0; i < g.cp; i++)
                ranks[k++] = rank_of(&g, 0, i, d, 0);
    }
    /* Data parallel: a layer's gradient bucket, ZeRO's gathers; as the step
     * does (rank_optimizer, chunk_backward), the experts' share over the
     * ranks holding the same experts, the rest over DP x CP. */
    if (err == SP_OK)
        err = model_time_ch(p, co, g.zero >= 1 ? COLL_REDUCE_SCATTER : COLL_ALL_REDUCE, ranks, g.dp * g.cp,
                            g.grad_bytes * (g.k.layer_trained - g.k.expert_trained), &t_dp, &ch_rs);
    /* The first and last layers' gradient buckets also hold the embedding
     * and the output layer (layer_grad_params), and so, under ZeRO-3, do
     * their gathers. */
    for (int e = 0; e < 2 && err == SP_OK && g.dp * g.cp > 1; e++) {
        double dense = g.k.layer_trained - g.k.expert_trained;
        double edge = layer_grad_params(&g, e == 0 ? 0 : m->layers - 1) - g.k.layer_trained;
        if (e == 1 && g.pp > 1)
            break; /* the output layer is not on the first stage */
        err = model_time(p, co, g.zero >= 1 ? COLL_REDUCE_SCATTER : COLL_ALL_REDUCE, ranks, g.dp * g.cp,
                         g.grad_bytes * (dense + edge), &dpt.rs[e]);
        if (err == SP_OK && g.zero >= 3)
            err = model_time(p, co, COLL_ALL_GATHER, ranks, g.dp * g.cp,
                             gathered_bytes(&g, g.k.layer_trained + edge, g.k.layer_linear + g.k.expert_trained),
                             &dpt.ag[e]);
    }
    dpt.rs_dense = t_dp;
    if (g.pp > 1)
        dpt.rs[1] = t_dp;
    if (err == SP_OK && g.dp * g.cp > 1 && lone_head_params(&g, 0) > 0.0)
        err = model_time(p, co, g.zero >= 1 ? COLL_REDUCE_SCATTER : COLL_ALL_REDUCE, ranks, g.dp * g.cp,
                         g.grad_bytes * lone_head_params(&g, 0), &dpt.lone);
    if (err == SP_OK && g.zero >= 3) /* each layer's parameters at once (zero3_gather; EP is 1) */
        err = model_time_ch(p, co, COLL_ALL_GATHER, ranks, g.dp * g.cp,
                            gathered_bytes(&g, g.k.layer_trained, g.k.layer_linear + g.k.expert_trained), &t_ar,
                            &ch_ag);
    else if (err == SP_OK && g.zero >= 1) /* the first stage's parameters at once (rank_optimizer) */
        err = model_time(p, co, COLL_ALL_GATHER, ranks, g.dp * g.cp,
                         gathered_bytes(&g, first_trained - first_layers * g.k.expert_trained,
                                        first_layers * g.k.layer_linear),
                         &t_ar);
    if (err == SP_OK && g.k.expert_trained > 0.0) {
        int k = 0;
        double t = 0.0;
        for (int j = 0; j < g.dp / g.ep; j++)
            for (int i = 0; i < g.cp; i++)
                ranks[k++] = rank_of(&g, 0, i, g.ep * j, 0);
        err = model_time(p, co, g.zero >= 1 ? COLL_REDUCE_SCATTER : COLL_ALL_REDUCE, ranks, k,
                         g.grad_bytes * g.k.expert_trained, &t);
        t_dp += t;
        dpt.rs_dense += t;
        dpt.rs[0] += t;
        dpt.rs[1] += t;
        if (err == SP_OK && g.zero >= 1 && g.zero <= 2) {
            err = model_time(p, co, COLL_ALL_GATHER, ranks, k,
                             gathered_bytes(&g, first_layers * g.k.expert_trained, first_layers * g.k.expert_trained),
                             &t);
            t_ar += t;
        }
    }
    free(ranks);
    if (!c->sms_free && sms > 0) { /* compute beside them loses their CTAs' SMs */
        dpt.rs_sms = fmin(1.0, (double)ch_rs / sms);
        dpt.ag_sms = fmin(1.0, (double)ch_ag / sms);
    }
    if (err < 0) {
        diag_error(diag, (sp_loc){m->path, 0}, "no collective algorithm for this layout");
        return err;
    }
    /* The most layers a stage holds (all of them without PP). */
    for (int s = 0; s < g.pp; s++) {
        int l = 0;
        for (int ch = 0; ch < g.vpp; ch++)
            l += model_vstage_layers(m, g.pp, g.vpp, ch * g.pp + s);
        layers = l > layers ? l : layers;
    }
    fwd_tp = tp_exposed(&g, &tpt, 0, false) + (g.moe ? 0.0 : tp_exposed(&g, &tpt, 1, false));
    fwd_lora = lora_exposed(&g, 0, false, t_rag, t_rar, t_out, t_ag, t_rs) +
               lora_exposed(&g, 1, false, t_rag, t_rar, t_out, t_ag, t_rs);
    layer_mb = g.k.attn_fwd + g.k.mlp_fwd + g.k.attn_bwd + g.k.mlp_bwd + 2.0 * g.k.qlora_dequant + fwd_tp +
               tp_exposed(&g, &tpt, 0, true) + (g.moe ? 0.0 : tp_exposed(&g, &tpt, 1, true)) + fwd_lora +
               lora_exposed(&g, 0, true, t_rag, t_rar, t_out, t_ag, t_rs) +
               lora_exposed(&g, 1, true, t_rag, t_rar, t_out, t_ag, t_rs) +
               (g.cp > 1 ? t_kv + t_kv_bwd : 0.0) + 4.0 * t_a2a;
    if (c->l.recompute == MODEL_RECOMPUTE_FULL) /* the forward again, as layer_forward */
        layer_mb += g.k.attn_fwd + g.k.mlp_fwd + g.k.qlora_dequant + fwd_tp + fwd_lora +
                    (g.cp > 1 ? t_kv : 0.0) + 2.0 * t_a2a;
    else if (c->l.recompute == MODEL_RECOMPUTE_SELECTIVE && !c->l.flash_attention)
        layer_mb += g.k.core_fwd;
    /* The output layer, with its TP all-gather before and reduce-scatter
     * after (chunk_forward, chunk_backward), and the embedding. */
    head_out[0] = g.k.head_fwd + (g.tp > 1 ? t_ag : 0.0);
    head_out[1] = g.k.head_bwd + (g.tp > 1 ? t_rs : 0.0);
    head = head_out[0] + head_out[1] + g.k.embed_fwd + g.k.embed_bwd;
    fwd = g.k.attn_fwd + g.k.mlp_fwd + g.k.qlora_dequant + fwd_tp + fwd_lora + (g.cp > 1 ? t_kv : 0.0) + 2.0 * t_a2a;
    if (g.pp > 1) { /* the schedule on each virtual stage's own times */
        double *f = malloc(((size_t)g.nv * 2 + (size_t)g.vpp) * sizeof(double)), *b = f + g.nv, *last = b + g.nv;
        double comm = 0.0, bwd = layer_mb - fwd;
        if (f == NULL)
            return SP_ENOMEM;
        for (int vs = 0; vs < g.nv; vs++) {
            int nl = model_vstage_layers(m, g.pp, g.vpp, vs);
            f[vs] = nl * fwd + (vs == 0 ? g.k.embed_fwd : 0.0) + (vs == g.nv - 1 ? head_out[0] : 0.0);
            b[vs] = nl * bwd + (vs == 0 ? g.k.embed_bwd : 0.0) + (vs == g.nv - 1 ? head_out[1] : 0.0);
        }
        pipe = train_pipeline_time(g.pp, g.vpp, c->l.microbatches, f, b, t_p2p, last);
        /* The first stage's gradient buckets (its DP stream) as its chunks'
         * last backwards free them, a layer at a time, top layer first
         * (layer 0's after the embedding's backward); a chunk of the
         * embedding alone, one bucket of its own at its end. */
        for (int ch = g.vpp - 1; pipe >= 0.0 && ch >= 0 && g.zero < 3 && g.dp * g.cp > 1; ch--) {
            int vs = ch * g.pp, nl = model_vstage_layers(m, g.pp, g.vpp, vs);
            double start = last[ch] - b[vs];
            for (int j = nl - 1; j >= 0; j--)
                comm = vs == 0 && j == 0 ? fmax(comm, last[ch]) + dpt.rs[0]
                                         : fmax(comm, start + (nl - j) * bwd) + dpt.rs_dense;
            if (nl == 0)
                comm = fmax(comm, last[ch]) + dpt.lone;
        }
        free(f);
        if (pipe < 0.0)
            return pipe < -1.5 ? SP_EINTERNAL : SP_ENOMEM;
        pipe = fmax(pipe, comm);
    } else {
        /* ZeRO-3 reduces every micro-batch's gradients, each pass beside
         * the data-parallel stream (zero3_pass); else the last
         * micro-batch's buckets go as its backward frees them. */
        if (g.zero >= 3 && g.dp * g.cp > 1)
            pipe = (zero3_pass(&dpt, t_ar, layers, fwd, layer_mb - fwd, head_out[1]) + head) * c->l.microbatches;
        else
            pipe = (layers * layer_mb + head) * c->l.microbatches +
                   (g.dp * g.cp == 1 ? 0.0 : dp_tail(&dpt, layers, layer_mb - fwd));
    }
    /* Then the optimizer on the first stage's share, and ZeRO-1/2's gather. */
    *step_s = pipe + (g.zero >= 1 && g.zero <= 2 ? t_ar : 0.0) +
              train_memory_time(&plat_type_of_rank(p, 0)->gpu,
                                model_adam_step_bytes(c->l.adam, c->l.grad_fp32) *
                                    (g.zero >= 1 ? (first_trained - first_layers * g.k.expert_trained +
                                                    first_layers * g.k.expert_trained * g.ep) / (g.dp * g.cp)
                                                 : first_trained));
    return SP_OK;
}

/* train.h - the training-step generator: a transformer, a parallel layout
 * and a platform become the per-rank operation graph that replay runs.
 *
 * No trace is needed. train_build() lays one optimizer step of a dense
 * transformer (model.h) on the platform's ranks in Megatron-LM's rank order
 * (tensor, then context, then data, then pipeline parallel):
 *   - tensor parallelism with sequence parallelism: an all-gather before and
 *     a reduce-scatter after each attention and FFN block, forward and
 *     backward, on the GPU's model-parallel stream, exposed, but for the
 *     backward of the column-parallel layers with trained weights, whose
 *     input is gathered again beside the input-gradient GEMM and whose
 *     input gradient is reduce-scattered beside the weight-gradient GEMM,
 *     as Transformer Engine's and Megatron-LM's layers do;
 *   - context parallelism as in Llama 3: keys and values all-gathered over
 *     the CP group in the forward pass, their gradients reduce-scattered;
 *   - pipeline parallelism, 1F1B or interleaved 1F1B (vpp > 1), in
 *     Megatron-LM's order of forward and backward chunks, with activations
 *     and their gradients sent between stages: the bubble is simulated;
 *   - data parallelism with gradient buckets of one layer reduced as the
 *     last micro-batch's backward pass produces them (all-reduce, or
 *     reduce-scatter for ZeRO-1/2 with the parameters all-gathered after the
 *     optimizer); ZeRO-3 gathers each layer's parameters before its forward
 *     and backward pass and reduce-scatters its gradients every micro-batch;
 *   - activation recomputation (selective, full), LoRA / QLoRA, precisions;
 *   - LoRA / QLoRA adapters under TP as NeMo's ParallelLinearAdapter runs
 *     them: their own small collectives of rank r, and the full-width
 *     exchange of the projection's and second FFN layer's adapter output
 *     (all-gather, or all-to-all with lora_a2a), on the compute chain;
 *     under tp_overlap the QKV layer's forward gather stays whole, its
 *     adapters reading its gathered input, and the first FFN layer's
 *     adapters gather their input themselves;
 *   - optionally (tp_overlap), tensor-parallel communication pipelined with
 *     the GEMMs that consume or produce it, by Transformer Engine's
 *     userbuffer methods: the column-parallel forward and the row-parallel
 *     input gradient chunk by chunk beside a ring of send/recv exchanges
 *     (copy engines, no SMs), the row-parallel forward in 4 chunks beside
 *     the reduce-scatter of each (16 SMs), the backward's gather and
 *     reduce-scatter as above (16 SMs); gathered in FP8 under FP8;
 *   - unless sms_free, compute that overlaps collectives loses the SMs of
 *     their CTAs (the workload's nominal_compute; eng does it);
 *   - optionally (moe_imbalance f), routing imbalance: every rank's experts
 *     and all-to-all carry f times the balanced share, as the busiest rank
 *     does (the step waits for it at every combine).
 * Each compute operation's time is a roofline of its FLOPs and bytes against
 * the GPU's peak for the precision, times the GPU's measured efficiency
 * (platform file, `efficiency`), with GEMM tiles run in waves over the SMs.
 *
 * Very large layouts can be folded (train_config.fold): only the first
 * data-parallel replica's ranks get operations, and of its context-parallel
 * ranks the first; the data- and context-parallel collectives, whose other
 * members are absent, take a duration timed apart on the full platform
 * (wl_group.folded). Units: seconds, bytes, FLOPs.
 * No SimGrid here.
 *
 * Ownership: train_build() gives the caller a wl (wl_free()).
 */
#ifndef SP_TRAIN_H
#define SP_TRAIN_H

#include <stdbool.h>

#include "coll/coll.h"
#include "model/model.h"
#include "plat/plat.h"
#include "util/diag.h"
#include "wl/wl.h"

/* How context parallelism exchanges keys and values (Megatron-LM's
 * --cp-comm-type). all_gather: the K/V all-gather before attention and the
 * gradients' reduce-scatter after it, on the compute chain; each rank's
 * queries over the gathered keys, priced as its causal share of the whole
 * sequence's kernel (Llama 3's method, and Transformer Engine's
 * AttnFuncWithCPAndKVAllGather). p2p: Transformer Engine's ring
 * (AttnFuncWithCP), one kernel per step on its own block (the slower of the
 * two kinds ranks run) plus the partial results' merges and copies, where
 * the GPU's attention table measures blocks without the mask (else the
 * all_gather kernel's time in CP even steps, with a warning from the CLI);
 * each step beside a send/recv of the keys and values the next step needs
 * (backward, with their gradients), which it waits for (train.c,
 * ring_block). a2a: Transformer Engine's AttnFuncWithCPAndQKVOA2A
 * (DeepSpeed-Ulysses' scheme): an all-to-all over CP turns the rank's
 * sequence shard of the queries, keys and values into the whole sequence
 * for heads / CP of its heads, the kernel runs causal over the whole
 * sequence on those heads, and an all-to-all returns the output to the
 * sequence shards (backward: the output and its gradient, then the three
 * gradients), exposed; needs the heads and key/value heads per TP rank to
 * be multiples of CP. */
typedef enum train_cp_comm {
    TRAIN_CP_ALL_GATHER,
    TRAIN_CP_P2P,
    TRAIN_CP_A2A
} train_cp_comm;

/* Megatron-LM's names of the methods (--cp-comm-type): "all_gather",
 * "p2p", "a2a". Parse: SP_OK, or SP_EINPUT for another name. */
const char *train_cp_comm_name(train_cp_comm k);
SP_MUST_USE int train_cp_comm_parse(const char *name, train_cp_comm *out);

typedef struct train_config {
    model_layout l;   /* tp, pp, dp, zero, micro_batch, seq_len, microbatches (per
                         step and pipeline), recompute, flash, tune, lora_rank, cp, vpp,
                         lora_targets, grad_fp32 (gradients reduced in fp32, as Llama 3
                         did) */
    plat_prec prec;   /* GEMM precision: bf16, fp16, fp8 or fp4 (attention stays bf16) */
    bool fold;        /* simulate one data-parallel replica (see above) */
    bool tp_overlap;  /* tensor-parallel all-gathers and reduce-scatters pipelined with their
                         GEMMs, as Transformer Engine's userbuffers do (see above) */
    double moe_imbalance; /* MoE: tokens of the busiest expert-parallel rank over the mean (1 to
                             ep; 0 = 1, balanced routing; no effect at ep 1, where every rank
                             runs every expert on its own tokens) */
    bool sms_free;    /* compute keeps every SM while collectives run (the overlap's best case);
                         false: it loses the SMs of NCCL's CTAs, one per channel (wl) */
    double moe_capacity;  /* MoE: the experts' capacity factor (Megatron-LM's
                             --moe-expert-capacity-factor): each rank sends each expert at most
                             ceil(tokens x top_k / experts x it) tokens and drops the rest;
                             0 = dropless */
    bool moe_pad;         /* MoE: pad every expert's input to its capacity
                             (--moe-pad-expert-input-to-capacity); needs moe_capacity */
    bool lora_a2a;        /* LoRA / QLoRA under TP: the adapters after attention and after the
                             FFN return their output to the sequence-parallel shards by an
                             all-to-all (NeMo's a2a_experimental) rather than an all-gather */
    train_cp_comm cp_comm; /* context parallelism's exchange (above); needs cp > 1 to be p2p or a2a */
} train_config;

/**
 * MoE load: the tokens the busiest expert-parallel rank's experts process,
 * per layer and micro-batch, over the balanced mean (its tokens x top_k
 * after TP and CP). Dropless, this is the imbalance (1 at EP 1). A capacity
 * caps it at the experts' capacities; padding makes it exactly theirs,
 * whatever the routing. The busiest rank's experts are taken as evenly
 * loaded, so capacity drops nothing until the rank's load exceeds it.
 * 1 for a dense model.
 * @param[out] dropped  NULL, or the share of the busiest rank's routed
 *                      tokens that capacity drops (0 to 1)
 */
double train_moe_load(const model *m, const train_config *c, double *dropped);

/* Tokens per optimizer step: micro-batch x sequence x micro-batches x DP. */
double train_tokens_per_step(const train_config *c);

/* Model FLOPs per token, the MFU convention of PaLM (Chowdhery et al. 2022,
 * appendix B): 6 x the parameters that multiply (all but the input
 * embedding) + 12 x layers x query width (heads x head dimension, the
 * hidden size for most models) x sequence for attention. LoRA and
 * QLoRA compute no gradient for the frozen weights: 4 x instead of 6 x
 * (forward and input gradient; the adapters' FLOPs are left out). With
 * causal, attention counts 6 x instead of 12 x: the half of the score and
 * context products a causal mask leaves, Megatron-LM's convention
 * (num_floating_point_operations), which NVIDIA's published "model TFLOP/s"
 * use. */
double train_model_flops_per_token(const model *m, int seq_len, model_tune tune, bool causal);

/**
 * Check a configuration against the model and platform: tp x cp x pp x dp
 * = the platform's GPUs, TP divides the heads, layers cover the virtual
 * stages, the interleaved schedule has micro-batches in multiples of pp,
 * the GPU has the precision and an efficiency table, ZeRO-3 only without
 * pipeline parallelism. Every problem is reported.
 * @return SP_OK or SP_EINPUT
 */
SP_MUST_USE int train_check(const model *m, const plat *p, const train_config *c, diag_list *diag);
/* train_check's MoE part alone (imbalance, capacity, padding against the
 * model and EP), for `scalepath memory`: SP_OK or SP_EINPUT. */
SP_MUST_USE int train_check_moe(const model *m, const train_config *c, diag_list *diag);
/* train_check's context-parallel part alone (the 2 x CP chunks every method
 * cuts a sequence into, each method's needs), for `scalepath memory`:
 * SP_OK or SP_EINPUT. */
SP_MUST_USE int train_check_cp(const model *m, const train_config *c, diag_list *diag);
/* train_check's FP8 part alone (fp8_params and no_weight_cache need FP8
 * training; FP8 parameters not with QLoRA, nor in full training without
 * ZeRO or with pure-bf16 Adam), for
 * `scalepath memory`: SP_OK or SP_EINPUT. */
SP_MUST_USE int train_check_fp8(const train_config *c, diag_list *diag);

/**
 * Build one training step's operation graph (see above).
 * @param[out] out  the workload, one rank per platform GPU
 * @return SP_OK; SP_EINPUT (train_check's problems); SP_ENOMEM
 */
SP_MUST_USE int train_build(wl **out, const model *m, const plat *p, const train_config *c,
                            diag_list *diag);

/**
 * Megatron-LM's 1F1B schedule (interleaved when v > 1), the order the step
 * runs, on times alone: pp stages, v virtual stages each (vs = chunk x pp +
 * stage), m micro-batches; f[vs] and b[vs] a micro-batch's forward and
 * backward on virtual stage vs, p2p_s the transfer between two virtual
 * stages. Each operation starts once its stage's compute is free and its
 * input has arrived; the transfers run as the engine runs the step's sends
 * and receives (in order on each stage's pipeline stream, each starting when
 * both ends are posted).
 * @param[out] first_last  v entries: when the first stage's chunk c ends the
 *                         last micro-batch's backward (NULL: not wanted)
 * @return when the last stage ends, s; -1 when out of memory or there is no
 *         such schedule (a count below 1; v > 1 with m not a multiple of pp);
 *         -2 if it stalls (a bug)
 */
double train_pipeline_time(int pp, int v, int m, const double *f, const double *b, double p2p_s,
                           double *first_last);

/**
 * A quick estimate of the step without simulating, for ranking layouts in
 * a search (docs/training-model.md, "The search"): a layer's compute per
 * micro-batch with what of its tensor- and context-parallel collectives it
 * does not hide at NCCL's model time, the micro-batches through the 1F1B
 * schedule (train_pipeline_time) on each virtual stage's times, the
 * data-parallel stream as the step orders it (gradient buckets, ZeRO's
 * gathers), the optimizer; compute beside a collective loses its SMs.
 * @param co  NCCL's options for its model times (NULL: its defaults), as the
 *            simulation is given them
 * @return SP_OK; SP_EINPUT (train_check's problems, or no algorithm NCCL's
 *         model times under co); SP_ENOMEM; SP_EINTERNAL
 */
SP_MUST_USE int train_estimate(const model *m, const plat *p, const train_config *c, const coll_opts *co,
                               double *step_s, diag_list *diag);

/* One GEMM of a training step, as the generator prices it (train_gemms). */
typedef struct train_gemm {
    const char *name; /* static: "attn.qkv", "attn.proj", "mlp.up", "mlp.down", "head", "moe.router",
                         "moe.up", "moe.down", "lora.*" */
    const char *pass; /* static: "fwd", "dgrad" (input gradient), "wgrad" (weight gradient); LoRA
                         adapters "fwd" and "bwd" (the forward shapes, counted twice: the
                         backward's two GEMMs per matrix, approximated) */
    plat_prec prec;   /* the configuration's, but bf16 for the head under fp8 and fp4 */
    double m, n, k;   /* (m x k) * (k x n), per TP shard: m is tokens, or the weight's rows in wgrad */
    double count;     /* times per layer and micro-batch (local experts, q and o, ...) */
    double eff;       /* train_gemm_efficiency: before wave quantization */
    double seconds;   /* train_gemm_time of one (below 16 bits the operands' quantization is
                         priced apart, per linear layer: docs/training-model.md) */
} train_gemm;

#define TRAIN_MAX_GEMMS 48

/* One transformer layer's compute per micro-batch: the whole forward and
 * backward (GEMMs, attention, element-wise kernels, adapters, QLoRA's
 * dequantization), and of them the fused attention kernels and the
 * dequantization (each pass). */
typedef struct train_layer_time {
    double fwd_s, bwd_s;
    double attention_fwd_s, attention_bwd_s;
    double dequant_s;
} train_layer_time;

/**
 * The GEMMs of one transformer layer (and the output head) per micro-batch,
 * at the configuration's precision on the platform's first GPU type: what
 * the generator times, for listing and for choosing shapes to measure
 * (efficiency.gemm_shapes). Call after train_check succeeded.
 * @param[out] out    filled with at most TRAIN_MAX_GEMMS entries
 * @param[out] layer  when not NULL, the layer's compute times
 * @return the number of entries
 */
size_t train_gemms(const model *m, const plat *p, const train_config *c, train_gemm out[TRAIN_MAX_GEMMS],
                   train_layer_time *layer);

/* Time of one GEMM (m x k) * (k x n) on a GPU: max of FLOPs over peak(prec)
 * x efficiency x wave quantization (tiles of 128 x 128 over sm_count), and
 * the operands' bytes over memory bandwidth x memory efficiency. */
double train_gemm_time(const plat_gpu *g, plat_prec prec, double m, double n, double k);
/* The efficiency train_gemm_time applies before wave quantization: the
 * GPU's measured GEMM nearest in log(m, n, k) among those of this precision
 * (efficiency.gemm_shapes), its own wave quantization divided out (at most
 * 1); without one, efficiency.gemm (gemm_fp8 for fp8 and fp4). */
double train_gemm_efficiency(const plat_gpu *g, plat_prec prec, double m, double n, double k);
/* A fused attention kernel's shape (bf16): seq queries over kv_seq keys per
 * sequence, heads (x sequences) heads of head_dim; causal self-attention
 * (kv_seq = seq), or a block with no mask (a ring-attention step). */
typedef struct train_attn_kernel {
    double seq, kv_seq, heads, head_dim;
    bool causal;
} train_attn_kernel;
/* Its efficiency, forward or backward: the GPU's measured kernel of the same
 * mask nearest in log(seq, heads, head_dim), and log(kv_seq) without the
 * mask (efficiency.attention_shapes); without one, efficiency.attention. */
double train_attention_efficiency(const plat_gpu *g, const train_attn_kernel *k, bool backward);
/* Whether the GPU's table measures blocks without the mask, which the
 * ring-attention steps of context parallelism are priced by. */
bool train_attention_blocks_measured(const plat_gpu *g);
/* Time of that kernel doing these FLOPs and moving these bytes: the FLOPs
 * at the dense bf16 peak x its efficiency, or the bytes, whichever is longer. */
double train_attention_time(const plat_gpu *g, double flops, double bytes, const train_attn_kernel *k,
                            bool backward);
/* Time of a memory-bound kernel moving these bytes. */
double train_memory_time(const plat_gpu *g, double bytes);

#endif

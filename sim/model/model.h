/* model.h - transformer models: shape, parameter count, and the memory a
 * training configuration needs per GPU.
 *
 * A model file (workloads/models/NAME.cfg, libconfig) gives the published
 * shape; model_memory() does the standard accounting for one GPU of a
 * (TP, PP, DP, ZeRO) layout: weights, gradients and optimizer states
 * (mixed-precision Adam: 2 + 2 + 12 bytes per parameter before sharding),
 * activations per Korthikanti et al. 2022 ("Reducing Activation
 * Recomputation in Large Transformer Models", arXiv 2205.05198) generalised
 * to grouped-query attention and gated FFNs, and full / LoRA / QLoRA
 * fine-tuning. No SimGrid; units are bytes.
 *
 * Ownership: model_load() gives the caller a model to release with
 * model_free().
 */
#ifndef SP_MODEL_H
#define SP_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "util/diag.h"

typedef struct model {
    char *name, *path;
    int layers;
    int hidden;      /* model dimension h */
    int heads;       /* attention heads a */
    int kv_heads;    /* key/value heads (GQA); = heads for multi-head attention */
    int head_dim;    /* a head's dimension d: hidden / heads unless the model sets it */
    int ffn;         /* FFN inner dimension f */
    bool gated_ffn;  /* SwiGLU-style: three FFN matrices instead of two */
    int vocab;
    bool tied_embeddings;
    int experts;     /* mixture of experts: experts per MoE layer (every layer); 0 = dense */
    int top_k;       /* experts each token is routed to */
    int moe_ffn;     /* an expert's FFN inner dimension */
    bool learned_positions;   /* a learned table of absolute positions (GPT-2) instead of rotary */
    bool no_positions;        /* no position embedding at all (a bare block stack) */
    int max_positions;        /* its rows: the longest sequence it takes */
    double hidden_dropout;    /* dropout probability after attention and after the FFN; 0 = none */
    double attention_dropout; /* on the attention probabilities; 0 = none */
    sp_loc src;
} model;

SP_MUST_USE int model_load(model **out, const char *path, diag_list *diag);
void model_free(model *m); /* NULL is fine */

/* Widths of the attention projections: queries heads x d, keys and values
 * kv_heads x d each (d = head_dim; heads x d = hidden for most models, not
 * for Qwen3's MoE models). */
double model_q_dim(const model *m);
double model_kv_dim(const model *m);
/* Whether tensor parallelism of degree tp can split the attention: it must
 * divide both the query heads and the key/value heads, as Megatron-LM
 * requires (megatron/core/transformer/attention.py divides
 * num_query_groups by the TP size with core.utils.divide, which asserts
 * divisibility): a TP rank never holds part of a head, nor a copy of one. */
bool model_tp_splits(const model *m, int tp);

/* Parameters: embeddings (and a learned position table), attention (q, k,
 * v, o), FFN (every expert and the router for MoE), norms. */
double model_params(const model *m);
/* Of them, a learned position table's (max_positions x hidden; 0 with
 * rotary embeddings or none): on the first pipeline stage, whole on every
 * TP rank. */
double model_position_params(const model *m);
double model_layer_params(const model *m);
/* Of a layer's parameters, those of the experts (0 for a dense model). */
double model_layer_expert_params(const model *m);
/* Parameters a token multiplies by: for MoE, top_k experts' instead of all. */
double model_active_params(const model *m);
/* The linear layers that carry LoRA / QLoRA adapters (model_layout's
 * lora_targets), in every expert of a mixture of experts. By Megatron-LM's
 * fused layers, one adapter on each (NeMo's ParallelLinearAdapter on the
 * whole layer): the query-key-value projection (qkv: in h, out q + 2 kv),
 * the attention's output projection (proj), the FFN's first layer (fc1:
 * up, and gate where gated, in one) and its second (fc2). Or by Hugging
 * Face's separate modules, one adapter on each (PEFT's q_proj, k_proj,
 * v_proj, gate_proj, up_proj): q, k, v, gate, up; o_proj is proj and
 * down_proj fc2 either way. */
enum {
    MODEL_LORA_QKV = 1,
    MODEL_LORA_PROJ = 2,
    MODEL_LORA_FC1 = 4,
    MODEL_LORA_FC2 = 8,
    MODEL_LORA_ALL = 15,
    MODEL_LORA_Q = 16,
    MODEL_LORA_K = 32,
    MODEL_LORA_V = 64,
    MODEL_LORA_GATE = 128,
    MODEL_LORA_UP = 256,
    /* with gate: only where the model has a gated FFN (all-linear's) */
    MODEL_LORA_IF_PRESENT = 512,
    /* PEFT's "all-linear": every linear module apart that the model has */
    MODEL_LORA_ALL_LINEAR = 16 | 32 | 64 | 2 | 128 | 256 | 8 | 512
};
/* Longest name model_lora_targets_name() writes, with its NUL. */
#define MODEL_LORA_NAME_MAX 64
/* s, a comma-separated list of qkv, proj, fc1, fc2, attention (qkv and
 * proj), mlp (fc1 and fc2), all, q, k, v, o (proj), gate, up, down (fc2),
 * all-linear, or PEFT's q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj,
 * down_proj, into *out (MODEL_LORA_* bits). SP_EINPUT (nothing reported) if
 * s is empty, names anything else, or puts a fused layer's adapter beside
 * adapters on its parts (qkv with q, k or v; fc1 with gate or up): then
 * *why (may be NULL) says which. */
SP_MUST_USE int model_lora_targets_parse(const char *s, unsigned *out, const char **why);
/* The targets t (0 = all) as the parser reads them, into buf: "all",
 * "attention", "mlp", "all-linear" or a list such as "qkv,fc2" or
 * "q,v,fc2". Returns buf. */
const char *model_lora_targets_name(unsigned t, char buf[MODEL_LORA_NAME_MAX]);
/* Adapters that read the QKV projection's input (qkv, or q, k and v apart),
 * and the FFN's first layer's (fc1, or gate and up apart; gate only where
 * m's FFN is gated), of targets t (0 = all). */
int model_lora_qkv_adapters(unsigned t);
int model_lora_fc1_adapters(const model *m, unsigned t);
/* Whether targets t name gate on m, whose FFN is not gated (refused;
 * all-linear's gate is dropped instead). */
int model_lora_gate_missing(const model *m, unsigned t);
/* LoRA adapters of rank r on the targets' matrices of a layer (MODEL_LORA_*
 * bits; 0 = all), r x (in + out) each: qkv r (h + q + 2 kv), q r (h + q),
 * k and v r (h + kv), proj r (q + h), fc1 r (h + f, x2 gated), gate and up
 * r (h + f), fc2 r (f + h), of every expert for MoE. */
double model_lora_layer_params(const model *m, int r, unsigned targets);
/* Of them, the experts' (on fc1 and fc2 of every expert; 0 for a dense
 * model): split over the expert-parallel ranks with their experts, where
 * the rest is split over TP. */
double model_lora_layer_expert_params(const model *m, int r, unsigned targets);
struct model_layout;
/* The adapters one GPU trains per layer under layout l (LoRA / QLoRA): the
 * dense layers' split over TP, the experts' over EP; *on_experts (may be
 * NULL) gets the experts' share of it. */
double model_lora_layer_trained(const model *m, const struct model_layout *l, double *on_experts);

typedef enum model_recompute { MODEL_RECOMPUTE_NONE, MODEL_RECOMPUTE_SELECTIVE, MODEL_RECOMPUTE_FULL } model_recompute;
typedef enum model_tune { MODEL_TRAIN_FULL, MODEL_TRAIN_LORA, MODEL_TRAIN_QLORA } model_tune;

/* Adam's state per trained parameter, beside the fp32 master weight (4 B):
 * both moments in fp32 (8 B), in bf16 (4 B), or 8-bit block-wise quantized
 * (2 B; Dettmers et al. 2022, "8-bit Optimizers via Block-wise
 * Quantization", arXiv 2110.02861); or pure bf16, the bf16 weights updated
 * directly with bf16 moments and no master copy (PyTorch's AdamW on a model
 * loaded in bf16, as many fine-tuning scripts do): 4 B. */
typedef enum model_adam { MODEL_ADAM_FP32, MODEL_ADAM_BF16, MODEL_ADAM_INT8, MODEL_ADAM_PURE_BF16 } model_adam;
/* Bytes of optimizer state per trained parameter (master weight and moments). */
double model_adam_bytes(model_adam a);
/* The kind as options, study files and outputs spell it: "fp32", "bf16",
 * "int8", "pure-bf16". */
const char *model_adam_name(model_adam a);
/* The kind spelt s into *out; SP_EINPUT (nothing reported) if s names none. */
SP_MUST_USE int model_adam_parse(const char *s, model_adam *out);
/* The loss as options, study files and outputs spell it: "fused"
 * (Megatron-LM's) or "unfused" (PyTorch's F.cross_entropy; model_layout). */
const char *model_loss_name(bool unfused);
/* The loss spelt s into *unfused; SP_EINPUT (nothing reported) if s names none. */
SP_MUST_USE int model_loss_parse(const char *s, bool *unfused);
/* Bytes an optimizer step moves per trained parameter: its state read and
 * written, the gradient read (bf16, or fp32 with grad_fp32), and the bf16
 * weight written (read too when it is the master copy, pure bf16). */
double model_adam_step_bytes(model_adam a, bool grad_fp32);

typedef struct model_layout {
    int tp, pp, dp;          /* tensor (with sequence parallelism), pipeline, data parallel */
    int zero;                /* 0..3: ZeRO stage (3 = FSDP) over the DP group */
    int micro_batch;         /* sequences per micro-batch */
    int seq_len;             /* tokens per sequence */
    int microbatches;        /* per pipeline flush (>= pp keeps 1F1B full) */
    model_recompute recompute;
    bool flash_attention;    /* no s x s attention scores kept (FlashAttention) */
    model_tune tune;
    int lora_rank;           /* rank of the LoRA / QLoRA adapters */
    int cp;                  /* context parallel: the sequence split over cp GPUs; 0 or 1 = none */
    int vpp;                 /* virtual pipeline stages per GPU (interleaved 1F1B); 0 or 1 = none */
    int ep;                  /* expert parallel: MoE experts split over ep of the DP ranks; 0 or 1 = none */
    model_adam adam;         /* precision of Adam's moments */
    int comm_channels;       /* NCCL channels per communicator (coll_comm_channels), for its
                              * buffers; 0 = no communicator buffers counted */
    bool fp8_inputs;         /* FP8 GEMMs (Transformer Engine): each linear layer keeps its
                              * quantized input, 1 B per element, for the backward pass */
    bool unfused_loss;       /* the loss as plain PyTorch computes it (F.cross_entropy on an
                              * fp32 copy of the logits, as Hugging Face's models do), not
                              * Megatron-LM's fused vocab-parallel cross-entropy */
    double moe_load;         /* MoE: tokens the busiest expert-parallel rank's experts hold,
                              * over the balanced mean (train_moe_load: imbalance, capacity,
                              * padding); 0 = 1 */
    unsigned lora_targets;   /* LoRA / QLoRA: the layers with adapters, MODEL_LORA_* bits;
                              * 0 = all */
    bool fp8_params;         /* with fp8_inputs: the transformer layers' linear weights stored
                              * in FP8, 1 B, no bf16 copy (Transformer Engine's fp8_model_init:
                              * NeMo's fp8_params, Megatron-LM's --fp8-param-gather) */
    bool no_weight_cache;    /* with fp8_inputs: no quantized weight kept from one micro-batch
                              * to the next (Megatron-LM's disable_parameter_transpose_cache:
                              * Transformer Engine quantizes each micro-batch anew) */
    double lora_dropout;     /* LoRA / QLoRA: dropout probability on each adapter's input (NeMo's
                              * adapter_dropout, dropout_position "pre"; PEFT's lora_dropout);
                              * 0 = none */
    bool grad_fp32;          /* gradients accumulated, kept and reduced in fp32 (4 B), not bf16:
                              * Megatron-LM's --accumulate-allreduce-grads-in-fp32, as Llama 3
                              * trained */
} model_layout;

/* The linear layers' weights of one transformer layer on one GPU (what
 * FP8 training quantizes): the attention's and dense FFN's over TP, the
 * experts' over EP; not the norms or a MoE router. */
double model_layer_linear_params(const model *m, const model_layout *l);
/* The same, of the experts alone. */
double model_layer_linear_expert_params(const model *m, const model_layout *l);

/* Transformer layers of virtual pipeline stage k, 0 <= k < pp * vpp (GPU
 * k % pp runs it, as chunk k / pp): as even as possible, and where the
 * layers do not divide, the first and last virtual stages take one fewer
 * (they also hold the embedding and the output layer; Llama 3 405B was
 * trained so, arXiv 2407.21783 section 3.3.2). With pp * vpp up to layers + 2
 * the first and last may hold none: the embedding alone and the output layer
 * alone, as Llama 3's 126 layers on 16 x 8 (Megatron-LM's
 * --account-for-embedding/loss-in-pipeline-split). */
int model_vstage_layers(const model *m, int pp, int vpp, int k);
/* Index of the first layer of virtual stage k. */
int model_vstage_first(const model *m, int pp, int vpp, int k);

/* Bytes per GPU of the busiest pipeline stage (the most in all: the first
 * keeps the most micro-batches in flight and the embedding, the last the
 * output layer and the logits, uneven splits give some stages a layer more). */
typedef struct model_memory {
    double params;           /* parameters held by this GPU (before ZeRO-3), count */
    double trainable;        /* of which trained, count */
    double weights;          /* bytes */
    double gradients;
    double optimizer;
    double activations;
    double logits;           /* output layer: logits (bf16) and the loss's fp32 tensors
                              * (MODEL_LOSS_BYTES_* per logit) */
    double framework;        /* CUDA context and NCCL's buffers (model_framework_bytes) */
    double total;
} model_memory;

/* Bytes per logit at the loss's peak. Megatron-LM's fused cross-entropy
 * (vocab_parallel_cross_entropy): the bf16 logits and the fp32 softmax
 * they are copied into, which its backward overwrites with the gradient:
 * 6. PyTorch's F.cross_entropy on an fp32 copy: at the start of its
 * backward the bf16 logits (the caller keeps them), the saved log-softmax
 * (fp32), the dense gradient nll_loss returns and the log-softmax's
 * gradient (fp32 each): 14. */
#define MODEL_LOSS_BYTES_FUSED 6.0
#define MODEL_LOSS_BYTES_UNFUSED 14.0

/* Bytes NCCL allocates per connection: the Simple (NCCL_BUFFSIZE, 4 MiB),
 * LL (512 KiB) and LL128 (4,915,200 B) FIFOs (NCCL's defaults, shared/NCCL.md
 * 1.6). */
#define MODEL_NCCL_CONN_BYTES (4194304.0 + 524288.0 + 4915200.0)
/* Device memory a training process holds outside its allocator: PyTorch's
 * CUDA context with lazy module loading (its default), and cuBLAS's handle
 * and kernels once it has run a GEMM (PyTorch takes cuBLAS's workspace from
 * its own allocator, so that is not in this figure). Measured for this project
 * with bench/context_measure.py on an H100 (CUDA 13.0, PyTorch 2.11,
 * driver 580.159.04, 2026-11-26; bench/data/context/): 529 MiB for the
 * context, 783 MiB after a bf16 GEMM of which the allocator held 98 MiB,
 * so 685 MiB (718 MB). Eager
 * loading took 1,261 MiB for the context alone. Earlier CUDA releases took
 * less ("around 400MB", pytorch/pytorch #109888; 287 MB lazy, 667 MB eager,
 * pytorch/pytorch PR #86509). Taken for every GPU: no other was measured. */
#define MODEL_CUDA_CONTEXT_BYTES 718e6

/* The framework's memory on a GPU beyond the model's: its CUDA context, and
 * NCCL's ring buffers for every communicator it belongs to (tensor,
 * pipeline, data x context for gradients, context, expert and expert-data
 * parallel, each of more than one rank): channels x 2 connections (a ring
 * has one to each neighbour at any scale, NVIDIA/nccl #864) x
 * MODEL_NCCL_CONN_BYTES. Not counted: allocator fragmentation (no figure
 * that holds in general), cuBLAS workspaces (tens of MB), other libraries'
 * kernels (cuDNN, Transformer Engine), NVLS buffers. */
double model_framework_bytes(const model_layout *l);

/**
 * The accounting for one GPU. Mixed-precision Adam: bf16 weights (2 B) and
 * gradients (2 B), fp32 master weights, momentum and variance (12 B), per
 * trained parameter; ZeRO-1 divides the optimizer states by DP, ZeRO-2 the
 * gradients too, ZeRO-3 the weights too. LoRA freezes bf16 base weights
 * (2 B) and trains the adapters; QLoRA stores the base in 4-bit NF4 with
 * double quantization (4.127 bits per parameter, Dettmers et al. 2023).
 * FP8 training (fp8_inputs, full or LoRA) adds Transformer Engine's
 * quantized weights: kept between micro-batches, the FP8 copy and its
 * transpose of every linear weight (2 B); with fp8_params the weight is
 * FP8 itself (1 B, not 2) and only its transpose is added (1 B); with
 * no_weight_cache nothing is kept, and each micro-batch in flight holds
 * the FP8 copies its backward pass needs (1 B; none with fp8_params).
 * The total adds model_framework_bytes().
 * @return SP_OK or SP_EINPUT (a layout the model does not divide into)
 */
SP_MUST_USE int model_memory_per_gpu(model_memory *out, const model *m, const model_layout *l,
                                     diag_list *diag);

#endif

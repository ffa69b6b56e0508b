/* test_model.c - parameter counts and the memory accounting per GPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "model/model.h"
#include "unit_helpers.h"

#define MODELS FIXTURES "/../../../workloads/models"

static void near_rel(double got, double want, double rel)
{
    if (fabs(got - want) > rel * fabs(want))
        fail_msg("got %.6g, want %.6g (+-%g relative)", got, want, rel);
}

/* The published sizes (Meta model cards): Llama 3 8B has 8.03B parameters,
 * 70B 70.6B, 405B "405B"; the shapes of the model files must give them. */
static void test_model__llama3_parameters(void **state)
{
    diag_list *d = *state;
    model *m;

    assert_int_equal(model_load(&m, MODELS "/llama3-8b.cfg", d), SP_OK);
    near_rel(model_params(m), 8.03e9, 0.005);
    model_free(m);
    assert_int_equal(model_load(&m, MODELS "/llama3-70b.cfg", d), SP_OK);
    near_rel(model_params(m), 70.6e9, 0.005);
    model_free(m);
    assert_int_equal(model_load(&m, MODELS "/llama3-405b.cfg", d), SP_OK);
    near_rel(model_params(m), 405e9, 0.005);
    model_free(m);
}

/* A head dimension of its own (Qwen3's MoE models: 128 with 32 heads of a
 * 2,048-wide model, so queries are 4,096 wide): the Qwen3-30B-A3B file
 * gives its model card's "30.5B total, 3.3B activated", the 235B-A22B file
 * "235B / 22B"; the attention projections follow the head dimension. */
static void test_model__head_dim(void **state)
{
    diag_list *d = *state;
    model *m;

    assert_int_equal(model_load(&m, MODELS "/qwen3-30b-a3b.cfg", d), SP_OK);
    assert_int_equal(m->head_dim, 128);
    near_rel(model_q_dim(m), 4096.0, 1e-12);
    near_rel(model_kv_dim(m), 512.0, 1e-12);
    near_rel(model_params(m), 30.5e9, 0.005);
    near_rel(model_active_params(m), 3.35e9, 0.01);
    {
        double p128 = model_params(m);
        m->head_dim = m->hidden / m->heads; /* 64: q 2,048 and k, v 256 wide */
        near_rel(p128 - model_params(m), 48 * 2.0 * 2048 * ((4096 - 2048) + (512 - 256)), 1e-12);
    }
    model_free(m);
    assert_int_equal(model_load(&m, MODELS "/qwen3-235b-a22b.cfg", d), SP_OK);
    near_rel(model_params(m), 235e9, 0.005);
    near_rel(model_active_params(m), 22.2e9, 0.01);
    model_free(m);
    assert_int_equal(model_load(&m, MODELS "/llama3-8b.cfg", d), SP_OK);
    assert_int_equal(m->head_dim, 128); /* 4,096 / 32 */
    model_free(m);
    /* Heads that do not divide the hidden size need head_dim. */
    assert_int_equal(model_load(&m, FIXTURES "/uneven-heads.cfg", d), SP_EINPUT);
    assert_null(m);
    assert_true(has_message(d, "uneven-heads.cfg:7: error: model: hidden_size 2000 must divide into heads 24 "
                               "(or give head_dim)"));
}

/* Mixed-precision Adam: 16 bytes per parameter before sharding; ZeRO-1
 * divides the 12 bytes of optimizer states by DP, ZeRO-2 also the 2 of
 * gradients, ZeRO-3 also the 2 of weights. */
static void test_model__sixteen_bytes_and_zero(void **state)
{
    diag_list *d = *state;
    model *m;
    model_memory mem;
    model_layout l = {1, 1, 1, 0, 1, 2048, 1, MODEL_RECOMPUTE_NONE, true, MODEL_TRAIN_FULL, 0, 1, 1, 1, MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false};
    double P;

    assert_int_equal(model_load(&m, MODELS "/llama3-8b.cfg", d), SP_OK);
    P = model_params(m);
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.params, P, 1e-12);
    near_rel(mem.weights + mem.gradients + mem.optimizer, 16.0 * P, 1e-12);
    l.dp = 8;
    for (l.zero = 0; l.zero <= 3; l.zero++) {
        double w = 2.0 * P / (l.zero >= 3 ? 8 : 1), g = 2.0 * P / (l.zero >= 2 ? 8 : 1),
               o = 12.0 * P / (l.zero >= 1 ? 8 : 1);
        assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
        near_rel(mem.weights, w, 1e-12);
        near_rel(mem.gradients, g, 1e-12);
        near_rel(mem.optimizer, o, 1e-12);
    }
    /* Gradients accumulated and reduced in fp32: 18 bytes per parameter
     * (Megatron Core's distributed-optimizer guide: "bf16 parameters, fp32
     * gradients: 18" without it); ZeRO-2 shards the 4 bytes. */
    l.zero = 0;
    l.grad_fp32 = true;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.weights + mem.gradients + mem.optimizer, 18.0 * P, 1e-12);
    l.zero = 2;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.gradients, 4.0 * P / 8, 1e-12);
    l.grad_fp32 = false;
    /* Adam's moments in bf16 or 8 bits, beside the fp32 master weight:
     * 8 and 6 bytes per parameter instead of 12. */
    l.zero = 0;
    l.adam = MODEL_ADAM_BF16;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.optimizer, 8.0 * P, 1e-12);
    l.adam = MODEL_ADAM_INT8;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.optimizer, 6.0 * P, 1e-12);
    /* Pure bf16: bf16 moments and no master weight, 8 bytes per parameter
     * in all; the optimizer step moves 14 (weight and moments read and
     * written, gradient read) against 28 for mixed precision. */
    l.adam = MODEL_ADAM_PURE_BF16;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.weights + mem.gradients + mem.optimizer, 8.0 * P, 1e-12);
    near_rel(model_adam_step_bytes(MODEL_ADAM_PURE_BF16, false), 14.0, 1e-15);
    near_rel(model_adam_step_bytes(MODEL_ADAM_FP32, false), 28.0, 1e-15);
    near_rel(model_adam_step_bytes(MODEL_ADAM_FP32, true), 30.0, 1e-15); /* the fp32 gradient read */
    /* The names options and study files use, both ways. */
    for (int k = MODEL_ADAM_FP32; k <= MODEL_ADAM_PURE_BF16; k++) {
        model_adam back = MODEL_ADAM_FP32;
        assert_int_equal(model_adam_parse(model_adam_name((model_adam)k), &back), SP_OK);
        assert_int_equal(back, k);
    }
    assert_string_equal(model_adam_name(MODEL_ADAM_PURE_BF16), "pure-bf16");
    assert_int_equal(model_adam_parse("fp16", &l.adam), SP_EINPUT);
    for (int k = 0; k < 2; k++) {
        bool back = !k;
        assert_int_equal(model_loss_parse(model_loss_name(k), &back), SP_OK);
        assert_int_equal(back, k);
    }
    assert_int_equal(model_loss_parse("cross-entropy", &l.unfused_loss), SP_EINPUT);
    model_free(m);
}

/* The framework's share: a CUDA context and cuBLAS (MODEL_CUDA_CONTEXT_BYTES) on every GPU, and NCCL's
 * three FIFOs (4 MiB + 512 KiB + 4,915,200 B) on 2 ring connections per
 * channel of every communicator of more than one rank; all in the total. */
static void test_model__framework(void **state)
{
    diag_list *d = *state;
    model *m;
    model_memory mem;
    model_layout l = {1, 1, 1, 0, 1, 2048, 1, MODEL_RECOMPUTE_NONE, true, MODEL_TRAIN_FULL, 0, 1, 1, 1, MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false};
    const double conn = 4194304.0 + 524288.0 + 4915200.0;

    assert_int_equal(model_load(&m, MODELS "/llama3-8b.cfg", d), SP_OK);
    near_rel(model_framework_bytes(&l), MODEL_CUDA_CONTEXT_BYTES, 1e-12); /* one GPU: the context alone */
    l.comm_channels = 24;
    near_rel(model_framework_bytes(&l), MODEL_CUDA_CONTEXT_BYTES, 1e-12); /* no communicator */
    l.tp = 8;
    l.pp = 4;
    l.dp = 16;
    l.cp = 2;
    /* TP, PP, DP x CP and CP: four communicators. */
    near_rel(model_framework_bytes(&l), MODEL_CUDA_CONTEXT_BYTES + 4 * 24 * 2 * conn, 1e-12);
    l.tp = 1;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.framework, MODEL_CUDA_CONTEXT_BYTES + 3 * 24 * 2 * conn, 1e-12);
    near_rel(mem.total, mem.weights + mem.gradients + mem.optimizer + mem.activations + mem.logits + mem.framework,
             1e-12);
    model_free(m);
}

/* Activations per layer and micro-batch, Korthikanti et al. (arXiv
 * 2205.05198) eq. 1 without dropout masks: 34sbh + 5as^2b less sbh (attention
 * mask), sbh (FFN mask) and as^2b (score mask) = 32sbh + 4as^2b; with tensor
 * and sequence parallelism all divided by t; full recompute keeps 2sbh/t per
 * layer; FlashAttention or selective recompute drop the s^2 term. */
static void test_model__activations(void **state)
{
    diag_list *d = *state;
    model *m;
    model_memory mem;
    model_layout l = {1, 1, 1, 0, 2, 1024, 1, MODEL_RECOMPUTE_NONE, false, MODEL_TRAIN_FULL, 0, 1, 1, 1, MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false};
    double s = 1024, b = 2, h = 1024, a = 16, L = 24;

    assert_int_equal(model_load(&m, FIXTURES "/gpt-mha.cfg", d), SP_OK);
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.activations, L * (32 * s * b * h + 4 * a * s * s * b), 1e-12);
    l.tp = 4;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.activations, L * (32 * s * b * h + 4 * a * s * s * b) / 4, 1e-12);
    l.flash_attention = true;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.activations, L * 32 * s * b * h / 4, 1e-12);
    /* FP8 GEMMs: the linear layers keep 1-byte quantized inputs (QKV and
     * FFN inputs, the 4h FFN activation: 1 + 1 + 4 sbh saved), but the
     * projection after attention keeps one beside FlashAttention's bf16
     * output (1 sbh more): 32 - 5 = 27 sbh. */
    l.fp8_inputs = true;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.activations, L * 27 * s * b * h / 4, 1e-12);
    l.fp8_inputs = false;
    l.recompute = MODEL_RECOMPUTE_FULL;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.activations, L * 2 * s * b * h / 4 + 32 * s * b * h / 4, 1e-12);
    /* 1F1B: the first of 4 stages keeps 4 micro-batches of its 6 layers. */
    l.tp = 1;
    l.pp = 4;
    l.microbatches = 8;
    l.recompute = MODEL_RECOMPUTE_NONE;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.activations, 6 * 4 * 32 * s * b * h, 1e-12);
    model_free(m);
    /* The busiest stage, not the first: Llama 3 405B on 16 stages puts 7
     * layers on stage 0 (16 micro-batches in flight) and 8 on stage 1 (15 in
     * flight): 120 layer-activations against 112. */
    {
        model_layout q = {8, 1, 1, 0, 1, 8192, 1, MODEL_RECOMPUTE_NONE, true, MODEL_TRAIN_FULL, 0, 1, 1, 1,
                          MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false};
        model_memory one;
        double per_layer;
        assert_int_equal(model_load(&m, MODELS "/llama3-405b.cfg", d), SP_OK);
        assert_int_equal(model_memory_per_gpu(&one, m, &q, d), SP_OK);
        per_layer = one.activations / 126;
        q.pp = 16;
        q.microbatches = 32;
        assert_int_equal(model_memory_per_gpu(&mem, m, &q, d), SP_OK);
        near_rel(mem.activations, 120 * per_layer, 1e-9);
        near_rel(mem.params, 8 * model_layer_params(m) / 8, 1e-9);
        model_free(m);
    }
}

/* LoRA trains r (in + out) per matrix on frozen bf16 weights; QLoRA keeps
 * the base in 4.127 bits per parameter. A 70B full fine-tune needs 16 B per
 * parameter (over a terabyte); QLoRA's base fits in a DGX Spark's 128 GB. */
static void test_model__fine_tuning(void **state)
{
    diag_list *d = *state;
    model *m;
    model_memory full, lora, qlora;
    model_layout l = {1, 1, 1, 0, 1, 2048, 1, MODEL_RECOMPUTE_FULL, true, MODEL_TRAIN_FULL, 16, 1, 1, 1, MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false};
    double P;

    assert_int_equal(model_load(&m, MODELS "/llama3-70b.cfg", d), SP_OK);
    P = model_params(m);
    assert_int_equal(model_memory_per_gpu(&full, m, &l, d), SP_OK);
    l.tune = MODEL_TRAIN_LORA;
    assert_int_equal(model_memory_per_gpu(&lora, m, &l, d), SP_OK);
    l.tune = MODEL_TRAIN_QLORA;
    assert_int_equal(model_memory_per_gpu(&qlora, m, &l, d), SP_OK);
    assert_true(full.weights + full.gradients + full.optimizer > 1.1e12);
    assert_true(lora.trainable < 0.01 * P);
    near_rel(lora.weights, 2.0 * P + 2.0 * lora.trainable, 1e-12);
    near_rel(qlora.weights, 4.127 / 8 * P + 2.0 * qlora.trainable, 1e-12);
    near_rel(qlora.optimizer, 12.0 * qlora.trainable, 1e-12);
    assert_true(qlora.total < 128e9);
    model_free(m);
}

/* FP8 training's quantized weights (Transformer Engine): kept between
 * micro-batches, each linear weight's FP8 copy and its transpose (2 B);
 * stored in FP8 (fp8_params), the weight is 1 B and only the transpose is
 * kept; with no cache, every micro-batch in flight keeps its FP8
 * transposes for the backward pass (1 B), none with fp8_params. Llama 3 8B
 * on TP 2: per layer the linear weights are 2hq + 2h kv + 3hf over 2. */
static void test_model__fp8_weights(void **state)
{
    diag_list *d = *state;
    model *m;
    model_memory bf, x, rc;
    model_layout l = {2, 1, 1, 0, 1, 2048, 4, MODEL_RECOMPUTE_NONE, true, MODEL_TRAIN_FULL, 16, 1, 1, 1,
                      MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false};
    double lin = (2.0 * 4096 * 4096 + 2.0 * 4096 * 1024 + 3.0 * 4096 * 14336) / 2, L = 32, cached;

    assert_int_equal(model_load(&m, MODELS "/llama3-8b.cfg", d), SP_OK);
    near_rel(model_layer_linear_params(m, &l), lin, 1e-12);
    near_rel(model_layer_linear_params(m, &l), (model_layer_params(m) - 2.0 * 4096) / 2, 1e-12);
    assert_int_equal(model_memory_per_gpu(&bf, m, &l, d), SP_OK);
    l.fp8_inputs = true;
    assert_int_equal(model_memory_per_gpu(&x, m, &l, d), SP_OK);
    near_rel(x.weights, bf.weights + 2.0 * L * lin, 1e-12);
    cached = x.activations;
    l.fp8_params = true;
    assert_int_equal(model_memory_per_gpu(&x, m, &l, d), SP_OK);
    near_rel(x.weights, bf.weights, 1e-12); /* 1 B weight + 1 B transpose */
    near_rel(x.optimizer, bf.optimizer, 1e-12);   /* the fp32 master stays */
    l.no_weight_cache = true;
    assert_int_equal(model_memory_per_gpu(&x, m, &l, d), SP_OK);
    near_rel(x.weights, bf.weights - L * lin, 1e-12);
    near_rel(x.activations, cached, 1e-12);
    l.fp8_params = false;
    assert_int_equal(model_memory_per_gpu(&x, m, &l, d), SP_OK);
    near_rel(x.weights, bf.weights, 1e-12);
    near_rel(x.activations, cached + L * lin, 1e-12); /* one micro-batch in flight (PP 1) */
    l.recompute = MODEL_RECOMPUTE_FULL; /* the recomputed layer alone keeps its transposes */
    assert_int_equal(model_memory_per_gpu(&x, m, &l, d), SP_OK);
    l.no_weight_cache = false;
    assert_int_equal(model_memory_per_gpu(&rc, m, &l, d), SP_OK);
    near_rel(x.activations, rc.activations + lin, 1e-12);
    l.recompute = MODEL_RECOMPUTE_NONE;
    /* ZeRO-3 over 4: the weights shard, the copies of the gathered weights do not. */
    l.dp = 4;
    l.zero = 3;
    assert_int_equal(model_memory_per_gpu(&x, m, &l, d), SP_OK);
    near_rel(x.weights, bf.weights / 4 + 2.0 * L * lin, 1e-12);
    l.dp = 1;
    l.zero = 0;
    /* LoRA: the frozen base in FP8 (its linear weights), the adapters bf16. */
    l.tune = MODEL_TRAIN_LORA;
    l.fp8_params = true;
    l.no_weight_cache = true;
    assert_int_equal(model_memory_per_gpu(&x, m, &l, d), SP_OK);
    near_rel(x.weights, bf.weights - L * lin + 2.0 * x.trainable, 1e-12);
    /* QLoRA's NF4 base is dequantized outside Transformer Engine: no copies. */
    l.tune = MODEL_TRAIN_QLORA;
    l.fp8_params = false;
    l.no_weight_cache = false;
    assert_int_equal(model_memory_per_gpu(&x, m, &l, d), SP_OK);
    near_rel(x.weights, 4.127 / 8 * x.params + 2.0 * x.trainable, 1e-12);
    model_free(m);
    /* A mixture of experts: the experts' weights over EP, the attention's
     * over TP; the router and the norms are not quantized. */
    {
        model_layout q = l;
        double h, e;
        q.tune = MODEL_TRAIN_FULL;
        q.ep = 4;
        assert_int_equal(model_load(&m, MODELS "/mixtral-8x7b.cfg", d), SP_OK);
        h = m->hidden;
        e = model_layer_expert_params(m);
        near_rel(model_layer_linear_params(m, &q), (model_layer_params(m) - e - h * m->experts - 2.0 * h) / 2 + e / 4,
                 1e-12);
        near_rel(model_layer_linear_expert_params(m, &q), e / 4, 1e-12);
        model_free(m);
    }
}

/* LoRA on some layers only (--lora-targets): the adapters' parameters are
 * r x (in + out) of the targeted matrices, and a frozen layer without an
 * adapter keeps no input for the backward pass (Transformer Engine saves a
 * linear layer's input only for its weight gradient); an adapter keeps the
 * bf16 input it reads. Llama 3 8B: h 4,096, q 4,096, kv 1,024, FFN 14,336
 * gated; 32 layers on one GPU, one micro-batch of s tokens. */
/* Activation bytes of layout l trained as tune with the LoRA targets t. */
static double activations(const model *m, model_layout l, model_tune tune, unsigned t, diag_list *d)
{
    model_memory x;
    l.tune = tune;
    l.lora_targets = t;
    assert_int_equal(model_memory_per_gpu(&x, m, &l, d), SP_OK);
    return x.activations;
}

static void test_model__lora_targets(void **state)
{
    diag_list *d = *state;
    model *m;
    const unsigned ATTN = MODEL_LORA_QKV | MODEL_LORA_PROJ, MLP = MODEL_LORA_FC1 | MODEL_LORA_FC2;
    model_layout l = {1, 1, 1, 0, 1, 2048, 1, MODEL_RECOMPUTE_NONE, true, MODEL_TRAIN_FULL, 16, 1, 1, 1, MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false};
    const double h = 4096, f = 14336, kv = 1024, s = 2048, L = 32;
    unsigned t = 0;

    /* Names, both ways, for every subset of the fused layers and every
     * valid mix with the modules apart; lists combine; Hugging Face's names
     * are aliases; anything else is refused, as is a fused layer's adapter
     * beside its parts'. */
    char name[MODEL_LORA_NAME_MAX];
    const char *why = "";
    assert_int_equal(model_lora_targets_parse("attention", &t, NULL), SP_OK);
    assert_int_equal(t, MODEL_LORA_QKV | MODEL_LORA_PROJ);
    assert_int_equal(model_lora_targets_parse("qkv,fc2", &t, NULL), SP_OK);
    assert_int_equal(t, MODEL_LORA_QKV | MODEL_LORA_FC2);
    assert_int_equal(model_lora_targets_parse("attention,mlp", &t, NULL), SP_OK);
    assert_int_equal(t, MODEL_LORA_ALL);
    assert_int_equal(model_lora_targets_parse("q_proj,v_proj", &t, &why), SP_OK);
    assert_null(why);
    assert_int_equal(t, MODEL_LORA_Q | MODEL_LORA_V);
    assert_int_equal(model_lora_targets_parse("all-linear", &t, NULL), SP_OK);
    assert_int_equal(t, MODEL_LORA_ALL_LINEAR);
    assert_string_equal(model_lora_targets_name(t, name), "all-linear");
    /* the same modules named one by one: gate is then asked for */
    assert_int_equal(model_lora_targets_parse("q,k,v,o,gate,up,down", &t, NULL), SP_OK);
    assert_int_equal(t, MODEL_LORA_ALL_LINEAR & ~MODEL_LORA_IF_PRESENT);
    assert_string_equal(model_lora_targets_name(t, name), "q,k,v,proj,gate,up,fc2");
    for (unsigned k = 1; k < 512; k++) {
        bool mixed = ((k & MODEL_LORA_QKV) && (k & (MODEL_LORA_Q | MODEL_LORA_K | MODEL_LORA_V))) ||
                     ((k & MODEL_LORA_FC1) && (k & (MODEL_LORA_GATE | MODEL_LORA_UP)));
        unsigned u = 0;
        if (mixed)
            continue;
        assert_int_equal(model_lora_targets_parse(model_lora_targets_name(k, name), &u, NULL), SP_OK);
        assert_int_equal(u, k);
    }
    assert_string_equal(model_lora_targets_name(0, name), "all");
    assert_string_equal(model_lora_targets_name(MODEL_LORA_FC1 | MODEL_LORA_FC2, name), "mlp");
    assert_string_equal(model_lora_targets_name(MODEL_LORA_Q | MODEL_LORA_V | MODEL_LORA_FC2, name), "q,v,fc2");
    t = 7;
    const char *const bad[] = {"", "qkv,", ",qkv", "qkv,,fc1", "Q", "attn", "ALL", "qkv fc1", "q,qkv", "fc1,up"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(*bad); k++)
        assert_int_equal(model_lora_targets_parse(bad[k], &t, NULL), SP_EINPUT);
    assert_int_equal(t, 7); /* untouched on error */
    assert_int_equal(model_lora_targets_parse("attention,v", &t, &why), SP_EINPUT);
    assert_non_null(strstr(why, "qkv (one adapter on the fused layer) and q, k or v"));
    assert_int_equal(model_lora_targets_parse("up,mlp", &t, &why), SP_EINPUT);
    assert_non_null(strstr(why, "fc1 (one adapter on the fused layer) and gate or up"));

    /* One adapter on a fused layer, r (in + out); one per module apart. */
    assert_int_equal(model_load(&m, MODELS "/llama3-8b.cfg", d), SP_OK);
    near_rel(model_lora_layer_params(m, 16, MODEL_LORA_QKV | MODEL_LORA_PROJ), 16 * ((h + h + 2 * kv) + (h + h)),
             1e-12);
    near_rel(model_lora_layer_params(m, 16, MODEL_LORA_Q | MODEL_LORA_K | MODEL_LORA_V | MODEL_LORA_PROJ),
             16 * ((h + h) + 2 * (h + kv) + (h + h)), 1e-12);
    near_rel(model_lora_layer_params(m, 16, MODEL_LORA_FC1 | MODEL_LORA_FC2), 16 * ((h + 2 * f) + (f + h)), 1e-12);
    near_rel(model_lora_layer_params(m, 16, MODEL_LORA_GATE | MODEL_LORA_UP | MODEL_LORA_FC2),
             16 * (2 * (h + f) + (f + h)), 1e-12);
    near_rel(model_lora_layer_params(m, 16, MODEL_LORA_Q | MODEL_LORA_V), 16 * ((h + h) + (h + kv)), 1e-12);
    {
        /* all-linear on a model whose FFN is not gated (GPT 354M: h 1,024,
         * 16 heads of 64, 4h FFN): no gate, and not refused; gate named on
         * its own is. */
        model *g;
        const double gh = 1024, gf = 4096;
        assert_int_equal(model_load(&g, MODELS "/gpt-354m.cfg", d), SP_OK);
        near_rel(model_lora_layer_params(g, 8, MODEL_LORA_ALL_LINEAR), 8 * (4 * (gh + gh) + (gh + gf) + (gf + gh)),
                 1e-12);
        assert_false(model_lora_gate_missing(g, MODEL_LORA_ALL_LINEAR));
        assert_true(model_lora_gate_missing(g, MODEL_LORA_GATE | MODEL_LORA_UP));
        assert_false(model_lora_gate_missing(m, MODEL_LORA_GATE));
        assert_int_equal(model_lora_fc1_adapters(g, MODEL_LORA_ALL_LINEAR), 1);
        assert_int_equal(model_lora_fc1_adapters(m, MODEL_LORA_ALL_LINEAR), 2);
        model_free(g);
    }
    near_rel(model_lora_layer_params(m, 16, 0), model_lora_layer_params(m, 16, MODEL_LORA_ALL), 1e-15);
    near_rel(model_lora_layer_params(m, 16, MODEL_LORA_ALL),
             model_lora_layer_params(m, 16, MODEL_LORA_QKV | MODEL_LORA_PROJ) +
                 model_lora_layer_params(m, 16, MODEL_LORA_FC1 | MODEL_LORA_FC2), 1e-12);
    /* Modules apart share their input without dropout: q and v keep what
     * qkv keeps; with dropout each keeps its own dropped copy and mask. */
    near_rel(activations(m, l, MODEL_TRAIN_LORA, MODEL_LORA_Q | MODEL_LORA_V, d),
             activations(m, l, MODEL_TRAIN_LORA, MODEL_LORA_QKV, d), 1e-12);
    {
        model_layout x = l;
        x.lora_dropout = 0.05;
        near_rel(activations(m, x, MODEL_TRAIN_LORA, MODEL_LORA_Q | MODEL_LORA_V, d) -
                     activations(m, x, MODEL_TRAIN_LORA, MODEL_LORA_QKV, d),
                 L * (2 * s * h + s * h), 1e-12);
    }

    near_rel(activations(m, l, MODEL_TRAIN_LORA, 0, d), activations(m, l, MODEL_TRAIN_FULL, 0, d), 1e-12);
    {
        model_memory attn;
        l.tune = MODEL_TRAIN_LORA;
        l.lora_targets = ATTN;
        assert_int_equal(model_memory_per_gpu(&attn, m, &l, d), SP_OK);
        near_rel(attn.trainable, L * model_lora_layer_params(m, 16, ATTN), 1e-12);
        near_rel(attn.weights, 2.0 * attn.params + 2.0 * attn.trainable, 1e-12);
        l.tune = MODEL_TRAIN_FULL;
        l.lora_targets = 0;
    }
    /* bf16: with every layer adapted the same inputs are kept as in full
     * training; attention only drops the FFN's two inputs (2 sh + 2 sf
     * bytes per layer), the FFN only the QKV projection's (2 sh). */
    near_rel(activations(m, l, MODEL_TRAIN_LORA, 0, d) - activations(m, l, MODEL_TRAIN_LORA, ATTN, d),
             L * (2 * s * h + 2 * s * f), 1e-12);
    near_rel(activations(m, l, MODEL_TRAIN_LORA, 0, d) - activations(m, l, MODEL_TRAIN_LORA, MLP, d), L * 2 * s * h,
             1e-12);
    /* FP8: full training keeps each quantized input (1 B) and, after
     * attention, the projection's copy beside FlashAttention's output; an
     * adapter keeps its bf16 input instead, and the frozen projection no
     * copy. QLoRA keeps what LoRA keeps. */
    l.fp8_inputs = true;
    near_rel(activations(m, l, MODEL_TRAIN_LORA, 0, d) - activations(m, l, MODEL_TRAIN_FULL, 0, d),
             L * (s * h + s * h + s * f - s * h), 1e-12);
    near_rel(activations(m, l, MODEL_TRAIN_QLORA, 0, d), activations(m, l, MODEL_TRAIN_LORA, 0, d), 1e-12);
    /* LoRA dropout before each adapter (TP 1, bf16): its 1-byte mask on
     * every adapter's input, and on the projection after attention the
     * dropped copy too (2 B), whose input FlashAttention keeps anyway. */
    {
        model_layout x = l;
        double none, with;
        x.fp8_inputs = false;
        none = activations(m, x, MODEL_TRAIN_LORA, 0, d);
        x.lora_dropout = 0.1;
        near_rel(activations(m, x, MODEL_TRAIN_LORA, 0, d) - none, L * (s * h + 3 * s * h + s * h + s * f), 1e-12);
        with = activations(m, x, MODEL_TRAIN_LORA, MODEL_LORA_FC2, d);
        x.lora_dropout = 0.0;
        near_rel(with - activations(m, x, MODEL_TRAIN_LORA, MODEL_LORA_FC2, d), L * s * f, 1e-12); /* fc2's mask */
    }
    /* Under TP the QKV adapter's dropout works on the whole sequence (the
     * gathered layer-norm output Transformer Engine hands the adapter): per
     * GPU a mask of s x h beside its dropped copy of 2 s x h. */
    {
        model_layout x = l;
        double none;
        x.fp8_inputs = false;
        x.tp = 2;
        none = activations(m, x, MODEL_TRAIN_LORA, MODEL_LORA_QKV, d);
        x.lora_dropout = 0.1;
        near_rel(activations(m, x, MODEL_TRAIN_LORA, MODEL_LORA_QKV, d) - none, L * s * h, 1e-12);
    }
    /* Without FlashAttention nothing else keeps the attention output (the
     * unfused backward needs the probabilities and V): a frozen projection
     * without an adapter keeps none of it, one with an adapter its bf16
     * input (2 sh), full training its FP8 copy (1 sh, not 3). */
    l.flash_attention = false;
    near_rel(activations(m, l, MODEL_TRAIN_LORA, MLP | MODEL_LORA_PROJ, d) - activations(m, l, MODEL_TRAIN_LORA, MLP, d),
             L * 2 * s * h, 1e-12);
    l.flash_attention = true;
    {
        double with_fa = activations(m, l, MODEL_TRAIN_FULL, 0, d), no_fa;
        l.flash_attention = false;
        no_fa = activations(m, l, MODEL_TRAIN_FULL, 0, d);
        l.flash_attention = true;
        /* the scores kept (4 a s^2, 32 heads) less FlashAttention's output (2 sh) */
        near_rel(no_fa - with_fa, L * (4.0 * 32 * s * s - 2 * s * h), 1e-12);
    }
    /* TP 8 (with sequence parallelism), bf16: the adapters on the QKV and
     * first FFN layers read the whole sequence, gathered from the shards,
     * so TP does not divide their inputs: 2 x 2sh more per layer than the
     * shards (2sh / 8 each) full training keeps. Adapters on the
     * projection and the second FFN layer only read shards full training
     * keeps too: full training keeps the QKV and FFN inputs more. */
    l.fp8_inputs = false;
    l.tp = 8;
    near_rel(activations(m, l, MODEL_TRAIN_LORA, 0, d) - activations(m, l, MODEL_TRAIN_FULL, 0, d),
             L * 2 * (2 * s * h) * (1.0 - 1.0 / 8), 1e-12);
    near_rel(activations(m, l, MODEL_TRAIN_FULL, 0, d) -
                 activations(m, l, MODEL_TRAIN_LORA, MODEL_LORA_PROJ | MODEL_LORA_FC2, d),
             L * (2 * s * h + 2 * s * h) / 8, 1e-12);
    /* Full recompute keeps each layer's input, whatever is trained, and one
     * layer being recomputed: that layer's difference alone. */
    l.recompute = MODEL_RECOMPUTE_FULL;
    near_rel(activations(m, l, MODEL_TRAIN_LORA, 0, d) - activations(m, l, MODEL_TRAIN_FULL, 0, d),
             2 * (2 * s * h) * (1.0 - 1.0 / 8), 1e-12);
    model_free(m);

    /* A mixture of experts (Mixtral 8x7B: h 4,096, 32 layers, top 2): the
     * frozen router keeps no input; an expert's adapters on fc1 keep its
     * dispatched copy, bf16 as in full training, so with every layer
     * adapted only the router's 2sh goes; with attention's only, also the
     * experts' copies and activation outputs. */
    assert_int_equal(model_load(&m, MODELS "/mixtral-8x7b.cfg", d), SP_OK);
    l = (model_layout){1, 1, 1, 0, 1, 2048, 1, MODEL_RECOMPUTE_NONE, true, MODEL_TRAIN_FULL, 16, 1, 1, 1,
                       MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false};
    near_rel(activations(m, l, MODEL_TRAIN_FULL, 0, d) - activations(m, l, MODEL_TRAIN_LORA, 0, d),
             m->layers * 2 * s * m->hidden, 1e-12);
    near_rel(activations(m, l, MODEL_TRAIN_LORA, 0, d) - activations(m, l, MODEL_TRAIN_LORA, ATTN, d),
             m->layers * m->top_k * (2 * s * m->hidden + 2 * s * m->moe_ffn), 1e-12);
    /* The experts' adapters (up, gate and down of each of the 8) go with
     * their experts: EP 8 divides them, as it divides the experts. */
    {
        const double eh = m->hidden, fe = m->moe_ffn;
        double on_experts = model_lora_layer_expert_params(m, 16, 0);
        model_memory x;
        near_rel(on_experts, 16 * m->experts * ((eh + 2 * fe) + (fe + eh)), 1e-12); /* fused fc1: one adapter */
        assert_true(model_lora_layer_expert_params(m, 16, ATTN) == 0.0);
        near_rel(model_lora_layer_expert_params(m, 16, MODEL_LORA_FC2), 16 * m->experts * (fe + eh), 1e-12);
        /* PEFT's modules apart in every expert: gate and up one adapter each. */
        near_rel(model_lora_layer_expert_params(m, 16, MODEL_LORA_ALL_LINEAR),
                 16 * m->experts * (2 * (eh + fe) + (fe + eh)), 1e-12);
        {
            /* Each expert's adapters keep the dispatched copy they read,
             * 2 B, shared by gate and up; with dropout each its own copy
             * and mask (3 B each), per top_k copy. */
            model_layout x2 = l;
            double shared, apart;
            x2.lora_dropout = 0.1;
            shared = activations(m, l, MODEL_TRAIN_LORA, MODEL_LORA_GATE | MODEL_LORA_UP, d);
            apart = activations(m, x2, MODEL_TRAIN_LORA, MODEL_LORA_GATE | MODEL_LORA_UP, d);
            near_rel(apart - shared, m->layers * m->top_k * (2 * 3.0 - 2.0) * s * eh, 1e-12);
        }
        l.tune = MODEL_TRAIN_LORA;
        l.dp = 8;
        l.ep = 8;
        assert_int_equal(model_memory_per_gpu(&x, m, &l, d), SP_OK);
        near_rel(x.trainable, m->layers * (model_lora_layer_params(m, 16, ATTN) + on_experts / 8), 1e-12);
        /* TP 2 divides the attention's adapters, EP 4 the experts'; ZeRO-1
         * shards the adapters' Adam states over DP 4, an expert's over the
         * DP / EP = 1 rank holding the same experts. */
        l.tp = 2;
        l.dp = 4;
        l.ep = 4;
        l.zero = 1;
        assert_int_equal(model_memory_per_gpu(&x, m, &l, d), SP_OK);
        {
            double dense = m->layers * model_lora_layer_params(m, 16, ATTN) / 2, moe = m->layers * on_experts / 4;
            near_rel(x.trainable, dense + moe, 1e-12);
            near_rel(x.optimizer, 12.0 * (dense / 4 + moe), 1e-12);
            near_rel(x.gradients, 2.0 * (dense + moe), 1e-12);
        }
    }
    model_free(m);
    assert_int_equal(model_load(&m, MODELS "/llama3-8b.cfg", d), SP_OK);
    assert_true(model_lora_layer_expert_params(m, 16, 0) == 0.0); /* dense */
    model_free(m);
}

static void test_model__bad_layouts(void **state)
{
    diag_list *d = *state;
    model *m;
    model_memory mem;
    model_layout l = {3, 1, 1, 0, 1, 2048, 1, MODEL_RECOMPUTE_NONE, true, MODEL_TRAIN_FULL, 0, 1, 1, 1, MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false};

    assert_int_equal(model_load(&m, MODELS "/llama3-8b.cfg", d), SP_OK);
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_EINPUT);
    assert_true(has_message(d, "tensor parallelism 3 does not divide both the 32 heads and the 8 KV heads"));
    l.tp = 16; /* divides the heads, not the 8 KV heads: Megatron-LM splits no head */
    assert_false(model_tp_splits(m, 16));
    assert_true(model_tp_splits(m, 8));
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_EINPUT);
    assert_true(has_message(d, "tensor parallelism 16 does not divide both the 32 heads and the 8 KV heads"));
    l.tp = 1;
    l.pp = 64;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_EINPUT);
    model_free(m);
    assert_int_equal(model_load(&m, FIXTURES "/no-such-model.cfg", d), SP_EINPUT);
}

/* Dropout, at Megatron-LM's default 0.1 on the hidden state and on the
 * attention probabilities: Korthikanti et al.'s own formula, sbh (34 +
 * 5as/h) per layer, where the scores are kept (the 2 sbh of the two hidden
 * masks, the as^2 b of the attention mask); FlashAttention keeps no
 * attention mask, the hidden masks still. Probabilities of 1 or below 0 are
 * errors, both reported at their lines. */
static void test_model__dropout(void **state)
{
    diag_list *d = *state;
    model *m;
    model_memory mem;
    model_layout l = {1, 1, 1, 0, 2, 1024, 1, MODEL_RECOMPUTE_NONE, false, MODEL_TRAIN_FULL, 0, 1, 1, 1, MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false};
    double s = 1024, b = 2, h = 1024, a = 16, L = 24;

    assert_int_equal(model_load(&m, FIXTURES "/gpt-dropout.cfg", d), SP_OK);
    near_rel(m->hidden_dropout, 0.1, 1e-12);
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.activations, L * s * b * h * (34 + 5 * a * s / h), 1e-12);
    l.flash_attention = true;
    l.tp = 2;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.activations, L * 34 * s * b * h / 2, 1e-12);
    model_free(m);
    assert_int_equal(model_load(&m, FIXTURES "/bad-model-keys.cfg", d), SP_EINPUT);
    assert_true(has_message(d, "bad-model-keys.cfg:10: error: model: hidden_dropout is a probability below 1"));
    assert_true(has_message(d, "bad-model-keys.cfg:11: error:"));
    assert_true(has_message(d, "bad-model-keys.cfg:12: error: model: max_position_embeddings goes with"));
    assert_null(m);
    /* Position embeddings: rotary, learned or none, nothing else. */
    assert_int_equal(model_load(&m, FIXTURES "/bad-position.cfg", d), SP_EINPUT);
    assert_true(has_message(d, "bad-position.cfg:9: error: model: position_embedding \"alibi\" is not \"rotary\", "
                               "\"learned\" or \"none\""));
    assert_null(m);
    assert_int_equal(model_load(&m, MODELS "/te-decoder-973m.cfg", d), SP_OK);
    assert_true(m->no_positions && !m->learned_positions);
    near_rel(model_position_params(m), 0.0, 0.0);
    near_rel(4.0 * model_layer_params(m), 973111296.0, 1e-15); /* the source's count */
    model_free(m);
}

/* GPT-2's learned absolute positions: a table of max_position_embeddings x
 * h parameters on the first stage, whole on every TP rank; no sequence
 * longer than the table. The 354M GPT of the DGX Spark sweep counts as its
 * source does (354.6M at 1,024 positions). */
static void test_model__learned_positions(void **state)
{
    diag_list *d = *state;
    model *m;
    model_memory mem, rot;
    model_layout l = {2, 1, 1, 0, 1, 1024, 1, MODEL_RECOMPUTE_NONE, true, MODEL_TRAIN_FULL, 0, 1, 1, 1, MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false};
    double h = 1024, layer = 4 * h * h + 2 * h * 4096 + 2 * h;

    assert_int_equal(model_load(&m, MODELS "/gpt-354m.cfg", d), SP_OK);
    assert_true(m->learned_positions);
    near_rel(model_position_params(m), 1024 * h, 1e-15);
    near_rel(model_params(m), 24 * layer + 50257 * h + 1024 * h + h, 1e-15);
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    m->learned_positions = false;
    m->max_positions = 0;
    assert_int_equal(model_memory_per_gpu(&rot, m, &l, d), SP_OK);
    near_rel(mem.params - rot.params, 1024 * h, 1e-12);
    m->learned_positions = true;
    m->max_positions = 1024;
    l.seq_len = 2048;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_EINPUT);
    assert_true(has_message(d, "sequence 2048 is longer than the model's 1024 learned positions"));
    model_free(m);
    assert_int_equal(model_load(&m, FIXTURES "/bad-positions.cfg", d), SP_EINPUT);
    assert_true(has_message(d, "bad-positions.cfg:9: error: model: position_embedding \"alibi\" is not"));
}

/* The loss at its peak, per logit: 6 B with Megatron-LM's fused
 * cross-entropy, 14 B with PyTorch's F.cross_entropy on fp32 logits; on
 * the last pipeline stage, divided by TP. */
static void test_model__loss(void **state)
{
    diag_list *d = *state;
    model *m;
    model_memory mem;
    model_layout l = {2, 1, 1, 0, 4, 1024, 1, MODEL_RECOMPUTE_NONE, true, MODEL_TRAIN_FULL, 0, 1, 1, 1, MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false};

    assert_int_equal(model_load(&m, MODELS "/gpt-354m.cfg", d), SP_OK);
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.logits, 6.0 * 4 * 1024 * 50257 / 2, 1e-15);
    l.unfused_loss = true;
    assert_int_equal(model_memory_per_gpu(&mem, m, &l, d), SP_OK);
    near_rel(mem.logits, 14.0 * 4 * 1024 * 50257 / 2, 1e-15);
    model_free(m);
}

/* MoE activations scale with the busiest expert-parallel rank's load
 * (model_layout.moe_load): per layer, each of the top_k dispatched copies
 * of the tokens keeps its input (sbh), the up and gate outputs (2 sbf) and
 * the activation output (sbf), f the expert's FFN width, at 2 B each.
 * Mixtral 8x7B, 32 layers, top 2, h 4,096, f 14,336; one micro-batch of
 * 2,048 tokens; load 1.5 adds half of that again. */
static void test_model__moe_load(void **state)
{
    diag_list *d = *state;
    model *m;
    model_memory a, b;
    model_layout l = {1, 1, 1, 0, 1, 2048, 1, MODEL_RECOMPUTE_NONE, true, MODEL_TRAIN_FULL, 0, 1, 1, 1,
                      MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false};
    double s = 2048, h = 4096, f = 14336, expert = 32 * 2 * 2 * (s * h + 2 * s * f + s * f);

    assert_int_equal(model_load(&m, MODELS "/mixtral-8x7b.cfg", d), SP_OK);
    assert_int_equal(model_memory_per_gpu(&a, m, &l, d), SP_OK);
    l.moe_load = 1.0; /* 0 means 1 */
    assert_int_equal(model_memory_per_gpu(&b, m, &l, d), SP_OK);
    near_rel(b.activations, a.activations, 1e-12);
    l.moe_load = 1.5;
    assert_int_equal(model_memory_per_gpu(&b, m, &l, d), SP_OK);
    near_rel(b.activations - a.activations, 0.5 * expert, 1e-9);
    near_rel(b.total - a.total, 0.5 * expert, 1e-9);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_model__llama3_parameters, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_model__head_dim, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_model__framework, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_model__sixteen_bytes_and_zero, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_model__activations, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_model__fine_tuning, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_model__lora_targets, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_model__fp8_weights, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_model__bad_layouts, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_model__dropout, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_model__learned_positions, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_model__loss, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_model__moe_load, diag_setup, diag_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_train.c - the training-step generator: compute times, the layout of
 * ranks and groups, the pipeline schedules, folding, and bad layouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll/coll.h"
#include "train/train.h"
#include "unit_helpers.h"

#define MODELS FIXTURES "/../../../workloads/models"

typedef struct fixture {
    diag_list *d;
    plat *p;
    model *m8, *m405;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL || diag_new(&f->d, 0) < 0 || plat_load(&f->p, PLATFORMS "/dgx-h100.cfg", f->d) < 0 ||
        plat_set_nodes(f->p, 1, f->d) < 0 || model_load(&f->m8, MODELS "/llama3-8b.cfg", f->d) < 0 ||
        model_load(&f->m405, MODELS "/llama3-405b.cfg", f->d) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    model_free(f->m8);
    model_free(f->m405);
    plat_free(f->p);
    diag_free(f->d);
    free(f);
    return 0;
}

static void near_rel(double got, double want, double rel)
{
    if (fabs(got - want) > rel * fabs(want))
        fail_msg("got %.9g, want %.9g (+-%g relative)", got, want, rel);
}

/* Tiles of 128 x 128 over the SMs' waves, as train_gemm_time counts them. */
static double wave_of(const plat_gpu *g, double m, double n)
{
    double tiles = ceil(m / 128.0) * ceil(n / 128.0);
    return tiles / (ceil(tiles / g->sm_count) * g->sm_count);
}

static train_config config(int tp, int pp, int dp, int mbs, int seq, int micro)
{
    train_config c = {{tp, pp, dp, 0, mbs, seq, micro, MODEL_RECOMPUTE_NONE, true, MODEL_TRAIN_FULL, 16, 1, 1, 1, MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false},
                      PLAT_BF16, false, false, 0.0, false, 0.0, false, false, TRAIN_CP_ALL_GATHER};
    return c;
}

/* A GEMM whose 128 x 128 tiles fill the H100's 132 SMs exactly runs at the
 * efficiency of the table; one tile more needs a second wave; a GEMM of one
 * row is bound by its operands' bytes. */
static void test_train__gemm_roofline_and_waves(void **state)
{
    fixture *f = *state;
    plat_gpu flat = f->p->types[0].gpu;
    const plat_gpu *g = &flat;
    double m = 128.0 * 12, n = 128.0 * 11, k = 65536.0, full, more, row; /* 132 tiles */

    flat.ngemm_shapes = 0; /* the single efficiencies, without the catalogue's measured shapes */
    flat.nattn_shapes = 0;

    full = train_gemm_time(g, PLAT_BF16, m, n, k);
    near_rel(full, 2.0 * m * n * k / (g->peak_flops[PLAT_BF16] * g->eff_gemm), 1e-12);
    more = train_gemm_time(g, PLAT_BF16, m + 128.0, n, k);
    near_rel(more, 2.0 * full, 1e-12); /* 143 tiles, 13/12 of the work: two waves of 132 */
    row = train_gemm_time(g, PLAT_BF16, 1.0, 8192.0, 8192.0);
    near_rel(row, (8192.0 + 8192.0 * 8192.0 + 8192.0) * 2.0 / (g->mem_bw_Bps * g->eff_memory), 1e-12);
    /* FP8: a compute-bound GEMM at peak(fp8) x the FP8 efficiency (its
     * operands' quantization is priced per linear layer, test_train__fp8_casts). */
    near_rel(train_gemm_time(g, PLAT_FP8, m, n, k),
             2.0 * m * n * k / (g->peak_flops[PLAT_FP8] * g->eff_gemm_fp8), 1e-12);
    assert_true(g->eff_gemm_fp8 < g->eff_gemm); /* H100: measured separately, lower */
    near_rel(train_attention_time(g, 1e15, 0.0, &(train_attn_kernel){8192, 8192, 16, 128, true}, false),
             1e15 / (g->peak_flops[PLAT_BF16] * g->eff_attention), 1e-12);
}

/* Llama 3 405B: 126 layers over 16 stages leaves the first and last with
 * one layer fewer, as Meta trained it. */
/* Measured GEMMs (efficiency.gemm_shapes): the nearest of the same
 * precision in log(m, n, k) sets the efficiency, its own wave quantization
 * divided out; precisions without measurements keep gemm / gemm_fp8. */
static void test_train__gemm_shapes(void **state)
{
    fixture *f = *state;
    plat_gpu g = plat_type_of_rank(f->p, 0)->gpu; /* H100: 132 SMs */
    plat_gemm_shape shapes[] = {
        {PLAT_BF16, 4096, 4096, 4096, 0.79},
        {PLAT_BF16, 256, 256, 256, 0.01},
        {PLAT_FP8, 8192, 8192, 4096, 0.646},
    };
    double wave4096 = 1024.0 / 1056.0; /* 32 x 32 tiles in 8 waves of 132 */
    double wave256 = 4.0 / 132.0;      /* 4 tiles, one partial wave */
    double peak = g.peak_flops[PLAT_BF16];

    g.gemm_shapes = shapes;
    g.ngemm_shapes = 3;
    near_rel(train_gemm_efficiency(&g, PLAT_BF16, 8192, 8192, 8192), 0.79 / wave4096, 1e-12);
    near_rel(train_gemm_efficiency(&g, PLAT_BF16, 300, 300, 300), 0.01 / wave256, 1e-12);
    near_rel(train_gemm_efficiency(&g, PLAT_FP16, 4096, 4096, 4096), g.eff_gemm, 1e-12);
    near_rel(train_gemm_efficiency(&g, PLAT_FP4, 8192, 8192, 4096), g.eff_gemm_fp8, 1e-12);
    near_rel(train_gemm_efficiency(&g, PLAT_FP8, 16384, 8192, 4096), 0.646 / wave_of(&g, 8192, 8192), 1e-12);
    /* At the measured shape the time gives back the measured throughput. */
    near_rel(2.0 * 4096.0 * 4096.0 * 4096.0 / train_gemm_time(&g, PLAT_BF16, 4096, 4096, 4096), 0.79 * peak, 1e-9);
    /* At most 1: a measurement above the wave-limited rate is capped. */
    shapes[1].eff = 0.5;
    near_rel(train_gemm_efficiency(&g, PLAT_BF16, 256, 256, 256), 1.0, 1e-12);
}

/* Measured attention (efficiency.attention_shapes): the nearest of the
 * same mask in log(seq, heads, head_dim), and log(kv_seq) without the mask,
 * sets the forward and the backward efficiency; without a table,
 * efficiency.attention serves both. */
static void test_train__attention_shapes(void **state)
{
    fixture *f = *state;
    plat_gpu g = plat_type_of_rank(f->p, 0)->gpu;
    plat_attn_shape shapes[] = {
        {4096, 4096, 32, 128, true, 0.50, 0.38},
        {16384, 16384, 16, 128, true, 0.58, 0.53},
        {4096, 2048, 32, 128, false, 0.61, 0.45},
        {2048, 4096, 32, 128, false, 0.63, 0.44},
    };
    const train_attn_kernel causal2k = {2048, 2048, 32, 128, true}, causal32k = {32768, 32768, 8, 128, true};
    const train_attn_kernel causal16k = {16384, 16384, 16, 128, true};
    double peak = g.peak_flops[PLAT_BF16];

    g.attn_shapes = shapes;
    g.nattn_shapes = 4;
    near_rel(train_attention_efficiency(&g, &causal2k, false), 0.50, 1e-12);
    near_rel(train_attention_efficiency(&g, &causal2k, true), 0.38, 1e-12);
    near_rel(train_attention_efficiency(&g, &causal32k, true), 0.53, 1e-12);
    /* Without the mask: only the blocks, by their keys too (2048 queries
     * over 4096 keys is the second block, though the first has as many
     * queries as a causal entry). */
    near_rel(train_attention_efficiency(&g, &(train_attn_kernel){2048, 4096, 32, 128, false}, false), 0.63, 1e-12);
    near_rel(train_attention_efficiency(&g, &(train_attn_kernel){8192, 4096, 32, 128, false}, true), 0.45, 1e-12);
    near_rel(train_attention_efficiency(&g, &(train_attn_kernel){4096, 8192, 32, 128, false}, false), 0.63, 1e-12);
    assert_true(train_attention_blocks_measured(&g));
    /* compute-bound: FLOPs over peak x the backward efficiency */
    near_rel(train_attention_time(&g, 1e15, 0.0, &causal16k, true), 1e15 / (peak * 0.53), 1e-12);
    /* memory-bound: the bytes */
    near_rel(train_attention_time(&g, 1.0, 1e9, &causal16k, false), 1e9 / (g.mem_bw_Bps * g.eff_memory), 1e-12);
    g.nattn_shapes = 2; /* causal entries only: a block takes efficiency.attention */
    assert_false(train_attention_blocks_measured(&g));
    near_rel(train_attention_efficiency(&g, &(train_attn_kernel){4096, 2048, 32, 128, false}, false),
             g.eff_attention, 1e-12);
    g.nattn_shapes = 0;
    near_rel(train_attention_efficiency(&g, &causal2k, true), g.eff_attention, 1e-12);
}

/* Context parallelism's attention as Transformer Engine's load-balanced ring
 * runs it (cp_comm p2p), where the GPU's table measures blocks without the
 * mask: a rank's 2c = S / CP queries causal over its own keys, then CP - 1
 * steps, each at the slower of its two kinds (2c x c, c x 2c: ranks of both
 * kinds wait for each other), each block at its own efficiency with its own
 * merges' and copies' memory traffic; the FLOPs add up to the whole
 * sequence's causal share 1/CP. Without blocks in the table, or with the
 * all-gather method, that share at the whole sequence's efficiency. A ring
 * needs CP > 1 and fused attention. Llama 3 8B (32 heads, 8 key/value heads,
 * head dimension 128), 8,192 tokens, TP 1. */
static void test_train__ring_attention(void **state)
{
    fixture *f = *state;
    plat_gpu *g = &f->p->types[0].gpu, saved = *g;
    plat_attn_shape shapes[] = {
        {4096, 4096, 32, 128, true, 0.40, 0.30},
        {4096, 2048, 32, 128, false, 0.60, 0.45},
        {2048, 4096, 32, 128, false, 0.62, 0.44},
    };
    double peak = g->peak_flops[PLAT_BF16], S = 8192.0, d = 128.0, h = 32.0, qd = 4096.0, kvd = 1024.0;
    double bw = g->mem_bw_Bps * g->eff_memory;
    train_gemm l[TRAIN_MAX_GEMMS];
    train_layer_time t;

    g->attn_shapes = shapes;
    g->nattn_shapes = 3;
    for (int cp = 2; cp <= 4; cp *= 2) {
        train_config c = config(1, 1, 8 / cp, 1, (int)S, 4);
        double ch = S / (2.0 * cp), out = 2.0 * 2.0 * ch * qd, kv = 2.0 * 2.0 * 2.0 * ch * kvd;
        double f_first = 4.0 * 2.0 * ch * 2.0 * ch * d * h * 0.5, f_block = 4.0 * 2.0 * ch * ch * d * h;
        double fwd, bwd;

        /* The steps' FLOPs: the causal share of the whole sequence. */
        near_rel(f_first + (cp - 1) * f_block, 4.0 * S * S * d * h * 0.5 / cp, 1e-12);
        /* Each later step at the slower kind, kernel and memory-bound work
         * together: 2c x c merges all queries and copies half the keys and
         * values forward, copies them again backward; c x 2c merges half the
         * queries and copies them forward, copies them, the output and its
         * gradient backward. */
        fwd = f_first / (peak * 0.40) + (out + 3.0 * out) / bw +
              (cp - 1) * fmax(f_block / (peak * 0.60) + (3.0 * out + kv) / bw, f_block / (peak * 0.62) + 2.5 * out / bw);
        bwd = 2.5 * f_first / (peak * 0.30) +
              (cp - 1) * fmax(2.5 * f_block / (peak * 0.45) + kv / bw, 2.5 * f_block / (peak * 0.44) + 3.0 * out / bw);
        c.l.cp = cp;
        c.cp_comm = TRAIN_CP_P2P;
        assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_OK);
        train_gemms(f->m8, f->p, &c, l, &t);
        near_rel(t.attention_fwd_s, fwd, 1e-9);
        near_rel(t.attention_bwd_s, bwd, 1e-9);
        /* The blocks gone from the table, or the all-gather method: the
         * share at the whole sequence's efficiency (the nearest causal
         * entry's). */
        for (int way = 0; way < 2; way++) {
            g->nattn_shapes = way == 0 ? 1 : 3;
            c.cp_comm = way == 0 ? TRAIN_CP_P2P : TRAIN_CP_ALL_GATHER;
            train_gemms(f->m8, f->p, &c, l, &t);
            near_rel(t.attention_fwd_s, 4.0 * S * S * d * h * 0.5 / cp / (peak * 0.40), 1e-9);
            near_rel(t.attention_bwd_s, 2.5 * 4.0 * S * S * d * h * 0.5 / cp / (peak * 0.30), 1e-9);
        }
    }
    *g = saved;
    {
        train_config c = config(1, 1, 8, 1, (int)S, 4);
        c.cp_comm = TRAIN_CP_P2P;
        assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT); /* CP 1 */
        c.l.cp = 2;
        c.l.dp = 4;
        c.l.flash_attention = false;
        assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT); /* unfused attention */
        c.l.flash_attention = true;
        assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_OK);
        c.l.seq_len = 8190; /* a multiple of CP, not of the 2 x CP chunks */
        assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
        /* Megatron-LM cuts the sequence in 2 x CP chunks whatever the method. */
        c.cp_comm = TRAIN_CP_ALL_GATHER;
        {
            diag_list *dq = NULL;
            assert_int_equal(diag_new(&dq, 0), SP_OK);
            assert_int_equal(train_check(f->m8, f->p, &c, dq), SP_EINPUT);
            assert_true(has_message(dq, "context parallelism cuts each sequence into 2 x CP = 4 chunks"));
            diag_free(dq);
        }
        c.l.seq_len = 8188;
        assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_OK);
    }
}

/* The GEMMs train_gemms lists are the ones the generator prices: each at
 * train_gemm_time, the dense layer's three passes moving 6 x its matrices'
 * parameters x tokens in FLOPs; under FP8 the head stays bf16 and a
 * weight's cast is shared over the micro-batches; LoRA keeps the base's
 * input gradients and runs its adapters once forward and twice backward;
 * an MoE layer lists its experts, count the local ones, and no dense FFN. */
static void test_train__gemm_list(void **state)
{
    fixture *f = *state;
    const plat_gpu *g = &plat_type_of_rank(f->p, 0)->gpu;
    train_config c = config(2, 1, 4, 2, 4096, 1);
    train_gemm l[TRAIN_MAX_GEMMS];
    const model *m = f->m8;
    double tok = 2.0 * 4096, flops = 0.0, head = 0.0, fwd = 0.0, bwd = 0.0;
    double matrices = m->hidden * (model_q_dim(m) + 2.0 * model_kv_dim(m)) + model_q_dim(m) * m->hidden +
                      3.0 * m->hidden * m->ffn; /* q, k, v, o; gate, up, down */
    size_t n;
    model *q = NULL;

    assert_int_equal(train_check(m, f->p, &c, f->d), SP_OK);
    n = train_gemms(m, f->p, &c, l, NULL);
    assert_int_equal(n, 15); /* 4 matrices and the head, 3 passes each */
    for (size_t i = 0; i < n; i++) {
        double x = 2.0 * l[i].m * l[i].n * l[i].k * l[i].count;
        near_rel(l[i].seconds, train_gemm_time(g, PLAT_BF16, l[i].m, l[i].n, l[i].k), 1e-12);
        near_rel(l[i].eff, train_gemm_efficiency(g, PLAT_BF16, l[i].m, l[i].n, l[i].k), 1e-12);
        *(strcmp(l[i].name, "head") == 0 ? &head : &flops) += x;
    }
    assert_string_equal(l[0].name, "attn.qkv");
    assert_string_equal(l[0].pass, "fwd");
    near_rel(flops, 6.0 * tok * matrices / 2.0 /* TP 2 */, 1e-12);
    near_rel(head, 6.0 * tok * m->vocab * m->hidden / 2.0, 1e-12);

    /* FP8 runs the layers' GEMMs in fp8 and the output head in bf16. */
    c.prec = PLAT_FP8;
    c.l.microbatches = 4;
    n = train_gemms(m, f->p, &c, l, NULL);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(l[i].prec, strcmp(l[i].name, "head") == 0 ? PLAT_BF16 : PLAT_FP8);
        near_rel(l[i].seconds, train_gemm_time(g, l[i].prec, l[i].m, l[i].n, l[i].k), 1e-12);
    }
    c.prec = PLAT_BF16;
    c.l.microbatches = 1;

    c.l.tune = MODEL_TRAIN_LORA;
    n = train_gemms(m, f->p, &c, l, NULL);
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(l[i].pass, "wgrad");
        if (strncmp(l[i].name, "lora.", 5) == 0)
            *(strcmp(l[i].pass, "bwd") == 0 ? &bwd : &fwd) += l[i].count * 2.0 * l[i].m * l[i].n * l[i].k;
    }
    assert_true(fwd > 0.0);
    near_rel(bwd, 2.0 * fwd, 1e-12);

    assert_int_equal(model_load(&q, MODELS "/qwen3-30b-a3b.cfg", f->d), SP_OK);
    c = config(1, 1, 8, 1, 4096, 1);
    c.l.ep = 8;
    assert_int_equal(train_check(q, f->p, &c, f->d), SP_OK);
    n = train_gemms(q, f->p, &c, l, NULL);
    for (size_t i = 0; i < n; i++) {
        assert_int_not_equal(strncmp(l[i].name, "mlp.", 4), 0);
        if (strncmp(l[i].name, "moe.up", 6) == 0)
            near_rel(l[i].count, q->experts / 8.0, 1e-12);
    }
    assert_int_equal(n, 6 + 3 + 2 + 6); /* attention, head, router, experts */
    model_free(q);
}

static void test_train__stage_layers(void **state)
{
    fixture *f = *state;
    int total = 0;

    assert_int_equal(model_vstage_layers(f->m405, 16, 1, 0), 7);
    assert_int_equal(model_vstage_layers(f->m405, 16, 1, 15), 7);
    for (int s = 1; s < 15; s++)
        assert_int_equal(model_vstage_layers(f->m405, 16, 1, s), 8);
    for (int s = 0; s < 32; s++)
        total += model_vstage_layers(f->m405, 16, 2, s);
    assert_int_equal(total, 126);
    assert_int_equal(model_vstage_first(f->m405, 16, 1, 2), 15);
    assert_int_equal(model_vstage_layers(f->m8, 4, 1, 1), 8);
}

static void test_train__model_flops(void **state)
{
    fixture *f = *state;
    double n = model_params(f->m8) - 128256.0 * 4096.0;
    train_config c = config(1, 1, 8, 2, 4096, 4);

    near_rel(train_model_flops_per_token(f->m8, 8192, MODEL_TRAIN_FULL, false), 6.0 * n + 12.0 * 32 * 4096.0 * 8192.0, 1e-12);
    near_rel(train_model_flops_per_token(f->m8, 8192, MODEL_TRAIN_FULL, true), 6.0 * n + 6.0 * 32 * 4096.0 * 8192.0, 1e-12);
    near_rel(train_model_flops_per_token(f->m8, 8192, MODEL_TRAIN_LORA, false), 4.0 * n + 12.0 * 32 * 4096.0 * 8192.0, 1e-12);
    near_rel(train_tokens_per_step(&c), 2.0 * 4096 * 4 * 8, 1e-12);
    {
        /* Attention counts the query width, heads x head_dim: 4,096 for
         * Qwen3 30B-A3B, twice its 2,048-wide model. */
        model *q;
        assert_int_equal(model_load(&q, MODELS "/qwen3-30b-a3b.cfg", f->d), SP_OK);
        n = model_active_params(q) - 151936.0 * 2048.0;
        near_rel(train_model_flops_per_token(q, 4096, MODEL_TRAIN_FULL, false), 6.0 * n + 12.0 * 48 * 4096.0 * 4096.0,
                 1e-12);
        model_free(q);
    }
}

/* Names of a rank's compute operations, in order, joined. */
static int count_named(const wl *w, int r, const char *needle)
{
    int n = 0;
    for (size_t i = 0; i < w->ranks[r].nops; i++)
        n += strstr(w->ranks[r].ops[i].name, needle) != NULL;
    return n;
}

/* TP 2 x PP 2 x DP 2 on 8 H100s: Megatron's rank order, groups, a checked
 * graph, the collectives each layer issues, and 1F1B's warm-up. */
static void test_train__layout_and_graph(void **state)
{
    fixture *f = *state;
    train_config c = config(2, 2, 2, 1, 2048, 4);
    wl *w;
    int fwd_before_bwd = 0;

    c.l.zero = 1;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(wl_check(w, f->p->nranks, f->d), SP_OK);
    assert_int_equal(w->nranks, 8);
    /* Rank = t + tp * (d + dp * s): rank 5 is t 1, d 0, s 1; its TP group {4, 5},
     * its DP group {5, 7}. */
    for (size_t g = 0; g < w->ngroups; g++) {
        if (strcmp(w->groups[g].name, "tp4") == 0) {
            assert_int_equal(w->groups[g].n, 2);
            assert_int_equal(w->groups[g].ranks[1], 5);
        }
        if (strcmp(w->groups[g].name, "dp5") == 0) {
            assert_int_equal(w->groups[g].ranks[0], 5);
            assert_int_equal(w->groups[g].ranks[1], 7);
        }
    }
    /* 16 layers per stage, 4 micro-batches: per layer and micro-batch two
     * all-gathers and two reduce-scatters forward; backward per block the
     * output gradient gathered, the input gathered again for the weight
     * gradient, the input gradient reduce-scattered. Backward, the
     * attention block's compute is three operations: the projection's
     * GEMMs with the rest, QKV's input gradient, its weight gradient. */
    assert_int_equal(count_named(w, 0, "tp all_gather"), 16 * 4 * 6);
    assert_int_equal(count_named(w, 0, "tp all_gather input"), 16 * 4 * 2);
    assert_int_equal(count_named(w, 0, "tp reduce_scatter"), 16 * 4 * 4);
    assert_int_equal(count_named(w, 0, "attn fwd"), 16 * 4);
    assert_int_equal(count_named(w, 0, "attn bwd"), 16 * 4 * 3);
    /* Gradients reduce-scattered once per layer (ZeRO-1), parameters gathered once. */
    assert_int_equal(count_named(w, 0, "dp grad reduce_scatter"), 16);
    assert_int_equal(count_named(w, 0, "dp param all_gather"), 1);
    /* Pipeline: stage 0 sends activations and receives gradients 4 times;
     * it runs pp - 1 = 1 warm-up forward before its first backward. */
    assert_int_equal(count_named(w, 0, "pp send activations"), 4);
    assert_int_equal(count_named(w, 0, "pp recv gradients"), 4);
    assert_int_equal(count_named(w, 4, "pp recv activations"), 4); /* rank 4: stage 1 */
    for (size_t i = 0; i < w->ranks[0].nops; i++) {
        const char *name = w->ranks[0].ops[i].name;
        if (strstr(name, "bwd") != NULL)
            break;
        fwd_before_bwd += strcmp(name, "L0 attn fwd") == 0;
    }
    assert_int_equal(fwd_before_bwd, 2); /* micro-batches 0 and 1 */
    wl_free(w);
}

/* Interleaved 1F1B, PP 2 x 2 chunks, 4 micro-batches: stage 0 warms up with
 * (pp - 1) * 2 + (vpp - 1) * pp = 4 forwards, chunk 0 twice then chunk 1
 * twice (Megatron-LM's order), then forward k + 4 and backward k in turn, the
 * backward pass taking the chunks in reverse. */
static void test_train__interleaved_order(void **state)
{
    fixture *f = *state;
    train_config c = config(1, 2, 4, 1, 1024, 4);
    char order[64] = "";
    size_t len = 0;
    wl *w;

    c.l.vpp = 2;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(wl_check(w, f->p->nranks, f->d), SP_OK);
    /* Chunk 0 of stage 0 is layers 0-7, chunk 1 layers 16-23. */
    for (size_t i = 0; i < w->ranks[0].nops && len < 12; i++) {
        const char *name = w->ranks[0].ops[i].name;
        if (strcmp(name, "L0 attn fwd") == 0)
            order[len++] = 'a';
        else if (strcmp(name, "L16 attn fwd") == 0)
            order[len++] = 'b';
        else if (strcmp(name, "L16 attn bwd") == 0)
            order[len++] = 'B';
        else if (strcmp(name, "L0 attn bwd") == 0)
            order[len++] = 'A';
    }
    order[len] = '\0';
    assert_string_equal(order, "aabbaBaBbAbA");
    wl_free(w);
}

static const wl_op *find_op(const wl *w, int r, const char *name)
{
    for (size_t i = 0; i < w->ranks[r].nops; i++)
        if (strcmp(w->ranks[r].ops[i].name, name) == 0)
            return &w->ranks[r].ops[i];
    return NULL;
}

/* Rank 0's operation named `name`, which must exist. */
static const wl_op *must_find(const wl *w, const char *name)
{
    const wl_op *op = find_op(w, 0, name);
    if (op == NULL)
        fail_msg("rank 0 has no operation named \"%s\"", name);
    return op;
}

/* Whether rank 0's operation `op` waits for the one named `name`. */
static bool waits_for(const wl *w, const wl_op *op, const char *name)
{
    for (uint32_t i = 0; i < op->ndeps; i++)
        if (strcmp(w->ranks[0].ops[op->deps[i]].name, name) == 0)
            return true;
    return false;
}

/* Llama 3's split: with PP x VPP = layers + 2, the first virtual stage holds
 * the embedding alone and the last the output layer alone, each with a
 * gradient bucket of its own; a layer's bucket is then the layer's only.
 * 32 layers on PP 2 x 17: stage 0 runs virtual stages 0, 2, ..., 32
 * (the embedding, layers 1, 3, ..., 31), stage 1 the others (layers 0, 2,
 * ..., 30 and the output layer). */
static void test_train__embedding_alone(void **state)
{
    fixture *f = *state;
    train_config c = config(1, 2, 4, 1, 1024, 2);
    int s0 = -1, s1 = -1, total = 0;
    const wl_op *emb, *out, *l0, *l1, *l31;
    wl *w;

    for (int k = 0; k < 34; k++) {
        int n = model_vstage_layers(f->m8, 2, 17, k);
        assert_int_equal(n, k == 0 || k == 33 ? 0 : 1);
        total += n;
    }
    assert_int_equal(total, 32);
    assert_int_equal(model_vstage_first(f->m8, 2, 17, 1), 0);

    c.l.vpp = 17;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(wl_check(w, f->p->nranks, f->d), SP_OK);
    for (int r = 0; r < f->p->nranks; r++) {
        if (s0 < 0 && find_op(w, r, "embedding fwd") != NULL)
            s0 = r;
        if (s1 < 0 && find_op(w, r, "output+loss fwd") != NULL)
            s1 = r;
    }
    assert_true(s0 >= 0 && s1 >= 0 && s0 != s1);
    assert_non_null(find_op(w, s0, "embedding bwd"));
    assert_null(find_op(w, s1, "embedding bwd")); /* layer 0 is on stage 1, the embedding is not */
    emb = find_op(w, s0, "embedding dp grad all_reduce");
    out = find_op(w, s1, "output dp grad all_reduce");
    l0 = find_op(w, s1, "L0 dp grad all_reduce");
    l1 = find_op(w, s0, "L1 dp grad all_reduce");
    l31 = find_op(w, s0, "L31 dp grad all_reduce");
    assert_true(emb != NULL && out != NULL && l0 != NULL && l1 != NULL && l31 != NULL);
    assert_true(find_op(w, s1, "L1 dp grad all_reduce") == NULL);
    /* bf16 gradients: the embedding's V x h parameters, each layer alike. */
    assert_int_equal(emb->bytes, (uint64_t)(2.0 * 128256.0 * 4096.0));
    assert_int_equal(out->bytes, emb->bytes);
    assert_int_equal(l0->bytes, l1->bytes);
    assert_int_equal(l31->bytes, l1->bytes);
    wl_free(w);

    /* Without pipeline stages, layer 0's bucket carries the embedding and
     * the last layer's the output layer, which a tied model does not have. */
    {
        model tied = *f->m8;
        train_config one = config(1, 1, 8, 1, 1024, 1);
        const wl_op *first, *mid, *last;
        tied.tied_embeddings = true;
        assert_int_equal(train_build(&w, &tied, f->p, &one, f->d), SP_OK);
        first = find_op(w, 0, "L0 dp grad all_reduce");
        mid = find_op(w, 0, "L5 dp grad all_reduce");
        last = find_op(w, 0, "L31 dp grad all_reduce");
        assert_true(first != NULL && mid != NULL && last != NULL);
        assert_int_equal(first->bytes - mid->bytes, (uint64_t)(2.0 * 128256.0 * 4096.0));
        assert_int_equal(last->bytes, mid->bytes);
        wl_free(w);
    }

    c.l.vpp = 18; /* 36 virtual stages for 32 layers and the two ends: too many */
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_EINPUT);
    assert_null(w);
    {
        model_memory mem;
        c.l.vpp = 17;
        assert_int_equal(model_memory_per_gpu(&mem, f->m8, &c.l, f->d), SP_OK);
        c.l.vpp = 18;
        assert_int_equal(model_memory_per_gpu(&mem, f->m8, &c.l, f->d), SP_EINPUT);
    }
}

/* Activations in flight under the interleaved schedule are counted chunk by
 * chunk. 32 layers on PP 2 x 3 chunks split 5, 6, 6, 5, 5, 5; stage 0 (virtual
 * stages 0, 2, 4: 5, 6, 5 layers) warms up with (2 - 1) x 2 + 2 x 2 = 6
 * virtual micro-batches and keeps one more: chunks 0, 0, 1, 1, 2, 2, 0, so
 * 5 + 5 + 6 + 6 + 5 + 5 + 5 = 37 layers' activations, against 16 layers x 2
 * micro-batches with plain 1F1B. */
static void test_train__interleaved_memory(void **state)
{
    fixture *f = *state;
    train_config c = config(1, 2, 4, 1, 4096, 4);
    model_memory plain, inter;

    assert_int_equal(model_vstage_layers(f->m8, 2, 3, 1), 6);
    assert_int_equal(model_vstage_layers(f->m8, 2, 3, 3), 5);
    assert_int_equal(model_memory_per_gpu(&plain, f->m8, &c.l, f->d), SP_OK);
    c.l.vpp = 3;
    assert_int_equal(model_memory_per_gpu(&inter, f->m8, &c.l, f->d), SP_OK);
    near_rel(inter.activations / plain.activations, 37.0 / 32.0, 1e-12);
}

/* Folding: only the first data-parallel replica has operations; its DP
 * groups keep every member and are marked folded. */
static void test_train__fold(void **state)
{
    fixture *f = *state;
    train_config c = config(2, 1, 4, 1, 1024, 2);
    wl *w;

    c.fold = true;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(wl_check(w, f->p->nranks, f->d), SP_OK);
    assert_true(w->ranks[0].nops > 0 && w->ranks[1].nops > 0);
    for (int r = 2; r < 8; r++)
        assert_int_equal(w->ranks[r].nops, 0);
    for (size_t g = 0; g < w->ngroups; g++)
        if (strncmp(w->groups[g].name, "dp", 2) == 0) {
            assert_true(w->groups[g].folded);
            assert_int_equal(w->groups[g].n, 4);
        }
    wl_free(w);
}

/* Recompute: full recomputation replays each layer's forward (and its
 * tensor-parallel collectives) before the backward pass. LoRA skips the
 * base weights' gradients: a shorter backward. */
static double sum_named(const wl *w, int r, const char *needle)
{
    double t = 0.0;
    for (size_t i = 0; i < w->ranks[r].nops; i++)
        if (strstr(w->ranks[r].ops[i].name, needle) != NULL)
            t += w->ranks[r].ops[i].duration_s;
    return t;
}

/* Recompute: full recomputation replays each layer's forward (and its
 * tensor-parallel collectives) before the backward pass. LoRA: the backward
 * pass skips the base weights' gradient GEMMs and runs the adapters' twice
 * (their forward cost, seen in the forward pass, twice over). */
static void test_train__recompute_and_lora(void **state)
{
    fixture *f = *state;
    const plat_gpu *g = &f->p->types[0].gpu;
    train_config c = config(2, 1, 4, 1, 2048, 1);
    wl *w;
    double full_fwd, full_bwd, lora_fwd, lora_bwd, tok = 2048.0, wgrad;

    c.l.recompute = MODEL_RECOMPUTE_FULL;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "attn recompute"), 32);
    /* forward and recompute 2 each, backward 4; the output layer's one */
    assert_int_equal(count_named(w, 0, "tp all_gather"), 32 * 8 + 1);
    full_fwd = sum_named(w, 0, "mlp fwd");
    full_bwd = sum_named(w, 0, "mlp bwd");
    wl_free(w);
    c.l.recompute = MODEL_RECOMPUTE_NONE;
    c.l.tune = MODEL_TRAIN_LORA;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "recompute"), 0);
    lora_fwd = sum_named(w, 0, "mlp fwd");
    lora_bwd = sum_named(w, 0, "mlp bwd");
    wl_free(w);
    /* FFN weight gradients, gated: up and gate as one GEMM of n = 2f / tp, then down. */
    wgrad = 32 * (train_gemm_time(g, PLAT_BF16, 4096.0, 2 * 14336.0 / 2, tok) +
                  train_gemm_time(g, PLAT_BF16, 14336.0 / 2, 4096.0, tok));
    near_rel(full_bwd - lora_bwd, wgrad - 2.0 * (lora_fwd - full_fwd), 1e-9);
}

/* Hidden dropout after attention and after the FFN: each reads its input
 * and writes its output and 1-byte mask forward, reads the gradient and the
 * mask and writes the gradient backward, 5 B per element each way on the
 * sequence-parallel shard; nothing else changes. */
static void test_train__dropout(void **state)
{
    fixture *f = *state;
    const plat_gpu *g = &f->p->types[0].gpu;
    train_config c = config(2, 1, 4, 1, 2048, 1);
    const char *const ops[] = {"attn fwd", "attn bwd", "mlp fwd", "mlp bwd"};
    double before[4], site = train_memory_time(g, 2048.0 / 2 * 5.0 * 4096.0);
    wl *w;

    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    for (int i = 0; i < 4; i++)
        before[i] = sum_named(w, 0, ops[i]);
    wl_free(w);
    f->m8->hidden_dropout = 0.1;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    f->m8->hidden_dropout = 0.0;
    for (int i = 0; i < 4; i++)
        near_rel(sum_named(w, 0, ops[i]) - before[i], 32 * site, 1e-9);
    wl_free(w);
}

/* Per layer and micro-batch: the time of a block's operations ("attn" or
 * "mlp", "fwd" or "bwd") less its GEMMs', at precision pr. */
static double beside_gemms(fixture *f, train_config c, plat_prec pr, const char *block, bool bwd)
{
    train_gemm l[TRAIN_MAX_GEMMS];
    char op[16];
    double gemms = 0.0, ops;
    size_t n;
    wl *w;

    c.prec = pr;
    n = train_gemms(f->m8, f->p, &c, l, NULL);
    for (size_t i = 0; i < n; i++)
        if (strncmp(l[i].name, block, strlen(block)) == 0 && (strcmp(l[i].pass, "fwd") != 0) == bwd)
            gemms += l[i].count * l[i].seconds;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    snprintf(op, sizeof(op), "%s %s", block, bwd ? "bwd" : "fwd");
    ops = sum_named(w, 0, op) / 32 / c.l.microbatches;
    wl_free(w);
    return ops - gemms;
}

/* FP8 quantization, as Transformer Engine does it: per linear layer and
 * micro-batch the input (read 2 B, write the row-wise and column-wise 1-byte
 * copies: 4 B per element) unless the norm before it writes them (QKV, FFN
 * up: nothing), the output gradient once for both backward GEMMs (4 B),
 * and the weight with its transpose once per step (4 B over the step's
 * micro-batches). */
static void test_train__fp8_casts(void **state)
{
    fixture *f = *state;
    const plat_gpu *g = &f->p->types[0].gpu;
    train_config c = config(2, 1, 4, 1, 2048, 4);
    double tok = 2048.0, h = 4096.0, q = 4096.0, kv = 1024.0, ff = 14336.0, tp = 2.0, mb = 4.0;
    /* Attention: the projection's input (q / tp) quantized apart, the QKV
     * input by the norm; output gradients of (q + 2 kv) / tp and h. */
    double attn_f = train_memory_time(g, tok * q / tp * 4.0 + (h * (q + 2 * kv) / tp + q / tp * h) * 4.0 / mb);
    double attn_b = train_memory_time(g, tok * ((q + 2 * kv) / tp + h) * 4.0);
    /* FFN: the down projection's input (f / tp) apart, the up projection's by
     * the norm; gradients of 2f / tp (gate and up) and h. */
    double mlp_f = train_memory_time(g, tok * ff / tp * 4.0 + (h * 2 * ff / tp + ff / tp * h) * 4.0 / mb);
    double mlp_b = train_memory_time(g, tok * (2 * ff / tp + h) * 4.0);

    near_rel(beside_gemms(f, c, PLAT_FP8, "attn", false) - beside_gemms(f, c, PLAT_BF16, "attn", false), attn_f,
             1e-9);
    near_rel(beside_gemms(f, c, PLAT_FP8, "attn", true) - beside_gemms(f, c, PLAT_BF16, "attn", true), attn_b, 1e-9);
    near_rel(beside_gemms(f, c, PLAT_FP8, "mlp", false) - beside_gemms(f, c, PLAT_BF16, "mlp", false), mlp_f, 1e-9);
    near_rel(beside_gemms(f, c, PLAT_FP8, "mlp", true) - beside_gemms(f, c, PLAT_BF16, "mlp", true), mlp_b, 1e-9);
    {
        /* The weights (wa, wm elements per layer): stored in FP8
         * (fp8_params) only the transpose is made (read 1 B, write 1 B);
         * with no cache, on every micro-batch. */
        double wa = h * (q + 2 * kv) / tp + q / tp * h, wm = h * 2 * ff / tp + ff / tp * h;
        double in_a = tok * q / tp * 4.0, in_m = tok * ff / tp * 4.0;
        train_config x = c;
        x.l.zero = 1; /* trained FP8 weights need a sharded optimizer (the blocks' times do not) */
        x.l.fp8_params = true;
        near_rel(beside_gemms(f, x, PLAT_FP8, "attn", false) - beside_gemms(f, c, PLAT_BF16, "attn", false),
                 train_memory_time(g, in_a + wa * 2.0 / mb), 1e-9);
        x.l.no_weight_cache = true;
        near_rel(beside_gemms(f, x, PLAT_FP8, "mlp", false) - beside_gemms(f, c, PLAT_BF16, "mlp", false),
                 train_memory_time(g, in_m + wm * 2.0), 1e-9);
        x.l.fp8_params = false;
        near_rel(beside_gemms(f, x, PLAT_FP8, "attn", false) - beside_gemms(f, c, PLAT_BF16, "attn", false),
                 train_memory_time(g, in_a + wa * 4.0), 1e-9);
        near_rel(beside_gemms(f, x, PLAT_FP8, "mlp", true) - beside_gemms(f, c, PLAT_BF16, "mlp", true), mlp_b, 1e-9);
    }
}

/* LoRA dropout (NeMo's adapter_dropout, before each adapter): per layer and
 * micro-batch a memory-bound pass over each adapter's input, 5 B per
 * element forward and backward (read, write, mask), as hidden dropout is
 * priced: QKV's and the first FFN layer's inputs gathered over TP, s x h
 * (the layer-norm output Transformer Engine hands the adapter; under TP
 * overlap the first FFN layer's adapter drops its s/tp x h shard), the
 * projection's s x q/tp, the second FFN layer's s x f/tp. */
/* Per layer and micro-batch, what LoRA dropout adds to each block's
 * compute (attn fwd, attn bwd, mlp fwd, mlp bwd) in layout c. */
static void dropout_added(fixture *f, train_config c, double added[4])
{
    const char *const ops[4] = {"attn fwd", "attn bwd", "mlp fwd", "mlp bwd"};
    double base[4];
    wl *w;

    for (int k = 0; k < 2; k++) {
        c.l.lora_dropout = k ? 0.1 : 0.0;
        assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
        for (int i = 0; i < 4; i++)
            (k ? added : base)[i] = sum_named(w, 0, ops[i]) / 32 / 4;
        wl_free(w);
    }
    for (int i = 0; i < 4; i++)
        added[i] -= base[i];
}

static void test_train__lora_dropout(void **state)
{
    fixture *f = *state;
    const plat_gpu *g = &f->p->types[0].gpu;
    train_config c = config(2, 1, 4, 1, 2048, 4);
    double tok = 2048.0, h = 4096.0, q = 4096.0, ff = 14336.0, tp = 2.0, added[4];

    c.l.tune = MODEL_TRAIN_LORA;
    dropout_added(f, c, added);
    for (int i = 0; i < 2; i++) {
        near_rel(added[i], train_memory_time(g, 5.0 * (tok * h + tok * q / tp)), 1e-9);
        near_rel(added[2 + i], train_memory_time(g, 5.0 * (tok * h + tok * ff / tp)), 1e-9);
    }
    /* Under TP overlap the first FFN layer's adapter gathers its input
     * itself and drops the shard before: tok/tp x h. */
    c.tp_overlap = true;
    dropout_added(f, c, added);
    for (int i = 0; i < 2; i++) {
        near_rel(added[i], train_memory_time(g, 5.0 * (tok * h + tok * q / tp)), 1e-9);
        near_rel(added[2 + i], train_memory_time(g, 5.0 * (tok / tp * h + tok * ff / tp)), 1e-9);
    }
}

/* Bytes of rank 0's operation `name` with bf16 weights (out[0]) and with
 * FP8 parameters (out[1]). */
static void bytes_without_and_with_fp8_params(fixture *f, const model *m, train_config c, const char *name,
                                              double out[2])
{
    wl *w;
    for (int k = 0; k < 2; k++) {
        c.l.fp8_params = k == 1;
        out[k] = 0.0;
        assert_int_equal(train_build(&w, m, f->p, &c, f->d), SP_OK);
        for (size_t i = 0; i < w->ranks[0].nops; i++)
            if (strcmp(w->ranks[0].ops[i].name, name) == 0)
                out[k] = (double)w->ranks[0].ops[i].bytes;
        wl_free(w);
    }
    assert_true(out[0] > 0.0 && out[1] > 0.0);
}

/* FP8 parameters: ZeRO-1 gathers the updated linear weights in FP8 (1 B,
 * Megatron-LM's --fp8-param-gather), the rest (embedding, output layer,
 * norms) in bf16; ZeRO-3 each layer's. Refused without FP8 training, and
 * with QLoRA or pure-bf16 Adam; no weight cache needs FP8 too. */
static void test_train__fp8_params(void **state)
{
    fixture *f = *state;
    train_config c = config(2, 1, 4, 1, 2048, 4);
    double lin = (2.0 * 4096 * 4096 + 2.0 * 4096 * 1024 + 3.0 * 4096 * 14336) / 2, gathered[2];

    c.prec = PLAT_FP8;
    c.l.zero = 1;
    bytes_without_and_with_fp8_params(f, f->m8, c, "dp param all_gather", gathered);
    near_rel(gathered[0] - gathered[1], 32 * lin, 1e-9);
    /* ZeRO-3 (FSDP) gathers each layer's weights before its passes, those FP8 too. */
    c.l.zero = 3;
    bytes_without_and_with_fp8_params(f, f->m8, c, "L5 dp param all_gather fwd", gathered);
    near_rel(gathered[0], 2.0 * (model_layer_params(f->m8) / 2), 1e-9);
    near_rel(gathered[0] - gathered[1], lin, 1e-9);
    /* A mixture of experts at ZeRO-3 (EP 1): its experts' weights in FP8 too. */
    {
        model *mx;
        train_config x = config(1, 1, 8, 1, 2048, 2);
        x.prec = PLAT_FP8;
        x.l.zero = 3;
        assert_int_equal(model_load(&mx, MODELS "/mixtral-8x7b.cfg", f->d), SP_OK);
        bytes_without_and_with_fp8_params(f, mx, x, "L5 dp param all_gather fwd", gathered);
        near_rel(gathered[0] - gathered[1], model_layer_linear_params(mx, &x.l), 1e-9);
        model_free(mx);
    }
    c.l.fp8_params = true;
    c.prec = PLAT_BF16;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "FP8 parameters: needs FP8 training (precision fp8), not bf16"));
    c.prec = PLAT_FP8;
    c.l.zero = 0;
    c.l.tune = MODEL_TRAIN_QLORA;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "not with QLoRA"));
    c.l.tune = MODEL_TRAIN_FULL; /* trained FP8 weights: requantized from ZeRO's fp32 master shards */
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "FP8 parameters: full training needs ZeRO 1-3"));
    c.l.zero = 1;
    c.l.adam = MODEL_ADAM_PURE_BF16;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "needs an fp32 master weight, not pure-bf16 Adam"));
    c.l.adam = MODEL_ADAM_FP32;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_OK);
    c.l.zero = 0;
    c.l.tune = MODEL_TRAIN_LORA; /* a frozen FP8 base has no optimizer */
    c.l.adam = MODEL_ADAM_PURE_BF16;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_OK);
    c.l.tune = MODEL_TRAIN_FULL;
    c.l.adam = MODEL_ADAM_FP32;
    c.l.fp8_params = false;
    c.l.no_weight_cache = true;
    c.prec = PLAT_FP4;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "no weight cache: needs FP8 training (precision fp8), not fp4"));
}

/* The loss, memory-bound, in bytes per logit on the TP shard: fused 10
 * forward and 6 backward; unfused (PyTorch on an fp32 copy) 14 and 22. */
static void test_train__loss(void **state)
{
    fixture *f = *state;
    const plat_gpu *g = &f->p->types[0].gpu;
    train_config c = config(2, 1, 4, 1, 2048, 1);
    double logits = 2048.0 * 128256 / 2, fwd, bwd;
    wl *w;

    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    fwd = sum_named(w, 0, "output+loss fwd");
    bwd = sum_named(w, 0, "output+loss bwd");
    wl_free(w);
    c.l.unfused_loss = true;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    near_rel(sum_named(w, 0, "output+loss fwd") - fwd, train_memory_time(g, 4.0 * logits), 1e-9);
    near_rel(sum_named(w, 0, "output+loss bwd") - bwd, train_memory_time(g, 16.0 * logits), 1e-9);
    wl_free(w);
}

/* The optimizer step, memory-bound: 28 B per trained parameter in mixed
 * precision (fp32 master weight and moments read and written, gradient
 * read, bf16 weight written), 14 in pure bf16 (bf16 weight and moments
 * read and written, gradient read): half the time. */
static void test_train__pure_bf16(void **state)
{
    fixture *f = *state;
    train_config c = config(2, 1, 4, 1, 2048, 1);
    double mixed;
    wl *w;

    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    mixed = sum_named(w, 0, "optimizer step");
    wl_free(w);
    assert_true(mixed > 0.0);
    c.l.adam = MODEL_ADAM_PURE_BF16;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    near_rel(sum_named(w, 0, "optimizer step"), mixed / 2.0, 1e-12);
    wl_free(w);
}

/* Learned absolute positions (GPT-2) instead of rotary embeddings: no
 * rotary traffic on q and k, v in the layers (2 B read and written per
 * element forward, twice backward); the table multiplies nothing, so the
 * model FLOPs per token stay. */
static void test_train__learned_positions(void **state)
{
    fixture *f = *state;
    const plat_gpu *g = &f->p->types[0].gpu;
    train_config c = config(2, 1, 4, 1, 2048, 1);
    double rotary = train_memory_time(g, 2.0 * 2.0 * 2048.0 * (4096.0 + 1024.0) / 2), fwd, bwd, flops;
    wl *w;

    flops = train_model_flops_per_token(f->m8, 2048, MODEL_TRAIN_FULL, false);
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    fwd = sum_named(w, 0, "attn fwd");
    bwd = sum_named(w, 0, "attn bwd");
    wl_free(w);
    f->m8->learned_positions = true;
    f->m8->max_positions = 8192;
    near_rel(train_model_flops_per_token(f->m8, 2048, MODEL_TRAIN_FULL, false), flops, 1e-15);
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    near_rel(fwd - sum_named(w, 0, "attn fwd"), 32 * rotary, 1e-9);
    near_rel(bwd - sum_named(w, 0, "attn bwd"), 32 * 2 * rotary, 1e-9);
    wl_free(w);
    c.l.seq_len = 16384;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "sequence 16384 is longer than the model's 8192 learned positions"));
    f->m8->learned_positions = false;
    f->m8->max_positions = 0;
    /* No position embedding at all: no rotary, no table, any sequence. */
    f->m8->no_positions = true;
    c.l.seq_len = 2048;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    near_rel(fwd - sum_named(w, 0, "attn fwd"), 32 * rotary, 1e-9);
    near_rel(bwd - sum_named(w, 0, "attn bwd"), 32 * 2 * rotary, 1e-9);
    wl_free(w);
    f->m8->no_positions = false;
}

/* Mixture of experts: Mixtral 8x7B's published sizes (47B parameters, 13B
 * active); with EP 4 of DP 8 every layer dispatches and combines its tokens
 * all-to-all over the EP group, forward and backward, and the experts'
 * gradients go to the ranks holding the same experts. */
static void test_train__moe(void **state)
{
    fixture *f = *state;
    model *mx;
    train_config c = config(1, 1, 8, 1, 2048, 2);
    wl *w;
    int found = 0;

    assert_int_equal(model_load(&mx, MODELS "/mixtral-8x7b.cfg", f->d), SP_OK);
    near_rel(model_params(mx), 46.7e9, 0.01);
    near_rel(model_active_params(mx), 12.9e9, 0.01);
    c.l.ep = 4;
    c.l.zero = 1;
    assert_int_equal(train_build(&w, mx, f->p, &c, f->d), SP_OK);
    assert_int_equal(wl_check(w, f->p->nranks, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "ep all_to_all"), 32 * 2 * 4);
    assert_int_equal(count_named(w, 0, "edp grad reduce_scatter"), 32);
    assert_int_equal(count_named(w, 0, "L0 dp grad reduce_scatter"), 1);
    for (size_t g = 0; g < w->ngroups; g++) {
        if (strcmp(w->groups[g].name, "ep0") == 0) {
            assert_int_equal(w->groups[g].n, 4);
            assert_int_equal(w->groups[g].ranks[3], 3);
            found++;
        }
        if (strcmp(w->groups[g].name, "edp1") == 0) {
            assert_int_equal(w->groups[g].n, 2);
            assert_int_equal(w->groups[g].ranks[1], 5);
            found++;
        }
    }
    assert_int_equal(found, 2);
    {
        /* The forward MoE block: the router GEMM, the 2 local experts' GEMMs
         * on their share of the dispatched tokens, and memory-bound traffic:
         * norm and residual, SwiGLU, and four token permutations (2 local
         * experts: into expert order, the chunk sort, and both back), each
         * reading and writing every dispatched token. */
        const plat_gpu *g = &f->p->types[0].gpu;
        double tok = 2048.0, h = 4096.0, fe = 14336.0, toks = tok * 2, per = toks / 2, want;
        want = train_gemm_time(g, PLAT_BF16, tok, 8.0, h) +
               2 * (train_gemm_time(g, PLAT_BF16, per, 2 * fe, h) + train_gemm_time(g, PLAT_BF16, per, h, fe)) +
               train_memory_time(g, 2.0 * (tok * 5.0 * h + toks * 3.0 * fe + 4.0 * 2.0 * toks * h));
        found = 0;
        for (size_t i = 0; i < w->ranks[0].nops && !found; i++)
            if (strcmp(w->ranks[0].ops[i].name, "L0 moe fwd") == 0) {
                near_rel(w->ranks[0].ops[i].duration_s, want, 1e-12);
                found = 1;
            }
        assert_int_equal(found, 1);
    }
    wl_free(w);
    c.l.ep = 3;
    assert_int_equal(train_check(mx, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "EP 3 needs a mixture-of-experts model"));
    c.l.ep = 2;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    model_free(mx);
}

/* Routing imbalance f: the busiest rank's experts and all-to-all carry f
 * times the balanced share, which the step waits for; f runs from 1 to EP
 * and needs a mixture of experts. */
static void test_train__moe_imbalance(void **state)
{
    fixture *f = *state;
    model *mx;
    train_config c = config(1, 1, 8, 1, 2048, 2);
    double t1, t15;
    wl *w1, *w15;
    uint64_t a2a1 = 0, a2a15 = 0;

    assert_int_equal(model_load(&mx, MODELS "/mixtral-8x7b.cfg", f->d), SP_OK);
    c.l.ep = 4;
    c.l.zero = 1;
    assert_int_equal(train_estimate(mx, f->p, &c, NULL, &t1, f->d), SP_OK);
    assert_int_equal(train_build(&w1, mx, f->p, &c, f->d), SP_OK);
    c.moe_imbalance = 1.5;
    assert_int_equal(train_estimate(mx, f->p, &c, NULL, &t15, f->d), SP_OK);
    assert_int_equal(train_build(&w15, mx, f->p, &c, f->d), SP_OK);
    assert_true(t15 > t1);
    for (size_t i = 0; i < w1->ranks[0].nops; i++)
        if (strstr(w1->ranks[0].ops[i].name, "ep all_to_all") != NULL) {
            a2a1 = w1->ranks[0].ops[i].bytes;
            break;
        }
    for (size_t i = 0; i < w15->ranks[0].nops; i++)
        if (strstr(w15->ranks[0].ops[i].name, "ep all_to_all") != NULL) {
            a2a15 = w15->ranks[0].ops[i].bytes;
            break;
        }
    near_rel((double)a2a15, 1.5 * (double)a2a1, 1e-9);
    wl_free(w1);
    wl_free(w15);
    c.moe_imbalance = 4.5; /* more than EP 4 */
    assert_int_equal(train_check(mx, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "MoE imbalance 4.5"));
    c.moe_imbalance = 0.5;
    assert_int_equal(train_check(mx, f->p, &c, f->d), SP_EINPUT);
    c = config(1, 1, 8, 1, 2048, 2);
    c.moe_imbalance = 1.2; /* a dense model */
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    model_free(mx);
}

/* The search's estimate shards Adam's states as the step does: under
 * ZeRO-1 the dense part (with the embedding and the output layer) over DP x
 * CP, each expert's over the ranks holding it (none other at EP = DP = 8, so
 * unsharded). Only the optimizer depends on Adam's state precision, so the
 * difference of two precisions is its memory-bound pass alone. */
static void test_train__estimate_expert_states(void **state)
{
    fixture *f = *state;
    model *mq;
    train_config c = config(1, 1, 8, 1, 2048, 2);
    double t32, t16, dense, experts, want;

    assert_int_equal(model_load(&mq, MODELS "/qwen3-30b-a3b.cfg", f->d), SP_OK);
    c.l.ep = 8;
    c.l.zero = 1;
    assert_int_equal(train_estimate(mq, f->p, &c, NULL, &t32, f->d), SP_OK);
    c.l.adam = MODEL_ADAM_BF16;
    assert_int_equal(train_estimate(mq, f->p, &c, NULL, &t16, f->d), SP_OK);
    experts = model_layer_expert_params(mq) / 8.0;
    dense = mq->layers * (model_layer_params(mq) - model_layer_expert_params(mq)) +
            (mq->tied_embeddings ? 1.0 : 2.0) * mq->vocab * mq->hidden;
    want = train_memory_time(&f->p->types[0].gpu,
                             (model_adam_step_bytes(MODEL_ADAM_FP32, false) - model_adam_step_bytes(MODEL_ADAM_BF16, false)) *
                                 (dense / 8.0 + mq->layers * experts));
    near_rel(t32 - t16, want, 1e-6);
    model_free(mq);
}

/* NCCL's model time of an all-reduce of `bytes` over ranks (as the estimate prices it). */
static double all_reduce_s(const plat *p, const int *ranks, int n, double bytes)
{
    coll_plan *c = NULL;
    double t;
    assert_int_equal(coll_plan_new(&c, p, COLL_ALL_REDUCE, ranks, n, (uint64_t)bytes, NULL), SP_OK);
    t = coll_plan_model_us(c) * 1e-6;
    coll_plan_free(c);
    return t;
}

/* The estimate's gradient reduction, as the step's: the dense part over
 * DP x CP (all 8 GPUs), the experts' over the ranks holding the same experts
 * (EP 2 of DP 4, CP 2: ranks 0, 1, 4 and 5 with rank 0). At 32K tokens each
 * layer's buckets take less time than a layer's backward, even in fp32, so
 * only the last, the first layer's with the embedding, outlasts the
 * backward (with the SMs free: compute beside the buckets keeps its pace).
 * Only the gradients depend on their precision, so fp32 against bf16
 * gradients moves the estimate by that bucket's all-reduces' difference
 * and by the optimizer step's read of 2 more bytes per trained parameter
 * of this GPU (as the memory accounting counts them: ZeRO-0, one stage). */
static void test_train__estimate_expert_grads(void **state)
{
    fixture *f = *state;
    model *mq;
    train_config c = config(1, 1, 4, 1, 32768, 2);
    const int all[8] = {0, 1, 2, 3, 4, 5, 6, 7}, edp[4] = {0, 1, 4, 5};
    double t4, t2, dense, experts, want;
    model_memory mem;

    assert_int_equal(model_load(&mq, MODELS "/qwen3-30b-a3b.cfg", f->d), SP_OK);
    c.l.cp = 2;
    c.l.ep = 2;
    c.sms_free = true;
    assert_int_equal(model_memory_per_gpu(&mem, mq, &c.l, f->d), SP_OK);
    assert_int_equal(train_estimate(mq, f->p, &c, NULL, &t2, f->d), SP_OK);
    c.l.grad_fp32 = true;
    assert_int_equal(train_estimate(mq, f->p, &c, NULL, &t4, f->d), SP_OK);
    experts = model_layer_expert_params(mq) / 2.0;
    dense = model_layer_params(mq) - model_layer_expert_params(mq) + (double)mq->vocab * mq->hidden;
    want = all_reduce_s(f->p, all, 8, 4.0 * dense) - all_reduce_s(f->p, all, 8, 2.0 * dense) +
           all_reduce_s(f->p, edp, 4, 4.0 * experts) - all_reduce_s(f->p, edp, 4, 2.0 * experts) +
           train_memory_time(&f->p->types[0].gpu, 2.0 * mem.trainable);
    near_rel(t4 - t2, want, 1e-6);
    model_free(mq);
}

/* The 1F1B schedule on even stages gives the textbook makespans (Narayanan
 * et al. 2021, section 2.2): m micro-batches of forward f and backward b per
 * stage take (m + pp - 1)(f + b) plain, and (m + (pp - 1) / v)(f + b) with
 * v chunks of f / v and b / v each; a transfer between stages lengthens the
 * critical path; the last stage's extra work (an output layer) is paid once
 * per micro-batch, where the textbook's formula on the slowest stage would
 * charge it m + pp - 1 times. */
static void test_train__pipeline_schedule(void **state)
{
    double f[16], b[16], last[4], t, t2;
    (void)state;

    for (int i = 0; i < 16; i++)
        f[i] = 1.0, b[i] = 2.0;
    near_rel(train_pipeline_time(4, 1, 8, f, b, 0.0, NULL), (8 + 3) * 3.0, 1e-12);
    near_rel(train_pipeline_time(4, 1, 1, f, b, 0.0, NULL), 4 * 3.0, 1e-12);
    for (int i = 0; i < 16; i++)
        f[i] = 0.25, b[i] = 0.5;
    near_rel(train_pipeline_time(4, 4, 8, f, b, 0.0, last), (8 + 3.0 / 4.0) * 3.0, 1e-12);
    assert_true(last[0] > last[1] && last[1] > last[2] && last[2] > last[3]); /* the first chunk ends last */
    near_rel(last[0], (8 + 3.0 / 4.0) * 3.0, 1e-12);
    for (int i = 0; i < 16; i++)
        f[i] = 1.0, b[i] = 2.0;
    /* One micro-batch: three hops out, three back. More: every stage's
     * steady state waits on its neighbours, so each micro-batch pays too. */
    near_rel(train_pipeline_time(4, 1, 1, f, b, 0.1, NULL), 4 * 3.0 + 6 * 0.1, 1e-12);
    t = train_pipeline_time(4, 1, 8, f, b, 0.0, NULL);
    t2 = train_pipeline_time(4, 1, 8, f, b, 0.1, NULL);
    assert_true(t2 - t > 6 * 0.1 && t2 - t < 2 * (8 + 3) * 0.1);
    /* No such schedule: interleaving with micro-batches not a multiple of
     * the stages, or nothing to schedule. */
    assert_true(train_pipeline_time(4, 2, 6, f, b, 0.0, NULL) == -1.0);
    assert_true(train_pipeline_time(4, 1, 0, f, b, 0.0, NULL) == -1.0);
    f[3] = 1.5; /* the last stage's output layer */
    near_rel(train_pipeline_time(4, 1, 8, f, b, 0.0, NULL) - t, 8 * 0.5, 1e-12);
}

/* Where a layer's buckets take about as long as its backward (ZeRO-1 over
 * 8 GPUs at 2K tokens, fp32 gradients), the backward beside them slows
 * when they hold SMs, and with it the step; bf16 buckets take less. */
static void test_train__estimate_bucket_tail(void **state)
{
    fixture *f = *state;
    train_config c = config(1, 1, 8, 1, 2048, 1);
    double free_s, held_s, bf16_s;

    c.l.zero = 1;
    c.l.grad_fp32 = true;
    c.sms_free = true;
    assert_int_equal(train_estimate(f->m8, f->p, &c, NULL, &free_s, f->d), SP_OK);
    c.sms_free = false;
    assert_int_equal(train_estimate(f->m8, f->p, &c, NULL, &held_s, f->d), SP_OK);
    c.l.grad_fp32 = false;
    assert_int_equal(train_estimate(f->m8, f->p, &c, NULL, &bf16_s, f->d), SP_OK);
    assert_true(held_s > free_s);
    assert_true(held_s > bf16_s);
}

/* Capacity (Megatron-LM's get_capacity, num_tokens = tokens x top_k): with
 * Mixtral's 8 experts, top 2, and 2,048 tokens per rank, each rank lets
 * ceil(4,096 / 8 x C) tokens through to each expert. The busiest of 4 EP
 * ranks, at imbalance 1.5, processes min(1.5, cap) x the balanced share
 * dropping the rest, or with padding exactly cap; the all-to-all carries
 * what the experts process. */
static void test_train__moe_capacity(void **state)
{
    fixture *f = *state;
    model *mx;
    train_config c = config(1, 1, 8, 1, 2048, 2);
    double dropped = -1.0, t_pad, t_drop;
    wl *w;
    uint64_t a2a[3] = {0, 0, 0};

    assert_int_equal(model_load(&mx, MODELS "/mixtral-8x7b.cfg", f->d), SP_OK);
    c.l.ep = 4;
    c.l.zero = 1;
    near_rel(train_moe_load(mx, &c, &dropped), 1.0, 1e-12); /* dropless, balanced */
    assert_true(dropped == 0.0);
    c.moe_imbalance = 1.5;
    near_rel(train_moe_load(mx, &c, &dropped), 1.5, 1e-12);
    assert_true(dropped == 0.0);
    c.moe_capacity = 1.25; /* ceil(512 x 1.25) = 640 per expert: 1.25 exactly */
    near_rel(train_moe_load(mx, &c, &dropped), 1.25, 1e-12);
    near_rel(dropped, 1.0 - 1.25 / 1.5, 1e-12);
    c.moe_capacity = 1.1; /* ceil(563.2) = 564 tokens: 564 x 8 / 4,096 */
    near_rel(train_moe_load(mx, &c, &dropped), 564.0 * 8.0 / 4096.0, 1e-12);
    c.moe_capacity = 2.0; /* above the imbalance: nothing dropped, nothing padded */
    near_rel(train_moe_load(mx, &c, &dropped), 1.5, 1e-12);
    assert_true(dropped == 0.0);
    c.moe_pad = true; /* padded: every expert processes its capacity */
    near_rel(train_moe_load(mx, &c, &dropped), 2.0, 1e-12);
    assert_true(dropped == 0.0);
    c.moe_imbalance = 0.0;
    near_rel(train_moe_load(mx, &c, NULL), 2.0, 1e-12);
    assert_int_equal(train_check(mx, f->p, &c, f->d), SP_OK);

    /* The all-to-all carries the load: 1 (dropless, balanced), 1.25
     * (imbalance 1.5 capped at 1.25), 2 (padded to 2); padding costs time. */
    for (int k = 0; k < 3; k++) {
        c.moe_imbalance = k == 1 ? 1.5 : 0.0;
        c.moe_capacity = k == 0 ? 0.0 : k == 1 ? 1.25 : 2.0;
        c.moe_pad = k == 2;
        assert_int_equal(train_build(&w, mx, f->p, &c, f->d), SP_OK);
        for (size_t i = 0; i < w->ranks[0].nops && a2a[k] == 0; i++)
            if (strstr(w->ranks[0].ops[i].name, "ep all_to_all") != NULL)
                a2a[k] = w->ranks[0].ops[i].bytes;
        wl_free(w);
        if (k == 1)
            assert_int_equal(train_estimate(mx, f->p, &c, NULL, &t_drop, f->d), SP_OK);
        if (k == 2)
            assert_int_equal(train_estimate(mx, f->p, &c, NULL, &t_pad, f->d), SP_OK);
    }
    near_rel((double)a2a[1], 1.25 * (double)a2a[0], 1e-6);
    near_rel((double)a2a[2], 2.0 * (double)a2a[0], 1e-6);
    assert_true(t_pad > t_drop);

    /* At EP 1 imbalance changes nothing, but capacity still applies. */
    c.l.ep = 1;
    c.moe_imbalance = 0.0;
    c.moe_capacity = 0.5;
    c.moe_pad = false;
    near_rel(train_moe_load(mx, &c, &dropped), 0.5, 1e-12);
    near_rel(dropped, 0.5, 1e-12);

    /* Bad settings: padding without a capacity, a capacity for a dense model,
     * a capacity that is not above 0. */
    c.moe_capacity = 0.0;
    c.moe_pad = true;
    assert_int_equal(train_check(mx, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "needs a capacity factor"));
    c.moe_capacity = -1.0;
    c.moe_pad = false;
    assert_int_equal(train_check(mx, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "MoE capacity factor -1"));
    c = config(1, 1, 8, 1, 2048, 2);
    c.moe_capacity = 1.25;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "has no mixture of experts"));
    near_rel(train_moe_load(f->m8, &c, NULL), 1.0, 1e-12);
    model_free(mx);
}

/* The estimate prices collectives with the options the simulation gets: on
 * four DGX H100 of a SuperPOD, whose fabric reduces in the network, data
 * parallelism over 32 GPUs with one micro-batch leaves its gradient
 * all-reduce exposed, and CollNet (NVLS across nodes, SHARP) shortens it. */
static void test_train__estimate_collnet(void **state)
{
    fixture *f = *state;
    plat *p;
    train_config c = config(1, 1, 32, 1, 4096, 1);
    const coll_opts on = {0, 0, 1};
    double t_off, t_on;

    assert_int_equal(plat_load(&p, PLATFORMS "/superpod-h100.cfg", f->d), SP_OK);
    assert_int_equal(plat_set_nodes(p, 4, f->d), SP_OK);
    assert_int_equal(train_estimate(f->m8, p, &c, NULL, &t_off, f->d), SP_OK);
    assert_int_equal(train_estimate(f->m8, p, &c, &on, &t_on, f->d), SP_OK);
    assert_true(t_on < t_off);
    plat_free(p);
}

/* Bytes of each of rank 0's operations named `needle` (all alike), 0 if none. */
static uint64_t bytes_named(const wl *w, const char *needle)
{
    uint64_t b = 0;
    for (size_t i = 0; i < w->ranks[0].nops; i++)
        if (strstr(w->ranks[0].ops[i].name, needle) != NULL) {
            if (b != 0 && w->ranks[0].ops[i].bytes != b)
                fail_msg("%s: %llu B and %llu B", needle, (unsigned long long)b,
                         (unsigned long long)w->ranks[0].ops[i].bytes);
            b = w->ranks[0].ops[i].bytes;
        }
    return b;
}

/* TP communication overlapped with its GEMMs as Transformer Engine's
 * userbuffers run it (tp_block), TP 8. Forward: the column-parallel GEMM's
 * first 7 chunks beside the ring's exchanges (one send/recv of 7 shards, on
 * the copy engines: no SMs), its last chunk after both; the row-parallel
 * GEMM's first quarter, then the other three beside the reduce-scatter of
 * three quarters of the output (16 SMs), the last quarter reduce-scattered
 * after both. Backward: the row-parallel input gradient's chunks beside the
 * output gradient's ring; the column-parallel layer's input gathered again beside its input
 * gradient and the input gradient reduce-scattered beside its weight
 * gradient (16 SMs each), the layer waiting for the reduce-scatter. Each
 * chunk timed at its own shape; the step and the estimate shorter than
 * without overlap; under FP8 the gathers in FP8. */
static void test_train__tp_overlap(void **state)
{
    fixture *f = *state;
    const plat_gpu *gpu = &f->p->types[0].gpu;
    train_config c = config(8, 1, 1, 1, 8192, 2);
    double t_serial, t_overlap, tok = 8192.0, h = 4096.0, q = 4096.0, kv = 1024.0, ff = 14336.0;
    uint64_t whole = (uint64_t)(2.0 * 8192 * 4096), shard = whole / 8;
    const wl_op *op, *ring, *pipe;
    wl *w;

    assert_int_equal(train_estimate(f->m8, f->p, &c, NULL, &t_serial, f->d), SP_OK);
    c.tp_overlap = true;
    assert_int_equal(train_estimate(f->m8, f->p, &c, NULL, &t_overlap, f->d), SP_OK);
    assert_true(t_overlap < t_serial);
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(wl_check(w, f->p->nranks, f->d), SP_OK);
    /* Per layer and micro-batch: forward and backward two rings each, two
     * pipelined reduce-scatters, backward two inputs gathered again. */
    assert_int_equal(count_named(w, 0, "tp all_gather ring"), 32 * 2 * 4);
    assert_int_equal(count_named(w, 0, "tp reduce_scatter pipelined"), 32 * 2 * 2);
    assert_int_equal(count_named(w, 0, "tp all_gather input"), 32 * 2 * 2);

    /* Forward, layer 0's attention. */
    ring = must_find(w, "L0 tp all_gather ring");
    assert_int_equal(ring->kind, WL_COLL);
    assert_int_equal(ring->coll, COLL_SEND_RECV);
    assert_int_equal(ring->stream, WL_STREAM_COMM);
    assert_int_equal(ring->bytes, 7 * shard);
    assert_int_equal(ring->sms, -1);
    op = must_find(w, "L0 attn fwd qkv chunks 1-7");
    assert_non_null(op);
    assert_false(waits_for(w, op, "L0 tp all_gather ring"));
    near_rel(op->duration_s, 7.0 * train_gemm_time(gpu, PLAT_BF16, tok / 8, (q + 2 * kv) / 8, h), 1e-12);
    op = must_find(w, "L0 attn fwd qkv chunk 8");
    assert_true(waits_for(w, op, "L0 tp all_gather ring") && waits_for(w, op, "L0 attn fwd qkv chunks 1-7"));
    near_rel(op->duration_s, train_gemm_time(gpu, PLAT_BF16, tok / 8, (q + 2 * kv) / 8, h), 1e-12);
    assert_true(waits_for(w, must_find(w, "L0 attn fwd"), "L0 attn fwd qkv chunk 8"));
    op = must_find(w, "L0 attn fwd proj split 1");
    assert_true(waits_for(w, op, "L0 attn fwd"));
    near_rel(op->duration_s, train_gemm_time(gpu, PLAT_BF16, tok / 4, h, q / 8), 1e-12);
    pipe = must_find(w, "L0 tp reduce_scatter pipelined");
    assert_true(waits_for(w, pipe, "L0 attn fwd proj split 1"));
    assert_int_equal(pipe->bytes, whole / 4 * 3);
    assert_int_equal(pipe->sms, 16);
    op = must_find(w, "L0 attn fwd proj splits 2-4");
    assert_true(waits_for(w, op, "L0 attn fwd proj split 1") && !waits_for(w, op, "L0 tp reduce_scatter pipelined"));
    near_rel(op->duration_s, 3.0 * train_gemm_time(gpu, PLAT_BF16, tok / 4, h, q / 8), 1e-12);
    op = must_find(w, "L0 tp reduce_scatter split 4");
    assert_true(waits_for(w, op, "L0 attn fwd proj splits 2-4") && waits_for(w, op, "L0 tp reduce_scatter pipelined"));
    assert_int_equal(op->bytes, whole - whole / 4 * 3);
    assert_int_equal(op->ndeps, 2);

    /* Backward, layer 0's FFN (its first block there): the second layer's
     * input gradient by the ring, the first layer's gradients beside the
     * input's gather and the input gradient's reduce-scatter. */
    op = must_find(w, "L0 mlp bwd fc2 dgrad chunk 8");
    assert_true(waits_for(w, op, "L0 tp all_gather ring") && waits_for(w, op, "L0 mlp bwd fc2 dgrad chunks 1-7"));
    near_rel(op->duration_s, train_gemm_time(gpu, PLAT_BF16, tok / 8, ff / 8, h), 1e-12);
    assert_true(waits_for(w, must_find(w, "L0 mlp bwd"), "L0 mlp bwd fc2 dgrad chunk 8"));
    op = must_find(w, "L0 tp all_gather input");
    assert_int_equal(op->bytes, whole);
    assert_int_equal(op->sms, 16);
    assert_true(waits_for(w, op, "L0 mlp bwd"));
    op = must_find(w, "L0 mlp bwd fc1 dgrad");
    assert_true(waits_for(w, op, "L0 mlp bwd") && !waits_for(w, op, "L0 tp all_gather input"));
    near_rel(op->duration_s, train_gemm_time(gpu, PLAT_BF16, tok, h, 2 * ff / 8), 1e-12);
    op = must_find(w, "L0 tp reduce_scatter");
    assert_true(waits_for(w, op, "L0 mlp bwd fc1 dgrad") && waits_for(w, op, "L0 tp all_gather input"));
    assert_int_equal(op->bytes, whole);
    assert_int_equal(op->sms, 16);
    op = must_find(w, "L0 mlp bwd fc1 wgrad");
    assert_true(waits_for(w, op, "L0 mlp bwd fc1 dgrad") && waits_for(w, op, "L0 tp all_gather input"));
    near_rel(op->duration_s, train_gemm_time(gpu, PLAT_BF16, h, 2 * ff / 8, tok), 1e-12);
    assert_true(waits_for(w, must_find(w, "L0 dgrad reduce-scatter wait"), "L0 tp reduce_scatter"));
    wl_free(w);
    /* Under FP8 training the all-gathers move FP8 (half the bytes), with
     * userbuffers or without; the reduce-scatters stay in bf16. */
    c.prec = PLAT_FP8;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(must_find(w, "L0 tp all_gather ring")->bytes, 7 * (shard / 2));
    assert_int_equal(must_find(w, "L0 tp all_gather input")->bytes, whole / 2);
    assert_int_equal(must_find(w, "L0 tp reduce_scatter pipelined")->bytes, whole / 4 * 3);
    assert_int_equal(must_find(w, "L0 tp reduce_scatter")->bytes, whole);
    wl_free(w);
    c.tp_overlap = false;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(bytes_named(w, "L0 tp all_gather"), whole / 2);
    assert_int_equal(bytes_named(w, "L0 tp reduce_scatter"), whole);
    assert_int_equal(must_find(w, "output tp all_gather")->bytes, whole); /* the bf16 output layer's */
    wl_free(w);
}


/* NCCL's model time of a collective over ranks 0 .. n-1 (as the estimate
 * takes it), seconds; all-to-all, which NCCL does not model, alpha-beta. */
static double coll_s(const plat *p, coll_kind kind, int n, uint64_t bytes)
{
    int ranks[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    coll_plan *c = NULL;
    double t;
    assert_int_equal(coll_plan_new(&c, p, kind, ranks, n, bytes, NULL), SP_OK);
    t = kind == COLL_ALL_TO_ALL ? coll_plan_alpha_beta_s(c) : coll_plan_model_us(c) * 1e-6;
    coll_plan_free(c);
    return t;
}

/* LoRA adapters under TP (NeMo's ParallelLinearAdapter), per layer and
 * micro-batch: the QKV adapter all-gathers its tok x r output forward and
 * all-reduces the tok x r input gradient of its up-projection backward;
 * the projection's adapter all-reduces tok x r forward and backward and
 * returns its tok x h/tp output to the sequence shards each way, by an
 * all-gather of tok x h or, with lora_a2a, an all-to-all of tok x h/tp.
 * None in full training or at TP 1; adapters apart each their own; none
 * for the experts' adapters; tok is the CP shard; full recompute repeats
 * the forward's. Under TP overlap the QKV layer's forward gather stays
 * whole, and the first FFN layer's adapter gathers its own input (forward)
 * and reduce-scatters its gradient (backward), the layer's own exchanges
 * overlapped. The estimate charges each exchange at NCCL's model time. */
static void test_train__lora_tp_colls(void **state)
{
    fixture *f = *state;
    train_config c = config(2, 1, 4, 1, 2048, 4);
    const int n = 32 * 4; /* layers x micro-batches */
    const uint64_t tok = 2048, h = 4096, r = 16;
    double t_gather, t_a2a, want;
    int found = 0;
    model *moe;
    wl *w;

    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "lora"), 0);
    wl_free(w);
    c.l.tune = MODEL_TRAIN_LORA;
    c.l.lora_targets = MODEL_LORA_QKV | MODEL_LORA_PROJ;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(wl_check(w, f->p->nranks, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "lora all_gather r"), n);
    assert_int_equal(count_named(w, 0, "lora all_reduce r"), n);
    assert_int_equal(count_named(w, 0, "lora all_reduce dgrad"), 2 * n);
    assert_int_equal(count_named(w, 0, "lora all_gather out"), 2 * n);
    assert_int_equal(count_named(w, 0, "lora all_to_all"), 0);
    assert_int_equal(count_named(w, 0, "lora all_gather in"), 0); /* no TP overlap: TE gathers */
    assert_int_equal(bytes_named(w, "lora all_gather r"), tok * r * 2);
    assert_int_equal(bytes_named(w, "lora all_reduce"), tok * r * 2);
    assert_int_equal(bytes_named(w, "lora all_gather out"), tok * h * 2);
    wl_free(w);
    assert_int_equal(train_estimate(f->m8, f->p, &c, NULL, &t_gather, f->d), SP_OK);

    c.lora_a2a = true;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "lora all_gather out"), 0);
    assert_int_equal(count_named(w, 0, "lora all_to_all"), 2 * n);
    assert_int_equal(bytes_named(w, "lora all_to_all"), tok * h * 2 / 2);
    wl_free(w);
    /* The estimate's difference: one exchange each way per layer and
     * micro-batch, all-gather against all-to-all (no pipeline, no bubble). */
    assert_int_equal(train_estimate(f->m8, f->p, &c, NULL, &t_a2a, f->d), SP_OK);
    want = 2.0 * n * (coll_s(f->p, COLL_ALL_GATHER, 2, tok * h * 2) - coll_s(f->p, COLL_ALL_TO_ALL, 2, tok * h));
    near_rel(t_gather - t_a2a, want, 1e-6);
    assert_true(want > 0.0);

    /* Adapters apart on q, k, v: three of QKV's each. */
    c.l.lora_targets = MODEL_LORA_Q | MODEL_LORA_K | MODEL_LORA_V;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "lora all_gather r"), 3 * n);
    assert_int_equal(count_named(w, 0, "lora all_reduce dgrad"), 3 * n);
    assert_int_equal(count_named(w, 0, "lora all_to_all"), 0);
    wl_free(w);
    /* Every layer adapted: the first FFN layer's adapter as QKV's, the
     * second's as the projection's. */
    c.l.lora_targets = MODEL_LORA_ALL;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "lora all_gather r"), 2 * n);
    assert_int_equal(count_named(w, 0, "lora all_reduce dgrad"), 4 * n);
    assert_int_equal(count_named(w, 0, "lora all_to_all"), 4 * n);
    wl_free(w);
    /* Full recompute repeats the forward's. */
    c.l.recompute = MODEL_RECOMPUTE_FULL;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "lora all_gather r"), 2 * 2 * n);
    assert_int_equal(count_named(w, 0, "lora all_reduce r"), 2 * 2 * n);
    assert_int_equal(count_named(w, 0, "lora all_to_all"), 2 * 2 * n + 2 * n);
    wl_free(w);
    c.l.recompute = MODEL_RECOMPUTE_NONE;

    /* TP overlap: attention's forward gather whole, the FFN's by the ring,
     * its adapter's input gathered apart; forward the reduce-scatters
     * pipelined; backward the output gradients by the ring and, the
     * weights frozen, the input gradients' reduce-scatters after the input
     * gradient, into which the adapters' go (after their collectives). */
    c.tp_overlap = true;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(wl_check(w, f->p->nranks, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "tp all_gather ring"), 3 * n);
    assert_int_equal(count_named(w, 0, "tp reduce_scatter pipelined"), 2 * n);
    assert_int_equal(count_named(w, 0, "tp all_gather input"), 0);
    /* (and the output layer's, one per micro-batch) */
    assert_int_equal(count_named(w, 0, "tp all_gather"), 4 * n + 4);
    assert_int_equal(count_named(w, 0, "tp reduce_scatter"), 6 * n + 4);
    assert_int_equal(count_named(w, 0, "lora all_gather in"), n);
    assert_int_equal(count_named(w, 0, "lora reduce_scatter in"), n);
    assert_int_equal(bytes_named(w, "lora all_gather in"), tok * h * 2);
    assert_int_equal(bytes_named(w, "lora reduce_scatter in"), tok * h * 2);
    for (size_t i = 0; i < w->ranks[0].nops; i++) {
        const wl_op *op = &w->ranks[0].ops[i];
        if (strcmp(op->name, "L0 attn fwd qkv") == 0 && !found) {
            assert_int_equal(op->ndeps, 1);
            assert_string_equal(w->ranks[0].ops[op->deps[0]].name, "L0 tp all_gather");
            assert_int_equal(w->ranks[0].ops[op->deps[0]].bytes, tok * h * 2);
            found = 1;
        }
        /* QKV's input gradient after the adapters' collectives, the QKV
         * adapter's last (the block's backward runs it last); the
         * reduce-scatter after it. */
        if (strcmp(op->name, "L0 attn bwd qkv dgrad") == 0 && found == 1) {
            assert_true(waits_for(w, op, "L0 lora all_reduce dgrad col"));
            assert_string_equal(w->ranks[0].ops[i + 1].name, "L0 tp reduce_scatter");
            assert_true(waits_for(w, &w->ranks[0].ops[i + 1], "L0 attn bwd qkv dgrad"));
            found = 2;
        }
    }
    assert_int_equal(found, 2);
    wl_free(w);
    c.tp_overlap = false;

    /* FP8: the QKV layer hands its norm's output to its adapters and so
     * gathers it in bf16; the FFN layer's input and the output gradients
     * are gathered in FP8. In order: attention's and the FFN's forward
     * gathers, then the FFN's and attention's output gradients. */
    c.prec = PLAT_FP8;
    c.l.lora_targets = MODEL_LORA_QKV | MODEL_LORA_PROJ;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    {
        const uint64_t fp8_want[4] = {tok * h * 2, tok * h, tok * h, tok * h};
        int k = 0;
        for (size_t i = 0; i < w->ranks[0].nops && k < 4; i++)
            if (strcmp(w->ranks[0].ops[i].name, "L0 tp all_gather") == 0) {
                assert_int_equal(w->ranks[0].ops[i].bytes, fp8_want[k]);
                k++;
            }
        assert_int_equal(k, 4);
    }
    wl_free(w);
    c.prec = PLAT_BF16;
    c.l.lora_targets = MODEL_LORA_ALL;

    /* Context parallelism: the rank's tokens are its CP shard. */
    c.l.cp = 2;
    c.l.dp = 2;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(bytes_named(w, "lora all_gather r"), tok / 2 * r * 2);
    assert_int_equal(bytes_named(w, "lora all_to_all"), tok / 2 * h * 2 / 2);
    wl_free(w);
    c.l.cp = 1;

    /* A mixture of experts: attention's adapters only (the experts take
     * their tokens without TP). */
    assert_int_equal(model_load(&moe, MODELS "/qwen3-30b-a3b.cfg", f->d), SP_OK);
    c.l.dp = 4;
    assert_int_equal(train_build(&w, moe, f->p, &c, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "lora all_gather r"), 48 * 4);
    assert_int_equal(count_named(w, 0, "lora all_to_all"), 2 * 48 * 4);
    wl_free(w);
    model_free(moe);

    c.l.tp = 1;
    c.l.dp = 8;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "lora"), 0);
    wl_free(w);
}

static void test_train__bad_layouts(void **state)
{
    fixture *f = *state;
    train_config c = config(3, 1, 2, 1, 2048, 1);
    wl *w;

    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_EINPUT);
    assert_null(w);
    assert_true(has_message(f->d, "TP 3 does not divide Llama 3 8B's 32 attention heads and 8 key/value heads"));
    assert_true(has_message(f->d, "= 6 GPUs, but the platform has 8"));
    c = config(1, 2, 4, 1, 2048, 3);
    c.l.vpp = 2;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "multiples of PP"));
    c = config(1, 2, 4, 1, 2048, 2);
    c.l.zero = 3;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "ZeRO-3 without pipeline"));
    c = config(1, 1, 8, 1, 2048, 1);
    c.prec = PLAT_FP4; /* H100 has no FP4 */
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "no fp4 peak rate"));
    c = config(1, 1, 8, 1, 2048, 1);
    c.lora_a2a = true; /* full training */
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "lora_a2a applies to LoRA / QLoRA"));
    /* A column-parallel adapter splits its rank over TP (NeMo's
     * ColumnParallelLinear): rank 4 at TP 8 cannot run; on the projection
     * alone (row-parallel) it can, and rank 16 can anywhere. */
    c = config(8, 1, 1, 1, 2048, 1);
    c.l.tune = MODEL_TRAIN_LORA;
    c.l.lora_rank = 4;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    assert_true(has_message(f->d, "LoRA rank 4 is not a multiple of TP 8"));
    c.l.lora_targets = MODEL_LORA_PROJ;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_OK);
    c.l.lora_targets = 0;
    c.l.lora_rank = 16;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_OK);
}

/* Context parallelism's ring (cp_comm p2p) as Transformer Engine runs it,
 * CP 4 on one DGX H100: no all-gather or reduce-scatter of the keys and
 * values; forward, CP - 1 send/recv exchanges of a rank's keys and values
 * (together, what the all-gather brings a rank), on a stream of their own,
 * each beside a step's kernel, which the next
 * step waits for, from the third on also after the kernel two steps back
 * (the same stream); backward, the keys and values, then with their
 * gradients (twice the bytes), then the gradients alone, each leaving with
 * a step and after the previous step's sum, the pass waiting for the last.
 * The block's compute and the steps' kernels add up to the layer's time. */
static void test_train__ring_exchanges(void **state)
{
    fixture *f = *state;
    train_config c = config(1, 1, 2, 1, 8192, 2);
    train_gemm l[TRAIN_MAX_GEMMS];
    train_layer_time t;
    const wl_op *op;
    double fwd = 0.0, bwd = 0.0;
    uint64_t kv = (uint64_t)(2.0 * 8192 * 1024 * 2.0) / 4; /* K and V of a rank's quarter, bf16 */
    char name[64];
    wl *w;

    c.l.cp = 4;
    c.cp_comm = TRAIN_CP_P2P;
    assert_true(train_attention_blocks_measured(&f->p->types[0].gpu));
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(wl_check(w, f->p->nranks, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "cp kv all_gather"), 0);
    assert_int_equal(count_named(w, 0, "cp kv reduce_scatter"), 0);
    assert_int_equal(count_named(w, 0, "cp ring fwd kv"), 32 * 2 * 3);
    assert_int_equal(count_named(w, 0, "cp ring bwd"), 32 * 2 * 4);
    assert_int_equal(bytes_named(w, "cp ring fwd kv"), kv);
    assert_int_equal(bytes_named(w, "cp ring bwd kv 0"), kv);
    assert_int_equal(bytes_named(w, "cp ring bwd kv+dkv"), 2 * kv);
    assert_int_equal(bytes_named(w, "cp ring bwd dkv 3"), kv);
    for (size_t i = 0; i < w->ranks[0].nops; i++) {
        op = &w->ranks[0].ops[i];
        if (strstr(op->name, "cp ring") != NULL && op->kind == WL_COLL) {
            assert_int_equal(op->coll, COLL_SEND_RECV);
            assert_int_equal(w->groups[op->group].n, 4);
            assert_int_equal(op->stream, WL_STREAM_CP);
        }
    }
    op = find_op(w, 0, "L5 attn fwd step 1");
    assert_non_null(op);
    assert_true(waits_for(w, op, "L5 attn fwd step 0") && waits_for(w, op, "L5 cp ring fwd kv 0"));
    op = find_op(w, 0, "L5 cp ring fwd kv 0");
    assert_true(waits_for(w, op, "L5 attn fwd"));
    op = find_op(w, 0, "L5 cp ring fwd kv 1");
    assert_true(op->ndeps == 1 && waits_for(w, op, "L5 cp ring fwd kv 0"));
    op = find_op(w, 0, "L5 cp ring fwd kv 2");
    assert_true(waits_for(w, op, "L5 cp ring fwd kv 1") && waits_for(w, op, "L5 attn fwd step 0"));
    op = find_op(w, 0, "L5 cp ring bwd kv+dkv 1");
    assert_true(waits_for(w, op, "L5 cp ring bwd kv 0") && waits_for(w, op, "L5 attn bwd step 0"));
    op = find_op(w, 0, "L5 attn bwd step 3");
    assert_true(waits_for(w, op, "L5 cp ring bwd kv+dkv 2"));
    op = find_op(w, 0, "L5 cp ring dkv wait");
    assert_true(waits_for(w, op, "L5 cp ring bwd dkv 3") && waits_for(w, op, "L5 attn bwd step 3"));
    assert_true(waits_for(w, find_op(w, 0, "L5 cp ring bwd kv 0"), "L5 attn bwd"));
    op = find_op(w, 0, "L5 cp ring bwd dkv 3");
    assert_true(waits_for(w, op, "L5 cp ring bwd kv+dkv 2") && waits_for(w, op, "L5 attn bwd step 2"));
    /* The causal kernel is the forward's step 0 and the backward's last;
     * the blocks are alike. */
    assert_true(find_op(w, 0, "L5 attn fwd step 0")->duration_s != find_op(w, 0, "L5 attn fwd step 1")->duration_s);
    assert_true(find_op(w, 0, "L5 attn bwd step 3")->duration_s != find_op(w, 0, "L5 attn bwd step 0")->duration_s);
    for (int i = 2; i < 4; i++) {
        snprintf(name, sizeof(name), "L5 attn fwd step %d", i);
        assert_true(find_op(w, 0, name)->duration_s == find_op(w, 0, "L5 attn fwd step 1")->duration_s);
        snprintf(name, sizeof(name), "L5 attn bwd step %d", i - 1);
        assert_true(find_op(w, 0, name)->duration_s == find_op(w, 0, "L5 attn bwd step 0")->duration_s);
    }
    /* The first micro-batch's layer 5, forward and backward. */
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "L5 attn fwd step %d", i);
        fwd += find_op(w, 0, name)->duration_s;
        snprintf(name, sizeof(name), "L5 attn bwd step %d", i);
        bwd += find_op(w, 0, name)->duration_s;
    }
    train_gemms(f->m8, f->p, &c, l, &t);
    near_rel(fwd, t.attention_fwd_s, 1e-12);
    near_rel(bwd, t.attention_bwd_s, 1e-12);
    near_rel(find_op(w, 0, "L5 attn fwd")->duration_s + fwd + find_op(w, 0, "L5 mlp fwd")->duration_s, t.fwd_s, 1e-12);
    near_rel(find_op(w, 0, "L5 attn bwd")->duration_s + bwd + find_op(w, 0, "L5 mlp bwd")->duration_s, t.bwd_s, 1e-12);
    wl_free(w);
    /* TP 2 with its communication overlapped, and full recompute: the ring
     * inside the TP block, the recomputed forward's ring named so, the
     * TP collectives on their own stream. */
    c = config(2, 1, 1, 1, 8192, 2);
    c.l.cp = 4;
    c.cp_comm = TRAIN_CP_P2P;
    c.tp_overlap = true;
    c.l.recompute = MODEL_RECOMPUTE_FULL;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(wl_check(w, f->p->nranks, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "cp ring fwd kv"), 32 * 2 * 3);
    assert_int_equal(count_named(w, 0, "cp ring recompute kv"), 32 * 2 * 3);
    assert_int_equal(count_named(w, 0, "attn recompute step"), 32 * 2 * 4);
    assert_true(waits_for(w, find_op(w, 0, "L5 cp ring fwd kv 0"), "L5 attn fwd"));
    assert_true(waits_for(w, find_op(w, 0, "L5 attn fwd"), "L5 attn fwd qkv chunk 2"));
    for (size_t i = 0; i < w->ranks[0].nops; i++)
        if (strstr(w->ranks[0].ops[i].name, "tp ") != NULL)
            assert_int_equal(w->ranks[0].ops[i].stream, WL_STREAM_COMM);
    wl_free(w);
}

/* Context parallelism's all-to-all (cp_comm a2a), CP 2 on one DGX H100:
 * the queries, keys and values of the rank's sequence shard out to heads /
 * CP of its heads over the whole sequence, the kernel, the output back;
 * backward the output and its gradient in, the three gradients out; each
 * after the work before it and before the work after it, on the CP
 * group's stream. The kernel is the whole sequence's, causal, at the
 * efficiency of half the heads (all_gather: all the heads), the same
 * FLOPs; each tensor exchanged is copied twice, read and written; the
 * block's compute, the kernel and the FFN add up to the layer's time.
 * Under TP overlap and full recompute, the TP collectives keep their own
 * stream and the recomputed kernel is named so. Without CP, or with
 * unfused attention, refused. */
static void test_train__cp_all_to_all(void **state)
{
    fixture *f = *state;
    plat_gpu *g = &f->p->types[0].gpu, saved = *g;
    plat_attn_shape shapes[] = {
        {8192, 8192, 32, 128, true, 0.40, 0.30},
        {8192, 8192, 16, 128, true, 0.50, 0.35},
    };
    train_config c = config(1, 1, 4, 1, 8192, 2);
    double peak = g->peak_flops[PLAT_BF16], bw = g->mem_bw_Bps * g->eff_memory;
    double flops = 4.0 * 4096 * 8192 * 4096 * 0.5, ag_fwd, ag_bwd, ag_core_fwd, ag_core_bwd;
    uint64_t qkv = (uint64_t)2 * 4096 * (4096 + 2 * 1024), out = (uint64_t)2 * 4096 * 4096;
    train_gemm l[TRAIN_MAX_GEMMS];
    train_layer_time t;
    const wl_op *op;
    wl *w;

    g->attn_shapes = shapes;
    g->nattn_shapes = 2;
    c.l.cp = 2;
    /* all_gather first: its block, kernel included. */
    train_gemms(f->m8, f->p, &c, l, &t);
    near_rel(t.attention_fwd_s, flops / (peak * 0.40), 1e-9);
    ag_core_fwd = t.attention_fwd_s;
    ag_core_bwd = t.attention_bwd_s;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    ag_fwd = find_op(w, 0, "L5 attn fwd")->duration_s;
    ag_bwd = find_op(w, 0, "L5 attn bwd")->duration_s;
    wl_free(w);

    c.cp_comm = TRAIN_CP_A2A;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_OK);
    train_gemms(f->m8, f->p, &c, l, &t);
    near_rel(t.attention_fwd_s, flops / (peak * 0.50), 1e-9);
    near_rel(t.attention_bwd_s, 2.5 * flops / (peak * 0.35), 1e-9);
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(wl_check(w, f->p->nranks, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "cp kv"), 0);
    assert_int_equal(count_named(w, 0, "cp all_to_all fwd qkv"), 32 * 2);
    assert_int_equal(count_named(w, 0, "cp all_to_all bwd dqkv"), 32 * 2);
    assert_int_equal(bytes_named(w, "cp all_to_all fwd qkv"), qkv);
    assert_int_equal(bytes_named(w, "cp all_to_all fwd out"), out);
    assert_int_equal(bytes_named(w, "cp all_to_all bwd out+dout"), 2 * out);
    assert_int_equal(bytes_named(w, "cp all_to_all bwd dqkv"), qkv);
    for (size_t i = 0; i < w->ranks[0].nops; i++) {
        op = &w->ranks[0].ops[i];
        if (strstr(op->name, "cp all_to_all") != NULL) {
            assert_int_equal(op->coll, COLL_ALL_TO_ALL);
            assert_int_equal(w->groups[op->group].n, 2);
            assert_int_equal(op->stream, WL_STREAM_CP);
        }
    }
    op = find_op(w, 0, "L5 attn fwd core");
    assert_true(op->ndeps == 1 && waits_for(w, op, "L5 cp all_to_all fwd qkv"));
    near_rel(op->duration_s, t.attention_fwd_s, 1e-12);
    assert_true(waits_for(w, find_op(w, 0, "L5 cp all_to_all fwd qkv"), "L5 attn fwd"));
    assert_true(waits_for(w, find_op(w, 0, "L5 cp all_to_all fwd out"), "L5 attn fwd core"));
    assert_true(waits_for(w, find_op(w, 0, "L5 mlp fwd"), "L5 cp all_to_all fwd out"));
    assert_true(waits_for(w, find_op(w, 0, "L5 attn bwd core"), "L5 cp all_to_all bwd out+dout"));
    assert_true(waits_for(w, find_op(w, 0, "L5 cp all_to_all bwd dqkv"), "L5 attn bwd core"));
    /* The rest of the block: all_gather's less its kernel, plus the copies. */
    near_rel(find_op(w, 0, "L5 attn fwd")->duration_s, ag_fwd - ag_core_fwd + 4.0 * (double)(qkv + out) / bw, 1e-9);
    near_rel(find_op(w, 0, "L5 attn bwd")->duration_s, ag_bwd - ag_core_bwd + 4.0 * (double)(qkv + 2 * out) / bw,
             1e-9);
    near_rel(find_op(w, 0, "L5 attn fwd")->duration_s + op->duration_s + find_op(w, 0, "L5 mlp fwd")->duration_s,
             t.fwd_s, 1e-12);
    wl_free(w);

    c = config(2, 1, 2, 1, 8192, 2);
    c.l.cp = 2;
    c.cp_comm = TRAIN_CP_A2A;
    c.tp_overlap = true;
    c.l.recompute = MODEL_RECOMPUTE_FULL;
    assert_int_equal(train_build(&w, f->m8, f->p, &c, f->d), SP_OK);
    assert_int_equal(wl_check(w, f->p->nranks, f->d), SP_OK);
    assert_int_equal(count_named(w, 0, "attn recompute core"), 32 * 2);
    assert_int_equal(count_named(w, 0, "cp all_to_all recompute qkv"), 32 * 2);
    for (size_t i = 0; i < w->ranks[0].nops; i++) {
        op = &w->ranks[0].ops[i];
        if (strstr(op->name, "tp ") != NULL)
            assert_int_equal(op->stream, WL_STREAM_COMM);
        if (strstr(op->name, "cp all_to_all") != NULL)
            assert_int_equal(op->stream, WL_STREAM_CP);
    }
    wl_free(w);

    *g = saved;
    c = config(1, 1, 4, 1, 8192, 2);
    c.l.cp = 2;
    c.cp_comm = TRAIN_CP_A2A;
    c.l.flash_attention = false;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
    c.l.flash_attention = true;
    c.l.cp = 1;
    c.l.dp = 8;
    assert_int_equal(train_check(f->m8, f->p, &c, f->d), SP_EINPUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train__gemm_roofline_and_waves),
        cmocka_unit_test(test_train__gemm_shapes),
        cmocka_unit_test(test_train__gemm_list),
        cmocka_unit_test(test_train__attention_shapes),
        cmocka_unit_test(test_train__ring_attention),
        cmocka_unit_test(test_train__ring_exchanges),
        cmocka_unit_test(test_train__cp_all_to_all),
        cmocka_unit_test(test_train__stage_layers),
        cmocka_unit_test(test_train__model_flops),
        cmocka_unit_test(test_train__layout_and_graph),
        cmocka_unit_test(test_train__interleaved_order),
        cmocka_unit_test(test_train__embedding_alone),
        cmocka_unit_test(test_train__interleaved_memory),
        cmocka_unit_test(test_train__fold),
        cmocka_unit_test(test_train__recompute_and_lora),
        cmocka_unit_test(test_train__dropout),
        cmocka_unit_test(test_train__learned_positions),
        cmocka_unit_test(test_train__fp8_casts),
        cmocka_unit_test(test_train__loss),
        cmocka_unit_test(test_train__pure_bf16),
        cmocka_unit_test(test_train__moe),
        cmocka_unit_test(test_train__moe_imbalance),
        cmocka_unit_test(test_train__moe_capacity),
        cmocka_unit_test(test_train__estimate_expert_states),
        cmocka_unit_test(test_train__estimate_expert_grads),
        cmocka_unit_test(test_train__estimate_bucket_tail),
        cmocka_unit_test(test_train__pipeline_schedule),
        cmocka_unit_test(test_train__fp8_params),
        cmocka_unit_test(test_train__lora_dropout),
        cmocka_unit_test(test_train__lora_tp_colls),
        cmocka_unit_test(test_train__tp_overlap),
        cmocka_unit_test(test_train__estimate_collnet),
        cmocka_unit_test(test_train__bad_layouts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

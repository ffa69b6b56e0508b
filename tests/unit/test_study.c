/* test_study.c - study files, the parallelism search, economics and the
 * recommendation (no simulation: tokens/s are given). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "study/study.h"
#include "unit_helpers.h"

#define STUDY FIXTURES "/../../data/studies/small.cfg"

static void near_rel(double got, double want, double rel)
{
    if (fabs(got - want) > rel * fabs(want))
        fail_msg("got %.9g, want %.9g (+-%g relative)", got, want, rel);
}

static void test_study__load(void **state)
{
    diag_list *d = *state;
    study *s;

    assert_int_equal(study_load(&s, STUDY, d), SP_OK);
    assert_int_equal(s->njobs, 2);
    assert_int_equal(s->nrungs, 3);
    assert_int_equal(s->jobs[0].tune, MODEL_TRAIN_LORA);
    assert_int_equal(s->jobs[0].lora_rank, 16);
    assert_int_equal(s->jobs[0].lora_targets, MODEL_LORA_QKV | MODEL_LORA_PROJ);
    assert_int_equal(s->jobs[1].lora_targets, MODEL_LORA_ALL); /* the default */
    assert_int_equal(s->rungs[1].p->nranks, 2);
    assert_int_equal(s->rungs[2].p->nranks, 8);
    assert_string_equal(s->owned_node, "DGX Spark");
    study_free(s);
}

/* Economics: the owned Spark is not bought again; days, cloud and energy
 * follow from tokens/s; a rung where nothing fits has no days. */
static void test_study__economics(void **state)
{
    diag_list *d = *state;
    study *s;
    study_outcome o;
    double tps = 1000.0, hours = 1e6 / tps / 3600.0;

    assert_int_equal(study_load(&s, STUDY, d), SP_OK);
    study_economics(s, 0, 0, tps, &o);
    assert_true(o.fits);
    near_rel(o.capex_USD + 1.0, 1.0, 1e-12); /* owned */
    near_rel(o.days, hours / 24.0, 1e-12);
    near_rel(o.energy_kWh, 240.0 * hours / 1000.0, 1e-12);
    near_rel(o.electricity_USD, o.energy_kWh * 0.10, 1e-12);
    study_economics(s, 0, 1, tps, &o);
    near_rel(o.capex_USD, 3999.0, 1e-12); /* one more Spark */
    study_economics(s, 0, 2, tps, &o);
    near_rel(o.capex_USD, 199000.0, 1e-12);
    near_rel(o.cloud_USD, 3.0 * 8 * hours, 1e-12);
    near_rel(o.energy_kWh, 10200.0 * hours / 1000.0, 1e-12);
    study_economics(s, 1, 0, 0.0, &o);
    assert_false(o.fits);
    assert_true(o.days == 0.0);
    study_free(s);
}

/* The recommendation: the cheapest rung that meets the deadline; without
 * a deadline the fastest; the Pareto front excludes a rung that another
 * beats on both cost and time. */
static void test_study__recommend(void **state)
{
    diag_list *d = *state;
    study *s;
    study_outcome o[3];

    assert_int_equal(study_load(&s, STUDY, d), SP_OK);
    /* Job 0 (deadline 0.05 d = 72 min for 1e6 tokens): 1 x Spark at 100
     * tokens/s takes 2.8 h (too slow), 2 x Spark at 400 takes 42 min. */
    study_economics(s, 0, 0, 100.0, &o[0]);
    study_economics(s, 0, 1, 400.0, &o[1]);
    study_economics(s, 0, 2, 1e5, &o[2]);
    assert_int_equal(study_recommend(s, 0, o), 1);
    assert_true(o[1].recommended && !o[0].recommended && !o[2].recommended);
    assert_true(o[0].pareto && o[1].pareto && o[2].pareto);
    /* Job 1, no deadline: the fastest. 2 x Spark slower than 1 x Spark: off the front. */
    study_economics(s, 1, 0, 500.0, &o[0]);
    study_economics(s, 1, 1, 400.0, &o[1]);
    study_economics(s, 1, 2, 1e5, &o[2]);
    assert_int_equal(study_recommend(s, 1, o), 2);
    assert_false(o[1].pareto);
    /* Nothing fits anywhere. */
    for (int i = 0; i < 3; i++)
        study_economics(s, 1, (size_t)i, 0.0, &o[i]);
    assert_int_equal(study_recommend(s, 1, o), -1);
    study_free(s);
}

/* The search: a full fine-tune of 8B does not fit one Spark (the least it
 * needs is reported, over 128 GB); on a DGX H100 the layouts that fit come
 * best estimate first, each within memory, each a valid layout. */
static void test_study__search(void **state)
{
    diag_list *d = *state;
    study *s;
    study_candidate *c, least;
    size_t n;

    assert_int_equal(study_load(&s, STUDY, d), SP_OK);
    assert_int_equal(study_search(&s->jobs[1], s->rungs[0].p, NULL, &c, &n, &least, d), SP_OK);
    assert_int_equal(n, 0);
    assert_true(least.mem.total > 128e9);
    free(c);
    assert_int_equal(study_search(&s->jobs[1], s->rungs[2].p, NULL, &c, &n, &least, d), SP_OK);
    assert_true(n > 10);
    for (size_t i = 0; i < n; i++) {
        const model_layout *l = &c[i].c.l;
        assert_true(c[i].mem.total <= 80e9);
        assert_int_equal(l->tp * l->pp * l->dp, 8);
        assert_int_equal(l->micro_batch * l->microbatches * l->dp, 8);
        assert_int_equal(train_check(s->jobs[1].m, s->rungs[2].p, &c[i].c, d), SP_OK);
        if (i > 0)
            assert_true(c[i - 1].estimate_s <= c[i].estimate_s);
    }
    free(c);
    study_free(s);
}

/* A job's tp_overlap, sm_contention and moe_imbalance reach every candidate; the imbalance
 * is capped at the layout's EP (the busiest rank takes at most every token)
 * and means nothing without EP. */
static void test_study__moe_options(void **state)
{
    diag_list *d = *state;
    study *s;
    study_candidate *c, least;
    size_t n;
    int with_ep = 0;

    assert_int_equal(study_load(&s, FIXTURES "/../../data/studies/moe.cfg", d), SP_OK);
    assert_true(s->jobs[0].tp_overlap);
    assert_true(s->jobs[0].sms_free);
    near_rel(s->jobs[0].moe_imbalance, 3.0, 1e-12);
    assert_int_equal(study_search(&s->jobs[0], s->rungs[0].p, NULL, &c, &n, &least, d), SP_OK);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        int ep = c[i].c.l.ep;
        assert_true(c[i].c.tp_overlap);
        assert_true(c[i].c.sms_free);
        if (ep > 1) {
            near_rel(c[i].c.moe_imbalance, ep < 3 ? ep : 3.0, 1e-12);
            with_ep++;
        } else {
            assert_true(c[i].c.moe_imbalance == 0.0);
        }
        assert_int_equal(train_check(s->jobs[0].m, s->rungs[0].p, &c[i].c, d), SP_OK);
    }
    assert_true(with_ep > 0);
    free(c);
    study_free(s);
}

/* A LoRA job's lora_a2a reaches every candidate, and the search skips the
 * TP sizes that do not divide the adapters' rank (NeMo splits it over TP;
 * train_check refuses them, the search drops what it refuses): at rank 2
 * on a DGX H100, TP 1 and 2 only. */
static void test_study__lora_rank_tp(void **state)
{
    diag_list *d = *state;
    study *s;
    study_candidate *c, least;
    size_t n;
    int tp2 = 0;

    assert_int_equal(study_load(&s, FIXTURES "/../../data/studies/fp8_params.cfg", d), SP_OK);
    assert_true(s->jobs[0].lora_a2a);
    s->jobs[0].lora_rank = 2;
    assert_int_equal(study_search(&s->jobs[0], s->rungs[0].p, NULL, &c, &n, &least, d), SP_OK);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        assert_true(c[i].c.lora_a2a);
        assert_true(c[i].c.l.tp <= 2);
        tp2 += c[i].c.l.tp == 2;
        assert_int_equal(train_check(s->jobs[0].m, s->rungs[0].p, &c[i].c, d), SP_OK);
    }
    assert_true(tp2 > 0);
    free(c);
    study_free(s);
}

/* A job's capacity factor and padding reach every candidate, and each
 * candidate's memory counts the load they give its busiest EP rank. */
static void test_study__moe_capacity(void **state)
{
    diag_list *d = *state;
    study *s;
    study_candidate *c, least;
    size_t n;

    assert_int_equal(study_load(&s, FIXTURES "/../../data/studies/moe_capacity.cfg", d), SP_OK);
    near_rel(s->jobs[0].moe_capacity, 1.25, 1e-12);
    assert_true(s->jobs[0].moe_pad);
    assert_int_equal(study_search(&s->jobs[0], s->rungs[0].p, NULL, &c, &n, &least, d), SP_OK);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        near_rel(c[i].c.moe_capacity, 1.25, 1e-12);
        assert_true(c[i].c.moe_pad);
        near_rel(c[i].c.l.moe_load, train_moe_load(s->jobs[0].m, &c[i].c, NULL), 1e-12);
        near_rel(c[i].c.l.moe_load, 1.25, 1e-3); /* padded to the capacity, within its rounding up */
        assert_int_equal(train_check(s->jobs[0].m, s->rungs[0].p, &c[i].c, d), SP_OK);
    }
    free(c);
    study_free(s);
    assert_int_equal(study_load(&s, FIXTURES "/../../bad/study/moe-capacity.cfg", d), SP_EINPUT);
    assert_true(has_message(d, "moe-capacity.cfg:8: error: job: moe_capacity_factor for Llama 3 8B"));
    assert_true(has_message(d, "moe-capacity.cfg:10: error: job: moe_pad pads each expert's input"));
    assert_true(has_message(d, "moe-capacity.cfg:12: error: job: \"moe_capacity_factor\" must be > 0"));
    assert_null(s);
}

/* Context parallelism in the search (a job's context_parallel): CP 1, 2, 4
 * and 8 for a 64K-token LoRA job on a DGX H100, each layout whole (TP x CP
 * x PP x DP = 8, 2 x CP dividing the sequence) and valid, CP > 1 with the
 * job's method (Megatron-LM's default, p2p); at 64K the best estimate uses
 * CP, and is the estimate of its layout. Each method's estimate is a step
 * time (how close to the simulated one: e2e.study.context_parallel_h5).
 * Without context_parallel, CP 1 only; bad settings at their lines. */
static void test_study__context_parallel(void **state)
{
    diag_list *d = *state;
    study *s;
    study_candidate *c, least;
    size_t n;
    int seen[9] = {0};

    assert_int_equal(study_load(&s, FIXTURES "/../../data/studies/long_context.cfg", d), SP_OK);
    assert_int_equal(s->jobs[0].max_cp, 8);
    assert_int_equal(s->jobs[0].cp_comm, TRAIN_CP_P2P);
    assert_int_equal(s->jobs[1].cp_comm, TRAIN_CP_ALL_GATHER);
    assert_int_equal(s->jobs[2].cp_comm, TRAIN_CP_A2A);
    assert_int_equal(s->jobs[3].max_cp, 1);
    assert_int_equal(study_search(&s->jobs[0], s->rungs[0].p, NULL, &c, &n, &least, d), SP_OK);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        const model_layout *l = &c[i].c.l;
        assert_true(l->cp == 1 || l->cp == 2 || l->cp == 4 || l->cp == 8);
        seen[l->cp]++;
        assert_int_equal(l->tp * l->cp * l->pp * l->dp, 8);
        assert_int_equal(65536 % (2 * l->cp), 0);
        assert_int_equal(c[i].c.cp_comm, l->cp > 1 ? TRAIN_CP_P2P : TRAIN_CP_ALL_GATHER);
        assert_true(c[i].mem.total <= 80e9);
        assert_int_equal(train_check(s->jobs[0].m, s->rungs[0].p, &c[i].c, d), SP_OK);
    }
    assert_true(seen[2] > 0 && seen[4] > 0 && seen[8] > 0);
    assert_true(c[0].c.l.cp > 1);
    {
        train_config x = c[0].c;
        double t_p2p, t_ag, t_a2a;
        assert_int_equal(train_estimate(s->jobs[0].m, s->rungs[0].p, &x, NULL, &t_p2p, d), SP_OK);
        near_rel(t_p2p, c[0].estimate_s, 1e-12);
        x.cp_comm = TRAIN_CP_ALL_GATHER;
        assert_int_equal(train_estimate(s->jobs[0].m, s->rungs[0].p, &x, NULL, &t_ag, d), SP_OK);
        x.cp_comm = TRAIN_CP_A2A;
        assert_int_equal(train_estimate(s->jobs[0].m, s->rungs[0].p, &x, NULL, &t_a2a, d), SP_OK);
        assert_true(t_p2p > 0.0 && t_ag > 0.0 && t_a2a > 0.0);
        assert_true(t_ag != t_p2p && t_a2a != t_p2p); /* each method its own branch */
    }
    free(c);
    /* 8,196 tokens: 2 x CP divides them up to CP 2 only. */
    s->jobs[0].seq_len = 8196;
    assert_int_equal(study_search(&s->jobs[0], s->rungs[0].p, NULL, &c, &n, &least, d), SP_OK);
    memset(seen, 0, sizeof(seen));
    for (size_t i = 0; i < n; i++)
        seen[c[i].c.l.cp]++;
    assert_true(seen[1] > 0 && seen[2] > 0 && seen[4] == 0 && seen[8] == 0);
    free(c);
    /* a2a splits each TP rank's 8 / TP key/value heads over CP: at TP 4, CP 2
     * at most; at TP 8, none. */
    s->jobs[0].seq_len = 65536;
    s->jobs[0].cp_comm = TRAIN_CP_A2A;
    assert_int_equal(study_search(&s->jobs[0], s->rungs[0].p, NULL, &c, &n, &least, d), SP_OK);
    memset(seen, 0, sizeof(seen));
    for (size_t i = 0; i < n; i++) {
        const model_layout *l = &c[i].c.l;
        assert_int_equal((8 / l->tp) % l->cp, 0);
        if (l->cp > 1)
            assert_int_equal(c[i].c.cp_comm, TRAIN_CP_A2A);
        seen[l->cp]++;
    }
    assert_true(seen[2] > 0 && seen[8] > 0);
    free(c);
    /* Pretraining: the distributed optimizer shards over DP x CP, so at
     * CP 8 and DP 1 ZeRO 1-3 are layouts too. */
    s->jobs[0].cp_comm = TRAIN_CP_P2P;
    s->jobs[0].tune = MODEL_TRAIN_FULL;
    s->jobs[0].seq_len = 32768;
    assert_int_equal(study_search(&s->jobs[0], s->rungs[0].p, NULL, &c, &n, &least, d), SP_OK);
    {
        int sharded = 0;
        for (size_t i = 0; i < n; i++)
            sharded += c[i].c.l.cp == 8 && c[i].c.l.dp == 1 && c[i].c.l.zero >= 1;
        assert_true(sharded > 0);
    }
    free(c);
    assert_int_equal(study_search(&s->jobs[3], s->rungs[0].p, NULL, &c, &n, &least, d), SP_OK);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(c[i].c.l.cp, 1);
    free(c);
    study_free(s);
    assert_int_equal(study_load(&s, FIXTURES "/../../bad/study/context-parallel.cfg", d), SP_EINPUT);
    assert_null(s);
    assert_true(has_message(d, "context-parallel.cfg:9: error: job: context_parallel 3: expected a power of two"));
    assert_true(has_message(d, "context-parallel.cfg:11: error: job: cp_comm_type \"ring\": expected p2p, "
                               "all_gather or a2a"));
    assert_true(has_message(d, "context-parallel.cfg:13: error: job: cp_comm_type applies where the search "
                               "tries context parallelism"));
    assert_true(has_message(d, "context-parallel.cfg:15: error: job: context_parallel 2: CP splits each sequence "
                               "in 2 x CP chunks, and seq_len 8190 is not a multiple of 4"));
}

static void test_study__bad(void **state)
{
    diag_list *d = *state;
    study *s;

    assert_int_equal(study_load(&s, FIXTURES "/../../bad/study/bad-keys.cfg", d), SP_EINPUT);
    assert_null(s);
    assert_true(has_message(d, "bad-keys.cfg:6: error: job: mode \"sideways\""));
    assert_true(has_message(d, "bad-keys.cfg:10: error: job: unknown key \"colour\""));
    assert_true(has_message(d, "no-such-model.cfg: error: cannot read"));
    assert_true(has_message(d, "bad-keys.cfg:15: error: rung: \"nodes\" must be an integer"));
    assert_int_equal(study_load(&s, FIXTURES "/../../bad/study/truncated.cfg", d), SP_EINPUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_study__load, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_study__economics, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_study__recommend, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_study__search, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_study__moe_capacity, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_study__moe_options, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_study__lora_rank_tp, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_study__context_parallel, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_study__bad, diag_setup, diag_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

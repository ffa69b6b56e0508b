/* test_wl.c - the AICB reader and the workload checks, without SimGrid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "unit_helpers.h"
#include "wl/wl.h"

#define AICB FIXTURES "/../../data/aicb"

/* GPT-13B, TP 8 on 16 ranks: 2 TP groups of 8 consecutive ranks, 8 DP
 * groups of 2 (same TP index); the forward pass runs the layers in order,
 * its collectives in the TP group; weight-gradient collectives in DP. */
static void test_wl__aicb_gpt13b(void **state)
{
    diag_list *d = *state;
    wl *w;
    wl_aicb_opts o = {WL_TIME_NS, 1e9, 16};
    const wl_op *first_coll = NULL;

    assert_int_equal(wl_load_aicb(&w, AICB "/GPT13B_megatron_tp8_pp1_mbs1_A100.txt", &o, d), SP_OK);
    assert_int_equal(w->nranks, 16);
    assert_int_equal(w->nlayers, 92);
    assert_string_equal(w->layer_names[4], "attention_layer");
    for (size_t g = 0; g < w->ngroups; g++) {
        if (w->groups[g].name[0] == 't' && w->groups[g].ranks[0] == 8) {
            assert_int_equal(w->groups[g].n, 8);
            assert_int_equal(w->groups[g].ranks[7], 15);
        }
        if (w->groups[g].name[0] == 'd' && w->groups[g].name[1] == 'p' &&
            w->groups[g].name[2] == '3') {
            assert_int_equal(w->groups[g].n, 2);
            assert_int_equal(w->groups[g].ranks[1], 11);
        }
    }
    /* Rank 0's first operation: layer 0's forward compute (0 ns), then its broadcast. */
    assert_int_equal(w->ranks[0].ops[0].kind, WL_COMPUTE);
    for (size_t i = 0; i < w->ranks[0].nops && first_coll == NULL; i++)
        if (w->ranks[0].ops[i].kind == WL_COLL)
            first_coll = &w->ranks[0].ops[i];
    assert_non_null(first_coll);
    assert_int_equal(first_coll->coll, COLL_BROADCAST);
    assert_int_equal(first_coll->bytes, 16384);
    assert_int_equal(first_coll->stream, WL_STREAM_COMM);
    /* The attention layer's forward: 752,000 ns. */
    for (size_t i = 0; i < w->ranks[0].nops; i++)
        if (w->ranks[0].ops[i].layer == 4 && w->ranks[0].ops[i].kind == WL_COMPUTE) {
            assert_true(fabs(w->ranks[0].ops[i].duration_s - 752e-6) < 1e-15);
            break;
        }
    assert_int_equal(wl_check(w, 16, d), SP_OK);
    assert_int_equal(wl_check(w, 8, d), SP_EINPUT);
    wl_free(w);
}

/* A rank that issues a different collective than its group would deadlock
 * the replay: wl_check says so, at the workload line. */
static void test_wl__mismatch_is_reported(void **state)
{
    diag_list *d = *state;
    wl *w;
    wl_aicb_opts o = {WL_TIME_NS, 1e9, 4};

    assert_int_equal(wl_load_aicb(&w, AICB "/micro_all_reduce.txt", &o, d), SP_OK);
    for (size_t i = 0; i < w->ranks[2].nops; i++)
        if (w->ranks[2].ops[i].kind == WL_COLL) {
            w->ranks[2].ops[i].bytes *= 2;
            break;
        }
    assert_int_equal(wl_check(w, 4, d), SP_EINPUT);
    assert_true(has_message(d, "micro_all_reduce.txt:3: error: group dp0: rank 2 issues all_reduce of 8192 B "
                               "where rank 0 issues all_reduce of 4096 B"));
    wl_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wl__aicb_gpt13b, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_wl__mismatch_is_reported, diag_setup, diag_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_coll_tune.c - NCCL's tuning model against the worked examples of
 * shared/NCCL.md section 2.6 (NCCL 2.30.7 tuning.cc re-implemented there),
 * which are NCCL's own numbers for the same inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "coll/coll_tune.h"

static void near(double got, double want, double tol)
{
    if (fabs(got - want) > tol)
        fail_msg("got %.4f, want %.4f (+-%.4f)", got, want, tol);
}

/* 2 x DGX Spark: Blackwell (SM121), ARM, N = n = 2, graph 2 x 12 GB/s. */
static coll_tune spark_pair(coll_kind k)
{
    coll_tune t;
    coll_tune_in in = {k, 2, 2, 1, 121, false, true, 2, 12.0, false, 0, {0, 0.0, 0.0}, 0, true, false, false, {0, 0.0, 0.0, 0.0}};
    coll_tune_compute(&t, &in);
    return t;
}

static void test_tune__spark_pair_table(void **state)
{
    coll_tune ar = spark_pair(COLL_ALL_REDUCE), ag = spark_pair(COLL_ALL_GATHER);

    (void)state;
    /* AllReduce, lat us / algorithm bw GB/s. */
    near(ar.lat_us[COLL_ALGO_RING][COLL_PROTO_LL], 16.6, 1e-9);
    near(ar.bw_GBps[COLL_ALGO_RING][COLL_PROTO_LL], 12.0, 0.05);
    near(ar.lat_us[COLL_ALGO_RING][COLL_PROTO_LL128], 31.0, 1e-9);
    near(ar.bw_GBps[COLL_ALGO_RING][COLL_PROTO_LL128], 22.1, 0.05);
    near(ar.lat_us[COLL_ALGO_RING][COLL_PROTO_SIMPLE], 36.4, 1e-9);
    near(ar.bw_GBps[COLL_ALGO_RING][COLL_PROTO_SIMPLE], 24.0, 0.05);
    near(ar.lat_us[COLL_ALGO_TREE][COLL_PROTO_LL], 16.8, 1e-9);
    near(ar.bw_GBps[COLL_ALGO_TREE][COLL_PROTO_LL], 2.5, 0.05);
    near(ar.lat_us[COLL_ALGO_TREE][COLL_PROTO_LL128], 31.0, 1e-9);
    near(ar.bw_GBps[COLL_ALGO_TREE][COLL_PROTO_LL128], 8.8, 0.05);
    near(ar.lat_us[COLL_ALGO_TREE][COLL_PROTO_SIMPLE], 36.4, 1e-9);
    near(ar.bw_GBps[COLL_ALGO_TREE][COLL_PROTO_SIMPLE], 9.4, 0.05);
    /* AllGather. */
    near(ag.lat_us[COLL_ALGO_RING][COLL_PROTO_LL], 11.6, 1e-9);
    near(ag.bw_GBps[COLL_ALGO_RING][COLL_PROTO_LL], 24.0, 0.05);
    near(ag.lat_us[COLL_ALGO_RING][COLL_PROTO_LL128], 22.5, 1e-9);
    near(ag.bw_GBps[COLL_ALGO_RING][COLL_PROTO_LL128], 44.2, 0.05);
    near(ag.lat_us[COLL_ALGO_RING][COLL_PROTO_SIMPLE], 22.4, 1e-9);
    near(ag.bw_GBps[COLL_ALGO_RING][COLL_PROTO_SIMPLE], 48.0, 0.05);
    near(ag.lat_us[COLL_ALGO_PAT][COLL_PROTO_SIMPLE], 17.6, 1e-9);
    near(ag.bw_GBps[COLL_ALGO_PAT][COLL_PROTO_SIMPLE], 18.0, 0.05);
    assert_true(ar.bw_GBps[COLL_ALGO_PAT][COLL_PROTO_SIMPLE] == 0.0); /* no PAT all-reduce */
}

/* The first size (in 1 KiB steps) at which the choice is (a, p). */
static double switch_point_KiB(const coll_tune *t, coll_algo a, coll_proto p)
{
    for (uint64_t kib = 1; kib < (1u << 20); kib++) {
        coll_algo ca;
        coll_proto cp;
        if (coll_tune_select(t, kib << 10, ~0u, ~0u, &ca, &cp) == SP_OK && ca == a && cp == p)
            return (double)kib;
    }
    return -1.0;
}

static void test_tune__spark_pair_switch_points(void **state)
{
    coll_tune ar = spark_pair(COLL_ALL_REDUCE), ag = spark_pair(COLL_ALL_GATHER);
    coll_algo a;
    coll_proto p;

    (void)state;
    /* NCCL.md 2.6: AllReduce Ring LL -> LL128 at 373 KiB -> Simple at 5.3 MiB. */
    assert_int_equal(coll_tune_select(&ar, 8 << 10, ~0u, ~0u, &a, &p), SP_OK);
    assert_int_equal(a, COLL_ALGO_RING);
    assert_int_equal(p, COLL_PROTO_LL);
    near(switch_point_KiB(&ar, COLL_ALGO_RING, COLL_PROTO_LL128), 373, 373 * 0.03);
    near(switch_point_KiB(&ar, COLL_ALGO_RING, COLL_PROTO_SIMPLE), 5.3 * 1024, 5.3 * 1024 * 0.03);
    /* AllGather: Ring LL -> Simple at 512 KiB; PAT never wins. */
    near(switch_point_KiB(&ag, COLL_ALGO_RING, COLL_PROTO_SIMPLE), 512, 512 * 0.03);
    assert_true(switch_point_KiB(&ag, COLL_ALGO_PAT, COLL_PROTO_SIMPLE) < 0);
    /* Forcing a protocol, as NCCL_PROTO does. */
    assert_int_equal(coll_tune_select(&ar, 1 << 30, ~0u, 1u << COLL_PROTO_LL, &a, &p), SP_OK);
    assert_int_equal(p, COLL_PROTO_LL);
    assert_int_equal(coll_tune_select(&ag, 1 << 20, 1u << COLL_ALGO_TREE, ~0u, &a, &p), SP_EINPUT);
}

/* 8 x DGX Spark on a switch: N = n = 8, graph 2 x 12 GB/s (NCCL.md 2.6):
 * AllReduce Tree LL -> Tree LL128 at 65 KiB -> Ring LL at 261 KiB -> Ring
 * LL128 at 839 KiB -> Simple at 23 MiB; AllGather Ring LL -> PAT at 46 KiB
 * -> Ring LL128 at 1.9 MiB -> Simple at 9.9 MiB. */
static void test_tune__eight_sparks(void **state)
{
    coll_tune t;
    coll_tune_in in = {COLL_ALL_REDUCE, 8, 8, 1, 121, false, true, 2, 12.0, false, 0, {0, 0.0, 0.0}, 0, true, false, false, {0, 0.0, 0.0, 0.0}};
    coll_algo a;
    coll_proto p;

    (void)state;
    coll_tune_compute(&t, &in);
    assert_int_equal(coll_tune_select(&t, 4 << 10, ~0u, ~0u, &a, &p), SP_OK);
    assert_int_equal(a, COLL_ALGO_TREE);
    assert_int_equal(p, COLL_PROTO_LL);
    near(switch_point_KiB(&t, COLL_ALGO_TREE, COLL_PROTO_LL128), 65, 65 * 0.05);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_LL), 261, 261 * 0.05);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_LL128), 839, 839 * 0.05);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_SIMPLE), 23 * 1024, 23 * 1024 * 0.05);
    in.kind = COLL_ALL_GATHER;
    coll_tune_compute(&t, &in);
    near(switch_point_KiB(&t, COLL_ALGO_PAT, COLL_PROTO_SIMPLE), 46, 46 * 0.05);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_LL128), 1.9 * 1024, 1.9 * 1024 * 0.05);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_SIMPLE), 9.9 * 1024, 9.9 * 1024 * 0.05);
}

/* 4 x DGX Spark on a switch (NCCL.md 2.6): AllReduce Tree LL -> Ring LL at
 * 22 KiB -> LL128 at 492 KiB -> Simple at 11.4 MiB; AllGather Ring LL ->
 * LL128 at 624 KiB -> Simple at 3.8 MiB. */
static void test_tune__four_sparks(void **state)
{
    coll_tune t;
    coll_tune_in in = {COLL_ALL_REDUCE, 4, 4, 1, 121, false, true, 2, 12.0, false, 0, {0, 0.0, 0.0}, 0, true, false, false, {0, 0.0, 0.0, 0.0}};

    (void)state;
    coll_tune_compute(&t, &in);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_LL), 22, 22 * 0.05);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_LL128), 492, 492 * 0.05);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_SIMPLE), 11.4 * 1024, 11.4 * 1024 * 0.05);
    in.kind = COLL_ALL_GATHER;
    coll_tune_compute(&t, &in);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_LL128), 624, 624 * 0.05);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_SIMPLE), 3.8 * 1024, 3.8 * 1024 * 0.05);
}

/* 8 x H100 on NVSwitch: Hopper, one node, graph 12 x 30 GB/s. */
static void test_tune__h100_node(void **state)
{
    coll_tune t;
    coll_tune_in in = {COLL_ALL_REDUCE, 8, 1, 8, 90, false, true, 12, 30.0, false, 0, {0, 0.0, 0.0}, 0, true, false, false, {0, 0.0, 0.0, 0.0}};

    (void)state;
    coll_tune_compute(&t, &in);
    near(t.lat_us[COLL_ALGO_RING][COLL_PROTO_LL], 15.0, 1e-9);
    near(t.bw_GBps[COLL_ALGO_RING][COLL_PROTO_LL], 80.6, 0.05);
    near(t.lat_us[COLL_ALGO_RING][COLL_PROTO_LL128], 40.6, 1e-9);
    near(t.bw_GBps[COLL_ALGO_RING][COLL_PROTO_LL128], 189.0, 0.5);
    near(t.lat_us[COLL_ALGO_RING][COLL_PROTO_SIMPLE], 56.0, 1e-9);
    near(t.bw_GBps[COLL_ALGO_RING][COLL_PROTO_SIMPLE], 206.0, 0.5);
    /* Ring LL -> LL128 at 3.5 MiB -> Simple at 35 MiB (Ring and Tree enabled). */
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_LL128), 3.5 * 1024, 3.5 * 1024 * 0.05);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_SIMPLE), 35 * 1024, 35 * 1024 * 0.05);
    in.kind = COLL_ALL_GATHER;
    coll_tune_compute(&t, &in);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_LL128), 4.5 * 1024, 4.5 * 1024 * 0.05);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_SIMPLE), 22 * 1024, 22 * 1024 * 0.05);
}

/* NVLS on the same node. NCCL prices NVLS on its NVLS graph, 8 heads at
 * 40 / 60 GB/s on 8 H100 (coll_nvls_graph_search; the runtime 16 NVLS
 * channels do not enter): busBw = 8 x min(40 x 0.85 x 7/8 x 2, 60) = 476
 * GB/s ("a peak busBw of ~480GB/s (algbw ~275GB/s)", NVIDIA in nccl-tests
 * #212), algorithm bandwidth x 8/14 = 272, latency the NVLink NVLS hop (25
 * us, no base). It takes all-reduce from 2 MiB, Ring LL below ("8B~1MB:
 * Algo RING proto LL, 2MB~16GB: Algo NVLS proto SIMPLE", nccl-tests #309).
 * For all-gather the factor is 7/8 ((ppn - 1) / ppn) instead of 2,
 * unconverted: 208 GB/s, which loses to Ring LL128 or LL at every size, as
 * on real H100 nodes. Across nodes NVLS proper needs CollNet, so it is off. */
static void test_tune__h100_nvls(void **state)
{
    coll_tune t;
    coll_tune_in in = {COLL_ALL_REDUCE, 8, 1, 8, 90, false, true, 12, 30.0, true, 16, {8, 40.0, 60.0}, 0, true, false, false, {0, 0.0, 0.0, 0.0}};
    coll_algo a;
    coll_proto p;

    (void)state;
    coll_tune_compute(&t, &in);
    near(t.bus_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE], 8 * 40.0 * 0.85 * 7.0 / 8.0 * 2.0, 1e-9);
    near(t.bw_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE], 476.0 * 8.0 / 14.0, 1e-9);
    near(t.lat_us[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE], 25.0, 1e-12);
    assert_true(t.bw_GBps[COLL_ALGO_NVLS][COLL_PROTO_LL] == 0.0);
    assert_true(t.bw_GBps[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE] == 0.0); /* one node */
    assert_int_equal(coll_tune_select(&t, 1u << 30, ~0u, ~0u, &a, &p), SP_OK);
    assert_int_equal(a, COLL_ALGO_NVLS);
    assert_int_equal(coll_tune_select(&t, 2u << 20, ~0u, ~0u, &a, &p), SP_OK);
    assert_int_equal(a, COLL_ALGO_NVLS);
    assert_int_equal(coll_tune_select(&t, 1u << 20, ~0u, ~0u, &a, &p), SP_OK);
    assert_int_equal(a, COLL_ALGO_RING);
    assert_int_equal(p, COLL_PROTO_LL);
    assert_int_equal(coll_tune_select(&t, 64u << 10, ~0u, ~0u, &a, &p), SP_OK);
    assert_int_not_equal(a, COLL_ALGO_NVLS);
    /* bwInter bounds it where it is below the NVLink term. */
    in.nvls_graph.bw_inter_GBps = 50.0;
    coll_tune_compute(&t, &in);
    near(t.bus_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE], 8 * 50.0, 1e-9);
    in.nvls_graph.bw_inter_GBps = 60.0;
    in.kind = COLL_ALL_GATHER;
    coll_tune_compute(&t, &in);
    near(t.bw_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE], 8 * 40.0 * 0.85 * 7.0 / 8.0 * 7.0 / 8.0, 1e-9);
    for (uint64_t s = 1024; s <= (8ull << 30); s *= 2) {
        assert_int_equal(coll_tune_select(&t, s, ~0u, ~0u, &a, &p), SP_OK);
        assert_int_not_equal(a, COLL_ALGO_NVLS);
    }
    in.kind = COLL_REDUCE_SCATTER;
    coll_tune_compute(&t, &in);
    near(t.lat_us[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE], 25.0, 1e-12);
    in.kind = COLL_BROADCAST;
    coll_tune_compute(&t, &in);
    assert_true(t.bw_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] == 0.0);
    /* Above 32 ranks per node (NCCL_MAX_NVLS_ARITY) NVLS is all-reduce only. */
    in.nranks = in.ppn = 72;
    in.nvls_graph = (coll_nvls_graph){32, 20.0, 40.0};
    in.kind = COLL_ALL_GATHER;
    coll_tune_compute(&t, &in);
    assert_true(t.bw_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] == 0.0);
    in.kind = COLL_ALL_REDUCE;
    coll_tune_compute(&t, &in);
    assert_true(t.bw_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] > 0.0);
    in.nranks = in.ppn = 8;
    /* Fewer than two NVLS graph channels: no NVLS (NCCL needs two). */
    in.kind = COLL_ALL_REDUCE;
    in.nvls_graph = (coll_nvls_graph){1, 40.0, 60.0};
    coll_tune_compute(&t, &in);
    assert_true(t.bw_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] == 0.0);
}

/* NVLS-Tree across 8-GPU H100 nodes with 8 x 400G rails (NVLS graph 8 x
 * 40 / 48): per NCCL.md 2.3, busBw = 8 x min(40 x 0.85 x 7/8 x 2, 48 x 2 at
 * N <= 2, 57.7) = 461.6 at two nodes (the per-channel cap binds), and 8 x
 * min(59.5, 48, 45.5) = 364 from three; latency 25 + 2 log2 N x 20.9 us. At
 * two nodes it beats Ring for large all-reduce (246 against 205 GB/s of
 * algorithm bandwidth); at eight nodes Ring has the larger bus bandwidth
 * (384) but NVLS-Tree still wins 1 GiB on latency. It needs two ranks per
 * node and Hopper: not with one GPU per node, not on Ampere. */
static void test_tune__h100_nvls_tree(void **state)
{
    coll_tune t;
    coll_tune_in in = {COLL_ALL_REDUCE, 16, 2, 8, 90, false, true, 8, 48.0, true, 16, {8, 40.0, 48.0}, 0, true, false, false, {0, 0.0, 0.0, 0.0}};
    coll_algo a;
    coll_proto p;

    (void)state;
    coll_tune_compute(&t, &in);
    near(t.bus_GBps[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE], 461.6, 1e-9);
    near(t.nvls_tree_cap_GBps, 461.6, 1e-9);
    near(t.bw_GBps[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE], 461.6 * 16.0 / 30.0, 1e-9);
    near(t.lat_us[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE], 25.0 + 2.0 * 20.9, 1e-9);
    assert_true(t.bw_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] == 0.0); /* needs CollNet */
    assert_int_equal(coll_tune_select(&t, 1u << 30, ~0u, ~0u, &a, &p), SP_OK);
    assert_int_equal(a, COLL_ALGO_NVLS_TREE);
    assert_true(coll_tune_time_us(&t, COLL_ALGO_NVLS_TREE, COLL_PROTO_SIMPLE, 1u << 30) <
                coll_tune_time_us(&t, COLL_ALGO_RING, COLL_PROTO_SIMPLE, 1u << 30));
    in.nranks = 64;
    in.nnodes = 8;
    coll_tune_compute(&t, &in);
    near(t.bus_GBps[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE], 364.0, 1e-9);
    near(t.lat_us[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE], 25.0 + 2.0 * 3.0 * 20.9, 1e-9);
    assert_int_equal(coll_tune_select(&t, 1u << 30, ~0u, ~0u, &a, &p), SP_OK);
    assert_int_equal(a, COLL_ALGO_NVLS_TREE);
    in.kind = COLL_ALL_GATHER;
    coll_tune_compute(&t, &in);
    assert_true(t.bw_GBps[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE] == 0.0);
    in.kind = COLL_ALL_REDUCE;
    in.ppn = 1;
    in.nranks = 8;
    coll_tune_compute(&t, &in);
    assert_true(t.bw_GBps[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE] == 0.0);
    in.ppn = 8;
    in.nranks = 64;
    in.sm = 80;
    coll_tune_compute(&t, &in);
    assert_true(t.bw_GBps[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE] == 0.0);
}

/* CollNet (NCCL's src/tuning/collnet.cc and nvls.cc; docs/collectives.md).
 * The graph: one channel per NIC at the NIC path's step (48 GB/s), bwIntra
 * raised by the search's second pass while below 2 x bwInter and the NVLink
 * load fits. On B200 (steps 96, 86, 80, 48; 18 x 40.1 = 721.8 GB/s of
 * NVLink) Direct, 2 x bwIntra per port, reaches 96; Chain, 8 x bwIntra per
 * port, stops at 86 (8 x 96 = 768 does not fit). On H100 48 is the top
 * step: nothing to raise. One GPU per node has no NVLink load. */
static void test_tune__collnet_graph(void **state)
{
    coll_collnet_graph g = coll_collnet_graph_search(100, 8, 721.8, 8, 48.0);

    (void)state;
    assert_int_equal(g.channels, 8);
    near(g.bw_inter_GBps, 48.0, 1e-12);
    near(g.bw_intra_direct_GBps, 96.0, 1e-12);
    near(g.bw_intra_GBps, 86.0, 1e-12);
    g = coll_collnet_graph_search(90, 8, 370.8, 8, 48.0);
    near(g.bw_intra_GBps, 48.0, 1e-12);
    near(g.bw_intra_direct_GBps, 48.0, 1e-12);
    g = coll_collnet_graph_search(121, 1, 0.0, 1, 25.0);
    assert_int_equal(g.channels, 1);
    near(g.bw_inter_GBps, 24.0, 1e-12);
    near(g.bw_intra_GBps, 48.0, 1e-12);
    assert_int_equal(coll_collnet_graph_search(90, 8, 370.8, 0, 48.0).channels, 0);
}

/* CollNet's model on 8 DGX B200 (the graph above): Chain busBw 8 x 86 = 688,
 * algorithm bandwidth half of it; Direct 8 x 96 x 0.85 (f = ppn / C = 1),
 * half of it, 326.4; latency Direct 2 (3.7 + 0.4 x 7) + 31 = 44 us, Chain
 * 2 x 7 x 2.8 + 30 = 69.2 us. NVLS across nodes (graph 8 x 48 / 48):
 * 8 x min(48 x 0.74 x 7/8 x 2, 48) = 384, converted as Ring, latency 25 +
 * 18 us. Chain wins 16 GiB, Direct 64 MiB. None of it without CollNet, and
 * no Direct without an NVSwitch. All-gather and reduce-scatter: Direct
 * only, with every local rank a head. */
static void test_tune__collnet(void **state)
{
    coll_tune t;
    coll_tune_in in = {COLL_ALL_REDUCE, 64, 8, 8, 100, false, true, 8, 48.0, true, 32, {8, 48.0, 48.0}, 0, true,
                       true, true, {8, 86.0, 96.0, 48.0}};
    coll_algo a;
    coll_proto p;

    (void)state;
    coll_tune_compute(&t, &in);
    near(t.bus_GBps[COLL_ALGO_COLLNET_CHAIN][COLL_PROTO_SIMPLE], 688.0, 1e-9);
    near(t.bw_GBps[COLL_ALGO_COLLNET_CHAIN][COLL_PROTO_SIMPLE], 344.0, 1e-9);
    near(t.lat_us[COLL_ALGO_COLLNET_CHAIN][COLL_PROTO_SIMPLE], 69.2, 1e-9);
    near(t.bw_GBps[COLL_ALGO_COLLNET_DIRECT][COLL_PROTO_SIMPLE], 326.4, 1e-9);
    near(t.lat_us[COLL_ALGO_COLLNET_DIRECT][COLL_PROTO_SIMPLE], 44.0, 1e-9);
    near(t.bus_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE], 384.0, 1e-9);
    near(t.bw_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE], 384.0 * 64.0 / 126.0, 1e-9);
    near(t.lat_us[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE], 43.0, 1e-9);
    for (coll_proto q = COLL_PROTO_LL; q < COLL_PROTO_SIMPLE; q++) /* Simple only */
        assert_true(t.bw_GBps[COLL_ALGO_COLLNET_CHAIN][q] == 0.0 && t.bw_GBps[COLL_ALGO_COLLNET_DIRECT][q] == 0.0);
    assert_int_equal(coll_tune_select(&t, 16ull << 30, ~0u, ~0u, &a, &p), SP_OK);
    assert_int_equal(a, COLL_ALGO_COLLNET_CHAIN);
    assert_int_equal(coll_tune_select(&t, 64u << 20, ~0u, ~0u, &a, &p), SP_OK);
    assert_int_equal(a, COLL_ALGO_COLLNET_DIRECT);
    in.nvswitch = false;
    coll_tune_compute(&t, &in);
    assert_true(t.bw_GBps[COLL_ALGO_COLLNET_DIRECT][COLL_PROTO_SIMPLE] == 0.0);
    assert_true(t.bw_GBps[COLL_ALGO_COLLNET_CHAIN][COLL_PROTO_SIMPLE] > 0.0);
    in.kind = COLL_ALL_GATHER;
    coll_tune_compute(&t, &in);
    assert_true(t.bw_GBps[COLL_ALGO_COLLNET_CHAIN][COLL_PROTO_SIMPLE] == 0.0);
    assert_true(t.bw_GBps[COLL_ALGO_COLLNET_DIRECT][COLL_PROTO_SIMPLE] == 0.0); /* needs the NVSwitch */
    in.nvswitch = true;
    for (coll_kind k = COLL_ALL_GATHER; k <= COLL_REDUCE_SCATTER; k++) {
        /* Direct: ppn x min(96, 0.9 x 48) = 345.6, not converted; 44 us. */
        in.kind = k;
        coll_tune_compute(&t, &in);
        near(t.bw_GBps[COLL_ALGO_COLLNET_DIRECT][COLL_PROTO_SIMPLE], 345.6, 1e-9);
        near(t.lat_us[COLL_ALGO_COLLNET_DIRECT][COLL_PROTO_SIMPLE], 44.0, 1e-9);
        in.ppn = 16; /* more ranks a node than heads */
        coll_tune_compute(&t, &in);
        assert_true(t.bw_GBps[COLL_ALGO_COLLNET_DIRECT][COLL_PROTO_SIMPLE] == 0.0);
        in.ppn = 8;
    }
    in.kind = COLL_BROADCAST;
    coll_tune_compute(&t, &in);
    assert_true(t.bw_GBps[COLL_ALGO_COLLNET_DIRECT][COLL_PROTO_SIMPLE] == 0.0);
    in.kind = COLL_ALL_REDUCE;
    in.collnet = false;
    coll_tune_compute(&t, &in);
    assert_true(t.bw_GBps[COLL_ALGO_COLLNET_CHAIN][COLL_PROTO_SIMPLE] == 0.0);
    assert_true(t.bw_GBps[COLL_ALGO_NVLS][COLL_PROTO_SIMPLE] == 0.0);
    assert_true(t.bw_GBps[COLL_ALGO_NVLS_TREE][COLL_PROTO_SIMPLE] > 0.0);
}

static void expect_graph(coll_nvls_graph g, int channels, double intra, double inter)
{
    assert_int_equal(g.channels, channels);
    near(g.bw_intra_GBps, intra, 1e-12);
    near(g.bw_inter_GBps, inter, 1e-12);
}

/* NCCL's NVLS graph search (src/graph/search.cc): k heads at b need (k + 1)
 * b on every GPU's NVSwitch port; one node needs every GPU a head; the
 * second pass raises bwInter below 2 x bwIntra. 8 H100 (18 x 20.6 = 370.8
 * GB/s): 8 x 40 / 60, NCCL's own log line ("Pattern 5, nChannels 8, bw
 * 40.000000/60.000000"). Across nodes the inter-node steps and the NIC path
 * (48 GB/s) bound it: 8 x 40 / 48. 8 B200 (18 x 40.1 = 721.8): 8 x 80 / 90;
 * across nodes 8 x 48 / 48. Four H100 of a node: 4 x 60 / 60. A 72-GPU
 * NVLink domain: 32 heads (NCCL_MAX_NVLS_ARITY) at 20 / 40. No graph
 * before Hopper or with one GPU. */
static void test_tune__nvls_graph(void **state)
{
    (void)state;
    expect_graph(coll_nvls_graph_search(90, 8, 370.8, 1, 0.0, 0), 8, 40.0, 60.0);
    expect_graph(coll_nvls_graph_search(90, 8, 370.8, 2, 48.0, 8), 8, 40.0, 48.0);
    expect_graph(coll_nvls_graph_search(100, 8, 721.8, 1, 0.0, 0), 8, 80.0, 90.0);
    expect_graph(coll_nvls_graph_search(100, 8, 721.8, 2, 48.0, 8), 8, 48.0, 48.0);
    expect_graph(coll_nvls_graph_search(90, 4, 370.8, 1, 0.0, 0), 4, 60.0, 60.0);
    expect_graph(coll_nvls_graph_search(100, 72, 721.8, 1, 0.0, 0), 32, 20.0, 40.0);
    assert_int_equal(coll_nvls_graph_search(80, 8, 600.0, 1, 0.0, 0).channels, 0);
    assert_int_equal(coll_nvls_graph_search(90, 1, 370.8, 1, 0.0, 0).channels, 0);
    /* Across nodes each head needs a NIC of its own: 4 NICs, 4 heads; and
     * NCCL prefers more channels, so 72 GPUs across nodes take 32 heads at
     * 20 GB/s rather than 29 at 24; without a usable NIC there is none. */
    expect_graph(coll_nvls_graph_search(90, 8, 370.8, 2, 48.0, 4), 4, 48.0, 48.0);
    expect_graph(coll_nvls_graph_search(100, 72, 721.8, 2, 48.0, 72), 32, 20.0, 40.0);
    assert_int_equal(coll_nvls_graph_search(90, 8, 370.8, 2, 48.0, 0).channels, 0);
    assert_int_equal(coll_nvls_graph_search(90, 8, 370.8, 2, 0.0, 8).channels, 0);
}

/* NCCL's size-dependent factors: Tree's correction from 64 B to below 512
 * MiB (none outside; NVLS-Tree's below 1 GiB on Blackwell with x86 hosts),
 * and the multi-node Ring Simple plateau, x1.4 from SM80
 * and x1.9 before, once S / (C n) >= 64 B with C the runtime channels. */
static void test_tune__size_factors(void **state)
{
    coll_tune t;
    coll_tune_in in = {COLL_ALL_REDUCE, 16, 2, 8, 90, false, true, 8, 48.0, false, 0, {0, 0.0, 0.0}, 16, true, false, false, {0, 0.0, 0.0, 0.0}};

    (void)state;
    coll_tune_compute(&t, &in);
    near(coll_tune_bw_factor(&t, COLL_ALGO_TREE, COLL_PROTO_SIMPLE, 32), 1.0, 0.0);
    near(coll_tune_bw_factor(&t, COLL_ALGO_TREE, COLL_PROTO_SIMPLE, 64), 0.9, 1e-12);
    near(coll_tune_bw_factor(&t, COLL_ALGO_TREE, COLL_PROTO_SIMPLE, 1u << 20), 0.5, 1e-12);
    near(coll_tune_bw_factor(&t, COLL_ALGO_TREE, COLL_PROTO_SIMPLE, 256u << 20), 0.9, 1e-12);
    near(coll_tune_bw_factor(&t, COLL_ALGO_TREE, COLL_PROTO_SIMPLE, 512u << 20), 1.0, 0.0);
    near(coll_tune_bw_factor(&t, COLL_ALGO_RING, COLL_PROTO_SIMPLE, 1u << 20), 1.0, 0.0);
    /* 16 channels x 16 ranks x 64 B = 16 KiB. */
    near(coll_tune_lat_factor(&t, COLL_ALGO_RING, COLL_PROTO_SIMPLE, 16384), 1.4, 1e-12);
    near(coll_tune_lat_factor(&t, COLL_ALGO_RING, COLL_PROTO_SIMPLE, 16383), 1.0, 0.0);
    near(coll_tune_lat_factor(&t, COLL_ALGO_RING, COLL_PROTO_LL128, 1u << 20), 1.0, 0.0);
    /* NVLS-Tree takes Tree's table too on Blackwell with x86 hosts (NCCL
     * 2.29 and later), up to below 1 GiB; not on Hopper, not on Arm hosts. */
    in.nvls = true;
    in.nvls_graph = (coll_nvls_graph){8, 48.0, 48.0};
    coll_tune_compute(&t, &in);
    near(coll_tune_bw_factor(&t, COLL_ALGO_NVLS_TREE, COLL_PROTO_SIMPLE, 1u << 20), 1.0, 0.0);
    in.sm = 100;
    coll_tune_compute(&t, &in);
    near(coll_tune_bw_factor(&t, COLL_ALGO_NVLS_TREE, COLL_PROTO_SIMPLE, 1u << 20), 0.5, 1e-12);
    near(coll_tune_bw_factor(&t, COLL_ALGO_NVLS_TREE, COLL_PROTO_SIMPLE, 512u << 20), 0.9, 1e-12);
    near(coll_tune_bw_factor(&t, COLL_ALGO_NVLS_TREE, COLL_PROTO_SIMPLE, 1u << 30), 1.0, 0.0);
    in.cpu_x86 = false;
    coll_tune_compute(&t, &in);
    near(coll_tune_bw_factor(&t, COLL_ALGO_NVLS_TREE, COLL_PROTO_SIMPLE, 1u << 20), 1.0, 0.0);
    in.nvls = false;
    in.sm = 70;
    coll_tune_compute(&t, &in);
    near(coll_tune_lat_factor(&t, COLL_ALGO_RING, COLL_PROTO_SIMPLE, 1u << 20), 1.9, 1e-12);
    in.nnodes = 1;
    in.ppn = 16;
    coll_tune_compute(&t, &in);
    near(coll_tune_lat_factor(&t, COLL_ALGO_RING, COLL_PROTO_SIMPLE, 1u << 20), 1.0, 0.0);
}

/* 2 x 8 H100 with 8 x 400G rails: graph 8 x 48 (NCCL.md 2.6): Ring Simple
 * AllReduce latency 131.6 us before the x1.4 plateau factor. */
static void test_tune__h100_two_nodes(void **state)
{
    coll_tune t;
    coll_tune_in in = {COLL_ALL_REDUCE, 16, 2, 8, 90, false, true, 8, 48.0, false, 0, {0, 0.0, 0.0}, 0, true, false, false, {0, 0.0, 0.0, 0.0}};

    (void)state;
    coll_tune_compute(&t, &in);
    near(t.lat_us[COLL_ALGO_RING][COLL_PROTO_SIMPLE], 131.6, 1e-9);
    near(t.bus_GBps[COLL_ALGO_RING][COLL_PROTO_SIMPLE], 384.0, 1e-9);
    /* Tree LL -> Tree LL128 at 251 KiB -> Ring LL128 at 22 MiB -> Ring Simple at 69 MiB. */
    near(switch_point_KiB(&t, COLL_ALGO_TREE, COLL_PROTO_LL128), 251, 251 * 0.05);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_LL128), 22 * 1024, 22 * 1024 * 0.05);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_SIMPLE), 69 * 1024, 69 * 1024 * 0.05);
    /* AllGather: Ring LL -> LL128 at 1 MiB -> Simple at 33 MiB. */
    in.kind = COLL_ALL_GATHER;
    coll_tune_compute(&t, &in);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_LL128), 1024, 1024 * 0.05);
    near(switch_point_KiB(&t, COLL_ALGO_RING, COLL_PROTO_SIMPLE), 33 * 1024, 33 * 1024 * 0.05);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tune__spark_pair_table),
        cmocka_unit_test(test_tune__spark_pair_switch_points),
        cmocka_unit_test(test_tune__four_sparks),
        cmocka_unit_test(test_tune__eight_sparks),
        cmocka_unit_test(test_tune__h100_node),
        cmocka_unit_test(test_tune__h100_nvls),
        cmocka_unit_test(test_tune__h100_nvls_tree),
        cmocka_unit_test(test_tune__nvls_graph),
        cmocka_unit_test(test_tune__collnet_graph),
        cmocka_unit_test(test_tune__collnet),
        cmocka_unit_test(test_tune__size_factors),
        cmocka_unit_test(test_tune__h100_two_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

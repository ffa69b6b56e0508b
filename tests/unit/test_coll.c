/* test_coll.c - the collective planner, without SimGrid: step counts, bytes
 * per rank, matched transfers, rails, latency terms and the nccl-tests busbw
 * identity on an ideal fabric. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coll/coll.h"

typedef struct fx {
    diag_list *d;
    plat *p;
    int ranks[256];
} fx;

/* Ring with Simple, for tests of the ring's layout. */
static const coll_opts ring_simple = {1u << COLL_ALGO_RING, 1u << COLL_PROTO_SIMPLE, 0};

/* Every member of the plan sends `want` bytes, to one part in a million. */
static void expect_sent(const coll_plan *c, double want, const char *what)
{
    for (int m = 0; m < coll_plan_members(c); m++) {
        double sent = (double)coll_plan_bytes_sent(c, m);
        if (fabs(sent - want) > 1e-6 * want)
            fail_msg("%s: member %d sends %.0f B, want %.0f", what, m, sent, want);
    }
}

static int load(void **state, const char *path, int nodes)
{
    fx *f = calloc(1, sizeof(*f));
    if (f == NULL || diag_new(&f->d, 0) < 0 || plat_load(&f->p, path, f->d) < 0 ||
        plat_set_nodes(f->p, nodes, f->d) < 0)
        return -1;
    for (int i = 0; i < 256; i++)
        f->ranks[i] = i;
    *state = f;
    return 0;
}

static int setup_ideal16(void **state)
{
    return load(state, FIXTURES "/ideal-switch.cfg", 16);
}

static int setup_multi(void **state)
{
    return load(state, FIXTURES "/good-multi.cfg", 2);
}

static int setup_spark(void **state)
{
    return load(state, PLATFORMS "/dgx-spark.cfg", 2);
}

static int teardown(void **state)
{
    fx *f = *state;
    plat_free(f->p);
    diag_free(f->d);
    free(f);
    return 0;
}

static void test_coll__names_and_factors(void **state)
{
    coll_kind k;

    (void)state;
    assert_int_equal(coll_kind_parse(&k, "all_gather"), SP_OK);
    assert_int_equal(k, COLL_ALL_GATHER);
    assert_int_equal(coll_kind_parse(&k, "reduce_scatter_perf"), SP_OK);
    assert_int_equal(k, COLL_REDUCE_SCATTER);
    assert_int_equal(coll_kind_parse(&k, "all_reduce_perfx"), SP_EINPUT);
    assert_int_equal(coll_kind_parse(&k, "alltoall_perf"), SP_OK);
    assert_int_equal(k, COLL_ALL_TO_ALL);
    assert_true(coll_busbw_factor(COLL_BROADCAST, 8) == 1.0);
    assert_true(coll_busbw_factor(COLL_ALL_TO_ALL, 4) == 0.75);
    assert_true(coll_busbw_factor(COLL_SEND_RECV, 4) == 1.0);
    assert_true(coll_busbw_factor(COLL_ALL_REDUCE, 8) == 1.75);
    assert_true(coll_busbw_factor(COLL_ALL_GATHER, 8) == 0.875);
    assert_true(coll_busbw_factor(COLL_REDUCE_SCATTER, 2) == 0.5);
    assert_true(coll_proto_wire_efficiency(COLL_PROTO_LL) == 0.5);
    assert_true(coll_proto_wire_efficiency(COLL_PROTO_LL128) == 120.0 / 128.0);
    assert_true(coll_proto_wire_efficiency(COLL_PROTO_SIMPLE) == 1.0);
}

/* Ring (and the p2p engine for all-to-all and send/recv) with Simple. */
static const coll_opts ring_p2p_simple = {(1u << COLL_ALGO_RING) | (1u << COLL_ALGO_P2P),
                                          1u << COLL_PROTO_SIMPLE, 0};

/* What one member sends in all, and in the stage that bounds the time, for
 * S bytes over n members (nccl-tests sizes). */
static uint64_t expected_sent(coll_kind k, int n, int m, uint64_t S)
{
    switch (k) {
    case COLL_ALL_REDUCE:
        return 2 * (uint64_t)(n - 1) * (S / n);
    case COLL_ALL_GATHER:
    case COLL_REDUCE_SCATTER:
    case COLL_ALL_TO_ALL:
        return (uint64_t)(n - 1) * (S / n);
    case COLL_BROADCAST: /* a chain 0, 1, ..., n-1: all but the last forward S */
        return m == n - 1 ? 0 : S;
    case COLL_REDUCE: /* a chain 1, 2, ..., n-1, 0: all but the root send S */
        return m == 0 ? 0 : S;
    case COLL_GATHER: /* each but the root its share to the root */
        return m == 0 ? 0 : S / n;
    case COLL_SCATTER: /* the root a share to each other */
        return m == 0 ? (uint64_t)(n - 1) * (S / n) : 0;
    default: /* send/recv */
        return S;
    }
}

/* Per collective: stages (2(n-1), n-1, or one stage of concurrent flows),
 * bytes each member sends, and every send matched by a receive of the same
 * size in the same stage. */
static void test_coll__steps_and_bytes(void **state)
{
    fx *f = *state;
    const int n = 16;
    const uint64_t S = 64ull << 20;

    for (int k = 0; k < COLL_NKINDS; k++) {
        coll_plan *c;
        int steps = k == COLL_ALL_REDUCE ? 2 * (n - 1)
                    : (k == COLL_ALL_GATHER || k == COLL_REDUCE_SCATTER) ? n - 1 : 1;
        assert_int_equal(coll_plan_new(&c, f->p, (coll_kind)k, f->ranks, n, S, &ring_p2p_simple), SP_OK);
        assert_int_equal(coll_plan_algo(c), coll_kind_is_p2p((coll_kind)k) ? COLL_ALGO_P2P : COLL_ALGO_RING);
        assert_int_equal(coll_plan_proto(c), COLL_PROTO_SIMPLE);
        for (int m = 0; m < n; m++) {
            assert_int_equal(coll_plan_nstages(c, m), steps);
            if (coll_plan_bytes_sent(c, m) != expected_sent((coll_kind)k, n, m, S))
                fail_msg("%s: member %d sends %llu, expected %llu", coll_kind_name((coll_kind)k), m,
                         (unsigned long long)coll_plan_bytes_sent(c, m),
                         (unsigned long long)expected_sent((coll_kind)k, n, m, S));
        }
        for (int s = 0; s < steps; s++) {
            for (int m = 0; m < n; m++) {
                coll_stage st, peer;
                coll_plan_stage(c, m, s, &st);
                for (int i = 0; i < st.nsend; i++) {
                    int found = 0;
                    coll_plan_stage(c, st.send[i].peer, s, &peer);
                    for (int j = 0; j < peer.nrecv; j++)
                        found += peer.recv[j].peer == m && peer.recv[j].bytes == st.send[i].bytes;
                    assert_int_equal(found, 1);
                }
            }
        }
        coll_plan_free(c);
    }
}

/* On an ideal fabric (no software latency) the plan's alpha-beta time gives
 * the nccl-tests identity busbw = B * step / (alpha + step) for every
 * collective, step being the bandwidth time of its bounding stage, i.e.
 * busbw -> B, the link rate, as alpha / step -> 0. */
static void test_coll__busbw_identity(void **state)
{
    fx *f = *state;
    const int n = 16;
    const double B = 25e9, alpha = 3e-6;

    for (int k = 0; k < COLL_NKINDS; k++) {
        for (uint64_t S = 1ull << 20; S <= (1ull << 34); S <<= 7) {
            coll_plan *c;
            double t, busbw, step;
            switch (k) {
            case COLL_ALL_REDUCE:
            case COLL_ALL_GATHER:
            case COLL_REDUCE_SCATTER:
                step = (double)(S / n) / B;
                break;
            case COLL_ALL_TO_ALL:
            case COLL_GATHER: /* the root's link carries n - 1 shares */
            case COLL_SCATTER:
                step = (double)(n - 1) * (double)(S / n) / B;
                break;
            default:
                step = (double)S / B;
            }
            assert_int_equal(coll_plan_new(&c, f->p, (coll_kind)k, f->ranks, n, S, &ring_p2p_simple), SP_OK);
            t = coll_plan_alpha_beta_s(c);
            busbw = (double)S / t * coll_busbw_factor((coll_kind)k, n);
            if (fabs(busbw - B * step / (alpha + step)) > 1e-9 * B)
                fail_msg("%s at %llu B: busbw %g, expected %g", coll_kind_name((coll_kind)k),
                         (unsigned long long)S, busbw, B * step / (alpha + step));
            coll_plan_free(c);
        }
    }
}

/* With two 4-GPU nodes and 2 NICs: one ring per NIC. Every network transfer
 * is rail-aligned (NIC j to NIC j), each NIC sends exactly one ring's
 * traffic, and a node's last GPU on another rail hands over to the rail's
 * GPU first (PXN): GPUs 0-1 are on NIC 0, GPUs 2-3 on NIC 1. */
static void test_coll__rails(void **state)
{
    fx *f = *state;
    coll_plan *c;
    int sends_per_nic[2][2] = {{0}}, relays = 0;
    coll_stage st;

    assert_int_equal(coll_plan_new(&c, f->p, COLL_ALL_REDUCE, f->ranks, 8, 8u << 20, &ring_simple), SP_OK);
    assert_int_equal(coll_plan_rings(c), 2);
    for (int m = 0; m < 8; m++) {
        coll_plan_stage(c, m, 0, &st);
        for (int i = 0; i < st.nsend; i++) {
            int peer = st.send[i].peer;
            const uint64_t chunk = (8u << 20) / 2 / 8;
            /* Rings sharing a pair are merged into one flow of several chunks. */
            assert_int_equal(st.send[i].bytes % chunk, 0);
            if (plat_rank_node(f->p, m) != plat_rank_node(f->p, peer)) {
                assert_int_equal(st.send[i].bytes, chunk);
                assert_int_equal(plat_rank_nic(f->p, m), plat_rank_nic(f->p, peer));
                assert_int_equal(plat_rank_nic(f->p, m), st.send[i].ring);
                sends_per_nic[plat_rank_node(f->p, m)][plat_rank_nic(f->p, m)]++;
            } else if ((plat_rank_local(f->p, m) == 3 && plat_rank_local(f->p, peer) == 0) ||
                       (plat_rank_local(f->p, m) == 1 && plat_rank_local(f->p, peer) == 2)) {
                /* 3 -> 0: ring 0's hand-over to its rail GPU merged with ring 1's chain
                 * (2, 3, 0, 1); 1 -> 2: ring 1's hand-over with ring 0's chain. */
                assert_int_equal(st.send[i].bytes, 2 * chunk);
                relays++;
            }
        }
    }
    for (int node = 0; node < 2; node++)
        for (int nic = 0; nic < 2; nic++)
            assert_int_equal(sends_per_nic[node][nic], 1);
    assert_int_equal(relays, 4);
    /* Every member still receives as many chunks as it sends in each ring. */
    for (int m = 0; m < 8; m++) {
        coll_plan_stage(c, m, 1, &st);
        assert_int_equal(st.nsend, st.nrecv);
    }
    coll_plan_free(c);
}

/* The NCCL software latency: 8.4 us once (Ring Simple base), and 14 us per
 * network hop (Tree NET Simple row at one GPU per node) less the physical
 * latency SimGrid simulates; channels follow the 32 KiB-per-channel rule. */
static void test_coll__spark_latency_and_channels(void **state)
{
    fx *f = *state;
    coll_plan *c;
    coll_stage st;
    double phys = plat_route(f->p, 0, 1).lat_s;

    assert_int_equal(coll_plan_new(&c, f->p, COLL_ALL_REDUCE, f->ranks, 2, 8, &ring_simple), SP_OK);
    assert_int_equal(coll_plan_channels(c), 1);
    assert_int_equal(coll_plan_nstages(c, 0), 2);
    coll_plan_stage(c, 0, 0, &st);
    assert_true(fabs(st.delay_s - (8.4e-6 + 14e-6 - phys)) < 1e-15);
    coll_plan_stage(c, 0, 1, &st);
    assert_true(fabs(st.delay_s - (14e-6 - phys)) < 1e-15);
    coll_plan_free(c);
    assert_int_equal(coll_plan_new(&c, f->p, COLL_ALL_REDUCE, f->ranks, 2, 1u << 20, &ring_simple), SP_OK);
    assert_int_equal(coll_plan_channels(c), 4);
    coll_plan_free(c);
    assert_int_equal(coll_plan_new(&c, f->p, COLL_ALL_REDUCE, f->ranks, 2, 64u << 10, &ring_simple), SP_OK);
    assert_int_equal(coll_plan_channels(c), 2);
    coll_plan_free(c);
}

/* Several GPUs per node: per-stage latency averages NCCL's formula
 * (nsteps - nInter) x intra + nInter x inter, nInter = 2(N-1) for
 * all-reduce and N-1 for all-gather, each hop less its physical latency
 * (good-multi: NVLink 3.4 - 1.0 us, network 14 - 6.0 us). Multi-node Ring
 * Simple all-reduce takes NCCL's plateau factor, x 1.4 once S / (C n) >=
 * 64 B (1 MiB), not below (256 B). */
static void test_coll__multi_node_latency(void **state)
{
    fx *f = *state;
    coll_plan *c;
    coll_stage st;
    const double intra = 3.4e-6 - 1.0e-6, inter = 14e-6 - 6.0e-6;

    assert_int_equal(coll_plan_new(&c, f->p, COLL_ALL_REDUCE, f->ranks, 8, 1u << 20, &ring_simple), SP_OK);
    coll_plan_stage(c, 5, 3, &st);
    assert_true(fabs(st.delay_s - 1.4 * (intra * 12 + inter * 2) / 14) < 1e-15);
    coll_plan_free(c);
    assert_int_equal(coll_plan_new(&c, f->p, COLL_ALL_REDUCE, f->ranks, 8, 256, &ring_simple), SP_OK);
    coll_plan_stage(c, 5, 3, &st);
    assert_true(fabs(st.delay_s - (intra * 12 + inter * 2) / 14) < 1e-15);
    coll_plan_free(c);
    assert_int_equal(coll_plan_new(&c, f->p, COLL_ALL_GATHER, f->ranks, 8, 1u << 20, &ring_simple), SP_OK);
    coll_plan_stage(c, 0, 2, &st);
    assert_true(fabs(st.delay_s - (intra * 6 + inter * 1) / 7) < 1e-15);
    coll_plan_free(c);
}

/* NVLS on a DGX H100 (NVSwitch gen 3, SM90): NCCL's choice for 1 GiB;
 * every GPU's ports carry S (n + 1) / n each way, at nvlsEfficiency 0.85. */
static void test_coll__nvls(void **state)
{
    plat *p;
    diag_list *d;
    coll_plan *c;
    int ranks[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    const uint64_t S = 1u << 30;

    (void)state;
    assert_int_equal(diag_new(&d, 0), SP_OK);
    assert_int_equal(plat_load(&p, PLATFORMS "/dgx-h100.cfg", d), SP_OK);
    assert_int_equal(plat_set_nodes(p, 1, d), SP_OK);
    assert_int_equal(coll_plan_new(&c, p, COLL_ALL_REDUCE, ranks, 8, S, NULL), SP_OK);
    assert_int_equal(coll_plan_algo(c), COLL_ALGO_NVLS);
    assert_int_equal(coll_plan_proto(c), COLL_PROTO_SIMPLE);
    expect_sent(c, (double)S * 9.0 / 8.0 / 0.85, "all_reduce");
    coll_plan_free(c);
    /* NCCL's model never picks NVLS for reduce-scatter or all-gather on H100
     * (Ring LL or LL128 is cheaper at every size); asked for, each GPU's
     * busy direction carries (n - 1) S / n, at nvlsEfficiency. */
    for (coll_kind k = COLL_ALL_GATHER; k <= COLL_REDUCE_SCATTER; k++) {
        coll_opts nvls = {1u << COLL_ALGO_NVLS, 0, 0};
        assert_int_equal(coll_plan_new(&c, p, k, ranks, 8, S, NULL), SP_OK);
        assert_int_not_equal(coll_plan_algo(c), COLL_ALGO_NVLS);
        coll_plan_free(c);
        assert_int_equal(coll_plan_new(&c, p, k, ranks, 8, S, &nvls), SP_OK);
        assert_int_equal(coll_plan_algo(c), COLL_ALGO_NVLS);
        assert_int_equal(coll_plan_channels(c), 16);
        expect_sent(c, (double)S * 7.0 / 8.0 / 0.85, coll_kind_name(k));
        coll_plan_free(c);
    }
    /* Broadcast has no NVLS in NCCL. */
    {
        coll_opts nvls = {1u << COLL_ALGO_NVLS, 0, 0};
        assert_int_equal(coll_plan_new(&c, p, COLL_BROADCAST, ranks, 8, S, &nvls), SP_EINPUT);
    }
    plat_free(p);
    diag_free(d);
}

/* A SuperPOD H100 platform cut to `nodes` DGX nodes, with ranks[] = 0 ..
 * 8 nodes - 1. */
static plat *superpod(int nodes, diag_list **d, int *ranks)
{
    plat *p;

    for (int i = 0; i < 8 * nodes; i++)
        ranks[i] = i;
    assert_int_equal(diag_new(d, 0), SP_OK);
    assert_int_equal(plat_load(&p, PLATFORMS "/superpod-h100.cfg", *d), SP_OK);
    assert_int_equal(plat_set_nodes(p, nodes, *d), SP_OK);
    return p;
}

/* CollNet on four DGX H100 of a SuperPOD, whose Quantum-2 fabric reduces
 * in the network, 1 GiB all-reduce. Only when enabled (NCCL_COLLNET_ENABLE):
 * then NCCL's model takes NVLS across nodes. Every GPU is a head (8 rails):
 * its NVLink ports carry S (k + 1) / k at nvlsEfficiency as in one node's
 * NVLS, and its NIC S / 8 each way. CollNet Direct: a member sends its S /
 * 8 share to each of the 7 other heads and, as a head, the reduced S / 8
 * back to each: 14 S / 8 over NVLink, S / 8 into the network, at NCCL's
 * 0.85. Chain: in its own rail's chain a member is the head (one NVLink
 * edge out), in one the tail (one), in six the middle (two, up and down):
 * 14 S / 8 again, and S / 8 into the network, with no factor. No Direct
 * all-reduce with fewer NICs than GPUs on a node is tested here (NCCL's
 * f factor prices it; the shipped nodes have a NIC per GPU). */
static void test_coll__collnet(void **state)
{
    plat *p;
    diag_list *d;
    coll_plan *c;
    int ranks[32];
    const uint64_t S = 1u << 30;
    const coll_opts on = {0, 0, 1}, direct = {1u << COLL_ALGO_COLLNET_DIRECT, 0, 1},
                    chain = {1u << COLL_ALGO_COLLNET_CHAIN, 0, 1}, direct_off = {1u << COLL_ALGO_COLLNET_DIRECT, 0, 0};
    const struct {
        const coll_opts *o;
        coll_algo algo;
        double per_byte;
    } cases[] = {
        {&on, COLL_ALGO_NVLS, 9.0 / 8.0 / 0.85 + 1.0 / 8.0},
        {&direct, COLL_ALGO_COLLNET_DIRECT, 15.0 / 8.0 / 0.85},
        {&chain, COLL_ALGO_COLLNET_CHAIN, 15.0 / 8.0},
    };

    (void)state;
    p = superpod(4, &d, ranks);
    assert_int_equal(coll_plan_new(&c, p, COLL_ALL_REDUCE, ranks, 32, S, NULL), SP_OK);
    assert_int_not_equal(coll_plan_algo(c), COLL_ALGO_NVLS);
    coll_plan_free(c);
    assert_int_equal(coll_plan_new(&c, p, COLL_ALL_REDUCE, ranks, 32, S, &direct_off), SP_EINPUT);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(coll_plan_new(&c, p, COLL_ALL_REDUCE, ranks, 32, S, cases[i].o), SP_OK);
        assert_int_equal(coll_plan_algo(c), cases[i].algo);
        assert_int_equal(coll_plan_proto(c), COLL_PROTO_SIMPLE);
        assert_int_equal(coll_plan_rings(c), 8);
        expect_sent(c, (double)S * cases[i].per_byte, coll_algo_name(cases[i].algo));
        coll_plan_free(c);
    }
    /* Not across one node; no Chain for all-gather. */
    assert_int_equal(coll_plan_new(&c, p, COLL_ALL_REDUCE, ranks, 8, S, &chain), SP_EINPUT);
    assert_int_equal(coll_plan_new(&c, p, COLL_ALL_GATHER, ranks, 32, S, &chain), SP_EINPUT);
    /* Direct all-gather and reduce-scatter (S the total): each head's NIC
     * carries its rail's N = 4 chunks of S / 32 at 0.9, and over NVLink each
     * member sends those 4 chunks to each of the 7 others: 7/8 S + S / 8 /
     * 0.9 per member. */
    for (coll_kind k = COLL_ALL_GATHER; k <= COLL_REDUCE_SCATTER; k++) {
        assert_int_equal(coll_plan_new(&c, p, k, ranks, 32, S, &direct), SP_OK);
        assert_int_equal(coll_plan_algo(c), COLL_ALGO_COLLNET_DIRECT);
        expect_sent(c, (double)S * (7.0 / 8.0 + 1.0 / 8.0 / 0.9), coll_kind_name(k));
        coll_plan_free(c);
    }
    plat_free(p);
    diag_free(d);
}

/* The Spark switch does not reduce in the network: enabling CollNet changes
 * nothing there. */
static void test_coll__collnet_needs_the_fabric(void **state)
{
    plat *p;
    diag_list *d;
    coll_plan *a, *b;
    int ranks[4] = {0, 1, 2, 3};
    const coll_opts on = {0, 0, 1}, chain = {1u << COLL_ALGO_COLLNET_CHAIN, 0, 1};

    (void)state;
    assert_int_equal(diag_new(&d, 0), SP_OK);
    assert_int_equal(plat_load(&p, PLATFORMS "/dgx-spark-switch.cfg", d), SP_OK);
    assert_int_equal(plat_set_nodes(p, 4, d), SP_OK);
    for (uint64_t S = 1u << 10; S <= (1u << 30); S <<= 4) {
        assert_int_equal(coll_plan_new(&a, p, COLL_ALL_REDUCE, ranks, 4, S, NULL), SP_OK);
        assert_int_equal(coll_plan_new(&b, p, COLL_ALL_REDUCE, ranks, 4, S, &on), SP_OK);
        assert_int_equal(coll_plan_algo(a), coll_plan_algo(b));
        assert_int_equal(coll_plan_proto(a), coll_plan_proto(b));
        coll_plan_free(a);
        coll_plan_free(b);
    }
    assert_int_equal(coll_plan_new(&a, p, COLL_ALL_REDUCE, ranks, 4, 1u << 30, &chain), SP_EINPUT);
    plat_free(p);
    diag_free(d);
}

/* Tree all-reduce slows by NCCL's size-dependent correction, as NCCL's own
 * estimate does: Tree Simple at 1 MiB (floor(log2(2^20 / 64)) = 14: 0.5)
 * sends 0.9 / 0.5 times more wire bytes per payload byte than at 256 MiB
 * (index 22: 0.9), on two DGX H100. */
/* p2p engine on 25 DGX H100 (200 GPUs, more than the 128 transfers a
 * stage once held): NCCL's PXN sends to a GPU on another node and rail
 * through the sender node's GPU on that rail, so every network flow is
 * rail-aligned. All-to-all: member m sends its own S/n to each of the 199
 * others, and as the relay of its 7 node peers forwards S/n from each to
 * each of the 24 remote GPUs on its rail. Its flows, one per peer: 7 over
 * NVLink (25 chunks each), 24 over its NIC (8 chunks each). A gather's root receives from its 7 node
 * peers and from the 24 relays on its rail, 199 chunks in all. A send
 * between two members alone (a pipeline's) has no relay: it goes out of
 * the sender's own NIC, across the spine. */
static void test_coll__p2p_pxn(void **state)
{
    diag_list *d;
    coll_plan *c;
    plat *p;
    enum { N = 25, G = 8, n = N * G };
    int ranks[n];
    const uint64_t S = (uint64_t)n << 20;
    coll_stage st;

    (void)state;
    p = superpod(N, &d, ranks);
    assert_int_equal(coll_plan_new(&c, p, COLL_ALL_TO_ALL, ranks, n, S, NULL), SP_OK);
    for (int m = 0; m < n; m++) {
        uint64_t chunk;
        coll_plan_stage(c, m, 0, &st);
        assert_int_equal(st.nsend, (G - 1) + (N - 1));
        assert_int_equal(st.nrecv, (G - 1) + (N - 1));
        chunk = st.send[0].bytes / (st.send[0].peer / G == m / G ? N : G);
        assert_int_equal(coll_plan_bytes_sent(c, m), chunk * (uint64_t)((n - 1) + (G - 1) * (N - 1)));
        for (int i = 0; i < st.nsend; i++) {
            int peer = st.send[i].peer;
            if (peer / G != m / G && plat_rank_nic(p, peer) != plat_rank_nic(p, m))
                fail_msg("member %d sends to %d on another node and rail", m, peer);
            /* Over NVLink its own chunk for the peer and the 24 the peer relays;
             * over the NIC its own and the 7 it relays. */
            assert_int_equal(st.send[i].bytes, chunk * (peer / G == m / G ? N : G));
        }
    }
    coll_plan_free(c);

    assert_int_equal(coll_plan_new(&c, p, COLL_GATHER, ranks, n, S, NULL), SP_OK);
    coll_plan_stage(c, 0, 0, &st);
    assert_int_equal(st.nrecv, (G - 1) + (N - 1));
    {
        uint64_t got = 0;
        for (int i = 0; i < st.nrecv; i++) {
            if (st.recv[i].peer / G != 0 && plat_rank_nic(p, st.recv[i].peer) != plat_rank_nic(p, 0))
                fail_msg("the root receives from %d on another node and rail", st.recv[i].peer);
            got += st.recv[i].bytes;
        }
        assert_int_equal(got, (uint64_t)(n - 1) * (S / n));
    }
    coll_plan_free(c);

    {
        int pair[2] = {1, 8 * 3 + 5}; /* rail 1 of node 0 to rail 5 of node 3 */
        plat_path r = plat_route(p, pair[0], pair[1]);
        assert_int_equal(coll_plan_new(&c, p, COLL_SEND_RECV, pair, 2, S, NULL), SP_OK);
        coll_plan_stage(c, 0, 0, &st);
        assert_int_equal(st.nsend, 1);
        assert_int_equal(st.send[0].peer, 1);
        assert_int_equal(r.cls, PLAT_PATH_NET);
        assert_string_equal(p->links[r.links[0]].name, "n0g1-nic");
        assert_string_equal(p->links[r.links[r.hops - 1]].name, "n3g5-nic");
        coll_plan_free(c);
        /* With the whole machine in the communicator NCCL relays through
         * GPU 5 of node 0, the one with the peer's device index; with a
         * communicator that lacks it, or the pair alone, it does not. */
        assert_int_equal(coll_pxn_relay(p, ranks, n, pair[0], pair[1]), 5);
        assert_int_equal(coll_pxn_relay(p, pair, 2, pair[0], pair[1]), -1);
        {
            int some[3] = {1, 4, 8 * 3 + 5};
            assert_int_equal(coll_pxn_relay(p, some, 3, 1, 8 * 3 + 5), -1);
        }
        assert_int_equal(coll_pxn_relay(p, ranks, n, 5, 8 * 3 + 5), -1); /* its own rail */
        assert_int_equal(coll_pxn_relay(p, ranks, n, 1, 6), -1);         /* the same node */
    }
    plat_free(p);
    diag_free(d);
}

static void test_coll__tree_correction(void **state)
{
    plat *p;
    diag_list *d;
    coll_plan *a, *b;
    int ranks[16];
    coll_opts tree = {1u << COLL_ALGO_TREE, 1u << COLL_PROTO_SIMPLE, 0};
    double ra, rb;

    (void)state;
    p = superpod(2, &d, ranks);
    assert_int_equal(coll_plan_new(&a, p, COLL_ALL_REDUCE, ranks, 16, 1u << 20, &tree), SP_OK);
    assert_int_equal(coll_plan_new(&b, p, COLL_ALL_REDUCE, ranks, 16, 256u << 20, &tree), SP_OK);
    ra = (double)coll_plan_bytes_sent(a, 0) / (1u << 20);
    rb = (double)coll_plan_bytes_sent(b, 0) / (256u << 20);
    if (fabs(ra / rb - 0.9 / 0.5) > 1e-4)
        fail_msg("wire bytes per byte %.6f at 1 MiB, %.6f at 256 MiB: ratio %.6f, want 1.8", ra, rb, ra / rb);
    coll_plan_free(a);
    /* From 512 MiB NCCL applies no correction: 1 GiB runs at 1 / 0.9. */
    assert_int_equal(coll_plan_new(&a, p, COLL_ALL_REDUCE, ranks, 16, 1u << 30, &tree), SP_OK);
    ra = (double)coll_plan_bytes_sent(a, 0) / (1u << 30);
    if (fabs(rb / ra - 1.0 / 0.9) > 1e-4)
        fail_msg("wire bytes per byte %.6f at 1 GiB, %.6f at 256 MiB: ratio %.6f, want 1/0.9", ra, rb, rb / ra);
    coll_plan_free(a);
    coll_plan_free(b);
    plat_free(p);
    diag_free(d);
}

/* Which plans start together (coll_plan_starts_together): the one-stage
 * ones whose flows carry other members' data (tree, NVLS-Tree, broadcast
 * and reduce chains, and the p2p engine's when a member relays to another
 * node: an all-to-all over both nodes), not the ring's steps nor the p2p
 * engine's flows that carry their sender's data alone (an all-to-all on
 * one node, a send between two ranks), on two DGX H100 of a SuperPOD. */
static void test_coll__starts_together(void **state)
{
    static const struct {
        coll_kind kind;
        coll_algo algo;
        int together;
    } cases[] = {
        {COLL_ALL_REDUCE, COLL_ALGO_TREE, 1},      {COLL_ALL_REDUCE, COLL_ALGO_NVLS_TREE, 1},
        {COLL_BROADCAST, COLL_ALGO_RING, 1},       {COLL_REDUCE, COLL_ALGO_RING, 1},
        {COLL_ALL_REDUCE, COLL_ALGO_RING, 0},      {COLL_ALL_GATHER, COLL_ALGO_RING, 0},
        {COLL_REDUCE_SCATTER, COLL_ALGO_RING, 0},  {COLL_ALL_TO_ALL, COLL_ALGO_P2P, 1},
    };
    plat *p;
    diag_list *d;
    coll_plan *c;
    int ranks[16];

    (void)state;
    p = superpod(2, &d, ranks);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        coll_opts o = {1u << cases[i].algo, 0, 0};
        assert_int_equal(coll_plan_new(&c, p, cases[i].kind, ranks, 16, 64u << 20,
                                       cases[i].algo == COLL_ALGO_P2P ? NULL : &o), SP_OK);
        assert_int_equal(coll_plan_algo(c), cases[i].algo);
        if (coll_plan_starts_together(c) != cases[i].together)
            fail_msg("%s by %s: starts together %d, want %d", coll_kind_name(cases[i].kind),
                     coll_algo_name(cases[i].algo), coll_plan_starts_together(c), cases[i].together);
        coll_plan_free(c);
    }
    {
        int pair[2] = {1, 8 + 5}; /* rail 1 of node 0 to rail 5 of node 1: no relay */
        assert_int_equal(coll_plan_new(&c, p, COLL_ALL_TO_ALL, ranks, 8, 64u << 20, NULL), SP_OK);
        assert_int_equal(coll_plan_starts_together(c), 0);
        coll_plan_free(c);
        assert_int_equal(coll_plan_new(&c, p, COLL_SEND_RECV, pair, 2, 64u << 20, NULL), SP_OK);
        assert_int_equal(coll_plan_starts_together(c), 0);
        coll_plan_free(c);
    }
    /* One member: nothing to wait for. */
    assert_int_equal(coll_plan_new(&c, p, COLL_BROADCAST, ranks, 1, 1u << 20, NULL), SP_OK);
    assert_int_equal(coll_plan_starts_together(c), 0);
    coll_plan_free(c);
    plat_free(p);
    diag_free(d);
}

/* NVLS-Tree across two DGX H100 of a SuperPOD (8 rails): NCCL's choice for
 * 1 GiB. Every GPU's NVLink ports carry S (k + 1) / k at nvlsEfficiency as in
 * NVLS, and every GPU is its rail's head: at two nodes both trees join the
 * same pair, so each head sends 2 x S / (2 x 8) over its NIC. Those flows
 * would beat NCCL's per-channel NVLS-Tree cap (8 x 57.7 GB/s of bus
 * bandwidth), so all of them are inflated alike until the transfer takes
 * the capped time, 2 (n - 1) / n S / 461.6 GB/s. */
static void test_coll__nvls_tree(void **state)
{
    plat *p;
    diag_list *d;
    coll_plan *c;
    int ranks[16];
    const uint64_t S = 1u << 30;
    coll_opts ring = {1u << COLL_ALGO_RING, 0, 0};

    (void)state;
    p = superpod(2, &d, ranks);
    assert_int_equal(coll_plan_new(&c, p, COLL_ALL_REDUCE, ranks, 16, S, NULL), SP_OK);
    assert_int_equal(coll_plan_algo(c), COLL_ALGO_NVLS_TREE);
    assert_int_equal(coll_plan_rings(c), 8);
    {
        double want = (double)S * 9.0 / 8.0 / 0.85 + (double)S / 8.0;
        double f = (double)coll_plan_bytes_sent(c, 0) / want, t_bw;
        coll_stage st;
        assert_true(f > 1.0);
        for (int m = 0; m < 16; m++) {
            double sent = (double)coll_plan_bytes_sent(c, m);
            if (fabs(sent - want * f) > 1e-6 * want)
                fail_msg("member %d sends %.0f B, want %.0f", m, sent, want * f);
        }
        coll_plan_stage(c, 0, 0, &st);
        t_bw = coll_plan_alpha_beta_s(c) - st.delay_s;
        want = (double)S * 2.0 * 15.0 / 16.0 / (8 * 57.7e9);
        if (fabs(t_bw - want) > 2e-6)
            fail_msg("transfer %.9f s, want %.9f s and the route latency", t_bw, want);
    }
    {
        /* Faster than Ring on an idle fabric, as NCCL's model says. */
        double t_nvls = coll_plan_alpha_beta_s(c);
        coll_plan *r;
        assert_int_equal(coll_plan_new(&r, p, COLL_ALL_REDUCE, ranks, 16, S, &ring), SP_OK);
        assert_true(t_nvls < coll_plan_alpha_beta_s(r));
        coll_plan_free(r);
    }
    coll_plan_free(c);
    /* One GPU per node (a DP group across TP8 nodes): no NVLS-Tree. */
    {
        int heads[2] = {0, 8};
        assert_int_equal(coll_plan_new(&c, p, COLL_ALL_REDUCE, heads, 2, S, NULL), SP_OK);
        assert_int_not_equal(coll_plan_algo(c), COLL_ALGO_NVLS_TREE);
        coll_plan_free(c);
    }
    plat_free(p);
    diag_free(d);
}

/* Which members the data reaches along a plan's transfers (stage 0: the
 * rooted plans are one stage), from member `from`, forwards or backwards. */
static void reach(const coll_plan *c, int from, int backwards, int *seen)
{
    int n = coll_plan_members(c), stack[256], top = 0;

    memset(seen, 0, (size_t)n * sizeof(*seen));
    seen[from] = 1;
    stack[top++] = from;
    while (top > 0) {
        int m = stack[--top];
        coll_stage st;
        coll_plan_stage(c, m, 0, &st);
        for (int i = 0; i < (backwards ? st.nrecv : st.nsend); i++) {
            int q = backwards ? st.recv[i].peer : st.send[i].peer;
            if (!seen[q]) {
                seen[q] = 1;
                stack[top++] = q;
            }
        }
    }
}

/* A rooted collective at every root: a broadcast's and a scatter's
 * transfers reach every member from the root, a reduce's and a gather's
 * reach the root from every member. On the two-node fixture the chains
 * cross nodes and hand over to the rail's GPU (PXN), which may be the root
 * (NCCL's PXN relays through it); on the ideal 16-node switch (one GPU a
 * node, no relays) nothing goes into a broadcast's or scatter's root or
 * out of a reduce's or gather's, and every root takes the same time (the
 * fabric is symmetric). The root is what coll_plan_root says. A root that
 * is not a member, or one for a collective without a root, is refused. */
static void test_coll__roots(void **state)
{
    fx *f = *state;
    static const coll_kind rooted[] = {COLL_BROADCAST, COLL_REDUCE, COLL_GATHER, COLL_SCATTER};
    const uint64_t S = 64ull << 20;
    diag_list *d;
    plat *ideal;
    coll_plan *c;

    assert_int_equal(diag_new(&d, 0), SP_OK);
    assert_int_equal(plat_load(&ideal, FIXTURES "/ideal-switch.cfg", d), SP_OK);
    assert_int_equal(plat_set_nodes(ideal, 16, d), SP_OK);
    for (size_t k = 0; k < sizeof(rooted) / sizeof(rooted[0]); k++) {
        int out = rooted[k] == COLL_BROADCAST || rooted[k] == COLL_SCATTER;
        const char *name = coll_kind_name(rooted[k]);
        double t0 = 0.0;
        for (int ideal_p = 0; ideal_p < 2; ideal_p++) {
            const plat *p = ideal_p ? ideal : f->p;
            int n = ideal_p ? 16 : 8;
            for (int root = 0; root < n; root++) {
                int seen[256];
                coll_stage st;
                double t;
                assert_int_equal(coll_plan_new_rooted(&c, p, rooted[k], f->ranks, n, S, root, &ring_p2p_simple),
                                 SP_OK);
                assert_int_equal(coll_plan_root(c), root);
                reach(c, root, !out, seen);
                for (int m = 0; m < n; m++)
                    if (!seen[m])
                        fail_msg("%s rooted at %d on %d GPUs: member %d is not %s", name, root, n, m,
                                 out ? "reached" : "heard");
                coll_plan_stage(c, root, 0, &st);
                if (ideal_p && (out ? st.nrecv : st.nsend) != 0)
                    fail_msg("%s rooted at %d: the root %s", name, root, out ? "receives" : "sends");
                t = coll_plan_alpha_beta_s(c);
                coll_plan_free(c);
                if (!ideal_p)
                    continue;
                if (root == 0)
                    t0 = t;
                else if (t != t0)
                    fail_msg("%s: rooted at %d %.9g s, at 0 %.9g s", name, root, t, t0);
            }
        }
    }
    plat_free(ideal);
    diag_free(d);

    assert_int_equal(coll_plan_new_rooted(&c, f->p, COLL_BROADCAST, f->ranks + 1, 4, S, 0, NULL), SP_EINPUT);
    assert_null(c);
    assert_int_equal(coll_plan_new_rooted(&c, f->p, COLL_ALL_REDUCE, f->ranks, 8, S, 0, NULL), SP_EINPUT);
    assert_int_equal(coll_plan_new_rooted(&c, f->p, COLL_ALL_REDUCE, f->ranks, 8, S, -1, NULL), SP_OK);
    assert_int_equal(coll_plan_root(c), -1);
    coll_plan_free(c);
    assert_int_equal(coll_plan_new(&c, f->p, COLL_GATHER, f->ranks + 2, 3, S, NULL), SP_OK);
    assert_int_equal(coll_plan_root(c), 2); /* the lowest rank */
    coll_plan_free(c);
    assert_int_equal(coll_plan_new_rooted(&c, f->p, COLL_GATHER, f->ranks, 8, S, -2, NULL), SP_EINPUT);
    {
        /* Ranks given unsorted, across both nodes, rooted at global rank 7
         * (member 3 once sorted): the data still reaches it from every member. */
        const int some[4] = {5, 3, 7, 1};
        int seen[8];
        assert_int_equal(coll_plan_new_rooted(&c, f->p, COLL_REDUCE, some, 4, S, 7, &ring_p2p_simple), SP_OK);
        assert_int_equal(coll_plan_root(c), 7);
        assert_int_equal(coll_plan_rank(c, 3), 7);
        reach(c, 3, 1, seen);
        for (int m = 0; m < 4; m++)
            assert_true(seen[m]);
        coll_plan_free(c);
    }
}

static void test_coll__bad_arguments(void **state)
{
    fx *f = *state;
    coll_plan *c = (coll_plan *)1;
    int dup[2] = {0, 0}, out_of_range[2] = {0, 99};

    assert_int_equal(coll_plan_new(&c, f->p, COLL_ALL_REDUCE, dup, 2, 8, &ring_simple), SP_EINPUT);
    assert_null(c);
    assert_int_equal(coll_plan_new(&c, f->p, COLL_ALL_REDUCE, out_of_range, 2, 8, &ring_simple), SP_EINPUT);
    assert_int_equal(coll_plan_new(&c, f->p, COLL_ALL_REDUCE, f->ranks, 0, 8, &ring_simple), SP_EINPUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coll__names_and_factors),
        cmocka_unit_test_setup_teardown(test_coll__steps_and_bytes, setup_ideal16, teardown),
        cmocka_unit_test_setup_teardown(test_coll__busbw_identity, setup_ideal16, teardown),
        cmocka_unit_test_setup_teardown(test_coll__rails, setup_multi, teardown),
        cmocka_unit_test_setup_teardown(test_coll__roots, setup_multi, teardown),
        cmocka_unit_test_setup_teardown(test_coll__multi_node_latency, setup_multi, teardown),
        cmocka_unit_test_setup_teardown(test_coll__spark_latency_and_channels, setup_spark, teardown),
        cmocka_unit_test(test_coll__nvls),
        cmocka_unit_test(test_coll__starts_together),
        cmocka_unit_test(test_coll__nvls_tree),
        cmocka_unit_test(test_coll__collnet),
        cmocka_unit_test(test_coll__collnet_needs_the_fabric),
        cmocka_unit_test(test_coll__tree_correction),
        cmocka_unit_test(test_coll__p2p_pxn),
        cmocka_unit_test_setup_teardown(test_coll__bad_arguments, setup_spark, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

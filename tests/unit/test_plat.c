/* test_plat.c - the platform loader, template expansion, routes, XML, and
 * the bad-input corpus (tests/bad/EXPECT) at the loader level. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit_helpers.h"
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plat/plat.h"
#include "util/str.h"

#define BAD FIXTURES "/../../bad"


static void test_plat__spark(void **state)
{
    diag_list *d = *state;
    plat *p;

    assert_int_equal(plat_load(&p, PLATFORMS "/dgx-spark.cfg", d), SP_OK);
    assert_string_equal(p->name, "dgx-spark");
    assert_int_equal(p->ntypes, 1);
    assert_string_equal(p->types[0].gpu.model, "GB10");
    assert_int_equal(p->types[0].gpus, 1);
    assert_true(p->types[0].gpu.unified);
    assert_true(p->types[0].gpu.mem_bytes == 128e9);
    assert_true(p->types[0].gpu.mem_bw_Bps == 273e9);
    assert_true(p->types[0].nic.line_bw_Bps == 25e9); /* 200 Gb/s */
    assert_true(p->types[0].nic.host_bw_Bps == 24e9);
    assert_int_equal(p->fabric.kind, PLAT_FABRIC_DIRECT);
    assert_int_equal(p->nccl.latency, PLAT_LAT_NCCL);
    assert_true(p->nccl.cpu_arm && !p->nccl.cpu_amd); /* cpu = "arm" */
    assert_true(p->nccl.launch_s == 0.0); /* no launch_us: not measured */
    assert_int_equal(plat_set_nodes(p, 2, d), SP_OK);
    assert_int_equal(p->nranks, 2);
    assert_int_equal(p->nvertices, 4); /* 2 GPUs, 2 NICs */
    assert_int_equal(p->nlinks, 3);    /* 2 host links, 1 cable */
    {
        plat_path r = plat_route(p, 0, 1);
        assert_int_equal(r.cls, PLAT_PATH_NET);
        assert_int_equal(r.hops, 3);
        /* Out of GPU 0 (UP), across the cable from NIC 0 (UP), into GPU 1 (DOWN). */
        assert_int_equal(r.down[0], 0);
        assert_int_equal(r.down[1], 0);
        assert_int_equal(r.down[2], 1);
        assert_int_equal(plat_route(p, 1, 0).down[1], 1);
        /* min(24 GB/s PCIe, 25 GB/s x 0.9804 RoCE) */
        assert_true(fabs(r.bw_Bps - 24e9) < 1.0);
    }
    /* The direct template holds exactly two nodes. */
    assert_int_equal(plat_set_nodes(p, 3, d), SP_EINPUT);
    assert_true(has_message(d, "dgx-spark.cfg:"));
    assert_true(has_message(d, "the direct template joins at most 2 nodes (got -n 3)"));
    plat_free(p);
}

/* Measured GEMMs load as (precision, m, n, k, TFLOP/s over the peak), and
 * measured attention as (seq, heads, head_dim, forward and backward over the
 * bf16 peak), in the node's copy of the GPU and in the catalogue's. */
static void test_plat__gemm_shapes(void **state)
{
    diag_list *d = *state;
    plat *p;
    const plat_gpu *g;

    assert_int_equal(plat_load(&p, FIXTURES "/gemm-shapes.cfg", d), SP_OK);
    g = &p->types[0].gpu;
    assert_int_equal(g->ngemm_shapes, 2);
    assert_int_equal(g->gemm_shapes[0].prec, PLAT_BF16);
    assert_true(g->gemm_shapes[0].m == 4096 && g->gemm_shapes[0].n == 4096 && g->gemm_shapes[0].k == 4096);
    assert_true(fabs(g->gemm_shapes[0].eff - 0.78) < 1e-12);
    assert_int_equal(g->gemm_shapes[1].prec, PLAT_FP8);
    assert_true(fabs(g->gemm_shapes[1].eff - 0.65) < 1e-12);
    assert_int_equal(plat_catalogue_find(p, "TestGPU")->ngemm_shapes, 2);
    assert_int_equal(g->nattn_shapes, 2);
    assert_true(g->attn_shapes[0].seq == 8192 && g->attn_shapes[0].heads == 16 && g->attn_shapes[0].head_dim == 128);
    assert_true(g->attn_shapes[0].kv_seq == 8192 && g->attn_shapes[0].causal); /* the defaults */
    assert_true(fabs(g->attn_shapes[0].eff_fwd - 0.55) < 1e-12 && fabs(g->attn_shapes[0].eff_bwd - 0.45) < 1e-12);
    assert_true(g->attn_shapes[1].seq == 4096 && g->attn_shapes[1].kv_seq == 2048 && !g->attn_shapes[1].causal);
    assert_true(fabs(g->attn_shapes[1].eff_fwd - 0.60) < 1e-12 && fabs(g->attn_shapes[1].eff_bwd - 0.44) < 1e-12);
    assert_int_equal(plat_catalogue_find(p, "TestGPU")->nattn_shapes, 2);
    plat_free(p);
}

static void test_plat__h100(void **state)
{
    diag_list *d = *state;
    plat *p;

    assert_int_equal(plat_load(&p, PLATFORMS "/dgx-h100.cfg", d), SP_OK);
    assert_int_equal(p->types[0].gpus, 8);
    assert_true(fabs(p->types[0].intra.bw_Bps - 370.8e9) < 1e3);
    assert_true(p->types[0].gpu.peak_flops[PLAT_BF16] == 989.4e12);
    assert_true(fabs(p->types[0].gpu.host_link_Bps - 63.0e9 * 0.875) < 1.0); /* bandwidth x efficiency */
    assert_true(fabs(p->types[0].gpu.host_link_lat_s - 2.2e-6) < 1e-12);
    assert_true(fabs(p->types[0].gpu.host_link_pageable_Bps - 14.35e9) < 1.0);
    assert_true(!p->nccl.cpu_arm && !p->nccl.cpu_amd); /* no cpu key: Intel */
    assert_true(fabs(p->nccl.launch_s - 3.312e-6) < 1e-15); /* nccl.launch_us, microseconds */
    assert_int_equal(plat_set_nodes(p, 1, d), SP_OK);
    assert_int_equal(p->nvertices, 9); /* 8 GPUs + NVSwitch; no NICs for one node */
    assert_int_equal(p->nlinks, 8);
    assert_int_equal(plat_set_nodes(p, 2, d), SP_OK);
    assert_int_equal(p->nvertices, 16 + 2 + 16 + 1);
    assert_int_equal(p->nlinks, 16 + 16 + 16);
    for (int r = 0; r < 16; r++)
        assert_int_equal(plat_rank_nic(p, r), r % 8); /* rail-aligned */
    assert_int_equal(plat_set_nodes(p, 9, d), SP_EINPUT); /* 72 ports > 64 */
    plat_free(p);
}

static void test_plat__routes_and_rails(void **state)
{
    diag_list *d = *state;
    plat *p;
    plat_path r;

    assert_int_equal(plat_load(&p, FIXTURES "/good-multi.cfg", d), SP_OK);
    assert_int_equal(plat_set_nodes(p, 3, d), SP_OK);
    assert_int_equal(plat_rank_nic(p, 0), 0);
    assert_int_equal(plat_rank_nic(p, 1), 0);
    assert_int_equal(plat_rank_nic(p, 2), 1);
    assert_int_equal(plat_rank_nic(p, 3), 1);
    assert_int_equal(plat_rank_node(p, 5), 1);
    assert_int_equal(plat_rank_local(p, 5), 1);
    r = plat_route(p, 0, 3); /* same node: NVSwitch, 100 GB/s x 0.5 */
    assert_int_equal(r.cls, PLAT_PATH_NVLINK);
    assert_int_equal(r.hops, 2);
    assert_true(fabs(r.lat_s - 1e-6) < 1e-15);
    assert_true(fabs(r.bw_Bps - 50e9) < 1.0);
    r = plat_route(p, 0, 7); /* GPU - NIC - switch - NIC - GPU */
    assert_int_equal(r.cls, PLAT_PATH_NET);
    assert_int_equal(r.hops, 4);
    assert_true(fabs(r.lat_s - (2 * 2.0 + 2 * 0.5 + 1.0) * 1e-6) < 1e-15);
    assert_true(fabs(r.bw_Bps - 10e9) < 1.0); /* host side 10 GB/s < 12.5 line */
    r = plat_route(p, 4, 4);
    assert_int_equal(r.cls, PLAT_PATH_SELF);
    plat_free(p);
}

static const char *link_name(const plat *p, const plat_path *r, int i)
{
    return p->links[r->links[i]].name;
}

/* Rail-optimized fat tree: one leaf per (unit, rail); same unit and rail is
 * one leaf, other units go up to the spine (2 tiers) or through the core
 * (3 tiers); another rail goes up to the spine from the source's own leaf,
 * not over NVLink: a marker on each NVLink edge makes that the one
 * shortest path (PXN is the collective planner's). */
static void test_plat__fat_tree_routes(void **state)
{
    diag_list *d = *state;
    plat *p;
    plat_path r;

    assert_int_equal(plat_load(&p, FIXTURES "/fat-tree-2tier.cfg", d), SP_OK);
    assert_int_equal(plat_set_nodes(p, 8, d), SP_OK);
    r = plat_route(p, 0, 2); /* n0g0 -> n1g0: same unit, rail 0 */
    assert_int_equal(r.hops, 4);
    assert_string_equal(link_name(p, &r, 1), "n0nic0-leaf");
    assert_string_equal(link_name(p, &r, 2), "n1nic0-leaf");
    r = plat_route(p, 0, 8); /* n0g0 -> n4g0: unit 0 to unit 1 */
    assert_int_equal(r.hops, 6);
    assert_string_equal(link_name(p, &r, 2), "u0leaf0-up");
    assert_string_equal(link_name(p, &r, 3), "u1leaf0-up");
    assert_true(fabs(r.bw_Bps - 50e9) < 1.0);        /* the 400G port */
    assert_true(fabs(p->links[r.links[2]].bw_Bps - 100e9) < 1.0); /* 2 up ports of 50 GB/s */
    r = plat_route(p, 0, 3); /* n0g0 -> n1g1: rail 0 up, rail 1 down */
    assert_int_equal(r.hops, 6);
    assert_string_equal(link_name(p, &r, 0), "n0g0-nic");
    assert_string_equal(link_name(p, &r, 1), "n0nic0-leaf");
    assert_string_equal(link_name(p, &r, 2), "u0leaf0-up");
    assert_string_equal(link_name(p, &r, 3), "u0leaf1-up");
    assert_string_equal(link_name(p, &r, 4), "n1nic1-leaf");
    assert_int_equal(r.down[2], 0); /* up to the spine ... */
    assert_int_equal(r.down[3], 1); /* ... and down from it */
    r = plat_route(p, 0, 1); /* n0g0 -> n0g1: NVLink, with both markers */
    assert_int_equal(r.hops, 4);
    assert_string_equal(link_name(p, &r, 0), "n0g0-nvl");
    assert_string_equal(link_name(p, &r, 1), "n0g0-w");
    assert_int_equal(p->links[r.links[1]].sharing, PLAT_FATPIPE);
    assert_string_equal(link_name(p, &r, 3), "n0g1-nvl");
    assert_true(plat_rail_routes_unique(p));
    /* Over 2 tiers of 8-port switches at most 8 leaves: 5 units of 2 rails are too many. */
    assert_int_equal(plat_set_nodes(p, 20, d), SP_EINPUT);
    plat_free(p);

    assert_int_equal(plat_load(&p, FIXTURES "/fat-tree-3tier.cfg", d), SP_OK);
    assert_int_equal(plat_set_nodes(p, 8, d), SP_OK);
    r = plat_route(p, 0, 8);
    assert_int_equal(r.hops, 8);
    assert_string_equal(link_name(p, &r, 3), "u0spine-core");
    assert_string_equal(link_name(p, &r, 4), "u1spine-core");
    assert_int_equal(plat_set_nodes(p, 20, d), SP_OK);
    plat_free(p);

    /* Back to back, no spine: between rails the path relays over NVLink on
     * the source node (PXN), and as it ties with the destination node's, no
     * marker is laid and SimGrid's choice is its own. */
    assert_int_equal(plat_load(&p, FIXTURES "/direct-2gpu.cfg", d), SP_OK);
    assert_int_equal(plat_set_nodes(p, 2, d), SP_OK);
    assert_false(plat_rail_routes_unique(p));
    r = plat_route(p, 0, 3);
    assert_int_equal(r.hops, 5);
    assert_string_equal(link_name(p, &r, 0), "n0g0-nvl");
    assert_string_equal(link_name(p, &r, 3), "cable1");
    plat_free(p);
}

/* Switchless ring: neighbours are one cable apart; half-way round an even
 * ring the route avoids the closing cable (N-1 to 0). */
static void test_plat__ring_routes(void **state)
{
    diag_list *d = *state;
    plat *p;
    plat_path r;

    assert_int_equal(plat_load(&p, PLATFORMS "/dgx-spark-ring.cfg", d), SP_OK);
    assert_int_equal(plat_set_nodes(p, 6, d), SP_OK);
    r = plat_route(p, 1, 2);
    assert_string_equal(link_name(p, &r, 1), "ring1nic0");
    r = plat_route(p, 5, 0); /* the closing cable */
    assert_string_equal(link_name(p, &r, 1), "ring5nic0");
    r = plat_route(p, 4, 1); /* half-way: 4, 3, 2, 1 rather than 4, 5, 0, 1 */
    assert_string_equal(link_name(p, &r, 1), "ring3nic0");
    assert_true(fabs(r.bw_Bps - 24e9) < 1.0);
    assert_int_equal(plat_set_nodes(p, 2, d), SP_OK); /* two Sparks, both cables: one link of 2x */
    assert_true(fabs(p->links[plat_route(p, 0, 1).links[1]].bw_Bps - 2 * 25e9 * 0.9804) < 1e3);
    plat_free(p);
}

/* PCIe without P2P: each byte crosses the shared host-memory link twice. */
static void test_plat__pcie_bounce(void **state)
{
    diag_list *d = *state;
    plat *p;
    plat_path r;

    assert_int_equal(plat_load(&p, PLATFORMS "/rtx3090-x4.cfg", d), SP_OK);
    assert_int_equal(plat_set_nodes(p, 0, d), SP_OK);
    r = plat_route(p, 0, 3);
    assert_int_equal(r.cls, PLAT_PATH_PCIE);
    assert_int_equal(r.hops, 4);
    assert_string_equal(link_name(p, &r, 1), "n0hostmem");
    assert_string_equal(link_name(p, &r, 2), "n0hostmem");
    assert_int_equal(p->links[r.links[1]].sharing, PLAT_SHARED);
    plat_free(p);
}

/* A fixed composition of two node types. */
static void test_plat__heterogeneous(void **state)
{
    diag_list *d = *state;
    plat *p;

    assert_int_equal(plat_load(&p, PLATFORMS "/lab-mixed.cfg", d), SP_OK);
    assert_int_equal(p->ntypes, 2);
    assert_int_equal(p->fixed_nodes, 3);
    assert_int_equal(plat_set_nodes(p, 0, d), SP_OK);
    assert_int_equal(p->nranks, 3);
    assert_string_equal(plat_type_of_rank(p, 0)->gpu.model, "GB10");
    assert_string_equal(plat_type_of_rank(p, 2)->gpu.model, "GB300-Station");
    assert_true(plat_type_of_rank(p, 2)->gpu.host_mem_bytes == 496e9);
    /* The switch port runs the Station's 400G NIC at 200G. */
    assert_true(fabs(plat_route(p, 2, 0).bw_Bps - 24e9) < 1.0);
    assert_int_equal(plat_set_nodes(p, 4, d), SP_EINPUT);
    assert_true(has_message(d, "fixed composition of 3 nodes (got -n 4)"));
    plat_free(p);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *s = strstr(hay, needle); s != NULL; s = strstr(s + 1, needle))
        n++;
    return n;
}

/* The SimGrid file of platform `path` on `nodes` nodes (owned by the
 * caller), and the loaded platform in *out. */
static char *xml_of(diag_list *d, const char *path, int nodes, plat **out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp;

    assert_int_equal(plat_load(out, path, d), SP_OK);
    assert_int_equal(plat_set_nodes(*out, nodes, d), SP_OK);
    fp = open_memstream(&buf, &len);
    assert_non_null(fp);
    assert_int_equal(plat_xml_write(*out, fp), SP_OK);
    fclose(fp);
    return buf;
}

static void test_plat__xml(void **state)
{
    diag_list *d = *state;
    plat *p;
    char *buf = xml_of(d, FIXTURES "/good-multi.cfg", 2, &p);

    assert_non_null(strstr(buf, "<platform version=\"4.1\">"));
    assert_non_null(strstr(buf, "routing=\"DijkstraCache\""));
    assert_int_equal(count(buf, "<host "), 8);
    assert_int_equal(count(buf, "<router "), 2 + 4 + 1);
    assert_int_equal(count(buf, "<link "), p->nlinks);
    assert_int_equal(count(buf, "<route "), p->nlinks);
    assert_int_equal(count(buf, "sharing_policy=\"SPLITDUPLEX\""), p->nlinks);
    /* 100 GB/s x 0.5 NVLink, 1 us GPU to GPU = 0.5 us per link. */
    assert_non_null(strstr(buf, "<link id=\"n0g0-nvl\" bandwidth=\"50000000000Bps\" latency=\"4.9999999999999998e-07s\""));
    free(buf);
    plat_free(p);

    /* Two DGX H100: each GPU's own NIC (a router with two adjacencies) is
     * folded into one route from the GPU to the switch, its two links last
     * first, as SimGrid's Dijkstra zone lays an edge's links out reversed. */
    buf = xml_of(d, PLATFORMS "/dgx-h100.cfg", 2, &p);
    assert_int_equal(p->nvertices, 16 + 2 + 16 + 1); /* plat keeps the NICs */
    assert_int_equal(count(buf, "<host "), 16);
    assert_int_equal(count(buf, "<router "), 2 + 1); /* the NVSwitches and the switch */
    assert_null(strstr(buf, "<router id=\"n0nic0\""));
    assert_int_equal(count(buf, "<link "), p->nlinks);
    assert_int_equal(count(buf, "<route "), p->nlinks - 16);
    assert_non_null(strstr(buf, "<route src=\"n1g7\" dst=\"sw0\"><link_ctn id=\"n1nic7-port\" direction=\"UP\"/>"
                                "<link_ctn id=\"n1g7-nic\" direction=\"UP\"/></route>"));
    free(buf);
    plat_free(p);

    /* A 2-GPU node's NVSwitch has two adjacencies too: one route from GPU 0
     * to GPU 1, the second GPU's leg written first (its marker, then its link
     * crossed down, towards it). */
    buf = xml_of(d, FIXTURES "/fat-tree-2tier.cfg", 2, &p);
    assert_null(strstr(buf, "<router id=\"n0nvsw\""));
    assert_non_null(strstr(buf, "<route src=\"n0g0\" dst=\"n0g1\"><link_ctn id=\"n0g1-w\"/>"
                                "<link_ctn id=\"n0g1-nvl\" direction=\"DOWN\"/><link_ctn id=\"n0g0-w\"/>"
                                "<link_ctn id=\"n0g0-nvl\" direction=\"UP\"/></route>"));
    free(buf);
    plat_free(p);
}

/* The SimGrid file of some nodes only: their GPUs and the switches between
 * them; leaves with no kept node below are dead ends, left out; the links
 * of the routes kept and no others. */
static char *xml_nodes(plat *p, const uint8_t *keep)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    assert_non_null(fp);
    assert_int_equal(plat_xml_write_nodes(p, keep, fp), SP_OK);
    fclose(fp);
    return buf;
}

static void test_plat__xml_nodes(void **state)
{
    diag_list *d = *state;
    plat *p;
    char *whole = xml_of(d, FIXTURES "/fat-tree-2tier.cfg", 8, &p), *buf;
    uint8_t keep[8] = {1, 1, 1, 1, 1, 1, 1, 1};

    assert_true(plat_nodes_prunable(p));
    /* Every node kept: the whole file, but for its comment. */
    buf = xml_nodes(p, keep);
    assert_int_equal(count(buf, "<host "), 16);
    assert_int_equal(count(buf, "<router "), count(whole, "<router "));
    assert_int_equal(count(buf, "<router "), 4 + 1); /* 4 leaves, the spine; NICs and 2-GPU NVSwitches folded */
    assert_int_equal(count(buf, "<link "), count(whole, "<link "));
    assert_int_equal(count(buf, "<route "), count(whole, "<route "));
    assert_non_null(strstr(buf, "8 node(s) kept"));
    assert_null(strstr(whole, "kept"));
    free(buf);

    /* Nodes 0 and 1, in unit 0: unit 1's leaves lead nowhere else. */
    memset(keep, 0, sizeof(keep));
    keep[0] = keep[1] = 1;
    buf = xml_nodes(p, keep);
    assert_int_equal(count(buf, "<host "), 4);
    assert_null(strstr(buf, "\"n2g0\""));
    assert_int_equal(count(buf, "<router "), 3);
    assert_non_null(strstr(buf, "<router id=\"u0leaf1\"/>"));
    assert_non_null(strstr(buf, "<router id=\"spine\"/>"));
    assert_null(strstr(buf, "u1leaf0"));
    /* Per node 2 NVLink routes folded into one, 2 to the leaves; 2 leaf uplinks. */
    assert_int_equal(count(buf, "<route "), 2 * (1 + 2) + 2);
    /* Per node 4 NVLink links and markers, 2 x 2 to the leaves; the uplinks. */
    assert_int_equal(count(buf, "<link "), 2 * (4 + 4) + 2);
    assert_null(strstr(buf, "n2nic0-leaf"));
    assert_non_null(strstr(buf, "2 node(s) kept"));
    free(buf);

    /* Node 0 alone: its leaves still reach the spine (two routes each). */
    keep[1] = 0;
    buf = xml_nodes(p, keep);
    assert_int_equal(count(buf, "<host "), 2);
    assert_int_equal(count(buf, "<router "), 3);
    assert_int_equal(count(buf, "<route "), 1 + 2 + 2);
    free(buf);

    /* One node in each unit: both units' leaves and the spine. */
    keep[4] = 1;
    buf = xml_nodes(p, keep);
    assert_int_equal(count(buf, "<host "), 4);
    assert_int_equal(count(buf, "<router "), 5);
    assert_int_equal(count(buf, "<route "), 2 * (1 + 2) + 4);
    assert_non_null(strstr(buf, "<host id=\"n4g1\""));
    free(buf);
    free(whole);
    plat_free(p);

    /* Where a third node could be on a route, or routes tie, no pruning. */
    assert_int_equal(plat_load(&p, FIXTURES "/direct-2gpu.cfg", d), SP_OK);
    assert_int_equal(plat_set_nodes(p, 2, d), SP_OK);
    assert_false(plat_nodes_prunable(p)); /* back to back */
    plat_free(p);
    assert_int_equal(plat_load(&p, FIXTURES "/good-multi.cfg", d), SP_OK);
    assert_int_equal(plat_set_nodes(p, 2, d), SP_OK);
    assert_false(plat_nodes_prunable(p)); /* 4 GPUs share 2 NICs */
    plat_free(p);
    assert_int_equal(plat_load(&p, FIXTURES "/pcie-switch.cfg", d), SP_OK);
    assert_int_equal(plat_set_nodes(p, 3, d), SP_OK);
    assert_false(plat_nodes_prunable(p)); /* through host memory: ties with the switch */
    plat_free(p);
    assert_int_equal(plat_load(&p, PLATFORMS "/dgx-spark-ring.cfg", d), SP_OK);
    assert_int_equal(plat_set_nodes(p, 4, d), SP_OK);
    assert_false(plat_nodes_prunable(p)); /* a ring: routes pass through nodes */
    plat_free(p);
    assert_int_equal(plat_load(&p, PLATFORMS "/dgx-h100.cfg", d), SP_OK);
    assert_int_equal(plat_set_nodes(p, 1, d), SP_OK);
    assert_false(plat_nodes_prunable(p)); /* one node */
    assert_int_equal(plat_set_nodes(p, 4, d), SP_OK);
    assert_true(plat_nodes_prunable(p)); /* a switch, a NIC per GPU */
    plat_free(p);
}

/* Every file of the corpus fails to load with SP_EINPUT, no platform, and a
 * message matching its EXPECT line (which carries file:line). */
static void test_plat__bad_corpus(void **state)
{
    diag_list *d = *state;
    FILE *fp = fopen(BAD "/EXPECT", "r");
    char line[1024];
    int cases = 0;

    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp) != NULL) {
        char file[256], path[512], *re, *all;
        size_t len = 0;
        regex_t rx;
        plat *p = (plat *)1;
        diag_list *one;

        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = '\0';
        assert_int_equal(sscanf(line, "%255s", file), 1);
        re = line + strlen(file);
        while (*re == ' ')
            re++;
        snprintf(path, sizeof(path), BAD "/%s", file);
        assert_int_equal(diag_new(&one, 0), SP_OK);
        if (plat_load(&p, path, one) != SP_EINPUT || p != NULL)
            fail_msg("%s: loaded, or failed with another code", file);
        for (size_t i = 0; i < diag_count(one); i++)
            len += strlen(diag_text(one, i)) + 1;
        all = calloc(1, len + 1);
        for (size_t i = 0; i < diag_count(one); i++) {
            strcat(all, diag_text(one, i));
            strcat(all, " ");
        }
        assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
        if (regexec(&rx, all, 0, NULL, 0) != 0)
            fail_msg("%s: messages do not match /%s/:\n%s", file, re, all);
        regfree(&rx);
        free(all);
        diag_free(one);
        cases++;
    }
    fclose(fp);
    (void)d;
    assert_true(cases >= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plat__spark, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_plat__gemm_shapes, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_plat__h100, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_plat__routes_and_rails, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_plat__xml, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_plat__xml_nodes, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_plat__fat_tree_routes, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_plat__ring_routes, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_plat__pcie_bounce, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_plat__heterogeneous, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_plat__bad_corpus, diag_setup, diag_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

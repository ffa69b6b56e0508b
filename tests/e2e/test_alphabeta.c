/* test_alphabeta.c - the simulated ring all-reduce equals the alpha-beta
 * formula 2(k-1)/k * S/B + 2(k-1) * alpha to 1e-6 relative on an ideal
 * fabric (every efficiency 1, no software latency): the engine adds nothing
 * of its own. One k per process, since SimGrid allows one engine each.
 *
 * B and alpha are computed here from the platform's own numbers: B is the
 * bottleneck of the route (min of the NIC's host side and its line rate
 * times wire efficiency), alpha the sum of the latencies on the route (NIC at
 * each end, two cables, the switch).
 *
 * usage: test_alphabeta K [COLLECTIVE [ALGO PLATFORM NODES]]. With a
 * platform, every GPU of NODES nodes takes part, ALGO (NCCL_ALGO spelling)
 * is forced, and the simulation must equal the plan's own alpha-beta sum
 * (coll_plan_alpha_beta_s): NVLS's, NVLS-Tree's and CollNet's flows on real
 * nodes (CollNet enabled, as --collnet). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "coll/coll.h"
#include "eng/eng.h"
#include "plat/plat.h"

int main(int argc, char **argv)
{
    int k = argc > 1 ? atoi(argv[1]) : 8;
    coll_kind kind = COLL_ALL_REDUCE;
    const uint64_t S = 1ull << 30; /* 1 GiB: divisible by every k tested */
    diag_list *diag = NULL;
    plat *p = NULL;
    coll_plan *plan = NULL;
    eng *e = NULL;
    int *ranks;
    double t, B, alpha, formula, rel;
    int fail = 1;
    const coll_opts ring_simple = {(1u << COLL_ALGO_RING) | (1u << COLL_ALGO_P2P),
                                   1u << COLL_PROTO_SIMPLE, 0};

    coll_opts forced = {0, 0, 0};
    const char *platform = argc > 5 ? argv[4] : NULL;

    if (argc > 2 && coll_kind_parse(&kind, argv[2]) < 0)
        return 2;
    if (platform != NULL && coll_algo_mask_parse(&forced.algo_mask, argv[3]) < 0)
        return 2;
    forced.collnet = 1; /* CollNet where the fabric has it; the algorithm is forced anyway */
    if (diag_new(&diag, 0) < 0)
        return 2;
    if (platform != NULL) {
        if (plat_load(&p, platform, diag) < 0 || plat_set_nodes(p, atoi(argv[5]), diag) < 0) {
            diag_print(diag, stderr);
            diag_free(diag);
            plat_free(p);
            return 2;
        }
        k = p->nranks;
    }
    if (k < 2 || (ranks = malloc((size_t)k * sizeof(int))) == NULL) {
        diag_free(diag);
        plat_free(p);
        return 2;
    }
    for (int i = 0; i < k; i++)
        ranks[i] = i;
    if ((platform == NULL && (plat_load(&p, FIXTURES "/ideal-switch.cfg", diag) < 0 ||
                              plat_set_nodes(p, k, diag) < 0)) ||
        coll_plan_new(&plan, p, kind, ranks, k, S, platform != NULL ? &forced : &ring_simple) < 0 ||
        eng_new(&e, p, NULL, diag) < 0 || eng_run_coll(e, plan, &t, diag) < 0) {
        diag_print(diag, stderr);
        goto done;
    }
    if (platform != NULL) {
        formula = coll_plan_alpha_beta_s(plan);
        goto compare;
    }
    B = fmin(p->types[0].nic.host_bw_Bps, p->types[0].nic.line_bw_Bps * p->types[0].nic.efficiency);
    alpha = 2 * p->types[0].nic.lat_s + 2 * p->fabric.cable_lat_s + p->fabric.switch_lat_s;
    /* The fixture documents its values; check the loader read them. */
    if (fabs(B - 25e9) > 1.0 || fabs(alpha - 3e-6) > 1e-15) {
        fprintf(stderr, "fixture read wrong: B %.17g B/s, alpha %.17g s\n", B, alpha);
        goto done;
    }
    /* all_reduce: the closed formula; other collectives: the plan's own
     * alpha-beta sum over stages (busiest link + latency), which the unit
     * tests check against nccl-tests' busbw identity. */
    if (kind == COLL_ALL_REDUCE)
        formula = 2.0 * (k - 1) / k * (double)S / B + 2.0 * (k - 1) * alpha;
    else
        formula = coll_plan_alpha_beta_s(plan);
compare:
    rel = fabs(t - formula) / formula;
    printf("%s %s k=%d S=%llu B: simulated %.12f s, formula %.12f s, relative error %.3g, %llu messages\n",
           coll_kind_name(kind), coll_algo_name(coll_plan_algo(plan)), k, (unsigned long long)S, t, formula, rel,
           eng_message_count(e));
    if (rel > 1e-6)
        fprintf(stderr, "FAIL: relative error %.3g > 1e-6\n", rel);
    else
        fail = 0;
done:
    eng_free(e);
    coll_plan_free(plan);
    plat_free(p);
    free(ranks);
    diag_free(diag);
    return fail;
}

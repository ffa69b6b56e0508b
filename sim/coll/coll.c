/* coll.c - names, nccl-tests factors and NCCL's cost-model constants.
 *
 * Constants are NCCL 2.30.7's (NVIDIA/nccl @ 5067397c, src/graph/tuning.cc),
 * as summarised in shared/NCCL.md section 2.2; they are NCCL's own model of
 * its software latency, not fitted here.
 */
#include "coll/coll.h"

#include <string.h>

static const char *const kind_names[COLL_NKINDS] = {"all_reduce", "all_gather", "reduce_scatter"};

const char *coll_kind_name(coll_kind k)
{
    return k < COLL_NKINDS ? kind_names[k] : "?";
}

const char *coll_algo_name(coll_algo a)
{
    return a == COLL_ALGO_RING ? "Ring" : "?";
}

const char *coll_proto_name(coll_proto p)
{
    static const char *const names[COLL_NPROTOS] = {"LL", "LL128", "Simple"};
    return p < COLL_NPROTOS ? names[p] : "?";
}

int coll_kind_parse(coll_kind *out, const char *name)
{
    for (int k = 0; k < COLL_NKINDS; k++) {
        size_t n = strlen(kind_names[k]);
        /* Accept "all_reduce" and nccl-tests' binary name "all_reduce_perf". */
        if (strcmp(name, kind_names[k]) == 0 ||
            (strncmp(name, kind_names[k], n) == 0 && strcmp(name + n, "_perf") == 0)) {
            *out = (coll_kind)k;
            return SP_OK;
        }
    }
    return SP_EINPUT;
}

double coll_busbw_factor(coll_kind k, int n)
{
    if (n < 1)
        return 0.0;
    switch (k) {
    case COLL_ALL_REDUCE:
        return 2.0 * (n - 1) / n;
    case COLL_ALL_GATHER:
    case COLL_REDUCE_SCATTER:
        return (double)(n - 1) / n;
    default:
        return 1.0;
    }
}

int coll_kind_reduces(coll_kind k)
{
    return k == COLL_ALL_REDUCE || k == COLL_REDUCE_SCATTER;
}

double coll_proto_wire_efficiency(coll_proto p)
{
    switch (p) {
    case COLL_PROTO_LL:
        return 8.0 / 16.0; /* 4 B data + 4 B flag, twice per 16 B line */
    case COLL_PROTO_LL128:
        return 120.0 / 128.0; /* 8 B flag per 128 B line */
    default:
        return 1.0;
    }
}

double coll_nccl_base_latency_us(coll_algo a, coll_proto p)
{
    /* baseLat[algo][proto], LL / LL128 / Simple: Ring 6.6 / 14.0 / 8.4. */
    static const double ring[COLL_NPROTOS] = {6.6, 14.0, 8.4};
    return a == COLL_ALGO_RING && p < COLL_NPROTOS ? ring[p] : 0.0;
}

double coll_nccl_hw_latency_us(plat_path_class cls, coll_algo a, coll_proto p, int one_gpu_per_node)
{
    /* hwLat[link][algo][proto], LL / LL128 / Simple. With one GPU per node,
     * NCCL takes the inter-node latency from the Tree NET row for every
     * algorithm (tuning.cc). */
    static const double ring_nvlink[COLL_NPROTOS] = {0.6, 1.9, 3.4};
    static const double ring_net[COLL_NPROTOS] = {2.7, 4.0, 14.0};
    static const double tree_net[COLL_NPROTOS] = {5.0, 8.5, 14.0};

    (void)a; /* Ring is the only algorithm so far */
    if (p >= COLL_NPROTOS)
        return 0.0;
    switch (cls) {
    case PLAT_PATH_NVLINK:
        return ring_nvlink[p];
    case PLAT_PATH_NET:
        return one_gpu_per_node ? tree_net[p] : ring_net[p];
    default:
        return 0.0;
    }
}

/* coll.c - names, nccl-tests factors and NCCL's cost-model constants.
 *
 * Constants are NCCL 2.30.7's (NVIDIA/nccl @ 5067397c, src/graph/tuning.cc),
 * as summarised in shared/NCCL.md section 2.2; they are NCCL's own model of
 * its software latency, not fitted here.
 */
#include "coll/coll.h"

#include <string.h>
#include <strings.h>

static const char *const kind_names[COLL_NKINDS] = {"all_reduce", "all_gather", "reduce_scatter",
                                                    "broadcast",  "reduce",     "alltoall",
                                                    "sendrecv",   "gather",     "scatter"};

const char *coll_kind_name(coll_kind k)
{
    return k < COLL_NKINDS ? kind_names[k] : "?";
}

static const char *const algo_names[COLL_NALGOS] = {"Tree",          "Ring",         "PAT", "NVLS",
                                                    "NVLSTree",      "CollnetDirect", "CollnetChain",
                                                    "P2P"};
static const char *const proto_names[COLL_NPROTOS] = {"LL", "LL128", "Simple"};

const char *coll_algo_name(coll_algo a)
{
    return a < COLL_NALGOS ? algo_names[a] : "?";
}

static int mask_parse(unsigned *out, const char *list, const char *const *names, int n)
{
    char buf[256];
    char *save = NULL;

    *out = 0;
    if (list == NULL || strlen(list) >= sizeof(buf))
        return SP_EINPUT;
    strcpy(buf, list);
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        int i = 0;
        while (i < n && strcasecmp(tok, names[i]) != 0)
            i++;
        if (i == n)
            return SP_EINPUT;
        *out |= 1u << i;
    }
    return *out != 0 ? SP_OK : SP_EINPUT;
}

int coll_algo_mask_parse(unsigned *out, const char *list)
{
    return mask_parse(out, list, algo_names, COLL_NALGOS);
}

int coll_proto_mask_parse(unsigned *out, const char *list)
{
    return mask_parse(out, list, proto_names, COLL_NPROTOS);
}

const char *coll_proto_name(coll_proto p)
{
    return p < COLL_NPROTOS ? proto_names[p] : "?";
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
    case COLL_ALL_TO_ALL:
    case COLL_GATHER:
    case COLL_SCATTER:
        return (double)(n - 1) / n;
    default:
        return 1.0;
    }
}

int coll_kind_reduces(coll_kind k)
{
    return k == COLL_ALL_REDUCE || k == COLL_REDUCE_SCATTER || k == COLL_REDUCE;
}

int coll_kind_root(coll_kind k)
{
    return k == COLL_BROADCAST || k == COLL_REDUCE || k == COLL_GATHER || k == COLL_SCATTER ? 0 : -1;
}

int coll_kind_is_p2p(coll_kind k)
{
    return k == COLL_ALL_TO_ALL || k == COLL_SEND_RECV || k == COLL_GATHER || k == COLL_SCATTER;
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

/* baseLat[algo][proto], LL / LL128 / Simple (tuning.cc). */
static const double base_lat[COLL_NALGOS][COLL_NPROTOS] = {
    {6.8, 14.0, 8.4}, /* Tree */
    {6.6, 14.0, 8.4}, /* Ring */
    {8.0, 8.0, 8.0},  /* PAT */
    {0.0, 0.0, 0.0},  /* NVLS: no base latency */
    {0.0, 0.0, 0.0},  /* NVLS-Tree: none either */
    {0.0, 0.0, 0.0},  /* CollNet Direct: none */
    {0.0, 0.0, 0.0},  /* CollNet Chain: none */
    {6.6, 14.0, 8.4}, /* P2P: not in NCCL's tables; charged as one Ring step */
};

/* hwLat[link][algo][proto]: NVLink, PCIe, NET. PAT, NVLS, NVLS-Tree and
 * CollNet are Simple only (the NVLS ones have no PCIe entry); P2P is not in
 * NCCL's tables and is charged as a Ring hop. Columns: Tree, Ring, PAT, NVLS,
 * NVLS-Tree, CollNet Direct, CollNet Chain, P2P. */
static const double hw_lat[3][COLL_NALGOS][COLL_NPROTOS] = {
    {{0.6, 1.25, 4.0}, {0.6, 1.9, 3.4}, {0.0, 0.0, 4.0}, {0.0, 0.0, 25.0}, {0.0, 0.0, 25.0}, {0.0, 0.0, 3.7}, {0.0, 0.0, 2.8}, {0.6, 1.9, 3.4}}, /* NVLink */
    {{1.0, 1.9, 4.0}, {1.0, 2.5, 5.7}, {0.0, 0.0, 4.0}, {0.0, 0.0, 0.0}, {0.0, 0.0, 0.0}, {0.0, 0.0, 3.7}, {0.0, 0.0, 2.8}, {1.0, 2.5, 5.7}},  /* PCIe */
    {{5.0, 8.5, 14.0}, {2.7, 4.0, 14.0}, {0.0, 0.0, 14.0}, {0.0, 0.0, 18.0}, {0.0, 0.0, 20.9}, {0.0, 0.0, 31.0}, {0.0, 0.0, 30.0}, {2.7, 4.0, 14.0}}, /* NET */
};

double coll_nccl_base_latency_us(coll_algo a, coll_proto p)
{
    return a < COLL_NALGOS && p < COLL_NPROTOS ? base_lat[a][p] : 0.0;
}

double coll_nccl_hw_latency_us(plat_path_class cls, coll_algo a, coll_proto p, int one_gpu_per_node)
{
    int link;

    if (a >= COLL_NALGOS || p >= COLL_NPROTOS)
        return 0.0;
    switch (cls) {
    case PLAT_PATH_NVLINK:
        link = 0;
        break;
    case PLAT_PATH_PCIE:
        link = 1;
        break;
    case PLAT_PATH_NET:
        /* With one GPU per node NCCL takes the network latency from the Tree
         * row for every algorithm (tuning.cc). */
        return hw_lat[2][one_gpu_per_node ? COLL_ALGO_TREE : a][p];
    default:
        return 0.0;
    }
    return hw_lat[link][a][p];
}

/* cli_nccl.c - `scalepath nccl`: a drop-in for nccl-tests.
 *
 * Options follow nccl-tests (-b -e -f -i -d, -c for the collective as in the
 * binary names all_reduce_perf, ...); -p and -n choose the platform and node
 * count; -o writes the table to HDF5. The printed table has nccl-tests'
 * columns and formulas (algbw = size / time; busbw = algbw x the
 * collective's factor), so it can be put beside a real nccl-tests log.
 * Simulated time is the same in place and out of place (the local copy of
 * out-of-place runs is not modelled), and no data moves, so #wrong is N/A.
 *
 * The time is the collective's alone unless --gpus-per-thread G says how
 * many GPUs one host thread drives (nccl-tests' own -g): that thread then
 * launches G kernels in turn per iteration, one per GPU's communicator, each
 * taking the platform's measured launch time (nccl.launch_us), and
 * nccl-tests, which times back-to-back iterations, measures the larger of
 * the collective's time and the thread's G launches.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "coll/coll.h"
#include "eng/eng.h"
#include "out/out.h"
#include "plat/plat.h"
#include "util/str.h"
#include "util/vec.h"

typedef struct dtype {
    const char *name; /* nccl-tests spelling */
    unsigned size;    /* bytes */
} dtype;

static const dtype dtypes[] = {
    {"int8", 1},   {"uint8", 1},    {"int32", 4},    {"uint32", 4},     {"int64", 8},
    {"uint64", 8}, {"half", 2},     {"float", 4},    {"double", 8},     {"bfloat16", 2},
    {"f8e4m3", 1}, {"f8e5m2", 1},   {"char", 1},     {"int", 4},        {"float16", 2},
    {"float32", 4}, {"float64", 8}, {"bf16", 2},     {"fp16", 2},       {"fp32", 4},
    {"fp64", 8},   {NULL, 0},
};

/* The canonical nccl-tests name of a type (aliases map to it). */
static const char *canonical(const char *name)
{
    static const char *const alias[][2] = {
        {"char", "int8"},     {"int", "int32"},    {"float16", "half"}, {"fp16", "half"},
        {"float32", "float"}, {"fp32", "float"},   {"float64", "double"}, {"fp64", "double"},
        {"bf16", "bfloat16"}, {NULL, NULL},
    };
    for (int i = 0; alias[i][0] != NULL; i++)
        if (strcmp(alias[i][0], name) == 0)
            return alias[i][1];
    return name;
}

typedef struct nccl_opts {
    const char *platform;
    int nodes;
    coll_kind kind;
    uint64_t min_bytes, max_bytes, step_bytes;
    int step_factor;
    const dtype *type;
    const char *redop;
    const char *output;
    const char *xml;
    int verbose;
    coll_opts coll;
    int gpn; /* -g: ranks per node (0 = all GPUs) */
    int gpt; /* --gpus-per-thread: GPUs one host thread launches for (0 = host not modelled) */
    int root; /* -r: the root's rank in the communicator (rooted collectives) */
} nccl_opts;

typedef struct nccl_row {
    uint64_t size, count;
    double time_us, coll_us, algbw, busbw, model_us;
    const char *algo, *proto;
    int64_t channels, rings;
} nccl_row;

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: scalepath nccl -p PLATFORM.cfg [-n NODES] [-c COLLECTIVE] [-b MINBYTES]\n"
            "                      [-e MAXBYTES] [-f FACTOR | -i STEPBYTES] [-d TYPE] [--op OP]\n"
            "                      [-r ROOT] [-o OUT.h5] [--xml PLATFORM.xml] [-v]\n"
            "\n"
            "  -p FILE   platform file (platforms/*.cfg)            required\n"
            "  -n N      nodes                                  default: 1, or the file's\n"
            "  -g G      ranks per node: the first G GPUs of each   default: all GPUs\n"
            "  -c NAME   all_reduce all_gather reduce_scatter broadcast reduce\n"
            "            alltoall sendrecv gather scatter (or their _perf names)\n"
            "                                                        default all_reduce\n"
            "  -b SIZE   smallest size, bytes (K, M, G suffixes)     default 32M\n"
            "  -e SIZE   largest size                                default 32M\n"
            "  -f F      multiply the size by F each step            default 2\n"
            "  -i SIZE   add SIZE each step instead of -f\n"
            "  -d TYPE   int8 uint8 int32 uint32 int64 uint64 half float double\n"
            "            bfloat16 f8e4m3 f8e5m2                      default float\n"
            "  --op OP   sum prod min max avg (printed only)         default sum\n"
            "  -r ROOT   the root's rank in the communicator, as nccl-tests' -r:\n"
            "            broadcast, reduce, gather and scatter (not -1: one\n"
            "            root a run)                                default 0\n"
            "  --algo L  algorithms NCCL may choose, as NCCL_ALGO: Ring,Tree,PAT,\n"
            "            NVLS,NVLSTree,CollnetDirect,CollnetChain    default all\n"
            "  --collnet as NCCL_COLLNET_ENABLE=1: CollNet, and NVLS across nodes,\n"
            "            where the fabric reduces in the network (SHARP)  default off\n"
            "  --proto L protocols, as NCCL_PROTO: LL,LL128,Simple       default all\n"
            "  --gpus-per-thread G\n"
            "            GPUs one host thread drives (nccl-tests' -g): the time\n"
            "            is at least G kernel launches' host time (the\n"
            "            platform's nccl.launch_us) per iteration    default: the\n"
            "                                                   collective alone\n"
            "  -o FILE   write the table to HDF5 (docs/output-format.md)\n"
            "  --xml F   keep the generated SimGrid platform in F\n"
            "  -v        add algorithm, protocol, channels, rings and NCCL's own\n"
            "            predicted time (us) as columns; with --gpus-per-thread,\n"
            "            the collective's own time (us) too\n"
            "\n"
            "Sizes are nccl-tests sizes: the buffer for all_reduce, broadcast, reduce and\n"
            "sendrecv; the total of all ranks' buffers for all_gather, reduce_scatter,\n"
            "alltoall, gather and scatter. Communicator rank i is the i-th GPU in node order\n"
            "(with -g, of the first G of each node); other collectives ignore -r, as\n"
            "nccl-tests does.\n");
}

static int parse_args(nccl_opts *o, int argc, char **argv, diag_list *diag)
{
    static const struct option longs[] = {
        {"platform", required_argument, NULL, 'p'}, {"nodes", required_argument, NULL, 'n'},
        {"gpus", required_argument, NULL, 'g'},
        {"collective", required_argument, NULL, 'c'}, {"minbytes", required_argument, NULL, 'b'},
        {"maxbytes", required_argument, NULL, 'e'}, {"stepfactor", required_argument, NULL, 'f'},
        {"stepbytes", required_argument, NULL, 'i'}, {"datatype", required_argument, NULL, 'd'},
        {"op", required_argument, NULL, 'O'},       {"output", required_argument, NULL, 'o'},
        {"xml", required_argument, NULL, 'X'},      {"verbose", no_argument, NULL, 'v'},
        {"algo", required_argument, NULL, 'A'},     {"proto", required_argument, NULL, 'P'},
        {"collnet", no_argument, NULL, 'K'},        {"help", no_argument, NULL, 'h'},
        {"gpus-per-thread", required_argument, NULL, 'G'},
        {"root", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    int c, err = SP_OK;

    *o = (nccl_opts){NULL, 0, COLL_ALL_REDUCE, 32u << 20, 32u << 20, 0, 2, NULL, "sum",
                     NULL, NULL, 0, {0, 0, 0}, 0, 0, 0};
    o->type = &dtypes[7]; /* float */
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:n:g:c:b:e:f:i:d:o:r:vh", longs, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->platform = optarg;
            break;
        case 'n':
            if (cli_parse_int(&o->nodes, "-n", optarg, 1, 1 << 20, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'g':
            if (cli_parse_int(&o->gpn, "-g", optarg, 1, 1024, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'r':
            if (cli_parse_int(&o->root, "-r", optarg, 0, 1 << 30, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'G':
            if (cli_parse_int(&o->gpt, "--gpus-per-thread", optarg, 1, 1024, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'c':
            if (coll_kind_parse(&o->kind, optarg) < 0) {
                diag_error(diag, (sp_loc){0},
                           "option -c: unknown collective \"%s\" (expected all_reduce, "
                           "all_gather, reduce_scatter, broadcast, reduce, alltoall, sendrecv, gather or scatter)",
                           optarg);
                err = SP_EINPUT;
            }
            break;
        case 'b':
        case 'e':
        case 'i': {
            uint64_t v;
            if (str_parse_size(&v, optarg) < 0) {
                diag_error(diag, (sp_loc){0},
                           "option -%c: expected a size in bytes such as 8, 64K, 1M or 8G, got \"%s\"",
                           c, optarg);
                err = SP_EINPUT;
            } else if (c == 'b')
                o->min_bytes = v;
            else if (c == 'e')
                o->max_bytes = v;
            else
                o->step_bytes = v;
            break;
        }
        case 'f':
            if (cli_parse_int(&o->step_factor, "-f", optarg, 2, 1 << 20, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'd': {
            const char *want = canonical(optarg);
            const dtype *t = dtypes;
            while (t->name != NULL && strcmp(t->name, want) != 0)
                t++;
            if (t->name == NULL) {
                diag_error(diag, (sp_loc){0}, "option -d: unknown type \"%s\"", optarg);
                err = SP_EINPUT;
            } else
                o->type = t;
            break;
        }
        case 'O':
            if (strcmp(optarg, "sum") && strcmp(optarg, "prod") && strcmp(optarg, "min") &&
                strcmp(optarg, "max") && strcmp(optarg, "avg")) {
                diag_error(diag, (sp_loc){0}, "option --op: unknown reduction \"%s\"", optarg);
                err = SP_EINPUT;
            } else
                o->redop = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'X':
            o->xml = optarg;
            break;
        case 'A':
        case 'P':
        case 'K':
            if (cli_parse_coll_opt(&o->coll, c == 'A' ? "--algo" : c == 'P' ? "--proto" : "--collnet", optarg,
                                   diag) < 0)
                err = SP_EINPUT;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 1; /* not an error: help was asked for */
        case ':':
            diag_error(diag, (sp_loc){0}, "option %s needs a value", argv[optind - 1]);
            err = SP_EINPUT;
            break;
        default:
            diag_error(diag, (sp_loc){0}, "nccl: unknown option \"%s\"", argv[optind - 1]);
            err = SP_EINPUT;
        }
    }
    if (optind < argc) {
        diag_error(diag, (sp_loc){0}, "nccl: unexpected argument \"%s\"", argv[optind]);
        err = SP_EINPUT;
    }
    if (o->platform == NULL) {
        diag_error(diag, (sp_loc){0}, "nccl: a platform is required (-p platforms/NAME.cfg)");
        err = SP_EINPUT;
    }
    if (o->min_bytes > o->max_bytes) {
        diag_error(diag, (sp_loc){0}, "nccl: -b %llu is larger than -e %llu",
                   (unsigned long long)o->min_bytes, (unsigned long long)o->max_bytes);
        err = SP_EINPUT;
    }
    if (o->max_bytes > (1ull << 40)) {
        diag_error(diag, (sp_loc){0}, "nccl: -e is limited to 1T bytes");
        err = SP_EINPUT;
    }
    if (err < 0)
        usage(stderr);
    return err;
}

/* The root nccl-tests would print: -r's rank for a rooted collective, -1
 * for the others. */
static int nccl_root(const nccl_opts *o)
{
    return coll_kind_root(o->kind) < 0 ? -1 : o->root;
}

/* nccl-tests' size and count for a requested size (GetCollByteCount in src/NAME.cu):
 * all_gather, reduce_scatter, alltoall, gather and scatter work on a
 * per-rank count rounded down to a multiple of 16 bytes, which is the count
 * nccl-tests prints (its paramcount), the size being all ranks' total. */
static void sizes_for(const nccl_opts *o, int n, uint64_t req, uint64_t *size, uint64_t *count)
{
    uint64_t ts = o->type->size;

    if (o->kind != COLL_ALL_GATHER && o->kind != COLL_REDUCE_SCATTER && o->kind != COLL_ALL_TO_ALL &&
        o->kind != COLL_GATHER && o->kind != COLL_SCATTER) {
        *count = req / ts;
        *size = *count * ts;
        return;
    }
    {
        uint64_t per_rank = req / ts / (uint64_t)n;
        uint64_t align = ts < 16 ? 16 / ts : 1;
        per_rank -= per_rank % align;
        *count = per_rank;
        *size = per_rank * (uint64_t)n * ts;
    }
}

/* The platform file's text, for provenance (owned by the caller; NULL if
 * unreadable, which only loses the copy). *oom: 1 when out of memory. */
static char *slurp(const char *path, int *oom)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long n;

    *oom = 0;
    if (fp == NULL)
        return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
        if ((buf = malloc((size_t)n + 1)) != NULL) {
            size_t got = fread(buf, 1, (size_t)n, fp);
            buf[got] = '\0';
        } else {
            *oom = 1;
        }
    }
    fclose(fp);
    return buf;
}

static int write_h5(const nccl_opts *o, const plat *p, int nmembers, const nccl_row *rows,
                    size_t nrows, int argc, char **argv, diag_list *diag)
{
    out_file *f = NULL;
    char *cmd = cli_join_argv(argc, argv);
    int text_oom;
    char *text = slurp(p->path, &text_oom);
    uint64_t *size = malloc(nrows * sizeof(*size) + 1), *count = malloc(nrows * sizeof(*count) + 1);
    double *t = malloc(nrows * sizeof(double) + 1), *ct = malloc(nrows * sizeof(double) + 1),
           *alg = malloc(nrows * sizeof(double) + 1),
           *bus = malloc(nrows * sizeof(double) + 1), *model = malloc(nrows * sizeof(double) + 1);
    int64_t *ch = malloc(nrows * sizeof(int64_t) + 1), *rg = malloc(nrows * sizeof(int64_t) + 1);
    const char **algo = malloc(nrows * sizeof(char *) + 1),
               **proto = malloc(nrows * sizeof(char *) + 1);
    char group[64];
    int err = SP_ENOMEM;
    char what[512];

    plat_describe(p, what, sizeof(what));
    if (cmd && !text_oom && size && count && t && ct && alg && bus && model && ch && rg && algo && proto) {
        const out_attr root[] = {
            OUT_ATTR_STR("command", cmd),
            OUT_ATTR_STR("kind", "nccl"),
            OUT_ATTR_STR("simgrid_version", eng_simgrid_version()),
            OUT_ATTR_STR("network_model", eng_network_model()),
            OUT_ATTR_STR("platform_file", p->path),
            OUT_ATTR_STR("platform_name", p->name),
            OUT_ATTR_STR("platform_description", p->description),
            OUT_ATTR_STR("platform_file_text", text != NULL ? text : ""),
        };
        const out_attr gattrs[] = {
            OUT_ATTR_STR("collective", coll_kind_name(o->kind)),
            OUT_ATTR_STR("datatype", o->type->name),
            OUT_ATTR_I64("datatype_size", o->type->size, "B"),
            OUT_ATTR_STR("redop", coll_kind_reduces(o->kind) ? o->redop : "none"),
            OUT_ATTR_I64("root", nccl_root(o), NULL),
            OUT_ATTR_I64("nodes", p->nodes, NULL),
            OUT_ATTR_STR("composition", what),
            OUT_ATTR_I64("ranks", nmembers, NULL),
            OUT_ATTR_I64("ranks_per_node", o->gpn, NULL),
            OUT_ATTR_F64("busbw_factor", coll_busbw_factor(o->kind, nmembers), NULL),
            OUT_ATTR_STR("latency_model", p->nccl.latency == PLAT_LAT_NONE ? "none" : "nccl"),
            OUT_ATTR_I64("gpus_per_thread", o->gpt, NULL),
            OUT_ATTR_F64("launch_time", o->gpt > 0 ? p->nccl.launch_s * 1e6 : 0.0, "us"),
        };
        const out_col cols[] = {
            {"size", OUT_U64, "B", "nccl-tests size (all ranks' total for all_gather, reduce_scatter, alltoall, gather, scatter)", size},
            {"count", OUT_U64, "elements", "elements, as nccl-tests prints them (per rank where size is the total)", count},
            {"time", OUT_F64, "us", "simulated time of one operation: collective_time, or gpus_per_thread x launch_time when that is larger", t},
            {"collective_time", OUT_F64, "us", "the collective's own simulated time, first start to last finish", ct},
            {"algbw", OUT_F64, "GB/s", "size / time, GB = 1e9 B", alg},
            {"busbw", OUT_F64, "GB/s", "algbw x busbw_factor, as nccl-tests", bus},
            {"model_time", OUT_F64, "us", "NCCL's own cost-model prediction for the chosen algorithm and protocol; NaN for p2p operations, which NCCL does not model", model},
            {"algorithm", OUT_STR, "", "NCCL algorithm simulated", algo},
            {"protocol", OUT_STR, "", "NCCL protocol simulated", proto},
            {"channels", OUT_I64, "1", "channels NCCL would use for this size", ch},
            {"rings", OUT_I64, "1", "rings simulated (one per rail with several NICs per node)", rg},
        };
        for (size_t i = 0; i < nrows; i++) {
            size[i] = rows[i].size;
            count[i] = rows[i].count;
            t[i] = rows[i].time_us;
            ct[i] = rows[i].coll_us;
            alg[i] = rows[i].algbw;
            bus[i] = rows[i].busbw;
            model[i] = rows[i].model_us;
            algo[i] = rows[i].algo;
            proto[i] = rows[i].proto;
            ch[i] = rows[i].channels;
            rg[i] = rows[i].rings;
        }
        snprintf(group, sizeof(group), "/nccl/%s", coll_kind_name(o->kind));
        err = out_open(&f, o->output, root, sizeof(root) / sizeof(root[0]), diag);
        if (err == SP_OK)
            err = out_table(f, group, gattrs, sizeof(gattrs) / sizeof(gattrs[0]), cols,
                            sizeof(cols) / sizeof(cols[0]), nrows);
        if (err == SP_OK)
            err = out_commit(f);
        else
            out_discard(f);
    }
    free(cmd);
    free(text);
    free(size);
    free(count);
    free(t);
    free(ct);
    free(alg);
    free(bus);
    free(model);
    free(ch);
    free(rg);
    free(algo);
    free(proto);
    return err;
}

int cli_nccl(int argc, char **argv, diag_list *diag)
{
    nccl_opts o;
    plat *p = NULL;
    eng *e = NULL;
    nccl_row *rows = NULL;
    size_t nrows = 0, cap = 0;
    int *ranks = NULL;
    int err, nmembers = 0;
    double sum_busbw = 0.0, floor_s = 0.0; /* the host's launches per iteration (--gpus-per-thread) */

    err = parse_args(&o, argc, argv, diag);
    if (err != SP_OK)
        return err > 0 ? SP_OK : err;
    if ((err = plat_load(&p, o.platform, diag)) < 0)
        goto done;
    if ((err = plat_set_nodes(p, o.nodes, diag)) < 0)
        goto done;
    if ((ranks = malloc((size_t)p->nranks * sizeof(int))) == NULL) {
        err = SP_ENOMEM;
        goto done;
    }
    /* The communicator: every GPU, or the first -g GPUs of each node. */
    if ((err = cli_communicator(p, o.gpn, ranks, &nmembers, diag)) < 0)
        goto done;
    if (nccl_root(&o) >= nmembers) {
        diag_error(diag, (sp_loc){0}, "nccl: -r %d: the communicator's ranks are 0 to %d", o.root, nmembers - 1);
        err = SP_EINPUT;
        goto done;
    }
    if (o.gpt > 0 && (err = cli_launch_floor(p, o.gpn, o.gpt, &floor_s, diag)) < 0)
        goto done;
    /* Every size is planned before SimGrid starts: no bad input reaches it. */
    if ((err = eng_new(&e, p, o.xml, diag)) < 0)
        goto done;

    {
        char what[512];
        plat_describe(p, what, sizeof(what));
        printf("# scalepath %s nccl: %s_perf on %s: %s; %d rank(s) in the communicator\n",
               SP_VERSION, coll_kind_name(o.kind), p->name, what, nmembers);
    }
    if (coll_kind_is_p2p(o.kind))
        printf("# the p2p engine: LL or Simple per size as NCCL picks them%s\n",
               o.coll.algo_mask || o.coll.proto_mask ? " (--algo/--proto do not apply, as NCCL_ALGO/NCCL_PROTO do not)"
                                                    : "");
    else
        printf("# algorithm and protocol chosen per size as NCCL's cost model does%s\n",
               o.coll.algo_mask || o.coll.proto_mask ? ", among those --algo/--proto allow" : "");
    if (o.coll.collnet)
        printf("# CollNet enabled (NCCL_COLLNET_ENABLE=1): %s\n",
               p->fabric.in_network_reduction
                   ? "the fabric reduces in the network; across nodes all_reduce may run CollNet or NVLS, "
                     "all_gather and reduce_scatter CollNet Direct"
                   : "no effect, the platform's fabric does not reduce in the network");
    printf("# platform %s; %s; latency model: %s\n", p->path, eng_network_model(),
           p->nccl.latency == PLAT_LAT_NONE ? "none (physical only)" : "NCCL 2.30.7 tuning constants");
    if (o.gpt > 0)
        printf("# host: one thread drives %d GPU(s), as nccl-tests -g %d: %d launch(es) x %.3f us = %.2f us "
               "per iteration;\n#       time is the larger of that and the collective's (nccl-tests times "
               "back-to-back iterations)\n",
               o.gpt, o.gpt, o.gpt, p->nccl.launch_s * 1e6, floor_s * 1e6);
    else
        printf("# host: not modelled; time is the collective's alone (--gpus-per-thread adds the launches)\n");
    printf("# simulated: in-place and out-of-place take the same time; no data moves, so #wrong is N/A\n");
    printf("#\n");
    printf("#                                                              out-of-place                       in-place          %s\n",
           o.verbose ? "" : "");
    printf("#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong%s%s\n",
           o.verbose ? "   algo  proto ch rings  model_us" : "", o.verbose && o.gpt > 0 ? "  coll_us" : "");
    printf("#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)       \n");
    for (uint64_t req = o.min_bytes;;) {
        uint64_t size, count;
        coll_plan *plan = NULL;
        double t;
        nccl_row row;

        sizes_for(&o, nmembers, req, &size, &count);
        /* --algo and --proto leave the p2p engine alone (send/recv,
         * all-to-all, gather, scatter), as NCCL_ALGO and NCCL_PROTO do; only
         * --collnet could matter to it, and does not. */
        if ((err = coll_plan_new_rooted(&plan, p, o.kind, ranks, nmembers, size,
                                        nccl_root(&o) < 0 ? -1 : ranks[nccl_root(&o)],
                                        coll_kind_is_p2p(o.kind) ? NULL : &o.coll)) < 0) {
            if (err == SP_EINPUT)
                diag_error(diag, (sp_loc){0},
                           "nccl: no algorithm allowed by --algo/--proto runs %s on this "
                           "communicator (Tree is all_reduce only; PAT needs one GPU per node; NVLS "
                           "needs one NVSwitch gen 3+ node of SM90+ GPUs, NVLSTree several such nodes "
                           "and all_reduce, both two ranks per node at least; CollnetDirect and "
                           "CollnetChain need --collnet, several nodes and a fabric that reduces in the "
                           "network, Chain all_reduce, Direct an NVSwitch and, for all_gather and "
                           "reduce_scatter, a NIC per GPU)",
                           coll_kind_name(o.kind));
            goto done;
        }
        err = eng_run_coll(e, plan, &t, diag);
        row = (nccl_row){size, count, t * 1e6, t * 1e6, 0.0, 0.0, coll_plan_model_us(plan),
                         coll_algo_name(coll_plan_algo(plan)),
                         coll_proto_name(coll_plan_proto(plan)), coll_plan_channels(plan),
                         coll_plan_rings(plan)};
        coll_plan_free(plan);
        if (err < 0)
            goto done;
        if (floor_s > t) {
            t = floor_s;
            row.time_us = t * 1e6;
        }
        row.algbw = t > 0.0 ? (double)size / t / 1e9 : 0.0;
        row.busbw = row.algbw * coll_busbw_factor(o.kind, nmembers);
        sum_busbw += row.busbw;
        printf("%12llu  %12llu  %8s  %6s  %6d  %7.2f  %6.2f  %6.2f    N/A  %7.2f  %6.2f  %6.2f    N/A",
               (unsigned long long)size, (unsigned long long)count, o.type->name,
               coll_kind_reduces(o.kind) ? o.redop : "none", nccl_root(&o), row.time_us,
               row.algbw, row.busbw,
               row.time_us, row.algbw, row.busbw);
        if (o.verbose && isnan(row.model_us))
            printf("  %5s %6s %2lld %5lld %9s", row.algo, row.proto, (long long)row.channels,
                   (long long)row.rings, "-");
        else if (o.verbose)
            printf("  %5s %6s %2lld %5lld %9.2f", row.algo, row.proto, (long long)row.channels,
                   (long long)row.rings, row.model_us);
        if (o.verbose && o.gpt > 0)
            printf(" %8.2f", row.coll_us);
        printf("\n");
        if (vec_reserve((void **)&rows, &cap, nrows + 1, sizeof(*rows)) < 0) {
            err = SP_ENOMEM;
            goto done;
        }
        rows[nrows++] = row;
        /* Next size, as nccl-tests steps: by factor, or by increment. */
        if (o.step_bytes > 0) {
            if (req > o.max_bytes - o.step_bytes)
                break;
            req += o.step_bytes;
        } else {
            if (req == 0 || req > o.max_bytes / (uint64_t)o.step_factor)
                break;
            req *= (uint64_t)o.step_factor;
        }
        if (req > o.max_bytes)
            break;
    }
    printf("# Out of bounds values : N/A (simulated)\n");
    printf("# Avg bus bandwidth    : %g\n", nrows ? sum_busbw / (double)nrows : 0.0);
    printf("#\n");
    if (o.output != NULL)
        err = write_h5(&o, p, nmembers, rows, nrows, argc, argv, diag);
done:
    free(rows);
    free(ranks);
    eng_free(e);
    plat_free(p);
    return err;
}

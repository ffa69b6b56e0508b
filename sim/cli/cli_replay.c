/* cli_replay.c - `scalepath replay`: a recorded training workload on a
 * platform. Prints per-rank finish time, compute, exposed communication and
 * overlap, and a per-layer breakdown; writes every operation to HDF5. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "coll/coll.h"
#include "eng/eng.h"
#include "out/out.h"
#include "out/out_timeline.h"
#include "plat/plat.h"
#include "util/str.h"
#include "util/vec.h"
#include "wl/wl.h"

typedef struct replay_opts {
    const char *platform, *trace, *format, *output, *comm_groups, *recorded_on, *timeline;
    int nodes;
    wl_aicb_opts aicb;
    coll_opts coll;
    wl_compute_mode compute;
    plat_prec prec;
} replay_opts;

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: scalepath replay -p PLATFORM.cfg [-n NODES] -t TRACE [--format aicb|chakra]\n"
            "                        [--comm-groups F] [--compute recorded|roofline]\n"
            "                        [--recorded-on GPU] [--precision P]\n"
            "                        [--time-unit ns|us|cycles] [--cycle-GHz F] [-o OUT.h5]\n"
            "                        [--algo LIST] [--proto LIST]\n"
            "\n"
            "  -t TRACE         the workload: a Chakra prefix (TRACE.0.et, TRACE.1.et, ...)\n"
            "                   or an AICB / ASTRA-sim 1.0 text file\n"
            "  --format F       chakra or aicb          default: chakra if TRACE.0.et exists\n"
            "  --time-unit U    unit of the workload's times: ns (AICB, SimAI), us, or\n"
            "                   cycles (ASTRA-sim 1.0, with --cycle-GHz)      default ns\n"
            "  --comm-groups F  Chakra: JSON {\"pg_name\": [ranks...]} for the collectives'\n"
            "                   process groups (default: all the trace's ranks)\n"
            "  --compute M      recorded (durations; a roofline where none is recorded) or\n"
            "                   roofline (num_ops / peak, tensor_size / memory bandwidth)\n"
            "  --recorded-on G  the trace was recorded on GPU G (a model of the platform\n"
            "                   file's catalogue, e.g. A100-SXM): recorded compute is scaled\n"
            "                   by peak(G) / peak(this platform's GPU) for --precision\n"
            "  --precision P    fp64 fp32 tf32 fp16 bf16 fp8 fp4             default bf16\n"
            "  -o FILE          every operation and the per-rank summary, as HDF5\n"
            "  --timeline FILE  a Chrome-trace / Perfetto JSON timeline: a track per rank\n"
            "                   and stream (open it in ui.perfetto.dev)\n"
            "  --algo, --proto  restrict NCCL's choice, as in scalepath nccl\n"
            "\n"
            "Compute takes the recorded durations; collectives are simulated on the\n"
            "platform. An AICB workload is laid on all the platform's ranks; a Chakra\n"
            "trace runs on the first ranks, one per trace file.\n");
}

static int parse(replay_opts *o, int argc, char **argv, diag_list *diag)
{
    static const struct option longs[] = {
        {"platform", required_argument, NULL, 'p'}, {"nodes", required_argument, NULL, 'n'},
        {"trace", required_argument, NULL, 't'},    {"format", required_argument, NULL, 'F'},
        {"time-unit", required_argument, NULL, 'U'}, {"cycle-GHz", required_argument, NULL, 'G'},
        {"output", required_argument, NULL, 'o'},   {"algo", required_argument, NULL, 'A'},
        {"proto", required_argument, NULL, 'P'},    {"help", no_argument, NULL, 'h'},
        {"comm-groups", required_argument, NULL, 'C'}, {"compute", required_argument, NULL, 'M'},
        {"recorded-on", required_argument, NULL, 'R'}, {"precision", required_argument, NULL, 'Q'},
        {"timeline", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    int c, err = SP_OK;

    *o = (replay_opts){NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, {WL_TIME_NS, 1e9, 0}, {0, 0},
                       WL_COMPUTE_RECORDED, PLAT_BF16};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:n:t:o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->platform = optarg;
            break;
        case 'n':
            if (cli_parse_int(&o->nodes, "-n", optarg, 1, 1 << 20, diag) < 0)
                err = SP_EINPUT;
            break;
        case 't':
            o->trace = optarg;
            break;
        case 'F':
            o->format = optarg;
            if (strcmp(optarg, "aicb") != 0 && strcmp(optarg, "chakra") != 0) {
                diag_error(diag, (sp_loc){0}, "option --format: expected aicb or chakra, got \"%s\"", optarg);
                err = SP_EINPUT;
            }
            break;
        case 'U':
            if (!strcmp(optarg, "ns"))
                o->aicb.unit = WL_TIME_NS;
            else if (!strcmp(optarg, "us"))
                o->aicb.unit = WL_TIME_US;
            else if (!strcmp(optarg, "cycles"))
                o->aicb.unit = WL_TIME_CYCLES;
            else {
                diag_error(diag, (sp_loc){0}, "option --time-unit: expected ns, us or cycles, got \"%s\"", optarg);
                err = SP_EINPUT;
            }
            break;
        case 'G': {
            char *end;
            double ghz = strtod(optarg, &end);
            if (*end != '\0' || !(ghz > 0.0 && ghz < 100.0)) {
                diag_error(diag, (sp_loc){0}, "option --cycle-GHz: expected a frequency in GHz, got \"%s\"", optarg);
                err = SP_EINPUT;
            } else
                o->aicb.cycle_hz = ghz * 1e9;
            break;
        }
        case 'o':
            o->output = optarg;
            break;
        case 'C':
            o->comm_groups = optarg;
            break;
        case 'T':
            o->timeline = optarg;
            break;
        case 'R':
            o->recorded_on = optarg;
            break;
        case 'M':
            if (!strcmp(optarg, "recorded"))
                o->compute = WL_COMPUTE_RECORDED;
            else if (!strcmp(optarg, "roofline"))
                o->compute = WL_COMPUTE_ROOFLINE;
            else {
                diag_error(diag, (sp_loc){0}, "option --compute: expected recorded or roofline, got \"%s\"", optarg);
                err = SP_EINPUT;
            }
            break;
        case 'Q': {
            int k = 0;
            while (k < PLAT_NPREC && strcmp(plat_prec_name((plat_prec)k), optarg) != 0)
                k++;
            if (k == PLAT_NPREC) {
                diag_error(diag, (sp_loc){0}, "option --precision: unknown precision \"%s\"", optarg);
                err = SP_EINPUT;
            } else
                o->prec = (plat_prec)k;
            break;
        }
        case 'A':
        case 'P':
            if (cli_parse_coll_opt(&o->coll, c == 'A' ? "--algo" : "--proto", optarg, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case ':':
            diag_error(diag, (sp_loc){0}, "option %s needs a value", argv[optind - 1]);
            err = SP_EINPUT;
            break;
        default:
            diag_error(diag, (sp_loc){0}, "replay: unknown option \"%s\"", argv[optind - 1]);
            err = SP_EINPUT;
        }
    }
    if (optind < argc) {
        diag_error(diag, (sp_loc){0}, "replay: unexpected argument \"%s\"", argv[optind]);
        err = SP_EINPUT;
    }
    if (o->platform == NULL || o->trace == NULL) {
        diag_error(diag, (sp_loc){0}, "replay: a platform (-p) and a workload (-t) are required");
        err = SP_EINPUT;
    }
    if (err < 0)
        usage(stderr);
    return err;
}

/* Plans are shared by every operation with the same (group, collective, size). */
typedef struct plan_cache {
    int group;
    coll_kind kind;
    uint64_t bytes;
    coll_plan *plan;
} plan_cache;

/* Length of [s, e) not covered by the sorted, disjoint intervals busy[0..n). */
static double uncovered(double s, double e, const eng_op_time *busy, size_t n)
{
    double left = e - s;

    for (size_t i = 0; i < n && left > 0.0; i++) {
        double a = busy[i].start > s ? busy[i].start : s, b = busy[i].end < e ? busy[i].end : e;
        if (b > a)
            left -= b - a;
    }
    return left > 0.0 ? left : 0.0;
}

int cli_replay(int argc, char **argv, diag_list *diag)
{
    replay_opts o;
    plat *p = NULL;
    wl *w = NULL;
    eng *e = NULL;
    plan_cache *cache = NULL;
    size_t ncache = 0, cache_cap = 0;
    const coll_plan ***plans = NULL;
    eng_op_time **times = NULL;
    int err;

    if ((err = parse(&o, argc, argv, diag)) != SP_OK)
        return err > 0 ? SP_OK : err;
    if ((err = plat_load(&p, o.platform, diag)) < 0 || (err = plat_set_nodes(p, o.nodes, diag)) < 0)
        goto done;
    o.aicb.nranks = p->nranks;
    if (o.format == NULL) {
        char *first = str_format("%s.0.et", o.trace);
        FILE *f = first != NULL ? fopen(first, "rb") : NULL;
        o.format = f != NULL ? "chakra" : "aicb";
        if (f != NULL)
            fclose(f);
        free(first);
    }
    if (strcmp(o.format, "chakra") == 0) {
        wl_chakra_opts co = {p->nranks, o.comm_groups};
        err = wl_load_chakra(&w, o.trace, &co, diag);
    } else {
        err = wl_load_aicb(&w, o.trace, &o.aicb, diag);
    }
    if (err < 0 || (err = wl_check(w, p->nranks, diag)) < 0)
        goto done;
    {
        const plat_gpu *rec = NULL;
        size_t n;
        if (o.recorded_on != NULL && (rec = plat_catalogue_find(p, o.recorded_on)) == NULL) {
            diag_error(diag, (sp_loc){p->path, 1},
                       "option --recorded-on: GPU \"%s\" is not in the platform's catalogue", o.recorded_on);
            err = SP_EINPUT;
            goto done;
        }
        n = wl_compute_times(w, o.compute, p, rec, o.prec);
        if (n > 0)
            printf("# %zu compute operation(s) timed by the roofline (%s peak, memory bandwidth)\n", n,
                   plat_prec_name(o.prec));
        if (rec != NULL)
            printf("# recorded compute rescaled from %s to the platform's GPU (%s peak ratio)\n",
                   rec->model, plat_prec_name(o.prec));
    }
    plans = calloc((size_t)w->nranks, sizeof(*plans));
    times = calloc((size_t)w->nranks, sizeof(*times));
    if (plans == NULL || times == NULL) {
        err = SP_ENOMEM;
        goto done;
    }
    /* Every plan is made before SimGrid starts: no bad input reaches it. */
    for (int r = 0; r < w->nranks && err == SP_OK; r++) {
        const wl_rank *wr = &w->ranks[r];
        plans[r] = calloc(wr->nops + 1, sizeof(**plans));
        times[r] = calloc(wr->nops + 1, sizeof(**times));
        if (plans[r] == NULL || times[r] == NULL) {
            err = SP_ENOMEM;
            break;
        }
        for (size_t i = 0; i < wr->nops; i++) {
            const wl_op *op = &wr->ops[i];
            size_t k;
            if (op->kind != WL_COLL)
                continue;
            for (k = 0; k < ncache; k++)
                if (cache[k].group == op->group && cache[k].kind == op->coll && cache[k].bytes == op->bytes)
                    break;
            if (k == ncache) {
                const wl_group *g = &w->groups[op->group];
                if (vec_reserve((void **)&cache, &cache_cap, ncache + 1, sizeof(*cache)) < 0) {
                    err = SP_ENOMEM;
                    break;
                }
                cache[k] = (plan_cache){op->group, op->coll, op->bytes, NULL};
                if ((err = coll_plan_new(&cache[k].plan, p, op->coll, g->ranks, g->n, op->bytes, &o.coll)) < 0) {
                    diag_error(diag, op->src, "no algorithm allowed for %s of %llu B in group %s",
                               coll_kind_name(op->coll), (unsigned long long)op->bytes, g->name);
                    break;
                }
                ncache++;
            }
            plans[r][i] = cache[k].plan;
        }
    }
    if (err < 0 || (err = eng_new(&e, p, NULL, diag)) < 0)
        goto done;
    err = eng_run_workload(e, w, (const coll_plan *const *const *)plans, times, diag);
    if (err < 0)
        goto done;

    {
        double makespan = 0.0;
        char what[512];
        plat_describe(p, what, sizeof(what));
        printf("# scalepath %s replay: %s (%s, %zu layers, %zu operations) on %s: %s\n", SP_VERSION,
               w->path, w->format, w->nlayers, wl_op_count(w), p->name, what);
        printf("#  rank   finish(ms)  compute(ms)  comm(ms)  exposed comm(ms)  overlapped(ms)\n");
        for (int r = 0; r < w->nranks; r++) {
            const wl_rank *wr = &w->ranks[r];
            double finish = 0.0, compute = 0.0, comm = 0.0, exposed = 0.0;
            eng_op_time *busy = malloc((wr->nops + 1) * sizeof(*busy));
            size_t nb = 0;
            if (busy == NULL) {
                err = SP_ENOMEM;
                goto done;
            }
            for (size_t i = 0; i < wr->nops; i++) {
                if (times[r][i].end > finish)
                    finish = times[r][i].end;
                if (wr->ops[i].kind == WL_COMPUTE && wr->ops[i].stream == WL_STREAM_COMPUTE &&
                    times[r][i].end > times[r][i].start) {
                    compute += times[r][i].end - times[r][i].start;
                    busy[nb++] = times[r][i]; /* one stream: in order, disjoint */
                }
            }
            for (size_t i = 0; i < wr->nops; i++)
                if (wr->ops[i].kind != WL_COMPUTE) {
                    comm += times[r][i].end - times[r][i].start;
                    exposed += uncovered(times[r][i].start, times[r][i].end, busy, nb);
                }
            free(busy);
            if (finish > makespan)
                makespan = finish;
            if (r < 8 || r == w->nranks - 1)
                printf("%7d %12.3f %12.3f %9.3f %17.3f %15.3f\n", r, finish * 1e3, compute * 1e3,
                       comm * 1e3, (finish - compute) * 1e3, (comm - exposed) * 1e3);
            else if (r == 8)
                printf("    ...\n");
        }
        printf("# iteration time: %.3f ms (the last rank to finish); compute = the GPU compute "
               "stream's busy time\n", makespan * 1e3);
        if (w->nlayers == 0)
            goto layers_done;
        /* Per layer, rank 0: compute, collectives, and how much of them no compute hid. */
        printf("#\n# per layer, rank 0 (all passes)\n");
        printf("#  layer  name                    compute(ms)  comm(ms)  exposed comm(ms)\n");
        {
            const wl_rank *wr = &w->ranks[0];
            eng_op_time *busy = malloc((wr->nops + 1) * sizeof(*busy));
            size_t nb = 0;
            if (busy == NULL) {
                err = SP_ENOMEM;
                goto done;
            }
            for (size_t i = 0; i < wr->nops; i++)
                if (wr->ops[i].kind == WL_COMPUTE && wr->ops[i].stream == WL_STREAM_COMPUTE &&
                    times[0][i].end > times[0][i].start)
                    busy[nb++] = times[0][i];
            for (size_t l = 0; l < w->nlayers; l++) {
                double compute = 0.0, comm = 0.0, exposed = 0.0;
                for (size_t i = 0; i < wr->nops; i++) {
                    if (wr->ops[i].layer != (int)l)
                        continue;
                    double d = times[0][i].end - times[0][i].start;
                    if (wr->ops[i].kind == WL_COMPUTE)
                        compute += d;
                    else {
                        comm += d;
                        exposed += uncovered(times[0][i].start, times[0][i].end, busy, nb);
                    }
                }
                printf("%8zu  %-22s %12.3f %9.3f %17.3f\n", l, w->layer_names[l], compute * 1e3, comm * 1e3,
                       exposed * 1e3);
            }
            free(busy);
        }
    layers_done:;
    }
    if (o.timeline != NULL && err == SP_OK) {
        static const char *const streams[WL_NSTREAMS] = {"compute", "comm (TP/model)", "comm (DP)",
                                                         "host"};
        size_t nops = wl_op_count(w), k = 0;
        out_event *ev = malloc((nops + 1) * sizeof(*ev));
        char **pids = calloc((size_t)w->nranks + 1, sizeof(char *));
        int ok = ev != NULL && pids != NULL;
        for (int r = 0; r < w->nranks && ok; r++)
            ok = (pids[r] = str_format("rank %d (%s)", r, plat_rank_host(p, r))) != NULL;
        if (ok) {
            for (int r = 0; r < w->nranks; r++)
                for (size_t i = 0; i < w->ranks[r].nops; i++) {
                    const wl_op *op = &w->ranks[r].ops[i];
                    ev[k++] = (out_event){r, (int)op->stream, op->name,
                                          op->kind == WL_COLL ? coll_kind_name(op->coll) : wl_op_kind_name(op->kind),
                                          times[r][i].start, times[r][i].end - times[r][i].start,
                                          plans[r][i] ? coll_algo_name(coll_plan_algo(plans[r][i])) : NULL,
                                          plans[r][i] ? coll_proto_name(coll_plan_proto(plans[r][i])) : NULL,
                                          op->kind == WL_COLL ? w->groups[op->group].name : NULL,
                                          op->kind == WL_COMPUTE ? 0 : op->bytes};
                }
            err = out_timeline_write(o.timeline, ev, k, (const char *const *)pids, w->nranks, streams,
                                     WL_NSTREAMS, diag);
        } else {
            err = SP_ENOMEM;
        }
        for (int r = 0; pids != NULL && r < w->nranks; r++)
            free(pids[r]);
        free(pids);
        free(ev);
    }
    if (o.output != NULL && err == SP_OK) {
        size_t nops = wl_op_count(w), k = 0;
        int64_t *rank = malloc(nops * sizeof(int64_t) + 1), *idx = malloc(nops * sizeof(int64_t) + 1),
                *layer = malloc(nops * sizeof(int64_t) + 1);
        double *start = malloc(nops * sizeof(double) + 1), *end = malloc(nops * sizeof(double) + 1);
        uint64_t *bytes = malloc(nops * sizeof(uint64_t) + 1);
        const char **name = malloc(nops * sizeof(char *) + 1), **kind = malloc(nops * sizeof(char *) + 1),
                   **coll = malloc(nops * sizeof(char *) + 1), **algo = malloc(nops * sizeof(char *) + 1),
                   **proto = malloc(nops * sizeof(char *) + 1), **group = malloc(nops * sizeof(char *) + 1);
        char *cmd = cli_join_argv(argc, argv);
        out_file *f = NULL;
        if (rank && idx && layer && start && end && bytes && name && kind && coll && algo && proto && group && cmd) {
            for (int r = 0; r < w->nranks; r++)
                for (size_t i = 0; i < w->ranks[r].nops; i++, k++) {
                    const wl_op *op = &w->ranks[r].ops[i];
                    rank[k] = r;
                    idx[k] = (int64_t)i;
                    layer[k] = op->layer;
                    start[k] = times[r][i].start;
                    end[k] = times[r][i].end;
                    bytes[k] = op->kind == WL_COMPUTE ? 0 : op->bytes;
                    name[k] = op->name;
                    kind[k] = wl_op_kind_name(op->kind);
                    coll[k] = op->kind == WL_COLL ? coll_kind_name(op->coll) : "";
                    algo[k] = plans[r][i] ? coll_algo_name(coll_plan_algo(plans[r][i])) : "";
                    proto[k] = plans[r][i] ? coll_proto_name(coll_plan_proto(plans[r][i])) : "";
                    group[k] = op->kind == WL_COLL ? w->groups[op->group].name : "";
                }
            {
                const out_attr root[] = {
                    OUT_ATTR_STR("command", cmd),
                    OUT_ATTR_STR("kind", "replay"),
                    OUT_ATTR_STR("simgrid_version", eng_simgrid_version()),
                    OUT_ATTR_STR("network_model", eng_network_model()),
                    OUT_ATTR_STR("platform_file", p->path),
                    OUT_ATTR_STR("platform_name", p->name),
                    OUT_ATTR_STR("workload_file", w->path),
                    OUT_ATTR_STR("workload_format", w->format),
                };
                const out_attr gattrs[] = {OUT_ATTR_I64("ranks", w->nranks, NULL),
                                           OUT_ATTR_I64("layers", (long long)w->nlayers, NULL)};
                const out_col cols[] = {
                    {"rank", OUT_I64, "1", "rank that ran the operation", rank},
                    {"op", OUT_I64, "1", "index of the operation in the rank's list", idx},
                    {"name", OUT_STR, "", "the workload's name for it (its layer)", name},
                    {"kind", OUT_STR, "", "compute, collective, send or recv", kind},
                    {"layer", OUT_I64, "1", "layer index in the workload, -1 if none", layer},
                    {"start", OUT_F64, "s", "simulated start", start},
                    {"end", OUT_F64, "s", "simulated end", end},
                    {"bytes", OUT_U64, "B", "collective size (nccl-tests convention), 0 for compute", bytes},
                    {"collective", OUT_STR, "", "collective kind, empty for compute", coll},
                    {"group", OUT_STR, "", "communicator group, empty for compute", group},
                    {"algorithm", OUT_STR, "", "NCCL algorithm chosen", algo},
                    {"protocol", OUT_STR, "", "NCCL protocol chosen", proto},
                };
                err = out_open(&f, o.output, root, sizeof(root) / sizeof(root[0]), diag);
                if (err == SP_OK)
                    err = out_table(f, "/replay/ops", gattrs, 2, cols, sizeof(cols) / sizeof(cols[0]), k);
                if (err == SP_OK)
                    err = out_commit(f);
                else
                    out_discard(f);
            }
        } else {
            err = SP_ENOMEM;
        }
        free(rank);
        free(idx);
        free(layer);
        free(start);
        free(end);
        free(bytes);
        free(name);
        free(kind);
        free(coll);
        free(algo);
        free(proto);
        free(group);
        free(cmd);
    }
done:
    for (int r = 0; w != NULL && r < w->nranks; r++) {
        if (plans != NULL)
            free(plans[r]);
        if (times != NULL)
            free(times[r]);
    }
    free(plans);
    free(times);
    for (size_t k = 0; k < ncache; k++)
        coll_plan_free(cache[k].plan);
    free(cache);
    eng_free(e);
    wl_free(w);
    plat_free(p);
    return err;
}

/* cli_replay.c - `scalepath replay`: a recorded training workload on a
 * platform. Prints per-rank finish time, compute, exposed communication and
 * overlap, and a per-layer breakdown; writes every operation to HDF5. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_sim.h"
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
    int nodes, whole;
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
            "                        [--algo LIST] [--proto LIST] [--collnet] [--whole-platform]\n"
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
            "  --collnet        as NCCL_COLLNET_ENABLE=1, as in scalepath nccl\n"
            "  --whole-platform give SimGrid every node of the platform, not only those the\n"
            "                   workload's ranks are on (the same times, slower: a check)\n"
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
        {"collnet", no_argument, NULL, 'K'},
        {"comm-groups", required_argument, NULL, 'C'}, {"compute", required_argument, NULL, 'M'},
        {"recorded-on", required_argument, NULL, 'R'}, {"precision", required_argument, NULL, 'Q'},
        {"timeline", required_argument, NULL, 'T'}, {"whole-platform", no_argument, NULL, 'W'},
        {NULL, 0, NULL, 0},
    };
    int c, err = SP_OK;

    *o = (replay_opts){NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, {WL_TIME_NS, 1e9, 0}, {0, 0, 0},
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
        case 'W':
            o->whole = 1;
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
        case 'K':
            if (cli_parse_coll_opt(&o->coll, c == 'A' ? "--algo" : c == 'P' ? "--proto" : "--collnet", optarg,
                                   diag) < 0)
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

int cli_replay(int argc, char **argv, diag_list *diag)
{
    replay_opts o;
    plat *p = NULL;
    wl *w = NULL;
    eng *e = NULL;
    cli_sim sim = {0};
    uint8_t *nodes = NULL;
    int err;

    if ((err = parse(&o, argc, argv, diag)) != SP_OK)
        return err > 0 ? SP_OK : err;
    if ((err = plat_load(&p, o.platform, diag)) < 0 || (err = plat_set_nodes(p, o.nodes, diag)) < 0)
        goto done;
    o.aicb.nranks = p->nranks;
    if (o.format == NULL) { /* Chakra if rank 0's file is there */
        char *first = str_format("%s.0.et", o.trace);
        FILE *f = first != NULL ? fopen(first, "rb") : NULL;
        if (first == NULL) {
            err = SP_ENOMEM;
            goto done;
        }
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
    err = cli_sim_plan(&sim, p, w, &o.coll, diag);
    if (err == SP_OK && !o.whole) /* SimGrid sees the nodes the workload's ranks are on */
        err = cli_sim_nodes(&sim, p, &nodes);
    if (err < 0 || (err = eng_new_nodes(&e, p, nodes, NULL, diag)) < 0)
        goto done;
    if ((err = cli_sim_run(&sim, e, diag)) < 0)
        goto done;

    {
        double makespan = 0.0;
        char what[512];
        plat_describe(p, what, sizeof(what));
        printf("# scalepath %s replay: %s (%s, %zu layers, %zu operations) on %s: %s\n", SP_VERSION,
               w->path, w->format, w->nlayers, wl_op_count(w), p->name, what);
        if (eng_node_count(e) < p->nodes)
            printf("# SimGrid's platform: the %d of %d nodes the workload's ranks are on (the same routes; "
                   "--whole-platform for all)\n", eng_node_count(e), p->nodes);
        printf("#  rank   finish(ms)  compute(ms)  comm(ms)  exposed comm(ms)  overlapped(ms)\n");
        for (int r = 0; r < w->nranks; r++) {
            cli_rank_summary rs;
            if ((err = cli_sim_summary(&sim, r, &rs)) < 0)
                goto done;
            if (rs.finish > makespan)
                makespan = rs.finish;
            if (r < 8 || r == w->nranks - 1)
                printf("%7d %12.3f %12.3f %9.3f %17.3f %15.3f\n", r, rs.finish * 1e3, rs.compute * 1e3,
                       rs.comm * 1e3, (rs.finish - rs.compute) * 1e3, (rs.comm - rs.exposed) * 1e3);
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
            double *lc = calloc(3 * w->nlayers + 1, sizeof(double));
            if (lc == NULL || (err = cli_sim_layers(&sim, 0, w->nlayers, lc)) < 0) {
                free(lc);
                err = SP_ENOMEM;
                goto done;
            }
            for (size_t l = 0; l < w->nlayers; l++)
                printf("%8zu  %-22s %12.3f %9.3f %17.3f\n", l, w->layer_names[l], lc[3 * l] * 1e3,
                       lc[3 * l + 1] * 1e3, lc[3 * l + 2] * 1e3);
            free(lc);
        }
    layers_done:;
    }
    if (o.timeline != NULL && err == SP_OK)
        err = cli_sim_write_timeline(&sim, p, o.timeline, diag);
    if (o.output != NULL && err == SP_OK) {
        const out_attr extra[] = {
            OUT_ATTR_STR("platform_file", p->path),
            OUT_ATTR_STR("platform_name", p->name),
            OUT_ATTR_STR("workload_file", w->path),
            OUT_ATTR_STR("workload_format", w->format),
        };
        out_file *f = NULL;
        err = cli_out_open(&f, o.output, "replay", argc, argv, extra, sizeof(extra) / sizeof(extra[0]), diag);
        if (err == SP_OK)
            err = cli_sim_write_ops(&sim, f);
        err = cli_out_finish(f, err);
    }
done:
    free(nodes);
    cli_sim_free(&sim);
    eng_free(e);
    wl_free(w);
    plat_free(p);
    return err;
}

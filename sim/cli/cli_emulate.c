/* cli_emulate.c - `scalepath emulate`: run a real program written against
 * NCCL's API on a simulated cluster, with real data and simulated time.
 *
 * The program is a shared object (built with `scalepath emulate --cflags`,
 * or given as a C file, which this compiles with $CC). Its main runs as one
 * simulated host process driving every GPU of the platform, as a
 * single-process NCCL program drives a node's (ncclCommInitAll, groups);
 * or, with --ppn K, as K processes per node, each its own copy of the
 * program, MPI ranks that see their node's GPUs.
 * Afterwards every collective and p2p batch is listed with its simulated
 * time, and -o writes them to HDF5 (docs/emulation.md).
 */
#define _GNU_SOURCE /* dlinfo */
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "emu/emu.h"
#include "eng/eng.h"
#include "out/out.h"
#include "out/out_timeline.h"
#include "plat/plat.h"

#ifndef SP_EMU_INCLUDE_DIR
#define SP_EMU_INCLUDE_DIR "sim/emu/include"
#endif

typedef struct emulate_opts {
    const char *platform, *output, *timeline;
    int nodes, nodata, sm_contention;
    int launch_costs; /* --launch-costs: the host time of calls that queue GPU work */
    int ppn; /* processes per node; 0: one process drives every GPU */
    int per_thread; /* --default-stream per-thread: compile with CUDA_API_PER_THREAD_DEFAULT_STREAM */
    int os_threads; /* --os-threads: 1 on, 0 off, -1 auto (on if the program has thread-local variables) */
    int cflags;     /* --cflags: print the flags and stop */
    coll_opts coll;
    int prog; /* argv index of the program */
} emulate_opts;

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: scalepath emulate -p PLATFORM.cfg [-n NODES] [--algo L] [--proto L]\n"
            "                         [--collnet] [--ppn K] [--no-data] [--sm-contention on|off]\n"
            "                         [--launch-costs on|off]\n"
            "                         [--default-stream legacy|per-thread] [--os-threads auto|on|off]\n"
            "                         [-o OUT.h5] [--timeline OUT.json]\n"
            "                         PROGRAM.so|PROGRAM.c [ARGS...]\n"
            "       scalepath emulate [--default-stream legacy|per-thread] --cflags\n"
            "\n"
            "Runs PROGRAM's main with ARGS on the simulated platform: its NCCL, CUDA and\n"
            "MPI calls (sim/emu/include) act on the platform's GPUs with real data in\n"
            "simulated time. One process sees every GPU (device d is rank d), unless\n"
            "--ppn K runs K processes per node, each seeing its node's GPUs.\n"
            "\n"
            "  -p FILE   platform file (platforms/*.cfg)            required\n"
            "  -n N      nodes                                  default: 1, or the file's\n"
            "  --algo L  algorithms NCCL may choose (as NCCL_ALGO, which is read too)\n"
            "  --proto L protocols (as NCCL_PROTO, which is read too)\n"
            "  --collnet as NCCL_COLLNET_ENABLE=1\n"
            "  --no-data timing only: collectives, messages and copies move no data\n"
            "            (for programs that do not read their results; faster)\n"
            "  --ppn K   run the program as K processes per node, one MPI rank each\n"
            "            (sim/emu/include/mpi.h), as mpirun -npernode K would; each\n"
            "            sees its node's GPUs            default: one process, every GPU\n"
            "  --sm-contention S  on: kernels (spEmuKernel, spEmuGemm) lose the SMs\n"
            "            that running collectives' CTAs hold, as `train` models it;\n"
            "            off: they run beside them at full speed       default on\n"
            "  --launch-costs S  on: CUDA's and NCCL's calls that queue GPU work or\n"
            "            wait for it take the host time they took on a real H100 (kernel\n"
            "            launches, NCCL's one per communicator, copies, memsets, event\n"
            "            records and waits, synchronization: docs/emulation.md);\n"
            "            off: none                                         default on\n"
            "  -o FILE   write the operations and their times to HDF5\n"
            "  --timeline FILE  a Chrome-trace / Perfetto JSON timeline (ui.perfetto.dev):\n"
            "            a track per GPU, a row per stream, every collective, message,\n"
            "            kernel and copy\n"
            "  --default-stream D  what the NULL stream means in PROGRAM.c, as nvcc's\n"
            "            option: legacy (or null), CUDA's legacy default stream; per-thread,\n"
            "            each host thread's own (compiles with\n"
            "            -DCUDA_API_PER_THREAD_DEFAULT_STREAM)               default legacy\n"
            "  --os-threads T  on: run each emulated thread and process on a system\n"
            "            thread of its own, so that each has its own thread-local variables\n"
            "            (__thread, _Thread_local) and errno; tens of times slower for\n"
            "            programs that poll; off: they share them; auto: on if the program\n"
            "            itself has thread-local variables                default auto\n"
            "  --cflags  print the compiler flags that build a program for this:\n"
            "            cc $(scalepath emulate --cflags) prog.c -o prog.so\n"
            "\n"
            "A PROGRAM ending in .c is compiled first with $CC (default cc).\n"
            "Exit status: 1 if the program's main returned non-zero; 4 if it or a\n"
            "stream never finished (each reported); 2 for bad options or a program\n"
            "that cannot be loaded; 3 if an output file cannot be written. A program\n"
            "that calls exit() ends scalepath there, with its status, and no report.\n");
}

static const char *const cflags = "-shared -fPIC -I" SP_EMU_INCLUDE_DIR;
#define SP_PTDS_DEFINE "-DCUDA_API_PER_THREAD_DEFAULT_STREAM"

static int parse_args(emulate_opts *o, int argc, char **argv, diag_list *diag)
{
    static const struct option longs[] = {
        {"platform", required_argument, NULL, 'p'}, {"nodes", required_argument, NULL, 'n'},
        {"output", required_argument, NULL, 'o'},   {"algo", required_argument, NULL, 'A'},
        {"proto", required_argument, NULL, 'P'},    {"collnet", no_argument, NULL, 'K'},
        {"cflags", no_argument, NULL, 'C'},         {"help", no_argument, NULL, 'h'},
        {"no-data", no_argument, NULL, 'D'},       {"sm-contention", required_argument, NULL, 'S'},
        {"ppn", required_argument, NULL, 'N'},      {"timeline", required_argument, NULL, 'T'},
        {"default-stream", required_argument, NULL, 'd'}, {"os-threads", required_argument, NULL, 'O'},
        {"launch-costs", required_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    const char *env_algo = getenv("NCCL_ALGO"), *env_proto = getenv("NCCL_PROTO"), *env_cn = getenv("NCCL_COLLNET_ENABLE");
    int c, err = SP_OK, got_algo = 0, got_proto = 0;

    *o = (emulate_opts){NULL, NULL, NULL, 0, 0, 1, 1, 0, 0, -1, 0, {0, 0, 0}, 0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:p:n:o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'p': o->platform = optarg; break;
        case 'o': o->output = optarg; break;
        case 'n':
            if (cli_parse_int(&o->nodes, "-n", optarg, 1, 1 << 20, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'A':
        case 'P':
        case 'K':
            got_algo |= c == 'A';
            got_proto |= c == 'P';
            if (cli_parse_coll_opt(&o->coll, c == 'A' ? "--algo" : c == 'P' ? "--proto" : "--collnet", optarg, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'C': o->cflags = 1; break;
        case 'O':
            if (strcmp(optarg, "auto") == 0 || strcmp(optarg, "on") == 0 || strcmp(optarg, "off") == 0) {
                o->os_threads = strcmp(optarg, "auto") == 0 ? -1 : strcmp(optarg, "on") == 0;
            } else {
                diag_error(diag, (sp_loc){0}, "--os-threads: expected auto, on or off, got \"%s\"", optarg);
                err = SP_EINPUT;
            }
            break;
        case 'd':
            if (strcmp(optarg, "legacy") == 0 || strcmp(optarg, "null") == 0 || strcmp(optarg, "per-thread") == 0) {
                o->per_thread = strcmp(optarg, "per-thread") == 0;
            } else {
                diag_error(diag, (sp_loc){0}, "--default-stream: expected legacy, null or per-thread, got \"%s\"",
                           optarg);
                err = SP_EINPUT;
            }
            break;
        case 'D': o->nodata = 1; break;
        case 'T': o->timeline = optarg; break;
        case 'N':
            if (cli_parse_int(&o->ppn, "--ppn", optarg, 1, 1 << 16, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'S':
        case 'L':
            if (strcmp(optarg, "on") == 0 || strcmp(optarg, "off") == 0) {
                *(c == 'S' ? &o->sm_contention : &o->launch_costs) = strcmp(optarg, "on") == 0;
            } else {
                diag_error(diag, (sp_loc){0}, "%s: expected on or off, got \"%s\"",
                           c == 'S' ? "--sm-contention" : "--launch-costs", optarg);
                err = SP_EINPUT;
            }
            break;
        case 'h': usage(stdout); return 1;
        case ':':
            diag_error(diag, (sp_loc){0}, "option %s needs a value", argv[optind - 1]);
            err = SP_EINPUT;
            break;
        default:
            diag_error(diag, (sp_loc){0}, "unknown option %s (see scalepath emulate -h)", argv[optind - 1]);
            err = SP_EINPUT;
            break;
        }
    }
    if (o->cflags) { /* nothing else is needed, nor checked */
        if (err != SP_OK)
            return err;
        printf("%s%s\n", cflags, o->per_thread ? " " SP_PTDS_DEFINE : "");
        return 1;
    }
    /* The environment as NCCL reads it, unless an option said otherwise. */
    if (!got_algo && env_algo != NULL && *env_algo != '\0' && cli_parse_coll_opt(&o->coll, "--algo", env_algo, diag) < 0) {
        diag_note(diag, (sp_loc){0}, "that list came from the environment variable NCCL_ALGO");
        err = SP_EINPUT;
    }
    if (!got_proto && env_proto != NULL && *env_proto != '\0' &&
        cli_parse_coll_opt(&o->coll, "--proto", env_proto, diag) < 0) {
        diag_note(diag, (sp_loc){0}, "that list came from the environment variable NCCL_PROTO");
        err = SP_EINPUT;
    }
    if (env_cn != NULL && strcmp(env_cn, "1") == 0)
        o->coll.collnet = 1;
    if (o->platform == NULL) {
        diag_error(diag, (sp_loc){0}, "no platform: give -p PLATFORM.cfg");
        err = SP_EINPUT;
    }
    if (optind >= argc) {
        diag_error(diag, (sp_loc){0}, "no program: give PROGRAM.so or PROGRAM.c after the options");
        err = SP_EINPUT;
    }
    o->prog = optind;
    return err;
}

/* Compile a C program into dir/program.so with $CC; SP_EINPUT if it fails. */
static int compile(const char *src, const char *so, int per_thread, diag_list *diag)
{
    const char *cc = getenv("CC") != NULL && *getenv("CC") != '\0' ? getenv("CC") : "cc";
    pid_t pid;
    int st = 0;

    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        diag_error(diag, (sp_loc){src, 0}, "cannot start the compiler");
        return SP_EIO;
    }
    if (pid == 0) {
        if (per_thread)
            execlp(cc, cc, "-shared", "-fPIC", "-O1", "-g", "-I" SP_EMU_INCLUDE_DIR, SP_PTDS_DEFINE, src, "-o", so, "-lm",
                   (char *)NULL);
        else
            execlp(cc, cc, "-shared", "-fPIC", "-O1", "-g", "-I" SP_EMU_INCLUDE_DIR, src, "-o", so, "-lm", (char *)NULL);
        _exit(127);
    }
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        diag_error(diag, (sp_loc){src, 0}, "%s could not compile it (status %d; its messages are above)", cc,
                   WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return SP_EINPUT;
    }
    return SP_OK;
}

/* /emulate/mpi: MPI's messages and exchanges that moved data between nodes. */
static int write_mpi_table(out_file *f, const emu *m)
{
    size_t n = emu_mpi_nmoves(m);
    const char **op = calloc(n + 1, sizeof(*op));
    int64_t *src = calloc(n + 1, sizeof(*src)), *dst = calloc(n + 1, sizeof(*dst)),
            *comm = calloc(n + 1, sizeof(*comm)), *root = calloc(n + 1, sizeof(*root)),
            *procs = calloc(n + 1, sizeof(*procs));
    uint64_t *bytes = calloc(n + 1, sizeof(*bytes));
    double *start = calloc(n + 1, sizeof(*start)), *end = calloc(n + 1, sizeof(*end));
    int err = SP_ENOMEM;

    if (op != NULL && src != NULL && dst != NULL && comm != NULL && root != NULL && procs != NULL && bytes != NULL &&
        start != NULL && end != NULL) {
        const out_col cols[] = {
            {"op", OUT_STR, "", "message (a send matched by a receive), or the exchange: MPI_Allreduce, MPI_Allgather, MPI_Bcast, MPI_Reduce, MPI_Gather, MPI_Scatter", op},
            {"src", OUT_I64, "1", "a message's sending process; -1 for an exchange", src},
            {"dst", OUT_I64, "1", "a message's receiving process; -1 for an exchange", dst},
            {"comm", OUT_I64, "1", "its communicator: the MPI_Comm value the program holds (MPI_COMM_WORLD is 1)", comm},
            {"root", OUT_I64, "1", "MPI_Bcast, MPI_Reduce, MPI_Gather, MPI_Scatter: the root's rank in the communicator; -1 otherwise", root},
            {"processes", OUT_I64, "1", "an exchange's processes (its communicator's size); 2 for a message", procs},
            {"bytes", OUT_U64, "B", "a message's payload; an exchange's buffer per process (count x type size)", bytes},
            {"start", OUT_F64, "s", "simulated time both ends (every process) had called it, from the program's start", start},
            {"end", OUT_F64, "s", "simulated time its data had arrived, from the program's start", end},
        };
        for (size_t i = 0; i < n; i++) {
            emu_mpi_move v;
            emu_mpi_move_get(m, i, &v);
            op[i] = v.what;
            src[i] = v.src;
            dst[i] = v.dst;
            comm[i] = v.comm;
            root[i] = v.root;
            procs[i] = v.nprocs;
            bytes[i] = v.bytes;
            start[i] = v.start_s;
            end[i] = v.end_s; /* written only when every operation finished */
        }
        err = out_table(f, "/emulate/mpi", NULL, 0, cols, sizeof(cols) / sizeof(cols[0]), n);
    }
    free(op);
    free(src);
    free(dst);
    free(comm);
    free(root);
    free(procs);
    free(bytes);
    free(start);
    free(end);
    return err;
}

static int write_h5(const emulate_opts *o, const emu *m, const plat *p, int status, double time_s, int argc,
                    char **argv, diag_list *diag)
{
    size_t n = emu_nrecords(m);
    const char **op = calloc(n + 1, sizeof(*op)), **algo = calloc(n + 1, sizeof(*algo)),
               **proto = calloc(n + 1, sizeof(*proto));
    int64_t *comm = calloc(n + 1, sizeof(*comm)), *seq = calloc(n + 1, sizeof(*seq)), *dev = calloc(n + 1, sizeof(*dev)),
            *ranks = calloc(n + 1, sizeof(*ranks)), *rootc = calloc(n + 1, sizeof(*rootc));
    uint64_t *bytes = calloc(n + 1, sizeof(*bytes));
    double *start = calloc(n + 1, sizeof(*start)), *end = calloc(n + 1, sizeof(*end));
    out_file *f = NULL;
    int err = SP_ENOMEM;

    if (op != NULL && algo != NULL && proto != NULL && comm != NULL && seq != NULL && dev != NULL && ranks != NULL && rootc != NULL &&
        bytes != NULL && start != NULL && end != NULL) {
        const out_attr root[] = {
            OUT_ATTR_STR("platform_file", p->path),
            OUT_ATTR_STR("platform_name", p->name),
            OUT_ATTR_STR("program", argv[o->prog]),
        };
        const out_attr gattrs[] = {
            OUT_ATTR_I64("nodes", p->nodes, NULL),
            OUT_ATTR_I64("devices", p->nranks, NULL),
            OUT_ATTR_I64("exit_status", status, NULL),
            OUT_ATTR_F64("simulated_time", time_s, "s"),
        };
        const out_col cols[] = {
            {"op", OUT_STR, "", "NCCL operation: AllReduce, Broadcast, Reduce, AllGather, ReduceScatter; SendRecv for one device's sends and receives of one group", op},
            {"comm", OUT_I64, "1", "communicator, numbered from 0 in creation order", comm},
            {"seq", OUT_I64, "1", "the collective's number on its communicator; -1 for SendRecv", seq},
            {"device", OUT_I64, "1", "SendRecv: the device; -1 for a collective", dev},
            {"ranks", OUT_I64, "1", "ranks of the communicator", ranks},
            {"root", OUT_I64, "1", "Broadcast, Reduce, Gather, Scatter: the root's rank in the communicator; -1 otherwise", rootc},
            {"bytes", OUT_U64, "B", "nccl-tests size (AllGather, ReduceScatter, AlltoAll, Gather, Scatter: all ranks' total); SendRecv: the device's payload", bytes},
            {"algorithm", OUT_STR, "", "NCCL algorithm simulated; - for p2p", algo},
            {"protocol", OUT_STR, "", "NCCL protocol simulated; - for p2p", proto},
            {"start", OUT_F64, "s", "simulated time its first rank began, from the program's start", start},
            {"end", OUT_F64, "s", "simulated time its last rank ended, from the program's start", end},
        };
        for (size_t i = 0; i < n; i++) {
            emu_record r;
            emu_record_get(m, i, &r);
            op[i] = r.what;
            comm[i] = r.comm;
            seq[i] = r.device >= 0 ? -1 : (int64_t)r.seq;
            dev[i] = r.device;
            ranks[i] = r.nranks;
            rootc[i] = r.root;
            bytes[i] = r.bytes;
            algo[i] = r.algo;
            proto[i] = r.proto;
            start[i] = r.start_s;
            end[i] = r.end_s; /* written only when every operation finished */
        }
        err = cli_out_open(&f, o->output, "emulate", argc, argv, root, sizeof(root) / sizeof(root[0]), diag);
        if (err == SP_OK)
            err = out_table(f, "/emulate/ops", gattrs, sizeof(gattrs) / sizeof(gattrs[0]), cols,
                            sizeof(cols) / sizeof(cols[0]), n);
        if (err == SP_OK)
            err = write_mpi_table(f, m);
        err = cli_out_finish(f, err);
    }
    free(op);
    free(algo);
    free(proto);
    free(comm);
    free(seq);
    free(dev);
    free(ranks);
    free(rootc);
    free(bytes);
    free(start);
    free(end);
    return err;
}

/* A row of its process's MPI track for each MPI slice, in the records'
 * order (that of their starts), finished ones only: the first row free by
 * the slice's start, so that slices on a row never overlap (a trace
 * viewer would nest them). row[j] for the j-th slice; *nrows the most
 * rows a process needs. */
static int mpi_rows(const emu *m, int nprocs, int *row, int *nrows)
{
    double **ends = calloc((size_t)nprocs + 1, sizeof(*ends)); /* per process, per row: its last end */
    int *used = calloc((size_t)nprocs + 1, sizeof(*used));
    size_t j = 0;
    int err = ends != NULL && used != NULL ? SP_OK : SP_ENOMEM;

    *nrows = 0;
    for (size_t i = 0; err == SP_OK && i < emu_mpi_nmoves(m); i++) {
        emu_mpi_move v;
        emu_mpi_move_get(m, i, &v);
        if (v.end_s < 0.0)
            continue;
        for (int q = 0; err == SP_OK && q < v.nprocs; q++, j++) {
            int proc = v.procs[q], r = 0;
            while (r < used[proc] && ends[proc][r] > v.start_s)
                r++;
            if (r == used[proc]) {
                double *e = realloc(ends[proc], (size_t)(r + 1) * sizeof(*e));
                if (e == NULL) {
                    err = SP_ENOMEM;
                    break;
                }
                ends[proc] = e;
                used[proc]++;
            }
            ends[proc][r] = v.end_s;
            row[j] = r;
            if (r + 1 > *nrows)
                *nrows = r + 1;
        }
    }
    for (int q = 0; ends != NULL && q < nprocs; q++)
        free(ends[q]);
    free(ends);
    free(used);
    return err;
}

/* Every task that ran, a track per GPU and a row per stream; and MPI's
 * data between nodes, a track per process in a transfer, as many rows as
 * its transfers at once need. */
static int write_timeline(const char *path, const emu *m, const plat *p, diag_list *diag)
{
    size_t n = emu_ntasks(m), nmoves = emu_mpi_nmoves(m), nmpi = 0, k = 0;
    int nstreams = 1, nprocs = emu_processes(m), npid = p->nranks + nprocs;
    out_event *ev = NULL;
    char **pids = calloc((size_t)npid + 1, sizeof(*pids)), **tids = NULL;
    char *seen = calloc((size_t)npid + 1, 1);
    char(*names)[48] = NULL; /* of the MPI slices */
    int *rows = NULL, nrows = 0, ntids;
    int err = SP_ENOMEM;

    for (size_t i = 0; i < n; i++)
        if (emu_task_at(m, i)->stream_id + 1 > nstreams)
            nstreams = emu_task_at(m, i)->stream_id + 1;
    for (size_t i = 0; i < nmoves; i++) {
        emu_mpi_move v;
        emu_mpi_move_get(m, i, &v);
        nmpi += (size_t)v.nprocs; /* a slice on each process's track */
    }
    ev = calloc(n + nmpi + 1, sizeof(*ev));
    names = calloc(nmpi + 1, sizeof(*names));
    rows = calloc(nmpi + 1, sizeof(*rows));
    if (rows != NULL && mpi_rows(m, nprocs, rows, &nrows) < 0) {
        free(rows);
        rows = NULL;
    }
    ntids = nstreams + nrows; /* the streams, then MPI's rows */
    tids = calloc((size_t)ntids, sizeof(*tids));
    if (ev != NULL && pids != NULL && tids != NULL && seen != NULL && names != NULL && rows != NULL) {
        err = SP_OK;
        for (size_t i = 0; i < n; i++) {
            const emu_task *t = emu_task_at(m, i);
            if (!t->done || t->kind == EMU_TASK_RECORD || t->kind == EMU_TASK_WAIT)
                continue;
            ev[k++] = (out_event){t->device, t->stream_id, emu_task_name(t),
                                  t->kind == EMU_TASK_COLL  ? "collective"
                                  : t->kind == EMU_TASK_P2P ? "p2p"
                                  : t->compute              ? "compute"
                                                            : "memory",
                                  t->start_s, t->end_s - t->start_s,
                                  t->plan != NULL ? coll_algo_name(coll_plan_algo(t->plan)) : NULL,
                                  t->plan != NULL ? coll_proto_name(coll_plan_proto(t->plan)) : NULL,
                                  NULL, emu_task_bytes(t), t->plan != NULL ? coll_plan_channels(t->plan) : 0, -1};
            seen[t->device] = 1;
        }
        for (size_t i = 0, j = 0; i < nmoves; i++) {
            emu_mpi_move v;
            emu_mpi_move_get(m, i, &v);
            if (v.end_s < 0.0)
                continue; /* still on its way: only in a run that failed, which writes no timeline */
            for (int q = 0; q < v.nprocs; q++, j++) {
                int proc = v.procs[q];
                if (v.src < 0)
                    snprintf(names[j], sizeof(names[j]), "%s", v.what);
                else
                    snprintf(names[j], sizeof(names[j]), "MPI message %s process %d", proc == v.src ? "to" : "from",
                             proc == v.src ? v.dst : v.src);
                ev[k++] = (out_event){p->nranks + proc, nstreams + rows[j], names[j], "mpi", v.start_s,
                                      v.end_s - v.start_s, NULL, NULL, NULL, v.bytes, 0, -1};
                seen[p->nranks + proc] = 1;
            }
        }
        for (int d = 0; d < npid && err == SP_OK; d++)
            if (seen[d] && (pids[d] = malloc(48)) == NULL)
                err = SP_ENOMEM;
            else if (seen[d] && d < p->nranks)
                snprintf(pids[d], 48, "GPU %d (node %d)", d, plat_rank_node(p, d));
            else if (seen[d])
                snprintf(pids[d], 48, "process %d (node %d)", d - p->nranks,
                         plat_rank_node(p, emu_process_device(m, d - p->nranks)));
        for (int s = 0; s < ntids && err == SP_OK; s++)
            if ((tids[s] = malloc(24)) == NULL)
                err = SP_ENOMEM;
            else if (s < nstreams)
                snprintf(tids[s], 24, "stream %d", s);
            else if (nrows == 1)
                snprintf(tids[s], 24, "MPI");
            else
                snprintf(tids[s], 24, "MPI %d", s - nstreams + 1);
        if (err == SP_OK)
            err = out_timeline_write(path, ev, k, (const char *const *)pids, npid, (const char *const *)tids,
                                     ntids, diag);
    }
    for (int d = 0; pids != NULL && d < npid; d++)
        free(pids[d]);
    for (int s = 0; tids != NULL && s < ntids; s++)
        free(tids[s]);
    free(pids);
    free(tids);
    free(seen);
    free(names);
    free(rows);
    free(ev);
    return err;
}

static void report(const emu *m, const plat *p, const char *prog, int status, double time_s, int os_threads,
                   int launch_costs)
{
    size_t n = emu_nrecords(m);
    char what[512];

    plat_describe(p, what, sizeof(what));
    printf("# scalepath %s emulate: %s on %s: %s; %d device(s)\n", SP_VERSION, prog, p->name, what, p->nranks);
    if (emu_main_running(m))
        printf("# main never returned; simulated time %.3f us until nothing could move\n", time_s * 1e6);
    else if (emu_program_running(m))
        printf("# main returned, but thread(s) it started never did; simulated time %.3f us until nothing could "
               "move\n", time_s * 1e6);
    else
        printf("# main returned %d%s; simulated time %.3f us (host code takes none, %s)\n", status,
               emu_processes(m) == 1 ? "" : status == 0 ? " in every process" : " (the first process that failed)",
               time_s * 1e6,
               launch_costs ? "CUDA's and NCCL's calls and polls take their host time"
                            : "polls take a query's time");
    if (os_threads)
        printf("# each thread ran on a system thread of its own: its own thread-local variables and errno "
               "(--os-threads)\n");
    if (n == 0)
        return;
    printf("#\n# %-13s %5s %6s %6s %5s %14s %-9s %-7s %12s %12s %10s\n", "op", "comm", "seq", "ranks", "root", "bytes",
           "algo", "proto", "start_us", "time_us", "busbw_GBps");
    for (size_t i = 0; i < n; i++) {
        emu_record r;
        char seqs[24], root[16] = "-";
        emu_record_get(m, i, &r);
        if (r.root >= 0)
            snprintf(root, sizeof(root), "%d", r.root);
        if (r.device >= 0)
            snprintf(seqs, sizeof(seqs), "dev%d", r.device);
        else
            snprintf(seqs, sizeof(seqs), "%lu", r.seq);
        if (r.end_s < 0.0) {
            char start[24] = "-";
            if (r.start_s >= 0.0)
                snprintf(start, sizeof(start), "%.3f", r.start_s * 1e6);
            printf("  %-13s %5d %6s %6d %5s %14llu %-9s %-7s %12s %12s %10s\n", r.what, r.comm, seqs, r.nranks,
                   root, (unsigned long long)r.bytes, r.algo, r.proto, start, "unfinished", "-");
            continue;
        }
        {
            double t = r.end_s - r.start_s;
            printf("  %-13s %5d %6s %6d %5s %14llu %-9s %-7s %12.3f %12.3f %10.2f\n", r.what, r.comm, seqs, r.nranks,
                   root, (unsigned long long)r.bytes, r.algo, r.proto, r.start_s * 1e6, t * 1e6,
                   t > 0.0 && r.device < 0 ? (double)r.bytes / t * coll_busbw_factor(r.kind, r.nranks) / 1e9 : 0.0);
        }
    }
    printf("# time_us: first rank's start to last rank's end; busbw as nccl-tests computes it\n");
}

/* Write a copy of bytes at a new name: next to the program (so that its
 * $ORIGIN rpath still finds what it finds), else in a temporary directory
 * made once into tmpdir. The name in out; SP_EIO if neither works. */
static int write_copy(const char *path, const char *bytes, size_t size, int i, char *tmpdir, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    int len = slash != NULL ? (int)(slash - path) : 0;

    for (int where = 0; where < 2; where++) {
        FILE *fp;
        int fd;
        if (where == 0)
            snprintf(out, cap, "%.*s%s.scalepath-%ld-%d.so", len, path, slash != NULL ? "/" : "./", (long)getpid(), i);
        else if (tmpdir[0] == '\0' && mkdtemp(strcpy(tmpdir, "/tmp/scalepath-emulate-XXXXXX")) == NULL)
            return SP_EIO;
        else
            snprintf(out, cap, "%s/process%d.so", tmpdir, i);
        if ((fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
            continue;
        if ((fp = fdopen(fd, "wb")) == NULL) {
            close(fd);
            unlink(out);
            continue;
        }
        if (fwrite(bytes, 1, size, fp) == size && fclose(fp) == 0)
            return SP_OK;
        unlink(out);
    }
    return SP_EIO;
}

/* Load the program n times, each copy with its own globals (a process
 * each): a copy of the file per process, loaded, then removed (the
 * mapping stays). libs[i] and fns[i] are set; SP_EINPUT after a message. */
static int load(const char *prog, const char *path, int n, void **libs, eng_program *fns, int *tls,
                diag_list *diag)
{
    char tmpdir[32] = "", copy[4096];
    char *bytes = NULL;
    size_t size = 0;
    int err = SP_OK;
    union {
        void *p;
        eng_program fn;
    } sym;

    if (n > 1) {
        FILE *fp = fopen(path, "rb");
        long end = -1;
        if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (end = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0 ||
            (bytes = malloc((size_t)end + 1)) == NULL || fread(bytes, 1, (size_t)end, fp) != (size_t)end) {
            int oom = fp != NULL && end >= 0 && bytes == NULL;
            if (fp != NULL)
                fclose(fp);
            free(bytes);
            if (oom)
                return SP_ENOMEM;
            diag_error(diag, (sp_loc){prog, 0}, "cannot read it to load one copy per process");
            return SP_EINPUT;
        }
        fclose(fp);
        size = (size_t)end;
    }
    for (int i = 0; i < n && err == SP_OK; i++) {
        const char *at = path;
        if (n > 1) {
            if (strlen(path) + 64 > sizeof(copy) || write_copy(path, bytes, size, i, tmpdir, copy, sizeof(copy)) < 0) {
                diag_error(diag, (sp_loc){prog, 0}, "cannot write a copy of it for process %d", i);
                err = SP_EIO;
                break;
            }
            at = copy;
        }
        libs[i] = dlopen(at, RTLD_NOW | RTLD_LOCAL);
        if (n > 1)
            unlink(copy); /* loaded (or not): the file is not needed, even if the program calls exit() */
        if (libs[i] == NULL) {
            diag_error(diag, (sp_loc){prog, 0},
                       "cannot load it: %s (build it with `cc $(scalepath emulate --cflags) prog.c -o prog.so`)",
                       dlerror());
            err = SP_EINPUT;
        } else if ((sym.p = dlsym(libs[i], "main")) == NULL) {
            diag_error(diag, (sp_loc){prog, 0}, "no function main in it");
            err = SP_EINPUT;
        } else {
            size_t modid = 0;
            fns[i] = sym.fn;
            /* A TLS module id of 0: the program has no thread-local variables of its own. */
            if (i == 0 && dlinfo(libs[i], RTLD_DI_TLS_MODID, &modid) == 0)
                *tls = modid != 0;
        }
    }
    if (tmpdir[0] != '\0')
        rmdir(tmpdir);
    free(bytes);
    return err;
}

int cli_emulate(int argc, char **argv, diag_list *diag)
{
    emulate_opts o;
    plat *p = NULL;
    eng *e = NULL;
    emu *m = NULL;
    void **libs = NULL;
    eng_program *fns = NULL;
    char dir[] = "/tmp/scalepath-emulate-XXXXXX", so[sizeof(dir) + 16];
    char *rel = NULL;
    int made_dir = 0, err, status = 0, nprocs = 1, tls = 0, os_threads = 0;
    double time_s = 0.0;
    const char *prog, *path;
    size_t len;

    err = parse_args(&o, argc, argv, diag);
    if (err != SP_OK)
        return err > 0 ? SP_OK : err;
    prog = path = argv[o.prog];
    len = strlen(prog);
    if ((err = plat_load(&p, o.platform, diag)) < 0 || (err = plat_set_nodes(p, o.nodes, diag)) < 0 ||
        (err = emu_new(&m, p, &o.coll)) < 0)
        goto done;
    if (o.ppn > 0 && (err = emu_set_processes(m, o.ppn)) < 0) {
        if (err == SP_EINPUT)
            diag_error(diag, (sp_loc){0}, "--ppn %d: a node of %s has fewer GPUs", o.ppn, p->name);
        goto done;
    }
    nprocs = emu_processes(m);
    if ((libs = calloc((size_t)nprocs, sizeof(*libs))) == NULL || (fns = calloc((size_t)nprocs, sizeof(*fns))) == NULL) {
        err = SP_ENOMEM;
        goto done;
    }
    if (o.per_thread && !(len > 2 && strcmp(prog + len - 2, ".c") == 0)) {
        diag_error(diag, (sp_loc){prog, 0},
                   "--default-stream is for a PROGRAM.c that scalepath compiles; a shared object keeps the "
                   "stream it was built for (build it with `cc $(scalepath emulate --default-stream per-thread "
                   "--cflags) prog.c -o prog.so`)");
        err = SP_EINPUT;
        goto done;
    }
    if (len > 2 && strcmp(prog + len - 2, ".c") == 0) {
        if (mkdtemp(dir) == NULL) {
            diag_error(diag, (sp_loc){0}, "cannot make a temporary directory for the compiled program");
            err = SP_EIO;
            goto done;
        }
        made_dir = 1;
        snprintf(so, sizeof(so), "%s/program.so", dir);
        if ((err = compile(prog, so, o.per_thread, diag)) < 0)
            goto done;
        path = so;
    } else if (strchr(prog, '/') == NULL) { /* dlopen would search the library path: a file here is meant */
        if ((rel = malloc(len + 3)) == NULL) {
            err = SP_ENOMEM;
            goto done;
        }
        snprintf(rel, len + 3, "./%s", prog);
        path = rel;
    }
    err = load(prog, path, nprocs, libs, fns, &tls, diag);
    if (made_dir) { /* loaded (or not): the file is not needed, even if the program calls exit() */
        unlink(so);
        rmdir(dir);
        made_dir = 0;
    }
    os_threads = o.os_threads > 0 || (o.os_threads < 0 && tls);
    eng_set_os_threads(os_threads);
    eng_set_stack_kib(8192); /* the program's main: a process's main-thread stack */
    if (err < 0 || (err = eng_new(&e, p, NULL, diag)) < 0)
        goto done;
    emu_set_nodata(m, o.nodata);
    emu_set_launch_costs(m, o.launch_costs);
    err = eng_run_emulation(e, m, fns, argc - o.prog, argv + o.prog, o.sm_contention, &status, &time_s, diag);
    fflush(stdout);
    report(m, p, prog, status, time_s, os_threads, o.launch_costs);
    if (emu_api_errors(m) > 0)
        fprintf(stderr, "scalepath emulate: %zu NCCL, CUDA, MPI or thread call(s) failed (messages above)\n",
                emu_api_errors(m));
    if (err == SP_OK && status != 0) {
        diag_error(diag, (sp_loc){prog, 0}, "main returned %d", status);
        err = SP_EPROGRAM;
    }
    if (err == SP_OK && o.output != NULL)
        err = write_h5(&o, m, p, status, time_s, argc, argv, diag);
    if (err == SP_OK && o.timeline != NULL && (err = write_timeline(o.timeline, m, p, diag)) < 0 && o.output != NULL)
        unlink(o.output); /* a failed run leaves no output */
done:
    eng_free(e);
    emu_free(m);
    /* The program stays loaded until the process ends: after a hang its
     * actors stay blocked in its code, which SimGrid unwinds at exit, and
     * the environment may point into its memory (putenv of a static). */
    free(libs);
    free(fns);
    free(rel);
    if (made_dir) {
        unlink(so);
        rmdir(dir);
    }
    plat_free(p);
    return err;
}

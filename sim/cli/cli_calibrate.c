/* cli_calibrate.c - `scalepath calibrate`: fit a platform's collectives to
 * the user's own nccl-tests log. Each size of the log is simulated on the
 * uncalibrated platform; the measured times are fitted as
 *     t_measured = latency + time_scale x t_simulated
 * by least squares on the relative error (every size weighs the same, small
 * or large); the table shows the busbw error before and after. A log in
 * which one thread drove several GPUs (nccl-tests -g G, which its header
 * prints as nGpus) times that thread's kernel launches at small sizes, not
 * the collective: with --gpus-per-thread G those sizes, where G launches of
 * the platform's nccl.launch_us take longer than the simulated collective,
 * are shown but left out of the fit, and every time shown is the larger of
 * the two, as `scalepath nccl --gpus-per-thread` prints it. With -o the
 * platform file is written again with a `calibration` group holding the
 * two factors and where they came from, which every later command applies
 * (docs/collectives.md). */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cfg/cfg.h"
#include "cli/cli.h"
#include "coll/coll.h"
#include "eng/eng.h"
#include "plat/plat.h"
#include "util/str.h"
#include "util/vec.h"

typedef struct point {
    uint64_t bytes;
    double measured_us, simulated_us;
    unsigned line;
    long root; /* the row's root column: -1, or a rank of the communicator */
    bool host; /* the host's launches take longer than the simulated collective: not fitted */
} point;

/* What the log's header says of how it ran: nGpus, GPUs per thread (0 = not printed). */
typedef struct log_info {
    int ngpus;
    unsigned ngpus_line;
} log_info;

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: scalepath calibrate -p PLATFORM.cfg [-n NODES] [-g GPUS] [-c COLLECTIVE] --log LOG\n"
            "                           [--algo L] [--proto L] [--collnet] [-o CALIBRATED.cfg]\n"
            "\n"
            "  --log LOG   an nccl-tests output (its out-of-place time column is used)\n"
            "  -c C        the collective the log measured            default all_reduce\n"
            "  -g G        GPUs per node in the communicator\n"
            "  --gpus-per-thread G  GPUs one host thread drove (nccl-tests -g, the log's\n"
            "              nGpus): sizes where G launches of the platform's\n"
            "              nccl.launch_us outlast the collective are not fitted\n"
            "  --algo, --proto, --collnet  what the log ran with (NCCL_ALGO, NCCL_PROTO,\n"
            "              NCCL_COLLNET_ENABLE=1), as in scalepath nccl\n"
            "  -o FILE     the platform file again, with a `calibration` group (the fitted\n"
            "              latency and time scale, and the log they came from and the\n"
            "              date: SOURCE_DATE_EPOCH's, when set, for the same bytes on any day)\n"
            "\n"
            "Each size of the log is simulated on the platform as it is; the measured\n"
            "times are fitted as latency + time_scale x simulated (least squares on the\n"
            "relative error), and the busbw error is shown before and after.\n");
}

/* nccl-tests table rows: size count type redop root time algbw busbw ... */
static int read_log(const char *path, point **out, size_t *n, log_info *info, diag_list *diag)
{
    FILE *fp = fopen(path, "r");
    char buf[1024];
    unsigned line = 0;
    size_t cap = 0;
    int err = SP_OK;

    *out = NULL;
    *n = 0;
    *info = (log_info){0, 0};
    if (fp != NULL && diag_check_input(diag, path) < 0) { /* a folder opens, and reads as nothing */
        fclose(fp);
        return SP_EINPUT;
    }
    if (fp == NULL) {
        diag_error(diag, (sp_loc){path, 0}, "cannot read: %s", strerror(errno));
        return SP_EINPUT;
    }
    while (fgets(buf, sizeof(buf), fp) != NULL) {
        char type[32], redop[32];
        unsigned long long size, count;
        long root;
        double t;
        const char *s = buf;
        line++;
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '#') {
            /* "# nThread 1 nGpus 8 minBytes ..." */
            const char *g = strstr(s, " nGpus ");
            if (g != NULL && info->ngpus_line == 0 && sscanf(g, " nGpus %d", &info->ngpus) == 1)
                info->ngpus_line = line;
            continue;
        }
        if (*s == '\0')
            continue;
        if (!isdigit((unsigned char)*s))
            continue; /* banners and warnings nccl-tests prints between rows */
        if (sscanf(s, "%llu %llu %31s %31s %ld %lf", &size, &count, type, redop, &root, &t) != 6 || !(t >= 0.0) ||
            !isfinite(t)) {
            diag_error(diag, (sp_loc){path, line}, "not an nccl-tests row (size count type redop root time ...)");
            err = SP_EINPUT;
            continue;
        }
        if (size == 0)
            continue;
        if (t == 0.0) { /* the fit weighs each size by 1 / time^2 */
            diag_error(diag, (sp_loc){path, line}, "a time of 0 us for %llu bytes: not a measurement to fit", size);
            err = SP_EINPUT;
            continue;
        }
        if (vec_reserve((void **)out, &cap, *n + 1, sizeof(**out)) < 0) {
            err = SP_ENOMEM;
            break;
        }
        (*out)[(*n)++] = (point){size, t, 0.0, line, root, false};
    }
    fclose(fp);
    if (err == SP_OK && *n < 2) {
        diag_error(diag, (sp_loc){path, 0}, "fewer than two sizes to fit (got %zu)", *n);
        err = SP_EINPUT;
    }
    if (err < 0) {
        free(*out);
        *out = NULL;
    }
    return err;
}

/* Weighted least squares of m = a + k s, weights 1 / m^2; a >= 0. Points
 * the host's launches rule are left out. */
static void fit(const point *pt, size_t n, double *a, double *k)
{
    double A = 0, B = 0, C = 0, D = 0, E = 0, det;

    for (size_t i = 0; i < n; i++) {
        if (pt[i].host)
            continue;
        double w = 1.0 / (pt[i].measured_us * pt[i].measured_us), s = pt[i].simulated_us, m = pt[i].measured_us;
        A += w;
        B += w * s;
        C += w * s * s;
        D += w * m;
        E += w * s * m;
    }
    det = A * C - B * B;
    *a = det != 0.0 ? (D * C - B * E) / det : 0.0;
    *k = det != 0.0 ? (A * E - B * D) / det : 1.0;
    if (*a < 0.0 || *k <= 0.0) { /* no negative latency: the best pure scale */
        *a = 0.0;
        *k = C > 0.0 ? E / C : 1.0;
    }
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The day the fit is stamped with, YYYY-MM-DD (UTC), in stamp: today's, or
 * the one SOURCE_DATE_EPOCH names (seconds since 1970-01-01 UTC, the
 * reproducible-builds convention), so that the same inputs can give the same
 * bytes on another day. A value that is not such a number, or one past
 * 9999-12-31 (which YYYY-MM-DD cannot write), is an error, not silently
 * today. */
#define LAST_DAY_S 253402300799LL /* 9999-12-31 23:59:59 UTC, s since 1970 */

static int fit_date(char *stamp, size_t size, diag_list *diag)
{
    const char *env = getenv("SOURCE_DATE_EPOCH");
    time_t when = time(NULL);
    struct tm tm;

    if (env != NULL) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(env, &end, 10);
        if (*env == '\0' || !isdigit((unsigned char)*env) || *end != '\0' || errno != 0 ||
            v > LAST_DAY_S || (long long)(time_t)v != v) {
            diag_error(diag, (sp_loc){0}, "SOURCE_DATE_EPOCH=\"%s\": not a number of seconds since 1970-01-01 "
                       "(up to 9999-12-31)",
                       env);
            return SP_EINPUT;
        }
        when = (time_t)v;
    }
    if (gmtime_r(&when, &tm) == NULL || strftime(stamp, size, "%Y-%m-%d", &tm) == 0) {
        if (env != NULL)
            diag_error(diag, (sp_loc){0}, "SOURCE_DATE_EPOCH=\"%s\": not a date this machine can write", env);
        else
            diag_error(diag, (sp_loc){0}, "cannot write today's date (the system clock?)");
        return SP_EINPUT;
    }
    return SP_OK;
}

/* The platform file again, its @include files copied in (the copy may live
 * elsewhere, and libconfig resolves includes from the including file's
 * folder), and the calibration group appended; temp + rename. */
static int write_calibrated(const char *in, const char *out, const char *log, double a, double k, const char *what,
                            const char *stamp, diag_list *diag)
{
    char *tmp = str_format("%s.partial", out);
    FILE *dst;
    int err, bad;

    if (tmp == NULL)
        return SP_ENOMEM;
    if ((dst = fopen(tmp, "w")) == NULL) {
        diag_error(diag, (sp_loc){out, 0}, "cannot write: %s", strerror(errno));
        free(tmp);
        return SP_EIO;
    }
    if ((err = cfg_flatten(in, dst, diag)) == SP_OK) {
        fprintf(dst,
                "\n# Fitted by `scalepath calibrate` to a measured nccl-tests log: t = latency +\n"
                "# time_scale x the simulated time of the platform above, %s.\n"
                "calibration = {\n"
                "  latency_us = %.6g;\n"
                "  time_scale = %.6g;\n"
                "  source = \"%s (%s), fitted %s\";\n"
                "};\n",
                what, a, k, log, what, stamp);
    }
    bad = ferror(dst);
    if (fclose(dst) != 0)
        bad = 1;
    if (bad && err == SP_OK) {
        diag_error(diag, (sp_loc){out, 0}, "cannot write the calibrated platform");
        err = SP_EIO;
    }
    if (err == SP_OK && rename(tmp, out) != 0) {
        diag_error(diag, (sp_loc){out, 0}, "cannot write the calibrated platform: %s", strerror(errno));
        err = SP_EIO;
    }
    if (err < 0)
        remove(tmp);
    free(tmp);
    return err;
}

int cli_calibrate(int argc, char **argv, diag_list *diag)
{
    static const struct option longs[] = {
        {"platform", required_argument, NULL, 'p'}, {"nodes", required_argument, NULL, 'n'},
        {"gpus", required_argument, NULL, 'g'},     {"collective", required_argument, NULL, 'c'},
        {"log", required_argument, NULL, 'L'},      {"output", required_argument, NULL, 'o'},
        {"algo", required_argument, NULL, 'A'},     {"proto", required_argument, NULL, 'P'},
        {"collnet", no_argument, NULL, 'K'},        {"help", no_argument, NULL, 'h'},
        {"gpus-per-thread", required_argument, NULL, 'G'},
        {NULL, 0, NULL, 0},
    };
    coll_opts co = {0, 0, 0};
    log_info info;
    double host_us = 0.0; /* the thread's launches per iteration, us; 0 = host not modelled */
    size_t nfit = 0;
    const char *algo = NULL, *proto = NULL;
    const char *ppath = NULL, *log = NULL, *output = NULL;
    int nodes = 0, gpn = 0, gpt = 0, c, err = SP_OK, nmembers = 0, *ranks = NULL;
    coll_kind kind = COLL_ALL_REDUCE;
    plat *p = NULL;
    eng *e = NULL;
    point *pt = NULL;
    size_t npt = 0;
    char stamp[32] = "";

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:n:g:c:o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'p':
            ppath = optarg;
            break;
        case 'n':
            if (cli_parse_int(&nodes, "-n", optarg, 1, 1 << 20, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'g':
            if (cli_parse_int(&gpn, "-g", optarg, 1, 1 << 16, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'G':
            if (cli_parse_int(&gpt, "--gpus-per-thread", optarg, 1, 1024, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'c':
            if (coll_kind_parse(&kind, optarg) < 0) {
                diag_error(diag, (sp_loc){0}, "option -c: unknown collective \"%s\"", optarg);
                err = SP_EINPUT;
            }
            break;
        case 'L':
            log = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'A':
        case 'P':
        case 'K':
            if (c == 'A')
                algo = optarg;
            else if (c == 'P')
                proto = optarg;
            if (cli_parse_coll_opt(&co, c == 'A' ? "--algo" : c == 'P' ? "--proto" : "--collnet", optarg, diag) <
                0)
                err = SP_EINPUT;
            break;
        case 'h':
            usage(stdout);
            return SP_OK;
        case ':':
            diag_error(diag, (sp_loc){0}, "option %s needs a value", argv[optind - 1]);
            err = SP_EINPUT;
            break;
        default:
            diag_error(diag, (sp_loc){0}, "calibrate: unknown option \"%s\"", argv[optind - 1]);
            err = SP_EINPUT;
        }
    }
    if (ppath == NULL || log == NULL) {
        diag_error(diag, (sp_loc){0}, "calibrate: a platform (-p) and a log (--log) are required");
        err = SP_EINPUT;
    }
    if (err < 0) {
        usage(stderr);
        return err;
    }
    if (output != NULL) {
        /* Both before the fit, not after its table: -o reads the platform
         * file a second time to copy it, which a pipe cannot give. */
        struct stat st;
        if ((err = fit_date(stamp, sizeof(stamp), diag)) < 0)
            return err;
        if (stat(ppath, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
            diag_error(diag, (sp_loc){ppath, 0},
                       "calibrate -o copies the platform file after reading it, and this one is not a regular "
                       "file (a pipe?): save it to a file first");
            return SP_EINPUT;
        }
    }
    if ((err = read_log(log, &pt, &npt, &info, diag)) < 0 || (err = plat_load(&p, ppath, diag)) < 0 ||
        (err = plat_set_nodes(p, nodes, diag)) < 0)
        goto done;
    if (gpt > 0 && info.ngpus > 0 && gpt != info.ngpus)
        diag_warning(diag, (sp_loc){log, info.ngpus_line}, "the log ran nGpus %d, not --gpus-per-thread %d",
                     info.ngpus, gpt);
    if (p->nccl.calib_scale != 1.0 || p->nccl.calib_lat_s != 0.0) {
        diag_error(diag, (sp_loc){p->path, 0}, "this platform is already calibrated: calibrate the file it came from");
        err = SP_EINPUT;
        goto done;
    }
    if ((ranks = malloc((size_t)p->nranks * sizeof(int))) == NULL) {
        err = SP_ENOMEM;
        goto done;
    }
    if ((err = cli_communicator(p, gpn, ranks, &nmembers, diag)) < 0)
        goto done;
    if (gpt > 0) {
        double floor_s;
        if ((err = cli_launch_floor(p, gpn, gpt, &floor_s, diag)) < 0)
            goto done;
        host_us = floor_s * 1e6;
    }
    /* nccl-tests prints a rooted collective's root (0, or -r's), and -1 for
     * the others: a row that says otherwise is of another collective than -c's. */
    for (size_t i = 0; i < npt; i++)
        if (coll_kind_root(kind) >= 0 && (pt[i].root < 0 || pt[i].root >= nmembers)) {
            diag_error(diag, (sp_loc){log, pt[i].line}, "root %ld is not a rank of the %d-rank communicator",
                       pt[i].root, nmembers);
            err = SP_EINPUT;
        } else if (coll_kind_root(kind) < 0 && pt[i].root != -1) {
            diag_error(diag, (sp_loc){log, pt[i].line},
                       "root %ld: a row of a rooted collective, where %s has none (-1); is -c right?",
                       pt[i].root, coll_kind_name(kind));
            err = SP_EINPUT;
        }
    if (err < 0)
        goto done;
    if ((err = eng_new(&e, p, NULL, diag)) < 0)
        goto done;
    for (size_t i = 0; i < npt && err == SP_OK; i++) {
        coll_plan *plan = NULL;
        double t;
        int root = coll_kind_root(kind) < 0 ? -1 : ranks[pt[i].root]; /* the row's, as a global rank */
        if ((err = coll_plan_new_rooted(&plan, p, kind, ranks, nmembers, pt[i].bytes, root,
                                        coll_kind_is_p2p(kind) ? NULL : &co)) < 0) {
            diag_error(diag, (sp_loc){log, pt[i].line}, "cannot plan %s of %llu B on this platform",
                       coll_kind_name(kind), (unsigned long long)pt[i].bytes);
            break;
        }
        err = eng_run_coll(e, plan, &t, diag);
        coll_plan_free(plan);
        pt[i].simulated_us = t * 1e6;
        pt[i].host = host_us > 0.0 && pt[i].simulated_us <= host_us;
        nfit += !pt[i].host;
    }
    if (err < 0)
        goto done;
    if (info.ngpus > 1 && gpt == 0) {
        /* One thread drove several GPUs and the option was not given: say so
         * where its launches would outlast the collective, or may. */
        size_t under = 0;
        for (size_t i = 0; i < npt; i++)
            under += pt[i].simulated_us <= info.ngpus * p->nccl.launch_s * 1e6;
        if (p->nccl.launch_s > 0.0 && under > 0)
            diag_warning(diag, (sp_loc){log, info.ngpus_line},
                         "nGpus %d: one thread drove %d GPUs, and at %zu size(s) its %d launches (%.2f us) outlast "
                         "the simulated collective: those time the host, and the fit takes them as latency; "
                         "--gpus-per-thread %d leaves them out",
                         info.ngpus, info.ngpus, under, info.ngpus, info.ngpus * p->nccl.launch_s * 1e6, info.ngpus);
        else if (p->nccl.launch_s <= 0.0)
            diag_warning(diag, (sp_loc){log, info.ngpus_line},
                         "nGpus %d: one thread drove %d GPUs, so small sizes may time its kernel launches rather "
                         "than the collective, and the fit would take them as latency; \"%s\" gives no "
                         "nccl.launch_us to tell them apart (a log of one process per GPU has no such floor)",
                         info.ngpus, info.ngpus, p->name);
    }
    if (nfit < 2) {
        diag_error(diag, (sp_loc){log, 0},
                   "fewer than two sizes to fit (got %zu) where the collective outlasts %d launches (%.2f us)", nfit,
                   gpt, host_us);
        err = SP_EINPUT;
        goto done;
    }
    {
        double a, k, *before = malloc(npt * sizeof(double) + 1), *after = malloc(npt * sizeof(double) + 1);
        char what[512];
        if (before == NULL || after == NULL) {
            free(before);
            free(after);
            err = SP_ENOMEM;
            goto done;
        }
        fit(pt, npt, &a, &k);
        printf("# scalepath %s calibrate: %s on %s (%d ranks) against %s, %zu sizes\n", SP_VERSION,
               coll_kind_name(kind), p->name, nmembers, log, npt);
        if (gpt > 0)
            printf("# host: one thread drove %d GPU(s): %d launch(es) x %.3f us = %.2f us per iteration; times "
                   "are the larger of that and the collective's,\n#       and the %zu size(s) marked host, where "
                   "the launches outlast the simulated (uncalibrated) collective, are not fitted\n",
                   gpt, gpt, p->nccl.launch_s * 1e6, host_us, npt - nfit);
        printf("#        size   measured(us)  simulated(us)  calibrated(us)  busbw err before  after\n");
        for (size_t i = 0; i < npt; i++) {
            double sim = fmax(pt[i].simulated_us, host_us), cal = fmax(a + k * pt[i].simulated_us, host_us);
            /* busbw is size x (the collective's factor) / time: its relative error
             * is measured / simulated time - 1. */
            before[i] = fabs(pt[i].measured_us / sim - 1.0);
            after[i] = fabs(pt[i].measured_us / cal - 1.0);
            printf("%14llu %14.2f %14.2f %15.2f %16.1f%% %5.1f%%%s\n", (unsigned long long)pt[i].bytes,
                   pt[i].measured_us, sim, cal, 100.0 * before[i], 100.0 * after[i], pt[i].host ? "  host" : "");
        }
        printf("fit: latency_us = %.4g, time_scale = %.4g (bandwidth x %.3g)\n", a, k, 1.0 / k);
        if (nfit < npt) {
            /* The fitted sizes first (median() sorts, so copy them out), then all. */
            double *fb = malloc(nfit * sizeof(double) + 1), *fa = malloc(nfit * sizeof(double) + 1);
            size_t j = 0;
            if (fb == NULL || fa == NULL) {
                free(fb);
                free(fa);
                free(before);
                free(after);
                err = SP_ENOMEM;
                goto done;
            }
            for (size_t i = 0; i < npt; i++)
                if (!pt[i].host) {
                    fb[j] = before[i];
                    fa[j++] = after[i];
                }
            printf("median busbw error of the %zu fitted sizes: %.1f%% before, %.1f%% after\n", nfit,
                   100.0 * median(fb, nfit), 100.0 * median(fa, nfit));
            free(fb);
            free(fa);
        }
        printf("median busbw error%s: %.1f%% before, %.1f%% after\n", nfit < npt ? " of all sizes" : "",
               100.0 * median(before, npt), 100.0 * median(after, npt));
        /* What the log ran with goes into the source: the fit holds for it. */
        char hostw[128] = "";
        if (gpt > 0)
            snprintf(hostw, sizeof(hostw), ", --gpus-per-thread %d: %zu size(s) the launches outlast not fitted", gpt,
                     npt - nfit);
        snprintf(what, sizeof(what), "%s, %d ranks, %zu sizes%s%s%s%s%s%s", coll_kind_name(kind), nmembers, npt,
                 algo ? ", NCCL_ALGO=" : "", algo ? algo : "", proto ? ", NCCL_PROTO=" : "", proto ? proto : "",
                 co.collnet ? ", NCCL_COLLNET_ENABLE=1" : "", hostw);
        free(before);
        free(after);
        if (output != NULL && (a > PLAT_CALIB_LATENCY_US_MAX || k > PLAT_CALIB_TIME_SCALE_MAX)) {
            /* a file the platform loader would refuse: say so, write nothing */
            diag_error(diag, (sp_loc){log, 0}, "the fit (latency %.4g us, time scale %.4g) is beyond what a platform "
                       "file takes (latency up to %g us, time scale up to %g): the log's times are not this "
                       "platform's (is -p, -n, -g or -c right?); %s not written", a, k, PLAT_CALIB_LATENCY_US_MAX,
                       PLAT_CALIB_TIME_SCALE_MAX, output);
            err = SP_EINPUT;
        } else if (output != NULL && (err = write_calibrated(ppath, output, log, a, k, what, stamp, diag)) == SP_OK) {
            printf("wrote %s\n", output);
        }
    }
done:
    eng_free(e);
    free(ranks);
    free(pt);
    plat_free(p);
    return err;
}

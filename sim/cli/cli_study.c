/* cli_study.c - `scalepath study`: every job of a study on every rung of
 * its ladder. The search (study.h) proposes layouts that fit, best
 * estimate first; the best few are simulated, one child process per rung
 * (SimGrid runs one engine per process), up to -j at a time; the fastest
 * simulated layout is the rung's answer. Then days, dollars and energy,
 * the Pareto front and the recommendation, printed and written to HDF5. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_sim.h"
#include "cli/cli_train.h"
#include "eng/eng.h"
#include "out/out.h"
#include "study/study.h"
#include "util/str.h"

#ifndef SP_STUDIES_DIR
#define SP_STUDIES_DIR "studies"
#endif
#define DEFAULT_STUDY SP_STUDIES_DIR "/default.cfg"

/* What a rung's child sends back per job: each simulated layout's result. */
typedef struct cell {
    study_candidate *cand; /* best estimates first */
    size_t ncand;
    study_candidate least; /* when none fits */
    int nsim;              /* simulated: min(ncand, max_simulated) */
    cli_train_result res[64];
    int best;              /* index into res of the fastest simulated, -1 none */
    cli_train_args args;   /* the best layout, as train's arguments (for the tables) */
    cli_train_result out;  /* its result, or the memory need when nothing fits */
    study_outcome eco;
} cell;

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: scalepath study [STUDY.cfg] [-o OUT.h5] [-j JOBS] [--max-simulated K]\n"
            "\n"
            "Every job of the study on every rung of its ladder: the layouts that fit\n"
            "(TP, PP, DP, EP, ZeRO, micro-batch, interleaving, recompute), ranked by an\n"
            "estimate; the best K simulated (default: the study's max_simulated); then\n"
            "tokens/s, MFU, days to train, cost to buy, cloud cost, energy, the Pareto\n"
            "front of cost against time, and the recommended rung.\n"
            "Without a file: the built-in study, %s: a small lab with one\n"
            "DGX Spark, fine-tuning and pretraining 8B to 70B models.\n"
            "  -j JOBS   rungs simulated at once (processes)      default: the CPUs\n"
            "  -o FILE   the tables as HDF5 (analysis/plot.py draws them)\n",
            DEFAULT_STUDY);
}

static bool fold_for(const train_config *c, const plat *p)
{
    /* A data-parallel replica stands for the others from 64 GPUs up: the DP
     * groups ride separate rails and are timed apart (cli_sim_fold). */
    return (c->l.dp > 1 || c->l.cp > 1) && p->nranks >= 64;
}

/* In the child: simulate the proposed layouts of every job on this rung. */
static int child_run(const study *s, size_t rung, cell *cells, int fd)
{
    const plat *p = s->rungs[rung].p;
    diag_list *diag = NULL;
    eng *e = NULL;
    int err;

    if (diag_new(&diag, 50) < 0)
        return SP_ENOMEM;
    err = eng_new(&e, p, NULL, diag);
    for (size_t j = 0; j < s->njobs && err == SP_OK; j++) {
        cell *c = &cells[j * s->nrungs + rung];
        for (int k = 0; k < c->nsim && err == SP_OK; k++) {
            train_config cfg = c->cand[k].c;
            int e2;
            cfg.fold = fold_for(&cfg, p);
            e2 = cli_train_simulate(e, p, s->jobs[j].m, &cfg, &s->rungs[rung].coll, &c->res[k], NULL, NULL, diag);
            if (e2 == SP_ENOMEM)
                err = e2;
            else if (e2 < 0) /* this layout failed (said in diag); the others may not */
                c->res[k].step_s = INFINITY;
        }
        if (err == SP_OK && c->nsim > 0) {
            const char *b = (const char *)c->res, *end = b + (size_t)c->nsim * sizeof(c->res[0]);
            while (b < end && err == SP_OK) {
                ssize_t w = write(fd, b, (size_t)(end - b));
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0)
                    err = SP_EIO;
                else
                    b += w;
            }
        }
    }
    eng_free(e);
    if (err < 0)
        diag_error(diag, (sp_loc){s->path, (unsigned)s->rungs[rung].line}, "rung \"%s\": the simulation failed",
                   s->rungs[rung].name);
    diag_print(diag, stderr);
    diag_free(diag);
    return err;
}

static int read_all(int fd, void *buf, size_t n)
{
    char *b = buf;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return SP_EIO;
        b += r;
        n -= (size_t)r;
    }
    return SP_OK;
}

/* One child per rung, up to `jobs` at a time; results back through pipes. */
static int simulate_rungs(const study *s, cell *cells, int jobs, diag_list *diag)
{
    size_t next = 0, done = 0;
    int err = SP_OK;
    pid_t *pid = calloc(s->nrungs + 1, sizeof(pid_t));
    int *fd = calloc(s->nrungs + 1, sizeof(int));

    if (pid == NULL || fd == NULL) {
        free(pid);
        free(fd);
        return SP_ENOMEM;
    }
    fflush(stdout);
    fflush(stderr);
    while (done < s->nrungs) {
        /* Start children while fewer than `jobs` run. */
        while (next < s->nrungs && next - done < (size_t)jobs && err == SP_OK) {
            int p[2];
            if (pipe(p) < 0) {
                err = SP_EIO;
                break;
            }
            pid[next] = fork();
            if (pid[next] < 0) {
                close(p[0]);
                close(p[1]);
                err = SP_EIO;
                break;
            }
            if (pid[next] == 0) {
                size_t me = next;
                int rc;
                close(p[0]);
                for (size_t i = done; i < me; i++) /* the parent's ends of older children's pipes */
                    close(fd[i]);
                free(pid);
                free(fd);
                rc = child_run(s, me, cells, p[1]);
                close(p[1]);
                _exit(rc == SP_OK ? 0 : 3);
            }
            close(p[1]);
            fd[next++] = p[0];
        }
        if (done == next)
            break;
        /* Collect the oldest child (results arrive in rung order). */
        {
            int status = 0, rerr = SP_OK;
            for (size_t j = 0; j < s->njobs && rerr == SP_OK; j++) {
                cell *c = &cells[j * s->nrungs + done];
                if (c->nsim > 0)
                    rerr = read_all(fd[done], c->res, (size_t)c->nsim * sizeof(c->res[0]));
            }
            close(fd[done]);
            while (waitpid(pid[done], &status, 0) < 0 && errno == EINTR)
                ;
            if (rerr < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                diag_error(diag, (sp_loc){s->path, (unsigned)s->rungs[done].line},
                           "rung \"%s\": no result from its simulation", s->rungs[done].name);
                err = SP_EINTERNAL;
            }
            done++;
        }
    }
    /* On a failure to start, reap what was started. */
    for (size_t i = done; i < next; i++) {
        close(fd[i]);
        waitpid(pid[i], NULL, 0);
    }
    free(pid);
    free(fd);
    return err;
}

static void short_layout(const train_config *c, char *buf, size_t size)
{
    static const char *const rc[] = {"", " sel", " full-rc"};
    const model_layout *l = &c->l;
    char v[16] = "";

    if (l->vpp > 1)
        snprintf(v, sizeof(v), "x%d", l->vpp);
    snprintf(buf, size, "TP%d PP%d%s DP%d Z%d b%d m%d%s", l->tp, l->pp, v, l->dp, l->zero, l->micro_batch,
             l->microbatches, rc[l->recompute]);
}

static void money(double usd, char *buf, size_t size)
{
    if (usd >= 1e6)
        snprintf(buf, size, "%.2fM", usd / 1e6);
    else if (usd >= 1e4)
        snprintf(buf, size, "%.0fk", usd / 1e3);
    else if (usd >= 10.0 || usd == 0.0)
        snprintf(buf, size, "%.0f", usd);
    else
        snprintf(buf, size, "%.2f", usd);
}

static void print_job(const study *s, size_t j, cell *cells, int rec)
{
    const study_job *job = &s->jobs[j];
    const double G = 1e9;
    static const char *const what[] = {"pretraining", "full fine-tune", "LoRA fine-tune", "QLoRA fine-tune"};
    int mode = strcmp(job->mode, "pretrain") == 0 ? 0 : job->tune == MODEL_TRAIN_FULL ? 1 : job->tune == MODEL_TRAIN_LORA ? 2 : 3;

    printf("\n== %s: %s of %s (%.2fB parameters), %.3g tokens, sequence %d, batch %d sequences, %s",
           job->name, what[mode], job->m->name, model_params(job->m) / 1e9, job->tokens, job->seq_len,
           job->global_batch, plat_prec_name(job->prec));
    if (job->unfused_loss)
        printf(", unfused loss");
    if (job->deadline_days > 0)
        printf(", deadline %g days", job->deadline_days);
    printf("\n%-24s %5s %-4s %-28s %9s %10s %5s %9s %8s %8s %9s %7s\n", "rung", "GPUs", "fits", "best layout",
           "step(s)", "tokens/s", "MFU", "days", "buy($)", "cloud($)", "kWh", "GB/GPU");
    for (size_t r = 0; r < s->nrungs; r++) {
        cell *c = &cells[j * s->nrungs + r];
        char lay[64], buy[16], cloud[16] = "-", kwh[16] = "-";
        const study_outcome *o = &c->eco;
        money(o->capex_USD, buy, sizeof(buy));
        if (!o->fits && c->nsim > 0) {
            printf("%-24s %5d %-4s every simulated layout failed (see the messages)\n", s->rungs[r].name,
                   s->rungs[r].p->nranks, "?");
            continue;
        }
        if (!o->fits) {
            short_layout(&c->least.c, lay, sizeof(lay));
            printf("%-24s %5d %-4s needs %.1f GB of %.0f GB per GPU at best (%s)\n", s->rungs[r].name,
                   s->rungs[r].p->nranks, "no", c->least.mem.total / G, c->out.capacity / G, lay);
            continue;
        }
        short_layout(&c->args.cfg, lay, sizeof(lay));
        if (o->cloud_USD > 0)
            money(o->cloud_USD, cloud, sizeof(cloud));
        if (o->energy_kWh > 0)
            snprintf(kwh, sizeof(kwh), "%.3g", o->energy_kWh);
        printf("%-24s %5d %-4s %-28s %9.3f %10.0f %4.0f%% %9.3g %8s %8s %9s %7.1f%s%s\n", s->rungs[r].name,
               s->rungs[r].p->nranks, "yes", lay, c->out.step_s, o->tokens_per_s, c->out.mfu * 100.0, o->days, buy,
               cloud, kwh, c->out.mem.total / G, o->pareto ? " *" : "", o->recommended ? " <- recommended" : "");
    }
    if (rec < 0) {
        printf("recommended: none: the job fits on no rung of this ladder (see the memory needed above)\n");
        return;
    }
    {
        const study_outcome *o = &cells[j * s->nrungs + (size_t)rec].eco;
        char buy[16];
        money(o->capex_USD, buy, sizeof(buy));
        if (job->deadline_days > 0 && o->meets_deadline)
            printf("recommended: %s: the cheapest rung to buy ($%s) that trains it within the deadline of %g days "
                   "(%.3g days",
                   s->rungs[rec].name, buy, job->deadline_days, o->days);
        else if (job->deadline_days > 0)
            printf("recommended: %s: no rung meets the deadline of %g days; this is the fastest (%.3g days, $%s",
                   s->rungs[rec].name, job->deadline_days, o->days, buy);
        else
            printf("recommended: %s: no deadline given, so the fastest (%.3g days, $%s", s->rungs[rec].name, o->days,
                   buy);
        if (o->energy_kWh > 0)
            printf(", %.3g kWh, $%.0f of electricity", o->energy_kWh, o->electricity_USD);
        printf(")\n");
    }
    /* The path up: the Pareto front by cost to buy. */
    printf("scale-up path (* above: no rung is both cheaper to buy and faster):");
    {
        int last = -1, first = 1;
        for (;;) {
            int pick = -1;
            for (size_t r = 0; r < s->nrungs; r++) {
                const study_outcome *o = &cells[j * s->nrungs + r].eco;
                if (!o->pareto)
                    continue;
                if (last >= 0 && (o->capex_USD < cells[j * s->nrungs + (size_t)last].eco.capex_USD ||
                                  (o->capex_USD == cells[j * s->nrungs + (size_t)last].eco.capex_USD && (int)r <= last)))
                    continue;
                if (pick < 0 || o->capex_USD < cells[j * s->nrungs + (size_t)pick].eco.capex_USD)
                    pick = (int)r;
            }
            if (pick < 0)
                break;
            {
                const study_outcome *o = &cells[j * s->nrungs + (size_t)pick].eco;
                char buy[16];
                money(o->capex_USD, buy, sizeof(buy));
                printf("%s %s (%.3g days, $%s)", first ? "" : " ->", s->rungs[pick].name, o->days, buy);
            }
            first = 0;
            last = pick;
        }
    }
    printf("\n");
}

static int write_h5(const study *s, cell *cells, const char *path, int argc, char **argv, diag_list *diag)
{
    size_t n = s->njobs * s->nrungs;
    cli_train_row *rows = calloc(n + 1, sizeof(*rows));
    int64_t *iv = calloc(7 * (n + 1), sizeof(int64_t));
    double *fv = calloc(9 * (n + 1), sizeof(double));
    const char **sv = calloc(2 * (n + 1), sizeof(char *));
    out_file *f = NULL;
    int err = SP_ENOMEM;

    if (rows != NULL && iv != NULL && fv != NULL && sv != NULL) {
        for (size_t j = 0; j < s->njobs; j++)
            for (size_t r = 0; r < s->nrungs; r++) {
                size_t i = j * s->nrungs + r;
                cell *c = &cells[i];
                const study_outcome *o = &c->eco;
                rows[i] = (cli_train_row){s->rungs[r].name, s->rungs[r].p->name, s->jobs[j].m->name, s->jobs[j].mode,
                                          s->rungs[r].p->nodes, s->rungs[r].p->nranks, &c->args, &c->out};
                sv[i] = s->jobs[j].name;
                sv[n + i] = s->rungs[r].name;
                iv[i] = o->fits;
                iv[n + i] = o->meets_deadline;
                iv[2 * n + i] = o->pareto;
                iv[3 * n + i] = o->recommended;
                iv[4 * n + i] = (int64_t)c->ncand;
                iv[5 * n + i] = c->nsim;
                iv[6 * n + i] = s->rungs[r].coll.collnet;
                fv[i] = o->fits ? o->days : NAN;
                fv[n + i] = o->capex_USD;
                fv[2 * n + i] = o->fits ? o->cloud_USD : NAN;
                fv[3 * n + i] = o->fits && o->energy_kWh > 0 ? o->energy_kWh : NAN;
                fv[4 * n + i] = o->fits && o->energy_kWh > 0 ? o->electricity_USD : NAN;
                fv[5 * n + i] = s->jobs[j].tokens;
                fv[6 * n + i] = s->jobs[j].deadline_days;
                fv[7 * n + i] = s->rungs[r].cloud_USD_per_gpu_hour;
                fv[8 * n + i] = c->ncand > 0 ? c->cand[0].estimate_s : NAN;
            }
        {
            const out_attr root[] = {
                OUT_ATTR_STR("study_file", s->path),
                OUT_ATTR_STR("study_name", s->name),
                OUT_ATTR_F64("electricity_price", s->electricity_USD_per_kWh, "USD/kWh"),
            };
            const out_col cols[] = {
                {"job", OUT_STR, "", "the study's job", sv},
                {"rung", OUT_STR, "", "the ladder's rung", sv + n},
                {"fits", OUT_I64, "1", "1 if some layout fits the GPUs' memory", iv},
                {"meets_deadline", OUT_I64, "1", "1 if it trains within the job's deadline (or none is set)", iv + n},
                {"pareto", OUT_I64, "1", "1 if no rung is both cheaper to buy and faster", iv + 2 * n},
                {"recommended", OUT_I64, "1", "1 for the recommended rung of the job", iv + 3 * n},
                {"layouts_fitting", OUT_I64, "1", "layouts the search found to fit", iv + 4 * n},
                {"layouts_simulated", OUT_I64, "1", "of which simulated (the best estimates)", iv + 5 * n},
                {"collnet", OUT_I64, "1", "1 if the rung runs NCCL with CollNet enabled (in-network reduction)",
                 iv + 6 * n},
                {"days", OUT_F64, "d", "time to train the job's tokens; NaN if it does not fit", fv},
                {"capex", OUT_F64, "USD", "to buy the rung, less what the lab owns", fv + n},
                {"cloud_cost", OUT_F64, "USD", "renting its GPUs for that time; 0 = no price given", fv + 2 * n},
                {"energy", OUT_F64, "kWh", "its nodes at maximum power for that time; NaN if unknown", fv + 3 * n},
                {"electricity_cost", OUT_F64, "USD", "that energy at the study's price", fv + 4 * n},
                {"tokens", OUT_F64, "1", "tokens the job trains on", fv + 5 * n},
                {"deadline", OUT_F64, "d", "the job's deadline; 0 = none", fv + 6 * n},
                {"cloud_price", OUT_F64, "USD/(GPU h)", "on-demand price per GPU-hour; 0 = not given", fv + 7 * n},
                {"estimate", OUT_F64, "s", "the search's estimate of the best-ranked layout's step", fv + 8 * n},
            };
            const out_attr gattrs[] = {OUT_ATTR_STR("contents", "one row per (job, rung), jobs major")};
            err = cli_out_open(&f, path, "study", argc, argv, root, sizeof(root) / sizeof(root[0]), diag);
            if (err == SP_OK)
                err = out_table(f, "/study/outcomes", gattrs, 1, cols, sizeof(cols) / sizeof(cols[0]), n);
            if (err == SP_OK)
                err = cli_train_write_rows(f, "/study/configs", rows, n);
            err = cli_out_finish(f, err);
        }
    }
    free(rows);
    free(iv);
    free(fv);
    free(sv);
    return err;
}

int cli_study(int argc, char **argv, diag_list *diag)
{
    static const struct option longs[] = {
        {"output", required_argument, NULL, 'o'},        {"jobs", required_argument, NULL, 'j'},
        {"max-simulated", required_argument, NULL, 'K'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = DEFAULT_STUDY, *output = NULL;
    int c, err = SP_OK, jobs = (int)sysconf(_SC_NPROCESSORS_ONLN), maxsim = 0;
    study *s = NULL;
    cell *cells = NULL;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:j:h", longs, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 'j':
            if (cli_parse_int(&jobs, "-j", optarg, 1, 1024, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'K':
            if (cli_parse_int(&maxsim, "--max-simulated", optarg, 1, 64, diag) < 0)
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
            diag_error(diag, (sp_loc){0}, "study: unknown option \"%s\"", argv[optind - 1]);
            err = SP_EINPUT;
        }
    }
    if (optind < argc)
        path = argv[optind++];
    if (optind < argc) {
        diag_error(diag, (sp_loc){0}, "study: unexpected argument \"%s\"", argv[optind]);
        err = SP_EINPUT;
    }
    if (err < 0) {
        usage(stderr);
        return err;
    }
    if (jobs < 1)
        jobs = 1;
    if ((err = study_load(&s, path, diag)) < 0)
        return err;
    if (maxsim > 0)
        s->max_simulated = maxsim;
    if ((cells = calloc(s->njobs * s->nrungs + 1, sizeof(*cells))) == NULL) {
        err = SP_ENOMEM;
        goto done;
    }
    /* The search, in this process: pure planning. */
    for (size_t j = 0; j < s->njobs && err == SP_OK; j++)
        for (size_t r = 0; r < s->nrungs && err == SP_OK; r++) {
            cell *x = &cells[j * s->nrungs + r];
            err = study_search(&s->jobs[j], s->rungs[r].p, &s->rungs[r].coll, &x->cand, &x->ncand, &x->least, diag);
            x->nsim = (int)(x->ncand < (size_t)s->max_simulated ? x->ncand : (size_t)s->max_simulated);
        }
    if (err < 0 || (err = simulate_rungs(s, cells, jobs, diag)) < 0)
        goto done;
    {
        printf("# scalepath %s study: %s (%s)\n", SP_VERSION, s->name, s->path);
        if (s->description[0] != '\0')
            printf("# %s\n", s->description);
        printf("# electricity %.3g USD/kWh", s->electricity_USD_per_kWh);
        if (s->owned_node != NULL)
            printf("; owned: %d x %s (not bought again)", s->owned_count, s->owned_node);
        printf("; the %d best-estimated layouts of each job and rung simulated\n", s->max_simulated);
        {
            int listed = 0;
            for (size_t r = 0; r < s->nrungs; r++)
                if (s->rungs[r].coll.collnet)
                    printf("%s%s", listed++ ? ", " : "# CollNet (in-network reduction, NCCL_COLLNET_ENABLE=1) on: ",
                           s->rungs[r].name);
            if (listed)
                printf("\n");
        }
    }
    for (size_t j = 0; j < s->njobs; j++) {
        study_outcome *eco = calloc(s->nrungs + 1, sizeof(*eco));
        int rec;
        if (eco == NULL) {
            err = SP_ENOMEM;
            goto done;
        }
        for (size_t r = 0; r < s->nrungs; r++) {
            cell *x = &cells[j * s->nrungs + r];
            x->best = -1;
            for (int k = 0; k < x->nsim; k++)
                if (isfinite(x->res[k].step_s) && (x->best < 0 || x->res[k].step_s < x->res[x->best].step_s))
                    x->best = k;
            cli_train_defaults(&x->args);
            if (x->best >= 0) {
                x->args.cfg = x->cand[x->best].c;
                x->args.cfg.fold = fold_for(&x->args.cfg, s->rungs[r].p);
                x->out = x->res[x->best];
            } else {
                x->args.cfg = x->least.c;
                memset(&x->out, 0, sizeof(x->out));
                x->out.mem = x->least.mem;
                x->out.capacity = plat_type_of_rank(s->rungs[r].p, 0)->gpu.mem_bytes;
                x->out.step_s = NAN;
            }
            study_economics(s, j, r, x->best >= 0 ? x->out.tokens_per_s : 0.0, &eco[r]);
        }
        rec = study_recommend(s, j, eco);
        for (size_t r = 0; r < s->nrungs; r++)
            cells[j * s->nrungs + r].eco = eco[r];
        free(eco);
        print_job(s, j, cells, rec);
    }
    if (output != NULL)
        err = write_h5(s, cells, output, argc, argv, diag);
done:
    for (size_t i = 0; cells != NULL && i < s->njobs * s->nrungs; i++)
        free(cells[i].cand);
    free(cells);
    study_free(s);
    return err;
}

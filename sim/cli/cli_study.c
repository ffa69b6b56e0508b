/* cli_study.c - `scalepath study`: every job of a study on every rung of
 * its ladder. The search (study.h) proposes layouts that fit, best
 * estimate first; the best few are simulated, one child process per rung
 * (SimGrid runs one engine per process), up to -j at a time; the fastest
 * simulated layout is the rung's answer. Then days, dollars and energy,
 * the Pareto front and the recommendation, printed and written to HDF5.
 * A study can also run sharded: --part K/N simulates one share of the
 * rungs into a part file, --merge reports from all N parts as one run
 * would (Slurm job arrays; docs/user-guide.md). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

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

/* Simulated steps within this (relative) of the fastest are a tie, won by
 * the better estimate (the earliest such candidate). A rung's simulations
 * share one engine whose clock runs on between them, so the last bits of a
 * step depend on what ran before it on the rung; layouts equal in exact
 * arithmetic (say, selective recomputation where flash attention
 * recomputes anyway) must not be told apart by that rounding. */
#define TIE 1e-6

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
            "       scalepath study [STUDY.cfg] --part K/N -o PART.h5 [-j JOBS] [--max-simulated K]\n"
            "       scalepath study [STUDY.cfg] --merge PART.h5... [-o OUT.h5]\n"
            "\n"
            "Every job of the study on every rung of its ladder: the layouts that fit\n"
            "(TP, CP, PP, DP, EP, ZeRO, micro-batch, interleaving, recompute), ranked by an\n"
            "estimate; the best K simulated (default: the study's max_simulated); then\n"
            "tokens/s, MFU, days to train, cost to buy, cloud cost, energy, the Pareto\n"
            "front of cost against time, and the recommended rung.\n"
            "Without a file: the built-in study, %s: a small lab with one\n"
            "DGX Spark, fine-tuning and pretraining 8B to 70B models.\n"
            "  -j JOBS   rungs simulated at once (processes)      default: the CPUs\n"
            "  -o FILE   the tables as HDF5 (analysis/plot.py draws them)\n"
            "  --part K/N  simulate only part K (0 to N-1) of the ladder, the rungs\n"
            "            whose index (from 0) is K mod N, every job on them, and write\n"
            "            the results to -o as a part file: one task of a Slurm job array\n"
            "            (--part $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)\n"
            "  --merge   the tables from the part files of all N parts (the same\n"
            "            study, inputs and scalepath), as one run would give them\n"
            "  --whole-platform  give SimGrid every node of each rung, not only those\n"
            "            its simulated layouts use (the same results, slower: a check)\n",
            DEFAULT_STUDY);
}

static bool fold_for(const train_config *c, const plat *p)
{
    /* A data-parallel replica stands for the others from 64 GPUs up: the DP
     * groups ride separate rails and are timed apart (cli_sim_fold). */
    return (c->l.dp > 1 || c->l.cp > 1) && p->nranks >= 64;
}

/* The nodes the layouts to simulate on this rung use, for the rung's one
 * engine: their union (cli_train_nodes); NULL (every node) where pruning
 * would change routes, with whole, or if a layout fails to build (its
 * simulation then fails the same way, and says why). */
static uint8_t *rung_nodes(const study *s, size_t rung, const cell *cells, bool whole)
{
    const plat *p = s->rungs[rung].p;
    uint8_t *keep;
    diag_list *quiet = NULL; /* the simulation reports the same problems */
    int err = SP_OK;

    if (whole || !plat_nodes_prunable(p) || (keep = calloc((size_t)p->nodes + 1, 1)) == NULL)
        return NULL;
    if (diag_new(&quiet, 1) < 0) {
        free(keep);
        return NULL;
    }
    for (size_t j = 0; j < s->njobs && err == SP_OK; j++) {
        const cell *c = &cells[j * s->nrungs + rung];
        for (int k = 0; k < c->nsim && err == SP_OK; k++) {
            train_config cfg = c->cand[k].c;
            cfg.fold = fold_for(&cfg, p);
            err = cli_train_nodes(p, s->jobs[j].m, &cfg, &s->rungs[rung].coll, keep, quiet);
        }
    }
    diag_free(quiet);
    if (err < 0) {
        free(keep);
        return NULL;
    }
    return keep;
}

/* In the child: simulate the proposed layouts of every job on this rung. */
static int child_run(const study *s, size_t rung, cell *cells, int fd, bool whole)
{
    const plat *p = s->rungs[rung].p;
    diag_list *diag = NULL;
    eng *e = NULL;
    uint8_t *keep;
    int err, any = 0;

    for (size_t j = 0; j < s->njobs; j++)
        any |= cells[j * s->nrungs + rung].nsim > 0;
    if (!any) /* another part's rung: no platform to load */
        return SP_OK;
    if (diag_new(&diag, 50) < 0)
        return SP_ENOMEM;
    keep = rung_nodes(s, rung, cells, whole);
    err = eng_new_nodes(&e, p, keep, NULL, diag);
    free(keep);
    for (size_t j = 0; j < s->njobs && err == SP_OK; j++) {
        cell *c = &cells[j * s->nrungs + rung];
        for (int k = 0; k < c->nsim && err == SP_OK; k++) {
            train_config cfg = c->cand[k].c;
            int e2;
            cfg.fold = fold_for(&cfg, p);
            e2 = cli_train_simulate(&e, p, s->jobs[j].m, &cfg, &s->rungs[rung].coll, &c->res[k], NULL, NULL, diag);
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
static int simulate_rungs(const study *s, cell *cells, int jobs, bool whole, diag_list *diag)
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
                rc = child_run(s, me, cells, p[1], whole);
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
    char v[16] = "", cp[16] = "";

    if (l->vpp > 1)
        snprintf(v, sizeof(v), "x%d", l->vpp);
    if (l->cp > 1)
        snprintf(cp, sizeof(cp), " CP%d", l->cp);
    snprintf(buf, size, "TP%d%s PP%d%s DP%d Z%d b%d m%d%s", l->tp, cp, l->pp, v, l->dp, l->zero, l->micro_batch,
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

static void print_job(const study *s, size_t j, cell *cells, int rec, int merged)
{
    const study_job *job = &s->jobs[j];
    const double G = 1e9;
    static const char *const what[] = {"pretraining", "full fine-tune", "LoRA fine-tune", "QLoRA fine-tune"};
    int mode = strcmp(job->mode, "pretrain") == 0 ? 0 : job->tune == MODEL_TRAIN_FULL ? 1 : job->tune == MODEL_TRAIN_LORA ? 2 : 3;
    int width = 28;

    printf("\n== %s: %s of %s (%.2fB parameters), %.3g tokens, sequence %d, batch %d sequences, %s",
           job->name, what[mode], job->m->name, model_params(job->m) / 1e9, job->tokens, job->seq_len,
           job->global_batch, plat_prec_name(job->prec));
    if (mode >= 2 && job->lora_targets != MODEL_LORA_ALL) {
        char names[MODEL_LORA_NAME_MAX];
        printf(", adapters on %s", model_lora_targets_name(job->lora_targets, names));
    }
    if (mode >= 2 && job->lora_dropout > 0.0)
        printf(", LoRA dropout %g", job->lora_dropout);
    if (mode >= 2 && job->lora_a2a)
        printf(", adapters' output all-to-all");
    if (job->fp8_params)
        printf(", FP8 parameters");
    if (job->no_weight_cache)
        printf(", no weight cache");
    if (job->unfused_loss)
        printf(", unfused loss");
    if (job->m->experts > 1 && (job->moe_imbalance > 1.0 || job->moe_capacity > 0.0)) {
        printf(", MoE");
        if (job->moe_imbalance > 1.0)
            printf(" imbalance %g (at most EP)", job->moe_imbalance);
        if (job->moe_capacity > 0.0)
            printf("%s capacity factor %g%s", job->moe_imbalance > 1.0 ? "," : "", job->moe_capacity,
                   job->moe_pad ? ", padded" : "");
    }
    if (job->max_cp > 1)
        printf(", context parallel up to %d (%s)", job->max_cp, train_cp_comm_name(job->cp_comm));
    if (job->deadline_days > 0)
        printf(", deadline %g days", job->deadline_days);
    /* The layout column: 28 wide, wider where a rung's layout is (CP adds to it). */
    for (size_t r = 0; r < s->nrungs; r++) {
        const cell *c = &cells[j * s->nrungs + r];
        char lay[64];
        if (c->eco.fits) {
            short_layout(&c->args.cfg, lay, sizeof(lay));
            width = strlen(lay) > (size_t)width ? (int)strlen(lay) : width;
        }
    }
    printf("\n%-24s %5s %-4s %-*s %9s %10s %5s %9s %8s %8s %9s %7s\n", "rung", "GPUs", "fits", width, "best layout",
           "step(s)", "tokens/s", "MFU", "days", "buy($)", "cloud($)", "kWh", "GB/GPU");
    for (size_t r = 0; r < s->nrungs; r++) {
        cell *c = &cells[j * s->nrungs + r];
        char lay[64], buy[16], cloud[16] = "-", kwh[16] = "-";
        const study_outcome *o = &c->eco;
        money(o->capex_USD, buy, sizeof(buy));
        if (!o->fits && c->nsim > 0) {
            printf("%-24s %5d %-4s every simulated layout failed (see the messages%s)\n", s->rungs[r].name,
                   s->rungs[r].p->nranks, "?", merged ? " of the part run that simulated it" : "");
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
        printf("%-24s %5d %-4s %-*s %9.3f %10.0f %4.0f%% %9.3g %8s %8s %9s %7.1f%s%s\n", s->rungs[r].name,
               s->rungs[r].p->nranks, "yes", width, lay, c->out.step_s, o->tokens_per_s, c->out.mfu * 100.0, o->days, buy,
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

/* --- Sharded studies. Rung r belongs to part r mod N.
 * A part file holds, for each simulated layout of its rungs, the results
 * the tables use (stage 0's breakdown, as write_h5 reports it); the merge
 * redoes the search (planning only, deterministic), checks every row
 * against it, and goes on as one run would. docs/output-format.md has the
 * file's layout. */

#define PART_KIND "study-part"
#define PART_TABLE "/study_part/results"

/* A double of cli_train_result stored as a column of the part file. */
typedef struct res_field {
    const char *name, *units, *description;
    size_t off;
} res_field;

#define RES(name, units, what, member) {name, units, what, offsetof(cli_train_result, member)}
static const res_field res_fields[] = {
    RES("memory_params", "1", "parameters held per GPU (before ZeRO-3)", mem.params),
    RES("memory_trainable", "1", "of which trained", mem.trainable),
    RES("memory_weights", "B", "weights per GPU", mem.weights),
    RES("memory_gradients", "B", "gradients per GPU", mem.gradients),
    RES("memory_optimizer", "B", "optimizer states per GPU", mem.optimizer),
    RES("memory_activations", "B", "activations per GPU", mem.activations),
    RES("memory_logits", "B", "logits and the loss's fp32 tensors per GPU", mem.logits),
    RES("memory_framework", "B", "CUDA context and NCCL buffers per GPU", mem.framework),
    RES("memory_per_gpu", "B", "memory needed per GPU (busiest stage)", mem.total),
    RES("memory_capacity", "B", "GPU memory", capacity),
    RES("step_time", "s", "simulated optimizer step; inf if its simulation failed", step_s),
    RES("tokens_per_s", "1/s", "tokens trained per second", tokens_per_s),
    RES("model_tflops_per_gpu", "TFLOP/s", "model FLOPs per second per GPU (PaLM's convention)", tflops_per_gpu),
    RES("model_tflops_per_gpu_causal", "TFLOP/s", "the same, attention's causal half only", tflops_per_gpu_causal),
    RES("mfu", "1", "model FLOPs utilisation of the dense bf16 peak", mfu),
    RES("moe_load", "1", "MoE: the busiest expert-parallel rank's tokens over the balanced mean", moe_load),
    RES("moe_dropped", "1", "MoE: share of the busiest rank's routed tokens dropped", moe_dropped),
    RES("finish", "s", "stage 0, first GPU: its last operation's end", stage[0].finish),
    RES("compute", "s", "stage 0: compute stream busy", stage[0].compute),
    RES("comm", "s", "stage 0: communication, overlapped or not", stage[0].comm),
    RES("exposed", "s", "stage 0: communication no compute hides", stage[0].exposed),
    RES("exposed_tp", "s", "stage 0: of which tensor-parallel", stage[0].exposed_by[CLI_TP]),
    RES("exposed_cp", "s", "stage 0: of which context-parallel", stage[0].exposed_by[CLI_CP]),
    RES("exposed_ep", "s", "stage 0: of which expert-parallel", stage[0].exposed_by[CLI_EP]),
    RES("exposed_dp", "s", "stage 0: of which data-parallel", stage[0].exposed_by[CLI_DP]),
    RES("exposed_pp", "s", "stage 0: of which waiting for a pipeline stage", stage[0].exposed_by[CLI_PP]),
    RES("exposed_other", "s", "stage 0: of which other communication", stage[0].exposed_by[CLI_OTHER]),
    RES("pipeline_wait", "s", "stage 0: waiting for another stage (the pipeline bubble)", pp_wait[0]),
    RES("simgrid_nodes", "1", "nodes SimGrid was given: those the rung's simulated layouts use, where routes stay "
        "the same (else all)", simgrid_nodes),
};
#undef RES
#define NRES (sizeof(res_fields) / sizeof(res_fields[0]))
enum { NRES_INT = 6 }; /* job, rung, candidate, fits, operations, stage0_rank */

static double *res_double(cli_train_result *r, size_t f)
{
    return (double *)(void *)((char *)r + res_fields[f].off);
}

/* Parts are sets of whole rungs: a rung's child simulates the same layouts
 * in the same order on one engine whether the study runs whole or in parts,
 * so the results are the same bits (the engine's clock runs on from one
 * simulation to the next, and its rounding with it). */
/* The column of res_fields named name (one of them). */
static size_t res_index(const char *name)
{
    size_t x = 0;
    while (x + 1 < NRES && strcmp(res_fields[x].name, name) != 0)
        x++;
    return x;
}

static int in_part(size_t rung, int part, int parts)
{
    return rung % (size_t)parts == (size_t)part;
}

/* The full description of candidate k of a cell, as train prints it. */
static void describe_candidate(const study *s, size_t r, const cell *c, int k, char *buf, size_t size)
{
    cli_train_args a;

    cli_train_defaults(&a);
    a.cfg = c->cand[k].c;
    a.cfg.fold = fold_for(&a.cfg, s->rungs[r].p);
    cli_train_describe(&a, buf, size);
}

/* The CRC-32 of this scalepath executable: parts are merged only by the
 * build that simulated them (SP_VERSION names a release, not a build).
 * @return the CRC, or 0 when /proc/self/exe cannot be read */
static uint32_t build_crc(void)
{
    static uint32_t crc;
    static int done;
    unsigned char buf[65536];
    FILE *fp;
    size_t n;

    if (done)
        return crc;
    done = 1;
    if ((fp = fopen("/proc/self/exe", "rb")) == NULL)
        return 0;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        crc = (uint32_t)crc32(crc, buf, (uInt)n);
    fclose(fp);
    return crc;
}

/* The CRC-32 of the SimGrid version string, an integer the merge can read
 * without parsing a variable-length string (see check_part). */
static uint32_t simgrid_crc(void)
{
    const char *v = eng_simgrid_version();
    return (uint32_t)crc32(0L, (const Bytef *)v, (uInt)strlen(v));
}

static int write_part(const study *s, const cell *cells, uint32_t digest, int part, int parts, const char *path,
                      int argc, char **argv, diag_list *diag)
{
    size_t n = 0, i = 0;
    int64_t *iv = NULL;
    double *fv = NULL;
    char **sv = NULL;
    out_file *f = NULL;
    int err = SP_ENOMEM;

    for (size_t c = 0; c < s->njobs * s->nrungs; c++)
        n += (size_t)cells[c].nsim;
    iv = calloc(NRES_INT * (n + 1), sizeof(*iv));
    fv = calloc(NRES * (n + 1), sizeof(*fv));
    sv = calloc(n + 1, sizeof(*sv));
    if (iv == NULL || fv == NULL || sv == NULL)
        goto done;
    for (size_t j = 0; j < s->njobs; j++)
        for (size_t r = 0; r < s->nrungs; r++) {
            const cell *c = &cells[j * s->nrungs + r];
            for (int k = 0; k < c->nsim; k++, i++) {
                cli_train_result res = c->res[k];
                char lay[512];
                int64_t ints[NRES_INT] = {(int64_t)j, (int64_t)r, k, res.fits, (int64_t)res.nops,
                                          res.stage_rank[0]};
                describe_candidate(s, r, c, k, lay, sizeof(lay));
                if ((sv[i] = str_dup(lay)) == NULL)
                    goto done;
                for (size_t x = 0; x < NRES_INT; x++)
                    iv[x * n + i] = ints[x];
                for (size_t x = 0; x < NRES; x++)
                    fv[x * n + i] = *res_double(&res, x);
            }
        }
    {
        out_col cols[NRES_INT + 1 + NRES] = {
            {"job", OUT_I64, "1", "the job's index in the study (from 0)", iv},
            {"rung", OUT_I64, "1", "the rung's index in the ladder (from 0)", iv + n},
            {"candidate", OUT_I64, "1", "the layout's rank in the search (0 = best estimate)", iv + 2 * n},
            {"fits", OUT_I64, "1", "1 if the memory per GPU fits its capacity", iv + 3 * n},
            {"operations", OUT_I64, "1", "operations simulated", iv + 4 * n},
            {"stage0_rank", OUT_I64, "1", "the GPU whose breakdown the stage-0 columns give", iv + 5 * n},
            {"layout", OUT_STR, "", "the layout simulated, as scalepath train describes it", sv},
        };
        const out_attr root[] = {
            OUT_ATTR_STR("study_file", s->path),
            OUT_ATTR_STR("study_name", s->name),
            OUT_ATTR_I64("study_inputs_crc32", (long long)digest, NULL),
            OUT_ATTR_I64("build_crc32", (long long)build_crc(), NULL),
            OUT_ATTR_I64("simgrid_version_crc32", (long long)simgrid_crc(), NULL),
            OUT_ATTR_I64("study_part_format", 1, NULL),
            OUT_ATTR_I64("part", part, "1"),
            OUT_ATTR_I64("parts", parts, "1"),
            OUT_ATTR_I64("cells", (long long)(s->njobs * s->nrungs), "1"),
            OUT_ATTR_I64("max_simulated", s->max_simulated, "1"),
        };
        const out_attr gattrs[] = {OUT_ATTR_STR("contents", "one row per simulated layout of this part's cells")};
        for (size_t x = 0; x < NRES; x++)
            cols[NRES_INT + 1 + x] = (out_col){res_fields[x].name, OUT_F64, res_fields[x].units,
                                               res_fields[x].description, fv + x * n};
        err = cli_out_open(&f, path, PART_KIND, argc, argv, root, sizeof(root) / sizeof(root[0]), diag);
        if (err == SP_OK)
            err = out_table(f, PART_TABLE, gattrs, 1, cols, sizeof(cols) / sizeof(cols[0]), n);
        err = cli_out_finish(f, err);
    }
done:
    for (size_t x = 0; sv != NULL && x < n; x++)
        free(sv[x]);
    free(sv);
    free(iv);
    free(fv);
    return err;
}

/* A part file's header, read and checked against the study and the first part. */
typedef struct part_file {
    const char *path;
    int ok; /* its header checked */
    long long part, parts, maxsim;
} part_file;

/* Check one part file's header against this study, this build and the
 * first good part. @return SP_OK; SP_EINPUT (reported); SP_ENOMEM */
static int check_part(const study *s, uint32_t digest, part_file *pf, size_t i, diag_list *diag)
{
    part_file *p = &pf[i];
    out_reader *r = NULL;
    long long crc = 0, build = 0, simgrid = 0, cells = 0, format = 0;
    /* Only integer attributes: a variable-length string lives in HDF5's
     * global heap, which has no checksum of its own, and a forged one can
     * crash HDF5 1.10 (the checksum block catches damage, not forgery). */
    int e = out_read_open(&r, p->path, diag);

    if (e == SP_OK && (out_read_has_attr(r, NULL, "study_part_format") != 1 ||
                       (e = out_read_attr_i64(r, NULL, "study_part_format", &format)) < 0 || format != 1)) {
        diag_error(diag, (sp_loc){p->path, 0},
                   "not a part of a sharded study (no study_part_format 1): written by another scalepath command");
        e = SP_EINPUT;
    }
    if (e == SP_OK && (e = out_read_attr_i64(r, NULL, "build_crc32", &build)) == SP_OK &&
        (e = out_read_attr_i64(r, NULL, "simgrid_version_crc32", &simgrid)) == SP_OK &&
        (build_crc() == 0 || build != (long long)build_crc() || simgrid != (long long)simgrid_crc())) {
        diag_error(diag, (sp_loc){p->path, 0},
                   "written by another build (executable CRC-32 %08llx, SimGrid version CRC-32 %08llx; this one: "
                   "%08" PRIx32 ", %08" PRIx32 " = SimGrid %s): run every part and the merge with the same "
                   "scalepath executable",
                   (unsigned long long)build, (unsigned long long)simgrid, build_crc(), simgrid_crc(),
                   eng_simgrid_version());
        e = SP_EINPUT;
    }
    if (e == SP_OK && (e = out_read_attr_i64(r, NULL, "study_inputs_crc32", &crc)) == SP_OK &&
        crc != (long long)digest) {
        diag_error(diag, (sp_loc){p->path, 0},
                   "its inputs are not this study's (CRC-32 %08llx, here %08" PRIx32 "): the study, a model or "
                   "a platform file has changed since, or it is another study's part",
                   (unsigned long long)crc, digest);
        e = SP_EINPUT;
    }
    if (e == SP_OK && (e = out_read_attr_i64(r, NULL, "cells", &cells)) == SP_OK &&
        cells != (long long)(s->njobs * s->nrungs)) {
        diag_error(diag, (sp_loc){p->path, 0}, "a part of a study of %lld (job, rung) cells; this one has %zu",
                   cells, s->njobs * s->nrungs);
        e = SP_EINPUT;
    }
    if (e == SP_OK)
        e = out_read_attr_i64(r, NULL, "parts", &p->parts);
    if (e == SP_OK)
        e = out_read_attr_i64(r, NULL, "part", &p->part);
    if (e == SP_OK)
        e = out_read_attr_i64(r, NULL, "max_simulated", &p->maxsim);
    if (e == SP_OK && (p->parts < 1 || p->parts > 1000000 || p->part < 0 || p->part >= p->parts || p->maxsim < 1 ||
                       p->maxsim > 64)) {
        diag_error(diag, (sp_loc){p->path, 0}, "part %lld of %lld, %lld layouts simulated: not a valid part",
                   p->part, p->parts, p->maxsim);
        e = SP_EINPUT;
    }
    for (size_t k = 0; e == SP_OK && k < i; k++) {
        if (!pf[k].ok)
            continue;
        if (p->parts != pf[k].parts || p->maxsim != pf[k].maxsim) {
            diag_error(diag, (sp_loc){p->path, 0},
                       "one of %lld parts, the best %lld layouts simulated; %s: of %lld, the best %lld", p->parts,
                       p->maxsim, pf[k].path, pf[k].parts, pf[k].maxsim);
            e = SP_EINPUT;
        } else if (pf[k].part == p->part) {
            diag_error(diag, (sp_loc){p->path, 0}, "part %lld again (also %s)", p->part, pf[k].path);
            e = SP_EINPUT;
        }
    }
    out_read_close(r); /* read again by read_part: thousands of parts need not be open at once */
    p->ok = e == SP_OK;
    return e;
}

static int open_parts(const study *s, uint32_t digest, part_file *pf, size_t np, diag_list *diag)
{
    int err = SP_OK;

    for (size_t i = 0; i < np; i++) {
        int e = check_part(s, digest, pf, i, diag);
        if (e < 0 && err != SP_ENOMEM)
            err = e;
    }
    if (err == SP_OK && (long long)np != pf[0].parts) {
        /* Every part once (duplicates are refused above): say which are missing. */
        char list[256] = "";
        size_t used = 0, missing = 0;
        unsigned char *have = calloc((size_t)pf[0].parts, 1);
        if (have == NULL)
            return SP_ENOMEM;
        for (size_t i = 0; i < np; i++)
            have[pf[i].part] = 1;
        for (long long k = 0; k < pf[0].parts; k++) {
            if (have[k])
                continue;
            if (missing++ < 16 && used < sizeof(list))
                used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%lld", used ? ", " : "", k);
        }
        free(have);
        diag_error(diag, (sp_loc){0}, "study --merge: %zu of the %lld parts missing (part %s%s)", missing,
                   pf[0].parts, list, missing > 16 ? ", ..." : "");
        err = SP_EINPUT;
    }
    return err;
}

/* Put a part's rows into the cells, each checked against this run's search;
 * filled[cell] has bit k set once layout k of the cell has its result. */
static int read_part(const study *s, cell *cells, const part_file *p, uint64_t *filled, diag_list *diag)
{
    size_t n = 0;
    int64_t *iv[NRES_INT] = {0};
    double *fv[NRES] = {0};
    char **lay = NULL;
    static const char *const inames[NRES_INT] = {"job", "rung", "candidate", "fits", "operations", "stage0_rank"};
    out_reader *rd = NULL;
    int err = out_read_open(&rd, p->path, diag);

    if (err == SP_OK)
        err = out_read_rows(rd, PART_TABLE, &n);
    for (size_t x = 0; x < NRES_INT && err == SP_OK; x++)
        err = out_read_col(rd, PART_TABLE, inames[x], OUT_I64, (void **)&iv[x], n);
    for (size_t x = 0; x < NRES && err == SP_OK; x++)
        err = out_read_col(rd, PART_TABLE, res_fields[x].name, OUT_F64, (void **)&fv[x], n);
    if (err == SP_OK)
        err = out_read_col(rd, PART_TABLE, "layout", OUT_STR, (void **)&lay, n);
    out_read_close(rd);
    for (size_t i = 0; i < n && err == SP_OK; i++) {
        int64_t j = iv[0][i], r = iv[1][i], k = iv[2][i];
        cell *c;
        cli_train_result *res;
        char want[512];

        if (j < 0 || (size_t)j >= s->njobs || r < 0 || (size_t)r >= s->nrungs ||
            !in_part((size_t)r, (int)p->part, (int)p->parts) || k < 0 ||
            k >= cells[(size_t)j * s->nrungs + (size_t)r].nsim) {
            diag_error(diag, (sp_loc){p->path, 0},
                       "row %zu: job %" PRId64 ", rung %" PRId64 ", layout %" PRId64 " is not one this part simulates",
                       i, j, r, k);
            err = SP_EINPUT;
            break;
        }
        c = &cells[(size_t)j * s->nrungs + (size_t)r];
        describe_candidate(s, (size_t)r, c, (int)k, want, sizeof(want));
        if (strcmp(want, lay[i]) != 0) {
            diag_error(diag, (sp_loc){p->path, 0},
                       "row %zu: job \"%s\" on rung \"%s\": layout %" PRId64 " is \"%s\" here, \"%s\" in the part",
                       i, s->jobs[j].name, s->rungs[r].name, k, want, lay[i]);
            err = SP_EINPUT;
            break;
        }
        if (filled[(size_t)j * s->nrungs + (size_t)r] & (UINT64_C(1) << k)) {
            diag_error(diag, (sp_loc){p->path, 0}, "row %zu: the same layout twice", i);
            err = SP_EINPUT;
            break;
        }
        for (size_t x = 0; x < NRES && err == SP_OK; x++) {
            double v = fv[x][i];
            /* Sizes and times are >= 0; a step is > 0, or inf when its simulation failed. */
            if (isnan(v) || v < 0.0 || (isinf(v) && strcmp(res_fields[x].name, "step_time") != 0) ||
                (v == 0.0 && strcmp(res_fields[x].name, "step_time") == 0)) {
                diag_error(diag, (sp_loc){p->path, 0}, "row %zu: %s = %g is not a result a simulation gives", i,
                           res_fields[x].name, v);
                err = SP_EINPUT;
            }
        }
        if (err == SP_OK && (iv[3][i] < 0 || iv[3][i] > 1 || iv[4][i] < 0 || iv[5][i] < 0)) {
            diag_error(diag, (sp_loc){p->path, 0},
                       "row %zu: fits = %" PRId64 ", operations = %" PRId64 ", stage0_rank = %" PRId64
                       ": not a result a simulation gives",
                       i, iv[3][i], iv[4][i], iv[5][i]);
            err = SP_EINPUT;
        }
        /* The memory columns are the search's own accounting of the layout: recomputed here. */
        if (err == SP_OK && (fv[res_index("memory_per_gpu")][i] != c->cand[k].mem.total ||
                             fv[res_index("memory_weights")][i] != c->cand[k].mem.weights ||
                             fv[res_index("memory_activations")][i] != c->cand[k].mem.activations)) {
            diag_error(diag, (sp_loc){p->path, 0},
                       "row %zu: memory_per_gpu %.17g B, where this study's accounting of the layout gives %.17g B", i,
                       fv[res_index("memory_per_gpu")][i], c->cand[k].mem.total);
            err = SP_EINPUT;
        }
        if (err < 0)
            break;
        filled[(size_t)j * s->nrungs + (size_t)r] |= UINT64_C(1) << k;
        res = &c->res[k];
        memset(res, 0, sizeof(*res));
        for (size_t x = 0; x < NRES; x++)
            *res_double(res, x) = fv[x][i];
        res->fits = iv[3][i] != 0;
        res->nops = (size_t)iv[4][i];
        res->nstages = 1;
        res->stage_rank[0] = (int)iv[5][i];
    }
    for (size_t x = 0; x < NRES_INT; x++)
        free(iv[x]);
    for (size_t x = 0; x < NRES; x++)
        free(fv[x]);
    free(lay);
    return err;
}

static int merge_parts(const study *s, cell *cells, part_file *pf, size_t np, diag_list *diag)
{
    uint64_t *filled = calloc(s->njobs * s->nrungs + 1, sizeof(*filled)); /* max_simulated <= 64 */
    int err = filled != NULL ? SP_OK : SP_ENOMEM;
    size_t unfilled = 0;

    for (size_t i = 0; i < np && err == SP_OK; i++)
        err = read_part(s, cells, &pf[i], filled, diag);
    for (size_t c = 0; c < s->njobs * s->nrungs && err == SP_OK; c++)
        for (int k = 0; k < cells[c].nsim; k++)
            if (!(filled[c] & (UINT64_C(1) << k)) && unfilled++ < 8)
                diag_error(diag, (sp_loc){0},
                           "study --merge: job \"%s\" on rung \"%s\": layout %d has no result in the parts",
                           s->jobs[c / s->nrungs].name, s->rungs[c % s->nrungs].name, k);
    free(filled);
    return err == SP_OK && unfilled > 0 ? SP_EINPUT : err;
}

/* "K/N" into part, parts. */
static int parse_part(const char *val, int *part, int *parts, diag_list *diag)
{
    char *end;
    long k, n;

    errno = 0;
    k = strtol(val, &end, 10);
    if (end != val && *end == '/' && errno == 0) {
        const char *ns = end + 1;
        n = strtol(ns, &end, 10);
        if (end != ns && *end == '\0' && errno == 0 && n >= 1 && n <= 1000000 && k >= 0 && k < n) {
            *part = (int)k;
            *parts = (int)n;
            return SP_OK;
        }
        if (end != ns && *end == '\0' && errno == 0 && n >= 1 && n <= 1000000 && k == n) {
            diag_error(diag, (sp_loc){0}, "option --part %s: parts are numbered 0 to %ld (with Slurm: --array=0-%ld)",
                       val, n - 1, n - 1);
            return SP_EINPUT;
        }
    }
    diag_error(diag, (sp_loc){0}, "option --part: expected K/N with 0 <= K < N <= 1000000, got \"%s\"", val);
    return SP_EINPUT;
}

/* Whether a --merge argument is a part rather than the study: an HDF5 file
 * (ours begin with the checksum block, out.h), or a name ending in .h5 or
 * .hdf5 (a missing or damaged part is then reported as a part). */
static int looks_like_part(const char *path)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char b[OUT_USERBLOCK + 8];
    size_t len = strlen(path), n = 0;
    FILE *fp = fopen(path, "rb");

    if ((len > 3 && strcmp(path + len - 3, ".h5") == 0) || (len > 5 && strcmp(path + len - 5, ".hdf5") == 0)) {
        if (fp != NULL)
            fclose(fp);
        return 1;
    }
    if (fp != NULL) {
        n = fread(b, 1, sizeof(b), fp);
        fclose(fp);
    }
    return (n >= strlen(OUT_MAGIC) && memcmp(b, OUT_MAGIC, strlen(OUT_MAGIC)) == 0) ||
           (n >= 8 && memcmp(b, sig, 8) == 0) || (n >= OUT_USERBLOCK + 8 && memcmp(b + OUT_USERBLOCK, sig, 8) == 0);
}

int cli_study(int argc, char **argv, diag_list *diag)
{
    static const struct option longs[] = {
        {"output", required_argument, NULL, 'o'},        {"jobs", required_argument, NULL, 'j'},
        {"max-simulated", required_argument, NULL, 'K'}, {"part", required_argument, NULL, 'P'},
        {"merge", no_argument, NULL, 'M'},               {"help", no_argument, NULL, 'h'},
        {"whole-platform", no_argument, NULL, 'W'},
        {NULL, 0, NULL, 0},
    };
    const char *path = DEFAULT_STUDY, *output = NULL;
    int c, err = SP_OK, jobs = (int)sysconf(_SC_NPROCESSORS_ONLN), maxsim = 0, part = -1, parts = 0, merge = 0;
    study *s = NULL;
    cell *cells = NULL;
    part_file *pf = NULL;
    size_t np = 0;
    uint32_t digest = 0;
    bool whole = false;

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
        case 'P':
            if (parse_part(optarg, &part, &parts, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'M':
            merge = 1;
            break;
        case 'W':
            whole = true;
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
    if (merge && whole) {
        diag_error(diag, (sp_loc){0}, "study: --whole-platform chooses how parts are simulated, not how they merge");
        err = SP_EINPUT;
    }
    /* The study file, unless the first argument is already a part. */
    if (optind < argc && !(merge && looks_like_part(argv[optind])))
        path = argv[optind++];
    if (merge) {
        np = (size_t)(argc - optind);
        if (np == 0) {
            diag_error(diag, (sp_loc){0}, "study --merge: name the part files (PART.h5 ...)");
            err = SP_EINPUT;
        } else if ((pf = calloc(np, sizeof(*pf))) == NULL) {
            return SP_ENOMEM;
        }
        for (size_t i = 0; pf != NULL && i < np; i++)
            pf[i].path = argv[optind++];
        if (part >= 0) {
            diag_error(diag, (sp_loc){0}, "study: --part and --merge do not go together");
            err = SP_EINPUT;
        }
        if (maxsim > 0) {
            diag_error(diag, (sp_loc){0},
                       "study --merge: --max-simulated is the parts' (they say how many they simulated)");
            err = SP_EINPUT;
        }
    } else if (optind < argc) {
        diag_error(diag, (sp_loc){0}, "study: unexpected argument \"%s\"", argv[optind]);
        err = SP_EINPUT;
    }
    if (part >= 0 && output == NULL) {
        diag_error(diag, (sp_loc){0}, "study --part: give the part file to write (-o PART.h5)");
        err = SP_EINPUT;
    }
    if (err < 0) {
        free(pf);
        usage(stderr);
        return err;
    }
    if (jobs < 1)
        jobs = 1;
    if ((err = study_load(&s, path, diag)) < 0) {
        free(pf);
        return err;
    }
    if ((part >= 0 || merge) && (err = study_digest(s, &digest, diag)) < 0)
        goto done;
    if (merge) {
        if ((err = open_parts(s, digest, pf, np, diag)) < 0)
            goto done;
        maxsim = (int)pf[0].maxsim;
    }
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
            if (part >= 0 && !in_part(r, part, parts))
                x->nsim = 0;
        }
    if (err < 0)
        goto done;
    if (merge)
        err = merge_parts(s, cells, pf, np, diag);
    else
        err = simulate_rungs(s, cells, jobs, whole, diag);
    if (err < 0)
        goto done;
    if (part >= 0) {
        size_t ncell = 0, nlay = 0;
        for (size_t i = 0; i < s->njobs * s->nrungs; i++)
            if (in_part(i % s->nrungs, part, parts)) {
                ncell++;
                nlay += (size_t)cells[i].nsim;
            }
        err = write_part(s, cells, digest, part, parts, output, argc, argv, diag);
        if (err == SP_OK)
            printf("# scalepath %s study: %s (%s), part %d of %d: %zu layouts simulated in %zu of the %zu "
                   "(job, rung) cells, written to %s\n# when all %d parts are done: scalepath study %s --merge "
                   "PART.h5... -o OUT.h5\n",
                   SP_VERSION, s->name, s->path, part, parts, nlay, ncell, s->njobs * s->nrungs, output, parts,
                   s->path);
        goto done;
    }
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
            for (size_t r = 0; r < s->nrungs; r++) { /* the rung's engine, shared by its layouts */
                double given = 0.0;
                for (size_t j = 0; j < s->njobs; j++)
                    for (int k = 0; k < cells[j * s->nrungs + r].nsim; k++)
                        given = fmax(given, cells[j * s->nrungs + r].res[k].simgrid_nodes);
                if (given > 0.0 && given < s->rungs[r].p->nodes)
                    printf("%s%s: %.0f of %d nodes", listed++ ? "; " : "# SimGrid given the nodes the simulated layouts use: ",
                           s->rungs[r].name, given, s->rungs[r].p->nodes);
            }
            if (listed)
                printf(" (the same routes; --whole-platform for all)\n");
            listed = 0;
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
            {
                double fastest = INFINITY;
                for (int k = 0; k < x->nsim; k++)
                    if (x->res[k].step_s < fastest)
                        fastest = x->res[k].step_s;
                for (int k = 0; k < x->nsim && x->best < 0 && isfinite(fastest); k++)
                    if (x->res[k].step_s <= fastest * (1.0 + TIE))
                        x->best = k;
            }
            cli_train_defaults(&x->args);
            if (x->best >= 0) {
                x->args.cfg = x->cand[x->best].c;
                x->args.cfg.fold = fold_for(&x->args.cfg, s->rungs[r].p);
                x->out = x->res[x->best];
            } else {
                x->args.cfg = x->least.c;
                memset(&x->out, 0, sizeof(x->out));
                x->out.mem = x->least.mem;
                x->out.moe_load = train_moe_load(s->jobs[j].m, &x->least.c, &x->out.moe_dropped);
                x->out.capacity = plat_type_of_rank(s->rungs[r].p, 0)->gpu.mem_bytes;
                x->out.step_s = NAN;
            }
            study_economics(s, j, r, x->best >= 0 ? x->out.tokens_per_s : 0.0, &eco[r]);
        }
        rec = study_recommend(s, j, eco);
        for (size_t r = 0; r < s->nrungs; r++)
            cells[j * s->nrungs + r].eco = eco[r];
        free(eco);
        print_job(s, j, cells, rec, merge);
    }
    if (output != NULL)
        err = write_h5(s, cells, output, argc, argv, diag);
done:
    for (size_t i = 0; cells != NULL && i < s->njobs * s->nrungs; i++)
        free(cells[i].cand);
    free(cells);
    free(pf);
    study_free(s);
    return err;
}

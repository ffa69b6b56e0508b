/* cli_sim.c - plans, folded collectives, replay and per-rank summaries,
 * shared by replay, train and study. */
#include "cli/cli_sim.h"

#include <stdlib.h>
#include <string.h>

#include "out/out_timeline.h"
#include "util/str.h"
#include "util/vec.h"

struct cli_plan_entry {
    int group;
    coll_kind kind;
    uint64_t bytes;
    coll_plan *plan;
    double folded_s; /* time of the collective alone, for folded groups; < 0 = not yet */
};

const char *cli_family_name(cli_family f)
{
    static const char *const names[CLI_NFAMILIES] = {"tp", "cp", "ep", "dp", "pp", "other"};
    return names[f];
}

int cli_sim_plan(cli_sim *s, const plat *p, const wl *w, const coll_opts *co, diag_list *diag)
{
    int err = SP_OK;

    memset(s, 0, sizeof(*s));
    s->w = w;
    s->plans = calloc((size_t)w->nranks + 1, sizeof(*s->plans));
    s->times = calloc((size_t)w->nranks + 1, sizeof(*s->times));
    if (s->plans == NULL || s->times == NULL)
        return SP_ENOMEM;
    for (int r = 0; r < w->nranks && err == SP_OK; r++) {
        const wl_rank *wr = &w->ranks[r];
        s->plans[r] = calloc(wr->nops + 1, sizeof(**s->plans));
        s->times[r] = calloc(wr->nops + 1, sizeof(**s->times));
        if (s->plans[r] == NULL || s->times[r] == NULL)
            return SP_ENOMEM;
        for (size_t i = 0; i < wr->nops; i++) {
            const wl_op *op = &wr->ops[i];
            size_t k;
            if (op->kind != WL_COLL)
                continue;
            /* Most operations reuse the plan of the operation before them. */
            for (k = s->ncache; k-- > 0;)
                if (s->cache[k].group == op->group && s->cache[k].kind == op->coll && s->cache[k].bytes == op->bytes)
                    break;
            if (k == (size_t)-1) {
                const wl_group *g = &w->groups[op->group];
                k = s->ncache;
                if (vec_reserve((void **)&s->cache, &s->cache_cap, k + 1, sizeof(*s->cache)) < 0)
                    return SP_ENOMEM;
                s->cache[k] = (cli_plan_entry){op->group, op->coll, op->bytes, NULL, -1.0};
                /* --algo and --proto leave the p2p engine alone, as NCCL_ALGO
                 * and NCCL_PROTO leave sends, receives and all-to-alls (as in
                 * emulate). */
                if ((err = coll_plan_new(&s->cache[k].plan, p, op->coll, g->ranks, g->n, op->bytes,
                                         coll_kind_is_p2p(op->coll) ? NULL : co)) < 0) {
                    diag_error(diag, op->src, "no algorithm allowed for %s of %llu B in group %s",
                               coll_kind_name(op->coll), (unsigned long long)op->bytes, g->name);
                    break;
                }
                s->ncache++;
            }
            s->plans[r][i] = s->cache[k].plan;
        }
    }
    return err;
}

/* The folded groups of a generated layout are alike (the same size and
 * placement, shifted): each (collective, size, group size) is timed once, on
 * its first folded plan. The index of the plan that times entry k's. */
static size_t fold_timer(const cli_sim *s, const wl *w, size_t k)
{
    const cli_plan_entry *c = &s->cache[k];

    for (size_t j = 0; j < k; j++)
        if (w->groups[s->cache[j].group].folded && s->cache[j].kind == c->kind && s->cache[j].bytes == c->bytes &&
            w->groups[s->cache[j].group].n == w->groups[c->group].n)
            return j;
    return k;
}

int cli_sim_fold(cli_sim *s, eng *e, wl *w, diag_list *diag)
{
    int err = SP_OK;

    for (size_t k = 0; k < s->ncache && err == SP_OK; k++) {
        const cli_plan_entry *c = &s->cache[k];
        size_t j;
        if (!w->groups[c->group].folded)
            continue;
        if ((j = fold_timer(s, w, k)) < k)
            s->cache[k].folded_s = s->cache[j].folded_s;
        else
            err = eng_run_coll(e, c->plan, &s->cache[k].folded_s, diag);
    }
    for (int r = 0; r < w->nranks && err == SP_OK; r++)
        for (size_t i = 0; i < w->ranks[r].nops; i++) {
            wl_op *op = &w->ranks[r].ops[i];
            if (op->kind != WL_COLL || !w->groups[op->group].folded)
                continue;
            for (size_t k = 0; k < s->ncache; k++)
                if (s->cache[k].plan == s->plans[r][i])
                    op->duration_s = s->cache[k].folded_s;
        }
    return err;
}

int cli_sim_nodes(const cli_sim *s, const plat *p, uint8_t **out)
{
    const wl *w = s->w;
    uint8_t *keep = calloc((size_t)p->nodes + 1, 1);

    *out = keep;
    if (keep == NULL)
        return SP_ENOMEM;
    for (int r = 0; r < w->nranks && r < p->nranks; r++)
        if (w->ranks[r].nops > 0)
            keep[plat_rank_node(p, r)] = 1;
    for (size_t k = 0; k < s->ncache; k++) {
        const coll_plan *c = s->cache[k].plan;
        if (!w->groups[s->cache[k].group].folded || fold_timer(s, w, k) != k)
            continue;
        for (int m = 0; m < coll_plan_members(c); m++)
            keep[plat_rank_node(p, coll_plan_rank(c, m))] = 1;
    }
    return SP_OK;
}

int cli_sim_run(cli_sim *s, eng *e, diag_list *diag)
{
    return eng_run_workload(e, s->w, (const coll_plan *const *const *)s->plans, s->times, diag);
}

/* Length of [a, b) not covered by the sorted, disjoint intervals busy[0..n). */
static double uncovered(double a, double b, const eng_op_time *busy, size_t n)
{
    double left = b - a;
    size_t lo = 0, hi = n;

    /* The first interval ending after a (ends increase: sorted and disjoint). */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (busy[mid].end <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < n && busy[i].start < b && left > 0.0; i++) {
        double x = busy[i].start > a ? busy[i].start : a, y = busy[i].end < b ? busy[i].end : b;
        if (y > x)
            left -= y - x;
    }
    return left > 0.0 ? left : 0.0;
}

static cli_family family_of(const wl *w, const wl_op *op)
{
    const char *name;

    if (op->kind == WL_SEND || op->kind == WL_RECV)
        return CLI_PP;
    name = w->groups[op->group].name;
    if (strncmp(name, "tp", 2) == 0)
        return CLI_TP;
    if (strncmp(name, "cp", 2) == 0)
        return CLI_CP;
    if (strncmp(name, "dp", 2) == 0 || strncmp(name, "edp", 3) == 0)
        return CLI_DP;
    if (strncmp(name, "ep", 2) == 0)
        return CLI_EP;
    return CLI_OTHER;
}

typedef struct span {
    double start, end;
    int family;
    size_t op; /* ties broken by operation index: a deterministic order */
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return (x->op > y->op) - (x->op < y->op);
}

int cli_sim_summary(const cli_sim *s, int rank, cli_rank_summary *out)
{
    const wl_rank *wr = &s->w->ranks[rank];
    const eng_op_time *t = s->times[rank];
    eng_op_time *busy = malloc((wr->nops + 1) * sizeof(*busy));
    size_t nb = 0;

    memset(out, 0, sizeof(*out));
    if (busy == NULL)
        return SP_ENOMEM;
    for (size_t i = 0; i < wr->nops; i++) {
        if (t[i].end > out->finish)
            out->finish = t[i].end;
        if (wr->ops[i].kind == WL_COMPUTE && wr->ops[i].stream == WL_STREAM_COMPUTE && t[i].end > t[i].start) {
            out->compute += t[i].end - t[i].start;
            busy[nb++] = t[i]; /* one stream: in order, disjoint */
        }
    }
    /* Exposed communication: the time some transfer runs and no compute does,
     * each instant counted once and given to the transfer that started first. */
    {
        span *comm = malloc((wr->nops + 1) * sizeof(*comm));
        size_t nc = 0;
        double reach = 0.0;
        if (comm == NULL) {
            free(busy);
            return SP_ENOMEM;
        }
        for (size_t i = 0; i < wr->nops; i++)
            if (wr->ops[i].kind != WL_COMPUTE && t[i].end > t[i].start) {
                out->comm += t[i].end - t[i].start;
                comm[nc++] = (span){t[i].start, t[i].end, family_of(s->w, &wr->ops[i]), i};
            }
        qsort(comm, nc, sizeof(*comm), cmp_span);
        for (size_t i = 0; i < nc; i++) {
            double a = comm[i].start > reach ? comm[i].start : reach, b = comm[i].end;
            if (b > a) {
                double e = uncovered(a, b, busy, nb);
                out->exposed += e;
                out->exposed_by[comm[i].family] += e;
                reach = b;
            }
        }
        free(comm);
    }
    free(busy);
    return SP_OK;
}

int cli_sim_layers(const cli_sim *s, int rank, size_t nlayers, double *out)
{
    const wl_rank *wr = &s->w->ranks[rank];
    const eng_op_time *t = s->times[rank];
    eng_op_time *busy = malloc((wr->nops + 1) * sizeof(*busy));
    size_t nb = 0;

    if (busy == NULL)
        return SP_ENOMEM;
    for (size_t i = 0; i < wr->nops; i++)
        if (wr->ops[i].kind == WL_COMPUTE && wr->ops[i].stream == WL_STREAM_COMPUTE && t[i].end > t[i].start)
            busy[nb++] = t[i];
    for (size_t i = 0; i < wr->nops; i++) {
        int l = wr->ops[i].layer;
        double d = t[i].end - t[i].start;
        if (l < 0 || (size_t)l >= nlayers)
            continue;
        if (wr->ops[i].kind == WL_COMPUTE) {
            out[3 * l] += d;
        } else {
            out[3 * l + 1] += d;
            out[3 * l + 2] += uncovered(t[i].start, t[i].end, busy, nb);
        }
    }
    free(busy);
    return SP_OK;
}

double cli_sim_makespan(const cli_sim *s)
{
    double m = 0.0;

    for (int r = 0; r < s->w->nranks; r++)
        for (size_t i = 0; i < s->w->ranks[r].nops; i++)
            if (s->times[r][i].end > m)
                m = s->times[r][i].end;
    return m;
}

void cli_sim_free(cli_sim *s)
{
    if (s == NULL)
        return;
    for (int r = 0; s->w != NULL && r < s->w->nranks; r++) {
        if (s->plans != NULL)
            free(s->plans[r]);
        if (s->times != NULL)
            free(s->times[r]);
    }
    free(s->plans);
    free(s->times);
    for (size_t k = 0; k < s->ncache; k++)
        coll_plan_free(s->cache[k].plan);
    free(s->cache);
    memset(s, 0, sizeof(*s));
}

/* Stream names, for the timeline's threads and the ops table. */
static const char *const stream_names[WL_NSTREAMS] = {"compute", "comm (TP/model)", "comm (DP)", "host",
                                                      "p2p (pipeline)", "comm (CP)"};

int cli_sim_write_timeline(const cli_sim *s, const plat *p, const char *path, diag_list *diag)
{
    const wl *w = s->w;
    size_t nops = wl_op_count(w), k = 0;
    out_event *ev = malloc((nops + 1) * sizeof(*ev));
    char **pids = calloc((size_t)w->nranks + 1, sizeof(char *));
    int ok = ev != NULL && pids != NULL, err = SP_ENOMEM;

    for (int r = 0; r < w->nranks && ok; r++)
        if (w->ranks[r].nops > 0)
            ok = (pids[r] = str_format("rank %d (%s)", r, plat_rank_host(p, r))) != NULL;
    if (ok) {
        for (int r = 0; r < w->nranks; r++)
            for (size_t i = 0; i < w->ranks[r].nops; i++) {
                const wl_op *op = &w->ranks[r].ops[i];
                const coll_plan *plan = s->plans[r][i];
                ev[k++] = (out_event){r, (int)op->stream, op->name,
                                      op->kind == WL_COLL ? coll_kind_name(op->coll) : wl_op_kind_name(op->kind),
                                      s->times[r][i].start, s->times[r][i].end - s->times[r][i].start,
                                      plan ? coll_algo_name(coll_plan_algo(plan)) : NULL,
                                      plan ? coll_proto_name(coll_plan_proto(plan)) : NULL,
                                      op->kind == WL_COLL ? w->groups[op->group].name : NULL,
                                      op->kind == WL_COMPUTE ? 0 : op->bytes, plan ? coll_plan_channels(plan) : 0,
                                      op->kind != WL_COLL ? -1
                                      : w->nominal_compute ? wl_coll_sms(op, plan ? coll_plan_channels(plan) : 0)
                                                           : 0};
            }
        err = out_timeline_write(path, ev, k, (const char *const *)pids, w->nranks, stream_names, WL_NSTREAMS,
                                 diag);
    }
    for (int r = 0; pids != NULL && r < w->nranks; r++)
        free(pids[r]);
    free(pids);
    free(ev);
    return err;
}

int cli_sim_write_ops(const cli_sim *s, out_file *f)
{
    const wl *w = s->w;
    size_t nops = wl_op_count(w), k = 0;
    int64_t *rank = malloc(nops * sizeof(int64_t) + 1), *idx = malloc(nops * sizeof(int64_t) + 1),
            *layer = malloc(nops * sizeof(int64_t) + 1), *chan = malloc(nops * sizeof(int64_t) + 1),
            *sms = malloc(nops * sizeof(int64_t) + 1);
    double *start = malloc(nops * sizeof(double) + 1), *end = malloc(nops * sizeof(double) + 1);
    uint64_t *bytes = malloc(nops * sizeof(uint64_t) + 1);
    const char **name = malloc(nops * sizeof(char *) + 1), **kind = malloc(nops * sizeof(char *) + 1),
               **coll = malloc(nops * sizeof(char *) + 1), **algo = malloc(nops * sizeof(char *) + 1),
               **proto = malloc(nops * sizeof(char *) + 1), **group = malloc(nops * sizeof(char *) + 1),
               **stream = malloc(nops * sizeof(char *) + 1);
    int err = SP_ENOMEM;

    if (rank && idx && layer && chan && sms && start && end && bytes && name && kind && coll && algo && proto && group &&
        stream) {
        for (int r = 0; r < w->nranks; r++)
            for (size_t i = 0; i < w->ranks[r].nops; i++, k++) {
                const wl_op *op = &w->ranks[r].ops[i];
                const coll_plan *plan = s->plans[r][i];
                rank[k] = r;
                idx[k] = (int64_t)i;
                layer[k] = op->layer;
                start[k] = s->times[r][i].start;
                end[k] = s->times[r][i].end;
                bytes[k] = op->kind == WL_COMPUTE ? 0 : op->bytes;
                name[k] = op->name;
                kind[k] = wl_op_kind_name(op->kind);
                coll[k] = op->kind == WL_COLL ? coll_kind_name(op->coll) : "";
                algo[k] = plan ? coll_algo_name(coll_plan_algo(plan)) : "";
                proto[k] = plan ? coll_proto_name(coll_plan_proto(plan)) : "";
                group[k] = op->kind == WL_COLL ? w->groups[op->group].name : "";
                stream[k] = stream_names[op->stream];
                chan[k] = plan ? coll_plan_channels(plan) : 0;
                sms[k] = op->kind == WL_COLL && w->nominal_compute ? wl_coll_sms(op, (int)chan[k]) : 0;
            }
        {
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
                {"stream", OUT_STR, "", "the stream it ran on: compute, comm (TP/model), comm (DP), host, "
                 "p2p (pipeline), comm (CP)", stream},
                {"channels", OUT_I64, "1", "channels (CTAs) NCCL would use for the collective, 0 otherwise", chan},
                {"sms", OUT_I64, "1", "SMs the collective holds beside compute: its channels, or what the workload "
                 "sets (Transformer Engine's userbuffers; 0: copy engines); 0 otherwise", sms},
            };
            err = out_table(f, "/replay/ops", gattrs, 2, cols, sizeof(cols) / sizeof(cols[0]), k);
        }
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
    free(stream);
    free(chan);
    free(sms);
    return err;
}

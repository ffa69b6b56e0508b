/* wl_aicb.c - AICB / ASTRA-sim 1.0 text workloads (shared/CHAKRA.md 5).
 *
 *   line 1   POLICY [key: value ...]     e.g. HYBRID_TRANSFORMER_FWD_IN_BCKWD
 *                                        model_parallel_NPU_group: 8
 *   line 2   number of layer lines
 *   then     name dep fwd_compute fwd_comm_type fwd_comm_bytes
 *            ig_compute ig_comm_type ig_comm_bytes
 *            wg_compute wg_comm_type wg_comm_bytes wg_update_time
 *
 * Unsuffixed forward and input-gradient collectives run in the
 * tensor-parallel group (model_parallel_NPU_group ranks, consecutive),
 * weight-gradient collectives in the data-parallel group (same TP index);
 * _EP and _DP_EP suffixes select expert-parallel groups. The header keys
 * are optional: old AICB files lack several (AICB PR #31).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"
#include "util/vec.h"
#include "wl/wl_int.h"

/* --- parsing ------------------------------------------------------------ */

typedef struct layer {
    char *name;
    double t[3];       /* fwd, ig, wg compute, seconds */
    char type[3][32];  /* comm types */
    uint64_t bytes[3];
    double update;     /* seconds */
    unsigned line;
} layer;

typedef struct parser {
    const char *path;
    diag_list *diag;
    int err;
} parser;

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    if (s == NULL || !isdigit((unsigned char)s[0]))
        return -1;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int parse_time(const char *s, double unit, double *out)
{
    uint64_t v;
    if (parse_u64(s, &v) < 0)
        return -1;
    *out = (double)v * unit;
    return 0;
}

/* "ALLREDUCE_EP" -> kind and group class (0 plain, 1 EP, 2 DP_EP); "NONE" -> 0 with *none. */
static int parse_comm(const char *s, coll_kind *kind, int *cls, int *none, int *twice)
{
    static const struct {
        const char *name;
        coll_kind kind;
    } types[] = {{"ALLREDUCEALLTOALL", COLL_ALL_REDUCE}, {"ALLREDUCE", COLL_ALL_REDUCE},
                 {"ALLGATHER", COLL_ALL_GATHER},         {"REDUCESCATTER", COLL_REDUCE_SCATTER},
                 {"ALLTOALL", COLL_ALL_TO_ALL},          {"BROADCAST", COLL_BROADCAST}};
    *none = strcmp(s, "NONE") == 0;
    *cls = 0;
    *twice = 0;
    if (*none)
        return 0;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t n = strlen(types[i].name);
        if (strncmp(s, types[i].name, n) != 0)
            continue;
        if (s[n] == '\0')
            *cls = 0;
        else if (strcmp(s + n, "_EP") == 0)
            *cls = 1;
        else if (strcmp(s + n, "_DP_EP") == 0)
            *cls = 2;
        else
            continue;
        *kind = types[i].kind;
        *twice = i == 0; /* all-reduce then all-to-all */
        return 0;
    }
    return -1;
}

int wl_load_aicb(wl **out, const char *path, const wl_aicb_opts *o, diag_list *diag)
{
    FILE *fp = fopen(path, "r");
    char buf[4096];
    unsigned line = 0;
    layer *layers = NULL;
    long nlayers = -1, got = 0;
    char policy[64] = "";
    int tp = 0, ep = 1, pp = 1, all_gpus = 0, err = SP_OK;
    double unit = o->unit == WL_TIME_NS ? 1e-9 : o->unit == WL_TIME_US ? 1e-6 : 1.0 / o->cycle_hz;
    wl *w = NULL;
    wl_builder b = {0};

    *out = NULL;
    if (fp != NULL && diag_check_input(diag, path) < 0) { /* a folder opens, and reads as nothing */
        fclose(fp);
        return SP_EINPUT;
    }
    if (fp == NULL) {
        diag_error(diag, (sp_loc){path, 0}, "cannot read: %s", strerror(errno));
        return SP_EINPUT;
    }
    while (fgets(buf, sizeof(buf), fp) != NULL) {
        char *tok[16], *save = NULL;
        int nt = 0;
        line++;
        if (strchr(buf, '\n') == NULL && !feof(fp)) {
            diag_error(diag, (sp_loc){path, line}, "line longer than %zu characters", sizeof(buf) - 1);
            err = SP_EINPUT;
            break;
        }
        for (char *t = strtok_r(buf, " \t\r\n", &save); t != NULL && nt < 16;
             t = strtok_r(NULL, " \t\r\n", &save))
            tok[nt++] = t;
        if (nt == 0)
            continue;
        if (policy[0] == '\0') {
            snprintf(policy, sizeof(policy), "%s", tok[0]);
            for (int i = 1; i + 1 < nt; i++) {
                uint64_t v;
                int *dst = !strcmp(tok[i], "model_parallel_NPU_group:") ? &tp
                           : !strcmp(tok[i], "ep:")                     ? &ep
                           : !strcmp(tok[i], "pp:")                     ? &pp
                           : !strcmp(tok[i], "all_gpus:")               ? &all_gpus
                                                                        : NULL;
                if (dst == NULL)
                    continue; /* checkpoints, vpp, ga, pp_comm...: not needed to replay */
                if (parse_u64(tok[i + 1], &v) < 0 || v > 1u << 20) {
                    diag_error(diag, (sp_loc){path, line}, "\"%s\" must be a count, got \"%s\"",
                               tok[i], tok[i + 1]);
                    err = SP_EINPUT;
                } else {
                    *dst = (int)v;
                }
                i++;
            }
            continue;
        }
        if (nlayers < 0) {
            uint64_t v;
            if (nt != 1 || parse_u64(tok[0], &v) < 0 || v > 1000000) {
                diag_error(diag, (sp_loc){path, line}, "expected the number of layer lines, got \"%s\"",
                           tok[0]);
                err = SP_EINPUT;
                break;
            }
            nlayers = (long)v;
            if ((layers = calloc((size_t)nlayers + 1, sizeof(*layers))) == NULL) {
                err = SP_ENOMEM;
                break;
            }
            continue;
        }
        if (got >= nlayers) {
            diag_error(diag, (sp_loc){path, line}, "more layer lines than the %ld announced", nlayers);
            err = SP_EINPUT;
            break;
        }
        {
            layer *l = &layers[got++];
            const int time_at[3] = {2, 5, 8}, type_at[3] = {3, 6, 9}, bytes_at[3] = {4, 7, 10};
            l->line = line;
            if (nt != 12) {
                diag_error(diag, (sp_loc){path, line}, "a layer line has 12 fields, got %d", nt);
                err = SP_EINPUT;
                continue;
            }
            if ((l->name = str_dup(tok[0])) == NULL) {
                err = SP_ENOMEM;
                break;
            }
            for (int k = 0; k < 3; k++) {
                coll_kind kind;
                int cls, none, twice;
                if (parse_time(tok[time_at[k]], unit, &l->t[k]) < 0) {
                    diag_error(diag, (sp_loc){path, line}, "field %d: expected a time, got \"%s\"",
                               time_at[k] + 1, tok[time_at[k]]);
                    err = SP_EINPUT;
                }
                snprintf(l->type[k], sizeof(l->type[k]), "%s", tok[type_at[k]]);
                if (parse_comm(tok[type_at[k]], &kind, &cls, &none, &twice) < 0) {
                    diag_error(diag, (sp_loc){path, line},
                               "field %d: unknown collective \"%s\" (expected NONE, ALLREDUCE, "
                               "ALLGATHER, REDUCESCATTER, ALLTOALL, ALLREDUCEALLTOALL or BROADCAST, "
                               "optionally _EP or _DP_EP)",
                               type_at[k] + 1, tok[type_at[k]]);
                    err = SP_EINPUT;
                }
                if (parse_u64(tok[bytes_at[k]], &l->bytes[k]) < 0) {
                    diag_error(diag, (sp_loc){path, line}, "field %d: expected a byte count, got \"%s\"",
                               bytes_at[k] + 1, tok[bytes_at[k]]);
                    err = SP_EINPUT;
                }
            }
            if (parse_time(tok[11], unit, &l->update) < 0) {
                diag_error(diag, (sp_loc){path, line}, "field 12: expected a time, got \"%s\"", tok[11]);
                err = SP_EINPUT;
            }
        }
    }
    fclose(fp);
    if (err == SP_OK && (policy[0] == '\0' || nlayers < 0)) {
        diag_error(diag, (sp_loc){path, line ? line : 1},
                   "not an AICB / ASTRA-sim workload: it needs a policy line and a layer count");
        err = SP_EINPUT;
    }
    if (err == SP_OK && got < nlayers) {
        diag_error(diag, (sp_loc){path, line}, "the file ends after %ld of %ld layer lines (truncated?)",
                   got, nlayers);
        err = SP_EINPUT;
    }
    if (err == SP_OK) {
        static const char *const known[] = {"DATA", "MODEL", "HYBRID_TRANSFORMER",
                                            "HYBRID_TRANSFORMER_FWD_IN_BCKWD", "HYBRID_DATA_MODEL",
                                            "HYBRID_MODEL_DATA", "MICRO", NULL};
        const char *const *k = known;
        while (*k != NULL && strcmp(*k, policy) != 0)
            k++;
        if (*k == NULL) {
            diag_error(diag, (sp_loc){path, 1},
                       "policy \"%s\" is not supported (DATA, MODEL, HYBRID_TRANSFORMER[_FWD_IN_BCKWD], "
                       "HYBRID_DATA_MODEL, HYBRID_MODEL_DATA or MICRO)",
                       policy);
            err = SP_EINPUT;
        }
    }
    if (err == SP_OK) {
        if (!strcmp(policy, "MODEL"))
            tp = tp > 0 ? tp : o->nranks;
        if (tp <= 0 || !strcmp(policy, "DATA") || !strcmp(policy, "MICRO"))
            tp = tp > 0 && strcmp(policy, "DATA") && strcmp(policy, "MICRO") ? tp : 1;
        if (all_gpus > 0 && all_gpus != o->nranks) {
            diag_error(diag, (sp_loc){path, 1}, "the workload is for all_gpus: %d, the platform has %d rank(s)",
                       all_gpus, o->nranks);
            err = SP_EINPUT;
        } else if (pp > 1) {
            diag_error(diag, (sp_loc){path, 1}, "pipeline-parallel AICB workloads (pp: %d) are not supported yet",
                       pp);
            err = SP_EINPUT;
        } else if (o->nranks % tp != 0 || o->nranks % ep != 0) {
            diag_error(diag, (sp_loc){path, 1},
                       "model_parallel_NPU_group: %d and ep: %d must divide the %d rank(s) of the platform",
                       tp, ep, o->nranks);
            err = SP_EINPUT;
        }
    }
    if (err < 0)
        goto done;

    /* Lay out one iteration on every rank. */
    if ((w = calloc(1, sizeof(*w))) == NULL || (w->ranks = calloc((size_t)o->nranks, sizeof(*w->ranks))) == NULL ||
        (b.cap = calloc((size_t)o->nranks, sizeof(size_t))) == NULL ||
        (w->layer_names = calloc((size_t)nlayers + 1, sizeof(char *))) == NULL ||
        (w->path = str_dup(path)) == NULL || (w->format = str_dup("aicb")) == NULL) {
        err = SP_ENOMEM;
        goto done;
    }
    w->nranks = o->nranks;
    w->nlayers = (size_t)nlayers;
    b.w = w;
    for (long i = 0; i < nlayers; i++)
        w->layer_names[i] = (char *)wl__intern(&b, layers[i].name);
    {
        int dp = o->nranks / tp, micro = !strcmp(policy, "MICRO");
        for (int r = 0; r < o->nranks && b.err == SP_OK; r++) {
            int tp_base = r - r % tp, dp_base = r % tp;
            int dp_idx = r / tp, ep_n = ep > dp ? dp : ep;
            uint32_t *wg_comms = calloc((size_t)nlayers * 2 + 1, sizeof(uint32_t));
            size_t nwg = 0;
            uint32_t barrier = UINT32_MAX;
            int g_tp = wl__group(&b, "tp", r, tp, 1, tp_base);
            int g_dp = wl__group(&b, "dp", r, dp, tp, dp_base);
            /* EP groups: ep consecutive members of the DP group; DP_EP: the DP
             * members with the same EP index. */
            int g_ep = wl__group(&b, "ep", r, ep_n, tp, dp_base + (dp_idx - dp_idx % ep_n) * tp);
            int g_dpep = wl__group(&b, "dpep", r, dp / ep_n, tp * ep_n, dp_base + (dp_idx % ep_n) * tp);
            if (wg_comms == NULL) {
                b.err = SP_ENOMEM;
                break;
            }
            for (int pass = 0; pass < 2; pass++) {
                for (long j = 0; j < nlayers; j++) {
                    /* Backward runs the layers in reverse, except for MICRO
                     * benchmarks, whose lines are a list run in order. */
                    long i = pass == 0 || micro ? j : nlayers - 1 - j;
                    const layer *l = &layers[i];
                    int phases[2] = {pass == 0 ? 0 : 1, pass == 0 ? -1 : 2};
                    for (int q = 0; q < 2; q++) {
                        int k = phases[q], cls, none, twice;
                        coll_kind kind = COLL_ALL_REDUCE;
                        uint32_t c;
                        wl_op op = {0};
                        if (k < 0)
                            continue;
                        op.kind = WL_COMPUTE;
                        op.name = w->layer_names[i];
                        op.duration_s = l->t[k];
                        op.layer = (int)i;
                        op.stream = WL_STREAM_COMPUTE;
                        op.src = (sp_loc){w->path, l->line};
                        c = wl__add_op(&b, r, op, &barrier, barrier == UINT32_MAX ? 0 : 1);
                        if (parse_comm(l->type[k], &kind, &cls, &none, &twice) < 0 || none ||
                            l->bytes[k] == 0)
                            continue;
                        for (int t = 0; t <= twice; t++) {
                            int g = cls == 1 ? g_ep : cls == 2 ? g_dpep : k == 2 ? g_dp : g_tp;
                            uint32_t m;
                            if (b.err < 0 || w->groups[g].n < 2)
                                continue; /* a group of one: nothing to communicate */
                            op.kind = WL_COLL;
                            op.coll = t == 1 ? COLL_ALL_TO_ALL : kind;
                            op.bytes = l->bytes[k];
                            op.group = g;
                            op.duration_s = 0.0;
                            op.stream = k == 2 ? WL_STREAM_COMM_DP : WL_STREAM_COMM;
                            m = wl__add_op(&b, r, op, &c, 1);
                            if (k == 2)
                                wg_comms[nwg++] = m; /* overlaps what follows */
                            else
                                barrier = c = m; /* forward and input gradient block */
                        }
                    }
                }
            }
            /* Weight updates once each layer's gradient collective is done. */
            for (long i = 0, q = 0; i < nlayers && b.err == SP_OK; i++) {
                wl_op op = {0};
                if (layers[i].update <= 0.0)
                    continue;
                op.kind = WL_COMPUTE;
                op.name = wl__intern(&b, "update");
                op.duration_s = layers[i].update;
                op.layer = (int)i;
                op.stream = WL_STREAM_COMPUTE;
                op.src = (sp_loc){w->path, layers[i].line};
                (void)wl__add_op(&b, r, op, wg_comms, (uint32_t)nwg);
                q++;
                nwg = 0; /* the first update waits for all gradients; the rest follow it */
            }
            free(wg_comms);
        }
        err = b.err;
    }
done:
    for (long i = 0; layers != NULL && i < got; i++)
        free(layers[i].name);
    free(layers);
    wl__builder_done(&b);
    if (err < 0) {
        wl_free(w);
        return err;
    }
    *out = w;
    return SP_OK;
}

/* cli_util.c - helpers shared by the subcommands. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eng/eng.h"

int cli_parse_int(int *out, const char *opt, const char *val, int min, int max, diag_list *diag)
{
    char *end;
    long v;

    errno = 0;
    v = val != NULL ? strtol(val, &end, 10) : 0;
    if (val == NULL || end == val || *end != '\0' || errno != 0 || v < min || v > max) {
        diag_error(diag, (sp_loc){0}, "option %s: expected an integer in [%d, %d], got \"%s\"",
                   opt, min, max, val != NULL ? val : "");
        return SP_EINPUT;
    }
    *out = (int)v;
    return SP_OK;
}

int cli_parse_double(double *out, const char *opt, const char *val, double min, double max, diag_list *diag)
{
    char *end;
    double v;

    errno = 0;
    v = val != NULL ? strtod(val, &end) : 0.0;
    if (val == NULL || end == val || *end != '\0' || errno != 0 || !(v >= min && v <= max)) {
        diag_error(diag, (sp_loc){0}, "option %s: expected a number in [%g, %g], got \"%s\"", opt, min, max,
                   val != NULL ? val : "");
        return SP_EINPUT;
    }
    *out = v;
    return SP_OK;
}

char *cli_join_argv(int argc, char **argv)
{
    size_t len = 1;
    char *s;

    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    if ((s = malloc(len)) == NULL)
        return NULL;
    s[0] = '\0';
    for (int i = 0; i < argc; i++) {
        if (i > 0)
            strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

int cli_parse_coll_opt(coll_opts *opts, const char *opt, const char *val, diag_list *diag)
{
    int algo = strcmp(opt, "--algo") == 0;

    if (strcmp(opt, "--collnet") == 0) {
        opts->collnet = 1;
        return SP_OK;
    }
    if ((algo ? coll_algo_mask_parse(&opts->algo_mask, val)
              : coll_proto_mask_parse(&opts->proto_mask, val)) < 0) {
        diag_error(diag, (sp_loc){0}, "option %s: expected a list of %s, got \"%s\"", opt,
                   algo ? "Ring, Tree, PAT, NVLS, NVLSTree, CollnetDirect, CollnetChain"
                        : "LL, LL128, Simple",
                   val);
        return SP_EINPUT;
    }
    return SP_OK;
}

int cli_pick(const char *val, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++)
        if (strcmp(val, names[i]) == 0) {
            *out = i;
            return SP_OK;
        }
    return SP_EINPUT;
}

int cli_out_open(out_file **f, const char *path, const char *kind, int argc, char **argv, const out_attr *extra,
                 size_t nextra, diag_list *diag)
{
    char *cmd = cli_join_argv(argc, argv);
    out_attr *attrs = malloc((nextra + 4) * sizeof(*attrs));
    int err = SP_ENOMEM;

    *f = NULL;
    if (cmd != NULL && attrs != NULL) {
        attrs[0] = OUT_ATTR_STR("command", cmd);
        attrs[1] = OUT_ATTR_STR("kind", kind);
        attrs[2] = OUT_ATTR_STR("simgrid_version", eng_simgrid_version());
        attrs[3] = OUT_ATTR_STR("network_model", eng_network_model());
        for (size_t i = 0; i < nextra; i++)
            attrs[4 + i] = extra[i];
        err = out_open(f, path, attrs, nextra + 4, diag);
    }
    free(cmd);
    free(attrs);
    return err;
}

int cli_out_finish(out_file *f, int err)
{
    if (f == NULL)
        return err;
    if (err == SP_OK)
        return out_commit(f);
    out_discard(f);
    return err;
}

int cli_launch_floor(const plat *p, int gpn, int gpt, double *floor_s, diag_list *diag)
{
    int err = SP_OK;

    *floor_s = 0.0;
    if (p->nccl.launch_s <= 0.0) {
        /* Where the nccl group is, if the file has one. */
        sp_loc at = p->nccl.src.file != NULL ? p->nccl.src : (sp_loc){p->path, 1};
        diag_error(diag, at,
                   "option --gpus-per-thread: \"%s\" gives no nccl.launch_us, the host's measured time per kernel "
                   "launch, so the host cannot be modelled", p->name);
        err = SP_EINPUT;
    }
    for (int node = 0; node < p->nodes; node++) {
        int members = gpn > 0 ? gpn : plat_node_gpus(p, node);
        if (members % gpt != 0) {
            diag_error(diag, (sp_loc){p->path, 1},
                       "option --gpus-per-thread %d: node %d has %d rank(s) in the communicator, not a multiple "
                       "of %d (nccl-tests runs ranks per node = processes x threads x GPUs per thread)",
                       gpt, node, members, gpt);
            err = SP_EINPUT;
            break;
        }
    }
    if (err == SP_OK)
        *floor_s = gpt * p->nccl.launch_s;
    return err;
}

int cli_communicator(const plat *p, int gpn, int *ranks, int *n, diag_list *diag)
{
    *n = 0;
    for (int r = 0; r < p->nranks; r++) {
        int g = plat_node_gpus(p, plat_rank_node(p, r));
        if (gpn > g) {
            diag_error(diag, (sp_loc){p->path, 1}, "option -g %d: node %d of \"%s\" has %d GPU(s)", gpn,
                       plat_rank_node(p, r), p->name, g);
            return SP_EINPUT;
        }
        if (gpn == 0 || plat_rank_local(p, r) < gpn)
            ranks[(*n)++] = r;
    }
    return SP_OK;
}

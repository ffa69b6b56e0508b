/* cli_util.c - helpers shared by the subcommands. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

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

    if ((algo ? coll_algo_mask_parse(&opts->algo_mask, val)
              : coll_proto_mask_parse(&opts->proto_mask, val)) < 0) {
        diag_error(diag, (sp_loc){0}, "option %s: expected a list of %s, got \"%s\"", opt,
                   algo ? "Ring, Tree, PAT" : "LL, LL128, Simple", val);
        return SP_EINPUT;
    }
    return SP_OK;
}

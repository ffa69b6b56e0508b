/* cli_check.c - `scalepath check FILE...`: validate platform files and
 * report every problem as file:line: error: ... */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "plat/plat.h"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: scalepath check [-n NODES] PLATFORM.cfg...\n"
                "       scalepath check --format\n"
                "  Validate platform files and expand them (for NODES nodes with -n; default:\n  the file's composition, or one node).\n"
                "  --format prints every key of the platform format (Markdown).\n");
}

int cli_check(int argc, char **argv, diag_list *diag)
{
    int nodes = 0, err = SP_OK, files = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return SP_OK;
        }
        if (strcmp(argv[i], "--format") == 0) {
            plat_format_doc(stdout);
            return SP_OK;
        }
        if (strcmp(argv[i], "-n") == 0) {
            if (cli_parse_int(&nodes, "-n", i + 1 < argc ? argv[i + 1] : NULL, 1, 1 << 20, diag) <
                0)
                return SP_EINPUT;
            i++;
        }
    }
    for (int i = 1; i < argc; i++) {
        plat *p = NULL;
        int e;
        if (strcmp(argv[i], "-n") == 0) {
            i++;
            continue;
        }
        if (argv[i][0] == '-') {
            diag_error(diag, (sp_loc){0}, "check: unknown option \"%s\"", argv[i]);
            usage(stderr);
            return SP_EINPUT;
        }
        files++;
        e = plat_load(&p, argv[i], diag);
        if (e == SP_OK)
            e = plat_set_nodes(p, nodes, diag);
        if (e == SP_OK) {
            char what[256];
            plat_describe(p, what, sizeof(what));
            printf("%s: ok: %s: %s, %d rank(s), fabric %s\n", argv[i], p->name, what, p->nranks,
                   plat_fabric_name(p->fabric.kind));
        }
        else if (err == SP_OK || e == SP_ENOMEM)
            err = e;
        plat_free(p);
    }
    if (files == 0) {
        usage(stderr);
        diag_error(diag, (sp_loc){0}, "check: no platform file given");
        return SP_EINPUT;
    }
    return err;
}

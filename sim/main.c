/* main.c - the scalepath command line. The only place that decides the exit
 * status and prints the diagnostics that library code collected. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: scalepath COMMAND [OPTIONS]\n"
            "\n"
            "  nccl      simulate NCCL collectives and print the nccl-tests table\n"
            "  check     validate platform files\n"
            "  platforms list the shipped hardware tiers\n"
            "  platform  expand one platform: summary, SimGrid XML, routes, bisection\n"
            "  replay    replay a training workload (Chakra, AICB / ASTRA-sim) on a platform\n"
            "  memory    memory per GPU of a training configuration: does it fit?\n"
            "  train     simulate one training step of a model and layout (no trace needed)\n"
            "  study     which rung of a hardware ladder trains your jobs best (default: a\n"
            "            small lab with one DGX Spark)\n"
            "  calibrate fit a platform's collectives to your own nccl-tests log\n"
            "  emulate   run a real NCCL program on a simulated cluster: real data,\n"
            "            simulated time\n"
            "  version   print the version\n"
            "\n"
            "Run `scalepath COMMAND -h` for a command's options.\n");
}

static int exit_status(int err)
{
    switch (err) {
    case SP_OK:
        return 0;
    case SP_EINPUT:
        return 2; /* nothing was simulated */
    case SP_EIO:
        return 3;
    case SP_EDEADLOCK:
        return 4;
    default:
        return 1;
    }
}

int main(int argc, char **argv)
{
    diag_list *diag = NULL;
    int err;

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("scalepath %s\n", SP_VERSION);
        return 0;
    }
    if (diag_new(&diag, 200) < 0) {
        fprintf(stderr, "scalepath: out of memory\n");
        return 1;
    }
    if (strcmp(argv[1], "nccl") == 0)
        err = cli_nccl(argc - 1, argv + 1, diag);
    else if (strcmp(argv[1], "check") == 0)
        err = cli_check(argc - 1, argv + 1, diag);
    else if (strcmp(argv[1], "platforms") == 0)
        err = cli_platforms(argc - 1, argv + 1, diag);
    else if (strcmp(argv[1], "platform") == 0)
        err = cli_platform(argc - 1, argv + 1, diag);
    else if (strcmp(argv[1], "replay") == 0)
        err = cli_replay(argc - 1, argv + 1, diag);
    else if (strcmp(argv[1], "memory") == 0)
        err = cli_memory(argc - 1, argv + 1, diag);
    else if (strcmp(argv[1], "train") == 0)
        err = cli_train(argc - 1, argv + 1, diag);
    else if (strcmp(argv[1], "emulate") == 0)
        err = cli_emulate(argc - 1, argv + 1, diag);
    else if (strcmp(argv[1], "study") == 0)
        err = cli_study(argc - 1, argv + 1, diag);
    else if (strcmp(argv[1], "calibrate") == 0)
        err = cli_calibrate(argc - 1, argv + 1, diag);
    else {
        diag_error(diag, (sp_loc){0}, "unknown command \"%s\"", argv[1]);
        usage(stderr);
        err = SP_EINPUT;
    }
    fflush(stdout);
    diag_print(diag, stderr);
    if (err == SP_EINPUT && diag_error_count(diag) > 0)
        fprintf(stderr, "scalepath: %zu error(s); nothing was simulated\n",
                diag_error_count(diag));
    else if (err == SP_ENOMEM)
        fprintf(stderr, "scalepath: out of memory\n");
    diag_free(diag);
    return exit_status(err);
}

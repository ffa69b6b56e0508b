/* cli.h - the subcommands of the scalepath binary (internal to sim/main.c
 * and sim/cli/). Each returns an SP_* code; main.c alone turns it into an
 * exit status. Diagnostics go to the diag_list, printed by main.c. */
#ifndef SP_CLI_H
#define SP_CLI_H

#include "coll/coll.h"
#include "plat/plat.h"
#include "out/out.h"
#include "util/diag.h"

int cli_nccl(int argc, char **argv, diag_list *diag);
int cli_check(int argc, char **argv, diag_list *diag);
int cli_platforms(int argc, char **argv, diag_list *diag);
int cli_platform(int argc, char **argv, diag_list *diag);
int cli_replay(int argc, char **argv, diag_list *diag);
int cli_memory(int argc, char **argv, diag_list *diag);
int cli_train(int argc, char **argv, diag_list *diag);
int cli_study(int argc, char **argv, diag_list *diag);
int cli_calibrate(int argc, char **argv, diag_list *diag);
int cli_emulate(int argc, char **argv, diag_list *diag);

/* Parse a positive int option value; reports "option -x: ..." on failure. */
SP_MUST_USE int cli_parse_int(int *out, const char *opt, const char *val, int min, int max,
                              diag_list *diag);

/* Parse a finite real option value in [min, max]; reports a bad one. */
SP_MUST_USE int cli_parse_double(double *out, const char *opt, const char *val, double min, double max,
                                 diag_list *diag);

/* --algo LIST or --proto LIST (opt names which) into opts, as NCCL_ALGO /
 * NCCL_PROTO, or --collnet (val unused) as NCCL_COLLNET_ENABLE=1; reports a
 * bad list. */
SP_MUST_USE int cli_parse_coll_opt(coll_opts *opts, const char *opt, const char *val, diag_list *diag);

/* The communicator nccl-tests -g G makes: every GPU (gpn 0), or the first
 * gpn of each node, into ranks (p->nranks long); reports a node with fewer. */
SP_MUST_USE int cli_communicator(const plat *p, int gpn, int *ranks, int *n, diag_list *diag);

/* --gpus-per-thread G (nccl-tests -g: one host thread launches G GPUs'
 * kernels per iteration): *floor_s = G launches of the platform's measured
 * nccl.launch_us, the least time an iteration takes. Reports a platform
 * without it, and a node whose ranks in the communicator (gpn, or all its
 * GPUs when 0) are not a multiple of G: nccl-tests runs ranks per node =
 * processes x threads x G. */
SP_MUST_USE int cli_launch_floor(const plat *p, int gpn, int gpt, double *floor_s, diag_list *diag);

/* The command line joined with spaces, for provenance (owned by caller). */
char *cli_join_argv(int argc, char **argv);

/* The index of val among names[0..n) in *out; SP_EINPUT if absent. */
SP_MUST_USE int cli_pick(const char *val, const char *const *names, int n, int *out);

/* Open an HDF5 result with the provenance every command writes (command,
 * kind, simgrid_version, network_model) and the extra root attributes. */
SP_MUST_USE int cli_out_open(out_file **f, const char *path, const char *kind, int argc, char **argv,
                             const out_attr *extra, size_t nextra, diag_list *diag);
/* Commit f when err is SP_OK, else discard it (nothing left on disk); the result. */
SP_MUST_USE int cli_out_finish(out_file *f, int err);

#endif

/* eng.h - the SimGrid engine: the only module that includes <simgrid/...>.
 *
 * eng_new() starts SimGrid once per process (SimGrid allows one engine per
 * process), with the exact alpha-beta network model (CM02, no cross-traffic,
 * no TCP window bound) so that the only timing factors are the platform's
 * and the collective model's. It loads the XML that plat_xml_write()
 * generates from a checked plat: SimGrid never sees unchecked input.
 * Each eng_run_*() call spawns one actor per rank and runs the simulation to
 * completion, then checks that every rank finished (SimGrid reports a
 * deadlock only in its log and returns normally).
 *
 * Ownership: eng_new() gives the caller an engine to release with
 * eng_free(); it borrows the plat, which must outlive it.
 */
#ifndef SP_ENG_H
#define SP_ENG_H

#include <stddef.h>
#include <stdint.h>

#include "coll/coll.h"
#include "emu/emu.h"
#include "plat/plat.h"
#include "util/diag.h"
#include "wl/wl.h"

typedef struct eng eng;

/**
 * Start SimGrid on an expanded platform.
 * @param[out] out   the engine; NULL on failure
 * @param xml_keep   if not NULL, also keep the generated platform XML here
 * @return SP_OK; SP_EIO if the XML cannot be written; SP_ENOMEM;
 *         SP_EINTERNAL if called twice in one process
 */
SP_MUST_USE int eng_new(eng **out, const plat *p, const char *xml_keep, diag_list *diag);

/**
 * The same with only some nodes in SimGrid's platform (nodes[k] non-zero
 * for node k; plat_xml_write_nodes), where plat_nodes_prunable() says
 * their routes stay the whole platform's; elsewhere, or with nodes NULL,
 * every node. Its Dijkstra, run once per sending GPU, then covers the
 * nodes a run uses, not the whole cluster: a folded step on 16,384 GPUs
 * runs on a few hundred. A run on a rank of a node left out fails with
 * SP_EINTERNAL. nodes is copied.
 */
SP_MUST_USE int eng_new_nodes(eng **out, const plat *p, const uint8_t *nodes, const char *xml_keep,
                              diag_list *diag);

/* The stack of every actor, KiB (default 256: our actors are shallow; an
 * emulated program's main needs a process's). Call before eng_new. */
void eng_set_stack_kib(int kib);
/* Run every actor on a system thread of its own (SimGrid's thread
 * contexts: 50 times slower than raw ones on a message-bound run,
 * shared/SIMGRID.md; the stacks keep contexts/stack-size), so that each
 * has its own thread-local storage: an emulated program's `__thread`
 * variables and errno. Actors still run one at a time. Call before eng_new. */
void eng_set_os_threads(int on);
void eng_free(eng *e); /* NULL is fine */

/**
 * Simulate one collective on an otherwise idle platform.
 * @param[out] time_s  simulated time from the start of the operation until
 *                     its last member finished
 * @return SP_OK; SP_EDEADLOCK if a member never finished (each is reported)
 */
SP_MUST_USE int eng_run_coll(eng *e, const coll_plan *plan, double *time_s, diag_list *diag);

/* One point-to-point transfer between two ranks. */
typedef struct eng_flow {
    int src, dst;   /* ranks */
    uint64_t bytes; /* > 0 */
} eng_flow;

/**
 * Simulate a set of transfers started together on an otherwise idle
 * platform (a traffic pattern: bisection, all-to-all, ...).
 * @param[out] time_s  until the last transfer arrived
 * @return SP_OK; SP_EINPUT for a bad rank; SP_EDEADLOCK; SP_ENOMEM
 */
SP_MUST_USE int eng_run_flows(eng *e, const eng_flow *flows, size_t n, double *time_s,
                              diag_list *diag);

/**
 * Compare SimGrid's route between each pair of ranks with plat_route()'s,
 * link by link; report each difference.
 * @param pairs  2 x n ranks: src0, dst0, src1, dst1, ...
 * @return SP_OK if all agree; SP_EINTERNAL otherwise
 */
SP_MUST_USE int eng_check_routes(eng *e, const int *pairs, size_t n, diag_list *diag);

/* When an operation of a replay ran, simulated seconds from its start. */
typedef struct eng_op_time {
    double start, end;
} eng_op_time;

/**
 * Replay a workload: on every rank one actor per stream runs its operations
 * in order, each after the operations it depends on; compute sleeps its
 * duration, a collective runs its plan among the group's ranks. With
 * w->nominal_compute, compute on the compute stream runs as work on the
 * rank's host, slowed while the rank's collectives run by their channels
 * (CTAs) over the GPU's sm_count.
 * @param plans  per rank, per operation: the plan of a collective (borrowed),
 *               NULL for other operations; plans[r][i] for w->ranks[r].ops[i]
 * @param[out] times  per rank, per operation: filled (arrays owned by the
 *               caller, sized like the ops)
 * @return SP_OK; SP_EDEADLOCK with every blocked rank and operation named
 */
SP_MUST_USE int eng_run_workload(eng *e, const wl *w, const coll_plan *const *const *plans,
                                 eng_op_time *const *times, diag_list *diag);

/* A program's main, loaded from its shared object, called as C runtimes
 * call it: main(argc, argv, envp); a main of fewer parameters ignores the
 * rest (the System V ABI passes them in registers). */
typedef int (*eng_program)(int argc, char **argv, char **envp);

/**
 * Emulate a program: each of its processes (emu_processes) runs its own
 * copy's main, fns[i], as an actor on its first device's host; each
 * stream it creates as an actor on its device's host running the stream's
 * tasks in order (collectives by their plans, messages as flows, copies
 * and kernels as busy time), all in simulated time from this call's start.
 * With sm_contention, kernels (emu_task.compute) run as work on the GPU's
 * host that the GPU's running collectives slow by their CTAs' share of its
 * SMs, as in eng_run_workload.
 * The program's NCCL and CUDA calls act on m, bound for the run.
 * @param fns    per process, its main (each process its own copy of the
 *               program, so that globals are per process)
 * @param[out] status  what main returned (the first non-zero, by process)
 * @param[out] time_s  simulated time until the program and its streams ended
 * @return SP_OK; SP_EDEADLOCK if the program or a stream never finished
 *         (each reported: what it waits for); SP_ENOMEM
 */
SP_MUST_USE int eng_run_emulation(eng *e, emu *m, const eng_program *fns, int argc, char **argv,
                                  int sm_contention, int *status, double *time_s, diag_list *diag);

/* The nodes SimGrid's platform holds: all, or those eng_new_nodes kept. */
int eng_node_count(const eng *e);

/* "3.32": the SimGrid version linked in, for provenance. */
const char *eng_simgrid_version(void);

/* The network model settings, in words, for reports. */
const char *eng_network_model(void);

/* Simulated messages posted so far (each send counted once), for benchmarks. */
unsigned long long eng_message_count(const eng *e);

#endif

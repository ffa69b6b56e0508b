/* emu.h - the emulator's runtime: NCCL and CUDA calls of a real program
 * become operations on simulated streams, with real data. No SimGrid here.
 *
 * A program compiled against include/nccl.h and include/cuda_runtime.h
 * calls the API functions of emu_nccl.c and emu_cuda.c (and, run as
 * several processes, include/mpi.h's of emu_mpi.c), which act on the
 * runtime bound with emu_bind(). They check every argument (a bad one is
 * an error code and a message on stderr, as NCCL_DEBUG=WARN would print,
 * never a crash), match collectives across a communicator's ranks by
 * their order (a rank that calls another collective than its peers is an
 * error at the call), and queue operations on streams. Whoever runs the simulation (the
 * engine, eng_run_emulation; or a test) supplies the services: a worker
 * per stream that takes its tasks in order (emu_stream_next), runs them
 * in simulated time between emu_task_begin() and emu_task_end(), and a
 * way for the program to wait.
 *
 * Data: a task copies its inputs when it begins (its stream's earlier
 * work is done then), and a collective writes each rank's output once
 * every rank it depends on has begun, so results are what NCCL computes
 * whatever the timing. Reductions add in rank order.
 *
 * Ownership: emu_new() gives an emulator released by emu_free(), which
 * also frees everything the program left allocated; it borrows the plat.
 */
#ifndef SP_EMU_H
#define SP_EMU_H

#include <stddef.h>
#include <stdint.h>

#include "coll/coll.h"
#include "plat/plat.h"
#include "util/diag.h"
#include "util/err.h"

typedef struct emu emu;
typedef struct CUstream_st emu_stream;

typedef enum emu_task_kind {
    EMU_TASK_COLL,   /* a collective: run plan's member */
    EMU_TASK_P2P,    /* a group's sends and receives on one rank */
    EMU_TASK_SLEEP,  /* a copy, memset or kernel: busy for duration_s */
    EMU_TASK_RECORD, /* an event records the time */
    EMU_TASK_WAIT    /* the stream waits for an event (emu_task_ready) */
} emu_task_kind;

/* One send or receive of a P2P task. Mailboxes match (src, dst, seq). */
typedef struct emu_leg {
    int send;         /* 1: to peer; 0: from peer */
    int src, dst;     /* global ranks (devices) */
    unsigned long seq; /* order of the pair's messages on the communicator */
    int comm;         /* communicator group (clique) id */
    uint64_t bytes;   /* on the wire (LL's flags included); 0 for a message to itself */
    double delay_s;   /* NCCL's software latency before a send leaves */
    int relay;        /* a send's: the device it goes through to another node and rail
                       * (NCCL's PXN, coll_pxn_relay), -1 if none */
} emu_leg;

typedef struct emu_task {
    emu_task_kind kind;
    int device;
    emu_stream *stream;    /* the stream it was queued on */
    int stream_id;         /* its number on its device, from 0 in creation order */
    /* COLL */
    const coll_plan *plan; /* borrowed from the collective */
    int member;            /* this rank's member index in the plan */
    int crank;             /* its rank in the communicator */
    char key[48];          /* unique per collective: its flows' mailbox prefix */
    /* P2P */
    emu_leg *legs;
    size_t nlegs;
    /* SLEEP */
    double duration_s;
    int peer_device;       /* a copy from another GPU: the bytes flow from its host (-1: none) */
    int copy_device;       /* a copy or memset: the GPU whose memory it writes (or, to the host,
                            * reads), which may not be the stream's (-1: none) */
    uint64_t peer_bytes;
    int compute;           /* a kernel (spEmuKernel, spEmuGemm), not a copy: it uses the SMs */
    /* filled by the runtime */
    double start_s, end_s;
    int begun, done;
    unsigned long launch;  /* the NCCL group launch that queued it (emu.launch); 0: none */
    int implicit;          /* WAIT: queued by a rule, not by the program: 1 the legacy default
                            * stream's, 2 an NCCL group's on several streams */
    size_t run_slot;       /* its place among the tasks begun and not ended */
    struct emu_task *next; /* queue order */
    void *impl;            /* the runtime's own record (collective, event, copy) */
} emu_task;

/* A host-to-host transfer of an MPI exchange: bytes from the host of
 * device src to that of device dst, over the platform's route. */
typedef struct emu_flow {
    int src, dst;
    double bytes;
} emu_flow;

/* What the runner gives the runtime. wait() blocks the calling actor (the
 * program, or a stream's worker) until ready(arg); notify() wakes every
 * waiter to test its condition again. */
typedef struct emu_services {
    void *ctx;
    int (*start_stream)(void *ctx, emu_stream *s, int device); /* run the new stream's worker */
    void (*notify)(void *ctx);
    void (*wait)(void *ctx, int (*ready)(const void *arg), const void *arg);
    double (*now)(void *ctx); /* simulated seconds */
    int (*self)(void *ctx);   /* the calling thread: process k's main is thread k; NULL: thread 0 */
    /* Run fn(arg) as thread number thread (emu_thread_ended when it
     * returns), on the host of device: 0, or -1 out of memory. NULL: the
     * program may not start threads. */
    int (*start_thread)(void *ctx, int thread, int device, void *(*fn)(void *), void *arg);
    /* A program that polls (cudaStreamQuery, MPI_Test): let the other
     * ready actors run at this instant; let seconds of simulated time pass
     * for the calling actor. NULL: polls take no time (no runner). */
    void (*yield)(void *ctx);
    void (*sleep)(void *ctx, double seconds);
    /* Move n flows at once in simulated time, sharing the platform's links
     * with everything else running; when the last has arrived, call
     * done(arg), then notify. The flows are copied. 0, or -1 out of memory
     * (nothing started). NULL: MPI's exchanges take no time. */
    int (*transfer)(void *ctx, const emu_flow *flows, size_t n, void (*done)(void *arg), void *arg);
} emu_services;

/**
 * A runtime for a program on an expanded platform: its devices are the
 * platform's ranks.
 * @param opts  algorithm / protocol restrictions (NCCL_ALGO, NCCL_PROTO); NULL for none
 * @return SP_OK; SP_ENOMEM
 */
SP_MUST_USE int emu_new(emu **out, const plat *p, const coll_opts *opts);
void emu_free(emu *m); /* NULL is fine */

/* Timing only: operations move no data (memory is still allocated and
 * counted), for programs whose results nobody reads, at sizes whose
 * copies and reductions would take the host long. */
void emu_set_nodata(emu *m, int nodata);

/* Whether CUDA's and NCCL's calls that queue GPU work or wait for it take
 * the host time they took on a real H100 (kernel launches, NCCL's one per
 * communicator, copies, memsets, event records and waits, synchronizing a
 * stream, an event or a device: emu_int.h); on by default. */
void emu_set_launch_costs(emu *m, int on);

/* The runtime the API functions act on, and how it runs tasks; NULL
 * unbinds (the API then fails every call). One at a time per process. */
void emu_bind(emu *m, const emu_services *svc);


/* The task at the head of a stream's queue, not yet finished; NULL if none. */
emu_task *emu_stream_next(emu_stream *s);
/* Whether a stream's worker may end: the program has ended and the stream
 * has nothing queued. */
int emu_stream_finished(const emu *m, const emu_stream *s);
/* A WAIT task may begin once the event record it waits for is done. */
int emu_task_ready(const emu_task *t);
/* Whether a begun task may end: a collective not before every rank has
 * begun it, since its output depends on their inputs (a chain's far end,
 * or a reduce's root, could otherwise finish before a late rank brought
 * its data); other tasks at once. */
int emu_task_may_end(const emu_task *t);
/* The task starts now: inputs are read, results written as they can be. */
void emu_task_begin(emu *m, emu_task *t);
/* The task has ended now: it leaves its stream's queue. */
void emu_task_end(emu *m, emu_task *t);

/**
 * Run the program as per_node processes on every node, as `mpirun` would
 * place them: process k on node k / per_node; each sees its node's GPUs
 * (cudaGetDeviceCount, cudaSetDevice numbering them from 0) and starts on
 * the first. Without it the program is one process that sees every GPU.
 * @return SP_OK; SP_EINPUT if a node has fewer GPUs than per_node; SP_ENOMEM
 */
SP_MUST_USE int emu_set_processes(emu *m, int per_node);
int emu_processes(const emu *m);
int emu_process_device(const emu *m, int proc); /* its first device: where it runs */

/* A process's main returned; a thread it started returned ret. A process
 * ends with the last of its threads. */
void emu_process_ended(emu *m, int proc, int status);
/* A thread's start function has returned: run its thread-specific data's
 * destructors (program code, in the thread) before it ends. */
void emu_thread_exit(emu *m, int thread);
void emu_thread_ended(emu *m, int thread, void *ret);
int emu_program_running(const emu *m); /* some process's main, or a thread, is still running */
int emu_main_running(const emu *m);    /* some process's main is still running */

/* After a run: each stream with unfinished work as an error naming what
 * it waits for, and the program if it never ended; the count. */
size_t emu_report_blocked(const emu *m, diag_list *diag);
/* The same count, nothing reported. */
size_t emu_nblocked(const emu *m);

/* The collectives and p2p batches the program ran, for reports. */
typedef struct emu_record {
    const char *what;   /* "AllReduce", ..., "SendRecv" */
    coll_kind kind;     /* the same, for busbw factors */
    int comm;           /* clique id, from 0 in creation order */
    unsigned long seq;  /* its number on the communicator (collectives) */
    int device;         /* the device whose messages these are (p2p); -1 for a collective */
    int nranks;
    int root;           /* a rooted collective's root, its rank in the communicator; -1 otherwise */
    uint64_t bytes;     /* nccl-tests size (AllGather/ReduceScatter: the total); p2p: the
                           payload this device sends and receives */
    const char *algo, *proto; /* NCCL's spelling; "-" for p2p */
    double start_s, end_s;    /* first rank's begin, last rank's end; end < 0 if unfinished */
} emu_record;
size_t emu_nrecords(const emu *m);
void emu_record_get(const emu *m, size_t i, emu_record *out);

/* MPI's data between nodes: each message or exchange that moved some, in
 * the order it started. Pointers are borrowed until the emulator is freed. */
typedef struct emu_mpi_move {
    const char *what;      /* "message", or the exchange's function: "MPI_Allreduce", ... */
    int src, dst;          /* a message's sending and receiving processes; -1 for an exchange */
    int comm;              /* its communicator: the MPI_Comm value the program holds (the world's 1) */
    int root;              /* MPI_Bcast, MPI_Reduce, MPI_Gather, MPI_Scatter: the root's rank; -1 otherwise */
    int nprocs;            /* 2 for a message; an exchange's processes */
    const int *procs;      /* those processes: src and dst, or the communicator's in rank order */
    uint64_t bytes;        /* a message's payload; an exchange's buffer (count x type) per process */
    double start_s, end_s; /* once both ends (every process) had called it, and its arrival; end < 0 if
                              still on its way */
} emu_mpi_move;
size_t emu_mpi_nmoves(const emu *m);
void emu_mpi_move_get(const emu *m, size_t i, emu_mpi_move *out);

/* Every task the program queued, in submission order, for timelines. */
size_t emu_ntasks(const emu *m);
const emu_task *emu_task_at(const emu *m, size_t i);
/* What a task is, in a word ("AllReduce", "SendRecv", "kernel", "copy",
 * "memset", "event record", "event wait"), and the bytes it moves (the
 * nccl-tests size of a collective; a rank's payload of a p2p task; a
 * copy's or memset's bytes; 0 otherwise). */
const char *emu_task_name(const emu_task *t);
uint64_t emu_task_bytes(const emu_task *t);

/* API errors the program met (each also printed when it happened). */
size_t emu_api_errors(const emu *m);
/* 1 if the emulator itself ran out of memory for a task's data (printed
 * when it happened): its collective or copy never completes, and the run
 * fails for that, not for the hang that follows. */
int emu_out_of_memory(const emu *m);

#endif

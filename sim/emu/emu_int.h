/* emu_int.h - the emulator's runtime structures, shared by emu.c (queues,
 * matching, data) and the entry points: emu_cuda.c, emu_nccl.c and
 * emu_mpi.c. Private to sim/emu/. */
#ifndef SP_EMU_INT_H
#define SP_EMU_INT_H

#include "emu/emu.h"
#include "emu/include/nccl.h"

/* A collective's or message's state, shared by its ranks' tasks. */
typedef struct emu_clique emu_clique;

typedef enum emu_fn {
    EMU_ALL_REDUCE,
    EMU_BROADCAST,
    EMU_REDUCE,
    EMU_ALL_GATHER,
    EMU_REDUCE_SCATTER,
    EMU_ALL_TO_ALL,
    EMU_GATHER,
    EMU_SCATTER,
    EMU_NFNS
} emu_fn;

typedef struct emu_coll {
    emu_clique *cl;
    unsigned long seq;
    emu_fn fn;
    size_t count; /* NCCL's count argument */
    ncclDataType_t type;
    ncclRedOp_t op;
    int root;                 /* clique rank; -1 when none */
    const void **send;        /* per clique rank, as called */
    void **recv;
    char **snap;              /* per clique rank: the input when it began */
    unsigned char *called, *begun, *written;
    int ncalled, nbegun, nended;
    const coll_plan *plan;    /* borrowed from its clique's plans */
    double start_s, end_s;
    int nodata;               /* timing only: no inputs taken, no outputs written */
} emu_coll;

typedef struct emu_msg { /* one ncclSend matched with one ncclRecv */
    emu_clique *cl;
    int src, dst; /* clique ranks */
    unsigned long seq;
    size_t count;
    ncclDataType_t type;
    const void *sendbuf;
    void *recvbuf;
    char *snap;
    int sent_called, recv_called, sent_begun, recv_begun;
} emu_msg;

typedef struct emu_pair {     /* the messages from one rank to another, by number */
    emu_msg **v;
    size_t n, cap;
} emu_pair;

struct emu_clique {
    int id, nranks, joined;
    ncclUniqueId uid;
    int *devices;             /* clique rank -> device */
    struct ncclComm **comms;  /* clique rank -> communicator (NULL until joined) */
    emu_coll **colls;         /* by sequence number */
    size_t ncolls, capcolls;
    unsigned long *sends, *recvs; /* nranks x nranks: messages posted per (src, dst) */
    emu_pair *pairs;          /* nranks x nranks, made with the first message */
    struct emu_split **splits; /* ncclCommSplit calls, by number */
    size_t nsplits, capsplits;
    struct emu_plan *plans;   /* every plan made for it, reused by collectives of the same shape */
    size_t nplans, capplans;
};

typedef struct emu_plan {
    emu_fn fn;
    uint64_t bytes;
    int root;                 /* a rooted collective's root device; -1 otherwise */
    coll_plan *plan;          /* owned */
} emu_plan;

/* One ncclCommSplit of a communicator: every rank's color and key, and
 * where each wants its new communicator. */
typedef struct emu_split {
    struct emu_clique *parent;
    int arrived, done;
    int *color, *key;
    struct ncclComm ***out;
} emu_split;

struct ncclComm {
    emu_clique *cl;
    int rank;
    unsigned long seq;        /* next collective's number */
    unsigned long nsplit;     /* its next ncclCommSplit's number */
    int destroyed;
    char last_error[256];
};

struct CUstream_st {
    int device, id;
    int proc;                 /* the process that made it */
    int destroyed;
    int legacy;               /* the process's default (NULL) stream on its device */
    int nonblocking;          /* made with cudaStreamNonBlocking: no implicit synchronization */
    emu_task *head, *tail;
    emu_task *last;           /* the last task queued, done or not; NULL if none */
    emu_task *before;         /* the last one queued before the current NCCL group launch's */
    unsigned long queued;
};

struct CUevent_st {
    int device;
    int destroyed;
    emu_task *record;         /* the last cudaEventRecord's task; NULL if never recorded */
};

typedef struct emu_alloc {
    char *base;
    size_t size;
    int device;               /* -1: pinned host memory */
    int dead;                 /* freed: its pages released, its addresses kept until the end */
    int freeing;              /* a cudaFree waits for its device before freeing it */
} emu_alloc;

typedef struct emu_batch {    /* a p2p task's messages */
    emu_msg **msgs;
    int *sending;             /* per message: this task sends it (1) or receives it (0) */
} emu_batch;

typedef struct emu_copy {     /* a copy or memset task */
    void *dst;
    const void *src;          /* NULL: memset */
    size_t bytes;
    int value;
    char *owned;              /* pageable host source staged at the call, copied from when the task
                               * begins and then freed (src stays the caller's); NULL: none */
    int link_dir;             /* over the GPU's host link: 0 to the device, 1 from it; -1 not */
    double link_s;            /* its time on the link, alone */
    int device;               /* the GPU whose memory (and host link) it uses, global */
} emu_copy;

typedef struct emu_device {
    double allocated;         /* bytes */
    double link_free_s[2];    /* when its host link is next free, each way (simulated s) */
} emu_device;

struct emu {
    const plat *plat;
    coll_opts opts;
    emu_services svc;
    int bound;
    emu_device *devices;
    int ndevices;
    emu_stream **streams;     /* every stream, in creation order */
    size_t nstreams, capstreams;
    emu_task **tasks;         /* every task, in submission order (freed at the end) */
    size_t ntasks, captasks;
    unsigned long launch;     /* the NCCL group launch queuing its tasks now; 0: none */
    unsigned long launches;   /* launches so far */
    emu_stream **launch_streams; /* the streams the current launch uses (emu_launch_begin) */
    size_t nlaunch_streams, caplaunch_streams;
    emu_alloc *allocs;
    size_t nallocs, capallocs;
    emu_clique **cliques;
    size_t ncliques, capcliques;
    struct CUevent_st **events;
    size_t nevents, capevents;
    /* the program's processes (one, unless emu_set_processes) */
    struct emu_proc *procs;
    int nprocs;
    struct emu_thread **threads; /* 0 .. nprocs - 1: each process's main; then those started */
    size_t nthreads, capthreads;
    struct emu_sync **syncs;  /* the program's mutexes, conditions and barriers (emu_thread.c) */
    size_t nsyncs, capsyncs;
    int running;              /* processes still in main */
    size_t api_errors;
    int oom;                  /* out of memory for a task's data (emu_out_of_memory) */
    int nodata;               /* emu_set_nodata */
    int no_launch_costs;      /* emu_set_launch_costs(m, 0) */
    int launched;             /* emu_set_processes: processes as a launcher starts them */
    emu_task **p2ps;          /* the P2P tasks, in submission order (reports) */
    size_t np2ps, capp2ps;
    struct emu_mpi *mpi;      /* MPI's communicators, exchanges and messages (emu_mpi.c), made on first use */
    unsigned long mpi_moving; /* MPI messages and exchanges whose data is on its way (emu_mpi.c) */
    unsigned long changes;    /* state changes so far: a task begun or ended, a wake, a thread ended (emu_query) */
    unsigned long key_gen;    /* pthread_key_create calls so far: each key's generation */
    double change_at;         /* the simulated time of the last */
    unsigned long calls;      /* the program's calls into the emulator, queries not counted */
    emu_task **busy;          /* tasks begun and not ended (emu_query) */
    size_t nbusy, capbusy;
};

/* What a process waits for, when it never returns (the hang report). */
typedef enum emu_wait {
    EMU_WAIT_NONE,   /* streams: the report on the streams says the rest */
    EMU_WAIT_INIT,   /* ncclCommInitRank: waiting is an emu_clique */
    EMU_WAIT_SPLIT,  /* ncclCommSplit: an emu_split */
    EMU_WAIT_MPI,    /* an MPI exchange: an emu_hostcoll */
    EMU_WAIT_MPI_RECV, /* an MPI receive: an emu_mpi_request */
    EMU_WAIT_POLL,   /* a query that polls: waiting is the call's name */
    EMU_WAIT_PROBE,  /* MPI_Probe: an emu_mpi_probe */
    EMU_WAIT_MPI_ANY, /* MPI_Waitany: its requests (emu_mpi.c) */
    EMU_WAIT_JOIN,   /* pthread_join: an emu_thread */
    EMU_WAIT_MUTEX,  /* pthread_mutex_lock: an emu_sync */
    EMU_WAIT_COND,   /* pthread_cond_wait: an emu_sync */
    EMU_WAIT_BARRIER, /* pthread_barrier_wait: an emu_sync */
    EMU_WAIT_ONCE,   /* pthread_once run by another thread: an emu_sync */
    EMU_WAIT_SEM     /* sem_wait: an emu_sync */
} emu_wait;

/* One host thread of the program: the state CUDA and NCCL keep per host
 * thread. A process's main thread is thread number proc; the threads it
 * starts (emu_thread.c) come after every process's. */
typedef struct emu_thread {
    int proc;                 /* its process */
    int id;                   /* 0: its process's main; then 1, 2, ... in creation order */
    int current;              /* cudaSetDevice, as a global device */
    cudaError_t last_cuda;
    int group_depth;
    int group_error;          /* ncclResult_t: the first call that failed in the group */
    struct emu_call *group;   /* calls held until ncclGroupEnd */
    size_t ngroup, capgroup;
    struct emu_clique **inits; /* communicators ncclCommInitRank began in the group */
    size_t ninits, capinits;
    struct emu_split **splitting; /* ncclCommSplit calls made in the group */
    size_t nsplitting, capsplitting;
    emu_wait waiting_what;
    const void *waiting;      /* what it waits for (emu_wait), NULL when not waiting */
    unsigned long sync_gen;   /* waiting in a condition or barrier: its round when it began to wait */
    unsigned long poll_seen;  /* emu.changes when it last looked (emu_query) */
    unsigned long calls;      /* its calls into the emulator (emu_note_call) */
    unsigned long calls_seen, own_seen; /* emu.calls and its own calls when it last looked */
    int read_clock;           /* it read the simulated clock since it last queued work or a query of
                               * its found its work done: its polls may wait for a deadline */
    unsigned long polls_since_launch; /* its unfinished queries since then (emu_query) */
    int idle_poll;            /* in a query that saw nothing new since its last */
    unsigned long own_polls;  /* its quiet polls in a row of what only it could change */
    int poll_moving;          /* its queries since it last saw a change were all for GPU work that
                               * ends by itself (or found their work done) */
    int blocked;              /* inside the runner's wait (not a poll's sleep) */
    int running;              /* in main, or in its start function */
    int joined, detached;     /* pthread_join has taken it; pthread_detach'ed */
    void *ret;                /* what its start function returned */
    emu_stream **per_thread;  /* cudaStreamPerThread per global device, made on first use */
    struct emu_specific {     /* pthread_setspecific's values, per key of its process */
        const void *value;
        unsigned long gen;    /* the key's generation it was set under (emu_key.gen) */
    } *specific;
    size_t nspecific;
} emu_thread;

/* One process of the program: the devices it sees, and what CUDA, MPI and
 * the launcher keep per process. */
typedef struct emu_proc {
    int first, ndev;          /* it sees the global devices first .. first + ndev - 1 */
    int node;
    int running, status;      /* running: its main, or a thread it started, has not returned */
    int nthreads;             /* threads it has started (ids 1 .. nthreads) */
    int live;                 /* of its threads, main included, those still running */
    int mpi_state;            /* 0 before MPI_Init, 1 after, 2 after MPI_Finalize */
    char env[16][24];         /* values of the rank variables getenv gives it */
    int local_rank, local_size; /* among the processes of its node */
    emu_stream **dflt;        /* its default stream per device it sees, made on first use */
    unsigned char *peer;      /* cudaDeviceEnablePeerAccess: [from][to], ndev x ndev, made on first use */
    struct emu_key {          /* pthread_key_create's keys: a key is its index */
        int used;
        unsigned long gen;    /* new for each key made in the slot: older values do not count */
        void (*dtor)(void *);
    } *keys;
    size_t nkeys, capkeys;
} emu_proc;

/* A held NCCL call (inside ncclGroupStart/End). */
typedef struct emu_call {
    int p2p;                  /* 1: send/recv; 0: collective */
    emu_fn fn;
    int send;                 /* p2p: 1 send, 0 recv */
    const void *sendbuff;
    void *recvbuff;
    size_t count;
    ncclDataType_t type;
    ncclRedOp_t op;
    int root, peer;
    struct ncclComm *comm;
    emu_stream *stream;
} emu_call;

/* emu_cuda.c, for emu_nccl.c and emu_mpi.c: the bound runtime (NULL, after
 * a message, outside the emulator); a WARN line, kept as comm's last error;
 * waiting for ready(arg) as the calling process (what: for the hang
 * report); waking every waiter; a device as the calling process numbers
 * it; the stream a call names; the device a buffer lies in (-1 if not
 * bytes of one device's memory); the time of passes over bytes of a
 * device's memory. */
emu *emu_runtime(void);
void emu_note_call(emu *m); /* a program thread calls in (emu_runtime, mpi_runtime, thread_runtime) */
void emu_changed(emu *m);   /* a state change a poll may wait for (emu_query) */
void emu_warn(emu *m, struct ncclComm *comm, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void emu_wait_for(emu *m, int (*ready)(const void *), const void *arg);
void emu_wait_what(emu *m, emu_wait what, int (*ready)(const void *), const void *arg);
void emu_wake(emu *m);
/* emu_poll.c: a query (cudaStreamQuery, MPI_Test, a trylock...) found
 * what it asks about finished, unfinished, or unfinished for good unless
 * the caller itself acts (a trylock of a mutex it holds): the host time a
 * query takes, after which the caller looks again. */
typedef enum emu_query_found { EMU_QUERY_DONE, EMU_QUERY_WAITING, EMU_QUERY_OWN } emu_query_found;
void emu_query(emu *m, const char *fn, emu_query_found done, int moving, double cost_s);
int emu_stream_moving(const emu_stream *s); /* its work ahead will end by itself (emu_query's moving) */
/* The host time of one poll: MPI_Test's, and MPI_Iprobe's, as SimGrid's
 * platform calibration measured them (Ezibenroc/platform-calibration,
 * data/taurus_26_07_2016/calibration/taurus.md: smpi/test 2.46e-7 s,
 * smpi/iprobe 3.49e-7 s). */
#define EMU_POLL_TEST_S 2.46e-7
#define EMU_POLL_IPROBE_S 3.49e-7
/* The host time of CUDA's and the C library's calls, as
 * bench/cuda_api_cost.cu measured them on two lent H100 machines (CUDA
 * 13.0, driver 580.159.04, Intel Xeon hosts; a non-blocking stream): the
 * median of four runs' medians (two per machine), or of two runs (one
 * machine) for the calls from cudaMemcpyAsync between host and device on
 * (bench/data/emulate/h100-cuda_api_cost.txt). Queries: cudaStreamQuery
 * finding its stream idle or busy, cudaEventQuery finding its event
 * complete or pending; pthread_mutex_trylock of a held mutex, sem_trywait
 * of a zero semaphore. */
#define EMU_STREAM_QUERY_DONE_S 2.735e-7
#define EMU_STREAM_QUERY_BUSY_S 1.65e-7
#define EMU_EVENT_QUERY_DONE_S 2.295e-7
#define EMU_EVENT_QUERY_BUSY_S 1.31e-7
#define EMU_TRYLOCK_S 9.5e-9
#define EMU_TRYWAIT_S 5.5e-9
/* The calls that queue GPU work: a kernel launch (spEmuKernel and
 * spEmuGemm stand for kernels, and NCCL launches one kernel per device and
 * group, cuLaunchKernelEx in its enqueue.cc, which is charged as a floor:
 * NCCL's own host work is not measured), cudaMemcpyAsync within a device,
 * to a device from page-locked host memory and back, cudaMemcpyPeerAsync
 * within one device (peer copies between two devices were not measured:
 * none), a memset,
 * cudaEventRecord, cudaStreamWaitEvent; and the return of
 * cudaStreamSynchronize, cudaEventSynchronize and cudaDeviceSynchronize
 * once their work is done. Copies from or into pageable memory were not
 * measured apart: they take the page-locked ones' as a floor (their
 * staging through the CPU is timed at the link's pageable rate). */
#define EMU_LAUNCH_S 3.312e-6
#define EMU_COPY_D2D_CALL_S 4.246e-6
#define EMU_COPY_H2D_CALL_S 1.256e-6
#define EMU_COPY_D2H_CALL_S 1.1815e-6
#define EMU_COPY_PEER_SAME_CALL_S 3.4165e-6
#define EMU_MEMSET_CALL_S 0.899e-6
#define EMU_EVENT_RECORD_CALL_S 1.2665e-6
#define EMU_STREAM_WAIT_EVENT_CALL_S 0.135e-6
#define EMU_STREAM_SYNC_CALL_S 1.4815e-6
#define EMU_EVENT_SYNC_CALL_S 1.338e-6
#define EMU_DEVICE_SYNC_CALL_S 0.354e-6
/* The calling thread spends seconds of host time in a call (unless launch
 * costs are off); other threads run meanwhile. */
void emu_host_cost(emu *m, double seconds);
/* The host time of one kernel launch: the platform's nccl.launch_us where it
 * gives one (measured on its host), else EMU_LAUNCH_S, the H100 host's. */
double emu_launch_s(const emu *m);
int emu_local(emu *m, int device);
emu_stream *emu_stream_arg(emu *m, cudaStream_t s, int device, const char *fn);
int emu_device_range(const emu *m, const void *p, size_t bytes);
double emu_copy_time(const emu *m, int device, size_t bytes, int passes);

/* emu.c, for emu_cuda.c, emu_nccl.c and emu_mpi.c */
emu_proc *emu_self(emu *m);     /* the calling process */
emu_thread *emu_thread_self(emu *m); /* the calling thread */
/* emu_thread.c, for emu.c: freeing the sync objects, and what a thread waiting in one waits for. */
void emu_syncs_free(emu *m);
void emu_thread_missing(const emu *m, emu_wait what, const void *arg, char *buf, size_t size);
void emu_mpi_free(emu *m);
/* The processes that have not reached what a waiting process waits for, as
 * "1, 3" (emu_mpi.c for MPI exchanges; emu_nccl.c for the rest). */
void emu_mpi_missing(const emu *m, const void *hostcoll, char *buf, size_t size);
void emu_mpi_recv_missing(const emu *m, const void *request, char *buf, size_t size);
void emu_mpi_probe_missing(const emu *m, const void *probe, char *buf, size_t size);
void emu_mpi_any_missing(const emu *m, const void *any, char *buf, size_t size);
void emu_nccl_missing(const emu *m, emu_wait what, const void *arg, char *buf, size_t size);
extern emu *emu_active;
size_t emu_type_size(ncclDataType_t t);
const char *emu_fn_name(emu_fn fn);
int emu_fn_reduces(emu_fn fn); /* takes a reduction operation */
/* Queued at the tail, after waits for the streams CUDA's legacy default
 * stream synchronizes it with (emu.c). */
emu_task *emu_task_add(emu *m, emu_stream *s, emu_task_kind kind);
/* An NCCL group launch (emu_nccl.c submit) on the n streams given: between
 * begin and end its tasks wait for what every one of the launch's streams
 * on their device had before it, never for each other; end queues, on each
 * of those streams, waits for the launch's tasks on the others (NCCL:
 * "Mixing Multiple Streams within the same group"). -1: out of memory. */
int emu_launch_begin(emu *m, emu_stream *const *streams, size_t n);
int emu_launch_end(emu *m);
typedef enum emu_stream_kind {
    EMU_STREAM_BLOCKING,    /* cudaStreamCreate's default */
    EMU_STREAM_NONBLOCKING, /* cudaStreamNonBlocking */
    EMU_STREAM_LEGACY       /* a process's default (NULL) stream on a device */
} emu_stream_kind;
emu_stream *emu_stream_add(emu *m, int device, int nonblocking); /* NULL: out of memory */
/* The same, written to *slot before its worker starts (starting it lets
 * other threads run, which must find it there). */
emu_stream *emu_stream_add_at(emu *m, int device, emu_stream **slot, emu_stream_kind kind);
int emu_vec_grow(void **v, size_t *cap, size_t n, size_t size);
/* The collective number seq of a clique, made by its first caller. */
emu_coll *emu_coll_get(emu *m, emu_clique *cl, unsigned long seq, emu_fn fn, size_t count,
                       ncclDataType_t type, ncclRedOp_t op, int root, ncclResult_t *err);
emu_msg *emu_msg_get(emu_clique *cl, int src, int dst, unsigned long seq);
const emu_alloc *emu_alloc_find(const emu *m, const void *p);
/* p (NULL or size bytes), after asking the kernel for transparent huge
 * pages within it where size is EMU_HUGE_MIN or more: for a device's
 * memory (emu_map) and the data the emulator holds (a collective's or a
 * send's input taken when it begins, a copy from pageable memory staged at
 * the call). Where the kernel gives huge pages only on request (THP's
 * "madvise" setting), a first touch otherwise costs a page fault per 4 KiB,
 * which was most of the time of an emulated 64 MiB all-reduce. */
#define EMU_HUGE_MIN ((size_t)2 << 20)
void *emu_huge(void *p, size_t size);
/* Zeroed memory mapped without reserving it (NULL on failure), and back. */
void *emu_map(size_t size);
void emu_unmap(void *p, size_t size);
void emu_release(void *p, size_t size); /* the pages back to the host; reads give zeros */

#endif

/* emu_mpi.c - the MPI that NCCL programs run as several processes use
 * (include/mpi.h): communicators (the world, each process's own, and those
 * MPI_Comm_split, MPI_Comm_split_type and MPI_Comm_dup make), collective
 * exchanges on them, point-to-point messages, and the host name each
 * process sees. Exchanges are host-side: they take no simulated time; a
 * process waits in one until every process of its communicator has called
 * it, as in MPI, and the data is copied then. Calls are matched by their
 * order on each communicator; a process that calls another exchange than
 * the others is reported, and its peers then wait forever, which the
 * emulator reports as a hang.
 *
 * Messages are matched as MPI matches them, within their communicator: a
 * receive takes the first message of its source and tag (either may be a
 * wildcard) in the order they were sent, a message the first posted
 * receive that accepts it. A send is buffered (its data copied, it returns
 * at once, as MPI allows); a receive waits, and one that no message ever
 * matches is reported as a hang, with what it waits for. */
#define _DEFAULT_SOURCE /* gethostname's declaration, uname */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "emu/emu_int.h"
#include "emu/include/mpi.h"

enum {
    HC_BARRIER, HC_BCAST, HC_ALLGATHER, HC_ALLREDUCE, HC_FINALIZE, HC_REDUCE, HC_GATHER, HC_SCATTER,
    HC_SPLIT, HC_SPLIT_TYPE, HC_DUP, HC_CREATE, HC_CREATE_GROUP
};

static const char *const hc_name[] = {"MPI_Barrier", "MPI_Bcast",      "MPI_Allgather",       "MPI_Allreduce",
                                      "MPI_Finalize", "MPI_Reduce",    "MPI_Gather",          "MPI_Scatter",
                                      "MPI_Comm_split", "MPI_Comm_split_type", "MPI_Comm_dup",
                                      "MPI_Comm_create", "MPI_Comm_create_group"};

/* The exchanges that make a communicator (no data; each rank's recv is an
 * MPI_Comm to set), and those with a root. */
static int hc_makes_comm(int kind)
{
    return kind == HC_SPLIT || kind == HC_SPLIT_TYPE || kind == HC_DUP || kind == HC_CREATE || kind == HC_CREATE_GROUP;
}

static int hc_rooted(int kind)
{
    return kind == HC_BCAST || kind == HC_REDUCE || kind == HC_GATHER || kind == HC_SCATTER;
}

/* --- Communicators ---------------------------------------------------------- */

typedef struct mpi_msg {
    int src, tag; /* src: the sender's rank in the communicator */
    size_t bytes;
    char *data; /* owned */
    struct mpi_msg *next;
} mpi_msg;

/* Per rank of a communicator: messages that came before a receive took
 * them, and receives posted before a message came. */
typedef struct mpi_box {
    mpi_msg *head, *tail;
    struct emu_mpi_request *posted, *posted_tail;
} mpi_box;

typedef struct mpi_comm {
    int handle;
    int size;
    int *world;             /* the process of each rank */
    int *rank_of;           /* per process: its rank here, or -1 */
    unsigned char *freed;   /* per rank: it called MPI_Comm_free */
    unsigned long *seq;     /* per rank: its next exchange here */
    struct emu_hostcoll **xs; /* its exchanges, by number */
    size_t nxs, capxs;
    mpi_box *box;           /* per rank */
    const char *made_by;    /* the call that made it; NULL for the world */
    int cg_parent, cg_tag;  /* MPI_Comm_create_group's own, never handed out: the members of a group
                             * of cg_parent's, meeting with cg_tag (cg_parent 0: not one) */
} mpi_comm;

struct emu_hostcoll {
    int kind, count, root;
    MPI_Datatype type;
    MPI_Op op;
    int arrived, done;
    int failed;             /* out of host memory: every rank's call fails, none waits */
    mpi_comm *comm;
    unsigned long number;   /* on its communicator */
    unsigned char *called;  /* per rank */
    const void **send;      /* per rank */
    void **recv;
};

struct emu_mpi_request {
    int owner;         /* its process */
    int done, err;
    mpi_comm *comm;
    int rank;          /* its process's rank in comm */
    void *buf;
    size_t cap;        /* bytes the receive buffer holds */
    int source, tag;   /* what a receive accepts (wildcards allowed) */
    MPI_Status st;
    struct emu_mpi_request *next_posted;
    size_t slot;       /* its index in live */
    int moving;        /* a receive whose message is on its way: done by itself */
};

/* What MPI_Probe waits for, kept until it comes (the hang report reads it). */
struct emu_mpi_probe {
    mpi_comm *comm;
    int rank, source, tag;
    struct emu_mpi_probe *next;
};

struct emu_mpi {
    struct emu_mpi_probe *probes;   /* MPI_Probe calls waiting */
    struct emu_mpi_any *anys;       /* MPI_Waitany calls waiting */
    mpi_comm **comms;               /* by handle: 1 the world, 3 on those the program made; 0 and 2 unused */
    size_t ncomms, capcomms;
    mpi_comm **self;                /* per process: its MPI_COMM_SELF, made on first use */
    struct emu_mpi_request **live;  /* requests not yet waited for, freed at the end */
    size_t nlive, caplive;
    struct emu_mpi_group *groups;   /* groups not yet freed, freed at the end */
    struct mpi_move_rec *moves;     /* data moved between nodes, in the order it started */
    size_t nmoves, capmoves;
};

/* A message or an exchange that moved data between nodes. */
struct mpi_move_rec {
    const char *what;      /* "message", or the exchange's function */
    int pair[2];           /* a message's sending and receiving processes */
    const mpi_comm *comm;  /* an exchange's communicator; NULL for a message */
    int handle;            /* the communicator's handle (a message's too) */
    int root;              /* a rooted exchange's root (its rank); -1 otherwise */
    uint64_t bytes;        /* a message's payload; an exchange's buffer per process */
    double start_s, end_s; /* end < 0 while on its way */
};

/* A group: processes in order, local to the process that made it. */
struct emu_mpi_group {
    int owner;  /* its process */
    int size;
    int *procs; /* the process of each of its ranks */
    struct emu_mpi_group *next;
};

static void any_unlink(struct emu_mpi *s, struct emu_mpi_any *a);

static size_t type_size(MPI_Datatype t)
{
    static const size_t z[] = {0, 1, 1, sizeof(int), sizeof(unsigned), sizeof(long), sizeof(unsigned long),
                               sizeof(long long), 8, 8, sizeof(float), sizeof(double)};
    return t >= 1 && t <= MPI_DOUBLE ? z[t] : 0;
}

static emu *mpi_runtime(const char *fn)
{
    if (emu_active == NULL || !emu_active->bound) {
        fprintf(stderr, "scalepath emulate: WARN %s outside `scalepath emulate`\n", fn);
        return NULL;
    }
    emu_note_call(emu_active);
    return emu_active;
}

static int self_index(emu *m)
{
    return (int)(emu_self(m) - m->procs);
}

static int mpi_fail(emu *m, const char *fn, const char *what, int code)
{
    fprintf(stderr, "scalepath emulate: WARN %s (process %d): %s\n", fn, self_index(m), what);
    m->api_errors++;
    return code;
}

static void comm_free(mpi_comm *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nxs; i++) {
        free(c->xs[i]->called);
        free(c->xs[i]->send);
        free(c->xs[i]->recv);
        free(c->xs[i]);
    }
    free(c->xs);
    for (int r = 0; c->box != NULL && r < c->size; r++) /* NULL: comm_new ran out of memory */
        for (mpi_msg *g = c->box[r].head, *next; g != NULL; g = next) {
            next = g->next;
            free(g->data);
            free(g);
        }
    free(c->box);
    free(c->world);
    free(c->rank_of);
    free(c->freed);
    free(c->seq);
    free(c);
}

/* A communicator of size ranks, none placed yet (rank_of all -1). */
static mpi_comm *comm_new(int size, int nprocs, const char *made_by)
{
    mpi_comm *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->size = size;
    c->made_by = made_by;
    c->world = calloc((size_t)size, sizeof(int));
    c->rank_of = malloc((size_t)nprocs * sizeof(int));
    c->freed = calloc((size_t)size, 1);
    c->seq = calloc((size_t)size, sizeof(unsigned long));
    c->box = calloc((size_t)size, sizeof(mpi_box));
    if (c->world == NULL || c->rank_of == NULL || c->freed == NULL || c->seq == NULL || c->box == NULL) {
        comm_free(c);
        return NULL;
    }
    for (int p = 0; p < nprocs; p++)
        c->rank_of[p] = -1;
    return c;
}

/* Lists a new communicator under the next handle. */
static int comm_add(struct emu_mpi *s, mpi_comm *c)
{
    if (emu_vec_grow((void **)&s->comms, &s->capcomms, s->ncomms, sizeof(*s->comms)) < 0)
        return -1;
    c->handle = (int)s->ncomms;
    s->comms[s->ncomms++] = c;
    return 0;
}

/* The MPI state, with the world communicator, made on first use. */
static struct emu_mpi *mpi_state(emu *m)
{
    struct emu_mpi *s = m->mpi;
    mpi_comm *w;

    if (s != NULL)
        return s;
    if ((s = calloc(1, sizeof(*s))) == NULL || (s->self = calloc((size_t)m->nprocs, sizeof(*s->self))) == NULL ||
        (s->comms = calloc(3, sizeof(*s->comms))) == NULL || (w = comm_new(m->nprocs, m->nprocs, NULL)) == NULL) {
        if (s != NULL) {
            free(s->self);
            free(s->comms);
        }
        free(s);
        return NULL;
    }
    s->capcomms = 3;
    s->ncomms = 3;
    w->handle = MPI_COMM_WORLD;
    s->comms[MPI_COMM_WORLD] = w;
    for (int p = 0; p < m->nprocs; p++)
        w->world[p] = w->rank_of[p] = p;
    m->mpi = s;
    return s;
}

/* The communicator a handle names for the calling process, or NULL with
 * *code set and the problem printed. */
static mpi_comm *comm_get(emu *m, MPI_Comm handle, const char *fn, int *code)
{
    struct emu_mpi *s = mpi_state(m);
    int me = self_index(m);
    mpi_comm *c = NULL;

    if (s == NULL) {
        *code = mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
        return NULL;
    }
    if (handle == MPI_COMM_SELF) {
        if (s->self[me] == NULL && (s->self[me] = comm_new(1, m->nprocs, "MPI_COMM_SELF")) != NULL) {
            s->self[me]->handle = MPI_COMM_SELF;
            s->self[me]->world[0] = me;
            s->self[me]->rank_of[me] = 0;
        }
        if ((c = s->self[me]) == NULL) {
            *code = mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
            return NULL;
        }
    } else if (handle > 0 && (size_t)handle < s->ncomms)
        c = s->comms[handle];
    if (c == NULL || c->rank_of[me] < 0) {
        *code = mpi_fail(m, fn, handle == MPI_COMM_NULL ? "MPI_COMM_NULL is not a communicator"
                                : c == NULL ? "not a communicator"
                                            : "a communicator this process is not a member of", MPI_ERR_COMM);
        return NULL;
    }
    if (c->freed[c->rank_of[me]]) {
        *code = mpi_fail(m, fn, "a communicator this process has freed", MPI_ERR_COMM);
        return NULL;
    }
    return c;
}

static int hc_done(const void *arg)
{
    return ((const struct emu_hostcoll *)arg)->done;
}

/* acc[i] = acc[i] op in[i]: integers wrap (unsigned arithmetic), floats
 * round as their type does. */
#define MPI_REDUCE(T, U)                                                                           \
    for (int i = 0; i < count; i++) {                                                              \
        T a, b;                                                                                    \
        memcpy(&a, acc + (size_t)i * sizeof(T), sizeof(T));                                       \
        memcpy(&b, (const char *)in + (size_t)i * sizeof(T), sizeof(T));                          \
        a = op == MPI_SUM ? (T)((U)a + (U)b) : op == MPI_PROD ? (T)((U)a * (U)b)                   \
            : op == MPI_MAX ? (b > a ? b : a) : (b < a ? b : a);                                   \
        memcpy(acc + (size_t)i * sizeof(T), &a, sizeof(T));                                        \
    }

static void reduce_into(char *acc, const void *in, int count, MPI_Datatype type, MPI_Op op)
{
    switch (type) {
    case MPI_INT: MPI_REDUCE(int, unsigned) break;
    case MPI_LONG: MPI_REDUCE(long, unsigned long) break;
    case MPI_FLOAT: MPI_REDUCE(float, float) break;
    default: MPI_REDUCE(double, double) break;
    }
}

/* What MPI_Comm_split and its kin send: each rank's color and key. */
typedef struct split_arg {
    int color, key, rank;
} split_arg;

static int split_order(const void *a, const void *b)
{
    const split_arg *x = a, *y = b;
    if (x->color != y->color)
        return x->color < y->color ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* MPI_Comm_create's argument: first the split's (split_run reads it as
 * one), then the group this process passed. */
typedef struct create_arg {
    split_arg s;
    const struct emu_mpi_group *g;
    int conflict; /* set by the exchange: the groups overlap without being the same */
} create_arg;

static int group_same(const struct emu_mpi_group *x, const struct emu_mpi_group *y)
{
    return x->size == y->size && (x->size == 0 || memcmp(x->procs, y->procs, (size_t)x->size * sizeof(int)) == 0);
}

/* MPI-3.1 6.4.2: the groups passed are the same or disjoint. Every process
 * in a group passed must have passed that same group. */
static int create_conflict(const mpi_comm *c, const struct emu_hostcoll *h)
{
    for (int r = 0; r < c->size; r++) {
        const struct emu_mpi_group *g = ((const create_arg *)h->send[r])->g;
        for (int i = 0; i < g->size; i++) {
            int q = c->rank_of[g->procs[i]];
            if (q < 0 || !group_same(g, ((const create_arg *)h->send[q])->g))
                return 1;
        }
    }
    return 0;
}

/* The communicators a split makes: one per color, ranked by key, ties by
 * their rank in the parent; MPI_UNDEFINED gets MPI_COMM_NULL. Returns -1
 * out of memory (nothing handed out: hc_fail() fails every rank's call). */
static int split_run(emu *m, const mpi_comm *c, struct emu_hostcoll *h)
{
    struct emu_mpi *s = m->mpi;
    split_arg *a;
    size_t first = s->ncomms;

    if (h->kind == HC_CREATE && create_conflict(c, h)) {
        for (int r = 0; r < c->size; r++) { /* everyone is told, and nothing is made */
            ((create_arg *)(void *)h->send[r])->conflict = 1;
            *(MPI_Comm *)h->recv[r] = MPI_COMM_NULL;
        }
        return 0;
    }
    if ((a = malloc((size_t)c->size * sizeof(*a))) == NULL)
        return -1;
    for (int r = 0; r < c->size; r++) {
        a[r] = *(const split_arg *)h->send[r];
        a[r].rank = r;
    }
    qsort(a, (size_t)c->size, sizeof(*a), split_order);
    for (int i = 0, j; i < c->size; i = j) {
        mpi_comm *n;
        for (j = i; j < c->size && a[j].color == a[i].color; j++)
            ;
        if (a[i].color == MPI_UNDEFINED)
            continue;
        if ((n = comm_new(j - i, m->nprocs, hc_name[h->kind])) == NULL || comm_add(s, n) < 0) {
            comm_free(n);
            while (s->ncomms > first) /* none of this split's is handed out */
                comm_free(s->comms[--s->ncomms]);
            free(a);
            return -1;
        }
        for (int k = i; k < j; k++) {
            n->world[k - i] = c->world[a[k].rank];
            n->rank_of[c->world[a[k].rank]] = k - i;
        }
    }
    for (int i = 0; i < c->size; i++) {
        MPI_Comm out = MPI_COMM_NULL;
        if (a[i].color != MPI_UNDEFINED)
            for (size_t k = first; k < s->ncomms; k++)
                if (s->comms[k]->rank_of[c->world[a[i].rank]] >= 0)
                    out = (MPI_Comm)k;
        *(MPI_Comm *)h->recv[a[i].rank] = out;
    }
    free(a);
    return 0;
}

/* The transfer of a message or an exchange that cannot get its memory
 * takes no time (its data is there), and the run ends as out of memory: no
 * call failed, none is counted as failed. */
static void no_memory(emu *m, const char *what)
{
    fprintf(stderr, "scalepath emulate: WARN %s: out of host memory\n", what);
    m->oom = 1;
}

/* --- Time on the network ----------------------------------------------------
 *
 * MPI's data moves between the hosts of the processes' first GPUs (where
 * they run) over the platform's route, sharing its links with whatever else
 * runs; data between two processes of one node takes no time (host memory
 * is not modelled), and nor does MPI's software (no sourced figure). A
 * message moves once its send and its receive are both posted (MPI's
 * rendezvous; the send returns at once, as a buffered one does), and its
 * receive completes when it has arrived. An exchange moves, once every
 * process has called it, the bytes the long-message algorithms of Thakur,
 * Rabenseifner and Gropp ("Optimization of Collective Communication
 * Operations in MPICH", IJHPCA 19(1), 2005) move, laid out on a ring in rank
 * order: all-gather a ring; all-reduce a reduce-scatter and an all-gather
 * (each edge 2(n-1)/n of the buffer); broadcast a scatter then an
 * all-gather; reduce a reduce-scatter then a gather; gather and scatter
 * each share to or from the root. */

/* The node a process runs on: its first GPU's. */
static int proc_node(const emu *m, int proc)
{
    return plat_rank_node(m->plat, emu_process_device(m, proc));
}

/* A transfer on its way: a receive's message, or an exchange in stages. */
typedef struct mpi_move {
    emu *m;
    struct emu_mpi_request *r; /* the receive it completes, or NULL */
    struct emu_hostcoll *h;    /* the exchange it completes, or NULL */
    emu_flow *flows;           /* stage 0's, then stage 1's (owned) */
    size_t nflows[2];
    int stage;
    size_t rec;                /* its record in m->mpi->moves */
} mpi_move;

static void moved(void *arg);

/* Start the move's next stage that has flows; 1 when none is left, -1 out
 * of memory. */
static int move_next(mpi_move *v)
{
    while (v->stage < 2 && v->nflows[v->stage] == 0)
        v->stage++;
    if (v->stage == 2)
        return 1;
    return v->m->svc.transfer(v->m->svc.ctx, v->flows + (v->stage == 1 ? v->nflows[0] : 0), v->nflows[v->stage],
                              moved, v) < 0
               ? -1
               : 0;
}

static void move_free(mpi_move *v)
{
    v->m->mpi_moving--;
    free(v->flows);
    free(v);
}

/* A stage has arrived: the next starts, or what the move carries is done. */
static void moved(void *arg)
{
    mpi_move *v = arg;
    emu *m = v->m;
    int rc;

    v->stage++;
    if ((rc = move_next(v)) == 0)
        return;
    if (rc < 0)
        no_memory(m, v->r != NULL ? "an MPI message" : "an MPI exchange");
    m->mpi->moves[v->rec].end_s = m->svc.now(m->svc.ctx);
    /* Out of memory, the rest of the move takes no time: its data is there,
     * the run fails as out of memory, and no rank is left waiting. */
    if (v->r != NULL) {
        v->r->moving = 0;
        v->r->done = 1;
    } else {
        v->h->done = 1;
    }
    move_free(v);
    emu_wake(m);
}

/* Move flows (nflows[0] of stage 0, then nflows[1]) for a receive (its
 * message from rank src of its communicator) or an exchange, recorded; the
 * flows are taken (freed). 1 when there is nothing to move (done now), 0
 * when started, -1 out of memory. */
static int move_start(emu *m, struct emu_mpi_request *r, int src, struct emu_hostcoll *h, emu_flow *flows,
                      const size_t nflows[2])
{
    struct emu_mpi *s = m->mpi;
    mpi_move *v;
    int rc;

    if (nflows[0] + nflows[1] == 0 || m->svc.transfer == NULL) {
        free(flows);
        return 1;
    }
    if ((v = malloc(sizeof(*v))) == NULL ||
        emu_vec_grow((void **)&s->moves, &s->capmoves, s->nmoves, sizeof(*s->moves)) < 0) {
        free(v);
        free(flows);
        return -1;
    }
    if (r != NULL)
        s->moves[s->nmoves] = (struct mpi_move_rec){"message", {r->comm->world[src], r->comm->world[r->rank]}, NULL,
                                                    r->comm->handle, -1, (uint64_t)r->st.count_bytes,
                                                    m->svc.now(m->svc.ctx), -1.0};
    else
        s->moves[s->nmoves] = (struct mpi_move_rec){hc_name[h->kind], {-1, -1}, h->comm, h->comm->handle,
                                                    hc_rooted(h->kind) ? h->root : -1,
                                                    (uint64_t)type_size(h->type) * (uint64_t)h->count,
                                                    m->svc.now(m->svc.ctx), -1.0};
    *v = (mpi_move){m, r, h, flows, {nflows[0], nflows[1]}, 0, s->nmoves++};
    m->mpi_moving++;
    if (r != NULL)
        r->moving = 1; /* before the transfer starts: starting it lets others run */
    if ((rc = move_next(v)) < 0) {
        if (r != NULL)
            r->moving = 0;
        move_free(v);
    }
    return rc;
}

/* Appends the flow from rank a to rank b of c, if they run on two nodes. */
static size_t flow_add(const emu *m, const mpi_comm *c, emu_flow *f, size_t k, int a, int b, double bytes)
{
    int pa = c->world[a], pb = c->world[b];
    if (bytes > 0.0 && proc_node(m, pa) != proc_node(m, pb))
        f[k++] = (emu_flow){emu_process_device(m, pa), emu_process_device(m, pb), bytes};
    return k;
}

/* The ring, each rank to the next, each edge carrying bytes. */
static size_t ring_add(const emu *m, const mpi_comm *c, emu_flow *f, size_t k, double bytes)
{
    for (int p = 0; c->size > 1 && p < c->size; p++)
        k = flow_add(m, c, f, k, p, (p + 1) % c->size, bytes);
    return k;
}

/* The root to every other rank (out), or every other to the root. */
static size_t star_add(const emu *m, const mpi_comm *c, emu_flow *f, size_t k, int root, int out, double bytes)
{
    for (int p = 0; p < c->size; p++)
        if (p != root)
            k = out ? flow_add(m, c, f, k, root, p, bytes) : flow_add(m, c, f, k, p, root, bytes);
    return k;
}

/* The exchange's data is in place: it is done when its bytes have moved. */
static void hc_move(emu *m, const mpi_comm *c, struct emu_hostcoll *h)
{
    int n = c->size;
    double z = (double)type_size(h->type) * h->count, share = z / n;
    emu_flow *f;
    size_t k[2] = {0, 0};
    int rc;

    if (n < 2 || m->svc.transfer == NULL ||
        (h->kind != HC_ALLREDUCE && h->kind != HC_ALLGATHER && !hc_rooted(h->kind))) {
        h->done = 1; /* no data between nodes: no time */
        return;
    }
    if ((f = malloc((2 * (size_t)n + 1) * sizeof(*f))) == NULL) {
        no_memory(m, "an MPI exchange");
        h->done = 1; /* its data is there; the run fails as out of memory */
        return;
    }
    switch (h->kind) {
    case HC_ALLREDUCE:
        k[0] = ring_add(m, c, f, 0, 2.0 * (n - 1) * share);
        break;
    case HC_ALLGATHER:
        k[0] = ring_add(m, c, f, 0, (n - 1) * z);
        break;
    case HC_BCAST:
        k[0] = star_add(m, c, f, 0, h->root, 1, share);
        k[1] = ring_add(m, c, f, k[0], (n - 1) * share) - k[0];
        break;
    case HC_REDUCE:
        k[0] = ring_add(m, c, f, 0, (n - 1) * share);
        k[1] = star_add(m, c, f, k[0], h->root, 0, share) - k[0];
        break;
    case HC_GATHER:
    case HC_SCATTER:
        k[0] = star_add(m, c, f, 0, h->root, h->kind == HC_SCATTER, z);
        break;
    default: /* no data: a barrier, a communicator made */
        break;
    }
    if ((rc = move_start(m, NULL, 0, h, f, k)) != 0)
        h->done = 1; /* nothing to move, or out of memory (as above) */
    if (rc < 0)
        no_memory(m, "an MPI exchange");
}

/* The exchange could not run (out of host memory): every rank's call
 * returns an error rather than wait forever (each said by exchange()), a
 * communicator to make is MPI_COMM_NULL, and the run ends as out of memory. */
static void hc_fail(emu *m, const mpi_comm *c, struct emu_hostcoll *h)
{
    m->oom = 1;
    if (hc_makes_comm(h->kind))
        for (int r = 0; r < c->size; r++)
            *(MPI_Comm *)h->recv[r] = MPI_COMM_NULL;
    h->failed = 1;
    h->done = 1;
}

/* The whole exchange, once every rank has arrived. */
static void hc_run(emu *m, mpi_comm *c, struct emu_hostcoll *h)
{
    int n = c->size;
    size_t z = type_size(h->type) * (size_t)h->count;

    if (z == 0 && !hc_makes_comm(h->kind)) {
        h->done = 1; /* no data (its buffers may be NULL, as MPI allows) */
        return;
    }
    if (h->kind == HC_BCAST) {
        for (int p = 0; p < n; p++)
            if (p != h->root)
                memcpy(h->recv[p], h->send[h->root], z);
    } else if (h->kind == HC_ALLGATHER) {
        char *all = emu_huge(malloc(z * (size_t)n + 1), z * (size_t)n);
        if (all == NULL) {
            hc_fail(m, c, h);
            return;
        }
        for (int p = 0; p < n; p++)
            memcpy(all + (size_t)p * z, h->send[p] == MPI_IN_PLACE ? (char *)h->recv[p] + (size_t)p * z : h->send[p], z);
        for (int p = 0; p < n; p++)
            memcpy(h->recv[p], all, z * (size_t)n);
        free(all);
    } else if (h->kind == HC_ALLREDUCE || h->kind == HC_REDUCE) {
        char *acc = emu_huge(malloc(z + 1), z);
        if (acc == NULL) {
            hc_fail(m, c, h);
            return;
        }
        memcpy(acc, h->send[0] == MPI_IN_PLACE ? h->recv[0] : h->send[0], z);
        for (int p = 1; p < n; p++) /* in rank order, in the type's own arithmetic */
            reduce_into(acc, h->send[p] == MPI_IN_PLACE ? h->recv[p] : h->send[p], h->count, h->type, h->op);
        for (int p = 0; p < n; p++)
            if (h->kind == HC_ALLREDUCE || p == h->root)
                memcpy(h->recv[p], acc, z);
        free(acc);
    } else if (h->kind == HC_GATHER) {
        for (int p = 0; p < n; p++) /* the root's own block, in place, is there already */
            if (h->send[p] != MPI_IN_PLACE)
                memmove((char *)h->recv[h->root] + (size_t)p * z, h->send[p], z);
    } else if (h->kind == HC_SCATTER) {
        for (int p = 0; p < n; p++)
            if (h->recv[p] != MPI_IN_PLACE)
                memmove(h->recv[p], (const char *)h->send[h->root] + (size_t)p * z, z);
    } else if (hc_makes_comm(h->kind)) {
        if (split_run(m, c, h) < 0) {
            hc_fail(m, c, h);
            return;
        }
    }
    hc_move(m, c, h);
}

/* Is this rank's buffer read (send) or written (recv) by the exchange? */
static int sends(int kind, int rank, int root)
{
    return kind == HC_SCATTER || kind == HC_BCAST ? rank == root : kind != HC_BARRIER && kind != HC_FINALIZE;
}

static int receives(int kind, int rank, int root)
{
    return kind == HC_REDUCE || kind == HC_GATHER ? rank == root : kind != HC_BARRIER && kind != HC_FINALIZE;
}

static int exchange(int kind, const void *send, void *recv, int count, MPI_Datatype type, MPI_Op op, int root,
                    MPI_Comm comm, const char *fn)
{
    emu *m = mpi_runtime(fn);
    emu_proc *P;
    mpi_comm *c;
    struct emu_hostcoll *h;
    int me, rc, splits = hc_makes_comm(kind);

    if (m == NULL)
        return MPI_ERR_OTHER;
    P = emu_self(m);
    if ((c = comm_get(m, comm, fn, &rc)) == NULL)
        return rc;
    me = c->rank_of[self_index(m)];
    if (splits && recv == NULL)
        return mpi_fail(m, fn, "a NULL communicator to set", MPI_ERR_ARG);
    if (!splits && kind != HC_BARRIER && kind != HC_FINALIZE &&
        (count < 0 || type_size(type) == 0 || (sends(kind, me, root) && send == NULL && count > 0) ||
         (receives(kind, me, root) && recv == NULL && count > 0)))
        return mpi_fail(m, fn, "a bad count, type or buffer", MPI_ERR_ARG);
    if ((kind == HC_ALLREDUCE || kind == HC_REDUCE) && type != MPI_INT && type != MPI_LONG && type != MPI_FLOAT &&
        type != MPI_DOUBLE)
        return mpi_fail(m, fn, "the emulator reduces MPI_INT, MPI_LONG, MPI_FLOAT and MPI_DOUBLE only", MPI_ERR_ARG);
    if ((kind == HC_ALLREDUCE || kind == HC_REDUCE) && (op < MPI_SUM || op > MPI_PROD))
        return mpi_fail(m, fn, "unknown operation", MPI_ERR_ARG);
    if (hc_rooted(kind) &&
        (root < 0 || root >= c->size))
        return mpi_fail(m, fn, "root out of range", MPI_ERR_ROOT);
    if (P->mpi_state != 1) /* before anything is recorded: the others are not matched against it */
        return mpi_fail(m, fn, P->mpi_state == 0 ? "called before MPI_Init" : "called after MPI_Finalize",
                        MPI_ERR_OTHER);
    if (c->seq[me] == c->nxs) { /* the first rank here */
        const void **sendv = calloc((size_t)c->size, sizeof(void *));
        void **recvv = calloc((size_t)c->size, sizeof(void *));
        unsigned char *called = calloc((size_t)c->size, 1);
        if (sendv == NULL || recvv == NULL || called == NULL ||
            emu_vec_grow((void **)&c->xs, &c->capxs, c->nxs, sizeof(*c->xs)) < 0 ||
            (h = calloc(1, sizeof(*h))) == NULL) {
            free(sendv);
            free(recvv);
            free(called);
            return mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
        }
        *h = (struct emu_hostcoll){kind, count, root, type, op, 0, 0, 0, c, c->nxs, called, sendv, recvv};
        c->xs[c->nxs++] = h;
    }
    h = c->xs[c->seq[me]];
    if (h->kind != kind || h->count != count || h->type != type || h->root != root || h->op != op) {
        char what[240];
        snprintf(what, sizeof(what), "exchange number %lu on its communicator: this process calls %s where others "
                 "called %s (or another count, type, root or operation); MPI would hang or corrupt data",
                 c->seq[me], fn, hc_name[h->kind]);
        return mpi_fail(m, fn, what, MPI_ERR_ARG);
    }
    c->seq[me]++;
    h->called[me] = 1;
    h->send[me] = send;
    h->recv[me] = recv;
    if (++h->arrived == c->size) {
        hc_run(m, c, h);
        emu_wake(m);
    }
    if (!h->done)
        emu_wait_what(m, EMU_WAIT_MPI, hc_done, h);
    if (h->failed)
        return mpi_fail(m, fn, "out of host memory: the exchange could not run", MPI_ERR_OTHER);
    if (kind == HC_FINALIZE && h->done)
        P->mpi_state = 2;
    return h->done ? MPI_SUCCESS : MPI_ERR_OTHER;
}

/* "(MPI exchange number 3)" on the world, or the communicator said. */
static size_t where(const mpi_comm *c, unsigned long number, char *buf, size_t size)
{
    if (c->handle == MPI_COMM_WORLD)
        return (size_t)snprintf(buf, size, "MPI exchange number %lu", number);
    return (size_t)snprintf(buf, size, "MPI exchange number %lu on a communicator of %d process(es) that %s made",
                            number, c->size, c->made_by);
}

void emu_mpi_missing(const emu *m, const void *hostcoll, char *buf, size_t size)
{
    const struct emu_hostcoll *h = hostcoll;
    const mpi_comm *c = h->comm;
    size_t len = (size_t)snprintf(buf, size, "%s (", hc_name[h->kind]);
    (void)m;

    if (len < size)
        len += where(c, h->number, buf + len, size - len);
    if (len < size)
        len += (size_t)snprintf(buf + len, size - len, "): process(es) ");
    for (int r = 0, first = 1; r < c->size && len + 32 < size; r++) {
        if (h->called[r])
            continue;
        if (c->handle == MPI_COMM_WORLD)
            len += (size_t)snprintf(buf + len, size - len, "%s%d", first ? "" : ", ", r);
        else /* the process, and its rank here */
            len += (size_t)snprintf(buf + len, size - len, "%s%d (rank %d)", first ? "" : ", ", c->world[r], r);
        first = 0;
    }
    if (len + 40 < size)
        len += (size_t)snprintf(buf + len, size - len, " of %s%d never called it",
                                c->handle == MPI_COMM_WORLD ? "" : "its ", c->size);
    if (c->cg_parent != 0 && len + 40 < size) /* members that passed the group otherwise met elsewhere */
        snprintf(buf + len, size - len, " (or called it with the group in another order)");
}

/* --- Point-to-point messages ------------------------------------------------ */

static int accepts(const struct emu_mpi_request *r, int src, int tag)
{
    return (r->source == MPI_ANY_SOURCE || r->source == src) && (r->tag == MPI_ANY_TAG || r->tag == tag);
}

/* Match a receive with a message: its bytes (truncated to the buffer)
 * written, and the receive done once they have arrived (at once from a
 * process of its node). Starting a transfer lets other actors run: the
 * receive and the message must already be out of the lists others search.
 * Out of memory: said, the receive done at once (no_memory()). */
static void deliver(emu *m, struct emu_mpi_request *r, int src, int tag, const char *data, size_t bytes)
{
    size_t n = bytes <= r->cap ? bytes : r->cap;
    size_t k[2] = {0, 0};
    emu_flow one, *f;
    int rc;

    if (n > 0)
        memcpy(r->buf, data, n);
    r->st.MPI_SOURCE = src;
    r->st.MPI_TAG = tag;
    r->st.count_bytes = (long long)n;
    r->err = bytes > r->cap ? MPI_ERR_TRUNCATE : MPI_SUCCESS;
    r->st.MPI_ERROR = r->err;
    if (flow_add(m, r->comm, &one, 0, src, r->rank, (double)n) == 0 || m->svc.transfer == NULL) {
        r->done = 1; /* from its own node: no time */
        return;
    }
    if ((f = malloc(sizeof(*f))) == NULL) {
        no_memory(m, "an MPI message");
        r->done = 1; /* its data is there; the run fails as out of memory */
        return;
    }
    f[0] = one;
    k[0] = 1;
    if ((rc = move_start(m, r, src, NULL, f, k)) != 0)
        r->done = 1; /* nothing to move, or out of memory (as above) */
    if (rc < 0)
        no_memory(m, "an MPI message");
}

static struct emu_mpi_request *request_new(emu *m, struct emu_mpi *s, mpi_comm *c)
{
    struct emu_mpi_request *r = calloc(1, sizeof(*r));
    if (r == NULL || emu_vec_grow((void **)&s->live, &s->caplive, s->nlive, sizeof(*s->live)) < 0) {
        free(r);
        return NULL;
    }
    r->owner = self_index(m);
    r->comm = c;
    r->rank = c->rank_of[r->owner];
    r->slot = s->nlive;
    s->live[s->nlive++] = r;
    return r;
}

static void request_free(struct emu_mpi *s, struct emu_mpi_request *r)
{
    s->live[r->slot] = s->live[--s->nlive];
    s->live[r->slot]->slot = r->slot;
    free(r);
}

/* Checks shared by sends and receives; peer is the destination or source.
 * Sets *cp to the communicator. */
static int p2p_args(emu *m, const char *fn, const void *buf, int count, MPI_Datatype type, int peer, int tag,
                    MPI_Comm comm, int recv, mpi_comm **cp)
{
    int rc;
    if (emu_self(m)->mpi_state != 1)
        return mpi_fail(m, fn, emu_self(m)->mpi_state == 0 ? "called before MPI_Init" : "called after MPI_Finalize",
                        MPI_ERR_OTHER);
    if ((*cp = comm_get(m, comm, fn, &rc)) == NULL)
        return rc;
    if (count < 0)
        return mpi_fail(m, fn, "a negative count", MPI_ERR_COUNT);
    if (type_size(type) == 0)
        return mpi_fail(m, fn, "an unknown datatype", MPI_ERR_TYPE);
    if (count > 0 && buf == NULL)
        return mpi_fail(m, fn, "a NULL buffer", MPI_ERR_ARG);
    if (peer != MPI_PROC_NULL && (peer < (recv ? MPI_ANY_SOURCE : 0) || peer >= (*cp)->size)) {
        char what[96];
        snprintf(what, sizeof(what), "%s %d is not a rank of the communicator's %d", recv ? "source" : "destination",
                 peer, (*cp)->size);
        return mpi_fail(m, fn, what, MPI_ERR_RANK);
    }
    if (tag < (recv ? MPI_ANY_TAG : 0) || tag > MPI_TAG_UB_VALUE)
        return mpi_fail(m, fn, "a tag out of range", MPI_ERR_TAG);
    return MPI_SUCCESS;
}

static int isend(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm, MPI_Request *req,
                 const char *fn)
{
    emu *m = mpi_runtime(fn);
    mpi_comm *c;
    int me, rc;
    size_t bytes;
    mpi_box *b;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if (req != NULL)
        *req = MPI_REQUEST_NULL;
    if ((rc = p2p_args(m, fn, buf, count, type, dest, tag, comm, 0, &c)) != MPI_SUCCESS)
        return rc;
    me = c->rank_of[self_index(m)];
    bytes = (size_t)count * type_size(type);
    if (dest != MPI_PROC_NULL) {
        struct emu_mpi_request *r, *prev = NULL;
        b = &c->box[dest];
        /* A process that has left main takes nothing more: its receives'
         * buffers may be gone (an MPI error of its own, not a crash here). */
        for (r = m->procs[c->world[dest]].running ? b->posted : NULL; r != NULL && !accepts(r, me, tag);
             r = r->next_posted)
            prev = r;
        if (r != NULL) { /* the first receive posted for it, taken before deliver()'s transfer lets others run */
            if (prev != NULL)
                prev->next_posted = r->next_posted;
            else
                b->posted = r->next_posted;
            if (b->posted_tail == r)
                b->posted_tail = prev;
            deliver(m, r, me, tag, buf, bytes);
            emu_wake(m);
        } else {
            mpi_msg *g = calloc(1, sizeof(*g));
            if (g == NULL || (g->data = emu_huge(malloc(bytes + 1), bytes)) == NULL) {
                free(g);
                return mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
            }
            if (bytes > 0)
                memcpy(g->data, buf, bytes);
            *g = (mpi_msg){me, tag, bytes, g->data, NULL};
            if (b->tail != NULL)
                b->tail->next = g;
            else
                b->head = g;
            b->tail = g;
            emu_wake(m); /* a probe, or a poll, may wait for it */
        }
    }
    if (req != NULL) { /* buffered: complete already */
        struct emu_mpi_request *r = request_new(m, m->mpi, c);
        if (r == NULL)
            return mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
        r->done = 1;
        r->st.MPI_SOURCE = me;
        r->st.MPI_TAG = tag;
        *req = r;
    }
    return MPI_SUCCESS;
}

static int irecv(void *buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm, MPI_Request *req,
                 const char *fn)
{
    emu *m = mpi_runtime(fn);
    mpi_comm *c;
    struct emu_mpi_request *r;
    mpi_box *b;
    int rc;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if (req == NULL)
        return mpi_fail(m, fn, "a NULL request", MPI_ERR_REQUEST);
    *req = MPI_REQUEST_NULL;
    if ((rc = p2p_args(m, fn, buf, count, type, source, tag, comm, 1, &c)) != MPI_SUCCESS)
        return rc;
    if ((r = request_new(m, m->mpi, c)) == NULL)
        return mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
    r->buf = buf;
    r->cap = (size_t)count * type_size(type);
    r->source = source;
    r->tag = tag;
    *req = r;
    if (source == MPI_PROC_NULL) { /* completes at once, empty */
        r->st.MPI_SOURCE = MPI_PROC_NULL;
        r->st.MPI_TAG = MPI_ANY_TAG;
        r->done = 1;
        return MPI_SUCCESS;
    }
    b = &c->box[r->rank];
    {
        mpi_msg *g, *prev = NULL;
        for (g = b->head; g != NULL && !accepts(r, g->src, g->tag); g = g->next)
            prev = g;
        if (g != NULL) { /* the first message that came for it, taken before deliver()'s transfer lets others run */
            if (prev != NULL)
                prev->next = g->next;
            else
                b->head = g->next;
            if (b->tail == g)
                b->tail = prev;
            deliver(m, r, g->src, g->tag, g->data, g->bytes);
            free(g->data);
            free(g);
            return MPI_SUCCESS;
        }
    }
    if (b->posted_tail != NULL)
        b->posted_tail->next_posted = r;
    else
        b->posted = r;
    b->posted_tail = r;
    return MPI_SUCCESS;
}

static int req_done(const void *arg)
{
    return ((const struct emu_mpi_request *)arg)->done;
}

/* The live request *req names, checked; NULL with *code set (and
 * *code MPI_SUCCESS for MPI_REQUEST_NULL, with an empty status given). */
static struct emu_mpi_request *request_arg(emu *m, MPI_Request *req, MPI_Status *status, const char *fn, int *code)
{
    struct emu_mpi_request *r;
    size_t i = 0;

    *code = MPI_SUCCESS;
    if (req == NULL) {
        *code = mpi_fail(m, fn, "a NULL request", MPI_ERR_REQUEST);
        return NULL;
    }
    if ((r = *req) == MPI_REQUEST_NULL) { /* an empty status, as MPI gives */
        if (status != MPI_STATUS_IGNORE)
            *status = (MPI_Status){MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_SUCCESS, 0};
        return NULL;
    }
    /* looked up, not dereferenced: a copy of a request already completed is freed memory */
    while (m->mpi != NULL && i < m->mpi->nlive && m->mpi->live[i] != r)
        i++;
    if (m->mpi == NULL || i == m->mpi->nlive) {
        *code = mpi_fail(m, fn, "not a live request that MPI_Isend or MPI_Irecv returned (already completed?)",
                         MPI_ERR_REQUEST);
        return NULL;
    }
    if (r->owner != self_index(m)) {
        *code = mpi_fail(m, fn, "another process's request", MPI_ERR_REQUEST);
        return NULL;
    }
    return r;
}

/* A done request's end: its status given, the request freed, the handle
 * MPI_REQUEST_NULL; its error returned. */
static int request_finish(emu *m, MPI_Request *req, MPI_Status *status, const char *fn)
{
    struct emu_mpi_request *r = *req;
    int err = r->err;
    if (status != MPI_STATUS_IGNORE)
        *status = r->st;
    if (err != MPI_SUCCESS)
        mpi_fail(m, fn, "the message is longer than the receive buffer (truncated)", err);
    request_free(m->mpi, r);
    *req = MPI_REQUEST_NULL;
    return err;
}

static int wait1(emu *m, MPI_Request *req, MPI_Status *status, const char *fn)
{
    int code;
    struct emu_mpi_request *r = request_arg(m, req, status, fn, &code);

    if (r == NULL)
        return code;
    if (!r->done)
        emu_wait_what(m, EMU_WAIT_MPI_RECV, req_done, r);
    if (!r->done)
        return MPI_ERR_OTHER;
    return request_finish(m, req, status, fn);
}

void emu_mpi_recv_missing(const emu *m, const void *request, char *buf, size_t size)
{
    const struct emu_mpi_request *r = request;
    const mpi_comm *c = r->comm;
    char src[64], tag[32];
    size_t len, others = 0;
    int other_tag = 0;
    (void)m;
    if (r->source == MPI_ANY_SOURCE)
        snprintf(src, sizeof(src), "any %s", c->handle == MPI_COMM_WORLD ? "process" : "rank");
    else if (c->handle == MPI_COMM_WORLD)
        snprintf(src, sizeof(src), "process %d", r->source);
    else
        snprintf(src, sizeof(src), "rank %d (process %d)", r->source, c->world[r->source]);
    if (r->tag == MPI_ANY_TAG)
        snprintf(tag, sizeof(tag), "any tag");
    else
        snprintf(tag, sizeof(tag), "tag %d", r->tag);
    len = (size_t)snprintf(buf, size, "MPI_Recv (or MPI_Wait) of a message from %s with %s", src, tag);
    if (c->handle != MPI_COMM_WORLD && len < size)
        len += (size_t)snprintf(buf + len, size - len, " on a communicator of %d that %s made", c->size,
                                c->made_by);
    if (len < size)
        len += (size_t)snprintf(buf + len, size - len, ": none was sent");
    for (const mpi_msg *g = c->box[r->rank].head; g != NULL; g = g->next)
        if (r->source == MPI_ANY_SOURCE || g->src == r->source) {
            if (others++ == 0)
                other_tag = g->tag;
        }
    if (others > 0 && len < size)
        snprintf(buf + len, size - len, " (%zu message(s) from it with other tags wait unreceived, tag %d first)",
                 others, other_tag);
}

void emu_mpi_free(emu *m)
{
    struct emu_mpi *s = m->mpi;
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->ncomms; i++)
        comm_free(s->comms[i]);
    free(s->comms);
    for (int p = 0; p < m->nprocs; p++)
        comm_free(s->self[p]);
    free(s->self);
    for (size_t i = 0; i < s->nlive; i++)
        free(s->live[i]);
    free(s->live);
    while (s->probes != NULL) {
        struct emu_mpi_probe *next = s->probes->next;
        free(s->probes);
        s->probes = next;
    }
    while (s->anys != NULL)
        any_unlink(s, s->anys);
    while (s->groups != NULL) {
        struct emu_mpi_group *next = s->groups->next;
        free(s->groups->procs);
        free(s->groups);
        s->groups = next;
    }
    free(s->moves);
    free(s);
    m->mpi = NULL;
}

int MPI_Init(int *argc, char ***argv)
{
    emu *m = mpi_runtime("MPI_Init");
    (void)argc;
    (void)argv;
    if (m == NULL)
        return MPI_ERR_OTHER;
    if (emu_self(m)->mpi_state != 0)
        return mpi_fail(m, "MPI_Init", "called a second time", MPI_ERR_OTHER);
    emu_self(m)->mpi_state = 1;
    return MPI_SUCCESS;
}

/* MPI_THREAD_MULTIPLE, whatever is asked for (MPI allows more than
 * required): the emulator's threads run one at a time, so MPI calls never
 * overlap. */
int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    int rc = MPI_Init(argc, argv);
    (void)required;
    if (rc == MPI_SUCCESS && provided != NULL)
        *provided = MPI_THREAD_MULTIPLE;
    return rc;
}

int MPI_Query_thread(int *provided)
{
    if (provided != NULL)
        *provided = MPI_THREAD_MULTIPLE;
    return MPI_SUCCESS;
}

int MPI_Initialized(int *flag)
{
    emu *m = emu_active;
    if (flag != NULL)
        *flag = m != NULL && m->bound && emu_self(m)->mpi_state >= 1;
    return MPI_SUCCESS;
}

int MPI_Finalize(void)
{
    static char unused;
    return exchange(HC_FINALIZE, &unused, &unused, 0, MPI_BYTE, 0, 0, MPI_COMM_WORLD, "MPI_Finalize");
}

int MPI_Comm_rank(MPI_Comm comm, int *rank)
{
    emu *m = mpi_runtime("MPI_Comm_rank");
    mpi_comm *c;
    int rc;
    if (m == NULL)
        return MPI_ERR_OTHER;
    if ((c = comm_get(m, comm, "MPI_Comm_rank", &rc)) == NULL)
        return rc;
    if (rank == NULL)
        return mpi_fail(m, "MPI_Comm_rank", "a NULL rank to set", MPI_ERR_ARG);
    *rank = c->rank_of[self_index(m)];
    return MPI_SUCCESS;
}

int MPI_Comm_size(MPI_Comm comm, int *size)
{
    emu *m = mpi_runtime("MPI_Comm_size");
    mpi_comm *c;
    int rc;
    if (m == NULL)
        return MPI_ERR_OTHER;
    if ((c = comm_get(m, comm, "MPI_Comm_size", &rc)) == NULL)
        return rc;
    if (size == NULL)
        return mpi_fail(m, "MPI_Comm_size", "a NULL size to set", MPI_ERR_ARG);
    *size = c->size;
    return MPI_SUCCESS;
}

int MPI_Comm_split(MPI_Comm comm, int color, int key, MPI_Comm *newcomm)
{
    split_arg a = {color, key, 0};
    emu *m;
    if (color < 0 && color != MPI_UNDEFINED)
        return (m = mpi_runtime("MPI_Comm_split")) == NULL
                   ? MPI_ERR_OTHER
                   : mpi_fail(m, "MPI_Comm_split", "a negative color (other than MPI_UNDEFINED)", MPI_ERR_ARG);
    return exchange(HC_SPLIT, &a, newcomm, 0, MPI_BYTE, 0, 0, comm, "MPI_Comm_split");
}

/* MPI_COMM_TYPE_SHARED: the processes of one node (one shared memory). */
int MPI_Comm_split_type(MPI_Comm comm, int split_type, int key, MPI_Info info, MPI_Comm *newcomm)
{
    emu *m = mpi_runtime("MPI_Comm_split_type");
    split_arg a = {MPI_UNDEFINED, key, 0};
    (void)info;
    if (m == NULL)
        return MPI_ERR_OTHER;
    if (split_type == MPI_COMM_TYPE_SHARED)
        a.color = emu_self(m)->node;
    else if (split_type != MPI_UNDEFINED)
        return mpi_fail(m, "MPI_Comm_split_type", "the emulator provides MPI_COMM_TYPE_SHARED (and MPI_UNDEFINED) only",
                        MPI_ERR_ARG);
    return exchange(HC_SPLIT_TYPE, &a, newcomm, 0, MPI_BYTE, 0, 0, comm, "MPI_Comm_split_type");
}

int MPI_Comm_dup(MPI_Comm comm, MPI_Comm *newcomm)
{
    split_arg a = {0, 0, 0}; /* one color, ties kept in rank order */
    return exchange(HC_DUP, &a, newcomm, 0, MPI_BYTE, 0, 0, comm, "MPI_Comm_dup");
}

/* --- Groups ------------------------------------------------------------------ */

static struct emu_mpi_group group_empty; /* MPI_GROUP_EMPTY */

/* The group a handle names, checked; NULL with *code set. */
static struct emu_mpi_group *group_get(emu *m, MPI_Group g, const char *fn, int *code)
{
    struct emu_mpi *s = mpi_state(m);
    struct emu_mpi_group *q;

    if (g == MPI_GROUP_EMPTY)
        return &group_empty;
    for (q = s != NULL ? s->groups : NULL; q != NULL && q != g; q = q->next)
        ; /* looked up, not dereferenced: a freed group's handle is freed memory */
    if (q == NULL || q->owner != self_index(m)) {
        *code = mpi_fail(m, fn, g == MPI_GROUP_NULL ? "MPI_GROUP_NULL is not a group"
                                : q == NULL       ? "not a group (freed already?)"
                                                  : "another process's group", MPI_ERR_GROUP);
        return NULL;
    }
    return q;
}

/* A new group of n processes (copied), handed out in *out. */
static int group_new(emu *m, const int *procs, int n, MPI_Group *out, const char *fn)
{
    struct emu_mpi *s = mpi_state(m);
    struct emu_mpi_group *g;

    if (n == 0) {
        *out = MPI_GROUP_EMPTY;
        return MPI_SUCCESS;
    }
    if (s == NULL || (g = calloc(1, sizeof(*g))) == NULL)
        return mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
    if ((g->procs = malloc((size_t)n * sizeof(int))) == NULL) {
        free(g);
        return mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
    }
    memcpy(g->procs, procs, (size_t)n * sizeof(int));
    g->size = n;
    g->owner = self_index(m);
    g->next = s->groups;
    s->groups = g;
    *out = g;
    return MPI_SUCCESS;
}

int MPI_Comm_group(MPI_Comm comm, MPI_Group *group)
{
    emu *m = mpi_runtime("MPI_Comm_group");
    mpi_comm *c;
    int rc;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if ((c = comm_get(m, comm, "MPI_Comm_group", &rc)) == NULL)
        return rc;
    if (group == NULL)
        return mpi_fail(m, "MPI_Comm_group", "a NULL group to set", MPI_ERR_ARG);
    return group_new(m, c->world, c->size, group, "MPI_Comm_group");
}

int MPI_Group_size(MPI_Group group, int *size)
{
    emu *m = mpi_runtime("MPI_Group_size");
    struct emu_mpi_group *g;
    int rc;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if ((g = group_get(m, group, "MPI_Group_size", &rc)) == NULL)
        return rc;
    if (size == NULL)
        return mpi_fail(m, "MPI_Group_size", "a NULL size to set", MPI_ERR_ARG);
    *size = g->size;
    return MPI_SUCCESS;
}

/* Rank r of g's, or MPI_UNDEFINED if the process is not in it. */
static int group_rank_of(const struct emu_mpi_group *g, int proc)
{
    for (int r = 0; r < g->size; r++)
        if (g->procs[r] == proc)
            return r;
    return MPI_UNDEFINED;
}

int MPI_Group_rank(MPI_Group group, int *rank)
{
    emu *m = mpi_runtime("MPI_Group_rank");
    struct emu_mpi_group *g;
    int rc;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if ((g = group_get(m, group, "MPI_Group_rank", &rc)) == NULL)
        return rc;
    if (rank == NULL)
        return mpi_fail(m, "MPI_Group_rank", "a NULL rank to set", MPI_ERR_ARG);
    *rank = group_rank_of(g, self_index(m));
    return MPI_SUCCESS;
}

/* MPI_Group_incl (keep the n ranks listed, in that order) and
 * MPI_Group_excl (drop them, the rest in order): each rank valid and
 * listed once, as MPI requires. */
static int group_pick(MPI_Group group, int n, const int ranks[], MPI_Group *newgroup, int incl, const char *fn)
{
    emu *m = mpi_runtime(fn);
    struct emu_mpi_group *g;
    unsigned char *listed;
    int *procs, k = 0, rc;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if ((g = group_get(m, group, fn, &rc)) == NULL)
        return rc;
    if (newgroup == NULL || n < 0 || (n > 0 && ranks == NULL))
        return mpi_fail(m, fn, "a bad count or rank array, or a NULL group to set", MPI_ERR_ARG);
    if (n > g->size)
        return mpi_fail(m, fn, "more ranks than the group has", MPI_ERR_ARG);
    if ((listed = calloc((size_t)g->size + 1, 1)) == NULL || (procs = malloc(((size_t)g->size + 1) * sizeof(int))) == NULL) {
        free(listed);
        return mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
    }
    for (int i = 0; i < n; i++) {
        if (ranks[i] < 0 || ranks[i] >= g->size || listed[ranks[i]]) {
            char what[96];
            snprintf(what, sizeof(what), "rank %d %s", ranks[i],
                     ranks[i] < 0 || ranks[i] >= g->size ? "is not in the group" : "is listed twice");
            free(listed);
            free(procs);
            return mpi_fail(m, fn, what, MPI_ERR_RANK);
        }
        listed[ranks[i]] = 1;
        if (incl)
            procs[k++] = g->procs[ranks[i]];
    }
    for (int r = 0; !incl && r < g->size; r++)
        if (!listed[r])
            procs[k++] = g->procs[r];
    rc = group_new(m, procs, k, newgroup, fn);
    free(listed);
    free(procs);
    return rc;
}

int MPI_Group_incl(MPI_Group group, int n, const int ranks[], MPI_Group *newgroup)
{
    return group_pick(group, n, ranks, newgroup, 1, "MPI_Group_incl");
}

int MPI_Group_excl(MPI_Group group, int n, const int ranks[], MPI_Group *newgroup)
{
    return group_pick(group, n, ranks, newgroup, 0, "MPI_Group_excl");
}

/* MPI_Group_range_incl and _excl: n triplets (first, last, stride) name
 * the ranks, each valid and named once, as MPI requires; then as
 * MPI_Group_incl and _excl. */
static int group_range(MPI_Group group, int n, int ranges[][3], MPI_Group *newgroup, int incl, const char *fn)
{
    emu *m = mpi_runtime(fn);
    struct emu_mpi_group *g;
    int *ranks, k = 0, rc;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if ((g = group_get(m, group, fn, &rc)) == NULL)
        return rc;
    if (newgroup == NULL || n < 0 || (n > 0 && ranges == NULL))
        return mpi_fail(m, fn, "a bad count or range array, or a NULL group to set", MPI_ERR_ARG);
    if ((ranks = malloc(((size_t)g->size + 1) * sizeof(int))) == NULL)
        return mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
    for (int i = 0; i < n; i++) {
        int first = ranges[i][0], last = ranges[i][1], stride = ranges[i][2];
        if (stride == 0 || first < 0 || first >= g->size || last < 0 || last >= g->size) {
            free(ranks);
            return mpi_fail(m, fn, stride == 0 ? "a range of stride 0" : "a range beyond the group", MPI_ERR_RANK);
        }
        for (long long r = first; stride > 0 ? r <= last : r >= last; r += stride) { /* no overflow */
            if (k == g->size) { /* more ranks than the group has: one is named twice */
                free(ranks);
                return mpi_fail(m, fn, "a rank named twice", MPI_ERR_RANK);
            }
            ranks[k++] = (int)r;
        }
    }
    rc = group_pick(group, k, ranks, newgroup, incl, fn); /* checks each rank is named once */
    free(ranks);
    return rc;
}

int MPI_Group_range_incl(MPI_Group group, int n, int ranges[][3], MPI_Group *newgroup)
{
    return group_range(group, n, ranges, newgroup, 1, "MPI_Group_range_incl");
}

int MPI_Group_range_excl(MPI_Group group, int n, int ranges[][3], MPI_Group *newgroup)
{
    return group_range(group, n, ranges, newgroup, 0, "MPI_Group_range_excl");
}

/* MPI's set operations, in MPI-4.1 section 7.3.2's orders: the union is
 * group1's processes then group2's others, in their orders; the
 * intersection and the difference keep group1's order. */
typedef enum { SET_UNION, SET_INTERSECTION, SET_DIFFERENCE } set_op;

static int group_set(MPI_Group group1, MPI_Group group2, MPI_Group *newgroup, set_op op, const char *fn)
{
    emu *m = mpi_runtime(fn);
    struct emu_mpi_group *a, *b;
    int *procs, k = 0, rc;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if ((a = group_get(m, group1, fn, &rc)) == NULL || (b = group_get(m, group2, fn, &rc)) == NULL)
        return rc;
    if (newgroup == NULL)
        return mpi_fail(m, fn, "a NULL group to set", MPI_ERR_ARG);
    if ((procs = malloc(((size_t)a->size + (size_t)b->size + 1) * sizeof(int))) == NULL)
        return mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
    for (int r = 0; r < a->size; r++) {
        int in_b = group_rank_of(b, a->procs[r]) != MPI_UNDEFINED;
        if (op == SET_UNION || (op == SET_INTERSECTION) == in_b)
            procs[k++] = a->procs[r];
    }
    for (int r = 0; op == SET_UNION && r < b->size; r++)
        if (group_rank_of(a, b->procs[r]) == MPI_UNDEFINED)
            procs[k++] = b->procs[r];
    rc = group_new(m, procs, k, newgroup, fn);
    free(procs);
    return rc;
}

int MPI_Group_union(MPI_Group group1, MPI_Group group2, MPI_Group *newgroup)
{
    return group_set(group1, group2, newgroup, SET_UNION, "MPI_Group_union");
}

int MPI_Group_intersection(MPI_Group group1, MPI_Group group2, MPI_Group *newgroup)
{
    return group_set(group1, group2, newgroup, SET_INTERSECTION, "MPI_Group_intersection");
}

int MPI_Group_difference(MPI_Group group1, MPI_Group group2, MPI_Group *newgroup)
{
    return group_set(group1, group2, newgroup, SET_DIFFERENCE, "MPI_Group_difference");
}

/* MPI_IDENT: the same processes in the same order; MPI_SIMILAR: the same
 * processes in another order; MPI_UNEQUAL otherwise. */
int MPI_Group_compare(MPI_Group group1, MPI_Group group2, int *result)
{
    emu *m = mpi_runtime("MPI_Group_compare");
    struct emu_mpi_group *a, *b;
    int rc, ident = 1;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if ((a = group_get(m, group1, "MPI_Group_compare", &rc)) == NULL ||
        (b = group_get(m, group2, "MPI_Group_compare", &rc)) == NULL)
        return rc;
    if (result == NULL)
        return mpi_fail(m, "MPI_Group_compare", "a NULL result", MPI_ERR_ARG);
    *result = MPI_UNEQUAL;
    if (a->size != b->size)
        return MPI_SUCCESS;
    for (int r = 0; r < a->size; r++) {
        if (group_rank_of(b, a->procs[r]) == MPI_UNDEFINED)
            return MPI_SUCCESS;
        ident &= a->procs[r] == b->procs[r];
    }
    *result = ident ? MPI_IDENT : MPI_SIMILAR;
    return MPI_SUCCESS;
}

int MPI_Group_translate_ranks(MPI_Group group1, int n, const int ranks1[], MPI_Group group2, int ranks2[])
{
    emu *m = mpi_runtime("MPI_Group_translate_ranks");
    struct emu_mpi_group *a, *b;
    int rc;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if ((a = group_get(m, group1, "MPI_Group_translate_ranks", &rc)) == NULL ||
        (b = group_get(m, group2, "MPI_Group_translate_ranks", &rc)) == NULL)
        return rc;
    if (n < 0 || (n > 0 && (ranks1 == NULL || ranks2 == NULL)))
        return mpi_fail(m, "MPI_Group_translate_ranks", "a bad count or rank array", MPI_ERR_ARG);
    for (int i = 0; i < n; i++) {
        if (ranks1[i] == MPI_PROC_NULL) {
            ranks2[i] = MPI_PROC_NULL;
        } else if (ranks1[i] < 0 || ranks1[i] >= a->size) {
            return mpi_fail(m, "MPI_Group_translate_ranks", "a rank not in the first group", MPI_ERR_RANK);
        } else {
            ranks2[i] = group_rank_of(b, a->procs[ranks1[i]]);
        }
    }
    return MPI_SUCCESS;
}

int MPI_Group_free(MPI_Group *group)
{
    emu *m = mpi_runtime("MPI_Group_free");
    struct emu_mpi_group *g, **q;
    int rc;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if (group == NULL)
        return mpi_fail(m, "MPI_Group_free", "a NULL group", MPI_ERR_ARG);
    if ((g = group_get(m, *group, "MPI_Group_free", &rc)) == NULL)
        return rc;
    if (g != &group_empty) { /* MPI_GROUP_EMPTY is a constant: only its handle is cleared */
        for (q = &m->mpi->groups; *q != g; q = &(*q)->next)
            ;
        *q = g->next;
        free(g->procs);
        free(g);
    }
    *group = MPI_GROUP_NULL;
    return MPI_SUCCESS;
}

/* Collective over comm; every process passes a subset of comm's processes:
 * the same group, or (MPI-3.1 section 6.4.2) disjoint ones, one
 * communicator each. A group's members get a communicator ranked in its
 * order (the split's color is the group's first process, the key the rank
 * in it); the others MPI_COMM_NULL. Members check that the communicator
 * holds their group: processes that passed overlapping different groups
 * are told. */
int MPI_Comm_create(MPI_Comm comm, MPI_Group group, MPI_Comm *newcomm)
{
    emu *m = mpi_runtime("MPI_Comm_create");
    struct emu_mpi_group *g;
    create_arg a = {{MPI_UNDEFINED, 0, 0}, NULL, 0};
    mpi_comm *c;
    int rc, me;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if ((c = comm_get(m, comm, "MPI_Comm_create", &rc)) == NULL || (g = group_get(m, group, "MPI_Comm_create", &rc)) == NULL)
        return rc;
    for (int r = 0; r < g->size; r++)
        if (c->rank_of[g->procs[r]] < 0)
            return mpi_fail(m, "MPI_Comm_create", "a group with processes outside the communicator", MPI_ERR_GROUP);
    me = group_rank_of(g, self_index(m));
    if (me != MPI_UNDEFINED) {
        a.s.color = g->procs[0];
        a.s.key = me;
    }
    a.g = g;
    if ((rc = exchange(HC_CREATE, &a, newcomm, 0, MPI_BYTE, 0, 0, comm, "MPI_Comm_create")) != MPI_SUCCESS)
        return rc;
    if (a.conflict)
        return mpi_fail(m, "MPI_Comm_create",
                        "the processes passed different groups that overlap (MPI requires the same group, or "
                        "disjoint ones)", MPI_ERR_GROUP);
    return MPI_SUCCESS;
}

/* MPI_IDENT: one communicator; MPI_CONGRUENT: the same processes in the
 * same order; MPI_SIMILAR: in another order; MPI_UNEQUAL otherwise. */
int MPI_Comm_compare(MPI_Comm comm1, MPI_Comm comm2, int *result)
{
    emu *m = mpi_runtime("MPI_Comm_compare");
    mpi_comm *a, *b;
    int rc, same_order = 1;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if ((a = comm_get(m, comm1, "MPI_Comm_compare", &rc)) == NULL ||
        (b = comm_get(m, comm2, "MPI_Comm_compare", &rc)) == NULL)
        return rc;
    if (result == NULL)
        return mpi_fail(m, "MPI_Comm_compare", "a NULL result", MPI_ERR_ARG);
    *result = MPI_UNEQUAL;
    if (a == b) {
        *result = MPI_IDENT;
        return MPI_SUCCESS;
    }
    if (a->size != b->size)
        return MPI_SUCCESS;
    for (int r = 0; r < a->size; r++) {
        if (b->rank_of[a->world[r]] < 0)
            return MPI_SUCCESS;
        same_order &= b->world[r] == a->world[r];
    }
    *result = same_order ? MPI_CONGRUENT : MPI_SIMILAR;
    return MPI_SUCCESS;
}

/* Collective over the group only (MPI-3.0): its members meet on a hidden
 * communicator of theirs, one per (parent, tag, group), and duplicate it
 * there, in the group's order. A member that never calls leaves the others
 * waiting, reported as a hang; members that pass different groups meet on
 * different ones, and hang the same way. */
int MPI_Comm_create_group(MPI_Comm comm, MPI_Group group, int tag, MPI_Comm *newcomm)
{
    emu *m = mpi_runtime("MPI_Comm_create_group");
    struct emu_mpi *s;
    struct emu_mpi_group *g;
    split_arg a = {0, 0, 0}; /* one color, ties kept in the group's order */
    mpi_comm *c, *h = NULL;
    int rc;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if ((c = comm_get(m, comm, "MPI_Comm_create_group", &rc)) == NULL ||
        (g = group_get(m, group, "MPI_Comm_create_group", &rc)) == NULL)
        return rc;
    if (newcomm == NULL)
        return mpi_fail(m, "MPI_Comm_create_group", "a NULL communicator to set", MPI_ERR_ARG);
    if (tag < 0 || tag > MPI_TAG_UB_VALUE)
        return mpi_fail(m, "MPI_Comm_create_group", "a tag out of range", MPI_ERR_TAG);
    for (int r = 0; r < g->size; r++)
        if (c->rank_of[g->procs[r]] < 0)
            return mpi_fail(m, "MPI_Comm_create_group", "a group with processes outside the communicator",
                            MPI_ERR_GROUP);
    if (group_rank_of(g, self_index(m)) == MPI_UNDEFINED) { /* a local call, as MPI says: no communicator */
        *newcomm = MPI_COMM_NULL;
        return MPI_SUCCESS;
    }
    s = m->mpi;
    for (size_t k = 0; k < s->ncomms && h == NULL; k++) {
        mpi_comm *q = s->comms[k];
        if (q != NULL && q->cg_parent == comm && q->cg_tag == tag && q->size == g->size &&
            memcmp(q->world, g->procs, (size_t)g->size * sizeof(int)) == 0)
            h = q;
    }
    if (h == NULL) {
        if ((h = comm_new(g->size, m->nprocs, "MPI_Comm_create_group")) == NULL || comm_add(s, h) < 0) {
            comm_free(h);
            return mpi_fail(m, "MPI_Comm_create_group", "out of host memory", MPI_ERR_OTHER);
        }
        for (int r = 0; r < g->size; r++) {
            h->world[r] = g->procs[r];
            h->rank_of[g->procs[r]] = r;
        }
        h->cg_parent = comm;
        h->cg_tag = tag;
    }
    return exchange(HC_CREATE_GROUP, &a, newcomm, 0, MPI_BYTE, 0, 0, h->handle, "MPI_Comm_create_group");
}

/* Collective in MPI, which does not oblige it to wait for the others; here
 * it does not. The handle becomes MPI_COMM_NULL, and the process may not
 * use the communicator again. */
int MPI_Comm_free(MPI_Comm *comm)
{
    emu *m = mpi_runtime("MPI_Comm_free");
    mpi_comm *c;
    int rc;
    if (m == NULL)
        return MPI_ERR_OTHER;
    if (comm == NULL)
        return mpi_fail(m, "MPI_Comm_free", "a NULL communicator", MPI_ERR_ARG);
    if ((c = comm_get(m, *comm, "MPI_Comm_free", &rc)) == NULL)
        return rc;
    if (c->handle == MPI_COMM_WORLD || c->handle == MPI_COMM_SELF)
        return mpi_fail(m, "MPI_Comm_free", "MPI_COMM_WORLD and MPI_COMM_SELF cannot be freed", MPI_ERR_COMM);
    c->freed[c->rank_of[self_index(m)]] = 1;
    *comm = MPI_COMM_NULL;
    return MPI_SUCCESS;
}

int MPI_Barrier(MPI_Comm comm)
{
    static char unused;
    return exchange(HC_BARRIER, &unused, &unused, 0, MPI_BYTE, 0, 0, comm, "MPI_Barrier");
}

int MPI_Bcast(void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm)
{
    return exchange(HC_BCAST, buffer, buffer, count, datatype, 0, root, comm, "MPI_Bcast");
}

/* Send and receive sizes that must agree, or MPI_ERR_ARG printed. */
static int same_size(const char *fn, int sendcount, MPI_Datatype sendtype, int recvcount, MPI_Datatype recvtype)
{
    emu *m;
    if ((size_t)sendcount * type_size(sendtype) == (size_t)recvcount * type_size(recvtype))
        return MPI_SUCCESS;
    return (m = mpi_runtime(fn)) == NULL ? MPI_ERR_OTHER : mpi_fail(m, fn, "send and receive sizes differ", MPI_ERR_ARG);
}

int MPI_Allgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
                  MPI_Datatype recvtype, MPI_Comm comm)
{
    int rc;
    /* MPI_IN_PLACE: each process's block is already at its place in recvbuf. */
    if (sendbuf != MPI_IN_PLACE &&
        (rc = same_size("MPI_Allgather", sendcount, sendtype, recvcount, recvtype)) != MPI_SUCCESS)
        return rc;
    return exchange(HC_ALLGATHER, sendbuf, recvbuf, recvcount, recvtype, 0, 0, comm, "MPI_Allgather");
}

int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op, MPI_Comm comm)
{
    return exchange(HC_ALLREDUCE, sendbuf, recvbuf, count, datatype, op, 0, comm, "MPI_Allreduce");
}

/* The calling process's rank in comm, or -1 (comm_get reports it later). */
static int rank_in(MPI_Comm comm)
{
    emu *m = emu_active;
    struct emu_mpi *s;
    if (m == NULL || !m->bound || (s = mpi_state(m)) == NULL)
        return -1;
    if (comm == MPI_COMM_SELF)
        return 0;
    return comm > 0 && (size_t)comm < s->ncomms && s->comms[comm] != NULL ? s->comms[comm]->rank_of[self_index(m)]
                                                                          : -1;
}

/* recvbuf matters at the root only; MPI_IN_PLACE there takes the root's
 * own contribution from recvbuf. */
int MPI_Reduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op, int root,
               MPI_Comm comm)
{
    int r = rank_in(comm); /* -1: a bad communicator, which exchange reports */
    if (sendbuf == MPI_IN_PLACE && r >= 0 && r != root) {
        emu *m = mpi_runtime("MPI_Reduce");
        return m == NULL ? MPI_ERR_OTHER : mpi_fail(m, "MPI_Reduce", "MPI_IN_PLACE at a rank other than the root",
                                                    MPI_ERR_ARG);
    }
    return exchange(HC_REDUCE, sendbuf, recvbuf, count, datatype, op, root, comm, "MPI_Reduce");
}

/* MPI_Gather and MPI_Scatter. MPI_IN_PLACE (a gather's send buffer, a
 * scatter's receive buffer) is the root's only. The exchange is matched on
 * each rank's block: the count and type of its own side (a gather's send,
 * a scatter's receive), or at a root in place, of its other side. */
static int rooted(int kind, const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
                  MPI_Datatype recvtype, int root, MPI_Comm comm, const char *fn)
{
    int gather = kind == HC_GATHER, rc, r = rank_in(comm), at_root = r == root; /* r -1: a bad communicator */
    int own_count = gather ? sendcount : recvcount, other_count = gather ? recvcount : sendcount;
    MPI_Datatype own_type = gather ? sendtype : recvtype, other_type = gather ? recvtype : sendtype;

    if ((gather ? sendbuf : recvbuf) == MPI_IN_PLACE) {
        if (r >= 0 && !at_root) {
            emu *m = mpi_runtime(fn);
            return m == NULL ? MPI_ERR_OTHER : mpi_fail(m, fn, "MPI_IN_PLACE at a rank other than the root",
                                                        MPI_ERR_ARG);
        }
        return exchange(kind, sendbuf, recvbuf, other_count, other_type, 0, root, comm, fn);
    }
    if (at_root && (rc = same_size(fn, sendcount, sendtype, recvcount, recvtype)) != MPI_SUCCESS)
        return rc;
    return exchange(kind, gather || at_root ? sendbuf : NULL, !gather || at_root ? recvbuf : NULL, own_count,
                    own_type, 0, root, comm, fn);
}

int MPI_Gather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
               MPI_Datatype recvtype, int root, MPI_Comm comm)
{
    return rooted(HC_GATHER, sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm, "MPI_Gather");
}

int MPI_Scatter(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
                MPI_Datatype recvtype, int root, MPI_Comm comm)
{
    return rooted(HC_SCATTER, sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm, "MPI_Scatter");
}

int MPI_Send(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm)
{
    return isend(buf, count, datatype, dest, tag, comm, NULL, "MPI_Send");
}

int MPI_Isend(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,
              MPI_Request *request)
{
    emu *m;
    if (request == NULL)
        return (m = mpi_runtime("MPI_Isend")) == NULL ? MPI_ERR_OTHER
                                                       : mpi_fail(m, "MPI_Isend", "a NULL request", MPI_ERR_REQUEST);
    return isend(buf, count, datatype, dest, tag, comm, request, "MPI_Isend");
}

int MPI_Irecv(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
              MPI_Request *request)
{
    return irecv(buf, count, datatype, source, tag, comm, request, "MPI_Irecv");
}

int MPI_Recv(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm, MPI_Status *status)
{
    MPI_Request r = MPI_REQUEST_NULL;
    int rc = irecv(buf, count, datatype, source, tag, comm, &r, "MPI_Recv");
    return rc != MPI_SUCCESS ? rc : wait1(emu_active, &r, status, "MPI_Recv");
}

int MPI_Sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest, int sendtag, void *recvbuf,
                 int recvcount, MPI_Datatype recvtype, int source, int recvtag, MPI_Comm comm, MPI_Status *status)
{
    emu *m = mpi_runtime("MPI_Sendrecv");
    MPI_Request r = MPI_REQUEST_NULL;
    mpi_comm *c;
    int rc;

    if (m == NULL)
        return MPI_ERR_OTHER;
    /* Both halves checked before anything is sent. */
    if ((rc = p2p_args(m, "MPI_Sendrecv", sendbuf, sendcount, sendtype, dest, sendtag, comm, 0, &c)) != MPI_SUCCESS ||
        (rc = p2p_args(m, "MPI_Sendrecv", recvbuf, recvcount, recvtype, source, recvtag, comm, 1, &c)) != MPI_SUCCESS)
        return rc;
    if ((rc = isend(sendbuf, sendcount, sendtype, dest, sendtag, comm, NULL, "MPI_Sendrecv")) != MPI_SUCCESS ||
        (rc = irecv(recvbuf, recvcount, recvtype, source, recvtag, comm, &r, "MPI_Sendrecv")) != MPI_SUCCESS)
        return rc;
    return wait1(m, &r, status, "MPI_Sendrecv");
}

int MPI_Wait(MPI_Request *request, MPI_Status *status)
{
    emu *m = mpi_runtime("MPI_Wait");
    return m == NULL ? MPI_ERR_OTHER : wait1(m, request, status, "MPI_Wait");
}

int MPI_Waitall(int count, MPI_Request requests[], MPI_Status statuses[])
{
    emu *m = mpi_runtime("MPI_Waitall");
    int err = MPI_SUCCESS;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if (count < 0 || (count > 0 && requests == NULL))
        return mpi_fail(m, "MPI_Waitall", "a bad count or request array", MPI_ERR_ARG);
    for (int i = 0; i < count; i++) {
        int rc = wait1(m, &requests[i], statuses != MPI_STATUSES_IGNORE ? &statuses[i] : MPI_STATUS_IGNORE,
                       "MPI_Waitall");
        if (rc != MPI_SUCCESS) /* as MPI: each status says its own error */
            err = MPI_ERR_IN_STATUS;
    }
    return err;
}

/* A query takes a poll's host time when it finds its request unfinished
 * (emu_query), so that a loop of them does not spin at one instant; then
 * it looks again and answers. */
int MPI_Test(MPI_Request *request, int *flag, MPI_Status *status)
{
    emu *m = mpi_runtime("MPI_Test");
    struct emu_mpi_request *r;
    int code;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if (flag == NULL)
        return mpi_fail(m, "MPI_Test", "a NULL flag", MPI_ERR_ARG);
    *flag = 0;
    if ((r = request_arg(m, request, status, "MPI_Test", &code)) == NULL) {
        *flag = code == MPI_SUCCESS; /* MPI_REQUEST_NULL: complete, empty */
        return code;
    }
    emu_query(m, "MPI_Test", r->done ? EMU_QUERY_DONE : EMU_QUERY_WAITING, r->moving, EMU_POLL_TEST_S);
    if (!r->done)
        return MPI_SUCCESS;
    *flag = 1;
    return request_finish(m, request, status, "MPI_Test");
}

int MPI_Testall(int count, MPI_Request requests[], int *flag, MPI_Status statuses[])
{
    emu *m = mpi_runtime("MPI_Testall");
    int err = MPI_SUCCESS, pending = 0, moving = 0, code;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if (flag == NULL || count < 0 || (count > 0 && requests == NULL))
        return mpi_fail(m, "MPI_Testall", "a NULL flag, or a bad count or request array", MPI_ERR_ARG);
    *flag = 0;
    for (int pass = 0; pass < 2; pass++) { /* the second after a poll */
        pending = moving = 0;
        for (int i = 0; i < count; i++) {
            struct emu_mpi_request *r = request_arg(m, &requests[i], MPI_STATUS_IGNORE, "MPI_Testall", &code);
            if (r == NULL && code != MPI_SUCCESS)
                return code;
            pending += r != NULL && !r->done;
            moving += r != NULL && !r->done && r->moving;
        }
        if (pass == 0) /* all it waits for on its way: it comes by itself */
            emu_query(m, "MPI_Testall", pending == 0 ? EMU_QUERY_DONE : EMU_QUERY_WAITING, moving == pending,
                      EMU_POLL_TEST_S);
        if (pending == 0)
            break;
    }
    if (pending > 0) /* MPI: none is completed unless all are */
        return MPI_SUCCESS;
    *flag = 1;
    for (int i = 0; i < count; i++) {
        MPI_Status *st = statuses != MPI_STATUSES_IGNORE ? &statuses[i] : MPI_STATUS_IGNORE;
        if (requests[i] == MPI_REQUEST_NULL) {
            if (st != MPI_STATUS_IGNORE)
                *st = (MPI_Status){MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_SUCCESS, 0};
        } else if (request_arg(m, &requests[i], MPI_STATUS_IGNORE, "MPI_Testall", &code) == NULL ||
                   request_finish(m, &requests[i], st, "MPI_Testall") != MPI_SUCCESS) {
            err = MPI_ERR_IN_STATUS; /* a request listed twice is refused the second time */
            if (code != MPI_SUCCESS && st != MPI_STATUS_IGNORE)
                *st = (MPI_Status){MPI_ANY_SOURCE, MPI_ANY_TAG, code, 0};
        }
    }
    return err;
}

/* MPI_Waitany's wait, until one of its requests is done. reqs is the
 * program's array, read while the caller waits; the report, made after
 * the run when the caller's stack may be gone, reads its copy, and only
 * the requests still live. */
struct emu_mpi_any {
    const char *fn; /* MPI_Waitany or MPI_Waitsome */
    MPI_Request *reqs;
    int count;
    struct emu_mpi_request **copy;
    struct emu_mpi_any *next;
};

static int any_done(const void *arg)
{
    const struct emu_mpi_any *a = arg;
    for (int i = 0; i < a->count; i++)
        if (a->reqs[i] != MPI_REQUEST_NULL && a->reqs[i]->done)
            return 1;
    return 0;
}

static int is_live(const emu *m, const struct emu_mpi_request *r)
{
    for (size_t i = 0; m->mpi != NULL && i < m->mpi->nlive; i++)
        if (m->mpi->live[i] == r)
            return 1;
    return 0;
}

void emu_mpi_any_missing(const emu *m, const void *any, char *buf, size_t size)
{
    const struct emu_mpi_any *a = any;
    int active = 0, first = -1;
    size_t len;

    for (int i = 0; i < a->count; i++)
        if (a->copy[i] != MPI_REQUEST_NULL && is_live(m, a->copy[i]) && active++ == 0)
            first = i;
    len = (size_t)snprintf(buf, size, "%s of %d request(s), none of which can complete", a->fn, active);
    if (first >= 0 && len + 16 < size) {
        len += (size_t)snprintf(buf + len, size - len, "; the first, ");
        emu_mpi_recv_missing(m, a->copy[first], buf + len, size - len);
    }
}

static void any_unlink(struct emu_mpi *s, struct emu_mpi_any *a)
{
    struct emu_mpi_any **q = &s->anys;
    while (*q != a)
        q = &(*q)->next;
    *q = a->next;
    free(a->copy);
    free(a);
}

/* Requests of an any-call checked: the count of active ones (not
 * MPI_REQUEST_NULL), or -1 with *code set. *first: the lowest index of a
 * done one, or -1. */
static int any_scan(emu *m, int count, MPI_Request requests[], const char *fn, int *first, int *code)
{
    int active = 0;

    *first = -1;
    for (int i = 0; i < count; i++) {
        struct emu_mpi_request *r = request_arg(m, &requests[i], MPI_STATUS_IGNORE, fn, code);
        if (r == NULL && *code != MPI_SUCCESS)
            return -1;
        active += r != NULL;
        if (r != NULL && r->done && *first < 0)
            *first = i;
    }
    return active;
}

/* Whether one of the requests (checked by any_scan) is a receive on its way. */
static int any_moving(int count, MPI_Request requests[])
{
    for (int i = 0; i < count; i++)
        if (requests[i] != MPI_REQUEST_NULL && requests[i]->moving)
            return 1;
    return 0;
}

/* Waits, for MPI_Waitany or MPI_Waitsome, until one of the active
 * requests is done: its lowest index, or -1 if the run ended first (the
 * hang report then reads the wait's copy); -2 out of memory, after a
 * message. */
static int any_wait(emu *m, int count, MPI_Request requests[], const char *fn)
{
    struct emu_mpi_any *a = calloc(1, sizeof(*a));
    int first = -1;

    if (a == NULL || (a->copy = malloc((size_t)count * sizeof(*a->copy))) == NULL) {
        free(a);
        mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
        return -2;
    }
    a->fn = fn;
    a->reqs = requests;
    a->count = count;
    memcpy(a->copy, requests, (size_t)count * sizeof(*a->copy));
    a->next = m->mpi->anys;
    m->mpi->anys = a;
    emu_wait_what(m, EMU_WAIT_MPI_ANY, any_done, a);
    for (int i = 0; i < count && first < 0; i++)
        if (requests[i] != MPI_REQUEST_NULL && requests[i]->done)
            first = i;
    if (first >= 0)
        any_unlink(m->mpi, a);
    return first;
}

/* The lowest-numbered done request completes, as MPI lets it choose any. */
int MPI_Waitany(int count, MPI_Request requests[], int *index, MPI_Status *status)
{
    emu *m = mpi_runtime("MPI_Waitany");
    int code, first, active;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if (index == NULL || count < 0 || (count > 0 && requests == NULL))
        return mpi_fail(m, "MPI_Waitany", "a NULL index, or a bad count or request array", MPI_ERR_ARG);
    *index = MPI_UNDEFINED;
    if ((active = any_scan(m, count, requests, "MPI_Waitany", &first, &code)) < 0)
        return code;
    if (active == 0) { /* none active: at once, an empty status */
        if (status != MPI_STATUS_IGNORE)
            *status = (MPI_Status){MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_SUCCESS, 0};
        return MPI_SUCCESS;
    }
    if (first < 0 && (first = any_wait(m, count, requests, "MPI_Waitany")) < 0)
        return MPI_ERR_OTHER; /* out of memory, or the run ended with it waiting */
    *index = first;
    return request_finish(m, &requests[first], status, "MPI_Waitany");
}

/* MPI_Waitsome and MPI_Testsome: every done request completes, its index
 * and status listed in order. */
static int some_finish(emu *m, int count, MPI_Request requests[], int *outcount, int indices[],
                       MPI_Status statuses[], const char *fn)
{
    int err = MPI_SUCCESS, k = 0;
    for (int i = 0; i < count; i++) {
        MPI_Status *st = statuses != MPI_STATUSES_IGNORE ? &statuses[k] : MPI_STATUS_IGNORE;
        if (requests[i] == MPI_REQUEST_NULL)
            continue;
        if (!is_live(m, requests[i])) { /* listed twice: completed (and freed) as an earlier entry */
            mpi_fail(m, fn, "a request listed twice", MPI_ERR_REQUEST);
            requests[i] = MPI_REQUEST_NULL;
            err = MPI_ERR_IN_STATUS;
            continue;
        }
        if (!requests[i]->done)
            continue;
        indices[k++] = i;
        if (request_finish(m, &requests[i], st, fn) != MPI_SUCCESS)
            err = MPI_ERR_IN_STATUS; /* as MPI: each status says its own error */
    }
    *outcount = k;
    return err;
}

/* MPI_Waitsome (wait: until one is done) and MPI_Testsome (a poll's host
 * time when none is done). */
static int some(int incount, MPI_Request requests[], int *outcount, int indices[], MPI_Status statuses[], int wait,
                const char *fn)
{
    emu *m = mpi_runtime(fn);
    int code, first, active;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if (outcount == NULL || incount < 0 || (incount > 0 && (requests == NULL || indices == NULL)))
        return mpi_fail(m, fn, "a NULL count or index array, or a bad count or request array", MPI_ERR_ARG);
    *outcount = MPI_UNDEFINED;
    if ((active = any_scan(m, incount, requests, fn, &first, &code)) < 0)
        return code;
    if (active == 0) /* none active: MPI_UNDEFINED at once */
        return MPI_SUCCESS;
    if (!wait)
        emu_query(m, fn, first >= 0 ? EMU_QUERY_DONE : EMU_QUERY_WAITING, any_moving(incount, requests),
                  EMU_POLL_TEST_S);
    else if (first < 0 && any_wait(m, incount, requests, fn) < 0)
        return MPI_ERR_OTHER;
    return some_finish(m, incount, requests, outcount, indices, statuses, fn);
}

int MPI_Waitsome(int incount, MPI_Request requests[], int *outcount, int indices[], MPI_Status statuses[])
{
    return some(incount, requests, outcount, indices, statuses, 1, "MPI_Waitsome");
}

int MPI_Testsome(int incount, MPI_Request requests[], int *outcount, int indices[], MPI_Status statuses[])
{
    return some(incount, requests, outcount, indices, statuses, 0, "MPI_Testsome");
}

/* As MPI_Test for whichever is done first; a poll's host time when none is. */
int MPI_Testany(int count, MPI_Request requests[], int *index, int *flag, MPI_Status *status)
{
    emu *m = mpi_runtime("MPI_Testany");
    int code, first, active;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if (index == NULL || flag == NULL || count < 0 || (count > 0 && requests == NULL))
        return mpi_fail(m, "MPI_Testany", "a NULL index or flag, or a bad count or request array", MPI_ERR_ARG);
    *index = MPI_UNDEFINED;
    *flag = 0;
    if ((active = any_scan(m, count, requests, "MPI_Testany", &first, &code)) < 0)
        return code;
    if (active == 0) { /* none active: true, with an empty status */
        *flag = 1;
        if (status != MPI_STATUS_IGNORE)
            *status = (MPI_Status){MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_SUCCESS, 0};
        return MPI_SUCCESS;
    }
    emu_query(m, "MPI_Testany", first >= 0 ? EMU_QUERY_DONE : EMU_QUERY_WAITING, any_moving(count, requests),
              EMU_POLL_TEST_S);
    for (int i = 0; i < count && first < 0; i++) /* looked at again after the poll's time */
        if (requests[i] != MPI_REQUEST_NULL && requests[i]->done)
            first = i;
    if (first < 0)
        return MPI_SUCCESS;
    *flag = 1;
    *index = first;
    return request_finish(m, &requests[first], status, "MPI_Testany");
}

/* The first message a receive of (source, tag) would take; NULL if none. */
static const mpi_msg *probe_find(const mpi_comm *c, int rank, int source, int tag)
{
    struct emu_mpi_request want = {0};
    want.source = source;
    want.tag = tag;
    for (const mpi_msg *g = c->box[rank].head; g != NULL; g = g->next)
        if (accepts(&want, g->src, g->tag))
            return g;
    return NULL;
}

static int probe_found(const void *arg)
{
    const struct emu_mpi_probe *p = arg;
    return probe_find(p->comm, p->rank, p->source, p->tag) != NULL;
}

static int probe(int source, int tag, MPI_Comm comm, int *flag, MPI_Status *status, const char *fn)
{
    emu *m = mpi_runtime(fn);
    static char unused;
    const mpi_msg *g;
    mpi_comm *c;
    int rank, rc;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if ((rc = p2p_args(m, fn, &unused, 0, MPI_BYTE, source, tag, comm, 1, &c)) != MPI_SUCCESS)
        return rc;
    rank = c->rank_of[self_index(m)];
    if (source == MPI_PROC_NULL) { /* a message from nobody is there at once, empty */
        if (flag != NULL)
            *flag = 1;
        if (status != MPI_STATUS_IGNORE)
            *status = (MPI_Status){MPI_PROC_NULL, MPI_ANY_TAG, MPI_SUCCESS, 0};
        return MPI_SUCCESS;
    }
    if (flag != NULL) { /* MPI_Iprobe */
        g = probe_find(c, rank, source, tag);
        emu_query(m, fn, g != NULL ? EMU_QUERY_DONE : EMU_QUERY_WAITING, 0, EMU_POLL_IPROBE_S);
        g = probe_find(c, rank, source, tag);
    } else if ((g = probe_find(c, rank, source, tag)) == NULL) {
        struct emu_mpi_probe *p = calloc(1, sizeof(*p));
        if (p == NULL)
            return mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
        *p = (struct emu_mpi_probe){c, rank, source, tag, m->mpi->probes};
        m->mpi->probes = p;
        emu_wait_what(m, EMU_WAIT_PROBE, probe_found, p);
        g = probe_find(c, rank, source, tag);
        if (g != NULL) { /* found: no report will need it */
            struct emu_mpi_probe **q = &m->mpi->probes;
            while (*q != p)
                q = &(*q)->next;
            *q = p->next;
            free(p);
        }
    }
    if (flag != NULL)
        *flag = g != NULL;
    if (g != NULL && status != MPI_STATUS_IGNORE)
        *status = (MPI_Status){g->src, g->tag, MPI_SUCCESS, (long long)g->bytes};
    return g != NULL || flag != NULL ? MPI_SUCCESS : MPI_ERR_OTHER;
}

int MPI_Iprobe(int source, int tag, MPI_Comm comm, int *flag, MPI_Status *status)
{
    emu *m;
    if (flag == NULL)
        return (m = mpi_runtime("MPI_Iprobe")) == NULL ? MPI_ERR_OTHER
                                                        : mpi_fail(m, "MPI_Iprobe", "a NULL flag", MPI_ERR_ARG);
    return probe(source, tag, comm, flag, status, "MPI_Iprobe");
}

int MPI_Probe(int source, int tag, MPI_Comm comm, MPI_Status *status)
{
    return probe(source, tag, comm, NULL, status, "MPI_Probe");
}

void emu_mpi_probe_missing(const emu *m, const void *probe_arg, char *buf, size_t size)
{
    const struct emu_mpi_probe *p = probe_arg;
    struct emu_mpi_request r = {0};
    r.comm = p->comm;
    r.rank = p->rank;
    r.source = p->source;
    r.tag = p->tag;
    emu_mpi_recv_missing(m, &r, buf, size);
    if (strncmp(buf, "MPI_Recv (or MPI_Wait)", 22) == 0) {
        size_t n = strlen(buf);
        memmove(buf + 9, buf + 22, n - 22 + 1); /* "MPI_Probe" in its place */
        memcpy(buf, "MPI_Probe", 9);
    }
}

int MPI_Get_count(const MPI_Status *status, MPI_Datatype datatype, int *count)
{
    size_t z = type_size(datatype);
    if (status == NULL || count == NULL || z == 0)
        return MPI_ERR_ARG;
    *count = status->count_bytes % (long long)z != 0 ? MPI_UNDEFINED : (int)(status->count_bytes / (long long)z);
    return MPI_SUCCESS;
}

int MPI_Abort(MPI_Comm comm, int errorcode)
{
    (void)comm;
    fprintf(stderr, "scalepath emulate: MPI_Abort(%d): ending every process; scalepath exits 1\n", errorcode);
    fflush(NULL);
    exit(1); /* not the code: 0 or 256 would read as success, 2 and 4 as scalepath's own statuses */
}

double MPI_Wtime(void)
{
    emu *m = mpi_runtime("MPI_Wtime");
    if (m != NULL)
        emu_thread_self(m)->read_clock = 1; /* a poll loop that reads it may wait for time itself */
    return m != NULL && m->svc.now != NULL ? m->svc.now(m->svc.ctx) : 0.0;
}

/* The variables launchers set for each process (Open MPI's, MPICH's and
 * PMI's, Slurm's, torchrun's), which programs read to find their rank and
 * local rank without MPI: per process, as a launcher would set them. */
static const char *const rank_vars[] = {
    "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE",
    "PMI_RANK", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALRANKID", "MPI_LOCALNRANKS", "SLURM_PROCID", "SLURM_LOCALID",
    "SLURM_NTASKS", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE",
};

static const char *rank_var(emu *m, int self, const char *name)
{
    emu_proc *P = &m->procs[self];
    /* what each variable says: 0 rank, 1 size, 2 local rank, 3 local size */
    static const int says[] = {0, 1, 2, 3, 0, 1, 0, 2, 3, 0, 2, 1, 0, 1, 2, 3};

    for (size_t i = 0; i < sizeof(rank_vars) / sizeof(rank_vars[0]); i++) {
        if (strcmp(name, rank_vars[i]) != 0)
            continue;
        {
            int v = says[i] == 0 ? self : says[i] == 1 ? m->nprocs : says[i] == 2 ? P->local_rank : P->local_size;
            snprintf(P->env[i], sizeof(P->env[i]), "%d", v);
            return P->env[i];
        }
    }
    return NULL;
}

extern char **environ;

/* getenv, for everyone: the environment, except that a process of a
 * program run with --ppn finds its own rank variables (rank_vars). */
char *getenv(const char *name)
{
    emu *m = emu_active;
    size_t n;

    if (m != NULL && m->bound && m->launched && m->svc.self != NULL) {
        int self = m->svc.self(m->svc.ctx); /* a thread */
        const char *v = self >= 0 ? rank_var(m, (int)(emu_self(m) - m->procs), name) : NULL;
        if (v != NULL)
            return (char *)v;
    }
    n = strlen(name);
    if (n == 0)
        return NULL;
    for (char **e = environ; e != NULL && *e != NULL; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* The host name a process of the program sees: its simulated node's, so
 * that programs finding their local rank by host name (NCCL's examples do)
 * find the right one. Anyone else (SimGrid, scalepath itself, a program
 * outside the emulator) gets the machine's. */
int gethostname(char *name, size_t len)
{
    emu *m = emu_active;
    char buf[256];
    struct utsname u;

    if (m != NULL && m->bound && m->svc.self != NULL && m->svc.self(m->svc.ctx) >= 0)
        snprintf(buf, sizeof(buf), "%s-node%d", m->plat->name, emu_self(m)->node);
    else if (uname(&u) == 0)
        snprintf(buf, sizeof(buf), "%s", u.nodename);
    else
        return -1;
    if (strlen(buf) + 1 > len) {
        memcpy(name, buf, len);
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(name, buf, strlen(buf) + 1);
    return 0;
}

size_t emu_mpi_nmoves(const emu *m)
{
    return m->mpi != NULL ? m->mpi->nmoves : 0;
}

void emu_mpi_move_get(const emu *m, size_t i, emu_mpi_move *out)
{
    const struct mpi_move_rec *v = &m->mpi->moves[i];
    *out = (emu_mpi_move){v->what,
                          v->comm == NULL ? v->pair[0] : -1,
                          v->comm == NULL ? v->pair[1] : -1,
                          v->handle,
                          v->root,
                          v->comm == NULL ? 2 : v->comm->size,
                          v->comm == NULL ? v->pair : v->comm->world,
                          v->bytes,
                          v->start_s,
                          v->end_s};
}

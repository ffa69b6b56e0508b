/* emu_mpi.c - MPI's start-up calls for programs run as several processes
 * (include/mpi.h), point-to-point messages, and the host name each process
 * sees. Exchanges are host-side: they take no simulated time; a process
 * waits in one until every process has called it, as in MPI, and the data
 * is copied then. Calls are matched by their order in each process; a
 * process that calls another exchange than the others is reported, and its
 * peers then wait forever, which the emulator reports as a hang.
 *
 * Messages are matched as MPI matches them: a receive takes the first
 * message of its source and tag (either may be a wildcard) in the order
 * they were sent, a message the first posted receive that accepts it. A
 * send is buffered (its data copied, it returns at once, as MPI allows); a
 * receive waits, and one that no message ever matches is reported as a
 * hang, with what it waits for. */
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

enum { HC_BARRIER, HC_BCAST, HC_ALLGATHER, HC_ALLREDUCE, HC_FINALIZE };

static const char *const hc_name[] = {"MPI_Barrier", "MPI_Bcast", "MPI_Allgather", "MPI_Allreduce", "MPI_Finalize"};

struct emu_hostcoll {
    int kind, count, root;
    MPI_Datatype type;
    MPI_Op op;
    int arrived, done;
    const void **send; /* per process */
    void **recv;
};

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
    return emu_active;
}

static int mpi_fail(emu *m, const char *fn, const char *what, int code)
{
    fprintf(stderr, "scalepath emulate: WARN %s (process %d): %s\n", fn, (int)(emu_self(m) - m->procs), what);
    m->api_errors++;
    return code;
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

/* The whole exchange, once every process has arrived. */
static void hc_run(emu *m, struct emu_hostcoll *h)
{
    int n = m->nprocs;
    size_t z = type_size(h->type) * (size_t)h->count;

    if (h->kind == HC_BCAST) {
        for (int p = 0; p < n; p++)
            if (p != h->root)
                memcpy(h->recv[p], h->send[h->root], z);
    } else if (h->kind == HC_ALLGATHER) {
        char *all = malloc(z * (size_t)n + 1);
        if (all == NULL)
            return; /* left not done: the processes wait, the hang is reported */
        for (int p = 0; p < n; p++)
            memcpy(all + (size_t)p * z, h->send[p] == MPI_IN_PLACE ? (char *)h->recv[p] + (size_t)p * z : h->send[p], z);
        for (int p = 0; p < n; p++)
            memcpy(h->recv[p], all, z * (size_t)n);
        free(all);
    } else if (h->kind == HC_ALLREDUCE) {
        char *acc = malloc(z + 1);
        if (acc == NULL)
            return;
        memcpy(acc, h->send[0] == MPI_IN_PLACE ? h->recv[0] : h->send[0], z);
        for (int p = 1; p < n; p++) /* in process order, in the type's own arithmetic */
            reduce_into(acc, h->send[p] == MPI_IN_PLACE ? h->recv[p] : h->send[p], h->count, h->type, h->op);
        for (int p = 0; p < n; p++)
            memcpy(h->recv[p], acc, z);
        free(acc);
    }
    h->done = 1;
}

static int exchange(int kind, const void *send, void *recv, int count, MPI_Datatype type, MPI_Op op, int root,
                    MPI_Comm comm, const char *fn)
{
    emu *m = mpi_runtime(fn);
    emu_proc *P;
    struct emu_hostcoll *h;
    int me;

    if (m == NULL)
        return MPI_ERR_OTHER;
    P = emu_self(m);
    me = (int)(P - m->procs);
    if (comm != MPI_COMM_WORLD)
        return mpi_fail(m, fn, "only MPI_COMM_WORLD is provided", MPI_ERR_ARG);
    if (kind != HC_BARRIER && kind != HC_FINALIZE && (count < 0 || type_size(type) == 0 || recv == NULL || send == NULL))
        return mpi_fail(m, fn, "a bad count, type or buffer", MPI_ERR_ARG);
    if (kind == HC_ALLREDUCE && type != MPI_INT && type != MPI_LONG && type != MPI_FLOAT && type != MPI_DOUBLE)
        return mpi_fail(m, fn, "the emulator reduces MPI_INT, MPI_LONG, MPI_FLOAT and MPI_DOUBLE only", MPI_ERR_ARG);
    if (kind == HC_ALLREDUCE && (op < MPI_SUM || op > MPI_PROD))
        return mpi_fail(m, fn, "unknown operation", MPI_ERR_ARG);
    if (kind == HC_BCAST && (root < 0 || root >= m->nprocs))
        return mpi_fail(m, fn, "root out of range", MPI_ERR_ARG);
    if (P->mpi_state != 1) /* before anything is recorded: the others are not matched against it */
        return mpi_fail(m, fn, P->mpi_state == 0 ? "called before MPI_Init" : "called after MPI_Finalize",
                        MPI_ERR_OTHER);
    if (P->mpi_seq == m->nhostcolls) { /* the first process here */
        const void **sends = calloc((size_t)m->nprocs, sizeof(void *));
        void **recvs = calloc((size_t)m->nprocs, sizeof(void *));
        if (sends == NULL || recvs == NULL ||
            emu_vec_grow((void **)&m->hostcolls, &m->caphostcolls, m->nhostcolls, sizeof(*m->hostcolls)) < 0 ||
            (h = calloc(1, sizeof(*h))) == NULL) {
            free(sends);
            free(recvs);
            return mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
        }
        *h = (struct emu_hostcoll){kind, count, root, type, op, 0, 0, sends, recvs};
        m->hostcolls[m->nhostcolls++] = h;
    }
    h = m->hostcolls[P->mpi_seq];
    if (h->kind != kind || h->count != count || h->type != type || h->root != root || h->op != op) {
        char what[200];
        snprintf(what, sizeof(what), "host exchange number %lu: this process calls %s where others called %s "
                 "(or another count, type, root or operation); MPI would hang or corrupt data",
                 P->mpi_seq, fn, hc_name[h->kind]);
        return mpi_fail(m, fn, what, MPI_ERR_ARG);
    }
    P->mpi_seq++;
    h->send[me] = send;
    h->recv[me] = recv;
    if (++h->arrived == m->nprocs) {
        hc_run(m, h);
        if (m->svc.notify != NULL)
            m->svc.notify(m->svc.ctx);
    }
    if (!h->done && m->svc.wait != NULL) {
        P->waiting_what = EMU_WAIT_MPI;
        P->waiting = h;
        m->svc.wait(m->svc.ctx, hc_done, h);
        P->waiting = NULL;
        P->waiting_what = EMU_WAIT_NONE;
    }
    if (kind == HC_FINALIZE && h->done)
        P->mpi_state = 2;
    return h->done ? MPI_SUCCESS : MPI_ERR_OTHER;
}

void emu_mpi_missing(const emu *m, const void *hostcoll, char *buf, size_t size)
{
    const struct emu_hostcoll *h = hostcoll;
    size_t len, number = 0;

    for (size_t i = 0; i < m->nhostcolls; i++)
        if (m->hostcolls[i] == h)
            number = i;
    len = (size_t)snprintf(buf, size, "%s (MPI exchange number %zu): process(es) ", hc_name[h->kind], number);
    for (int p = 0, first = 1; p < m->nprocs && len + 24 < size; p++) {
        if (h->send[p] != NULL)
            continue; /* it has called */
        len += (size_t)snprintf(buf + len, size - len, "%s%d", first ? "" : ", ", p);
        first = 0;
    }
    if (len + 40 < size)
        snprintf(buf + len, size - len, " of %d never called it", m->nprocs);
}

/* --- Point-to-point messages ------------------------------------------------ */

typedef struct mpi_msg {
    int src, tag;
    size_t bytes;
    char *data; /* owned */
    struct mpi_msg *next;
} mpi_msg;

struct emu_mpi_request {
    int owner;         /* its process */
    int done, err;
    void *buf;
    size_t cap;        /* bytes the receive buffer holds */
    int source, tag;   /* what a receive accepts (wildcards allowed) */
    MPI_Status st;
    struct emu_mpi_request *next_posted;
    size_t slot;       /* its index in live */
};

/* Per process: messages that came before a receive took them, and
 * receives posted before a message came. */
typedef struct mpi_box {
    mpi_msg *head, *tail;
    struct emu_mpi_request *posted, *posted_tail;
} mpi_box;

struct emu_mpi_p2p {
    mpi_box *box;                      /* per process */
    struct emu_mpi_request **live;     /* requests not yet waited for, freed at the end */
    size_t nlive, caplive;
};

static struct emu_mpi_p2p *p2p_state(emu *m)
{
    if (m->mpi_p2p == NULL && (m->mpi_p2p = calloc(1, sizeof(*m->mpi_p2p))) != NULL &&
        (m->mpi_p2p->box = calloc((size_t)m->nprocs, sizeof(mpi_box))) == NULL) {
        free(m->mpi_p2p);
        m->mpi_p2p = NULL;
    }
    return m->mpi_p2p;
}

static int accepts(const struct emu_mpi_request *r, int src, int tag)
{
    return (r->source == MPI_ANY_SOURCE || r->source == src) && (r->tag == MPI_ANY_TAG || r->tag == tag);
}

/* Complete a receive with a message's bytes (truncated to the buffer). */
static void deliver(struct emu_mpi_request *r, int src, int tag, const char *data, size_t bytes)
{
    size_t n = bytes <= r->cap ? bytes : r->cap;
    if (n > 0)
        memcpy(r->buf, data, n);
    r->st.MPI_SOURCE = src;
    r->st.MPI_TAG = tag;
    r->st.count_bytes = (long long)n;
    r->err = bytes > r->cap ? MPI_ERR_TRUNCATE : MPI_SUCCESS;
    r->st.MPI_ERROR = r->err;
    r->done = 1;
}

static struct emu_mpi_request *request_new(emu *m, struct emu_mpi_p2p *s)
{
    struct emu_mpi_request *r = calloc(1, sizeof(*r));
    if (r == NULL || emu_vec_grow((void **)&s->live, &s->caplive, s->nlive, sizeof(*s->live)) < 0) {
        free(r);
        return NULL;
    }
    r->owner = (int)(emu_self(m) - m->procs);
    r->slot = s->nlive;
    s->live[s->nlive++] = r;
    return r;
}

static void request_free(struct emu_mpi_p2p *s, struct emu_mpi_request *r)
{
    s->live[r->slot] = s->live[--s->nlive];
    s->live[r->slot]->slot = r->slot;
    free(r);
}

/* Checks shared by sends and receives; peer is the destination or source. */
static int p2p_args(emu *m, const char *fn, const void *buf, int count, MPI_Datatype type, int peer, int tag,
                    MPI_Comm comm, int recv)
{
    if (emu_self(m)->mpi_state != 1)
        return mpi_fail(m, fn, emu_self(m)->mpi_state == 0 ? "called before MPI_Init" : "called after MPI_Finalize",
                        MPI_ERR_OTHER);
    if (comm != MPI_COMM_WORLD)
        return mpi_fail(m, fn, "only MPI_COMM_WORLD is provided", MPI_ERR_COMM);
    if (count < 0)
        return mpi_fail(m, fn, "a negative count", MPI_ERR_COUNT);
    if (type_size(type) == 0)
        return mpi_fail(m, fn, "an unknown datatype", MPI_ERR_TYPE);
    if (count > 0 && buf == NULL)
        return mpi_fail(m, fn, "a NULL buffer", MPI_ERR_ARG);
    if (peer != MPI_PROC_NULL && (peer < (recv ? MPI_ANY_SOURCE : 0) || peer >= m->nprocs)) {
        char what[96];
        snprintf(what, sizeof(what), "%s %d is not a process of the %d", recv ? "source" : "destination", peer,
                 m->nprocs);
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
    struct emu_mpi_p2p *s;
    int me, rc;
    size_t bytes;
    mpi_box *b;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if (req != NULL)
        *req = MPI_REQUEST_NULL;
    if ((rc = p2p_args(m, fn, buf, count, type, dest, tag, comm, 0)) != MPI_SUCCESS)
        return rc;
    if ((s = p2p_state(m)) == NULL)
        return mpi_fail(m, fn, "out of host memory", MPI_ERR_OTHER);
    me = (int)(emu_self(m) - m->procs);
    bytes = (size_t)count * type_size(type);
    if (dest != MPI_PROC_NULL) {
        struct emu_mpi_request *r, *prev = NULL;
        b = &s->box[dest];
        /* A process that has left main takes nothing more: its receives'
         * buffers may be gone (an MPI error of its own, not a crash here). */
        for (r = m->procs[dest].running ? b->posted : NULL; r != NULL && !accepts(r, me, tag); r = r->next_posted)
            prev = r;
        if (r != NULL) { /* the first receive posted for it */
            deliver(r, me, tag, buf, bytes);
            if (prev != NULL)
                prev->next_posted = r->next_posted;
            else
                b->posted = r->next_posted;
            if (b->posted_tail == r)
                b->posted_tail = prev;
            emu_wake(m);
        } else {
            mpi_msg *g = calloc(1, sizeof(*g));
            if (g == NULL || (g->data = malloc(bytes + 1)) == NULL) {
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
        }
    }
    if (req != NULL) { /* buffered: complete already */
        struct emu_mpi_request *r = request_new(m, s);
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
    struct emu_mpi_p2p *s;
    struct emu_mpi_request *r;
    mpi_box *b;
    int rc;

    if (m == NULL)
        return MPI_ERR_OTHER;
    if (req == NULL)
        return mpi_fail(m, fn, "a NULL request", MPI_ERR_REQUEST);
    *req = MPI_REQUEST_NULL;
    if ((rc = p2p_args(m, fn, buf, count, type, source, tag, comm, 1)) != MPI_SUCCESS)
        return rc;
    if ((s = p2p_state(m)) == NULL || (r = request_new(m, s)) == NULL)
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
    b = &s->box[r->owner];
    {
        mpi_msg *g, *prev = NULL;
        for (g = b->head; g != NULL && !accepts(r, g->src, g->tag); g = g->next)
            prev = g;
        if (g != NULL) { /* the first message that came for it */
            deliver(r, g->src, g->tag, g->data, g->bytes);
            if (prev != NULL)
                prev->next = g->next;
            else
                b->head = g->next;
            if (b->tail == g)
                b->tail = prev;
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

static int wait1(emu *m, MPI_Request *req, MPI_Status *status, const char *fn)
{
    struct emu_mpi_request *r;
    int err;

    if (req == NULL)
        return mpi_fail(m, fn, "a NULL request", MPI_ERR_REQUEST);
    r = *req;
    if (r == MPI_REQUEST_NULL) { /* an empty status, as MPI gives */
        if (status != MPI_STATUS_IGNORE)
            *status = (MPI_Status){MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_SUCCESS, 0};
        return MPI_SUCCESS;
    }
    { /* looked up, not dereferenced: a copy of a request already waited for is freed memory */
        size_t i = 0;
        while (m->mpi_p2p != NULL && i < m->mpi_p2p->nlive && m->mpi_p2p->live[i] != r)
            i++;
        if (m->mpi_p2p == NULL || i == m->mpi_p2p->nlive)
            return mpi_fail(m, fn, "not a live request that MPI_Isend or MPI_Irecv returned (already waited for?)",
                            MPI_ERR_REQUEST);
    }
    if (r->owner != (int)(emu_self(m) - m->procs))
        return mpi_fail(m, fn, "another process's request", MPI_ERR_REQUEST);
    if (!r->done)
        emu_wait_what(m, EMU_WAIT_MPI_RECV, req_done, r);
    if (!r->done)
        return MPI_ERR_OTHER;
    if (status != MPI_STATUS_IGNORE)
        *status = r->st;
    err = r->err;
    if (err != MPI_SUCCESS)
        mpi_fail(m, fn, "the message is longer than the receive buffer (truncated)", err);
    request_free(m->mpi_p2p, r);
    *req = MPI_REQUEST_NULL;
    return err;
}

void emu_mpi_recv_missing(const emu *m, const void *request, char *buf, size_t size)
{
    const struct emu_mpi_request *r = request;
    char src[32], tag[32];
    size_t len, others = 0;
    int other_tag = 0;
    if (r->source == MPI_ANY_SOURCE)
        snprintf(src, sizeof(src), "any process");
    else
        snprintf(src, sizeof(src), "process %d", r->source);
    if (r->tag == MPI_ANY_TAG)
        snprintf(tag, sizeof(tag), "any tag");
    else
        snprintf(tag, sizeof(tag), "tag %d", r->tag);
    len = (size_t)snprintf(buf, size, "MPI_Recv (or MPI_Wait) of a message from %s with %s: none was sent", src, tag);
    if (m->mpi_p2p != NULL)
        for (const mpi_msg *g = m->mpi_p2p->box[r->owner].head; g != NULL; g = g->next)
            if (r->source == MPI_ANY_SOURCE || g->src == r->source) {
                if (others++ == 0)
                    other_tag = g->tag;
            }
    if (others > 0 && len < size)
        snprintf(buf + len, size - len, " (%zu message(s) from it with other tags wait unreceived, tag %d first)",
                 others, other_tag);
}

void emu_hostcolls_free(emu *m)
{
    for (size_t i = 0; i < m->nhostcolls; i++) {
        free(m->hostcolls[i]->send);
        free(m->hostcolls[i]->recv);
        free(m->hostcolls[i]);
    }
    free(m->hostcolls);
    if (m->mpi_p2p != NULL) {
        struct emu_mpi_p2p *s = m->mpi_p2p;
        for (int p = 0; p < m->nprocs; p++)
            for (mpi_msg *g = s->box[p].head, *next; g != NULL; g = next) {
                next = g->next;
                free(g->data);
                free(g);
            }
        for (size_t i = 0; i < s->nlive; i++)
            free(s->live[i]);
        free(s->live);
        free(s->box);
        free(s);
        m->mpi_p2p = NULL;
    }
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
    if (m == NULL)
        return MPI_ERR_OTHER;
    if (comm != MPI_COMM_WORLD || rank == NULL)
        return mpi_fail(m, "MPI_Comm_rank", "only MPI_COMM_WORLD, and a rank to set", MPI_ERR_ARG);
    *rank = (int)(emu_self(m) - m->procs);
    return MPI_SUCCESS;
}

int MPI_Comm_size(MPI_Comm comm, int *size)
{
    emu *m = mpi_runtime("MPI_Comm_size");
    if (m == NULL)
        return MPI_ERR_OTHER;
    if (comm != MPI_COMM_WORLD || size == NULL)
        return mpi_fail(m, "MPI_Comm_size", "only MPI_COMM_WORLD, and a size to set", MPI_ERR_ARG);
    *size = m->nprocs;
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

int MPI_Allgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
                  MPI_Datatype recvtype, MPI_Comm comm)
{
    /* MPI_IN_PLACE: each process's block is already at its place in recvbuf. */
    if (sendbuf == MPI_IN_PLACE)
        return exchange(HC_ALLGATHER, MPI_IN_PLACE, recvbuf, recvcount, recvtype, 0, 0, comm, "MPI_Allgather");
    if ((size_t)sendcount * type_size(sendtype) != (size_t)recvcount * type_size(recvtype)) {
        emu *m = mpi_runtime("MPI_Allgather");
        return m == NULL ? MPI_ERR_OTHER : mpi_fail(m, "MPI_Allgather", "send and receive sizes differ", MPI_ERR_ARG);
    }
    return exchange(HC_ALLGATHER, sendbuf, recvbuf, recvcount, recvtype, 0, 0, comm, "MPI_Allgather");
}

int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op, MPI_Comm comm)
{
    return exchange(HC_ALLREDUCE, sendbuf, recvbuf, count, datatype, op, 0, comm, "MPI_Allreduce");
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
    int rc;

    if (m == NULL)
        return MPI_ERR_OTHER;
    /* Both halves checked before anything is sent. */
    if ((rc = p2p_args(m, "MPI_Sendrecv", sendbuf, sendcount, sendtype, dest, sendtag, comm, 0)) != MPI_SUCCESS ||
        (rc = p2p_args(m, "MPI_Sendrecv", recvbuf, recvcount, recvtype, source, recvtag, comm, 1)) != MPI_SUCCESS)
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
        int self = m->svc.self(m->svc.ctx);
        const char *v = self >= 0 ? rank_var(m, self, name) : NULL;
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

/* emu_nccl.c - the NCCL entry points a program calls under `scalepath
 * emulate` (include/nccl.h): communicators (made, split, queried), the
 * collectives, sends and receives, groups. Each checks its arguments and
 * answers a bad one as NCCL does, with its error code and a WARN line
 * (emu_warn). Collectives are matched across a communicator's ranks by
 * their order (emu_coll_get); a group runs communicator by communicator,
 * collectives before sends and receives, as NCCL launches it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/emu_int.h"

const char *ncclGetErrorString(ncclResult_t r)
{
    switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
    case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
    case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
    case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    default: return "unknown result code";
    }
}

const char *ncclGetLastError(ncclComm_t comm)
{
    return comm != NULL ? comm->last_error : "";
}

/* --- Communicators ------------------------------------------------------------ */

ncclResult_t ncclGetVersion(int *version)
{
    if (version == NULL)
        return ncclInvalidArgument;
    *version = NCCL_VERSION_CODE;
    return ncclSuccess;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId)
{
    static unsigned long next = 1;
    emu *m = emu_runtime();
    if (m == NULL)
        return ncclInvalidUsage;
    if (uniqueId == NULL) {
        emu_warn(m, NULL, "ncclGetUniqueId: uniqueId is NULL");
        return ncclInvalidArgument;
    }
    memset(uniqueId, 0, sizeof(*uniqueId));
    snprintf(uniqueId->internal, sizeof(uniqueId->internal), "scalepath-emulated-id-%lu", next++);
    return ncclSuccess;
}

/* Out of host memory in an NCCL call: said, as NCCL's WARN would, and
 * ncclSystemError, as NCCL returns. */
static ncclResult_t no_memory(emu *m, struct ncclComm *comm, const char *fn)
{
    emu_warn(m, comm, "%s: out of host memory", fn);
    return ncclSystemError;
}

static emu_clique *clique_new(emu *m, int nranks, const ncclUniqueId *uid)
{
    emu_clique *cl;
    size_t n = (size_t)nranks;

    if (emu_vec_grow((void **)&m->cliques, &m->capcliques, m->ncliques, sizeof(*m->cliques)) < 0 ||
        (cl = calloc(1, sizeof(*cl))) == NULL)
        return NULL;
    cl->id = (int)m->ncliques;
    cl->nranks = nranks;
    if (uid != NULL)
        cl->uid = *uid;
    cl->devices = calloc(n, sizeof(*cl->devices));
    cl->comms = calloc(n, sizeof(*cl->comms));
    cl->sends = calloc(n * n, sizeof(*cl->sends));
    cl->recvs = calloc(n * n, sizeof(*cl->recvs));
    if (cl->devices == NULL || cl->comms == NULL || cl->sends == NULL || cl->recvs == NULL) {
        /* not listed: no other rank finds a clique without its arrays */
        free(cl->devices);
        free(cl->comms);
        free(cl->sends);
        free(cl->recvs);
        free(cl);
        return NULL;
    }
    m->cliques[m->ncliques++] = cl;
    return cl;
}

static int clique_complete(const void *arg)
{
    const emu_clique *cl = arg;
    return cl->joined == cl->nranks;
}

static ncclResult_t join(emu *m, emu_clique *cl, int rank, int device, ncclComm_t *out, const char *fn)
{
    struct ncclComm *c;
    for (int r = 0; r < cl->nranks; r++)
        if (cl->comms[r] != NULL && cl->devices[r] == device) {
            emu_warn(m, NULL, "Duplicate GPU detected: rank %d and rank %d both on device %d", r, rank, emu_local(m, device));
            return ncclInvalidUsage;
        }
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return no_memory(m, NULL, fn);
    c->cl = cl;
    c->rank = rank;
    cl->comms[rank] = c;
    cl->devices[rank] = device;
    if (++cl->joined == cl->nranks)
        emu_wake(m); /* ranks waiting in ncclCommInitRank */
    *out = c;
    return ncclSuccess;
}

/* A call that fails inside a group fails the group too, as NCCL's
 * ncclGroupErrCheck makes it: ncclGroupEnd returns the first such error
 * and drops the group's operations. So do communicators begun in a group
 * (ncclCommInitRank, ncclCommSplit) that fail. */
static ncclResult_t group_check(ncclResult_t r)
{
    emu *m = emu_runtime();
    if (m != NULL && r != ncclSuccess) {
        emu_thread *P = emu_thread_self(m);
        if (P->group_depth > 0 && P->group_error == ncclSuccess)
            P->group_error = r;
    }
    return r;
}

static ncclResult_t init_rank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank)
{
    emu *m = emu_runtime();
    emu_clique *cl = NULL;
    if (m == NULL)
        return ncclInvalidUsage;
    if (comm == NULL || nranks < 1 || nranks > m->ndevices || rank < 0 || rank >= nranks) {
        emu_warn(m, NULL, "ncclCommInitRank: %s (nranks %d, rank %d, %d devices)",
                 comm == NULL ? "comm is NULL" : "bad rank or rank count", nranks, rank, m->ndevices);
        return ncclInvalidArgument;
    }
    *comm = NULL;
    for (size_t i = 0; i < m->ncliques && cl == NULL; i++)
        if (memcmp(&m->cliques[i]->uid, &commId, sizeof(commId)) == 0 && m->cliques[i]->joined < m->cliques[i]->nranks &&
            m->cliques[i]->comms != NULL)
            cl = m->cliques[i];
    if (cl != NULL && cl->nranks != nranks) {
        emu_warn(m, NULL, "ncclCommInitRank: rank %d says %d ranks, others of this id said %d", rank, nranks, cl->nranks);
        return ncclInvalidUsage;
    }
    if (cl != NULL && cl->comms[rank] != NULL) {
        emu_warn(m, NULL, "ncclCommInitRank: rank %d of this id joined twice", rank);
        return ncclInvalidUsage;
    }
    if (cl == NULL && (cl = clique_new(m, nranks, &commId)) == NULL)
        return no_memory(m, NULL, "ncclCommInitRank");
    {
        ncclResult_t r = join(m, cl, rank, emu_thread_self(m)->current, comm, "ncclCommInitRank");
        emu_thread *P = emu_thread_self(m);
        if (r != ncclSuccess)
            return r;
        /* NCCL returns once every rank has joined: at once here, or at the
         * group's end (one thread initializing several devices). */
        if (P->group_depth == 0)
            emu_wait_what(m, EMU_WAIT_INIT, clique_complete, cl);
        else if (emu_vec_grow((void **)&P->inits, &P->capinits, P->ninits, sizeof(*P->inits)) == SP_OK)
            P->inits[P->ninits++] = cl;
        else
            return no_memory(m, NULL, "ncclCommInitRank");
        return ncclSuccess;
    }
}

ncclResult_t ncclCommInitAll(ncclComm_t *comms, int ndev, const int *devlist)
{
    emu *m = emu_runtime();
    emu_proc *P;
    emu_clique *cl;
    ncclUniqueId id;
    if (m == NULL)
        return ncclInvalidUsage;
    P = emu_self(m);
    /* NCCL 2.28 refuses a NULL array and a negative count; 0 ranks crashed
     * it (bench/emulate_real.sh), so here it is refused too. */
    if (comms == NULL || ndev < 1) {
        emu_warn(m, NULL, "ncclCommInitAll: %s (ndev %d)", comms == NULL ? "comms is NULL" : "bad device count", ndev);
        return ncclInvalidArgument;
    }
    for (int i = 0; i < ndev; i++) {
        int d = devlist != NULL ? devlist[i] : i;
        comms[i] = NULL;
        if (d < 0 || d >= P->ndev) { /* NCCL's cudaSetDevice fails there: a CUDA error */
            emu_warn(m, NULL, "ncclCommInitAll: Cuda failure 'invalid device ordinal': device %d (rank %d) is not one "
                     "of this process's 0 to %d", d, i, P->ndev - 1);
            return ncclUnhandledCudaError;
        }
    }
    if (ncclGetUniqueId(&id) != ncclSuccess || (cl = clique_new(m, ndev, &id)) == NULL)
        return no_memory(m, NULL, "ncclCommInitAll");
    for (int i = 0; i < ndev; i++) {
        ncclResult_t r = join(m, cl, i, P->first + (devlist != NULL ? devlist[i] : i), &comms[i], "ncclCommInitAll");
        if (r != ncclSuccess)
            return r;
    }
    return ncclSuccess;
}

/* The communicator, if it is a complete live one; NULL after a message. */
static struct ncclComm *comm_arg(emu *m, ncclComm_t comm, const char *fn)
{
    for (size_t i = 0; comm != NULL && i < m->ncliques; i++) {
        emu_clique *cl = m->cliques[i];
        for (int r = 0; cl->comms != NULL && r < cl->nranks; r++) {
            if (cl->comms[r] != comm)
                continue;
            if (comm->destroyed)
                emu_warn(m, comm, "%s: the communicator was destroyed", fn);
            else if (cl->joined < cl->nranks)
                emu_warn(m, comm, "%s: only %d of the communicator's %d ranks have called ncclCommInitRank", fn,
                         cl->joined, cl->nranks);
            else
                return comm;
            return NULL;
        }
    }
    emu_warn(m, NULL, "%s: %p is not a communicator", fn, (void *)comm);
    return NULL;
}

static ncclResult_t comm_end(ncclComm_t comm, const char *fn, int destroy)
{
    emu *m = emu_runtime();
    if (m == NULL)
        return ncclInvalidUsage;
    if ((comm = comm_arg(m, comm, fn)) == NULL)
        return ncclInvalidArgument;
    if (destroy)
        comm->destroyed = 1; /* its memory stays with the runtime */
    return ncclSuccess;
}

ncclResult_t ncclCommFinalize(ncclComm_t comm)
{
    return comm_end(comm, "ncclCommFinalize", 0);
}

ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
    return comm == NULL ? ncclSuccess : comm_end(comm, "ncclCommDestroy", 1);
}

ncclResult_t ncclCommAbort(ncclComm_t comm)
{
    return comm == NULL ? ncclSuccess : comm_end(comm, "ncclCommAbort", 1);
}

void emu_nccl_missing(const emu *m, emu_wait what, const void *arg, char *buf, size_t size)
{
    const emu_split *s = what == EMU_WAIT_SPLIT ? arg : NULL;
    const emu_clique *cl = s != NULL ? s->parent : arg;
    size_t len, number = 0;

    (void)m;
    for (size_t i = 0; s != NULL && i < cl->nsplits; i++)
        if (cl->splits[i] == s)
            number = i;
    if (s != NULL)
        len = (size_t)snprintf(buf, size, "ncclCommSplit number %zu of communicator %d: rank(s) ", number, cl->id);
    else
        len = (size_t)snprintf(buf, size, "ncclCommInitRank (communicator %d): rank(s) ", cl->id);
    for (int r = 0, first = 1; r < cl->nranks && len + 24 < size; r++) {
        if (s != NULL ? s->out[r] != NULL : cl->comms[r] != NULL)
            continue; /* it has called */
        len += (size_t)snprintf(buf + len, size - len, "%s%d", first ? "" : ", ", r);
        first = 0;
    }
    if (len + 40 < size)
        snprintf(buf + len, size - len, " of %d never called it", cl->nranks);
}

static int split_done(const void *arg)
{
    return ((const emu_split *)arg)->done;
}

typedef struct split_member {
    int key, rank;
} split_member;

static int member_cmp(const void *pa, const void *pb)
{
    const split_member *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->rank - b->rank;
}

/* Every rank has called: one communicator per color, its ranks ordered by
 * key, then by their rank in the parent (NCCL's rule). */
static ncclResult_t split_run(emu *m, emu_clique *parent, emu_split *s)
{
    int n = parent->nranks;
    split_member *mem = malloc((size_t)n * sizeof(*mem));
    unsigned char *seen = calloc((size_t)n, 1);
    ncclResult_t res = ncclSuccess;

    if (mem == NULL || seen == NULL) {
        free(mem);
        free(seen);
        return no_memory(m, NULL, "ncclCommSplit");
    }
    for (int r = 0; r < n; r++)
        if (s->color[r] == NCCL_SPLIT_NOCOLOR)
            *s->out[r] = NULL;
    for (int r = 0; r < n && res == ncclSuccess; r++) {
        int k = 0;
        emu_clique *cl;
        ncclUniqueId id;
        if (seen[r] || s->color[r] == NCCL_SPLIT_NOCOLOR)
            continue;
        for (int q = r; q < n; q++)
            if (!seen[q] && s->color[q] == s->color[r]) {
                seen[q] = 1;
                mem[k++] = (split_member){s->key[q], q};
            }
        qsort(mem, (size_t)k, sizeof(*mem), member_cmp);
        if (ncclGetUniqueId(&id) != ncclSuccess || (cl = clique_new(m, k, &id)) == NULL) {
            res = no_memory(m, NULL, "ncclCommSplit");
            break;
        }
        for (int i = 0; i < k && res == ncclSuccess; i++)
            res = join(m, cl, i, parent->devices[mem[i].rank], s->out[mem[i].rank], "ncclCommSplit");
    }
    free(mem);
    free(seen);
    s->done = 1;
    emu_wake(m);
    return res;
}

static ncclResult_t comm_split(ncclComm_t comm, int color, int key, ncclComm_t *newcomm, ncclConfig_t *config)
{
    emu *m = emu_runtime();
    struct ncclComm *c;
    emu_clique *cl;
    emu_split *s;
    emu_thread *P;

    (void)config; /* NCCL's defaults: blocking, shared nothing */
    if (m == NULL)
        return ncclInvalidUsage;
    if ((c = comm_arg(m, comm, "ncclCommSplit")) == NULL)
        return ncclInvalidArgument;
    if (newcomm == NULL || (color < 0 && color != NCCL_SPLIT_NOCOLOR)) {
        emu_warn(m, c, "ncclCommSplit: %s", newcomm == NULL ? "newcomm is NULL" : "a color must be >= 0 or NCCL_SPLIT_NOCOLOR");
        return ncclInvalidArgument;
    }
    *newcomm = NULL;
    cl = c->cl;
    if (c->nsplit == cl->nsplits) { /* the first rank to make this split */
        if (emu_vec_grow((void **)&cl->splits, &cl->capsplits, cl->nsplits, sizeof(*cl->splits)) < 0 ||
            (s = calloc(1, sizeof(*s))) == NULL)
            return no_memory(m, comm, "ncclCommSplit");
        s->color = calloc((size_t)cl->nranks, sizeof(*s->color));
        s->key = calloc((size_t)cl->nranks, sizeof(*s->key));
        s->out = calloc((size_t)cl->nranks, sizeof(*s->out));
        if (s->color == NULL || s->key == NULL || s->out == NULL) { /* not listed: no rank finds it half made */
            free(s->color);
            free(s->key);
            free(s->out);
            free(s);
            return no_memory(m, comm, "ncclCommSplit");
        }
        cl->splits[cl->nsplits++] = s;
    }
    s = cl->splits[c->nsplit++];
    s->parent = cl;
    s->color[c->rank] = color;
    s->key[c->rank] = key;
    s->out[c->rank] = newcomm;
    if (++s->arrived == cl->nranks && split_run(m, cl, s) != ncclSuccess)
        return ncclSystemError;
    /* NCCL returns once every rank has called: at once, or at the group's end. */
    P = emu_thread_self(m);
    if (P->group_depth == 0)
        emu_wait_what(m, EMU_WAIT_SPLIT, split_done, s);
    else if (emu_vec_grow((void **)&P->splitting, &P->capsplitting, P->nsplitting, sizeof(*P->splitting)) == SP_OK)
        P->splitting[P->nsplitting++] = s;
    else
        return no_memory(m, comm, "ncclCommSplit");
    return s->done || P->group_depth > 0 ? ncclSuccess : ncclInvalidUsage;
}

/* What ncclCommCount, ncclCommCuDevice and ncclCommUserRank return. */
typedef enum comm_query { QUERY_COUNT, QUERY_DEVICE, QUERY_RANK } comm_query;

static ncclResult_t query(ncclComm_t comm, comm_query q, int *out, const char *fn)
{
    emu *m = emu_runtime();
    struct ncclComm *c;
    if (m == NULL)
        return ncclInvalidUsage;
    if ((c = comm_arg(m, comm, fn)) == NULL)
        return ncclInvalidArgument;
    if (out == NULL) {
        emu_warn(m, c, "%s: the pointer to set is NULL", fn);
        return ncclInvalidArgument;
    }
    *out = q == QUERY_COUNT    ? c->cl->nranks
           : q == QUERY_DEVICE ? c->cl->devices[c->rank] - emu_self(m)->first /* as this process numbers it */
                               : c->rank;
    return ncclSuccess;
}

ncclResult_t ncclCommCount(const ncclComm_t comm, int *count)
{
    return query(comm, QUERY_COUNT, count, "ncclCommCount");
}

ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int *device)
{
    return query(comm, QUERY_DEVICE, device, "ncclCommCuDevice");
}

ncclResult_t ncclCommUserRank(const ncclComm_t comm, int *rank)
{
    return query(comm, QUERY_RANK, rank, "ncclCommUserRank");
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *asyncError)
{
    emu *m = emu_runtime();
    if (m == NULL)
        return ncclInvalidUsage;
    if (comm_arg(m, comm, "ncclCommGetAsyncError") == NULL || asyncError == NULL)
        return ncclInvalidArgument;
    *asyncError = ncclSuccess;
    return ncclSuccess;
}

/* --- Operations -------------------------------------------------------------- */

static ncclResult_t submit_coll(emu *m, const emu_call *k)
{
    struct ncclComm *comm = k->comm;
    emu_clique *cl = comm->cl;
    ncclResult_t err;
    emu_coll *c = emu_coll_get(m, cl, comm->seq, k->fn, k->count, k->type, k->op, k->root, &err);
    emu_task *t;
    int n = cl->nranks, r = comm->rank;

    if (c == NULL) {
        if (err == ncclInvalidUsage)
            emu_warn(m, comm, "nccl%s: the algorithms and protocols allowed (NCCL_ALGO, NCCL_PROTO) leave none for it",
                     emu_fn_name(k->fn));
        else if (err == ncclSystemError)
            emu_warn(m, comm, "nccl%s: out of host memory", emu_fn_name(k->fn));
        return err;
    }
    if (c->fn != k->fn || c->count != k->count || c->type != k->type ||
        (emu_fn_reduces(c->fn) && c->op != k->op) || c->root != k->root) {
        emu_warn(m, comm,
                 "collective number %lu on communicator %d: rank %d calls nccl%s(count %zu, type %d, op %d, root %d) "
                 "where rank(s) before it called nccl%s(count %zu, type %d, op %d, root %d); NCCL would hang or "
                 "corrupt data",
                 c->seq, cl->id, r, emu_fn_name(k->fn), k->count, (int)k->type, (int)k->op, k->root,
                 emu_fn_name(c->fn), c->count, (int)c->type, (int)c->op, c->root);
        return ncclInvalidUsage;
    }
    if ((t = emu_task_add(m, k->stream, EMU_TASK_COLL)) == NULL) {
        emu_warn(m, comm, "nccl%s: out of host memory", emu_fn_name(k->fn));
        return ncclSystemError;
    }
    c->send[r] = k->sendbuff;
    c->recv[r] = k->recvbuff;
    c->called[r] = 1;
    c->ncalled++;
    comm->seq++;
    t->impl = c;
    t->crank = r;
    t->plan = c->plan;
    snprintf(t->key, sizeof(t->key), "e%d.%lu", cl->id, c->seq);
    for (int i = 0; c->plan != NULL && i < n; i++)
        if (coll_plan_rank(c->plan, i) == cl->devices[r])
            t->member = i;
    if (c->plan == NULL && k->sendbuff != k->recvbuff) /* one rank: a local copy */
        t->duration_s = emu_copy_time(m, cl->devices[r], emu_type_size(k->type) * k->count, 2);
    return ncclSuccess;
}

/* The software latency and wire bytes of one message: NCCL's p2p engine
 * between the two devices, as `scalepath nccl -c sendrecv` plans it. */
static ncclResult_t leg_cost(emu *m, emu_leg *g)
{
    coll_plan *p;
    coll_stage st;
    int ranks[2] = {g->src, g->dst}, member;

    if (g->src == g->dst || g->bytes == 0) {
        g->bytes = 0; /* to itself: a copy the data model makes; no flow */
        return ncclSuccess;
    }
    if (coll_plan_new(&p, m->plat, COLL_SEND_RECV, ranks, 2, g->bytes, NULL) < 0)
        return no_memory(m, NULL, "ncclSend/ncclRecv");
    member = coll_plan_rank(p, 0) == g->src ? 0 : 1;
    coll_plan_stage(p, member, 0, &st);
    g->delay_s = st.delay_s;
    g->bytes = 0;
    for (int i = 0; i < st.nsend; i++)
        g->bytes += st.send[i].bytes;
    coll_plan_free(p);
    return ncclSuccess;
}

/* One task for the sends and receives calls[0..n) of one communicator rank on one stream. */
static ncclResult_t submit_p2p(emu *m, emu_call *const *calls, size_t n)
{
    struct ncclComm *comm = calls[0]->comm;
    emu_clique *cl = comm->cl;
    int nr = cl->nranks, me = comm->rank;
    emu_batch *b = calloc(1, sizeof(*b));
    emu_leg *legs = calloc(n, sizeof(*legs));
    emu_task *t;

    if (b == NULL || legs == NULL || (b->msgs = calloc(n, sizeof(*b->msgs))) == NULL ||
        (b->sending = calloc(n, sizeof(*b->sending))) == NULL) {
        if (b != NULL) {
            free(b->msgs);
            free(b);
        }
        free(legs);
        return no_memory(m, NULL, "ncclSend/ncclRecv");
    }
    for (size_t i = 0; i < n; i++) {
        const emu_call *k = calls[i];
        int src = k->send ? me : k->peer, dst = k->send ? k->peer : me;
        unsigned long *ctr = k->send ? &cl->sends[(size_t)src * (size_t)nr + (size_t)dst]
                                     : &cl->recvs[(size_t)src * (size_t)nr + (size_t)dst];
        emu_msg *g = emu_msg_get(cl, src, dst, *ctr);
        if (g == NULL)
            goto oom;
        if ((k->send && g->recv_called) || (!k->send && g->sent_called)) {
            if (g->count != k->count || g->type != k->type) {
                emu_warn(m, comm,
                         "message %lu from rank %d to rank %d on communicator %d: ncclSend of %zu elements of type %d, "
                         "ncclRecv of %zu of type %d",
                         g->seq, src, dst, cl->id, k->send ? k->count : g->count, (int)(k->send ? k->type : g->type),
                         k->send ? g->count : k->count, (int)(k->send ? g->type : k->type));
                free(legs);
                free(b->msgs);
                free(b->sending);
                free(b);
                return ncclInvalidUsage;
            }
        }
        (*ctr)++;
        g->count = k->count;
        g->type = k->type;
        if (k->send) {
            g->sendbuf = k->sendbuff;
            g->sent_called = 1;
        } else {
            g->recvbuf = k->recvbuff;
            g->recv_called = 1;
        }
        b->msgs[i] = g;
        b->sending[i] = k->send;
        legs[i] = (emu_leg){k->send, cl->devices[src], cl->devices[dst], g->seq, cl->id,
                            (uint64_t)(emu_type_size(k->type) * k->count), 0.0, -1};
        if (k->send && src != dst)
            legs[i].relay = coll_pxn_relay(m->plat, cl->devices, nr, legs[i].src, legs[i].dst);
        if (k->send && leg_cost(m, &legs[i]) != ncclSuccess)
            goto oom;
        if (!k->send && src == dst)
            legs[i].bytes = 0;
    }
    /* A receive's flow is its sender's: the same wire bytes. */
    for (size_t i = 0; i < n; i++)
        if (!legs[i].send && legs[i].bytes > 0) {
            emu_leg probe = legs[i];
            probe.send = 1;
            if (leg_cost(m, &probe) != ncclSuccess)
                goto oom;
            legs[i].bytes = probe.bytes;
        }
    if (emu_vec_grow((void **)&m->p2ps, &m->capp2ps, m->np2ps, sizeof(*m->p2ps)) < 0 ||
        (t = emu_task_add(m, calls[0]->stream, EMU_TASK_P2P)) == NULL)
        goto oom;
    m->p2ps[m->np2ps++] = t;
    t->impl = b;
    t->legs = legs;
    t->nlegs = n;
    t->crank = me;
    return ncclSuccess;
oom:
    free(legs);
    free(b->msgs);
    free(b->sending);
    free(b);
    return no_memory(m, NULL, "ncclSend/ncclRecv");
}

/* Submit held calls in the order NCCL launches a group: communicator by
 * communicator (in the order the group first used each one, the ranks of
 * one communicator kept together), and within one, its collectives in call
 * order before its sends and receives, those of each (rank, stream) as one
 * task. Every device then meets its communicators' operations in the same
 * order, whatever order each device's calls were made in. */
typedef struct held {
    size_t first; /* the call that first used its communicator (clique) */
    int p2p;
    size_t i;     /* its call index */
} held;

static int held_cmp(const void *pa, const void *pb)
{
    const held *a = pa, *b = pb;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    if (a->p2p != b->p2p)
        return a->p2p - b->p2p;
    return a->i < b->i ? -1 : a->i > b->i;
}

static int comm_cmp(const void *pa, const void *pb)
{
    uintptr_t a = (uintptr_t) * (const struct ncclComm *const *)pa, b = (uintptr_t) * (const struct ncclComm *const *)pb;
    return (a > b) - (a < b);
}

static ncclResult_t call_bufs(emu *m, const emu_call *k, const char *name);

static ncclResult_t submit(emu *m, emu_call *calls, size_t n)
{
    ncclResult_t res = ncclSuccess;
    emu_call **batch = calloc(n + 1, sizeof(*batch));
    unsigned char *taken = calloc(n + 1, 1);
    held *order = calloc(n + 1, sizeof(*order));
    const struct ncclComm **comms = calloc(n + 1, sizeof(*comms)); /* the kernels launched: one per communicator */

    if (batch == NULL || taken == NULL || order == NULL || comms == NULL) {
        free(batch);
        free(taken);
        free(order);
        free(comms);
        return no_memory(m, NULL, "an NCCL launch");
    }
    for (size_t i = 0; i < n; i++) {
        size_t f = i;
        for (size_t j = 0; j < i && f == i; j++)
            if (calls[j].comm->cl == calls[i].comm->cl)
                f = order[j].first;
        order[i] = (held){f, calls[i].p2p, i};
    }
    qsort(order, n, sizeof(*order), held_cmp);
    /* NCCL launches one kernel per communicator of the group (its plan,
     * cuLaunchKernelEx in its enqueue.cc), one after another: the host's
     * time for those launches, measured for a kernel (emu_int.h), as a
     * floor. The work is queued when the last returns; other threads run
     * meanwhile, so the buffers are checked again (one freed meanwhile
     * fails its call, as a bad buffer does). */
    {
        size_t launches = 0;
        for (size_t i = 0; i < n; i++)
            comms[i] = calls[i].comm;
        qsort(comms, n, sizeof(*comms), comm_cmp);
        for (size_t i = 0; i < n; i++)
            launches += i == 0 || comms[i] != comms[i - 1];
        emu_host_cost(m, emu_launch_s(m) * (double)launches);
        for (size_t i = 0; i < n; i++) {
            char name[32];
            ncclResult_t r;
            snprintf(name, sizeof(name), "nccl%s",
                     calls[i].p2p ? (calls[i].send ? "Send" : "Recv") : emu_fn_name(calls[i].fn));
            if ((r = call_bufs(m, &calls[i], name)) != ncclSuccess) {
                taken[i] = 1;
                if (res == ncclSuccess)
                    res = r;
            }
        }
    }
    {
        emu_stream **streams = calloc(n + 1, sizeof(*streams));
        int rc = streams == NULL ? -1 : 0;
        for (size_t i = 0; streams != NULL && i < n; i++)
            streams[i] = calls[i].stream;
        if (rc == 0)
            rc = emu_launch_begin(m, streams, n); /* its tasks wait for its streams' earlier work, not each other */
        free(streams);
        if (rc < 0) {
            free(batch);
            free(taken);
            free(order);
            free(comms);
            return no_memory(m, NULL, "an NCCL launch");
        }
    }
    /* A call that fails does not stop the others: each reports its own
     * problem, and the first error is the group's. */
    for (size_t o = 0; o < n; o++) {
        size_t i = order[o].i, nb = 0;
        ncclResult_t r;
        if (taken[i])
            continue;
        if (!calls[i].p2p) {
            r = submit_coll(m, &calls[i]);
        } else {
            for (size_t q = o; q < n; q++) {
                size_t j = order[q].i;
                if (!taken[j] && calls[j].p2p && calls[j].comm == calls[i].comm && calls[j].stream == calls[i].stream) {
                    batch[nb++] = &calls[j];
                    taken[j] = 1;
                }
            }
            r = submit_p2p(m, batch, nb);
        }
        if (res == ncclSuccess)
            res = r;
    }
    if (emu_launch_end(m) < 0 && res == ncclSuccess)
        res = no_memory(m, NULL, "an NCCL launch");
    free(batch);
    free(taken);
    free(order);
    free(comms);
    emu_wake(m);
    return res;
}

static ncclResult_t enqueue(emu *m, const emu_call *k)
{
    emu_thread *P = emu_thread_self(m);
    if (P->group_depth > 0) {
        if (emu_vec_grow((void **)&P->group, &P->capgroup, P->ngroup, sizeof(*P->group)) < 0)
            return no_memory(m, k->comm, "ncclGroupStart's group");
        P->group[P->ngroup++] = *k;
        return ncclSuccess;
    }
    return submit(m, (emu_call *)k, 1);
}

/* Checks common to every operation; fills k->stream. */
static ncclResult_t check_op(emu *m, emu_call *k, ncclComm_t comm, cudaStream_t stream, const char *fn)
{
    int dev;
    if ((k->comm = comm_arg(m, comm, fn)) == NULL)
        return ncclInvalidArgument;
    dev = k->comm->cl->devices[k->comm->rank];
    if ((int)k->type < 0 || k->type >= ncclNumTypes) {
        emu_warn(m, k->comm, "%s: invalid type %d", fn, (int)k->type);
        return ncclInvalidArgument;
    }
    if ((int)k->op < 0 || k->op >= ncclNumOps) {
        emu_warn(m, k->comm, "%s: invalid reduction operation %d", fn, (int)k->op);
        return ncclInvalidArgument;
    }
    if ((k->stream = emu_stream_arg(m, stream, dev, fn)) == NULL)
        return ncclInvalidArgument;
    if (k->stream->device != dev) {
        emu_warn(m, k->comm, "%s: the stream belongs to device %d, the communicator's rank %d to device %d", fn,
                 emu_local(m, k->stream->device), k->comm->rank, emu_local(m, dev));
        return ncclInvalidArgument;
    }
    return ncclSuccess;
}

static ncclResult_t check_buf(emu *m, const emu_call *k, const void *p, size_t bytes, const char *fn, const char *what)
{
    int dev = k->comm->cl->devices[k->comm->rank];
    if (emu_device_range(m, p, bytes) != dev) {
        emu_warn(m, k->comm, "%s: %s %p is not %zu bytes of device %d's memory (rank %d)", fn, what, p, bytes,
                 emu_local(m, dev), k->comm->rank);
        return ncclInvalidArgument;
    }
    return ncclSuccess;
}

/* A call's buffers lie in its device's memory, as large as it reads and
 * writes: a broadcast or scatter reads only the root's input, a reduce or
 * gather writes only the root's output. */
static ncclResult_t call_bufs(emu *m, const emu_call *k, const char *name)
{
    size_t n = (size_t)k->comm->cl->nranks, z = emu_type_size(k->type) * k->count;
    emu_fn fn = k->fn;
    int root = k->root, me = k->comm->rank;
    ncclResult_t r;

    if (k->count == 0)
        return ncclSuccess;
    if (k->p2p)
        return check_buf(m, k, k->send ? k->sendbuff : k->recvbuff, z, name, k->send ? "sendbuff" : "recvbuff");
    if ((fn != EMU_BROADCAST && fn != EMU_SCATTER) || me == root)
        if ((r = check_buf(m, k, k->sendbuff,
                           fn == EMU_REDUCE_SCATTER || fn == EMU_ALL_TO_ALL || fn == EMU_SCATTER ? z * n : z, name,
                           "sendbuff")) != ncclSuccess)
            return r;
    if ((fn != EMU_REDUCE && fn != EMU_GATHER) || me == root)
        if ((r = check_buf(m, k, k->recvbuff, fn == EMU_ALL_GATHER || fn == EMU_ALL_TO_ALL || fn == EMU_GATHER ? z * n : z,
                           name, "recvbuff")) != ncclSuccess)
            return r;
    return ncclSuccess;
}

static ncclResult_t coll_check(emu_fn fn, const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t type,
                              ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream, const char *name)
{
    emu *m = emu_runtime();
    emu_call k = {0, fn, 0, sendbuff, recvbuff, count, type, op, root, -1, NULL, NULL};
    ncclResult_t r;
    size_t n;

    if (m == NULL)
        return ncclInvalidUsage;
    if ((r = check_op(m, &k, comm, stream, name)) != ncclSuccess)
        return r;
    n = (size_t)k.comm->cl->nranks;
    if ((fn == EMU_BROADCAST || fn == EMU_REDUCE || fn == EMU_GATHER || fn == EMU_SCATTER) &&
        (root < 0 || root >= (int)n)) {
        emu_warn(m, k.comm, "%s: root %d is not a rank of the communicator's %zu", name, root, n);
        return ncclInvalidArgument;
    }
    if (count == 0)
        return ncclSuccess;
    if (count > ((size_t)1 << 40) / emu_type_size(type)) {
        emu_warn(m, k.comm, "%s: count %zu is beyond what the emulator holds in host memory", name, count);
        return ncclInvalidArgument;
    }
    if ((r = call_bufs(m, &k, name)) != ncclSuccess)
        return r;
    return enqueue(m, &k);
}

static ncclResult_t coll_call(emu_fn fn, const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t type,
                              ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream, const char *name)
{
    return group_check(coll_check(fn, sendbuff, recvbuff, count, type, op, root, comm, stream, name));
}

ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)
{
    return coll_call(EMU_ALL_REDUCE, sendbuff, recvbuff, count, datatype, op, -1, comm, stream, "ncclAllReduce");
}

ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, int root,
                           ncclComm_t comm, cudaStream_t stream)
{
    return coll_call(EMU_BROADCAST, sendbuff, recvbuff, count, datatype, ncclSum, root, comm, stream, "ncclBroadcast");
}

ncclResult_t ncclBcast(void *buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
                       cudaStream_t stream)
{
    return coll_call(EMU_BROADCAST, buff, buff, count, datatype, ncclSum, root, comm, stream, "ncclBcast");
}

ncclResult_t ncclReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, ncclRedOp_t op,
                        int root, ncclComm_t comm, cudaStream_t stream)
{
    return coll_call(EMU_REDUCE, sendbuff, recvbuff, count, datatype, op, root, comm, stream, "ncclReduce");
}

ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount, ncclDataType_t datatype,
                           ncclComm_t comm, cudaStream_t stream)
{
    return coll_call(EMU_ALL_GATHER, sendbuff, recvbuff, sendcount, datatype, ncclSum, -1, comm, stream,
                     "ncclAllGather");
}

ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount, ncclDataType_t datatype,
                               ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)
{
    return coll_call(EMU_REDUCE_SCATTER, sendbuff, recvbuff, recvcount, datatype, op, -1, comm, stream,
                     "ncclReduceScatter");
}

ncclResult_t ncclAlltoAll(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                          ncclComm_t comm, cudaStream_t stream)
{
    return coll_call(EMU_ALL_TO_ALL, sendbuff, recvbuff, count, datatype, ncclSum, -1, comm, stream, "ncclAlltoAll");
}

ncclResult_t ncclGather(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, int root,
                        ncclComm_t comm, cudaStream_t stream)
{
    return coll_call(EMU_GATHER, sendbuff, recvbuff, count, datatype, ncclSum, root, comm, stream, "ncclGather");
}

ncclResult_t ncclScatter(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, int root,
                         ncclComm_t comm, cudaStream_t stream)
{
    return coll_call(EMU_SCATTER, sendbuff, recvbuff, count, datatype, ncclSum, root, comm, stream, "ncclScatter");
}

static ncclResult_t p2p_check(int send, const void *buf, size_t count, ncclDataType_t type, int peer, ncclComm_t comm,
                             cudaStream_t stream, const char *name)
{
    emu *m = emu_runtime();
    emu_call k = {1, EMU_NFNS, send, send ? buf : NULL, send ? NULL : (void *)buf, count, type, ncclSum, -1, peer, NULL, NULL};
    ncclResult_t r;

    if (m == NULL)
        return ncclInvalidUsage;
    if ((r = check_op(m, &k, comm, stream, name)) != ncclSuccess)
        return r;
    if (peer < 0 || peer >= k.comm->cl->nranks) {
        emu_warn(m, k.comm, "%s: peer %d is not a rank of the communicator's %d", name, peer, k.comm->cl->nranks);
        return ncclInvalidArgument;
    }
    if (count == 0)
        return ncclSuccess;
    if (count > ((size_t)1 << 40) / emu_type_size(type)) {
        emu_warn(m, k.comm, "%s: count %zu is beyond what the emulator holds in host memory", name, count);
        return ncclInvalidArgument;
    }
    if ((r = call_bufs(m, &k, name)) != ncclSuccess)
        return r;
    return enqueue(m, &k);
}

static ncclResult_t p2p_call(int send, const void *buf, size_t count, ncclDataType_t type, int peer, ncclComm_t comm,
                             cudaStream_t stream, const char *name)
{
    return group_check(p2p_check(send, buf, count, type, peer, comm, stream, name));
}

ncclResult_t ncclSend(const void *sendbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                      cudaStream_t stream)
{
    return p2p_call(1, sendbuff, count, datatype, peer, comm, stream, "ncclSend");
}

ncclResult_t ncclRecv(void *recvbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                      cudaStream_t stream)
{
    return p2p_call(0, recvbuff, count, datatype, peer, comm, stream, "ncclRecv");
}

ncclResult_t ncclGroupStart(void)
{
    emu *m = emu_runtime();
    if (m == NULL)
        return ncclInvalidUsage;
    emu_thread_self(m)->group_depth++;
    return ncclSuccess;
}

ncclResult_t ncclGroupEnd(void)
{
    emu *m = emu_runtime();
    emu_thread *P;
    ncclResult_t r;
    if (m == NULL)
        return ncclInvalidUsage;
    P = emu_thread_self(m);
    if (P->group_depth == 0) {
        emu_warn(m, NULL, "ncclGroupEnd: no ncclGroupStart to end");
        return ncclInvalidUsage;
    }
    if (--P->group_depth > 0)
        return ncclSuccess;
    for (size_t i = 0; i < P->ninits; i++) /* communicators begun in the group */
        emu_wait_what(m, EMU_WAIT_INIT, clique_complete, P->inits[i]);
    P->ninits = 0;
    for (size_t i = 0; i < P->nsplitting; i++)
        emu_wait_what(m, EMU_WAIT_SPLIT, split_done, P->splitting[i]);
    P->nsplitting = 0;
    if (P->group_error != ncclSuccess) {
        r = (ncclResult_t)P->group_error;
        emu_warn(m, NULL, "ncclGroupEnd: a call in the group failed (%s): its %zu other operation(s) are dropped",
                 ncclGetErrorString(r), P->ngroup);
        P->group_error = ncclSuccess;
        P->ngroup = 0;
        return r;
    }
    r = submit(m, P->group, P->ngroup);
    P->ngroup = 0;
    return r;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank)
{
    return group_check(init_rank(comm, nranks, commId, rank));
}

ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t *newcomm, ncclConfig_t *config)
{
    return group_check(comm_split(comm, color, key, newcomm, config));
}

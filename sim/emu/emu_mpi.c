/* emu_mpi.c - MPI's start-up calls for programs run as several processes
 * (include/mpi.h), and the host name each process sees. Exchanges are
 * host-side: they take no simulated time; a process waits in one until
 * every process has called it, as in MPI, and the data is copied then.
 * Calls are matched by their order in each process; a process that calls
 * another exchange than the others is reported, and its peers then wait
 * forever, which the emulator reports as a hang. */
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

void emu_hostcolls_free(emu *m)
{
    for (size_t i = 0; i < m->nhostcolls; i++) {
        free(m->hostcolls[i]->send);
        free(m->hostcolls[i]->recv);
        free(m->hostcolls[i]);
    }
    free(m->hostcolls);
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

/* emu.c - the emulator's runtime: streams and their tasks, collectives and
 * messages matched across ranks, and the data they move (emu.h). */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include "emu/emu_int.h"

void *emu_huge(void *p, size_t size)
{
#ifdef MADV_HUGEPAGE
    uintptr_t a = (uintptr_t)p, first = (a + EMU_HUGE_MIN - 1) & ~(uintptr_t)(EMU_HUGE_MIN - 1);

    /* advice only: the huge pages that fit within [p, p + size) */
    if (p != NULL && size >= EMU_HUGE_MIN && first - a <= size - EMU_HUGE_MIN)
        madvise((void *)first, (size - (first - a)) & ~(size_t)(EMU_HUGE_MIN - 1), MADV_HUGEPAGE);
#else
    (void)size;
#endif
    return p;
}

void *emu_map(size_t size)
{
    void *p = mmap(NULL, size > 0 ? size : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : emu_huge(p, size);
}

void emu_unmap(void *p, size_t size)
{
    if (p != NULL)
        munmap(p, size > 0 ? size : 1);
}

void emu_release(void *p, size_t size)
{
    if (p != NULL && size > 0)
        madvise(p, size, MADV_DONTNEED);
}

int emu_vec_grow(void **v, size_t *cap, size_t n, size_t size)
{
    void *p;
    size_t c;

    if (n < *cap)
        return SP_OK;
    c = *cap > 0 ? 2 * *cap : 16;
    if ((p = realloc(*v, c * size)) == NULL)
        return SP_ENOMEM;
    *v = p;
    *cap = c;
    return SP_OK;
}

size_t emu_type_size(ncclDataType_t t)
{
    static const size_t size[ncclNumTypes] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2};
    return (int)t >= 0 && t < ncclNumTypes ? size[t] : 0;
}

const char *emu_fn_name(emu_fn fn)
{
    static const char *const name[EMU_NFNS] = {"AllReduce",     "Broadcast", "Reduce", "AllGather",
                                               "ReduceScatter", "AlltoAll",  "Gather", "Scatter"};
    return fn >= 0 && fn < EMU_NFNS ? name[fn] : "?";
}

int emu_fn_reduces(emu_fn fn)
{
    return fn == EMU_ALL_REDUCE || fn == EMU_REDUCE || fn == EMU_REDUCE_SCATTER;
}

static void threads_free(emu *m)
{
    for (size_t i = 0; i < m->nthreads; i++) {
        free(m->threads[i]->group);
        free(m->threads[i]->inits);
        free(m->threads[i]->splitting);
        free(m->threads[i]->per_thread);
        free(m->threads[i]->specific);
        free(m->threads[i]);
    }
    free(m->threads);
    m->threads = NULL;
    m->nthreads = m->capthreads = 0;
}

/* The main threads of n processes, replacing every thread; thread i
 * starts on process i's first device (set by the caller: 0 here). */
static int emu_set_mains(emu *m, int n)
{
    threads_free(m);
    if ((m->threads = calloc((size_t)n, sizeof(*m->threads))) == NULL)
        return -1;
    m->capthreads = (size_t)n;
    for (int i = 0; i < n; i++) {
        if ((m->threads[i] = calloc(1, sizeof(**m->threads))) == NULL)
            return -1; /* those made are freed with m */
        *m->threads[i] = (emu_thread){.proc = i, .last_cuda = cudaSuccess, .running = 1};
        m->nthreads++;
    }
    return 0;
}

int emu_new(emu **out, const plat *p, const coll_opts *opts)
{
    emu *m = calloc(1, sizeof(*m));

    *out = NULL;
    if (m == NULL)
        return SP_ENOMEM;
    m->plat = p;
    if (opts != NULL)
        m->opts = *opts;
    m->ndevices = p->nranks;
    if ((m->devices = calloc((size_t)m->ndevices + 1, sizeof(*m->devices))) == NULL ||
        (m->procs = calloc(1, sizeof(*m->procs))) == NULL || emu_set_mains(m, 1) < 0) {
        threads_free(m);
        free(m->devices);
        free(m->procs);
        free(m);
        return SP_ENOMEM;
    }
    m->procs[0] = (emu_proc){.first = 0, .ndev = m->ndevices, .running = 1, .live = 1};
    m->nprocs = 1;
    m->running = 1;
    *out = m;
    return SP_OK;
}

static void procs_free(emu_proc *procs, int n)
{
    for (int i = 0; procs != NULL && i < n; i++) {
        free(procs[i].dflt);
        free(procs[i].keys);
        free(procs[i].peer);
    }
    free(procs);
}

int emu_set_processes(emu *m, int per_node)
{
    const plat *p = m->plat;
    emu_proc *procs;
    int n = 0;

    if (per_node < 1)
        return SP_EINPUT;
    for (int q = 0; q < p->nodes; q++)
        if (per_node > plat_node_gpus(p, q))
            return SP_EINPUT;
    if ((procs = calloc((size_t)p->nodes * (size_t)per_node, sizeof(*procs))) == NULL)
        return SP_ENOMEM;
    for (int q = 0, first = 0; q < p->nodes; first += plat_node_gpus(p, q), q++)
        for (int j = 0; j < per_node; j++) /* each sees its node's GPUs, and starts on the first */
            procs[n++] = (emu_proc){.first = first, .ndev = plat_node_gpus(p, q), .node = q, .running = 1, .live = 1,
                                    .local_rank = j, .local_size = per_node};
    if (emu_set_mains(m, n) < 0) {
        free(procs);
        return SP_ENOMEM;
    }
    for (int i = 0; i < n; i++)
        m->threads[i]->current = procs[i].first;
    procs_free(m->procs, m->nprocs);
    m->procs = procs;
    m->nprocs = n;
    m->running = n;
    m->launched = 1;
    return SP_OK;
}

int emu_processes(const emu *m)
{
    return m->nprocs;
}

int emu_process_device(const emu *m, int proc)
{
    return m->procs[proc].first;
}

emu_thread *emu_thread_self(emu *m)
{
    int i = m->svc.self != NULL ? m->svc.self(m->svc.ctx) : 0;
    return m->threads[i >= 0 && (size_t)i < m->nthreads ? i : 0];
}

emu_proc *emu_self(emu *m)
{
    return &m->procs[emu_thread_self(m)->proc];
}

static void coll_free(emu_coll *c, int n)
{
    if (c == NULL)
        return;
    for (int r = 0; r < n && c->snap != NULL; r++)
        free(c->snap[r]);
    free(c->snap);
    free(c->send);
    free(c->recv);
    free(c->called);
    free(c->begun);
    free(c->written);
    free(c);
}

static void clique_free(emu_clique *cl)
{
    for (size_t i = 0; i < cl->ncolls; i++)
        coll_free(cl->colls[i], cl->nranks);
    free(cl->colls);
    for (int r = 0; r < cl->nranks; r++)
        free(cl->comms[r]);
    for (size_t q = 0; cl->pairs != NULL && q < (size_t)cl->nranks * (size_t)cl->nranks; q++) {
        for (size_t i = 0; i < cl->pairs[q].n; i++) {
            free(cl->pairs[q].v[i]->snap);
            free(cl->pairs[q].v[i]);
        }
        free(cl->pairs[q].v);
    }
    free(cl->pairs);
    for (size_t i = 0; i < cl->nsplits; i++) {
        free(cl->splits[i]->color);
        free(cl->splits[i]->key);
        free(cl->splits[i]->out);
        free(cl->splits[i]);
    }
    free(cl->splits);
    for (size_t i = 0; i < cl->nplans; i++)
        coll_plan_free(cl->plans[i].plan);
    free(cl->plans);
    free(cl->comms);
    free(cl->devices);
    free(cl->sends);
    free(cl->recvs);
    free(cl);
}

void emu_free(emu *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->ntasks; i++) {
        emu_task *t = m->tasks[i];
        if (t->kind == EMU_TASK_P2P && t->impl != NULL) {
            emu_batch *b = t->impl;
            free(b->msgs);
            free(b->sending);
            free(b);
        } else if (t->kind == EMU_TASK_SLEEP && t->impl != NULL) {
            free(((emu_copy *)t->impl)->owned);
            free(t->impl);
        }
        free(t->legs);
        free(t);
    }
    free(m->tasks);
    free(m->launch_streams);
    free(m->p2ps);
    for (size_t i = 0; i < m->nstreams; i++)
        free(m->streams[i]);
    free(m->streams);
    for (size_t i = 0; i < m->nallocs; i++)
        emu_unmap(m->allocs[i].base, m->allocs[i].size);
    free(m->allocs);
    for (size_t i = 0; i < m->ncliques; i++)
        clique_free(m->cliques[i]);
    free(m->cliques);
    for (size_t i = 0; i < m->nevents; i++)
        free(m->events[i]);
    free(m->events);
    procs_free(m->procs, m->nprocs);
    threads_free(m);
    emu_syncs_free(m);
    free(m->busy);
    emu_mpi_free(m);
    free(m->devices);
    free(m);
}

void emu_set_nodata(emu *m, int nodata)
{
    m->nodata = nodata;
}

void emu_set_launch_costs(emu *m, int on)
{
    m->no_launch_costs = !on;
}

void emu_host_cost(emu *m, double seconds)
{
    if (m->no_launch_costs || m->svc.sleep == NULL || !(seconds > 0.0))
        return;
    m->svc.sleep(m->svc.ctx, seconds);
}

double emu_launch_s(const emu *m)
{
    return m->plat != NULL && m->plat->nccl.launch_s > 0.0 ? m->plat->nccl.launch_s : EMU_LAUNCH_S;
}

emu_stream *emu_stream_add(emu *m, int device, int nonblocking)
{
    emu_stream *s = NULL;
    return emu_stream_add_at(m, device, &s, nonblocking ? EMU_STREAM_NONBLOCKING : EMU_STREAM_BLOCKING);
}

emu_stream *emu_stream_add_at(emu *m, int device, emu_stream **slot, emu_stream_kind kind)
{
    emu_stream *s;

    if (emu_vec_grow((void **)&m->streams, &m->capstreams, m->nstreams, sizeof(*m->streams)) < 0 ||
        (s = calloc(1, sizeof(*s))) == NULL)
        return NULL;
    s->device = device;
    s->proc = (int)(emu_self(m) - m->procs);
    s->legacy = kind == EMU_STREAM_LEGACY;
    s->nonblocking = kind == EMU_STREAM_NONBLOCKING;
    for (size_t i = 0; i < m->nstreams; i++) /* numbered per device, in creation order */
        s->id += m->streams[i]->device == device;
    m->streams[m->nstreams++] = s;
    *slot = s;
    if (m->svc.start_stream != NULL && m->svc.start_stream(m->svc.ctx, s, device) < 0) {
        *slot = NULL;
        return NULL; /* stays listed, so it is freed */
    }
    return s;
}

/* A task queued on s, nothing more. */
static emu_task *task_push(emu *m, emu_stream *s, emu_task_kind kind)
{
    emu_task *t;

    if (emu_vec_grow((void **)&m->tasks, &m->captasks, m->ntasks, sizeof(*m->tasks)) < 0 ||
        (t = calloc(1, sizeof(*t))) == NULL)
        return NULL;
    t->kind = kind;
    t->device = s->device;
    t->stream = s;
    t->stream_id = s->id;
    t->peer_device = -1;
    t->copy_device = -1;
    t->start_s = t->end_s = -1.0;
    t->launch = m->launch;
    m->tasks[m->ntasks++] = t;
    if (t->launch == 0 || s->last == NULL || s->last->launch != t->launch)
        s->before = s->last;
    if (s->tail != NULL)
        s->tail->next = t;
    else
        s->head = t;
    s->tail = t;
    s->last = t;
    s->queued++;
    return t;
}

/* CUDA's legacy default stream (the NULL stream of a process on a device)
 * synchronizes with the process's blocking streams on that device: its
 * work waits for all their earlier work, and theirs waits for its earlier
 * work; streams made with cudaStreamNonBlocking take no part (CUDA Runtime
 * API, "Stream synchronization behavior"). Before a task is queued on s,
 * waits for those unfinished last tasks are queued ahead of it. An NCCL
 * group's operations are launched together, on NCCL's own streams: on
 * their device they wait for the earlier work of every stream the launch
 * uses (and, by the rule above, of the streams those synchronize with),
 * never for each other; emu_launch_end makes those streams' later work
 * wait for them. */
emu_task *emu_task_add(emu *m, emu_stream *s, emu_task_kind kind)
{
    emu_thread *self = emu_thread_self(m);

    self->read_clock = 0; /* polls from now on may wait for this work (emu_query) */
    self->polls_since_launch = 0;
    for (size_t i = 0; i < m->nstreams; i++) {
        emu_stream *b = m->streams[i];
        emu_task *w, *last = b->last;
        int legacy = !s->nonblocking && !b->nonblocking && (s->legacy || b->legacy), group = 0;
        if (b == s || b->proc != s->proc || b->device != s->device)
            continue;
        for (size_t k = 0; m->launch != 0 && k < m->nlaunch_streams && !group; k++)
            group = m->launch_streams[k] == b;
        if (last != NULL && m->launch != 0 && last->launch == m->launch)
            last = b->before;
        if (!(legacy || group) || last == NULL || last->done)
            continue;
        if ((w = task_push(m, s, EMU_TASK_WAIT)) == NULL)
            return NULL;
        w->impl = last;
        w->implicit = legacy ? 1 : 2;
    }
    return task_push(m, s, kind);
}

int emu_launch_begin(emu *m, emu_stream *const *streams, size_t n)
{
    m->launch = ++m->launches;
    m->nlaunch_streams = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < m->nlaunch_streams && m->launch_streams[k] != streams[i])
            k++;
        if (k < m->nlaunch_streams || streams[i] == NULL)
            continue;
        if (emu_vec_grow((void **)&m->launch_streams, &m->caplaunch_streams, m->nlaunch_streams,
                         sizeof(*m->launch_streams)) < 0) {
            m->launch = 0;
            return -1;
        }
        m->launch_streams[m->nlaunch_streams++] = streams[i];
    }
    return 0;
}

int emu_launch_end(emu *m)
{
    size_t n = m->nlaunch_streams;
    emu_task **mine = calloc(n + 1, sizeof(*mine));
    int err = 0;

    if (mine == NULL)
        err = -1;
    for (size_t i = 0; mine != NULL && i < n; i++) { /* each stream's last task of the launch, if any */
        emu_task *t = m->launch_streams[i]->last;
        mine[i] = t != NULL && t->launch == m->launch ? t : NULL;
    }
    for (size_t i = 0; mine != NULL && i < n; i++)
        for (size_t k = 0; k < n; k++) {
            emu_stream *s = m->launch_streams[i], *b = m->launch_streams[k];
            emu_task *w;
            if (k == i || mine[k] == NULL || mine[k]->done || b->device != s->device || b->proc != s->proc)
                continue;
            if ((w = task_push(m, s, EMU_TASK_WAIT)) == NULL) {
                err = -1;
                break;
            }
            w->impl = mine[k];
            w->implicit = 2;
        }
    free(mine);
    m->launch = 0;
    m->nlaunch_streams = 0;
    return err;
}

emu_task *emu_stream_next(emu_stream *s)
{
    return s->head;
}

int emu_stream_finished(const emu *m, const emu_stream *s)
{
    return !m->running && s->head == NULL;
}

int emu_task_ready(const emu_task *t)
{
    const emu_task *rec = t->impl;
    return t->kind != EMU_TASK_WAIT || rec == NULL || rec->done;
}

int emu_task_may_end(const emu_task *t)
{
    const emu_coll *c = t->kind == EMU_TASK_COLL ? t->impl : NULL;
    return c == NULL || c->nbegun == c->cl->nranks;
}

/* A thread (a process's main included) has returned: its process ends
 * with the last of them. */
static void thread_ended(emu *m, emu_thread *t)
{
    emu_proc *P = &m->procs[t->proc];
    if (t->group_depth > 0) {
        fprintf(stderr, "scalepath emulate: WARN %s returned inside ncclGroupStart: its %zu call(s) since were never "
                "launched\n", t->id > 0 ? "a thread's function" : m->nprocs > 1 ? "a process's main" : "main",
                t->ngroup);
        m->api_errors++;
    }
    if (!t->running)
        return;
    t->running = 0;
    emu_changed(m);
    if (--P->live == 0 && P->running) {
        P->running = 0;
        m->running--;
    }
}

void emu_process_ended(emu *m, int proc, int status)
{
    m->procs[proc].status = status;
    thread_ended(m, m->threads[proc]);
}

void emu_thread_ended(emu *m, int thread, void *ret)
{
    m->threads[thread]->ret = ret;
    thread_ended(m, m->threads[thread]);
}

int emu_program_running(const emu *m)
{
    return m->running > 0;
}

int emu_main_running(const emu *m)
{
    for (int i = 0; i < m->nprocs; i++)
        if (m->threads[i]->running)
            return 1;
    return 0;
}

/* --- Data: reductions in rank order. ---------------------------------- */

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    float f;

    if (exp == 0) { /* zero or subnormal: man x 2^-24 */
        f = ldexpf((float)man, -24);
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (man << 13);
    else
        bits = sign | ((exp + 112) << 23) | (man << 13);
    memcpy(&f, &bits, sizeof(f));
    return f;
}

static uint16_t float_to_half(float f) /* round to nearest even */
{
    uint32_t bits, sign, man;
    int exp;

    memcpy(&bits, &f, sizeof(bits));
    sign = (bits >> 16) & 0x8000u;
    if ((bits & 0x7f800000u) == 0x7f800000u) /* inf, nan */
        return (uint16_t)(sign | 0x7c00u | ((bits & 0x7fffffu) != 0 ? 0x200u : 0));
    exp = (int)((bits >> 23) & 0xff) - 127;
    if (exp > 15)
        return (uint16_t)(sign | 0x7c00u);
    if (exp < -14) { /* subnormal half: units of 2^-24 */
        float a = fabsf(f) * 16777216.0f;
        long q = lrintf(a); /* the default rounding mode: to nearest even */
        return (uint16_t)(sign | (uint32_t)q);
    }
    man = bits & 0x7fffffu;
    {
        uint32_t h = (uint32_t)(exp + 15) << 10 | man >> 13, rest = man & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
            h++; /* may carry into the exponent, to infinity: correct */
        return (uint16_t)(sign | h);
    }
}

static float bf16_to_float(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

static uint16_t float_to_bf16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof(bits));
    if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x7fffffu) != 0)
        return (uint16_t)((bits >> 16) | 0x40u); /* quiet nan */
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

#define EMU_APPLY(acc, x, op)                                                                      \
    switch (op) {                                                                                  \
    case ncclSum:                                                                                  \
    case ncclAvg:                                                                                  \
        acc = acc + x;                                                                             \
        break;                                                                                     \
    case ncclProd:                                                                                 \
        acc = acc * x;                                                                             \
        break;                                                                                     \
    case ncclMax:                                                                                  \
        acc = x > acc ? x : acc;                                                                   \
        break;                                                                                     \
    default:                                                                                       \
        acc = x < acc ? x : acc;                                                                   \
        break;                                                                                     \
    }

/* A type whose arithmetic C does directly (integers wrap as on the GPU:
 * unsigned arithmetic, converted back). */
#define EMU_REDUCE_NATIVE(T, U, W)                                                                    \
    for (size_t e = 0; e < count; e++) {                                                           \
        T acc, x;                                                                                  \
        memcpy(&acc, in[0] + e * sizeof(T), sizeof(T));                                            \
        for (int r = 1; r < n; r++) {                                                              \
            memcpy(&x, in[r] + e * sizeof(T), sizeof(T));                                          \
            if (op == ncclSum || op == ncclAvg)                                                    \
                acc = (T)((U)acc + (U)x);                                                          \
            else if (op == ncclProd)                                                               \
                acc = (T)((U)acc * (U)x);                                                          \
            else                                                                                   \
                EMU_APPLY(acc, x, op);                                                             \
        }                                                                                          \
        if (op == ncclAvg) /* the count in a wide type: 256 is 0 in 8 bits */                      \
            acc = (T)((W)acc / (W)n);                                                              \
        memcpy(out + e * sizeof(T), &acc, sizeof(T));                                              \
    }

#define EMU_REDUCE_FLOAT(T)                                                                        \
    for (size_t e = 0; e < count; e++) {                                                           \
        T acc, x;                                                                                  \
        memcpy(&acc, in[0] + e * sizeof(T), sizeof(T));                                            \
        for (int r = 1; r < n; r++) {                                                              \
            memcpy(&x, in[r] + e * sizeof(T), sizeof(T));                                          \
            EMU_APPLY(acc, x, op);                                                                 \
        }                                                                                          \
        if (op == ncclAvg)                                                                         \
            acc = acc / (T)n;                                                                      \
        memcpy(out + e * sizeof(T), &acc, sizeof(T));                                              \
    }

/* 16-bit floats: each step's result rounded to the type, as a GPU adding
 * two halves at a time would. */
#define EMU_REDUCE_16(to_f, from_f)                                                                \
    for (size_t e = 0; e < count; e++) {                                                           \
        uint16_t v;                                                                                \
        float acc, x;                                                                              \
        memcpy(&v, in[0] + 2 * e, 2);                                                              \
        acc = to_f(v);                                                                             \
        for (int r = 1; r < n; r++) {                                                              \
            memcpy(&v, in[r] + 2 * e, 2);                                                          \
            x = to_f(v);                                                                           \
            EMU_APPLY(acc, x, op);                                                                 \
            acc = to_f(from_f(acc));                                                               \
        }                                                                                          \
        if (op == ncclAvg)                                                                         \
            acc = acc / (float)n;                                                                  \
        v = from_f(acc);                                                                           \
        memcpy(out + 2 * e, &v, 2);                                                                \
    }

/* out[e] = in[0][e] op in[1][e] op ... op in[n-1][e], for count elements. */
static void reduce(char *out, char *const *in, int n, size_t count, ncclDataType_t type, ncclRedOp_t op)
{
    switch (type) {
    case ncclInt8: EMU_REDUCE_NATIVE(int8_t, uint8_t, int64_t) break;
    case ncclUint8: EMU_REDUCE_NATIVE(uint8_t, uint8_t, uint64_t) break;
    case ncclInt32: EMU_REDUCE_NATIVE(int32_t, uint32_t, int64_t) break;
    case ncclUint32: EMU_REDUCE_NATIVE(uint32_t, uint32_t, uint64_t) break;
    case ncclInt64: EMU_REDUCE_NATIVE(int64_t, uint64_t, int64_t) break;
    case ncclUint64: EMU_REDUCE_NATIVE(uint64_t, uint64_t, uint64_t) break;
    case ncclFloat16: EMU_REDUCE_16(half_to_float, float_to_half) break;
    case ncclFloat32: EMU_REDUCE_FLOAT(float) break;
    case ncclFloat64: EMU_REDUCE_FLOAT(double) break;
    case ncclBfloat16: EMU_REDUCE_16(bf16_to_float, float_to_bf16) break;
    default: break; /* rejected by the API */
    }
}

/* --- Collectives ------------------------------------------------------- */

static coll_kind coll_kind_of(emu_fn fn)
{
    static const coll_kind k[EMU_NFNS] = {COLL_ALL_REDUCE,     COLL_BROADCAST,  COLL_REDUCE, COLL_ALL_GATHER,
                                          COLL_REDUCE_SCATTER, COLL_ALL_TO_ALL, COLL_GATHER, COLL_SCATTER};
    return k[fn];
}

/* Bytes a rank reads (its input; a scatter's root) and writes (a gather's root). */
static size_t in_bytes(const emu_coll *c)
{
    size_t z = emu_type_size(c->type) * c->count;
    return c->fn == EMU_REDUCE_SCATTER || c->fn == EMU_ALL_TO_ALL || c->fn == EMU_SCATTER ? z * (size_t)c->cl->nranks
                                                                                          : z;
}

static size_t out_bytes(const emu_coll *c)
{
    size_t z = emu_type_size(c->type) * c->count;
    return c->fn == EMU_ALL_GATHER || c->fn == EMU_ALL_TO_ALL || c->fn == EMU_GATHER ? z * (size_t)c->cl->nranks : z;
}

/* The nccl-tests size: the buffer for all-reduce, broadcast and reduce; the
 * total of all ranks' shares for the others. */
static uint64_t test_bytes(const emu_coll *c)
{
    uint64_t z = (uint64_t)emu_type_size(c->type) * c->count;
    return c->fn == EMU_ALL_REDUCE || c->fn == EMU_BROADCAST || c->fn == EMU_REDUCE ? z : z * (uint64_t)c->cl->nranks;
}

/* Collectives whose output needs the root's input only, written as soon as
 * the root and the rank have begun. */
static int from_root(emu_fn fn)
{
    return fn == EMU_BROADCAST || fn == EMU_SCATTER;
}

emu_coll *emu_coll_get(emu *m, emu_clique *cl, unsigned long seq, emu_fn fn, size_t count,
                       ncclDataType_t type, ncclRedOp_t op, int root, ncclResult_t *err)
{
    emu_coll *c;
    int n = cl->nranks;

    *err = ncclSuccess;
    if (seq < cl->ncolls)
        return cl->colls[seq];
    if (emu_vec_grow((void **)&cl->colls, &cl->capcolls, cl->ncolls, sizeof(*cl->colls)) < 0 ||
        (c = calloc(1, sizeof(*c))) == NULL) {
        *err = ncclSystemError;
        return NULL;
    }
    *c = (emu_coll){cl, seq, fn, count, type, op, root, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, -1.0, -1.0,
                    m->nodata};
    c->send = calloc((size_t)n, sizeof(*c->send));
    c->recv = calloc((size_t)n, sizeof(*c->recv));
    c->snap = calloc((size_t)n, sizeof(*c->snap));
    c->called = calloc((size_t)n, 1);
    c->begun = calloc((size_t)n, 1);
    c->written = calloc((size_t)n, 1);
    if (c->send == NULL || c->recv == NULL || c->snap == NULL || c->called == NULL || c->begun == NULL ||
        c->written == NULL) {
        coll_free(c, n);
        *err = ncclSystemError;
        return NULL;
    }
    /* A rooted collective's plan runs from (to) its root's device; -1 none. */
    int root_device = coll_kind_root(coll_kind_of(fn)) >= 0 && root >= 0 && root < n ? cl->devices[root] : -1;
    for (size_t i = 0; n > 1 && i < cl->nplans; i++) /* a collective of the same shape: the same plan */
        if (cl->plans[i].fn == fn && cl->plans[i].bytes == test_bytes(c) && cl->plans[i].root == root_device)
            c->plan = cl->plans[i].plan;
    if (n > 1 && c->plan == NULL) {
        int *ranks = malloc((size_t)n * sizeof(*ranks));
        coll_plan *plan = NULL;
        int rc;
        if (ranks == NULL || emu_vec_grow((void **)&cl->plans, &cl->capplans, cl->nplans, sizeof(*cl->plans)) < 0) {
            free(ranks);
            coll_free(c, n);
            *err = ncclSystemError;
            return NULL;
        }
        /* The plan orders its members by device; a rooted collective's
         * chain, or its sends, start (end) at the root's. */
        for (int i = 0; i < n; i++)
            ranks[i] = cl->devices[i];
        /* NCCL_ALGO and NCCL_PROTO choose among the collective algorithms:
         * what runs on the p2p engine (all-to-all, gather, scatter), as
         * sends and receives do, keeps NCCL's own choice. */
        rc = coll_plan_new_rooted(&plan, m->plat, coll_kind_of(fn), ranks, n, test_bytes(c), root_device,
                                  coll_kind_is_p2p(coll_kind_of(fn)) ? NULL : &m->opts);
        free(ranks);
        if (rc < 0) {
            coll_free(c, n);
            *err = rc == SP_ENOMEM ? ncclSystemError : ncclInvalidUsage;
            return NULL;
        }
        cl->plans[cl->nplans++] = (emu_plan){fn, test_bytes(c), root_device, plan};
        c->plan = plan;
    }
    cl->colls[cl->ncolls++] = c;
    return c;
}

/* Write rank r's output of the collective from the inputs taken (scratch:
 * the reduction, or for a reduce-scatter room for n pointers). */
static void coll_write(emu_coll *c, int r, char *scratch)
{
    int n = c->cl->nranks;
    size_t z = emu_type_size(c->type) * c->count;

    c->written[r] = 1;
    switch (c->fn) {
    case EMU_ALL_REDUCE:
        memcpy(c->recv[r], scratch, z);
        break;
    case EMU_REDUCE:
        if (r == c->root)
            memcpy(c->recv[r], scratch, z);
        break;
    case EMU_BROADCAST:
        memmove(c->recv[r], c->snap[c->root], z);
        break;
    case EMU_ALL_GATHER:
        for (int i = 0; i < n; i++)
            memcpy((char *)c->recv[r] + (size_t)i * z, c->snap[i], z);
        break;
    case EMU_REDUCE_SCATTER: {
        char **seg = (char **)(void *)scratch;
        for (int i = 0; i < n; i++)
            seg[i] = c->snap[i] + (size_t)r * z;
        reduce(c->recv[r], seg, n, c->count, c->type, c->op);
        break;
    }
    case EMU_ALL_TO_ALL: /* share r of every rank's input */
        for (int i = 0; i < n; i++)
            memcpy((char *)c->recv[r] + (size_t)i * z, c->snap[i] + (size_t)r * z, z);
        break;
    case EMU_GATHER:
        if (r == c->root)
            for (int i = 0; i < n; i++)
                memcpy((char *)c->recv[r] + (size_t)i * z, c->snap[i], z);
        break;
    case EMU_SCATTER: /* share r of the root's input */
        memmove(c->recv[r], c->snap[c->root] + (size_t)r * z, z);
        break;
    default:
        break;
    }
}

static int coll_begin(emu_coll *c, int r)
{
    int n = c->cl->nranks;
    size_t zin = in_bytes(c);

    if (c->nodata) { /* timing only */
        c->begun[r] = 1;
        c->nbegun++;
        return SP_OK;
    }
    /* Only the root's input matters to a broadcast or a scatter. */
    if (!from_root(c->fn) || r == c->root) {
        if ((c->snap[r] = emu_huge(malloc(zin + 1), zin)) == NULL)
            return SP_ENOMEM;
        memcpy(c->snap[r], c->send[r], zin);
    }
    c->begun[r] = 1;
    c->nbegun++;
    if (from_root(c->fn)) {
        if (r == c->root) {
            for (int i = 0; i < n; i++)
                if (c->begun[i] && !c->written[i])
                    coll_write(c, i, NULL);
        } else if (c->begun[c->root]) {
            coll_write(c, r, NULL);
        }
        if (c->nbegun == n) {
            free(c->snap[c->root]);
            c->snap[c->root] = NULL;
        }
        return SP_OK;
    }
    if (c->nbegun < n)
        return SP_OK;
    {
        char *scratch = NULL;
        if (c->fn == EMU_ALL_REDUCE || c->fn == EMU_REDUCE) {
            if ((scratch = emu_huge(malloc(out_bytes(c) + 1), out_bytes(c))) == NULL)
                return SP_ENOMEM;
            reduce(scratch, c->snap, n, c->count, c->type, c->op);
        } else if (c->fn == EMU_REDUCE_SCATTER && (scratch = malloc((size_t)n * sizeof(char *))) == NULL) {
            return SP_ENOMEM;
        }
        for (int i = 0; i < n; i++)
            coll_write(c, i, scratch);
        free(scratch);
    }
    for (int i = 0; i < n; i++) { /* every output is written: the inputs are done with */
        free(c->snap[i]);
        c->snap[i] = NULL;
    }
    return SP_OK;
}

/* --- Messages ------------------------------------------------------------ */

emu_msg *emu_msg_get(emu_clique *cl, int src, int dst, unsigned long seq)
{
    emu_pair *q;
    emu_msg *g;
    size_t n = (size_t)cl->nranks;

    if (cl->pairs == NULL && (cl->pairs = calloc(n * n, sizeof(*cl->pairs))) == NULL)
        return NULL;
    q = &cl->pairs[(size_t)src * n + (size_t)dst];
    if (seq < q->n)
        return q->v[seq];
    /* Numbers grow one at a time per pair, on whichever side calls first. */
    if (seq != q->n || emu_vec_grow((void **)&q->v, &q->cap, q->n, sizeof(*q->v)) < 0 ||
        (g = calloc(1, sizeof(*g))) == NULL)
        return NULL;
    g->cl = cl;
    g->src = src;
    g->dst = dst;
    g->seq = seq;
    q->v[q->n++] = g;
    return g;
}

static int msg_begin(emu_msg *g, int sending, int nodata)
{
    size_t z = emu_type_size(g->type) * g->count;

    if (nodata) {
        g->sent_begun |= sending;
        g->recv_begun |= !sending;
        return SP_OK;
    }
    if (sending) {
        if ((g->snap = emu_huge(malloc(z + 1), z)) == NULL)
            return SP_ENOMEM;
        memcpy(g->snap, g->sendbuf, z);
        g->sent_begun = 1;
    } else {
        g->recv_begun = 1;
    }
    if (g->sent_begun && g->recv_begun && g->snap != NULL) {
        memcpy(g->recvbuf, g->snap, z);
        free(g->snap);
        g->snap = NULL;
    }
    return SP_OK;
}

/* --- Tasks ---------------------------------------------------------------- */

void emu_task_begin(emu *m, emu_task *t)
{
    double now = m->svc.now != NULL ? m->svc.now(m->svc.ctx) : 0.0;
    int err = SP_OK;

    t->begun = 1;
    t->start_s = now;
    emu_changed(m);
    if (emu_vec_grow((void **)&m->busy, &m->capbusy, m->nbusy, sizeof(*m->busy)) == SP_OK) {
        t->run_slot = m->nbusy;
        m->busy[m->nbusy++] = t;
    } else {
        t->run_slot = (size_t)-1; /* not listed: polls may wait a little longer for it */
    }
    switch (t->kind) {
    case EMU_TASK_COLL: {
        emu_coll *c = t->impl;
        int r = t->crank;
        if (c->start_s < 0.0 || now < c->start_s)
            c->start_s = now;
        err = coll_begin(c, r);
        break;
    }
    case EMU_TASK_P2P: {
        emu_batch *b = t->impl;
        for (size_t i = 0; i < t->nlegs && err == SP_OK; i++)
            err = msg_begin(b->msgs[i], b->sending[i], m->nodata);
        break;
    }
    case EMU_TASK_SLEEP: {
        emu_copy *k = t->impl;
        if (k != NULL && k->link_dir >= 0) { /* after the copies already on the link that way */
            double *free_s = &m->devices[k->device].link_free_s[k->link_dir];
            double start = *free_s > now ? *free_s : now;
            t->duration_s = start - now + k->link_s;
            *free_s = start + k->link_s;
        }
        if (m->nodata)
            break;
        if (k != NULL && k->owned != NULL) { /* the staged copy is done with */
            memcpy(k->dst, k->owned, k->bytes);
            free(k->owned);
            k->owned = NULL;
        } else if (k != NULL && k->src != NULL)
            memmove(k->dst, k->src, k->bytes);
        else if (k != NULL)
            memset(k->dst, k->value, k->bytes);
        break;
    }
    default:
        break;
    }
    if (err < 0) { /* out of host memory while emulating: say so, once */
        fprintf(stderr, "scalepath emulate: out of memory for the data of a task on device %d\n", t->device);
        m->api_errors++;
        m->oom = 1;
    }
}

void emu_task_end(emu *m, emu_task *t)
{
    double now = m->svc.now != NULL ? m->svc.now(m->svc.ctx) : 0.0;
    emu_stream *s = t->stream;

    t->done = 1;
    t->end_s = now;
    emu_changed(m);
    if (t->run_slot < m->nbusy && m->busy[t->run_slot] == t) {
        m->busy[t->run_slot] = m->busy[--m->nbusy];
        m->busy[t->run_slot]->run_slot = t->run_slot;
    }
    if (t->kind == EMU_TASK_COLL) {
        emu_coll *c = t->impl;
        c->nended++;
        if (c->nended == c->cl->nranks)
            c->end_s = now;
    }
    if (s->head == t) { /* always: a stream runs its head */
        s->head = t->next;
        if (s->head == NULL)
            s->tail = NULL;
    }
}

/* --- Reports ---------------------------------------------------------------- */

static const char *task_what(const emu_task *t)
{
    static const char *const what[] = {"a collective", "sends and receives", "a copy or kernel",
                                       "an event record", "a wait for an event"};
    if (t->kind == EMU_TASK_WAIT && t->implicit == 2)
        return "the wait, for an NCCL group on several streams, for another of its streams";
    if (t->kind == EMU_TASK_WAIT && t->implicit)
        return t->stream->legacy ? "the NULL stream's implicit wait for a blocking stream's earlier work"
                                 : "a blocking stream's implicit wait for the NULL stream's earlier work";
    return what[t->kind];
}

size_t emu_report_blocked(const emu *m, diag_list *diag)
{
    size_t n = 0;

    for (size_t i = 0; i < m->nthreads; i++) {
        const emu_thread *T = m->threads[i];
        const emu_proc *P = &m->procs[T->proc];
        char who[64] = "the program", missing[320] = "";
        if (!T->running)
            continue;
        if (T->id > 0 && m->nprocs > 1)
            snprintf(who, sizeof(who), "thread %d of process %d (node %d)", T->id, T->proc, P->node);
        else if (T->id > 0)
            snprintf(who, sizeof(who), "thread %d of the program", T->id);
        else if (m->nprocs > 1)
            snprintf(who, sizeof(who), "process %d (node %d)", T->proc, P->node);
        if (T->waiting_what == EMU_WAIT_MPI)
            emu_mpi_missing(m, T->waiting, missing, sizeof(missing));
        else if (T->waiting_what == EMU_WAIT_MPI_RECV)
            emu_mpi_recv_missing(m, T->waiting, missing, sizeof(missing));
        else if (T->waiting_what == EMU_WAIT_POLL)
            snprintf(missing, sizeof(missing), "%s, polling for what never comes", (const char *)T->waiting);
        else if (T->waiting_what == EMU_WAIT_PROBE)
            emu_mpi_probe_missing(m, T->waiting, missing, sizeof(missing));
        else if (T->waiting_what == EMU_WAIT_MPI_ANY)
            emu_mpi_any_missing(m, T->waiting, missing, sizeof(missing));
        else if (T->waiting_what >= EMU_WAIT_JOIN)
            emu_thread_missing(m, T->waiting_what, T->waiting, missing, sizeof(missing));
        else if (T->waiting_what != EMU_WAIT_NONE)
            emu_nccl_missing(m, T->waiting_what, T->waiting, missing, sizeof(missing));
        if (missing[0] != '\0')
            diag_error(diag, (sp_loc){0}, "%s never returned from %s: it waits in %s", who,
                       T->id > 0 ? "its start function" : "main", missing);
        else
            diag_error(diag, (sp_loc){0}, "%s never returned from %s: it waits for work that cannot finish", who,
                       T->id > 0 ? "its start function" : "main");
        n++;
    }
    for (size_t i = 0; i < m->nstreams; i++) {
        const emu_stream *s = m->streams[i];
        const emu_task *t = s->head;
        if (t == NULL)
            continue;
        n++;
        if (t->kind == EMU_TASK_COLL) {
            const emu_coll *c = t->impl;
            char missing[160];
            size_t len = 0;
            missing[0] = '\0';
            for (int r = 0; r < c->cl->nranks && len + 16 < sizeof(missing); r++)
                if (!c->begun[r])
                    len += (size_t)snprintf(missing + len, sizeof(missing) - len, "%s%d", len > 0 ? ", " : "", r);
            diag_error(diag, (sp_loc){0},
                       "device %d's stream %d never finished %s number %lu on communicator %d: "
                       "rank(s) %s of %d never reached it (%s)",
                       s->device, s->id, emu_fn_name(c->fn), c->seq, c->cl->id, missing, c->cl->nranks,
                       c->ncalled < c->cl->nranks ? "never called it" : "blocked before it on their streams");
        } else if (t->kind == EMU_TASK_P2P) {
            const emu_batch *b = t->impl;
            for (size_t k = 0; k < t->nlegs; k++) {
                const emu_msg *g = b->msgs[k];
                if (b->sending[k] && !g->recv_called)
                    diag_error(diag, (sp_loc){0},
                               "device %d's stream %d never finished: its ncclSend to rank %d (message %lu on "
                               "communicator %d) has no matching ncclRecv",
                               s->device, s->id, g->dst, g->seq, g->cl->id);
                else if (!b->sending[k] && !g->sent_called)
                    diag_error(diag, (sp_loc){0},
                               "device %d's stream %d never finished: its ncclRecv from rank %d (message %lu on "
                               "communicator %d) has no matching ncclSend",
                               s->device, s->id, g->src, g->seq, g->cl->id);
            }
            diag_error(diag, (sp_loc){0}, "device %d's stream %d never finished %s", s->device, s->id,
                       task_what(t));
        } else if (t->kind == EMU_TASK_WAIT && t->impl != NULL) { /* what it waits for, on which stream */
            const emu_task *w = t->impl;
            diag_error(diag, (sp_loc){0}, "device %d's stream %d never finished %s: device %d's stream %d never "
                       "finished the %s it waits for%s", s->device, s->id, task_what(t), w->stream->device,
                       w->stream->id, emu_task_name(w), w->stream->head == w ? "" : " (stuck on earlier work)");
        } else {
            diag_error(diag, (sp_loc){0}, "device %d's stream %d never finished %s", s->device, s->id,
                       task_what(t));
        }
    }
    return n;
}

size_t emu_nblocked(const emu *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nthreads; i++)
        n += m->threads[i]->running != 0;
    for (size_t i = 0; i < m->nstreams; i++)
        n += m->streams[i]->head != NULL;
    return n;
}

/* Records: every collective, then every p2p task (one per rank and group). */
size_t emu_nrecords(const emu *m)
{
    size_t n = m->np2ps;
    for (size_t i = 0; i < m->ncliques; i++)
        n += m->cliques[i]->ncolls;
    return n;
}

void emu_record_get(const emu *m, size_t i, emu_record *out)
{
    for (size_t q = 0; q < m->ncliques; q++) {
        const emu_clique *cl = m->cliques[q];
        if (i < cl->ncolls) {
            const emu_coll *c = cl->colls[i];
            *out = (emu_record){emu_fn_name(c->fn), coll_kind_of(c->fn), cl->id, c->seq, -1, cl->nranks,
                                coll_kind_root(coll_kind_of(c->fn)) >= 0 ? c->root : -1, test_bytes(c),
                                c->plan != NULL ? coll_algo_name(coll_plan_algo(c->plan)) : "-",
                                c->plan != NULL ? coll_proto_name(coll_plan_proto(c->plan)) : "-",
                                c->start_s, c->nended == cl->nranks ? c->end_s : -1.0};
            return;
        }
        i -= cl->ncolls;
    }
    if (i < m->np2ps) {
        const emu_task *t = m->p2ps[i];
        {
            const emu_batch *b = t->impl;
            uint64_t bytes = 0;
            for (size_t l = 0; l < t->nlegs; l++)
                bytes += (uint64_t)emu_type_size(b->msgs[l]->type) * b->msgs[l]->count;
            *out = (emu_record){"SendRecv", COLL_SEND_RECV, t->nlegs > 0 ? b->msgs[0]->cl->id : -1, 0, t->device,
                                t->nlegs > 0 ? b->msgs[0]->cl->nranks : 0, -1, bytes, "-", "-", t->start_s,
                                t->done ? t->end_s : -1.0};
            return;
        }
    }
    memset(out, 0, sizeof(*out));
}

size_t emu_ntasks(const emu *m)
{
    return m->ntasks;
}

const emu_task *emu_task_at(const emu *m, size_t i)
{
    return m->tasks[i];
}

const char *emu_task_name(const emu_task *t)
{
    const emu_copy *k = t->impl;
    switch (t->kind) {
    case EMU_TASK_COLL: return emu_fn_name(((const emu_coll *)t->impl)->fn);
    case EMU_TASK_P2P: return "SendRecv";
    case EMU_TASK_SLEEP: return t->compute ? "kernel" : k != NULL && k->src == NULL ? "memset" : "copy";
    case EMU_TASK_RECORD: return "event record";
    default: return "event wait";
    }
}

uint64_t emu_task_bytes(const emu_task *t)
{
    if (t->kind == EMU_TASK_COLL)
        return test_bytes(t->impl);
    if (t->kind == EMU_TASK_P2P) {
        const emu_batch *b = t->impl;
        uint64_t z = 0;
        for (size_t i = 0; i < t->nlegs; i++)
            z += (uint64_t)emu_type_size(b->msgs[i]->type) * b->msgs[i]->count;
        return z;
    }
    if (t->kind == EMU_TASK_SLEEP && !t->compute && t->impl != NULL)
        return ((const emu_copy *)t->impl)->bytes;
    return 0;
}

size_t emu_api_errors(const emu *m)
{
    return m->api_errors;
}

int emu_out_of_memory(const emu *m)
{
    return m->oom;
}

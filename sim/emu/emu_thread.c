/* emu_thread.c - host threads of an emulated program (include/pthread.h
 * renames the program's pthread calls to these). A thread is one more
 * actor of its process, with its own CUDA and NCCL state (current device,
 * last error, group), as CUDA and NCCL keep them per host thread. Actors
 * run one at a time, so the program's mutexes, condition variables and
 * barriers are kept here, by address, and a thread that must wait yields
 * to the others (through the runner's wait) instead of blocking the one
 * real thread they all share. Outside the emulator each call is the real
 * one. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "emu/emu_int.h"
#define SP_EMU_NO_RENAME /* the real calls, outside the emulator */
#include "emu/include/pthread.h"

typedef enum { SYNC_MUTEX, SYNC_COND, SYNC_BARRIER } sync_kind;

typedef struct emu_sync {
    const void *addr;   /* the program's pthread_*_t */
    sync_kind kind;
    int owner;          /* a mutex: the thread holding it; -1 when free */
    unsigned long gen;  /* a condition: signals so far; a barrier: rounds completed */
    unsigned count, arrived; /* a barrier */
} emu_sync;

static const char *const sync_what[] = {"mutex", "condition variable", "barrier"};

/* The runtime, when the caller is a thread of an emulated program. */
static emu *thread_runtime(void)
{
    emu *m = emu_active;
    return m != NULL && m->bound && m->svc.self != NULL && m->svc.self(m->svc.ctx) >= 0 ? m : NULL;
}

static int thread_index(emu *m) /* m from thread_runtime */
{
    return m->svc.self(m->svc.ctx);
}

static int thread_fail(emu *m, const char *fn, const char *what, int code)
{
    emu_thread *t = emu_thread_self(m);
    fprintf(stderr, "scalepath emulate: WARN %s (process %d, thread %d): %s\n", fn, t->proc, t->id, what);
    m->api_errors++;
    return code;
}

static int sync_waited(const emu *m, const emu_sync *s)
{
    for (size_t i = 0; i < m->nthreads; i++)
        if (m->threads[i]->running && m->threads[i]->waiting == s)
            return 1;
    return 0;
}

/* The record of a sync object, made on first use (a statically
 * initialized one has had no init call); NULL out of memory. Memory the
 * program reuses for another kind of object takes the new kind, if the
 * old one is idle. */
static emu_sync *sync_get(emu *m, const void *addr, sync_kind kind)
{
    emu_sync *s;
    for (size_t i = m->nsyncs; i-- > 0;)
        if (m->syncs[i]->addr == addr) {
            s = m->syncs[i];
            if (s->kind != kind && s->owner < 0 && s->arrived == 0 && !sync_waited(m, s))
                *s = (emu_sync){addr, kind, -1, 0, 0, 0};
            return s;
        }
    if (emu_vec_grow((void **)&m->syncs, &m->capsyncs, m->nsyncs, sizeof(*m->syncs)) < 0 ||
        (s = calloc(1, sizeof(*s))) == NULL)
        return NULL;
    *s = (emu_sync){addr, kind, -1, 0, 0, 0};
    m->syncs[m->nsyncs++] = s;
    return s;
}

/* pthread_*_destroy: EBUSY while a thread waits in it (POSIX allows the
 * error; the object would vanish under the waiter). */
static int sync_drop(emu *m, const void *addr, const char *fn)
{
    for (size_t i = 0; i < m->nsyncs; i++)
        if (m->syncs[i]->addr == addr) {
            if (m->syncs[i]->owner >= 0 || m->syncs[i]->arrived > 0 || sync_waited(m, m->syncs[i]))
                return thread_fail(m, fn, "it is locked, or a thread waits in it", EBUSY);
            free(m->syncs[i]);
            m->syncs[i] = m->syncs[--m->nsyncs];
            return 0;
        }
    return 0;
}

/* Wait until ready(arg), the hang report showing what in s. */
static void wait_in(emu *m, emu_wait what, emu_sync *s, int (*ready)(const void *), const void *arg)
{
    emu_thread *t = emu_thread_self(m);
    if (ready(arg) || m->svc.wait == NULL)
        return;
    t->waiting_what = what;
    t->waiting = s;
    m->svc.wait(m->svc.ctx, ready, arg);
    t->waiting = NULL;
    t->waiting_what = EMU_WAIT_NONE;
}

void emu_syncs_free(emu *m)
{
    for (size_t i = 0; i < m->nsyncs; i++)
        free(m->syncs[i]);
    free(m->syncs);
    m->syncs = NULL;
    m->nsyncs = m->capsyncs = 0;
}

/* --- Threads ------------------------------------------------------------------ */

/* pthread_t of an emulated thread: its index + 1 (0 is never one). NULL
 * unless it is a thread the calling process started. */
static emu_thread *thread_of(emu *m, pthread_t t)
{
    emu_thread *u = t >= 1 && t <= m->nthreads ? m->threads[t - 1] : NULL;
    return u != NULL && u->id > 0 && u->proc == emu_thread_self(m)->proc ? u : NULL;
}

int spEmuThreadCreate(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg)
{
    emu *m = thread_runtime();
    emu_thread *self, *t;
    size_t index;
    int detach = PTHREAD_CREATE_JOINABLE;

    if (m == NULL)
        return pthread_create(thread, attr, start, arg);
    if (thread == NULL || start == NULL)
        return thread_fail(m, "pthread_create", "a NULL thread or start function", EINVAL);
    if (m->svc.start_thread == NULL)
        return thread_fail(m, "pthread_create", "this runner starts no threads", EAGAIN);
    if (attr != NULL && pthread_attr_getdetachstate(attr, &detach) != 0)
        return thread_fail(m, "pthread_create", "an attribute object not initialized", EINVAL);
    self = emu_thread_self(m);
    if (emu_vec_grow((void **)&m->threads, &m->capthreads, m->nthreads, sizeof(*m->threads)) < 0 ||
        (t = calloc(1, sizeof(*t))) == NULL)
        return thread_fail(m, "pthread_create", "out of host memory", EAGAIN);
    /* A new host thread starts on its process's first device, as CUDA's
     * current device is per thread and starts at 0. */
    *t = (emu_thread){.proc = self->proc, .id = ++m->procs[self->proc].nthreads,
                      .current = m->procs[self->proc].first, .last_cuda = cudaSuccess, .running = 1,
                      .detached = detach == PTHREAD_CREATE_DETACHED};
    index = m->nthreads; /* starting it lets the others run, who may start theirs */
    m->threads[m->nthreads++] = t;
    m->procs[self->proc].live++;
    if (m->svc.start_thread(m->svc.ctx, (int)index, m->procs[self->proc].first, start, arg) < 0) {
        t->running = 0;
        m->procs[self->proc].live--;
        return thread_fail(m, "pthread_create", "the runner could not start it", EAGAIN);
    }
    *thread = (pthread_t)index + 1;
    return 0;
}

static int thread_done(const void *arg)
{
    return !((const emu_thread *)arg)->running;
}

int spEmuThreadJoin(pthread_t thread, void **retval)
{
    emu *m = thread_runtime();
    emu_thread *t;

    if (m == NULL)
        return pthread_join(thread, retval);
    if ((t = thread_of(m, thread)) == NULL)
        return thread_fail(m, "pthread_join", "not a thread this process's pthread_create started", ESRCH);
    if (t == emu_thread_self(m))
        return thread_fail(m, "pthread_join", "a thread joining itself", EDEADLK);
    if (t->detached || t->joined)
        return thread_fail(m, "pthread_join", t->detached ? "a detached thread" : "a thread already joined", EINVAL);
    t->joined = 1;
    emu_wait_what(m, EMU_WAIT_JOIN, thread_done, t);
    if (t->running)
        return EDEADLK; /* the run is ending as a hang */
    if (retval != NULL)
        *retval = t->ret;
    return 0;
}

int spEmuThreadDetach(pthread_t thread)
{
    emu *m = thread_runtime();
    emu_thread *t;
    if (m == NULL)
        return pthread_detach(thread);
    if ((t = thread_of(m, thread)) == NULL)
        return thread_fail(m, "pthread_detach", "not a thread this process's pthread_create started", ESRCH);
    if (t->detached || t->joined)
        return thread_fail(m, "pthread_detach", "a thread already detached or joined", EINVAL);
    t->detached = 1;
    return 0;
}

pthread_t spEmuThreadSelf(void)
{
    emu *m = thread_runtime();
    return m == NULL ? pthread_self() : (pthread_t)thread_index(m) + 1;
}

/* --- Mutexes -------------------------------------------------------------------- */

int spEmuMutexInit(pthread_mutex_t *mutex, const pthread_mutexattr_t *attr)
{
    emu *m = thread_runtime();
    emu_sync *s;
    if (m == NULL)
        return pthread_mutex_init(mutex, attr);
    if (mutex == NULL)
        return thread_fail(m, "pthread_mutex_init", "a NULL mutex", EINVAL);
    if ((s = sync_get(m, mutex, SYNC_MUTEX)) == NULL)
        return ENOMEM;
    *s = (emu_sync){mutex, SYNC_MUTEX, -1, 0, 0, 0};
    return 0;
}

int spEmuMutexDestroy(pthread_mutex_t *mutex)
{
    emu *m = thread_runtime();
    if (m == NULL)
        return pthread_mutex_destroy(mutex);
    return mutex == NULL ? thread_fail(m, "pthread_mutex_destroy", "a NULL mutex", EINVAL)
                         : sync_drop(m, mutex, "pthread_mutex_destroy");
}

typedef struct mutex_want {
    emu_sync *s;
    int me;
} mutex_want;

/* Takes the mutex if it is free. The test and the taking are one step:
 * a waiter that found it free and returned would otherwise let another
 * find it free too before it wrote itself in (the runner's wait yields
 * on its way out). */
static int mutex_take(const void *arg)
{
    const mutex_want *w = arg;
    if (w->s->owner < 0)
        w->s->owner = w->me;
    return w->s->owner == w->me;
}

static int mutex_lock(emu *m, pthread_mutex_t *mutex, int wait, const char *fn)
{
    emu_sync *s;
    mutex_want w;
    if (mutex == NULL || (s = sync_get(m, mutex, SYNC_MUTEX)) == NULL || s->kind != SYNC_MUTEX)
        return thread_fail(m, fn, "not a mutex", EINVAL);
    w = (mutex_want){s, thread_index(m)};
    if (s->owner == w.me) /* a default mutex would deadlock here; an error-checking one says so */
        return thread_fail(m, fn, "this thread already holds the mutex (it would deadlock)", EDEADLK);
    if (s->owner >= 0 && !wait)
        return EBUSY;
    wait_in(m, EMU_WAIT_MUTEX, s, mutex_take, &w);
    return s->owner == w.me ? 0 : EDEADLK; /* else the run is ending as a hang */
}

int spEmuMutexLock(pthread_mutex_t *mutex)
{
    emu *m = thread_runtime();
    return m == NULL ? pthread_mutex_lock(mutex) : mutex_lock(m, mutex, 1, "pthread_mutex_lock");
}

int spEmuMutexTrylock(pthread_mutex_t *mutex)
{
    emu *m = thread_runtime();
    return m == NULL ? pthread_mutex_trylock(mutex) : mutex_lock(m, mutex, 0, "pthread_mutex_trylock");
}

int spEmuMutexUnlock(pthread_mutex_t *mutex)
{
    emu *m = thread_runtime();
    emu_sync *s;
    if (m == NULL)
        return pthread_mutex_unlock(mutex);
    if (mutex == NULL || (s = sync_get(m, mutex, SYNC_MUTEX)) == NULL || s->owner != thread_index(m))
        return thread_fail(m, "pthread_mutex_unlock", "a mutex this thread does not hold", EPERM);
    s->owner = -1;
    emu_wake(m);
    return 0;
}

/* --- Condition variables ------------------------------------------------------- */

int spEmuCondInit(pthread_cond_t *cond, const pthread_condattr_t *attr)
{
    emu *m = thread_runtime();
    emu_sync *s;
    if (m == NULL)
        return pthread_cond_init(cond, attr);
    if (cond == NULL || (s = sync_get(m, cond, SYNC_COND)) == NULL)
        return thread_fail(m, "pthread_cond_init", "a NULL condition variable", EINVAL);
    *s = (emu_sync){cond, SYNC_COND, -1, 0, 0, 0};
    return 0;
}

int spEmuCondDestroy(pthread_cond_t *cond)
{
    emu *m = thread_runtime();
    if (m == NULL)
        return pthread_cond_destroy(cond);
    return sync_drop(m, cond, "pthread_cond_destroy");
}

typedef struct cond_wait_arg {
    const emu_sync *c;
    unsigned long gen;
} cond_wait_arg;

static int cond_signalled(const void *arg)
{
    const cond_wait_arg *w = arg;
    return w->c->gen != w->gen;
}

/* Every waiter wakes on a signal as on a broadcast: POSIX allows a signal
 * to wake more than one, and waiters must check their predicate again. */
int spEmuCondWait(pthread_cond_t *cond, pthread_mutex_t *mutex)
{
    emu *m = thread_runtime();
    emu_sync *c, *mu;
    cond_wait_arg w;
    if (m == NULL)
        return pthread_cond_wait(cond, mutex);
    if (cond == NULL || (c = sync_get(m, cond, SYNC_COND)) == NULL || c->kind != SYNC_COND)
        return thread_fail(m, "pthread_cond_wait", "not a condition variable", EINVAL);
    if (mutex == NULL || (mu = sync_get(m, mutex, SYNC_MUTEX)) == NULL || mu->owner != thread_index(m))
        return thread_fail(m, "pthread_cond_wait", "a mutex this thread does not hold", EPERM);
    w = (cond_wait_arg){c, c->gen};
    mu->owner = -1;
    emu_wake(m);
    wait_in(m, EMU_WAIT_COND, c, cond_signalled, &w);
    if (!cond_signalled(&w))
        return EINVAL; /* the run is ending as a hang */
    return mutex_lock(m, mutex, 1, "pthread_cond_wait");
}

static int cond_signal(pthread_cond_t *cond, int all, const char *fn)
{
    emu *m = thread_runtime();
    emu_sync *c;
    if (m == NULL)
        return all ? pthread_cond_broadcast(cond) : pthread_cond_signal(cond);
    if (cond == NULL || (c = sync_get(m, cond, SYNC_COND)) == NULL || c->kind != SYNC_COND)
        return thread_fail(m, fn, "not a condition variable", EINVAL);
    c->gen++;
    emu_wake(m);
    return 0;
}

int spEmuCondSignal(pthread_cond_t *cond)
{
    return cond_signal(cond, 0, "pthread_cond_signal");
}

int spEmuCondBroadcast(pthread_cond_t *cond)
{
    return cond_signal(cond, 1, "pthread_cond_broadcast");
}

/* --- Barriers -------------------------------------------------------------------- */

int spEmuBarrierInit(pthread_barrier_t *barrier, const pthread_barrierattr_t *attr, unsigned count)
{
    emu *m = thread_runtime();
    emu_sync *s;
    if (m == NULL)
        return pthread_barrier_init(barrier, attr, count);
    if (barrier == NULL || count == 0)
        return thread_fail(m, "pthread_barrier_init", "a NULL barrier or a count of 0", EINVAL);
    if ((s = sync_get(m, barrier, SYNC_BARRIER)) == NULL)
        return ENOMEM;
    *s = (emu_sync){barrier, SYNC_BARRIER, -1, 0, count, 0};
    return 0;
}

int spEmuBarrierDestroy(pthread_barrier_t *barrier)
{
    emu *m = thread_runtime();
    if (m == NULL)
        return pthread_barrier_destroy(barrier);
    return sync_drop(m, barrier, "pthread_barrier_destroy");
}

int spEmuBarrierWait(pthread_barrier_t *barrier)
{
    emu *m = thread_runtime();
    emu_sync *b = NULL;
    cond_wait_arg w;
    if (m == NULL)
        return pthread_barrier_wait(barrier);
    for (size_t i = 0; barrier != NULL && i < m->nsyncs; i++) /* never made on first use: it needs a count */
        if (m->syncs[i]->addr == barrier && m->syncs[i]->kind == SYNC_BARRIER)
            b = m->syncs[i];
    if (b == NULL)
        return thread_fail(m, "pthread_barrier_wait", "a barrier pthread_barrier_init did not set up", EINVAL);
    if (++b->arrived == b->count) {
        b->arrived = 0;
        b->gen++;
        emu_wake(m);
        return PTHREAD_BARRIER_SERIAL_THREAD;
    }
    w = (cond_wait_arg){b, b->gen};
    wait_in(m, EMU_WAIT_BARRIER, b, cond_signalled, &w);
    return 0;
}

/* --- The hang report -------------------------------------------------------------- */

void emu_thread_missing(const emu *m, emu_wait what, const void *arg, char *buf, size_t size)
{
    if (what == EMU_WAIT_JOIN) {
        const emu_thread *t = arg;
        snprintf(buf, size, "pthread_join of thread %d, which never returned", t->id);
    } else if (what == EMU_WAIT_MUTEX) {
        const emu_sync *s = arg;
        const emu_thread *o = s->owner >= 0 && (size_t)s->owner < m->nthreads ? m->threads[s->owner] : NULL;
        char who[48];
        if (o != NULL && o->id == 0)
            snprintf(who, sizeof(who), m->nprocs > 1 ? "process %d's main" : "main", o->proc);
        else if (o != NULL)
            snprintf(who, sizeof(who), m->nprocs > 1 ? "thread %d of process %d" : "thread %d", o->id, o->proc);
        if (o != NULL)
            snprintf(buf, size, "pthread_mutex_lock of a mutex that %s %s", who,
                     o->running ? "holds" : "returned holding");
        else
            snprintf(buf, size, "pthread_mutex_lock");
    } else if (what == EMU_WAIT_COND) {
        snprintf(buf, size, "pthread_cond_wait on a %s that no thread signals",
                 sync_what[((const emu_sync *)arg)->kind]);
    } else {
        const emu_sync *b = arg;
        snprintf(buf, size, "pthread_barrier_wait: %u of its %u threads arrived", b->arrived, b->count);
    }
}

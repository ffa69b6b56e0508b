/* emu_thread.c - host threads of an emulated program (include/pthread.h
 * and include/semaphore.h rename the program's calls to these). A thread
 * is one more actor of its process, with its own CUDA and NCCL state
 * (current device, last error, group), as CUDA and NCCL keep them per host
 * thread. Actors run one at a time, so the program's mutexes, condition
 * variables, barriers, once-controls and semaphores are kept here, by
 * address, and a thread that must wait yields to the others (through the
 * runner's wait) instead of blocking the one real thread they all share.
 * Every wait is a point where the others run: a test and what it decides
 * are done in one step (the wait's predicate), never across a wait.
 * Outside the emulator each call is the real one. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/emu_int.h"
#define SP_EMU_NO_RENAME /* the real calls, outside the emulator */
#include "emu/include/pthread.h"
#include "emu/include/semaphore.h"

typedef enum { SYNC_MUTEX, SYNC_COND, SYNC_BARRIER, SYNC_ONCE, SYNC_SEM } sync_kind;

/* Records live until the run ends (a destroyed object's too: a thread
 * released by it may not have run yet, and must find it). */
typedef struct emu_sync {
    const void *addr;   /* the program's object */
    sync_kind kind;
    int owner;          /* a mutex: the thread holding it (-1 free); a once: the thread running it */
    int type;           /* a mutex: PTHREAD_MUTEX_NORMAL, _ERRORCHECK or _RECURSIVE */
    unsigned depth;     /* a recursive mutex: its holder's locks */
    unsigned long gen;  /* a condition: signals so far; a barrier: rounds completed (never reset) */
    unsigned count, arrived; /* a barrier */
    unsigned long value; /* a semaphore's value; a once: 2 when done */
    unsigned waiters;   /* a semaphore: threads in sem_wait that no post has released yet */
    unsigned grants;    /* a semaphore: units posted to released waiters that have not run yet */
} emu_sync;


/* The runtime, when the caller is a thread of an emulated program. */
static emu *thread_runtime(void)
{
    emu *m = emu_active;
    if (m == NULL || !m->bound || m->svc.self == NULL || m->svc.self(m->svc.ctx) < 0)
        return NULL;
    emu_note_call(m);
    return m;
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

/* Whether a thread still waits in s: released waiters (their round has
 * passed) do not count, though they may not have run yet. */
static int sync_waited(const emu *m, const emu_sync *s)
{
    unsigned long n = 0;
    if (s->kind == SYNC_SEM) /* a waiter that took its unit is done, though it may not have run yet */
        return s->waiters > 0;
    for (size_t i = 0; i < m->nthreads; i++) {
        const emu_thread *t = m->threads[i];
        if (t->running && t->waiting == s &&
            ((s->kind != SYNC_COND && s->kind != SYNC_BARRIER) || t->sync_gen == s->gen))
            n++;
    }
    return n > 0;
}

static int sync_busy(const emu *m, const emu_sync *s)
{
    return s->owner >= 0 || s->arrived > 0 || sync_waited(m, s);
}

/* A mutex first met without pthread_mutex_init: its type is the static
 * initializer's (glibc's PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP and
 * PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP write it in the mutex). */
static int static_type(const void *addr, sync_kind kind)
{
#ifdef __GLIBC__
    if (kind == SYNC_MUTEX)
        switch (((const pthread_mutex_t *)addr)->__data.__kind & 3) {
        case PTHREAD_MUTEX_RECURSIVE_NP: return PTHREAD_MUTEX_RECURSIVE;
        case PTHREAD_MUTEX_ERRORCHECK_NP: return PTHREAD_MUTEX_ERRORCHECK;
        default: break;
        }
#endif
    (void)addr;
    (void)kind;
    return PTHREAD_MUTEX_NORMAL;
}

/* The record of an object, made on first use (a statically initialized
 * one has had no init call: its contents say its type) unless init is
 * making it; NULL out of memory. Memory the program reuses for another
 * kind of object takes the new kind if the old one is idle. A round count
 * is never reset. */
static emu_sync *sync_lookup(emu *m, const void *addr, sync_kind kind, int init)
{
    emu_sync *s;
    for (size_t i = m->nsyncs; i-- > 0;)
        if (m->syncs[i]->addr == addr) {
            s = m->syncs[i];
            if (s->kind != kind && !sync_busy(m, s))
                *s = (emu_sync){addr, kind, -1, PTHREAD_MUTEX_NORMAL, 0, s->gen, 0, 0, 0, 0, s->grants};
            return s;
        }
    if (emu_vec_grow((void **)&m->syncs, &m->capsyncs, m->nsyncs, sizeof(*m->syncs)) < 0 ||
        (s = calloc(1, sizeof(*s))) == NULL) {
        thread_fail(m, "a mutex, condition, barrier, once or semaphore call", "out of host memory", ENOMEM);
        return NULL;
    }
    *s = (emu_sync){addr, kind, -1, init ? PTHREAD_MUTEX_NORMAL : static_type(addr, kind), 0, 0, 0, 0, 0, 0, 0};
    m->syncs[m->nsyncs++] = s;
    return s;
}

static emu_sync *sync_get(emu *m, const void *addr, sync_kind kind)
{
    return sync_lookup(m, addr, kind, 0);
}

/* An init: the record afresh, keeping its round count and a semaphore's
 * units owed to released waiters (threads released by its last round or
 * post may not have run yet). */
static emu_sync *sync_init(emu *m, const void *addr, sync_kind kind, const char *fn, int *code)
{
    emu_sync *s = addr != NULL ? sync_lookup(m, addr, kind, 1) : NULL;
    *code = ENOMEM; /* what the init returns when NULL: out of memory (said), or busy */
    if (s == NULL)
        return NULL;
    if (sync_busy(m, s)) {
        *code = thread_fail(m, fn, "it is in use (locked, or a thread waits in it)", EBUSY);
        return NULL;
    }
    *s = (emu_sync){addr, kind, -1, PTHREAD_MUTEX_NORMAL, 0, s->gen, 0, 0, 0, 0, s->grants};
    return s;
}

/* A destroy: EBUSY while in use (POSIX allows the error; the object would
 * vanish under its waiter). The record stays. */
static int sync_destroy(emu *m, const void *addr, const char *fn)
{
    for (size_t i = 0; i < m->nsyncs; i++)
        if (m->syncs[i]->addr == addr && sync_busy(m, m->syncs[i]))
            return thread_fail(m, fn, "it is in use (locked, or a thread waits in it)", EBUSY);
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
    t->sync_gen = s->gen;
    t->blocked = 1;
    m->svc.wait(m->svc.ctx, ready, arg);
    t->blocked = 0;
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
 * unless it is a thread of the calling process (its main included). */
static emu_thread *thread_of(emu *m, pthread_t t)
{
    emu_thread *u = t >= 1 && t <= m->nthreads ? m->threads[t - 1] : NULL;
    return u != NULL && u->proc == emu_thread_self(m)->proc ? u : NULL;
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
    index = m->nthreads;
    m->threads[m->nthreads++] = t;
    m->procs[self->proc].live++;
    /* Set before it starts, as glibc sets it: starting it lets it run first. */
    *thread = (pthread_t)index + 1;
    if (m->svc.start_thread(m->svc.ctx, (int)index, m->procs[self->proc].first, start, arg) < 0) {
        t->running = 0;
        m->procs[self->proc].live--;
        return thread_fail(m, "pthread_create", "the runner could not start it (out of host memory)", EAGAIN);
    }
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
        return thread_fail(m, "pthread_join", "not a thread of this process", ESRCH);
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
        return thread_fail(m, "pthread_detach", "not a thread of this process", ESRCH);
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
    int type = PTHREAD_MUTEX_NORMAL, code;
    if (m == NULL)
        return pthread_mutex_init(mutex, attr);
    if (attr != NULL && pthread_mutexattr_gettype(attr, &type) != 0)
        return thread_fail(m, "pthread_mutex_init", "an attribute object not initialized", EINVAL);
    if (mutex == NULL)
        return thread_fail(m, "pthread_mutex_init", "a NULL mutex", EINVAL);
    if ((s = sync_init(m, mutex, SYNC_MUTEX, "pthread_mutex_init", &code)) == NULL)
        return code;
    s->type = type;
    return 0;
}

int spEmuMutexDestroy(pthread_mutex_t *mutex)
{
    emu *m = thread_runtime();
    if (m == NULL)
        return pthread_mutex_destroy(mutex);
    return mutex == NULL ? thread_fail(m, "pthread_mutex_destroy", "a NULL mutex", EINVAL)
                         : sync_destroy(m, mutex, "pthread_mutex_destroy");
}

typedef struct mutex_want {
    emu_sync *s;
    int me;
} mutex_want;

/* Takes the mutex if it is free: the test and the taking are one step
 * (a waiter that found it free and returned would otherwise let another
 * find it free too, before it wrote itself in). */
static int mutex_take(const void *arg)
{
    const mutex_want *w = arg;
    if (w->s->owner < 0) {
        w->s->owner = w->me;
        w->s->depth = 1;
    }
    return w->s->owner == w->me;
}

static int mutex_lock(emu *m, pthread_mutex_t *mutex, int wait, const char *fn)
{
    emu_sync *s;
    mutex_want w;
    if (mutex == NULL || (s = sync_get(m, mutex, SYNC_MUTEX)) == NULL || s->kind != SYNC_MUTEX)
        return thread_fail(m, fn, "not a mutex", EINVAL);
    w = (mutex_want){s, thread_index(m)};
    if (s->owner == w.me) {
        if (s->type == PTHREAD_MUTEX_RECURSIVE) {
            s->depth++;
            return 0;
        }
        if (!wait) { /* only this thread could free it: a loop of these ends in a hang report */
            emu_query(m, fn, EMU_QUERY_OWN, 0, EMU_TRYLOCK_S);
            return EBUSY;
        }
        if (s->type == PTHREAD_MUTEX_ERRORCHECK)
            return EDEADLK;
        /* A default mutex would hang the thread for good: said, not done. */
        return thread_fail(m, fn, "this thread already holds the mutex (it would deadlock)", EDEADLK);
    }
    if (s->owner >= 0 && !wait) { /* a loop of trylocks would spin at one instant: each takes host time */
        emu_query(m, fn, EMU_QUERY_WAITING, 0, EMU_TRYLOCK_S);
        return mutex_take(&w) ? 0 : EBUSY;
    }
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

static int mutex_unlock(emu *m, pthread_mutex_t *mutex, const char *fn)
{
    emu_sync *s;
    if (mutex == NULL || (s = sync_get(m, mutex, SYNC_MUTEX)) == NULL || s->owner != thread_index(m))
        return thread_fail(m, fn, "a mutex this thread does not hold", EPERM);
    if (--s->depth > 0)
        return 0; /* a recursive mutex, still held */
    s->owner = -1;
    emu_wake(m);
    return 0;
}

int spEmuMutexUnlock(pthread_mutex_t *mutex)
{
    emu *m = thread_runtime();
    return m == NULL ? pthread_mutex_unlock(mutex) : mutex_unlock(m, mutex, "pthread_mutex_unlock");
}

/* --- Condition variables ------------------------------------------------------- */

int spEmuCondInit(pthread_cond_t *cond, const pthread_condattr_t *attr)
{
    emu *m = thread_runtime();
    int code;
    if (m == NULL)
        return pthread_cond_init(cond, attr);
    if (cond == NULL)
        return thread_fail(m, "pthread_cond_init", "a NULL condition variable", EINVAL);
    return sync_init(m, cond, SYNC_COND, "pthread_cond_init", &code) != NULL ? 0 : code;
}

int spEmuCondDestroy(pthread_cond_t *cond)
{
    emu *m = thread_runtime();
    if (m == NULL)
        return pthread_cond_destroy(cond);
    return sync_destroy(m, cond, "pthread_cond_destroy");
}

typedef struct round_wait {
    const emu_sync *s;
    unsigned long gen;
} round_wait;

static int round_passed(const void *arg)
{
    const round_wait *w = arg;
    return w->s->gen != w->gen;
}

/* Every waiter wakes on a signal as on a broadcast: POSIX allows a signal
 * to wake more than one, and waiters must test their predicate again. */
int spEmuCondWait(pthread_cond_t *cond, pthread_mutex_t *mutex)
{
    emu *m = thread_runtime();
    emu_sync *c, *mu;
    round_wait w;
    unsigned depth;
    int rc;
    if (m == NULL)
        return pthread_cond_wait(cond, mutex);
    if (cond == NULL || (c = sync_get(m, cond, SYNC_COND)) == NULL || c->kind != SYNC_COND)
        return thread_fail(m, "pthread_cond_wait", "not a condition variable", EINVAL);
    if (mutex == NULL || (mu = sync_get(m, mutex, SYNC_MUTEX)) == NULL || mu->owner != thread_index(m))
        return thread_fail(m, "pthread_cond_wait", "a mutex this thread does not hold", EPERM);
    w = (round_wait){c, c->gen};
    depth = mu->depth;
    mu->owner = -1; /* released whatever its depth, and taken back at it */
    mu->depth = 0;
    emu_wake(m);
    wait_in(m, EMU_WAIT_COND, c, round_passed, &w);
    if (!round_passed(&w))
        return EINVAL; /* the run is ending as a hang */
    if ((rc = mutex_lock(m, mutex, 1, "pthread_cond_wait")) == 0)
        mu->depth = depth;
    return rc;
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
    int code;
    if (m == NULL)
        return pthread_barrier_init(barrier, attr, count);
    if (barrier == NULL || count == 0)
        return thread_fail(m, "pthread_barrier_init", "a NULL barrier or a count of 0", EINVAL);
    if ((s = sync_init(m, barrier, SYNC_BARRIER, "pthread_barrier_init", &code)) == NULL)
        return code;
    s->count = count;
    return 0;
}

int spEmuBarrierDestroy(pthread_barrier_t *barrier)
{
    emu *m = thread_runtime();
    if (m == NULL)
        return pthread_barrier_destroy(barrier);
    return sync_destroy(m, barrier, "pthread_barrier_destroy");
}

int spEmuBarrierWait(pthread_barrier_t *barrier)
{
    emu *m = thread_runtime();
    emu_sync *b = NULL;
    round_wait w;
    if (m == NULL)
        return pthread_barrier_wait(barrier);
    for (size_t i = 0; barrier != NULL && i < m->nsyncs; i++) /* never made on first use: it needs a count */
        if (m->syncs[i]->addr == barrier && m->syncs[i]->kind == SYNC_BARRIER && m->syncs[i]->count > 0)
            b = m->syncs[i];
    if (b == NULL)
        return thread_fail(m, "pthread_barrier_wait", "a barrier pthread_barrier_init did not set up", EINVAL);
    if (++b->arrived == b->count) {
        b->arrived = 0;
        b->gen++;
        emu_wake(m);
        return PTHREAD_BARRIER_SERIAL_THREAD;
    }
    w = (round_wait){b, b->gen};
    wait_in(m, EMU_WAIT_BARRIER, b, round_passed, &w);
    return 0;
}

/* --- Once -------------------------------------------------------------------------- */

static int once_done(const void *arg)
{
    return ((const emu_sync *)arg)->value == 2;
}

/* The first caller runs the function; the others wait until it returns
 * (it may block, letting them run). The control holds the state, as
 * glibc's does (0 PTHREAD_ONCE_INIT, 1 running, 2 done), so that memory
 * set to PTHREAD_ONCE_INIT again runs the function again. */
int spEmuOnce(pthread_once_t *once, void (*init)(void))
{
    emu *m = thread_runtime();
    emu_sync *s;
    if (m == NULL)
        return pthread_once(once, init);
    if (once == NULL || init == NULL || (s = sync_get(m, once, SYNC_ONCE)) == NULL)
        return thread_fail(m, "pthread_once", "a NULL control or function", EINVAL);
    if (*once == PTHREAD_ONCE_INIT) {
        *once = 1;
        s->value = 1;
        s->owner = thread_index(m);
        init();
        *once = 2;
        s->value = 2;
        s->owner = -1;
        emu_wake(m);
        return 0;
    }
    if (*once == 2)
        return 0;
    if (s->owner == thread_index(m))
        return thread_fail(m, "pthread_once", "called again from its own function (it would deadlock)", EDEADLK);
    wait_in(m, EMU_WAIT_ONCE, s, once_done, s);
    return once_done(s) ? 0 : EDEADLK;
}

/* --- Thread-specific data ------------------------------------------------------ */

/* pthread_key_create and the values it keys, per emulated thread: the
 * C library's own would be per system thread, which emulated threads share
 * (unless --os-threads). Keys are per process, as POSIX's are. */

/* An emulated key is its index with this bit set, which no C library key
 * has (they stay below PTHREAD_KEYS_MAX): a key the program made before the
 * emulator ran (in a constructor) is the C library's, and its calls go
 * there, shared by every emulated thread. */
#define KEY_TAG 0x40000000u
#define KEY_EMULATED(k) (((k) & KEY_TAG) != 0)
#define KEY_INDEX(k) ((size_t)((k) & ~KEY_TAG))

static struct emu_key *key_of(emu *m, pthread_key_t key)
{
    emu_proc *P = &m->procs[emu_thread_self(m)->proc];
    size_t i = KEY_INDEX(key);
    return KEY_EMULATED(key) && i < P->nkeys && P->keys[i].used ? &P->keys[i] : NULL;
}

int spEmuKeyCreate(pthread_key_t *key, void (*destructor)(void *))
{
    emu *m = thread_runtime();
    emu_proc *P;
    size_t i, used = 0;

    if (m == NULL)
        return pthread_key_create(key, destructor);
    if (key == NULL)
        return thread_fail(m, "pthread_key_create", "a NULL key", EINVAL);
    P = &m->procs[emu_thread_self(m)->proc];
    for (i = 0; i < P->nkeys; i++)
        used += P->keys[i].used != 0;
    if (used >= PTHREAD_KEYS_MAX)
        return thread_fail(m, "pthread_key_create", "PTHREAD_KEYS_MAX keys exist", EAGAIN);
    for (i = 0; i < P->nkeys && P->keys[i].used; i++)
        ;
    if (i == P->nkeys) {
        if (emu_vec_grow((void **)&P->keys, &P->capkeys, P->nkeys, sizeof(*P->keys)) < 0)
            return thread_fail(m, "pthread_key_create", "out of host memory", ENOMEM);
        P->nkeys++;
    }
    P->keys[i] = (struct emu_key){1, ++m->key_gen, destructor};
    *key = (pthread_key_t)i | KEY_TAG;
    return 0;
}

int spEmuKeyDelete(pthread_key_t key)
{
    emu *m = thread_runtime();
    struct emu_key *k;
    if (m == NULL || !KEY_EMULATED(key))
        return pthread_key_delete(key);
    if ((k = key_of(m, key)) == NULL)
        return thread_fail(m, "pthread_key_delete", "not a key of this process", EINVAL);
    k->used = 0; /* no destructor runs, as POSIX says */
    return 0;
}

void *spEmuGetspecific(pthread_key_t key)
{
    emu *m = thread_runtime();
    struct emu_key *k;
    emu_thread *t;
    if (m == NULL || !KEY_EMULATED(key))
        return pthread_getspecific(key);
    t = emu_thread_self(m);
    if ((k = key_of(m, key)) == NULL || KEY_INDEX(key) >= t->nspecific || t->specific[KEY_INDEX(key)].gen != k->gen)
        return NULL;
    return (void *)(uintptr_t)t->specific[KEY_INDEX(key)].value; /* POSIX's signature drops the const */
}

int spEmuSetspecific(pthread_key_t key, const void *value)
{
    emu *m = thread_runtime();
    struct emu_key *k;
    emu_thread *t;
    size_t i = KEY_INDEX(key);
    if (m == NULL || !KEY_EMULATED(key))
        return pthread_setspecific(key, value);
    t = emu_thread_self(m);
    if ((k = key_of(m, key)) == NULL)
        return thread_fail(m, "pthread_setspecific", "not a key of this process", EINVAL);
    if (i >= t->nspecific) {
        size_t n = i + 1 > 2 * t->nspecific ? i + 1 : 2 * t->nspecific;
        struct emu_specific *v = realloc(t->specific, n * sizeof(*v));
        if (v == NULL)
            return thread_fail(m, "pthread_setspecific", "out of host memory", ENOMEM);
        memset(v + t->nspecific, 0, (n - t->nspecific) * sizeof(*v));
        t->specific = v;
        t->nspecific = n;
    }
    t->specific[i] = (struct emu_specific){value, k->gen};
    return 0;
}

/* POSIX: when a thread exits, each key's destructor runs on its non-NULL
 * value (set to NULL first), in rounds while values remain, at most
 * PTHREAD_DESTRUCTOR_ITERATIONS rounds. Destructors may set values and
 * make or delete keys: the arrays are read afresh each time. */
void emu_thread_exit(emu *m, int thread)
{
    emu_thread *t = m->threads[thread];
    emu_proc *P = &m->procs[t->proc];

    for (int round = 0, again = 1; again && round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
        again = 0;
        for (size_t i = 0; i < P->nkeys && i < t->nspecific; i++) {
            const void *v = t->specific[i].value;
            if (!P->keys[i].used || P->keys[i].dtor == NULL || t->specific[i].gen != P->keys[i].gen || v == NULL)
                continue;
            t->specific[i].value = NULL;
            P->keys[i].dtor((void *)(uintptr_t)v);
            again = 1;
        }
    }
}

/* --- Semaphores ---------------------------------------------------------------- */

int spEmuSemInit(sem_t *sem, int pshared, unsigned value)
{
    emu *m = thread_runtime();
    emu_sync *s;
    int code = EINVAL;
    if (m == NULL)
        return sem_init(sem, pshared, value);
    if (sem == NULL || (s = sync_init(m, sem, SYNC_SEM, "sem_init", &code)) == NULL) {
        errno = sem == NULL ? EINVAL : code;
        return -1;
    }
    s->value = value;
    return 0;
}

int spEmuSemDestroy(sem_t *sem)
{
    emu *m = thread_runtime();
    if (m == NULL)
        return sem_destroy(sem);
    if (sync_destroy(m, sem, "sem_destroy") != 0) {
        errno = EBUSY;
        return -1;
    }
    return 0;
}

static emu_sync *sem_arg(emu *m, sem_t *sem, const char *fn)
{
    emu_sync *s = NULL;
    for (size_t i = 0; sem != NULL && i < m->nsyncs; i++) /* never made on first use: it needs a value */
        if (m->syncs[i]->addr == sem && m->syncs[i]->kind == SYNC_SEM)
            s = m->syncs[i];
    if (s == NULL) {
        thread_fail(m, fn, "a semaphore sem_init did not set up", EINVAL);
        errno = EINVAL;
    }
    return s;
}

/* Takes one if there is one: the test and the taking in one step. */
static int sem_take(const void *arg)
{
    emu_sync *s = (emu_sync *)arg;
    if (s->value == 0)
        return 0;
    s->value--;
    return 1;
}

/* The same for a waiter: a unit a post handed to a waiter first, else
 * one of the value (it is then no longer a waiter). */
static int sem_take_waiting(const void *arg)
{
    emu_sync *s = (emu_sync *)arg;
    if (s->grants > 0) {
        s->grants--;
        return 1;
    }
    if (!sem_take(arg))
        return 0;
    s->waiters--;
    return 1;
}

static int sem_down(sem_t *sem, int wait, const char *fn)
{
    emu *m = thread_runtime();
    emu_sync *s;
    if (m == NULL)
        return wait ? sem_wait(sem) : sem_trywait(sem);
    if ((s = sem_arg(m, sem, fn)) == NULL)
        return -1;
    if (sem_take(s))
        return 0;
    if (!wait) { /* a loop of them would spin at one instant: each takes host time */
        emu_query(m, fn, EMU_QUERY_WAITING, 0, EMU_TRYWAIT_S);
        if (sem_take(s))
            return 0;
        errno = EAGAIN;
        return -1;
    }
    {
        emu_thread *t = emu_thread_self(m);
        int took = 0;
        t->waiting_what = EMU_WAIT_SEM;
        t->waiting = s;
        if (m->svc.wait != NULL) {
            s->waiters++;
            t->blocked = 1;
            m->svc.wait(m->svc.ctx, sem_take_waiting, s);
            t->blocked = 0;
            took = 1;
        }
        t->waiting = NULL;
        t->waiting_what = EMU_WAIT_NONE;
        if (took)
            return 0;
    }
    errno = EDEADLK; /* no runner to wait with */
    return -1;
}

int spEmuSemWait(sem_t *sem)
{
    return sem_down(sem, 1, "sem_wait");
}

int spEmuSemTrywait(sem_t *sem)
{
    return sem_down(sem, 0, "sem_trywait");
}

int spEmuSemPost(sem_t *sem)
{
    emu *m = thread_runtime();
    emu_sync *s;
    if (m == NULL)
        return sem_post(sem);
    if ((s = sem_arg(m, sem, "sem_post")) == NULL)
        return -1;
    if (s->waiters > 0) { /* a waiter is released now, as POSIX has it, though it runs later */
        s->waiters--;
        s->grants++;
    } else {
        s->value++;
    }
    emu_wake(m);
    return 0;
}

int spEmuSemGetvalue(sem_t *sem, int *value)
{
    emu *m = thread_runtime();
    emu_sync *s;
    if (m == NULL)
        return sem_getvalue(sem, value);
    if ((s = sem_arg(m, sem, "sem_getvalue")) == NULL || value == NULL)
        return -1;
    *value = (int)s->value;
    return 0;
}

/* --- The hang report -------------------------------------------------------------- */

void emu_thread_missing(const emu *m, emu_wait what, const void *arg, char *buf, size_t size)
{
    const emu_sync *s = arg;
    if (what == EMU_WAIT_JOIN) {
        snprintf(buf, size, "pthread_join of thread %d, which never returned", ((const emu_thread *)arg)->id);
    } else if (what == EMU_WAIT_MUTEX || what == EMU_WAIT_ONCE) {
        const emu_thread *o = s->owner >= 0 && (size_t)s->owner < m->nthreads ? m->threads[s->owner] : NULL;
        const char *call = what == EMU_WAIT_MUTEX ? "pthread_mutex_lock of a mutex" : "pthread_once, whose function";
        char who[48];
        if (o != NULL && o->id == 0)
            snprintf(who, sizeof(who), m->nprocs > 1 ? "process %d's main" : "main", o->proc);
        else if (o != NULL)
            snprintf(who, sizeof(who), m->nprocs > 1 ? "thread %d of process %d" : "thread %d", o->id, o->proc);
        if (o != NULL && what == EMU_WAIT_MUTEX)
            snprintf(buf, size, "%s that %s %s", call, who, o->running ? "holds" : "returned holding");
        else if (o != NULL)
            snprintf(buf, size, "%s %s runs, never returned", call, who);
        else
            snprintf(buf, size, "%s", call);
    } else if (what == EMU_WAIT_COND) {
        snprintf(buf, size, "pthread_cond_wait on a condition variable that no thread signals");
    } else if (what == EMU_WAIT_SEM) {
        snprintf(buf, size, "sem_wait on a semaphore that no thread posts");
    } else {
        snprintf(buf, size, "pthread_barrier_wait: %u of its %u threads arrived", s->arrived, s->count);
    }
}

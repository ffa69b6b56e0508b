/* threads_sync.c - POSIX synchronization as glibc gives it, under the
 * emulator's cooperative threads: mutex types (recursive, error-checking,
 * trylock), a barrier destroyed and set up again by its serial thread, a
 * condition destroyed after its broadcast, pthread_once whose function
 * blocks, a semaphore between a producer and a consumer, pthread_t stored
 * before the thread runs, joining oneself; and CUDA state the threads of a
 * process share: one default stream per device, and a buffer two threads
 * free at once (one free succeeds). Each answer is the one glibc and CUDA
 * give. Prints "PASSED: 0 failed check(s)". */
#define _GNU_SOURCE /* PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <scalepath_emu.h>

#define N 4

static int fails;
static pthread_t ids[N];
static pthread_barrier_t bar;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static sem_t items;
static int once_runs, go, produced[64], consumed;
static void *shared_buf;
static int free_ok;
static int base; /* the first of the two GPUs this process uses: 2 x its local rank (--ppn) */
static pthread_mutex_t srec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static sem_t lone;
static int inits;

static void count_init(void)
{
    inits++;
}

static void *lone_waiter(void *arg)
{
    (void)arg;
    sem_wait(&lone);
    return NULL;
}

static void check(int ok, const char *what)
{
    if (!ok) {
        printf("FAILED: %s\n", what);
        fails++;
    }
}

static void once_init(void)
{
    once_runs++;
    spEmuKernel(NULL, 1e-3); /* the others call pthread_once meanwhile */
    cudaDeviceSynchronize();
}

static void *worker(void *arg)
{
    int t = (int)(long)arg;
    check(pthread_equal(ids[t], pthread_self()), "pthread_create stores the id before the thread runs");
    cudaSetDevice(base);
    /* Each round ends with the serial thread destroying the barrier and
     * setting it up again for the next, as glibc allows. */
    for (int round = 0; round < 3; round++) {
        int r = pthread_barrier_wait(&bar);
        if (r == PTHREAD_BARRIER_SERIAL_THREAD) {
            check(pthread_barrier_destroy(&bar) == 0, "the serial thread destroys the barrier");
            check(pthread_barrier_init(&bar, NULL, N) == 0, "and sets it up again");
            pthread_mutex_lock(&mu);
            go = round + 1;
            pthread_cond_broadcast(&cv);
            pthread_mutex_unlock(&mu);
        } else {
            check(r == 0, "pthread_barrier_wait's answer");
            pthread_mutex_lock(&mu);
            while (go <= round)
                pthread_cond_wait(&cv, &mu);
            pthread_mutex_unlock(&mu);
        }
    }
    pthread_once(&once, once_init);
    check(once_runs == 1, "pthread_once ran its function once, and returned after it");
    /* Two threads free one buffer: exactly one succeeds. */
    if (t < 2) {
        cudaError_t e = cudaFree(shared_buf);
        pthread_mutex_lock(&mu);
        free_ok += e == cudaSuccess;
        pthread_mutex_unlock(&mu);
    }
    /* A producer and N - 1 consumers through a semaphore. */
    if (t == 0) {
        for (int i = 0; i < 3 * (N - 1); i++) {
            produced[i] = i + 1;
            sem_post(&items);
            spEmuKernel(NULL, 1e-4);
            cudaStreamSynchronize(NULL);
        }
    } else {
        for (int i = 0; i < 3; i++) {
            check(sem_wait(&items) == 0, "sem_wait");
            pthread_mutex_lock(&mu);
            consumed++;
            pthread_mutex_unlock(&mu);
        }
    }
    return NULL;
}

/* Two threads' kernels on the NULL stream of one device run in turn. */
static void *kernel_thread(void *arg)
{
    (void)arg;
    cudaSetDevice(base + 1);
    pthread_barrier_wait(&bar);
    spEmuKernel(NULL, 1e-3);
    return NULL;
}

int main(void)
{
    pthread_mutex_t rec, chk;
    pthread_mutexattr_t at;
    pthread_t k[2];
    int v = -1;
    double t0;
    const char *lr = getenv("OMPI_COMM_WORLD_LOCAL_RANK");

    base = lr != NULL ? 2 * atoi(lr) : 0;
    /* Mutex types. */
    pthread_mutexattr_init(&at);
    pthread_mutexattr_settype(&at, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&rec, &at);
    check(pthread_mutex_lock(&rec) == 0 && pthread_mutex_lock(&rec) == 0, "a recursive mutex locked twice");
    check(pthread_mutex_trylock(&rec) == 0, "a recursive mutex's trylock by its holder");
    check(pthread_mutex_unlock(&rec) == 0 && pthread_mutex_unlock(&rec) == 0 && pthread_mutex_unlock(&rec) == 0,
          "three unlocks");
    check(pthread_mutex_unlock(&rec) == EPERM, "a fourth unlock");
    pthread_mutexattr_settype(&at, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&chk, &at);
    pthread_mutex_lock(&chk);
    check(pthread_mutex_lock(&chk) == EDEADLK, "an error-checking mutex locked twice");
    check(pthread_mutex_trylock(&chk) == EBUSY, "trylock of a held mutex");
    pthread_mutex_unlock(&chk);
    pthread_mutex_destroy(&chk);
    pthread_mutex_destroy(&rec);
    pthread_mutexattr_destroy(&at);
    check(pthread_join(pthread_self(), NULL) == EDEADLK, "joining oneself");
    check(pthread_mutex_lock(&srec) == 0 && pthread_mutex_lock(&srec) == 0 && pthread_mutex_unlock(&srec) == 0 &&
              pthread_mutex_unlock(&srec) == 0,
          "a mutex from glibc's recursive static initializer");
    /* A control set to PTHREAD_ONCE_INIT again (memory reused) runs its function again. */
    for (int i = 0; i < 3; i++) {
        pthread_once_t *o = malloc(sizeof(*o));
        *o = PTHREAD_ONCE_INIT;
        pthread_once(o, count_init);
        pthread_once(o, count_init);
        free(o);
    }
    check(inits == 3, "pthread_once on a control set up three times");
    /* A semaphore destroyed right after the post that releases its waiter. */
    {
        pthread_t w;
        sem_init(&lone, 0, 0);
        pthread_create(&w, NULL, lone_waiter, NULL);
        spEmuKernel(NULL, 1e-4); /* the waiter blocks in sem_wait meanwhile */
        cudaStreamSynchronize(NULL);
        check(sem_destroy(&lone) == -1 && errno == EBUSY, "a semaphore a thread waits in is not destroyed");
        sem_post(&lone);
        check(sem_destroy(&lone) == 0, "a semaphore destroyed once its waiter is released");
        pthread_join(w, NULL);
    }

    /* The threads of one process share each device's default stream. */
    pthread_barrier_init(&bar, NULL, 2);
    cudaSetDevice(base + 1);
    t0 = spEmuNow();
    for (int i = 0; i < 2; i++)
        pthread_create(&k[i], NULL, kernel_thread, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(k[i], NULL);
    cudaStreamSynchronize(NULL);
    check(spEmuNow() - t0 > 1.99e-3 && spEmuNow() - t0 < 2.01e-3, "two 1 ms kernels on one default stream take 2 ms");
    pthread_barrier_destroy(&bar);

    cudaSetDevice(base);
    cudaMalloc(&shared_buf, 1 << 20);
    spEmuKernel(NULL, 1e-3); /* the frees wait for it */
    sem_init(&items, 0, 0);
    pthread_barrier_init(&bar, NULL, N);
    for (int t = 0; t < N; t++)
        pthread_create(&ids[t], NULL, worker, (void *)(long)t);
    for (int t = 0; t < N; t++)
        pthread_join(ids[t], NULL);
    check(free_ok == 1, "of two cudaFree calls of one buffer, one succeeds");
    check(consumed == 3 * (N - 1) && sem_getvalue(&items, &v) == 0 && v == 0, "every item consumed once");
    check(pthread_cond_destroy(&cv) == 0, "a condition destroyed after its broadcast");
    check(pthread_barrier_destroy(&bar) == 0 && sem_destroy(&items) == 0, "destroyed once unused");
    printf("PASSED: %d failed check(s)\n", fails);
    return fails != 0;
}

/* polling_threads.c - polling loops that must end when what they poll for
 * happens, at the time a blocking wait would give: two streams queried in
 * turn; two threads polling their streams while sharing a counter under a
 * mutex; a trylock loop while the holder waits for a 1 ms kernel; a
 * sem_trywait loop whose post comes after a 1 ms kernel; a progress thread
 * polling MPI_Iprobe until main sets a flag (no event at all). Each is
 * seen within a microsecond (a few polls) of when it happens. Run as one
 * process. Prints "PASSED: 0 failed check(s)". */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>
#include <scalepath_emu.h>

static int fails;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static sem_t sem;
static volatile int stop, go;
static ncclComm_t pair[2];
static cudaEvent_t done_event;

static void check(int ok, const char *what)
{
    if (!ok) {
        printf("FAILED: %s\n", what);
        fails++;
    }
}

/* Seen at the end of the work, or a few polls' host time later (a poll
 * takes 0.005-0.273 us: docs/emulation.md). */
static int near_ms(double s, double ms)
{
    return s * 1e3 > ms - 1e-6 && s * 1e3 < ms + 1e-3;
}

static void *poll_own_stream(void *arg)
{
    cudaStream_t s;
    cudaSetDevice((int)(long)arg);
    cudaStreamCreate(&s);
    spEmuKernel(s, 1e-3);
    while (cudaStreamQuery(s) == cudaErrorNotReady) {
        pthread_mutex_lock(&mu);
        counter++;
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static void *hold_across_kernel(void *arg)
{
    (void)arg;
    cudaSetDevice(2);
    pthread_mutex_lock(&mu);
    spEmuKernel(NULL, 1e-3);
    cudaStreamSynchronize(NULL);
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void *post_after_kernel(void *arg)
{
    (void)arg;
    cudaSetDevice(3);
    spEmuKernel(NULL, 1e-3);
    cudaStreamSynchronize(NULL);
    sem_post(&sem);
    return NULL;
}

static void *progress(void *arg)
{
    int flag;
    (void)arg;
    while (!stop)
        MPI_Iprobe(MPI_ANY_SOURCE, 7, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    return NULL;
}

/* Rank 0 of an all-reduce, polled; it lets rank 1 start (a flag) only
 * after a few of its queries: no change marks the flag. */
static void *rank0_polls(void *arg)
{
    float *b;
    cudaStream_t s;
    int queries = 0;
    (void)arg;
    cudaSetDevice(6);
    cudaMalloc((void **)&b, 4096);
    cudaStreamCreate(&s);
    ncclAllReduce(b, b, 1024, ncclFloat, ncclSum, pair[0], s);
    while (cudaStreamQuery(s) == cudaErrorNotReady)
        if (++queries == 3)
            go = 1;
    return NULL;
}

static void *rank1_waits_flag(void *arg)
{
    float *b;
    cudaStream_t s;
    sem_t never;
    (void)arg;
    sem_init(&never, 0, 0);
    while (!go)
        sem_trywait(&never);
    cudaSetDevice(7);
    cudaMalloc((void **)&b, 4096);
    cudaStreamCreate(&s);
    ncclAllReduce(b, b, 1024, ncclFloat, ncclSum, pair[1], s);
    cudaStreamSynchronize(s);
    return NULL;
}

/* A thread polling its own 5 ms kernel, counting its queries (no other
 * call between them: threads that call in between keep each other
 * polling at the host's pace). */
static long long_polls[2];
static void *poll_long_kernel(void *arg)
{
    cudaStream_t s;
    double t0;
    int i = (int)(long)arg;
    cudaSetDevice(2 + i);
    cudaStreamCreate(&s);
    t0 = spEmuNow();
    spEmuKernel(s, 5e-3);
    while (cudaStreamQuery(s) == cudaErrorNotReady)
        long_polls[i]++;
    check(near_ms(spEmuNow() - t0, 5.0), "a polled 5 ms kernel, beside other pollers, seen done at its end");
    return NULL;
}

/* Two threads polling a semaphore nobody posts; one sets a flag after 5
 * polls, which the other waits for, while unrelated GPU work runs. */
static volatile int handoff;
static void *poll_until_handoff(void *arg)
{
    sem_t *never = arg;
    while (!handoff)
        sem_trywait(never);
    return NULL;
}

static void *handoff_after_polls(void *arg)
{
    sem_t *never = arg;
    for (int i = 0; i < 5; i++)
        sem_trywait(never);
    handoff = 1;
    return NULL;
}

/* Waits for a post that main makes after many queries of finished work. */
static void *wait_post(void *arg)
{
    sem_wait(arg);
    return NULL;
}

/* A progress loop on work already done, until main sets a flag. */
static void *idle_progress(void *arg)
{
    (void)arg;
    while (!stop)
        cudaEventQuery(done_event);
    return NULL;
}

int main(int argc, char **argv)
{
    cudaStream_t s1, s2;
    double t0, seen1 = -1, seen2 = -1;
    int d1 = 0, d2 = 0, rc;
    pthread_t t[2];

    MPI_Init(&argc, &argv);
    /* Two streams of two GPUs, queried in turn: each seen done when it ends. */
    cudaSetDevice(0);
    cudaStreamCreate(&s1);
    cudaSetDevice(1);
    cudaStreamCreate(&s2);
    t0 = spEmuNow();
    spEmuKernel(s1, 1e-3);
    spEmuKernel(s2, 10e-3);
    while (!(d1 && d2)) {
        if (!d1 && cudaStreamQuery(s1) == cudaSuccess) {
            d1 = 1;
            seen1 = spEmuNow() - t0;
        }
        if (!d2 && cudaStreamQuery(s2) == cudaSuccess) {
            d2 = 1;
            seen2 = spEmuNow() - t0;
        }
    }
    check(near_ms(seen1, 1.0) && near_ms(seen2, 10.0), "two streams queried in turn: seen done when they end");

    /* Two threads polling, waking each other through a mutex. */
    t0 = spEmuNow();
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, poll_own_stream, (void *)(i + 4));
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    check(near_ms(spEmuNow() - t0, 1.0), "two polling threads end with their 1 ms kernels");

    /* A trylock loop: the mutex frees when its holder's kernel ends. */
    pthread_create(&t[0], NULL, hold_across_kernel, NULL);
    t0 = spEmuNow();
    while ((rc = pthread_mutex_trylock(&mu)) == EBUSY)
        ;
    check(rc == 0 && near_ms(spEmuNow() - t0, 1.0), "a trylock loop takes the mutex when it is freed");
    pthread_mutex_unlock(&mu);
    pthread_join(t[0], NULL);

    /* A sem_trywait loop: the post comes after a 1 ms kernel. */
    sem_init(&sem, 0, 0);
    pthread_create(&t[0], NULL, post_after_kernel, NULL);
    t0 = spEmuNow();
    while (sem_trywait(&sem) != 0)
        check(errno == EAGAIN, "sem_trywait's errno");
    check(near_ms(spEmuNow() - t0, 1.0), "a sem_trywait loop takes the unit when it is posted");
    pthread_join(t[0], NULL);
    sem_destroy(&sem);

    /* A progress thread told to stop by a flag: nothing else happens. */
    pthread_create(&t[0], NULL, progress, NULL);
    stop = 1;
    pthread_join(t[0], NULL);

    /* A flag set after a few polls of a collective that waits for the
     * flag's reader: both ranks finish. */
    {
        int devs[2] = {6, 7};
        ncclCommInitAll(pair, 2, devs);
        pthread_create(&t[0], NULL, rank0_polls, NULL);
        pthread_create(&t[1], NULL, rank1_waits_flag, NULL);
        pthread_join(t[0], NULL);
        pthread_join(t[1], NULL);
        check(go == 1, "a flag set between polls lets its reader go on");
    }

    /* A loop querying finished work, stopped by a flag main sets after a
     * 1 ms kernel. */
    cudaSetDevice(5);
    cudaEventCreate(&done_event);
    cudaEventRecord(done_event, NULL);
    cudaStreamSynchronize(NULL);
    stop = 0;
    pthread_create(&t[0], NULL, idle_progress, NULL);
    t0 = spEmuNow();
    spEmuKernel(NULL, 1e-3);
    cudaStreamSynchronize(NULL);
    stop = 1;
    pthread_join(t[0], NULL);
    check(near_ms(spEmuNow() - t0, 1.0), "a loop on finished work ends when told, after the 1 ms kernel");

    /* A loop that polls until a deadline it reads on the clock: time
     * passes for it (nothing else would change). */
    {
        int flag = 0;
        double start = MPI_Wtime();
        while (!flag && MPI_Wtime() - start < 1e-3)
            MPI_Iprobe(MPI_ANY_SOURCE, 99, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
        check(!flag && near_ms(MPI_Wtime() - start, 1.0), "a poll loop with a 1 ms deadline gives up at 1 ms");
    }

    /* A deadline read on the clock every 100th poll only, while a 5 ms
     * kernel runs: the loop gives up at the deadline (within 100 polls). */
    {
        cudaStream_t k;
        long i = 0;
        double start;
        cudaSetDevice(6);
        cudaStreamCreate(&k);
        start = MPI_Wtime();
        spEmuKernel(k, 5e-3);
        while (cudaStreamQuery(k) == cudaErrorNotReady && (++i % 100 != 0 || MPI_Wtime() - start < 1e-3))
            ;
        check(near_ms(MPI_Wtime() - start, 1.0) || (MPI_Wtime() - start) * 1e3 < 1.0 + 100 * 2.46e-4,
              "a deadline read every 100th poll is kept");
        cudaStreamSynchronize(k);
    }

    /* Threads polling host things hand a flag over at the host's pace,
     * whatever GPU work runs elsewhere (a 50 ms kernel here). */
    {
        sem_t never;
        cudaStream_t k;
        sem_init(&never, 0, 0);
        cudaSetDevice(7);
        cudaStreamCreate(&k);
        spEmuKernel(k, 50e-3);
        t0 = spEmuNow();
        pthread_create(&t[0], NULL, poll_until_handoff, &never);
        pthread_create(&t[1], NULL, handoff_after_polls, &never);
        pthread_join(t[0], NULL);
        pthread_join(t[1], NULL);
        check((spEmuNow() - t0) * 1e3 < 1e-2, "a flag handed over between host polls, beside a 50 ms kernel");
        cudaStreamSynchronize(k);
        sem_destroy(&never);
    }

    /* Two thousand queries that find their work done, while another thread
     * waits for what comes after them: they take their host time, and
     * nothing jumps. */
    {
        sem_t post;
        cudaStream_t idle;
        sem_init(&post, 0, 0);
        cudaSetDevice(4);
        cudaStreamCreate(&idle);
        pthread_create(&t[0], NULL, wait_post, &post);
        t0 = spEmuNow();
        for (int i = 0; i < 2000; i++)
            cudaStreamQuery(idle);
        sem_post(&post);
        pthread_join(t[0], NULL);
        /* an idle stream's query takes 0.273 us (measured: docs/emulation.md) */
        check((spEmuNow() - t0) * 1e3 > 2000 * 2.73e-4 - 1e-6 && (spEmuNow() - t0) * 1e3 < 2000 * 2.73e-4 + 1e-3,
              "two thousand finished queries take their host time");
        sem_destroy(&post);
    }

    /* Two threads polling 5 ms kernels of their own: once both have polled
     * a thousand times (docs/emulation.md) having seen nothing new, time
     * jumps to the kernels' end instead of crawling by queries (20,000
     * each). */
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, poll_long_kernel, (void *)i);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    check(long_polls[0] + long_polls[1] < 2 * 1100, "pollers that see nothing new jump to the next change together");

    printf("PASSED: %d failed check(s)\n", fails);
    MPI_Finalize();
    return fails != 0;
}

/* threads.c - one host thread per GPU, as NCCL's examples and nccl-tests'
 * -t mode run: each process (one, or several under --ppn) starts a thread
 * per GPU it uses; each thread sets its own device, joins the communicator
 * with ncclCommInitRank (which returns once every rank has joined, so the
 * threads must run side by side), all-reduces inside its own NCCL group
 * and checks the sums. Around that: CUDA's current device and last error
 * per thread, a counter under a mutex held across a blocking call, a
 * condition variable and a barrier, join's return values. Prints "PASSED:
 * 0 failed check(s), R ranks in P process(es)". With "hang", rank 1 never
 * calls the all-reduce; with "deadlock", two threads take two mutexes in
 * opposite orders. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#define COUNT 4096
#define ROUNDS 5

static int nthreads, first_dev, nranks, first_rank, mode;
static ncclUniqueId id;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER, lock2 = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cond;
static pthread_barrier_t barrier;
static int counter, inside, ready, fails;
static pthread_t self_of[64];

static void fail(int t, const char *what)
{
    printf("FAILED thread %d: %s\n", t, what);
    fails++;
}

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg, dev = first_dev + t, rank = first_rank + t, got = -1, wrong = 0;
    ncclComm_t comm;
    cudaStream_t s;
    float *buf, host[COUNT];

    self_of[t] = pthread_self();
    if (cudaSetDevice(dev) != cudaSuccess)
        fail(t, "cudaSetDevice");
    if (mode == 2 && t < 2) { /* deadlock: opposite orders, a blocking call between */
        pthread_mutex_lock(t == 0 ? &lock : &lock2);
        cudaDeviceSynchronize();
        pthread_barrier_wait(&barrier);
        pthread_mutex_lock(t == 0 ? &lock2 : &lock);
        return NULL;
    }
    if (ncclCommInitRank(&comm, nranks, id, rank) != ncclSuccess)
        fail(t, "ncclCommInitRank");
    /* Every other thread has run its cudaSetDevice meanwhile. */
    cudaGetDevice(&got);
    if (got != dev)
        fail(t, "the current device is another thread's");

    /* The last error is per thread: thread 0's failure is not the others'. */
    if (t == 0 && cudaSetDevice(9999) == cudaSuccess)
        fail(t, "cudaSetDevice(9999) succeeded");
    pthread_barrier_wait(&barrier);
    if ((cudaGetLastError() != cudaSuccess) != (t == 0))
        fail(t, "the last error is another thread's");

    /* Mutual exclusion across a call that lets the other threads run. */
    cudaStreamCreate(&s);
    for (int r = 0; r < ROUNDS; r++) {
        pthread_mutex_lock(&lock);
        if (++inside != 1)
            fail(t, "two threads inside the mutex");
        cudaStreamSynchronize(s);
        counter++;
        inside--;
        pthread_mutex_unlock(&lock);
    }

    /* A group is the calling thread's: the others' calls made while this
     * one waits inside its group do not join it. */
    cudaMalloc((void **)&buf, sizeof(host));
    for (int i = 0; i < COUNT; i++)
        host[i] = (float)(rank + 1);
    cudaMemcpy(buf, host, sizeof(host), cudaMemcpyHostToDevice);
    ncclGroupStart();
    pthread_barrier_wait(&barrier);
    if (mode != 1 || rank != 1) /* hang: rank 1 never calls it */
        ncclAllReduce(buf, buf, COUNT, ncclFloat, ncclSum, comm, s);
    if (ncclGroupEnd() != ncclSuccess)
        fail(t, "ncclGroupEnd");
    cudaStreamSynchronize(s);
    cudaMemcpy(host, buf, sizeof(host), cudaMemcpyDeviceToHost);
    for (int i = 0; i < COUNT; i++)
        wrong += host[i] != (float)(nranks * (nranks + 1) / 2);

    pthread_mutex_lock(&lock);
    ready++;
    pthread_cond_signal(&ready_cond);
    pthread_mutex_unlock(&lock);
    cudaFree(buf);
    cudaStreamDestroy(s);
    ncclCommDestroy(comm);
    return (void *)(intptr_t)wrong;
}

int main(int argc, char **argv)
{
    int procs = 1, me = 0, ndev = 0, local = 0, per_node = 1, total = 0, level = -1;
    const char *lr = NULL;
    pthread_t th[64];

    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &level);
    if (level != MPI_THREAD_MULTIPLE)
        fail(-1, "MPI_Init_thread's level");
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &procs);
    mode = argc > 1 && strcmp(argv[1], "hang") == 0 ? 1 : argc > 1 && strcmp(argv[1], "deadlock") == 0 ? 2 : 0;
    cudaGetDeviceCount(&ndev);
    if ((lr = getenv("OMPI_COMM_WORLD_LOCAL_RANK")) != NULL) {
        local = atoi(lr);
        per_node = atoi(getenv("OMPI_COMM_WORLD_LOCAL_SIZE"));
    }
    nthreads = ndev / per_node < 64 ? ndev / per_node : 64;
    first_dev = local * nthreads;
    nranks = procs * nthreads;
    first_rank = me * nthreads;
    if (me == 0)
        ncclGetUniqueId(&id);
    MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
    pthread_cond_init(&ready_cond, NULL);
    pthread_barrier_init(&barrier, NULL, (unsigned)(mode == 2 ? 2 : nthreads));
    for (int t = 0; t < nthreads; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t) != 0)
            fail(t, "pthread_create");
    if (mode == 0) { /* every thread reports in through the condition variable */
        pthread_mutex_lock(&lock);
        while (ready < nthreads)
            pthread_cond_wait(&ready_cond, &lock);
        pthread_mutex_unlock(&lock);
    }
    for (int t = 0; t < nthreads; t++) {
        void *ret = NULL;
        if (pthread_join(th[t], &ret) != 0)
            fail(t, "pthread_join");
        if (ret != NULL) {
            printf("thread %d: %d wrong element(s)\n", t, (int)(intptr_t)ret);
            fails++;
        }
        for (int u = 0; u < t; u++)
            if (pthread_equal(self_of[t], self_of[u]))
                fail(t, "pthread_self equals another thread's");
    }
    if (pthread_join(th[0], NULL) == 0)
        fail(0, "a second pthread_join succeeded");
    if (counter != ROUNDS * nthreads)
        fail(-1, "the counter lost increments");
    pthread_barrier_destroy(&barrier);
    pthread_cond_destroy(&ready_cond);
    MPI_Allreduce(&fails, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (me == 0)
        printf("PASSED: %d failed check(s), %d ranks in %d process(es)\n", total, nranks, procs);
    MPI_Finalize();
    return total != 0;
}

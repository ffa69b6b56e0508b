/* per_thread_stream.c - CUDA's special stream handles: cudaStreamLegacy is
 * the NULL stream; cudaStreamPerThread is each host thread's own blocking
 * stream, which synchronizes with the NULL stream but not with another
 * thread's. Prints "PASSED: 0 failed check(s)". */
#include <pthread.h>
#include <stdio.h>

#include <cuda_runtime.h>
#include <scalepath_emu.h>

#include "check.h"

static double t_start, t_other;

/* Another thread: its own per-thread stream is empty, so syncing it
 * returns at once, though the main thread's per-thread stream is busy. */
static void *other(void *arg)
{
    (void)arg;
    cudaSetDevice(0);
    cudaStreamSynchronize(cudaStreamPerThread);
    t_other = spEmuNow() - t_start;
    return NULL;
}

int main(void)
{
    pthread_t th;
    double t0;

    cudaSetDevice(0);
    /* cudaStreamLegacy is the NULL stream. */
    cudaDeviceSynchronize();
    t0 = spEmuNow();
    spEmuKernel(NULL, 2e-3);
    cudaStreamSynchronize(cudaStreamLegacy);
    CHECK(spEmuNow() - t0 >= 2e-3 - 1e-12, "cudaStreamLegacy did not wait for the NULL stream's kernel");

    /* Another thread's per-thread stream is its own. */
    t_start = spEmuNow();
    spEmuKernel(cudaStreamPerThread, 2e-3);
    pthread_create(&th, NULL, other, NULL);
    pthread_join(th, NULL);
    CHECK(t_other < 1e-6, "another thread's per-thread stream waited %.3f ms", t_other * 1e3);
    cudaStreamSynchronize(cudaStreamPerThread);
    CHECK(spEmuNow() - t_start >= 2e-3 - 1e-12, "this thread's per-thread stream did not wait for its kernel");

    /* The NULL stream waits for the per-thread stream's work (a blocking stream). */
    cudaDeviceSynchronize();
    t0 = spEmuNow();
    spEmuKernel(cudaStreamPerThread, 2e-3);
    spEmuKernel(NULL, 1e-3);
    cudaStreamSynchronize(NULL);
    CHECK(spEmuNow() - t0 >= 3e-3 - 1e-12, "the NULL stream ran beside the per-thread stream: %.3f ms",
          (spEmuNow() - t0) * 1e3);

    CHECK(cudaStreamDestroy(cudaStreamPerThread) == cudaErrorInvalidResourceHandle,
          "cudaStreamDestroy(cudaStreamPerThread)");
    printf("%s: %d failed check(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures != 0;
}

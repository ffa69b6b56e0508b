/* ptds.c - a program compiled for the per-thread default stream
 * (`scalepath emulate --default-stream per-thread`, as nvcc's option): its
 * NULL stream is each host thread's own blocking stream, for the CUDA calls
 * and the kernels; NCCL, built apart, still reads a NULL stream as the
 * legacy one. Prints "PASSED: 0 failed check(s)". */
#ifndef CUDA_API_PER_THREAD_DEFAULT_STREAM
#error "compile with --default-stream per-thread (CUDA_API_PER_THREAD_DEFAULT_STREAM)"
#endif
#include <pthread.h>
#include <stdio.h>

#include <cuda_runtime.h>
#include <nccl.h>
#include <scalepath_emu.h>

#include "check.h"

#define N 1024

static float *pinned;
static double t_copy;

/* Another thread's synchronous copy goes through its own per-thread
 * stream: it waits neither for the main thread's kernel nor for the legacy
 * stream's rules (which would wait for every blocking stream). */
static void *copier(void *arg)
{
    float *dev = arg;
    double t0;

    cudaSetDevice(0);
    t0 = spEmuNow();
    CHECK(cudaMemcpy(dev, pinned, N * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess, "copier's cudaMemcpy");
    t_copy = spEmuNow() - t0;
    return NULL;
}

int main(void)
{
    ncclComm_t comms[2];
    int devs[2] = {0, 1};
    float *buf[2], host[N];
    cudaStream_t s;
    cudaEvent_t ev = NULL;
    pthread_t th;
    double t0;

    CHECK(cudaMallocHost((void **)&pinned, N * sizeof(float)) == cudaSuccess, "cudaMallocHost");
    for (int d = 0; d < 2; d++) {
        cudaSetDevice(d);
        CHECK(cudaMalloc((void **)&buf[d], N * sizeof(float)) == cudaSuccess, "cudaMalloc on device %d", d);
    }
    cudaSetDevice(0);

    /* 1. The NULL stream is this thread's: the legacy stream stays idle. */
    cudaDeviceSynchronize();
    t0 = spEmuNow();
    spEmuKernel(NULL, 2e-3);
    CHECK(cudaStreamQuery(NULL) == cudaErrorNotReady, "the NULL stream's kernel is not on the NULL stream");
    CHECK(cudaStreamQuery(cudaStreamPerThread) == cudaErrorNotReady, "the kernel is not on cudaStreamPerThread");
    CHECK(cudaStreamQuery(cudaStreamLegacy) == cudaSuccess, "the kernel went to the legacy stream");

    /* 2. Another thread's synchronous copy does not wait for it. */
    for (int i = 0; i < N; i++)
        pinned[i] = 1.0f;
    pthread_create(&th, NULL, copier, buf[0]);
    pthread_join(th, NULL);
    CHECK(t_copy < 1e-3, "another thread's cudaMemcpy waited %.3f ms for this thread's kernel", t_copy * 1e3);
    CHECK(cudaStreamSynchronize(NULL) == cudaSuccess, "cudaStreamSynchronize(NULL)");
    CHECK(spEmuNow() - t0 >= 2e-3 - 1e-12, "cudaStreamSynchronize(NULL) returned before the kernel ended");

    /* 3. NCCL's NULL stream is the legacy one. It waits for the per-thread
     * stream's earlier work (a blocking stream's), so the all-reduce reads
     * what the per-thread stream wrote; the per-thread stream's later copy
     * waits for the all-reduce, so it reads the result. */
    CHECK(ncclCommInitAll(comms, 2, devs) == ncclSuccess, "ncclCommInitAll");
    for (int i = 0; i < N; i++)
        pinned[i] = 2.0f;
    cudaSetDevice(0);
    t0 = spEmuNow();
    spEmuKernel(NULL, 2e-3);
    cudaMemcpyAsync(buf[0], pinned, N * sizeof(float), cudaMemcpyHostToDevice, NULL);
    cudaSetDevice(1);
    cudaMemset(buf[1], 0, N * sizeof(float));
    ncclGroupStart();
    for (int d = 0; d < 2; d++)
        ncclAllReduce(buf[d], buf[d], N, ncclFloat, ncclSum, comms[d], NULL);
    ncclGroupEnd();
    CHECK(cudaStreamQuery(cudaStreamLegacy) == cudaErrorNotReady, "NCCL's NULL stream is not the legacy one");
    cudaSetDevice(0);
    CHECK(cudaMemcpy(host, buf[0], N * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess, "cudaMemcpy back");
    CHECK(spEmuNow() - t0 >= 2e-3, "the all-reduce did not wait for the per-thread stream's kernel");
    for (int i = 0; i < N; i++)
        if (host[i] != 2.0f) {
            CHECK(0, "element %d is %g after the all-reduce, not 2", i, (double)host[i]);
            break;
        }

    /* 4. Events and waits on the NULL stream are the per-thread stream's;
     * it does not wait for another blocking stream without one. */
    cudaDeviceSynchronize();
    CHECK(cudaStreamCreate(&s) == cudaSuccess && cudaEventCreate(&ev) == cudaSuccess, "stream and event");
    t0 = spEmuNow();
    spEmuKernel(s, 2e-3);
    spEmuKernel(NULL, 0.0);
    cudaStreamSynchronize(NULL);
    CHECK(spEmuNow() - t0 < 1e-9, "the per-thread stream waited %.3f ms for another blocking stream",
          (spEmuNow() - t0) * 1e3);
    cudaEventRecord(ev, s);
    cudaStreamWaitEvent(NULL, ev, 0);
    spEmuGemm(NULL, 4096, 4096, 4096, "bf16");
    CHECK(cudaStreamQuery(cudaStreamLegacy) == cudaSuccess, "spEmuGemm(NULL) went to the legacy stream");
    cudaEventRecord(ev, NULL);
    cudaEventSynchronize(ev);
    CHECK(spEmuNow() - t0 > 2e-3, "the NULL stream's event wait did not hold its GEMM back");

    /* 5. A synchronous copy goes through the current device's per-thread
     * stream, whatever memory it touches: into device 1's memory, it waits
     * for device 0's per-thread kernel; a synchronous memset on device 0
     * does not wait for another blocking stream's kernel. */
    cudaSetDevice(0);
    cudaDeviceSynchronize();
    t0 = spEmuNow();
    spEmuKernel(NULL, 2e-3);
    cudaMemcpy(buf[1], pinned, N * sizeof(float), cudaMemcpyHostToDevice);
    CHECK(spEmuNow() - t0 >= 2e-3, "a copy into device 1 did not wait for device 0's per-thread stream");
    t0 = spEmuNow();
    spEmuKernel(s, 2e-3);
    cudaMemset(buf[0], 0, N * sizeof(float));
    CHECK(spEmuNow() - t0 < 1e-3, "cudaMemset waited %.3f ms for another blocking stream", (spEmuNow() - t0) * 1e3);
    cudaDeviceSynchronize();

    /* 6. cudaMemsetAsync on the NULL stream, read back in order. */
    cudaMemsetAsync(buf[0], 0, N * sizeof(float), NULL);
    CHECK(cudaMemcpy(host, buf[0], N * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess, "cudaMemcpy back");
    CHECK(host[0] == 0.0f && host[N - 1] == 0.0f, "cudaMemsetAsync(NULL) then cudaMemcpy read %g", (double)host[0]);

    for (int d = 0; d < 2; d++)
        ncclCommDestroy(comms[d]);
    cudaStreamDestroy(s);
    cudaEventDestroy(ev);
    printf("%s: %d failed check(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures != 0;
}

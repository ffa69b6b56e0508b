/* memcpy_perf.c - copy time and bandwidth, as CUDA's bandwidthTest sample
 * measures them: copies of 4 KiB up to MAX bytes (default 256 MiB) between
 * host and device each way, from page-locked memory (cudaMallocHost) and
 * from ordinary (pageable) memory, then within the device (device to
 * device, GB/s counting the bytes read and written, as bandwidthTest does)
 * and cudaMemset; timed with CUDA events on the default stream over
 * repeated calls.
 *
 *     memcpy_perf [MAX_BYTES]
 *
 * Written against CUDA's API only: it builds against the real runtime
 * (bench/emulate_real.sh measured the H100's host link with it) and runs
 * under `scalepath emulate`, where a copy takes the GPU's host link as the
 * platform file describes it (docs/emulation.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#define CHECK(call)                                                                                \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_));  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Microseconds per copy (a memset where src is NULL): one to warm up, then
 * reps between two events. */
static double timed(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind, int reps)
{
    cudaEvent_t e0, e1;
    float ms = 0.0f;

    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    for (int r = -1; r < reps; r++) {
        if (r == 0)
            CHECK(cudaEventRecord(e0, NULL));
        if (src != NULL)
            CHECK(cudaMemcpyAsync(dst, src, bytes, kind, NULL));
        else
            CHECK(cudaMemsetAsync(dst, 0, bytes, NULL));
    }
    CHECK(cudaEventRecord(e1, NULL));
    CHECK(cudaEventSynchronize(e1));
    CHECK(cudaEventElapsedTime(&ms, e0, e1));
    CHECK(cudaEventDestroy(e0));
    CHECK(cudaEventDestroy(e1));
    return ms * 1e3 / reps;
}

int main(int argc, char **argv)
{
    size_t max = argc > 1 ? strtoull(argv[1], NULL, 0) : (size_t)256 << 20;
    char *dev = NULL, *dev2 = NULL, *pinned = NULL, *pageable;

    if (max < 4096) {
        fprintf(stderr, "usage: memcpy_perf [MAX_BYTES >= 4096]\n");
        return 2;
    }
    CHECK(cudaSetDevice(0));
    CHECK(cudaMalloc((void **)&dev, max));
    CHECK(cudaMalloc((void **)&dev2, max));
    CHECK(cudaMallocHost((void **)&pinned, max));
    if ((pageable = malloc(max)) == NULL)
        return 1;
    memset(pinned, 1, max);
    memset(pageable, 2, max);
    printf("# copies on device 0, microseconds per call (GB/s = 1e9 bytes/s)\n");
    printf("#        bytes  h2d_pinned_us  GBps  d2h_pinned_us  GBps  h2d_pageable_us  GBps  d2h_pageable_us  GBps"
           "  d2d_us  GBps_rw  memset_us  GBps\n");
    for (size_t bytes = 4096; bytes <= max; bytes *= 4) {
        int reps = bytes >= ((size_t)64 << 20) ? 4 : bytes >= ((size_t)1 << 20) ? 20 : 100;
        double t[4] = {
            timed(dev, pinned, bytes, cudaMemcpyHostToDevice, reps),
            timed(pinned, dev, bytes, cudaMemcpyDeviceToHost, reps),
            timed(dev, pageable, bytes, cudaMemcpyHostToDevice, reps),
            timed(pageable, dev, bytes, cudaMemcpyDeviceToHost, reps),
        };
        double d2d = timed(dev2, dev, bytes, cudaMemcpyDeviceToDevice, reps);
        double set = timed(dev, NULL, bytes, cudaMemcpyDeviceToDevice, reps);
        printf("%14zu", bytes);
        for (int i = 0; i < 4; i++)
            printf("  %13.2f %5.1f", t[i], bytes / t[i] / 1e3);
        printf("  %8.2f %7.1f  %9.2f %6.1f\n", d2d, 2.0 * bytes / d2d / 1e3, set, bytes / set / 1e3);
    }
    CHECK(cudaFree(dev));
    CHECK(cudaFree(dev2));
    CHECK(cudaFreeHost(pinned));
    free(pageable);
    return 0;
}

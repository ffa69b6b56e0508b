/* allreduce_perf.c - an all-reduce bandwidth test in the style of
 * nccl-tests' all_reduce_perf -g (one process drives every GPU), written
 * against NCCL's and CUDA's own APIs only: it builds against the real
 * libraries as well as under `scalepath emulate`.
 *
 *   scalepath emulate -p platforms/dgx-h100.cfg workloads/emu/allreduce_perf.c [MINBYTES [MAXBYTES [ITERS]]]
 *
 * Sizes in bytes, with K, M or G for powers of 1024 (default 1K to 64M).
 *
 * Each size is all-reduced once (float sums of rank + 1, so the right
 * answer is exact), checked on the host, and timed with events on every
 * GPU; the time printed is the slowest GPU's, from the launch of the group.
 * With ITERS > 1, as nccl-tests times it: after that first all-reduce,
 * ITERS more are launched back to back between the events, and the time
 * printed is the slowest GPU's over ITERS.
 */
#include <stdio.h>
#include <stdlib.h>

#include <cuda_runtime.h>
#include <nccl.h>

#define CUDACHECK(cmd)                                                                             \
    do {                                                                                           \
        cudaError_t e_ = (cmd);                                                                    \
        if (e_ != cudaSuccess) {                                                                   \
            printf("%s:%d: CUDA error: %s\n", __FILE__, __LINE__, cudaGetErrorString(e_));         \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

#define NCCLCHECK(cmd)                                                                             \
    do {                                                                                           \
        ncclResult_t r_ = (cmd);                                                                   \
        if (r_ != ncclSuccess) {                                                                   \
            printf("%s:%d: NCCL error: %s\n", __FILE__, __LINE__, ncclGetErrorString(r_));         \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

#define MAXDEV 1024

/* A size in bytes, with an optional K, M or G (powers of 1024), as nccl-tests takes them. */
static size_t parse_size(const char *s)
{
    char *end;
    size_t v = strtoull(s, &end, 10);
    switch (*end) {
    case 'K': case 'k': return v << 10;
    case 'M': case 'm': return v << 20;
    case 'G': case 'g': return v << 30;
    default: return v;
    }
}

int main(int argc, char **argv)
{
    static ncclComm_t comms[MAXDEV];
    static float *sendbuf[MAXDEV], *recvbuf[MAXDEV];
    static cudaStream_t streams[MAXDEV];
    static cudaEvent_t start[MAXDEV], stop[MAXDEV];
    size_t minbytes = argc > 1 ? parse_size(argv[1]) : 1024;
    size_t maxbytes = argc > 2 ? parse_size(argv[2]) : (64u << 20);
    int iters = argc > 3 ? atoi(argv[3]) : 1;
    float *host;
    int ndev = 0, failed = 0;

    CUDACHECK(cudaGetDeviceCount(&ndev));
    if (ndev > MAXDEV)
        ndev = MAXDEV;
    if (minbytes < 4 || maxbytes < minbytes || iters < 1) {
        printf("usage: allreduce_perf [MINBYTES [MAXBYTES [ITERS]]], 4 <= MINBYTES <= MAXBYTES (K, M, G suffixes),\n"
               "       ITERS >= 1\n");
        return 2;
    }
    if ((host = malloc(maxbytes)) == NULL)
        return 1;
    NCCLCHECK(ncclCommInitAll(comms, ndev, NULL));
    for (int d = 0; d < ndev; d++) {
        CUDACHECK(cudaSetDevice(d));
        CUDACHECK(cudaMalloc((void **)&sendbuf[d], maxbytes));
        CUDACHECK(cudaMalloc((void **)&recvbuf[d], maxbytes));
        CUDACHECK(cudaStreamCreate(&streams[d]));
        CUDACHECK(cudaEventCreate(&start[d]));
        CUDACHECK(cudaEventCreate(&stop[d]));
        for (size_t i = 0; i < maxbytes / sizeof(float); i++)
            host[i] = (float)(d + 1);
        CUDACHECK(cudaMemcpy(sendbuf[d], host, maxbytes, cudaMemcpyHostToDevice));
    }
    printf("# all-reduce, float sum, %d GPUs in one process\n", ndev);
    printf("# %12s %12s %10s %10s %8s\n", "size_B", "time_us", "algbw_GBps", "busbw_GBps", "wrong");
    for (size_t bytes = minbytes; bytes <= maxbytes; bytes *= 2) {
        size_t count = bytes / sizeof(float), wrong = 0;
        float worst = 0.0f;
        int warmup = iters > 1; /* one untimed all-reduce first when timing a loop */
        for (int it = 0; it < warmup + iters; it++) {
            if (it == warmup)
                for (int d = 0; d < ndev; d++)
                    CUDACHECK(cudaEventRecord(start[d], streams[d]));
            NCCLCHECK(ncclGroupStart());
            for (int d = 0; d < ndev; d++)
                NCCLCHECK(ncclAllReduce(sendbuf[d], recvbuf[d], count, ncclFloat, ncclSum, comms[d], streams[d]));
            NCCLCHECK(ncclGroupEnd());
        }
        for (int d = 0; d < ndev; d++) {
            float ms = 0.0f;
            CUDACHECK(cudaEventRecord(stop[d], streams[d]));
            CUDACHECK(cudaStreamSynchronize(streams[d]));
            CUDACHECK(cudaEventElapsedTime(&ms, start[d], stop[d]));
            if (ms > worst)
                worst = ms;
        }
        for (int d = 0; d < ndev; d++) {
            CUDACHECK(cudaMemcpy(host, recvbuf[d], bytes, cudaMemcpyDeviceToHost));
            for (size_t i = 0; i < count; i++)
                wrong += host[i] != (float)ndev * (float)(ndev + 1) / 2.0f;
        }
        {
            double us = worst * 1e3 / iters, algbw = us > 0.0 ? (double)bytes / us / 1e3 : 0.0;
            printf("  %12zu %12.2f %10.2f %10.2f %8zu\n", bytes, us, algbw, algbw * 2.0 * (ndev - 1) / ndev, wrong);
        }
        failed |= wrong != 0;
    }
    for (int d = 0; d < ndev; d++) {
        CUDACHECK(cudaFree(sendbuf[d]));
        CUDACHECK(cudaFree(recvbuf[d]));
        CUDACHECK(cudaStreamDestroy(streams[d]));
        NCCLCHECK(ncclCommDestroy(comms[d]));
    }
    free(host);
    return failed;
}

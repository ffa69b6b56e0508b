/* p2p_bandwidth.c - copies between every pair of GPUs, as CUDA's
 * p2pBandwidthLatencyTest measures them: for each (source, destination),
 * peer access enabled where the GPUs allow it, REPS copies of SIZE bytes
 * with cudaMemcpyPeerAsync on a stream of the source, timed by events:
 * the matrix of GB/s. (The sample's latency matrix is left out: the
 * emulator charges a copy no fixed cost, where a real small copy takes
 * microseconds; docs/emulation.md.)
 *   scalepath emulate -p platforms/dgx-h100.cfg -n 2 workloads/emu/p2p_bandwidth.c [SIZE_MiB]
 * Prints which pairs can access each other, then the matrix (rows: source). */
#include <stdio.h>
#include <stdlib.h>

#include <cuda_runtime.h>

#define MAXDEV 32
#define REPS 10

int main(int argc, char **argv)
{
    int n = 0;
    size_t size = (argc > 1 ? (size_t)atoi(argv[1]) : 64) << 20;
    void *buf[MAXDEV];
    cudaStream_t s[MAXDEV];
    cudaEvent_t start[MAXDEV], stop[MAXDEV];

    cudaGetDeviceCount(&n);
    if (n > MAXDEV)
        n = MAXDEV;
    if (size == 0) {
        fprintf(stderr, "usage: p2p_bandwidth [SIZE_MiB > 0]\n");
        return 2;
    }
    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        if (cudaMalloc(&buf[d], size) != cudaSuccess)
            return 1;
        cudaStreamCreateWithFlags(&s[d], cudaStreamNonBlocking);
        cudaEventCreate(&start[d]);
        cudaEventCreate(&stop[d]);
        for (int p = 0; p < n; p++) {
            int can = 0;
            cudaDeviceCanAccessPeer(&can, d, p);
            if (can)
                cudaDeviceEnablePeerAccess(p, 0);
        }
    }
    printf("peer access (1: the pair can map each other's memory)\n   D\\D");
    for (int p = 0; p < n; p++)
        printf("%6d", p);
    printf("\n");
    for (int d = 0; d < n; d++) {
        printf("%6d", d);
        for (int p = 0; p < n; p++) {
            int can = 0;
            cudaDeviceCanAccessPeer(&can, d, p);
            printf("%6d", can);
        }
        printf("\n");
    }
    printf("unidirectional bandwidth (GB/s)\n   D\\D");
    for (int p = 0; p < n; p++)
        printf("%8d", p);
    printf("\n");
    for (int d = 0; d < n; d++) {
        printf("%6d", d);
        for (int p = 0; p < n; p++) {
            float ms = 0.0f;
            cudaSetDevice(d);
            cudaEventRecord(start[d], s[d]);
            for (int r = 0; r < REPS; r++)
                cudaMemcpyPeerAsync(buf[p], p, buf[d], d, size, s[d]);
            cudaEventRecord(stop[d], s[d]);
            cudaEventSynchronize(stop[d]);
            cudaEventElapsedTime(&ms, start[d], stop[d]);
            printf("%8.1f", ms > 0.0f ? (double)size * REPS / (ms * 1e-3) / 1e9 : 0.0);
        }
        printf("\n");
    }
    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        cudaFree(buf[d]);
        cudaStreamDestroy(s[d]);
        cudaEventDestroy(start[d]);
        cudaEventDestroy(stop[d]);
    }
    return 0;
}

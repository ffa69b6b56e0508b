/* overlap.c - hiding gradient all-reduces behind the backward pass, the way
 * data-parallel training does it, on every GPU of the platform.
 *
 *   scalepath emulate -p platforms/dgx-h100.cfg -n 2 workloads/emu/overlap.c [LAYERS [HIDDEN [TOKENS]]]
 *
 * Each "layer" of the backward pass is two GEMMs (weight and input
 * gradients: 2 x TOKENS x HIDDEN x HIDDEN x 4 multiply-adds... timed by
 * spEmuGemm as `scalepath train` times them) on a compute stream, and its
 * gradient (HIDDEN x 4 HIDDEN bf16 values) is all-reduced on a second
 * stream once an event says the layer is done. The same work is then run
 * on one stream, all-reduce after all-reduce, and the two times printed.
 * Under the emulator only (spEmuGemm stands for the kernels a C program
 * cannot launch).
 */
#include <stdio.h>
#include <stdlib.h>

#include <cuda_runtime.h>
#include <nccl.h>
#include <scalepath_emu.h>

#define MAXDEV 1024
#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if ((int)(x) != 0) {                                                                       \
            printf("%s:%d: %s failed\n", __FILE__, __LINE__, #x);                                  \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static ncclComm_t comms[MAXDEV];
static cudaStream_t compute[MAXDEV], comm[MAXDEV];
static void *grad[MAXDEV];

/* One backward pass; overlapped: all-reduces on the comm stream behind events. */
static int backward(int ndev, int layers, long hidden, long tokens, size_t count, int overlapped, double *seconds)
{
    double t0 = spEmuNow();
    for (int l = 0; l < layers; l++) {
        for (int d = 0; d < ndev; d++) {
            CHECK(cudaSetDevice(d));
            CHECK(spEmuGemm(compute[d], tokens, 4 * hidden, hidden, "bf16")); /* weight gradient */
            CHECK(spEmuGemm(compute[d], tokens, hidden, 4 * hidden, "bf16")); /* input gradient */
            if (overlapped) {
                cudaEvent_t done;
                CHECK(cudaEventCreate(&done));
                CHECK(cudaEventRecord(done, compute[d]));
                CHECK(cudaStreamWaitEvent(comm[d], done, 0));
                CHECK(cudaEventDestroy(done));
            }
        }
        CHECK(ncclGroupStart());
        for (int d = 0; d < ndev; d++)
            CHECK(ncclAllReduce(grad[d], grad[d], count, ncclBfloat16, ncclSum, comms[d],
                                overlapped ? comm[d] : compute[d]));
        CHECK(ncclGroupEnd());
    }
    for (int d = 0; d < ndev; d++) {
        CHECK(cudaSetDevice(d));
        CHECK(cudaDeviceSynchronize());
    }
    *seconds = spEmuNow() - t0;
    return 0;
}

int main(int argc, char **argv)
{
    int ndev = 0, layers = argc > 1 ? atoi(argv[1]) : 16;
    long hidden = argc > 2 ? atol(argv[2]) : 4096, tokens = argc > 3 ? atol(argv[3]) : 8192;
    size_t count = (size_t)hidden * 4 * (size_t)hidden;
    double serial = 0.0, overlapped = 0.0;

    CHECK(cudaGetDeviceCount(&ndev));
    if (ndev > MAXDEV)
        ndev = MAXDEV;
    if (layers < 1 || hidden < 1 || tokens < 1) {
        printf("usage: overlap [LAYERS [HIDDEN [TOKENS]]], all positive\n");
        return 2;
    }
    CHECK(ncclCommInitAll(comms, ndev, NULL));
    for (int d = 0; d < ndev; d++) {
        CHECK(cudaSetDevice(d));
        CHECK(cudaMalloc(&grad[d], count * 2));
        CHECK(cudaStreamCreate(&compute[d]));
        CHECK(cudaStreamCreate(&comm[d]));
    }
    CHECK(backward(ndev, layers, hidden, tokens, count, 0, &serial));
    CHECK(backward(ndev, layers, hidden, tokens, count, 1, &overlapped));
    printf("%d GPUs, %d layers of hidden %ld, %ld tokens: one stream %.3f ms, overlapped %.3f ms (%.1f%% less)\n",
           ndev, layers, hidden, tokens, serial * 1e3, overlapped * 1e3, 100.0 * (1.0 - overlapped / serial));
    for (int d = 0; d < ndev; d++) {
        CHECK(cudaFree(grad[d]));
        CHECK(ncclCommDestroy(comms[d]));
    }
    return 0;
}

/* pxn_sends.c - one root sends a share to every other GPU, as ncclScatter
 * and as grouped ncclSend / ncclRecv on the same communicator. NCCL runs
 * its scatter as such sends, and relays each send to a GPU on another node
 * and rail through the root node's GPU on that rail (PXN): both ways must
 * take the same simulated time, and deliver the same data. Prints the two
 * times, then "pxn: ok" or FAILED lines. With the argument "unmatched",
 * device 0 sends to device n/2 + 1 (another node and rail: relayed), which
 * never receives: the emulator must report the hang, as for a direct send. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <nccl.h>

#include "check.h"

#define MAXDEV 64
#define CNT (1 << 20) /* floats per share: 4 MiB */

int main(int argc, char **argv)
{
    ncclComm_t comms[MAXDEV];
    cudaStream_t s[MAXDEV];
    float *send[MAXDEV], *recv[MAXDEV], *host;
    double ms[2];
    int n = 0;

    cudaGetDeviceCount(&n);
    if (n > MAXDEV)
        n = MAXDEV;
    host = malloc((size_t)CNT * (size_t)n * sizeof(float));
    if (host == NULL)
        return 1;
    ncclCommInitAll(comms, n, NULL);
    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        cudaStreamCreate(&s[d]);
        cudaMalloc((void **)&send[d], (size_t)CNT * (size_t)n * sizeof(float));
        cudaMalloc((void **)&recv[d], (size_t)CNT * sizeof(float));
    }
    if (argc > 1 && strcmp(argv[1], "unmatched") == 0) {
        ncclSend(send[0], CNT, ncclFloat, n / 2 + 1, comms[0], s[0]);
        cudaSetDevice(0);
        cudaStreamSynchronize(s[0]);
        printf("the send completed without a receive\n");
        return 1;
    }
    for (size_t i = 0; i < (size_t)CNT * (size_t)n; i++)
        host[i] = (float)i;
    cudaSetDevice(0);
    cudaMemcpy(send[0], host, (size_t)CNT * (size_t)n * sizeof(float), cudaMemcpyHostToDevice);
    for (int mode = 0; mode < 2; mode++) {
        cudaEvent_t e0, e1;
        float t;
        for (int d = 0; d < n; d++) {
            cudaSetDevice(d);
            cudaMemset(recv[d], 0, (size_t)CNT * sizeof(float));
            cudaStreamSynchronize(s[d]);
        }
        cudaSetDevice(0);
        cudaEventCreate(&e0);
        cudaEventCreate(&e1);
        cudaEventRecord(e0, s[0]);
        ncclGroupStart();
        if (mode == 0) {
            for (int d = 0; d < n; d++)
                ncclScatter(send[d], recv[d], CNT, ncclFloat, 0, comms[d], s[d]);
        } else {
            for (int d = 1; d < n; d++)
                ncclSend(send[0] + (size_t)d * CNT, CNT, ncclFloat, d, comms[0], s[0]);
            for (int d = 1; d < n; d++)
                ncclRecv(recv[d], CNT, ncclFloat, 0, comms[d], s[d]);
        }
        ncclGroupEnd();
        for (int d = 0; d < n; d++) {
            cudaSetDevice(d);
            cudaStreamSynchronize(s[d]);
        }
        cudaSetDevice(0);
        cudaEventRecord(e1, s[0]);
        cudaEventSynchronize(e1);
        cudaEventElapsedTime(&t, e0, e1);
        ms[mode] = t;
        for (int d = 1; d < n; d++) {
            float first, last;
            cudaSetDevice(d);
            cudaMemcpy(&first, recv[d], sizeof(float), cudaMemcpyDeviceToHost);
            cudaMemcpy(&last, recv[d] + CNT - 1, sizeof(float), cudaMemcpyDeviceToHost);
            CHECK(first == (float)((size_t)d * CNT) && last == (float)((size_t)d * CNT + CNT - 1),
                  "%s: device %d received %g .. %g", mode ? "sends" : "scatter", d, first, last);
        }
    }
    printf("scatter: %.6f ms, grouped sends: %.6f ms\n", ms[0], ms[1]);
    CHECK(ms[0] > 0.0 && fabs(ms[1] - ms[0]) <= 1e-6 * ms[0], "grouped sends took %.6f ms, the scatter %.6f ms",
          ms[1], ms[0]);
    if (failures == 0)
        printf("pxn: ok\n");
    for (int d = 0; d < n; d++)
        ncclCommDestroy(comms[d]);
    free(host);
    return failures != 0;
}

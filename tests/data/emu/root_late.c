/* root_late.c - collectives whose root (or one rank) comes late: the last
 * rank's stream first runs 10 ms of compute, then it calls a broadcast,
 * scatter, reduce or gather (root: the last rank) with the others, who
 * call at once and then synchronize. No rank may see its output before the
 * late rank's data could have reached it. Prints "<op>: N wrong" per op. */
#include <stdio.h>

#include <cuda_runtime.h>
#include <nccl.h>
#include <scalepath_emu.h>

#define MAXDEV 16

int main(void)
{
    static const char *const names[] = {"Broadcast", "Scatter", "Reduce", "Gather"};
    ncclComm_t comms[MAXDEV];
    cudaStream_t s[MAXDEV];
    float *send[MAXDEV], *recv[MAXDEV], host[MAXDEV * 4];
    int n = 0, total = 0;

    cudaGetDeviceCount(&n);
    if (n > MAXDEV)
        n = MAXDEV;
    ncclCommInitAll(comms, n, NULL);
    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        cudaMalloc((void **)&send[d], sizeof(host));
        cudaMalloc((void **)&recv[d], sizeof(host));
        cudaStreamCreate(&s[d]);
    }
    for (int op = 0; op < 4; op++) {
        int root = n - 1, bad = 0;
        for (int d = 0; d < n; d++) {
            for (int i = 0; i < n * 4; i++)
                host[i] = (float)(100 * d + i);
            cudaMemcpy(send[d], host, sizeof(host), cudaMemcpyHostToDevice);
            cudaMemset(recv[d], 0xff, sizeof(host));
        }
        spEmuKernel(s[root], 0.010); /* the late rank */
        ncclGroupStart();
        for (int d = 0; d < n; d++) {
            if (op == 0)
                ncclBroadcast(send[d], recv[d], 4, ncclFloat, root, comms[d], s[d]);
            else if (op == 1)
                ncclScatter(send[d], recv[d], 4, ncclFloat, root, comms[d], s[d]);
            else if (op == 2)
                ncclReduce(send[d], recv[d], 4, ncclFloat, ncclSum, root, comms[d], s[d]);
            else
                ncclGather(send[d], recv[d], 4, ncclFloat, root, comms[d], s[d]);
        }
        ncclGroupEnd();
        for (int d = 0; d < n; d++) { /* each checks its output as soon as its stream says done */
            cudaStreamSynchronize(s[d]);
            cudaMemcpy(host, recv[d], sizeof(host), cudaMemcpyDeviceToHost);
            for (int i = 0; i < 4; i++) {
                float want = op == 0 ? (float)(100 * root + i)
                             : op == 1 ? (float)(100 * root + 4 * d + i)
                             : op == 2 ? (float)(100 * n * (n - 1) / 2 + n * i)
                                       : (float)(100 * (i / 4) + i % 4);
                if ((op < 2 || d == root) && op != 3 && host[i] != want)
                    bad++;
            }
            if (op == 3 && d == root)
                for (int r = 0; r < n; r++)
                    for (int i = 0; i < 4; i++)
                        bad += host[4 * r + i] != (float)(100 * r + i);
        }
        printf("%s: %d wrong\n", names[op], bad);
        total += bad;
    }
    return total != 0;
}

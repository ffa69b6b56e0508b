/* event_hang.c - a stream that waits for an event recorded behind a
 * collective that never completes (rank 1 never calls it): the hang report
 * names the stream and the record the wait is for. */
#include <cuda_runtime.h>
#include <nccl.h>
#include <scalepath_emu.h>

int main(void)
{
    ncclComm_t comms[2];
    int devs[2] = {0, 1};
    cudaStream_t s0, s1;
    cudaEvent_t e;
    float *buf;

    ncclCommInitAll(comms, 2, devs);
    cudaSetDevice(0);
    cudaMalloc((void **)&buf, 1024 * sizeof(float));
    cudaStreamCreate(&s0);
    cudaStreamCreate(&s1);
    cudaEventCreate(&e);
    ncclAllReduce(buf, buf, 1024, ncclFloat, ncclSum, comms[0], s0); /* rank 1 never calls it */
    cudaEventRecord(e, s0);
    cudaStreamWaitEvent(s1, e, 0);
    spEmuKernel(s1, 1e-3);
    cudaStreamSynchronize(s1);
    return 0;
}

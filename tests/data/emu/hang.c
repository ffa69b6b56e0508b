/* hang.c - device 3 never joins the all-reduce of the others, so they wait
 * for it forever, as real NCCL would; the emulator must say so, naming the
 * missing rank, instead of hanging or crashing. */
#include <cuda_runtime.h>
#include <nccl.h>

int main(void)
{
    ncclComm_t comms[4];
    cudaStream_t s[4];
    float *buf[4];

    ncclCommInitAll(comms, 4, NULL);
    for (int d = 0; d < 4; d++) {
        cudaSetDevice(d);
        cudaMalloc((void **)&buf[d], 4096);
        cudaStreamCreate(&s[d]);
    }
    ncclGroupStart();
    for (int d = 0; d < 3; d++)
        ncclAllReduce(buf[d], buf[d], 1024, ncclFloat, ncclSum, comms[d], s[d]);
    ncclGroupEnd();
    for (int d = 0; d < 4; d++)
        cudaStreamSynchronize(s[d]);
    return 0;
}

/* late_member.c - an all-reduce one of whose ranks comes late. First every
 * rank runs it on time, and the time to the last rank's end is taken; then
 * the last rank's stream first runs 10 ms of compute. No rank may end
 * before the late one begins plus that on-time duration: a tree waits for
 * the late rank's data (its one stage of flows starts when every member has
 * begun). Prints "early: N" (ranks that ended sooner). */
#include <stdio.h>

#include <cuda_runtime.h>
#include <nccl.h>
#include <scalepath_emu.h>

#define MAXDEV 16
#define COUNT (4u << 20) /* floats: 16 MiB */

int main(void)
{
    ncclComm_t comms[MAXDEV];
    cudaStream_t s[MAXDEV];
    float *buf[MAXDEV];
    double t0, dur = 0.0, late_begin;
    int n = 0, early = 0;

    cudaGetDeviceCount(&n);
    if (n > MAXDEV)
        n = MAXDEV;
    ncclCommInitAll(comms, n, NULL);
    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        cudaMalloc((void **)&buf[d], COUNT * sizeof(float));
        cudaMemset(buf[d], 0, COUNT * sizeof(float));
        cudaStreamCreate(&s[d]);
        cudaDeviceSynchronize(); /* the memset, which does not block the host */
    }
    for (int late = 0; late < 2; late++) {
        t0 = spEmuNow();
        if (late)
            spEmuKernel(s[n - 1], 0.010);
        late_begin = t0 + (late ? 0.010 : 0.0);
        ncclGroupStart();
        for (int d = 0; d < n; d++)
            ncclAllReduce(buf[d], buf[d], COUNT, ncclFloat, ncclSum, comms[d], s[d]);
        ncclGroupEnd();
        for (int d = 0; d < n; d++) { /* each rank's end, in device order */
            cudaStreamSynchronize(s[d]);
            if (!late && spEmuNow() - t0 > dur)
                dur = spEmuNow() - t0;
            if (late && spEmuNow() < late_begin + dur * (1.0 - 1e-9)) {
                printf("device %d ended %.3f us after the late rank began; on time it takes %.3f us\n", d,
                       (spEmuNow() - late_begin) * 1e6, dur * 1e6);
                early++;
            }
        }
    }
    printf("early: %d\n", early);
    for (int d = 0; d < n; d++)
        ncclCommDestroy(comms[d]);
    return early != 0;
}

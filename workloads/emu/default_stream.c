/* default_stream.c - the NULL stream and the streams beside it. On every
 * GPU, a 1 ms "preprocessing" kernel and a copy of the input run on the
 * NULL stream (CUDA's legacy default stream); then an all-reduce runs on a
 * stream of its own, made three ways:
 *   blocking       cudaStreamCreate: it waits for the NULL stream's work
 *   non-blocking   cudaStreamNonBlocking: it does not, and reads the
 *                  buffer before the copy has filled it
 *   non-blocking + event   the same, told to wait by an event recorded on
 *                  the NULL stream (cudaStreamWaitEvent)
 * Prints, per way, when the all-reduce ends and how many results are
 * wrong.
 *   cc $(scalepath emulate --cflags) default_stream.c -o default_stream.so
 *   scalepath emulate -p platforms/dgx-h100.cfg default_stream.so
 * Compiled for the per-thread default stream (scalepath emulate
 * --default-stream per-thread default_stream.c), the NULL stream is the
 * thread's own blocking stream, which a blocking stream does not wait for:
 * only the event keeps the results right (docs/labs/lab7-nccl-programs.md). */
#include <stdio.h>

#include <cuda_runtime.h>
#include <nccl.h>
#include <scalepath_emu.h>

#define MAXDEV 16
#define COUNT (1 << 20) /* floats: 4 MiB */

int main(void)
{
    static const char *const way[] = {"blocking", "non-blocking", "non-blocking + event"};
    static float ones[COUNT], out[COUNT];
    ncclComm_t comms[MAXDEV];
    float *buf[MAXDEV];
    int n = 0;

    cudaGetDeviceCount(&n);
    if (n > MAXDEV)
        n = MAXDEV;
    for (int i = 0; i < COUNT; i++)
        ones[i] = 1.0f;
    ncclCommInitAll(comms, n, NULL);
    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        cudaMalloc((void **)&buf[d], sizeof(ones));
    }
    for (int w = 0; w < 3; w++) {
        cudaStream_t s[MAXDEV];
        cudaEvent_t ready[MAXDEV];
        double t0;
        long wrong = 0;
        for (int d = 0; d < n; d++) {
            cudaSetDevice(d);
            cudaMemset(buf[d], 0, sizeof(ones));
            cudaStreamCreateWithFlags(&s[d], w == 0 ? cudaStreamDefault : cudaStreamNonBlocking);
            cudaEventCreate(&ready[d]);
            cudaDeviceSynchronize();
        }
        t0 = spEmuNow();
        for (int d = 0; d < n; d++) {
            cudaSetDevice(d);
            spEmuKernel(NULL, 1e-3); /* preprocessing */
            cudaMemcpyAsync(buf[d], ones, sizeof(ones), cudaMemcpyHostToDevice, NULL);
            if (w == 2) {
                cudaEventRecord(ready[d], NULL);
                cudaStreamWaitEvent(s[d], ready[d], 0);
            }
        }
        ncclGroupStart();
        for (int d = 0; d < n; d++)
            ncclAllReduce(buf[d], buf[d], COUNT, ncclFloat, ncclSum, comms[d], s[d]);
        ncclGroupEnd();
        for (int d = 0; d < n; d++) {
            cudaSetDevice(d);
            cudaStreamSynchronize(s[d]);
        }
        printf("%-22s all-reduce ends at %7.3f ms;", way[w], (spEmuNow() - t0) * 1e3);
        for (int d = 0; d < n; d++) {
            cudaSetDevice(d);
            cudaMemcpy(out, buf[d], sizeof(out), cudaMemcpyDeviceToHost);
            for (int i = 0; i < COUNT; i++)
                wrong += out[i] != (float)n;
            cudaStreamDestroy(s[d]);
            cudaEventDestroy(ready[d]);
        }
        printf(" %ld of %ld results wrong\n", wrong, (long)n * COUNT);
    }
    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        cudaFree(buf[d]);
        ncclCommDestroy(comms[d]);
    }
    return 0;
}

/* legacy_stream.c - CUDA's legacy default stream: work on the NULL stream
 * waits for the earlier work of the device's blocking streams, and their
 * later work waits for it; non-blocking streams and other devices take no
 * part. Times are simulated, from spEmuNow. Also the data case: an
 * all-reduce on a blocking stream reads a buffer a NULL-stream copy fills
 * after a kernel. Prints "PASSED: 0 failed check(s)". */
#include <stdio.h>

#include <cuda_runtime.h>
#include <nccl.h>
#include <scalepath_emu.h>

static int failures;

/* After the other stream's 2 ms kernel, a 1 ms one ends at 3 ms; beside
 * it, sharing the GPU's SMs, before (at 2 ms). */
#define WAITS(got, what) CHECK_MS(got, 3e-3 - 1e-9, 3e-3 + 2e-5, what)
#define OVERLAPS(got, what) CHECK_MS(got, 1e-3 - 1e-9, 2e-3 + 2e-5, what)
#define CHECK_MS(got, lo, hi, what)                                                                \
    do {                                                                                           \
        double g_ = (got);                                                                         \
        if (g_ < (lo) || g_ > (hi)) {                                                              \
            printf("FAILED: %s: %.6f ms, want %.6f to %.6f ms\n", what, g_ * 1e3, (lo) * 1e3, (hi) * 1e3); \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* A kernel of a ms on stream a, then one of b ms on stream b; the time
 * until stream `until` is done. */
static double pair(cudaStream_t a, double ams, cudaStream_t b, double bms, cudaStream_t until)
{
    double t0;
    cudaDeviceSynchronize();
    t0 = spEmuNow();
    spEmuKernel(a, ams * 1e-3);
    spEmuKernel(b, bms * 1e-3);
    cudaStreamSynchronize(until);
    return spEmuNow() - t0;
}

int main(void)
{
    cudaStream_t blocking, nonblocking, other;
    int n = 0;

    cudaGetDeviceCount(&n);
    cudaSetDevice(1);
    cudaStreamCreate(&other); /* a blocking stream of device 1 */
    cudaSetDevice(0);
    cudaStreamCreate(&blocking);
    cudaStreamCreateWithFlags(&nonblocking, cudaStreamNonBlocking);

    /* Blocking streams wait for the NULL stream's earlier work ... */
    WAITS(pair(NULL, 2, blocking, 1, blocking), "a blocking stream after the NULL stream");
    OVERLAPS(pair(NULL, 2, nonblocking, 1, nonblocking), "a non-blocking stream after the NULL stream");
    /* ... and the NULL stream waits for theirs. */
    WAITS(pair(blocking, 2, NULL, 1, NULL), "the NULL stream after a blocking stream");
    OVERLAPS(pair(nonblocking, 2, NULL, 1, NULL), "the NULL stream after a non-blocking stream");
    /* Two blocking streams do not wait for each other. */
    {
        cudaStream_t second;
        cudaStreamCreate(&second);
        OVERLAPS(pair(blocking, 2, second, 1, second), "two blocking streams");
        cudaStreamDestroy(second);
    }
    /* Another device's blocking stream does not wait for device 0's NULL stream. */
    if (n > 1) {
        double t0;
        cudaDeviceSynchronize();
        t0 = spEmuNow();
        spEmuKernel(NULL, 2e-3); /* device 0 */
        cudaSetDevice(1);
        spEmuKernel(other, 1e-3);
        cudaStreamSynchronize(other);
        CHECK_MS(spEmuNow() - t0, 1e-3 - 1e-9, 1e-3 + 2e-5, "device 1's stream beside device 0's NULL stream");
        cudaSetDevice(0);
        cudaDeviceSynchronize();
    }
    /* A synchronous copy within the device, and a memset, do not block the
     * host (CUDA's API synchronization behavior); they still run after the
     * NULL stream's earlier work, and a copy to the host waits for them. */
    {
        double t0;
        float *a = NULL, *b = NULL, back = -1.0f, one = 1.0f;
        cudaMalloc((void **)&a, 1 << 20);
        cudaMalloc((void **)&b, 1 << 20);
        cudaMemcpy(a, &one, sizeof(one), cudaMemcpyHostToDevice);
        cudaDeviceSynchronize();
        t0 = spEmuNow();
        spEmuKernel(blocking, 2e-3);
        cudaMemcpy(b, a, 1 << 20, cudaMemcpyDeviceToDevice);
        CHECK_MS(spEmuNow() - t0, 0.0, 0.0, "the host after a cudaMemcpy within the device");
        cudaMemset(a, 0, 1 << 20);
        CHECK_MS(spEmuNow() - t0, 0.0, 0.0, "the host after a cudaMemset");
        cudaMemcpy(&back, b, sizeof(back), cudaMemcpyDeviceToHost);
        CHECK_MS(spEmuNow() - t0, 2e-3, 2e-3 + 2e-5, "a copy to the host after them");
        if (back != 1.0f) {
            printf("FAILED: the copy within the device read %g, not what was there before the memset\n", back);
            failures++;
        }
        cudaMemcpy(&back, a, sizeof(back), cudaMemcpyDeviceToHost);
        if (back != 0.0f) {
            printf("FAILED: the memset left %g\n", back);
            failures++;
        }
        cudaFree(a);
        cudaFree(b);
    }
    /* Data: the all-reduce on a blocking stream sees what the NULL stream's
     * copy wrote after its kernel. */
    if (n > 1) {
        ncclComm_t comms[2];
        cudaStream_t s[2];
        float *buf[2], ones[256], out[256];
        int devs[2] = {0, 1}, bad = 0;
        for (int i = 0; i < 256; i++)
            ones[i] = 1.0f;
        ncclCommInitAll(comms, 2, devs);
        for (int d = 0; d < 2; d++) {
            cudaSetDevice(d);
            cudaMalloc((void **)&buf[d], sizeof(ones));
            cudaMemset(buf[d], 0, sizeof(ones));
            cudaStreamCreate(&s[d]);
            spEmuKernel(NULL, 1e-3);
            cudaMemcpyAsync(buf[d], ones, sizeof(ones), cudaMemcpyHostToDevice, NULL);
        }
        ncclGroupStart();
        for (int d = 0; d < 2; d++)
            ncclAllReduce(buf[d], buf[d], 256, ncclFloat, ncclSum, comms[d], s[d]);
        ncclGroupEnd();
        for (int d = 0; d < 2; d++) {
            cudaSetDevice(d);
            cudaStreamSynchronize(s[d]);
            cudaMemcpy(out, buf[d], sizeof(out), cudaMemcpyDeviceToHost);
            for (int i = 0; i < 256; i++)
                bad += out[i] != 2.0f;
        }
        if (bad) {
            printf("FAILED: the all-reduce read its buffer before the NULL stream's copy (%d wrong)\n", bad);
            failures++;
        }
        for (int d = 0; d < 2; d++)
            ncclCommDestroy(comms[d]);
    }
    printf("%s: %d failed check(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures != 0;
}

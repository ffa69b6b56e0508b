/* launch_costs.c - the host time of the calls that queue GPU work
 * (docs/emulation.md, measured on real H100s by bench/cuda_api_cost.cu):
 * a kernel launch 3.31 us, a copy within a device 4.25 us, from page-locked
 * host memory 1.26 us and back 1.18 us (from pageable memory the same, a
 * floor), a memset 0.90 us, an event record 1.27 us, a stream's wait for
 * an event 0.135 us, synchronizing an idle stream 1.48 us, a completed
 * event 1.34 us, an idle device 0.35 us, an NCCL group one launch per
 * device. With the argument "off" (run with --launch-costs off) every one
 * takes none. Prints "PASSED: 0 failed check(s)". */
#include <stdio.h>
#include <string.h>

#include <cuda_runtime.h>
#include <nccl.h>
#include <scalepath_emu.h>

#define MAXDEV 16

static int failures;

static void took(double t0, double us, const char *what)
{
    double got = (spEmuNow() - t0) * 1e6;
    if (got < us - 1e-6 || got > us + 1e-6) {
        printf("FAILED: %s took the host %.6f us, not %.6f\n", what, got, us);
        failures++;
    }
}

int main(int argc, char **argv)
{
    int off = argc > 1 && strcmp(argv[1], "off") == 0, n = 0;
    double k = off ? 0.0 : 1.0, t0;
    char *a = NULL, *b = NULL, *pinned = NULL, host[64] = {0};
    cudaStream_t s;
    cudaEvent_t e;
    ncclComm_t comms[MAXDEV];
    cudaStream_t streams[MAXDEV];
    float *buf[MAXDEV];

    cudaGetDeviceCount(&n);
    if (n > MAXDEV)
        n = MAXDEV;
    cudaSetDevice(0);
    cudaStreamCreate(&s);
    cudaEventCreate(&e);
    cudaMalloc((void **)&a, 4096);
    cudaMalloc((void **)&b, 4096);
    cudaMallocHost((void **)&pinned, 4096);
    cudaDeviceSynchronize();

    t0 = spEmuNow();
    spEmuKernel(s, 0.0);
    took(t0, 3.31 * k, "spEmuKernel");
    t0 = spEmuNow();
    spEmuGemm(s, 128, 128, 128, "bf16");
    took(t0, 3.31 * k, "spEmuGemm");
    t0 = spEmuNow();
    cudaMemsetAsync(a, 0, 4096, s);
    took(t0, 0.90 * k, "cudaMemsetAsync");
    t0 = spEmuNow();
    cudaMemcpyAsync(b, a, 4096, cudaMemcpyDeviceToDevice, s);
    took(t0, 4.25 * k, "cudaMemcpyAsync within the device");
    t0 = spEmuNow();
    cudaMemcpyAsync(a, pinned, 4096, cudaMemcpyHostToDevice, s);
    took(t0, 1.26 * k, "cudaMemcpyAsync from page-locked memory");
    t0 = spEmuNow();
    cudaEventRecord(e, s);
    took(t0, 1.27 * k, "cudaEventRecord");
    t0 = spEmuNow();
    cudaStreamWaitEvent(s, e, 0);
    took(t0, 0.135 * k, "cudaStreamWaitEvent");
    cudaStreamSynchronize(s);
    t0 = spEmuNow();
    cudaStreamSynchronize(s);
    took(t0, 1.48 * k, "cudaStreamSynchronize of an idle stream");
    t0 = spEmuNow();
    cudaEventSynchronize(e);
    took(t0, 1.34 * k, "cudaEventSynchronize of a completed event");
    t0 = spEmuNow();
    cudaDeviceSynchronize();
    took(t0, 0.35 * k, "cudaDeviceSynchronize of an idle device");
    t0 = spEmuNow();
    cudaMemcpyAsync(pinned, a, 4096, cudaMemcpyDeviceToHost, s);
    took(t0, 1.18 * k, "cudaMemcpyAsync into page-locked memory");
    cudaStreamSynchronize(s);
    t0 = spEmuNow();
    cudaMemcpyAsync(a, host, sizeof(host), cudaMemcpyHostToDevice, s);
    took(t0, 1.26 * k, "cudaMemcpyAsync from pageable memory");
    cudaStreamSynchronize(s);
    t0 = spEmuNow();
    cudaGetDevice(&n);
    cudaGetDeviceCount(&n);
    if (n > MAXDEV)
        n = MAXDEV;
    took(t0, 0.0, "cudaGetDevice and cudaGetDeviceCount");
    /* The synchronous forms within the device cost what the asynchronous do. */
    t0 = spEmuNow();
    cudaMemset(a, 0, 4096);
    took(t0, 0.90 * k, "cudaMemset");
    t0 = spEmuNow();
    cudaMemcpy(b, a, 4096, cudaMemcpyDeviceToDevice);
    took(t0, 4.25 * k, "cudaMemcpy within the device");
    cudaDeviceSynchronize();

    /* An NCCL group: one kernel launch per device. */
    ncclCommInitAll(comms, n, NULL);
    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        cudaMalloc((void **)&buf[d], 1024);
        cudaStreamCreateWithFlags(&streams[d], cudaStreamNonBlocking);
    }
    t0 = spEmuNow();
    ncclGroupStart();
    for (int d = 0; d < n; d++)
        ncclAllReduce(buf[d], buf[d], 256, ncclFloat, ncclSum, comms[d], streams[d]);
    ncclGroupEnd();
    took(t0, 3.31 * k * n, "an NCCL group of one all-reduce per device");
    t0 = spEmuNow();
    ncclAllReduce(buf[0], buf[0], 256, ncclFloat, ncclSum, comms[0], streams[0]);
    took(t0, 3.31 * k, "one rank's all-reduce outside a group");
    for (int d = 1; d < n; d++)
        ncclAllReduce(buf[d], buf[d], 256, ncclFloat, ncclSum, comms[d], streams[d]);
    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        cudaStreamSynchronize(streams[d]);
        ncclCommDestroy(comms[d]);
    }
    printf("%s: %d failed check(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures != 0;
}

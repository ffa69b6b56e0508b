/* launch_costs.c - the host time of the calls that queue GPU work
 * (docs/emulation.md, the medians of bench/cuda_api_cost.cu's runs on real
 * H100s): a kernel launch 3.312 us, a copy within a device 4.246 us (a peer
 * copy within one 3.4165 us, between two none), from page-locked host
 * memory 1.256 us and back 1.1815 us (from pageable memory the same, a
 * floor), a memset 0.899 us, an event record 1.2665 us, a stream's wait for
 * an event 0.135 us, synchronizing an idle stream 1.4815 us, a completed
 * event 1.338 us, an idle device 0.354 us, NCCL one launch per
 * communicator of a group. Memory another thread frees while a call takes
 * its host time makes the call fail, not crash. With the argument "off"
 * (run with --launch-costs off) every one takes none. With a number, a
 * kernel launch (NCCL's too) takes that many us: the launch time of a
 * platform file that gives one (nccl.launch_us). Prints "PASSED: 0
 * failed check(s)". */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <nccl.h>
#include <scalepath_emu.h>

#define MAXDEV 16

static int failures;
static sem_t never;
static void *to_free;
static double free_at;

/* Frees to_free at free_at (simulated), polling until then: 1 us into the
 * main thread's next call, which takes longer than that on the host. */
static void *free_later(void *arg)
{
    (void)arg;
    while (spEmuNow() < free_at)
        sem_trywait(&never);
    cudaFree(to_free);
    return NULL;
}

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
    /* The H100 platforms' nccl.launch_us, and the emulator's own figure for a platform without one. */
    double launch = argc > 1 && !off ? atof(argv[1]) : 3.312;
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
    took(t0, launch * k, "spEmuKernel");
    t0 = spEmuNow();
    spEmuGemm(s, 128, 128, 128, "bf16");
    took(t0, launch * k, "spEmuGemm");
    t0 = spEmuNow();
    cudaMemsetAsync(a, 0, 4096, s);
    took(t0, 0.899 * k, "cudaMemsetAsync");
    t0 = spEmuNow();
    cudaMemcpyAsync(b, a, 4096, cudaMemcpyDeviceToDevice, s);
    took(t0, 4.246 * k, "cudaMemcpyAsync within the device");
    t0 = spEmuNow();
    cudaMemcpyAsync(a, pinned, 4096, cudaMemcpyHostToDevice, s);
    took(t0, 1.256 * k, "cudaMemcpyAsync from page-locked memory");
    t0 = spEmuNow();
    cudaEventRecord(e, s);
    took(t0, 1.2665 * k, "cudaEventRecord");
    t0 = spEmuNow();
    cudaStreamWaitEvent(s, e, 0);
    took(t0, 0.135 * k, "cudaStreamWaitEvent");
    cudaStreamSynchronize(s);
    t0 = spEmuNow();
    cudaStreamSynchronize(s);
    took(t0, 1.4815 * k, "cudaStreamSynchronize of an idle stream");
    t0 = spEmuNow();
    cudaEventSynchronize(e);
    took(t0, 1.338 * k, "cudaEventSynchronize of a completed event");
    t0 = spEmuNow();
    cudaDeviceSynchronize();
    took(t0, 0.354 * k, "cudaDeviceSynchronize of an idle device");
    t0 = spEmuNow();
    cudaMemcpyAsync(pinned, a, 4096, cudaMemcpyDeviceToHost, s);
    took(t0, 1.1815 * k, "cudaMemcpyAsync into page-locked memory");
    cudaStreamSynchronize(s);
    t0 = spEmuNow();
    cudaMemcpyAsync(a, host, sizeof(host), cudaMemcpyHostToDevice, s);
    took(t0, 1.256 * k, "cudaMemcpyAsync from pageable memory");
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
    took(t0, 0.899 * k, "cudaMemset");
    t0 = spEmuNow();
    cudaMemcpy(b, a, 4096, cudaMemcpyDeviceToDevice);
    took(t0, 4.246 * k, "cudaMemcpy within the device");
    cudaDeviceSynchronize();
    /* Peer copies: within one device as measured, between two none. */
    t0 = spEmuNow();
    cudaMemcpyPeerAsync(b, 0, a, 0, 4096, s);
    took(t0, 3.4165 * k, "cudaMemcpyPeerAsync within one device");
    if (n > 1) {
        char *other = NULL;
        cudaSetDevice(1);
        cudaMalloc((void **)&other, 4096);
        cudaSetDevice(0);
        t0 = spEmuNow();
        cudaMemcpyPeerAsync(other, 1, a, 0, 4096, s);
        took(t0, 0.0, "cudaMemcpyPeerAsync between two devices");
        cudaStreamSynchronize(s);
        cudaFree(other);
    }
    cudaDeviceSynchronize();

    /* Memory freed by another thread while a call takes its host time: the
     * call sees it gone and fails; nothing reads freed memory. */
    if (!off) {
        pthread_t t;
        char *doomed = NULL;
        cudaError_t r;
        sem_init(&never, 0, 0);
        cudaMalloc((void **)&doomed, 4096);
        to_free = doomed;
        free_at = spEmuNow() + 1e-6;
        pthread_create(&t, NULL, free_later, NULL);
        r = cudaMemcpyAsync(doomed, a, 4096, cudaMemcpyDeviceToDevice, s);
        pthread_join(t, NULL);
        cudaStreamSynchronize(s);
        if (r != cudaErrorInvalidValue) {
            printf("FAILED: a copy into memory freed during its host time returned %d\n", (int)r);
            failures++;
        }
        cudaGetLastError();
    }

    /* An NCCL group: one kernel launch per communicator. */
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
    took(t0, launch * k * n, "an NCCL group of one all-reduce per device");
    t0 = spEmuNow();
    ncclAllReduce(buf[0], buf[0], 256, ncclFloat, ncclSum, comms[0], streams[0]);
    took(t0, launch * k, "one rank's all-reduce outside a group");
    for (int d = 1; d < n; d++)
        ncclAllReduce(buf[d], buf[d], 256, ncclFloat, ncclSum, comms[d], streams[d]);
    /* Two operations on one communicator: one kernel; on two communicators
     * of one device: two. */
    t0 = spEmuNow();
    ncclGroupStart();
    for (int d = 0; d < n; d++) {
        ncclAllReduce(buf[d], buf[d], 128, ncclFloat, ncclSum, comms[d], streams[d]);
        ncclAllReduce(buf[d], buf[d], 128, ncclFloat, ncclSum, comms[d], streams[d]);
    }
    ncclGroupEnd();
    took(t0, launch * k * n, "a group of two all-reduces per communicator");
    {
        ncclComm_t second[MAXDEV];
        ncclCommInitAll(second, n, NULL);
        t0 = spEmuNow();
        ncclGroupStart();
        for (int d = 0; d < n; d++) {
            ncclAllReduce(buf[d], buf[d], 128, ncclFloat, ncclSum, comms[d], streams[d]);
            ncclAllReduce(buf[d], buf[d], 128, ncclFloat, ncclSum, second[d], streams[d]);
        }
        ncclGroupEnd();
        took(t0, launch * k * 2 * n, "a group on two communicators per device");
        for (int d = 0; d < n; d++) {
            cudaSetDevice(d);
            cudaStreamSynchronize(streams[d]);
            ncclCommDestroy(second[d]);
        }
    }
    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        cudaStreamSynchronize(streams[d]);
        ncclCommDestroy(comms[d]);
    }
    /* A one-rank all-reduce whose buffer another thread frees during its
     * launch: it fails, as a bad buffer does. */
    if (!off) {
        pthread_t t;
        ncclComm_t one;
        int dev0 = 0;
        ncclResult_t r;
        cudaSetDevice(0);
        ncclCommInitAll(&one, 1, &dev0);
        to_free = buf[0];
        free_at = spEmuNow() + 1e-6;
        pthread_create(&t, NULL, free_later, NULL);
        r = ncclAllReduce(buf[0], buf[0], 256, ncclFloat, ncclSum, one, streams[0]);
        pthread_join(t, NULL);
        cudaStreamSynchronize(streams[0]);
        if (r != ncclInvalidArgument) {
            printf("FAILED: an all-reduce of memory freed during its launch returned %d\n", (int)r);
            failures++;
        }
        ncclCommDestroy(one);
    }
    printf("%s: %d failed check(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures != 0;
}

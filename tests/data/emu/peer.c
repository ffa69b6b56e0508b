/* peer.c - peer access and copies between GPUs: cudaDeviceCanAccessPeer,
 * cudaDeviceEnablePeerAccess / DisablePeerAccess and their errors,
 * cudaMemcpyPeer (serialized with the devices' work) and
 * cudaMemcpyPeerAsync (on a stream), within a node and across nodes, and
 * cudaMemGetInfo. Run on two DGX H100 nodes (16 devices), or with the
 * argument "nop2p" on a PCIe box without peer-to-peer DMA. Prints
 * "PASSED: 0 failed check(s)". */
#include <stdio.h>
#include <string.h>

#include <cuda_runtime.h>
#include <scalepath_emu.h>

#include "check.h"

#define N (1 << 20) /* ints: 4 MiB */

static int host[N];

/* Fills device a's buffer, copies it to device b's with cudaMemcpyPeer, and
 * reads it back. */
static void copy_between(int *buf[], int a, int b)
{
    for (int i = 0; i < N; i++)
        host[i] = i ^ (a << 24) ^ b;
    cudaSetDevice(a);
    cudaMemcpy(buf[a], host, sizeof(host), cudaMemcpyHostToDevice);
    memset(host, 0, sizeof(host));
    CHECK(cudaMemcpyPeer(buf[b], b, buf[a], a, sizeof(host)) == cudaSuccess, "cudaMemcpyPeer %d -> %d", a, b);
    cudaSetDevice(b);
    cudaMemcpy(host, buf[b], sizeof(host), cudaMemcpyDeviceToHost);
    for (int i = 0; i < N; i++)
        if (host[i] != (i ^ (a << 24) ^ b)) {
            CHECK(0, "cudaMemcpyPeer %d -> %d: element %d is wrong", a, b, i);
            break;
        }
}

int main(int argc, char **argv)
{
    int n = 0, can = -1, *buf[16] = {0}, *pinned = NULL;
    size_t free0, free1, total;
    struct cudaDeviceProp prop;
    cudaStream_t s;
    double t0;

    cudaGetDeviceCount(&n);
    if (argc > 1 && strcmp(argv[1], "nop2p") == 0) {
        CHECK(cudaDeviceCanAccessPeer(&can, 0, 1) == cudaSuccess && can == 0,
              "GPUs without peer-to-peer DMA: canAccessPeer %d", can);
        cudaSetDevice(0);
        CHECK(cudaDeviceEnablePeerAccess(1, 0) == cudaErrorPeerAccessUnsupported, "enabling unsupported peer access");
        printf("%s: %d failed check(s)\n", failures ? "FAILED" : "PASSED", failures);
        return failures != 0;
    }
    CHECK(n == 16, "%d devices, not 16 (run with -n 2 on dgx-h100)", n);
    if (n != 16)
        return 1;

    /* What can reach what. */
    CHECK(cudaDeviceCanAccessPeer(&can, 0, 1) == cudaSuccess && can == 1, "NVLink peers: canAccessPeer %d", can);
    CHECK(cudaDeviceCanAccessPeer(&can, 0, 0) == cudaSuccess && can == 0, "a device and itself: %d", can);
    CHECK(cudaDeviceCanAccessPeer(&can, 0, 8) == cudaSuccess && can == 0, "another node's GPU: %d", can);
    CHECK(cudaDeviceCanAccessPeer(&can, 0, 16) == cudaErrorInvalidDevice, "device 16 does not exist");
    CHECK(cudaDeviceCanAccessPeer(NULL, 0, 1) == cudaErrorInvalidValue, "a NULL result");

    /* Enabling and disabling, from the current device. */
    cudaSetDevice(0);
    CHECK(cudaDeviceEnablePeerAccess(1, 0) == cudaSuccess, "enable 0 -> 1");
    CHECK(cudaDeviceEnablePeerAccess(1, 0) == cudaErrorPeerAccessAlreadyEnabled, "enable 0 -> 1 twice");
    CHECK(cudaGetLastError() == cudaErrorPeerAccessAlreadyEnabled, "the last error");
    CHECK(cudaDeviceDisablePeerAccess(1) == cudaSuccess, "disable 0 -> 1");
    CHECK(cudaDeviceDisablePeerAccess(1) == cudaErrorPeerAccessNotEnabled, "disable 0 -> 1 twice");
    CHECK(cudaDeviceEnablePeerAccess(8, 0) == cudaErrorPeerAccessUnsupported, "enable 0 -> 8 (another node)");
    CHECK(cudaDeviceEnablePeerAccess(0, 0) == cudaErrorPeerAccessUnsupported, "enable 0 -> 0");
    CHECK(cudaDeviceEnablePeerAccess(1, 1) == cudaErrorInvalidValue, "enable with flags 1");
    CHECK(cudaDeviceDisablePeerAccess(16) == cudaErrorInvalidDevice, "disable for device 16");
    cudaGetDeviceProperties(&prop, 0);
    CHECK(cudaMemGetInfo(NULL, &total) == cudaSuccess && total == prop.totalGlobalMem, "cudaMemGetInfo with a NULL free");
    CHECK(cudaMemGetInfo(NULL, NULL) == cudaSuccess, "cudaMemGetInfo with NULL pointers");
    cudaSetDevice(1);
    CHECK(cudaDeviceEnablePeerAccess(0, 0) == cudaSuccess, "enable 1 -> 0 (each direction its own)");
    CHECK(strcmp(cudaGetErrorName(cudaErrorPeerAccessUnsupported), "cudaErrorPeerAccessUnsupported") == 0,
          "cudaGetErrorName(217)");

    /* Free memory, as cudaMalloc sees it. */
    cudaSetDevice(2);
    cudaGetDeviceProperties(&prop, 2);
    CHECK(cudaMemGetInfo(&free0, &total) == cudaSuccess && total == prop.totalGlobalMem && free0 == total,
          "cudaMemGetInfo: %zu of %zu free", free0, total);
    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        cudaMalloc((void **)&buf[d], sizeof(host));
    }
    cudaSetDevice(2);
    CHECK(cudaMemGetInfo(&free1, &total) == cudaSuccess && free0 - free1 == sizeof(host),
          "cudaMemGetInfo after a %zu-byte cudaMalloc: %zu fewer bytes free", sizeof(host), free0 - free1);

    /* Copies: within a node, and to the other node. */
    copy_between(buf, 0, 1);
    copy_between(buf, 3, 12);
    CHECK(cudaMemcpyPeer(buf[1], 2, buf[0], 0, 64) == cudaErrorInvalidValue, "a destination on another device");
    CHECK(cudaMemcpyPeer(buf[1], 1, buf[0], 0, sizeof(host) + 1) == cudaErrorInvalidValue, "a copy too long");
    CHECK(cudaMemcpyPeer(buf[1], 1, buf[0], 99, 64) == cudaErrorInvalidDevice, "source device 99");

    /* cudaMemcpyPeer waits for the devices' work, even a non-blocking stream's. */
    cudaSetDevice(1);
    cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    t0 = spEmuNow();
    spEmuKernel(s, 2e-3);
    cudaSetDevice(0);
    cudaMemcpyPeer(buf[0], 0, buf[1], 1, 64);
    CHECK(spEmuNow() - t0 >= 2e-3, "cudaMemcpyPeer ran beside device 1's kernel (%.3f ms)",
          (spEmuNow() - t0) * 1e3);

    /* cudaMemcpyPeerAsync is ordered on its stream only. */
    cudaSetDevice(1);
    t0 = spEmuNow();
    spEmuKernel(s, 2e-3);
    CHECK(cudaMemcpyPeerAsync(buf[0], 0, buf[1], 1, sizeof(host), s) == cudaSuccess, "cudaMemcpyPeerAsync");
    CHECK(spEmuNow() - t0 < 1e-9, "cudaMemcpyPeerAsync waited");
    cudaStreamSynchronize(s);
    CHECK(spEmuNow() - t0 > 2e-3, "cudaMemcpyPeerAsync did not follow the stream's kernel");

    /* The NULL stream of a copy is the current device's, whatever memory it
     * touches: syncing device 0's NULL stream waits for a copy into device
     * 1's memory; a copy between devices 1 and 2 on device 0's stream moves
     * the right bytes. */
    cudaSetDevice(0);
    cudaDeviceSynchronize();
    t0 = spEmuNow();
    for (int i = 0; i < N; i++)
        host[i] = 7 * i;
    cudaMemcpyAsync(buf[1], host, sizeof(host), cudaMemcpyHostToDevice, NULL);
    cudaStreamSynchronize(NULL);
    CHECK(spEmuNow() - t0 > 1e-5, "device 0's NULL stream did not hold the copy into device 1 (%.3f ms)",
          (spEmuNow() - t0) * 1e3);
    cudaStreamCreate(&s);
    cudaMemcpyAsync(buf[2], buf[1], sizeof(host), cudaMemcpyDeviceToDevice, s);
    cudaStreamSynchronize(s);
    memset(host, 0, sizeof(host));
    cudaMemcpy(host, buf[2], sizeof(host), cudaMemcpyDeviceToHost);
    CHECK(host[N - 1] == 7 * (N - 1), "a copy from device 1 to 2 on device 0's stream read %d", host[N - 1]);

    /* cudaFree of device 1's memory waits for a copy out of it queued on
     * device 0's NULL stream behind a kernel: the copy reads the data. */
    cudaSetDevice(0);
    cudaMallocHost((void **)&pinned, sizeof(host)); /* pageable memory would make the copy wait */
    spEmuKernel(NULL, 2e-3);
    cudaMemcpyAsync(pinned, buf[2], sizeof(host), cudaMemcpyDeviceToHost, NULL);
    t0 = spEmuNow();
    cudaSetDevice(2);
    cudaFree(buf[2]);
    buf[2] = NULL;
    CHECK(spEmuNow() - t0 >= 2e-3, "cudaFree did not wait for a copy of its memory on device 0's stream");
    cudaSetDevice(0);
    cudaDeviceSynchronize();
    CHECK(pinned[N - 1] == 7 * (N - 1), "a copy out of freed memory read %d", pinned[N - 1]);
    cudaFreeHost(pinned);
    cudaSetDevice(2);
    CHECK(cudaMemGetInfo(&free1, &total) == cudaSuccess && free1 == total, "device 2's memory after cudaFree: %zu free",
          free1);

    /* cudaMemcpyPeer waits for the destination's and the current device's work too. */
    cudaStreamDestroy(s);
    for (int w = 0; w < 2; w++) {
        cudaStream_t busy;
        int dev = w == 0 ? 1 : 3; /* the destination; then a current device that is neither */
        cudaSetDevice(dev);
        cudaStreamCreateWithFlags(&busy, cudaStreamNonBlocking);
        t0 = spEmuNow();
        spEmuKernel(busy, 2e-3);
        cudaSetDevice(w == 0 ? 0 : 3);
        cudaMemcpyPeer(buf[1], 1, buf[0], 0, 64);
        CHECK(spEmuNow() - t0 >= 2e-3, "cudaMemcpyPeer ran beside %s's kernel",
              w == 0 ? "the destination" : "the current device");
        cudaStreamDestroy(busy);
    }

    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        cudaFree(buf[d]);
    }
    printf("%s: %d failed check(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures != 0;
}

/* real_codes.c - what CUDA and NCCL return for calls on one GPU, right and
 * wrong, printed one per line ("label: code"), so that the emulator's
 * answers can be set beside the real libraries' (real_codes.expected, taken
 * on a real GPU: see that file's header). Only calls whose outcome the real
 * libraries define are made: nothing that overruns a buffer or touches
 * memory it should not, which they do not check, and no ncclCommInitAll of
 * 0 ranks, which crashed NCCL 2.28.9. */
#include <stdio.h>
#include <string.h>

#include <cuda_runtime.h>
#include <nccl.h>

#ifdef SP_CATCH_CRASHES /* on the real libraries only: a crash is an answer too */
#include <setjmp.h>
#include <signal.h>
static sigjmp_buf crashed;
static void on_crash(int sig)
{
    siglongjmp(crashed, sig);
}
#define SHOW(label, call)                                                                          \
    do {                                                                                           \
        if (sigsetjmp(crashed, 1) == 0)                                                            \
            printf("%-44s %d\n", label ":", (int)(call));                                          \
        else                                                                                       \
            printf("%-44s crash\n", label ":");                                                    \
    } while (0)
#else
#define SHOW(label, call) printf("%-44s %d\n", label ":", (int)(call))
#endif

int main(void)
{
    ncclComm_t comm = NULL, split = NULL, ranked = NULL, two[2] = {NULL, NULL};
    ncclUniqueId id;
    cudaStream_t s = NULL;
    cudaEvent_t e0 = NULL, e1 = NULL;
    float host[64], *buf = NULL, ms = 0.0f;
    void *p = NULL, *zero = (void *)&p;
    int n = -1, d = -1, c = -1;

#ifdef SP_CATCH_CRASHES
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
#endif
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line out before the next call, should one crash */
    for (int i = 0; i < 64; i++)
        host[i] = (float)(i % 7) - 3.0f;
    /* Devices and the sticky last error. */
    SHOW("cudaGetDeviceCount", cudaGetDeviceCount(&n));
    printf("%-44s %d\n", "device count at least 1:", n >= 1);
    SHOW("cudaSetDevice(count)", cudaSetDevice(n));
    SHOW("cudaPeekAtLastError", cudaPeekAtLastError());
    SHOW("cudaGetLastError", cudaGetLastError());
    SHOW("cudaGetLastError again", cudaGetLastError());
    SHOW("cudaSetDevice(-1)", cudaSetDevice(-1));
    SHOW("cudaGetLastError after -1", cudaGetLastError());
    SHOW("cudaSetDevice(0)", cudaSetDevice(0));
    SHOW("cudaGetDevice", cudaGetDevice(&d));
    printf("%-44s %d\n", "current device:", d);
    /* Memory. */
    SHOW("cudaMalloc(2^50 bytes)", cudaMalloc(&p, (size_t)1 << 50));
    SHOW("cudaGetLastError after the allocation", cudaGetLastError());
    SHOW("cudaMalloc(0 bytes)", cudaMalloc(&zero, 0));
    printf("%-44s %d\n", "cudaMalloc(0 bytes) gives NULL:", zero == NULL);
    SHOW("cudaMemcpy of 0 bytes to that", cudaMemcpy(zero, host, 0, cudaMemcpyHostToDevice));
    SHOW("cudaMemset of 0 bytes of that", cudaMemset(zero, 0, 0));
    SHOW("cudaGetLastError after the empty copies", cudaGetLastError());
    SHOW("cudaFree(NULL)", cudaFree(NULL));
    SHOW("cudaFree(host pointer)", cudaFree(host));
    SHOW("cudaGetLastError after cudaFree", cudaGetLastError());
    SHOW("cudaMalloc(256 bytes)", cudaMalloc((void **)&buf, 256));
    SHOW("cudaMemcpy host to device", cudaMemcpy(buf, host, 256, cudaMemcpyHostToDevice));
    SHOW("cudaMemcpy default direction", cudaMemcpy(buf, host, 256, cudaMemcpyDefault));
    SHOW("cudaMemcpy kind 42", cudaMemcpy(buf, host, 256, (enum cudaMemcpyKind)42));
    SHOW("cudaGetLastError after kind 42", cudaGetLastError());
    SHOW("cudaMemcpy from NULL", cudaMemcpy(buf, NULL, 16, cudaMemcpyDeviceToDevice));
    SHOW("cudaGetLastError after NULL", cudaGetLastError());
    SHOW("cudaMemcpy 0 bytes", cudaMemcpy(buf, host, 0, cudaMemcpyHostToDevice));
    SHOW("cudaMemset", cudaMemset(buf, 0, 256));
    SHOW("cudaMemset(NULL)", cudaMemset(NULL, 0, 16));
    SHOW("cudaGetLastError after cudaMemset(NULL)", cudaGetLastError());
    SHOW("cudaFree(inside an allocation)", cudaFree((char *)buf + 16));
    SHOW("cudaGetLastError after the inside", cudaGetLastError());
    SHOW("cudaMallocHost", cudaMallocHost(&p, 4096));
    SHOW("cudaFree(pinned host memory)", cudaFree(p));
    SHOW("cudaGetLastError after pinned", cudaGetLastError());
    SHOW("cudaFreeHost(device memory)", cudaFreeHost(buf));
    SHOW("cudaGetLastError after cudaFreeHost", cudaGetLastError());
    SHOW("cudaFreeHost(stack memory)", cudaFreeHost(host));
    SHOW("cudaGetLastError after stack", cudaGetLastError());
    SHOW("cudaFreeHost", cudaFreeHost(p));
    SHOW("cudaMallocHost(0 bytes)", cudaMallocHost(&zero, 0));
    printf("%-44s %d\n", "cudaMallocHost(0 bytes) gives NULL:", zero == NULL);
    SHOW("cudaFreeHost(NULL)", cudaFreeHost(NULL));
    {
        void *once = NULL;
        SHOW("cudaMalloc to free twice", cudaMalloc(&once, 256));
        SHOW("cudaFree once", cudaFree(once));
        SHOW("cudaFree twice", cudaFree(once));
        SHOW("cudaGetLastError after twice", cudaGetLastError());
    }
    {
        struct cudaDeviceProp prop;
        SHOW("cudaGetDeviceProperties(device 99)", cudaGetDeviceProperties(&prop, 99));
        SHOW("cudaGetLastError after the properties", cudaGetLastError());
        SHOW("cudaGetDeviceProperties(device 0)", cudaGetDeviceProperties(&prop, 0));
    }
    /* Streams and events. */
    SHOW("cudaStreamCreate", cudaStreamCreate(&s));
    SHOW("cudaStreamQuery(idle)", cudaStreamQuery(s));
    SHOW("cudaMemcpyAsync kind 42", cudaMemcpyAsync(buf, host, 256, (enum cudaMemcpyKind)42, s));
    SHOW("cudaGetLastError after async kind 42", cudaGetLastError());
    SHOW("cudaEventCreate", cudaEventCreate(&e0));
    SHOW("cudaEventCreate 2", cudaEventCreate(&e1));
    SHOW("cudaEventQuery(never recorded)", cudaEventQuery(e0));
    SHOW("cudaEventSynchronize(never recorded)", cudaEventSynchronize(e0));
    SHOW("cudaEventElapsedTime(never recorded)", cudaEventElapsedTime(&ms, e0, e1));
    SHOW("cudaGetLastError after the elapsed time", cudaGetLastError());
    SHOW("cudaStreamWaitEvent(never recorded)", cudaStreamWaitEvent(s, e0, 0));
    SHOW("cudaMemsetAsync", cudaMemsetAsync(buf, 0, 256, s));
    SHOW("cudaMemcpyAsync on the default stream", cudaMemcpyAsync(buf, host, 256, cudaMemcpyHostToDevice, NULL));
    {
        cudaStream_t s2 = NULL;
        SHOW("cudaStreamCreateWithFlags(non-blocking)", cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
        SHOW("cudaStreamDestroy(non-blocking)", cudaStreamDestroy(s2));
        SHOW("cudaStreamCreate(NULL)", cudaStreamCreate(NULL));
        SHOW("cudaGetLastError after cudaStreamCreate(NULL)", cudaGetLastError());
        SHOW("cudaEventCreate(NULL)", cudaEventCreate(NULL));
        SHOW("cudaGetLastError after cudaEventCreate(NULL)", cudaGetLastError());
    }
    SHOW("cudaEventRecord", cudaEventRecord(e0, s));
    SHOW("cudaEventRecord 2", cudaEventRecord(e1, s));
    SHOW("cudaEventSynchronize", cudaEventSynchronize(e1));
    SHOW("cudaEventElapsedTime", cudaEventElapsedTime(&ms, e0, e1));
    printf("%-44s %d\n", "elapsed time not negative:", ms >= 0.0f);
    SHOW("cudaEventElapsedTime(NULL result)", cudaEventElapsedTime(NULL, e0, e1));
    SHOW("cudaGetLastError after NULL result", cudaGetLastError());
    SHOW("cudaDeviceSynchronize", cudaDeviceSynchronize());

    /* Peer access, peer copies, memory information and the special streams,
     * on one GPU: device 1 does not exist. */
    {
        float *other = NULL;
        size_t free_b = 0, total_b = 0;
        c = -1;
        SHOW("cudaDeviceCanAccessPeer(0, 0)", cudaDeviceCanAccessPeer(&c, 0, 0));
        printf("%-44s %d\n", "a device can access itself as a peer:", c);
        SHOW("cudaDeviceCanAccessPeer(0, 1)", cudaDeviceCanAccessPeer(&c, 0, 1));
        SHOW("cudaGetLastError after the peer query", cudaGetLastError());
        SHOW("cudaDeviceCanAccessPeer(NULL)", cudaDeviceCanAccessPeer(NULL, 0, 0));
        SHOW("cudaGetLastError after NULL", cudaGetLastError());
        SHOW("cudaDeviceEnablePeerAccess(itself)", cudaDeviceEnablePeerAccess(0, 0));
        SHOW("cudaGetLastError after itself", cudaGetLastError());
        SHOW("cudaDeviceEnablePeerAccess(device 1)", cudaDeviceEnablePeerAccess(1, 0));
        SHOW("cudaGetLastError after device 1", cudaGetLastError());
        SHOW("cudaDeviceEnablePeerAccess(flags 1)", cudaDeviceEnablePeerAccess(0, 1));
        SHOW("cudaGetLastError after flags 1", cudaGetLastError());
        SHOW("cudaDeviceDisablePeerAccess(itself)", cudaDeviceDisablePeerAccess(0));
        SHOW("cudaGetLastError after disabling itself", cudaGetLastError());
        SHOW("cudaDeviceDisablePeerAccess(device 1)", cudaDeviceDisablePeerAccess(1));
        SHOW("cudaGetLastError after disabling device 1", cudaGetLastError());
        SHOW("cudaMalloc for peer copies", cudaMalloc((void **)&other, 256));
        SHOW("cudaMemcpyPeer(0 to 0)", cudaMemcpyPeer(other, 0, buf, 0, 256));
        SHOW("cudaMemcpyPeer(0 bytes)", cudaMemcpyPeer(other, 0, buf, 0, 0));
        SHOW("cudaMemcpyPeer(to device 1)", cudaMemcpyPeer(other, 1, buf, 0, 256));
        SHOW("cudaGetLastError after the peer copy", cudaGetLastError());
        SHOW("cudaMemcpyPeerAsync(0 to 0)", cudaMemcpyPeerAsync(other, 0, buf, 0, 256, s));
        SHOW("cudaMemcpyPeerAsync(from device 1)", cudaMemcpyPeerAsync(other, 0, buf, 1, 256, s));
        SHOW("cudaGetLastError after the async peer copy", cudaGetLastError());
        SHOW("cudaStreamSynchronize after the peer copies", cudaStreamSynchronize(s));
        SHOW("cudaMemGetInfo", cudaMemGetInfo(&free_b, &total_b));
        printf("%-44s %d\n", "0 < free <= total:", free_b > 0 && free_b <= total_b);
        SHOW("cudaMemGetInfo(NULL free)", cudaMemGetInfo(NULL, &total_b));
        SHOW("cudaGetLastError after cudaMemGetInfo(NULL)", cudaGetLastError());
        SHOW("cudaMemGetInfo(NULL total)", cudaMemGetInfo(&free_b, NULL));
        SHOW("cudaMemGetInfo(NULL, NULL)", cudaMemGetInfo(NULL, NULL));
        SHOW("cudaGetLastError after both NULL", cudaGetLastError());
        SHOW("cudaStreamQuery(per-thread)", cudaStreamQuery(cudaStreamPerThread));
        SHOW("cudaMemsetAsync(per-thread)", cudaMemsetAsync(other, 0, 256, cudaStreamPerThread));
        SHOW("cudaStreamSynchronize(per-thread)", cudaStreamSynchronize(cudaStreamPerThread));
        SHOW("cudaMemcpyAsync(legacy)", cudaMemcpyAsync(other, buf, 256, cudaMemcpyDeviceToDevice, cudaStreamLegacy));
        SHOW("cudaStreamSynchronize(legacy)", cudaStreamSynchronize(cudaStreamLegacy));
        SHOW("cudaFree for peer copies", cudaFree(other));
        {
            static const int codes[] = {217, 704, 705};
            for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
                printf("cudaGetErrorName(%d): %s: %s\n", codes[i], cudaGetErrorName((cudaError_t)codes[i]),
                       cudaGetErrorString((cudaError_t)codes[i]));
        }
    }

    /* A communicator of one rank. */
    SHOW("ncclCommInitAll(NULL comms)", ncclCommInitAll(NULL, 1, NULL));
    SHOW("ncclCommInitAll(-1 ranks)", ncclCommInitAll(&comm, -1, NULL));
    {
        static const int twice[2] = {0, 0};
        SHOW("ncclCommInitAll(device 0 twice)", ncclCommInitAll(two, 2, twice));
    }
    SHOW("ncclGetVersion(NULL)", ncclGetVersion(NULL));
    SHOW("ncclGetUniqueId(NULL)", ncclGetUniqueId(NULL));
    SHOW("ncclCommDestroy(NULL)", ncclCommDestroy(NULL));
    SHOW("ncclCommInitAll(1 rank)", ncclCommInitAll(&comm, 1, NULL));
    SHOW("ncclCommCount", ncclCommCount(comm, &c));
    printf("%-44s %d\n", "ranks:", c);
    SHOW("ncclCommCuDevice", ncclCommCuDevice(comm, &c));
    printf("%-44s %d\n", "device:", c);
    SHOW("ncclCommUserRank", ncclCommUserRank(comm, &c));
    printf("%-44s %d\n", "rank:", c);
    SHOW("ncclCommCount(NULL comm)", ncclCommCount(NULL, &c));
    SHOW("cudaMemcpy host to device again", cudaMemcpy(buf, host, 256, cudaMemcpyHostToDevice));
    SHOW("ncclAllReduce", ncclAllReduce(buf, buf, 64, ncclFloat, ncclSum, comm, s));
    SHOW("ncclAllReduce 0 elements", ncclAllReduce(buf, buf, 0, ncclFloat, ncclSum, comm, s));
    SHOW("ncclAllReduce(host send buffer)", ncclAllReduce(host, buf, 16, ncclFloat, ncclSum, comm, s));
    SHOW("ncclAllReduce(host receive buffer)", ncclAllReduce(buf, host, 16, ncclFloat, ncclSum, comm, s));
    SHOW("ncclAllReduce(NULL send buffer)", ncclAllReduce(NULL, buf, 16, ncclFloat, ncclSum, comm, s));
    SHOW("ncclAllReduce(type 42)", ncclAllReduce(buf, buf, 16, (ncclDataType_t)42, ncclSum, comm, s));
    SHOW("ncclAllReduce(op 9)", ncclAllReduce(buf, buf, 16, ncclFloat, (ncclRedOp_t)9, comm, s));
    SHOW("ncclAllReduce(NULL comm)", ncclAllReduce(buf, buf, 16, ncclFloat, ncclSum, NULL, s));
    SHOW("ncclBroadcast(root -1)", ncclBroadcast(buf, buf, 16, ncclFloat, -1, comm, s));
    SHOW("ncclBroadcast(root 1 of 1)", ncclBroadcast(buf, buf, 16, ncclFloat, 1, comm, s));
    SHOW("ncclReduce(root 1 of 1)", ncclReduce(buf, buf, 16, ncclFloat, ncclSum, 1, comm, s));
    SHOW("ncclSend(peer 1 of 1)", ncclSend(buf, 16, ncclFloat, 1, comm, s));
    SHOW("ncclRecv(peer -1)", ncclRecv(buf, 16, ncclFloat, -1, comm, s));
    SHOW("ncclGroupEnd without a start", ncclGroupEnd());
    SHOW("ncclGroupStart (nested, outer)", ncclGroupStart());
    SHOW("ncclGroupStart (nested, inner)", ncclGroupStart());
    SHOW("ncclAllReduce in nested groups", ncclAllReduce(buf, buf, 16, ncclFloat, ncclSum, comm, s));
    SHOW("ncclGroupEnd (nested, inner)", ncclGroupEnd());
    SHOW("ncclGroupEnd (nested, outer)", ncclGroupEnd());
    SHOW("ncclGroupStart before a bad call", ncclGroupStart());
    SHOW("ncclAllReduce(type 42) in a group", ncclAllReduce(buf, buf, 16, (ncclDataType_t)42, ncclSum, comm, s));
    SHOW("ncclGroupEnd after a bad call", ncclGroupEnd());
    SHOW("ncclAllReduce after that group", ncclAllReduce(buf, buf, 16, ncclFloat, ncclSum, comm, s));
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 28, 0) /* all-to-all, gather and scatter came with 2.28 */
    {
        float *other = NULL, back[16];
        int same = 1;
        SHOW("cudaMalloc for all-to-all", cudaMalloc((void **)&other, 256));
        SHOW("ncclAlltoAll", ncclAlltoAll(buf, other, 16, ncclFloat, comm, s));
        SHOW("ncclAlltoAll in place", ncclAlltoAll(buf, buf, 16, ncclFloat, comm, s));
        SHOW("ncclAlltoAll(type 42)", ncclAlltoAll(buf, other, 16, (ncclDataType_t)42, comm, s));
        SHOW("ncclGather(root 0)", ncclGather(buf, other, 16, ncclFloat, 0, comm, s));
        SHOW("ncclGather(root 1 of 1)", ncclGather(buf, other, 16, ncclFloat, 1, comm, s));
        SHOW("ncclScatter(root 0)", ncclScatter(buf, other, 16, ncclFloat, 0, comm, s));
        SHOW("ncclScatter(root -1)", ncclScatter(buf, other, 16, ncclFloat, -1, comm, s));
        SHOW("ncclScatter(NULL comm)", ncclScatter(buf, other, 16, ncclFloat, 0, NULL, s));
        SHOW("cudaStreamSynchronize after them", cudaStreamSynchronize(s));
        SHOW("cudaMemcpy their output", cudaMemcpy(back, other, sizeof(back), cudaMemcpyDeviceToHost));
        for (int i = 0; i < 16; i++)
            same &= back[i] == (float)(i % 7) - 3.0f; /* one rank's: its own input */
        printf("%-44s %d\n", "all-to-all, gather, scatter of one rank copy:", same);
        SHOW("cudaFree for all-to-all", cudaFree(other));
    }
#endif
    {
        ncclResult_t async = ncclInProgress;
        SHOW("ncclCommGetAsyncError", ncclCommGetAsyncError(comm, &async));
        printf("%-44s %d\n", "asynchronous error:", (int)async);
    }
    SHOW("ncclGroupStart", ncclGroupStart());
    SHOW("ncclAllGather in a group", ncclAllGather(buf, buf, 16, ncclFloat, comm, s));
    SHOW("ncclGroupEnd", ncclGroupEnd());
    SHOW("cudaStreamSynchronize", cudaStreamSynchronize(s));
    SHOW("cudaMemcpy device to host", cudaMemcpy(host, buf, 256, cudaMemcpyDeviceToHost));
    {
        int same = 1;
        for (int i = 0; i < 64; i++)
            same &= host[i] == (float)(i % 7) - 3.0f; /* a sum over one rank */
        printf("%-44s %d\n", "data unchanged by one rank's collectives:", same);
    }
    SHOW("ncclCommSplit(color 0)", ncclCommSplit(comm, 0, 0, &split, NULL));
    SHOW("ncclCommSplit(no color)", ncclCommSplit(comm, NCCL_SPLIT_NOCOLOR, 0, &ranked, NULL));
    printf("%-44s %d\n", "no color gives NULL:", ranked == NULL);
    SHOW("ncclCommDestroy(split)", ncclCommDestroy(split));
    SHOW("ncclGroupStart before a bad split", ncclGroupStart());
    SHOW("ncclCommSplit(NULL newcomm) in a group", ncclCommSplit(comm, 0, 0, NULL, NULL));
    SHOW("ncclGroupEnd after a bad split", ncclGroupEnd());
    SHOW("ncclGetUniqueId", ncclGetUniqueId(&id));
    SHOW("ncclGroupStart before a bad init", ncclGroupStart());
    SHOW("ncclCommInitRank(rank 5 of 2) in a group", ncclCommInitRank(&ranked, 2, id, 5));
    SHOW("ncclGroupEnd after a bad init", ncclGroupEnd());
    SHOW("ncclCommInitRank(rank 1 of 1)", ncclCommInitRank(&ranked, 1, id, 1));
    SHOW("ncclCommInitRank(0 ranks)", ncclCommInitRank(&ranked, 0, id, 0));
    SHOW("ncclCommInitRank(rank 0 of 1)", ncclCommInitRank(&ranked, 1, id, 0));
    SHOW("ncclCommDestroy(ranked)", ncclCommDestroy(ranked));
    SHOW("ncclCommDestroy", ncclCommDestroy(comm));
    SHOW("ncclCommInitAll(2 ranks, count + 1 devices)", n == 1 ? ncclCommInitAll(two, 2, NULL) : ncclInvalidArgument);
    SHOW("cudaGetLastError at the end", cudaGetLastError());

    /* The libraries' names and messages for their codes. */
    for (int r = 0; r <= 7; r++)
        printf("ncclGetErrorString(%d): %s\n", r, ncclGetErrorString((ncclResult_t)r));
    {
        static const int codes[] = {0, 1, 2, 17, 21, 101, 400, 600};
        for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
            printf("cudaGetErrorName(%d): %s: %s\n", codes[i], cudaGetErrorName((cudaError_t)codes[i]),
                   cudaGetErrorString((cudaError_t)codes[i]));
    }
    SHOW("cudaStreamDestroy", cudaStreamDestroy(s));
    SHOW("cudaEventDestroy", cudaEventDestroy(e0));
    SHOW("cudaFree", cudaFree(buf));
    return 0;
}

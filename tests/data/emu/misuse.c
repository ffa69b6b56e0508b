/* misuse.c - calls a real program might get wrong. Each must fail with
 * the error code NCCL or CUDA returns, and a message, never a crash; the
 * program checks the codes and returns how many were not as expected. A
 * collective called differently by one rank is refused at that call. */
#include <stdio.h>

#include <cuda_runtime.h>
#include <nccl.h>

static int bad;

#define EXPECT(call, code)                                                                         \
    do {                                                                                           \
        int got_ = (int)(call);                                                                    \
        if (got_ != (int)(code)) {                                                                 \
            printf("UNEXPECTED %s returned %d, not %d\n", #call, got_, (int)(code));               \
            bad++;                                                                                 \
        }                                                                                          \
    } while (0)

int main(void)
{
    ncclComm_t comms[4];
    cudaStream_t s[4];
    float *buf[4], host[16];
    void *p = NULL;
    int n = 0;

    EXPECT(cudaGetDeviceCount(&n), cudaSuccess);
    EXPECT(cudaSetDevice(n), cudaErrorInvalidDevice);
    EXPECT(cudaGetLastError(), cudaErrorInvalidDevice);
    EXPECT(cudaGetLastError(), cudaSuccess);
    EXPECT(ncclCommInitAll(comms, 4, NULL), ncclSuccess);
    for (int d = 0; d < 4; d++) {
        EXPECT(cudaSetDevice(d), cudaSuccess);
        EXPECT(cudaMalloc((void **)&buf[d], 4096), cudaSuccess);
        EXPECT(cudaStreamCreate(&s[d]), cudaSuccess);
    }
    EXPECT(cudaMalloc(&p, (size_t)1 << 50), cudaErrorMemoryAllocation); /* beyond any GPU */
    EXPECT(cudaFree(host), cudaErrorInvalidValue);
    EXPECT(cudaMemcpy(host, buf[0], sizeof(host), cudaMemcpyHostToDevice), cudaErrorInvalidValue);
    EXPECT(cudaMemcpy(buf[0], host, 8192, cudaMemcpyHostToDevice), cudaErrorInvalidValue); /* overruns */
    EXPECT(cudaMemcpy(buf[0], NULL, 16, cudaMemcpyDeviceToDevice), cudaErrorInvalidValue);
    /* host memory, a buffer too small, a stream of another device, a bad peer, type, op, root */
    EXPECT(ncclAllReduce(host, buf[0], 16, ncclFloat, ncclSum, comms[0], s[0]), ncclInvalidArgument);
    EXPECT(ncclAllReduce(buf[0], buf[0], 2048, ncclFloat, ncclSum, comms[0], s[0]), ncclInvalidArgument);
    EXPECT(ncclAllReduce(buf[0], buf[0], 16, ncclFloat, ncclSum, comms[0], s[1]), ncclInvalidArgument);
    EXPECT(ncclAllReduce(buf[1], buf[1], 16, ncclFloat, ncclSum, comms[0], s[0]), ncclInvalidArgument);
    EXPECT(ncclSend(buf[0], 16, ncclFloat, 4, comms[0], s[0]), ncclInvalidArgument);
    EXPECT(ncclAllReduce(buf[0], buf[0], 16, (ncclDataType_t)42, ncclSum, comms[0], s[0]), ncclInvalidArgument);
    EXPECT(ncclAllReduce(buf[0], buf[0], 16, ncclFloat, (ncclRedOp_t)9, comms[0], s[0]), ncclInvalidArgument);
    EXPECT(ncclBroadcast(buf[0], buf[0], 16, ncclFloat, -1, comms[0], s[0]), ncclInvalidArgument);
    EXPECT(ncclAllReduce(buf[0], buf[0], 16, ncclFloat, ncclSum, (ncclComm_t)host, s[0]), ncclInvalidArgument);
    EXPECT(ncclGroupEnd(), ncclInvalidUsage);
    /* Rank 3 calls another collective than ranks 0-2: refused at its call. */
    EXPECT(ncclGroupStart(), ncclSuccess);
    for (int d = 0; d < 3; d++)
        EXPECT(ncclAllReduce(buf[d], buf[d], 16, ncclFloat, ncclSum, comms[d], s[d]), ncclSuccess);
    EXPECT(ncclBroadcast(buf[3], buf[3], 16, ncclFloat, 0, comms[3], s[3]), ncclSuccess); /* held in the group */
    EXPECT(ncclGroupEnd(), ncclInvalidUsage);
    /* It then calls the right one, and all four finish. */
    EXPECT(ncclAllReduce(buf[3], buf[3], 16, ncclFloat, ncclSum, comms[3], s[3]), ncclSuccess);
    for (int d = 0; d < 4; d++)
        EXPECT(cudaStreamSynchronize(s[d]), cudaSuccess);
    /* A call that fails in a group fails the group: ncclGroupEnd returns its
     * error and drops the group's other operations (NCCL's ncclGroupErrCheck),
     * so none of the four all-reduces runs, and the next group starts clean. */
    EXPECT(ncclGroupStart(), ncclSuccess);
    for (int d = 0; d < 4; d++)
        EXPECT(ncclAllReduce(buf[d], buf[d], 16, ncclFloat, ncclSum, comms[d], s[d]), ncclSuccess);
    EXPECT(ncclReduce(buf[0], buf[0], 16, ncclFloat, ncclSum, 4, comms[0], s[0]), ncclInvalidArgument);
    EXPECT(ncclGroupEnd(), ncclInvalidArgument);
    {   /* so does a communicator begun in a group that fails */
        ncclUniqueId id;
        ncclComm_t late = NULL;
        EXPECT(ncclGetUniqueId(&id), ncclSuccess);
        EXPECT(ncclGroupStart(), ncclSuccess);
        EXPECT(ncclCommInitRank(&late, 2, id, 5), ncclInvalidArgument);
        EXPECT(ncclGroupEnd(), ncclInvalidArgument);
    }
    EXPECT(ncclGroupStart(), ncclSuccess);
    for (int d = 0; d < 4; d++)
        EXPECT(ncclBroadcast(buf[d], buf[d], 16, ncclFloat, 0, comms[d], s[d]), ncclSuccess);
    EXPECT(ncclGroupEnd(), ncclSuccess);
    for (int d = 0; d < 4; d++)
        EXPECT(cudaStreamSynchronize(s[d]), cudaSuccess);
    EXPECT(ncclCommDestroy(comms[0]), ncclSuccess);
    EXPECT(ncclAllReduce(buf[0], buf[0], 16, ncclFloat, ncclSum, comms[0], s[0]), ncclInvalidArgument);
    printf("%d unexpected result(s)\n", bad);
    return bad;
}

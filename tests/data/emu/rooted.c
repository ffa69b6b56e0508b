/* rooted.c - one rooted collective over every GPU, from one process:
 *
 *   rooted broadcast|reduce|gather|scatter ROOT COUNT [reversed]
 *
 * COUNT int8 elements per rank (a gather's or scatter's share, the others'
 * whole buffer), rooted at communicator rank ROOT. With "reversed", rank r
 * runs on device n-1-r (ncclCommInitRank in a group), else on device r. The emulator's output
 * file records its start and end; check_emulate_root.py sets that beside
 * `scalepath nccl -c NAME -r ROOT` of the same size. Prints "rooted: ok". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <nccl.h>

#define MAXDEV 64

int main(int argc, char **argv)
{
    ncclComm_t comms[MAXDEV];
    cudaStream_t s[MAXDEV];
    char *send[MAXDEV], *recv[MAXDEV];
    int n = 0, root;
    size_t count, in, out;
    const char *op;

    if (argc != 4 && !(argc == 5 && strcmp(argv[4], "reversed") == 0)) {
        printf("usage: rooted broadcast|reduce|gather|scatter ROOT COUNT [reversed]\n");
        return 2;
    }
    op = argv[1];
    root = atoi(argv[2]);
    count = strtoul(argv[3], NULL, 10);
    cudaGetDeviceCount(&n);
    if (n > MAXDEV || root < 0 || root >= n || count == 0) {
        printf("rooted: %d devices, root %d, count %zu\n", n, root, count);
        return 2;
    }
    in = strcmp(op, "scatter") == 0 ? count * (size_t)n : count;
    out = strcmp(op, "gather") == 0 ? count * (size_t)n : count;
    if (argc == 5) { /* device d is rank n-1-d: comms[d] is device d's */
        ncclUniqueId id;
        ncclGetUniqueId(&id);
        ncclGroupStart();
        for (int d = 0; d < n; d++) {
            cudaSetDevice(d);
            ncclCommInitRank(&comms[d], n, id, n - 1 - d);
        }
        if (ncclGroupEnd() != ncclSuccess)
            return 1;
    } else if (ncclCommInitAll(comms, n, NULL) != ncclSuccess) {
        return 1;
    }
    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        cudaStreamCreate(&s[d]);
        if (cudaMalloc((void **)&send[d], in) != cudaSuccess || cudaMalloc((void **)&recv[d], out) != cudaSuccess)
            return 1;
    }
    ncclGroupStart();
    for (int d = 0; d < n; d++) {
        ncclResult_t r;
        if (strcmp(op, "broadcast") == 0)
            r = ncclBroadcast(send[d], recv[d], count, ncclInt8, root, comms[d], s[d]);
        else if (strcmp(op, "reduce") == 0)
            r = ncclReduce(send[d], recv[d], count, ncclInt8, ncclSum, root, comms[d], s[d]);
        else if (strcmp(op, "gather") == 0)
            r = ncclGather(send[d], recv[d], count, ncclInt8, root, comms[d], s[d]);
        else if (strcmp(op, "scatter") == 0)
            r = ncclScatter(send[d], recv[d], count, ncclInt8, root, comms[d], s[d]);
        else {
            printf("rooted: unknown collective %s\n", op);
            return 2;
        }
        if (r != ncclSuccess) {
            printf("rooted: %s\n", ncclGetErrorString(r));
            return 1;
        }
    }
    ncclGroupEnd();
    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        cudaStreamSynchronize(s[d]);
        cudaFree(send[d]);
        cudaFree(recv[d]);
        ncclCommDestroy(comms[d]);
    }
    printf("rooted: ok\n");
    return 0;
}

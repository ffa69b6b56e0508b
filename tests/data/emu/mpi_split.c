/* mpi_split.c - one process per GPU: a world communicator from a unique id
 * broadcast over MPI, split into tensor-parallel groups (the GPUs of a
 * node) and data-parallel groups (the same GPU across nodes), each
 * all-reducing in turn. Every element must end as the sum over all ranks;
 * each rank's place in its groups is checked too. Returns the number of
 * failed checks over all processes. */
#include <stdio.h>
#include <stdlib.h>

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#define COUNT 4096

static int fails; /* per process: each process has its own copy */

static void check(int ok, const char *what, int rank)
{
    if (!ok) {
        printf("FAILED rank %d: %s\n", rank, what);
        fails++;
    }
}

int main(int argc, char **argv)
{
    int rank = 0, n = 1, per_node = 0, tn = 0, dn = 0, tr = -1, dr = -1, total = 0;
    ncclUniqueId id;
    ncclComm_t world, tp, dp;
    cudaStream_t s;
    float *buf, host[COUNT];

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    cudaGetDeviceCount(&per_node); /* one process per GPU of the node */
    if (rank == 0)
        ncclGetUniqueId(&id);
    MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
    check(cudaSetDevice(rank % per_node) == cudaSuccess, "cudaSetDevice", rank);
    check(cudaMalloc((void **)&buf, sizeof(host)) == cudaSuccess, "cudaMalloc", rank);
    check(cudaStreamCreate(&s) == cudaSuccess, "cudaStreamCreate", rank);
    for (int i = 0; i < COUNT; i++)
        host[i] = (float)(rank + 1);
    cudaMemcpy(buf, host, sizeof(host), cudaMemcpyHostToDevice);
    check(ncclCommInitRank(&world, n, id, rank) == ncclSuccess, "ncclCommInitRank", rank);
    check(ncclCommSplit(world, rank / per_node, rank, &tp, NULL) == ncclSuccess, "split tp", rank);
    check(ncclCommSplit(world, rank % per_node, rank, &dp, NULL) == ncclSuccess, "split dp", rank);
    ncclCommCount(tp, &tn);
    ncclCommCount(dp, &dn);
    ncclCommUserRank(tp, &tr);
    ncclCommUserRank(dp, &dr);
    check(tn == per_node && tr == rank % per_node, "tensor-parallel rank", rank);
    check(dn == n / per_node && dr == rank / per_node, "data-parallel rank", rank);
    ncclAllReduce(buf, buf, COUNT, ncclFloat, ncclSum, tp, s);
    ncclAllReduce(buf, buf, COUNT, ncclFloat, ncclSum, dp, s);
    cudaStreamSynchronize(s);
    cudaMemcpy(host, buf, sizeof(host), cudaMemcpyDeviceToHost);
    for (int i = 0; i < COUNT; i++)
        if (host[i] != (float)n * (float)(n + 1) / 2.0f) {
            check(0, "the sum after both all-reduces", rank);
            break;
        }
    MPI_Allreduce(&fails, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s: %d failed check(s) over %d processes\n", total ? "FAILED" : "PASSED", total, n);
    ncclCommDestroy(tp);
    ncclCommDestroy(dp);
    ncclCommDestroy(world);
    MPI_Finalize();
    return total != 0;
}

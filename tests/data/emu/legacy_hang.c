/* legacy_hang.c - a hang through the legacy default stream: rank 0 queues an
 * all-reduce rank 1 never joins on a blocking stream, then a memset on the
 * NULL stream, which must wait for it; the report names that implicit wait. */
#include <cuda_runtime.h>
#include <nccl.h>
#include <mpi.h>
int main(int argc, char **argv) {
    int rank, size; ncclUniqueId id; ncclComm_t comm; cudaStream_t s; float *a;
    MPI_Init(&argc, &argv); MPI_Comm_rank(MPI_COMM_WORLD, &rank); MPI_Comm_size(MPI_COMM_WORLD, &size);
    cudaSetDevice(rank);
    if (rank == 0) ncclGetUniqueId(&id);
    MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD);
    ncclCommInitRank(&comm, size, id, rank);
    cudaStreamCreate(&s);
    cudaMalloc((void **)&a, 4096);
    if (rank == 0) ncclAllReduce(a, a, 16, ncclFloat, ncclSum, comm, s); /* rank 1 never joins */
    cudaMemsetAsync(a, 0, 64, NULL);
    cudaStreamSynchronize(NULL);
    MPI_Finalize();
    return 0;
}

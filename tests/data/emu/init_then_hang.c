/* init_then_hang.c - two processes join one communicator; then only the
 * second (the last to join, whose ncclCommInitRank returned at once) calls
 * an all-reduce and synchronizes, while the first goes on to MPI_Finalize.
 * Run with --ppn 2: the run must end with status 4 saying that the second
 * waits for work that cannot finish (not for ncclCommInitRank). */
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

int main(int argc, char **argv)
{
    int rank = 0, size = 1;
    ncclUniqueId id;
    ncclComm_t comm;
    cudaStream_t s;
    float *buf;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank == 0)
        ncclGetUniqueId(&id);
    MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
    cudaSetDevice(rank);
    cudaMalloc((void **)&buf, 1024);
    cudaStreamCreate(&s);
    ncclCommInitRank(&comm, size, id, rank);
    if (rank == size - 1) {
        ncclAllReduce(buf, buf, 256, ncclFloat, ncclSum, comm, s);
        cudaDeviceSynchronize();
    }
    MPI_Finalize();
    return 0;
}

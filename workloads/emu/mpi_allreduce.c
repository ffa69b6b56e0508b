/* mpi_allreduce.c - one process per GPU, started by MPI, as multi-node NCCL
 * programs are: each process finds its GPU on its node (its local rank,
 * from the host names of all processes), rank 0 makes the NCCL unique id
 * and broadcasts it, every process joins the communicator and all-reduces
 * its own buffer. Uses MPI's, NCCL's and CUDA's own APIs only.
 *
 *   scalepath emulate -p platforms/dgx-h100.cfg -n 2 --ppn 8 workloads/emu/mpi_allreduce.c [BYTES]
 *
 * Prints, from rank 0, the time of one all-reduce (the slowest process's)
 * and the number of wrong elements over all processes; returns non-zero if
 * any was wrong.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#define CHECK(x, what)                                                                             \
    do {                                                                                           \
        if ((int)(x) != 0) {                                                                       \
            printf("rank %d: %s failed at %s:%d\n", rank, what, __FILE__, __LINE__);               \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                          \
        }                                                                                          \
    } while (0)

/* FNV-1a of the host name: processes on one node share it. */
static uint64_t host_hash(void)
{
    char name[256] = "";
    uint64_t h = 1469598103934665603ull;
    gethostname(name, sizeof(name) - 1);
    for (const char *p = name; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

int main(int argc, char **argv)
{
    int rank = 0, nranks = 1, local = 0, wrong = 0, all_wrong = 0;
    size_t bytes = argc > 1 ? strtoull(argv[1], NULL, 10) : (32u << 20), count;
    uint64_t *hashes;
    ncclUniqueId id;
    ncclComm_t comm;
    cudaStream_t stream;
    cudaEvent_t t0, t1;
    float *buf, *host, ms = 0.0f, slowest = 0.0f;

    CHECK(MPI_Init(&argc, &argv), "MPI_Init");
    CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
    CHECK(MPI_Comm_size(MPI_COMM_WORLD, &nranks), "MPI_Comm_size");
    count = bytes / sizeof(float);
    /* The local rank: processes before this one with the same host name. */
    hashes = calloc((size_t)nranks, sizeof(*hashes));
    hashes[rank] = host_hash();
    CHECK(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, hashes, sizeof(uint64_t), MPI_BYTE, MPI_COMM_WORLD),
          "MPI_Allgather");
    for (int p = 0; p < rank; p++)
        local += hashes[p] == hashes[rank];
    free(hashes);

    if (rank == 0)
        CHECK(ncclGetUniqueId(&id), "ncclGetUniqueId");
    CHECK(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
    CHECK(cudaSetDevice(local), "cudaSetDevice");
    CHECK(cudaMalloc((void **)&buf, count * sizeof(float)), "cudaMalloc");
    CHECK(cudaStreamCreate(&stream), "cudaStreamCreate");
    CHECK(cudaEventCreate(&t0), "cudaEventCreate");
    CHECK(cudaEventCreate(&t1), "cudaEventCreate");
    host = malloc(count * sizeof(float));
    for (size_t i = 0; i < count; i++)
        host[i] = (float)(rank + 1);
    CHECK(cudaMemcpy(buf, host, count * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
    CHECK(ncclCommInitRank(&comm, nranks, id, rank), "ncclCommInitRank");

    CHECK(cudaEventRecord(t0, stream), "cudaEventRecord");
    CHECK(ncclAllReduce(buf, buf, count, ncclFloat, ncclSum, comm, stream), "ncclAllReduce");
    CHECK(cudaEventRecord(t1, stream), "cudaEventRecord");
    CHECK(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    CHECK(cudaEventElapsedTime(&ms, t0, t1), "cudaEventElapsedTime");

    CHECK(cudaMemcpy(host, buf, count * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy");
    for (size_t i = 0; i < count; i++)
        wrong += host[i] != (float)nranks * (float)(nranks + 1) / 2.0f;
    CHECK(MPI_Allreduce(&wrong, &all_wrong, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    CHECK(MPI_Allreduce(&ms, &slowest, 1, MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
    if (rank == 0)
        printf("%d processes: all-reduce of %zu bytes in %.2f us (busbw %.2f GB/s); %d wrong\n", nranks, bytes,
               slowest * 1e3, bytes / (slowest * 1e-3) * 2.0 * (nranks - 1) / nranks / 1e9, all_wrong);

    free(host);
    CHECK(cudaFree(buf), "cudaFree");
    CHECK(ncclCommDestroy(comm), "ncclCommDestroy");
    CHECK(MPI_Finalize(), "MPI_Finalize");
    return all_wrong != 0;
}

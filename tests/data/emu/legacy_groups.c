/* legacy_groups.c - the legacy default stream beside NCCL groups and
 * synchronous copies, one process per GPU (--ppn 2):
 *   1. a send on a stream of its own and a receive on the NULL stream, in
 *      one group: NCCL launches them together, so neither waits for the
 *      other (it would deadlock);
 *   2. all-reduces on two communicators in one group, one on the NULL
 *      stream, called in opposite orders by the two ranks: they run
 *      together;
 *   3. a synchronous cudaMemcpy does not wait for a non-blocking stream's
 *      all-reduce (whose peer joins only after an MPI barrier);
 *   4. polling a blocking stream held behind the NULL stream's 0.5 s kernel
 *      takes a bounded number of queries;
 *   5. a group on two blocking streams joins them (NCCL, "Mixing Multiple
 *      Streams within the same group"): its operations wait for both
 *      streams' earlier work, and both streams' later work waits for all of
 *      its operations.
 * Prints "PASSED: 0 failed check(s)" from rank 0. */
#include <stdio.h>

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>
#include <scalepath_emu.h>

#include "check.h"

int main(int argc, char **argv)
{
    int rank = -1, size = 0, total = 0;
    ncclUniqueId id[2];
    ncclComm_t a, b;
    cudaStream_t s, nb;
    float *x, *y, host[256];
    double t0;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    cudaSetDevice(rank);
    if (rank == 0) {
        ncclGetUniqueId(&id[0]);
        ncclGetUniqueId(&id[1]);
    }
    MPI_Bcast(id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
    ncclCommInitRank(&a, size, id[0], rank);
    ncclCommInitRank(&b, size, id[1], rank);
    cudaStreamCreate(&s);
    cudaStreamCreateWithFlags(&nb, cudaStreamNonBlocking);
    cudaMalloc((void **)&x, 1 << 20);
    cudaMalloc((void **)&y, 1 << 20);

    /* 1 */
    ncclGroupStart();
    ncclSend(x, 1024, ncclFloat, rank ^ 1, a, s);
    ncclRecv(y, 1024, ncclFloat, rank ^ 1, a, NULL);
    ncclGroupEnd();
    cudaDeviceSynchronize();

    /* 2: at once, so no longer than one all-reduce after the other would take */
    t0 = MPI_Wtime();
    ncclGroupStart();
    if (rank == 0) {
        ncclAllReduce(x, x, 1 << 18, ncclFloat, ncclSum, a, s);
        ncclAllReduce(y, y, 1 << 18, ncclFloat, ncclSum, b, NULL);
    } else {
        ncclAllReduce(y, y, 1 << 18, ncclFloat, ncclSum, b, NULL);
        ncclAllReduce(x, x, 1 << 18, ncclFloat, ncclSum, a, s);
    }
    ncclGroupEnd();
    cudaDeviceSynchronize();
    {
        double both = MPI_Wtime() - t0, one;
        t0 = MPI_Wtime();
        ncclAllReduce(x, x, 1 << 18, ncclFloat, ncclSum, a, s);
        cudaDeviceSynchronize();
        one = MPI_Wtime() - t0;
        CHECK(both < 1.9 * one, "two all-reduces of one group took %.3f us, one alone %.3f us: run one after the other",
              both * 1e6, one * 1e6);
    }

    /* 3 */
    for (int i = 0; i < 256; i++)
        host[i] = 1.0f;
    if (rank == 0) {
        ncclAllReduce(x, x, 1024, ncclFloat, ncclSum, a, nb);
        cudaMemcpy(y, host, sizeof(host), cudaMemcpyHostToDevice);
        MPI_Barrier(MPI_COMM_WORLD);
    } else {
        MPI_Barrier(MPI_COMM_WORLD);
        ncclAllReduce(x, x, 1024, ncclFloat, ncclSum, a, nb);
    }
    cudaStreamSynchronize(nb);

    /* 4 */
    {
        long polls = 0;
        cudaDeviceSynchronize();
        t0 = spEmuNow();
        spEmuKernel(NULL, 0.5);
        spEmuKernel(s, 1e-3);
        while (cudaStreamQuery(s) != cudaSuccess)
            polls++;
        CHECK(spEmuNow() - t0 >= 0.501 - 1e-9, "the blocking stream ran beside the NULL stream's kernel");
        CHECK(polls < 10000, "%ld queries to poll a stream held behind the NULL stream", polls);
    }

    /* 5 */
    {
        cudaStream_t s2;
        float *h, out = 0.0f;
        const int n = 1 << 18; /* x holds 1 MiB */
        cudaStreamCreate(&s2);
        cudaMallocHost((void **)&h, (size_t)n * sizeof(float));
        for (int i = 0; i < n; i++)
            h[i] = 1.0f;
        cudaMemcpy(x, h, (size_t)n * sizeof(float), cudaMemcpyHostToDevice);
        cudaDeviceSynchronize();
        t0 = spEmuNow();
        spEmuKernel(s, 10e-3); /* s is busy before the group */
        ncclGroupStart();
        ncclAllReduce(x, x, n, ncclFloat, ncclSum, a, s);
        ncclAllReduce(y, y, 1, ncclFloat, ncclSum, b, s2);
        ncclGroupEnd();
        cudaMemcpyAsync(&out, x, sizeof(float), cudaMemcpyDeviceToHost, s2); /* after the group, on s2 */
        cudaStreamSynchronize(s2);
        CHECK(out == (float)size, "x read on the second stream after the group: %g, want %d", out, size);
        CHECK(spEmuNow() - t0 >= 10e-3, "the group's operation on the second stream did not wait for the first's work");
        cudaFreeHost(h);
        cudaStreamDestroy(s2);
    }

    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s: %d failed check(s)\n", total ? "FAILED" : "PASSED", total);
    ncclCommDestroy(a);
    ncclCommDestroy(b);
    MPI_Finalize();
    return total != 0;
}

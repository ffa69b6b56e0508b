/* mpi_any.c - MPI_Waitany and MPI_Testany, run with --ppn: rank 0 posts a
 * receive from every other rank; rank r first keeps its GPU busy for
 * (size - r) ms of simulated time, then sends, so the messages arrive in
 * the reverse order of rank. MPI_Waitany must hand them back in that
 * order, each at its arrival; then the same with an MPI_Testany polling
 * loop; then the cases of no active request. Prints "PASSED: 0 failed
 * check(s) over N processes". With the argument "hang", rank 0 waits in
 * MPI_Waitany for a message nobody sends. */
#include <stdio.h>
#include <string.h>

#include <cuda_runtime.h>
#include <mpi.h>
#include <scalepath_emu.h>

#include "check.h"

#define MAXP 64

/* Rank r > 0: busy for (size - r) ms on its GPU, then sends r with tag t. */
static void late_send(int rank, int size, int tag)
{
    cudaStream_t s;
    cudaStreamCreate(&s);
    spEmuKernel(s, 1e-3 * (size - rank));
    cudaStreamSynchronize(s);
    cudaStreamDestroy(s);
    MPI_Send(&rank, 1, MPI_INT, 0, tag, MPI_COMM_WORLD);
}

int main(int argc, char **argv)
{
    int rank = -1, size = 0, local = 0, ndev = 0;
    int got[MAXP];
    MPI_Request req[MAXP];
    MPI_Comm node;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local);
    cudaGetDeviceCount(&ndev);
    cudaSetDevice(local % ndev);
    if (size > MAXP)
        return 2;
    if (argc > 1 && strcmp(argv[1], "hang") == 0) {
        if (rank == 0) {
            int index = -1;
            MPI_Irecv(&got[0], 1, MPI_INT, size - 1, 9, MPI_COMM_WORLD, &req[0]);
            MPI_Waitany(1, req, &index, MPI_STATUS_IGNORE);
        }
        MPI_Finalize();
        return 0;
    }
    for (int round = 0; round < 2; round++) { /* 0: MPI_Waitany; 1: an MPI_Testany loop */
        double t0;
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        if (rank > 0) {
            late_send(rank, size, round);
        } else {
            for (int r = 1; r < size; r++)
                MPI_Irecv(&got[r], 1, MPI_INT, r, round, MPI_COMM_WORLD, &req[r - 1]);
            for (int k = 1; k < size; k++) {
                int index = -1, flag = 0;
                MPI_Status st;
                if (round == 0)
                    MPI_Waitany(size - 1, req, &index, &st);
                else
                    while (!flag)
                        MPI_Testany(size - 1, req, &index, &flag, &st);
                /* The k-th to arrive is rank size - k, after k ms (its kernel). */
                CHECK(index == size - k - 1, "round %d: completion %d is request %d, want %d", round, k, index,
                      size - k - 1);
                CHECK(st.MPI_SOURCE == size - k && got[size - k] == size - k,
                      "round %d: completion %d from %d (data %d), want %d", round, k, st.MPI_SOURCE,
                      index >= 0 ? got[index + 1] : -1, size - k);
                CHECK(req[size - k - 1] == MPI_REQUEST_NULL, "round %d: the completed request is not freed", round);
                CHECK(MPI_Wtime() - t0 >= 1e-3 * k - 1e-12 && MPI_Wtime() - t0 <= 1e-3 * k + 1e-4,
                      "round %d: completion %d at %.6f s, want %.6f s", round, k, MPI_Wtime() - t0, 1e-3 * k);
            }
        }
    }
    if (rank == 0) { /* no active request: MPI_UNDEFINED at once; Testany says true */
        int index = 0, flag = 0;
        MPI_Status st;
        for (int i = 0; i < 3; i++)
            req[i] = MPI_REQUEST_NULL;
        CHECK(MPI_Waitany(3, req, &index, &st) == MPI_SUCCESS && index == MPI_UNDEFINED &&
                  st.MPI_SOURCE == MPI_ANY_SOURCE, "MPI_Waitany of no active request: index %d", index);
        CHECK(MPI_Testany(3, req, &index, &flag, &st) == MPI_SUCCESS && flag == 1 && index == MPI_UNDEFINED,
              "MPI_Testany of no active request: flag %d, index %d", flag, index);
        CHECK(MPI_Waitany(0, NULL, &index, MPI_STATUS_IGNORE) == MPI_SUCCESS && index == MPI_UNDEFINED,
              "MPI_Waitany of none: index %d", index);
        CHECK(MPI_Waitany(1, req, NULL, MPI_STATUS_IGNORE) == MPI_ERR_ARG, "MPI_Waitany without an index");
    }
    {
        int total = 0;
        MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        if (rank == 0)
            printf("%s: %d failed check(s) over %d processes\n", total ? "FAILED" : "PASSED", total, size);
        failures = total;
    }
    MPI_Comm_free(&node);
    MPI_Finalize();
    return failures != 0;
}

/* mpi_groups.c - MPI groups, run with --ppn: the world's group; the even
 * ranks (MPI_Group_incl) in reverse order and the odd ones
 * (MPI_Group_excl); ranks translated between groups; MPI_Comm_create
 * over the world with the reversed even group, whose members get a
 * communicator in the group's order and whose others MPI_COMM_NULL; an
 * MPI_Allreduce and an NCCL all-reduce on it; disjoint groups passed by
 * different processes; bad arguments; groups freed. Prints "PASSED: 0 failed check(s) over N processes". With
 * the argument "mismatch", processes pass different groups. */
#include <stdio.h>
#include <string.h>

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include "check.h"

#define MAXP 64

int main(int argc, char **argv)
{
    int rank = -1, size = 0, n = 0, r = -2, ne = 0, ranks[MAXP], out[MAXP], local = 0, ndev = 0;
    MPI_Group world, even, odd, back;
    MPI_Comm comm = MPI_COMM_NULL, node;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size > MAXP || size < 2)
        return 2;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local);
    cudaGetDeviceCount(&ndev);
    cudaSetDevice(local % ndev);

    CHECK(MPI_Comm_group(MPI_COMM_WORLD, &world) == MPI_SUCCESS, "MPI_Comm_group");
    MPI_Group_size(world, &n);
    MPI_Group_rank(world, &r);
    CHECK(n == size && r == rank, "world group: size %d rank %d, want %d %d", n, r, size, rank);
    for (int i = 0; i < (size + 1) / 2; i++) /* even ranks, the highest first */
        ranks[i] = 2 * ((size + 1) / 2 - 1 - i);
    ne = (size + 1) / 2;
    if (argc > 1 && strcmp(argv[1], "mismatch") == 0 && rank == 0)
        ranks[0] = 1; /* process 0 lists rank 1 where the others list the highest even rank */
    CHECK(MPI_Group_incl(world, ne, ranks, &even) == MPI_SUCCESS, "MPI_Group_incl");
    for (int i = 0; i < ne; i++)
        ranks[i] = 2 * i;
    CHECK(MPI_Group_excl(world, ne, ranks, &odd) == MPI_SUCCESS, "MPI_Group_excl");
    MPI_Group_size(odd, &n);
    MPI_Group_rank(odd, &r);
    CHECK(n == size / 2 && r == (rank % 2 ? rank / 2 : MPI_UNDEFINED), "odd group: size %d rank %d", n, r);
    MPI_Group_rank(even, &r);
    CHECK(r == (rank % 2 ? MPI_UNDEFINED : ne - 1 - rank / 2), "even group: rank %d", r);
    for (int i = 0; i < size; i++)
        ranks[i] = i;
    ranks[0] = MPI_PROC_NULL;
    MPI_Group_translate_ranks(world, size, ranks, even, out);
    for (int i = 1; i < size; i++)
        CHECK(out[i] == (i % 2 ? MPI_UNDEFINED : ne - 1 - i / 2), "translate %d: %d", i, out[i]);
    CHECK(out[0] == MPI_PROC_NULL, "translate MPI_PROC_NULL: %d", out[0]);

    CHECK(MPI_Comm_create(MPI_COMM_WORLD, even, &comm) == MPI_SUCCESS || (argc > 1), "MPI_Comm_create");
    if (rank % 2 == 0 && comm != MPI_COMM_NULL) {
        int crank = -1, csize = 0, sum = 0, want = 0;
        ncclUniqueId id;
        ncclComm_t nc;
        float *buf, host = 0.0f;
        cudaStream_t s;
        MPI_Comm_rank(comm, &crank);
        MPI_Comm_size(comm, &csize);
        CHECK(csize == ne && crank == ne - 1 - rank / 2, "new communicator: rank %d of %d", crank, csize);
        MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, comm);
        for (int i = 0; i < size; i += 2)
            want += i;
        CHECK(sum == want, "MPI_Allreduce on it: %d, want %d", sum, want);
        if (crank == 0)
            ncclGetUniqueId(&id);
        MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, comm);
        ncclCommInitRank(&nc, csize, id, crank);
        cudaMalloc((void **)&buf, sizeof(float));
        host = (float)rank;
        cudaMemcpy(buf, &host, sizeof(float), cudaMemcpyHostToDevice);
        cudaStreamCreate(&s);
        ncclAllReduce(buf, buf, 1, ncclFloat, ncclSum, nc, s);
        cudaStreamSynchronize(s);
        cudaMemcpy(&host, buf, sizeof(float), cudaMemcpyDeviceToHost);
        CHECK(host == (float)want, "ncclAllReduce on it: %g, want %d", host, want);
        ncclCommDestroy(nc);
        cudaFree(buf);
        MPI_Comm_free(&comm);
    } else if (argc == 1) {
        CHECK(comm == MPI_COMM_NULL, "an odd rank got a communicator");
    }
    if (rank == 0) { /* bad arguments */
        int bad[2] = {0, 0};
        MPI_Group g = MPI_GROUP_NULL;
        CHECK(MPI_Group_incl(world, 2, bad, &g) == MPI_ERR_RANK, "a rank listed twice");
        bad[1] = size;
        CHECK(MPI_Group_incl(world, 2, bad, &g) == MPI_ERR_RANK, "a rank out of range");
        CHECK(MPI_Group_size(MPI_GROUP_NULL, &n) == MPI_ERR_GROUP, "MPI_GROUP_NULL");
        CHECK(MPI_Group_incl(world, 0, bad, &g) == MPI_SUCCESS && g == MPI_GROUP_EMPTY, "an empty group");
        MPI_Group_size(g, &n);
        CHECK(n == 0, "MPI_GROUP_EMPTY's size %d", n);
        bad[0] = size;
        CHECK(MPI_Group_translate_ranks(world, 1, bad, world, out) == MPI_ERR_RANK, "translating a rank out of range");
        {
            MPI_Comm none = MPI_COMM_NULL;
            CHECK(MPI_Comm_create(MPI_COMM_SELF, world, &none) == MPI_ERR_GROUP && none == MPI_COMM_NULL,
                  "MPI_Comm_create with processes outside the communicator");
        }
    }
    if (argc == 1) { /* disjoint groups (MPI-3.1 6.4.2): the evens pass theirs, the odds theirs */
        MPI_Comm mine = MPI_COMM_NULL;
        int crank = -1, csize = 0;
        CHECK(MPI_Comm_create(MPI_COMM_WORLD, rank % 2 ? odd : even, &mine) == MPI_SUCCESS && mine != MPI_COMM_NULL,
              "MPI_Comm_create with disjoint groups");
        if (mine != MPI_COMM_NULL) {
            MPI_Comm_rank(mine, &crank);
            MPI_Comm_size(mine, &csize);
            CHECK(csize == (rank % 2 ? size / 2 : ne) && crank == (rank % 2 ? rank / 2 : ne - 1 - rank / 2),
                  "disjoint groups: rank %d of %d", crank, csize);
            MPI_Comm_free(&mine);
        }
    }
    MPI_Group_incl(world, 1, ranks + 1, &back); /* left for the emulator to free */
    MPI_Group_free(&even);
    MPI_Group_free(&odd);
    CHECK(even == MPI_GROUP_NULL, "a freed group's handle");
    CHECK(MPI_Group_size(odd, &n) == MPI_ERR_GROUP, "a freed group");
    MPI_Group_free(&world);
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

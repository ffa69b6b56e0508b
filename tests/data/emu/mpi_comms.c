/* mpi_comms.c - MPI communicators other than the world, as NCCL programs
 * use them: the processes of a node by MPI_Comm_split_type (the local rank
 * that picks the GPU), data-parallel groups by MPI_Comm_split, a reversed
 * order by key, MPI_UNDEFINED, MPI_Comm_dup (whose messages never match
 * the original's), MPI_COMM_SELF, MPI_Reduce, MPI_Gather and MPI_Scatter on
 * a group with a root other than 0, an NCCL communicator per node and one
 * per group from ids broadcast on them, and MPI_Comm_free. Prints "PASSED:
 * 0 failed check(s) over N processes". With "hang", process 1 skips a
 * barrier of its node; with "recv_hang", the last rank of the reversed
 * communicator waits for a message nobody sends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAILED (process %d): ", world_rank);                                           \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static int world_rank;

/* An all-reduce of each rank's (rank + 1) over an NCCL communicator made
 * from an id that the communicator's rank 0 broadcasts on comm. Returns
 * the number of wrong elements. */
static int nccl_sum(MPI_Comm comm, int dev)
{
    enum { N = 1024 };
    int rank, size, wrong = 0;
    ncclUniqueId id;
    ncclComm_t nc;
    float *buf, host[N];

    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (rank == 0)
        ncclGetUniqueId(&id);
    MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, comm);
    cudaSetDevice(dev);
    if (ncclCommInitRank(&nc, size, id, rank) != ncclSuccess)
        return N;
    for (int i = 0; i < N; i++)
        host[i] = (float)(rank + 1);
    cudaMalloc((void **)&buf, sizeof(host));
    cudaMemcpy(buf, host, sizeof(host), cudaMemcpyHostToDevice);
    ncclAllReduce(buf, buf, N, ncclFloat, ncclSum, nc, NULL);
    cudaMemcpy(host, buf, sizeof(host), cudaMemcpyDeviceToHost);
    for (int i = 0; i < N; i++)
        wrong += host[i] != (float)(size * (size + 1) / 2);
    cudaFree(buf);
    ncclCommDestroy(nc);
    return wrong;
}

int main(int argc, char **argv)
{
    int size, lr = -1, ls = -1, dr = -1, ds = -1, rr = -1, rs = -1, v, got, total = 0;
    const char *env_lr, *env_ls;
    MPI_Comm local, dp, rev, even, dup, copy;
    MPI_Status st;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    /* The processes of this node: the local rank a launcher would give. */
    CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &local) ==
              MPI_SUCCESS, "split_type");
    MPI_Comm_rank(local, &lr);
    MPI_Comm_size(local, &ls);
    env_lr = getenv("OMPI_COMM_WORLD_LOCAL_RANK"); /* set under --ppn only, as by a launcher */
    env_ls = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    CHECK(env_lr == NULL ? lr == 0 : lr == atoi(env_lr), "local rank %d, the launcher's %s", lr, env_lr ? env_lr : "none");
    CHECK(env_ls == NULL ? ls == 1 : ls == atoi(env_ls), "local size %d", ls);
    if (argc > 1 && strcmp(argv[1], "hang") == 0) {
        if (world_rank != 1)
            MPI_Barrier(local);
        MPI_Finalize();
        return 0;
    }

    /* The same GPU across nodes: a data-parallel group, ranked by node. */
    MPI_Comm_split(MPI_COMM_WORLD, lr, world_rank, &dp);
    MPI_Comm_rank(dp, &dr);
    MPI_Comm_size(dp, &ds);
    CHECK(ds == size / ls && dr == world_rank / ls, "data-parallel rank %d of %d", dr, ds);

    /* Keys order the ranks: the world reversed. */
    MPI_Comm_split(MPI_COMM_WORLD, 7, -world_rank, &rev);
    MPI_Comm_rank(rev, &rr);
    MPI_Comm_size(rev, &rs);
    CHECK(rs == size && rr == size - 1 - world_rank, "reversed rank %d of %d", rr, rs);
    if (argc > 1 && strcmp(argv[1], "recv_hang") == 0) {
        if (rr == rs - 1)
            MPI_Recv(&v, 1, MPI_INT, 0, 9, rev, MPI_STATUS_IGNORE);
        MPI_Finalize();
        return 0;
    }

    /* A ring on it, from any source: the status names the rank in rev. */
    v = 1000 + rr;
    MPI_Send(&v, 1, MPI_INT, (rr + 1) % rs, 3, rev);
    got = -1;
    MPI_Recv(&got, 1, MPI_INT, MPI_ANY_SOURCE, 3, rev, &st);
    CHECK(got == 1000 + (rr + rs - 1) % rs && st.MPI_SOURCE == (rr + rs - 1) % rs,
          "ring on rev: got %d from rank %d", got, st.MPI_SOURCE);
    CHECK(MPI_Send(&v, 1, MPI_INT, rs, 3, rev) == MPI_ERR_RANK, "a destination beyond the communicator");

    /* MPI_UNDEFINED: no communicator for the odd ranks. */
    MPI_Comm_split(MPI_COMM_WORLD, world_rank % 2 == 0 ? 0 : MPI_UNDEFINED, 0, &even);
    if (world_rank % 2 != 0)
        CHECK(even == MPI_COMM_NULL, "an odd rank got a communicator");
    else {
        int es = -1;
        MPI_Comm_size(even, &es);
        CHECK(es == (size + 1) / 2, "even size %d", es);
        MPI_Comm_free(&even);
    }

    /* A duplicate: same ranks, its own messages. Both carry tag 5 to the
     * next local rank; the duplicate's is received first. */
    MPI_Comm_dup(local, &dup);
    v = -1;
    MPI_Comm_rank(dup, &v);
    CHECK(v == lr, "dup rank %d, local %d", v, lr);
    v = 100 + lr;
    MPI_Send(&v, 1, MPI_INT, (lr + 1) % ls, 5, local);
    v = 200 + lr;
    MPI_Send(&v, 1, MPI_INT, (lr + 1) % ls, 5, dup);
    got = -1;
    MPI_Recv(&got, 1, MPI_INT, (lr + ls - 1) % ls, 5, dup, MPI_STATUS_IGNORE);
    CHECK(got == 200 + (lr + ls - 1) % ls, "the duplicate's message: %d", got);
    MPI_Recv(&got, 1, MPI_INT, (lr + ls - 1) % ls, 5, local, MPI_STATUS_IGNORE);
    CHECK(got == 100 + (lr + ls - 1) % ls, "the original's message: %d", got);

    /* MPI_COMM_SELF: one rank. */
    v = -1;
    MPI_Comm_size(MPI_COMM_SELF, &v);
    CHECK(v == 1, "MPI_COMM_SELF's size %d", v);
    v = world_rank + 5;
    got = 0;
    MPI_Allreduce(&v, &got, 1, MPI_INT, MPI_SUM, MPI_COMM_SELF);
    CHECK(got == world_rank + 5, "an all-reduce over MPI_COMM_SELF: %d", got);

    /* Reduce, gather and scatter on the data-parallel group, rooted at its last rank. */
    {
        int root = ds - 1, mine[2] = {dr, 10 * dr}, all[2 * 64], part[2] = {-1, -1}, sum[2] = {0, 0};
        for (int i = 0; i < 2 * 64; i++)
            all[i] = dr == root ? 7 * i : -1;
        MPI_Reduce(mine, dr == root ? sum : NULL, 2, MPI_INT, MPI_SUM, root, dp);
        if (dr == root)
            CHECK(sum[0] == ds * (ds - 1) / 2 && sum[1] == 10 * (ds * (ds - 1) / 2), "reduce: %d %d", sum[0], sum[1]);
        MPI_Scatter(all, 2, MPI_INT, part, 2, MPI_INT, root, dp);
        CHECK(part[0] == 14 * dr && part[1] == 14 * dr + 7, "scatter: %d %d", part[0], part[1]);
        MPI_Gather(mine, 2, MPI_INT, all, 2, MPI_INT, root, dp);
        if (dr == root)
            for (int r = 0; r < ds; r++)
                CHECK(all[2 * r] == r && all[2 * r + 1] == 10 * r, "gather: rank %d's %d %d", r, all[2 * r],
                      all[2 * r + 1]);
        /* In place at the root: its own block stays where it is. */
        if (dr == root) {
            all[2 * root] = -5;
            MPI_Gather(MPI_IN_PLACE, 0, MPI_INT, all, 2, MPI_INT, root, dp);
            CHECK(all[2 * root] == -5 && (ds == 1 || all[0] == 0), "gather in place");
        } else
            MPI_Gather(mine, 2, MPI_INT, NULL, 0, MPI_INT, root, dp);
    }

    /* NCCL communicators per node and per data-parallel group. */
    v = nccl_sum(local, lr);
    CHECK(v == 0, "%d wrong element(s) over the node's NCCL communicator", v);
    v = nccl_sum(dp, lr);
    CHECK(v == 0, "%d wrong element(s) over the data-parallel NCCL communicator", v);

    /* Freed: the handle is MPI_COMM_NULL, and a copy of it is refused. */
    copy = dup;
    CHECK(MPI_Comm_free(&dup) == MPI_SUCCESS && dup == MPI_COMM_NULL, "free");
    CHECK(MPI_Barrier(copy) == MPI_ERR_COMM, "a freed communicator");
    CHECK(MPI_Barrier(MPI_COMM_NULL) == MPI_ERR_COMM, "MPI_COMM_NULL");
    copy = MPI_COMM_WORLD;
    CHECK(MPI_Comm_free(&copy) == MPI_ERR_COMM, "freeing the world");
    CHECK(MPI_Comm_split(MPI_COMM_WORLD, -3, 0, &copy) == MPI_ERR_ARG, "a negative color");
    CHECK(MPI_Bcast(&v, 1, MPI_INT, ds, dp) == MPI_ERR_ROOT, "a root beyond the communicator");
    MPI_Comm_free(&local);
    MPI_Comm_free(&dp);
    MPI_Comm_free(&rev);

    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (world_rank == 0)
        printf("PASSED: %d failed check(s) over %d processes\n", total, size);
    MPI_Finalize();
    return total != 0;
}

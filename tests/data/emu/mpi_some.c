/* mpi_some.c - MPI_Waitsome and MPI_Testsome, and MPI's group set
 * operations, run with --ppn (4 processes or more). Rank 0 posts a receive
 * from every other rank; rank r keeps its GPU busy for (size - r) ms, then
 * sends, so messages arrive in the reverse order of rank, each 1 ms apart.
 * MPI_Waitsome returns each as it arrives; an MPI_Testsome loop does too.
 * Then unions, intersections, differences, ranges and comparisons, with
 * their errors; MPI_Comm_create_group, called by the group alone. Prints
 * "PASSED: 0 failed check(s) over N processes". With the argument "hang",
 * rank 0 waits in MPI_Waitsome for a message nobody sends; with "cghang",
 * ranks 0 and 1 wait in MPI_Comm_create_group for rank 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <mpi.h>
#include <scalepath_emu.h>

#include "check.h"

#define MAXP 64

static void late_send(int rank, int size)
{
    cudaStream_t s;
    cudaStreamCreate(&s);
    spEmuKernel(s, 1e-3 * (size - rank));
    cudaStreamSynchronize(s);
    cudaStreamDestroy(s);
    MPI_Send(&rank, 1, MPI_INT, 0, 5, MPI_COMM_WORLD);
}

static void check_some(int rank, int size)
{
    int got[MAXP], indices[MAXP];
    MPI_Request req[MAXP];
    MPI_Status st[MAXP];

    for (int round = 0; round < 2; round++) { /* 0: MPI_Waitsome; 1: an MPI_Testsome loop */
        double t0;
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        if (rank > 0) {
            late_send(rank, size);
            continue;
        }
        for (int r = 1; r < size; r++)
            MPI_Irecv(&got[r], 1, MPI_INT, r, 5, MPI_COMM_WORLD, &req[r - 1]);
        for (int left = size - 1, expect = size - 1; left > 0;) {
            int n = -1;
            if (round == 0) {
                MPI_Waitsome(size - 1, req, &n, indices, st);
            } else {
                MPI_Testsome(size - 1, req, &n, indices, st);
                if (n == 0)
                    continue;
            }
            CHECK(n == 1, "%s returned %d requests at once, not 1", round ? "MPI_Testsome" : "MPI_Waitsome", n);
            for (int i = 0; i < n; i++, expect--, left--) {
                double at = MPI_Wtime() - t0;
                CHECK(indices[i] == expect - 1 && st[i].MPI_SOURCE == expect && got[expect] == expect,
                      "request %d (from %d) completed where %d was expected", indices[i], st[i].MPI_SOURCE,
                      expect);
                CHECK(req[indices[i]] == MPI_REQUEST_NULL, "a completed request was not set to MPI_REQUEST_NULL");
                /* It arrives (size - expect) ms in; a poll sees it within a query's host time. */
                CHECK(at >= 1e-3 * (size - expect) - 1e-9 && at < 1e-3 * (size - expect) + 1e-4,
                      "round %d: the message from %d completed at %.3f ms", round, expect, at * 1e3);
            }
        }
        if (rank == 0) { /* no active request left: MPI_UNDEFINED */
            int n = 0;
            MPI_Waitsome(size - 1, req, &n, indices, MPI_STATUSES_IGNORE);
            CHECK(n == MPI_UNDEFINED, "MPI_Waitsome of no active request: %d", n);
            MPI_Testsome(size - 1, req, &n, indices, MPI_STATUSES_IGNORE);
            CHECK(n == MPI_UNDEFINED, "MPI_Testsome of no active request: %d", n);
        }
    }
    if (rank == 0) {
        CHECK(MPI_Waitsome(1, req, NULL, indices, st) == MPI_ERR_ARG, "MPI_Waitsome with a NULL count");
        CHECK(MPI_Testsome(1, req, &got[0], NULL, st) == MPI_ERR_ARG, "MPI_Testsome with a NULL index array");
    }
    /* A request listed twice is refused the second time, not completed twice. */
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 1)
        MPI_Send(&rank, 1, MPI_INT, 0, 8, MPI_COMM_WORLD);
    if (rank == 0) {
        int n = 0;
        MPI_Irecv(&got[1], 1, MPI_INT, 1, 8, MPI_COMM_WORLD, &req[0]);
        req[1] = req[0];
        CHECK(MPI_Waitsome(2, req, &n, indices, st) == MPI_ERR_IN_STATUS && n == 1 && indices[0] == 0 &&
                  got[1] == 1 && req[0] == MPI_REQUEST_NULL && req[1] == MPI_REQUEST_NULL,
              "MPI_Waitsome of a request listed twice: %d done", n);
    }
    /* Two done at once: both come back together, in index order. */
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 1 || rank == 2)
        MPI_Send(&rank, 1, MPI_INT, 0, 6, MPI_COMM_WORLD);
    if (rank == 0) {
        int n = 0;
        MPI_Irecv(&got[2], 1, MPI_INT, 2, 6, MPI_COMM_WORLD, &req[0]);
        MPI_Irecv(&got[1], 1, MPI_INT, 1, 6, MPI_COMM_WORLD, &req[1]);
        MPI_Barrier(MPI_COMM_WORLD); /* both sent (sends are buffered) */
        MPI_Waitsome(2, req, &n, indices, st);
        CHECK(n == 2 && indices[0] == 0 && indices[1] == 1 && st[0].MPI_SOURCE == 2 && st[1].MPI_SOURCE == 1,
              "two done requests: %d of them", n);
    } else {
        MPI_Barrier(MPI_COMM_WORLD);
    }
}

static int same(MPI_Group g, int n, const int *world)
{
    MPI_Group w;
    int size = -1, ok = 1;
    int *ranks = malloc(((size_t)n + 1) * sizeof(int)), *mine = malloc(((size_t)n + 1) * sizeof(int));
    MPI_Comm_group(MPI_COMM_WORLD, &w);
    MPI_Group_size(g, &size);
    for (int i = 0; i < n; i++)
        mine[i] = i;
    if (size == n && n > 0)
        MPI_Group_translate_ranks(g, n, mine, w, ranks);
    for (int i = 0; size == n && i < n; i++)
        ok &= ranks[i] == world[i];
    MPI_Group_free(&w);
    free(ranks);
    free(mine);
    return size == n && ok;
}

static void check_groups(int size)
{
    MPI_Group world, a, b, u, x, d, r, e;
    int ia[2] = {0, 2}, ib[3] = {3, 2, 1}, res = -1;
    int ranges[2][3] = {{size - 1, 1, -2}, {0, 0, 1}}, bad[1][3] = {{0, 2, 0}}, twice[2][3] = {{0, 2, 1}, {1, 1, 1}};

    MPI_Comm_group(MPI_COMM_WORLD, &world);
    MPI_Group_incl(world, 2, ia, &a);     /* 0 2 */
    MPI_Group_incl(world, 3, ib, &b);     /* 3 2 1 */
    MPI_Group_union(a, b, &u);            /* 0 2 3 1 */
    MPI_Group_intersection(b, a, &x);     /* 2 */
    MPI_Group_difference(b, a, &d);       /* 3 1 */
    {
        int wu[4] = {0, 2, 3, 1}, wx[1] = {2}, wd[2] = {3, 1};
        CHECK(same(u, 4, wu), "MPI_Group_union");
        CHECK(same(x, 1, wx), "MPI_Group_intersection");
        CHECK(same(d, 2, wd), "MPI_Group_difference");
    }
    MPI_Group_difference(a, a, &e);
    CHECK(e == MPI_GROUP_EMPTY, "a group minus itself is not MPI_GROUP_EMPTY");
    MPI_Group_compare(a, a, &res);
    CHECK(res == MPI_IDENT, "a group compared with itself: %d", res);
    {
        int back[2] = {2, 0};
        MPI_Group c;
        MPI_Group_incl(world, 2, back, &c);
        MPI_Group_compare(a, c, &res);
        CHECK(res == MPI_SIMILAR, "the same processes in another order: %d", res);
        MPI_Group_free(&c);
    }
    MPI_Group_compare(a, b, &res);
    CHECK(res == MPI_UNEQUAL, "different processes: %d", res);
    /* Ranges: (size-1 down to 1, stride -2) and (0): size-1, size-3, ..., then 0. */
    MPI_Group_range_incl(world, 2, ranges, &r);
    {
        int want[MAXP], n = 0;
        for (int q = size - 1; q >= 1; q -= 2)
            want[n++] = q;
        want[n++] = 0;
        CHECK(same(r, n, want), "MPI_Group_range_incl");
        MPI_Group_free(&r);
        MPI_Group_range_excl(world, 2, ranges, &r);
        n = 0;
        for (int q = 1; q < size; q++)
            if (q % 2 != (size - 1) % 2)
                want[n++] = q;
        CHECK(same(r, n, want), "MPI_Group_range_excl");
        MPI_Group_free(&r);
    }
    CHECK(MPI_Group_range_incl(world, 1, bad, &r) == MPI_ERR_RANK, "a range of stride 0");
    {
        int huge[1][3] = {{1, 3, 2147483647}}, one[1] = {1};
        CHECK(MPI_Group_range_incl(world, 1, huge, &r) == MPI_SUCCESS && same(r, 1, one),
              "a range whose stride passes INT_MAX");
        MPI_Group_free(&r);
    }
    CHECK(MPI_Group_range_incl(world, 2, twice, &r) == MPI_ERR_RANK, "ranges naming a rank twice");
    CHECK(MPI_Group_union(a, MPI_GROUP_NULL, &r) == MPI_ERR_GROUP, "a union with MPI_GROUP_NULL");
    CHECK(MPI_Group_compare(a, b, NULL) == MPI_ERR_ARG, "MPI_Group_compare's NULL result");
    CHECK(MPI_Group_intersection(a, b, NULL) == MPI_ERR_ARG, "an intersection with no group to set");
    MPI_Group_free(&a);
    MPI_Group_free(&b);
    MPI_Group_free(&u);
    MPI_Group_free(&x);
    MPI_Group_free(&d);
    MPI_Group_free(&world);
}

/* MPI_Comm_create_group: only the members call. The even ranks, in
 * reverse order, make a communicator (twice, with the same tag: matched in
 * order); the odd ones never call, and are not waited for. */
static void check_create_group(int rank, int size)
{
    MPI_Group world, evens;
    int ranks[MAXP], n = 0;

    MPI_Comm_group(MPI_COMM_WORLD, &world);
    for (int r = (size - 1) / 2 * 2; r >= 0; r -= 2)
        ranks[n++] = r;
    MPI_Group_incl(world, n, ranks, &evens);
    if (rank % 2 == 0) {
        for (int round = 0; round < 2; round++) {
            MPI_Comm c = MPI_COMM_NULL;
            int me = -1, csize = 0, sum = 0;
            CHECK(MPI_Comm_create_group(MPI_COMM_WORLD, evens, 7, &c) == MPI_SUCCESS && c != MPI_COMM_NULL,
                  "MPI_Comm_create_group, round %d", round);
            MPI_Comm_rank(c, &me);
            MPI_Comm_size(c, &csize);
            CHECK(csize == n && me == (n - 1) - rank / 2, "rank %d: rank %d of %d in the group's communicator",
                  rank, me, csize);
            MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, c);
            CHECK(sum == (n - 1) * n, "the evens' sum is %d, not %d", sum, (n - 1) * n);
            if (round == 0) { /* compared: with itself, a duplicate, a reordered split, the world */
                MPI_Comm d, e;
                int res[4] = {-1, -1, -1, -1};
                MPI_Comm_dup(c, &d);
                MPI_Comm_split(c, 0, rank, &e); /* ranked by world rank: the group's order reversed */
                MPI_Comm_compare(c, c, &res[0]);
                MPI_Comm_compare(c, d, &res[1]);
                MPI_Comm_compare(c, e, &res[2]);
                MPI_Comm_compare(c, MPI_COMM_WORLD, &res[3]);
                CHECK(res[0] == MPI_IDENT && res[1] == MPI_CONGRUENT &&
                          res[2] == (n > 1 ? MPI_SIMILAR : MPI_CONGRUENT) && res[3] == MPI_UNEQUAL,
                      "MPI_Comm_compare: %d %d %d %d", res[0], res[1], res[2], res[3]);
                MPI_Comm_free(&d);
                MPI_Comm_free(&e);
            }
            MPI_Comm_free(&c);
        }
    } else {
        MPI_Comm c = MPI_COMM_NULL;
        CHECK(MPI_Comm_create_group(MPI_COMM_WORLD, evens, 7, &c) == MPI_SUCCESS && c == MPI_COMM_NULL,
              "a non-member's call is local and gives MPI_COMM_NULL");
        c = MPI_COMM_WORLD;
        CHECK(MPI_Comm_create_group(MPI_COMM_WORLD, MPI_GROUP_EMPTY, 7, &c) == MPI_SUCCESS && c == MPI_COMM_NULL,
              "MPI_GROUP_EMPTY gives MPI_COMM_NULL");
        CHECK(MPI_Comm_create_group(MPI_COMM_WORLD, world, -1, &c) == MPI_ERR_TAG, "a negative tag");
        CHECK(MPI_Comm_create_group(MPI_COMM_WORLD, world, 7, NULL) == MPI_ERR_ARG, "a NULL communicator to set");
        CHECK(MPI_Comm_compare(MPI_COMM_WORLD, MPI_COMM_WORLD, NULL) == MPI_ERR_ARG, "MPI_Comm_compare's NULL result");
    }
    MPI_Group_free(&evens);
    MPI_Group_free(&world);
}

int main(int argc, char **argv)
{
    int rank = -1, size = 0, local = 0, ndev = 0, all = 0;
    MPI_Comm node;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local);
    cudaGetDeviceCount(&ndev);
    cudaSetDevice(local % ndev);
    if (size > MAXP || size < 4)
        return 2;
    if (argc > 1 && strcmp(argv[1], "cghang") == 0) { /* rank 2 never joins {0, 1, 2} */
        MPI_Group world, first;
        int three[3] = {0, 1, 2};
        MPI_Comm c;
        MPI_Comm_group(MPI_COMM_WORLD, &world);
        MPI_Group_incl(world, 3, three, &first);
        if (rank < 2)
            MPI_Comm_create_group(MPI_COMM_WORLD, first, 3, &c);
        MPI_Finalize();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "hang") == 0) {
        if (rank == 0) {
            int n = -1, idx[1];
            MPI_Request req;
            MPI_Irecv(&n, 1, MPI_INT, size - 1, 9, MPI_COMM_WORLD, &req);
            MPI_Waitsome(1, &req, &n, idx, MPI_STATUSES_IGNORE);
        }
        MPI_Finalize();
        return 0;
    }
    check_some(rank, size);
    check_groups(size);
    check_create_group(rank, size);
    MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s: %d failed check(s) over %d processes\n", all ? "FAILED" : "PASSED", all, size);
    MPI_Comm_free(&node);
    MPI_Finalize();
    return all != 0;
}

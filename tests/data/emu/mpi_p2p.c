/* mpi_p2p.c - MPI's point-to-point messages between the processes of a
 * program run with --ppn: a ring, messages from any source to rank 0, the
 * order of messages of one source and tag, non-blocking halo exchanges, a
 * receive posted before its send, MPI_PROC_NULL, truncation and bad
 * arguments; then the NCCL unique id sent from rank 0 to each rank (instead
 * of MPI_Bcast) and an all-reduce over the communicator it makes. Prints
 * "PASSED: 0 failed check(s) over N processes". With the argument "hang",
 * the last process waits for a message nobody sends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include "check.h"

int main(int argc, char **argv)
{
    int rank = -1, size = 0, v = 0, got = -1, count = -1;
    MPI_Status st;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc > 1 && strcmp(argv[1], "hang") == 0) {
        if (rank == size - 1)
            MPI_Recv(&v, 1, MPI_INT, 0, 77, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Finalize();
        return 0;
    }

    /* A ring: send to the next, receive from the previous (sends are buffered). */
    v = 100 + rank;
    CHECK(MPI_Send(&v, 1, MPI_INT, (rank + 1) % size, 1, MPI_COMM_WORLD) == MPI_SUCCESS, "ring send");
    CHECK(MPI_Recv(&got, 1, MPI_INT, (rank + size - 1) % size, 1, MPI_COMM_WORLD, &st) == MPI_SUCCESS, "ring recv");
    CHECK(got == 100 + (rank + size - 1) % size && st.MPI_SOURCE == (rank + size - 1) % size && st.MPI_TAG == 1,
          "ring: got %d from %d tag %d", got, st.MPI_SOURCE, st.MPI_TAG);

    /* Every rank to rank 0, received from any source; each source twice with
     * the same tag, which must arrive in the order sent. (Other messages for
     * rank 0 may come meanwhile: the tag tells these apart.) */
    if (rank != 0) {
        for (int k = 0; k < 2; k++) {
            int w = rank * 10 + k;
            MPI_Send(&w, 1, MPI_INT, 0, 2, MPI_COMM_WORLD);
        }
    } else {
        int last[256];
        for (int i = 0; i < size && i < 256; i++)
            last[i] = -1;
        for (int i = 0; i < 2 * (size - 1); i++) {
            CHECK(MPI_Recv(&got, 1, MPI_INT, MPI_ANY_SOURCE, 2, MPI_COMM_WORLD, &st) == MPI_SUCCESS, "any");
            CHECK(st.MPI_TAG == 2 && got / 10 == st.MPI_SOURCE, "any source: %d from %d", got, st.MPI_SOURCE);
            CHECK(st.MPI_SOURCE < 256 && got % 10 == last[st.MPI_SOURCE] + 1, "order from %d: %d after %d",
                  st.MPI_SOURCE, got, last[st.MPI_SOURCE]);
            if (st.MPI_SOURCE < 256)
                last[st.MPI_SOURCE] = got % 10;
        }
    }

    /* Non-blocking halo exchange: both neighbours, receives posted first. */
    {
        double left = -1.0, right = -1.0, mine = rank + 0.5;
        MPI_Request req[4];
        MPI_Status sts[4];
        int l = (rank + size - 1) % size, r = (rank + 1) % size;
        MPI_Irecv(&left, 1, MPI_DOUBLE, l, 3, MPI_COMM_WORLD, &req[0]);
        MPI_Irecv(&right, 1, MPI_DOUBLE, r, 4, MPI_COMM_WORLD, &req[1]);
        MPI_Isend(&mine, 1, MPI_DOUBLE, r, 3, MPI_COMM_WORLD, &req[2]);
        MPI_Isend(&mine, 1, MPI_DOUBLE, l, 4, MPI_COMM_WORLD, &req[3]);
        CHECK(MPI_Waitall(4, req, sts) == MPI_SUCCESS, "halo waitall");
        CHECK(left == l + 0.5 && right == r + 0.5, "halo: %g %g", left, right);
        CHECK(req[0] == MPI_REQUEST_NULL && req[3] == MPI_REQUEST_NULL, "requests not released");
        CHECK(MPI_Get_count(&sts[0], MPI_DOUBLE, &count) == MPI_SUCCESS && count == 1, "get_count %d", count);
        CHECK(MPI_Get_count(&sts[0], MPI_INT, &count) == MPI_SUCCESS && count == 2, "get_count as int %d", count);
    }

    /* Sendrecv around the ring the other way; MPI_PROC_NULL does nothing. */
    v = rank;
    got = -1;
    CHECK(MPI_Sendrecv(&v, 1, MPI_INT, (rank + size - 1) % size, 5, &got, 1, MPI_INT, (rank + 1) % size, 5,
                       MPI_COMM_WORLD, &st) == MPI_SUCCESS && got == (rank + 1) % size,
          "sendrecv got %d", got);
    got = -7;
    CHECK(MPI_Recv(&got, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD, &st) == MPI_SUCCESS && got == -7 &&
              st.MPI_SOURCE == MPI_PROC_NULL,
          "PROC_NULL");
    CHECK(MPI_Send(&v, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD) == MPI_SUCCESS, "send to PROC_NULL");

    /* A message longer than the buffer: truncated, MPI_ERR_TRUNCATE (taken
     * with any tag: by now it is the only message from rank 1 to rank 0). */
    if (rank == 1 % size) {
        int two[2] = {7, 8};
        MPI_Send(two, 2, MPI_INT, 0, 6, MPI_COMM_WORLD);
    }
    if (rank == 0) {
        got = -1;
        CHECK(MPI_Recv(&got, 1, MPI_INT, 1 % size, MPI_ANY_TAG, MPI_COMM_WORLD, &st) == MPI_ERR_TRUNCATE &&
                  got == 7 && st.MPI_TAG == 6,
              "truncate: %d, tag %d", got, st.MPI_TAG);
    }

    /* Bad arguments. */
    CHECK(MPI_Send(&v, 1, MPI_INT, size, 0, MPI_COMM_WORLD) == MPI_ERR_RANK, "dest out of range");
    CHECK(MPI_Send(&v, 1, MPI_INT, 0, -3, MPI_COMM_WORLD) == MPI_ERR_TAG, "negative tag");
    CHECK(MPI_Send(&v, -1, MPI_INT, 0, 0, MPI_COMM_WORLD) == MPI_ERR_COUNT, "negative count");
    CHECK(MPI_Recv(&v, 1, MPI_DATATYPE_NULL, 0, 0, MPI_COMM_WORLD, &st) == MPI_ERR_TYPE, "no type");
    CHECK(MPI_Irecv(&v, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, NULL) == MPI_ERR_REQUEST, "NULL request");
    CHECK(MPI_Send(&v, 1, MPI_INT, 0, 0, (MPI_Comm)99) == MPI_ERR_COMM, "another communicator");
    CHECK(MPI_Send(NULL, 1, MPI_INT, 0, 0, MPI_COMM_WORLD) == MPI_ERR_ARG, "a NULL buffer");
    /* A truncated receive among others: MPI_Waitall says MPI_ERR_IN_STATUS and
     * the status of that one says why. */
    {
        int two[2] = {3, 4}, one = -1;
        MPI_Request req[3];
        MPI_Status sts[3];
        MPI_Isend(two, 2, MPI_INT, rank, 10, MPI_COMM_WORLD, &req[0]);
        MPI_Irecv(&one, 1, MPI_INT, rank, 10, MPI_COMM_WORLD, &req[1]);
        MPI_Isend(&v, 1, MPI_INT, MPI_PROC_NULL, 10, MPI_COMM_WORLD, &req[2]);
        CHECK(MPI_Waitall(3, req, sts) == MPI_ERR_IN_STATUS && sts[1].MPI_ERROR == MPI_ERR_TRUNCATE && one == 3 &&
                  sts[0].MPI_ERROR == MPI_SUCCESS,
              "waitall with a truncated receive: status %d, got %d", sts[1].MPI_ERROR, one);
    }
    /* A Sendrecv with a bad source sends nothing: the next message of tag 8
     * from the previous rank is its good one. */
    v = 1;
    CHECK(MPI_Sendrecv(&v, 1, MPI_INT, (rank + 1) % size, 8, &got, 1, MPI_INT, 99, 8, MPI_COMM_WORLD, &st) ==
              MPI_ERR_RANK,
          "sendrecv with a bad source");
    v = 2;
    got = -1;
    MPI_Sendrecv(&v, 1, MPI_INT, (rank + 1) % size, 8, &got, 1, MPI_INT, (rank + size - 1) % size, 8, MPI_COMM_WORLD,
                 &st);
    CHECK(got == 2, "the failed sendrecv sent %d", got);
    /* A copy of a request already waited for is refused, not read. */
    {
        MPI_Request r, copy;
        MPI_Isend(&v, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD, &r);
        copy = r;
        CHECK(MPI_Wait(&r, MPI_STATUS_IGNORE) == MPI_SUCCESS && r == MPI_REQUEST_NULL, "wait");
        CHECK(MPI_Wait(&copy, MPI_STATUS_IGNORE) == MPI_ERR_REQUEST, "a stale request");
    }

    /* NCCL's unique id from rank 0 to each, by point-to-point messages. */
    {
        ncclUniqueId id;
        ncclComm_t comm;
        cudaStream_t s;
        float *buf, host[256];
        int bad = 0;
        if (rank == 0) {
            ncclGetUniqueId(&id);
            for (int p = 1; p < size; p++)
                MPI_Send(&id, sizeof(id), MPI_BYTE, p, 9, MPI_COMM_WORLD);
        } else {
            MPI_Recv(&id, sizeof(id), MPI_BYTE, 0, 9, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
        const char *local = getenv("OMPI_COMM_WORLD_LOCAL_RANK"); /* as mpirun sets it */
        cudaSetDevice(local != NULL ? atoi(local) : 0);
        cudaMalloc((void **)&buf, sizeof(host));
        cudaStreamCreate(&s);
        for (int i = 0; i < 256; i++)
            host[i] = (float)(rank + i);
        cudaMemcpy(buf, host, sizeof(host), cudaMemcpyHostToDevice);
        CHECK(ncclCommInitRank(&comm, size, id, rank) == ncclSuccess, "init");
        CHECK(ncclAllReduce(buf, buf, 256, ncclFloat, ncclSum, comm, s) == ncclSuccess, "all-reduce");
        cudaStreamSynchronize(s);
        cudaMemcpy(host, buf, sizeof(host), cudaMemcpyDeviceToHost);
        for (int i = 0; i < 256; i++)
            bad += host[i] != (float)(size * (size - 1) / 2 + size * i);
        CHECK(bad == 0, "all-reduce: %d wrong", bad);
        ncclCommDestroy(comm);
        cudaFree(buf);
    }

    MPI_Allreduce(MPI_IN_PLACE, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s: %d failed check(s) over %d processes\n", failures ? "FAILED" : "PASSED", failures, size);
    MPI_Finalize();
    return failures != 0;
}

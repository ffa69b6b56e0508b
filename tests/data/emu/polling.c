/* polling.c - programs that poll instead of blocking, as nccl-tests does
 * (cudaStreamQuery in a loop, checking ncclCommGetAsyncError between
 * queries) and as MPI programs overlapping work do (MPI_Test, MPI_Iprobe).
 * Each loop must end at the simulated time the work ends, within a poll's
 * host time. Also MPI_Probe with MPI_Get_count for a message of unknown
 * size, and MPI_Testall. Run with --ppn 2 (or more). Prints "PASSED: 0 failed
 * check(s)". With "hang", process 0 polls MPI_Test for a message nobody
 * sends; with "probe_hang", it waits in MPI_Probe for one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#define BIG (256u << 20)

static int fails, me;

static void check(int ok, const char *what)
{
    if (!ok) {
        printf("FAILED process %d: %s\n", me, what);
        fails++;
    }
}

int main(int argc, char **argv)
{
    int n, total = 0, flag = 0, polls = 0, count = -1;
    double t0, t_done, t_sync, copy;
    cudaStream_t s;
    cudaEvent_t ev;
    char *host, *dev;
    ncclUniqueId id;
    ncclComm_t comm;
    ncclResult_t async;
    MPI_Request req;
    MPI_Status st;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    if (n < 2) {
        printf("polling.c: run it as 2 processes or more (--ppn)\n");
        MPI_Finalize();
        return 2;
    }
    if (argc > 1 && strcmp(argv[1], "probe_hang") == 0) { /* a blocking probe for a message nobody sends */
        if (me == 0)
            MPI_Probe(1, 98, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Finalize();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "hang") == 0) {
        int v;
        if (me == 0) {
            MPI_Irecv(&v, 1, MPI_INT, 1, 99, MPI_COMM_WORLD, &req);
            while (!flag)
                MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
        }
        MPI_Finalize();
        return 0;
    }
    cudaGetDeviceCount(&count);
    cudaSetDevice(me % count); /* one process per GPU on a node */
    cudaStreamCreate(&s);
    cudaEventCreate(&ev);
    cudaMallocHost((void **)&host, BIG);
    cudaMalloc((void **)&dev, BIG);

    /* A host-to-device copy, polled with cudaStreamQuery until done: the
     * loop ends when the copy does, as a synchronize would. */
    t0 = MPI_Wtime();
    cudaMemcpyAsync(dev, host, BIG, cudaMemcpyHostToDevice, s);
    polls = 0;
    while (cudaStreamQuery(s) == cudaErrorNotReady)
        polls++;
    t_done = MPI_Wtime();
    check(t_done > t0, "cudaStreamQuery returned success before the copy could end");
    /* Each query of a busy stream takes host time (1.65e-7 s, measured on
     * an H100: docs/emulation.md): a loop cannot poll more often than that. */
    check(polls >= 1 && polls <= (t_done - t0) / 1.65e-7 + 2, "cudaStreamQuery polled more often than it can");
    cudaMemcpyAsync(dev, host, BIG, cudaMemcpyHostToDevice, s);
    cudaStreamSynchronize(s);
    t_sync = MPI_Wtime();
    check(t_sync - t_done > 0.99 * (t_done - t0) && t_sync - t_done < 1.01 * (t_done - t0),
          "a polled copy took another time than a synchronized one");
    copy = t_sync - t_done;

    /* An event, polled. */
    t0 = MPI_Wtime();
    cudaMemcpyAsync(dev, host, BIG, cudaMemcpyHostToDevice, s);
    cudaEventRecord(ev, s);
    while (cudaEventQuery(ev) == cudaErrorNotReady)
        ;
    check(MPI_Wtime() - t0 > 0.99 * copy, "cudaEventQuery ended before the copy");

    /* nccl-tests' loop: query the stream, check the communicator's error. */
    if (me == 0)
        ncclGetUniqueId(&id);
    MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
    ncclCommInitRank(&comm, n, id, me);
    ncclAllReduce(dev, dev, BIG / 4, ncclFloat, ncclSum, comm, s);
    while (cudaStreamQuery(s) != cudaSuccess) {
        ncclCommGetAsyncError(comm, &async);
        check(async == ncclSuccess, "an asynchronous NCCL error");
    }

    /* MPI_Test while the sender's GPU works: process 1 sends after its copy. */
    if (me == 1) {
        cudaMemcpy(dev, host, BIG, cudaMemcpyHostToDevice);
        t_done = MPI_Wtime();
        MPI_Send(&t_done, 1, MPI_DOUBLE, 0, 5, MPI_COMM_WORLD);
    } else if (me == 0) {
        double sent = -1.0;
        polls = 0;
        flag = 0;
        MPI_Irecv(&sent, 1, MPI_DOUBLE, 1, 5, MPI_COMM_WORLD, &req);
        while (!flag) {
            MPI_Test(&req, &flag, &st);
            polls++;
        }
        check(req == MPI_REQUEST_NULL && st.MPI_SOURCE == 1 && st.MPI_TAG == 5, "MPI_Test's request and status");
        check(sent > 0.0 && MPI_Wtime() >= sent, "MPI_Test completed before the message was sent");
        check(polls >= 1, "MPI_Test polled");
    }

    /* MPI_Iprobe polls; MPI_Probe and MPI_Get_count size an unknown message. */
    if (me == 1) {
        int msg[37];
        for (int i = 0; i < 37; i++)
            msg[i] = i * i;
        cudaMemcpy(dev, host, BIG / 4, cudaMemcpyHostToDevice);
        MPI_Send(msg, 37, MPI_INT, 0, 6, MPI_COMM_WORLD);
        MPI_Send(msg, 11, MPI_INT, 0, 7, MPI_COMM_WORLD);
    } else if (me == 0) {
        int *got;
        flag = 0;
        while (!flag)
            MPI_Iprobe(MPI_ANY_SOURCE, 6, MPI_COMM_WORLD, &flag, &st);
        MPI_Get_count(&st, MPI_INT, &count);
        check(st.MPI_SOURCE == 1 && count == 37, "MPI_Iprobe's status");
        got = malloc((size_t)count * sizeof(int));
        MPI_Recv(got, count, MPI_INT, st.MPI_SOURCE, 6, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        check(got[36] == 36 * 36, "the probed message");
        free(got);
        MPI_Probe(1, 7, MPI_COMM_WORLD, &st);
        MPI_Get_count(&st, MPI_INT, &count);
        check(count == 11 && st.MPI_TAG == 7, "MPI_Probe's status");
        got = malloc((size_t)count * sizeof(int));
        MPI_Recv(got, count, MPI_INT, 1, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        free(got);
    }

    /* MPI_Testall: nothing completes until everything has. */
    {
        int a = -1, b = -1, va = 10 + me, vb = 20 + me;
        MPI_Request rs[3];
        MPI_Status sts[3];
        MPI_Irecv(&a, 1, MPI_INT, (me + n - 1) % n, 8, MPI_COMM_WORLD, &rs[0]);
        MPI_Irecv(&b, 1, MPI_INT, (me + 1) % n, 9, MPI_COMM_WORLD, &rs[1]);
        rs[2] = MPI_REQUEST_NULL;
        MPI_Send(&va, 1, MPI_INT, (me + 1) % n, 8, MPI_COMM_WORLD);
        cudaMemcpy(dev, host, BIG / 8, cudaMemcpyHostToDevice);
        MPI_Send(&vb, 1, MPI_INT, (me + n - 1) % n, 9, MPI_COMM_WORLD);
        flag = 0;
        while (!flag) {
            MPI_Testall(3, rs, &flag, sts);
            check(flag || rs[0] != MPI_REQUEST_NULL, "MPI_Testall completed a request before all were done");
        }
        check(a == 10 + (me + n - 1) % n && b == 20 + (me + 1) % n && sts[1].MPI_TAG == 9, "MPI_Testall's data");
    }

    /* Two receives polled in turn: the sender waits for a reply to the
     * first before it sends the second. */
    if (me == 0) {
        int a = 0, b = 0, f1 = 0, f2 = 0, replied = 0, ans = 42;
        MPI_Request r1, r2;
        MPI_Irecv(&a, 1, MPI_INT, 1, 11, MPI_COMM_WORLD, &r1);
        MPI_Irecv(&b, 1, MPI_INT, 1, 12, MPI_COMM_WORLD, &r2);
        while (!(f1 && f2)) {
            if (!f1)
                MPI_Test(&r1, &f1, MPI_STATUS_IGNORE);
            if (f1 && !replied) {
                MPI_Send(&ans, 1, MPI_INT, 1, 13, MPI_COMM_WORLD);
                replied = 1;
            }
            if (!f2)
                MPI_Test(&r2, &f2, MPI_STATUS_IGNORE);
        }
        check(a == 1 && b == 2, "two receives polled in turn");
    } else if (me == 1) {
        int one = 1, two = 2, x;
        MPI_Send(&one, 1, MPI_INT, 0, 11, MPI_COMM_WORLD);
        MPI_Recv(&x, 1, MPI_INT, 0, 13, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Send(&two, 1, MPI_INT, 0, 12, MPI_COMM_WORLD);
    }

    /* A request listed twice in MPI_Testall: refused the second time. */
    {
        int v = me, got = -1;
        MPI_Request d[2];
        MPI_Status sts[2];
        MPI_Irecv(&got, 1, MPI_INT, me, 14, MPI_COMM_WORLD, &d[0]);
        MPI_Send(&v, 1, MPI_INT, me, 14, MPI_COMM_WORLD);
        d[1] = d[0];
        flag = 0;
        check(MPI_Testall(2, d, &flag, sts) == MPI_ERR_IN_STATUS && flag == 1 && got == me &&
                  sts[0].MPI_ERROR == MPI_SUCCESS && sts[1].MPI_ERROR == MPI_ERR_REQUEST,
              "a request listed twice in MPI_Testall");
    }

    ncclCommDestroy(comm);
    cudaFree(dev);
    cudaFreeHost(host);
    MPI_Allreduce(&fails, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (me == 0)
        printf("PASSED: %d failed check(s)\n", total);
    MPI_Finalize();
    return total != 0;
}

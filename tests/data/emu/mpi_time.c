/* mpi_time.c - how long MPI's data takes between nodes: one message from
 * the first process to the last, then each exchange that moves data, each
 * timed with MPI_Wtime between barriers on the first process:
 *
 *   mpi_time BYTES
 *
 * BYTES is the message, and each exchange's buffer (per process for
 * MPI_Allgather, MPI_Gather and MPI_Scatter). Prints "NAME SECONDS" lines,
 * checks the data, and "mpi_time: ok". tests/e2e/check_mpi_time.py sets the
 * times beside the bytes docs/emulation.md ("MPI's time") says each moves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

static int rank, size;
static double t0;

static void start(void)
{
    MPI_Barrier(MPI_COMM_WORLD);
    t0 = MPI_Wtime();
}

static void stop(const char *name)
{
    double t = MPI_Wtime() - t0;
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s %.9f\n", name, t);
}

int main(int argc, char **argv)
{
    size_t z = argc > 1 ? strtoul(argv[1], NULL, 10) : 1u << 20, nf = z / sizeof(float);
    float *a, *b;
    int bad = 0;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    a = malloc(z * (size_t)size);
    b = malloc(z * (size_t)size);
    if (a == NULL || b == NULL || size < 2)
        return 1;
    for (size_t i = 0; i < nf * (size_t)size; i++)
        a[i] = (float)(rank + 1);

    start();
    if (rank == 0)
        MPI_Send(a, (int)nf, MPI_FLOAT, size - 1, 7, MPI_COMM_WORLD);
    else if (rank == size - 1)
        MPI_Recv(b, (int)nf, MPI_FLOAT, 0, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rank == size - 1)
        t0 = MPI_Wtime() - t0; /* the receiver's time, sent to the first */
    if (rank == size - 1)
        MPI_Send(&t0, 1, MPI_DOUBLE, 0, 8, MPI_COMM_WORLD);
    else if (rank == 0)
        MPI_Recv(&t0, 1, MPI_DOUBLE, size - 1, 8, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rank == 0)
        printf("sendrecv %.9f\n", t0);
    bad += rank == size - 1 && b[nf - 1] != 1.0f;

    start();
    MPI_Allreduce(a, b, (int)nf, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    stop("allreduce");
    bad += b[nf - 1] != (float)(size * (size + 1) / 2);
    start();
    MPI_Allgather(a, (int)nf, MPI_FLOAT, b, (int)nf, MPI_FLOAT, MPI_COMM_WORLD);
    stop("allgather");
    bad += b[nf * (size_t)size - 1] != (float)size;
    start();
    MPI_Bcast(a, (int)nf, MPI_FLOAT, 1, MPI_COMM_WORLD);
    stop("bcast");
    bad += a[nf - 1] != 2.0f;
    start();
    MPI_Reduce(a, b, (int)nf, MPI_FLOAT, MPI_SUM, 1, MPI_COMM_WORLD);
    stop("reduce");
    bad += rank == 1 && b[0] != (float)(2 * size);
    start();
    MPI_Gather(a, (int)nf, MPI_FLOAT, b, (int)nf, MPI_FLOAT, 0, MPI_COMM_WORLD);
    stop("gather");
    start();
    MPI_Scatter(b, (int)nf, MPI_FLOAT, a, (int)nf, MPI_FLOAT, 0, MPI_COMM_WORLD);
    stop("scatter");
    bad += a[0] != 2.0f;
    if (bad)
        printf("rank %d: %d wrong result(s)\n", rank, bad);
    MPI_Finalize();
    if (rank == 0 && bad == 0)
        printf("mpi_time: ok\n");
    free(a);
    free(b);
    return bad != 0;
}

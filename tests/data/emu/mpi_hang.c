/* mpi_hang.c - process 1 returns before the broadcast the others wait in:
 * MPI would hang; the emulator must end the run and name the processes
 * left waiting. */
#include <mpi.h>

int main(int argc, char **argv)
{
    int rank = 0, x = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 1)
        return 0;
    MPI_Bcast(&x, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return 0;
}

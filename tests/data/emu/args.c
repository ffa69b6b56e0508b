/* args.c - a program's own command line under the emulator: getopt sees
 * its options (scalepath's own were parsed with the same C library), each
 * process may write into its argv, and main gets the environment as its
 * third argument. Prints OK, or what is wrong, and returns non-zero then. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>

int main(int argc, char **argv, char **envp)
{
    int c, rank = 0, bad = 0;
    const char *b = NULL;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    while ((c = getopt(argc, argv, "b:")) != -1)
        if (c == 'b')
            b = optarg;
    if (b == NULL || strcmp(b, "64M") != 0) {
        printf("rank %d: getopt did not see -b 64M\n", rank);
        bad++;
    }
    if (optind != argc - 1 || strcmp(argv[optind], "x,y") != 0) {
        printf("rank %d: the operand is not x,y\n", rank);
        bad++;
    } else if (strtok(argv[optind], ",") == NULL || strcmp(argv[optind], "x") != 0) {
        bad++; /* strtok writes into this process's argv only */
    }
    if (envp == NULL || envp[0] == NULL) {
        printf("rank %d: no environment in main's third argument\n", rank);
        bad++;
    }
    MPI_Finalize();
    if (bad == 0)
        printf("rank %d OK\n", rank);
    return bad;
}

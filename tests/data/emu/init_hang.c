/* init_hang.c - one thread initializes rank 0 of a two-rank communicator
 * outside a group: NCCL blocks there until rank 1 joins, which never
 * happens. The emulator must say so, naming the rank that never came. */
#include <cuda_runtime.h>
#include <nccl.h>

int main(void)
{
    ncclUniqueId id;
    ncclComm_t comm;
    ncclGetUniqueId(&id);
    ncclCommInitRank(&comm, 2, id, 0);
    return 0;
}

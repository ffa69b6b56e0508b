/* abi_values.c - the values of the constants that sim/emu/include's
 * cuda_runtime.h and nccl.h define, printed one per line, so that they can
 * be set beside the real headers' (abi_values.expected, taken with the real
 * CUDA runtime and NCCL headers: see that file's header). A program written
 * for the real libraries means the same thing here only if these agree. */
#include <stdio.h>

#include <cuda_runtime.h>
#include <nccl.h>

#define V(x) printf("%-36s %ld\n", #x, (long)(x))

int main(void)
{
    ncclUniqueId id;

    V(cudaSuccess);
    V(cudaErrorInvalidValue);
    V(cudaErrorMemoryAllocation);
    V(cudaErrorInvalidDevicePointer);
    V(cudaErrorInvalidMemcpyDirection);
    V(cudaErrorInvalidDevice);
    V(cudaErrorInvalidResourceHandle);
    V(cudaErrorNotReady);
    V(cudaMemcpyHostToHost);
    V(cudaMemcpyHostToDevice);
    V(cudaMemcpyDeviceToHost);
    V(cudaMemcpyDeviceToDevice);
    V(cudaMemcpyDefault);
    V(cudaStreamDefault);
    V(cudaStreamNonBlocking);
    V(cudaEventDefault);
    V(ncclSuccess);
    V(ncclUnhandledCudaError);
    V(ncclSystemError);
    V(ncclInternalError);
    V(ncclInvalidArgument);
    V(ncclInvalidUsage);
    V(ncclRemoteError);
    V(ncclInProgress);
    V(ncclSum);
    V(ncclProd);
    V(ncclMax);
    V(ncclMin);
    V(ncclAvg);
    V(ncclInt8);
    V(ncclChar);
    V(ncclUint8);
    V(ncclInt32);
    V(ncclInt);
    V(ncclUint32);
    V(ncclInt64);
    V(ncclUint64);
    V(ncclFloat16);
    V(ncclHalf);
    V(ncclFloat32);
    V(ncclFloat);
    V(ncclFloat64);
    V(ncclDouble);
    V(ncclBfloat16);
    V(NCCL_SPLIT_NOCOLOR);
    V(NCCL_UNIQUE_ID_BYTES);
    V(sizeof(id));
    V(NCCL_VERSION(2, 8, 0));
    V(NCCL_VERSION(2, 30, 7));
    V(NCCL_VERSION(NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH) == NCCL_VERSION_CODE);
    {
        ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
        V(config.size == sizeof(ncclConfig_t));
        V(config.magic);
        V(config.version == NCCL_VERSION_CODE);
    }
    return 0;
}

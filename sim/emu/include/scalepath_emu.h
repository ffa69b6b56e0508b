/* scalepath_emu.h - what a program under `scalepath emulate` may ask of the
 * simulator beyond NCCL and CUDA: simulated time, and kernels of its own
 * (a C program cannot launch CUDA kernels; these stand for them). A
 * program that includes this header runs only under the emulator.
 */
#ifndef SP_EMU_SCALEPATH_EMU_H
#define SP_EMU_SCALEPATH_EMU_H

#include "cuda_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Simulated seconds since the program started (host time: the host takes
 * none, so this is the time its last blocking call returned). */
double spEmuNow(void);

/* A kernel on the stream that runs for the given simulated seconds. */
cudaError_t spEmuKernel(cudaStream_t stream, double seconds);

/* A dense GEMM C[m x n] = A[m x k] B[k x n] on the stream, timed as
 * `scalepath train` times one (the GPU's peak for the type, times its
 * measured efficiency for that shape where the platform file lists one);
 * no data is computed. type: "bf16", "fp16", "fp8", "fp32", "tf32". */
cudaError_t spEmuGemm(cudaStream_t stream, long m, long n, long k, const char *type);

/* The same for a program compiled for the per-thread default stream, as a
 * kernel launch there is: their NULL stream is cudaStreamPerThread. */
cudaError_t spEmuKernel_ptsz(cudaStream_t stream, double seconds);
cudaError_t spEmuGemm_ptsz(cudaStream_t stream, long m, long n, long k, const char *type);
#if defined(CUDA_API_PER_THREAD_DEFAULT_STREAM)
#define spEmuKernel spEmuKernel_ptsz
#define spEmuGemm spEmuGemm_ptsz
#endif

#ifdef __cplusplus
}
#endif
#endif

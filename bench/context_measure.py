#!/usr/bin/env python3
"""Device memory that a CUDA context, and PyTorch's, take on this machine's
GPU, read with nvidia-smi (memory.used) in a fresh process each:

    python3 bench/context_measure.py

- `cuda`: the CUDA runtime alone (libcudart's cudaFree(0)), lazy and eager
  module loading (CUDA_MODULE_LOADING);
- `torch`: PyTorch's context (a one-element tensor), then after a bf16
  matrix product (cuBLAS's handle and kernels; PyTorch takes cuBLAS's
  workspace from its allocator, whose reservation is printed), lazy and
  eager.

For the memory model's CUDA-context constant (sim/model/model.h,
MODEL_CUDA_CONTEXT_BYTES). MiB = 2^20 bytes, as nvidia-smi counts."""
import ctypes
import glob
import os
import subprocess
import sys


def used():
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True).stdout
    return int(out.split()[0])


def child(mode):
    base = used()
    if mode == "cuda":
        names = ["libcudart.so", "libcudart.so.13", "libcudart.so.12"] + sorted(
            glob.glob("/usr/local/cuda/lib64/libcudart.so*"))
        rt = None
        for n in names:
            try:
                rt = ctypes.CDLL(n)
                break
            except OSError:
                continue
        if rt is None or rt.cudaFree(None) != 0:
            print("cuda: no runtime")
            return 1
        print(f"cuda   {os.environ.get('CUDA_MODULE_LOADING', 'default'):7s} context {used() - base:5d} MiB")
        return 0
    import torch
    torch.empty(1, device="cuda")
    torch.cuda.synchronize()
    ctx = used() - base
    a = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16)
    (a @ a).sum().item()
    torch.cuda.synchronize()
    after = used() - base
    print(f"torch  {os.environ.get('CUDA_MODULE_LOADING', 'default'):7s} context {ctx:5d} MiB; after a bf16 "
          f"4096^3 matmul {after:5d} MiB, of which PyTorch's allocator holds "
          f"{torch.cuda.memory_reserved() / 2**20:.0f} MiB ({torch.__version__}, CUDA {torch.version.cuda})")
    return 0


def main(argv):
    if argv:
        return child(argv[0])
    print(f"# {subprocess.run(['nvidia-smi', '--query-gpu=name,driver_version', '--format=csv,noheader'], capture_output=True, text=True).stdout.strip()}; nothing else on the GPU: {used()} MiB used")
    rc = 0
    for mode in ("cuda", "torch"):
        for loading in ("LAZY", "EAGER"):
            env = dict(os.environ, CUDA_MODULE_LOADING=loading)
            p = subprocess.run([sys.executable, __file__, mode], env=env, capture_output=True, text=True)
            sys.stdout.write(p.stdout + p.stderr[-500:])
            rc |= p.returncode
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

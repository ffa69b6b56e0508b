#!/bin/sh
# Build the emulator's example and test programs against the real CUDA
# runtime and NCCL, and run the one-GPU probes, on a machine with an NVIDIA
# GPU, nvcc and NCCL (NCCL's Python wheel, nvidia-nccl-cu*, will do):
#
#     bench/emulate_real.sh [OUTDIR]
#
# Writes into OUTDIR (default /tmp/emulate_real): build.txt (each program:
# built or the compiler's complaint), real_codes.txt and abi_values.txt
# (the probes' output), real_codes_warn.txt (real_codes again with
# NCCL_DEBUG=WARN), real_codes_checked.txt (again with
# NCCL_CHECK_POINTERS=1: tests/data/emu/real_codes.expected is this one,
# abi_values.expected is abi_values.txt, each with a header),
# allreduce_perf.txt and memcpy_perf.txt (workloads/emu/allreduce_perf.c and
# memcpy_perf.c on the real GPU).
# The emulator claims (docs/emulation.md) that a program written against
# its headers builds against the real libraries, and means the same there.
set -u
out=${1:-/tmp/emulate_real}
mkdir -p "$out"
cd "$(dirname "$0")/.." || exit 1
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
inc=
lib=
for d in $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) /usr /usr/local; do
    h=$(find "$d" -name nccl.h -path '*nccl/include*' 2>/dev/null | head -n 1)
    [ -n "$h" ] || h=$(find "$d" -name nccl.h -path '*include*' 2>/dev/null | head -n 1)
    l=$(find "$d" -name 'libnccl.so*' 2>/dev/null | sort | head -n 1)
    if [ -n "$h" ] && [ -n "$l" ]; then
        inc=$(dirname "$h")
        lib=$l
        break
    fi
done
{
    echo "nvcc: $nvcc ($("$nvcc" --version | tail -n 1))"
    echo "nccl.h: $inc/nccl.h ($(grep -m1 '#define NCCL_VERSION_CODE' "$inc/nccl.h"))"
    echo "libnccl: $lib"
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
} >"$out/build.txt" 2>&1
[ -n "$inc" ] || { echo "no NCCL found" >>"$out/build.txt"; exit 1; }
export LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bin="$out/bin"
mkdir -p "$bin"
for src in tests/data/emu/*.c workloads/emu/*.c; do
    name=$(basename "$src" .c)
    if grep -q 'scalepath_emu.h' "$src"; then
        echo "$src: skipped (uses scalepath_emu.h, the emulator's own calls)" >>"$out/build.txt"
        continue
    fi
    if grep -q '<mpi.h>' "$src" && ! command -v mpicc >/dev/null; then
        echo "$src: skipped (no MPI here)" >>"$out/build.txt"
        continue
    fi
    flags=
    [ "$name" = real_codes ] && flags=-DSP_CATCH_CRASHES
    if "$nvcc" -x c -Xcompiler -Wall,-Wextra $flags -I"$inc" -o "$bin/$name" "$src" -L"$(dirname "$lib")" -l:"$(basename "$lib")" >"$bin/$name.log" 2>&1; then
        echo "$src: built$( [ -s "$bin/$name.log" ] && echo ', with warnings:')" >>"$out/build.txt"
    else
        echo "$src: FAILED to build:" >>"$out/build.txt"
    fi
    sed 's/^/    /' "$bin/$name.log" >>"$out/build.txt"
done
"$bin/real_codes" >"$out/real_codes.txt" 2>"$out/real_codes.stderr"
echo "real_codes: exit $?" >>"$out/build.txt"
NCCL_DEBUG=WARN "$bin/real_codes" >"$out/real_codes_warn.txt" 2>&1
NCCL_CHECK_POINTERS=1 "$bin/real_codes" >"$out/real_codes_checked.txt" 2>&1
"$bin/abi_values" >"$out/abi_values.txt" 2>&1
echo "abi_values: exit $?" >>"$out/build.txt"
"$bin/allreduce_perf" >"$out/allreduce_perf.txt" 2>&1
echo "allreduce_perf: exit $?" >>"$out/build.txt"
"$bin/memcpy_perf" >"$out/memcpy_perf.txt" 2>&1
echo "memcpy_perf: exit $?" >>"$out/build.txt"
cat "$out/build.txt"

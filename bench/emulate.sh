#!/usr/bin/env bash
# Benchmark: `scalepath emulate` (docs/emulation.md) on programs of the
# shapes courses run: many small collectives from one process, a thread
# per GPU polling its stream, one process per GPU over MPI at a few hundred
# GPUs, every collective checked on 64 GPUs. Prints wall time and peak RSS per case; the emulated times are the
# simulator's, so only the host cost is measured here.
#   bench/emulate.sh [path/to/scalepath]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exe=${1:-$root/build/sim/scalepath}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc $("$exe" emulate --cflags) -O2 -o "$tmp/perf.so" "$root/workloads/emu/allreduce_perf.c"
cc $("$exe" emulate --cflags) -O2 -o "$tmp/mpi.so" "$root/workloads/emu/mpi_allreduce.c"
cc $("$exe" emulate --cflags) -O2 -o "$tmp/check.so" "$root/tests/data/emu/collectives_check.c" -lm
cat > "$tmp/many.c" <<'C'
/* 10,000 all-reduces of 1 KiB on every GPU, one group each. */
#include <cuda_runtime.h>
#include <nccl.h>
int main(void)
{
    static ncclComm_t c[64];
    static float *b[64];
    static cudaStream_t s[64];
    int n = 0;
    cudaGetDeviceCount(&n);
    ncclCommInitAll(c, n, NULL);
    for (int d = 0; d < n; d++) {
        cudaSetDevice(d);
        cudaMalloc((void **)&b[d], 1024);
        cudaStreamCreate(&s[d]);
    }
    for (int i = 0; i < 10000; i++) {
        ncclGroupStart();
        for (int d = 0; d < n; d++)
            ncclAllReduce(b[d], b[d], 256, ncclFloat, ncclSum, c[d], s[d]);
        ncclGroupEnd();
    }
    for (int d = 0; d < n; d++)
        cudaStreamSynchronize(s[d]);
    return 0;
}
C
cc $("$exe" emulate --cflags) -O2 -o "$tmp/many.so" "$tmp/many.c"
cat > "$tmp/threads.c" <<'C'
/* nccl-tests' -t shape: a thread per GPU, 1,000 all-reduces of 1 KiB each,
 * every one waited for by polling cudaStreamQuery. */
#include <pthread.h>
#include <cuda_runtime.h>
#include <nccl.h>
static ncclUniqueId id;
static int n;
static void *rank(void *arg)
{
    int r = (int)(long)arg;
    ncclComm_t c;
    float *b;
    cudaStream_t s;
    cudaSetDevice(r);
    ncclCommInitRank(&c, n, id, r);
    cudaMalloc((void **)&b, 1024);
    cudaStreamCreate(&s);
    for (int i = 0; i < 1000; i++) {
        ncclAllReduce(b, b, 256, ncclFloat, ncclSum, c, s);
        while (cudaStreamQuery(s) == cudaErrorNotReady)
            ;
    }
    return NULL;
}
int main(void)
{
    pthread_t t[64];
    cudaGetDeviceCount(&n);
    ncclGetUniqueId(&id);
    for (long r = 0; r < n; r++)
        pthread_create(&t[r], NULL, rank, (void *)r);
    for (int r = 0; r < n; r++)
        pthread_join(t[r], NULL);
    return 0;
}
C
cc $("$exe" emulate --cflags) -O2 -o "$tmp/threads.so" "$tmp/threads.c"
run() { # label, then the emulate arguments
  local label=$1
  shift
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$tmp/rss" "$exe" emulate "$@" > "$tmp/out" 2>&1
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v l="$label" -v rss="$(cat "$tmp/rss")" \
    'BEGIN { printf "%-58s %7.2f s wall, peak RSS %6.0f MB\n", l, e - s, rss / 1024 }'
}
cd "$root"
run "10,000 all-reduces of 1 KiB, 8 GPUs, one process" -p platforms/dgx-h100.cfg "$tmp/many.so"
run "all-reduce 1 KiB..64 MiB checked, 16 GPUs, one process" -p platforms/dgx-h100.cfg -n 2 "$tmp/perf.so"
run "every collective x type x op checked, 64 GPUs" -p platforms/superpod-h100.cfg -n 8 "$tmp/check.so"
run "threads: 64, 1,000 polled all-reduces of 1 KiB each" -p platforms/superpod-h100.cfg -n 8 "$tmp/threads.so"
run "MPI: 256 processes, all-reduce of 1 MiB checked" -p platforms/superpod-h100.cfg -n 32 --ppn 8 "$tmp/mpi.so" 1048576
cc $("$exe" emulate --cflags) -O2 -o "$tmp/overlap.so" "$root/workloads/emu/overlap.c"
run "overlap.c: 16 layers, 64 GPUs, --no-data" -p platforms/superpod-h100.cfg -n 8 --no-data "$tmp/overlap.so"

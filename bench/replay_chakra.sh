#!/usr/bin/env bash
# Benchmark: replaying a 1,024-rank Chakra trace of a few thousand nodes per
# rank (issue "trace replay": finishes in seconds). Generates the trace in a
# temporary folder, replays it on 128 DGX H100 of a SuperPOD, prints the
# wall time and peak memory.   bench/replay_chakra.sh [path/to/scalepath] [NODES]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exe=${1:-$root/build/sim/scalepath}
nodes=${2:-2000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$root/bench/gen_chakra.py" "$tmp/bench" 1024 "$nodes" 50
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$tmp/rss" "$exe" replay -p "$root/platforms/superpod-h100.cfg" -n 128 \
  -t "$tmp/bench" > "$tmp/out"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v n="$nodes" -v rss="$(cat "$tmp/rss")" 'BEGIN {
  printf "replay of 1,024 ranks x %d nodes (%d all-reduces of 64 KiB each): %.2f s wall, peak RSS %.0f MB\n",
         n, n / 50, e - s, rss / 1024 }'
grep "iteration time" "$tmp/out"

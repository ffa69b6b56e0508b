#!/usr/bin/env bash
# Benchmark: generating and loading the largest platforms. Target (issue
# "hardware ladder"): a 16,384-GPU SuperPOD generated and loaded by SimGrid
# in under 10 s and under 2 GB of memory. Prints the figures and whether
# each target holds; exits 1 if one does not.
#   bench/platform_load.sh [path/to/scalepath]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exe=${1:-$root/build/sim/scalepath}
status=0
for plat in superpod-h100 superpod-b200; do
  line=$("$exe" platform -p "$root/platforms/$plat.cfg" -n 2048 --load | grep "load:")
  expand=$(sed -E 's/.*expanded in ([0-9.]+) s.*/\1/' <<<"$line")
  load=$(sed -E 's/.*loaded by SimGrid in ([0-9.]+) s.*/\1/' <<<"$line")
  rss=$(sed -E 's/.*peak RSS ([0-9]+) MB.*/\1/' <<<"$line")
  total=$(awk -v a="$expand" -v b="$load" 'BEGIN { printf "%.3f", a + b }')
  ok_t=$(awk -v t="$total" 'BEGIN { print (t < 10) ? "ok" : "FAIL" }')
  ok_m=$(awk -v m="$rss" 'BEGIN { print (m < 2048) ? "ok" : "FAIL" }')
  printf '%-14s 16,384 GPUs: expand %ss + SimGrid load %ss = %ss (target < 10 s: %s), peak RSS %s MB (target < 2048 MB: %s)\n' \
    "$plat" "$expand" "$load" "$total" "$ok_t" "$rss" "$ok_m"
  [ "$ok_t" = ok ] && [ "$ok_m" = ok ] || status=1
done
exit $status

#!/usr/bin/env bash
# The main job: install what is missing, build, and run the default study.
# Until the study command exists, that is an nccl-tests style sweep of
# all-reduce on two DGX Sparks cabled back to back, written to HDF5, and
# its busbw plot.
# Extra arguments replace the default scalepath command line.
set -euo pipefail
. "$(dirname "$0")/deps.sh"
sp_install_deps
sp_build "$SP_ROOT/build"
cd "$SP_ROOT"
mkdir -p results
if [ $# -gt 0 ]; then
  exec build/sim/scalepath "$@"
fi
build/sim/scalepath nccl -p platforms/dgx-spark.cfg -n 2 -c all_reduce -b 8 -e 8G -f 2 \
  -o results/nccl-dgx-spark-x2.h5
/usr/bin/python3 analysis/nccl_busbw.py results/nccl-dgx-spark-x2.h5 -o results/nccl-dgx-spark-x2.png

#!/usr/bin/env bash
# The main job: install what is missing, build, and run the built-in
# scale-up study (studies/default.cfg), written to results/study.h5, with
# its figures (analysis/plot.py) beside it.
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
build/sim/scalepath study -o results/study.h5
/usr/bin/python3 analysis/plot.py results/study.h5 -o results

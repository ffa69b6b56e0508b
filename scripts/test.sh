#!/usr/bin/env bash
# The whole test suite: install what is missing, build warning-free
# (-Werror), run every unit and end-to-end test with ctest. With
# SP_SANITIZE=1 the suite is built and run a second time under ASan+UBSan.
set -euo pipefail
. "$(dirname "$0")/deps.sh"
sp_install_deps
sp_build "$SP_ROOT/build-test" -DSP_WERROR=ON
(cd "$SP_ROOT/build-test" && ctest --output-on-failure -j "$(nproc)")
if [ "${SP_SANITIZE:-0}" = 1 ]; then
  sp_build "$SP_ROOT/build-asan" -DSP_WERROR=ON -DSP_SANITIZE=address,undefined
  (cd "$SP_ROOT/build-asan" &&
    LSAN_OPTIONS="suppressions=$SP_ROOT/tests/lsan.supp" ctest --output-on-failure -j "$(nproc)")
fi

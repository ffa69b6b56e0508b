#!/bin/sh
# fuzz.sh - run one of the loaders' libFuzzer targets (tests/fuzz/README.md).
#
# Usage: tests/fuzz/fuzz.sh TARGET [SECONDS [LIBFUZZER_OPTION...]]
#   TARGET   plat, model, study, chakra, groups or aicb
#   SECONDS  how long to fuzz                                  default 600
#
# Configures and builds build-fuzz/ (clang, SP_FUZZ=ON, ASan+UBSan) when it
# is missing, starts the corpus build-fuzz/corpus/TARGET from the seeds ctest
# replays and the inputs kept in tests/fuzz/corpus/TARGET, gives the
# libconfig targets a dictionary of the key names the shipped files use, and
# runs libFuzzer from the source tree's root, as the seeds' @includes need.
# What it finds goes to build-fuzz/findings/TARGET/: fix the loader, then
# keep the input in tests/fuzz/corpus/TARGET/ (README.md).
set -eu
cd "$(dirname "$0")/../.."
root=$(pwd)
t=${1:?usage: tests/fuzz/fuzz.sh TARGET [SECONDS [LIBFUZZER_OPTION...]]}
secs=${2:-600}
[ $# -ge 2 ] && shift 2 || shift $#
case $t in
plat | model | study | chakra | groups | aicb) ;;
*) echo "fuzz.sh: error: unknown target \"$t\" (plat, model, study, chakra, groups, aicb)" >&2; exit 2 ;;
esac
command -v clang > /dev/null || { echo "fuzz.sh: error: needs clang (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
b=$root/build-fuzz
if [ ! -f "$b/CMakeCache.txt" ]; then
    CC=clang cmake -S "$root" -B "$b" -DSP_FUZZ=ON -DSP_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
fi
cmake --build "$b" --target "fuzz_$t" -j "$(nproc)" > /dev/null
mkdir -p "$b/corpus/$t" "$b/findings/$t"
while IFS= read -r f; do
    [ -n "$f" ] && cp "$root/$f" "$b/corpus/$t/seed-$(echo "$f" | tr / _)"
done < "$b/tests/fuzz_$t.seeds"
if [ -d "$root/tests/fuzz/corpus/$t" ]; then
    cp "$root/tests/fuzz/corpus/$t/"* "$b/corpus/$t/"
fi
dict=
case $t in
plat | model | study)
    dict=$b/fuzz-cfg.dict
    cat platforms/*.cfg platforms/include/*.cfg workloads/models/*.cfg studies/*.cfg tests/data/studies/*.cfg |
        sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*=.*/"\1"/p' | sort -u > "$dict"
    printf '%s\n' '"@include"' '"="' '";"' '"{"' '"}"' '"("' '")"' '"["' '"]"' '"true"' '"false"' >> "$dict"
    ;;
esac
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
exec "$b/tests/fuzz_$t" "$b/corpus/$t" -artifact_prefix="$b/findings/$t/" -max_total_time="$secs" -timeout=20 \
    -rss_limit_mb=3000 -max_len=40000 ${dict:+-dict="$dict"} "$@"

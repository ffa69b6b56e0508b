#!/usr/bin/env bash
# Install the Debian 12 packages scalepath needs, if any is missing: apt-get
# as root, sudo otherwise. Sourced by scripts/run.sh and scripts/test.sh.
set -euo pipefail

SP_PACKAGES=(
  build-essential cmake pkg-config
  libsimgrid-dev      # SimGrid 3.32, the C API
  libconfig-dev       # platform and study files
  libhdf5-dev         # HDF5 output (hdf5-serial)
  libcmocka-dev       # unit tests
  protobuf-c-compiler libprotobuf-c-dev zlib1g-dev   # Chakra execution traces (.et, gzipped)
  python3 python3-h5py python3-numpy python3-matplotlib   # analysis/ and its tests
  valgrind            # memory checks in the test suite
)

sp_install_deps() {
  local missing=() p
  for p in "${SP_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "scalepath: installing ${missing[*]}" >&2
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Configure and build into $1 with extra CMake arguments after it.
sp_build() {
  local dir=$1
  shift
  cmake -S "$SP_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}

SP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

#!/usr/bin/env bash
# Configures and builds mailoauth into build/ (or $BUILD_DIR). Extra arguments go to cmake.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMAILOAUTH_WARNINGS_AS_ERRORS=ON "$@" >/dev/null
# Two jobs: the machines have two cores, and Asio/Beast translation units are heavy.
ninja -C "$build" -j"${JOBS:-2}"

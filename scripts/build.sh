#!/usr/bin/env bash
# Configures and builds mailoauth into build/ (or $BUILD_DIR). Extra arguments go to cmake.
#   --programs   only the programs (mailoauth, mailoauth-sandbox and the HTTP module), not the
#                tests: what the README's first command needs, in about half the time
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
targets=()
if [ "${1:-}" = "--programs" ]; then
  shift
  targets=(mailoauth mailoauth-sandbox)
  # Without the tests, GoogleTest need not be installed (install-deps.sh --demo).
  set -- -DMAILOAUTH_BUILD_TESTS=OFF "$@"
fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMAILOAUTH_WARNINGS_AS_ERRORS=ON "$@" >/dev/null
# Two jobs: the machines have two cores, and Asio/Beast translation units are heavy.
ninja -C "$build" -j"${JOBS:-2}" "${targets[@]}"

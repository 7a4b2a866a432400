#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, runs the CTest suite (unit, transcript,
# integration against a private Dovecot that the tests start and stop themselves, formatting),
# then each libFuzzer target for a short time under ASan and UBSan.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}

bash "$root/scripts/install-deps.sh"
# Tests ON explicitly: a build directory configured by `build.sh --programs` has them off.
bash "$root/scripts/build.sh" -DMAILOAUTH_BUILD_TESTS=ON
(cd "$build" && ctest -j"${JOBS:-2}" --output-on-failure --timeout 300)
bash "$root/scripts/run-fuzzers.sh" "${FUZZ_SECONDS:-10}"
echo "all tests passed"

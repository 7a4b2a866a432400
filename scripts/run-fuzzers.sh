#!/usr/bin/env bash
# Builds the libFuzzer targets under AddressSanitizer and UndefinedBehaviorSanitizer in a build
# directory of their own, then runs each for SECONDS (default 15). Exits non-zero when any
# target crashes, leaks, trips UBSan, times out on one input or fails one of its own checks.
#
#   scripts/run-fuzzers.sh [SECONDS]
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), JOBS (ninja jobs, default 2), FUZZ_TARGETS
# (space-separated subset to run).
set -euo pipefail
seconds=${1:-15}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}

all_targets=(fuzz_imap_session fuzz_pop3_session fuzz_smtp_session
  fuzz_imap_server fuzz_pop3_server fuzz_smtp_server fuzz_line_buffer
  fuzz_xoauth2 fuzz_oauthbearer fuzz_error_challenge fuzz_base64 fuzz_identity_request
  fuzz_web_form)
read -r -a targets <<<"${FUZZ_TARGETS:-${all_targets[*]}}"

# libFuzzer comes with clang; the sanitizer flags themselves are set in fuzz/CMakeLists.txt.
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMAILOAUTH_BUILD_FUZZERS=ON -DMAILOAUTH_BUILD_TESTS=OFF >/dev/null
echo "building the fuzzers in $build (log: $build/build.log)"
if ! ninja -C "$build" -j"${JOBS:-2}" mailoauth_fuzzers >"$build/build.log" 2>&1; then
  tail -n 80 "$build/build.log" >&2
  exit 1
fi

# UBSan stops at the first finding; ASan checks leaks at exit and aborts so that libFuzzer
# saves the input.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}

dict_for() {
  case $1 in
    fuzz_imap_session) echo "$root/fuzz/dict/imap.dict" ;;
    fuzz_pop3_session) echo "$root/fuzz/dict/pop3.dict" ;;
    fuzz_smtp_session) echo "$root/fuzz/dict/smtp.dict" ;;
    fuzz_imap_server) echo "$root/fuzz/dict/imap_server.dict" ;;
    fuzz_pop3_server) echo "$root/fuzz/dict/pop3_server.dict" ;;
    fuzz_smtp_server) echo "$root/fuzz/dict/smtp_server.dict" ;;
    fuzz_line_buffer) echo "$root/fuzz/dict/line_buffer.dict" ;;
    fuzz_identity_request | fuzz_web_form) echo "$root/fuzz/dict/identity.dict" ;;
    *) echo "$root/fuzz/dict/sasl.dict" ;;
  esac
}

failed=()
summary=()
for t in "${targets[@]}"; do
  # New inputs go to the first directory, a scratch copy in the build tree; the committed seeds
  # in fuzz/corpus are only read.
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts"
  log="$build/logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  echo "== $t: ${seconds}s"
  set +e
  "$build/fuzz/$t" "$corpus" "$root/fuzz/corpus/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -dict="$(dict_for "$t")" -print_final_stats=1 \
    -artifact_prefix="$artifacts/$t-" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n1 | cut -d' ' -f2)
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    summary+=("$(printf '%-22s FAILED (exit %s), log %s' "$t" "$rc" "$log")")
    tail -n 60 "$log" >&2
  else
    summary+=("$(printf '%-22s ok  %10s execs  cov %s' "$t" "${execs:-?}" "${cov:-?}")")
  fi
done

echo
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]} (inputs in $build/artifacts)" >&2
  exit 1
fi
echo "fuzzers clean"

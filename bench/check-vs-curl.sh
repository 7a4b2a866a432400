#!/usr/bin/env bash
# Benchmark (not a test): one whole authentication over imaps:// -- process start, connect,
# TLS handshake, AUTHENTICATE, log out -- by `mailoauth check` and by `curl --oauth2-bearer`,
# with the same token against the same private Dovecot, interleaved, and prints the medians
# and their ratio (target: mailoauth/curl <= 1.0). Builds nothing.
#
#   bench/check-vs-curl.sh [--runs N] [--warmup N] [MAILOAUTH_BINARY]
#
# MAILOAUTH_BINARY defaults to build/tools/mailoauth/mailoauth; mint_jwt is taken from the same
# build tree (tests/support/mint_jwt), or from $MINT_JWT.
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME and awk's numbers with a decimal point
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

runs=30 warmup=3 binary=""
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "check-vs-curl: unknown option $1" >&2; exit 2 ;;
    *) binary=$1; shift ;;
  esac
done
binary=${binary:-$root/build/tools/mailoauth/mailoauth}
[ -x "$binary" ] || { echo "check-vs-curl: no mailoauth binary at $binary (build first)" >&2; exit 2; }
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
build_dir=$(cd "$(dirname "$binary")/../.." && pwd)
mint=${MINT_JWT:-$build_dir/tests/support/mint_jwt}
[ -x "$mint" ] || { echo "check-vs-curl: no mint_jwt at $mint (ninja mint_jwt)" >&2; exit 2; }
command -v curl >/dev/null || { echo "check-vs-curl: curl is not installed" >&2; exit 2; }

work=$(mktemp -d /tmp/mailoauth-bench.XXXXXX)
ctl=$root/tests/support/dovecot/dovecot-ctl.sh
cleanup() {
  bash "$ctl" stop "$work/dovecot" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# XOAUTH2 only: curl 7.88 would pick OAUTHBEARER if offered, and mailoauth picks XOAUTH2 by
# default; offering one mechanism makes both run the same exchange (XOAUTH2 with SASL-IR).
bash "$ctl" start "$work/dovecot" --mechanisms xoauth2 --owner-pid $$ >/dev/null
# shellcheck disable=SC1091
source "$work/dovecot/instance.env"

user=bench@example.org
token=$("$mint" --key "$SIGNING_KEY" --kid "$KID" --email "$user")
token_file=$work/token
(umask 077 && printf '%s\n' "$token" >"$token_file")
target=imaps://127.0.0.1:$IMAPS_PORT

# curl: greeting, CAPABILITY, AUTHENTICATE, NOOP, LOGOUT. mailoauth: greeting (with its
# capabilities), AUTHENTICATE, LOGOUT.
run_mailoauth() {
  "$binary" check "$target" --user "$user" --token-file "$token_file" --cafile "$CA_FILE" >/dev/null
}
run_curl() {
  curl -s --cacert "$CA_FILE" --oauth2-bearer "$token" -u "$user:" "$target/" -X NOOP >/dev/null
}

# Wall time of one call in microseconds; EPOCHREALTIME costs no process of its own.
time_us() {
  local start=$EPOCHREALTIME
  "$@" || { echo "check-vs-curl: '$1' failed" >&2; exit 1; }
  local end=$EPOCHREALTIME
  echo $((${end/./} - ${start/./}))
}

median() {
  sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# The first logins create the mailbox and warm the caches; they are not counted.
for _ in $(seq "$warmup"); do
  run_mailoauth
  run_curl
done

m_times=() c_times=()
for i in $(seq "$runs"); do
  # Interleaved, alternating which goes first, so that drifts in machine load hit both.
  if ((i % 2)); then
    m_times+=("$(time_us run_mailoauth)")
    c_times+=("$(time_us run_curl)")
  else
    c_times+=("$(time_us run_curl)")
    m_times+=("$(time_us run_mailoauth)")
  fi
done

m_median=$(printf '%s\n' "${m_times[@]}" | median)
c_median=$(printf '%s\n' "${c_times[@]}" | median)
awk -v m="$m_median" -v c="$c_median" -v n="$runs" -v cpus="$(nproc)" \
  -v curlv="$(curl --version | head -n 1 | cut -d' ' -f1-2)" 'BEGIN {
  printf "imaps:// connect + TLS + AUTHENTICATE XOAUTH2 + logout, %d interleaved runs each, %d CPUs\n", n, cpus
  printf "  mailoauth check   median %7.1f ms\n", m / 1000
  printf "  %-16s  median %7.1f ms\n", curlv, c / 1000
  printf "  ratio mailoauth/curl: %.2f\n", m / c
}'

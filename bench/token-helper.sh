#!/usr/bin/env bash
# Times `mailoauth token ACCOUNT` with a valid cached token (the token helper's common case, run
# by mail programs on every connection) against /bin/true as the floor: median wall time of
# N runs each, interleaved, plus the instruction counts of one run of each under callgrind,
# which do not depend on how busy the machine is.
#   bench/token-helper.sh [MAILOAUTH_BINARY] [--runs N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/tools/mailoauth/mailoauth}
runs=100
[ "${2:-}" = "--runs" ] && runs=$3
[ -x "$bin" ] || { echo "no binary at $bin; run scripts/build.sh" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/state/mailoauth/tokens"
chmod 700 "$work/state" "$work/state/mailoauth" "$work/state/mailoauth/tokens"
cat >"$work/config.toml" <<TOML
[accounts.bench]
provider = "microsoft"
tenant = "contoso.onmicrosoft.com"
client_id = "00000000-0000-0000-0000-000000000001"
username = "alice@contoso.com"
TOML
now=$(date +%s)
# A plausible Office 365-sized token (1.6 KB), fresh for an hour: nothing to refresh.
token=$(head -c 1200 /dev/urandom | base64 -w0 | tr '+/' '-_')
cat >"$work/state/mailoauth/tokens/bench.json" <<JSON
{"version":1,"access_token":"$token","refresh_token":"r","id_token":"","token_type":"Bearer",
 "scope":"https://outlook.office365.com/IMAP.AccessAsUser.All offline_access",
 "expires_at":$((now + 3600)),"refresh_at":$((now + 3300)),"obtained_at":$now,
 "token_endpoint":"https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
 "client_id":"00000000-0000-0000-0000-000000000001","username":"alice@contoso.com"}
JSON
chmod 600 "$work/state/mailoauth/tokens/bench.json"
export XDG_STATE_HOME=$work/state
cmd=("$bin" --config "$work/config.toml" token bench)
[ "$("${cmd[@]}")" = "$token" ] || { echo "mailoauth token did not print the cached token" >&2; exit 1; }

python3 - "$runs" "${cmd[@]}" <<'PY'
import statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
def once(c):
    t = time.perf_counter(); subprocess.run(c, stdout=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - t) * 1000
a, b = [], []
for i in range(runs):
    for c, out in ((["/bin/true"], a), (cmd, b)) if i % 2 == 0 else ((cmd, b), (["/bin/true"], a)):
        out.append(once(c))
ma, mb = statistics.median(a), statistics.median(b)
print(f"/bin/true        median {ma:6.2f} ms")
print(f"mailoauth token  median {mb:6.2f} ms   (above the floor: {mb - ma:.2f} ms; {runs} runs each)")
PY
if command -v valgrind >/dev/null; then
  ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | awk '/refs:/{gsub(",","",$4); print $4}'; }
  echo "instructions: /bin/true $(ir /bin/true), mailoauth token $(ir "${cmd[@]}")"
fi

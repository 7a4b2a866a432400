#!/usr/bin/env bash
# Self-test of the test authorization server (server.mjs) and the browser driver (browser.mjs),
# with curl and node only (no mailoauth code): auth code + PKCE through Chromium to a loopback
# listener, refresh-token rotation and reuse detection, the device flow (interval, slow_down,
# decline, expiry), client credentials, implicit "id_token token", the access-token claims and
# signature, Microsoft-shaped forced errors, and counting token requests in the log.
#
#   tests/support/oidc/selftest.sh        (installs node_modules with `npm ci` when missing)
#
# Exits non-zero on the first failure; stops everything it started. KEEP_WORK=1 keeps the
# temporary folder (server log, token log, responses) for a look after a failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/oidc-selftest.XXXXXX")
PIDS=()
START=$(date +%s%N)

cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ]; then
    echo "--- server stderr (last 30 lines) ---" >&2
    tail -n 30 "$WORK/server.err" >&2 2>/dev/null || true
    echo "--- token log (last 10 lines) ---" >&2
    tail -n 10 "$WORK/token.log" >&2 2>/dev/null || true
  fi
  if [ -n "${KEEP_WORK:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
elapsed() { echo "$(( ($(date +%s%N) - START) / 1000000 )) ms"; }

# j FILE EXPR: evaluate a JavaScript expression over the JSON document in FILE (bound to j).
j() {
  node -e '
    const fs = require("fs");
    const j = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const v = new Function("j", "return (" + process.argv[2] + ")")(j);
    process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));
  ' "$1" "$2"
}
# expect FILE EXPR DESCRIPTION: EXPR must be truthy
expect() {
  local v
  v=$(j "$1" "$2") || fail "$3 (could not evaluate $2 on $(head -c 400 "$1"))"
  [ "$v" = "true" ] || fail "$3: $2 is $v in $(head -c 600 "$1")"
}
# jwt_json TOKEN OUT: write {"header":...,"payload":...} of a compact JWS to OUT
jwt_json() {
  node -e '
    const [h, p] = process.argv[1].split(".").slice(0, 2).map((x) => JSON.parse(Buffer.from(x, "base64url")));
    process.stdout.write(JSON.stringify({ header: h, payload: p }));
  ' "$1" > "$2"
}
# token OUT [curl args...]: POST to the token endpoint; body to OUT, HTTP status on stdout
token() {
  local out=$1; shift
  curl -sS -o "$out" -w '%{http_code}' -X POST "$ISS/token" "$@"
}
# admin PATH JSON: POST a JSON body to a /test/ endpoint
admin() {
  curl -sS -f -X POST -H 'content-type: application/json' -d "$2" "$ISS/test/$1" > "$WORK/admin.json" \
    || fail "POST /test/$1 $2 failed: $(cat "$WORK/admin.json" 2>/dev/null)"
}
count() { node "$HERE/logcount.mjs" "$WORK/token.log" "$@"; }
# wait_line FILE PID WHAT: wait up to 15 s until FILE has a line
wait_line() {
  for _ in $(seq 150); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || fail "$3 exited early: $(cat "$1" 2>/dev/null)"
    sleep 0.1
  done
  fail "$3 did not start within 15 s"
}

# --------------------------------------------------------------------------------------------
echo "# setup"
command -v curl >/dev/null || fail "curl is not installed"
[ -x /usr/bin/chromium ] || [ -n "${CHROMIUM:-}" ] || fail "chromium is not installed (apt-get install -y --no-install-recommends chromium)"
if [ ! -d "$HERE/node_modules/oidc-provider" ] || [ ! -d "$HERE/node_modules/playwright-core" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed"
fi

export OIDC_TEST_TIMEOUT=${OIDC_TEST_TIMEOUT:-60} # browser.mjs: generous on a loaded machine
LOGIN=alice@example.test
ACCESS_TTL=600
node "$HERE/server.mjs" --port 0 --log "$WORK/token.log" --access-ttl "$ACCESS_TTL" \
  --public-key-out "$WORK/public.pem" --dovecot-keydir "$WORK/keys" --device-interval 1 \
  > "$WORK/server.out" 2> "$WORK/server.err" &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_line "$WORK/server.out" "$SERVER_PID" "server.mjs"
expect "$WORK/server.out" 'j.ready === true && j.issuer === "http://127.0.0.1:" + j.port' "readiness line"
[ "$(wc -l < "$WORK/server.out")" -eq 1 ] || fail "stdout must hold exactly one line: $(cat "$WORK/server.out")"
ISS=$(j "$WORK/server.out" j.issuer)
KID=$(j "$WORK/server.out" j.kid)
ok "server ready at $ISS (kid $KID) after $(elapsed)"

curl -sS -f "$ISS/.well-known/openid-configuration" > "$WORK/disco.json"
expect "$WORK/disco.json" 'j.issuer === "'"$ISS"'" && j.code_challenge_methods_supported.join() === "S256"' "discovery: issuer, S256"
expect "$WORK/disco.json" 'j.device_authorization_endpoint === "'"$ISS"'/device/auth" && j.grant_types_supported.includes("client_credentials")' "discovery: device + client credentials"
expect "$WORK/disco.json" 'j.response_types_supported.includes("id_token token") && j.response_types_supported.includes("code")' "discovery: response types"
ok "discovery document"

curl -sS -f "$ISS/test/public-key.pem" > "$WORK/public-http.pem"
cmp -s "$WORK/public.pem" "$WORK/public-http.pem" || fail "/test/public-key.pem differs from --public-key-out"
cmp -s "$WORK/public.pem" "$WORK/keys/default/RS256/$KID" || fail "--dovecot-keydir file missing or different"
ok "public key: --public-key-out, --dovecot-keydir (default/RS256/$KID), GET /test/public-key.pem"

# --------------------------------------------------------------------------------------------
echo "# authorization code + PKCE through the browser"

# A loopback listener: answers one redirect (query) and prints it; for a fragment (implicit) it
# serves a page that posts the fragment back, then prints that.
cat > "$WORK/loopback.mjs" <<'EOF'
import http from 'node:http';
const srv = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  if (req.method === 'GET' && u.search) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('selftest listener: authorization response received\n');
    console.log(JSON.stringify({ query: Object.fromEntries(u.searchParams) }));
    srv.close();
  } else if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><body>posting<script>fetch("/fragment",{method:"POST",body:location.hash.slice(1)})'
      + '.then((r)=>r.text()).then((t)=>{document.body.textContent=t})</script></body>');
  } else {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('selftest listener: fragment received');
      console.log(JSON.stringify({ query: Object.fromEntries(new URLSearchParams(body)) }));
      srv.close();
    });
  }
});
srv.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: srv.address().port })));
EOF
# start_listener NAME: starts it, sets LPORT
start_listener() {
  node "$WORK/loopback.mjs" > "$WORK/$1.out" 2>&1 &
  PIDS+=("$!")
  wait_line "$WORK/$1.out" "$!" "loopback listener"
  LPORT=$(head -n 1 "$WORK/$1.out" | node -pe 'JSON.parse(require("fs").readFileSync(0)).port')
}
urlenc() { node -pe 'encodeURIComponent(process.argv[1])' "$1"; }

SCOPE="https://outlook.office365.com/IMAP.AccessAsUser.All https://outlook.office365.com/POP.AccessAsUser.All https://outlook.office365.com/SMTP.Send offline_access"
VERIFIER=$(node -pe 'require("crypto").randomBytes(48).toString("base64url")')
CHALLENGE=$(node -pe 'require("crypto").createHash("sha256").update(process.argv[1]).digest("base64url")' "$VERIFIER")
STATE=st-$RANDOM$RANDOM

# PKCE is required for the public client: no code_challenge -> error redirect, no login page.
NOPKCE=$(curl -sS -o /dev/null -w '%{redirect_url}' "$ISS/auth?client_id=mailoauth-native&response_type=code&redirect_uri=$(urlenc http://127.0.0.1:5/)&scope=$(urlenc "$SCOPE")&state=s")
case "$NOPKCE" in
  http://127.0.0.1:5/?error=invalid_request*PKCE*) ok "PKCE required for mailoauth-native" ;;
  *) fail "authorization without PKCE was not refused: $NOPKCE" ;;
esac

start_listener loop1
REDIRECT="http://127.0.0.1:$LPORT/"
AUTH_URL="$ISS/auth?client_id=mailoauth-native&response_type=code&redirect_uri=$(urlenc "$REDIRECT")&scope=$(urlenc "$SCOPE")&state=$STATE&code_challenge=$CHALLENGE&code_challenge_method=S256"
T0=$(date +%s%N)
node "$HERE/browser.mjs" authorize "$AUTH_URL" --login "$LOGIN" > "$WORK/browser1.json" \
  || fail "browser authorize: $(cat "$WORK/browser1.json")"
ok "browser.mjs authorize: login + consent + redirect in $(( ($(date +%s%N) - T0) / 1000000 )) ms"
expect "$WORK/browser1.json" 'j.ok && j.url.startsWith("'"$REDIRECT"'?code=") && j.text.includes("authorization response received")' "browser result"
sleep 0.2
tail -n 1 "$WORK/loop1.out" > "$WORK/redirect1.json"
expect "$WORK/redirect1.json" 'j.query.state === "'"$STATE"'" && j.query.iss === "'"$ISS"'" && j.query.code.length > 20' "redirect carries code, state, iss"
CODE=$(j "$WORK/redirect1.json" j.query.code)
ok "loopback listener got code, state and iss"

S=$(token "$WORK/t1.json" -d grant_type=authorization_code -d client_id=mailoauth-native \
  --data-urlencode "code=$CODE" --data-urlencode "code_verifier=$VERIFIER" --data-urlencode "redirect_uri=$REDIRECT" \
  --data-urlencode "scope=$SCOPE")
[ "$S" = 200 ] || fail "code redemption: HTTP $S $(cat "$WORK/t1.json")"
expect "$WORK/t1.json" 'j.token_type === "Bearer" && j.expires_in === '"$ACCESS_TTL"' && typeof j.refresh_token === "string"' "token response with refresh token (offline_access without prompt=consent)"
ok "code redeemed with the verifier: access + refresh token"

# --------------------------------------------------------------------------------------------
echo "# access token claims and signature"
jwt_json "$(j "$WORK/t1.json" j.access_token)" "$WORK/at1.json"
expect "$WORK/at1.json" 'j.header.typ === "JWT" && j.header.alg === "RS256" && j.header.kid === "'"$KID"'"' "JWT header typ/alg/kid"
expect "$WORK/at1.json" 'j.payload.iss === "'"$ISS"'" && j.payload.aud === "https://outlook.office365.com"' "iss, aud"
expect "$WORK/at1.json" 'j.payload.sub === "'"$LOGIN"'" && j.payload.email === "'"$LOGIN"'" && j.payload.upn === "'"$LOGIN"'"' "sub, email, upn = login"
expect "$WORK/at1.json" 'j.payload.scp === "IMAP.AccessAsUser.All POP.AccessAsUser.All SMTP.Send"' "scp"
expect "$WORK/at1.json" 'j.payload.exp - j.payload.iat === '"$ACCESS_TTL"' && j.payload.exp > Date.now() / 1000' "exp"
expect "$WORK/at1.json" '!("azp" in j.payload)' "no azp (Dovecot then looks the key up under default/)"
node -e '
  const crypto = require("crypto"), fs = require("fs");
  const [h, p, s] = process.argv[1].split(".");
  const ok = crypto.verify("sha256", Buffer.from(h + "." + p), fs.readFileSync(process.argv[2]), Buffer.from(s, "base64url"));
  process.exit(ok ? 0 : 1);
' "$(j "$WORK/t1.json" j.access_token)" "$WORK/keys/default/RS256/$KID" || fail "RS256 signature does not verify with the PEM public key"
ok "access token: typ JWT, RS256, kid, iss, aud, sub/email/upn, scp, exp; signature verifies with the PEM"
echo "  decoded: $(cat "$WORK/at1.json")"

# --------------------------------------------------------------------------------------------
echo "# refresh token rotation"
RT1=$(j "$WORK/t1.json" j.refresh_token)
S=$(token "$WORK/t2.json" -d grant_type=refresh_token -d client_id=mailoauth-native --data-urlencode "refresh_token=$RT1" --data-urlencode "scope=$SCOPE")
[ "$S" = 200 ] || fail "refresh 1: HTTP $S $(cat "$WORK/t2.json")"
RT2=$(j "$WORK/t2.json" j.refresh_token)
[ -n "$RT2" ] && [ "$RT2" != "$RT1" ] || fail "refresh 1 did not rotate the refresh token"
S=$(token "$WORK/t3.json" -d grant_type=refresh_token -d client_id=mailoauth-native --data-urlencode "refresh_token=$RT2")
[ "$S" = 200 ] || fail "refresh 2: HTTP $S $(cat "$WORK/t3.json")"
RT3=$(j "$WORK/t3.json" j.refresh_token)
[ -n "$RT3" ] && [ "$RT3" != "$RT2" ] || fail "refresh 2 did not rotate the refresh token"
jwt_json "$(j "$WORK/t3.json" j.access_token)" "$WORK/at3.json"
expect "$WORK/at3.json" 'j.payload.aud === "https://outlook.office365.com" && j.payload.email === "'"$LOGIN"'"' "refreshed access token is a JWT for Outlook"
ok "two refreshes, each returned a new refresh token"
S=$(token "$WORK/t4.json" -d grant_type=refresh_token -d client_id=mailoauth-native --data-urlencode "refresh_token=$RT1")
[ "$S" = 400 ] || fail "reusing the first refresh token: HTTP $S"
expect "$WORK/t4.json" 'j.error === "invalid_grant"' "reuse -> invalid_grant"
S=$(token "$WORK/t5.json" -d grant_type=refresh_token -d client_id=mailoauth-native --data-urlencode "refresh_token=$RT3")
[ "$S" = 400 ] || fail "after reuse the newest refresh token should be revoked too: HTTP $S"
count --grant refresh_token --error invalid_grant --list | tail -n 2 > "$WORK/reuse.log"
grep -q '"error_detail":"refresh token already used"' "$WORK/reuse.log" || fail "log lacks the reuse detail: $(cat "$WORK/reuse.log")"
ok "reused refresh token -> invalid_grant (log: 'refresh token already used'), whole grant revoked"
[ "$(count --grant refresh_token)" = 4 ] || fail "expected 4 refresh requests in the log, got $(count --grant refresh_token)"
[ "$(count --grant refresh_token --outcome ok)" = 2 ] || fail "expected 2 successful refreshes"
ok "log counts 4 refresh requests (2 ok, 2 invalid_grant)"

# --------------------------------------------------------------------------------------------
echo "# device flow"
DEVSCOPE="https://outlook.office365.com/IMAP.AccessAsUser.All https://outlook.office365.com/SMTP.Send offline_access"
device_auth() { # device_auth OUT
  curl -sS -f -X POST "$ISS/device/auth" -d client_id=mailoauth-native --data-urlencode "scope=$DEVSCOPE" > "$1" \
    || fail "device authorization request failed"
}
poll() { # poll DEVICE_CODE OUT -> HTTP status
  token "$2" -d client_id=mailoauth-native -d grant_type=urn:ietf:params:oauth:grant-type:device_code --data-urlencode "device_code=$1"
}

device_auth "$WORK/d1.json"
expect "$WORK/d1.json" 'j.interval === 1 && j.expires_in === 600 && j.verification_uri === "'"$ISS"'/device" && /^[A-Z]{4}-[A-Z]{4}$/.test(j.user_code)' "device authorization response"
expect "$WORK/d1.json" 'j.message === "To sign in, use a web browser to open the page " + j.verification_uri + " and enter the code " + j.user_code + " to authenticate."' "Microsoft-like message"
ok "device authorization: interval 1, expires_in 600, message: $(j "$WORK/d1.json" j.message)"
DC1=$(j "$WORK/d1.json" j.device_code)
UC1=$(j "$WORK/d1.json" j.user_code)

T0=$(date +%s%N)
node "$HERE/browser.mjs" device "$(j "$WORK/d1.json" j.verification_uri)" --code "$UC1" --login bob@example.test > "$WORK/browser2.json" &
BROWSER_PID=$!
PIDS+=("$BROWSER_PID")
INTERVAL=1
ANSWERS=()
for _ in $(seq 40); do
  sleep "$INTERVAL"
  S=$(poll "$DC1" "$WORK/p.json")
  if [ "$S" = 200 ]; then ANSWERS+=(tokens); break; fi
  E=$(j "$WORK/p.json" j.error)
  ANSWERS+=("$E")
  case "$E" in
    authorization_pending) ;;
    slow_down) INTERVAL=$((INTERVAL + 5)) ;;
    *) fail "device poll: $E $(cat "$WORK/p.json")" ;;
  esac
done
[ "${ANSWERS[-1]}" = tokens ] || fail "device flow did not complete: ${ANSWERS[*]}"
wait "$BROWSER_PID" || fail "browser device: $(cat "$WORK/browser2.json")"
expect "$WORK/browser2.json" 'j.ok && j.text.includes("Sign-in Success")' "browser device result"
cp "$WORK/p.json" "$WORK/dtok.json"
expect "$WORK/dtok.json" 'typeof j.refresh_token === "string"' "device flow returns a refresh token"
jwt_json "$(j "$WORK/dtok.json" j.access_token)" "$WORK/dat.json"
expect "$WORK/dat.json" 'j.payload.email === "bob@example.test" && j.payload.scp === "IMAP.AccessAsUser.All SMTP.Send"' "device access token claims"
ok "device flow: browser entered the code; polls answered: ${ANSWERS[*]} ($(( ($(date +%s%N) - T0) / 1000000 )) ms)"
S=$(poll "$DC1" "$WORK/p.json")
expect "$WORK/p.json" 'j.error === "invalid_grant"' "second redemption of a device code"
ok "redeeming the device code again -> invalid_grant"

# Interval enforcement: a poll sooner than the interval gets slow_down (interval 5 s for this
# code, so that a slow machine still polls "too soon").
admin config '{"device_interval":5}'
device_auth "$WORK/d2.json"
admin config '{"device_interval":1}'
S=$(poll "$(j "$WORK/d2.json" j.device_code)" "$WORK/p.json")
expect "$WORK/p.json" 'j.error === "slow_down"' "poll before the interval"
ok "polling before the interval -> slow_down"
# Forced slow_down (test hook), then the interval is 1 + 5 s: a poll 1 s later is too fast.
device_auth "$WORK/d2b.json"
admin device '{"action":"slow_down","user_code":"'"$(j "$WORK/d2b.json" j.user_code)"'"}'
sleep 1
S=$(poll "$(j "$WORK/d2b.json" j.device_code)" "$WORK/p.json")
expect "$WORK/p.json" 'j.error === "slow_down"' "forced slow_down"
sleep 1
S=$(poll "$(j "$WORK/d2b.json" j.device_code)" "$WORK/p.json")
expect "$WORK/p.json" 'j.error === "slow_down" && j.error_description.includes("11 seconds")' "interval grows by 5 s per slow_down"
count --grant device_code --error slow_down --list | tail -n 2 > "$WORK/slow.log"
grep -q '"forced":"slow_down"' "$WORK/slow.log" && grep -q '"forced":"interval"' "$WORK/slow.log" \
  || fail "log does not tell forced from interval slow_down: $(cat "$WORK/slow.log")"
ok "POST /test/device {action:slow_down} -> slow_down; polling 1 s later (interval now 6 s) -> slow_down again"

# Decline in the browser, Microsoft error names.
admin config '{"device_errors":"microsoft"}'
device_auth "$WORK/d3.json"
T0=$(date +%s%N)
node "$HERE/browser.mjs" device "$(j "$WORK/d3.json" j.verification_uri_complete)" --login bob@example.test --deny > "$WORK/browser3.json" \
  || fail "browser device --deny: $(cat "$WORK/browser3.json")"
expect "$WORK/browser3.json" 'j.ok && j.denied === true' "browser deny result"
S=$(poll "$(j "$WORK/d3.json" j.device_code)" "$WORK/p.json")
expect "$WORK/p.json" 'j.error === "authorization_declined"' "declined device code (microsoft)"
ok "browser.mjs device --deny -> authorization_declined ($(( ($(date +%s%N) - T0) / 1000000 )) ms)"
S=$(poll "not-a-device-code" "$WORK/p.json")
expect "$WORK/p.json" 'j.error === "bad_verification_code"' "unknown device code (microsoft)"
ok "unknown device code -> bad_verification_code (microsoft)"
admin config '{"device_errors":"rfc"}'

# Decline through the test hook (no browser), RFC error names.
device_auth "$WORK/d4.json"
admin device '{"action":"deny","user_code":"'"$(j "$WORK/d4.json" j.user_code)"'"}'
sleep 1
S=$(poll "$(j "$WORK/d4.json" j.device_code)" "$WORK/p.json")
expect "$WORK/p.json" 'j.error === "access_denied"' "declined device code (rfc)"
ok "POST /test/device {action:deny} -> access_denied (rfc)"

# Expiry: short device-code lifetime (whole seconds), and the expire hook.
admin config '{"device_ttl":2}'
device_auth "$WORK/d5.json"
admin config '{"device_ttl":600}'
expect "$WORK/d5.json" 'j.expires_in === 2' "short expires_in"
sleep 2.2
S=$(poll "$(j "$WORK/d5.json" j.device_code)" "$WORK/p.json")
expect "$WORK/p.json" 'j.error === "expired_token"' "expired device code"
device_auth "$WORK/d6.json"
admin device '{"action":"expire","user_code":"'"$(j "$WORK/d6.json" j.user_code)"'"}'
sleep 1
S=$(poll "$(j "$WORK/d6.json" j.device_code)" "$WORK/p.json")
expect "$WORK/p.json" 'j.error === "expired_token"' "expired by the hook"
ok "device_ttl 2 s -> expires_in 2, expired_token after it; POST /test/device {action:expire} -> expired_token"

# --------------------------------------------------------------------------------------------
echo "# client credentials"
CC=https://outlook.office365.com/.default
S=$(token "$WORK/c1.json" -u mailoauth-confidential:mailoauth-test-secret -d grant_type=client_credentials --data-urlencode "scope=$CC")
[ "$S" = 200 ] || fail "client credentials (basic): HTTP $S $(cat "$WORK/c1.json")"
admin config '{"cc_email":"shared@example.test"}'
S=$(token "$WORK/c2.json" -d grant_type=client_credentials -d client_id=mailoauth-confidential -d client_secret=mailoauth-test-secret --data-urlencode "scope=$CC")
[ "$S" = 200 ] || fail "client credentials (post): HTTP $S $(cat "$WORK/c2.json")"
admin config '{"cc_email":""}'
expect "$WORK/c1.json" '!("refresh_token" in j) && j.scope === "'"$CC"'"' "client credentials response"
jwt_json "$(j "$WORK/c1.json" j.access_token)" "$WORK/cat1.json"
jwt_json "$(j "$WORK/c2.json" j.access_token)" "$WORK/cat2.json"
expect "$WORK/cat1.json" 'j.header.typ === "JWT" && j.payload.aud === "https://outlook.office365.com" && j.payload.roles.includes("IMAP.AccessAsApp") && !j.payload.email' "app-only claims"
expect "$WORK/cat2.json" 'j.payload.email === "shared@example.test"' "cc_email claim"
S=$(token "$WORK/c3.json" -u mailoauth-confidential:wrong -d grant_type=client_credentials --data-urlencode "scope=$CC")
expect "$WORK/c3.json" 'j.error === "invalid_client"' "wrong secret"
S=$(token "$WORK/c4.json" -d grant_type=client_credentials -d client_id=mailoauth-native --data-urlencode "scope=$CC")
expect "$WORK/c4.json" '["unauthorized_client", "invalid_client", "invalid_request"].includes(j.error)' "public client may not use client credentials"
ok "client credentials: basic + post, roles, cc_email hook, wrong secret -> invalid_client, public client refused"
verify_sig() { # verify_sig TOKEN: exit status 0 when the RS256 signature verifies with the PEM
  node -e '
    const crypto = require("crypto"), fs = require("fs");
    const [h, p, s] = process.argv[1].split(".");
    process.exit(crypto.verify("sha256", Buffer.from(h + "." + p), fs.readFileSync(process.argv[2]), Buffer.from(s, "base64url")) ? 0 : 1);
  ' "$1" "$WORK/public.pem"
}
admin config '{"access_ttl":5,"refresh_in":3,"bad_signature_next":1}'
token "$WORK/c5.json" -u mailoauth-confidential:mailoauth-test-secret -d grant_type=client_credentials --data-urlencode "scope=$CC" > /dev/null
token "$WORK/c6.json" -u mailoauth-confidential:mailoauth-test-secret -d grant_type=client_credentials --data-urlencode "scope=$CC" > /dev/null
admin config '{"access_ttl":'"$ACCESS_TTL"',"refresh_in":null}'
expect "$WORK/c5.json" 'j.expires_in === 5 && j.refresh_in === 3' "access_ttl and refresh_in at run time"
verify_sig "$(j "$WORK/c5.json" j.access_token)" && fail "bad_signature_next: the tampered token verifies"
verify_sig "$(j "$WORK/c6.json" j.access_token)" || fail "bad_signature_next: the token after it does not verify"
jwt_json "$(j "$WORK/c5.json" j.access_token)" "$WORK/cat5.json"
expect "$WORK/cat5.json" 'j.header.kid === "'"$KID"'" && j.payload.exp - j.payload.iat === 5' "tampered token keeps kid and claims"
ok "POST /test/config: access_ttl 5 + refresh_in 3 in the response; bad_signature_next 1 -> one token whose signature fails"

# --------------------------------------------------------------------------------------------
echo "# implicit (id_token token) through the browser"
start_listener loop2
REDIRECT2="http://127.0.0.1:$LPORT/"
IMP_URL="$ISS/auth?client_id=mailoauth-native&response_type=$(urlenc 'id_token token')&redirect_uri=$(urlenc "$REDIRECT2")&scope=$(urlenc "openid https://outlook.office365.com/IMAP.AccessAsUser.All")&state=imp&nonce=n-$RANDOM"
T0=$(date +%s%N)
node "$HERE/browser.mjs" authorize "$IMP_URL" --login carol@example.test --expect-text "fragment received" > "$WORK/browser4.json" \
  || fail "browser implicit: $(cat "$WORK/browser4.json")"
sleep 0.2
tail -n 1 "$WORK/loop2.out" > "$WORK/redirect2.json"
expect "$WORK/redirect2.json" 'j.query.state === "imp" && j.query.token_type === "Bearer" && !!j.query.id_token && !j.query.refresh_token' "implicit fragment"
jwt_json "$(j "$WORK/redirect2.json" j.query.access_token)" "$WORK/iat.json"
expect "$WORK/iat.json" 'j.header.typ === "JWT" && j.payload.aud === "https://outlook.office365.com" && j.payload.email === "carol@example.test"' "implicit access token"
ok "implicit id_token token: fragment posted back to the listener, JWT access token ($(( ($(date +%s%N) - T0) / 1000000 )) ms)"

# --------------------------------------------------------------------------------------------
echo "# paste-flow capture and denial, browser.mjs used the \$BROWSER way (URL + environment)"
V2=$(node -pe 'require("crypto").randomBytes(48).toString("base64url")')
C2=$(node -pe 'require("crypto").createHash("sha256").update(process.argv[1]).digest("base64url")' "$V2")
NOWHERE="http://localhost:$((20000 + RANDOM % 20000))/" # nothing listens there
PASTE_URL="$ISS/auth?client_id=mailoauth-native&response_type=code&redirect_uri=$(urlenc "$NOWHERE")&scope=$(urlenc "$SCOPE")&state=paste&code_challenge=$C2&code_challenge_method=S256"
T0=$(date +%s%N)
OIDC_TEST_LOGIN=dave@example.test OIDC_TEST_DENY=1 OIDC_TEST_CAPTURE_REDIRECT=1 OIDC_TEST_BROWSER_OUT="$WORK/browser5.json" \
  node "$HERE/browser.mjs" "$PASTE_URL" > /dev/null || fail "browser capture: $(cat "$WORK/browser5.json")"
expect "$WORK/browser5.json" 'j.ok && j.captured && j.denied && j.url.startsWith("'"$NOWHERE"'?error=access_denied") && j.url.includes("state=paste")' "captured denial redirect"
ok "denied at consent; redirect captured without a listener: error=access_denied&state=paste ($(( ($(date +%s%N) - T0) / 1000000 )) ms)"

# --------------------------------------------------------------------------------------------
echo "# Microsoft-shaped forced errors"
for code in 50011 65001 700016 50076 53003 70011 700025 7000218 7000012 900144 700082 70043 50126 90002; do
  admin next-error '{"code":'"$code"'}'
  S=$(token "$WORK/e.json" -H "client-request-id: 11111111-2222-3333-4444-555555555555" -d grant_type=refresh_token -d client_id=mailoauth-native -d refresh_token=whatever)
  case "$S" in 400|401) ;; *) fail "AADSTS$code: HTTP $S" ;; esac
  expect "$WORK/e.json" 'j.error_description.startsWith("AADSTS'"$code"': ") && j.error_codes[0] === '"$code"' && j.correlation_id === "11111111-2222-3333-4444-555555555555" && /^[0-9a-f-]{36}$/.test(j.trace_id) && /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/.test(j.timestamp)' "AADSTS$code body"
done
ok "14 AADSTS errors: error, error_description AADSTSnnnnn:, error_codes, correlation_id (echoes client-request-id), trace_id, timestamp"
admin next-error '{"preset":"throttled","retry_after":3,"grant_type":"refresh_token"}'
S=$(curl -sS -D "$WORK/h.txt" -o "$WORK/e.json" -w '%{http_code}' -X POST "$ISS/token" -d grant_type=refresh_token -d client_id=mailoauth-native -d refresh_token=x)
[ "$S" = 429 ] && grep -qi '^retry-after: 3' "$WORK/h.txt" || fail "throttled preset: HTTP $S $(cat "$WORK/h.txt")"
admin next-error '{"preset":"drop"}'
set +e; curl -sS -o /dev/null -X POST "$ISS/token" -d grant_type=refresh_token -d client_id=mailoauth-native -d refresh_token=x 2>/dev/null; RC=$?; set -e
[ "$RC" = 52 ] || [ "$RC" = 56 ] || fail "drop preset: curl exit $RC (expected 52 empty reply)"
admin next-error '{"preset":"html500"}'
S=$(token "$WORK/e.html" -d grant_type=refresh_token -d client_id=mailoauth-native -d refresh_token=x)
[ "$S" = 500 ] && grep -q '<html>' "$WORK/e.html" || fail "html500 preset: HTTP $S"
ok "presets: throttled (429 + Retry-After), drop (connection closed), html500"

# --error-mode on the command line, with a second server.
node "$HERE/server.mjs" --port 0 --error-mode 65001:2 > "$WORK/server2.out" 2> "$WORK/server2.err" &
PIDS+=("$!")
wait_line "$WORK/server2.out" "$!" "second server.mjs"
ISS2=$(j "$WORK/server2.out" j.issuer)
for n in 1 2 3; do
  curl -sS -o "$WORK/e$n.json" -X POST "$ISS2/token" -u mailoauth-confidential:mailoauth-test-secret -d grant_type=client_credentials --data-urlencode "scope=$CC"
done
expect "$WORK/e1.json" 'j.error_codes[0] === 65001' "--error-mode first"
expect "$WORK/e2.json" 'j.error_codes[0] === 65001' "--error-mode second"
expect "$WORK/e3.json" 'typeof j.access_token === "string"' "--error-mode exhausted"
ok "--error-mode 65001:2 -> two AADSTS65001 answers, then tokens"

# --------------------------------------------------------------------------------------------
echo "# counting token requests"
# 20 concurrent requests: one log line each, all well-formed.
BEFORE=$(count --grant client_credentials)
CPIDS=()
for _ in $(seq 20); do
  curl -sS -o /dev/null -X POST "$ISS/token" -u mailoauth-confidential:mailoauth-test-secret -d grant_type=client_credentials --data-urlencode "scope=$CC" &
  CPIDS+=("$!")
done
for p in "${CPIDS[@]}"; do wait "$p" || fail "a concurrent curl failed"; done
AFTER=$(count --grant client_credentials)
[ $((AFTER - BEFORE)) = 20 ] || fail "20 concurrent requests logged as $((AFTER - BEFORE))"
curl -sS -f "$ISS/test/stats" > "$WORK/stats.json"
expect "$WORK/stats.json" 'j.token.refresh_token.ok === 2 && j.token.client_credentials.ok === '"$(count --grant client_credentials --outcome ok)" "GET /test/stats agrees with the log"
ok "20 concurrent token requests -> 20 log lines; refresh requests: $(count --grant refresh_token) ($(count --grant refresh_token --outcome ok) ok); /test/stats agrees"

kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
kill -0 "$SERVER_PID" 2>/dev/null && fail "server did not stop on SIGTERM"
ok "server stops on SIGTERM"

echo "PASS: oidc selftest in $(elapsed)"

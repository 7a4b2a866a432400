#!/usr/bin/env bash
# The main job on this machine, without a tenant: starts a private Dovecot on loopback that
# validates RS256 access tokens (its own CA and signing key), signs tokens for a test user, and
# authenticates with `mailoauth check` over IMAP, POP3 and SMTP, implicit TLS and STARTTLS,
# XOAUTH2 and OAUTHBEARER; then shows the failure path with an expired token. Stops everything
# it started. Exit status: 0 when every step behaved as expected.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
mailoauth=$build/tools/mailoauth/mailoauth
mint=$build/tests/support/mint_jwt
for f in "$mailoauth" "$mint"; do
  [ -x "$f" ] || { echo "demo: $f is missing; run: bash scripts/build.sh" >&2; exit 2; }
done

work=$(mktemp -d)
cleanup() {
  bash "$root/tests/support/dovecot/dovecot-ctl.sh" stop "$work/dovecot" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== starting a private Dovecot (IMAP, POP3, submission) on 127.0.0.1"
bash "$root/tests/support/dovecot/dovecot-ctl.sh" start "$work/dovecot" --owner-pid $$ >/dev/null
# shellcheck disable=SC1091
source "$work/dovecot/instance.env"
user=alice@example.test
umask 077
"$mint" --key "$SIGNING_KEY" --kid "$KID" --email "$user" --expires-in 3600 >"$work/token"
"$mint" --key "$SIGNING_KEY" --kid "$KID" --email "$user" --expires-in -60 >"$work/expired"

failures=0
step() {  # expected-exit description mailoauth-args...
  local want=$1 what=$2
  shift 2
  echo
  echo "== $what"
  set +e
  "$mailoauth" check "$@" --user "$user" --cafile "$CA_FILE"
  local got=$?
  set -e
  if [ "$got" -eq "$want" ]; then
    echo "-- as expected (exit $got)"
  else
    echo "-- UNEXPECTED: exit $got, expected $want"
    failures=$((failures + 1))
  fi
}

step 0 "IMAP over implicit TLS, XOAUTH2" "imaps://127.0.0.1:$IMAPS_PORT" --token-file "$work/token"
step 0 "IMAP with STARTTLS, OAUTHBEARER" "imap://127.0.0.1:$IMAP_PORT" --token-file "$work/token" --mech oauthbearer
step 0 "POP3 over implicit TLS (two-step AUTH, as Microsoft requires)" "pop3s://127.0.0.1:$POP3S_PORT" --token-file "$work/token"
step 0 "POP3 with STLS" "pop3://127.0.0.1:$POP3_PORT" --token-file "$work/token"
step 0 "SMTP submission over implicit TLS" "smtps://127.0.0.1:$SUBMISSIONS_PORT" --token-file "$work/token"
step 0 "SMTP submission with STARTTLS" "smtp://127.0.0.1:$SUBMISSION_PORT" --token-file "$work/token"
step 3 "IMAP with an expired token: the JSON error challenge, then NO" "imaps://127.0.0.1:$IMAPS_PORT" --token-file "$work/expired"
step 3 "POP3 with an expired token" "pop3s://127.0.0.1:$POP3S_PORT" --token-file "$work/expired"
step 3 "SMTP with an expired token: 334 challenge, then 535" "smtp://127.0.0.1:$SUBMISSION_PORT" --token-file "$work/expired"

echo
echo "== the XOAUTH2 example of Microsoft's guide, encoded"
"$mailoauth" sasl encode --user test@contoso.onmicrosoft.com --token EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA

echo
if [ "$failures" -eq 0 ]; then
  echo "demo: all steps behaved as expected"
else
  echo "demo: $failures step(s) did not behave as expected" >&2
  exit 1
fi

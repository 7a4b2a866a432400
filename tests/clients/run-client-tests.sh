#!/usr/bin/env bash
# Runs the mail-client recipes of docs/integrations.md for real: msmtp, mbsync, neomutt and
# Python's imaplib/poplib/smtplib authenticate with tokens from `mailoauth token` to a private
# Dovecot 2.3 that validates them with the signing key of a real authorization server
# (tests/support/oidc/server.mjs), after `mailoauth login --flow device` signed in through
# headless Chromium (browser.mjs). For fetchmail it checks the documented limitation.
#
#   tests/clients/run-client-tests.sh MAILOAUTH_BINARY [CLIENT...]
#       CLIENT: msmtp mbsync neomutt fetchmail python (default: all of them)
#
# Every recipe is read from docs/integrations.md (the fenced block after a line
# `<!-- recipe: NAME -->`); only the host names, ports, mailbox address and CA file are changed.
# Each client must log in (its own exit status and output, and Dovecot's `Login: user=<...>,
# method=XOAUTH2`), and must fail with the token of another account ("other", signed in as
# bob@example.test: Dovecot refuses it because its email claim is not the SASL user).
#
# Exits non-zero if any check fails or a service cannot start. Stops everything it started.
# The work folder (configurations, client output, server logs) is kept after a failure, or
# always with KEEP_WORK=1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
doc=$root/docs/integrations.md
oidc_dir=$root/tests/support/oidc
dovecot_ctl=$root/tests/support/dovecot/dovecot-ctl.sh
python=/usr/bin/python3 # Debian's, whatever python3 comes first in PATH
user=alice@example.test
other_user=bob@example.test
all_clients=(msmtp mbsync neomutt fetchmail python)

if [ $# -lt 1 ]; then
  echo "usage: run-client-tests.sh MAILOAUTH_BINARY [${all_clients[*]}]" >&2
  exit 2
fi
binary=$1
shift
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=("${all_clients[@]}")
for c in "${clients[@]}"; do
  case " ${all_clients[*]} " in
    *" $c "*) ;;
    *) echo "run-client-tests: unknown client $c (known: ${all_clients[*]})" >&2 && exit 2 ;;
  esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/mailoauth-clients.XXXXXX")
oidc_pid=""
watchdog_pid=""
bg_pids=()
failures=()
started=$SECONDS

# ---------------------------------------------------------------------------------------------
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  [ -z "$watchdog_pid" ] || kill "$watchdog_pid" 2>/dev/null || true
  for p in "${bg_pids[@]}" $oidc_pid; do kill "$p" 2>/dev/null || true; done
  for p in "${bg_pids[@]}" $oidc_pid; do wait "$p" 2>/dev/null || true; done
  bash "$dovecot_ctl" stop "$work/dovecot" >/dev/null 2>&1 || true
  if [ "$rc" -ne 0 ] || [ ${#failures[@]} -gt 0 ]; then
    [ "$rc" -ne 0 ] || rc=1
    echo "--- Dovecot log (last 40 lines) ---" >&2
    tail -n 40 "$work/dovecot/dovecot.log" >&2 2>/dev/null || true
    echo "--- authorization server stderr (last 15 lines) ---" >&2
    tail -n 15 "$work/oidc.err" >&2 2>/dev/null || true
    echo "run-client-tests: kept $work" >&2
  elif [ -n "${KEEP_WORK:-}" ]; then
    echo "run-client-tests: kept $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
  echo "FAIL: $*" >&2
  exit 1
}
fail() {
  echo "FAIL: $*" >&2
  failures+=("$*")
}
pass() { echo "ok - $*"; }
wanted() { case " ${clients[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac }
# show FILE: a client's output, indented, for a failure message
show() { sed 's/^/    | /' "$1" 2>/dev/null | tail -n 25 >&2 || true; }

# ---------------------------------------------------------------------------------------------
# Prerequisites: a missing tool is a failure, not a skip.
[ -x "$binary" ] || die "no mailoauth binary at $binary"
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
[ -s "$doc" ] || die "no $doc"
need=(node dovecot doveadm openssl "$python")
wanted msmtp && need+=(msmtp)
wanted mbsync && need+=(mbsync)
wanted neomutt && need+=(neomutt msmtp script)
wanted fetchmail && need+=(fetchmail)
for t in "${need[@]}"; do
  command -v "$t" >/dev/null ||
    die "$t is not installed (scripts/install-deps.sh installs it: isync msmtp fetchmail neomutt ...)"
done
[ -x /usr/bin/chromium ] || die "no /usr/bin/chromium (apt-get install chromium)"
[ -d "$oidc_dir/node_modules" ] ||
  die "no $oidc_dir/node_modules: run scripts/install-deps.sh (npm ci in tests/support/oidc)"
if wanted mbsync; then
  compgen -G '/usr/lib/*/sasl2/libkdexoauth2.so*' >/dev/null ||
    die "Cyrus SASL has no XOAUTH2 mechanism (apt-get install libsasl2-modules-kdexoauth2)"
fi

# The clients find their configuration in $HOME and run `mailoauth` from PATH, exactly as the
# recipes say; nothing from the caller's environment may change where mailoauth looks.
export HOME=$work/home
mkdir -p "$HOME" "$work/bin"
ln -s "$binary" "$work/bin/mailoauth" # the curl module is found beside the real file
export PATH=$work/bin:$PATH
export LANG=C.UTF-8 LC_ALL=C.UTF-8
unset XDG_CONFIG_HOME XDG_STATE_HOME XDG_DATA_HOME XDG_CACHE_HOME MAILOAUTH_CONFIG \
  MAILOAUTH_TOKEN MAILOAUTH_MODULE_DIR BROWSER MAIL MAILCHECK \
  http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy NO_PROXY no_proxy \
  SSL_CERT_FILE SSL_CERT_DIR

echo "# versions: $(mailoauth --version 2>&1 | head -n1);" \
  "$(dovecot --version 2>/dev/null | head -n1 | sed 's/^/dovecot /');" \
  "$(wanted msmtp && msmtp --version | head -n1);" \
  "$(wanted mbsync && mbsync --version | head -n1)" \
  "$(wanted mbsync && dpkg-query -W -f='libsasl2-modules-kdexoauth2 ${Version}' libsasl2-modules-kdexoauth2 2>/dev/null);" \
  "$(wanted neomutt && neomutt -v 2>/dev/null | head -n1);" \
  "$(wanted fetchmail && fetchmail --version 2>/dev/null | grep -o 'release [0-9.]*' | sed 's/^/fetchmail /');" \
  "$("$python" --version 2>&1)"

# ---------------------------------------------------------------------------------------------
# Services: Dovecot (IMAP, POP3, submission; XOAUTH2 and OAUTHBEARER) and the authorization
# server. The server writes its public key where Dovecot looks it up (KEYDICT/default/RS256/
# <kid>, the tokens having no azp), before any token is checked: no reload is needed.
bash "$dovecot_ctl" start "$work/dovecot" --owner-pid $$ --lifetime 1800 \
  >"$work/dovecot-ctl.log" 2>&1 || {
  show "$work/dovecot-ctl.log"
  die "Dovecot did not start"
}
# shellcheck disable=SC1091
source "$work/dovecot/instance.env" # IMAPS_PORT POP3S_PORT SUBMISSION_PORT CA_FILE CONFIG LOG ...
pass "Dovecot started (IMAPS $IMAPS_PORT, POP3S $POP3S_PORT, submission $SUBMISSION_PORT)"

node "$oidc_dir/server.mjs" --port 0 --log "$work/oidc.log" \
  --dovecot-keydir "$RUNTIME/keydict" >"$work/oidc.out" 2>"$work/oidc.err" &
oidc_pid=$!
# If this script is killed without a chance to clean up (a CTest timeout), the server goes too;
# Dovecot's supervisor watches this script by itself (--owner-pid).
(
  while kill -0 $$ 2>/dev/null; do sleep 1; done
  kill "$oidc_pid" 2>/dev/null
) </dev/null >/dev/null 2>&1 &
watchdog_pid=$!
for _ in $(seq 300); do
  grep -q '"ready":true' "$work/oidc.out" 2>/dev/null && break
  kill -0 "$oidc_pid" 2>/dev/null || {
    show "$work/oidc.err"
    die "the authorization server exited at start"
  }
  sleep 0.1
done
grep -q '"ready":true' "$work/oidc.out" || die "the authorization server was not ready within 30 s"
read -r issuer kid < <("$python" -c 'import json,sys; j=json.loads(sys.stdin.readline()); print(j["issuer"], j["kid"])' <"$work/oidc.out")
[ -s "$RUNTIME/keydict/default/RS256/$kid" ] || die "the server did not write its key for Dovecot"
chmod -R a+rX "$RUNTIME/keydict" # Dovecot's auth process runs as another user under root
pass "authorization server at $issuer (key $kid installed for Dovecot)"

mkdir -p "$HOME/.config/mailoauth"
{
  echo 'default = "work"'
  for acct in work other; do
    name=$user
    [ "$acct" = work ] || name=$other_user
    cat <<TOML

[accounts.$acct]
provider = "custom"
issuer = "$issuer"
client_id = "mailoauth-native"
username = "$name"
scopes = ["https://outlook.office365.com/IMAP.AccessAsUser.All", "https://outlook.office365.com/POP.AccessAsUser.All", "https://outlook.office365.com/SMTP.Send", "offline_access"]
protocols = ["imap", "pop3", "smtp"]
flow = "device"
cafile = "$CA_FILE"

[accounts.$acct.imap]
host = "localhost"
port = $IMAPS_PORT
security = "implicit"

[accounts.$acct.pop3]
host = "localhost"
port = $POP3S_PORT
security = "implicit"

[accounts.$acct.smtp]
host = "localhost"
port = $SUBMISSION_PORT
security = "starttls"
TOML
  done
} >"$HOME/.config/mailoauth/config.toml"

# login ACCOUNT NAME: `mailoauth login ACCOUNT --flow device`, the code entered by Chromium.
login() {
  local acct=$1 name=$2 out=$work/login-$1 code="" uri="" pid
  mailoauth login "$acct" --flow device >"$out.out" 2>"$out.err" </dev/null &
  pid=$!
  bg_pids+=("$pid")
  for _ in $(seq 300); do
    code=$(sed -n 's/.*enter the code \([A-Z0-9-]*\).*/\1/p; s/^Code: \([A-Z0-9-]*\).*/\1/p' "$out.err" | head -n1)
    uri=$(grep -o 'http://127\.0\.0\.1:[0-9]*/device' "$out.err" | head -n1 || true)
    [ -n "$code" ] && [ -n "$uri" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$code" ] || [ -z "$uri" ]; then
    show "$out.err"
    die "mailoauth login $acct showed no device code"
  fi
  node "$oidc_dir/browser.mjs" device "$uri" --code "$code" --login "$name" --timeout 90 \
    >"$out.browser" 2>&1 || {
    show "$out.browser"
    die "the browser could not approve the device code of $acct"
  }
  for _ in $(seq 600); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  local rc=0
  wait "$pid" || rc=$?
  bg_pids=()
  if [ "$rc" -ne 0 ] || ! grep -q "Signed in as $name" "$out.err"; then
    show "$out.err"
    die "mailoauth login $acct --flow device: exit status $rc"
  fi
  mailoauth token "$acct" >/dev/null || die "mailoauth token $acct failed after the login"
  pass "mailoauth login $acct --flow device (as $name, code entered in Chromium)"
}
login work "$user"
login other "$other_user"

# ---------------------------------------------------------------------------------------------
# Helpers for the checks.

# recipe NAME: the fenced block that follows `<!-- recipe: NAME -->` in docs/integrations.md
recipe() {
  local text
  text=$(awk -v want="<!-- recipe: $1 -->" '
    $0 == want { state = 1; next }
    state == 1 && /^```/ { state = 2; next }
    state == 2 && /^```/ { exit }
    state == 2 { print }' "$doc")
  [ -n "$text" ] || die "docs/integrations.md has no recipe \"$1\""
  printf '%s\n' "$text"
}
# adapt: Exchange Online's host names and the example mailbox -> this test's
adapt() {
  sed -e "s/alice@contoso\.com/$user/g" -e 's/smtp\.office365\.com/localhost/g' \
    -e 's/outlook\.office365\.com/localhost/g'
}
# with_other_account FILE OUT: the same configuration with the token of account "other"
with_other_account() {
  sed -e 's/mailoauth token work/mailoauth token other/g' \
    -e 's/"mailoauth", "token", "work"/"mailoauth", "token", "other"/g' "$1" >"$2"
  ! cmp -s "$1" "$2" || die "$1 does not call \`mailoauth token work\`"
}
# expect_in FILE TEXT...: every TEXT (fixed string) is in FILE
expect_in() {
  local f=$1 t
  shift
  for t in "$@"; do grep -qF -- "$t" "$f" || die "$f does not contain \"$t\" (the recipe was not adapted?)"; done
  ! grep -q 'office365\|contoso' "$f" || die "$f still names Exchange Online or contoso"
}

log_mark() { wc -l <"$LOG"; }
log_since() { tail -n +"$(($1 + 1))" "$LOG"; }
# wait_log MARK REGEX: Dovecot logs REGEX after MARK within 5 s
wait_log() {
  for _ in $(seq 50); do
    log_since "$1" | grep -Eq -- "$2" && return 0
    sleep 0.1
  done
  return 1
}
# logged_in MARK SERVICE USER: Dovecot's "Login" line for USER with XOAUTH2 on SERVICE
logged_in() {
  local re
  re="$2-login: Info: Login: user=<${3//./\\.}>, method=XOAUTH2"
  wait_log "$1" "$re"
}
# refused MARK: Dovecot refused the token of "other" and nobody logged in
refused() {
  wait_log "$1" "oauth2 failed: Local validation failed: Username '${user//./\\.}' did not match '${other_user//./\\.}'" &&
    ! log_since "$1" | grep -q 'Login: user='
}
# wait_file FILE REGEX: FILE matches REGEX within 5 s
wait_file() {
  for _ in $(seq 50); do
    grep -Eq -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
# run_until SECONDS REGEX OUT CMD...: runs CMD (all output to OUT) until it exits or OUT matches
# REGEX; then stops it. Returns CMD's status, or 124 if it had to be stopped.
run_until() {
  local secs=$1 re=$2 out=$3 pid
  shift 3
  "$@" >"$out" 2>&1 </dev/null &
  pid=$!
  for _ in $(seq $((secs * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    grep -Eq -- "$re" "$out" && sleep 0.2 && break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return 124
  fi
  wait "$pid"
}
# deliver SUBJECT: the message the SMTP sink received with SUBJECT goes into alice's INBOX
# (Dovecot's submission relays to the sink, which only logs what it gets).
deliver() {
  wait_file "$SINK_LOG" "^Subject: $1\$" || return 1
  awk -v subject="Subject: $1" '
    $0 == "---------- MESSAGE FOLLOWS ----------" { buf = ""; on = 1; next }
    $0 == "------------ END MESSAGE ------------" { if (buf ~ subject) printf "%s", buf; on = 0; next }
    on && !/^X-Peer: / { buf = buf $0 "\n" }' "$SINK_LOG" >"$work/delivered.eml"
  [ -s "$work/delivered.eml" ] && doveadm -c "$CONFIG" save -u "$user" -m INBOX <"$work/delivered.eml"
}
# in_mailbox MAILBOX SUBJECT: alice's MAILBOX has a message with SUBJECT
in_mailbox() {
  [ -n "$(doveadm -c "$CONFIG" search -u "$user" mailbox "$1" header subject "$2" 2>/dev/null)" ]
}

# One message is in the INBOX from the start, so each client has something to read even
# when run alone.
inbox_subjects=("mailoauth seed $$")
printf 'From: %s\nTo: %s\nSubject: %s\nMessage-ID: <seed-%s@example.test>\n\nseed\n' \
  "$other_user" "$user" "${inbox_subjects[0]}" $$ |
  doveadm -c "$CONFIG" save -u "$user" -m INBOX || die "doveadm save could not seed the INBOX"

# ---------------------------------------------------------------------------------------------
test_msmtp() {
  recipe msmtp | adapt | sed "s/^port 587\$/port $SUBMISSION_PORT/" >"$HOME/.msmtprc"
  echo "tls_trust_file $CA_FILE" >>"$HOME/.msmtprc"
  chmod 600 "$HOME/.msmtprc"
  expect_in "$HOME/.msmtprc" "port $SUBMISSION_PORT" "host localhost" "user $user"

  local subject="mailoauth msmtp recipe $$" mark rc=0
  printf 'From: %s\nTo: %s\nSubject: %s\n\nSent by msmtp with a token from mailoauth.\n' \
    "$user" "$other_user" "$subject" >"$work/msmtp.eml"
  mark=$(log_mark)
  timeout 60 msmtp -a work "$other_user" <"$work/msmtp.eml" >"$work/msmtp.out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    show "$work/msmtp.out"
    fail "msmtp: exit status $rc"
  elif ! logged_in "$mark" submission "$user"; then
    fail "msmtp: no XOAUTH2 login of $user in Dovecot's log"
  elif ! wait_log "$mark" "Successfully relayed message: from=<${user//./\\.}>"; then
    fail "msmtp: Dovecot did not relay the message"
  elif ! deliver "$subject"; then
    fail "msmtp: the message did not arrive at the sink / could not be delivered to the INBOX"
  elif ! in_mailbox INBOX "$subject"; then
    fail "msmtp: the message is not in the INBOX"
  else
    inbox_subjects+=("$subject")
    pass "msmtp: sent through submission with XOAUTH2 (passwordeval), relayed, delivered to INBOX"
  fi

  with_other_account "$HOME/.msmtprc" "$work/msmtprc-other"
  chmod 600 "$work/msmtprc-other"
  mark=$(log_mark)
  rc=0
  timeout 60 msmtp -C "$work/msmtprc-other" -a work "$other_user" <"$work/msmtp.eml" \
    >"$work/msmtp-other.out" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ] || ! grep -q 'authentication failed (method XOAUTH2)' "$work/msmtp-other.out"; then
    show "$work/msmtp-other.out"
    fail "msmtp with another account's token: exit status $rc, expected an authentication failure"
  elif ! refused "$mark"; then
    fail "msmtp with another account's token: Dovecot's log does not show the refusal"
  else
    pass "msmtp: another account's token is refused (exit status $rc)"
  fi

  # The documented reason for xoauth2: msmtp sends OAUTHBEARER's initial response on the AUTH
  # line, which Dovecot's submission refuses above about 1 KB.
  sed 's/^auth xoauth2$/auth oauthbearer/' "$HOME/.msmtprc" >"$work/msmtprc-oauthbearer"
  chmod 600 "$work/msmtprc-oauthbearer"
  rc=0
  timeout 60 msmtp -C "$work/msmtprc-oauthbearer" -a work "$other_user" <"$work/msmtp.eml" \
    >"$work/msmtp-oauthbearer.out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] && grep -q '500 5.5.2 Line too long' "$work/msmtp-oauthbearer.out"; then
    pass "msmtp: auth oauthbearer fails with \"Line too long\" as documented"
  else
    show "$work/msmtp-oauthbearer.out"
    fail "msmtp auth oauthbearer: exit status $rc without \"Line too long\"; update docs/integrations.md"
  fi
}

# ---------------------------------------------------------------------------------------------
test_mbsync() {
  recipe mbsync | adapt |
    sed -e "s/^Port 993\$/Port $IMAPS_PORT/" -e "/^Port /a CertificateFile $CA_FILE" >"$HOME/.mbsyncrc"
  expect_in "$HOME/.mbsyncrc" "Port $IMAPS_PORT" "Host localhost" "User $user" "CertificateFile"
  recipe mbsync-run >"$work/mbsync-run.sh"

  local mark rc=0 s missing=""
  mark=$(log_mark)
  (cd "$HOME" && timeout 60 bash -e "$work/mbsync-run.sh") >"$work/mbsync.out" 2>&1 || rc=$?
  for s in "${inbox_subjects[@]}"; do
    grep -rqsx "Subject: $s" "$HOME/Mail/work/INBOX/new" "$HOME/Mail/work/INBOX/cur" || missing+=" \"$s\""
  done
  if [ "$rc" -ne 0 ]; then
    show "$work/mbsync.out"
    fail "mbsync: exit status $rc"
  elif ! logged_in "$mark" imap "$user"; then
    fail "mbsync: no XOAUTH2 login of $user in Dovecot's log"
  elif [ -n "$missing" ]; then
    fail "mbsync: not synced into ~/Mail/work/INBOX:$missing"
  else
    pass "mbsync: synced INBOX over IMAPS with AuthMechs XOAUTH2 + PassCmd (${#inbox_subjects[@]} messages)"
  fi

  # A refused token: the KDE plugin cannot answer the error challenge and mbsync waits for the
  # server to drop the connection (Dovecot: 3 minutes); stop it once it has said so.
  with_other_account "$HOME/.mbsyncrc" "$work/mbsyncrc-other"
  mark=$(log_mark)
  rc=0
  run_until 30 'IMAP wants more steps' "$work/mbsync-other.out" \
    mbsync -c "$work/mbsyncrc-other" work || rc=$?
  if [ "$rc" -eq 0 ] || ! grep -q 'IMAP wants more steps despite successful SASL authentication' \
    "$work/mbsync-other.out"; then
    show "$work/mbsync-other.out"
    fail "mbsync with another account's token: status $rc, expected the documented failure"
  elif ! refused "$mark"; then
    fail "mbsync with another account's token: Dovecot's log does not show the refusal"
  else
    pass "mbsync: another account's token is refused (\"IMAP wants more steps ...\")"
  fi
}

# ---------------------------------------------------------------------------------------------
# neomutt needs a terminal for its index: `script` gives it one. -Z opens the first mailbox
# with unread mail (the INBOX; mail_check_recent = no counts mail seen by other clients too),
# the pushed keys copy the first message to another folder and quit.
neomutt_imap() { # RCFILE TYPESCRIPT
  TERM=xterm timeout 60 script -qec "neomutt -n -F '$1' -Z -e 'mailboxes +INBOX' \
    -e 'set mail_check_recent = no confirmappend = no confirmcreate = no' \
    -e 'push \"<copy-message>=NeomuttCopy<enter><quit>\"'" "$2" </dev/null >/dev/null 2>&1
}

test_neomutt() {
  recipe neomutt | adapt | sed "s#imaps://localhost/#imaps://localhost:$IMAPS_PORT/#" >"$HOME/.neomuttrc"
  echo "set ssl_ca_certificates_file = \"$CA_FILE\"" >>"$HOME/.neomuttrc"
  expect_in "$HOME/.neomuttrc" "imaps://localhost:$IMAPS_PORT/" "$user" 'msmtp -a work'
  if [ ! -s "$HOME/.msmtprc" ]; then # neomutt sends through the msmtp recipe
    recipe msmtp | adapt | sed "s/^port 587\$/port $SUBMISSION_PORT/" >"$HOME/.msmtprc"
    echo "tls_trust_file $CA_FILE" >>"$HOME/.msmtprc"
    chmod 600 "$HOME/.msmtprc"
  fi

  local mark rc=0
  mark=$(log_mark)
  neomutt_imap "$HOME/.neomuttrc" "$work/neomutt.typescript" || rc=$?
  if [ "$rc" -ne 0 ]; then
    show "$work/neomutt.typescript"
    fail "neomutt (IMAP): exit status $rc"
  elif ! logged_in "$mark" imap "$user"; then
    fail "neomutt (IMAP): no XOAUTH2 login of $user in Dovecot's log"
  elif [ -z "$(doveadm -c "$CONFIG" search -u "$user" mailbox NeomuttCopy ALL 2>/dev/null)" ]; then
    show "$work/neomutt.typescript"
    fail "neomutt (IMAP): the message was not copied to NeomuttCopy"
  else
    pass "neomutt: opened INBOX over IMAPS with xoauth2 + imap_oauth_refresh_command, copied a message"
  fi

  local subject="mailoauth neomutt recipe $$"
  mark=$(log_mark)
  rc=0
  echo "Sent by neomutt through msmtp." |
    timeout 60 neomutt -n -s "$subject" "$other_user" >"$work/neomutt-send.out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    show "$work/neomutt-send.out"
    fail "neomutt (sending through msmtp): exit status $rc"
  elif ! logged_in "$mark" submission "$user"; then
    fail "neomutt (sending through msmtp): no XOAUTH2 login of $user in Dovecot's log"
  elif ! wait_file "$SINK_LOG" "^Subject: $subject\$"; then
    fail "neomutt (sending through msmtp): the message did not arrive"
  else
    pass "neomutt: sent a message in batch mode through sendmail = msmtp"
  fi

  with_other_account "$HOME/.neomuttrc" "$work/neomuttrc-other"
  mark=$(log_mark)
  rc=0
  doveadm -c "$CONFIG" mailbox delete -u "$user" NeomuttCopy >/dev/null 2>&1 || true
  neomutt_imap "$work/neomuttrc-other" "$work/neomutt-other.typescript" || rc=$?
  if [ "$rc" -eq 0 ]; then
    show "$work/neomutt-other.typescript"
    fail "neomutt (IMAP) with another account's token: exit status 0"
  elif ! refused "$mark"; then
    fail "neomutt (IMAP) with another account's token: Dovecot's log does not show the refusal"
  elif [ -n "$(doveadm -c "$CONFIG" search -u "$user" mailbox NeomuttCopy ALL 2>/dev/null)" ]; then
    fail "neomutt (IMAP) with another account's token: a message was copied"
  else
    pass "neomutt: another account's token is refused (exit status $rc)"
  fi

  # The documented limitation: neomutt's own SMTP client puts the token on the AUTH line, which
  # Dovecot's submission refuses above about 1 KB.
  {
    cat "$HOME/.neomuttrc"
    echo "set smtp_url = \"smtp://$user@localhost:$SUBMISSION_PORT/\""
    echo 'set smtp_authenticators = "xoauth2"'
    echo 'set smtp_oauth_refresh_command = "mailoauth token work"'
  } >"$work/neomuttrc-smtp"
  rc=0
  echo "neomutt's own SMTP" | timeout 60 neomutt -n -F "$work/neomuttrc-smtp" \
    -s "mailoauth neomutt smtp $$" "$other_user" >"$work/neomutt-smtp.out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] && grep -q 'Line too long' "$work/neomutt-smtp.out"; then
    pass "neomutt: its own SMTP XOAUTH2 fails with \"Line too long\" as documented"
  else
    show "$work/neomutt-smtp.out"
    fail "neomutt's own SMTP: exit status $rc without \"Line too long\"; update docs/integrations.md"
  fi
}

# ---------------------------------------------------------------------------------------------
test_fetchmail() {
  local version mech rc out
  version=$(fetchmail --version 2>/dev/null | sed -n 's/^This is fetchmail release \([0-9.]*\).*/\1/p')
  case $version in
    6.4.*) ;;
    *)
      fail "fetchmail $version is not Debian 12's 6.4.x: write and test an OAuth recipe for it"
      return
      ;;
  esac
  for mech in oauthbearer xoauth2; do
    printf 'poll localhost protocol imap port %s\n  auth %s\n  user "%s"\n  password "token"\n  ssl sslcertfile "%s"\n' \
      "$IMAPS_PORT" "$mech" "$user" "$CA_FILE" >"$work/fetchmailrc-$mech"
    chmod 600 "$work/fetchmailrc-$mech"
    rc=0
    out=$(timeout 30 fetchmail -f "$work/fetchmailrc-$mech" -c --nodetach --nosyslog 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] && grep -q "syntax error at $mech" <<<"$out"; then
      pass "fetchmail $version: \"auth $mech\" is a syntax error, as documented"
    else
      fail "fetchmail $version: \"auth $mech\" gave status $rc: $out"
    fi
    rc=0
    out=$(timeout 30 fetchmail --auth "$mech" -c --nodetach --nosyslog localhost 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] && grep -q "Invalid authentication \`$mech'" <<<"$out"; then
      pass "fetchmail $version: --auth $mech is refused, as documented"
    else
      fail "fetchmail $version: --auth $mech gave status $rc: $out"
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# python_script PROTO OUT: the common part and PROTO's block, adapted
python_script() {
  local port
  case $1 in
    imap) port=$IMAPS_PORT ;;
    pop3) port=$POP3S_PORT ;;
    smtp) port=$SUBMISSION_PORT ;;
  esac
  {
    recipe python-common
    echo
    recipe "python-$1"
  } | adapt | sed -E "s/\"localhost\", (993|995|587)\\b/\"localhost\", $port/" >"$2"
  expect_in "$2" "\"localhost\", $port" "user = \"$user\""
}

test_python() {
  local proto service mark rc out expect_out refused_text
  for proto in imap pop3 smtp; do
    python_script "$proto" "$work/recipe-$proto.py"
    case $proto in
      imap) service=imap expect_out='^IMAP INBOX: [1-9][0-9]* messages$' refused_text='AUTHENTICATIONFAILED' ;;
      pop3) service=pop3 expect_out='^POP3: [1-9][0-9]* messages$' refused_text='-ERR' ;;
      smtp) service=submission expect_out='' refused_text='535' ;;
    esac
    out=$work/python-$proto.out
    mark=$(log_mark)
    rc=0
    SSL_CERT_FILE=$CA_FILE timeout 60 "$python" "$work/recipe-$proto.py" >"$out" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
      show "$out"
      fail "Python $proto: exit status $rc"
    elif ! logged_in "$mark" "$service" "$user"; then
      fail "Python $proto: no XOAUTH2 login of $user in Dovecot's log"
    elif [ -n "$expect_out" ] && ! grep -Eq "$expect_out" "$out"; then
      show "$out"
      fail "Python $proto: unexpected output"
    elif [ "$proto" = smtp ] && ! wait_file "$SINK_LOG" '^Subject: mailoauth python recipe$'; then
      fail "Python smtp: the message did not arrive"
    else
      pass "Python $proto: $(head -n1 "$out" | grep . || echo 'message sent and relayed')"
    fi

    with_other_account "$work/recipe-$proto.py" "$work/recipe-$proto-other.py"
    mark=$(log_mark)
    rc=0
    SSL_CERT_FILE=$CA_FILE timeout 60 "$python" "$work/recipe-$proto-other.py" >"$out-other" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ] || ! grep -qF -- "$refused_text" "$out-other"; then
      show "$out-other"
      fail "Python $proto with another account's token: exit status $rc, expected $refused_text"
    elif ! refused "$mark"; then
      fail "Python $proto with another account's token: Dovecot's log does not show the refusal"
    else
      pass "Python $proto: another account's token is refused ($(tail -n1 "$out-other"))"
    fi

    # The recipe verifies the server's certificate: a CA that did not sign it is refused.
    rc=0
    SSL_CERT_FILE=$OTHER_CA_FILE timeout 60 "$python" "$work/recipe-$proto.py" >"$out-ca" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ] && grep -q 'CERTIFICATE_VERIFY_FAILED' "$out-ca"; then
      pass "Python $proto: a server certificate from an unknown CA is refused"
    else
      show "$out-ca"
      fail "Python $proto: status $rc with an unknown CA, expected CERTIFICATE_VERIFY_FAILED"
    fi
  done
}

# ---------------------------------------------------------------------------------------------
for c in "${clients[@]}"; do "test_$c"; done

echo "# $((SECONDS - started)) s"
if [ ${#failures[@]} -gt 0 ]; then
  echo "${#failures[@]} check(s) failed:" >&2
  printf '  %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "all client recipes passed (${clients[*]})"

#!/usr/bin/env bash
# Starts and stops a private Dovecot 2.3 (IMAP, POP3, submission; STARTTLS and implicit TLS)
# that validates RS256 JWT access tokens locally, plus the SMTP sink its submission service
# relays to. Used by tests/integration (CTest fixtures or the test binary itself) and bench/.
#
#   dovecot-ctl.sh start DIR [--mechanisms "xoauth2 oauthbearer"] [--certs CERTDIR]
#                            [--keys KEYDIR] [--owner-pid PID] [--port-base N]
#                            [--lifetime SECONDS]
#   dovecot-ctl.sh stop DIR
#   dovecot-ctl.sh keys KEYDIR      (the signing keys that --keys KEYDIR then uses)
#
# start writes DIR/instance.env (shell syntax, KEY=VALUE) with the ports, the CA, the token
# signing keys and the log paths, and returns once every listener has sent a real greeting.
# A supervisor process owns Dovecot and the sink: it stops them on `stop`, when the owner
# process (default: the caller of `start`) exits, or after --lifetime seconds, so a crashed or
# killed test run leaves nothing behind. Ports come from --port-base, else
# $MAILOAUTH_DOVECOT_PORT_BASE, else a random free block; a block that turns out to be taken
# is replaced by another one.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian's python3 has aiosmtpd; a python3 earlier in PATH (pyenv) may not.
python=/usr/bin/python3
kid=mailoauth-test-key

die() {
  echo "dovecot-ctl: $*" >&2
  exit 1
}

# kill -0 also succeeds for a zombie, and an orphan's zombie waits for a slow reaper (pid 1 in
# a container) for a second or two; a zombie counts as gone.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

remove_runtime() {
  # Only ever a folder that make_runtime made.
  case ${1:-} in
    /tmp/mailoauth-dovecot.?*) rm -rf "$1" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# supervise DIR: runs in the background (setsid), owns Dovecot and the sink.
supervise() {
  local dir=$1
  # shellcheck disable=SC1091
  source "$dir/instance.env"
  echo "$$" >"$dir/supervisor.pid"
  local children=()
  stop_children() {
    trap - TERM INT HUP EXIT
    local pid left=0
    for pid in "${children[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    # Dovecot's master waits for its log process, about a second; force what is left after 5.
    local deadline=$((SECONDS + 5))
    for pid in "${children[@]}"; do
      while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
      kill -0 "$pid" 2>/dev/null && left=1
    done
    # This process leads its own process group (setsid), which holds all of the instance.
    if [ "$left" -eq 1 ]; then kill -KILL -- -$$ 2>/dev/null || true; fi
    remove_runtime "$RUNTIME"
  }
  trap 'stop_children; exit 0' TERM INT HUP
  trap stop_children EXIT

  "$python" -m aiosmtpd -n -l "127.0.0.1:$SINK_PORT" >>"$SINK_LOG" 2>&1 &
  children+=($!)
  echo "$!" >"$dir/sink.pid"
  dovecot -F -c "$CONFIG" >>"$dir/dovecot.stderr" 2>&1 &
  children+=($!)
  echo "$!" >"$dir/dovecot.pid"

  # shellcheck disable=SC2153 # LIFETIME and OWNER_PID come from instance.env
  local until=$((SECONDS + LIFETIME))
  while :; do
    # `sleep & wait` lets the TERM trap run at once instead of after the sleep.
    sleep 0.5 &
    wait $! || true
    local pid
    for pid in "${children[@]}"; do
      kill -0 "$pid" 2>/dev/null || {
        echo "supervisor: child $pid exited; stopping the instance"
        exit 1
      }
    done
    if ! alive "$OWNER_PID"; then
      echo "supervisor: owner $OWNER_PID is gone; stopping the instance"
      exit 0
    fi
    if [ $SECONDS -ge $until ]; then
      echo "supervisor: lifetime of $LIFETIME s reached; stopping the instance"
      exit 0
    fi
  done
}

# ---------------------------------------------------------------------------------------------
stop_instance() {
  local dir=$1
  [ -f "$dir/instance.env" ] || return 0
  local SUPERVISOR_PID="" RUNTIME=""
  # shellcheck disable=SC1091
  source "$dir/instance.env"
  if [ -n "$SUPERVISOR_PID" ] && alive "$SUPERVISOR_PID"; then
    kill -TERM "$SUPERVISOR_PID" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while alive "$SUPERVISOR_PID" && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
    # The supervisor leads its own process group (setsid); whatever is left of it goes.
    kill -KILL -- -"$SUPERVISOR_PID" 2>/dev/null || true
  fi
  remove_runtime "$RUNTIME"
  sed -i 's/^SUPERVISOR_PID=.*/SUPERVISOR_PID=/' "$dir/instance.env"
}

# A port is taken if something accepts a connection on it. A race with another starter is
# caught later: Dovecot then fails with "Address already in use" and another block is tried.
port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Every listener must send its greeting: the ports open before the auth process is ready, and
# the greeting comes only once the login process has its auth connection. Gives up at once if
# the supervisor has gone (Dovecot or the sink failed to start).
wait_ready() {
  local dir=$1 timeout_s=$2 supervisor=$3
  # shellcheck disable=SC1091
  source "$dir/instance.env"
  "$python" - "$timeout_s" "$supervisor" "$CA_FILE" \
    "$IMAP_PORT:plain:* OK" "$IMAPS_PORT:tls:* OK" \
    "$POP3_PORT:plain:+OK" "$POP3S_PORT:tls:+OK" \
    "$SUBMISSION_PORT:plain:220 " "$SUBMISSIONS_PORT:tls:220 " \
    "$SINK_PORT:plain:220 " <<'PY'
import os, socket, ssl, sys, time
timeout, supervisor, cafile, targets = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
deadline = time.monotonic() + timeout
ctx = ssl.create_default_context(cafile=cafile)
pending = [t.split(":", 2) for t in targets]
while pending:
    port, mode, expect = pending[0]
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=2) as raw:
            s = ctx.wrap_socket(raw, server_hostname="localhost") if mode == "tls" else raw
            data = b""
            while b"\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            if data.decode("latin-1").startswith(expect):
                pending.pop(0)
                continue
    except (OSError, ssl.SSLError):
        pass
    try:
        os.kill(supervisor, 0)
    except ProcessLookupError:
        print(f"the instance stopped before port {port} answered", file=sys.stderr)
        sys.exit(1)
    if time.monotonic() > deadline:
        print(f"no greeting on port {port} ({mode}) within {timeout} s", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.05)
PY
}

substitute() {  # template output NAME=value...
  local template=$1 out=$2
  shift 2
  local expr=() pair
  for pair in "$@"; do expr+=(-e "s|@${pair%%=*}@|${pair#*=}|g"); done
  sed "${expr[@]}" "$template" >"$out"
  if grep -q '@[A-Z_]*@' "$out"; then
    die "unfilled field in $out: $(grep -o '@[A-Z_]*@' "$out" | head -1)"
  fi
}

# What Dovecot's unprivileged processes read goes in a short path under /tmp: unix socket
# paths are limited to 108 bytes, and the build tree may be deep or private.
make_runtime() {  # signing-key mail-uid mail-gid -> prints the folder
  local runtime
  runtime=$(mktemp -d /tmp/mailoauth-dovecot.XXXXXX)
  chmod 755 "$runtime"
  mkdir -p "$runtime/keydict/default/RS256" "$runtime/home" "$runtime/state"
  openssl pkey -in "$1" -pubout -out "$runtime/keydict/default/RS256/$kid"
  chmod -R a+rX "$runtime/keydict"
  chown "$2:$3" "$runtime/home"
  echo "$runtime"
}

# Token signing keys: one whose public half Dovecot trusts, one it has never seen (badly
# signed tokens carry the same kid). Kept if they exist, so instances can share them.
make_keys() {
  local keys=$1 k
  mkdir -p "$keys"
  chmod 700 "$keys"
  for k in signing other-signing; do
    [ -s "$keys/$k.key" ] ||
      openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$keys/$k.key" 2>/dev/null
  done
}

on_failed_start() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then stop_instance "$starting_dir"; fi
  exit "$rc"
}

start_instance() {
  local dir=$1
  shift
  local mechanisms="xoauth2 oauthbearer" certs="" keys="" owner=$PPID lifetime=3600
  local port_base=${MAILOAUTH_DOVECOT_PORT_BASE:-}
  while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || die "option $1 needs a value"
    case $1 in
      --mechanisms) mechanisms=$2 ;;
      --certs) certs=$2 ;;
      --keys) keys=$2 ;;
      --owner-pid) owner=$2 ;;
      --port-base) port_base=$2 ;;
      --lifetime) lifetime=$2 ;;
      *) die "unknown option $1" ;;
    esac
    shift 2
  done
  alive "$owner" || die "the owner process $owner is not running"
  command -v dovecot >/dev/null ||
    die "dovecot is not installed (apt-get install dovecot-core dovecot-imapd dovecot-pop3d dovecot-submissiond)"
  "$python" -c 'import aiosmtpd' 2>/dev/null ||
    die "$python cannot import aiosmtpd (apt-get install python3-aiosmtpd)"

  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ -n "$keys" ] || keys=$dir/keys
  stop_instance "$dir" # a stale instance from an aborted run
  rm -f "$dir"/*.log "$dir"/*.pid "$dir/dovecot.stderr" "$dir/instance.env"
  # Whatever way this function fails, nothing it started stays behind.
  starting_dir=$dir
  trap on_failed_start EXIT

  if [ -z "$certs" ]; then
    certs=$dir/certs
    bash "$here/../make-certs.sh" "$certs"
  fi
  certs=$(cd "$certs" && pwd)
  if [ ! -s "$certs/ca.pem" ] || [ ! -s "$certs/server.pem" ]; then
    die "no test certificates in $certs"
  fi

  make_keys "$keys"
  keys=$(cd "$keys" && pwd)

  local internal_user internal_group login_user mail_uid mail_gid
  if [ "$(id -u)" -eq 0 ]; then
    # Debian's package creates dovecot and dovenull; mail runs as nobody, which every system
    # has and which is not root (Dovecot refuses uid 0 for mail).
    internal_user=dovecot internal_group=dovecot login_user=dovenull
    mail_uid=$(id -u nobody) mail_gid=$(id -g nobody)
  else
    internal_user=$(id -un) internal_group=$(id -gn) login_user=$(id -un)
    mail_uid=$(id -u) mail_gid=$(id -g)
  fi

  local attempt base p busy
  for attempt in 1 2 3 4 5 6 7 8; do
    if [ -n "$port_base" ] && [ "$attempt" -eq 1 ]; then
      base=$port_base
    else
      # Below Linux's ephemeral range (32768-60999), where outgoing connections take ports.
      base=$((20000 + (RANDOM % 1200) * 10))
    fi
    busy=0
    for p in $(seq "$base" $((base + 6))); do port_free "$p" || busy=1; done
    [ "$busy" -eq 0 ] || continue

    local runtime
    runtime=$(make_runtime "$keys/signing.key" "$mail_uid" "$mail_gid")
    cat >"$dir/instance.env" <<ENV
# written by dovecot-ctl.sh start; read by tests/integration and bench/
INSTANCE=mailoauth-test-$$-$attempt
MECHANISMS="$mechanisms"
IMAP_PORT=$base
IMAPS_PORT=$((base + 1))
POP3_PORT=$((base + 2))
POP3S_PORT=$((base + 3))
SUBMISSION_PORT=$((base + 4))
SUBMISSIONS_PORT=$((base + 5))
SINK_PORT=$((base + 6))
CA_FILE=$certs/ca.pem
OTHER_CA_FILE=$certs/other-ca.pem
SIGNING_KEY=$keys/signing.key
OTHER_SIGNING_KEY=$keys/other-signing.key
KID=$kid
CONFIG=$runtime/dovecot.conf
LOG=$dir/dovecot.log
SINK_LOG=$dir/sink.log
RUNTIME=$runtime
OWNER_PID=$owner
LIFETIME=$lifetime
SUPERVISOR_PID=
ENV
    # shellcheck disable=SC1091
    source "$dir/instance.env"
    substitute "$here/dovecot.conf.in" "$CONFIG" \
      "INSTANCE=$INSTANCE" "RUNTIME=$runtime" "LOG_PATH=$LOG" "CONF_DIR=$runtime" \
      "INTERNAL_USER=$internal_user" "INTERNAL_GROUP=$internal_group" "LOGIN_USER=$login_user" \
      "CERT_FILE=$certs/server.pem" "KEY_FILE=$certs/server.key" "MECHANISMS=$mechanisms" \
      "MAIL_UID=$mail_uid" "MAIL_GID=$mail_gid" "SINK_PORT=$SINK_PORT" \
      "IMAP_PORT=$IMAP_PORT" "IMAPS_PORT=$IMAPS_PORT" "POP3_PORT=$POP3_PORT" \
      "POP3S_PORT=$POP3S_PORT" "SUBMISSION_PORT=$SUBMISSION_PORT" \
      "SUBMISSIONS_PORT=$SUBMISSIONS_PORT"
    substitute "$here/oauth2.conf.ext.in" "$runtime/oauth2.conf.ext" "KEYDICT=$runtime/keydict"

    # setsid: the supervisor outlives this script (CTest runs `start` as a fixture) and takes
    # Dovecot and the sink along when it goes. No inherited stdout: CTest would wait on it.
    rm -f "$dir/supervisor.pid"
    setsid bash "$here/dovecot-ctl.sh" supervise "$dir" </dev/null >>"$dir/supervisor.log" 2>&1 &
    disown # its fate is the supervisor's business, not this shell's job table
    local waited=0
    while [ ! -s "$dir/supervisor.pid" ] && [ $waited -lt 100 ]; do
      sleep 0.05
      waited=$((waited + 1))
    done
    [ -s "$dir/supervisor.pid" ] || die "the supervisor did not start; see $dir/supervisor.log"
    local supervisor
    supervisor=$(cat "$dir/supervisor.pid")
    sed -i "s/^SUPERVISOR_PID=.*/SUPERVISOR_PID=$supervisor/" "$dir/instance.env"

    if wait_ready "$dir" 20 "$supervisor" 2>>"$dir/supervisor.log"; then
      trap - EXIT
      echo "dovecot-ctl: $INSTANCE ready in $dir (IMAP $IMAP_PORT/$IMAPS_PORT," \
        "POP3 $POP3_PORT/$POP3S_PORT, submission $SUBMISSION_PORT/$SUBMISSIONS_PORT," \
        "mechanisms: $mechanisms)"
      return 0
    fi
    stop_instance "$dir"
    if grep -qsi "address already in use" "$dir/dovecot.stderr" "$LOG" "$SINK_LOG"; then
      echo "dovecot-ctl: ports $base-$((base + 6)) were taken; trying another block" >&2
      rm -f "$LOG" "$SINK_LOG" "$dir/dovecot.stderr"
      continue
    fi
    echo "dovecot-ctl: Dovecot did not start; its output:" >&2
    tail -n 12 "$dir/dovecot.stderr" "$LOG" "$SINK_LOG" "$dir/supervisor.log" >&2 2>/dev/null || true
    return 1
  done
  die "no free block of 7 ports found"
}

cmd=${1:-}
[ $# -ge 2 ] || die "usage: dovecot-ctl.sh start|stop DIR [options]"
shift
case $cmd in
  start) start_instance "$@" ;;
  stop) stop_instance "$1" ;;
  keys) make_keys "$1" ;;
  supervise) supervise "$1" ;;
  *) die "unknown command $cmd (start or stop)" ;;
esac

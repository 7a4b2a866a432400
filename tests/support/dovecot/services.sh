#!/usr/bin/env bash
# The services the integration tests use, started and stopped together:
#   DIR/main      Dovecot offering XOAUTH2 and OAUTHBEARER (with its SMTP sink)
#   DIR/xoauth2   Dovecot offering only XOAUTH2: curl 7.88 always picks OAUTHBEARER when it is
#                 offered (fixed in curl 8.6), so curl's XOAUTH2 can only be checked here
#   DIR/keys      the token signing keys both instances share
#   DIR/scratch   token files of the test processes, removed on start and stop
#
#   services.sh start DIR [--certs CERTDIR] [--owner-pid PID]
#   services.sh stop DIR
#
# The instances live as long as the owner process (default: the caller, e.g. ctest when this
# runs as a CTest fixture) unless stopped earlier. See dovecot-ctl.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ctl=$here/dovecot-ctl.sh

usage() {
  echo "usage: services.sh start DIR [--certs CERTDIR] [--owner-pid PID] | stop DIR" >&2
  exit 2
}

stop_all() {
  local dir=$1
  # In parallel: each Dovecot takes about a second to shut down.
  bash "$ctl" stop "$dir/main" &
  local a=$!
  bash "$ctl" stop "$dir/xoauth2" &
  local b=$!
  local rc=0
  wait "$a" || rc=1
  wait "$b" || rc=1
  return $rc
}

[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2
case $cmd in
  start)
    certs="" owner=$PPID
    while [ $# -gt 0 ]; do
      [ $# -ge 2 ] || usage
      case $1 in
        --certs) certs=$2 ;;
        --owner-pid) owner=$2 ;;
        *) usage ;;
      esac
      shift 2
    done
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    rm -rf "$dir/scratch"
    if [ -z "$certs" ]; then
      certs=$dir/certs
      bash "$here/../make-certs.sh" "$certs"
    fi
    bash "$ctl" keys "$dir/keys"
    common=(--certs "$certs" --keys "$dir/keys" --owner-pid "$owner")
    # Both at once; each retries with other ports if the two happen to pick the same ones.
    bash "$ctl" start "$dir/main" "${common[@]}" --mechanisms "xoauth2 oauthbearer" &
    a=$!
    bash "$ctl" start "$dir/xoauth2" "${common[@]}" --mechanisms "xoauth2" &
    b=$!
    rc=0
    wait "$a" || rc=1
    wait "$b" || rc=1
    if [ $rc -ne 0 ]; then
      echo "services.sh: a Dovecot instance did not start; stopping both" >&2
      stop_all "$dir" || true
      exit 1
    fi
    ;;
  stop)
    # Token files the tests wrote (tests/integration) go with the services.
    rm -rf "$dir/scratch"
    stop_all "$dir"
    ;;
  *) usage ;;
esac

#!/usr/bin/env bash
# CTest fixture of the net tests (issue 8: a test whose service is missing fails, never skips):
# makes sure a socket can be bound to [::1], which the loopback listener's dual-stack test
# needs. Some containers start with IPv6 disabled on lo, or with lo lacking ::1; as root this
# brings it up, otherwise it says what to run. Exits non-zero when [::1] stays unusable.
set -euo pipefail

can_bind() {
  python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null
}

if can_bind; then
  echo "[::1] is usable"
  exit 0
fi
if [ ! -e /proc/sys/net/ipv6/conf/lo/disable_ipv6 ]; then
  echo "IPv6 is disabled in this kernel (booted with ipv6.disable=1?): the net tests need [::1]" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "cannot bind [::1] and not root: run, as root," \
    "'sysctl -w net.ipv6.conf.lo.disable_ipv6=0; ip -6 addr add ::1/128 dev lo'" >&2
  exit 1
fi
echo 0 >/proc/sys/net/ipv6/conf/lo/disable_ipv6
ip link set lo up
ip -6 addr show dev lo | grep -q 'inet6 ::1/128' || ip -6 addr add ::1/128 dev lo
# The address may need a moment to leave the tentative state (no DAD on lo, but be sure).
for _ in 1 2 3 4 5 6 7 8 9 10; do
  if can_bind; then
    echo "[::1] brought up on lo"
    exit 0
  fi
  sleep 0.2
done
echo "[::1] is still not usable after enabling IPv6 on lo:" >&2
ip -6 addr show dev lo >&2 || true
exit 1

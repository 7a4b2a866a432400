#!/usr/bin/env bash
# Installs everything mailoauth needs to build and test, from Debian's packages
# (and, for the browser tests, the npm registry). Idempotent; needs root or sudo.
#   --demo   only what building mailoauth and running `mailoauth demo` need (the README's first
#            command): the build dependencies, and msmtp and curl for the demo's last step.
set -euo pipefail
demo_only=false
[ "${1:-}" = "--demo" ] && demo_only=true

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

# Build dependencies: DESIGN.md's table.
build_pkgs=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libcurl4-openssl-dev libcli11-dev libtomlplusplus-dev
  libspdlog-dev libfmt-dev libjwt-dev libqrencode-dev
)
# Test and tooling dependencies.
test_pkgs=(
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  clang clang-format libclang-rt-14-dev
  dovecot-core dovecot-imapd dovecot-pop3d dovecot-submissiond
  python3 python3-aiosmtpd curl openssl
  chromium
  strace iproute2
  isync msmtp fetchmail neomutt libsasl2-modules-kdexoauth2
)
if $demo_only; then test_pkgs=(msmtp curl ca-certificates); fi
# Node.js comes with the machine (NodeSource's build, which bundles npm); Debian's own is the
# fallback on a machine without it.
$demo_only || command -v npm >/dev/null 2>&1 || test_pkgs+=(nodejs npm)

missing=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The test authorization server (oidc-provider) and the browser driver (playwright-core, which
# drives Debian's Chromium: its own browser download does not work here), at locked versions.
$demo_only && exit 0
root=$(cd "$(dirname "$0")/.." && pwd)
oidc="$root/tests/support/oidc"
if [ ! -d "$oidc/node_modules" ] || [ "$oidc/package-lock.json" -nt "$oidc/node_modules/.package-lock.json" ]; then
  (cd "$oidc" && npm ci --no-audit --no-fund --loglevel=error)
fi

# Debian starts no system Dovecot in containers; make sure one is not running on
# a machine that does, so tests own their private instances.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet dovecot 2>/dev/null; then
  "${sudo_cmd[@]}" systemctl stop dovecot || true
fi

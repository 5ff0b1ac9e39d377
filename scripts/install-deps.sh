#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the tests and the demo need. Idempotent.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build ccache pkg-config git openssl sqlite3 curl ca-certificates
  libssl-dev libsodium-dev libboost-dev rapidjson-dev libyaml-cpp-dev libsqlite3-dev
  libspdlog-dev libfmt-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  libhiredis-dev libnats-dev libpqxx-dev libp11-kit-dev libjemalloc-dev softhsm2
  redis-server nats-server postgresql prometheus
  clang libclang-rt-14-dev lld dpkg-dev systemd
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Servers installed by THIS run must not keep running as system services: tests start their
# own instances on free loopback ports. A server that was already installed is left alone
# (the user may rely on it); only the ones in "${missing[@]}" are disabled, and we say so.
for svc in redis-server nats-server postgresql; do
  installed_now=0
  for p in "${missing[@]}"; do [ "$p" = "$svc" ] && installed_now=1; done
  [ "$installed_now" = 1 ] || continue
  if command -v systemctl >/dev/null 2>&1 && $SUDO systemctl disable --now "$svc" >/dev/null 2>&1; then
    echo "install-deps: $svc was installed by this run: its system service is disabled and stopped (tests start their own)"
  fi
done
echo "install-deps: done"

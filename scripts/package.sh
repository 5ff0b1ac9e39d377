#!/usr/bin/env bash
# Builds the Debian package of the whole system (binaries, ATT&CK catalog, example configs,
# systemd units, docs) with CPack: a Release build in build-pkg/ (tests and benchmarks off),
# then `cpack -G DEB`. Prints the path of the .deb on its last line.
#   scripts/package.sh [OUTDIR]          (default: build-pkg/package)
# Install it with `apt-get install ./vectorvue-federation_*.deb` (pulls the shared libraries it
# needs); the units are vv-gateway.service and vv-engine.service (docs/operations.md).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${VV_PKG_BUILD_DIR:-$ROOT/build-pkg}"
OUT="${1:-$BUILD/package}"
"$ROOT/scripts/install-deps.sh"
export CCACHE_DIR="${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vv-ccache}"
export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVV_BUILD_TESTS=OFF \
  -DVV_BUILD_BENCH=OFF >/dev/null
ninja -C "$BUILD" -j"${JOBS:-2}"
mkdir -p "$OUT"
(cd "$BUILD" && cpack -G DEB -B "$OUT" >/dev/null)
ls -1 "$OUT"/*.deb | tail -1

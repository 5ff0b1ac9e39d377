#!/usr/bin/env bash
# The README's test command: installs dependencies, builds (RelWithDebInfo, and an ASan+UBSan
# build), runs every test with CTest. Servers that tests need are started by the tests' own
# fixtures on free loopback ports and stopped afterwards.
#   scripts/test.sh            # release + asan/ubsan
#   VV_SKIP_ASAN=1 scripts/test.sh   # release only (faster local loop)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export CCACHE_DIR="${CCACHE_DIR:-$PWD/.cache/ccache}"
JOBS="${JOBS:-2}"

run_suite() {
  local dir="$1"; shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  ninja -C "$dir" -j"$JOBS"
  (cd "$dir" && ctest --output-on-failure -j"$JOBS" --timeout 300)
}

echo "== release build + tests =="
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVV_BUILD_BENCH=ON
if [ "${VV_SKIP_ASAN:-0}" != "1" ]; then
  echo "== ASan+UBSan build + tests =="
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DVV_SANITIZE=address,undefined -DVV_BUILD_BENCH=OFF
fi
echo "== all tests passed =="

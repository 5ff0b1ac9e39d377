#!/usr/bin/env bash
# The README's test command (and CI's): installs the Debian packages, then
#   1. release build (-O2) of everything + all tests (unit, conformance against real
#      Redis/NATS/PostgreSQL/SoftHSM2 started by the fixtures on free loopback ports, black-box
#      integration with the real binaries over mTLS, fuzz-corpus replays) + the README's
#      commands run as written in a sandbox (scripts/check-readme.sh)
#   2. ASan+UBSan build (clang, Debug, line tables) + all tests
#   3. TSan build of the concurrent components (state, queue, pkcs11, audit, http, app,
#      conformance) +
#      their tests
#   4. fuzz smoke: every libFuzzer target (fuzz/targets.cmake) built with clang + ASan/UBSan
#      and run for VV_FUZZ_SMOKE_SECONDS (default 20) on its seed corpus; any crash, invariant
#      violation, leak or timeout fails the run (scripts/fuzz.sh)
# Servers that tests need are started by the tests' own fixtures and stopped afterwards.
#   VV_SKIP_SANITIZERS=1 scripts/test.sh   # release pass only (fast local loop)
#   VV_SKIP_FUZZ=1 scripts/test.sh         # everything but the fuzz smoke
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# One compiler cache per machine, shared by every checkout: paths are made relative to the
# checkout (CCACHE_BASEDIR) so a fresh clone in another folder reuses earlier compilations.
export CCACHE_DIR="${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vv-ccache}"
export CCACHE_BASEDIR="$PWD"
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-8G}"
JOBS="${JOBS:-2}"
START=$(date +%s)

configure() {  # configure DIR ARGS...
  local dir="$1"; shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
}
run_ctest() {  # run_ctest DIR [ctest args...]
  local dir="$1"; shift
  (cd "$dir" && ctest --output-on-failure -j"$JOBS" --timeout 300 "$@")
}

echo "== [1/3] release build + all tests =="
configure build -DCMAKE_BUILD_TYPE=Release -DVV_BUILD_BENCH=ON
ninja -C build -j"$JOBS"
run_ctest build
# The red-team run as a self-contained HTML page (the suite's JSON from the run above).
if [ -d build/redteam-results ]; then
  scripts/redteam-report.sh --from-json build/redteam-results build/redteam-report.html &&
    echo "red-team report: build/redteam-report.html"
fi
# The README's own commands, as written, in a sandbox (issue 16), on the release build.
scripts/check-readme.sh build

if [ "${VV_SKIP_SANITIZERS:-${VV_SKIP_ASAN:-0}}" != "1" ]; then
  echo "== [2/3] ASan+UBSan build + all tests =="
  # clang, not GCC: the same ASan+UBSan checks compile in ~40 % less CPU time (GCC 12 takes
  # ~48 s for one Beast translation unit under ASan, clang 14 ~27 s), and line tables are all a
  # sanitizer report needs (full -g makes ~75 MB objects that lld then has to link). The release
  # build above stays on GCC, so both compilers build every line.
  if [ -f build-asan/CMakeCache.txt ] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang++' build-asan/CMakeCache.txt; then
    rm -rf build-asan  # an older GCC-configured tree: CMake cannot switch compilers in place
  fi
  configure build-asan -DCMAKE_BUILD_TYPE=Debug -DVV_SANITIZE=address,undefined -DVV_BUILD_BENCH=OFF \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    "-DCMAKE_CXX_FLAGS_DEBUG=-O0 -gline-tables-only" "-DCMAKE_C_FLAGS_DEBUG=-O0 -gline-tables-only"
  ninja -C build-asan -j"$JOBS"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp" run_ctest build-asan -LE '^(redteam|deploy|bench)$'
  # (The red-team suite, the package test and the benchmark smoke ran on the release build
  #  above - a benchmark under ASan measures nothing; hostile input under ASan/UBSan is the
  #  fuzz smoke's job, stage 4, and every other black-box test's here.)

  echo "== [3/3] TSan build + tests of the concurrent components =="
  configure build-tsan -DCMAKE_BUILD_TYPE=Release -DVV_SANITIZE=thread -DVV_BUILD_BENCH=OFF
  tsan_targets=()
  for comp in state queue pkcs11 audit http app conformance engine sqlstore; do
    for f in tests/$comp/*_test.cc; do
      [ -e "$f" ] && tsan_targets+=("$(basename "$f" .cc)")
    done
  done
  # The tools the audit and engine tests run, built with the same instrumentation (the engine
  # runs its store stage on a second thread: issue 15).
  tsan_targets+=(vv-audit vv-engine vv-evidence)
  ninja -C build-tsan -j"$JOBS" "${tsan_targets[@]}"
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
    run_ctest build-tsan -L '^(state|queue|pkcs11|audit|http|app|conformance|engine|sqlstore)$'
fi

if [ "${VV_SKIP_SANITIZERS:-0}" != "1" ] && [ "${VV_SKIP_FUZZ:-0}" != "1" ]; then
  echo "== [4/4] fuzz smoke: every target ${VV_FUZZ_SMOKE_SECONDS:-20}s =="
  VV_FUZZ_JOBS="$JOBS" scripts/fuzz.sh "${VV_FUZZ_SMOKE_SECONDS:-20}"
fi
echo "== all tests passed in $(( $(date +%s) - START )) s =="

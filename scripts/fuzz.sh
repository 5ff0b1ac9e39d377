#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/, -DVV_BUILD_FUZZ=ON, every library
# instrumented with -fsanitize=fuzzer-no-link,address,undefined) and runs each fuzzer for
# SECONDS (default 30) on a scratch copy of its seed corpus fuzz/corpus/<target>/.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]      (no TARGET = all)
# Env: VV_FUZZ_JOBS (ninja -j and fuzzers run at once, default 2), VV_FUZZ_BUILD_DIR (default build-fuzz).
# Exit status: non-zero when the build fails or any fuzzer finds a crash / invariant violation /
# leak / timeout; the reproducer is left in $BUILD/fuzz-artifacts/<target>/ (replay it with
# $BUILD/fuzz/bin/<target> <file>, or with <target>_replay in a normal build). New inputs
# found are kept in $BUILD/fuzz-work/<target>/ (merge interesting ones into fuzz/corpus by
# hand: <target> -merge=1 fuzz/corpus/<target> $BUILD/fuzz-work/<target>).
set -euo pipefail

SECONDS_PER_TARGET="${1:-30}"
shift || true
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${VV_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
JOBS="${VV_FUZZ_JOBS:-2}"
# Every target listed in fuzz/targets.cmake (VV_FUZZ_TARGETS), the one list of them.
mapfile -t ALL_TARGETS < <(sed -n '/^set(VV_FUZZ_TARGETS/,/)/p' "$ROOT/fuzz/targets.cmake" |
                           sed -e 's/set(VV_FUZZ_TARGETS//' -e 's/)//' | tr -s ' \n' '\n' | grep -v '^$')
if [[ $# -gt 0 ]]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

cmake -S "$ROOT" -B "$BUILD" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG" \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG" \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link" \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" \
  -DVV_SANITIZE=address,undefined \
  -DVV_BUILD_FUZZ=ON -DVV_BUILD_TESTS=OFF -DVV_BUILD_BENCH=OFF >/dev/null
ninja -C "$BUILD" -j"$JOBS" "${TARGETS[@]}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

declare -A RESULT RATE
# run_one TARGET: one fuzzer for SECONDS_PER_TARGET; its exit status goes to $log.rc.
run_one() {
  local t="$1"
  local bin="$BUILD/fuzz/bin/$t" seeds="$ROOT/fuzz/corpus/$t" work="$BUILD/fuzz-work/$t"
  local artifacts="$BUILD/fuzz-artifacts/$t/" log="$BUILD/fuzz-logs/$t.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  rm -f "$log.rc"
  # The first corpus dir receives new inputs; the seed dir is only read.
  set +e
  "$bin" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$work" "$seeds" >"$log" 2>&1
  echo $? >"$log.rc"
}
# VV_FUZZ_JOBS fuzzers at a time (each libFuzzer process uses one core): the smoke's wall time
# is SECONDS x targets / jobs.
running=0
for t in "${TARGETS[@]}"; do
  echo "=== $t: ${SECONDS_PER_TARGET}s (log: $BUILD/fuzz-logs/$t.log)"
  run_one "$t" &
  running=$((running + 1))
  if (( running >= JOBS )); then wait -n || true; running=$((running - 1)); fi
done
wait || true
failed=0
for t in "${TARGETS[@]}"; do
  log="$BUILD/fuzz-logs/$t.log"
  rc=$(cat "$log.rc" 2>/dev/null || echo 99)
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
  rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  RATE[$t]="runs=${runs:-?} exec/s=${rate:-?} cov=${cov:-?}"
  if [[ "$rc" != 0 ]]; then
    RESULT[$t]="FAIL (exit $rc)"
    failed=1
    echo "--- $t failed (exit $rc):"
    grep -E 'ERROR|invariant violated|runtime error|Test unit written|SUMMARY' "$log" | head -10 || true
  else
    RESULT[$t]="ok"
  fi
done

echo
echo "=== fuzz summary (${SECONDS_PER_TARGET}s per target)"
for t in "${TARGETS[@]}"; do
  printf '%-26s %-14s %s\n' "$t" "${RESULT[$t]}" "${RATE[$t]}"
done
exit $failed

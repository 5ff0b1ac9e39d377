#!/usr/bin/env bash
# bench_smoke_test.sh SOURCE_DIR BUILD_DIR: runs scripts/bench.sh --tiny --no-build on the
# already-built tree and checks that it succeeded and printed one well-formed line per
# configuration, the engine lines included (numbers only where numbers belong). Asserts no
# figure.
set -euo pipefail
SRC="$1"
BUILD="$2"
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
if ! "$SRC/scripts/bench.sh" --tiny --no-build --build-dir "$BUILD" > "$OUT"; then
  echo "bench.sh --tiny failed; its output:"; cat "$OUT"; exit 1
fi
cat "$OUT"
NUM='[0-9]+(\.[0-9]+)?'
fail=0
expect_line() {  # expect_line REGEX WHAT
  grep -Eq "$1" "$OUT" || { echo "missing: $2"; fail=1; }
}
expect_line '^config rps p50 p99 cpu_us verify_us ratio group$' "the single-request header"
expect_line '^batch_config events_per_s batch_size p50 p99 cpu_us_per_event verify_us ratio group$' "the batch header"
expect_line "^embedded $NUM $NUM $NUM $NUM $NUM $NUM $NUM\$" "the embedded line"
expect_line "^embedded/batch $NUM [0-9]+ $NUM $NUM $NUM $NUM $NUM $NUM\$" "the embedded batch line"
expect_line '^engine_config events_per_s events cpu_us_per_event vs_batch$' "the engine header"
expect_line "^embedded/engine $NUM [0-9]+ $NUM $NUM\$" "the embedded engine line"
expect_line '^paced_config target_rps rps p50 p99 cpu_us ratio$' "the paced header"
expect_line "^embedded/paced $NUM $NUM $NUM $NUM $NUM $NUM\$" "the embedded paced line"
if command -v redis-server >/dev/null && command -v nats-server >/dev/null; then
  expect_line "^redis-jetstream $NUM $NUM $NUM $NUM $NUM $NUM $NUM\$" "the redis-jetstream line"
  expect_line "^redis-jetstream/batch $NUM [0-9]+ $NUM $NUM $NUM $NUM $NUM $NUM\$" "the redis-jetstream batch line"
  if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    expect_line "^redis-jetstream/engine $NUM [0-9]+ $NUM $NUM\$" "the JetStream + PostgreSQL engine line"
  fi
fi
# Every non-comment line is a header or a result line of the two shapes above.
if grep -Ev '^#|^config |^batch_config |^engine_config |^paced_config ' "$OUT" | grep -Evq "^[a-z-]+(/batch|/engine|/paced)? $NUM( $NUM)+\$"; then
  echo "malformed lines:"; grep -Ev '^#|^config |^batch_config |^engine_config |^paced_config ' "$OUT" | grep -Ev "^[a-z-]+(/batch|/engine|/paced)? $NUM( $NUM)+\$"
  fail=1
fi
exit $fail

#!/usr/bin/env bash
# bench_instructions_smoke_test.sh SOURCE_DIR BUILD_DIR: runs scripts/bench-instructions.sh
# --tiny on the already-built tree and checks that it succeeded and printed its three lines
# (an integer count each). Asserts no figure. Skipped (exit 0) without valgrind, as the script.
set -euo pipefail
SRC="$1"
BUILD="$2"
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
if ! command -v valgrind >/dev/null; then
  echo "valgrind not installed: skipped"; exit 0
fi
if ! "$SRC/scripts/bench-instructions.sh" --tiny --build-dir "$BUILD" > "$OUT"; then
  echo "bench-instructions.sh --tiny failed; its output:"; cat "$OUT"; exit 1
fi
cat "$OUT"
fail=0
for line in '^instructions_config count unit$' '^embedded/batch [0-9]+ per_event$' \
            '^embedded/single [0-9]+ per_request$' '^embedded/engine [0-9]+ per_event$'; do
  grep -Eq "$line" "$OUT" || { echo "missing: $line"; fail=1; }
done
[[ $(wc -l < "$OUT") -eq 4 ]] || { echo "expected exactly 4 lines"; fail=1; }
exit $fail

#!/usr/bin/env bash
# redteam-report.sh [BUILD_DIR] [OUT.html]: runs every red-team test binary of a build
# (*_redteam_test, in BUILD_DIR/bin or BUILD_DIR/tests/redteam) one after the other with
# --gtest_output=json, then renders ONE self-contained HTML page (scripts/redteam_report.py):
# date, git revision, totals, a chart by category and every scenario with its expectation,
# observation and audit evidence.
#
#   scripts/redteam-report.sh                       # build/ -> build/redteam-report.html
#   scripts/redteam-report.sh build out/rt.html
#   scripts/redteam-report.sh --from-json DIR [OUT.html]   # render existing JSON, run nothing
#
# The JSON results (and each binary's console output) are kept beside the page in
# <OUT dir>/redteam-results/ for CI to archive. A binary that dies without writing its JSON is
# reported as a failed entry. Exit status: 0 when nothing failed (skipped scenarios = known
# defects do not fail the run), 1 when a scenario failed or a binary crashed, 2 on usage errors.
# The binaries must already be built (e.g. ninja -C build classic_redteam_test ...).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RENDER="$ROOT/scripts/redteam_report.py"
REV="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
if [[ "$REV" != unknown ]] && ! git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null; then
  REV="$REV (modified)"
fi

if [[ "${1:-}" == "--from-json" ]]; then
  [[ $# -ge 2 ]] || { echo "usage: $0 --from-json DIR [OUT.html]" >&2; exit 2; }
  DIR="$2"
  OUT="${3:-$DIR/redteam-report.html}"
  exec python3 "$RENDER" --from-json "$DIR" --out "$OUT" --revision "$REV"
fi
case "${1:-}" in -h|--help) sed -n '2,17p' "$0"; exit 0 ;; esac

BUILD="${1:-$ROOT/build}"
OUT="${2:-$BUILD/redteam-report.html}"
[[ -d "$BUILD" ]] || { echo "redteam-report: no build directory $BUILD" >&2; exit 2; }
BUILD="$(cd "$BUILD" && pwd)"
mkdir -p "$(dirname "$OUT")"
RESULTS="$(cd "$(dirname "$OUT")" && pwd)/redteam-results"
rm -rf "$RESULTS"
mkdir -p "$RESULTS"

mapfile -t BINARIES < <(find "$BUILD/bin" "$BUILD/tests/redteam" -maxdepth 1 -type f \
                          -name '*_redteam_test' -perm -u+x 2>/dev/null | sort -u)
if [[ ${#BINARIES[@]} -eq 0 ]]; then
  echo "redteam-report: no *_redteam_test binaries in $BUILD/bin or $BUILD/tests/redteam" \
       "(build them first)" >&2
  exit 2
fi

status=0
for bin in "${BINARIES[@]}"; do
  name="$(basename "$bin")"
  json="$RESULTS/$name.json"
  echo "redteam-report: running $name"
  rc=0
  # Tests find their data relative to the build tree; run from the binary's directory.
  (cd "$(dirname "$bin")" && "$bin" --gtest_output="json:$json" >"$RESULTS/$name.log" 2>&1) || rc=$?
  if [[ ! -s "$json" ]]; then
    # No JSON: the binary crashed or was killed. Report it as one failed entry (the name is a
    # file name from the build tree; the log tail is escaped by the renderer).
    python3 - "$json" "$name" "$rc" "$RESULTS/$name.log" <<'EOF'
import json, sys
path, name, rc, log = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
try:
    tail = open(log, encoding="utf-8", errors="replace").read()[-3000:]
except OSError:
    tail = ""
json.dump({"testsuites": [{"name": name, "testsuite": [{
    "name": "(binary produced no results)", "result": "COMPLETED", "rt_category": "ops",
    "rt_expected": "the binary runs to completion and writes its JSON results",
    "rt_observed": "exit status %s, no JSON written" % rc,
    "failures": [{"failure": "exit status %s; last output:\n%s" % (rc, tail)}]}]}]},
    open(path, "w", encoding="utf-8"))
EOF
    status=1
  elif [[ $rc -ne 0 ]]; then
    status=1
  fi
done

python3 "$RENDER" --from-json "$RESULTS" --out "$OUT" --revision "$REV"
exit "$status"

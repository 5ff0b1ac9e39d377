#!/usr/bin/env bash
# bench-instructions.sh: the user-space instructions the gateway spends per accepted event
# (batch endpoint) and per accepted request (single endpoint), and the engine per stored event,
# counted by valgrind's callgrind (issue 15; bench/README.md keeps the figures).
#
#   scripts/bench-instructions.sh [--build-dir DIR] [--batch-requests N] [--single-requests N]
#                                 [--tiny] [--keep]
#
# Why: wall-clock figures on this project's 2-vCPU virtual machines move 25-40 % between
# identical runs, so a change worth 5-10 % needs many interleaved runs to show; an instruction
# count of the same build repeats to ~0.1 %. Use it to compare two builds of one change (run it
# in each tree), beside scripts/bench.sh for the real rates.
# How: scripts/bench.sh --tiny --keep makes the dev PKI, keys and configs; the gateway then runs
# under callgrind on embedded backends (mTLS, signed audit log, signed queue envelopes), is warmed
# up, its counters zeroed, driven by vv-loadgen (N batch requests of 500 events, then M single
# requests, each phase zeroed and dumped apart), and vv-engine --drain runs under callgrind over
# the queue the batch phase filled.
# Output (stdout):
#   instructions_config count unit
#   embedded/batch <Ir> per_event
#   embedded/single <Ir> per_request
#   embedded/engine <Ir> per_event        (start-up included: ~1 % at the default load)
# Caveats: valgrind's CPU has no SHA-NI or AVX-512, so SHA-256 (OpenSSL's generic code) weighs
# ~25 % of the batch path here against ~5 % on the real CPU; kernel time (system calls, fsync,
# context switches) is not counted at all - scripts/bench.sh measures that. Needs valgrind
# (Debian package valgrind); exits 0 with a note when it is missing. --tiny: a few requests
# (checks the script runs; the counts then include warm-up effects).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

BUILD="$ROOT/build-release"
BATCH_REQUESTS=10
SINGLE_REQUESTS=2000
KEEP=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD="$(cd "$2" && pwd)"; shift 2 ;;
    --batch-requests) BATCH_REQUESTS="$2"; shift 2 ;;
    --single-requests) SINGLE_REQUESTS="$2"; shift 2 ;;
    --tiny) BATCH_REQUESTS=1; SINGLE_REQUESTS=20; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-instructions.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN="$BUILD/bin"
if ! command -v valgrind > /dev/null || ! command -v callgrind_control > /dev/null; then
  echo "bench-instructions.sh: valgrind is not installed (apt-get install valgrind): skipped" >&2
  exit 0
fi
for b in vv-gateway vv-engine vv-loadgen; do
  [[ -x "$BIN/$b" ]] || { echo "bench-instructions.sh: $BIN/$b not built" >&2; exit 2; }
done

# The dev PKI, keys and the two configs, from a tiny bench.sh run (kept).
KEPT=$(scripts/bench.sh --tiny --no-build --build-dir "$BUILD" --configs embedded --pace 0 \
  --keep 2>&1 >/dev/null | sed -n 's/^bench.sh: kept //p' | tail -1)
[[ -n "$KEPT" && -d "$KEPT/embedded" ]] || { echo "bench-instructions.sh: bench.sh setup failed" >&2; exit 1; }
RUN="$KEPT"
E="$RUN/embedded"
VG=""
cleanup() {
  [[ -n "$VG" ]] && kill "$VG" 2>/dev/null && wait "$VG" 2>/dev/null || true
  if [[ "$KEEP" == 1 ]]; then echo "bench-instructions.sh: kept $RUN" >&2; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
SEED=$(cat "$RUN/keys/producer.seed")
rm -f "$E"/queue.db* "$E"/audit.jsonl* "$E"/evidence.db* "$E"/engine-audit.jsonl* "$E/gateway.log"

# Total Ir of a callgrind dump file.
ir_of() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }
per() { python3 -c 'import sys; print(round(int(sys.argv[1]) / int(sys.argv[2])))' "$1" "$2"; }

valgrind --tool=callgrind --callgrind-out-file="$RUN/cg.gateway.%p" "$BIN/vv-gateway" \
  --config "$E/gateway.yaml" > "$E/gateway.log" 2>&1 &
VG=$!
for _ in $(seq 1 600); do grep -q '^LISTENING' "$E/gateway.log" && break; sleep 0.2; done
PORT=$(awk '/^LISTENING/ {print $2; exit}' "$E/gateway.log")
[[ -n "$PORT" ]] || { echo "bench-instructions.sh: the gateway did not start" >&2; tail -20 "$E/gateway.log" >&2; exit 1; }
lg() {
  "$BIN/vv-loadgen" --port "$PORT" --ca "$RUN/pki/ca.crt" --cert "$RUN/pki/producer.crt" \
    --key "$RUN/pki/producer.key" --seed-hex "$SEED" --connections 4 --gateway-pid "$VG" "$@"
}
# phase NAME N [loadgen args]: zero, drive, dump; prints the phase's Ir.
phase() {
  local name="$1"; shift
  callgrind_control -z "$VG" > /dev/null 2>&1
  lg "$@" > "$RUN/$name.json"
  sleep 1  # the last answers' audit records and commits
  callgrind_control -d "$name" "$VG" > /dev/null 2>&1
  sleep 0.5
  ir_of "$(ls -t "$RUN"/cg.gateway.* | head -1)"  # the dump just written
}
lg --requests 4 --batch-size 500 > /dev/null  # warm-up: first connections, caches, allocator
lg --requests 50 > /dev/null
BATCH_IR=$(phase batch --requests "$BATCH_REQUESTS" --batch-size 500)
SINGLE_IR=$(phase single --requests "$SINGLE_REQUESTS")
kill "$VG"; wait "$VG" 2>/dev/null || true
VG=""

valgrind --tool=callgrind --callgrind-out-file="$RUN/cg.engine" "$BIN/vv-engine" \
  --config "$E/engine.yaml" --drain > "$E/engine.log" 2>&1
ENGINE_IR=$(ir_of "$RUN/cg.engine")
ENGINE_EVENTS=$(sed -n 's/.*drain done: processed \([0-9]*\).*/\1/p' "$E/engine.log" | tail -1)

echo "instructions_config count unit"
echo "embedded/batch $(per "$BATCH_IR" $((BATCH_REQUESTS * 500))) per_event"
echo "embedded/single $(per "$SINGLE_IR" "$SINGLE_REQUESTS") per_request"
echo "embedded/engine $(per "$ENGINE_IR" "${ENGINE_EVENTS:-1}") per_event"

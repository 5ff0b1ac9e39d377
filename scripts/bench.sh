#!/usr/bin/env bash
# bench.sh: the gateway's per-request cost against the signature floor, measured in ONE run
# (issue 15 item 3; bench/README.md keeps the figures).
#
#   scripts/bench.sh [--build-dir DIR] [--no-build] [--requests N] [--connections C]
#                    [--batch-size B] [--configs embedded,redis-jetstream] [--tiny] [--keep]
#
# For each configuration it starts vv-gateway (real mTLS on a free loopback port, a fresh dev
# PKI, signed audit log, signed queue envelopes - every guarantee of production on), drives it
# with vv-loadgen (pre-signed requests over keep-alive mTLS connections; the gateway's CPU is
# utime+stime from /proc/<pid>/stat divided by the requests; one libsodium Ed25519 verify of
# the same message is timed in the same run), then drives the batch endpoint the same way.
#   embedded         SQLite queue + in-process nonce/rate state
#   redis-jetstream  redis-server + nats-server -js started here on free loopback ports
#                    (skipped with a note when either binary is missing), stopped after
# Output (stdout), one line per configuration:
#   config rps p50 p99 cpu_us verify_us ratio          (p50/p99 in ms; ratio = verify_us/cpu_us)
#   batch_config events_per_s batch_size p50 p99 cpu_us_per_event verify_us ratio
# The raw vv-loadgen JSON of every run is kept in the run directory (printed on stderr).
# --requests sets the length of a run (vv-loadgen is bounded by a request count, not a time:
# every request is pre-signed before the clock starts). Exit 0 when every run got only
# 202 / 207-all-accepted answers. --tiny: a few requests per run (CI: tests/bench).
# Not a test: figures are only meaningful on an otherwise idle machine, and even then only
# the ratios compare across machines.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

BUILD="$ROOT/build-release"
NO_BUILD=0
REQUESTS=20000
CONNECTIONS=64
BATCH_SIZE=500
BATCH_REQUESTS=""
CONFIGS="embedded,redis-jetstream"
KEEP=0
usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD="$(cd "$2" && pwd)"; shift 2 ;;
    --no-build) NO_BUILD=1; shift ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --batch-size) BATCH_SIZE="$2"; shift 2 ;;
    --batch-requests) BATCH_REQUESTS="$2"; shift 2 ;;
    --configs) CONFIGS="$2"; shift 2 ;;
    --tiny) REQUESTS=40; CONNECTIONS=2; BATCH_SIZE=5; BATCH_REQUESTS=4; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$REQUESTS" "$CONNECTIONS" "$BATCH_SIZE"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: counts must be positive integers" >&2; exit 2; }
done
# Batch runs carry about as many events as the single runs (at least 2 requests).
[[ -n "$BATCH_REQUESTS" ]] || BATCH_REQUESTS=$(( REQUESTS / BATCH_SIZE > 2 ? REQUESTS / BATCH_SIZE : 2 ))

if [[ $NO_BUILD -eq 0 ]]; then
  export CCACHE_DIR="${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vv-ccache}"
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
  if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVV_BUILD_TESTS=OFF \
      -DVV_BUILD_BENCH=OFF >/dev/null
  fi
  ninja -C "$BUILD" -j"${JOBS:-2}" vv-gateway vv-loadgen >&2
fi
BIN="$BUILD/bin"
for b in vv-gateway vv-loadgen; do
  [[ -x "$BIN/$b" ]] || { echo "bench.sh: $BIN/$b not built" >&2; exit 1; }
done
if grep -q '^CMAKE_BUILD_TYPE:STRING=Debug' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "bench.sh: note: $BUILD is a Debug build; figures are not representative" >&2
fi

RUN="$(mktemp -d "${TMPDIR:-/tmp}/vv-bench.XXXXXX")"
chmod 0700 "$RUN"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do
    [[ -n "$p" ]] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
  done
  if [[ $KEEP -eq 0 ]]; then rm -rf "$RUN"; else echo "bench.sh: kept $RUN" >&2; fi
}
trap cleanup EXIT
stop_pid() {  # stops one process this script started
  local p="$1"
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  local keep=()
  for q in "${PIDS[@]}"; do [[ "$q" != "$p" ]] && keep+=("$q"); done
  PIDS=("${keep[@]:-}")
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_for() {  # wait_for SECONDS CMD...: polls CMD every 0.1 s; CMD exiting 2 = give up now
  local deadline=$(( $(date +%s) + $1 )) rc; shift
  while :; do
    rc=0
    "$@" >/dev/null 2>&1 || rc=$?
    [[ $rc -eq 0 ]] && return 0
    [[ $rc -eq 2 ]] && return 1
    (( $(date +%s) < deadline )) || return 1
    sleep 0.1
  done
}

listening() {  # listening PID LOG: the gateway printed its port (fails for good once it exited)
  grep -q '^LISTENING' "$2" && return 0
  kill -0 "$1" 2>/dev/null || return 2
  return 1
}

# Dev PKI, the producer's Ed25519 key (seed for vv-loadgen, public key for the gateway).
scripts/dev-pki.sh "$RUN/pki"
mkdir -p "$RUN/keys"
( umask 077
  openssl genpkey -algorithm ed25519 -out "$RUN/keys/audit_seal.pem" 2>/dev/null
  openssl genpkey -algorithm ed25519 -out "$RUN/keys/queue.pem" 2>/dev/null
  openssl genpkey -algorithm ed25519 -out "$RUN/keys/feedback.pem" 2>/dev/null
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$RUN/keys/producer.seed" )
SEED=$(cat "$RUN/keys/producer.seed")
# PKCS#8 DER of an Ed25519 seed: fixed 16-byte prefix + the seed; the raw public key is the
# last 32 bytes of the DER SubjectPublicKeyInfo.
PUB_B64=$(python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex("302e020100300506032b657004220420" + sys.argv[1]))' "$SEED" \
  | openssl pkey -inform DER -pubout -outform DER | tail -c 32 | base64)
PIN=$(cat "$RUN/pki/producer.sha256")
TENANT=10000000-0000-0000-0000-000000000001

# gateway_yaml NAME EXTRA: the configuration of one run (rate limit out of the way: the
# limiter still runs on every request, it just never refuses).
gateway_yaml() {
  local dir="$RUN/$1"
  mkdir -p "$dir"
  cat > "$dir/gateway.yaml" <<YAML
vectorvue:
  telemetry_gateway:
    profile: development
    listen: "127.0.0.1:0"
    admin_listen: "127.0.0.1:0"
    tls:
      cert_path: $RUN/pki/gateway.crt
      key_path: $RUN/pki/gateway.key
      ca_path: $RUN/pki/ca.crt
    require_mtls: true
    require_payload_signature: true
    allowed_clock_skew_seconds: 300
    nonce_ttl_seconds: 600
    rate_limit_per_minute: 1000000000
    audit_log_path: $dir/audit.jsonl
    audit_seal_key_path: $RUN/keys/audit_seal.pem
    queue_signing_key_path: $RUN/keys/queue.pem
    queue_signing_kid: queue-001
    feedback_signing_keys:
      kid-001: $RUN/keys/feedback.pem
    feedback_active_kid: kid-001
    spectrastrike_ed25519_public_key_b64: $PUB_B64
    allowed_service_identities:
      spectrastrike-producer: $PIN
    operator_tenant_map:
      op-001: $TENANT
    enforce_schema_version: true
    allowed_schema_versions: ["1.0"]
    limits:
      batch_max_events: $(( BATCH_SIZE > 1000 ? BATCH_SIZE : 1000 ))
      max_connections: 4096
$2
YAML
}

loadgen() {  # loadgen OUT_JSON GATEWAY_PID PORT [extra args]
  local out="$1" pid="$2" port="$3"; shift 3
  local rc=0
  "$BIN/vv-loadgen" --port "$port" --ca "$RUN/pki/ca.crt" --cert "$RUN/pki/producer.crt" \
    --key "$RUN/pki/producer.key" --seed-hex "$SEED" --connections "$CONNECTIONS" \
    --gateway-pid "$pid" "$@" > "$out" || rc=$?
  echo "bench.sh: $(basename "$(dirname "$out")")/$(basename "$out"): $(cat "$out")" >&2
  return $rc
}

# Prints the two result lines of one configuration from its loadgen JSON files.
report() {  # report NAME SINGLE_JSON BATCH_JSON
  python3 - "$@" <<'PY'
import json, sys
name, single, batch = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
def line(cfg, d, per):
    cpu = d["gateway_cpu_us_per_" + per]
    v = d["ed25519_verify_us"]
    return cfg, cpu, v, (v / cpu if cpu > 0 else 0.0)
cfg, cpu, v, r = line(name, single, "request")
print("%s %.0f %.2f %.2f %.1f %.1f %.3f" % (cfg, single["requests_per_second"],
      single["latency_p50_us"] / 1e3, single["latency_p99_us"] / 1e3, cpu, v, r))
cfg, cpu, v, r = line(name + "/batch", batch, "event")
print("%s %.0f %d %.2f %.2f %.1f %.1f %.3f" % (cfg, batch["events_per_second"], batch["batch_size"],
      batch["latency_p50_us"] / 1e3, batch["latency_p99_us"] / 1e3, cpu, v, r))
PY
}

FAILED=0
LINES=()
run_config() {  # run_config NAME EXTRA_YAML
  local name="$1"
  gateway_yaml "$name" "$2"
  local dir="$RUN/$name"
  "$BIN/vv-gateway" --config "$dir/gateway.yaml" > "$dir/gateway.log" 2>&1 &
  local gw=$!
  PIDS+=("$gw")
  if ! wait_for 60 listening "$gw" "$dir/gateway.log"; then
    echo "bench.sh: $name: the gateway did not start:" >&2
    tail -20 "$dir/gateway.log" >&2
    FAILED=1
    stop_pid "$gw"
    return
  fi
  local port
  port=$(awk '/^LISTENING/ {print $2; exit}' "$dir/gateway.log")
  loadgen "$dir/single.json" "$gw" "$port" --requests "$REQUESTS" || FAILED=1
  loadgen "$dir/batch.json" "$gw" "$port" --requests "$BATCH_REQUESTS" \
    --batch-size "$BATCH_SIZE" || FAILED=1
  stop_pid "$gw"
  mapfile -t -O "${#LINES[@]}" LINES < <(report "$name" "$dir/single.json" "$dir/batch.json")
}

IFS=',' read -r -a WANT <<< "$CONFIGS"
for c in "${WANT[@]}"; do
  case "$c" in
    embedded)
      run_config embedded "    queue_backend: embedded
    queue_path: $RUN/embedded/queue.db
    nonce_backend: memory
    rate_limit_backend: memory"
      ;;
    redis-jetstream)
      if ! command -v redis-server >/dev/null || ! command -v nats-server >/dev/null; then
        echo "bench.sh: redis-jetstream skipped: redis-server or nats-server not installed" >&2
        LINES+=("# redis-jetstream skipped: redis-server or nats-server not installed")
        continue
      fi
      mkdir -p "$RUN/redis" "$RUN/nats"
      RPORT=$(free_port)
      redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$RUN/redis" > "$RUN/redis/log" 2>&1 &
      RPID=$!
      PIDS+=("$RPID")
      NPORT=$(free_port)
      nats-server -js -a 127.0.0.1 -p "$NPORT" -sd "$RUN/nats" > "$RUN/nats/log" 2>&1 &
      NPID=$!
      PIDS+=("$NPID")
      if ! wait_for 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$RPORT" || ! wait_for 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$NPORT"; then
        echo "bench.sh: redis-server or nats-server did not start" >&2
        FAILED=1
      else
        run_config redis-jetstream "    queue_backend: nats
    nats_url: nats://127.0.0.1:$NPORT
    nonce_backend: redis
    rate_limit_backend: redis
    redis_url: redis://127.0.0.1:$RPORT/0"
      fi
      stop_pid "$NPID"
      stop_pid "$RPID"
      ;;
    *) echo "bench.sh: unknown configuration $c (embedded, redis-jetstream)" >&2; exit 2 ;;
  esac
done

echo "# vv bench: $(nproc) cores, $(uname -m), requests=$REQUESTS connections=$CONNECTIONS batch_size=$BATCH_SIZE batch_requests=$BATCH_REQUESTS"
echo "# ratio = verify_us / cpu_us (one libsodium Ed25519 verify of the same message, same run)"
echo "config rps p50 p99 cpu_us verify_us ratio"
for l in "${LINES[@]:-}"; do [[ -n "$l" && "$l" != */batch* ]] && echo "$l"; done
echo "batch_config events_per_s batch_size p50 p99 cpu_us_per_event verify_us ratio"
for l in "${LINES[@]:-}"; do [[ "$l" == */batch* ]] && echo "$l"; done
exit $FAILED

#!/usr/bin/env bash
# bench.sh: the gateway's per-request cost against the signature floor, measured in ONE run
# (issue 15 item 3; bench/README.md keeps the figures).
#
#   scripts/bench.sh [--build-dir DIR] [--no-build] [--requests N] [--connections C]
#                    [--batch-size B] [--configs embedded,redis-jetstream] [--tiny] [--keep]
#                    [--random-event-ids] [--pace FRACTION] [--pace-rps R]
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
#   config rps p50 p99 cpu_us verify_us ratio group    (p50/p99 in ms; ratio = verify_us/cpu_us)
#   batch_config events_per_s batch_size p50 p99 cpu_us_per_event verify_us ratio group
# group: the mean number of envelopes published together during that run (one embedded-queue
# commit, or one queue signature on the JetStream path), from the gateway's
# vv_gateway_queue_group_size histogram scraped on its admin listener before and after the run.
#   engine_config events_per_s events cpu_us_per_event vs_batch
#   paced_config target_rps rps p50 p99 cpu_us ratio
# The paced line (issue 15 item 1's "p99 at 70 % of that load"): after the batch run, the
# single run's number of requests again, open loop at --pace (default 0.7) x the single run's req/s
# (vv-loadgen --rate: request i is due at i/rate s and its latency counts from then, so a
# gateway falling behind shows in p99). --pace 0 skips it. --pace-rps R paces at R req/s
# instead (the same offered load for two builds being compared).
# The engine line (issue 15 item 4): after the gateway runs, vv-engine --drain consumes what
# they enqueued (signed envelopes) into the encrypted evidence store - embedded: SQLite queue ->
# SQLite store; redis-jetstream: JetStream -> PostgreSQL (a private postgres started here,
# skipped with a note when not installed). events_per_s = events / wall time of the whole
# vv-engine --drain process (start-up included: negligible at the default load), cpu_us =
# the engine's utime+stime per event, vs_batch = engine events/s / the gateway's batch
# events/s of the same configuration (>= 1: the engine keeps up).
# The raw vv-loadgen JSON of every run is kept in the run directory (printed on stderr).
# --requests sets the length of a run (vv-loadgen is bounded by a request count, not a time:
# every request is pre-signed before the clock starts). Exit 0 when every run got only
# 202 / 207-all-accepted answers. --tiny: a few requests per run (CI: tests/bench).
# --random-event-ids: every event gets a random id (uuid4, as most producers send them)
# instead of one that sorts in the order sent: the queue's dedupe index then takes random
# inserts (a B-tree page written per event once the index outgrows a commit group).
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
PACE=0.7
PACE_RPS=""
LOADGEN_IDS=()
usage() { sed -n '2,44p' "$0" | sed 's/^# \{0,1\}//'; }
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
    --random-event-ids) LOADGEN_IDS=(--random-event-ids); shift ;;
    --pace) PACE="$2"; shift 2 ;;
    --pace-rps) PACE_RPS="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$REQUESTS" "$CONNECTIONS" "$BATCH_SIZE"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: counts must be positive integers" >&2; exit 2; }
done
[[ "$PACE" =~ ^(0|0?\.[0-9]+|1(\.0*)?)$ ]] || { echo "bench.sh: --pace is a fraction in [0, 1]" >&2; exit 2; }
[[ -z "$PACE_RPS" || "$PACE_RPS" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --pace-rps is a positive integer" >&2; exit 2; }
# Batch runs carry about as many events as the single runs (at least 2 requests).
[[ -n "$BATCH_REQUESTS" ]] || BATCH_REQUESTS=$(( REQUESTS / BATCH_SIZE > 2 ? REQUESTS / BATCH_SIZE : 2 ))

if [[ $NO_BUILD -eq 0 ]]; then
  export CCACHE_DIR="${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vv-ccache}"
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
  if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVV_BUILD_TESTS=OFF \
      -DVV_BUILD_BENCH=OFF >/dev/null
  fi
  ninja -C "$BUILD" -j"${JOBS:-2}" vv-gateway vv-loadgen vv-engine vv-evidence >&2
fi
BIN="$BUILD/bin"
for b in vv-gateway vv-loadgen vv-engine vv-evidence; do
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
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$RUN/keys/producer.seed"
  head -c 32 /dev/urandom > "$RUN/keys/evidence_root.key" )
chmod 0400 "$RUN/keys/evidence_root.key"
QUEUE_PUB_B64=$(openssl pkey -in "$RUN/keys/queue.pem" -pubout -outform DER | tail -c 32 | base64)
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
    --gateway-pid "$pid" ${LOADGEN_IDS[@]+"${LOADGEN_IDS[@]}"} "$@" > "$out" || rc=$?
  echo "bench.sh: $(basename "$(dirname "$out")")/$(basename "$out"): $(cat "$out")" >&2
  return $rc
}

# group_totals ADMIN_PORT: "SUM COUNT" of the gateway's vv_gateway_queue_group_size histogram
# (envelopes published together: one embedded commit, one JetStream-path signature), "0 0"
# when the scrape fails.
group_totals() {
  python3 - "$1" <<'PY' 2>/dev/null || echo "0 0"
import sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
v = {}
for line in text.splitlines():
    for k in ("vv_gateway_queue_group_size_sum", "vv_gateway_queue_group_size_count"):
        if line.startswith(k + " "):
            v[k] = float(line.split()[1])
print("%g %g" % (v.get("vv_gateway_queue_group_size_sum", 0), v.get("vv_gateway_queue_group_size_count", 0)))
PY
}

# Prints the result lines of one configuration from its loadgen JSON files and the
# group_totals taken before the single run, between the runs and after the batch run; the
# paced line too when PACED_JSON is given and not empty.
report() {  # report NAME SINGLE_JSON BATCH_JSON "SUM COUNT" "SUM COUNT" "SUM COUNT" [PACED_JSON]
  python3 - "$@" <<'PY'
import json, os, sys
name, single, batch = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
totals = [tuple(float(x) for x in t.split()) for t in sys.argv[4:7]]
def group(a, b):  # mean envelopes a group between two scrapes
    n = b[1] - a[1]
    return (b[0] - a[0]) / n if n > 0 else 0.0
def line(cfg, d, per):
    cpu = d["gateway_cpu_us_per_" + per]
    v = d["ed25519_verify_us"]
    return cfg, cpu, v, (v / cpu if cpu > 0 else 0.0)
cfg, cpu, v, r = line(name, single, "request")
print("%s %.0f %.2f %.2f %.1f %.1f %.3f %.2f" % (cfg, single["requests_per_second"],
      single["latency_p50_us"] / 1e3, single["latency_p99_us"] / 1e3, cpu, v, r,
      group(totals[0], totals[1])))
cfg, cpu, v, r = line(name + "/batch", batch, "event")
print("%s %.0f %d %.2f %.2f %.1f %.1f %.3f %.1f" % (cfg, batch["events_per_second"], batch["batch_size"],
      batch["latency_p50_us"] / 1e3, batch["latency_p99_us"] / 1e3, cpu, v, r,
      group(totals[1], totals[2])))
if len(sys.argv) > 7 and os.path.getsize(sys.argv[7]) > 0:
    paced = json.load(open(sys.argv[7]))
    cfg, cpu, v, r = line(name + "/paced", paced, "request")
    print("%s %.0f %.0f %.2f %.2f %.1f %.3f" % (cfg, paced["target_requests_per_second"],
          paced["requests_per_second"], paced["latency_p50_us"] / 1e3,
          paced["latency_p99_us"] / 1e3, cpu, r))
PY
}

# engine_run NAME STORE_YAML: vv-engine --drain over what the gateway runs of NAME enqueued
# (its own config file: the gateway's plus an evidence_engine section); prints the engine line.
engine_run() {
  local name="$1" dir="$RUN/$1"
  { cat "$dir/gateway.yaml"
    cat <<YAML
  evidence_engine:
$2
    root_key_provider: file
    root_key_id: vv-bench-root-v1
    root_key_file: $RUN/keys/evidence_root.key
    queue_verify_keys:
      queue-001: $QUEUE_PUB_B64
    audit_log_path: $dir/engine-audit.jsonl
    metrics_path: ""
YAML
  } > "$dir/engine.yaml"
  python3 - "$BIN/vv-engine" "$dir/engine.yaml" "$name" "$dir/batch.json" "$dir/engine.log" <<'PY'
import json, os, re, resource, subprocess, sys, time
binary, config, name, batch_json, log = sys.argv[1:6]
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.monotonic()
with open(log, "w") as f:
    rc = subprocess.call([binary, "--config", config, "--drain"], stdout=f, stderr=subprocess.STDOUT)
wall = time.monotonic() - t0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
text = open(log).read()
m = re.search(r"drain done: processed (\d+)", text)
if rc != 0 or not m:
    sys.stderr.write("bench.sh: %s: vv-engine --drain failed (rc %d):\n%s\n" % (name, rc, text[-2000:]))
    sys.exit(1)
events = int(m.group(1))
eps = events / wall if wall > 0 else 0.0
cpu_us = cpu_s * 1e6 / events if events else 0.0
try:
    gw = json.load(open(batch_json))["events_per_second"]
except Exception:
    gw = 0.0
print("%s/engine %.0f %d %.1f %.3f" % (name, eps, events, cpu_us, eps / gw if gw else 0.0))
PY
}

FAILED=0
LINES=()
run_config() {  # run_config NAME EXTRA_YAML [ENGINE_STORE_YAML]
  local name="$1" store="${3:-}"
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
  local port aport g0 g1 g2
  port=$(awk '/^LISTENING/ {print $2; exit}' "$dir/gateway.log")
  wait_for 10 grep -q '^ADMIN_PORT' "$dir/gateway.log" || true
  aport=$(awk '/^ADMIN_PORT/ {print $2; exit}' "$dir/gateway.log")
  g0=$(group_totals "${aport:-0}")
  loadgen "$dir/single.json" "$gw" "$port" --requests "$REQUESTS" || FAILED=1
  g1=$(group_totals "${aport:-0}")
  loadgen "$dir/batch.json" "$gw" "$port" --requests "$BATCH_REQUESTS" \
    --batch-size "$BATCH_SIZE" || FAILED=1
  g2=$(group_totals "${aport:-0}")
  if [[ "$PACE" != "0" ]] && [[ -s "$dir/single.json" ]]; then
    local rate
    rate=${PACE_RPS:-$(python3 -c 'import json, sys; print("%.1f" % (float(sys.argv[2]) * json.load(open(sys.argv[1]))["requests_per_second"]))' "$dir/single.json" "$PACE")}
    loadgen "$dir/paced.json" "$gw" "$port" --requests "$REQUESTS" --rate "$rate" || FAILED=1
  fi
  stop_pid "$gw"
  [[ -s "$dir/paced.json" ]] || : > "$dir/paced.json"
  mapfile -t -O "${#LINES[@]}" LINES < <(report "$name" "$dir/single.json" "$dir/batch.json" \
    "$g0" "$g1" "$g2" "$dir/paced.json")
  if [[ -n "$store" ]]; then
    local line
    if line=$(engine_run "$name" "$store"); then LINES+=("$line"); else FAILED=1; fi
  fi
}

# start_postgres: a private PostgreSQL on a free loopback port (as the postgres user when run
# as root, like the tests' fixture), the evidence table created for a non-owner app role.
# Sets PG_URL (the engine's URL); returns 1 with a note when PostgreSQL is not installed.
start_postgres() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [[ -n "$bindir" && -x "$bindir/initdb" ]] || return 1
  PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/vv-bench-pg.XXXXXX")
  local as=()
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres:postgres "$PGDIR"
    as=(/usr/bin/setpriv --reuid=postgres --regid=postgres --init-groups --)
  fi
  "${as[@]}" "$bindir/initdb" -D "$PGDIR/data" -U vv_admin --auth=trust -E UTF8 --no-sync \
    --locale=C > "$RUN/pg-initdb.log" 2>&1 || { cat "$RUN/pg-initdb.log" >&2; return 2; }
  PGPORT_BENCH=$(free_port)
  "${as[@]}" "$bindir/postgres" -D "$PGDIR/data" -p "$PGPORT_BENCH" -h 127.0.0.1 -k "$PGDIR" \
    -c max_connections=40 > "$RUN/pg.log" 2>&1 &
  PGPID=$!
  PIDS+=("$PGPID")
  pg_ready() {  # pg_isready exits 2 for "no response yet", which wait_for reads as "give up"
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "$PGPORT_BENCH" -U vv_admin && return 0
    kill -0 "$PGPID" 2>/dev/null || return 2
    return 1
  }
  wait_for 30 pg_ready || return 2
  local admin="postgresql://vv_admin@127.0.0.1:$PGPORT_BENCH/postgres"
  "$bindir/psql" -q "$admin" -c "CREATE ROLE vv_owner NOLOGIN; CREATE ROLE vv_engine LOGIN;" \
    >/dev/null || return 2
  "$BIN/vv-evidence" init-postgres --admin-url "$admin" --owner-role vv_owner \
    --app-role vv_engine >/dev/null || return 2
  PG_URL="postgresql://vv_engine@127.0.0.1:$PGPORT_BENCH/postgres?connect_timeout=5"
}

IFS=',' read -r -a WANT <<< "$CONFIGS"
for c in "${WANT[@]}"; do
  case "$c" in
    embedded)
      run_config embedded "    queue_backend: embedded
    queue_path: $RUN/embedded/queue.db
    nonce_backend: memory
    rate_limit_backend: memory" "    store_backend: sqlite
    store_path: $RUN/embedded/evidence.db"
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
        PG_URL=""
        PGPID=""
        pg_rc=0
        start_postgres || pg_rc=$?
        STORE=""
        if [[ $pg_rc -eq 0 ]]; then
          STORE="    store_backend: postgres
    postgres_url: $PG_URL"
        elif [[ $pg_rc -eq 1 ]]; then
          echo "bench.sh: redis-jetstream/engine skipped: PostgreSQL not installed" >&2
          LINES+=("# redis-jetstream/engine skipped: PostgreSQL not installed")
        else
          echo "bench.sh: PostgreSQL did not start:" >&2
          tail -20 "$RUN/pg.log" >&2 2>/dev/null || true
          FAILED=1
        fi
        run_config redis-jetstream "    queue_backend: nats
    nats_url: nats://127.0.0.1:$NPORT
    nonce_backend: redis
    rate_limit_backend: redis
    redis_url: redis://127.0.0.1:$RPORT/0" "$STORE"
        if [[ -n "$PGPID" ]]; then
          kill -INT "$PGPID" 2>/dev/null || true
          wait "$PGPID" 2>/dev/null || true
          stop_pid "$PGPID"
        fi
        [[ -n "${PGDIR:-}" && $KEEP -eq 0 ]] && rm -rf "$PGDIR"
      fi
      stop_pid "$NPID"
      stop_pid "$RPID"
      ;;
    *) echo "bench.sh: unknown configuration $c (embedded, redis-jetstream)" >&2; exit 2 ;;
  esac
done

echo "# vv bench: $(nproc) cores, $(uname -m), requests=$REQUESTS connections=$CONNECTIONS batch_size=$BATCH_SIZE batch_requests=$BATCH_REQUESTS"
echo "# ratio = verify_us / cpu_us (one libsodium Ed25519 verify of the same message, same run)"
echo "# group = mean envelopes published together (one queue commit / one queue signature)"
echo "config rps p50 p99 cpu_us verify_us ratio group"
for l in "${LINES[@]:-}"; do [[ -n "$l" && "$l" != */batch* && "$l" != */engine* && "$l" != */paced* ]] && echo "$l"; done
echo "batch_config events_per_s batch_size p50 p99 cpu_us_per_event verify_us ratio group"
for l in "${LINES[@]:-}"; do [[ "$l" == */batch* ]] && echo "$l"; done
echo "engine_config events_per_s events cpu_us_per_event vs_batch"
for l in "${LINES[@]:-}"; do [[ "$l" == */engine* ]] && echo "$l"; done
if [[ "$PACE" != "0" ]]; then
  pace_what="$PACE x the single run's"
  [[ -n "$PACE_RPS" ]] && pace_what="$PACE_RPS"
  echo "# paced: open loop at $pace_what req/s; p50/p99 in ms, counted from each request's due time"
  echo "paced_config target_rps rps p50 p99 cpu_us ratio"
  for l in "${LINES[@]:-}"; do [[ "$l" == */paced* ]] && echo "$l"; done
fi
exit $FAILED

#!/usr/bin/env bash
# The README's first command: sets up and runs the main job on one machine.
#   - installs the Debian packages, builds the release binaries
#   - creates a dev PKI (CA, gateway and producer certificates; manual section 12) and an
#     Ed25519 producer signing key
#   - starts vv-gateway on embedded defaults (SQLite queue + DLQ, memory replay/rate state,
#     JSONL tamper-evident audit log) on a free loopback port with real mTLS
#   - sends real signed events through it with the producer library: one valid, one replayed,
#     one forged, one cross-tenant; prints each outcome
#   - verifies the audit log and shows where the queue and the audit log are
# Everything it writes lives under ./run/demo (removed and recreated on each run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
scripts/install-deps.sh
export CCACHE_DIR="${CCACHE_DIR:-$ROOT/.cache/ccache}"
BUILD="$ROOT/build-release"
echo "== building (release) =="
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVV_BUILD_TESTS=OFF -DVV_BUILD_BENCH=OFF >/dev/null
ninja -C "$BUILD" -j"${JOBS:-2}" vv-gateway vv-audit vv-demo-producer >/dev/null
BIN="$BUILD/bin"

RUN="$ROOT/run/demo"
rm -rf "$RUN"
mkdir -p "$RUN/keys" "$RUN/var"
echo "== dev PKI and keys in $RUN =="
scripts/dev-pki.sh "$RUN/pki"
( umask 077; openssl genpkey -algorithm ed25519 -out "$RUN/keys/producer_ed25519.pem" )
chmod 0600 "$RUN/keys/producer_ed25519.pem"
# Feedback signing key (signed cognitive feedback responses, wire-contract 2.3); the gateway
# refuses to start without one.
( umask 077; openssl genpkey -algorithm ed25519 -out "$RUN/keys/feedback_ed25519.pem" )
chmod 0600 "$RUN/keys/feedback_ed25519.pem"
PUB_B64=$(openssl pkey -in "$RUN/keys/producer_ed25519.pem" -pubout -outform DER | tail -c 32 | base64)
PIN=$(cat "$RUN/pki/producer.sha256")

cat > "$RUN/gateway.yaml" <<YAML
vectorvue:
  telemetry_gateway:
    profile: development
    listen: "127.0.0.1:0"   # 0 = a free port, printed as LISTENING <port>
    tls:
      cert_path: pki/gateway.crt
      key_path: pki/gateway.key
      ca_path: pki/ca.crt
    require_mtls: true
    require_payload_signature: true
    allowed_clock_skew_seconds: 30
    nonce_ttl_seconds: 120
    nonce_backend: memory
    rate_limit_backend: memory
    rate_limit_per_minute: 120
    queue_backend: embedded
    queue_path: var/queue.db
    audit_log_path: var/audit.jsonl
    audit_seal_every: 2
    spectrastrike_ed25519_public_key_b64: $PUB_B64
    allowed_service_identities:
      spectrastrike-producer: $PIN
    operator_tenant_map:
      op-001: 10000000-0000-0000-0000-000000000001
      op-002: 20000000-0000-0000-0000-000000000002
    enforce_schema_version: true
    allowed_schema_versions: ["1.0"]
    feedback_ed25519_keys:
      feedback-demo-1: keys/feedback_ed25519.pem
    feedback_active_kid: feedback-demo-1
YAML

echo "== starting vv-gateway (mTLS, embedded backends) =="
"$BIN/vv-gateway" --config "$RUN/gateway.yaml" > "$RUN/gateway.log" 2>&1 &
GW_PID=$!
trap 'kill $GW_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q "^LISTENING" "$RUN/gateway.log" 2>/dev/null && break
  kill -0 $GW_PID 2>/dev/null || { cat "$RUN/gateway.log"; exit 1; }
  sleep 0.1
done
PORT=$(awk '/^LISTENING/ {print $2; exit}' "$RUN/gateway.log")
[ -n "$PORT" ] || { echo "gateway did not start:"; cat "$RUN/gateway.log"; exit 1; }
echo "   listening on 127.0.0.1:$PORT"

echo "== producer: sending real signed events =="
set +e
"$BIN/vv-demo-producer" --port "$PORT" --ca "$RUN/pki/ca.crt" \
  --cert "$RUN/pki/producer.crt" --key "$RUN/pki/producer.key" \
  --signing-key "$RUN/keys/producer_ed25519.pem"
DEMO_RC=$?
set -e
echo "  no client certificate     (expect handshake failure):"
if curl -s --max-time 5 --cacert "$RUN/pki/ca.crt" "https://localhost:$PORT/healthz" >/dev/null 2>&1; then
  echo "  FAIL connected without a client certificate"; DEMO_RC=1
else
  echo "  ok   TLS handshake refused"
fi

kill -TERM $GW_PID; wait $GW_PID 2>/dev/null || true
trap - EXIT

echo "== results =="
echo "queue (SQLite, WAL): $RUN/var/queue.db"
sqlite3 "$RUN/var/queue.db" "SELECT '  ' || kind || ': ' || count(*) FROM messages GROUP BY kind;"
echo "audit log:           $RUN/var/audit.jsonl ($(wc -l < "$RUN/var/audit.jsonl") records)"
sed 's/^/  /' "$RUN/var/audit.jsonl" | cut -c1-180
echo "audit log verification:"
"$BIN/vv-audit" verify "$RUN/var/audit.jsonl" | tail -1 | sed 's/^/  /'
echo "gateway log:         $RUN/gateway.log"
exit $DEMO_RC

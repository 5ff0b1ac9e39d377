#!/usr/bin/env bash
# The README's first command: sets up and runs the main job on one machine.
#   - installs the Debian packages, builds the release binaries
#   - creates a dev PKI (CA, gateway and producer certificates; manual section 12), the
#     producer's Ed25519 signing key (ss-producer keygen), the gateway's feedback signing key,
#     the audit seal key and the evidence root key
#   - starts vv-gateway on embedded defaults (SQLite queue + DLQ, in-process replay/rate state,
#     signed tamper-evident audit log) on a free loopback port with real mTLS
#   - ss-producer sends real signed events through it (and an execution graph, a verified
#     feedback query, a federation bundle); vv-demo-producer tries the attacks: replayed,
#     forged and cross-tenant events; a client without a certificate is refused at TLS
#   - vv-engine drains the queue into the encrypted evidence store; vv-evidence decrypts a record
#   - vv-audit verifies the audit log (signed Merkle checkpoints + anchor file), and the
#     engine's own audit log, whose seals are signed by a key inside a SoftHSM2 token
#   - the precise rejection reasons are read back from the audit log, a /metrics excerpt is
#     fetched from the admin listener, and vv-audit report writes run/demo/report.html
# Everything lives under ./run/demo (recreated on each run). Exit status 0 only when every
# outcome is the expected one.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
scripts/install-deps.sh
export CCACHE_DIR="${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vv-ccache}"
export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
BUILD="$ROOT/build-release"
TARGETS=(vv-gateway vv-audit vv-engine vv-evidence vvctl ss-producer vv-demo-producer)
echo "== building (release): ${TARGETS[*]} =="
echo "   (a first build takes a few minutes; ninja's progress [done/total] is shown below)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVV_BUILD_TESTS=OFF -DVV_BUILD_BENCH=OFF >/dev/null
# One line per compiled file ([done/total] and what), compiler warnings left out.
NINJA_STATUS="   [%f/%t %es] " ninja -C "$BUILD" -j"${JOBS:-2}" "${TARGETS[@]}" \
  | grep --line-buffered -E '^   \[|^ninja: (no work|build stopped)|error' | sed -u -E 's/Building CXX object ([^ ]*)\.o$/\1/'
echo "   build done"
BIN="$BUILD/bin"
FAIL=0
ok()   { echo "  ok   $*"; }
fail() { echo "  FAIL $*"; FAIL=1; }

RUN="$ROOT/run/demo"
rm -rf "$RUN"
mkdir -p "$RUN/keys" "$RUN/var" "$RUN/producer"
chmod 0700 "$RUN" "$RUN/keys" "$RUN/var" "$RUN/producer"  # data and keys: owner only
echo "== dev PKI and keys in $RUN =="
scripts/dev-pki.sh "$RUN/pki"
"$BIN/ss-producer" keygen --out "$RUN/keys/producer_ed25519.key" > "$RUN/keys/keygen.txt"
PUB_B64=$(awk '/spectrastrike_ed25519_public_key_b64:/ {print $2}' "$RUN/keys/keygen.txt")
( umask 077
  openssl genpkey -algorithm ed25519 -out "$RUN/keys/feedback_ed25519.pem"
  openssl genpkey -algorithm ed25519 -out "$RUN/keys/audit_seal_ed25519.pem"
  openssl genpkey -algorithm ed25519 -out "$RUN/keys/queue_ed25519.pem"
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$RUN/keys/admin.token"
  head -c 32 /dev/urandom > "$RUN/keys/evidence_root.key" )
chmod 0600 "$RUN/keys/feedback_ed25519.pem" "$RUN/keys/audit_seal_ed25519.pem" \
  "$RUN/keys/queue_ed25519.pem" "$RUN/keys/admin.token"
# The gateway signs every queue envelope with the queue key; the engine verifies with its
# public half (raw 32 bytes, base64: the last 32 bytes of the DER SubjectPublicKeyInfo).
QUEUE_PUB_B64=$(openssl pkey -in "$RUN/keys/queue_ed25519.pem" -pubout -outform DER | tail -c 32 | base64)
chmod 0400 "$RUN/keys/evidence_root.key"
openssl pkey -in "$RUN/keys/feedback_ed25519.pem" -pubout -out "$RUN/keys/feedback_ed25519.pub"
PIN=$("$BIN/ss-producer" fingerprint "$RUN/pki/producer.crt" | tail -1 | awk '{print $NF}')
TENANT=10000000-0000-0000-0000-000000000001

# The engine seals its own audit log with an Ed25519 key that lives in a PKCS#11 token
# (SoftHSM2 here, an HSM in production): created inside the token, never readable.
echo "== SoftHSM2 token for the engine's audit seal key =="
mkdir -p "$RUN/hsm/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$RUN/hsm/tokens" > "$RUN/hsm/softhsm2.conf"
export SOFTHSM2_CONF="$RUN/hsm/softhsm2.conf"
( umask 077; head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$RUN/hsm/user.pin" )
softhsm2-util --init-token --free --label vv-demo --so-pin "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  --pin "$(cat "$RUN/hsm/user.pin")" >/dev/null
"$BIN/vv-audit" pkcs11-keygen --pkcs11-token vv-demo --pkcs11-key-label engine-seal \
  --pin-file "$RUN/hsm/user.pin" --origin vectorvue.local/audit-log > "$RUN/hsm/engine-seal.txt"
ENGINE_SEAL_KEY=$(tail -1 "$RUN/hsm/engine-seal.txt" | sed 's/.*"verifier_key":"\([^"]*\)".*/\1/')
echo "   engine seal key (in the token): $ENGINE_SEAL_KEY"

cat > "$RUN/gateway.yaml" <<YAML
vectorvue:
  telemetry_gateway:
    profile: development
    listen: "127.0.0.1:0"   # 0 = a free port, printed as LISTENING <port>
    admin_listen: "127.0.0.1:0"  # GET /metrics, printed as ADMIN_PORT <port>
    log_format: json        # one JSON object per log line (ts, level, msg, request_id, identity, reason)
    tls:
      cert_path: pki/gateway.crt
      key_path: pki/gateway.key
      ca_path: pki/ca.crt
      crl_path: pki/crl.pem
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
    audit_seal_every: 4
    audit_seal_key_path: keys/audit_seal_ed25519.pem
    spectrastrike_ed25519_public_key_b64: $PUB_B64
    allowed_service_identities:
      spectrastrike-producer: $PIN
    operator_tenant_map:
      op-001: $TENANT
      op-002: 20000000-0000-0000-0000-000000000002
    enforce_schema_version: true
    allowed_schema_versions: ["1.0"]
    feedback_signing_keys:
      kid-001: keys/feedback_ed25519.pem
    feedback_active_kid: kid-001
    queue_signing_key_path: keys/queue_ed25519.pem
    queue_signing_kid: queue-001
    admin_token_file: keys/admin.token
  evidence_engine:
    store_backend: sqlite
    store_path: var/evidence.db
    root_key_provider: file
    root_key_id: vv-evidence-root-v1
    root_key_file: keys/evidence_root.key
    queue_verify_keys:
      queue-001: $QUEUE_PUB_B64
    metrics_path: ""
    audit_seal_pkcs11_token_label: vv-demo
    audit_seal_pkcs11_key_label: engine-seal
    audit_seal_pkcs11_pin_file: hsm/user.pin
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
for _ in $(seq 1 20); do grep -q "^ADMIN_PORT" "$RUN/gateway.log" && break; sleep 0.1; done
ADMIN_PORT=$(awk '/^ADMIN_PORT/ {print $2; exit}' "$RUN/gateway.log")
echo "   listening on 127.0.0.1:$PORT (admin listener: 127.0.0.1:${ADMIN_PORT:-none})"
if [ "$("$BIN/vvctl" pin "$RUN/pki/producer.crt" | tail -1 | awk '{print $NF}')" = "$PIN" ]; then
  ok "vvctl pin: the producer certificate's pin matches the gateway's allowlist"
else fail "vvctl pin does not match the allowlisted pin"; fi

cat > "$RUN/producer/config.yaml" <<YAML
spectrastrike:
  producer:
    endpoint: https://localhost:$PORT/internal/v1/telemetry
    service_identity: spectrastrike-producer
    operator_id: op-001
    tenant_id: $TENANT
    campaign_id: cmp-001
    spool_path: $RUN/producer/spool.db
    mtls:
      cert_path: $RUN/pki/producer.crt
      key_path: $RUN/pki/producer.key
      ca_path: $RUN/pki/ca.crt
      verify_peer: true
    signing:
      algorithm: ed25519
      private_key_path: $RUN/keys/producer_ed25519.key
      key_id: spectrastrike-ed25519-demo
    replay:
      nonce_length: 24
      timestamp_format: unix_epoch_seconds
      max_clock_skew_seconds: 30
    retry:
      max_attempts: 3
      backoff_ms: 200
      jitter_ms: 100
    feedback:
      verify_keys:
        kid-001: $RUN/keys/feedback_ed25519.pub
      replay_cache_path: $RUN/producer/feedback-replay.cache
YAML

ATT=$(printf 'demo-attestation' | sha256sum | awk '{print $1}')
event() {  # event ID TECHNIQUE TACTIC SEVERITY DESCRIPTION
  printf '{"event_id":"%s","event_type":"PROCESS_ANOMALY","source_system":"spectrastrike-sensor","severity":"%s","observed_at":"2026-11-28T12:00:00Z","mitre_techniques":["%s"],"mitre_tactics":["%s"],"description":"%s","attributes":{"asset_ref":"host-nyc-01","attestation_measurement_hash":"%s","schema_version":"1.0"}}\n' \
    "$1" "$4" "$2" "$3" "$5" "$ATT"
}
RUNID=$(date +%s)
{
  event "evt-$RUNID-1" T1059.001 TA0002 high "Observed suspicious process chain <powershell -enc ...>"
  event "evt-$RUNID-2" T1003.001 TA0006 critical "LSASS memory access from an unsigned binary"
  event "evt-$RUNID-3" T1021.002 TA0008 medium "SMB admin share lateral movement"
} > "$RUN/producer/events.ndjson"
{
  event "evt-$RUNID-bad1" T9999 TA0002 high "technique not in ATT&CK"
  event "evt-$RUNID-bad2" T1059.001 TA0002 high "x' UNION SELECT password FROM users --"
} > "$RUN/producer/bad-events.ndjson"

PCFG="$RUN/producer/config.yaml"
echo "== ss-producer: signed telemetry over mTLS (3 valid events) =="
if "$BIN/ss-producer" --config "$PCFG" send "$RUN/producer/events.ndjson" | sed 's/^/   /'; then
  ok "3 events accepted (202, durable in the queue)"
else fail "valid events were not all accepted"; fi
echo "== ss-producer: invalid events (expect 422 with the contract's reason; DLQ) =="
AUDIT_BEFORE=$(wc -l < "$RUN/var/audit.jsonl")
if "$BIN/ss-producer" --config "$PCFG" send --no-spool "$RUN/producer/bad-events.ndjson" | sed 's/^/   /'; then
  fail "invalid events were accepted"
else ok "invalid events rejected"; fi
# The client only gets the contract's fixed reason string; the audit log has the precise one.
echo "   precise reasons, read back from the audit log records:"
REASONS=$(tail -n +"$((AUDIT_BEFORE + 1))" "$RUN/var/audit.jsonl" | grep '"event_type":"telemetry.rejected"' | while IFS= read -r rec; do
  reason=$(printf '%s' "$rec" | sed -nE 's/.*"reason":"([^"]*)".*/\1/p')
  status=$(printf '%s' "$rec" | sed -nE 's/.*"status_code":([0-9]+).*/\1/p')
  why=$(printf '%s' "$rec" | sed -nE 's/.*"internal_detail":"(([^"\\]|\\.)*)".*/\1/p' | cut -c1-110)
  echo "     $status $reason${why:+: $why}"
done)
echo "$REASONS"
if [ "$(printf '%s\n' "$REASONS" | grep -c .)" -ge 2 ]; then ok "each invalid event has its precise reason in the audit log"
else fail "precise rejection reasons missing from the audit log"; fi
echo "   the gateway's log line for a rejection (log_format: json):"
grep -m1 '"msg":"telemetry.rejected' "$RUN/gateway.log" | cut -c1-220 | sed 's/^/     /' || true

echo "== attacks (vv-demo-producer) =="
"$BIN/vv-demo-producer" --port "$PORT" --ca "$RUN/pki/ca.crt" \
  --cert "$RUN/pki/producer.crt" --key "$RUN/pki/producer.key" \
  --signing-key "$RUN/keys/producer_ed25519.key" || FAIL=1
if curl -s --max-time 5 --cacert "$RUN/pki/ca.crt" "https://localhost:$PORT/healthz" >/dev/null 2>&1; then
  fail "no client certificate: connected"
else ok "no client certificate        (expect TLS refusal): handshake refused"; fi
if curl -s --max-time 5 --cacert "$RUN/pki/ca.crt" --cert "$RUN/pki/revoked.crt" --key "$RUN/pki/revoked.key" \
     "https://localhost:$PORT/healthz" >/dev/null 2>&1; then
  fail "revoked certificate: connected"
else ok "revoked certificate (CRL)    (expect TLS refusal): handshake refused"; fi

echo "== cognitive loop: execution graph -> signed feedback (verified by the producer) =="
cat > "$RUN/producer/graph.json" <<JSON
{"graph_id":"g-$RUNID","tenant_id":"$TENANT","operator_id":"op-001","target_urn":"urn:target:ip:10.0.0.5",
 "execution_fingerprint":"$(printf 'graph-%s' "$RUNID" | sha256sum | awk '{print $1}')",
 "nodes":[{"id":"n1"},{"id":"n2"},{"id":"n3"}],"edges":[{"from":"n1","to":"n2"}]}
JSON
if "$BIN/ss-producer" --config "$PCFG" graph "$RUN/producer/graph.json" | sed 's/^/   /'; then ok "graph accepted"; else fail "graph"; fi
if "$BIN/ss-producer" --config "$PCFG" feedback --limit 5 | sed 's/^/   /'; then ok "feedback signature verified"; else fail "feedback"; fi
echo "== federation bundle (proof of origin) =="
if "$BIN/ss-producer" --config "$PCFG" federate --execution-hash "$(printf 'bundle-%s' "$RUNID" | sha256sum | awk '{print $1}')" | sed 's/^/   /'; then
  ok "bundle verified"; else fail "federation bundle"; fi

echo "== /metrics on the admin listener (excerpt) =="
if [ -n "${ADMIN_PORT:-}" ] && curl -sf --max-time 5 "http://127.0.0.1:$ADMIN_PORT/metrics" > "$RUN/metrics.txt"; then
  grep -E '^vv_gateway_(requests_accepted|requests_rejected|signature_failures|replay_detections|mtls_identity|tls_handshake|dlq_published)' "$RUN/metrics.txt" | head -14 | sed 's/^/   /'
  ok "metrics scraped ($(grep -c '^vv_' "$RUN/metrics.txt") samples; full text in $RUN/metrics.txt)"
else fail "GET /metrics on the admin listener"; fi

echo "== vv-engine: queue -> encrypted evidence store =="
"$BIN/vv-engine" --config "$RUN/gateway.yaml" --drain 2>&1 | grep -E "ENGINE STOPPED" | sed 's/^/   /' || fail "engine"
echo "== vv-evidence show (decrypted, tenant-scoped) =="
if "$BIN/vv-evidence" show --config "$RUN/gateway.yaml" --tenant "$TENANT" --event-id "evt-$RUNID-2" > "$RUN/evidence-record.json"; then
  head -c 1400 "$RUN/evidence-record.json" | sed 's/^/   /'; echo
  ok "evidence record decrypted"
else fail "evidence record"; fi

kill -TERM $GW_PID; wait $GW_PID 2>/dev/null || true
trap - EXIT

echo "== results =="
echo "queue (SQLite, WAL):  $RUN/var/queue.db"
sqlite3 "$RUN/var/queue.db" "SELECT '   ' || kind || ': ' || count(*) FROM messages GROUP BY kind;"
echo "evidence store:       $RUN/var/evidence.db (payloads AES-256-GCM, per-tenant KEK)"
echo "audit log:            $RUN/var/audit.jsonl ($(wc -l < "$RUN/var/audit.jsonl") records; anchor $RUN/var/audit.jsonl.anchor)"
awk -F'"event_type":"' '{split($2,a,"\""); print a[1]}' "$RUN/var/audit.jsonl" | sort | uniq -c | sed 's/^/   /'
SEAL_PUB=$(openssl pkey -in "$RUN/keys/audit_seal_ed25519.pem" -pubout -outform DER | tail -c 32 | base64)
echo "audit log verification (seal key pinned):"
if "$BIN/vv-audit" verify "$RUN/var/audit.jsonl" --public-key "$SEAL_PUB" | tail -1 | sed 's/^/   /'; then
  ok "audit chain, Merkle checkpoints and signatures verify"; else fail "audit verification"; fi
echo "engine audit log:     $RUN/var/audit.jsonl.engine.jsonl (seals signed inside the SoftHSM2 token)"
if "$BIN/vv-audit" verify "$RUN/var/audit.jsonl.engine.jsonl" --public-key "$ENGINE_SEAL_KEY" | tail -1 | sed 's/^/   /'; then
  ok "engine audit log verifies against the token's key"; else fail "engine audit verification"; fi
echo "audit report:"
if "$BIN/vv-audit" report "$RUN/var/audit.jsonl" --public-key "$SEAL_PUB" --html "$RUN/report.html" >/dev/null; then
  ok "HTML report (charts, seal/anchor status): $RUN/report.html"; else fail "audit report"; fi
echo "gateway log:          $RUN/gateway.log (JSON lines)"
[ "$FAIL" = 0 ] && echo "== demo: every outcome as expected ==" || echo "== demo: SOME OUTCOMES WERE NOT AS EXPECTED =="
exit $FAIL

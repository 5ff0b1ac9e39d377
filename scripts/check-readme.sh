#!/usr/bin/env bash
# check-readme.sh [BUILD_DIR]: runs the README's quick commands exactly as written, in a sandbox
# directory, so they cannot rot (issue 16). The README marks them:
#   <!-- check-readme: start -->   the block that builds and starts the gateway; its
#                                   `.../bin/vv-gateway ...` command (the server, which runs in
#                                   the foreground for a reader) is started in the background
#   <!-- check-readme: client -->  commands a reader runs against it in another terminal
# Then a tiny load (a few unsigned POSTs, which the gateway must reject with 4xx, never 5xx),
# a clean SIGTERM (exit 0) and `vv-audit verify` of the audit log the run wrote.
# BUILD_DIR (e.g. build): an existing build with bin/vv-gateway; the block's cmake/ninja lines
# then build nothing new (build-release in the sandbox points to it). Without it the block's
# build commands run as written (a full build). The sandbox is removed afterwards unless
# KEEP_SANDBOX=1. Needs ports 8443 and 9464 free (the example config's).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BUILD_DIR="${1:-}"
README="$ROOT/README.md"
SANDBOX=$(mktemp -d "${TMPDIR:-/tmp}/vv-check-readme.XXXXXX")
GW_PID=""
cleanup() {
  [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null || true
  [ "${KEEP_SANDBOX:-0}" = 1 ] && echo "check-readme: sandbox kept: $SANDBOX" || rm -rf "$SANDBOX"
}
trap cleanup EXIT
fail() { echo "check-readme: FAIL: $*" >&2; [ -f "$SANDBOX/gateway.out" ] && tail -20 "$SANDBOX/gateway.out" >&2; exit 1; }

# The fenced block after the marker line `<!-- check-readme: NAME -->`.
block() {
  awk -v name="$1" '
    $0 ~ "<!-- check-readme: " name " -->" { armed = 1; next }
    armed && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }' "$README"
}
# Joins backslash-continued lines so one command is one line.
join_lines() { sed -e ':a' -e '/\\$/N; s/\\\n//; ta'; }

START=$(block start | join_lines)
CLIENT=$(block client | join_lines)
[ -n "$START" ] || fail "README has no <!-- check-readme: start --> block"
[ -n "$CLIENT" ] || fail "README has no <!-- check-readme: client --> block"
grep -q 'bin/vv-gateway ' <<<"$START" || fail "the start block does not start bin/vv-gateway"

# The sandbox sees the repository read-only through symlinks; what the commands create (run/,
# build-release/) lands in the sandbox.
for f in "$ROOT"/*; do
  name=$(basename "$f")
  case "$name" in build*|run) continue ;; esac
  ln -s "$f" "$SANDBOX/$name"
done
if [ -n "$BUILD_DIR" ]; then
  BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
  [ -x "$BUILD_DIR/bin/vv-gateway" ] || fail "$BUILD_DIR/bin/vv-gateway not built"
  ln -s "$BUILD_DIR" "$SANDBOX/build-release"
fi

for port in 8443 9464; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "port $port is in use"; fi
done

echo "== check-readme: 'Running the gateway' in $SANDBOX =="
cd "$SANDBOX"
while IFS= read -r cmd; do
  [ -z "$cmd" ] && continue
  if [ -n "$BUILD_DIR" ] && [[ "$cmd" =~ ^(cmake|ninja)\  ]]; then
    echo "   (prebuilt $BUILD_DIR) $cmd"
    continue
  fi
  if [[ "$cmd" == *"bin/vv-gateway "* ]]; then
    echo "   \$ $cmd &"
    bash -c "$cmd" > gateway.out 2>&1 &
    GW_PID=$!
    for _ in $(seq 1 100); do
      grep -q '^LISTENING' gateway.out 2>/dev/null && break
      kill -0 "$GW_PID" 2>/dev/null || fail "vv-gateway exited: $(tail -3 gateway.out)"
      sleep 0.1
    done
    grep -q '^LISTENING 8443' gateway.out || fail "vv-gateway is not listening on 8443"
    continue
  fi
  echo "   \$ $cmd"
  bash -o pipefail -c "$cmd" > cmd.out 2>&1 || { cat cmd.out >&2; fail "command failed: $cmd"; }
done <<<"$START"
[ -n "$GW_PID" ] || fail "the gateway was not started"

echo "== check-readme: client commands =="
: > client.out
while IFS= read -r cmd; do
  [ -z "$cmd" ] && continue
  echo "   \$ $cmd"
  bash -o pipefail -c "$cmd" >> client.out 2>&1 || { cat client.out >&2; fail "command failed: $cmd"; }
  echo >> client.out  # curl prints no final newline
done <<<"$CLIENT"
grep . client.out | sed 's/^/     /' | cut -c1-160
grep -q '"status":"healthy"' client.out || fail "/healthz did not answer healthy"
grep -q '^vv_gateway_requests' client.out || fail "/metrics did not list vv_gateway_requests*"

echo "== check-readme: tiny load (5 unsigned events: 4xx expected, never 5xx) =="
PKI=run/gateway/certs
for i in 1 2 3 4 5; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.crt" --cert "$PKI/producer.crt" \
    --key "$PKI/producer.key" -H 'Content-Type: application/json' \
    --data "{\"event_id\":\"readme-$i\"}" https://localhost:8443/internal/v1/telemetry || true)
  [[ "$code" =~ ^4[0-9][0-9]$ ]] || fail "request $i: HTTP $code (expected a 4xx rejection)"
done
echo "   5 rejected with 4xx"
rejected=$(curl -s http://127.0.0.1:9464/metrics | awk '/^vv_gateway_requests_rejected_total/ {s += $NF} END {print s + 0}')
[ "$rejected" -ge 5 ] || fail "metrics count $rejected rejections, expected >= 5"

kill -TERM "$GW_PID"
rc=0; wait "$GW_PID" || rc=$?
GW_PID=""
[ "$rc" = 0 ] || fail "vv-gateway exited $rc after SIGTERM"
grep -q '"msg":"telemetry.rejected\|telemetry.rejected 4' gateway.out || fail "no rejection line in the gateway log"
if [ -x build-release/bin/vv-audit ]; then
  build-release/bin/vv-audit verify run/gateway/var/vv-audit.jsonl > verify.out 2>&1 \
    || { cat verify.out >&2; fail "vv-audit verify of the run's audit log"; }
  echo "   audit log verifies: $(tail -1 verify.out | cut -c1-120)"
fi
echo "== check-readme: ok =="

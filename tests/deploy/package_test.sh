#!/usr/bin/env bash
# Deployability (issue 14, item 8): the install layout, the Debian package and the systemd
# units of a built tree.
#   package_test.sh BUILD_DIR SOURCE_DIR
# 1. `cpack -G DEB` builds the package; its file list has the binaries, the ATT&CK catalog,
#    the example configs under /etc/vectorvue and the units.
# 2. The package is installed with `dpkg -i` into a scratch root (dpkg --root: a dpkg database
#    of its own; dependencies are the host's, already present because this tree was built here).
# 3. The INSTALLED vv-gateway starts on a dev PKI with no mitre_catalog_dir and loads the
#    catalog from beside itself (<root>/usr/share/vectorvue/mitre), never from the source tree.
# 4. systemd-analyze verify accepts both units (ExecStart pointed at the installed binaries).
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
WORK="$(mktemp -d)"
GW_PID=""
cleanup() {
  [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. The package.
(cd "$BUILD" && cpack -G DEB -B "$WORK/pkg" >"$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log"; fail "cpack"; }
DEB="$(ls "$WORK"/pkg/*.deb | head -1)"
[ -f "$DEB" ] || fail "no .deb produced"
dpkg-deb -c "$DEB" >"$WORK/contents"
for f in ./usr/bin/vv-gateway ./usr/bin/vv-engine ./usr/bin/vv-audit ./usr/bin/vvctl \
         ./usr/bin/ss-producer ./usr/bin/vv-evidence \
         ./usr/share/vectorvue/mitre/enterprise-attack-techniques.tsv \
         ./usr/share/vectorvue/mitre/enterprise-attack-tactics.tsv \
         ./usr/share/vectorvue/mitre/README.md \
         ./etc/vectorvue/gateway.production.example.yaml ./etc/vectorvue/engine.example.yaml \
         ./usr/lib/systemd/system/vv-gateway.service ./usr/lib/systemd/system/vv-engine.service; do
  grep -q " $f\$" "$WORK/contents" || fail "package lacks $f"
done
grep -q "/work/\|$SRC" "$WORK/contents" && fail "package holds a build path"
dpkg-deb -f "$DEB" Depends | grep -q "libsodium" || fail "Depends lacks the shared libraries"

# 2. dpkg -i into a scratch root.
ROOT="$WORK/root"
mkdir -p "$ROOT/var/lib/dpkg/info" "$ROOT/var/lib/dpkg/updates"
touch "$ROOT/var/lib/dpkg/status" "$ROOT/var/lib/dpkg/available"
dpkg --root="$ROOT" --force-depends --force-not-root --log=/dev/null -i "$DEB" >"$WORK/dpkg.log" 2>&1 ||
  { cat "$WORK/dpkg.log"; fail "dpkg -i"; }
dpkg --root="$ROOT" -s vectorvue-federation | grep -q "Status: install ok installed" || fail "not installed"

# 3. The installed gateway finds its catalog beside itself.
PKI="$WORK/pki"
"$ROOT/usr/share/vectorvue/dev-pki.sh" "$PKI"
mkdir -p "$WORK/var"
(umask 077; head -c 32 /dev/urandom >"$WORK/feedback.key")
cat >"$WORK/gateway.yaml" <<YAML
vectorvue:
  telemetry_gateway:
    listen: "127.0.0.1:0"
    tls:
      cert_path: $PKI/gateway.crt
      key_path: $PKI/gateway.key
      ca_path: $PKI/ca.crt
    spectrastrike_ed25519_public_key_b64: A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=
    allowed_service_identities:
      spectrastrike-producer: $(cat "$PKI/producer.sha256")
    operator_tenant_map:
      op-001: 10000000-0000-0000-0000-000000000001
    queue_path: $WORK/var/queue.db
    audit_log_path: $WORK/var/audit.jsonl
    admin_listen: "off"
    feedback_ed25519_keys:
      kid-1: $WORK/feedback.key
    feedback_active_kid: kid-1
YAML
"$ROOT/usr/bin/vv-gateway" --config "$WORK/gateway.yaml" >"$WORK/gw.log" 2>&1 &
GW_PID=$!
for _ in $(seq 1 100); do
  grep -q "^LISTENING " "$WORK/gw.log" && break
  kill -0 "$GW_PID" 2>/dev/null || break
  sleep 0.1
done
grep -q "^LISTENING " "$WORK/gw.log" || { cat "$WORK/gw.log"; fail "installed vv-gateway did not start"; }
grep -q "ATT&CK catalog loaded from $ROOT/usr/share/vectorvue/mitre" "$WORK/gw.log" ||
  { cat "$WORK/gw.log"; fail "catalog not loaded from beside the installed binary"; }
kill "$GW_PID"; wait "$GW_PID" || true; GW_PID=""

# 4. The units verify.
if command -v systemd-analyze >/dev/null; then
  for u in vv-gateway vv-engine; do
    sed "s|/usr/bin/|$ROOT/usr/bin/|" "$ROOT/usr/lib/systemd/system/$u.service" >"$WORK/$u.service"
    out="$(systemd-analyze verify "$WORK/$u.service" 2>&1 || true)"
    # Only findings about this unit count (the host's own units may warn about themselves).
    mine="$(echo "$out" | grep "$u.service" || true)"
    [ -z "$mine" ] || fail "systemd-analyze verify $u.service: $mine"
  done
else
  fail "systemd-analyze not installed (scripts/install-deps.sh installs systemd)"
fi
echo "package_test: ok ($(basename "$DEB"))"

#!/usr/bin/env bash
# ops-policy-examples.sh SOURCE_DIR VVCTL: runs `vvctl policy check` on every shipped gateway
# example config (deploy/config/gateway*.yaml). The examples name their TLS material with paths
# relative to the config file (certs/gateway.crt ...), so each check runs on a temp copy of
# deploy/config/ with a fresh dev PKI (scripts/dev-pki.sh) in certs/ and an Ed25519 key
# (mode 0600) for every keys/*.pem file the example references. An example that ships
# placeholders (pins like "aaaa...", the wire contract's published test keys) must FAIL the gate
# as shipped and pass once they are filled in. Exits non-zero otherwise; prints each report.
set -euo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: $0 SOURCE_DIR VVCTL" >&2
  exit 2
fi
SRC="$1"
VVCTL="$2"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

shopt -s nullglob
examples=("$SRC"/deploy/config/gateway*.yaml)
if [[ ${#examples[@]} -eq 0 ]]; then
  echo "ops-policy-examples: no deploy/config/gateway*.yaml found" >&2
  exit 1
fi

failed=0
for ex in "${examples[@]}"; do
  name="$(basename "$ex")"
  work="$TMP/${name%.yaml}"
  mkdir -p "$work"
  cp -R "$SRC/deploy/config/." "$work/"
  bash "$SRC/scripts/dev-pki.sh" "$work/certs"
  # Key files the example references under keys/ (feedback, audit seal keys).
  for key in $(grep -oE 'keys/[A-Za-z0-9_.-]+\.(pem|key)' "$work/$name" | sort -u); do
    mkdir -p "$work/$(dirname "$key")"
    openssl genpkey -algorithm ed25519 -out "$work/$key" 2>/dev/null
    chmod 0600 "$work/$key"
  done
  # The examples ship placeholders an operator must replace (pins such as "aaaa...", the
  # wire contract's published test keys). The gate must refuse them as shipped...
  if grep -qE 'A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=|Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=|(aaaaaaaaaaaaaaaa|cccccccccccccccc|BB:BB:BB:BB:BB)' "$work/$name"; then
    echo "== vvctl policy check $name (as shipped, placeholders in place: must FAIL)"
    if "$VVCTL" policy check "$work/$name" --format json >"$work/shipped.json"; then
      echo "ops-policy-examples: $name passed the gate WITH its placeholders" >&2
      failed=1
    elif ! grep -qE '"rule":"(no_placeholder_pins|no_published_test_keys)"' "$work/shipped.json"; then
      echo "ops-policy-examples: $name refused, but not for its placeholders:" >&2
      cat "$work/shipped.json" >&2
      failed=1
    fi
  fi
  # ... and accept the example once they are filled in as an operator would: real pins of the
  # dev PKI's certificates (one per identity) and freshly generated public keys.
  python3 - "$work/$name" "$work/certs" <<'PY'
import re, subprocess, sys, base64
path, certs = sys.argv[1], sys.argv[2]
text = open(path).read()
pins = [open(f"{certs}/{n}.sha256").read().strip()
        for n in ("producer", "rogue", "revoked", "untrusted", "gateway", "ca")]
placeholder = re.compile(r'"?(?:(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}|[0-9a-fA-F]{64})"?')
def is_placeholder(h):
    h = h.strip('"').replace(":", "").lower()
    return any(all(h[i] == h[i % p] for i in range(len(h))) for p in range(1, 17))
def fill_pin(m):
    return pins.pop(0) if is_placeholder(m.group(0)) else m.group(0)
text = placeholder.sub(fill_pin, text)
def new_key(_):
    der = subprocess.run("openssl genpkey -algorithm ed25519 | openssl pkey -pubout -outform DER",
                         shell=True, check=True, capture_output=True).stdout
    return base64.b64encode(der[-32:]).decode()
text = re.sub(r"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=|Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=",
              new_key, text)
open(path, "w").write(text)
PY
  echo "== vvctl policy check $name (placeholders filled in)"
  if ! "$VVCTL" policy check "$work/$name" --format text; then
    echo "ops-policy-examples: $name FAILED the policy gate" >&2
    failed=1
  fi
done
exit $failed

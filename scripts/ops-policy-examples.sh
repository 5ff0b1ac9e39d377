#!/usr/bin/env bash
# ops-policy-examples.sh SOURCE_DIR VVCTL: runs `vvctl policy check` on every shipped gateway
# example config (deploy/config/gateway*.yaml). The examples name their TLS material with paths
# relative to the config file (certs/gateway.crt ...), so each check runs on a temp copy of
# deploy/config/ with a fresh dev PKI (scripts/dev-pki.sh) in certs/ and an Ed25519 key
# (mode 0600) for every keys/*.pem file the example references. Exits non-zero if any example
# fails the gate; prints each report.
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
  echo "== vvctl policy check $name"
  if ! "$VVCTL" policy check "$work/$name" --format text; then
    echo "ops-policy-examples: $name FAILED the policy gate" >&2
    failed=1
  fi
done
exit $failed

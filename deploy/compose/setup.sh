#!/usr/bin/env bash
# deploy/compose/setup.sh: generates everything the compose topology needs under
# deploy/compose/pki (mode 0700) and writes config/gateway.yaml from config/gateway.yaml.in:
#   - the dev PKI (scripts/dev-pki.sh: CA, gateway server cert, producer client cert, CRL)
#   - backend.crt/key: one server certificate for NATS and Redis (SAN nats-1..3, redis)
#   - random passwords (NATS users, Redis ACL users, PostgreSQL roles) in pki/secrets.env
#   - Ed25519 keys: producer request signing, queue signing, feedback signing, one audit seal
#     key per replica and engine
#   - the evidence root key file, the admin token, the Redis ACL file
# Re-running keeps existing keys and passwords (delete pki/ to start over). Needs openssl.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PKI="$HERE/pki"
umask 077
mkdir -p "$PKI"
[[ -f "$PKI/ca.crt" ]] || bash "$ROOT/scripts/dev-pki.sh" "$PKI"

# Server certificate for the backends, signed by the dev CA.
if [[ ! -f "$PKI/backend.crt" ]]; then
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=vectorvue-backend" \
    -keyout "$PKI/backend.key" -out "$PKI/backend.csr" 2>/dev/null
  printf 'subjectAltName=DNS:nats-1,DNS:nats-2,DNS:nats-3,DNS:redis,DNS:postgres,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$PKI/backend.ext"
  openssl x509 -req -in "$PKI/backend.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$PKI/backend.ext" -out "$PKI/backend.crt" 2>/dev/null
  rm -f "$PKI/backend.csr" "$PKI/backend.ext"
fi

rand() { openssl rand -hex 24; }
if [[ ! -f "$PKI/secrets.env" ]]; then
  cat >"$PKI/secrets.env" <<EOT
NATS_GATEWAY_PASSWORD=$(rand)
NATS_ENGINE_PASSWORD=$(rand)
REDIS_GATEWAY_PASSWORD=$(rand)
PG_ADMIN_PASSWORD=$(rand)
PG_ENGINE_PASSWORD=$(rand)
PG_GATEWAY_PASSWORD=$(rand)
GRAFANA_ADMIN_PASSWORD=$(rand)
EOT
fi
# shellcheck disable=SC1091
source "$PKI/secrets.env"
printf '%s' "$PG_ADMIN_PASSWORD" >"$PKI/pg_admin_password"
printf '%s' "$GRAFANA_ADMIN_PASSWORD" >"$PKI/grafana_admin_password"

ed25519() { [[ -f "$1" ]] || openssl genpkey -algorithm ed25519 -out "$1" 2>/dev/null; }
pub_b64() { openssl pkey -in "$1" -pubout -outform DER | tail -c 32 | base64; }
ed25519 "$PKI/queue_ed25519.pem"
ed25519 "$PKI/feedback_ed25519.pem"
ed25519 "$PKI/producer_signing.pem"   # the producer's request-signing key (ss-producer)
for r in gateway-a gateway-b engine-a engine-b; do
  mkdir -p "$PKI/$r"
  ed25519 "$PKI/$r/audit_seal.key"
done
[[ -f "$PKI/admin.token" ]] || rand >"$PKI/admin.token"
[[ -f "$PKI/evidence-root-keys.json" ]] ||
  printf '{"vv-evidence-root-v1": "%s"}\n' "$(openssl rand -base64 32)" >"$PKI/evidence-root-keys.json"
# Redis ACL: the gateway's user may use only the keys and commands it needs; default disabled.
cat >"$PKI/redis-users.acl" <<EOT
user default off
user vv-gateway on >$REDIS_GATEWAY_PASSWORD ~* &* -@all +@read +@write +@scripting +@connection +info
EOT

# The producer's certificate pin and request-signing key (never the wire contract's
# published appendix keys: the policy gate refuses those).
PRODUCER_PIN="$(cat "$PKI/producer.sha256")"
sed -e "s#@REDIS_GATEWAY_PASSWORD@#$REDIS_GATEWAY_PASSWORD#" \
    -e "s#@NATS_GATEWAY_PASSWORD@#$NATS_GATEWAY_PASSWORD#" \
    -e "s#@PG_ENGINE_PASSWORD@#$PG_ENGINE_PASSWORD#" \
    -e "s#@PRODUCER_PIN@#$PRODUCER_PIN#" \
    -e "s#@PRODUCER_PUBLIC_KEY@#$(pub_b64 "$PKI/producer_signing.pem")#" \
    -e "s#@QUEUE_PUBLIC_KEY@#$(pub_b64 "$PKI/queue_ed25519.pem")#" \
    "$HERE/config/gateway.yaml.in" >"$HERE/config/gateway.yaml"
# The containers run as an unprivileged user: files are readable by the owner only, so hand
# them to uid 999 (the image's `vectorvue` system user) when run as root.
if [[ $(id -u) -eq 0 ]]; then chown -R 999:999 "$PKI" "$HERE/config/gateway.yaml"; fi
echo "setup: PKI and secrets in $PKI, config in $HERE/config/gateway.yaml"

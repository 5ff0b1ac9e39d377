#!/usr/bin/env bash
# dev-pki.sh OUTDIR: generates a development PKI for the VectorVue gateway and the
# SpectraStrike producer (ECDSA P-256, openssl CLI only). Prints nothing but errors.
#
# Files written to OUTDIR:
#   ca.crt / ca.key                 dev root CA ("VectorVue-Dev-CA")
#   gateway.crt / gateway.key       server cert, CN vectorvue-telemetry-gateway.internal,
#                                   SAN DNS:vectorvue-telemetry-gateway.internal, DNS:localhost, IP:127.0.0.1
#   producer.crt / producer.key     client cert, CN spectrastrike-producer
#   rogue.crt / rogue.key           client cert, CN rogue-producer (same CA, not pinned anywhere)
#   other-ca.crt / other-ca.key     a second, untrusted CA
#   untrusted.crt / untrusted.key   client cert, CN spectrastrike-producer, signed by other-ca
#   revoked.crt / revoked.key       client cert, CN revoked-producer, listed in crl.pem
#   crl.pem                         CRL of ca listing revoked.crt
#   crl-empty.pem                   valid CRL of ca listing nothing
#   <name>.sha256                   lowercase hex SHA-256 of each cert's DER (the pin value)
#   ca-db/                          `openssl ca` state (index, serials, config)
# Key files are mode 0600. Safe to run on a fresh or existing directory (files are rewritten).
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
OUT="$1"
mkdir -p "$OUT"
cd "$OUT"
umask 077

DAYS=825
ossl() { openssl "$@" 2>/dev/null >/dev/null || { echo "dev-pki: openssl $1 failed" >&2; openssl "$@" >/dev/null; exit 1; }; }

genkey() {  # genkey NAME
  ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"
  chmod 0600 "$1.key"
}

selfsigned_ca() {  # selfsigned_ca NAME CN
  genkey "$1"
  ossl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "/CN=$2" -out "$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash"
}

issue() {  # issue NAME CN CA_NAME SERIAL EXTFILE_CONTENT
  local name="$1" cn="$2" ca="$3" serial="$4" ext="$5"
  genkey "$name"
  ossl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr"
  printf '%s\n' "$ext" > "$name.ext"
  ossl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -set_serial "$serial" \
    -days "$DAYS" -sha256 -extfile "$name.ext" -out "$name.crt"
  rm -f "$name.csr" "$name.ext"
}

CLIENT_EXT="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"
SERVER_EXT="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=DNS:vectorvue-telemetry-gateway.internal,DNS:localhost,IP:127.0.0.1"

selfsigned_ca ca "VectorVue-Dev-CA"
selfsigned_ca other-ca "Untrusted-Other-CA"
issue gateway "vectorvue-telemetry-gateway.internal" ca 0x1001 "$SERVER_EXT"
issue producer "spectrastrike-producer" ca 0x1002 "$CLIENT_EXT"
issue rogue "rogue-producer" ca 0x1003 "$CLIENT_EXT"
issue revoked "revoked-producer" ca 0x1004 "$CLIENT_EXT"
issue untrusted "spectrastrike-producer" other-ca 0x2001 "$CLIENT_EXT"

# Minimal `openssl ca` state for revocation + CRLs.
rm -rf ca-db
mkdir -p ca-db/new
: > ca-db/index.txt
echo 1000 > ca-db/crlnumber
cat > ca-db/ca.cnf <<EOF
[ ca ]
default_ca = dev_ca
[ dev_ca ]
dir = ca-db
database = \$dir/index.txt
new_certs_dir = \$dir/new
certificate = ca.crt
private_key = ca.key
crlnumber = \$dir/crlnumber
default_md = sha256
default_crl_days = 365
policy = anything
unique_subject = no
[ anything ]
commonName = supplied
[ crl_ext ]
authorityKeyIdentifier = keyid:always
EOF
ossl ca -batch -config ca-db/ca.cnf -gencrl -crlexts crl_ext -out crl-empty.pem
ossl ca -batch -config ca-db/ca.cnf -revoke revoked.crt -crl_reason keyCompromise
ossl ca -batch -config ca-db/ca.cnf -gencrl -crlexts crl_ext -out crl.pem

for name in ca other-ca gateway producer rogue revoked untrusted; do
  openssl x509 -in "$name.crt" -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1 > "$name.sha256"
  chmod 0644 "$name.crt" "$name.sha256"
done
chmod 0644 crl.pem crl-empty.pem

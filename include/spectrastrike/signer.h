#pragma once
// SpectraStrike SDK: Ed25519 request signing (wire contract section 2.1).
//
// The signed bytes are the ASCII decimal timestamp, '.', the nonce, '.', and then the exact
// raw HTTP body bytes; the signature travels as standard padded base64 (88 chars) in
// X-Telemetry-Signature, together with X-Telemetry-Timestamp and X-Telemetry-Nonce.
// Thread-safety: a constructed RequestSigner is immutable; const methods are thread-safe.
// Ownership: holds a copy of the private key, wiped on destruction.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "spectrastrike/status.h"

namespace spectrastrike {

struct SignedHeaders {
  std::string timestamp;  // X-Telemetry-Timestamp
  std::string nonce;      // X-Telemetry-Nonce
  std::string signature;  // X-Telemetry-Signature (base64)

  std::vector<std::pair<std::string, std::string>> ToHeaders() const;
};

class RequestSigner {
 public:
  // From a raw 32-byte Ed25519 seed. InvalidArgument when the seed is not 32 bytes.
  static Result<RequestSigner> FromSeed(std::string_view seed32);
  // From a key file: raw 32-byte seed or unencrypted PEM PKCS#8 Ed25519 key. When
  // check_permissions, refuses files readable/writable by group or others (PermissionDenied);
  // NotFound for a missing file.
  static Result<RequestSigner> FromKeyFile(const std::string& path, bool check_permissions = true);

  RequestSigner(RequestSigner&&) noexcept;
  RequestSigner& operator=(RequestSigner&&) noexcept;
  ~RequestSigner();

  // base64(Ed25519(seed, "{ts}.{nonce}." + body)).
  std::string SignatureB64(int64_t ts, const std::string& nonce, const std::string& body) const;
  SignedHeaders Sign(int64_t ts, const std::string& nonce, const std::string& body) const;
  // base64(Ed25519(seed, message)) of an arbitrary message (federation bundles, wire 2.2).
  std::string SignMessageB64(std::string_view message) const;
  // Standard base64 of the raw 32-byte public key (VV_TG_SPECTRASTRIKE_ED25519_PUBKEY format).
  std::string PublicKeyB64() const;

 private:
  class Impl;
  explicit RequestSigner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace spectrastrike

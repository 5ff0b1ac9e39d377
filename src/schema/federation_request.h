#pragma once
// The body of POST /internal/v1/federation/verify (wire-contract 1.5, 2.2): `{"bundle": {...}}`
// parsed strictly with the field kit (schema/fields.h) - unknown keys at both levels, missing
// keys, wrong types, bad lengths, non-hex execution_hash and a signature that is not strict
// standard base64 are errors (the gateway answers 422, never 500); '|' is refused in the
// pipe-joined fields so field boundaries cannot be shifted under one signature. What the bundle
// proves (freshness, signature, nonce, tenant) is verify/bundle_check.h's.
// Pure function, thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

namespace vv::schema {

struct SignedBundle {
  std::string operator_id;
  std::string campaign_id;
  std::string execution_hash;  // case kept as sent (the signed bytes)
  int64_t timestamp = 0;
  std::string nonce;
  std::string signature_b64;
  std::string signature;  // decoded
};

enum class FederationBodyError {
  kNone,
  kInvalidJson,        // not JSON
  kSchema,             // JSON, but not the bundle's shape
  kSignatureEncoding,  // the shape is right; the signature is not strict standard base64
};

struct FederationBody {
  FederationBodyError error = FederationBodyError::kNone;
  std::string why;  // the precise cause (audit log), "" when kNone
  SignedBundle bundle;
};

FederationBody ParseFederationBody(std::string_view body);

}  // namespace vv::schema

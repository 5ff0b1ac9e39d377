#pragma once
// The stored evidence envelope (docs/evidence-format.md; wire-contract section 9, vector A.8):
//   {"version", "algorithm", "key_id", "tenant_id", "wrapped_dek_b64", "dek_wrap_nonce_b64",
//    "data_nonce_b64", "ciphertext_b64"[, "data_key_id"]}
// with standard padded base64. Versions:
//   vv-evidence-env-v1        the reference format: KEK = HKDF-SHA256(root, salt=tenant,
//                             info="vectorvue-evidence-kek-v1"); both AES-256-GCM operations
//                             use AAD "tenant:<t>|key:<key_id>|purpose:evidence-blob".
//   vv-evidence-env-v1.1      v1 after a re-wrap: the DEK is wrapped under `key_id`, the data
//                             ciphertext is untouched and its AAD still names `data_key_id`.
//   vv-evidence-env-v2-pkcs11 KEK = HMAC-SHA256 computed inside a PKCS#11 token with the root
//                             key `key_id` over "vectorvue-evidence-kek-v2" 0x00 <tenant>;
//                             otherwise as v1 (data_key_id optional, present after a re-wrap).
// Pure data + functions, thread-safe.

#include <string>
#include <string_view>

#include "common/status.h"
#include "json/json.h"

namespace vv::evidence {

inline constexpr std::string_view kEnvelopeV1 = "vv-evidence-env-v1";
inline constexpr std::string_view kEnvelopeV1Rewrapped = "vv-evidence-env-v1.1";
inline constexpr std::string_view kEnvelopeV2Pkcs11 = "vv-evidence-env-v2-pkcs11";
inline constexpr std::string_view kAlgorithmV1 = "AES-256-GCM+HKDF-SHA256";
inline constexpr std::string_view kAlgorithmV2Pkcs11 = "AES-256-GCM+PKCS11-HMAC-SHA256";
inline constexpr std::string_view kKekInfoV1 = "vectorvue-evidence-kek-v1";
inline constexpr std::string_view kKekLabelV2 = "vectorvue-evidence-kek-v2";
inline constexpr size_t kDekBytes = 32;
inline constexpr size_t kNonceBytes = 12;

// Decrypt error texts of the reference (ValueError messages).
inline constexpr std::string_view kErrUnsupportedVersion = "Unsupported evidence envelope version";
inline constexpr std::string_view kErrTenantMismatch = "Tenant mismatch for evidence envelope";

// How the per-tenant KEK of an envelope is derived.
enum class KekScheme { kHkdfV1, kPkcs11HmacV2 };

struct EvidenceEnvelope {
  std::string version;
  std::string algorithm;
  std::string key_id;  // root key wrapping the DEK
  std::string tenant_id;
  std::string data_key_id;  // key id bound in the data AAD; "" = key_id
  // Raw bytes (base64 only on the wire).
  std::string wrapped_dek;
  std::string dek_wrap_nonce;
  std::string data_nonce;
  std::string ciphertext;

  const std::string& DataKeyId() const { return data_key_id.empty() ? key_id : data_key_id; }
  json::Value ToJson() const;
  std::string Serialize() const;  // canonical JSON
};

// "tenant:<tenant_id>|key:<key_id>|purpose:evidence-blob"
std::string EvidenceAad(std::string_view tenant_id, std::string_view key_id);

// True when `v` looks like an evidence envelope (known version + ciphertext_b64 present).
bool IsEvidenceEnvelope(const json::Value& v);
// Parses and checks the shape. InvalidArgument with kErrUnsupportedVersion for an unknown
// version, or naming the bad field.
Result<EvidenceEnvelope> EnvelopeFromJson(const json::Value& v);
Result<EvidenceEnvelope> ParseEnvelopeJson(std::string_view text);
// The KEK scheme of a version; InvalidArgument (kErrUnsupportedVersion) otherwise.
Result<KekScheme> SchemeOfVersion(std::string_view version);

}  // namespace vv::evidence

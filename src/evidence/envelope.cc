#include "evidence/envelope.h"

#include "common/encoding.h"

namespace vv::evidence {

json::Value EvidenceEnvelope::ToJson() const {
  json::Value v = json::Value::MakeObject();
  v.Set("version", version);
  v.Set("algorithm", algorithm);
  v.Set("key_id", key_id);
  v.Set("tenant_id", tenant_id);
  v.Set("wrapped_dek_b64", Base64Encode(wrapped_dek));
  v.Set("dek_wrap_nonce_b64", Base64Encode(dek_wrap_nonce));
  v.Set("data_nonce_b64", Base64Encode(data_nonce));
  v.Set("ciphertext_b64", Base64Encode(ciphertext));
  if (!data_key_id.empty() && data_key_id != key_id) v.Set("data_key_id", data_key_id);
  return v;
}

std::string EvidenceEnvelope::Serialize() const { return json::Canonical(ToJson()); }

std::string EvidenceAad(std::string_view tenant_id, std::string_view key_id) {
  std::string aad = "tenant:";
  aad.append(tenant_id);
  aad.append("|key:");
  aad.append(key_id);
  aad.append("|purpose:evidence-blob");
  return aad;
}

Result<KekScheme> SchemeOfVersion(std::string_view version) {
  if (version == kEnvelopeV1 || version == kEnvelopeV1Rewrapped) return KekScheme::kHkdfV1;
  if (version == kEnvelopeV2Pkcs11) return KekScheme::kPkcs11HmacV2;
  return Status::InvalidArgument(std::string(kErrUnsupportedVersion));
}

bool IsEvidenceEnvelope(const json::Value& v) {
  if (!v.is_object()) return false;
  const json::Value* ver = v.Find("version");
  if (ver == nullptr || !ver->is_string() || !SchemeOfVersion(ver->as_string()).ok()) return false;
  return v.Find("ciphertext_b64") != nullptr;
}

Result<EvidenceEnvelope> EnvelopeFromJson(const json::Value& v) {
  if (!v.is_object()) return Status::InvalidArgument("evidence envelope must be a JSON object");
  auto str = [&](const char* key, bool required, std::string* out) -> Status {
    const json::Value* f = v.Find(key);
    if (f == nullptr) {
      if (required)
        return Status::InvalidArgument(std::string("evidence envelope: missing ") + key);
      return Status::Ok();
    }
    if (!f->is_string())
      return Status::InvalidArgument(std::string("evidence envelope: ") + key +
                                     " must be a string");
    *out = f->as_string();
    return Status::Ok();
  };
  auto b64 = [&](const char* key, std::string* out) -> Status {
    std::string text;
    VV_RETURN_IF_ERROR(str(key, true, &text));
    auto raw = Base64DecodeStrict(text);
    if (!raw)
      return Status::InvalidArgument(std::string("evidence envelope: bad base64 in ") + key);
    *out = std::move(*raw);
    return Status::Ok();
  };
  EvidenceEnvelope e;
  VV_RETURN_IF_ERROR(str("version", true, &e.version));
  if (!SchemeOfVersion(e.version).ok())
    return Status::InvalidArgument(std::string(kErrUnsupportedVersion));
  VV_RETURN_IF_ERROR(str("algorithm", false, &e.algorithm));
  VV_RETURN_IF_ERROR(str("key_id", true, &e.key_id));
  VV_RETURN_IF_ERROR(str("tenant_id", true, &e.tenant_id));
  VV_RETURN_IF_ERROR(str("data_key_id", false, &e.data_key_id));
  if (e.version == kEnvelopeV1 && !e.data_key_id.empty() && e.data_key_id != e.key_id)
    return Status::InvalidArgument("evidence envelope: data_key_id is not allowed in v1");
  VV_RETURN_IF_ERROR(b64("wrapped_dek_b64", &e.wrapped_dek));
  VV_RETURN_IF_ERROR(b64("dek_wrap_nonce_b64", &e.dek_wrap_nonce));
  VV_RETURN_IF_ERROR(b64("data_nonce_b64", &e.data_nonce));
  VV_RETURN_IF_ERROR(b64("ciphertext_b64", &e.ciphertext));
  if (e.dek_wrap_nonce.empty() || e.data_nonce.empty())
    return Status::InvalidArgument("evidence envelope: empty nonce");
  return e;
}

Result<EvidenceEnvelope> ParseEnvelopeJson(std::string_view text) {
  auto v = json::Parse(text);
  if (!v.ok()) return Status::InvalidArgument("evidence envelope: " + v.status().message());
  return EnvelopeFromJson(*v);
}

}  // namespace vv::evidence

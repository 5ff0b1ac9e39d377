#include "cognitive/feedback.h"

#include "common/encoding.h"

namespace vv::cognitive {

json::Value MakeAdjustment(const std::string& tenant_id, const std::string& fingerprint,
                           const std::string& target_urn, bool tighten,
                           const std::string& attestation_hash, int64_t timestamp) {
  json::Object o;
  o.emplace_back("tenant_id", json::Value(tenant_id));
  o.emplace_back("execution_fingerprint", json::Value(ToLowerAscii(fingerprint)));
  o.emplace_back("target_urn", json::Value(target_urn));
  o.emplace_back("action", json::Value(tighten ? "tighten" : "observe"));
  o.emplace_back("confidence", json::Value(tighten ? 0.82 : 0.55));
  o.emplace_back("rationale",
                 json::Value(tighten ? "high-complexity execution graph exceeded cognitive "
                                       "threshold"
                                     : "graph telemetry received; monitoring baseline "
                                       "adjustments"));
  o.emplace_back("control", json::Value("execution"));
  o.emplace_back("ttl_seconds", json::Value(kAdjustmentTtlSeconds));
  o.emplace_back("timestamp", json::Value(timestamp));
  o.emplace_back("schema_version", json::Value(std::string(kFeedbackAdjustmentSchema)));
  o.emplace_back("attestation_measurement_hash", json::Value(ToLowerAscii(attestation_hash)));
  return json::Value(std::move(o));
}

json::Value DeriveAdjustments(const std::vector<GraphRecord>& records, int64_t now) {
  json::Value data = json::Value::MakeArray();
  for (const GraphRecord& r : records) {
    bool tighten = r.node_count >= kTightenNodeThreshold;
    data.Push(MakeAdjustment(r.tenant_id, r.execution_fingerprint, r.target_urn, tighten,
                             r.attestation_measurement_hash, now));
  }
  return data;
}

std::string FeedbackSigningInput(std::string_view tenant_id, int64_t signed_at,
                                 std::string_view nonce, std::string_view schema_version,
                                 std::string_view kid, const json::Value& data) {
  std::string out;
  out.append(tenant_id);
  out += '|';
  out += std::to_string(signed_at);
  out += '|';
  out.append(nonce);
  out += '|';
  out.append(schema_version);
  out += '|';
  out.append(kid);
  out += '|';
  json::AppendCanonical(data, &out);
  return out;
}

Result<std::shared_ptr<const FeedbackSigner>> FeedbackSigner::Load(
    const std::map<std::string, std::string>& key_paths, const std::string& active_kid,
    bool check_permissions) {
  if (key_paths.empty())
    return Status::InvalidArgument(
        "feedback_ed25519_keys (VV_TG_FEEDBACK_ED25519_KEYS_JSON) must be configured: the "
        "feedback query endpoint signs its responses with it");
  if (active_kid.empty())
    return Status::InvalidArgument(
        "feedback_active_kid (VV_TG_FEEDBACK_ACTIVE_KID) must be configured");
  if (key_paths.count(active_kid) == 0)
    return Status::InvalidArgument("feedback_active_kid (VV_TG_FEEDBACK_ACTIVE_KID) '" +
                                   active_kid + "' must exist in feedback_ed25519_keys");
  std::map<std::string, crypto::Ed25519PrivateKey> keys;
  for (const auto& [kid, path] : key_paths) {
    if (kid.empty())
      return Status::InvalidArgument("feedback_ed25519_keys: key ids must not be empty");
    if (path.empty())
      return Status::InvalidArgument("feedback_ed25519_keys." + kid + ": key file path is empty");
    auto k = crypto::Ed25519PrivateKey::LoadFile(path, check_permissions);
    if (!k.ok())
      return Status(k.status().code(),
                    "feedback_ed25519_keys." + kid + ": " + k.status().message());
    keys.emplace(kid, std::move(k).value());
  }
  return FromKeys(std::move(keys), active_kid);
}

Result<std::shared_ptr<const FeedbackSigner>> FeedbackSigner::FromKeys(
    std::map<std::string, crypto::Ed25519PrivateKey> keys, const std::string& active_kid) {
  if (keys.count(active_kid) == 0)
    return Status::InvalidArgument("feedback_active_kid (VV_TG_FEEDBACK_ACTIVE_KID) '" +
                                   active_kid + "' must exist in feedback_ed25519_keys");
  std::shared_ptr<FeedbackSigner> s(new FeedbackSigner());
  for (auto& [kid, key] : keys) {
    s->public_keys_.emplace(kid, key.PublicKey());
    s->keys_.emplace(kid, std::move(key));
  }
  s->active_kid_ = active_kid;
  return std::shared_ptr<const FeedbackSigner>(std::move(s));
}

std::string FeedbackRequestNonceTag(std::string_view request_nonce) {
  const std::string digest = crypto::Sha256("vv-feedback-request-nonce|" + std::string(request_nonce));
  return Base64UrlEncodeNoPad(std::string_view(digest).substr(0, 9));  // 12 chars
}

std::string BoundResponseNonce(std::string_view token, std::string_view request_nonce) {
  return std::string(token.substr(0, 12)) + FeedbackRequestNonceTag(request_nonce);
}

SignedFeedback FeedbackSigner::Sign(std::string_view tenant_id, int64_t signed_at,
                                    std::string_view nonce, const json::Value& data) const {
  SignedFeedback out;
  out.kid = active_kid_;
  out.signed_at = signed_at;
  out.nonce = std::string(nonce);
  out.schema_version = std::string(kFeedbackResponseSchema);
  std::string input =
      FeedbackSigningInput(tenant_id, signed_at, nonce, out.schema_version, out.kid, data);
  out.signature_b64 = Base64Encode(keys_.find(active_kid_)->second.Sign(input));
  return out;
}

const crypto::Ed25519PublicKey* FeedbackSigner::PublicKey(std::string_view kid) const {
  auto it = public_keys_.find(kid);
  return it == public_keys_.end() ? nullptr : &it->second;
}

}  // namespace vv::cognitive

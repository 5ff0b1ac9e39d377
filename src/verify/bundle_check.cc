#include "verify/bundle_check.h"

#include "crypto/crypto.h"

namespace vv::verify {

std::string BundleMessage(const SignedBundle& b) {
  return b.operator_id + "|" + b.campaign_id + "|" + b.execution_hash + "|" +
         std::to_string(b.timestamp) + "|" + b.nonce;
}

std::string BundleHash(const SignedBundle& b) { return crypto::Sha256Hex(BundleMessage(b)); }

std::string BundleNonceKey(const SignedBundle& b) {
  return crypto::Sha256Hex("federation-bundle|" + b.operator_id + "|" + b.nonce);
}

Verdict ParseFederationRequest(std::string_view body, SignedBundle* out) {
  using schema::FederationBodyError;
  schema::FederationBody parsed = schema::ParseFederationBody(body);
  switch (parsed.error) {
    case FederationBodyError::kNone:
      *out = std::move(parsed.bundle);
      return Verdict::Pass();
    case FederationBodyError::kInvalidJson:
      return Verdict::Reject(Reason::kInvalidJson, 422, std::string(kFederationBodyInvalid),
                             std::move(parsed.why));
    case FederationBodyError::kSignatureEncoding:
      return Verdict::Reject(Reason::kSignatureEncoding, 422,
                             std::string(kFederationSignatureEncoding), std::move(parsed.why));
    case FederationBodyError::kSchema:
      break;
  }
  return Verdict::Reject(Reason::kTopLevelSchema, 422, std::string(kFederationBodyInvalid),
                         std::move(parsed.why));
}

Verdict BundleCheck::Run(RequestContext& ctx) const {
  if (ctx.bundle == nullptr)
    return Verdict::Reject(Reason::kTopLevelSchema, 422, std::string(kFederationBodyInvalid),
                           "no parsed bundle in the request context");
  return Run(*ctx.bundle, ctx);
}

Verdict BundleCheck::Run(const SignedBundle& b, RequestContext& ctx) const {
  ctx.operator_id = b.operator_id;
  ctx.campaign_id = b.campaign_id;
  ctx.timestamp = b.timestamp;
  ctx.nonce = b.nonce;
  int64_t now = clock_.NowSeconds();
  uint64_t distance = (b.timestamp > now)
                          ? static_cast<uint64_t>(b.timestamp) - static_cast<uint64_t>(now)
                          : static_cast<uint64_t>(now) - static_cast<uint64_t>(b.timestamp);
  if (cfg_->allowed_clock_skew_seconds < 0 ||
      distance > static_cast<uint64_t>(cfg_->allowed_clock_skew_seconds))
    return Verdict::Reject(Reason::kTimestampSkew, 401, std::string(kFederationStale),
                           "ts=" + std::to_string(b.timestamp) + " now=" + std::to_string(now));
  const std::string message = BundleMessage(b);
  bool verified = false;
  for (const config::SigningKey& k : cfg_->FederationKeys()) {
    if (k.key.Verify(message, b.signature)) {
      ctx.signing_kid = k.kid;
      verified = true;
      break;
    }
  }
  if (!verified)
    return Verdict::Reject(Reason::kBadSignature, 401, std::string(kFederationProofFailed),
                           b.signature.size() == 64 ? "no federation key verifies"
                                                    : "signature is not 64 bytes");
  ctx.nonce_key = BundleNonceKey(b);
  Status s = nonces_.Register(ctx.nonce_key, cfg_->nonce_ttl_seconds);
  if (s.code() == StatusCode::kAlreadyExists)
    return Verdict::Reject(Reason::kReplay, 409, "Replay detected: nonce already used",
                           "federation bundle nonce reused by operator " + b.operator_id);
  if (!s.ok())
    return Verdict::Reject(Reason::kNonceStoreUnavailable, 503, "Nonce store unavailable",
                           s.ToString());
  ctx.nonce_registered = true;
  auto it = cfg_->operator_tenant_map.find(b.operator_id);
  if (it == cfg_->operator_tenant_map.end())
    return Verdict::Reject(Reason::kOperatorUnmapped, 403, "Operator is not mapped to any tenant",
                           "operator=" + b.operator_id);
  ctx.tenant_id = it->second;
  return Verdict::Pass();
}

}  // namespace vv::verify

#include "verify/bundle_check.h"

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "schema/text.h"

namespace vv::verify {

namespace {

Verdict Invalid(std::string why) {
  return Verdict::Reject(Reason::kTopLevelSchema, 422, std::string(kFederationBodyInvalid),
                         std::move(why));
}

// Code points of valid UTF-8 (the parser guarantees validity).
size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// A string field of `b`: present, a string, min..max code points, no '|' (when `no_pipe`),
// no NUL.
bool StrField(const json::Value& b, const char* key, size_t min, size_t max, bool no_pipe,
              std::string* out, std::string* why) {
  const json::Value* v = b.Find(key);
  if (v == nullptr) {
    *why = std::string("bundle.") + key + ": field required";
    return false;
  }
  if (!v->is_string()) {
    *why = std::string("bundle.") + key + ": must be a string";
    return false;
  }
  const std::string& s = v->as_string();
  size_t n = CodePoints(s);
  if (n < min || n > max) {
    *why = std::string("bundle.") + key + ": length must be " + std::to_string(min) + ".." +
           std::to_string(max);
    return false;
  }
  // No control characters at all (issue 12 item 15), and no '|' in the pipe-joined fields.
  if (schema::ContainsControlChar(s, /*allow_line_breaks=*/false) ||
      (no_pipe && s.find('|') != std::string::npos)) {
    *why = std::string("bundle.") + key + ": contains a forbidden character";
    return false;
  }
  *out = s;
  return true;
}

// A request's key echoed into the audit detail: bounded (the serialiser escapes it).
std::string BoundedKey(std::string_view k) {
  return k.size() <= 64 ? std::string(k) : std::string(k.substr(0, 64)) + "...";
}

}  // namespace

std::string BundleMessage(const SignedBundle& b) {
  return b.operator_id + "|" + b.campaign_id + "|" + b.execution_hash + "|" +
         std::to_string(b.timestamp) + "|" + b.nonce;
}

std::string BundleHash(const SignedBundle& b) { return crypto::Sha256Hex(BundleMessage(b)); }

std::string BundleNonceKey(const SignedBundle& b) {
  return crypto::Sha256Hex("federation-bundle|" + b.operator_id + "|" + b.nonce);
}

Verdict ParseFederationRequest(std::string_view body, SignedBundle* out) {
  auto parsed = json::Parse(body);
  if (!parsed.ok())
    return Verdict::Reject(Reason::kInvalidJson, 422, std::string(kFederationBodyInvalid),
                           "invalid JSON: " + parsed.status().message());
  const json::Value& root = *parsed;
  if (!root.is_object()) return Invalid("body must be a JSON object");
  for (const auto& [k, v] : root.as_object())
    if (k != "bundle") return Invalid("extra field not permitted: " + BoundedKey(k));
  const json::Value* b = root.Find("bundle");
  if (b == nullptr) return Invalid("bundle: field required");
  if (!b->is_object()) return Invalid("bundle: must be an object");
  for (const auto& [k, v] : b->as_object()) {
    if (k != "operator_id" && k != "campaign_id" && k != "execution_hash" && k != "timestamp" &&
        k != "nonce" && k != "signature")
      return Invalid("extra field not permitted: bundle." + BoundedKey(k));
  }
  std::string why;
  SignedBundle sb;
  if (!StrField(*b, "operator_id", 1, 128, true, &sb.operator_id, &why) ||
      !StrField(*b, "campaign_id", 1, 128, true, &sb.campaign_id, &why) ||
      !StrField(*b, "execution_hash", 64, 64, true, &sb.execution_hash, &why) ||
      !StrField(*b, "nonce", 12, 128, true, &sb.nonce, &why) ||
      !StrField(*b, "signature", 12, 4096, false, &sb.signature_b64, &why))
    return Invalid(why);
  if (!IsHex(sb.execution_hash, 64)) return Invalid("bundle.execution_hash: must be 64 hex chars");
  const json::Value* ts = b->Find("timestamp");
  if (ts == nullptr) return Invalid("bundle.timestamp: field required");
  if (!ts->is_int()) return Invalid("bundle.timestamp: must be an integer");
  auto t = ts->as_int64();
  if (!t) return Invalid("bundle.timestamp: integer out of range");
  sb.timestamp = *t;
  auto sig = Base64DecodeStrict(sb.signature_b64);
  if (!sig)
    return Verdict::Reject(Reason::kSignatureEncoding, 422,
                           std::string(kFederationSignatureEncoding),
                           "bundle.signature is not strict standard base64");
  sb.signature = std::move(*sig);
  *out = std::move(sb);
  return Verdict::Pass();
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

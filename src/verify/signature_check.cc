#include <charconv>

#include "common/encoding.h"
#include "verify/checks.h"

namespace vv::verify {

namespace {
bool IsB64Alphabet(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=';
    if (!ok) return false;
  }
  return true;
}

// Python int() on the stripped header: optional sign, ASCII digits (leading zeros allowed).
std::optional<int64_t> ParseEpochSeconds(std::string_view s) {
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    // One sign at most: from_chars would read the "-5" of "+-5" (int() refuses it).
    if (!s.empty() && s.front() == '-') return std::nullopt;
  }
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}
}  // namespace

Verdict SignatureCheck::Run(RequestContext& ctx) const {
  if (!cfg_->require_payload_signature)
    return Verdict::Reject(Reason::kSignatureDisabled, 503,
                           "Unsigned telemetry is disabled by policy");
  auto ts_h = ctx.Header("x-telemetry-timestamp");
  if (!ts_h || ts_h->empty())
    return Verdict::Reject(Reason::kMissingTimestampHeader, 401,
                           "Missing required header: X-Telemetry-Timestamp");
  auto nonce_h = ctx.Header("x-telemetry-nonce");
  if (!nonce_h || nonce_h->empty())
    return Verdict::Reject(Reason::kMissingNonceHeader, 401,
                           "Missing required header: X-Telemetry-Nonce");
  auto sig_h = ctx.Header("x-telemetry-signature");
  if (!sig_h || sig_h->empty())
    return Verdict::Reject(Reason::kMissingSignatureHeader, 401,
                           "Missing required header: X-Telemetry-Signature");
  if (!IsB64Alphabet(*sig_h))
    return Verdict::Reject(Reason::kSignatureNotBase64, 401, "Signature header is not valid base64");
  auto ts = ParseEpochSeconds(*ts_h);
  if (!ts)
    return Verdict::Reject(Reason::kTimestampNotInteger, 401,
                           "Telemetry timestamp must be unix epoch seconds");
  int64_t now = clock_.NowSeconds();
  // |now - ts| > skew, computed without overflow for extreme timestamps: the distance of two
  // int64 values always fits in uint64 and unsigned arithmetic is modular (no UB). (The former
  // signed form overflowed for ts near INT64_MIN, and the compiler dropped its "< 0" guard.)
  uint64_t distance = (*ts > now) ? static_cast<uint64_t>(*ts) - static_cast<uint64_t>(now)
                                  : static_cast<uint64_t>(now) - static_cast<uint64_t>(*ts);
  bool skewed = cfg_->allowed_clock_skew_seconds < 0 ||
                distance > static_cast<uint64_t>(cfg_->allowed_clock_skew_seconds);
  if (skewed)
    return Verdict::Reject(Reason::kTimestampSkew, 401,
                           "Telemetry timestamp out of allowed clock skew",
                           "ts=" + std::to_string(*ts) + " now=" + std::to_string(now));
  // The regex passed, so this is Python's b64decode: bad padding is the only failure.
  auto sig = Base64DecodeLenient(*sig_h);
  if (!sig)
    return Verdict::Reject(Reason::kSignatureEncoding, 401, "Malformed signature encoding");

  ctx.timestamp = *ts;
  ctx.nonce = std::string(*nonce_h);
  // Signed bytes: "{ts}.{nonce}." + raw body. The prefix is rebuilt from the parsed integer.
  std::string message = std::to_string(*ts);
  message.reserve(message.size() + ctx.nonce.size() + 2 + ctx.body.size());
  message += '.';
  message += ctx.nonce;
  message += '.';
  message.append(ctx.body);
  for (const config::SigningKey& k : cfg_->KeysFor(*ctx.identity)) {
    if (k.key.Verify(message, *sig)) {
      ctx.signing_kid = k.kid;
      return Verdict::Pass();
    }
  }
  return Verdict::Reject(Reason::kBadSignature, 401, "Invalid telemetry signature",
                         sig->size() == 64 ? "no configured key verifies"
                                           : "signature is not 64 bytes");
}

}  // namespace vv::verify

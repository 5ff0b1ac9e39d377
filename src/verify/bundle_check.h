#pragma once
// Federation bundle verification (POST /internal/v1/federation/verify, wire-contract 1.5, 2.2)
// with the reference's gaps closed (wire-contract 13 item 6):
//   - body `{"bundle": {...}}` parsed strictly by schema/federation_request.h (422, never
//     500); ParseFederationRequest below maps its errors to the contract's verdicts;
//   - timestamp freshness (|now - ts| <= allowed_clock_skew_seconds), 401;
//   - strict Ed25519 over "operator_id|campaign_id|execution_hash|timestamp|nonce" with any of
//     the federation key set (key ids for rotation), 401
//     "Federation proof-of-origin verification failed";
//   - a dedicated bundle nonce cache (its own NonceStore, key namespace "federation-bundle")
//     registered only after the signature verified, TTL nonce_ttl_seconds: 409 on replay;
//   - operator-to-tenant mapping (403, the telemetry texts).
// Thread-safety: BundleCheck is immutable; the borrowed store is thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "config/gateway_config.h"
#include "schema/federation_request.h"
#include "state/state.h"
#include "verify/check.h"
#include "verify/checks.h"

namespace vv::verify {

inline constexpr std::string_view kFederationProofFailed =
    "Federation proof-of-origin verification failed";
inline constexpr std::string_view kFederationBodyInvalid = "Federation bundle validation failed";
inline constexpr std::string_view kFederationSignatureEncoding =
    "Federation bundle signature is not valid base64";
inline constexpr std::string_view kFederationStale =
    "Federation bundle timestamp out of allowed clock skew";

// operator_id|campaign_id|execution_hash|timestamp|nonce
std::string BundleMessage(const SignedBundle& b);
// SHA-256 hex of BundleMessage (the signature is not included).
std::string BundleHash(const SignedBundle& b);
// The bundle nonce cache key: SHA-256 hex of "federation-bundle|<operator_id>|<nonce>".
std::string BundleNonceKey(const SignedBundle& b);

// schema::ParseFederationBody as the endpoint answers it. On failure returns a 422 rejection
// (reason kInvalidJson or kTopLevelSchema, or kSignatureEncoding for a signature that is not
// strict standard base64) with the precise cause in internal_detail.
Verdict ParseFederationRequest(std::string_view body, SignedBundle* out);

// Freshness, signature, replay (bundle nonce cache), tenant mapping. Fills ctx.operator_id,
// ctx.tenant_id, ctx.timestamp, ctx.nonce, ctx.nonce_key / nonce_registered, ctx.signing_kid.
// In a chain it reads the bundle the endpoint parsed into ctx.bundle (none: 422, fail closed).
class BundleCheck final : public Check {
 public:
  BundleCheck(ConfigPtr cfg, const Clock& clock, state::NonceStore& bundle_nonces)
      : cfg_(std::move(cfg)), clock_(clock), nonces_(bundle_nonces) {}
  std::string_view name() const override { return "bundle"; }
  Verdict Run(RequestContext& ctx) const override;
  Verdict Run(const SignedBundle& bundle, RequestContext& ctx) const;

 private:
  const ConfigPtr cfg_;
  const Clock& clock_;
  state::NonceStore& nonces_;
};

}  // namespace vv::verify

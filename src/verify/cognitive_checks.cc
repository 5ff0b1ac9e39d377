#include "verify/cognitive_checks.h"

#include "common/encoding.h"

namespace vv::verify {

Chain MakeSignedRequestChain(ConfigPtr cfg, const Clock& clock, state::NonceStore& nonces) {
  std::vector<CheckPtr> checks;
  checks.push_back(std::make_unique<IdentityCheck>(cfg));
  checks.push_back(std::make_unique<SignatureCheck>(cfg, clock));
  checks.push_back(std::make_unique<ReplayCheck>(cfg, nonces));
  return Chain(std::move(checks));
}

Verdict CheckBodyBinding(const RequestContext& ctx, int64_t body_timestamp,
                         std::string_view body_nonce) {
  if (body_timestamp != ctx.timestamp)
    return Verdict::Reject(Reason::kTimestampMismatch, 401,
                           "Body timestamp mismatch with signed header");
  if (body_nonce != ctx.nonce)
    return Verdict::Reject(Reason::kNonceMismatch, 401, "Body nonce mismatch with signed header");
  return Verdict::Pass();
}

Verdict CheckOperatorTenant(const config::GatewayConfig& cfg, std::string_view operator_id,
                            std::string_view tenant_id) {
  auto it = cfg.operator_tenant_map.find(std::string(operator_id));
  if (it == cfg.operator_tenant_map.end())
    return Verdict::Reject(Reason::kOperatorUnmapped, 403, "Operator is not mapped to any tenant",
                           "operator=" + std::string(operator_id));
  if (ToLowerAscii(it->second) != ToLowerAscii(tenant_id))
    return Verdict::Reject(Reason::kTenantMismatch, 403, "Operator tenant mapping violation",
                           "operator=" + std::string(operator_id) + " mapped=" + it->second +
                               " claimed=" + std::string(tenant_id));
  return Verdict::Pass();
}

Verdict AcquireRate(state::RateLimiter& limiter, const std::string& key, RequestContext& ctx) {
  state::RateTicket ticket;
  Status s = limiter.Acquire(key, &ticket);
  if (s.ok()) {
    ctx.rate_ticket = std::move(ticket);
    return Verdict::Pass();
  }
  if (s.code() == StatusCode::kResourceExhausted)
    return Verdict::Reject(Reason::kRateLimited, 429, "Operator burst anomaly detected",
                           "key=" + key);
  return Verdict::Reject(Reason::kRateLimiterUnavailable, 503, "Rate limiter unavailable",
                         s.ToString());
}

}  // namespace vv::verify

#include "verify/checks.h"

namespace vv::verify {

Verdict ReplayCheck::Run(RequestContext& ctx) const {
  ctx.nonce_key = state::NonceKey(ctx.timestamp, ctx.nonce);
  Status s = store_.Register(ctx.nonce_key, cfg_->nonce_ttl_seconds);
  if (s.ok()) {
    ctx.nonce_registered = true;
    return Verdict::Pass();
  }
  if (s.code() == StatusCode::kAlreadyExists)
    return Verdict::Reject(Reason::kReplay, 409, "Replay detected: nonce already used");
  return Verdict::Reject(Reason::kNonceStoreUnavailable, 503, "Nonce store unavailable",
                         s.ToString());
}

Verdict RateCheck::Run(RequestContext& ctx) const {
  state::RateTicket ticket;
  Status s = limiter_.Acquire(ctx.operator_id, &ticket);
  if (s.ok()) {
    ctx.rate_ticket = std::move(ticket);
    return Verdict::Pass();
  }
  if (s.code() == StatusCode::kResourceExhausted)
    return Verdict::Reject(Reason::kRateLimited, 429, "Operator burst anomaly detected",
                           "operator=" + ctx.operator_id);
  return Verdict::Reject(Reason::kRateLimiterUnavailable, 503, "Rate limiter unavailable",
                         s.ToString());
}

Chain MakeTelemetryChain(ConfigPtr cfg, const Clock& clock, const schema::MitreCatalog& catalog,
                         state::NonceStore& nonces, state::RateLimiter& limiter) {
  std::vector<CheckPtr> checks;
  checks.push_back(std::make_unique<IdentityCheck>(cfg));
  checks.push_back(std::make_unique<SignatureCheck>(cfg, clock));
  checks.push_back(std::make_unique<ReplayCheck>(cfg, nonces));
  checks.push_back(std::make_unique<BodyCheck>(catalog));
  checks.push_back(std::make_unique<TenantCheck>(cfg));
  checks.push_back(std::make_unique<SchemaVersionCheck>(cfg));
  checks.push_back(std::make_unique<RateCheck>(limiter));
  return Chain(std::move(checks));
}

}  // namespace vv::verify

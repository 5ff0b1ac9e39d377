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

Verdict AdmissionCheck::Run(RequestContext& ctx) const {
  ctx.nonce_key = state::NonceKey(ctx.timestamp, ctx.nonce);
  state::RateTicket ticket;
  Status s = admission_.Admit(ctx.nonce_key, cfg_->nonce_ttl_seconds, ctx.operator_id, &ticket);
  switch (s.code()) {
    case StatusCode::kOk:
      ctx.nonce_registered = true;
      ctx.rate_ticket = std::move(ticket);
      return Verdict::Pass();
    case StatusCode::kAlreadyExists:
      return Verdict::Reject(Reason::kReplay, 409, "Replay detected: nonce already used");
    case StatusCode::kResourceExhausted:
      return Verdict::Reject(Reason::kRateLimited, 429, "Operator burst anomaly detected",
                             "operator=" + ctx.operator_id);
    default:  // fail closed
      return Verdict::Reject(Reason::kNonceStoreUnavailable, 503, "Nonce store unavailable",
                             s.ToString());
  }
}

namespace {
std::vector<CheckPtr> AuthenticateChecks(const ConfigPtr& cfg, const Clock& clock) {
  std::vector<CheckPtr> checks;
  checks.push_back(std::make_unique<IdentityCheck>(cfg));
  checks.push_back(std::make_unique<SignatureCheck>(cfg, clock));
  return checks;
}
std::vector<CheckPtr> ValidateChecks(const ConfigPtr& cfg, const schema::MitreCatalog& catalog) {
  std::vector<CheckPtr> checks;
  checks.push_back(std::make_unique<BodyCheck>(catalog));
  checks.push_back(std::make_unique<TenantCheck>(cfg));
  checks.push_back(std::make_unique<OperatorPermissionCheck>());
  checks.push_back(std::make_unique<SchemaVersionCheck>(cfg));
  return checks;
}
}  // namespace

TelemetryChain::TelemetryChain(ConfigPtr cfg, const Clock& clock,
                               const schema::MitreCatalog& catalog, state::Admission& admission)
    : cfg_(cfg),
      admission_(admission),
      authenticate_(AuthenticateChecks(cfg, clock)),
      validate_(ValidateChecks(cfg, catalog)),
      admit_(cfg, admission) {}

Verdict TelemetryChain::Run(RequestContext& ctx) const {
  Verdict v = authenticate_.Run(ctx);
  if (!v.ok()) return v;  // nothing signed: the nonce store is never touched
  v = validate_.Run(ctx);
  if (v.ok()) return admit_.Run(ctx);
  // A signed request that fails validation burns its nonce (permanent rejection); if the
  // nonce was already used, this is a replay and the answer is 409 (no DLQ record).
  ctx.nonce_key = state::NonceKey(ctx.timestamp, ctx.nonce);
  Status s = admission_.BurnNonce(ctx.nonce_key, cfg_->nonce_ttl_seconds);
  if (s.ok()) {
    ctx.nonce_registered = true;
    return v;
  }
  ctx.dead_letter.reset();
  if (s.code() == StatusCode::kAlreadyExists)
    return Verdict::Reject(Reason::kReplay, 409, "Replay detected: nonce already used");
  return Verdict::Reject(Reason::kNonceStoreUnavailable, 503, "Nonce store unavailable",
                         s.ToString());
}

}  // namespace vv::verify

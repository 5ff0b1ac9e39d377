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

}  // namespace vv::verify

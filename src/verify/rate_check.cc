#include "verify/checks.h"

namespace vv::verify {

Verdict RateCheck::Run(RequestContext& ctx) const {
  const std::string key = key_prefix_ + ctx.operator_id;
  state::RateTicket ticket;
  Status s = limiter_.Acquire(key, &ticket);
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

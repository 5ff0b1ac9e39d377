#include "state/admission.h"

namespace vv::state {

Status CompositeAdmission::Admit(std::string_view nonce_key, int64_t ttl_seconds,
                                 std::string_view rate_key, RateTicket* ticket) {
  Status n = nonces_.Register(nonce_key, ttl_seconds);
  if (!n.ok()) return n;
  Status r = limiter_.Acquire(rate_key, ticket);
  if (!r.ok()) {
    // Over the limit or unavailable: the request is not admitted, so its nonce is not kept.
    Status rel = nonces_.Release(nonce_key);
    if (!rel.ok() && r.code() == StatusCode::kResourceExhausted) return rel;
  }
  return r;
}

Status CompositeAdmission::Health() const {
  Status n = nonces_.Health();
  return n.ok() ? limiter_.Health() : n;
}

}  // namespace vv::state

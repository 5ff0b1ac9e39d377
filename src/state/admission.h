#pragma once
// Admission: the final step of a signed request - register its nonce and take one rate unit,
// as ONE decision (and, on Redis, one round trip: a single Lua script).
//
// Why one step: the reference registers the nonce before body validation and counts the rate
// limit afterwards, two round trips per request. We verify the signature, then validate the body,
// tenant and schema version, and only then admit: nonce NX + TTL and the sliding-window rate
// unit together. A request that fails validation still burns its nonce (BurnNonce), so a replay
// of it is a 409 exactly as in the reference; a request over the rate limit does NOT keep its
// nonce, so the producer's retry of the same signed bytes gets 429 or 202, never 409.
// Thread-safe; borrowed dependencies must outlive the object.

#include <memory>
#include <string_view>

#include "common/clock.h"
#include "state/state.h"

namespace vv::state {

class Admission {
 public:
  virtual ~Admission() = default;
  // OK: nonce registered and one unit of `rate_key` taken (*ticket filled).
  // AlreadyExists: the nonce was seen (replay); nothing consumed.
  // ResourceExhausted: over the rate limit; the nonce is not kept.
  // Unavailable: the backend cannot decide (caller answers 503).
  virtual Status Admit(std::string_view nonce_key, int64_t ttl_seconds, std::string_view rate_key,
                       RateTicket* ticket) = 0;
  // Registers the nonce alone (a request rejected by validation burns its nonce).
  virtual Status BurnNonce(std::string_view nonce_key, int64_t ttl_seconds) = 0;
  // Transient failure after admission (503): give both back.
  virtual Status ReleaseNonce(std::string_view nonce_key) = 0;
  virtual Status Refund(const RateTicket& ticket) = 0;
  virtual Status Health() const = 0;
};

// Admission over separate NonceStore and RateLimiter (the embedded backends): register the
// nonce, then acquire; over the limit releases the nonce again.
class CompositeAdmission final : public Admission {
 public:
  CompositeAdmission(NonceStore& nonces, RateLimiter& limiter)
      : nonces_(nonces), limiter_(limiter) {}
  Status Admit(std::string_view nonce_key, int64_t ttl_seconds, std::string_view rate_key,
               RateTicket* ticket) override;
  Status BurnNonce(std::string_view nonce_key, int64_t ttl_seconds) override {
    return nonces_.Register(nonce_key, ttl_seconds);
  }
  Status ReleaseNonce(std::string_view nonce_key) override { return nonces_.Release(nonce_key); }
  Status Refund(const RateTicket& ticket) override { return limiter_.Refund(ticket); }
  Status Health() const override;

 private:
  NonceStore& nonces_;
  RateLimiter& limiter_;
};

}  // namespace vv::state

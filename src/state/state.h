#pragma once
// Replay and rate state seams. The gateway registers a nonce only after the request's
// signature verified, releases it again when the request then fails for a transient reason
// (429, 503), and acquires a rate unit only after every other check passed (requests rejected
// earlier never count). Implementations are thread-safe; a backend that cannot answer returns
// Unavailable and the gateway fails closed (503).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vv::state {

// The reference's nonce key: lowercase hex SHA-256 of "<ts>:<nonce>" (Redis key
// "vv:tg:nonce:" + this). Unique per (timestamp, nonce), one namespace for all signed endpoints.
std::string NonceKey(int64_t timestamp, std::string_view nonce);

class NonceStore {
 public:
  virtual ~NonceStore() = default;
  // OK: newly registered for `ttl_seconds`. AlreadyExists: seen and not expired (replay).
  // Unavailable: the store cannot decide.
  virtual Status Register(std::string_view key, int64_t ttl_seconds) = 0;
  // Forgets a registered key (after a transient failure, so the same signed bytes may be retried).
  virtual Status Release(std::string_view key) = 0;
  virtual Status Health() const = 0;
};

// A unit handed out by RateLimiter::Acquire, so it can be refunded if the request then fails
// for a transient reason.
struct RateTicket {
  std::string key;
  int64_t at_micros = 0;
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // OK (ticket filled): allowed. ResourceExhausted: over the limit (nothing consumed).
  // Unavailable: cannot decide.
  virtual Status Acquire(std::string_view key, RateTicket* ticket) = 0;
  // Up to `n` units of `key` at once (the batch endpoint asks once per operator and batch,
  // not once per event): OK with `tickets` holding the units granted, in order - all n, fewer
  // when the window fills up, none when it is full (never ResourceExhausted) - each refundable
  // on its own. Unavailable: cannot decide, nothing granted. The default calls Acquire until it
  // is refused; backends override it with one atomic step (one lock, one Redis round trip).
  virtual Status AcquireMany(std::string_view key, int64_t n, std::vector<RateTicket>* tickets) {
    tickets->clear();
    for (int64_t i = 0; i < n; ++i) {
      RateTicket t;
      Status s = Acquire(key, &t);
      if (s.code() == StatusCode::kResourceExhausted) break;
      if (!s.ok()) {
        for (const RateTicket& held : *tickets) (void)Refund(held);
        tickets->clear();
        return s;
      }
      tickets->push_back(std::move(t));
    }
    return Status::Ok();
  }
  virtual Status Refund(const RateTicket& ticket) = 0;
  virtual Status Health() const = 0;
};

}  // namespace vv::state

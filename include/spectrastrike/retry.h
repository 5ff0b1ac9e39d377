#pragma once
// SpectraStrike SDK: retry policy (exponential backoff with full jitter) and the Sleeper seam.
//
// Retryable: network errors (no HTTP response) and 429/502/503/504. Every other status is
// final. The delay before retry n (n = 1 after the first failed attempt) is
//   uniform[0, min(max_backoff_ms, backoff_ms * 2^(n-1))] + uniform[0, jitter_ms]
// ("full jitter" plus the configured extra jitter), raised to a server Retry-After (seconds)
// when one is sent, and never above max_backoff_ms.
// Thread-safety: RetryPolicy is a value; BackoffDelayMs is thread-safe if `random` is.

#include <cstdint>
#include <string>

#include "spectrastrike/clock.h"
#include "spectrastrike/https_client.h"

namespace spectrastrike {

struct RetryPolicy {
  int max_attempts = 3;         // total attempts including the first (>= 1)
  int64_t backoff_ms = 500;     // base of the exponential ceiling
  int64_t jitter_ms = 250;      // extra uniform jitter added to every delay
  int64_t max_backoff_ms = 30000;
};

bool IsRetryableStatus(int status);
// Whether an attempt's outcome is worth retrying (transport failure or retryable status).
bool IsRetryable(const HttpResponse& response);

// Delay in milliseconds before retry number `retry` (1-based).
int64_t BackoffDelayMs(const RetryPolicy& policy, int retry, Random& random,
                       const HttpResponse* last_response = nullptr);

// Blocks the calling thread; injected so tests run without real waits.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void SleepMillis(int64_t ms) = 0;
};

// std::this_thread::sleep_for. Thread-safe.
class RealSleeper final : public Sleeper {
 public:
  void SleepMillis(int64_t ms) override;
};

}  // namespace spectrastrike

#include "spectrastrike/retry.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <thread>

#include "common/encoding.h"

namespace spectrastrike {
namespace {

// Uniform integer in [0, max_inclusive].
int64_t UniformUpTo(Random& random, int64_t max_inclusive) {
  if (max_inclusive <= 0) return 0;
  uint64_t r = 0;
  random.Fill(reinterpret_cast<uint8_t*>(&r), sizeof(r));
  return static_cast<int64_t>(r % (static_cast<uint64_t>(max_inclusive) + 1));
}

}  // namespace

bool IsRetryableStatus(int status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

bool IsRetryable(const HttpResponse& response) {
  return !response.transport_ok || IsRetryableStatus(response.status);
}

int64_t BackoffDelayMs(const RetryPolicy& policy, int retry, Random& random,
                       const HttpResponse* last_response) {
  int64_t cap = std::max<int64_t>(0, policy.max_backoff_ms);
  int64_t ceiling = std::max<int64_t>(0, policy.backoff_ms);
  for (int i = 1; i < retry && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  int64_t delay = UniformUpTo(random, ceiling) + UniformUpTo(random, policy.jitter_ms);
  if (last_response != nullptr && last_response->transport_ok) {
    if (const std::string* ra = last_response->Header("Retry-After")) {
      std::string_view v = vv::StripAsciiWhitespace(*ra);
      int64_t seconds = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
      if (ec == std::errc() && p == v.data() + v.size() && seconds > 0 && seconds < 86400)
        delay = std::max(delay, seconds * 1000);
    }
  }
  return std::min(delay, cap);
}

void RealSleeper::SleepMillis(int64_t ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace spectrastrike

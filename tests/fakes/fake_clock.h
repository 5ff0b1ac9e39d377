#pragma once
// Test doubles for Clock and Random, for the internal interfaces (common/clock.h) and the SDK's
// (spectrastrike/clock.h) at once. Thread-safe (atomics / mutex).

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "spectrastrike/clock.h"

namespace vv::testing {

class FakeClock final : public Clock, public spectrastrike::Clock {
 public:
  using vv::Clock::NowSeconds;
  explicit FakeClock(int64_t now_seconds = 1772107200) : now_us_(now_seconds * 1000000) {}
  int64_t NowMicros() const override { return now_us_.load(); }
  int64_t MonotonicMicros() const override { return now_us_.load(); }
  void SetSeconds(int64_t s) { now_us_.store(s * 1000000); }
  void SetMicros(int64_t us) { now_us_.store(us); }
  void AdvanceSeconds(int64_t s) { now_us_.fetch_add(s * 1000000); }
  void AdvanceMicros(int64_t us) { now_us_.fetch_add(us); }

 private:
  std::atomic<int64_t> now_us_;
};

// Deterministic "random" bytes: a counter-based stream, so tests are reproducible.
class FakeRandom final : public Random, public spectrastrike::Random {
 public:
  explicit FakeRandom(uint8_t seed = 0) : next_(seed) {}
  void Fill(uint8_t* out, size_t len) override {
    std::lock_guard<std::mutex> l(mu_);
    for (size_t i = 0; i < len; ++i) out[i] = next_++;
  }

 private:
  std::mutex mu_;
  uint8_t next_;
};

}  // namespace vv::testing

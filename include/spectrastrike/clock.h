#pragma once
// SpectraStrike SDK: the time and randomness the SDK takes from its caller, so tests (and
// embedders with their own sources) control both. SystemClock and SystemRandom are the
// production implementations; both are thread-safe.

#include <cstddef>
#include <cstdint>

namespace spectrastrike {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time as microseconds since the Unix epoch (UTC).
  virtual int64_t NowMicros() const = 0;

  int64_t NowSeconds() const { return NowMicros() / 1000000; }
};

class SystemClock final : public Clock {
 public:
  int64_t NowMicros() const override;
};

// Cryptographically secure random bytes (nonces, backoff jitter).
class Random {
 public:
  virtual ~Random() = default;
  virtual void Fill(uint8_t* out, size_t len) = 0;
};

// The operating system's CSPRNG (libsodium randombytes).
class SystemRandom final : public Random {
 public:
  void Fill(uint8_t* out, size_t len) override;
};

}  // namespace spectrastrike

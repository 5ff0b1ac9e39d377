#pragma once
// Clock and Random: injected into every component that needs time or randomness, so tests
// control both (FakeClock in tests/fakes). Implementations are thread-safe.

#include <chrono>
#include <cstdint>
#include <string>

namespace vv {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time as microseconds since the Unix epoch (UTC).
  virtual int64_t NowMicros() const = 0;
  // Monotonic time for durations/timeouts, in microseconds from an arbitrary origin.
  virtual int64_t MonotonicMicros() const = 0;

  int64_t NowSeconds() const { return NowMicros() / 1000000; }
};

class SystemClock final : public Clock {
 public:
  int64_t NowMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t MonotonicMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

// Cryptographically secure randomness (libsodium randombytes in production).
class Random {
 public:
  virtual ~Random() = default;
  virtual void Fill(uint8_t* out, size_t len) = 0;
  // RFC 4122 version-4 UUID string (lowercase).
  std::string Uuid4();
  // URL-safe base64 (no padding) of `nbytes` random bytes, like Python secrets.token_urlsafe.
  std::string TokenUrlSafe(size_t nbytes);
};

class SystemRandom final : public Random {
 public:
  void Fill(uint8_t* out, size_t len) override;
};

// Python datetime.isoformat() of a UTC instant: 2026-03-01T00:00:00.123456+00:00, the
// microseconds omitted when zero (the tamper-log timestamp format of the reference).
std::string IsoFormatUtc(int64_t unix_micros);
// Same instant with microseconds always present: 2026-03-01T00:00:00.000000+00:00
// (the queue envelope created_at format).
std::string IsoFormatUtcMicros(int64_t unix_micros);

}  // namespace vv

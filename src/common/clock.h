#pragma once
// Clock and Random: injected into every component that needs time or randomness, so tests
// control both (FakeClock in tests/fakes). Implementations are thread-safe.

#include <chrono>
#include <cstdint>
#include <string>

#include "common/mutex.h"

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

// The kernel's CSPRNG. Small draws (a UUID, a nonce: at most kPooledMax bytes) are served from
// one page filled by a single getrandom(2) (through libsodium's randombytes_buf) instead of one
// system call each: a request costs several UUIDs, and the syscalls were ~3 % of the gateway's
// CPU (issue 15). The page is private and fork-safe: MADV_WIPEONFORK gives a forked child a
// zeroed page, whose zero "remaining" header makes the child refill from the kernel rather
// than replay the parent's bytes; MADV_DONTDUMP keeps it out of core dumps; every byte handed
// out is zeroed in the pool. Where the kernel lacks MADV_WIPEONFORK (< 4.14) no pool is used.
// Thread-safe (one mutex around the pool).
class SystemRandom final : public Random {
 public:
  static constexpr size_t kPooledMax = 64;
  SystemRandom();
  ~SystemRandom() override;
  SystemRandom(const SystemRandom&) = delete;
  SystemRandom& operator=(const SystemRandom&) = delete;
  void Fill(uint8_t* out, size_t len) override;
  // True when draws are pooled (false: every draw is a system call).
  bool pooled() const { return page_ != nullptr; }

 private:
  struct Page;
  Mutex mu_;
  Page* page_ VV_PT_GUARDED_BY(mu_) = nullptr;  // set once by the constructor
};

// Python datetime.isoformat() of a UTC instant: 2026-03-01T00:00:00.123456+00:00, the
// microseconds omitted when zero (the tamper-log timestamp format of the reference).
std::string IsoFormatUtc(int64_t unix_micros);
// Same instant with microseconds always present: 2026-03-01T00:00:00.000000+00:00
// (the queue envelope created_at format).
std::string IsoFormatUtcMicros(int64_t unix_micros);

}  // namespace vv

#pragma once
// In-process NonceStore and RateLimiter: the embedded (single-node) backends. Real products
// for one gateway process; not shared between replicas (the production profile refuses them).
//
// MemoryNonceStore: 16 shards, each a mutex + hash map keyed by the raw 32-byte digest of
// the nonce key + a FIFO of (expiry, key) for O(1) amortised expiry (every entry has the same
// TTL in practice; a shorter TTL only delays pruning of the longer ones, never correctness,
// because lookups also compare expiry).
//
// MemoryRateLimiter: exact sliding window of 60 s per key (a ring of the admitted requests'
// times): at most `limit_per_minute` admissions in ANY 60 s window, so no 2x burst at a minute
// boundary. Rejected requests are not recorded. Memory is O(limit) per active key.
// Both are thread-safe; time comes from the injected Clock (which must outlive them).

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "common/mutex.h"
#include "state/state.h"

namespace vv::state {

class MemoryNonceStore final : public NonceStore {
 public:
  explicit MemoryNonceStore(const Clock& clock) : clock_(clock) {}
  Status Register(std::string_view key, int64_t ttl_seconds) override;
  Status Release(std::string_view key) override;
  Status Health() const override { return Status::Ok(); }
  size_t SizeForTest() const;

 private:
  static constexpr int kShards = 16;
  struct Shard {
    Mutex mu;
    std::unordered_map<std::string, int64_t> expiry VV_GUARDED_BY(mu);  // key -> expiry micros
    std::deque<std::pair<int64_t, std::string>> fifo VV_GUARDED_BY(mu);
  };
  Shard& ShardFor(std::string_view key);
  static void Prune(Shard& s, int64_t now) VV_REQUIRES(s.mu);

  const Clock& clock_;
  mutable std::array<Shard, kShards> shards_;
};

class MemoryRateLimiter final : public RateLimiter {
 public:
  MemoryRateLimiter(const Clock& clock, int64_t limit_per_minute)
      : clock_(clock), limit_(limit_per_minute) {}
  Status Acquire(std::string_view key, RateTicket* ticket) override;
  Status AcquireMany(std::string_view key, int64_t n, std::vector<RateTicket>* tickets) override;
  Status Refund(const RateTicket& ticket) override;
  Status Health() const override { return Status::Ok(); }

 private:
  static constexpr int64_t kWindowMicros = 60'000'000;
  // Admits up to n units of `key` at `now`; returns how many.
  int64_t AdmitLocked(std::string_view key, int64_t n, int64_t now) VV_REQUIRES(mu_);
  const Clock& clock_;
  const int64_t limit_;
  Mutex mu_;
  std::unordered_map<std::string, std::deque<int64_t>> windows_ VV_GUARDED_BY(mu_);
  uint64_t ops_since_sweep_ VV_GUARDED_BY(mu_) = 0;
};

}  // namespace vv::state

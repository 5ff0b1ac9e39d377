#include "state/memory_state.h"

#include <algorithm>
#include <functional>

#include "crypto/crypto.h"

namespace vv::state {

std::string NonceKey(int64_t timestamp, std::string_view nonce) {
  std::string material = std::to_string(timestamp);
  material += ':';
  material.append(nonce);
  return crypto::Sha256Hex(material);
}

// ---- MemoryNonceStore -----------------------------------------------------------------------

MemoryNonceStore::Shard& MemoryNonceStore::ShardFor(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

void MemoryNonceStore::Prune(Shard& s, int64_t now) {
  while (!s.fifo.empty() && s.fifo.front().first <= now) {
    auto it = s.expiry.find(s.fifo.front().second);
    // Only erase if this FIFO entry is the live one (a released-and-re-registered key has a
    // newer expiry).
    if (it != s.expiry.end() && it->second <= now) s.expiry.erase(it);
    s.fifo.pop_front();
  }
}

Status MemoryNonceStore::Register(std::string_view key, int64_t ttl_seconds) {
  int64_t now = clock_.MonotonicMicros();
  Shard& s = ShardFor(key);
  MutexLock l(&s.mu);
  Prune(s, now);
  std::string k(key);
  auto it = s.expiry.find(k);
  if (it != s.expiry.end() && it->second > now)
    return Status::AlreadyExists("nonce already registered");
  int64_t exp = now + ttl_seconds * 1'000'000;
  s.expiry[k] = exp;
  s.fifo.emplace_back(exp, std::move(k));
  return Status::Ok();
}

Status MemoryNonceStore::Release(std::string_view key) {
  Shard& s = ShardFor(key);
  MutexLock l(&s.mu);
  s.expiry.erase(std::string(key));
  return Status::Ok();
}

size_t MemoryNonceStore::SizeForTest() const {
  size_t n = 0;
  for (auto& s : shards_) {
    MutexLock l(&s.mu);
    n += s.expiry.size();
  }
  return n;
}

// ---- MemoryRateLimiter ----------------------------------------------------------------------

int64_t MemoryRateLimiter::AdmitLocked(std::string_view key, int64_t n, int64_t now) {
  // Occasionally drop idle keys so memory follows the active operators only.
  if (++ops_since_sweep_ >= 4096) {
    ops_since_sweep_ = 0;
    for (auto it = windows_.begin(); it != windows_.end();) {
      if (it->second.empty() || it->second.back() <= now - kWindowMicros) it = windows_.erase(it);
      else ++it;
    }
  }
  auto& w = windows_[std::string(key)];
  while (!w.empty() && w.front() <= now - kWindowMicros) w.pop_front();
  const int64_t room = limit_ - static_cast<int64_t>(w.size());
  const int64_t granted = std::max<int64_t>(0, std::min(n, room));
  for (int64_t i = 0; i < granted; ++i) w.push_back(now);
  return granted;
}

Status MemoryRateLimiter::Acquire(std::string_view key, RateTicket* ticket) {
  int64_t now = clock_.MonotonicMicros();
  MutexLock l(&mu_);
  if (AdmitLocked(key, 1, now) == 0) return Status::ResourceExhausted("rate limit exceeded");
  if (ticket) {
    ticket->key = std::string(key);
    ticket->at_micros = now;
  }
  return Status::Ok();
}

Status MemoryRateLimiter::AcquireMany(std::string_view key, int64_t n,
                                      std::vector<RateTicket>* tickets) {
  tickets->clear();
  if (n <= 0) return Status::Ok();
  int64_t now = clock_.MonotonicMicros();
  int64_t granted;
  {
    MutexLock l(&mu_);
    granted = AdmitLocked(key, n, now);
  }
  tickets->assign(static_cast<size_t>(granted), RateTicket{std::string(key), now});
  return Status::Ok();
}

Status MemoryRateLimiter::Refund(const RateTicket& ticket) {
  MutexLock l(&mu_);
  auto it = windows_.find(ticket.key);
  if (it == windows_.end()) return Status::Ok();
  auto& w = it->second;
  auto pos = std::find(w.rbegin(), w.rend(), ticket.at_micros);
  if (pos != w.rend()) w.erase(std::next(pos).base());
  return Status::Ok();
}

}  // namespace vv::state

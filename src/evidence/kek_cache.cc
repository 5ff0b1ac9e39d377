#include "evidence/kek_cache.h"

#include "evidence/aead.h"

namespace vv::evidence {

CachingRootKeyProvider::~CachingRootKeyProvider() {
  MutexLock l(&mu_);
  for (auto& [key, entry] : entries_) Wipe(&entry.kek);
}

void CachingRootKeyProvider::EraseLocked(std::map<Key, Entry>::iterator it) const {
  Wipe(&it->second.kek);
  entries_.erase(it);
}

Result<std::string> CachingRootKeyProvider::DeriveKek(std::string_view tenant_id,
                                                      std::string_view key_id) const {
  const bool enabled = options_.ttl_ms > 0 && options_.max_entries > 0;
  Key key(tenant_id, key_id);
  if (enabled) {
    MutexLock l(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      if (clock_.MonotonicMicros() < it->second.expires_us) {
        it->second.last_use = ++use_counter_;
        return it->second.kek;
      }
      EraseLocked(it);  // expired
    }
  }
  auto kek = inner_.DeriveKek(tenant_id, key_id);  // the device call, outside the lock
  MutexLock l(&mu_);
  ++derivations_;
  if (!kek.ok() || !enabled) return kek;
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= options_.max_entries) {
      auto lru = entries_.begin();
      for (auto e = entries_.begin(); e != entries_.end(); ++e)
        if (e->second.last_use < lru->second.last_use) lru = e;
      EraseLocked(lru);
    }
    it = entries_.emplace(std::move(key), Entry{}).first;
  } else {
    Wipe(&it->second.kek);  // another thread derived it meanwhile: replace
  }
  it->second.kek = *kek;
  it->second.expires_us = clock_.MonotonicMicros() + options_.ttl_ms * 1000;
  it->second.last_use = ++use_counter_;
  return kek;
}

uint64_t CachingRootKeyProvider::derivations() const {
  MutexLock l(&mu_);
  return derivations_;
}

size_t CachingRootKeyProvider::size() const {
  MutexLock l(&mu_);
  return entries_.size();
}

}  // namespace vv::evidence

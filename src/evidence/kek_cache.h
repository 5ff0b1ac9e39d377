#pragma once
// CachingRootKeyProvider: a RootKeyProvider that keeps the KEKs another provider derived, per
// (tenant, root key id), for a bounded time, so the processing engine asks the key device
// (an HSM over PKCS#11: one C_Sign per derivation) once per tenant per `ttl` instead of once
// per payload (issue 15 item 4). Everything else (DEK per payload, AES-GCM, AAD) is unchanged:
// only the derivation result is reused.
//
// Bounds: an entry lives at most `ttl` from its derivation (by the clock's monotonic time),
// and at most `max_entries` entries are held (the least recently used goes first). An
// expired, evicted or destroyed KEK is wiped (crypto::Wipe). Failed derivations are never
// cached. ttl <= 0 or max_entries == 0 disables the cache (every call goes to the provider).
//
// Trade-off (docs: evidence_engine.kek_cache_seconds): while cached, a tenant's KEK sits in
// the engine's memory in the clear for up to `ttl` - the same exposure as the per-call copy,
// which lives only for one wrap, but longer. A process memory dump within that window yields
// the KEKs of the tenants written recently (never the root keys: they stay in the device), and
// revoking a root key in the HSM stops new wraps under it only after the entries expire.
//
// Thread-safety: thread-safe (one mutex; a derivation runs outside it, so two threads missing
// the same entry at once both derive). Ownership: borrows `inner` and the clock (both must
// outlive the cache); owns the cached KEKs.

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "common/clock.h"
#include "common/mutex.h"
#include "evidence/root_key_provider.h"

namespace vv::evidence {

struct KekCacheOptions {
  int64_t ttl_ms = 300'000;
  size_t max_entries = 1024;
};

class CachingRootKeyProvider final : public RootKeyProvider {
 public:
  CachingRootKeyProvider(const RootKeyProvider& inner, KekCacheOptions options,
                         const Clock& clock)
      : inner_(inner), options_(options), clock_(clock) {}
  ~CachingRootKeyProvider() override;
  CachingRootKeyProvider(const CachingRootKeyProvider&) = delete;
  CachingRootKeyProvider& operator=(const CachingRootKeyProvider&) = delete;

  std::string_view kind() const override { return inner_.kind(); }
  KekScheme scheme() const override { return inner_.scheme(); }
  const std::string& active_key_id() const override { return inner_.active_key_id(); }
  bool HasKey(std::string_view key_id) const override { return inner_.HasKey(key_id); }
  std::vector<std::string> key_ids() const override { return inner_.key_ids(); }
  // A copy of the cached KEK (the caller wipes it, as for any provider), or the inner
  // provider's answer, cached when OK.
  Result<std::string> DeriveKek(std::string_view tenant_id,
                                std::string_view key_id) const override;

  // Derivations asked of the inner provider (cache misses), and entries held now.
  uint64_t derivations() const;
  size_t size() const;

 private:
  struct Entry {
    std::string kek;
    int64_t expires_us = 0;
    uint64_t last_use = 0;  // use_counter_ at the last hit (LRU order)
  };
  using Key = std::pair<std::string, std::string>;  // (tenant id, root key id)
  void EraseLocked(std::map<Key, Entry>::iterator it) const VV_REQUIRES(mu_);

  const RootKeyProvider& inner_;
  const KekCacheOptions options_;
  const Clock& clock_;
  mutable Mutex mu_;
  mutable std::map<Key, Entry> entries_ VV_GUARDED_BY(mu_);
  mutable uint64_t use_counter_ VV_GUARDED_BY(mu_) = 0;
  mutable uint64_t derivations_ VV_GUARDED_BY(mu_) = 0;
};

}  // namespace vv::evidence

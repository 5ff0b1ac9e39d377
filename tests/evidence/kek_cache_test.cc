// The engine's per-tenant KEK cache (issue 15 item 4): bounded in time and size, per
// (tenant, root key id), errors never cached, and envelopes identical in format to uncached
// ones (a fresh DEK per payload, tenant-bound AAD).

#include "evidence/kek_cache.h"

#include <gtest/gtest.h>

#include "evidence/evidence_cipher.h"
#include "fakes/fake_clock.h"

namespace vv::evidence {
namespace {

constexpr char kT1[] = "10000000-0000-0000-0000-000000000001";
constexpr char kT2[] = "20000000-0000-0000-0000-000000000002";

// Counts derivations and can fail them (an HSM that is down).
class CountingProvider final : public RootKeyProvider {
 public:
  explicit CountingProvider(const RootKeyProvider& inner) : inner_(inner) {}
  mutable int calls = 0;
  mutable bool fail = false;
  std::string_view kind() const override { return inner_.kind(); }
  KekScheme scheme() const override { return inner_.scheme(); }
  const std::string& active_key_id() const override { return inner_.active_key_id(); }
  bool HasKey(std::string_view k) const override { return inner_.HasKey(k); }
  std::vector<std::string> key_ids() const override { return inner_.key_ids(); }
  Result<std::string> DeriveKek(std::string_view t, std::string_view k) const override {
    ++calls;
    if (fail) return Status::Unavailable("device down");
    return inner_.DeriveKek(t, k);
  }

 private:
  const RootKeyProvider& inner_;
};

class KekCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = StaticRootKeyProvider::Create(
        {{"root-1", std::string(32, 'A')}, {"root-2", std::string(32, 'B')}}, "root-1", "test");
    ASSERT_TRUE(p.ok());
    root_ = std::move(p).value();
    counting_ = std::make_unique<CountingProvider>(*root_);
  }
  std::unique_ptr<StaticRootKeyProvider> root_;
  std::unique_ptr<CountingProvider> counting_;
  vv::testing::FakeClock clock_;
};

TEST_F(KekCacheTest, ReusesAKekPerTenantAndKeyUntilItExpires) {
  CachingRootKeyProvider cache(*counting_, {/*ttl_ms=*/60'000, /*max_entries=*/16}, clock_);
  auto k1 = cache.DeriveKek(kT1, "root-1");
  ASSERT_TRUE(k1.ok());
  EXPECT_EQ(*k1, *root_->DeriveKek(kT1, "root-1"));
  EXPECT_EQ(*cache.DeriveKek(kT1, "root-1"), *k1);
  EXPECT_EQ(counting_->calls, 1);
  // Another tenant, another root key: their own KEKs.
  EXPECT_NE(*cache.DeriveKek(kT2, "root-1"), *k1);
  EXPECT_NE(*cache.DeriveKek(kT1, "root-2"), *k1);
  EXPECT_EQ(counting_->calls, 3);
  EXPECT_EQ(cache.size(), 3u);
  clock_.AdvanceMicros(59'999'000);
  EXPECT_EQ(*cache.DeriveKek(kT1, "root-1"), *k1);
  EXPECT_EQ(counting_->calls, 3);
  clock_.AdvanceMicros(1'000);  // ttl reached: derived again
  EXPECT_EQ(*cache.DeriveKek(kT1, "root-1"), *k1);
  EXPECT_EQ(counting_->calls, 4);
  EXPECT_EQ(cache.derivations(), 4u);
}

TEST_F(KekCacheTest, HoldsAtMostMaxEntriesEvictingTheLeastRecentlyUsed) {
  CachingRootKeyProvider cache(*counting_, {60'000, 2}, clock_);
  ASSERT_TRUE(cache.DeriveKek(kT1, "root-1").ok());
  ASSERT_TRUE(cache.DeriveKek(kT2, "root-1").ok());
  ASSERT_TRUE(cache.DeriveKek(kT1, "root-1").ok());  // T1 used last
  ASSERT_TRUE(cache.DeriveKek(kT1, "root-2").ok());  // evicts T2
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(counting_->calls, 3);
  ASSERT_TRUE(cache.DeriveKek(kT1, "root-1").ok());  // still cached
  EXPECT_EQ(counting_->calls, 3);
  ASSERT_TRUE(cache.DeriveKek(kT2, "root-1").ok());  // was evicted
  EXPECT_EQ(counting_->calls, 4);
}

TEST_F(KekCacheTest, FailuresAreNotCachedAndZeroTtlDisablesTheCache) {
  CachingRootKeyProvider cache(*counting_, {60'000, 16}, clock_);
  counting_->fail = true;
  EXPECT_EQ(cache.DeriveKek(kT1, "root-1").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(cache.size(), 0u);
  counting_->fail = false;
  EXPECT_TRUE(cache.DeriveKek(kT1, "root-1").ok());
  EXPECT_EQ(counting_->calls, 2);

  CachingRootKeyProvider off(*counting_, {0, 16}, clock_);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(off.DeriveKek(kT1, "root-1").ok());
  EXPECT_EQ(counting_->calls, 5);
  EXPECT_EQ(off.size(), 0u);
}

TEST_F(KekCacheTest, EnvelopesStayPerPayloadAndTenantBound) {
  CachingRootKeyProvider cache(*counting_, {60'000, 16}, clock_);
  SystemRandom random;
  EvidenceCipher cached(cache, random);
  EvidenceCipher direct(*root_, random);
  auto a = cached.Encrypt(kT1, "payload one");
  auto b = cached.Encrypt(kT1, "payload one");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(counting_->calls, 1);
  // A fresh DEK and nonces per payload: two encryptions of the same text differ.
  EXPECT_NE(a->wrapped_dek, b->wrapped_dek);
  EXPECT_NE(a->ciphertext, b->ciphertext);
  // Readable without the cache; another tenant cannot open it.
  EXPECT_EQ(*direct.Decrypt(kT1, *a), "payload one");
  EXPECT_FALSE(direct.Decrypt(kT2, *a).ok());
  EXPECT_FALSE(cached.Decrypt(kT2, *a).ok());
}

}  // namespace
}  // namespace vv::evidence

// Issue 12 item 15: the signed feedback response is bound to the query's nonce (the SDK checks
// the tag the gateway appends to its response nonce), and the replay-cache file survives nonces
// holding whitespace or newlines (length-prefixed records; the older form is still read).
#include <gtest/gtest.h>

#include "client/producer_test_support.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/fake_clock.h"
#include "fakes/temp_dir.h"
#include "spectrastrike/feedback.h"

namespace spectrastrike {
namespace {

using namespace spectrastrike::test_support;  // NOLINT
using vv::json::Value;

constexpr int64_t kSignedAt = 1772107200;

std::string Response(const std::string& nonce) {
  auto key = vv::crypto::Ed25519PrivateKey::FromSeed(*vv::HexDecode(kFeedbackSeedHex));
  Value data = Value::MakeArray();
  std::string sig = vv::Base64Encode(key->Sign(FeedbackVerifier::SigningInput(
      kTenant, kSignedAt, nonce, "feedback.response.v1", "kid-001", vv::json::Canonical(data))));
  Value r = Value::MakeObject();
  r.Set("data", data);
  r.Set("signature", sig);
  r.Set("kid", "kid-001");
  r.Set("signature_algorithm", "Ed25519");
  r.Set("signed_at", Value(kSignedAt));
  r.Set("nonce", nonce);
  r.Set("schema_version", "feedback.response.v1");
  return vv::json::Canonical(r);
}

class FeedbackBindingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_.emplace("kid-001", vv::crypto::Ed25519PublicKey::FromBase64(
                                 "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=")
                                 ->raw());
    cache_ = std::move(ReplayCache::Open("")).value();
  }
  vv::testing::TempDir dir_;
  vv::testing::FakeClock clock_{kSignedAt + 5};
  FeedbackKeys keys_;
  std::unique_ptr<ReplayCache> cache_;
};

TEST_F(FeedbackBindingTest, TagIsStableAndDiffersPerNonce) {
  const std::string t = FeedbackRequestNonceTag("query-nonce-1");
  EXPECT_EQ(t.size(), 12u);
  EXPECT_EQ(t, vv::Base64UrlEncodeNoPad(
                   vv::crypto::Sha256("vv-feedback-request-nonce|query-nonce-1").substr(0, 9)));
  EXPECT_NE(t, FeedbackRequestNonceTag("query-nonce-2"));
}

TEST_F(FeedbackBindingTest, ResponseBoundToItsQueryVerifiesOnlyForThatQuery) {
  const std::string body = Response("abcdefghijkl" + FeedbackRequestNonceTag("q-1"));
  FeedbackVerifier v(keys_, *cache_, clock_);
  auto other = v.Verify(body, kTenant, nullptr, "q-2");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().message(), "feedback response is not bound to this query");
  EXPECT_EQ(cache_->size(), 0u);  // a refused response burns nothing
  auto mine = v.Verify(body, kTenant, nullptr, "q-1");
  EXPECT_TRUE(mine.ok()) << mine.status().message();
}

TEST_F(FeedbackBindingTest, UnboundResponseIsRefusedWhenTheQueryNonceIsKnown) {
  FeedbackVerifier v(keys_, *cache_, clock_);
  auto r = v.Verify(Response("resp-nonce-without-tag"), kTenant, nullptr, "q-1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "feedback response is not bound to this query");
  // The tag alone (no unique token before it) is refused too.
  auto bare = v.Verify(Response(FeedbackRequestNonceTag("q-1")), kTenant, nullptr, "q-1");
  EXPECT_FALSE(bare.ok());
  // Without a query nonce (reference gateways), the reference rules apply.
  auto ref = v.Verify(Response("resp-nonce-plain"), kTenant);
  EXPECT_TRUE(ref.ok()) << ref.status().message();
}

TEST_F(FeedbackBindingTest, ReplayCacheFileKeepsNoncesWithWhitespace) {
  const std::string path = dir_.File("seen.cache");
  const std::vector<std::string> nonces = {"plain", "with space", "tab\there", "line\nbreak",
                                           " lead", "trail ", "7 3 x", "a\n1 2 b"};
  {
    auto c = ReplayCache::Open(path);
    ASSERT_TRUE(c.ok());
    for (size_t i = 0; i < nonces.size(); ++i)
      ASSERT_TRUE((*c)->Record(nonces[i], kSignedAt + static_cast<int64_t>(i), kSignedAt, 300).ok());
  }
  auto reopened = ReplayCache::Open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  EXPECT_EQ((*reopened)->size(), nonces.size());
  for (const auto& n : nonces) EXPECT_TRUE((*reopened)->Contains(n)) << n;
  EXPECT_FALSE((*reopened)->Contains("with"));
  EXPECT_FALSE((*reopened)->Contains("space"));
}

TEST_F(FeedbackBindingTest, ReplayCacheReadsTheOlderFormAndRefusesGarbage) {
  const std::string legacy = dir_.File("legacy.cache");
  vv::testing::WriteFile(legacy, "1772107200 resp-nonce-1\n1772107201 abc\n", 0600);
  auto c = ReplayCache::Open(legacy);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE((*c)->Contains("resp-nonce-1"));
  EXPECT_TRUE((*c)->Contains("abc"));
  const std::string bad = dir_.File("bad.cache");
  vv::testing::WriteFile(bad, "notanumber nonce\n", 0600);
  auto b = ReplayCache::Open(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kDataLoss);
  vv::testing::WriteFile(bad, "1772107200 two words\n", 0600);
  EXPECT_FALSE(ReplayCache::Open(bad).ok());
  vv::testing::WriteFile(bad, "1772107200 99 short\n", 0600);
  EXPECT_FALSE(ReplayCache::Open(bad).ok());
}

}  // namespace
}  // namespace spectrastrike

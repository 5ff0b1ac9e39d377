// Feedback verification: wire-contract A.4, and the stricter rules of issue 7 (algorithm
// required, schema pinned, verify before recording the nonce, persisted replay cache, item
// policy).
#include <gtest/gtest.h>

#include "client/producer_test_support.h"
#include "crypto/crypto.h"
#include "fakes/fake_clock.h"
#include "fakes/temp_dir.h"
#include "spectrastrike/feedback.h"

namespace spectrastrike {
namespace {

using namespace spectrastrike::test_support;  // NOLINT
using vv::json::Value;

constexpr char kA4Sig[] =
    "aduCNOKt5pjI4VHoGiX06WumIQsLYtigBUJib+p3+wIthrzkzgiZgDCupfoiPz6B/iLr1d+LDM3qgwhWasyzBA==";

Value A4Item() {
  return *vv::json::Parse(std::string(R"({"action":"observe","attestation_measurement_hash":")") +
                          std::string(64, 'c') +
                          R"(","confidence":0.55,"control":"execution","execution_fingerprint":")" +
                          std::string(64, 'c') +
                          R"(","rationale":"graph telemetry received; monitoring baseline adjustments","schema_version":"feedback.adjustment.v1","target_urn":"urn:target:ip:10.0.0.5","tenant_id":"10000000-0000-0000-0000-000000000001","timestamp":1772107200,"ttl_seconds":1800})");
}

// A response signed with the A.1 feedback key.
std::string SignedResponse(const Value& data, int64_t signed_at, const std::string& nonce,
                           const std::string& kid = "kid-001",
                           const std::string& schema = "feedback.response.v1",
                           const std::string& tenant = kTenant) {
  auto key = vv::crypto::Ed25519PrivateKey::FromSeed(*vv::HexDecode(kFeedbackSeedHex));
  std::string sig = vv::Base64Encode(key->Sign(FeedbackVerifier::SigningInput(
      tenant, signed_at, nonce, schema, kid, vv::json::Canonical(data))));
  Value r = Value::MakeObject();
  r.Set("request_id", "req-1");
  r.Set("status", "accepted");
  r.Set("data", data);
  r.Set("errors", Value::MakeArray());
  r.Set("signature", sig);
  r.Set("kid", kid);
  r.Set("signature_algorithm", "Ed25519");
  r.Set("signed_at", Value(signed_at));
  r.Set("nonce", nonce);
  r.Set("schema_version", schema);
  return vv::json::Canonical(r);
}

Value A4Data() {
  Value d = Value::MakeArray();
  d.Push(A4Item());
  return d;
}

class FeedbackVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pub = vv::crypto::Ed25519PublicKey::FromBase64("Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=");
    ASSERT_TRUE(pub.ok());
    keys_.emplace("kid-001", pub->raw());
    cache_ = std::move(ReplayCache::Open(dir_.File("replay.cache"))).value();
  }
  FeedbackVerifier Verifier() { return FeedbackVerifier(keys_, *cache_, clock_); }

  vv::testing::TempDir dir_;
  vv::testing::FakeClock clock_{1772107210};
  FeedbackKeys keys_;
  std::unique_ptr<ReplayCache> cache_;
};

TEST_F(FeedbackVerifierTest, VectorA4SigningInputAndSignatureVerify) {
  std::string input = FeedbackVerifier::SigningInput(kTenant, 1772107205, "resp-nonce-vector-01",
                                                     "feedback.response.v1", "kid-001",
                                                     vv::json::Canonical(A4Data()));
  EXPECT_EQ(input,
            "10000000-0000-0000-0000-000000000001|1772107205|resp-nonce-vector-01|"
            "feedback.response.v1|kid-001|[{\"action\":\"observe\",\"attestation_measurement_hash\":"
            "\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\",\"confidence\":0.55,"
            "\"control\":\"execution\",\"execution_fingerprint\":"
            "\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\",\"rationale\":\"graph telemetry received; "
            "monitoring baseline adjustments\",\"schema_version\":\"feedback.adjustment.v1\","
            "\"target_urn\":\"urn:target:ip:10.0.0.5\",\"tenant_id\":"
            "\"10000000-0000-0000-0000-000000000001\",\"timestamp\":1772107200,\"ttl_seconds\":1800}]");
  std::string body = SignedResponse(A4Data(), 1772107205, "resp-nonce-vector-01");
  EXPECT_NE(body.find(kA4Sig), std::string::npos) << "our signing reproduces A.4";
  auto v = Verifier().Verify(body, kTenant);
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_EQ(v->items.size(), 1u);
  EXPECT_EQ(v->dropped, 0);
  EXPECT_EQ(v->kid, "kid-001");
}

TEST_F(FeedbackVerifierTest, NonAsciiIsVerifiedOverTheEnsureAsciiForm) {
  Value item = A4Item();
  item.Set("rationale", "grafik \xC3\xA9 \xE2\x80\xA8 ok");
  Value data = Value::MakeArray();
  data.Push(item);
  std::string body = SignedResponse(data, 1772107205, "nonce-utf8-0001");
  // Starlette sends raw UTF-8 (ensure_ascii=False) while the signature covers the escaped
  // form: the verifier must re-canonicalise, so the transfer form does not matter.
  ASSERT_NE(body.find("\\u00e9"), std::string::npos);
  body.replace(body.find("\\u00e9"), 6, "\xC3\xA9");
  body.replace(body.find("\\u2028"), 6, "\xE2\x80\xA8");
  auto v = Verifier().Verify(body, kTenant);
  ASSERT_TRUE(v.ok()) << v.status().message();
}

TEST_F(FeedbackVerifierTest, ForgedResponseIsRejectedAndDoesNotBurnTheNonce) {
  std::string body = SignedResponse(A4Data(), 1772107205, "resp-nonce-vector-01");
  std::string forged = body;
  size_t pos = forged.find("0.55");
  forged.replace(pos, 4, "0.95");
  auto v = Verifier().Verify(forged, kTenant);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "feedback response signature verification failed");
  // The genuine response with the same nonce still verifies: the forgery recorded nothing.
  EXPECT_TRUE(Verifier().Verify(body, kTenant).ok());
}

TEST_F(FeedbackVerifierTest, SignatureForAnotherTenantFails) {
  std::string body = SignedResponse(A4Data(), 1772107205, "nonce-other-tenant",
                                    "kid-001", "feedback.response.v1",
                                    "20000000-0000-0000-0000-000000000002");
  EXPECT_FALSE(Verifier().Verify(body, kTenant).ok());
}

TEST_F(FeedbackVerifierTest, UnsignedResponsesAreRejected) {
  for (const char* field : {"signature", "nonce", "kid", "signed_at", "schema_version",
                            "signature_algorithm"}) {
    auto parsed = vv::json::Parse(SignedResponse(A4Data(), 1772107205, "nonce-unsigned-1"));
    Value r = *parsed;
    r.Erase(field);
    auto v = Verifier().Verify(vv::json::Canonical(r), kTenant);
    ASSERT_FALSE(v.ok()) << field;
    EXPECT_EQ(v.status().message(), "signed feedback response is required") << field;
  }
  auto v = Verifier().Verify(R"({"data":{}})", kTenant);
  EXPECT_EQ(v.status().message(), "feedback response data must be an array");
  EXPECT_FALSE(Verifier().Verify("not json", kTenant).ok());
}

TEST_F(FeedbackVerifierTest, WrongAlgorithmAndUnpinnedSchemaAreRejected) {
  auto parsed = vv::json::Parse(SignedResponse(A4Data(), 1772107205, "nonce-alg-00001"));
  Value r = *parsed;
  r.Set("signature_algorithm", "HMAC-SHA256");
  EXPECT_EQ(Verifier().Verify(vv::json::Canonical(r), kTenant).status().message(),
            "unsupported feedback signature algorithm");
  // A correctly signed response under another schema version is still refused.
  std::string other = SignedResponse(A4Data(), 1772107205, "nonce-schema-001", "kid-001",
                                     "feedback.response.v2");
  EXPECT_EQ(Verifier().Verify(other, kTenant).status().message(),
            "unsupported feedback response schema version");
}

TEST_F(FeedbackVerifierTest, UnknownKidIsRejected) {
  std::string body = SignedResponse(A4Data(), 1772107205, "nonce-kid-00001", "kid-999");
  EXPECT_EQ(Verifier().Verify(body, kTenant).status().message(),
            "feedback response uses unknown key id");
}

TEST_F(FeedbackVerifierTest, OutOfWindowIsRejectedBothWays) {
  std::string old_body = SignedResponse(A4Data(), 1772107210 - 301, "nonce-old-000001");
  EXPECT_EQ(Verifier().Verify(old_body, kTenant).status().message(),
            "feedback signature timestamp out of allowed window");
  std::string future = SignedResponse(A4Data(), 1772107210 + 301, "nonce-future-001");
  EXPECT_FALSE(Verifier().Verify(future, kTenant).ok());
  std::string edge = SignedResponse(A4Data(), 1772107210 - 300, "nonce-edge-00001");
  EXPECT_TRUE(Verifier().Verify(edge, kTenant).ok());
}

TEST_F(FeedbackVerifierTest, ReplayIsDetectedAlsoAfterARestart) {
  std::string body = SignedResponse(A4Data(), 1772107205, "nonce-replay-001");
  ASSERT_TRUE(Verifier().Verify(body, kTenant).ok());
  EXPECT_EQ(Verifier().Verify(body, kTenant).status().message(),
            "feedback replay detected: nonce already used");
  // A new process: the cache is reloaded from its file.
  auto reopened = ReplayCache::Open(dir_.File("replay.cache"));
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->Contains("nonce-replay-001"));
  FeedbackVerifier fresh(keys_, **reopened, clock_);
  EXPECT_FALSE(fresh.Verify(body, kTenant).ok());
}

TEST_F(FeedbackVerifierTest, CorruptReplayCacheFileIsACleanError) {
  vv::testing::WriteFile(dir_.File("bad.cache"), "not a number\n");
  auto c = ReplayCache::Open(dir_.File("bad.cache"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kDataLoss);
}

TEST_F(FeedbackVerifierTest, ItemsFailingPolicyAreDroppedAndCounted) {
  Value data = Value::MakeArray();
  data.Push(A4Item());  // kept
  Value other_tenant = A4Item();
  other_tenant.Set("tenant_id", "20000000-0000-0000-0000-000000000002");
  data.Push(other_tenant);
  Value bad_fp = A4Item();
  bad_fp.Set("execution_fingerprint", "abc");
  data.Push(bad_fp);
  Value zero_ts = A4Item();
  zero_ts.Set("timestamp", 0);
  data.Push(zero_ts);
  Value bad_att = A4Item();
  bad_att.Set("attestation_measurement_hash", std::string(64, 'z'));
  data.Push(bad_att);
  Value expired = A4Item();
  expired.Set("timestamp", 1772107210 - 4000);
  data.Push(expired);
  data.Push(Value(7));
  auto v = Verifier().Verify(SignedResponse(data, 1772107205, "nonce-policy-001"), kTenant);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->items.size(), 1u);
  EXPECT_EQ(v->dropped, 6);
  EXPECT_EQ(v->drop_reasons["tenant_mismatch"], 1);
  EXPECT_EQ(v->drop_reasons["invalid_fingerprint"], 1);
  EXPECT_EQ(v->drop_reasons["invalid_timestamp"], 1);
  EXPECT_EQ(v->drop_reasons["invalid_attestation_hash"], 1);
  EXPECT_EQ(v->drop_reasons["expired"], 1);
  EXPECT_EQ(v->drop_reasons["not_an_object"], 1);
}

TEST_F(FeedbackVerifierTest, AnchorsFromTheGraphFilterItems) {
  auto graph = FeedbackAnchors::FromGraph(
      std::string(R"({"execution_fingerprint":")") + std::string(64, 'C') +
      R"(","nodes":[{"execution_fingerprint":")" + std::string(64, 'd') + R"("}]})");
  ASSERT_TRUE(graph.ok());
  FeedbackAnchors anchors = *graph;
  EXPECT_EQ(anchors.fingerprints.size(), 2u);
  Value data = Value::MakeArray();
  data.Push(A4Item());
  Value unanchored = A4Item();
  unanchored.Set("execution_fingerprint", std::string(64, 'e'));
  data.Push(unanchored);
  auto v = Verifier().Verify(SignedResponse(data, 1772107205, "nonce-anchor-001"), kTenant,
                             &anchors);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->items.size(), 1u);
  EXPECT_EQ(v->drop_reasons["fingerprint_not_anchored"], 1);
}

TEST(FeedbackKeysTest, LoadsBase64AndPemFilesAndRejectsGarbage) {
  vv::testing::TempDir dir;
  auto key = vv::crypto::Ed25519PrivateKey::FromSeed(*vv::HexDecode(kFeedbackSeedHex));
  vv::testing::WriteFile(dir.File("fb.pub"), vv::crypto::PublicKeyToPem(key->PublicKey()));
  auto keys = LoadFeedbackKeys({{"a", "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc="},
                                {"b", dir.File("fb.pub")}});
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  EXPECT_EQ(keys->at("a"), keys->at("b"));  // the same raw 32-byte key
  EXPECT_FALSE(LoadFeedbackKeys({{"c", "not-a-key"}}).ok());
}

}  // namespace
}  // namespace spectrastrike

// Wire-contract A.4 byte for byte (signing input and signature), the derivation rules of
// section 10 and the start-up key loading of FeedbackSigner.

#include "cognitive/feedback.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/temp_dir.h"

namespace vv::cognitive {
namespace {

constexpr const char* kTenant = "10000000-0000-0000-0000-000000000001";
constexpr const char* kFeedbackSeedHex =
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";

crypto::Ed25519PrivateKey FeedbackKey() {
  return crypto::Ed25519PrivateKey::FromSeed(*HexDecode(kFeedbackSeedHex)).value();
}

json::Value A4Data() {
  json::Value data = json::Value::MakeArray();
  data.Push(MakeAdjustment(kTenant, std::string(64, 'c'), "urn:target:ip:10.0.0.5", false,
                           std::string(64, 'c'), 1772107200));
  return data;
}

TEST(FeedbackSigningTest, VectorA4SigningInputIsByteExact) {
  const std::string expected =
      "10000000-0000-0000-0000-000000000001|1772107205|resp-nonce-vector-01|feedback.response.v1|"
      "kid-001|[{\"action\":\"observe\",\"attestation_measurement_hash\":"
      "\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\",\"confidence\":0.55,"
      "\"control\":\"execution\",\"execution_fingerprint\":"
      "\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\",\"rationale\":\"graph "
      "telemetry received; monitoring baseline adjustments\",\"schema_version\":"
      "\"feedback.adjustment.v1\",\"target_urn\":\"urn:target:ip:10.0.0.5\",\"tenant_id\":"
      "\"10000000-0000-0000-0000-000000000001\",\"timestamp\":1772107200,\"ttl_seconds\":1800}]";
  EXPECT_EQ(FeedbackSigningInput(kTenant, 1772107205, "resp-nonce-vector-01",
                                 "feedback.response.v1", "kid-001", A4Data()),
            expected);
}

TEST(FeedbackSigningTest, VectorA4SignatureIsByteExact) {
  std::map<std::string, crypto::Ed25519PrivateKey> keys;
  keys.emplace("kid-001", FeedbackKey());
  auto signer = FeedbackSigner::FromKeys(std::move(keys), "kid-001");
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
  SignedFeedback s = (*signer)->Sign(kTenant, 1772107205, "resp-nonce-vector-01", A4Data());
  EXPECT_EQ(s.signature_b64,
            "aduCNOKt5pjI4VHoGiX06WumIQsLYtigBUJib+p3+wIthrzkzgiZgDCupfoiPz6B/iLr1d+LDM3qgwhWasyzBA==");
  EXPECT_EQ(s.kid, "kid-001");
  EXPECT_EQ(s.schema_version, "feedback.response.v1");
  EXPECT_EQ(s.signed_at, 1772107205);
  EXPECT_EQ((*signer)->PublicKey("kid-001")->ToBase64(),
            "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=");
}

TEST(FeedbackSigningTest, EightNodesTightenAt082SevenObserveAt055) {
  GraphRecord big;
  big.tenant_id = kTenant;
  big.execution_fingerprint = std::string(64, 'A');
  big.attestation_measurement_hash = std::string(64, 'B');
  big.target_urn = "urn:target:ip:10.0.0.9";
  big.node_count = 8;
  GraphRecord small = big;
  small.node_count = 7;
  GraphRecord no_list = big;
  no_list.node_count = -1;
  json::Value data = DeriveAdjustments({big, small, no_list}, 1772107300);
  ASSERT_EQ(data.as_array().size(), 3u);
  const json::Value& t = data.as_array()[0];
  EXPECT_EQ(t.Find("action")->as_string(), "tighten");
  EXPECT_EQ(json::Canonical(*t.Find("confidence")), "0.82");
  EXPECT_EQ(t.Find("rationale")->as_string(),
            "high-complexity execution graph exceeded cognitive threshold");
  EXPECT_EQ(t.Find("execution_fingerprint")->as_string(), std::string(64, 'a'));
  EXPECT_EQ(t.Find("attestation_measurement_hash")->as_string(), std::string(64, 'b'));
  EXPECT_EQ(t.Find("timestamp")->int_text(), "1772107300");
  EXPECT_EQ(t.as_object().size(), 11u);
  EXPECT_EQ(data.as_array()[1].Find("action")->as_string(), "observe");
  EXPECT_EQ(json::Canonical(*data.as_array()[1].Find("confidence")), "0.55");
  EXPECT_EQ(data.as_array()[2].Find("action")->as_string(), "observe");
}

TEST(FeedbackSigningTest, LoadRefusesMissingConfigurationNamingTheKey) {
  auto none = FeedbackSigner::Load({}, "");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("VV_TG_FEEDBACK_ED25519_KEYS_JSON"), std::string::npos);
  testing::TempDir dir;
  std::string path = dir.File("fb.key");
  testing::WriteFile(path, FeedbackKey().ToPem(), 0600);
  auto no_kid = FeedbackSigner::Load({{"kid-001", path}}, "");
  ASSERT_FALSE(no_kid.ok());
  EXPECT_NE(no_kid.status().message().find("VV_TG_FEEDBACK_ACTIVE_KID"), std::string::npos);
  auto wrong_kid = FeedbackSigner::Load({{"kid-001", path}}, "kid-002");
  ASSERT_FALSE(wrong_kid.ok());
  EXPECT_NE(wrong_kid.status().message().find("kid-002"), std::string::npos);
  auto missing_file = FeedbackSigner::Load({{"kid-001", path}, {"kid-old", dir.File("gone")}},
                                           "kid-001");
  ASSERT_FALSE(missing_file.ok());
  EXPECT_NE(missing_file.status().message().find("kid-old"), std::string::npos);
  std::string loose = dir.File("loose.key");
  testing::WriteFile(loose, FeedbackKey().ToPem(), 0644);
  EXPECT_FALSE(FeedbackSigner::Load({{"kid-001", loose}}, "kid-001").ok());
}

TEST(FeedbackSigningTest, RotationSignsWithTheActiveKidOnly) {
  testing::TempDir dir;
  auto old_key = crypto::Ed25519PrivateKey::Generate();
  testing::WriteFile(dir.File("old.key"), old_key.ToPem(), 0600);
  testing::WriteFile(dir.File("new.key"), FeedbackKey().ToPem(), 0600);
  auto signer = FeedbackSigner::Load(
      {{"kid-old", dir.File("old.key")}, {"kid-001", dir.File("new.key")}}, "kid-001");
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
  SignedFeedback s = (*signer)->Sign(kTenant, 1772107205, "resp-nonce-vector-01", A4Data());
  EXPECT_EQ(s.kid, "kid-001");
  std::string input = FeedbackSigningInput(kTenant, 1772107205, "resp-nonce-vector-01",
                                           "feedback.response.v1", "kid-001", A4Data());
  auto sig = Base64DecodeStrict(s.signature_b64);
  ASSERT_TRUE(sig);
  EXPECT_TRUE((*signer)->PublicKey("kid-001")->Verify(input, *sig));
  EXPECT_FALSE((*signer)->PublicKey("kid-old")->Verify(input, *sig));
  EXPECT_NE((*signer)->PublicKey("kid-old"), nullptr);
}

}  // namespace
}  // namespace vv::cognitive

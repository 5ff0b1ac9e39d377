#include "spectrastrike/signer.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/temp_dir.h"

namespace spectrastrike {
namespace {

// Appendix A.2 of the wire contract.
constexpr char kA2Body[] =
    R"({"campaign_id":"cmp-001","execution_hash":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","nonce":"nonce-vector-0001","operator_id":"op-001","payload":{"attributes":{"asset_ref":"host-nyc-01","attestation_measurement_hash":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","schema_version":"1.0"},"description":"Observed suspicious process chain","event_id":"evt-vector-0001","event_type":"PROCESS_ANOMALY","mitre_tactics":["TA0002"],"mitre_techniques":["T1059.001"],"observed_at":"2026-02-26T12:00:00Z","severity":"high","source_system":"spectrastrike-sensor"},"signed_metadata":{"campaign_id":"cmp-001","operator_id":"op-001","tenant_id":"10000000-0000-0000-0000-000000000001"},"tenant_id":"10000000-0000-0000-0000-000000000001","timestamp":1772107200})";
constexpr char kA2Signature[] =
    "HjuDkbBV7mkWMfumR2il3i0/5MJE0VbYV+s3pxI1zGAJSuqP8oveXSbQbf4+h209uS6DSLZcpGRmiatw0pBqDQ==";
constexpr char kProducerPub[] = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";

std::string ProducerSeed() {
  return *vv::HexDecode("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
}

TEST(RequestSignerTest, ReproducesVectorA2) {
  std::string body = kA2Body;
  ASSERT_EQ(body.size(), 790u);
  ASSERT_EQ(vv::crypto::Sha256Hex(body),
            "1e0392aced563264e98d218d46f83dee735cbd8d06f06588bbdee8956a8baa91");
  auto signer = RequestSigner::FromSeed(ProducerSeed());
  ASSERT_TRUE(signer.ok());
  EXPECT_EQ(signer->PublicKeyB64(), kProducerPub);
  EXPECT_EQ(signer->SignatureB64(1772107200, "nonce-vector-0001", body), kA2Signature);
  SignedHeaders h = signer->Sign(1772107200, "nonce-vector-0001", body);
  EXPECT_EQ(h.timestamp, "1772107200");
  EXPECT_EQ(h.nonce, "nonce-vector-0001");
  EXPECT_EQ(h.signature, kA2Signature);
  auto list = h.ToHeaders();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].first, "X-Telemetry-Timestamp");
  EXPECT_EQ(list[1].first, "X-Telemetry-Nonce");
  EXPECT_EQ(list[2].first, "X-Telemetry-Signature");
}

TEST(RequestSignerTest, SignatureCoversTimestampNonceAndBody) {
  auto signer = RequestSigner::FromSeed(ProducerSeed());
  ASSERT_TRUE(signer.ok());
  std::string base = signer->SignatureB64(1, "n", "{}");
  EXPECT_NE(signer->SignatureB64(2, "n", "{}"), base);
  EXPECT_NE(signer->SignatureB64(1, "m", "{}"), base);
  EXPECT_NE(signer->SignatureB64(1, "n", "{ }"), base);
  auto pub = vv::crypto::Ed25519PublicKey::FromBase64(kProducerPub);
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(pub->Verify("1.n.{}", *vv::Base64DecodeStrict(base)));
  // Negative timestamps are rendered as decimal too.
  EXPECT_TRUE(pub->Verify("-5.n.", *vv::Base64DecodeStrict(signer->SignatureB64(-5, "n", ""))));
}

TEST(RequestSignerTest, RejectsWrongSeedLength) {
  auto signer = RequestSigner::FromSeed("short");
  EXPECT_FALSE(signer.ok());
  EXPECT_FALSE(signer.status().message().empty());
}

TEST(RequestSignerTest, LoadsKeyFileAndChecksPermissions) {
  vv::testing::TempDir dir;
  std::string path = dir.File("signing.key");
  vv::testing::WriteFile(path, ProducerSeed(), 0600);
  auto signer = RequestSigner::FromKeyFile(path);
  ASSERT_TRUE(signer.ok()) << signer.status().message();
  EXPECT_EQ(signer->SignatureB64(1772107200, "nonce-vector-0001", kA2Body), kA2Signature);

  std::string loose = dir.File("loose.key");
  vv::testing::WriteFile(loose, ProducerSeed(), 0644);
  EXPECT_FALSE(RequestSigner::FromKeyFile(loose).ok());
  EXPECT_TRUE(RequestSigner::FromKeyFile(loose, /*check_permissions=*/false).ok());
  EXPECT_FALSE(RequestSigner::FromKeyFile(dir.File("missing.key")).ok());
}

TEST(RequestSignerTest, MovedSignerStillSigns) {
  auto signer = RequestSigner::FromSeed(ProducerSeed());
  ASSERT_TRUE(signer.ok());
  RequestSigner moved = std::move(*signer);
  EXPECT_EQ(moved.SignatureB64(1772107200, "nonce-vector-0001", kA2Body), kA2Signature);
}

}  // namespace
}  // namespace spectrastrike

// Event builder: wire-contract A.2 byte for byte, validation, nonces.
#include <gtest/gtest.h>

#include <set>

#include "client/producer_test_support.h"
#include "crypto/crypto.h"
#include "fakes/fake_clock.h"
#include "spectrastrike/event.h"

namespace spectrastrike {
namespace {

using namespace spectrastrike::test_support;  // NOLINT
using vv::json::Value;

constexpr char kA2Body[] =
    R"({"campaign_id":"cmp-001","execution_hash":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","nonce":"nonce-vector-0001","operator_id":"op-001","payload":{"attributes":{"asset_ref":"host-nyc-01","attestation_measurement_hash":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","schema_version":"1.0"},"description":"Observed suspicious process chain","event_id":"evt-vector-0001","event_type":"PROCESS_ANOMALY","mitre_tactics":["TA0002"],"mitre_techniques":["T1059.001"],"observed_at":"2026-02-26T12:00:00Z","severity":"high","source_system":"spectrastrike-sensor"},"signed_metadata":{"campaign_id":"cmp-001","operator_id":"op-001","tenant_id":"10000000-0000-0000-0000-000000000001"},"tenant_id":"10000000-0000-0000-0000-000000000001","timestamp":1772107200})";

TEST(EventBuilderTest, CanonicalPayloadIsWrappedIntoTheA2BodyAndSignature) {
  Value input = A2PayloadValue();
  // The payload alone plus the configured identity; execution hash given via an envelope.
  Value env = Value::MakeObject();
  env.Set("payload", input);
  env.Set("execution_hash", std::string(64, 'f'));
  auto ev = PrepareEvent(vv::json::Canonical(env), A2Identity());
  ASSERT_TRUE(ev.ok()) << ev.status().message();
  std::string body = StampEvent(*ev, 1772107200, "nonce-vector-0001");
  EXPECT_EQ(body, kA2Body);
  EXPECT_EQ(vv::crypto::Sha256Hex(body),
            "1e0392aced563264e98d218d46f83dee735cbd8d06f06588bbdee8956a8baa91");
  EXPECT_EQ(ProducerSigner().SignatureB64(1772107200, "nonce-vector-0001", body),
            "HjuDkbBV7mkWMfumR2il3i0/5MJE0VbYV+s3pxI1zGAJSuqP8oveXSbQbf4+h209uS6DSLZcpGRmiatw0pBqDQ==");
}

TEST(EventBuilderTest, FullEnvelopeKeepsItsFieldsButNotItsTimestampOrNonce) {
  auto ev = PrepareEvent(kA2Body, ProducerIdentity{});  // no defaults needed
  ASSERT_TRUE(ev.ok()) << ev.status().message();
  EXPECT_EQ(ev->event_id, "evt-vector-0001");
  EXPECT_EQ(ev->execution_hash, std::string(64, 'f'));
  auto envelope = vv::json::Parse(ev->envelope_json);
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(envelope->Find("timestamp"), nullptr);
  EXPECT_EQ(envelope->Find("nonce"), nullptr);
  std::string body = StampEvent(*ev, 1772107999, "fresh-nonce-123456");
  EXPECT_NE(body.find("\"timestamp\":1772107999"), std::string::npos);
  EXPECT_NE(body.find("\"nonce\":\"fresh-nonce-123456\""), std::string::npos);
}

TEST(EventBuilderTest, PayloadOnlyGetsIdentitySignedMetadataAndStableExecutionHash) {
  auto ev = PrepareEvent(A2Payload("evt-42"), A2Identity());
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->execution_hash, *ExecutionHashOf(A2Payload("evt-42")));
  auto envelope = vv::json::Parse(ev->envelope_json);
  ASSERT_TRUE(envelope.ok());
  const Value* meta = envelope->Find("signed_metadata");
  ASSERT_NE(meta, nullptr);
  EXPECT_EQ(meta->Find("tenant_id")->as_string(), kTenant);
  EXPECT_EQ(meta->Find("operator_id")->as_string(), "op-001");
  EXPECT_EQ(meta->Find("campaign_id")->as_string(), "cmp-001");
  auto again = PrepareEvent(A2Payload("evt-42"), A2Identity());
  EXPECT_EQ(again->execution_hash, ev->execution_hash);
}

TEST(EventBuilderTest, RejectsMissingTenantInsteadOfInventingOne) {
  ProducerIdentity id = A2Identity();
  id.tenant_id.clear();
  auto ev = PrepareEvent(A2Payload(), id);
  ASSERT_FALSE(ev.ok());
  EXPECT_NE(ev.status().message().find("tenant_id"), std::string::npos);
  id.tenant_id = "unknown-tenant";
  EXPECT_FALSE(PrepareEvent(A2Payload(), id).ok());
}

TEST(EventBuilderTest, RejectsBadEventIdUnknownFieldsAndInconsistentMetadata) {
  using vv::json::Canonical;
  Value p = A2PayloadValue();
  p.Set("event_id", "has space");
  EXPECT_FALSE(PrepareEvent(Canonical(p), A2Identity()).ok());
  p.Erase("event_id");
  EXPECT_FALSE(PrepareEvent(Canonical(p), A2Identity()).ok());

  auto env = vv::json::Parse(kA2Body);
  Value extra = *env;
  extra.Set("surprise", 1);
  EXPECT_FALSE(PrepareEvent(Canonical(extra), {}).ok());

  Value bad_meta = *env;
  Value meta = *bad_meta.Find("signed_metadata");
  meta.Set("operator_id", "op-002");
  bad_meta.Set("signed_metadata", meta);
  EXPECT_FALSE(PrepareEvent(Canonical(bad_meta), {}).ok());

  Value bad_hash = *env;
  bad_hash.Set("execution_hash", "xyz");
  EXPECT_FALSE(PrepareEvent(Canonical(bad_hash), {}).ok());

  EXPECT_FALSE(PrepareEvent("[1,2]", A2Identity()).ok());
  EXPECT_FALSE(PrepareEvent("{not json", A2Identity()).ok());
}

TEST(EventBuilderTest, NoncesHaveTheConfiguredLengthAndUrlSafeAlphabet) {
  SystemRandom rng;
  std::set<std::string> seen;
  for (size_t len : {12u, 24u, 25u, 64u, 128u}) {
    for (int i = 0; i < 20; ++i) {
      std::string n = MakeNonce(rng, len);
      ASSERT_EQ(n.size(), len);
      for (char c : n) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
      seen.insert(n);
    }
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace spectrastrike

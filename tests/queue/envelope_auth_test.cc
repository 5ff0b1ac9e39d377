// Queue envelope authentication (issue 12): the "auth" member, its canonical placement, and
// the verifier's precise reasons.

#include "queue/envelope_auth.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "fakes/fake_clock.h"
#include "json/json.h"
#include "queue/envelope_codec.h"

namespace vv::queue {
namespace {

using vv::testing::FakeClock;
using vv::testing::FakeRandom;

crypto::Ed25519PrivateKey Key(char c) {
  return crypto::Ed25519PrivateKey::FromSeed(std::string(32, c)).value();
}

Envelope Sample(FakeClock& clock, FakeRandom& random) {
  json::Value payload = json::Value::MakeObject();
  payload.Set("tenant_id", "10000000-0000-0000-0000-000000000001");
  payload.Set("note", "caf\xc3\xa9 \"q\"");
  json::Value trace = json::Value::MakeObject();
  trace.Set("operator_id", "op-001");
  return MakeIngestEnvelope(payload, trace, "t/e", clock, random);
}

TEST(EnvelopeAuthTest, SignedEnvelopeIsCanonicalAndRoundTrips) {
  FakeClock clock;
  FakeRandom random;
  Envelope e = Sample(clock, random);
  const std::string unsigned_bytes = e.CanonicalBytes();
  EnvelopeSigner("k1", Key('a')).Sign(&e);
  // The hand-written canonical form equals the generic one with the extra member...
  EXPECT_EQ(e.CanonicalBytes(), json::Canonical(e.ToJson()));
  EXPECT_EQ(e.UnsignedCanonicalBytes(), unsigned_bytes);
  EXPECT_EQ(e.CanonicalBytes().rfind("{\"auth\":{\"alg\":\"ed25519\",\"kid\":\"k1\",\"sig\":", 0),
            0u);
  // ...and a reader parses it back, verifies it, and the reference fields are untouched.
  auto parsed = ParseEnvelope(e.CanonicalBytes());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(VerifyIntegrity(*parsed));
  EXPECT_EQ(VerifyEnvelopeAuth(*parsed, {{"k1", Key('a').PublicKey()}}), "");
  EXPECT_EQ(parsed->CanonicalBytes(), e.CanonicalBytes());
}

TEST(EnvelopeAuthTest, PreciseReasons) {
  FakeClock clock;
  FakeRandom random;
  const EnvelopeVerifyKeys keys = {{"k1", Key('a').PublicKey()}, {"k2", Key('b').PublicKey()}};
  Envelope e = Sample(clock, random);
  EXPECT_EQ(VerifyEnvelopeAuth(e, keys), kAuthUnsigned);
  EnvelopeSigner("k2", Key('b')).Sign(&e);  // rotation: any configured kid
  EXPECT_EQ(VerifyEnvelopeAuth(e, keys), "");

  Envelope unknown = e;
  EnvelopeSigner("k9", Key('b')).Sign(&unknown);
  EXPECT_EQ(VerifyEnvelopeAuth(unknown, keys), kAuthUnknownKid);

  Envelope wrong_key = e;
  EnvelopeSigner("k1", Key('b')).Sign(&wrong_key);
  EXPECT_EQ(VerifyEnvelopeAuth(wrong_key, keys), kAuthBadSignature);

  for (const char* field : {"message_id", "created_at", "kind", "trace", "payload"}) {
    Envelope t = e;
    if (std::string(field) == "message_id") t.message_id += "0";
    if (std::string(field) == "created_at") t.created_at += "0";
    if (std::string(field) == "kind") t.kind = Kind::kDeadLetter;
    if (std::string(field) == "trace") t.trace.Set("tenant_id", "x");
    if (std::string(field) == "payload") t.payload.Set("tenant_id", "x");
    EXPECT_EQ(VerifyEnvelopeAuth(t, keys), kAuthBadSignature) << field;
  }

  Envelope alg = e;
  alg.auth.Set("alg", "hmac-sha256");
  EXPECT_EQ(VerifyEnvelopeAuth(alg, keys), kAuthUnsupportedAlg);
  Envelope extra = e;
  extra.auth.Set("x", 1);
  EXPECT_EQ(VerifyEnvelopeAuth(extra, keys), kAuthMalformed);
  Envelope bad_b64 = e;
  bad_b64.auth.Set("sig", "***");
  EXPECT_EQ(VerifyEnvelopeAuth(bad_b64, keys), kAuthBadSignature);
  Envelope not_obj = e;
  not_obj.auth = json::Value("sig");
  EXPECT_EQ(VerifyEnvelopeAuth(not_obj, keys), kAuthMalformed);
}

TEST(EnvelopeAuthTest, ParserRefusesANonObjectAuth) {
  FakeClock clock;
  FakeRandom random;
  Envelope e = Sample(clock, random);
  std::string bytes = e.CanonicalBytes();
  bytes.insert(1, "\"auth\":\"x\",");
  EXPECT_FALSE(ParseEnvelope(bytes).ok());
}

TEST(EnvelopeAuthTest, SigningPublisherSignsEveryEnvelope) {
  struct Capture final : Publisher {
    std::vector<Envelope> got;
    void Publish(Envelope e, PublishCallback done) override {
      got.push_back(std::move(e));
      done(Status::Ok(), PublishOutcome::kStored);
    }
    Status Health() const override { return Status::Ok(); }
  };
  auto capture = std::make_unique<Capture>();
  Capture* raw = capture.get();
  SigningPublisher p(std::move(capture), std::make_unique<EnvelopeSigner>("k1", Key('a')));
  FakeClock clock;
  FakeRandom random;
  p.Publish(Sample(clock, random), [](Status, PublishOutcome) {});
  p.Publish(MakeDeadLetterEnvelope("invalid_json", "x", "{", json::Value::MakeObject(), clock,
                                   random),
            [](Status, PublishOutcome) {});
  ASSERT_EQ(raw->got.size(), 2u);
  for (const auto& e : raw->got)
    EXPECT_EQ(VerifyEnvelopeAuth(e, {{"k1", Key('a').PublicKey()}}), "");
}

}  // namespace
}  // namespace vv::queue

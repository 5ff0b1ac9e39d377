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

std::vector<Envelope> Batch(size_t n, FakeClock& clock, FakeRandom& random) {
  std::vector<Envelope> out;
  for (size_t i = 0; i < n; ++i) {
    json::Value payload = json::Value::MakeObject();
    payload.Set("tenant_id", "10000000-0000-0000-0000-000000000001");
    payload.Set("event", static_cast<int64_t>(i));
    out.push_back(MakeIngestEnvelope(payload, json::Value::MakeObject(),
                                     "t/e" + std::to_string(i), clock, random));
  }
  return out;
}

TEST(EnvelopeAuthTest, ABatchIsSignedOnceAndEachEnvelopeVerifiesAloneAtEverySize) {
  FakeClock clock;
  FakeRandom random;
  const EnvelopeVerifyKeys keys = {{"k1", Key('a').PublicKey()}};
  const EnvelopeSigner signer("k1", Key('a'));
  for (size_t n : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{8}, size_t{13},
                   size_t{64}, size_t{100}}) {
    std::vector<Envelope> es = Batch(n, clock, random);
    signer.SignBatch(&es);
    VerifiedRoots roots;
    for (size_t i = 0; i < n; ++i) {
      const json::Value& auth = es[i].auth;
      if (n == 1) {
        EXPECT_EQ(auth.Find("alg")->as_string(), kEnvelopeAuthAlg) << "a batch of one";
      } else {
        EXPECT_EQ(auth.Find("alg")->as_string(), kEnvelopeBatchAuthAlg);
        EXPECT_EQ(auth.Find("sig")->as_string(), es[0].auth.Find("sig")->as_string())
            << "one signature for the batch";
        EXPECT_EQ(auth.Find("size")->as_int64(), static_cast<int64_t>(n));
        EXPECT_EQ(auth.Find("index")->as_int64(), static_cast<int64_t>(i));
      }
      // Alone (as another replica sees it, after the wire) and through the cache.
      auto parsed = ParseEnvelope(es[i].CanonicalBytes());
      ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
      EXPECT_EQ(parsed->CanonicalBytes(), es[i].CanonicalBytes());
      EXPECT_EQ(VerifyEnvelopeAuth(*parsed, keys), "") << n << "/" << i;
      EXPECT_EQ(VerifyEnvelopeAuth(*parsed, keys, &roots), "") << n << "/" << i;
    }
  }
}

TEST(EnvelopeAuthTest, EveryAlterationOfABatchEnvelopeIsRefusedWithAndWithoutTheCache) {
  FakeClock clock;
  FakeRandom random;
  const EnvelopeVerifyKeys keys = {{"k1", Key('a').PublicKey()}};
  std::vector<Envelope> es = Batch(7, clock, random);
  EnvelopeSigner("k1", Key('a')).SignBatch(&es);
  std::vector<Envelope> other = Batch(7, clock, random);
  EnvelopeSigner("k1", Key('a')).SignBatch(&other);
  VerifiedRoots warm;
  for (const Envelope& e : es) ASSERT_EQ(VerifyEnvelopeAuth(e, keys, &warm), "");
  for (const Envelope& e : other) ASSERT_EQ(VerifyEnvelopeAuth(e, keys, &warm), "");

  const Envelope& e = es[3];
  auto with = [&](auto edit) {
    Envelope t = e;
    edit(t);
    return t;
  };
  auto path_with = [&](auto edit) {
    return with([&](Envelope& t) {
      json::Value p = *t.auth.Find("path");
      edit(p);
      t.auth.Set("path", std::move(p));
    });
  };
  const std::string zero32 = Base64Encode(std::string(32, '\0'));
  struct Case {
    const char* name;
    Envelope env;
    const char* want;
  };
  std::vector<Case> cases = {
      {"payload", with([](Envelope& t) { t.payload.Set("event", int64_t{99}); }),
       kAuthBadSignature},
      {"message_id", with([](Envelope& t) { t.message_id += "0"; }), kAuthBadSignature},
      {"created_at", with([](Envelope& t) { t.created_at += "0"; }), kAuthBadSignature},
      {"index", with([](Envelope& t) { t.auth.Set("index", int64_t{2}); }), kAuthBadSignature},
      {"size", with([](Envelope& t) { t.auth.Set("size", int64_t{8}); }), kAuthBadSignature},
      {"sig", with([&](Envelope& t) { t.auth.Set("sig", other[3].auth.Find("sig")->as_string()); }),
       kAuthBadSignature},
      {"other batch's path", with([&](Envelope& t) { t.auth.Set("path", *other[3].auth.Find("path")); }),
       kAuthBadSignature},
      {"path entry", path_with([&](json::Value& p) {
         json::Value q = json::Value::MakeArray();
         q.Push(zero32);
         for (size_t k = 1; k < p.as_array().size(); ++k) q.Push(p.as_array()[k]);
         p = std::move(q);
       }),
       kAuthBadSignature},
      {"path too short", path_with([](json::Value& p) {
         json::Value q = json::Value::MakeArray();
         q.Push(p.as_array()[0]);
         p = std::move(q);
       }),
       kAuthMalformed},
      {"path too long", path_with([&](json::Value& p) { p.Push(zero32); }), kAuthMalformed},
      {"path entry of 31 bytes", path_with([](json::Value& p) {
         p.Push(Base64Encode(std::string(31, 'x')));
       }),
       kAuthMalformed},
      {"path entry not a string", path_with([](json::Value& p) { p.Push(int64_t{1}); }),
       kAuthMalformed},
      {"path not an array", with([](Envelope& t) { t.auth.Set("path", "x"); }), kAuthMalformed},
      {"size 1", with([](Envelope& t) { t.auth.Set("size", int64_t{1}); }), kAuthMalformed},
      {"size huge", with([](Envelope& t) { t.auth.Set("size", int64_t{1} << 40); }),
       kAuthMalformed},
      {"index = size", with([](Envelope& t) { t.auth.Set("index", int64_t{7}); }),
       kAuthMalformed},
      {"index < 0", with([](Envelope& t) { t.auth.Set("index", int64_t{-1}); }),
       kAuthMalformed},
      {"index a string", with([](Envelope& t) { t.auth.Set("index", "3"); }), kAuthMalformed},
      {"extra member", with([](Envelope& t) { t.auth.Set("x", int64_t{1}); }), kAuthMalformed},
      {"unknown kid", with([](Envelope& t) { t.auth.Set("kid", "k9"); }), kAuthUnknownKid},
      {"sig not base64", with([](Envelope& t) { t.auth.Set("sig", "***"); }), kAuthBadSignature},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(VerifyEnvelopeAuth(c.env, keys), c.want) << c.name;
    EXPECT_EQ(VerifyEnvelopeAuth(c.env, keys, &warm), c.want) << c.name << " (warm cache)";
  }
}

TEST(EnvelopeAuthTest, AForgedBatchSignatureIsNeverRemembered) {
  FakeClock clock;
  FakeRandom random;
  std::vector<Envelope> es = Batch(4, clock, random);
  EnvelopeSigner("k1", Key('b')).SignBatch(&es);  // signed by a key the engine does not trust
  const EnvelopeVerifyKeys keys = {{"k1", Key('a').PublicKey()}};
  VerifiedRoots roots;
  for (int pass = 0; pass < 2; ++pass)
    for (const Envelope& e : es) EXPECT_EQ(VerifyEnvelopeAuth(e, keys, &roots), kAuthBadSignature);
  // Remembered for one key, not for another bound to the same kid (rotation, re-binding).
  std::vector<Envelope> good = Batch(4, clock, random);
  EnvelopeSigner("k1", Key('a')).SignBatch(&good);
  ASSERT_EQ(VerifyEnvelopeAuth(good[0], keys, &roots), "");
  const EnvelopeVerifyKeys rebound = {{"k1", Key('b').PublicKey()}};
  EXPECT_EQ(VerifyEnvelopeAuth(good[1], rebound, &roots), kAuthBadSignature);
}

// Issue 15: the publishing path serialises each envelope once - the bytes it signs become the
// bytes the queue stores - and those bytes are exactly the canonical envelope, signature
// included, at every batch size; signing for the wire changes nothing else.
TEST(EnvelopeAuthTest, SigningForTheWireStoresExactlyTheCanonicalSignedBytes) {
  FakeClock clock;
  FakeRandom random;
  const EnvelopeVerifyKeys keys = {{"k1", Key('a').PublicKey()}};
  const EnvelopeSigner signer("k1", Key('a'));
  for (size_t n : {size_t{1}, size_t{2}, size_t{7}, size_t{64}}) {
    std::vector<Envelope> es = Batch(n, clock, random);
    std::vector<Envelope> plain = es;
    signer.SignBatchForWire(&es);
    signer.SignBatch(&plain);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_FALSE(es[i].wire.empty());
      // Ed25519 is deterministic: the bytes written directly are the DOM route's, exactly.
      EXPECT_EQ(es[i].wire, plain[i].CanonicalBytes()) << n << "/" << i;
      EXPECT_TRUE(es[i].auth.is_null());  // the signature lives in the wire bytes only
      EXPECT_TRUE(plain[i].wire.empty());
      auto parsed = ParseEnvelope(es[i].wire);
      ASSERT_TRUE(parsed.ok());
      EXPECT_EQ(VerifyEnvelopeAuth(*parsed, keys), "");
    }
  }
}

// The verifier given the unsigned bytes a caller already built decides exactly as without them
// (the engine passes the bytes around the payload it serialised for the integrity check).
TEST(EnvelopeAuthTest, VerifyWithPrebuiltUnsignedBytesDecidesTheSame) {
  FakeClock clock;
  FakeRandom random;
  const EnvelopeVerifyKeys keys = {{"k1", Key('a').PublicKey()}};
  const EnvelopeSigner signer("k1", Key('a'));
  for (size_t n : {size_t{1}, size_t{4}}) {
    std::vector<Envelope> es = Batch(n, clock, random);
    signer.SignBatch(&es);
    for (Envelope& e : es) {
      const std::string payload = json::Canonical(e.payload);
      EXPECT_EQ(e.UnsignedCanonicalBytes(payload), e.UnsignedCanonicalBytes());
      EXPECT_EQ(VerifyEnvelopeAuth(e, keys, nullptr, e.UnsignedCanonicalBytes(payload)), "");
      e.payload.Set("event", int64_t{999});  // tampered after signing
      const std::string tampered = json::Canonical(e.payload);
      EXPECT_EQ(VerifyEnvelopeAuth(e, keys, nullptr, e.UnsignedCanonicalBytes(tampered)),
                kAuthBadSignature);
      EXPECT_EQ(VerifyEnvelopeAuth(e, keys), kAuthBadSignature);
    }
  }
}

}  // namespace
}  // namespace vv::queue

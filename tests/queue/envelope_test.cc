// Envelope format (wire-contract section 5, vector A.3) and the envelope codec.

#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/fake_clock.h"
#include "json/json.h"
#include "queue/envelope_codec.h"
#include "queue/queue.h"

namespace vv::queue {
namespace {

using vv::testing::FakeClock;
using vv::testing::FakeRandom;

// Vector A.2: the producer's sorted compact body.
constexpr const char* kA2Body =
    R"({"campaign_id":"cmp-001","execution_hash":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","nonce":"nonce-vector-0001","operator_id":"op-001","payload":{"attributes":{"asset_ref":"host-nyc-01","attestation_measurement_hash":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","schema_version":"1.0"},"description":"Observed suspicious process chain","event_id":"evt-vector-0001","event_type":"PROCESS_ANOMALY","mitre_tactics":["TA0002"],"mitre_techniques":["T1059.001"],"observed_at":"2026-02-26T12:00:00Z","severity":"high","source_system":"spectrastrike-sensor"},"signed_metadata":{"campaign_id":"cmp-001","operator_id":"op-001","tenant_id":"10000000-0000-0000-0000-000000000001"},"tenant_id":"10000000-0000-0000-0000-000000000001","timestamp":1772107200})";

TEST(KindNameTest, NamesMatchTheReference) {
  EXPECT_STREQ(KindName(Kind::kIngest), "ingest");
  EXPECT_STREQ(KindName(Kind::kDeadLetter), "dead_letter");
}

TEST(DeadLetterEnvelopeTest, VectorA3InvalidJsonHash) {
  FakeClock clock;
  FakeRandom random;
  json::Value trace = json::Value::MakeObject();
  trace.Set("reason", "json_decode");
  Envelope e = MakeDeadLetterEnvelope("invalid_json", "Invalid JSON payload", "{not json", trace,
                                      clock, random);
  EXPECT_EQ(e.kind, Kind::kDeadLetter);
  EXPECT_EQ(json::Canonical(e.payload),
            R"({"error_code":"invalid_json","error_message":"Invalid JSON payload",)"
            R"("raw_body":"{not json"})");
  EXPECT_EQ(e.integrity_hash, "c27f029e0f70c43bd8318c17c28a8a7b7c7fd73281654156eefbd5ba728d6623");
  EXPECT_TRUE(e.dedupe_id.empty());
  EXPECT_TRUE(VerifyIntegrity(e));
}

TEST(IngestEnvelopeTest, VectorA3IngestHashIsBodyHash) {
  FakeClock clock;
  FakeRandom random;
  Result<json::Value> payload = json::Parse(kA2Body);
  ASSERT_TRUE(payload.ok()) << payload.status().ToString();
  json::Value trace = json::Value::MakeObject();
  trace.Set("operator_id", "op-001");
  trace.Set("campaign_id", "cmp-001");
  trace.Set("tenant_id", "10000000-0000-0000-0000-000000000001");
  Envelope e = MakeIngestEnvelope(*payload, trace,
                                  "10000000-0000-0000-0000-000000000001/evt-vector-0001", clock,
                                  random);
  EXPECT_EQ(e.integrity_hash, "1e0392aced563264e98d218d46f83dee735cbd8d06f06588bbdee8956a8baa91");
  EXPECT_EQ(e.dedupe_id, "10000000-0000-0000-0000-000000000001/evt-vector-0001");
}

TEST(IngestEnvelopeTest, HashIsSha256OfCanonicalPayloadNotOfInsertionOrder) {
  FakeClock clock;
  FakeRandom random;
  json::Value payload = json::Value::MakeObject();
  payload.Set("z", 1);
  payload.Set("a", "\xC3\xA9");  // é -> \u00e9 in canonical form
  payload.Set("m", json::Value::MakeArray());
  Envelope e = MakeIngestEnvelope(payload, json::Value::MakeObject(), "t/e", clock, random);
  EXPECT_EQ(e.integrity_hash, crypto::Sha256Hex(R"({"a":"\u00e9","m":[],"z":1})"));
  EXPECT_EQ(e.kind, Kind::kIngest);
}

TEST(EnvelopeTest, FieldsAndCanonicalWireBytes) {
  FakeClock clock;
  clock.SetMicros(1772107200000000 + 42);
  FakeRandom random;
  json::Value payload = json::Value::MakeObject();
  payload.Set("k", "v");
  json::Value trace = json::Value::MakeObject();
  trace.Set("tenant_id", "t1");
  Envelope e = MakeIngestEnvelope(payload, trace, "t1/e1", clock, random);
  EXPECT_TRUE(std::regex_match(
      e.message_id,
      std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << e.message_id;
  EXPECT_EQ(e.created_at, "2026-02-26T12:00:00.000042+00:00");
  const std::string expected =
      R"({"created_at":"2026-02-26T12:00:00.000042+00:00","integrity_hash":")" +
      crypto::Sha256Hex(R"({"k":"v"})") + R"(","kind":"ingest","message_id":")" + e.message_id +
      R"(","payload":{"k":"v"},"trace":{"tenant_id":"t1"}})";
  EXPECT_EQ(e.CanonicalBytes(), expected);
  // dedupe_id is not part of the wire bytes.
  EXPECT_EQ(e.CanonicalBytes().find("t1/e1"), std::string::npos);
}

// CanonicalBytes writes the envelope without building ToJson(): both must give the same bytes,
// for ingest and dead-letter envelopes, escapes and non-ASCII text included.
TEST(EnvelopeTest, CanonicalBytesEqualsCanonicalOfToJson) {
  FakeClock clock;
  FakeRandom random;
  Result<json::Value> body = json::Parse(kA2Body);
  ASSERT_TRUE(body.ok());
  json::Value trace = json::Value::MakeObject();
  trace.Set("tenant_id", "t\"1\\ caf\u00e9");
  trace.Set("operator_id", "op-001");
  Envelope ingest = MakeIngestEnvelope(*body, trace, "t1/e1", clock, random);
  EXPECT_EQ(ingest.CanonicalBytes(), json::Canonical(ingest.ToJson()));
  Envelope dlq = MakeDeadLetterEnvelope("invalid_json", "line\nbreak", "caf\xc3\xa9 \x01\x7f",
                                        trace, clock, random);
  EXPECT_EQ(dlq.CanonicalBytes(), json::Canonical(dlq.ToJson()));
  Envelope empty = MakeIngestEnvelope(json::Value(), json::Value(), "", clock, random);
  EXPECT_EQ(empty.CanonicalBytes(), json::Canonical(empty.ToJson()));
}

// The publishing factory serialises the payload once: the unsigned bytes it keeps are exactly
// what UnsignedCanonicalBytes() builds, and the wire bytes taken from them (with or without an
// auth member) are exactly CanonicalBytes().
TEST(EnvelopeTest, PublishFactoryKeepsTheUnsignedBytesItHashed) {
  FakeClock clock;
  FakeRandom random;
  Result<json::Value> body = json::Parse(kA2Body);
  ASSERT_TRUE(body.ok());
  json::Value trace = json::Value::MakeObject();
  trace.Set("tenant_id", "t\"1\\ caf\u00e9");
  Envelope e = MakeIngestEnvelopeForPublish(*body, trace, "t1/e1", clock, random);
  ASSERT_FALSE(e.unsigned_wire.empty());
  EXPECT_EQ(e.unsigned_wire, e.UnsignedCanonicalBytes());
  EXPECT_EQ(e.integrity_hash, crypto::Sha256Hex(json::Canonical(*body)));
  EXPECT_EQ(e.dedupe_id, "t1/e1");

  Envelope unsigned_copy = e;
  EXPECT_EQ(unsigned_copy.TakeWireBytes(), e.CanonicalBytes());
  EXPECT_TRUE(unsigned_copy.unsigned_wire.empty()) << "moved out";

  Envelope with_auth = e;
  with_auth.auth = json::Value::MakeObject();
  with_auth.auth.Set("alg", "ed25519");
  EXPECT_EQ(with_auth.TakeWireBytes(), with_auth.CanonicalBytes());

  Envelope taken = e;
  EXPECT_EQ(taken.TakeUnsignedBytes(), e.UnsignedCanonicalBytes());
  EXPECT_TRUE(taken.unsigned_wire.empty());
  EXPECT_EQ(taken.TakeUnsignedBytes(), e.UnsignedCanonicalBytes()) << "built when not kept";
  // The plain factory keeps nothing (callers that edit envelopes after building them).
  EXPECT_TRUE(MakeIngestEnvelope(*body, trace, "t1/e1", clock, random).unsigned_wire.empty());
}

TEST(EnvelopeTest, DistinctMessageIds) {
  FakeClock clock;
  FakeRandom random;
  Envelope a = MakeIngestEnvelope(json::Value::MakeObject(), {}, "", clock, random);
  Envelope b = MakeIngestEnvelope(json::Value::MakeObject(), {}, "", clock, random);
  EXPECT_NE(a.message_id, b.message_id);
}

TEST(DeadLetterEnvelopeTest, NonUtf8RawBodyIsStandardBase64) {
  FakeClock clock;
  FakeRandom random;
  const std::string raw("\xff\xfe{\"a\":1}\x80", 10);
  Envelope e = MakeDeadLetterEnvelope("invalid_json", "Invalid JSON payload", raw,
                                      json::Value::MakeObject(), clock, random);
  const json::Value* rb = e.payload.Find("raw_body");
  ASSERT_NE(rb, nullptr);
  ASSERT_TRUE(rb->is_string());
  EXPECT_EQ(rb->as_string(), Base64Encode(raw));
  EXPECT_EQ(rb->as_string(), "//57ImEiOjF9gA==");
}

TEST(DeadLetterEnvelopeTest, Utf8RawBodyKeptAsTextAndEscapedOnTheWire) {
  FakeClock clock;
  FakeRandom random;
  const std::string raw = "caf\xC3\xA9 \x01";
  Envelope e = MakeDeadLetterEnvelope("invalid_json", "Invalid JSON payload", raw,
                                      json::Value::MakeObject(), clock, random);
  EXPECT_EQ(e.payload.Find("raw_body")->as_string(), raw);
  EXPECT_NE(e.CanonicalBytes().find(R"("raw_body":"caf\u00e9 \u0001")"), std::string::npos);
}

TEST(DeadLetterEnvelopeTest, EmptyRawBody) {
  FakeClock clock;
  FakeRandom random;
  Envelope e = MakeDeadLetterEnvelope("invalid_json", "Invalid JSON payload", "",
                                      json::Value::MakeObject(), clock, random);
  EXPECT_EQ(e.payload.Find("raw_body")->as_string(), "");
}

TEST(IsValidUtf8Test, AcceptsValidSequences) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8(std::string("nul\0inside", 10)));
  EXPECT_TRUE(IsValidUtf8("\xC3\xA9"));            // é
  EXPECT_TRUE(IsValidUtf8("\xE2\x80\xA8"));        // U+2028
  EXPECT_TRUE(IsValidUtf8("\xED\x9F\xBF"));        // U+D7FF
  EXPECT_TRUE(IsValidUtf8("\xEE\x80\x80"));        // U+E000
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80"));    // 😀
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));    // U+10FFFF
}

TEST(IsValidUtf8Test, RejectsWhatPythonRejects) {
  EXPECT_FALSE(IsValidUtf8("\x80"));                // lone continuation
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));            // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xC1\xBF"));            // overlong
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));        // overlong 3-byte
  EXPECT_FALSE(IsValidUtf8("\xF0\x80\x80\xAF"));    // overlong 4-byte
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));        // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xED\xBF\xBF"));        // surrogate U+DFFF
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));    // U+110000
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));    // invalid lead
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));                // truncated
  EXPECT_FALSE(IsValidUtf8("\xE2\x80"));            // truncated
  EXPECT_FALSE(IsValidUtf8("\xF0\x9F\x98"));        // truncated
  EXPECT_FALSE(IsValidUtf8("\xC3\x28"));            // bad continuation
  EXPECT_FALSE(IsValidUtf8("\xE2\x28\xA1"));        // bad second byte
  EXPECT_FALSE(IsValidUtf8("\xE2\x82\x28"));        // bad third byte
  EXPECT_FALSE(IsValidUtf8("ok\xF0\x9F\x98\x28"));  // bad fourth byte
}

TEST(EnvelopeCodecTest, RoundTripsThroughWireBytes) {
  FakeClock clock;
  FakeRandom random;
  json::Value trace = json::Value::MakeObject();
  trace.Set("reason", "json_decode");
  Envelope e = MakeDeadLetterEnvelope("invalid_json", "Invalid JSON payload", "{not json", trace,
                                      clock, random);
  Result<Envelope> back = ParseEnvelope(e.CanonicalBytes());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->message_id, e.message_id);
  EXPECT_EQ(back->kind, Kind::kDeadLetter);
  EXPECT_EQ(back->created_at, e.created_at);
  EXPECT_EQ(back->integrity_hash, e.integrity_hash);
  EXPECT_TRUE(back->trace == e.trace);
  EXPECT_TRUE(back->payload == e.payload);
  EXPECT_EQ(back->CanonicalBytes(), e.CanonicalBytes());
  EXPECT_TRUE(VerifyIntegrity(*back));
}

TEST(EnvelopeCodecTest, RejectsMalformedEnvelopesCleanly) {
  EXPECT_FALSE(ParseEnvelope("").ok());
  EXPECT_FALSE(ParseEnvelope("{not json").ok());
  EXPECT_FALSE(ParseEnvelope("[]").ok());
  EXPECT_FALSE(ParseEnvelope(R"({"message_id":"x"})").ok());
  EXPECT_FALSE(ParseEnvelope(R"({"message_id":"x","kind":"other","created_at":"c",)"
                             R"("integrity_hash":"h","trace":{},"payload":{}})")
                   .ok());
  EXPECT_FALSE(ParseEnvelope(R"({"message_id":1,"kind":"ingest","created_at":"c",)"
                             R"("integrity_hash":"h","trace":{},"payload":{}})")
                   .ok());
  EXPECT_FALSE(ParseEnvelope(R"({"message_id":"x","kind":"ingest","created_at":"c",)"
                             R"("integrity_hash":"h","trace":{}})")
                   .ok());
  Result<Envelope> ok = ParseEnvelope(R"({"message_id":"x","kind":"ingest","created_at":"c",)"
                                      R"("integrity_hash":"h","trace":{},"payload":{}})");
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE(VerifyIntegrity(*ok));  // "h" is not the hash of {}
}

}  // namespace
}  // namespace vv::queue

// Producer delivery: retries with fresh timestamp + nonce per attempt, same event, final 4xx,
// backoff with full jitter, federation bundle (A.5) and the graph request shape.
#include <gtest/gtest.h>

#include <set>

#include "client/producer_test_support.h"
#include "crypto/crypto.h"
#include "fakes/fake_clock.h"
#include "spectrastrike/producer.h"

namespace spectrastrike {
namespace {

using namespace spectrastrike::test_support;  // NOLINT
using vv::json::Value;

class ProducerRetryTest : public ::testing::Test {
 protected:
  ProducerRetryTest() : signer_(ProducerSigner()), sleeper_(&clock_) {}

  Producer Make(int max_attempts = 4) {
    ProducerOptions o;
    o.identity = A2Identity();
    o.retry.max_attempts = max_attempts;
    o.retry.backoff_ms = 100;
    o.retry.jitter_ms = 10;
    o.retry.max_backoff_ms = 1000;
    return Producer(o, signer_, transport_, clock_, random_, sleeper_);
  }
  PreparedEvent Event(const std::string& id = "evt-1") {
    return *PrepareEvent(A2Payload(id), A2Identity());
  }

  RequestSigner signer_;
  ScriptedTransport transport_;
  vv::testing::FakeClock clock_{1772107200};
  vv::testing::FakeRandom random_;
  RecordingSleeper sleeper_;
};

TEST_F(ProducerRetryTest, RetriesTransientFailuresWithFreshTimestampAndNonceSameEvent) {
  transport_.Push(503, R"({"detail":"Telemetry queue publish failed"})");
  transport_.Push(429, R"({"detail":"Operator burst anomaly detected"})");
  transport_.PushNetworkError();
  transport_.Push(502);
  transport_.Push(202, R"({"accepted":true,"request_id":"r"})");
  Producer p = Make(5);
  DeliveryResult r = p.Send(Event());
  EXPECT_EQ(r.outcome, Outcome::kAccepted);
  EXPECT_EQ(r.attempts, 5);
  ASSERT_EQ(transport_.calls.size(), 5u);
  std::set<std::string> nonces;
  auto pub = vv::crypto::Ed25519PublicKey::FromBase64(signer_.PublicKeyB64());
  for (const auto& c : transport_.calls) {
    EXPECT_EQ(c.target, "/internal/v1/telemetry");
    auto body = vv::json::Parse(c.body);
    ASSERT_TRUE(body.ok());
    // Same event and idempotency key every time.
    EXPECT_EQ(body->Find("payload")->Find("event_id")->as_string(), "evt-1");
    EXPECT_EQ(c.Header("Idempotency-Key"), body->Find("execution_hash")->as_string());
    // Body and headers agree; the signature covers exactly these bytes.
    std::string ts = c.Header("X-Telemetry-Timestamp");
    std::string nonce = c.Header("X-Telemetry-Nonce");
    EXPECT_EQ(std::to_string(*body->Find("timestamp")->as_int64()), ts);
    EXPECT_EQ(body->Find("nonce")->as_string(), nonce);
    EXPECT_EQ(nonce.size(), 24u);
    auto sig = vv::Base64DecodeStrict(c.Header("X-Telemetry-Signature"));
    ASSERT_TRUE(sig.has_value());
    EXPECT_TRUE(pub->Verify(ts + "." + nonce + "." + c.body, *sig));
    nonces.insert(nonce);
  }
  EXPECT_EQ(nonces.size(), 5u);
  // The clock advanced by the backoff: the last attempt is signed later than the first.
  EXPECT_GT(std::stoll(transport_.calls.back().Header("X-Telemetry-Timestamp")) * 1000000 +
                999999,
            std::stoll(transport_.calls.front().Header("X-Telemetry-Timestamp")) * 1000000);
  EXPECT_EQ(sleeper_.delays.size(), 4u);
}

TEST_F(ProducerRetryTest, TimestampIsSigningTimeNotTheEventsOwnTime) {
  transport_.Push(202);
  Producer p = Make();
  clock_.SetSeconds(1800000000);
  p.Send(Event());
  EXPECT_EQ(transport_.calls[0].Header("X-Telemetry-Timestamp"), "1800000000");
}

TEST_F(ProducerRetryTest, FinalClientErrorsAreNotRetried) {
  for (int status : {400, 401, 403, 409, 413, 415, 422, 500}) {
    transport_.calls.clear();
    ScriptedTransport fresh;
    transport_ = fresh;
    transport_.Push(status, R"({"detail":"nope"})");
    Producer p = Make();
    DeliveryResult r = p.Send(Event());
    EXPECT_EQ(r.outcome, Outcome::kRejected) << status;
    EXPECT_EQ(r.attempts, 1) << status;
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.detail, "nope");
    EXPECT_EQ(transport_.calls.size(), 1u) << status;
  }
}

TEST_F(ProducerRetryTest, GivesUpAfterMaxAttemptsAndReportsTheLastReason) {
  transport_.Push(503, R"({"detail":"Nonce store unavailable"})");
  Producer p = Make(3);
  DeliveryResult r = p.Send(Event());
  EXPECT_EQ(r.outcome, Outcome::kExhausted);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(r.detail, "Nonce store unavailable");
  EXPECT_EQ(transport_.calls.size(), 3u);
  EXPECT_EQ(sleeper_.delays.size(), 2u);
}

TEST_F(ProducerRetryTest, NetworkErrorsAreRetried) {
  transport_.PushNetworkError();
  transport_.Push(202);
  Producer p = Make();
  EXPECT_TRUE(p.Send(Event()).ok());
  EXPECT_EQ(transport_.calls.size(), 2u);
}

TEST(BackoffTest, FullJitterStaysWithinTheExponentialCeilingPlusJitter) {
  RetryPolicy policy;
  policy.backoff_ms = 100;
  policy.jitter_ms = 50;
  policy.max_backoff_ms = 10000;
  SystemRandom rng;
  for (int retry = 1; retry <= 10; ++retry) {
    int64_t ceiling = std::min<int64_t>(10000, 100LL << (retry - 1));
    int64_t max_seen = 0;
    for (int i = 0; i < 200; ++i) {
      int64_t d = BackoffDelayMs(policy, retry, rng);
      ASSERT_GE(d, 0);
      ASSERT_LE(d, std::min<int64_t>(ceiling + 50, 10000)) << retry;
      max_seen = std::max(max_seen, d);
    }
    if (retry >= 3) {
      EXPECT_GT(max_seen, ceiling / 2) << "jitter should spread delays";
    }
  }
}

TEST(BackoffTest, RetryAfterRaisesTheDelayButNotAboveTheCap) {
  RetryPolicy policy;
  policy.backoff_ms = 10;
  policy.jitter_ms = 0;
  policy.max_backoff_ms = 5000;
  SystemRandom rng;
  HttpResponse r;
  r.transport_ok = true;
  r.status = 429;
  r.headers.emplace_back("Retry-After", "2");
  EXPECT_EQ(BackoffDelayMs(policy, 1, rng, &r), 2000);
  r.headers[0].second = "60";
  EXPECT_EQ(BackoffDelayMs(policy, 1, rng, &r), 5000);
  r.headers[0].second = "soon";
  EXPECT_LE(BackoffDelayMs(policy, 1, rng, &r), 10);
}

TEST(RetryClassificationTest, OnlyTransientStatusesAreRetryable) {
  for (int s : {429, 502, 503, 504}) EXPECT_TRUE(IsRetryableStatus(s)) << s;
  for (int s : {200, 202, 400, 401, 403, 409, 413, 415, 422, 500, 501})
    EXPECT_FALSE(IsRetryableStatus(s)) << s;
}

TEST_F(ProducerRetryTest, FederationBundleMatchesVectorA5) {
  Producer p = Make();
  FederationBundle b = p.BuildBundle(std::string(64, 'f'), 1772107200, "nonce-federation-00000001");
  EXPECT_EQ(b.Message(), "op-001|cmp-001|" + std::string(64, 'f') +
                             "|1772107200|nonce-federation-00000001");
  EXPECT_EQ(b.signature,
            "ROXfV7V7SPgHvwfvt7Nrgnn/pmxi8r80kMcjPyCcfPDW472mRo+AAjIGkKPQXZmvd3GcXmxOkWALL8f7flWXAw==");
  EXPECT_EQ(b.BundleHash(), "7262fd3691290de5a42514de68c0da5194f2f45024b074abf473a225c014e9b9");
}

TEST_F(ProducerRetryTest, FederateChecksTheReturnedBundleHash) {
  transport_.Push(200, R"({"accepted":true,"bundle_hash":"0000"})");
  Producer p = Make();
  DeliveryResult r = p.Federate(std::string(64, 'a'));
  EXPECT_EQ(r.outcome, Outcome::kRejected);
  ASSERT_EQ(transport_.calls.size(), 1u);
  const auto& c = transport_.calls[0];
  EXPECT_EQ(c.target, "/internal/v1/federation/verify");
  EXPECT_EQ(c.Header("X-Service-Identity"), "spectrastrike-producer");
  auto body = vv::json::Parse(c.body);
  ASSERT_TRUE(body.ok());
  const Value* b = body->Find("bundle");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->as_object().size(), 6u);
  EXPECT_GE(b->Find("nonce")->as_string().size(), 12u);
}

TEST_F(ProducerRetryTest, GraphRequestFollowsTheReferenceDerivation) {
  const std::string graph_json =
      R"({"graph_id":"g1","actor":"op-009","execution_fingerprint":"ABCDEF0000000000000000000000000000000000000000000000000000000000","target_urn":"urn:target:ip:10.0.0.5","nodes":[]})";
  auto graph = vv::json::Parse(graph_json);
  Producer p = Make();
  auto body = p.BuildGraphRequest(graph_json, 1772107200, "graph-nonce-1234");
  ASSERT_TRUE(body.ok()) << body.status().message();
  auto req = vv::json::Parse(*body);
  ASSERT_TRUE(req.ok());
  std::string fp = "abcdef" + std::string(58, '0');
  EXPECT_EQ(req->Find("operator_id")->as_string(), "op-009");
  EXPECT_EQ(req->Find("tenant_id")->as_string(), kTenant);
  EXPECT_EQ(req->Find("execution_fingerprint")->as_string(), fp);
  EXPECT_EQ(req->Find("schema_version")->as_string(), "execution.graph.v1");
  EXPECT_EQ(req->Find("attestation_measurement_hash")->as_string(),
            vv::crypto::Sha256Hex(fp + "|" + kTenant + "|attestation"));
  EXPECT_EQ(*req->Find("graph"), *graph);
  EXPECT_FALSE(p.BuildGraphRequest(R"({"execution_fingerprint":"short"})", 1, "n").ok());
}

}  // namespace
}  // namespace spectrastrike

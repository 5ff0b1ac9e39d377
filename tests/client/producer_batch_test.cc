// Producer::SendBatch: one signed NDJSON request to the batch endpoint (every line stamped with
// the request's timestamp and nonce, the signature over the whole body), per-event results from
// the 207, per-event retry of retryable outcomes with a fresh signature, whole-batch retry, and
// the fallback to single sends when the gateway has no batch endpoint (404/405).
#include <gtest/gtest.h>

#include "client/producer_test_support.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/fake_clock.h"
#include "spectrastrike/producer.h"

namespace spectrastrike {
namespace {

using namespace spectrastrike::test_support;  // NOLINT
using vv::json::Value;

class ProducerBatchTest : public ::testing::Test {
 protected:
  ProducerBatchTest() : signer_(ProducerSigner()), sleeper_(&clock_) {}

  Producer Make(int max_attempts = 3) {
    ProducerOptions o;
    o.identity = A2Identity();
    o.retry.max_attempts = max_attempts;
    o.retry.backoff_ms = 100;
    o.retry.jitter_ms = 10;
    o.retry.max_backoff_ms = 1000;
    return Producer(o, signer_, transport_, clock_, random_, sleeper_);
  }
  std::vector<PreparedEvent> Events(int n) {
    std::vector<PreparedEvent> out;
    for (int i = 0; i < n; ++i)
      out.push_back(*PrepareEvent(A2Payload("evt-" + std::to_string(i)), A2Identity()));
    return out;
  }
  // A 207 body with these per-event statuses.
  static std::string Multi(const std::vector<int>& statuses) {
    Value results = Value::MakeArray();
    for (size_t i = 0; i < statuses.size(); ++i) {
      Value r = Value::MakeObject();
      r.Set("index", static_cast<int64_t>(i));
      r.Set("status", statuses[i]);
      if (statuses[i] != 202) r.Set("detail", "reason " + std::to_string(statuses[i]));
      results.Push(std::move(r));
    }
    Value b = Value::MakeObject();
    b.Set("results", std::move(results));
    return vv::json::Canonical(b);
  }
  static std::vector<std::string> Lines(const std::string& body) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t nl; (nl = body.find('\n', start)) != std::string::npos; start = nl + 1)
      out.push_back(body.substr(start, nl - start));
    EXPECT_EQ(start, body.size()) << "every line ends with \\n";
    return out;
  }

  RequestSigner signer_;
  ScriptedTransport transport_;
  vv::testing::FakeClock clock_{1772107200};
  vv::testing::FakeRandom random_;
  RecordingSleeper sleeper_;
};

TEST_F(ProducerBatchTest, OneSignedNdjsonRequestWithPerEventResults) {
  transport_.Push(207, Multi({202, 422, 202}));
  Producer p = Make();
  auto rs = p.SendBatch(Events(3));
  ASSERT_EQ(transport_.calls.size(), 1u);
  const auto& c = transport_.calls[0];
  EXPECT_EQ(c.target, kTelemetryBatchPath);
  EXPECT_EQ(c.Header("Content-Type"), "application/x-ndjson");
  const std::string ts = c.Header("X-Telemetry-Timestamp");
  const std::string nonce = c.Header("X-Telemetry-Nonce");
  auto lines = Lines(c.body);
  ASSERT_EQ(lines.size(), 3u);
  for (size_t i = 0; i < lines.size(); ++i) {
    Value v = *vv::json::Parse(lines[i]);
    EXPECT_EQ(v.Find("timestamp")->int_text(), ts);
    EXPECT_EQ(v.Find("nonce")->as_string(), nonce);
    EXPECT_EQ(v.Find("payload")->Find("event_id")->as_string(), "evt-" + std::to_string(i));
  }
  // The signature covers "{ts}.{nonce}." + the whole body.
  auto pub = vv::crypto::Ed25519PrivateKey::FromSeed(*vv::HexDecode(kProducerSeedHex))->PublicKey();
  EXPECT_TRUE(pub.Verify(ts + "." + nonce + "." + c.body,
                         *vv::Base64DecodeLenient(c.Header("X-Telemetry-Signature"))));
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].outcome, Outcome::kAccepted);
  EXPECT_EQ(rs[1].outcome, Outcome::kRejected);
  EXPECT_EQ(rs[1].status, 422);
  EXPECT_EQ(rs[1].detail, "reason 422");
  EXPECT_EQ(rs[2].outcome, Outcome::kAccepted);
  EXPECT_TRUE(p.batch_supported());
}

TEST_F(ProducerBatchTest, RetryableEventsGoAgainReSignedTheOthersAreFinal) {
  transport_.Push(207, Multi({202, 429, 401}));
  transport_.Push(207, Multi({202}));
  Producer p = Make();
  auto rs = p.SendBatch(Events(3));
  ASSERT_EQ(transport_.calls.size(), 2u);
  auto second = Lines(transport_.calls[1].body);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(vv::json::Parse(second[0])->Find("payload")->Find("event_id")->as_string(), "evt-1");
  EXPECT_NE(transport_.calls[1].Header("X-Telemetry-Nonce"),
            transport_.calls[0].Header("X-Telemetry-Nonce"));
  EXPECT_EQ(rs[0].outcome, Outcome::kAccepted);
  EXPECT_EQ(rs[1].outcome, Outcome::kAccepted);
  EXPECT_EQ(rs[1].attempts, 2);
  EXPECT_EQ(rs[2].outcome, Outcome::kRejected);
  EXPECT_EQ(rs[2].status, 401);
}

TEST_F(ProducerBatchTest, WholeBatchFailuresAreRetriedThenReported) {
  transport_.Push(503, R"({"detail":"Telemetry queue publish failed"})");
  transport_.PushNetworkError();
  transport_.Push(503, R"({"detail":"Telemetry queue publish failed"})");
  Producer p = Make(3);
  auto rs = p.SendBatch(Events(2));
  EXPECT_EQ(transport_.calls.size(), 3u);
  for (const auto& r : rs) {
    EXPECT_EQ(r.outcome, Outcome::kExhausted);
    EXPECT_EQ(r.detail, "Telemetry queue publish failed");
  }
}

TEST_F(ProducerBatchTest, FinalWholeBatchAnswersAreNotRetried) {
  transport_.Push(409, R"({"detail":"Replay detected: nonce already used"})");
  Producer p = Make(3);
  auto rs = p.SendBatch(Events(2));
  EXPECT_EQ(transport_.calls.size(), 1u) << "a final whole-batch answer is not retried";
  EXPECT_EQ(rs[0].outcome, Outcome::kRejected);
}

TEST_F(ProducerBatchTest, FallsBackToSingleSendsWhenTheGatewayHasNoBatchEndpoint) {
  transport_.Push(404, R"({"detail":"Not Found"})");
  transport_.Push(202, R"({"accepted":true})");
  Producer p = Make();
  auto rs = p.SendBatch(Events(2));
  ASSERT_EQ(transport_.calls.size(), 3u);
  EXPECT_EQ(transport_.calls[0].target, kTelemetryBatchPath);
  EXPECT_EQ(transport_.calls[1].target, kTelemetryPath);
  EXPECT_EQ(transport_.calls[2].target, kTelemetryPath);
  EXPECT_EQ(transport_.calls[1].Header("Content-Type"), "application/json");
  EXPECT_EQ(rs[0].outcome, Outcome::kAccepted);
  EXPECT_EQ(rs[1].outcome, Outcome::kAccepted);
  EXPECT_FALSE(p.batch_supported());
  // Remembered: the next batch goes straight to single sends.
  transport_.calls.clear();
  rs = p.SendBatch(Events(2));
  ASSERT_EQ(transport_.calls.size(), 2u);
  EXPECT_EQ(transport_.calls[0].target, kTelemetryPath);
}

TEST_F(ProducerBatchTest, FallsBackOn405Too) {
  transport_.Push(405, R"({"detail":"Method Not Allowed"})");
  transport_.Push(202, R"({"accepted":true})");
  Producer p = Make();
  auto rs = p.SendBatch(Events(1));
  EXPECT_EQ(rs[0].outcome, Outcome::kAccepted);
  EXPECT_FALSE(p.batch_supported());
}

TEST_F(ProducerBatchTest, MalformedMultiStatusIsReportedNotGuessed) {
  transport_.Push(207, Multi({202}));  // one result for two events
  Producer p = Make();
  auto rs = p.SendBatch(Events(2));
  EXPECT_EQ(transport_.calls.size(), 1u);
  for (const auto& r : rs) {
    EXPECT_EQ(r.outcome, Outcome::kRejected);
    EXPECT_EQ(r.detail, "malformed batch response");
  }
  EXPECT_TRUE(p.SendBatch({}).empty());
}

}  // namespace
}  // namespace spectrastrike

// CognitiveService with fakes: graph then signed query, the feedback query's own rate limit
// ("feedback:<operator>", separate from "graph:<operator>"), nonce released on 429/503 so the
// same signed bytes can be retried, store failures are 503 (never 500) and audited.

#include "app/cognitive_service.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "app/gateway_fixture.h"

namespace vv::app {
namespace {

using testkit::kNow;

class FakeGraphStore final : public cognitive::GraphStore {
 public:
  Status Append(const cognitive::GraphRecord& r) override {
    if (fail) return Status::Unavailable("injected");
    records.push_back(r);
    return Status::Ok();
  }
  Result<std::vector<cognitive::GraphRecord>> Latest(std::string_view tenant, int limit) override {
    if (fail) return Status::Unavailable("injected");
    std::vector<cognitive::GraphRecord> out;
    for (const auto& r : records)
      if (r.tenant_id == tenant) out.push_back(r);
    if (out.size() > static_cast<size_t>(limit)) out.erase(out.begin(), out.end() - limit);
    return out;
  }
  Status Health() override { return Status::Ok(); }
  bool fail = false;
  std::vector<cognitive::GraphRecord> records;
};

class CognitiveServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cfg = testkit::ProducerConfig(/*rate=*/2);
    nonces_ = std::make_unique<state::MemoryNonceStore>(clock_);
    limiter_ = std::make_unique<state::MemoryRateLimiter>(clock_, 2);
    std::map<std::string, crypto::Ed25519PrivateKey> keys;
    keys.emplace("kid-001", crypto::Ed25519PrivateKey::Generate());
    signer_ = cognitive::FeedbackSigner::FromKeys(std::move(keys), "kid-001").value();
    CognitiveDeps d;
    d.config = cfg;
    d.clock = &clock_;
    d.random = &random_;
    d.nonces = nonces_.get();
    d.limiter = limiter_.get();
    d.audit = &audit_;
    d.graphs = &store_;
    d.signer = signer_;
    service_ = std::make_unique<CognitiveService>(std::move(d));
  }

  http::Response Send(const std::string& path, const json::Value& body) {
    auto s = testing::SignBody(body, body.Find("timestamp")->as_int64().value(),
                               body.Find("nonce")->as_string());
    http::Response out;
    service_->Handle(testkit::SignedProducerPost(path, "application/json", s.ts, s.nonce,
                                                 s.signature_b64, s.body),
                     [&](http::Response resp) { out = std::move(resp); });
    return out;
  }
  json::Value Query(const std::string& nonce) {
    json::Value b = json::Value::MakeObject();
    b.Set("operator_id", "op-001");
    b.Set("tenant_id", testing::kTenant1);
    b.Set("timestamp", kNow);
    b.Set("nonce", nonce);
    return b;
  }
  json::Value Graph(const std::string& nonce, int nodes) {
    json::Value g = json::Value::MakeObject();
    json::Value ns = json::Value::MakeArray();
    for (int i = 0; i < nodes; ++i) ns.Push(json::Value(i));
    g.Set("nodes", std::move(ns));
    g.Set("target_urn", "urn:target:ip:10.0.0.5");
    json::Value b = json::Value::MakeObject();
    b.Set("operator_id", "op-001");
    b.Set("tenant_id", testing::kTenant1);
    b.Set("execution_fingerprint", std::string(64, 'c'));
    b.Set("timestamp", kNow);
    b.Set("nonce", nonce);
    b.Set("schema_version", "execution.graph.v1");
    b.Set("attestation_measurement_hash", std::string(64, 'c'));
    b.Set("graph", std::move(g));
    return b;
  }

  testing::FakeClock clock_{kNow};
  testing::FakeRandom random_;
  std::unique_ptr<state::MemoryNonceStore> nonces_;
  std::unique_ptr<state::MemoryRateLimiter> limiter_;
  std::shared_ptr<const cognitive::FeedbackSigner> signer_;
  FakeGraphStore store_;
  testing::RecordingAuditSink audit_;
  std::unique_ptr<CognitiveService> service_;
};

TEST_F(CognitiveServiceTest, GraphThenSignedQueryWithEightNodesTightens) {
  auto g = Send(std::string(kExecutionGraphPath), Graph("nonce-graph-0001", 8));
  ASSERT_EQ(g.status, 202) << g.body;
  EXPECT_EQ(audit_.records().back().event_type, "cognitive.graph.accepted");
  auto q = Send(std::string(kFeedbackQueryPath), Query("nonce-query-0001"));
  ASSERT_EQ(q.status, 200) << q.body;
  auto j = json::Parse(q.body).value();
  const json::Value& item = j.Find("data")->as_array().at(0);
  EXPECT_EQ(item.Find("action")->as_string(), "tighten");
  std::string input = cognitive::FeedbackSigningInput(
      testing::kTenant1, *j.Find("signed_at")->as_int64(), j.Find("nonce")->as_string(),
      "feedback.response.v1", "kid-001", *j.Find("data"));
  EXPECT_TRUE(signer_->PublicKey("kid-001")->Verify(
      input, *Base64DecodeStrict(j.Find("signature")->as_string())));
  EXPECT_EQ(audit_.records().back().event_type, "cognitive.feedback.issued");
}

TEST_F(CognitiveServiceTest, FeedbackQueryIsRateLimitedOnItsOwnKeyAndReleasesTheNonce) {
  ASSERT_EQ(Send(std::string(kFeedbackQueryPath), Query("nonce-query-0001")).status, 200);
  ASSERT_EQ(Send(std::string(kFeedbackQueryPath), Query("nonce-query-0002")).status, 200);
  auto limited = Send(std::string(kFeedbackQueryPath), Query("nonce-query-0003"));
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(audit_.records().back().event_type, "cognitive.feedback.rejected");
  // The graph endpoint has its own budget.
  EXPECT_EQ(Send(std::string(kExecutionGraphPath), Graph("nonce-graph-0001", 1)).status, 202);
  // The 429 gave the nonce back (transient), the accepted ones keep theirs burned.
  EXPECT_TRUE(nonces_->Register(state::NonceKey(kNow, "nonce-query-0003"), 120).ok());
  EXPECT_EQ(nonces_->Register(state::NonceKey(kNow, "nonce-query-0001"), 120).code(),
            StatusCode::kAlreadyExists);
}

TEST_F(CognitiveServiceTest, StoreFailureIs503AndAuditedAndTheRetrySucceeds) {
  store_.fail = true;
  auto r = Send(std::string(kExecutionGraphPath), Graph("nonce-graph-0009", 2));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(audit_.records().back().event_type, "cognitive.graph.rejected");
  store_.fail = false;
  auto retry = Send(std::string(kExecutionGraphPath), Graph("nonce-graph-0009", 2));
  EXPECT_EQ(retry.status, 202) << retry.body;
}

}  // namespace
}  // namespace vv::app

// The producer (library over real HTTPS + mTLS, and the ss-producer binary) against an
// in-process fake of the federation / execution-graph / feedback endpoints: round trips,
// 503/429 sequences retried with fresh nonces, forged and replayed feedback refused.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "client/fake_cognitive_gateway.h"
#include "client/producer_test_support.h"
#include "fakes/process.h"
#include "fakes/temp_dir.h"
#include "spectrastrike/producer.h"
#include "tls/pki_fixture.h"

namespace spectrastrike {
namespace {

using namespace spectrastrike::test_support;  // NOLINT
using vv::json::Value;
using vv::testing::DevPki;

const std::string kFp = "ab" + std::string(62, '1');

// An execution graph as JSON text.
std::string Graph(int nodes = 2) {
  Value g = Value::MakeObject();
  g.Set("graph_id", "g-1");
  g.Set("operator_id", "op-001");
  g.Set("tenant_id", kTenant);
  g.Set("execution_fingerprint", kFp);
  g.Set("target_urn", "urn:target:ip:10.0.0.5");
  Value n = Value::MakeArray();
  for (int i = 0; i < nodes; ++i) {
    Value node = Value::MakeObject();
    node.Set("id", "n" + std::to_string(i));
    n.Push(node);
  }
  g.Set("nodes", n);
  return vv::json::Canonical(g);
}

class ProducerFakeGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = DevPki::Get();
    ASSERT_NE(pki_, nullptr);
    vv::http::ServerOptions o;
    o.threads = 1;
    o.tls.cert_path = pki_->Crt("gateway");
    o.tls.key_path = pki_->Key("gateway");
    o.tls.ca_path = pki_->Crt("ca");
    o.shutdown_grace_seconds = 1;
    auto s = vv::http::Server::Create(o, fake_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(s).value();
    server_->Start();
  }

  std::unique_ptr<HttpsClient> Client() {
    TlsClientConfig c;
    c.ca_path = pki_->Crt("ca");
    c.cert_path = pki_->Crt("producer");
    c.key_path = pki_->Key("producer");
    c.server_name = "localhost";
    return std::make_unique<HttpsClient>("127.0.0.1", server_->port(), c);
  }

  // A producer config for ss-producer pointing at the fake.
  std::string WriteConfig() {
    std::string seed;
    for (int i = 0; i < 32; ++i) seed.push_back(static_cast<char>(i));
    vv::testing::WriteFile(dir_.File("k.seed"), seed, 0600);
    std::ostringstream y;
    y << "spectrastrike:\n  producer:\n"
      << "    endpoint: https://127.0.0.1:" << server_->port() << "\n"
      << "    operator_id: op-001\n    tenant_id: " << kTenant << "\n    campaign_id: cmp-001\n"
      << "    mtls:\n      cert_path: " << pki_->Crt("producer") << "\n      key_path: "
      << pki_->Key("producer") << "\n      ca_path: " << pki_->Crt("ca")
      << "\n      server_name: localhost\n"
      << "    signing:\n      private_key_path: " << dir_.File("k.seed") << "\n"
      << "    retry:\n      max_attempts: 4\n      backoff_ms: 5\n      jitter_ms: 5\n"
      << "    feedback:\n      verify_keys:\n        kid-001: Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=\n"
      << "      replay_cache_path: " << dir_.File("fb.cache") << "\n";
    vv::testing::WriteFile(dir_.File("p.yaml"), y.str(), 0600);
    return dir_.File("p.yaml");
  }
  int Cli(const std::vector<std::string>& args, std::string* out) {
    std::vector<std::string> argv = {std::string(VV_BIN_DIR) + "/ss-producer", "--config",
                                     WriteConfig(), "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    return vv::testing::RunCommand(argv, out);
  }

  const DevPki* pki_ = nullptr;
  FakeCognitiveGateway fake_;
  std::unique_ptr<vv::http::Server> server_;
  vv::testing::TempDir dir_;
  SystemClock clock_;
  SystemRandom random_;
  RecordingSleeper sleeper_;
};

TEST_F(ProducerFakeGatewayTest, GraphThenVerifiedFeedbackRoundTripOverMtls) {
  auto http = Client();
  HttpsTransport transport(*http);
  RequestSigner signer = ProducerSigner();
  ProducerOptions o;
  o.identity = A2Identity();
  Producer p(o, signer, transport, clock_, random_, sleeper_);
  ASSERT_TRUE(p.SendGraph(Graph(9)).ok());
  auto cache = ReplayCache::Open("");
  FeedbackKeys keys;
  keys.emplace("kid-001", vv::crypto::Ed25519PublicKey::FromBase64(
                              "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=")
                              ->raw());
  FeedbackVerifier verifier(keys, **cache, clock_);
  FeedbackAnchors anchors = *FeedbackAnchors::FromGraph(Graph());
  auto fb = p.QueryFeedback(10, verifier, &anchors);
  ASSERT_TRUE(fb.ok()) << fb.status().message();
  ASSERT_EQ(fb->items.size(), 1u);
  auto item = vv::json::Parse(fb->items[0]);
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->Find("action")->as_string(), "tighten");
  EXPECT_EQ(item->Find("execution_fingerprint")->as_string(), kFp);

  // A forged response is refused.
  fake_.ForgeNextFeedback();
  auto forged = p.QueryFeedback(10, verifier);
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.status().message(), "feedback response signature verification failed");
  // A replayed response nonce is refused.
  fake_.FixFeedbackNonce("replayed-nonce-0001");
  ASSERT_TRUE(p.QueryFeedback(10, verifier).ok());
  auto replay = p.QueryFeedback(10, verifier);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.status().message(), "feedback replay detected: nonce already used");
}

TEST_F(ProducerFakeGatewayTest, TransientFailuresAreRetriedWithFreshNoncesOverTheWire) {
  fake_.FailNext({503, 429, 502});
  auto http = Client();
  HttpsTransport transport(*http);
  RequestSigner signer = ProducerSigner();
  ProducerOptions o;
  o.identity = A2Identity();
  o.retry.max_attempts = 4;
  Producer p(o, signer, transport, clock_, random_, sleeper_);
  DeliveryResult r = p.SendGraph(Graph());
  EXPECT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.attempts, 4);
  auto reqs = fake_.requests();
  ASSERT_EQ(reqs.size(), 4u);
  std::set<std::string> nonces;
  for (const auto& q : reqs) nonces.insert(*q.Header("x-telemetry-nonce"));
  EXPECT_EQ(nonces.size(), 4u);
  EXPECT_EQ(sleeper_.delays.size(), 3u);
}

TEST_F(ProducerFakeGatewayTest, FederationBundleIsVerifiedByTheFake) {
  auto http = Client();
  HttpsTransport transport(*http);
  RequestSigner signer = ProducerSigner();
  ProducerOptions o;
  o.identity = A2Identity();
  Producer p(o, signer, transport, clock_, random_, sleeper_);
  DeliveryResult r = p.Federate(std::string(64, 'f'));
  EXPECT_TRUE(r.ok()) << r.detail;
  // A bundle signed by another key is refused (401, final).
  RequestSigner other = *RequestSigner::FromSeed(std::string(32, '\x07'));
  Producer bad(o, other, transport, clock_, random_, sleeper_);
  DeliveryResult rb = bad.Federate(std::string(64, 'f'));
  EXPECT_EQ(rb.outcome, Outcome::kRejected);
  EXPECT_EQ(rb.status, 401);
  EXPECT_EQ(rb.detail, "Federation proof-of-origin verification failed");
}

TEST_F(ProducerFakeGatewayTest, CliGraphFeedbackAndFederateCommands) {
  vv::testing::WriteFile(dir_.File("graph.json"), Graph(3));
  std::string out;
  EXPECT_EQ(Cli({"graph", dir_.File("graph.json")}, &out), 0) << out;
  EXPECT_EQ(Cli({"feedback", "--limit", "5", "--graph", dir_.File("graph.json")}, &out), 0) << out;
  EXPECT_NE(out.find("\"verified\":true"), std::string::npos) << out;
  EXPECT_NE(out.find("\"action\":\"observe\""), std::string::npos) << out;
  // Forged feedback: exit 3 (verification failed; was 1), nothing printed as an adjustment.
  fake_.ForgeNextFeedback();
  EXPECT_EQ(Cli({"feedback"}, &out), 3) << out;
  EXPECT_EQ(out.find("\"action\""), std::string::npos) << out;
  // The replay cache persists across processes.
  fake_.FixFeedbackNonce("cli-fixed-nonce-01");
  EXPECT_EQ(Cli({"feedback"}, &out), 0) << out;
  EXPECT_EQ(Cli({"feedback"}, &out), 3) << out;
  EXPECT_NE(out.find("replay"), std::string::npos) << out;
  // Federation, after a 503.
  fake_.FailNext({503});
  EXPECT_EQ(Cli({"federate", "--execution-hash", std::string(64, 'e')}, &out), 0) << out;
  EXPECT_NE(out.find("bundle_hash"), std::string::npos) << out;
}

}  // namespace
}  // namespace spectrastrike

// Issue 8: GatewayService metrics (one rejected{status,reason} increment per rejection plus the
// class counters), hot reload of the config snapshot (key rotation with dual validation) and
// kill-switch revocation, driven through the service with in-process fakes.

#include <gtest/gtest.h>

#include "app/gateway_service.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "app/gateway_fixture.h"
#include "stats/metrics.h"
#include "stats/service_metrics.h"

namespace vv::app {
namespace {

using testing::kTenant1;
using testing::kTenant2;

using testkit::kNow;
using testkit::kPin;
constexpr const char* kNewSeedHex =
    "0101010101010101010101010101010101010101010101010101010101010101";

crypto::Ed25519PublicKey NewPublicKey() {
  return crypto::Ed25519PrivateKey::FromSeed(*HexDecode(kNewSeedHex)).value().PublicKey();
}

// The producer's configuration with its key bound to the identity as kid "old" (no defaults).
std::shared_ptr<config::GatewayConfig> MakeConfig() {
  auto cfg = testkit::ProducerConfig();
  cfg->default_signing_keys.clear();
  cfg->identities[0].signing_keys.push_back(
      {"old", crypto::Ed25519PublicKey::FromBase64(testing::kProducerPublicKeyB64).value()});
  return cfg;
}

class GatewayMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_ = MakeConfig();
    GatewayDeps d = fakes_.Deps(cfg_, /*rate=*/2);
    d.metrics = &metrics_;
    service_ = std::make_unique<GatewayService>(std::move(d));
    handler_ = std::make_unique<GatewayHandler>(service_->HandlerDeps());
  }

  http::Request Make(const std::string& body, const std::string& nonce, const std::string& sig,
                     const std::string& pin = kPin) {
    http::Request r = testkit::SignedProducerPost("/internal/v1/telemetry", "application/json",
                                                  kNow, nonce, sig, body);
    r.peer.cert_sha256_hex = pin;
    return r;
  }
  http::Request Valid(const std::string& nonce, const std::string& seed = testing::kProducerSeedHex,
                      const std::string& op = "op-001") {
    json::Value body = testing::MakeTelemetryBody(kNow, nonce, "evt-" + nonce);
    if (op != "op-001") {
      body.Set("operator_id", op);
      if (json::Value* sm = body.Find("signed_metadata"); sm && sm->is_object())
        sm->Set("operator_id", op);
    }
    auto s = testing::SignBody(body, kNow, nonce, seed);
    return Make(s.body, nonce, s.signature_b64);
  }
  int Send(http::Request r) {
    int status = 0;
    handler_->Handle(std::move(r), [&](http::Response resp) { status = resp.status; });
    return status;
  }
  uint64_t Rejected(int status, const std::string& reason) {
    return metrics_.Rejected(status, reason).value();
  }
  uint64_t TotalRejected() {
    uint64_t total = 0;
    metrics_.requests_rejected.ForEach(
        [&](const std::vector<std::string>&, const stats::Counter& c) { total += c.value(); });
    return total;
  }

  testkit::GatewayFakes fakes_;
  std::shared_ptr<config::GatewayConfig> cfg_;
  testing::RecordingPublisher& publisher_ = fakes_.publisher;
  testing::RecordingAuditSink& audit_ = fakes_.audit;
  stats::Registry registry_;
  stats::GatewayMetrics metrics_{registry_};
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<GatewayHandler> handler_;  // the listener's view: routes to service_
};

TEST_F(GatewayMetricsTest, AcceptedRequestCountsAcceptedAndLatencies) {
  ASSERT_EQ(Send(Valid("nonce-metrics-0001")), 202);
  EXPECT_EQ(metrics_.requests_accepted.value(), 1u);
  EXPECT_EQ(TotalRejected(), 0u);
  EXPECT_EQ(metrics_.verification_duration.count(), 1u);
  EXPECT_EQ(metrics_.queue_publish_duration.count(), 1u);
  EXPECT_EQ(metrics_.request_duration.count(), 1u);
}

TEST_F(GatewayMetricsTest, EachRejectionClassIncrementsExactlyOneReasonCounter) {
  // Bad signature.
  auto bad = Valid("nonce-metrics-0002");
  for (auto& [k, v] : bad.headers)
    if (k == "x-telemetry-signature") v = Base64Encode(std::string(64, 'x'));
  EXPECT_EQ(Send(std::move(bad)), 401);
  EXPECT_EQ(Rejected(401, "bad_signature"), 1u);
  EXPECT_EQ(metrics_.signature_failures.value(), 1u);
  EXPECT_EQ(TotalRejected(), 1u);
  EXPECT_EQ(metrics_.request_duration.count(), 1u) << "a rejection is answered too";

  // mTLS identity mismatch: a different certificate presented.
  auto s = testing::SignBody(testing::MakeTelemetryBody(kNow, "nonce-metrics-0003", "e3"), kNow,
                             "nonce-metrics-0003");
  EXPECT_EQ(Send(Make(s.body, "nonce-metrics-0003", s.signature_b64, std::string(64, 'b'))), 401);
  EXPECT_EQ(Rejected(401, "cert_pin_mismatch"), 1u);
  EXPECT_EQ(metrics_.mtls_identity_mismatches.value(), 1u);
  EXPECT_EQ(TotalRejected(), 2u);

  // Replay, per operator.
  ASSERT_EQ(Send(Valid("nonce-metrics-0004")), 202);
  EXPECT_EQ(Send(Valid("nonce-metrics-0004")), 409);
  EXPECT_EQ(Rejected(409, "replay"), 1u);
  EXPECT_EQ(metrics_.ReplayDetected("op-001").value(), 1u);
  EXPECT_EQ(TotalRejected(), 3u);

  // 422 with DLQ.
  std::string body = "{not json";
  EXPECT_EQ(Send(Make(body, "nonce-metrics-0005", testing::SignB64(kNow, "nonce-metrics-0005", body))),
            422);
  EXPECT_EQ(Rejected(422, "invalid_json"), 1u);
  EXPECT_EQ(metrics_.dlq_published.value(), 1u);
  EXPECT_EQ(TotalRejected(), 4u);

  // 415 and 405.
  auto ct = Valid("nonce-metrics-0006");
  for (auto& [k, v] : ct.headers)
    if (k == "content-type") v = "text/plain";
  EXPECT_EQ(Send(std::move(ct)), 415);
  EXPECT_EQ(Rejected(415, "unsupported_media_type"), 1u);
  auto get = Valid("nonce-metrics-0007");
  get.method = "GET";
  EXPECT_EQ(Send(std::move(get)), 405);
  EXPECT_EQ(Rejected(405, "method_not_allowed"), 1u);
  EXPECT_EQ(TotalRejected(), 6u);

  // Rate limit (2/min; one accepted so far): second accepted, third 429.
  ASSERT_EQ(Send(Valid("nonce-metrics-0008")), 202);
  EXPECT_EQ(Send(Valid("nonce-metrics-0009")), 429);
  EXPECT_EQ(Rejected(429, "rate_limited"), 1u);
  EXPECT_EQ(TotalRejected(), 7u);
  // The counters agree with the service's own rejection count (which leaves out the 405).
  EXPECT_EQ(service_->counters().rejected.load(), 7u - Rejected(405, "method_not_allowed"));
}

TEST_F(GatewayMetricsTest, QueueFailureCountsA503BackendErrorAndDlqFailure) {
  publisher_.SetFail(true);
  EXPECT_EQ(Send(Valid("nonce-metrics-0010")), 503);
  EXPECT_EQ(Rejected(503, "queue_publish_failed"), 1u);
  EXPECT_EQ(metrics_.BackendError("queue").value(), 1u);
  std::string body = "{not json";
  EXPECT_EQ(Send(Make(body, "nonce-metrics-0011", testing::SignB64(kNow, "nonce-metrics-0011", body))),
            422);
  EXPECT_EQ(metrics_.dlq_publish_failures.value(), 1u);
}

TEST_F(GatewayMetricsTest, AuditFailureCountsAuditAppendFailures) {
  audit_.SetFail(true);
  EXPECT_EQ(Send(Valid("nonce-metrics-0012")), 503);
  EXPECT_EQ(metrics_.audit_append_failures.value(), 1u);
  EXPECT_EQ(Rejected(503, "audit_unavailable"), 1u);
}

TEST_F(GatewayMetricsTest, HandshakeRejectionsAreClassified) {
  http::PeerInfo peer;
  peer.remote_address = "127.0.0.1:1";
  handler_->OnHandshakeFailed(peer, "peer did not return a certificate");
  handler_->OnHandshakeFailed(peer, "certificate verify failed (certificate revoked)");
  EXPECT_EQ(metrics_.HandshakeRejected("no_client_certificate").value(), 1u);
  EXPECT_EQ(metrics_.HandshakeRejected("certificate_revoked").value(), 1u);
  EXPECT_NE(registry_.Render().find("vv_gateway_tls_handshake_rejections_total{reason=\"certificate_revoked\"} 1"),
            std::string::npos);
}

TEST_F(GatewayMetricsTest, ReloadRotatesSigningKeyWithDualValidation) {
  // Before: the new key is unknown.
  EXPECT_EQ(Send(Valid("nonce-rot-0001", kNewSeedHex)), 401);
  // Stage: old + new.
  auto both = std::make_shared<config::GatewayConfig>(*cfg_);
  both->identities[0].signing_keys.push_back({"new", NewPublicKey()});
  handler_->Reload(both);
  service_->Reload(both);
  EXPECT_EQ(Send(Valid("nonce-rot-0002")), 202);
  EXPECT_EQ(Send(Valid("nonce-rot-0003", kNewSeedHex)), 202);
  // Retire the old key.
  auto only_new = std::make_shared<config::GatewayConfig>(*cfg_);
  only_new->identities[0].signing_keys = {{"new", NewPublicKey()}};
  handler_->Reload(only_new);
  service_->Reload(only_new);
  EXPECT_EQ(Send(Valid("nonce-rot-0004")), 401);
  EXPECT_EQ(Rejected(401, "bad_signature"), 2u);
  EXPECT_EQ(service_->config().get(), only_new.get());
}

TEST_F(GatewayMetricsTest, RevokedIdentityIs403IdentityRevokedAndAudited) {
  auto revoked = std::make_shared<config::GatewayConfig>(*cfg_);
  revoked->revoked_identities.insert("spectrastrike-producer");
  handler_->Reload(revoked);
  service_->Reload(revoked);
  EXPECT_EQ(Send(Valid("nonce-kill-0001")), 403);
  EXPECT_EQ(Rejected(403, "identity_revoked"), 1u);
  auto recs = audit_.records();
  ASSERT_FALSE(recs.empty());
  EXPECT_EQ(recs.back().details.Find("reason")->as_string(), "identity_revoked");
  // Released: accepted again.
  handler_->Reload(cfg_);
  service_->Reload(cfg_);
  EXPECT_EQ(Send(Valid("nonce-kill-0002")), 202);
}

}  // namespace
}  // namespace vv::app

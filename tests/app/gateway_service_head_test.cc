// GatewayService's transport hooks (issue 12): OnHead answers from the request head exactly as
// the full chain would (status, detail, reason, audit record) and lets everything else through;
// OnProtocolError / OnPeerRejected audit listener refusals with bounded, escaped request bytes.

#include <gtest/gtest.h>

#include "app/gateway_service.h"
#include "crypto/crypto.h"
#include "fakes/fake_backends.h"
#include "fakes/fake_clock.h"
#include "fakes/telemetry_builder.h"
#include "state/memory_state.h"

namespace vv::app {
namespace {

using testing::FakeClock;

constexpr int64_t kNow = 1772107200;
const std::string kPin(64, 'a');

class GatewayServiceHeadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cfg = std::make_shared<config::GatewayConfig>();
    config::ServiceIdentity id;
    id.id = "spectrastrike-producer";
    id.cert_sha256_pins = {kPin};
    cfg->identities.push_back(id);
    cfg->default_signing_keys.push_back(
        {"default", crypto::Ed25519PublicKey::FromBase64(testing::kProducerPublicKeyB64).value()});
    cfg->operator_tenant_map = {{"op-001", testing::kTenant1}};
    cfg->allowed_schema_versions = {"1.0", "2.0"};
    cfg_ = cfg;
    nonces_ = std::make_unique<state::MemoryNonceStore>(clock_);
    limiter_ = std::make_unique<state::MemoryRateLimiter>(clock_, 120);
    auto catalog = schema::MitreCatalog::Load();
    ASSERT_TRUE(catalog.ok());
    catalog_ = std::make_unique<schema::MitreCatalog>(std::move(catalog).value());
    Rebuild();
  }
  void Rebuild() {
    GatewayDeps d;
    d.config = cfg_;
    d.clock = &clock_;
    d.random = &random_;
    d.catalog = catalog_.get();
    d.nonces = nonces_.get();
    d.limiter = limiter_.get();
    d.publisher = &publisher_;
    d.audit = &audit_;
    service_ = std::make_unique<GatewayService>(std::move(d));
  }

  // A telemetry head from a pinned producer certificate, announcing a 100-byte body.
  http::Request Head(const std::string& path = "/internal/v1/telemetry") {
    http::Request r;
    r.method = "POST";
    r.target = path;
    r.headers = {{"content-type", "application/json"},
                 {"x-service-identity", "spectrastrike-producer"},
                 {"content-length", "100"}};
    r.content_length = 100;
    r.peer.has_certificate = true;
    r.peer.cert_sha256_hex = kPin;
    return r;
  }
  // What the full chain answers for the same head with a (non-empty) body.
  http::Response Full(http::Request r) {
    r.body = "{}";
    http::Response out;
    service_->Handle(std::move(r), [&](http::Response resp) { out = std::move(resp); });
    return out;
  }
  testing::AuditRecord LastAudit() {
    auto recs = audit_.records();
    return recs.empty() ? testing::AuditRecord{} : recs.back();
  }
  void ExpectSameAsFullChain(const http::Request& head, int status, const std::string& reason) {
    auto early = service_->OnHead(head);
    ASSERT_TRUE(early.has_value());
    EXPECT_EQ(early->status, status);
    auto a = LastAudit();
    ASSERT_TRUE(a.details.is_object());
    EXPECT_EQ(a.details.Find("reason")->as_string(), reason);
    EXPECT_EQ(a.details.Find("stage")->as_string(), "request_head");
    const std::string event = a.event_type;
    http::Response full = Full(head);
    EXPECT_EQ(full.status, early->status);
    EXPECT_EQ(full.body, early->body);
    EXPECT_EQ(LastAudit().event_type, event);
    EXPECT_EQ(LastAudit().details.Find("reason")->as_string(), reason);
  }

  FakeClock clock_{kNow};
  testing::FakeRandom random_;
  std::shared_ptr<const config::GatewayConfig> cfg_;
  std::unique_ptr<state::MemoryNonceStore> nonces_;
  std::unique_ptr<state::MemoryRateLimiter> limiter_;
  std::unique_ptr<schema::MitreCatalog> catalog_;
  testing::RecordingPublisher publisher_;
  testing::RecordingAuditSink audit_;
  std::unique_ptr<GatewayService> service_;
};

TEST_F(GatewayServiceHeadTest, PinnedIdentityPassesTheHead) {
  EXPECT_FALSE(service_->OnHead(Head()).has_value());
  EXPECT_TRUE(audit_.records().empty());
}

TEST_F(GatewayServiceHeadTest, IdentityFailuresAnsweredFromHeadAsTheChainWould) {
  auto missing = Head();
  missing.headers.erase(missing.headers.begin() + 1);
  ExpectSameAsFullChain(missing, 401, "missing_identity_header");
  auto unknown = Head();
  unknown.headers[1].second = "nobody";
  ExpectSameAsFullChain(unknown, 401, "unknown_identity");
  auto unpinned = Head();
  unpinned.peer.cert_sha256_hex = std::string(64, 'b');
  ExpectSameAsFullChain(unpinned, 401, "cert_pin_mismatch");
}

TEST_F(GatewayServiceHeadTest, KillSwitchRevocationAnsweredFromHead) {
  auto cfg = std::make_shared<config::GatewayConfig>(*cfg_);
  cfg->revoked_identities = {"spectrastrike-producer"};
  service_->Reload(cfg);
  ExpectSameAsFullChain(Head(), 403, "identity_revoked");
}

TEST_F(GatewayServiceHeadTest, ContentTypeComesBeforeIdentity) {
  auto r = Head();
  r.headers[0].second = "text/plain";
  r.peer.cert_sha256_hex = std::string(64, 'b');  // unpinned too: 415 still wins (M1 first)
  ExpectSameAsFullChain(r, 415, "unsupported_media_type");
}

TEST_F(GatewayServiceHeadTest, EmptyAndOversizedBodiesAreLeftToTheirOwnAnswers) {
  auto empty = Head();
  empty.content_length = 0;
  empty.peer.cert_sha256_hex = std::string(64, 'b');
  EXPECT_FALSE(service_->OnHead(empty).has_value());  // 422 (M2) comes before identity
  auto big = Head();
  big.content_length = cfg_->max_body_bytes + 1;
  big.peer.cert_sha256_hex = std::string(64, 'b');
  EXPECT_FALSE(service_->OnHead(big).has_value());  // the listener's 413 (M3)
  auto get = Head();
  get.method = "GET";
  get.peer.cert_sha256_hex = std::string(64, 'b');
  EXPECT_FALSE(service_->OnHead(get).has_value());  // 405 needs no body
  EXPECT_TRUE(audit_.records().empty());
}

TEST_F(GatewayServiceHeadTest, ProtocolErrorIsAuditedBoundedAndEscaped) {
  http::Request head;
  head.method = "POST";
  head.target = "/x\x01" + std::string(5000, 'p');
  head.peer.remote_address = "127.0.0.1:5555";
  service_->OnProtocolError(head, 400, "transfer_encoding_not_chunked", "");
  auto a = LastAudit();
  EXPECT_EQ(a.event_type, "http.rejected");
  EXPECT_EQ(a.details.Find("reason")->as_string(), "transfer_encoding_not_chunked");
  EXPECT_EQ(a.details.Find("detail")->as_string(), "Malformed HTTP request");
  const std::string path = a.details.Find("path")->as_string();
  EXPECT_LE(path.size(), 210u);
  EXPECT_EQ(path.rfind("/x\\x01", 0), 0u) << path;
}

TEST_F(GatewayServiceHeadTest, PeerRejectedIsAudited) {
  http::PeerInfo p;
  p.remote_address = "127.0.0.1:1";
  p.cert_sha256_hex = kPin;
  service_->OnPeerRejected(p, "client certificate no longer verifies: certificate revoked");
  auto a = LastAudit();
  EXPECT_EQ(a.event_type, "tls.connection_revoked");
  EXPECT_EQ(a.details.Find("cert_sha256")->as_string(), kPin);
}

}  // namespace
}  // namespace vv::app

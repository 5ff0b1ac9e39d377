// GatewayHandler's transport hooks (issue 12): OnHead answers from the request head exactly as
// the full chain would (status, detail, reason, audit record) and lets everything else through;
// OnProtocolError / OnPeerRejected audit listener refusals with bounded, escaped request bytes.

#include <gtest/gtest.h>

#include "app/gateway_service.h"
#include "crypto/crypto.h"
#include "app/gateway_fixture.h"

namespace vv::app {
namespace {


using testkit::kNow;
using testkit::kPin;

class GatewayHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_ = testkit::ProducerConfig();
    service_ = std::make_unique<GatewayService>(fakes_.Deps(cfg_));
    handler_ = std::make_unique<GatewayHandler>(service_->HandlerDeps());
  }

  // A telemetry head from a pinned producer certificate, announcing a 100-byte body.
  http::Request Head(const std::string& path = "/internal/v1/telemetry") {
    http::Request r = testkit::ProducerPost(path, "application/json");
    r.headers.emplace_back("content-length", "100");
    r.content_length = 100;
    return r;
  }
  // What the full chain answers for the same head with a (non-empty) body.
  http::Response Full(http::Request r) {
    r.body = "{}";
    return testkit::SendSync(*handler_, std::move(r));
  }
  testing::AuditRecord LastAudit() {
    auto recs = audit_.records();
    return recs.empty() ? testing::AuditRecord{} : recs.back();
  }
  void ExpectSameAsFullChain(const http::Request& head, int status, const std::string& reason) {
    auto early = handler_->OnHead(head);
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

  testkit::GatewayFakes fakes_;
  std::shared_ptr<const config::GatewayConfig> cfg_;
  testing::RecordingAuditSink& audit_ = fakes_.audit;
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<GatewayHandler> handler_;  // the listener's view: routes to service_
};

TEST_F(GatewayHandlerTest, PinnedIdentityPassesTheHead) {
  EXPECT_FALSE(handler_->OnHead(Head()).has_value());
  EXPECT_TRUE(audit_.records().empty());
}

TEST_F(GatewayHandlerTest, IdentityFailuresAnsweredFromHeadAsTheChainWould) {
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

TEST_F(GatewayHandlerTest, KillSwitchRevocationAnsweredFromHead) {
  auto cfg = std::make_shared<config::GatewayConfig>(*cfg_);
  cfg->revoked_identities = {"spectrastrike-producer"};
  handler_->Reload(cfg);
  service_->Reload(cfg);
  ExpectSameAsFullChain(Head(), 403, "identity_revoked");
}

TEST_F(GatewayHandlerTest, ContentTypeComesBeforeIdentity) {
  auto r = Head();
  r.headers[0].second = "text/plain";
  r.peer.cert_sha256_hex = std::string(64, 'b');  // unpinned too: 415 still wins (M1 first)
  ExpectSameAsFullChain(r, 415, "unsupported_media_type");
}

TEST_F(GatewayHandlerTest, EmptyAndOversizedBodiesAreLeftToTheirOwnAnswers) {
  auto empty = Head();
  empty.content_length = 0;
  empty.peer.cert_sha256_hex = std::string(64, 'b');
  EXPECT_FALSE(handler_->OnHead(empty).has_value());  // 422 (M2) comes before identity
  auto big = Head();
  big.content_length = cfg_->max_body_bytes + 1;
  big.peer.cert_sha256_hex = std::string(64, 'b');
  EXPECT_FALSE(handler_->OnHead(big).has_value());  // the listener's 413 (M3)
  auto get = Head();
  get.method = "GET";
  get.peer.cert_sha256_hex = std::string(64, 'b');
  EXPECT_FALSE(handler_->OnHead(get).has_value());  // 405 needs no body
  EXPECT_TRUE(audit_.records().empty());
}

TEST_F(GatewayHandlerTest, ProtocolErrorIsAuditedBoundedAndEscaped) {
  http::Request head;
  head.method = "POST";
  head.target = "/x\x01" + std::string(5000, 'p');
  head.peer.remote_address = "127.0.0.1:5555";
  handler_->OnProtocolError(head, 400, "transfer_encoding_not_chunked", "");
  auto a = LastAudit();
  EXPECT_EQ(a.event_type, "http.rejected");
  EXPECT_EQ(a.details.Find("reason")->as_string(), "transfer_encoding_not_chunked");
  EXPECT_EQ(a.details.Find("detail")->as_string(), "Malformed HTTP request");
  const std::string path = a.details.Find("path")->as_string();
  EXPECT_LE(path.size(), 210u);
  EXPECT_EQ(path.rfind("/x\\x01", 0), 0u) << path;
}

TEST_F(GatewayHandlerTest, PeerRejectedIsAudited) {
  http::PeerInfo p;
  p.remote_address = "127.0.0.1:1";
  p.cert_sha256_hex = kPin;
  handler_->OnPeerRejected(p, "client certificate no longer verifies: certificate revoked");
  auto a = LastAudit();
  EXPECT_EQ(a.event_type, "tls.connection_revoked");
  EXPECT_EQ(a.details.Find("cert_sha256")->as_string(), kPin);
}

}  // namespace
}  // namespace vv::app

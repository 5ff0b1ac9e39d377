// app/router.h (issue 13): the endpoint table, and GatewayService routing through it - the
// telemetry rows it owns plus the rows other services register (GatewayDeps::endpoints), each
// with its own method policy, head media type and rejection event.

#include "app/router.h"

#include <gtest/gtest.h>

#include "app/gateway_service.h"
#include "crypto/crypto.h"
#include "fakes/fake_backends.h"
#include "fakes/fake_clock.h"
#include "fakes/telemetry_builder.h"
#include "state/memory_state.h"

namespace vv::app {
namespace {

constexpr int64_t kNow = 1772107200;
const std::string kPin(64, 'a');

Endpoint Row(std::string_view path, bool router_refuses_other_methods, int* calls) {
  return {path, "other.rejected", "application/x-other", "Other endpoint only accepts x-other",
          router_refuses_other_methods, [calls](http::Request, http::Responder r) {
            ++*calls;
            r({200, "{}", "application/json"});
          }};
}

TEST(RouterTest, FindsRowsByExactPath) {
  int calls = 0;
  Router r;
  r.Add(Row("/a", true, &calls));
  r.Add(std::vector<Endpoint>{Row("/b", false, &calls)});
  ASSERT_NE(r.Find("/a"), nullptr);
  EXPECT_EQ(r.Find("/a")->path, "/a");
  EXPECT_FALSE(r.Find("/b")->router_refuses_other_methods);
  EXPECT_EQ(r.Find("/a/"), nullptr);
  EXPECT_EQ(r.Find("/A"), nullptr);
  EXPECT_EQ(r.Find(""), nullptr);
  EXPECT_EQ(r.endpoints().size(), 2u);
}

TEST(RouterDeathTest, APathRegisteredTwiceAborts) {
  int calls = 0;
  Router r;
  r.Add(Row("/a", true, &calls));
  EXPECT_DEATH(r.Add(Row("/a", false, &calls)), "registered twice");
}

class GatewayRoutingTest : public ::testing::Test {
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
    nonces_ = std::make_unique<state::MemoryNonceStore>(clock_);
    limiter_ = std::make_unique<state::MemoryRateLimiter>(clock_, 120);
    auto catalog = schema::MitreCatalog::Load();
    ASSERT_TRUE(catalog.ok());
    catalog_ = std::make_unique<schema::MitreCatalog>(std::move(catalog).value());
    GatewayDeps d;
    d.config = cfg;
    d.clock = &clock_;
    d.random = &random_;
    d.catalog = catalog_.get();
    d.nonces = nonces_.get();
    d.limiter = limiter_.get();
    d.publisher = &publisher_;
    d.audit = &audit_;
    d.endpoints.push_back(Row("/strict", true, &strict_calls_));
    d.endpoints.push_back(Row("/own-methods", false, &own_calls_));
    service_ = std::make_unique<GatewayService>(std::move(d));
  }
  http::Request Req(const std::string& method, const std::string& path) {
    http::Request r;
    r.method = method;
    r.target = path;
    r.headers = {{"content-type", "application/x-other"},
                 {"x-service-identity", "spectrastrike-producer"},
                 {"content-length", "2"}};
    r.content_length = 2;
    r.body = "{}";
    r.peer.has_certificate = true;
    r.peer.cert_sha256_hex = kPin;
    return r;
  }
  http::Response Send(http::Request r) {
    http::Response out;
    service_->Handle(std::move(r), [&](http::Response resp) { out = std::move(resp); });
    return out;
  }

  testing::FakeClock clock_{kNow};
  testing::FakeRandom random_;
  std::unique_ptr<state::MemoryNonceStore> nonces_;
  std::unique_ptr<state::MemoryRateLimiter> limiter_;
  std::unique_ptr<schema::MitreCatalog> catalog_;
  testing::RecordingPublisher publisher_;
  testing::RecordingAuditSink audit_;
  int strict_calls_ = 0, own_calls_ = 0;
  std::unique_ptr<GatewayService> service_;
};

TEST_F(GatewayRoutingTest, RegisteredRowsAreRoutedToTheirHandler) {
  EXPECT_EQ(Send(Req("POST", "/strict")).status, 200);
  EXPECT_EQ(Send(Req("POST", "/own-methods?x=1")).status, 200);  // the query is not the path
  EXPECT_EQ(strict_calls_, 1);
  EXPECT_EQ(own_calls_, 1);
}

TEST_F(GatewayRoutingTest, MethodPolicyIsPerRow) {
  http::Response r = Send(Req("GET", "/strict"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.body, R"({"detail":"Method Not Allowed"})");
  EXPECT_EQ(strict_calls_, 0);
  ASSERT_FALSE(audit_.records().empty());
  EXPECT_EQ(audit_.records().back().event_type, "http.rejected");
  // A row that answers methods itself gets the GET.
  EXPECT_EQ(Send(Req("GET", "/own-methods")).status, 200);
  EXPECT_EQ(own_calls_, 1);
}

TEST_F(GatewayRoutingTest, UnknownPathIs404AndTelemetryRowsAreAlwaysThere) {
  EXPECT_EQ(Send(Req("POST", "/internal/v1/cognitive/execution-graph")).status, 404);
  EXPECT_EQ(Send(Req("GET", "/internal/v1/telemetry")).status, 405);
  EXPECT_EQ(Send(Req("GET", "/internal/v1/telemetry/batch")).status, 405);
}

TEST_F(GatewayRoutingTest, TheHeadIsCheckedAgainstTheRowsMediaTypeAndAuditedUnderItsEvent) {
  http::Request head = Req("POST", "/strict");
  head.body.clear();
  EXPECT_FALSE(service_->OnHead(head).has_value());  // right type, pinned identity
  head.headers[0].second = "application/json";
  auto early = service_->OnHead(head);
  ASSERT_TRUE(early.has_value());
  EXPECT_EQ(early->status, 415);
  EXPECT_EQ(early->body, R"({"detail":"Other endpoint only accepts x-other"})");
  ASSERT_FALSE(audit_.records().empty());
  EXPECT_EQ(audit_.records().back().event_type, "other.rejected");
  EXPECT_EQ(audit_.records().back().details.Find("stage")->as_string(), "request_head");
  // A path without a row is left to Handle (404 there).
  EXPECT_FALSE(service_->OnHead(Req("POST", "/nowhere")).has_value());
}

}  // namespace
}  // namespace vv::app

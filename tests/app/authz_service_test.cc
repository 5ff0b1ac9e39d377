// Issue 12 (area authz) on GatewayService with in-process fakes: identities bound to their
// operators (item 2), canonical tenant ids (item 7), bounded operator metric labels (item 11),
// health details only for pinned certificates (item 14) and the per-identity rejection budget
// (item 5).

#include <gtest/gtest.h>

#include "app/gateway_service.h"
#include "app/replies.h"
#include "verify/bundle_check.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/fake_backends.h"
#include "fakes/fake_clock.h"
#include "fakes/telemetry_builder.h"
#include "state/memory_state.h"

namespace vv::app {
namespace {

using testing::FakeClock;
using testing::kTenant1;
using testing::kTenant2;

constexpr int64_t kNow = 1772107200;
const std::string kPin(64, 'a');
constexpr const char* kHexTenant = "abcdef00-0000-4000-8000-0000000000aa";

// A rate limiter whose backend is down.
class DownLimiter final : public state::RateLimiter {
 public:
  Status Acquire(std::string_view, state::RateTicket*) override {
    return Status::Unavailable("injected: redis down");
  }
  Status Refund(const state::RateTicket&) override { return Status::Ok(); }
  Status Health() const override { return Status::Unavailable("down"); }
};

std::shared_ptr<const config::GatewayConfig> MakeConfig(std::vector<std::string> operators) {
  auto cfg = std::make_shared<config::GatewayConfig>();
  config::ServiceIdentity id;
  id.id = "spectrastrike-producer";
  id.cert_sha256_pins = {kPin};
  id.operators = std::move(operators);
  cfg->identities.push_back(id);
  cfg->default_signing_keys.push_back(
      {"default", crypto::Ed25519PublicKey::FromBase64(testing::kProducerPublicKeyB64).value()});
  cfg->operator_tenant_map = {{"op-001", kTenant1}, {"op-002", kTenant2}, {"op-003", kHexTenant}};
  cfg->allowed_schema_versions = {"1.0", "2.0"};
  return cfg;
}

class AuthzServiceTest : public ::testing::Test {
 protected:
  void Build(std::vector<std::string> operators, state::RateLimiter* budget = nullptr) {
    cfg_ = MakeConfig(std::move(operators));
    nonces_ = std::make_unique<state::MemoryNonceStore>(clock_);
    limiter_ = std::make_unique<state::MemoryRateLimiter>(clock_, 1000);
    if (catalog_ == nullptr)
      catalog_ = std::make_unique<schema::MitreCatalog>(schema::MitreCatalog::Load().value());
    GatewayDeps d;
    d.config = cfg_;
    d.clock = &clock_;
    d.random = &random_;
    d.catalog = catalog_.get();
    d.nonces = nonces_.get();
    d.limiter = limiter_.get();
    d.rejection_budget = budget;
    d.publisher = &publisher_;
    d.audit = &audit_;
    d.metrics = &metrics_;
    service_ = std::make_unique<GatewayService>(std::move(d));
    handler_ = std::make_unique<GatewayHandler>(service_->HandlerDeps());
  }

  http::Request Signed(const json::Value& body, const std::string& nonce, int64_t ts = kNow) {
    auto s = testing::SignBody(body, ts, nonce);
    http::Request r;
    r.method = "POST";
    r.target = "/internal/v1/telemetry";
    r.headers = {{"content-type", "application/json"},
                 {"x-service-identity", "spectrastrike-producer"},
                 {"x-telemetry-timestamp", std::to_string(ts)},
                 {"x-telemetry-nonce", nonce},
                 {"x-telemetry-signature", s.signature_b64}};
    r.body = s.body;
    r.peer.has_certificate = true;
    r.peer.cert_sha256_hex = kPin;
    return r;
  }
  static json::Value Event(const std::string& op, const std::string& tenant,
                           const std::string& nonce, const std::string& event_id = "evt-1") {
    json::Value b = testing::MakeTelemetryBody(kNow, nonce, event_id);
    b.Set("operator_id", op);
    b.Set("tenant_id", tenant);
    b.Find("signed_metadata")->Set("operator_id", op);
    b.Find("signed_metadata")->Set("tenant_id", tenant);
    return b;
  }
  http::Response Send(http::Request r) {
    http::Response out;
    handler_->Handle(std::move(r), [&](http::Response resp) { out = std::move(resp); });
    return out;
  }
  std::string LastReason() {
    auto recs = audit_.records();
    if (recs.empty() || recs.back().details.Find("reason") == nullptr) return "";
    return recs.back().details.Find("reason")->as_string();
  }

  FakeClock clock_{kNow};
  testing::FakeRandom random_;
  stats::Registry registry_;
  stats::GatewayMetrics metrics_{registry_};
  std::shared_ptr<const config::GatewayConfig> cfg_;
  std::unique_ptr<state::MemoryNonceStore> nonces_;
  std::unique_ptr<state::MemoryRateLimiter> limiter_;
  std::unique_ptr<schema::MitreCatalog> catalog_;
  testing::RecordingPublisher publisher_;
  testing::RecordingAuditSink audit_;
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<GatewayHandler> handler_;  // the listener's view: routes to service_
};

TEST_F(AuthzServiceTest, BoundIdentityMayOnlyWriteForItsOperators) {
  Build({"op-001"});
  EXPECT_EQ(Send(Signed(Event("op-001", kTenant1, "nonce-own"), "nonce-own")).status, 202);
  auto r = Send(Signed(Event("op-002", kTenant2, "nonce-other"), "nonce-other"));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.body, "{\"detail\":\"Operator tenant mapping violation\"}");
  EXPECT_EQ(LastReason(), "operator_not_permitted");
  auto d = audit_.records().back().details;
  EXPECT_NE(d.Find("internal_detail")->as_string().find("spectrastrike-producer"),
            std::string::npos);
  EXPECT_EQ(publisher_.ingest().size(), 1u);
  EXPECT_EQ(metrics_.Rejected(403, "operator_not_permitted").value(), 1u);
}

TEST_F(AuthzServiceTest, UnboundIdentityMayActForAnyOperator) {
  Build({});  // development profile: pre-issue-12 behaviour
  EXPECT_EQ(Send(Signed(Event("op-002", kTenant2, "nonce-any"), "nonce-any")).status, 202);
}

TEST_F(AuthzServiceTest, TenantCaseVariantsAreOneTenantAndStoredCanonical) {
  Build({"op-003"});
  std::string upper = ToLowerAscii(kHexTenant);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(Send(Signed(Event("op-003", upper, "nonce-up", "evt-case"), "nonce-up")).status, 202);
  EXPECT_EQ(Send(Signed(Event("op-003", kHexTenant, "nonce-low", "evt-case"), "nonce-low")).status, 202);
  auto q = publisher_.ingest();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].trace.Find("tenant_id")->as_string(), kHexTenant);
  EXPECT_EQ(q[0].payload.Find("tenant_id")->as_string(), kHexTenant);
  EXPECT_EQ(q[0].payload.Find("signed_metadata")->Find("tenant_id")->as_string(), kHexTenant);
}

TEST_F(AuthzServiceTest, ReplayMetricLabelFoldsUnconfiguredOperators) {
  Build({});
  EXPECT_EQ(OperatorLabel(*cfg_, "op-001"), "op-001");
  EXPECT_EQ(OperatorLabel(*cfg_, "op-random-123"), "other");
  EXPECT_EQ(OperatorLabel(*cfg_, ""), "unknown");
  for (int i = 0; i < 50; ++i) {
    const std::string nonce = "nonce-rand-" + std::to_string(i);
    auto req = Signed(Event("op-rand-" + std::to_string(i), kTenant1, nonce), nonce);
    auto again = req;
    EXPECT_EQ(Send(std::move(req)).status, 403);
    EXPECT_EQ(Send(std::move(again)).status, 409);
  }
  EXPECT_EQ(metrics_.ReplayDetected("other").value(), 50u);
  const std::string text = registry_.Render();
  EXPECT_EQ(text.find("op-rand-"), std::string::npos);
}

TEST_F(AuthzServiceTest, HealthDetailsOnlyForPinnedCertificates) {
  Build({"op-001"});
  http::Request h;
  h.method = "GET";
  h.target = "/healthz";
  h.peer.has_certificate = true;
  h.peer.cert_sha256_hex = std::string(64, 'd');  // CA-signed, pinned by nobody
  EXPECT_EQ(Send(h).body, "{\"status\":\"healthy\"}");
  h.target = "/readyz";
  EXPECT_EQ(Send(h).body, "{\"ready\":true}");
  publisher_.SetFail(true);
  auto degraded = Send(h);
  EXPECT_EQ(degraded.status, 503);
  // The fixed reason code only: no backend names or errors for an unpinned caller.
  EXPECT_EQ(degraded.body, "{\"ready\":false,\"reason\":\"queue_unavailable\"}");
  publisher_.SetFail(false);
  h.target = "/healthz";
  h.peer.cert_sha256_hex = kPin;
  EXPECT_NE(Send(h).body.find("trusted_identities"), std::string::npos);
}

TEST_F(AuthzServiceTest, RejectionBudgetTurnsAFloodOfInvalidBodiesInto429) {
  state::MemoryRateLimiter budget(clock_, 3);
  Build({"op-001"}, &budget);
  std::vector<int> statuses;
  for (int i = 0; i < 5; ++i) {
    const std::string nonce = "nonce-bad-" + std::to_string(i);
    json::Value b = Event("op-001", kTenant1, nonce);
    b.Find("payload")->Set("severity", "bogus");
    statuses.push_back(Send(Signed(b, nonce)).status);
  }
  EXPECT_EQ(statuses, (std::vector<int>{422, 422, 422, 429, 429}));
  EXPECT_EQ(LastReason(), "rejection_budget_exceeded");
  // A request whose certificate is not the identity's pin is not charged to it (a stranger
  // cannot exhaust another identity's budget): still the plain 401.
  http::Request stranger = Signed(Event("op-001", kTenant1, "nonce-junk"), "nonce-junk");
  stranger.peer.cert_sha256_hex = std::string(64, 'e');
  EXPECT_EQ(Send(std::move(stranger)).status, 401);
  // The window slides: a minute later the identity has its budget again.
  clock_.AdvanceSeconds(61);
  json::Value b = Event("op-001", kTenant1, "nonce-later");
  b.Set("timestamp", kNow + 61);
  b.Find("payload")->Set("severity", "bogus");
  http::Request later = Signed(b, "nonce-later", kNow + 61);
  EXPECT_EQ(Send(std::move(later)).status, 422);
}

TEST_F(AuthzServiceTest, RejectionBudgetBackendDownFailsClosed) {
  DownLimiter down;
  Build({"op-001"}, &down);
  json::Value b = Event("op-001", kTenant1, "nonce-down");
  b.Find("payload")->Set("severity", "bogus");
  auto r = Send(Signed(b, "nonce-down"));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.body, "{\"detail\":\"Rate limiter unavailable\"}");
  EXPECT_EQ(LastReason(), "rejection_budget_unavailable");
  // A valid request is not charged, so it is still served.
  EXPECT_EQ(Send(Signed(Event("op-001", kTenant1, "nonce-ok"), "nonce-ok")).status, 202);
}

TEST(FederationBundleParseTest, ControlCharactersAndLongKeysAreRefusedBounded) {
  const std::string ok_fields =
      std::string(R"("campaign_id":"cmp-001","execution_hash":")") + std::string(64, 'f') +
      R"(","operator_id":"op-001","signature":"AAAAAAAAAAAAAAAA","timestamp":1)";
  verify::SignedBundle b;
  auto v = verify::ParseFederationRequest(
      "{\"bundle\":{" + ok_fields + ",\"nonce\":\"nonce-0001\\u001b[2Jx\"}}", &b);
  EXPECT_EQ(v.http_status, 422);
  EXPECT_NE(v.internal_detail.find("bundle.nonce"), std::string::npos) << v.internal_detail;
  const std::string long_key(5000, 'k');
  v = verify::ParseFederationRequest("{\"bundle\":{},\"" + long_key + "\":1}", &b);
  EXPECT_EQ(v.http_status, 422);
  EXPECT_LT(v.internal_detail.size(), 200u);
  // Control: the same fields with a clean nonce parse.
  v = verify::ParseFederationRequest(
      "{\"bundle\":{" + ok_fields + ",\"nonce\":\"nonce-0001-clean\"}}", &b);
  EXPECT_TRUE(v.ok()) << v.internal_detail;
}

}  // namespace
}  // namespace vv::app

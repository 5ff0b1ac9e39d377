// TelemetryChain: identity -> signature -> body -> tenant -> operator permission -> schema
// version -> admission. Unsigned traffic never touches the nonce store; a signed request that
// fails validation burns its nonce (a replay of it is 409, without a DLQ record); the happy path
// registers the nonce and takes one rate unit.

#include <gtest/gtest.h>

#include "schema/mitre_catalog.h"
#include "verify/chains.h"
#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

class TelemetryChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto catalog = schema::MitreCatalog::Load();
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    catalog_ = std::make_unique<schema::MitreCatalog>(std::move(catalog).value());
  }
  Verdict Run(const Request& r, state::Admission& admission) {
    TelemetryChain chain(cfg_, clock_, *catalog_, admission);
    ctx_ = r.Context();
    return chain.Run(ctx_);
  }
  Verdict Run(const Request& r) { return Run(r, admission_); }

  std::shared_ptr<config::GatewayConfig> cfg_ = MakeConfig();
  testing::FakeClock clock_{kNow};
  std::unique_ptr<schema::MitreCatalog> catalog_;
  state::MemoryNonceStore nonces_{clock_};
  state::MemoryRateLimiter limiter_{clock_, 120};
  state::CompositeAdmission admission_{nonces_, limiter_};
  RequestContext ctx_;
};

TEST_F(TelemetryChainTest, ValidRequestIsAdmitted) {
  EXPECT_PASSED(Run(ValidRequest()));
  EXPECT_TRUE(ctx_.identity_authenticated);
  EXPECT_EQ(ctx_.signing_kid, "default");
  EXPECT_EQ(ctx_.operator_id, "op-001");
  EXPECT_EQ(ctx_.tenant_id, testing::kTenant1);
  EXPECT_EQ(ctx_.event_id, "evt-vector-0001");
  EXPECT_EQ(ctx_.schema_version, "1.0");
  EXPECT_TRUE(ctx_.nonce_registered);
  EXPECT_TRUE(ctx_.rate_ticket.has_value());
  EXPECT_FALSE(ctx_.dead_letter.has_value());
  EXPECT_EQ(nonces_.SizeForTest(), 1u);
}

TEST_F(TelemetryChainTest, ReplayOfAnAdmittedRequestIs409) {
  Request r = ValidRequest();
  ASSERT_TRUE(Run(r).ok());
  EXPECT_REJECTED(Run(r), Reason::kReplay, 409, "Replay detected: nonce already used");
}

TEST_F(TelemetryChainTest, UnauthenticatedTrafficNeverTouchesTheNonceStore) {
  Request bad_sig = ValidRequest();
  SetHeader(bad_sig.headers, "x-telemetry-signature", Base64Encode(std::string(64, 'x')));
  EXPECT_REJECTED(Run(bad_sig), Reason::kBadSignature, 401, "Invalid telemetry signature");
  Request unknown = ValidRequest();
  SetHeader(unknown.headers, "x-service-identity", "intruder");
  EXPECT_REJECTED(Run(unknown), Reason::kUnknownIdentity, 401, "Unknown service identity");
  EXPECT_EQ(nonces_.SizeForTest(), 0u);
  EXPECT_FALSE(ctx_.nonce_registered);
}

TEST_F(TelemetryChainTest, ValidationFailureBurnsTheNonceAndItsReplayIs409WithoutDlq) {
  json::Value body = testing::MakeTelemetryBody(kNow, "nonce-bad-0001");
  body.Find("payload")->Find("mitre_techniques")->as_array()[0] = json::Value("T9999");
  Request r = SignedRequest(body, kNow, "nonce-bad-0001");
  Verdict v = Run(r);
  EXPECT_REJECTED(v, Reason::kCanonicalSchema, 422,
                  "Canonical telemetry schema validation failed");
  EXPECT_TRUE(ctx_.nonce_registered);
  ASSERT_TRUE(ctx_.dead_letter.has_value());
  EXPECT_EQ(ctx_.dead_letter->error_code, "canonical_schema_failed");
  EXPECT_EQ(nonces_.SizeForTest(), 1u);

  EXPECT_REJECTED(Run(r), Reason::kReplay, 409, "Replay detected: nonce already used");
  EXPECT_FALSE(ctx_.dead_letter.has_value());  // a replay is not dead-lettered twice
}

TEST_F(TelemetryChainTest, ValidationFailureWithTheStoreDownIs503NotTheValidationAnswer) {
  UnavailableNonceStore down;
  state::CompositeAdmission admission(down, limiter_);
  json::Value body = testing::MakeTelemetryBody(kNow, "nonce-bad-0001");
  body.Set("operator_id", "op-unmapped");
  body.Find("signed_metadata")->Set("operator_id", "op-unmapped");
  Request r = SignedRequest(body, kNow, "nonce-bad-0001");
  EXPECT_REJECTED(Run(r, admission), Reason::kNonceStoreUnavailable, 503,
                  "Nonce store unavailable");
  EXPECT_FALSE(ctx_.nonce_registered);
  EXPECT_FALSE(ctx_.dead_letter.has_value());
}

TEST_F(TelemetryChainTest, ValidRequestWithTheStoreDownIs503) {
  UnavailableNonceStore down;
  state::CompositeAdmission admission(down, limiter_);
  EXPECT_REJECTED(Run(ValidRequest(), admission), Reason::kNonceStoreUnavailable, 503,
                  "Nonce store unavailable");
  EXPECT_FALSE(ctx_.nonce_registered);
}

TEST_F(TelemetryChainTest, StagesRunInOrder) {
  // Tenant mismatch AND a disallowed schema version: the tenant stage answers first.
  json::Value body = testing::MakeTelemetryBody(kNow, "nonce-order-0001");
  body.Set("tenant_id", testing::kTenant2);
  body.Find("signed_metadata")->Set("tenant_id", testing::kTenant2);
  body.Find("payload")->Find("attributes")->Set("schema_version", "9.9");
  EXPECT_REJECTED(Run(SignedRequest(body, kNow, "nonce-order-0001")), Reason::kTenantMismatch, 403,
                  "Operator tenant mapping violation");
}

TEST_F(TelemetryChainTest, OperatorNotPermittedForABoundIdentity) {
  cfg_->identities[0].operators = {"op-002"};
  EXPECT_REJECTED(Run(ValidRequest()), Reason::kOperatorNotPermitted, 403,
                  "Operator tenant mapping violation");
  EXPECT_TRUE(ctx_.nonce_registered);  // a signed request rejected by validation burns its nonce
}

TEST_F(TelemetryChainTest, AuthenticateAndValidateAloneDoNotAdmit) {
  TelemetryChain chain(cfg_, clock_, *catalog_, admission_);
  Request r = ValidRequest();
  RequestContext ctx = r.Context();
  EXPECT_PASSED(chain.Authenticate(ctx));
  EXPECT_PASSED(chain.Validate(ctx));
  EXPECT_FALSE(ctx.nonce_registered);
  EXPECT_FALSE(ctx.rate_ticket.has_value());
  EXPECT_EQ(nonces_.SizeForTest(), 0u);
}

}  // namespace
}  // namespace vv::verify

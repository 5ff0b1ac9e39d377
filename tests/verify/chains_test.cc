// verify/chains.h: every endpoint's order as data (the checks' names, stage by stage), the
// cognitive endpoints' authenticate stage (identity -> signature -> replay) run for real, and
// their validate stage over a typed context (the graph's fixed schema version). Each check has
// its own test file; telemetry_chain_test runs the telemetry chain end to end.

#include "verify/chains.h"

#include <gtest/gtest.h>

#include "schema/mitre_catalog.h"
#include "state/admission.h"
#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

constexpr const char* kQuery = R"({"operator_id":"op-001","nonce":"nonce-graph-0001"})";

class SignedRequestChainTest : public ::testing::Test {
 protected:
  Request SignedQuery(const std::string& nonce = "nonce-graph-0001", int64_t ts = kNow) {
    Request r = IdentityRequest();
    r.body = kQuery;
    r.headers.emplace_back("x-telemetry-timestamp", std::to_string(ts));
    r.headers.emplace_back("x-telemetry-nonce", nonce);
    r.headers.emplace_back("x-telemetry-signature", testing::SignB64(ts, nonce, r.body));
    return r;
  }
  Verdict Run(const Request& r, state::NonceStore& store) {
    EndpointChain chain = MakeGraphChain(cfg_, clock_, store, limiter_);
    ctx_ = r.Context();
    return chain.authenticate.Run(ctx_);
  }
  Verdict Run(const Request& r) { return Run(r, nonces_); }

  std::shared_ptr<config::GatewayConfig> cfg_ = MakeConfig();
  testing::FakeClock clock_{kNow};
  state::MemoryNonceStore nonces_{clock_};
  state::MemoryRateLimiter limiter_{clock_, 100};
  RequestContext ctx_;
};

TEST_F(SignedRequestChainTest, SignedQueryPassesAndRegistersItsNonce) {
  EXPECT_PASSED(Run(SignedQuery()));
  EXPECT_TRUE(ctx_.identity_authenticated);
  EXPECT_TRUE(ctx_.nonce_registered);
  EXPECT_EQ(ctx_.nonce_key, state::NonceKey(kNow, "nonce-graph-0001"));
  EXPECT_EQ(nonces_.SizeForTest(), 1u);
}

TEST_F(SignedRequestChainTest, ReplayIs409) {
  Request r = SignedQuery();
  ASSERT_TRUE(Run(r).ok());
  EXPECT_REJECTED(Run(r), Reason::kReplay, 409, "Replay detected: nonce already used");
}

TEST_F(SignedRequestChainTest, ReplayAfterTheTtlPassesTheReplayStage) {
  Request r = SignedQuery();
  ASSERT_TRUE(Run(r).ok());
  clock_.AdvanceSeconds(cfg_->nonce_ttl_seconds);
  // The TTL (120 s) outlives the skew (30 s): the old request is now stale, never accepted.
  EXPECT_REJECTED(Run(r), Reason::kTimestampSkew, 401,
                  "Telemetry timestamp out of allowed clock skew");
}

TEST_F(SignedRequestChainTest, BadSignatureNeverBurnsANonce) {
  Request r = SignedQuery();
  r.body += " ";
  EXPECT_REJECTED(Run(r), Reason::kBadSignature, 401, "Invalid telemetry signature");
  EXPECT_FALSE(ctx_.nonce_registered);
  EXPECT_EQ(nonces_.SizeForTest(), 0u);
}

TEST_F(SignedRequestChainTest, IdentityRunsFirst) {
  Request r = SignedQuery();
  r.peer_cert_sha256 = kOtherPin;
  RemoveHeader(r.headers, "x-client-cert-sha256");
  EXPECT_REJECTED(Run(r), Reason::kCertPinMismatch, 401,
                  "Service identity certificate fingerprint mismatch");
  EXPECT_EQ(ctx_.timestamp, 0);
  EXPECT_EQ(nonces_.SizeForTest(), 0u);
}

TEST_F(SignedRequestChainTest, StoreDownIs503) {
  UnavailableNonceStore down;
  EXPECT_REJECTED(Run(SignedQuery(), down), Reason::kNonceStoreUnavailable, 503,
                  "Nonce store unavailable");
  EXPECT_EQ(down.calls, 1);
  EXPECT_FALSE(ctx_.nonce_registered);
}

// ---- the order of every endpoint, as data ----------------------------------------------------

using Names = std::vector<std::string_view>;

class ChainOrderTest : public ::testing::Test {
 protected:
  std::shared_ptr<config::GatewayConfig> cfg_ = MakeConfig();
  testing::FakeClock clock_{kNow};
  state::MemoryNonceStore nonces_{clock_};
  state::MemoryRateLimiter limiter_{clock_, 100};
};

TEST_F(ChainOrderTest, ExecutionGraph) {
  EndpointChain c = MakeGraphChain(cfg_, clock_, nonces_, limiter_);
  EXPECT_EQ(c.authenticate.Names(), (Names{"identity", "signature", "replay"}));
  EXPECT_EQ(c.validate.Names(), (Names{"body_binding", "schema_version", "operator_tenant",
                                       "operator_permission", "rate"}));
}

TEST_F(ChainOrderTest, FeedbackQuery) {
  EndpointChain c = MakeFeedbackChain(cfg_, clock_, nonces_, limiter_);
  EXPECT_EQ(c.authenticate.Names(), (Names{"identity", "signature", "replay"}));
  EXPECT_EQ(c.validate.Names(),
            (Names{"body_binding", "operator_tenant", "operator_permission", "rate"}));
}

TEST_F(ChainOrderTest, FederationVerify) {
  EndpointChain c = MakeFederationChain(cfg_, clock_, nonces_);
  EXPECT_EQ(c.authenticate.Names(), (Names{"identity"}));
  EXPECT_EQ(c.validate.Names(), (Names{"bundle", "operator_permission"}));
}

TEST_F(ChainOrderTest, Telemetry) {
  auto catalog = schema::MitreCatalog::Load();
  ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
  state::CompositeAdmission admission(nonces_, limiter_);
  TelemetryChain c(cfg_, clock_, *catalog, admission);
  EXPECT_EQ(c.stages().authenticate.Names(), (Names{"identity", "signature"}));
  EXPECT_EQ(c.stages().validate.Names(),
            (Names{"schema", "tenant", "operator_permission", "schema_version"}));
}

// ---- the graph's validate stage over a typed context -------------------------------------------

class GraphValidateTest : public ChainOrderTest {
 protected:
  // A context as the endpoint leaves it: authenticated as the (unbound) producer identity, the body
  // parsed and bound to the signed headers.
  RequestContext Parsed(const std::string& schema_version) {
    RequestContext ctx;
    ctx.identity = &cfg_->identities.at(0);
    ctx.identity_authenticated = true;
    ctx.timestamp = ctx.body_timestamp = kNow;
    ctx.nonce = ctx.body_nonce = "nonce-graph-0001";
    ctx.operator_id = "op-001";
    ctx.tenant_id = testing::kTenant1;
    ctx.schema_version = schema_version;
    return ctx;
  }
};

TEST_F(GraphValidateTest, ParsedGraphPassesAndTakesOneGraphRateUnit) {
  EndpointChain c = MakeGraphChain(cfg_, clock_, nonces_, limiter_);
  RequestContext ctx = Parsed("execution.graph.v1");
  EXPECT_PASSED(c.validate.Run(ctx));
  ASSERT_TRUE(ctx.rate_ticket.has_value());
  EXPECT_EQ(ctx.rate_ticket->key, "graph:op-001");
}

TEST_F(GraphValidateTest, OnlyTheGraphSchemaVersionIsAllowed) {
  EndpointChain c = MakeGraphChain(cfg_, clock_, nonces_, limiter_);
  for (const char* bad : {"execution.graph.v2", "", "EXECUTION.GRAPH.V1"}) {
    RequestContext ctx = Parsed(bad);
    Verdict v = c.validate.Run(ctx);
    EXPECT_REJECTED(v, Reason::kSchemaVersionNotAllowed, 422,
                    "Execution graph schema version is not allowed");
    EXPECT_EQ(v.internal_detail, std::string("schema_version=") + bad);
    EXPECT_FALSE(ctx.rate_ticket.has_value()) << "a rejected graph must not take a rate unit";
  }
}

TEST_F(GraphValidateTest, BindingIsCheckedBeforeTheSchemaVersion) {
  EndpointChain c = MakeGraphChain(cfg_, clock_, nonces_, limiter_);
  RequestContext ctx = Parsed("execution.graph.v2");
  ctx.body_nonce = "another-nonce-01";
  EXPECT_REJECTED(c.validate.Run(ctx), Reason::kNonceMismatch, 401,
                  "Body nonce mismatch with signed header");
}

TEST_F(GraphValidateTest, FeedbackHasItsOwnRateWindow) {
  EndpointChain c = MakeFeedbackChain(cfg_, clock_, nonces_, limiter_);
  RequestContext ctx = Parsed("");
  EXPECT_PASSED(c.validate.Run(ctx));
  ASSERT_TRUE(ctx.rate_ticket.has_value());
  EXPECT_EQ(ctx.rate_ticket->key, "feedback:op-001");
}

TEST_F(GraphValidateTest, FederationWithoutAParsedBundleFailsClosed) {
  EndpointChain c = MakeFederationChain(cfg_, clock_, nonces_);
  RequestContext ctx = Parsed("");
  EXPECT_REJECTED(c.validate.Run(ctx), Reason::kTopLevelSchema, 422,
                  "Federation bundle validation failed");
  EXPECT_EQ(nonces_.SizeForTest(), 0u);
}

}  // namespace
}  // namespace vv::verify

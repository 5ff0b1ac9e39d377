// verify/cognitive_checks.h: the signed-request chain of the cognitive endpoints (identity ->
// signature -> replay), the body/header binding, the operator -> tenant mapping (tenant case
// ignored) and the per-endpoint rate key.

#include "verify/cognitive_checks.h"

#include <gtest/gtest.h>

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
    Chain chain = MakeSignedRequestChain(cfg_, clock_, store);
    ctx_ = r.Context();
    return chain.Run(ctx_);
  }
  Verdict Run(const Request& r) { return Run(r, nonces_); }

  std::shared_ptr<config::GatewayConfig> cfg_ = MakeConfig();
  testing::FakeClock clock_{kNow};
  state::MemoryNonceStore nonces_{clock_};
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

// ---- CheckBodyBinding -------------------------------------------------------------------------

TEST(CheckBodyBindingTest, MatchingValuesPass) {
  RequestContext ctx;
  ctx.timestamp = kNow;
  ctx.nonce = "nonce-graph-0001";
  EXPECT_PASSED(CheckBodyBinding(ctx, kNow, "nonce-graph-0001"));
}

TEST(CheckBodyBindingTest, TimestampMismatch) {
  RequestContext ctx;
  ctx.timestamp = kNow;
  ctx.nonce = "nonce-graph-0001";
  EXPECT_REJECTED(CheckBodyBinding(ctx, kNow + 1, "nonce-graph-0001"), Reason::kTimestampMismatch,
                  401, "Body timestamp mismatch with signed header");
  EXPECT_REJECTED(CheckBodyBinding(ctx, kNow - 1, "other"), Reason::kTimestampMismatch, 401,
                  "Body timestamp mismatch with signed header");
}

TEST(CheckBodyBindingTest, NonceMismatch) {
  RequestContext ctx;
  ctx.timestamp = kNow;
  ctx.nonce = "nonce-graph-0001";
  EXPECT_REJECTED(CheckBodyBinding(ctx, kNow, "nonce-graph-0002"), Reason::kNonceMismatch, 401,
                  "Body nonce mismatch with signed header");
  EXPECT_REJECTED(CheckBodyBinding(ctx, kNow, "NONCE-GRAPH-0001"), Reason::kNonceMismatch, 401,
                  "Body nonce mismatch with signed header");
  EXPECT_REJECTED(CheckBodyBinding(ctx, kNow, ""), Reason::kNonceMismatch, 401,
                  "Body nonce mismatch with signed header");
}

// ---- CheckOperatorTenant ----------------------------------------------------------------------

TEST(CheckOperatorTenantTest, MappedOperatorOfItsTenantPasses) {
  auto cfg = MakeConfig();
  EXPECT_PASSED(CheckOperatorTenant(*cfg, "op-001", testing::kTenant1));
  EXPECT_PASSED(CheckOperatorTenant(*cfg, "op-002", testing::kTenant2));
}

TEST(CheckOperatorTenantTest, TenantCaseIsIgnored) {
  auto cfg = MakeConfig();
  EXPECT_PASSED(CheckOperatorTenant(*cfg, "op-001", "10000000-0000-0000-0000-000000000001"));
  cfg->operator_tenant_map["op-003"] = "ABCDEF00-0000-0000-0000-00000000000A";
  EXPECT_PASSED(CheckOperatorTenant(*cfg, "op-003", "abcdef00-0000-0000-0000-00000000000a"));
  EXPECT_PASSED(CheckOperatorTenant(*cfg, "op-003", "ABCDEF00-0000-0000-0000-00000000000a"));
}

TEST(CheckOperatorTenantTest, UnmappedOperator) {
  auto cfg = MakeConfig();
  Verdict v = CheckOperatorTenant(*cfg, "op-999", testing::kTenant1);
  EXPECT_REJECTED(v, Reason::kOperatorUnmapped, 403, "Operator is not mapped to any tenant");
  EXPECT_EQ(v.internal_detail, "operator=op-999");
  EXPECT_REJECTED(CheckOperatorTenant(*cfg, "OP-001", testing::kTenant1), Reason::kOperatorUnmapped,
                  403, "Operator is not mapped to any tenant");
}

TEST(CheckOperatorTenantTest, OperatorOfAnotherTenant) {
  auto cfg = MakeConfig();
  Verdict v = CheckOperatorTenant(*cfg, "op-001", testing::kTenant2);
  EXPECT_REJECTED(v, Reason::kTenantMismatch, 403, "Operator tenant mapping violation");
  EXPECT_EQ(v.internal_detail, std::string("operator=op-001 mapped=") + testing::kTenant1 +
                                   " claimed=" + testing::kTenant2);
  EXPECT_REJECTED(CheckOperatorTenant(*cfg, "op-001", ""), Reason::kTenantMismatch, 403,
                  "Operator tenant mapping violation");
}

// ---- AcquireRate ------------------------------------------------------------------------------

TEST(AcquireRateTest, PerEndpointKeyAndLimit) {
  testing::FakeClock clock{kNow};
  state::MemoryRateLimiter limiter(clock, 1);
  RequestContext a, b, c;
  EXPECT_PASSED(AcquireRate(limiter, "graph:op-001", a));
  ASSERT_TRUE(a.rate_ticket.has_value());
  EXPECT_EQ(a.rate_ticket->key, "graph:op-001");
  // Another endpoint's key has its own window.
  EXPECT_PASSED(AcquireRate(limiter, "feedback:op-001", b));
  Verdict v = AcquireRate(limiter, "graph:op-001", c);
  EXPECT_REJECTED(v, Reason::kRateLimited, 429, "Operator burst anomaly detected");
  EXPECT_EQ(v.internal_detail, "key=graph:op-001");
  EXPECT_FALSE(c.rate_ticket.has_value());
  clock.AdvanceSeconds(60);
  EXPECT_PASSED(AcquireRate(limiter, "graph:op-001", c));
}

TEST(AcquireRateTest, LimiterDownIs503) {
  UnavailableLimiter down;
  RequestContext ctx;
  Verdict v = AcquireRate(down, "graph:op-001", ctx);
  EXPECT_REJECTED(v, Reason::kRateLimiterUnavailable, 503, "Rate limiter unavailable");
  EXPECT_FALSE(ctx.rate_ticket.has_value());
}

}  // namespace
}  // namespace vv::verify

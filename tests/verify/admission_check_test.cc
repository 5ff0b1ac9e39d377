// AdmissionCheck (R14 + R26 as one decision): nonce NX + TTL and one rate unit of the operator.
// 409 replay (nothing consumed), 429 over the limit (the nonce is NOT kept, so the same signed
// bytes may be retried), 503 when the backend cannot decide. Over CompositeAdmission with the
// in-memory stores and a FakeClock.

#include <gtest/gtest.h>

#include "verify/checks.h"
#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

class AdmissionCheckTest : public ::testing::Test {
 protected:
  RequestContext Ctx(const std::string& nonce, const std::string& op = "op-001",
                     int64_t ts = kNow) {
    RequestContext ctx;
    ctx.timestamp = ts;
    ctx.nonce = nonce;
    ctx.operator_id = op;
    return ctx;
  }
  Verdict Run(RequestContext& ctx) { return AdmissionCheck(cfg_, admission_).Run(ctx); }

  std::shared_ptr<config::GatewayConfig> cfg_ = MakeConfig();
  testing::FakeClock clock_{kNow};
  state::MemoryNonceStore nonces_{clock_};
  state::MemoryRateLimiter limiter_{clock_, 2};
  state::CompositeAdmission admission_{nonces_, limiter_};
};

TEST_F(AdmissionCheckTest, AdmitsRegistersTheNonceAndTakesOneUnit) {
  RequestContext ctx = Ctx("n-1");
  EXPECT_PASSED(Run(ctx));
  EXPECT_TRUE(ctx.nonce_registered);
  EXPECT_EQ(ctx.nonce_key, state::NonceKey(kNow, "n-1"));
  ASSERT_TRUE(ctx.rate_ticket.has_value());
  EXPECT_EQ(ctx.rate_ticket->key, "op-001");
  EXPECT_EQ(nonces_.SizeForTest(), 1u);
}

TEST_F(AdmissionCheckTest, ReplayIs409AndConsumesNoRateUnit) {
  RequestContext a = Ctx("n-1");
  ASSERT_TRUE(Run(a).ok());
  RequestContext replay = Ctx("n-1");
  EXPECT_REJECTED(Run(replay), Reason::kReplay, 409, "Replay detected: nonce already used");
  EXPECT_FALSE(replay.nonce_registered);
  EXPECT_FALSE(replay.rate_ticket.has_value());
  // The replay did not take op-001's second unit.
  RequestContext b = Ctx("n-2");
  EXPECT_PASSED(Run(b));
}

TEST_F(AdmissionCheckTest, ReplayAfterTheTtlIsAdmitted) {
  RequestContext a = Ctx("n-1");
  ASSERT_TRUE(Run(a).ok());
  clock_.AdvanceSeconds(cfg_->nonce_ttl_seconds - 1);
  RequestContext early = Ctx("n-1");
  EXPECT_REJECTED(Run(early), Reason::kReplay, 409, "Replay detected: nonce already used");
  clock_.AdvanceSeconds(1);
  RequestContext late = Ctx("n-1");
  EXPECT_PASSED(Run(late));
}

TEST_F(AdmissionCheckTest, OverTheLimitIs429AndTheNonceIsNotKept) {
  RequestContext a = Ctx("n-1"), b = Ctx("n-2");
  ASSERT_TRUE(Run(a).ok());
  ASSERT_TRUE(Run(b).ok());
  RequestContext c = Ctx("n-3");
  Verdict v = Run(c);
  EXPECT_REJECTED(v, Reason::kRateLimited, 429, "Operator burst anomaly detected");
  EXPECT_EQ(v.internal_detail, "operator=op-001");
  EXPECT_FALSE(c.nonce_registered);
  EXPECT_FALSE(c.rate_ticket.has_value());
  EXPECT_EQ(nonces_.SizeForTest(), 2u);
  // The producer retries the same signed bytes after the window: admitted, not 409.
  clock_.AdvanceSeconds(60);
  RequestContext retry = Ctx("n-3");
  EXPECT_PASSED(Run(retry));
}

TEST_F(AdmissionCheckTest, RateIsPerOperator) {
  RequestContext a = Ctx("n-1"), b = Ctx("n-2"), c = Ctx("n-3", "op-002");
  ASSERT_TRUE(Run(a).ok());
  ASSERT_TRUE(Run(b).ok());
  EXPECT_PASSED(Run(c));
  EXPECT_EQ(c.rate_ticket->key, "op-002");
}

TEST_F(AdmissionCheckTest, NonceStoreDownIs503) {
  UnavailableNonceStore down;
  state::CompositeAdmission admission(down, limiter_);
  RequestContext ctx = Ctx("n-1");
  Verdict v = AdmissionCheck(cfg_, admission).Run(ctx);
  EXPECT_REJECTED(v, Reason::kNonceStoreUnavailable, 503, "Nonce store unavailable");
  EXPECT_FALSE(ctx.nonce_registered);
  EXPECT_FALSE(ctx.rate_ticket.has_value());
}

TEST_F(AdmissionCheckTest, LimiterDownIs503AndTheNonceIsReleased) {
  // One admission decision: the backend cannot decide, whichever half failed (reason
  // nonce_store_unavailable, the Redis script's single answer).
  UnavailableLimiter down;
  state::CompositeAdmission admission(nonces_, down);
  RequestContext ctx = Ctx("n-1");
  Verdict v = AdmissionCheck(cfg_, admission).Run(ctx);
  EXPECT_REJECTED(v, Reason::kNonceStoreUnavailable, 503, "Nonce store unavailable");
  EXPECT_FALSE(ctx.nonce_registered);
  EXPECT_EQ(nonces_.SizeForTest(), 0u);
}

}  // namespace
}  // namespace vv::verify

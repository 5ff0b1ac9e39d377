// RateCheck (R26): one unit of the sliding 60 s window of key_prefix + operator ("graph:op-001",
// one window per endpoint); 429 over the limit (nothing consumed), 503 when the limiter cannot
// decide.

#include <gtest/gtest.h>

#include "verify/checks.h"
#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

class RateCheckTest : public ::testing::Test {
 protected:
  RequestContext For(const std::string& op) {
    RequestContext ctx;
    ctx.operator_id = op;
    return ctx;
  }
  testing::FakeClock clock_{kNow};
  state::MemoryRateLimiter limiter_{clock_, 2};
  RateCheck check_{limiter_};
};

TEST_F(RateCheckTest, UnderTheLimitPassesAndKeepsTheTicket) {
  RequestContext ctx = For("op-001");
  EXPECT_PASSED(check_.Run(ctx));
  ASSERT_TRUE(ctx.rate_ticket.has_value());
  EXPECT_EQ(ctx.rate_ticket->key, "op-001");
  EXPECT_EQ(ctx.rate_ticket->at_micros, kNow * 1000000);
}

TEST_F(RateCheckTest, OverTheLimitIs429) {
  RequestContext a = For("op-001"), b = For("op-001"), c = For("op-001");
  EXPECT_PASSED(check_.Run(a));
  EXPECT_PASSED(check_.Run(b));
  Verdict v = check_.Run(c);
  EXPECT_REJECTED(v, Reason::kRateLimited, 429, "Operator burst anomaly detected");
  EXPECT_EQ(v.internal_detail, "key=op-001");
  EXPECT_FALSE(c.rate_ticket.has_value());
}

TEST_F(RateCheckTest, OperatorsHaveSeparateWindows) {
  RequestContext a = For("op-001"), b = For("op-001"), c = For("op-002");
  EXPECT_PASSED(check_.Run(a));
  EXPECT_PASSED(check_.Run(b));
  EXPECT_PASSED(check_.Run(c));
}

TEST_F(RateCheckTest, WindowSlidesWithTheClock) {
  RequestContext a = For("op-001"), b = For("op-001");
  ASSERT_TRUE(check_.Run(a).ok());
  clock_.AdvanceSeconds(30);
  ASSERT_TRUE(check_.Run(b).ok());
  clock_.AdvanceSeconds(29);
  RequestContext c = For("op-001");
  EXPECT_REJECTED(check_.Run(c), Reason::kRateLimited, 429, "Operator burst anomaly detected");
  clock_.AdvanceSeconds(1);  // the first unit is 60 s old: out of the window
  EXPECT_PASSED(check_.Run(c));
  RequestContext d = For("op-001");
  EXPECT_REJECTED(check_.Run(d), Reason::kRateLimited, 429, "Operator burst anomaly detected");
}

TEST_F(RateCheckTest, RejectedRequestsDoNotCount) {
  RequestContext a = For("op-001"), b = For("op-001");
  ASSERT_TRUE(check_.Run(a).ok());
  ASSERT_TRUE(check_.Run(b).ok());
  for (int i = 0; i < 5; ++i) {
    RequestContext x = For("op-001");
    EXPECT_FALSE(check_.Run(x).ok());
  }
  clock_.AdvanceSeconds(60);
  RequestContext c = For("op-001"), d = For("op-001");
  EXPECT_PASSED(check_.Run(c));
  EXPECT_PASSED(check_.Run(d));
}

TEST_F(RateCheckTest, RefundGivesTheUnitBack) {
  RequestContext a = For("op-001"), b = For("op-001");
  ASSERT_TRUE(check_.Run(a).ok());
  ASSERT_TRUE(check_.Run(b).ok());
  ASSERT_TRUE(limiter_.Refund(*b.rate_ticket).ok());
  RequestContext c = For("op-001");
  EXPECT_PASSED(check_.Run(c));
}

TEST_F(RateCheckTest, LimiterDownIs503) {
  UnavailableLimiter down;
  RateCheck check(down);
  RequestContext ctx = For("op-001");
  Verdict v = check.Run(ctx);
  EXPECT_REJECTED(v, Reason::kRateLimiterUnavailable, 503, "Rate limiter unavailable");
  EXPECT_NE(v.internal_detail.find("injected: redis down"), std::string::npos);
  EXPECT_FALSE(ctx.rate_ticket.has_value());
}

TEST_F(RateCheckTest, OtherLimiterErrorsFailClosed) {
  UnavailableLimiter broken(Status::Internal("boom"));
  RateCheck check(broken);
  RequestContext ctx = For("op-001");
  EXPECT_REJECTED(check.Run(ctx), Reason::kRateLimiterUnavailable, 503, "Rate limiter unavailable");
}

// The cognitive endpoints' keys: "graph:<operator>" and "feedback:<operator>" are separate
// windows of the same limiter (was AcquireRate).
TEST(RateCheckKeyTest, PerEndpointKeyAndLimit) {
  testing::FakeClock clock{kNow};
  state::MemoryRateLimiter limiter(clock, 1);
  RateCheck graph(limiter, "graph:"), feedback(limiter, "feedback:");
  RequestContext a, b, c;
  a.operator_id = b.operator_id = c.operator_id = "op-001";
  EXPECT_PASSED(graph.Run(a));
  ASSERT_TRUE(a.rate_ticket.has_value());
  EXPECT_EQ(a.rate_ticket->key, "graph:op-001");
  // Another endpoint's key has its own window.
  EXPECT_PASSED(feedback.Run(b));
  EXPECT_EQ(b.rate_ticket->key, "feedback:op-001");
  Verdict v = graph.Run(c);
  EXPECT_REJECTED(v, Reason::kRateLimited, 429, "Operator burst anomaly detected");
  EXPECT_EQ(v.internal_detail, "key=graph:op-001");
  EXPECT_FALSE(c.rate_ticket.has_value());
  clock.AdvanceSeconds(60);
  EXPECT_PASSED(graph.Run(c));
}

TEST(RateCheckKeyTest, LimiterDownIs503) {
  UnavailableLimiter down;
  RequestContext ctx;
  ctx.operator_id = "op-001";
  Verdict v = RateCheck(down, "graph:").Run(ctx);
  EXPECT_REJECTED(v, Reason::kRateLimiterUnavailable, 503, "Rate limiter unavailable");
  EXPECT_FALSE(ctx.rate_ticket.has_value());
}

}  // namespace
}  // namespace vv::verify

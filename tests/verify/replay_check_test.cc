// ReplayCheck (R14): registers sha256("{ts}:{nonce}") for nonce_ttl_seconds in the nonce store.
// 409 on a replay inside the TTL, accepted again once the TTL has passed (FakeClock), 503 when
// the store cannot decide - never a fallback that lets the request through.

#include <gtest/gtest.h>

#include "crypto/crypto.h"
#include "verify/checks.h"
#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

class ReplayCheckTest : public ::testing::Test {
 protected:
  // What SignatureCheck leaves in the context.
  RequestContext Signed(int64_t ts, const std::string& nonce) {
    RequestContext ctx;
    ctx.timestamp = ts;
    ctx.nonce = nonce;
    return ctx;
  }
  Verdict Run(RequestContext& ctx) { return ReplayCheck(cfg_, store_).Run(ctx); }

  std::shared_ptr<config::GatewayConfig> cfg_ = MakeConfig();  // nonce_ttl_seconds = 120
  testing::FakeClock clock_{kNow};
  state::MemoryNonceStore store_{clock_};
};

TEST_F(ReplayCheckTest, FirstUseRegistersTheNonceKey) {
  RequestContext ctx = Signed(kNow, "nonce-0001");
  EXPECT_PASSED(Run(ctx));
  EXPECT_TRUE(ctx.nonce_registered);
  EXPECT_EQ(ctx.nonce_key, crypto::Sha256Hex(std::to_string(kNow) + ":nonce-0001"));
  EXPECT_EQ(ctx.nonce_key, state::NonceKey(kNow, "nonce-0001"));
  EXPECT_EQ(store_.SizeForTest(), 1u);
}

TEST_F(ReplayCheckTest, SecondUseIsAReplay) {
  RequestContext first = Signed(kNow, "nonce-0001");
  ASSERT_TRUE(Run(first).ok());
  RequestContext again = Signed(kNow, "nonce-0001");
  Verdict v = Run(again);
  EXPECT_REJECTED(v, Reason::kReplay, 409, "Replay detected: nonce already used");
  EXPECT_FALSE(again.nonce_registered);
  EXPECT_EQ(store_.SizeForTest(), 1u);
}

TEST_F(ReplayCheckTest, ReplayOneSecondBeforeTheTtlEnds) {
  RequestContext first = Signed(kNow, "nonce-0001");
  ASSERT_TRUE(Run(first).ok());
  clock_.AdvanceSeconds(119);
  RequestContext again = Signed(kNow, "nonce-0001");
  EXPECT_REJECTED(Run(again), Reason::kReplay, 409, "Replay detected: nonce already used");
  clock_.AdvanceMicros(999999);  // 1 us before the TTL ends
  EXPECT_REJECTED(Run(again), Reason::kReplay, 409, "Replay detected: nonce already used");
}

TEST_F(ReplayCheckTest, AcceptedAgainOnceTheTtlHasPassed) {
  RequestContext first = Signed(kNow, "nonce-0001");
  ASSERT_TRUE(Run(first).ok());
  clock_.AdvanceSeconds(120);
  RequestContext again = Signed(kNow, "nonce-0001");
  EXPECT_PASSED(Run(again));
  EXPECT_TRUE(again.nonce_registered);
  // ... and is a replay again within the new TTL.
  RequestContext third = Signed(kNow, "nonce-0001");
  EXPECT_REJECTED(Run(third), Reason::kReplay, 409, "Replay detected: nonce already used");
}

TEST_F(ReplayCheckTest, TtlComesFromTheConfig) {
  cfg_->nonce_ttl_seconds = 5;
  RequestContext first = Signed(kNow, "nonce-ttl");
  ASSERT_TRUE(Run(first).ok());
  clock_.AdvanceSeconds(4);
  RequestContext again = Signed(kNow, "nonce-ttl");
  EXPECT_REJECTED(Run(again), Reason::kReplay, 409, "Replay detected: nonce already used");
  clock_.AdvanceSeconds(1);
  EXPECT_PASSED(Run(again));
}

TEST_F(ReplayCheckTest, SameNonceWithAnotherTimestampIsAnotherKey) {
  RequestContext a = Signed(kNow, "nonce-0001");
  RequestContext b = Signed(kNow + 1, "nonce-0001");
  EXPECT_PASSED(Run(a));
  EXPECT_PASSED(Run(b));
  EXPECT_NE(a.nonce_key, b.nonce_key);
  EXPECT_EQ(store_.SizeForTest(), 2u);
}

TEST_F(ReplayCheckTest, NonceComparisonIsExact) {
  RequestContext a = Signed(kNow, "nonce-0001");
  RequestContext b = Signed(kNow, "NONCE-0001");
  EXPECT_PASSED(Run(a));
  EXPECT_PASSED(Run(b));
}

TEST_F(ReplayCheckTest, KeyFieldsCannotBeShiftedAcrossTheSeparator) {
  // ts=1, nonce="2:x" and ts=12, nonce=":x" hash "1:2:x" and "12::x": different keys.
  RequestContext a = Signed(1, "2:x");
  RequestContext b = Signed(12, ":x");
  EXPECT_PASSED(Run(a));
  EXPECT_PASSED(Run(b));
}

TEST_F(ReplayCheckTest, StoreDownIs503NotAFallback) {
  UnavailableNonceStore down;
  RequestContext ctx = Signed(kNow, "nonce-0001");
  Verdict v = ReplayCheck(cfg_, down).Run(ctx);
  EXPECT_REJECTED(v, Reason::kNonceStoreUnavailable, 503, "Nonce store unavailable");
  EXPECT_NE(v.internal_detail.find("injected: redis down"), std::string::npos) << v.internal_detail;
  EXPECT_FALSE(ctx.nonce_registered);
  EXPECT_EQ(down.calls, 1);
  // Asked again, the answer is the same (no "open after N failures").
  RequestContext again = Signed(kNow, "nonce-0001");
  EXPECT_REJECTED(ReplayCheck(cfg_, down).Run(again), Reason::kNonceStoreUnavailable, 503,
                  "Nonce store unavailable");
}

TEST_F(ReplayCheckTest, AnyOtherStoreErrorFailsClosedToo) {
  for (Status s : {Status::Internal("boom"), Status::DataLoss("lost"),
                   Status::ResourceExhausted("full"), Status::InvalidArgument("bad key")}) {
    SCOPED_TRACE(s.ToString());
    UnavailableNonceStore broken(s);
    RequestContext ctx = Signed(kNow, "nonce-0001");
    EXPECT_REJECTED(ReplayCheck(cfg_, broken).Run(ctx), Reason::kNonceStoreUnavailable, 503,
                    "Nonce store unavailable");
    EXPECT_FALSE(ctx.nonce_registered);
  }
}

TEST_F(ReplayCheckTest, AlreadyExistsFromAnyStoreIsAReplay) {
  UnavailableNonceStore seen(Status::AlreadyExists("seen"));
  RequestContext ctx = Signed(kNow, "nonce-0001");
  EXPECT_REJECTED(ReplayCheck(cfg_, seen).Run(ctx), Reason::kReplay, 409,
                  "Replay detected: nonce already used");
}

}  // namespace
}  // namespace vv::verify

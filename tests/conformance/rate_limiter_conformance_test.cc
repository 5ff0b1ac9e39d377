// RateLimiter conformance: the same scenarios against MemoryRateLimiter and RedisRateLimiter
// (a real redis-server). Time is the injected FakeClock for both (Redis gets it as a script
// argument), so sliding-window edges are exact.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/servers.h"
#include "state/memory_state.h"
#include "state/redis_state.h"

namespace vv::state {
namespace {

using vv::testing::FakeClock;
using vv::testing::RedisServer;

constexpr int64_t kLimit = 5;

class RateLimiterConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      limiter_ = std::make_unique<MemoryRateLimiter>(clock_, kLimit);
      return;
    }
    VV_REQUIRE_SERVER(redis_);
    auto cfg = ParseRedisUrl(redis_.url());
    ASSERT_TRUE(cfg.ok());
    cfg->password = redis_.options().acl_password;  // redis_acl: the ACL user's password
    cfg->reconnect_backoff_initial_ms = 10;
    cfg->reconnect_backoff_max_ms = 100;
    auto pool = RedisPool::Create(*cfg);
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    limiter_ = std::make_unique<RedisRateLimiter>(*pool, clock_, kLimit);
  }
  bool real_server() const { return GetParam() != "memory"; }
  int Admit(const std::string& key, int n, std::vector<RateTicket>* tickets = nullptr) {
    int admitted = 0;
    for (int i = 0; i < n; ++i) {
      RateTicket t;
      Status s = limiter_->Acquire(key, &t);
      if (s.ok()) {
        ++admitted;
        if (tickets) tickets->push_back(t);
      } else {
        EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
      }
    }
    return admitted;
  }

  FakeClock clock_{1772107230};  // 30 s into a calendar minute
  RedisServer redis_{vv::testing::RedisOptionsFor(GetParam())};
  std::unique_ptr<RateLimiter> limiter_;
};

TEST_P(RateLimiterConformance, AdmitsUpToTheLimitThenDenies) {
  EXPECT_EQ(Admit("op-1", kLimit), kLimit);
  RateTicket t;
  EXPECT_EQ(limiter_->Acquire("op-1", &t).code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(limiter_->Health().ok());
}

TEST_P(RateLimiterConformance, AcquisitionsAtTheSameInstantAllCount) {
  // Frozen clock: every acquisition has the same timestamp and must still be counted.
  EXPECT_EQ(Admit("op-same", kLimit + 3), kLimit);
}

TEST_P(RateLimiterConformance, KeysAreIndependent) {
  EXPECT_EQ(Admit("op-a", kLimit), kLimit);
  EXPECT_EQ(Admit("op-b", kLimit), kLimit);
  EXPECT_EQ(Admit("graph:op-a", 1), 1);
}

TEST_P(RateLimiterConformance, SlidingWindowHasNoBurstAtTheMinuteBoundary) {
  // 5 admissions at :30 (spread over 20 s); at the next calendar minute a fixed window would
  // admit 5 more; a sliding window must not until each admission is 60 s old.
  for (int i = 0; i < kLimit; ++i) {
    ASSERT_EQ(Admit("op-edge", 1), 1);
    clock_.AdvanceSeconds(5);
  }
  // Now :55. Jump to :01 of the next minute.
  clock_.AdvanceSeconds(6);
  EXPECT_EQ(Admit("op-edge", 1), 0);
  // The first admission (at :30) leaves the window when it is 60 s old (:30 next minute).
  clock_.SetMicros((1772107230 + 60) * int64_t{1000000} - 1);
  EXPECT_EQ(Admit("op-edge", 1), 0);
  clock_.AdvanceMicros(1);
  EXPECT_EQ(Admit("op-edge", 1), 1);
  EXPECT_EQ(Admit("op-edge", 1), 0);  // the second one (at :35) is still in the window
  clock_.AdvanceSeconds(5);
  EXPECT_EQ(Admit("op-edge", 1), 1);
}

TEST_P(RateLimiterConformance, DeniedRequestsAreNotCounted) {
  EXPECT_EQ(Admit("op-deny", kLimit), kLimit);
  clock_.AdvanceSeconds(30);
  EXPECT_EQ(Admit("op-deny", 10), 0);  // denied, must not extend the window
  clock_.AdvanceSeconds(30);
  clock_.AdvanceMicros(1);
  EXPECT_EQ(Admit("op-deny", kLimit + 1), kLimit);
}

TEST_P(RateLimiterConformance, RefundReturnsTheUnit) {
  std::vector<RateTicket> tickets;
  for (int i = 0; i < kLimit; ++i) {
    ASSERT_EQ(Admit("op-r", 1, &tickets), 1);
    clock_.AdvanceSeconds(1);
  }
  EXPECT_EQ(Admit("op-r", 1), 0);
  ASSERT_TRUE(limiter_->Refund(tickets[2]).ok());
  EXPECT_EQ(Admit("op-r", 2), 1);
  // Refunding the same ticket twice, or an unknown ticket, is harmless and gives nothing.
  ASSERT_TRUE(limiter_->Refund(tickets[2]).ok());
  RateTicket unknown{"op-unknown", 42};
  EXPECT_TRUE(limiter_->Refund(unknown).ok());
  EXPECT_EQ(Admit("op-r", 1), 0);
}

// The batch endpoint takes an operator's units for a whole batch in one call: as many as the
// window has room for (all, some, none - never an error), counted with single acquisitions,
// each unit refundable on its own.
TEST_P(RateLimiterConformance, AcquireManyGrantsWhatTheWindowHoldsAndEachUnitRefunds) {
  std::vector<RateTicket> got;
  ASSERT_TRUE(limiter_->AcquireMany("op-m", 0, &got).ok());
  EXPECT_TRUE(got.empty());
  ASSERT_TRUE(limiter_->AcquireMany("op-m", 3, &got).ok());
  ASSERT_EQ(got.size(), 3u);
  for (const RateTicket& t : got) EXPECT_EQ(t.key, "op-m");
  EXPECT_EQ(Admit("op-m", 1), 1);  // 4 of 5 used
  std::vector<RateTicket> rest;
  ASSERT_TRUE(limiter_->AcquireMany("op-m", 10, &rest).ok());
  EXPECT_EQ(rest.size(), 1u);  // only the room left
  std::vector<RateTicket> none;
  ASSERT_TRUE(limiter_->AcquireMany("op-m", 2, &none).ok());
  EXPECT_TRUE(none.empty());
  // Two units of the first call back: exactly two fit again, at the same instant too.
  ASSERT_TRUE(limiter_->Refund(got[0]).ok());
  ASSERT_TRUE(limiter_->Refund(got[2]).ok());
  ASSERT_TRUE(limiter_->AcquireMany("op-m", 5, &rest).ok());
  EXPECT_EQ(rest.size(), 2u);
  EXPECT_EQ(Admit("op-m", 1), 0);
  // Other keys are untouched; the window slides for bulk units like for single ones.
  ASSERT_TRUE(limiter_->AcquireMany("op-other", kLimit + 4, &got).ok());
  EXPECT_EQ(got.size(), static_cast<size_t>(kLimit));
  clock_.AdvanceSeconds(61);
  ASSERT_TRUE(limiter_->AcquireMany("op-m", kLimit, &got).ok());
  EXPECT_EQ(got.size(), static_cast<size_t>(kLimit));
}

TEST_P(RateLimiterConformance, OutageIsUnavailableThenTheSameObjectRecovers) {
  if (!real_server()) {  // an in-process limiter has no outage: it always answers
    EXPECT_TRUE(limiter_->Health().ok());
    return;
  }
  ASSERT_EQ(Admit("op-o", 1), 1);
  redis_.Stop(/*hard=*/true);
  RateTicket t;
  EXPECT_EQ(limiter_->Acquire("op-o", &t).code(), StatusCode::kUnavailable);
  std::vector<RateTicket> many;
  EXPECT_EQ(limiter_->AcquireMany("op-o", 3, &many).code(), StatusCode::kUnavailable);
  EXPECT_TRUE(many.empty());
  EXPECT_EQ(limiter_->Health().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(redis_.Restart().ok());
  Status up;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  do {
    up = limiter_->Acquire("op-o", &t);
    if (up.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(up.ok()) << up.ToString();
}

INSTANTIATE_TEST_SUITE_P(Backends, RateLimiterConformance, ::testing::Values("memory", "redis", "redis_acl"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace vv::state

#include "state/memory_state.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "fakes/fake_clock.h"

namespace vv::state {
namespace {

TEST(NonceKeyTest, MatchesReferenceVectorA2) {
  EXPECT_EQ(NonceKey(1772107200, "nonce-vector-0001"),
            "e628bb104186a2b5487c6d61decb24068261e093d248f31950600e054d531022");
}

TEST(MemoryNonceStoreTest, SecondRegistrationIsReplay) {
  testing::FakeClock clock;
  MemoryNonceStore store(clock);
  EXPECT_TRUE(store.Register("k1", 120).ok());
  EXPECT_EQ(store.Register("k1", 120).code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(store.Register("k2", 120).ok());
}

TEST(MemoryNonceStoreTest, ExpiresAfterTtl) {
  testing::FakeClock clock;
  MemoryNonceStore store(clock);
  ASSERT_TRUE(store.Register("k1", 120).ok());
  clock.AdvanceSeconds(119);
  EXPECT_EQ(store.Register("k1", 120).code(), StatusCode::kAlreadyExists);
  clock.AdvanceSeconds(1);
  EXPECT_TRUE(store.Register("k1", 120).ok());
}

TEST(MemoryNonceStoreTest, PrunesExpiredEntries) {
  testing::FakeClock clock;
  MemoryNonceStore store(clock);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(store.Register("k" + std::to_string(i), 30).ok());
  EXPECT_EQ(store.SizeForTest(), 1000u);
  clock.AdvanceSeconds(31);
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(store.Register("n" + std::to_string(i), 30).ok());
  EXPECT_EQ(store.SizeForTest(), 64u);
}

TEST(MemoryNonceStoreTest, ReleasedNonceCanBeRegisteredAgain) {
  testing::FakeClock clock;
  MemoryNonceStore store(clock);
  ASSERT_TRUE(store.Register("k1", 120).ok());
  ASSERT_TRUE(store.Release("k1").ok());
  EXPECT_TRUE(store.Register("k1", 120).ok());
  EXPECT_EQ(store.Register("k1", 120).code(), StatusCode::kAlreadyExists);
}

TEST(MemoryNonceStoreTest, ConcurrentRegistrationsAdmitEachKeyOnce) {
  testing::FakeClock clock;
  MemoryNonceStore store(clock);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i)
        if (store.Register("key" + std::to_string(i), 120).ok()) ok++;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 2000);
}

TEST(MemoryRateLimiterTest, AllowsLimitThenRejects) {
  testing::FakeClock clock;
  MemoryRateLimiter rl(clock, 2);
  RateTicket t;
  EXPECT_TRUE(rl.Acquire("op-001", &t).ok());
  EXPECT_TRUE(rl.Acquire("op-001", &t).ok());
  EXPECT_EQ(rl.Acquire("op-001", &t).code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(rl.Acquire("op-002", &t).ok()) << "limits are per key";
}

TEST(MemoryRateLimiterTest, NoDoubleBurstAcrossMinuteBoundary) {
  testing::FakeClock clock(1772107200 + 59);  // one second before a calendar minute ends
  MemoryRateLimiter rl(clock, 3);
  RateTicket t;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(rl.Acquire("op", &t).ok());
  clock.AdvanceSeconds(2);  // a fixed-window limiter would reset here
  EXPECT_EQ(rl.Acquire("op", &t).code(), StatusCode::kResourceExhausted);
  clock.AdvanceSeconds(58);  // 60 s after the burst
  EXPECT_TRUE(rl.Acquire("op", &t).ok());
}

TEST(MemoryRateLimiterTest, RejectedRequestsDoNotCount) {
  testing::FakeClock clock;
  MemoryRateLimiter rl(clock, 1);
  RateTicket t;
  ASSERT_TRUE(rl.Acquire("op", &t).ok());
  clock.AdvanceSeconds(30);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(rl.Acquire("op", &t).ok());
  clock.AdvanceSeconds(31);  // 61 s after the one admitted request
  EXPECT_TRUE(rl.Acquire("op", &t).ok());
}

TEST(MemoryRateLimiterTest, RefundGivesTheUnitBack) {
  testing::FakeClock clock;
  MemoryRateLimiter rl(clock, 1);
  RateTicket t;
  ASSERT_TRUE(rl.Acquire("op", &t).ok());
  ASSERT_TRUE(rl.Refund(t).ok());
  EXPECT_TRUE(rl.Acquire("op", &t).ok());
}

}  // namespace
}  // namespace vv::state

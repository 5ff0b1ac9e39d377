// NonceStore conformance: the same scenarios against MemoryNonceStore and RedisNonceStore
// (a real redis-server on a free loopback port).

#include <gtest/gtest.h>

#include <atomic>
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

std::shared_ptr<RedisPool> MakePool(const std::string& url, const std::string& password) {
  auto cfg = ParseRedisUrl(url);
  EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
  cfg->password = password;
  cfg->reconnect_backoff_initial_ms = 10;
  cfg->reconnect_backoff_max_ms = 100;
  auto pool = RedisPool::Create(*cfg);
  EXPECT_TRUE(pool.ok()) << pool.status().ToString();
  return pool.ok() ? *pool : nullptr;
}

class NonceStoreConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      store_ = std::make_unique<MemoryNonceStore>(clock_);
      return;
    }
    VV_REQUIRE_SERVER(redis_);
    auto pool = MakePool(redis_.url(), redis_.options().acl_password);
    ASSERT_NE(pool, nullptr);
    store_ = std::make_unique<RedisNonceStore>(pool);
  }
  bool real_server() const { return GetParam() != "memory"; }
  // Lets `seconds` pass for TTL purposes: the fake clock for in-process stores, real time
  // (Redis expires keys on its own clock) for servers.
  void LetTimePass(int seconds) {
    if (real_server()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(seconds * 1000 + 100));
    } else {
      clock_.AdvanceSeconds(seconds);
    }
  }

  FakeClock clock_;
  RedisServer redis_{vv::testing::RedisOptionsFor(GetParam())};
  std::unique_ptr<NonceStore> store_;
};

TEST_P(NonceStoreConformance, FirstRegistrationSucceedsAndReplayIsAlreadyExists) {
  std::string key = NonceKey(1772107200, "nonce-a");
  EXPECT_TRUE(store_->Register(key, 120).ok());
  Status again = store_->Register(key, 120);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();
  EXPECT_TRUE(store_->Health().ok());
}

TEST_P(NonceStoreConformance, DistinctKeysAreIndependent) {
  EXPECT_TRUE(store_->Register(NonceKey(1772107200, "n1"), 120).ok());
  EXPECT_TRUE(store_->Register(NonceKey(1772107201, "n1"), 120).ok());
  EXPECT_TRUE(store_->Register(NonceKey(1772107200, "n2"), 120).ok());
  EXPECT_EQ(store_->Register(NonceKey(1772107200, "n2"), 120).code(),
            StatusCode::kAlreadyExists);
}

TEST_P(NonceStoreConformance, ReleaseAllowsTheSameKeyAgain) {
  std::string key = NonceKey(1772107200, "retry-me");
  ASSERT_TRUE(store_->Register(key, 120).ok());
  ASSERT_TRUE(store_->Release(key).ok());
  EXPECT_TRUE(store_->Register(key, 120).ok());
  EXPECT_EQ(store_->Register(key, 120).code(), StatusCode::kAlreadyExists);
}

TEST_P(NonceStoreConformance, ReleasingAnUnknownKeyIsOk) {
  EXPECT_TRUE(store_->Release(NonceKey(1, "never-registered")).ok());
}

TEST_P(NonceStoreConformance, KeyCanBeRegisteredAgainAfterItsTtlExpired) {
  std::string key = NonceKey(1772107200, "short-lived");
  ASSERT_TRUE(store_->Register(key, 1).ok());
  EXPECT_EQ(store_->Register(key, 1).code(), StatusCode::kAlreadyExists);
  LetTimePass(1);
  EXPECT_TRUE(store_->Register(key, 1).ok());
}

TEST_P(NonceStoreConformance, ConcurrentRegistrationsOfOneKeyAdmitExactlyOne) {
  std::string key = NonceKey(1772107200, "race");
  std::atomic<int> ok{0}, replay{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      Status s = store_->Register(key, 120);
      if (s.ok()) ++ok;
      else if (s.code() == StatusCode::kAlreadyExists) ++replay;
      else ++other;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(replay.load(), 7);
  EXPECT_EQ(other.load(), 0);
}

TEST_P(NonceStoreConformance, OutageIsUnavailableThenTheSameObjectRecovers) {
  if (!real_server()) {  // an in-process store has no outage: it always answers
    EXPECT_TRUE(store_->Health().ok());
    return;
  }
  ASSERT_TRUE(store_->Register(NonceKey(1, "before"), 120).ok());
  redis_.Stop(/*hard=*/true);
  Status down = store_->Register(NonceKey(1, "during"), 120);
  EXPECT_EQ(down.code(), StatusCode::kUnavailable) << down.ToString();
  EXPECT_EQ(store_->Health().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store_->Release(NonceKey(1, "during")).code(), StatusCode::kUnavailable);
  ASSERT_TRUE(redis_.Restart().ok()) << redis_.Log();
  // Within the reconnect backoff (<= 100 ms here) the same store serves again.
  Status up;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  do {
    up = store_->Register(NonceKey(1, "after"), 120);
    if (up.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(up.ok()) << up.ToString();
  EXPECT_TRUE(store_->Health().ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, NonceStoreConformance, ::testing::Values("memory", "redis", "redis_acl"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace vv::state

// Admission conformance (nonce + rate as one decision): the same scenarios against the embedded
// CompositeAdmission and RedisAdmission (one Lua round trip on a real redis-server).

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <unistd.h>

#include "fakes/fake_clock.h"
#include "fakes/servers.h"
#include "state/admission.h"
#include "state/memory_state.h"
#include "state/redis_state.h"

namespace vv::state {
namespace {

using vv::testing::FakeClock;
using vv::testing::RedisServer;

constexpr int64_t kLimit = 2;
constexpr int64_t kTtl = 120;

class AdmissionConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      nonces_ = std::make_unique<MemoryNonceStore>(clock_);
      limiter_ = std::make_unique<MemoryRateLimiter>(clock_, kLimit);
      admission_ = std::make_unique<CompositeAdmission>(*nonces_, *limiter_);
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
    admission_ = std::make_unique<RedisAdmission>(*pool, clock_, kLimit);
  }
  std::string Nonce(int i) { return NonceKey(1772107200 + i, "nonce-" + run_ + std::to_string(i)); }

  FakeClock clock_{1772107230};
  RedisServer redis_{vv::testing::RedisOptionsFor(GetParam())};
  std::string run_ = std::to_string(::getpid()) + "-";
  std::unique_ptr<MemoryNonceStore> nonces_;
  std::unique_ptr<MemoryRateLimiter> limiter_;
  std::unique_ptr<Admission> admission_;
};

TEST_P(AdmissionConformance, AdmitsThenDetectsReplay) {
  RateTicket t;
  ASSERT_TRUE(admission_->Admit(Nonce(1), kTtl, "op-1", &t).ok());
  EXPECT_EQ(t.key.empty(), false);
  EXPECT_EQ(admission_->Admit(Nonce(1), kTtl, "op-1", &t).code(), StatusCode::kAlreadyExists);
}

TEST_P(AdmissionConformance, OverTheLimitDoesNotKeepTheNonce) {
  RateTicket t;
  ASSERT_TRUE(admission_->Admit(Nonce(1), kTtl, "op-2", &t).ok());
  ASSERT_TRUE(admission_->Admit(Nonce(2), kTtl, "op-2", &t).ok());
  EXPECT_EQ(admission_->Admit(Nonce(3), kTtl, "op-2", &t).code(), StatusCode::kResourceExhausted);
  // The same signed request retried: still 429-class, never a replay.
  EXPECT_EQ(admission_->Admit(Nonce(3), kTtl, "op-2", &t).code(), StatusCode::kResourceExhausted);
  clock_.AdvanceSeconds(61);
  EXPECT_TRUE(admission_->Admit(Nonce(3), kTtl, "op-2", &t).ok());
}

TEST_P(AdmissionConformance, BurnedNonceIsAReplay) {
  ASSERT_TRUE(admission_->BurnNonce(Nonce(7), kTtl).ok());
  EXPECT_EQ(admission_->BurnNonce(Nonce(7), kTtl).code(), StatusCode::kAlreadyExists);
  RateTicket t;
  EXPECT_EQ(admission_->Admit(Nonce(7), kTtl, "op-3", &t).code(), StatusCode::kAlreadyExists);
  // A burned nonce consumed no rate unit.
  EXPECT_TRUE(admission_->Admit(Nonce(8), kTtl, "op-3", &t).ok());
  EXPECT_TRUE(admission_->Admit(Nonce(9), kTtl, "op-3", &t).ok());
}

TEST_P(AdmissionConformance, ReleaseAndRefundUndoAnAdmission) {
  RateTicket t;
  ASSERT_TRUE(admission_->Admit(Nonce(1), kTtl, "op-4", &t).ok());
  ASSERT_TRUE(admission_->Admit(Nonce(2), kTtl, "op-4", &t).ok());
  // The second one failed downstream (503): give both back.
  ASSERT_TRUE(admission_->ReleaseNonce(Nonce(2)).ok());
  ASSERT_TRUE(admission_->Refund(t).ok());
  EXPECT_TRUE(admission_->Admit(Nonce(2), kTtl, "op-4", &t).ok());
}

TEST_P(AdmissionConformance, OutageIsUnavailableThenRecovers) {
  if (GetParam() == "memory") GTEST_SKIP() << "the embedded backend has no outage";
  redis_.Stop();
  RateTicket t;
  EXPECT_EQ(admission_->Admit(Nonce(1), kTtl, "op-5", &t).code(), StatusCode::kUnavailable);
  EXPECT_EQ(admission_->BurnNonce(Nonce(2), kTtl).code(), StatusCode::kUnavailable);
  EXPECT_FALSE(admission_->Health().ok());
  ASSERT_TRUE(redis_.Restart().ok());
  Status s;
  for (int i = 0; i < 50; ++i) {
    s = admission_->Admit(Nonce(1), kTtl, "op-5", &t);
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(s.ok()) << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(Backends, AdmissionConformance, ::testing::Values("memory", "redis", "redis_acl"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace vv::state

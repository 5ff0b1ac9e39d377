// Redis backend specifics (the shared NonceStore/RateLimiter behaviour is in
// tests/conformance): URL parsing, persistent pooled connections, the combined
// nonce + rate Lua call, key layout compatible with the reference.

#include "state/redis_state.h"

#include <gtest/gtest.h>

#include <string>

#include "fakes/fake_clock.h"
#include "fakes/servers.h"

namespace vv::state {
namespace {

using vv::testing::FakeClock;
using vv::testing::RedisServer;

TEST(ParseRedisUrl, AcceptsHostPortDbAndPassword) {
  auto c = ParseRedisUrl("redis://:s%40cret@redis.internal:6380/3");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->host, "redis.internal");
  EXPECT_EQ(c->port, 6380);
  EXPECT_EQ(c->db, 3);
  EXPECT_EQ(c->password, "s@cret");
  EXPECT_EQ(c->username, "");
}

TEST(ParseRedisUrl, DefaultsPortAndDbAndReadsUserAndIpv6) {
  auto c = ParseRedisUrl("redis://localhost");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->port, 6379);
  EXPECT_EQ(c->db, 0);
  auto u = ParseRedisUrl("redis://gw:pw@[::1]:7000/0");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 7000);
  EXPECT_EQ(u->username, "gw");
  EXPECT_EQ(u->password, "pw");
}

// Issue 12: rediss:// is TLS now (this test asserted the refusal, i.e. the missing TLS).
TEST(ParseRedisUrl, TlsSchemeSetsTlsAndAPoolNeedsItsCa) {
  auto c = ParseRedisUrl("rediss://gw:pw@redis:6380/0");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->tls);
  EXPECT_EQ(c->host, "redis");
  EXPECT_EQ(c->port, 6380);
  EXPECT_EQ(c->password, "pw");
  EXPECT_FALSE(ParseRedisUrl("redis://redis:6380/0")->tls);
  auto pool = RedisPool::CreateLazy(*c);
  ASSERT_FALSE(pool.ok());
  EXPECT_NE(pool.status().message().find("redis_tls_ca_path"), std::string::npos);
}

TEST(ParseRedisUrl, RejectsMalformedUrls) {
  for (const char* bad : {"", "http://x", "redis://", "redis://:pw@", "redis://h:0",
                          "redis://h:65536", "redis://h:12ab", "redis://h/x", "redis://h/1?ssl=1",
                          "redis://[::1", "redis://:%zz@h", "redis://h:6379/-1"}) {
    EXPECT_FALSE(ParseRedisUrl(bad).ok()) << bad;
  }
}

class RedisStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VV_REQUIRE_SERVER(redis_);
    auto cfg = ParseRedisUrl(redis_.url());
    ASSERT_TRUE(cfg.ok());
    cfg->pool_size = 2;
    auto pool = RedisPool::Create(*cfg);
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    pool_ = *pool;
  }
  RedisServer redis_;
  FakeClock clock_;
  std::shared_ptr<RedisPool> pool_;
};

TEST_F(RedisStateTest, UsesTheReferenceKeyAndTtl) {
  RedisNonceStore store(pool_);
  std::string key = NonceKey(1772107200, "abc");
  ASSERT_TRUE(store.Register(key, 120).ok());
  auto ttl = pool_->Command({"TTL", "vv:tg:nonce:" + key});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer, 100);
  EXPECT_LE(ttl->integer, 120);
  EXPECT_EQ(store.Register(key, 0).code(), StatusCode::kInvalidArgument);
}

TEST_F(RedisStateTest, ConnectionsArePersistentNotPerRequest) {
  RedisNonceStore store(pool_);
  RedisRateLimiter limiter(pool_, clock_, 1000);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(store.Register(NonceKey(i, "n"), 60).ok());
    RateTicket t;
    ASSERT_TRUE(limiter.Acquire("op", &t).ok());
  }
  EXPECT_LE(pool_->connects(), 2u);
}

TEST_F(RedisStateTest, ScriptCacheFlushIsRecoveredTransparently) {
  RedisRateLimiter limiter(pool_, clock_, 10);
  RateTicket t;
  ASSERT_TRUE(limiter.Acquire("op", &t).ok());
  ASSERT_TRUE(pool_->Command({"SCRIPT", "FLUSH"}).ok());  // EVALSHA now answers NOSCRIPT
  EXPECT_TRUE(limiter.Acquire("op", &t).ok());
  EXPECT_TRUE(limiter.Acquire("op", &t).ok());
}

TEST_F(RedisStateTest, GateRegistersAndAcquiresInOneCall) {
  RedisGate gate(pool_);
  int64_t now = clock_.NowMicros();
  RateTicket t;
  ASSERT_TRUE(gate.RegisterAndAcquire(NonceKey(1, "a"), 60, "op", 2, now, &t).ok());
  EXPECT_EQ(t.key, "op");
  EXPECT_EQ(t.at_micros, now);
  // Replay: AlreadyExists and no rate unit consumed.
  EXPECT_EQ(gate.RegisterAndAcquire(NonceKey(1, "a"), 60, "op", 2, now, &t).code(),
            StatusCode::kAlreadyExists);
  ASSERT_TRUE(gate.RegisterAndAcquire(NonceKey(1, "b"), 60, "op", 2, now, &t).ok());
  // Over the limit: 429 and the nonce is not kept, so the same bytes can be retried later.
  EXPECT_EQ(gate.RegisterAndAcquire(NonceKey(1, "c"), 60, "op", 2, now, &t).code(),
            StatusCode::kResourceExhausted);
  auto exists = pool_->Command({"EXISTS", "vv:tg:nonce:" + NonceKey(1, "c")});
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->integer, 0);
  // The gate and the limiter share one window per key.
  RedisRateLimiter limiter(pool_, clock_, 2);
  EXPECT_EQ(limiter.Acquire("op", &t).code(), StatusCode::kResourceExhausted);
  int64_t later = now + RedisRateLimiter::kWindowMicros;
  EXPECT_TRUE(gate.RegisterAndAcquire(NonceKey(1, "c"), 60, "op", 2, later, &t).ok());
}

TEST_F(RedisStateTest, GateFailsClosedWhenRedisIsDown) {
  RedisGate gate(pool_);
  redis_.Stop(/*hard=*/true);
  RateTicket t;
  EXPECT_EQ(gate.RegisterAndAcquire(NonceKey(1, "x"), 60, "op", 2, clock_.NowMicros(), &t).code(),
            StatusCode::kUnavailable);
}

TEST(RedisPoolCreate, UnreachableServerIsUnavailableQuickly) {
  RedisConfig c;
  c.port = vv::testing::FreeLoopbackPort();
  auto pool = RedisPool::Create(c);
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace vv::state

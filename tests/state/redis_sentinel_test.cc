// Redis AUTH with an ACL user and Sentinel discovery/failover (issue 14 item 2), against real
// servers: a redis-server with the least-privilege gateway ACL user, and a master + replica +
// three sentinels (redis-server --sentinel) on free loopback ports with short timeouts.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "fakes/fake_clock.h"
#include "fakes/servers.h"
#include "state/redis_state.h"

namespace vv::state {
namespace {

using vv::testing::FakeClock;
using vv::testing::RedisSentinel;
using vv::testing::RedisServer;
using vv::testing::RedisServerOptions;

using vv::testing::RedisSentinelTopology;
constexpr const char* kUserPassword = RedisSentinelTopology::kUserPassword;
constexpr const char* kAdminPassword = RedisSentinelTopology::kAdminPassword;
constexpr const char* kSentinelPassword = RedisSentinelTopology::kSentinelPassword;

RedisServerOptions AclOptions() {
  RedisServerOptions o;
  o.acl_user = RedisSentinelTopology::kUser;
  o.acl_password = kUserPassword;
  return o;
}

std::shared_ptr<RedisPool> Direct(int port, const std::string& user, const std::string& pw) {
  RedisConfig c;
  c.host = "127.0.0.1";
  c.port = port;
  c.username = user;
  c.password = pw;
  auto p = RedisPool::CreateLazy(c);
  return p.ok() ? *p : nullptr;
}

TEST(ParseRedisUrl, UserWithoutPasswordAndSentinelLists) {
  auto u = ParseRedisUrl("rediss://vv-gateway@redis.internal:6380/2");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->username, "vv-gateway");
  EXPECT_EQ(u->password, "");
  EXPECT_FALSE(RedisUrlHasInlinePassword("rediss://vv-gateway@redis.internal:6380/2"));
  EXPECT_TRUE(RedisUrlHasInlinePassword("rediss://vv-gateway:pw@redis.internal:6380/2"));
  EXPECT_TRUE(RedisUrlHasInlinePassword("redis://:pw@redis"));
  EXPECT_TRUE(RedisUrlHasInlinePassword("redis-sentinel://u:pw@a,b/svc"));

  auto s = ParseRedisUrl("redis-sentinel://gw@s1:26380,[::1],s3/vv-redis/3");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->sentinels.size(), 3u);
  EXPECT_EQ(s->sentinels[0].host, "s1");
  EXPECT_EQ(s->sentinels[0].port, 26380);
  EXPECT_EQ(s->sentinels[1].host, "::1");
  EXPECT_EQ(s->sentinels[1].port, 26379);
  EXPECT_EQ(s->sentinel_service, "vv-redis");
  EXPECT_EQ(s->db, 3);
  EXPECT_EQ(s->username, "gw");
  EXPECT_FALSE(s->tls);
  EXPECT_TRUE(ParseRedisUrl("rediss-sentinel://s1/svc")->tls);
  EXPECT_EQ(s->Describe(), "sentinel service vv-redis");
  for (const char* bad : {"redis-sentinel://s1", "redis-sentinel://s1/", "redis-sentinel://s1,/svc",
                          "redis-sentinel://s1/bad name", "redis-sentinel://s1:0/svc",
                          "redis-sentinel://s1/svc/x"})
    EXPECT_FALSE(ParseRedisUrl(bad).ok()) << bad;
}

TEST(RedisAclTest, WrongPasswordIsRefusedAtStartRightOneWorksWithLeastPrivilege) {
  RedisServer redis(AclOptions());
  VV_REQUIRE_SERVER(redis);
  auto cfg = ParseRedisUrl(redis.url());
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->username, "vv-gateway");
  // No password, a wrong one: refused at start-up, the password never in the message.
  auto none = RedisPool::Create(*cfg);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kUnavailable);
  cfg->password = "wrong-password-123";
  auto wrong = RedisPool::Create(*cfg);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("AUTH failed"), std::string::npos)
      << wrong.status().ToString();
  EXPECT_NE(wrong.status().message().find("WRONGPASS"), std::string::npos);
  EXPECT_EQ(wrong.status().message().find("wrong-password-123"), std::string::npos);

  cfg->password = kUserPassword;
  auto pool = RedisPool::Create(*cfg);
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  // Every state operation works under the least-privilege ACL (scripts included).
  FakeClock clock;
  RedisAdmission admission(*pool, clock, 2);
  RateTicket t;
  ASSERT_TRUE(admission.Admit(NonceKey(1, "a"), 60, "op", &t).ok());
  EXPECT_EQ(admission.Admit(NonceKey(1, "a"), 60, "op", &t).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(admission.Admit(NonceKey(2, "a"), 60, "op", &t).ok());
  EXPECT_EQ(admission.Admit(NonceKey(3, "a"), 60, "op", &t).code(),
            StatusCode::kResourceExhausted);
  EXPECT_TRUE(admission.Refund(t).ok());
  EXPECT_TRUE(admission.ReleaseNonce(NonceKey(2, "a")).ok());
  EXPECT_TRUE(admission.BurnNonce(NonceKey(4, "a"), 60).ok());
  EXPECT_TRUE(admission.Health().ok());
  auto pub = (*pool)->Command({"PUBLISH", "vv:tg:kill_switch", "1"});
  ASSERT_TRUE(pub.ok());
  EXPECT_FALSE(pub->is_error()) << pub->str;
  // ... and nothing outside its namespace (the ACL is really in force).
  auto other = (*pool)->Command({"SET", "other:key", "1"});
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->is_error());
  EXPECT_NE(other->str.find("NOPERM"), std::string::npos) << other->str;
  auto flush = (*pool)->Command({"FLUSHALL"});
  ASSERT_TRUE(flush.ok());
  EXPECT_TRUE(flush->is_error());
}

// Master + replica + 3 sentinels, all requiring AUTH (fakes/servers.h).
class RedisSentinelTest : public ::testing::Test {
 protected:
  void SetUp() override { VV_REQUIRE_SERVER(topology_); }

  std::string SentinelUrl() const { return topology_.url(); }
  RedisConfig Config(const std::string& sentinel_password = kSentinelPassword) const {
    auto c = ParseRedisUrl(SentinelUrl());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    c->password = kUserPassword;
    c->sentinel_password = sentinel_password;
    c->reconnect_backoff_initial_ms = 10;
    c->reconnect_backoff_max_ms = 200;
    return *c;
  }
  // Keeps admitting fresh nonces until one succeeds again; every answer in between must be
  // Unavailable (503), never anything else. Returns the number of Unavailable answers.
  int AdmitUntilRecovered(RedisAdmission& admission, const std::string& tag,
                          std::vector<std::string>* admitted) {
    int unavailable = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (int i = 0;; ++i) {
      const std::string key = NonceKey(1000 + i, tag);
      RateTicket t;
      Status s = admission.Admit(key, 300, "op-" + tag, &t);
      if (s.ok()) {
        admitted->push_back(key);
        return unavailable;
      }
      EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
      if (s.code() != StatusCode::kUnavailable) return unavailable;
      ++unavailable;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "no recovery within 60 s: " << s.ToString();
        return unavailable;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  void ExpectKeysOn(int port, const std::vector<std::string>& keys) {
    auto p = Direct(port, "vv-admin", kAdminPassword);
    for (const auto& k : keys) {
      auto r = p->Command({"EXISTS", std::string(RedisNonceStore::kKeyPrefix) + k});
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->integer, 1) << "admitted nonce missing on the master: " << k;
    }
  }

  RedisSentinelTopology topology_;
  RedisServer& master_ = topology_.master();
  std::vector<std::unique_ptr<RedisSentinel>>& sentinels_ = topology_.sentinels();
  FakeClock clock_;
};

TEST_F(RedisSentinelTest, DiscoversTheMasterAndFollowsAFailoverAfterTheMasterIsKilled) {
  auto pool = RedisPool::Create(Config());
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  EXPECT_EQ((*pool)->CurrentMaster(), "127.0.0.1:" + std::to_string(master_.port()));
  RedisAdmission admission(*pool, clock_, 1000);
  RateTicket t;
  ASSERT_TRUE(admission.Admit(NonceKey(1, "before"), 300, "op", &t).ok());

  master_.Stop(/*hard=*/true);
  std::vector<std::string> admitted;
  const int gap = AdmitUntilRecovered(admission, "after", &admitted);
  EXPECT_GE(gap, 1) << "the outage must show as Unavailable";
  EXPECT_EQ((*pool)->CurrentMaster(), "127.0.0.1:" + std::to_string(topology_.replica().port()));
  EXPECT_GE((*pool)->discoveries(), 2u);
  // What was admitted after the failover lives on the new master, and replays are refused.
  ExpectKeysOn(topology_.replica().port(), admitted);
  EXPECT_EQ(admission.Admit(admitted.back(), 300, "op", &t).code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(admission.Health().ok());
}

TEST_F(RedisSentinelTest, ManualFailoverIsFollowedAfterReadOnlyReplies) {
  auto pool = RedisPool::Create(Config());
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  RedisAdmission admission(*pool, clock_, 1000);
  RateTicket t;
  ASSERT_TRUE(admission.Admit(NonceKey(1, "m"), 300, "op", &t).ok());
  // The old master stays up and becomes a replica: its connections answer READONLY.
  auto s = Direct(sentinels_[0]->port(), "", kSentinelPassword);
  auto r = s->Command({"SENTINEL", "FAILOVER", "vv-redis"});
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->is_error()) << r->str;
  // Wait until the old master really is a replica, then the client must follow.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    auto role = Direct(master_.port(), "vv-admin", kAdminPassword)->Command({"ROLE"});
    if (role.ok() && !role->elements.empty() && role->elements[0].str == "slave") break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no failover";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::vector<std::string> admitted;
  AdmitUntilRecovered(admission, "manual", &admitted);
  EXPECT_EQ((*pool)->CurrentMaster(), "127.0.0.1:" + std::to_string(topology_.replica().port()));
  ExpectKeysOn(topology_.replica().port(), admitted);
}

TEST_F(RedisSentinelTest, SentinelAuthIsRequiredAndNoMasterMeansUnavailable) {
  auto bad = RedisPool::Create(Config("wrong-sentinel-password"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(bad.status().message().find("no master known"), std::string::npos)
      << bad.status().ToString();
  EXPECT_EQ(bad.status().message().find("wrong-sentinel-password"), std::string::npos);
  // An unknown service: no master, Unavailable (never a fallback).
  RedisConfig c = Config();
  c.sentinel_service = "no-such-service";
  auto none = RedisPool::Create(c);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("knows no master"), std::string::npos)
      << none.status().ToString();
  // All sentinels down: Unavailable.
  auto pool = RedisPool::Create(Config());
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  master_.Stop(true);
  topology_.replica().Stop(true);
  for (auto& s : sentinels_) s->Stop(true);
  RedisNonceStore store(*pool);
  EXPECT_EQ(store.Register(NonceKey(9, "x"), 60).code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.Health().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace vv::state

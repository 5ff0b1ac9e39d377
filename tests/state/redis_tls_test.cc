// Redis over TLS (rediss://, issue 12) against a real redis-server that listens on TLS only:
// the pool verifies the server against the CA, authenticates, and runs commands and scripts;
// a wrong CA, a wrong name, a missing password and plain redis:// all fail closed.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "fakes/process.h"
#include "fakes/servers.h"
#include "fakes/temp_dir.h"
#include "state/redis_state.h"

namespace vv::state {
namespace {

class RedisTlsTest : public ::testing::Test {
 protected:
  void SetUp() override { VV_REQUIRE_SERVER(server_); }
  RedisConfig Config() {
    auto c = ParseRedisUrl(server_.url());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    c->tls_ca_file = server_.ca_path();
    c->command_timeout_ms = 2000;
    c->connect_timeout_ms = 2000;
    return *c;
  }
  vv::testing::RedisTlsServer server_;
};

TEST_F(RedisTlsTest, VerifiedTlsConnectionRunsCommandsAndScripts) {
  auto pool = RedisPool::Create(Config());
  ASSERT_TRUE(pool.ok()) << pool.status().ToString() << "\n" << server_.Log();
  ASSERT_TRUE((*pool)->Command({"SET", "k", std::string(100000, 'x')}).ok());
  auto v = (*pool)->Command({"GET", "k"});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->str.size(), 100000u);  // larger than one TLS record
  // Several threads share the pool (one tunnel per connection).
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto r = (*pool)->Command({"INCR", "n" + std::to_string(t)});
        if (r.ok() && r->type == RedisValue::Type::kInteger) ++ok;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 200);
  // The nonce store over TLS: the second registration is a replay.
  RedisNonceStore nonces(*pool);
  EXPECT_TRUE(nonces.Register("tls-nonce", 60).ok());
  EXPECT_FALSE(nonces.Register("tls-nonce", 60).ok());
}

TEST_F(RedisTlsTest, FailsClosedOnWrongCaNameOrCredentials) {
  vv::testing::TempDir other;
  std::string out;
  ASSERT_EQ(vv::testing::RunCommand({"/bin/bash", std::string(VV_SOURCE_DIR) + "/scripts/dev-pki.sh",
                                     other.path().string()},
                                    &out),
            0)
      << out;
  RedisConfig wrong_ca = Config();
  wrong_ca.tls_ca_file = other.File("ca.crt");  // another CA: the server is not trusted
  auto p1 = RedisPool::Create(wrong_ca);
  ASSERT_FALSE(p1.ok());
  EXPECT_EQ(p1.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(p1.status().message().find("not trusted"), std::string::npos) << p1.status().message();

  RedisConfig wrong_name = Config();
  wrong_name.tls_server_name = "redis.evil.example";
  auto p2 = RedisPool::Create(wrong_name);
  ASSERT_FALSE(p2.ok());
  EXPECT_EQ(p2.status().code(), StatusCode::kUnavailable);

  RedisConfig no_password = Config();
  no_password.password.clear();
  auto p3 = RedisPool::Create(no_password);
  ASSERT_FALSE(p3.ok());  // PING refused: NOAUTH

  RedisConfig plain = Config();
  plain.tls = false;  // plaintext to the TLS port
  plain.command_timeout_ms = 500;
  auto p4 = RedisPool::Create(plain);
  ASSERT_FALSE(p4.ok());
}

}  // namespace
}  // namespace vv::state

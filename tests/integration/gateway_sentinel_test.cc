// vv-gateway on Redis Sentinel (issue 14 item 2), black-box: nonce and rate state through
// sentinel discovery (ACL user and sentinel passwords from the environment), the master
// killed, the sentinels fail over, the gateway follows the new master. During the gap every
// request gets 503 (never a 202 without the state write, never an in-memory fallback); every
// 202 after it is backed by the new master (its replay is a 409).

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fakes/servers.h"
#include "fakes/telemetry_builder.h"
#include "integration/gateway_harness.h"

namespace vv::testing {
namespace {

SignedRequest Req(const std::string& tag, int i) {
  const int64_t ts = NowSeconds();
  const std::string nonce = "sentinel-" + tag + "-" + std::to_string(i) + "-" + std::to_string(ts);
  return SignBody(MakeTelemetryBody(ts, nonce, "evt-" + nonce), ts, nonce);
}

int Post(spectrastrike::HttpsClient& c, const SignedRequest& r) {
  return c.Post("/internal/v1/telemetry", TelemetryHeaders(r), r.body).status;
}

TEST(GatewaySentinelTest, FollowsAFailoverWith503DuringTheGapAndNoFallback) {
  RedisSentinelTopology redis;
  VV_REQUIRE_SERVER(redis);
  GatewayOptions o;
  o.nonce_backend = o.rate_limit_backend = "redis";
  o.redis_url = redis.url();
  o.env = {std::string("VV_TG_REDIS_PASSWORD=") + RedisSentinelTopology::kUserPassword,
           std::string("VV_TG_REDIS_SENTINEL_PASSWORD=") +
               RedisSentinelTopology::kSentinelPassword};
  GatewayUnderTest gw(o);
  ASSERT_TRUE(gw.started()) << gw.log();
  auto c = gw.Client();
  SignedRequest first = Req("before", 0);
  ASSERT_EQ(Post(c, first), 202) << gw.log();
  EXPECT_EQ(Post(c, first), 409);  // replay state lives in Redis, through the sentinels

  redis.master().Stop(/*hard=*/true);
  int unavailable = 0;
  std::vector<SignedRequest> accepted;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(75);
  for (int i = 0; accepted.size() < 3; ++i) {
    SignedRequest r = Req("after", i);
    const int status = Post(c, r);
    if (status == 202) {
      accepted.push_back(r);
      continue;
    }
    // (A pooled connection still in its reconnect backoff may answer 503 once more after
    // the first 202: fail-closed either way.)
    ASSERT_EQ(status, 503) << "only 503 is allowed while no master is known";
    ++unavailable;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no recovery: " << gw.log();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(unavailable, 1) << "the failover gap must show as 503";
  // Every 202 was written to the new master: its replay is refused - never accepted twice. A
  // pooled connection still in its reconnect backoff may answer 503 first (fail closed, nothing
  // registered); once it is back the answer must be 409.
  for (const auto& r : accepted) {
    int status = Post(c, r);
    for (int tries = 0; status == 503 && tries < 100; ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      status = Post(c, r);
    }
    EXPECT_EQ(status, 409);
  }
  // The queued envelopes are exactly the accepted requests (none during the gap).
  EXPECT_EQ(gw.QueueCount("ingest"), 1 + static_cast<int64_t>(accepted.size()));
  // The passwords never reach the log.
  EXPECT_EQ(gw.log().find(RedisSentinelTopology::kUserPassword), std::string::npos);
  EXPECT_EQ(gw.log().find(RedisSentinelTopology::kSentinelPassword), std::string::npos);
}

}  // namespace
}  // namespace vv::testing

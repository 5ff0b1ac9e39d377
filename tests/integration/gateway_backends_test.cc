// Black-box, scale-out: vv-gateway replicas on real Redis (replay + rate state) and NATS
// JetStream (queue + DLQ), started by the fixtures on free loopback ports. Replays and rate
// limits hold across replicas; a producer retry is stored once; a backend outage fails closed
// (503 with the contract's reason, nonce released) and the same gateway recovers without a
// restart; /readyz follows the backends.

#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "fakes/servers.h"
#include "integration/gateway_harness.h"
#include "json/json.h"
#include "queue/jetstream_queue.h"

namespace vv::testing {
namespace {

std::string Detail(const spectrastrike::HttpResponse& r) {
  auto v = json::Parse(r.body);
  if (!v.ok() || !v->is_object() || !v->Find("detail")) return "<" + r.body + ">";
  return v->Find("detail")->as_string();
}

class GatewayBackendsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VV_REQUIRE_SERVER(redis_);
    VV_REQUIRE_SERVER(nats_);
  }
  GatewayOptions Options(int64_t rate = 1000) {
    GatewayOptions o;
    o.rate_limit_per_minute = rate;
    o.nonce_backend = "redis";
    o.rate_limit_backend = "redis";
    o.redis_url = redis_.url();
    o.queue_backend = "nats";
    o.nats_url = nats_.url();
    return o;
  }
  static SignedRequest Req(const std::string& tag, int64_t ts, const std::string& event_id = "") {
    std::string nonce = "nonce-" + tag + "-" + std::to_string(ts) + "-" + std::to_string(::getpid());
    return SignBody(MakeTelemetryBody(ts, nonce, event_id.empty() ? "evt-" + nonce : event_id), ts,
                    nonce);
  }
  static spectrastrike::HttpResponse Post(spectrastrike::HttpsClient& c, const SignedRequest& r) {
    return c.Post("/internal/v1/telemetry", TelemetryHeaders(r), r.body);
  }
  int64_t StoredIngest() {
    queue::JetStreamOptions o;
    o.nats.url = nats_.url();
    auto pub = queue::JetStreamPublisher::Create(o);
    if (!pub.ok()) return -1;
    auto n = (*pub)->StoredCount(queue::Kind::kIngest);
    return n.ok() ? static_cast<int64_t>(*n) : -1;
  }

  RedisServer redis_;
  NatsServer nats_;
};

TEST_F(GatewayBackendsTest, ReplayAndRateLimitHoldAcrossReplicas) {
  GatewayUnderTest a(Options(2)), b(Options(2));
  ASSERT_TRUE(a.started()) << a.log();
  ASSERT_TRUE(b.started()) << b.log();
  auto ca = a.Client(), cb = b.Client();
  int64_t ts = NowSeconds();
  auto first = Req("x1", ts);
  ASSERT_EQ(Post(ca, first).status, 202);
  auto replay = Post(cb, first);
  EXPECT_EQ(replay.status, 409) << "replica B must see replica A's nonce";
  EXPECT_EQ(Detail(replay), "Replay detected: nonce already used");
  EXPECT_EQ(Post(cb, Req("x2", ts)).status, 202);
  auto limited = Post(ca, Req("x3", ts));
  EXPECT_EQ(limited.status, 429) << "the rate limit is shared: 2 per minute across replicas";
}

TEST_F(GatewayBackendsTest, ProducerRetryThroughAnotherReplicaIsStoredOnce) {
  GatewayUnderTest a(Options()), b(Options());
  ASSERT_TRUE(a.started()) << a.log();
  ASSERT_TRUE(b.started()) << b.log();
  auto ca = a.Client(), cb = b.Client();
  int64_t before = StoredIngest();
  ASSERT_GE(before, 0);
  int64_t ts = NowSeconds();
  ASSERT_EQ(Post(ca, Req("r1", ts, "evt-retry-once")).status, 202);
  ASSERT_EQ(Post(cb, Req("r2", ts, "evt-retry-once")).status, 202);  // fresh nonce, same event
  EXPECT_EQ(StoredIngest(), before + 1) << "JetStream dedupes on Nats-Msg-Id(tenant, event_id)";
}

TEST_F(GatewayBackendsTest, RedisOutageFailsClosedAndRecoversWithoutRestart) {
  GatewayUnderTest gw(Options());
  ASSERT_TRUE(gw.started()) << gw.log();
  auto c = gw.Client();
  redis_.Stop(/*hard=*/true);
  int64_t ts = NowSeconds();
  auto req = Req("redis-down", ts);
  auto r = Post(c, req);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Detail(r), "Nonce store unavailable");
  EXPECT_EQ(c.Get("/readyz").status, 503);
  ASSERT_TRUE(redis_.Restart().ok());
  int status = 0;
  for (int i = 0; i < 50 && status != 202; ++i) {
    status = Post(c, req).status;  // the same signed bytes: the nonce was never kept
    if (status != 202) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 202);
  // Readiness follows once every pooled connection has reconnected (bounded backoff <= 1 s).
  int ready = 0;
  for (int i = 0; i < 60 && ready != 200; ++i) {
    ready = c.Get("/readyz").status;
    if (ready != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(ready, 200);
}

TEST_F(GatewayBackendsTest, QueueOutageFailsClosedReleasesTheNonceAndRecovers) {
  GatewayUnderTest gw(Options());
  ASSERT_TRUE(gw.started()) << gw.log();
  auto c = gw.Client();
  nats_.Stop(/*hard=*/true);
  int64_t ts = NowSeconds();
  auto req = Req("nats-down", ts);
  auto r = Post(c, req);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Detail(r), "Telemetry queue publish failed");
  // Health tells the truth (issue 14): requests get 503, so does /healthz, with the reason.
  auto health = c.Get("/healthz");
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_NE(health.body.find("\"reason\":\"queue_unavailable\""), std::string::npos) << health.body;
  ASSERT_TRUE(nats_.Restart().ok());
  int status = 0;
  for (int i = 0; i < 100 && status != 202; ++i) {
    status = Post(c, req).status;  // same bytes: 503 until NATS is back, then 202 (never 409)
    ASSERT_NE(status, 409);
    if (status != 202) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, 202);
  // Healthy again: the 202's publish cleared the reported failure (the probe of the NATS
  // connection may lag the reconnect by a moment).
  auto healthy = c.Get("/healthz");
  for (int i = 0; i < 200 && healthy.status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    healthy = c.Get("/healthz");
  }
  EXPECT_EQ(healthy.status, 200) << healthy.body;
}

// A stream of signed requests while `outage` kills and restarts a backend: only 202 or 503
// (fail closed), 202s again afterwards, and every 202 is in the stream exactly once while no
// request that got an error is.
void StreamThroughAnOutage(GatewayUnderTest& gw, TestServer& victim, const std::string& nats_url,
                           const std::string& tag) {
  auto c = gw.Client();
  std::map<std::string, int> status_of;
  int64_t ts = NowSeconds();
  int outage_503 = 0, after_202 = 0;
  for (int i = 0; i < 240; ++i) {
    if (i == 60) victim.Stop(/*hard=*/true);
    if (i == 120) {
      ASSERT_TRUE(victim.Restart().ok());
    }
    std::string id = "evt-" + tag + "-" + std::to_string(i) + "-" + std::to_string(ts);
    std::string nonce = "nonce-" + id;
    auto r = SignBody(MakeTelemetryBody(ts, nonce, id), ts, nonce);
    int st = c.Post("/internal/v1/telemetry", TelemetryHeaders(r), r.body).status;
    ASSERT_TRUE(st == 202 || st == 503) << "request " << i << " got " << st;
    status_of[id] = st;
    if (i >= 60 && i < 120 && st == 503) ++outage_503;
    if (i >= 200 && st == 202) ++after_202;
    if (i >= 120 && i < 200 && st == 503) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_GT(outage_503, 0) << "the outage was not noticed";
  EXPECT_EQ(after_202, 40) << "not recovered without a restart";
  auto stored = StoredEventIds(nats_url, "check-" + tag);
  for (const auto& [id, st] : status_of) {
    auto it = stored.find(id);
    if (st == 202) {
      ASSERT_NE(it, stored.end()) << id << " got 202 but is not in the stream";
      EXPECT_EQ(it->second, 1) << id << " stored " << it->second << " times";
    } else {
      EXPECT_EQ(it, stored.end()) << id << " got 503 but is in the stream";
    }
  }
}

TEST_F(GatewayBackendsTest, RedisKilledDuringAStreamFailsClosedAndLosesNothing) {
  GatewayUnderTest gw(Options());
  ASSERT_TRUE(gw.started()) << gw.log();
  StreamThroughAnOutage(gw, redis_, nats_.url(), "redis");
}

TEST_F(GatewayBackendsTest, NatsKilledDuringAStreamFailsClosedAndLosesNothing) {
  GatewayUnderTest gw(Options());
  ASSERT_TRUE(gw.started()) << gw.log();
  StreamThroughAnOutage(gw, nats_, nats_.url(), "nats");
}

TEST_F(GatewayBackendsTest, AuditSealsAreAnchoredInJetStreamAndVerifiedAgainstIt) {
  GatewayOptions o = Options();
  o.seal_every = 2;
  o.extra_yaml = "    audit_anchor: jetstream\n";
  std::string audit_path;
  {
    GatewayUnderTest gw(o);
    ASSERT_TRUE(gw.started()) << gw.log();
    audit_path = gw.audit_path();
    auto c = gw.Client();
    int64_t ts = NowSeconds();
    for (int i = 0; i < 4; ++i) ASSERT_EQ(Post(c, Req("anchor" + std::to_string(i), ts)).status, 202);
    EXPECT_EQ(gw.Stop(), 0);
    std::string out;
    int rc = RunCommand({std::string(VV_BIN_DIR) + "/vv-audit", "verify", audit_path, "--anchor",
                         nats_.url()},
                        &out);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("\"ok\":true"), std::string::npos) << out;
    // Truncating the local log below an anchored seal is detected against the stream.
    std::string text = ReadFile(audit_path);
    size_t cut = text.find('\n', text.find('\n') + 1);
    WriteFile(audit_path, text.substr(0, cut + 1));
    rc = RunCommand({std::string(VV_BIN_DIR) + "/vv-audit", "verify", audit_path, "--anchor",
                     nats_.url()},
                    &out);
    EXPECT_EQ(rc, 3) << out;  // verification failed (issue 16's exit codes; was 1)
    EXPECT_NE(out.find("truncated_after_seal"), std::string::npos) << out;
  }
}

TEST_F(GatewayBackendsTest, ProductionProfileRefusesEmbeddedBackends) {
  GatewayOptions o;
  o.extra_yaml = "    profile: production\n";
  GatewayUnderTest gw(o);
  EXPECT_FALSE(gw.started());
  EXPECT_NE(gw.log().find("profile: production requires"), std::string::npos) << gw.log();
}

}  // namespace
}  // namespace vv::testing

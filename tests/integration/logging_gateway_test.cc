// Black-box: the gateway's logs (issue 16). Real vv-gateway, real mTLS, real Redis and NATS:
// an unknown log level is refused at start-up, log_format json gives one parseable JSON object
// per line, a rejection is logged with request_id, identity and reason as fields, and a backend
// outage gives exactly one "down" line and one "up again" line however many requests fail.

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "fakes/process.h"
#include "fakes/servers.h"
#include "fakes/temp_dir.h"
#include "integration/gateway_harness.h"
#include "json/json.h"

namespace vv::testing {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

int Count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

// Waits until the gateway's log contains `needle` (the backend watcher polls every second).
bool WaitForLog(const GatewayUnderTest& gw, const std::string& needle, int seconds = 10) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (gw.log().find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(GatewayLoggingTest, UnknownLogLevelIsRefusedAtStartup) {
  // The flag: spdlog's from_str("verbose") used to be "off" (logging silently disabled).
  TempDir dir;
  ChildProcess flag({std::string(VV_BIN_DIR) + "/vv-gateway", "--config",
                     dir.File("absent.yaml"), "--log-level", "verbose"},
                    dir.File("flag.log"), {});
  auto rc = flag.WaitExit(std::chrono::seconds(10));
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 2);
  // Refused as a usage error naming the valid levels (tools/cli: "verbose not in {trace,...}").
  EXPECT_NE(flag.Log().find("verbose not in {trace,debug,info,warn,error,critical,off}"),
            std::string::npos)
      << flag.Log();
  // The config key and the environment variable.
  GatewayOptions o;
  o.extra_yaml = "    log_level: loud\n";
  GatewayUnderTest bad_key(o);
  EXPECT_FALSE(bad_key.started());
  EXPECT_NE(bad_key.log().find("log_level (VV_TG_LOG_LEVEL): invalid log level \"loud\""),
            std::string::npos)
      << bad_key.log();
  GatewayOptions e;
  e.env = {"VV_TG_LOG_FORMAT=xml"};
  GatewayUnderTest bad_env(e);
  EXPECT_FALSE(bad_env.started());
  EXPECT_NE(bad_env.log().find("log_format (VV_TG_LOG_FORMAT)"), std::string::npos)
      << bad_env.log();
}

class GatewayLoggingBackendsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VV_REQUIRE_SERVER(redis_);
    VV_REQUIRE_SERVER(nats_);
  }
  RedisServer redis_;
  NatsServer nats_;
};

TEST_F(GatewayLoggingBackendsTest, JsonLinesRejectionFieldsAndOneLinePerBackendTransition) {
  GatewayOptions o;
  o.nonce_backend = "redis";
  o.rate_limit_backend = "redis";
  o.queue_backend = "nats";
  o.nats_url = nats_.url();
  o.extra_yaml = "    log_format: json\n";
  o.redis_url = redis_.url();
  GatewayUnderTest gw(o);
  ASSERT_TRUE(gw.started()) << gw.log();
  ASSERT_TRUE(WaitForLog(gw, "backend redis up")) << gw.log();

  // A rejection: a forged signature from the pinned producer.
  auto c = gw.Client();
  const int64_t ts = NowSeconds();
  const std::string nonce = "log-forged-" + std::to_string(ts) + "-" + std::to_string(::getpid());
  SignedRequest req = SignBody(MakeTelemetryBody(ts, nonce, "evt-" + nonce), ts, nonce);
  req.signature_b64[5] = req.signature_b64[5] == 'A' ? 'B' : 'A';
  auto r = c.Post("/internal/v1/telemetry", TelemetryHeaders(req), req.body);
  EXPECT_EQ(r.status, 401);

  // Redis goes away: requests fail closed (503) and the log says so once.
  redis_.Stop(/*hard=*/true);
  ASSERT_TRUE(WaitForLog(gw, "backend redis down")) << gw.log();
  for (int i = 0; i < 5; ++i) {
    const std::string n = nonce + "-down-" + std::to_string(i);
    SignedRequest d = SignBody(MakeTelemetryBody(ts, n, "evt-" + n), ts, n);
    EXPECT_EQ(c.Post("/internal/v1/telemetry", TelemetryHeaders(d), d.body).status, 503);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // more watcher polls
  ASSERT_TRUE(redis_.Restart().ok());
  ASSERT_TRUE(WaitForLog(gw, "backend redis up again")) << gw.log();

  // NATS goes away and comes back: nats.c's callbacks log the connection's transitions.
  nats_.Stop(/*hard=*/true);
  ASSERT_TRUE(WaitForLog(gw, "backend nats (jetstream queue) down")) << gw.log();
  ASSERT_TRUE(nats_.Restart().ok());
  ASSERT_TRUE(WaitForLog(gw, "backend nats (jetstream queue) up again", 20)) << gw.log();
  ASSERT_EQ(gw.Stop(), 0);

  const std::string log = gw.log();
  EXPECT_EQ(Count(log, "backend redis down"), 1) << log;
  EXPECT_EQ(Count(log, "backend redis up again"), 1) << log;
  EXPECT_EQ(Count(log, "backend nats (jetstream queue) down"), 1) << log;

  // Every log line is one JSON object (LISTENING/ADMIN_PORT are the supervisor's stdout lines).
  bool saw_rejection = false, saw_config = false;
  for (const auto& line : Lines(log)) {
    if (line.rfind("LISTENING", 0) == 0 || line.rfind("ADMIN_PORT", 0) == 0) continue;
    auto v = json::Parse(line);
    ASSERT_TRUE(v.ok() && v->is_object()) << "not a JSON line: " << line;
    for (const char* k : {"ts", "level", "component", "msg"})
      ASSERT_NE(v->Find(k), nullptr) << k << " missing: " << line;
    EXPECT_EQ(v->Find("component")->as_string(), "vv-gateway");
    const std::string msg = v->Find("msg")->as_string();
    if (msg.rfind("effective configuration: ", 0) == 0) {
      saw_config = true;
      EXPECT_NE(msg.find("nonce_backend=redis"), std::string::npos) << msg;
      EXPECT_NE(msg.find("log_format=json"), std::string::npos) << msg;
    }
    if (msg == "telemetry.rejected 401") {
      saw_rejection = true;
      EXPECT_EQ(v->Find("level")->as_string(), "info");
      ASSERT_NE(v->Find("request_id"), nullptr) << line;
      EXPECT_EQ(v->Find("request_id")->as_string().size(), 36u) << line;
      ASSERT_NE(v->Find("reason"), nullptr) << line;
      EXPECT_EQ(v->Find("reason")->as_string(), "bad_signature") << line;
      ASSERT_NE(v->Find("identity"), nullptr) << line;
      EXPECT_EQ(v->Find("identity")->as_string(), "spectrastrike-producer") << line;
    }
  }
  EXPECT_TRUE(saw_rejection) << log;
  EXPECT_TRUE(saw_config) << log;
}

}  // namespace
}  // namespace vv::testing

// Black-box, issue 14 items 1 and 6: gateway replicas sharing one JetStream audit anchor (real
// nats-server), each with its own replica_id, origin, log and anchor subject; and audit log
// rotation of a running gateway (vv-audit rotate through the admin listener, and SIGUSR1),
// verified as a chain of segments against the anchor.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <string>
#include <thread>

#include "fakes/servers.h"
#include "integration/gateway_harness.h"
#include "json/json.h"

namespace vv::testing {
namespace {

const std::string kVvAudit = std::string(VV_BIN_DIR) + "/vv-audit";

bool Exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// Polls `pred` every 50 ms until it holds or `seconds` pass (no timed assertions: the
// deadline only bounds a hung test).
template <typename Pred>
bool WaitFor(Pred pred, int seconds = 30) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

class AuditReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override { VV_REQUIRE_SERVER(nats_); }
  GatewayOptions Options(const std::string& replica_id) {
    GatewayOptions o;
    o.seal_every = 2;
    o.extra_yaml = "    audit_anchor: jetstream\n    audit_anchor_nats_url: " + nats_.url() +
                   "\n    admin_listen: \"127.0.0.1:0\"\n";
    if (!replica_id.empty()) o.extra_yaml += "    replica_id: " + replica_id + "\n";
    return o;
  }
  static spectrastrike::HttpResponse Post(const GatewayUnderTest& gw, const std::string& tag) {
    const int64_t ts = NowSeconds();
    const std::string nonce = "n-" + tag + "-" + std::to_string(ts) + "-" + std::to_string(::getpid());
    SignedRequest r = SignBody(MakeTelemetryBody(ts, nonce, "evt-" + nonce), ts, nonce);
    auto c = gw.Client();
    return c.Post("/internal/v1/telemetry", TelemetryHeaders(r), r.body);
  }
  static int Verify(const std::vector<std::string>& args, std::string* out) {
    std::vector<std::string> argv = {kVvAudit, "verify"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, out);
  }
  static uint16_t AdminPort(const GatewayUnderTest& gw) {
    uint16_t port = 0;
    WaitFor([&] {
      const std::string log = gw.log();
      const size_t at = log.find("ADMIN_PORT ");
      if (at == std::string::npos) return false;
      port = static_cast<uint16_t>(std::stoi(log.substr(at + 11)));
      return true;
    });
    return port;
  }

  NatsServer nats_;
};

// The defect, reproduced: two replicas without replica_id share the checkpoint origin and so
// the anchor subject; the second one to seal finds the first one's history there
// (fork_detected) and refuses to seal from then on: 503. The policy gate's replica_identity
// rule refuses this configuration in production.
TEST_F(AuditReplicaTest, WithoutReplicaIdTheSecondReplicaForksOnTheSharedAnchor) {
  GatewayUnderTest a(Options(""));
  GatewayUnderTest b(Options(""));
  ASSERT_TRUE(a.started()) << a.log();
  ASSERT_TRUE(b.started()) << b.log();
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Post(a, "a" + std::to_string(i)).status, 202) << a.log();
  bool refused = false;
  for (int i = 0; i < 40 && !refused; ++i) {
    refused = Post(b, "b" + std::to_string(i)).status == 503;
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(refused) << b.log();
  EXPECT_NE(b.log().find("fork_detected"), std::string::npos) << b.log();
}

TEST_F(AuditReplicaTest, TwoReplicasShareOneAnchorStreamEachVerifyingAgainstItsOwnSubject) {
  // Stopped but kept: their directories hold the logs.
  GatewayUnderTest a(Options("gw-a"));
  GatewayUnderTest b(Options("gw-b"));
  ASSERT_TRUE(a.started()) << a.log();
  ASSERT_TRUE(b.started()) << b.log();
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(Post(a, "a" + std::to_string(i)).status, 202) << a.log();
    ASSERT_EQ(Post(b, "b" + std::to_string(i)).status, 202) << b.log();
  }
  const std::string log_a = a.audit_path(), log_b = b.audit_path();
  EXPECT_EQ(a.Stop(), 0);
  EXPECT_EQ(b.Stop(), 0);
  EXPECT_EQ(a.log().find("fork_detected"), std::string::npos) << a.log();
  EXPECT_EQ(b.log().find("fork_detected"), std::string::npos) << b.log();
  for (const auto& [log, origin] : {std::pair{log_a, "vectorvue.local/audit-log/gw-a"},
                                    std::pair{log_b, "vectorvue.local/audit-log/gw-b"}}) {
    std::string out;
    EXPECT_EQ(Verify({log, "--anchor", nats_.url()}, &out), 0) << out;
    auto v = json::Parse(out.substr(out.rfind('{')));
    ASSERT_TRUE(v.ok()) << out;
    EXPECT_EQ(v->Find("ok")->as_bool(), true) << out;
    ASSERT_NE(v->Find("anchored_size"), nullptr) << out;
    EXPECT_GT(*v->Find("anchored_size")->as_int64(), 0) << out;
    EXPECT_NE(out.find(std::string("vectorvue.audit.anchor.") +
                       (std::string(origin).back() == 'a' ? "vectorvue_local_audit-log_gw-a"
                                                          : "vectorvue_local_audit-log_gw-b")),
              std::string::npos)
        << out;
  }
  // Replica B's log against replica A's anchor is refused, naming the mismatch.
  std::string out;
  EXPECT_EQ(Verify({log_b, "--anchor", nats_.url(), "--origin", "vectorvue.local/audit-log/gw-a"},
                   &out),
            3)
      << out;
  EXPECT_NE(out.find("origin_mismatch"), std::string::npos) << out;
  EXPECT_NE(out.find("gw-a"), std::string::npos) << out;
}

TEST_F(AuditReplicaTest, RotateARunningGatewayAndVerifyTheChainOfSegments) {
  GatewayUnderTest gw(Options("gw-r"));
  ASSERT_TRUE(gw.started()) << gw.log();
  const uint16_t admin = AdminPort(gw);
  ASSERT_NE(admin, 0) << gw.log();
  const std::string log = gw.audit_path();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Post(gw, "r0-" + std::to_string(i)).status, 202);

  // 1. vv-audit rotate through the admin listener (POST needs the admin token).
  std::string out;
  EXPECT_NE(RunCommand({kVvAudit, "rotate", "--admin", "127.0.0.1:" + std::to_string(admin),
                        "--token-file", gw.dir() + "/admin.token.missing"},
                       &out),
            0);
  ASSERT_EQ(RunCommand({kVvAudit, "rotate", "--admin", "127.0.0.1:" + std::to_string(admin),
                        "--token-file", gw.dir() + "/admin.token"},
                       &out),
            0)
      << out << gw.log();
  EXPECT_NE(out.find("\"rotated\":true"), std::string::npos) << out;
  EXPECT_TRUE(Exists(log + ".000000"));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Post(gw, "r1-" + std::to_string(i)).status, 202);

  // 2. SIGUSR1.
  ASSERT_EQ(::kill(gw.pid(), SIGUSR1), 0);
  ASSERT_TRUE(WaitFor([&] { return Exists(log + ".000001"); })) << gw.log();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Post(gw, "r2-" + std::to_string(i)).status, 202);

  // 3. The gateway restarts cleanly on the rotated log.
  EXPECT_EQ(gw.Stop(), 0);
  ASSERT_TRUE(gw.Restart()) << gw.log();
  ASSERT_EQ(Post(gw, "r3").status, 202) << gw.log();
  EXPECT_EQ(gw.Stop(), 0);

  // 4. The chain verifies against the JetStream anchor: by directory and by --chain.
  EXPECT_EQ(Verify({gw.dir(), "--anchor", nats_.url()}, &out), 0) << out;
  EXPECT_NE(out.find("\"segments\":3"), std::string::npos) << out;
  EXPECT_EQ(Verify({"--chain", log, "--anchor", nats_.url()}, &out), 0) << out;
  // The rotated segment alone is not the live log.
  EXPECT_EQ(Verify({log + ".000000", "--anchor", nats_.url()}, &out), 3) << out;
  EXPECT_NE(out.find("truncated_after_seal"), std::string::npos) << out;

  // 5. A missing segment is named.
  ASSERT_EQ(::rename((log + ".000001").c_str(), (gw.dir() + "/held-aside").c_str()), 0);
  EXPECT_EQ(Verify({gw.dir(), "--anchor", nats_.url()}, &out), 3) << out;
  EXPECT_NE(out.find("missing_segment"), std::string::npos) << out;
  EXPECT_NE(out.find("\"segment\":1"), std::string::npos) << out;
  ASSERT_EQ(::rename((gw.dir() + "/held-aside").c_str(), (log + ".000001").c_str()), 0);

  // 6. Moving the live log aside by hand (not a rotation) still refuses to start.
  ASSERT_EQ(::rename(log.c_str(), (log + ".moved").c_str()), 0);
  EXPECT_FALSE(gw.Restart());
  EXPECT_NE(gw.log().find("truncated_after_seal"), std::string::npos) << gw.log();
}

}  // namespace
}  // namespace vv::testing

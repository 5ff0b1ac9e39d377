// End to end on embedded defaults, black-box: producer library -> vv-gateway (mTLS) -> embedded
// queue -> vv-engine -> encrypted evidence store -> vv-evidence (decrypts, tenant-scoped).

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "crypto/crypto.h"
#include "fakes/process.h"
#include "integration/gateway_harness.h"
#include "json/json.h"

namespace vv::testing {
namespace {

TEST(PipelineE2ETest, ProducerToGatewayToEngineToEncryptedStore) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  auto client = gw.Client();
  int64_t ts = NowSeconds();
  std::vector<std::string> event_ids;
  for (int i = 0; i < 3; ++i) {
    std::string nonce = "nonce-e2e-" + std::to_string(i) + "-" + std::to_string(ts);
    std::string event_id = "evt-e2e-" + std::to_string(i) + "-" + std::to_string(ts);
    auto r = SignBody(MakeTelemetryBody(ts, nonce, event_id), ts, nonce);
    auto resp = client.Post("/internal/v1/telemetry", TelemetryHeaders(r), r.body);
    ASSERT_EQ(resp.status, 202) << resp.body;
    event_ids.push_back(event_id);
  }

  // The engine reads the gateway's config file plus its own section.
  TempDir dir;
  std::string root_key = dir.File("root.key");
  WriteFile(root_key, std::string(32, 'A'), 0400);
  std::string cfg = ReadFile(gw.config_path());
  cfg += "  evidence_engine:\n"
         "    store_backend: sqlite\n"
         "    store_path: " + dir.File("evidence.db") + "\n"
         "    root_key_provider: file\n"
         "    root_key_id: vv-evidence-root-v1\n"
         "    root_key_file: " + root_key + "\n"
         "    audit_log_path: " + dir.File("engine-audit.jsonl") + "\n"
         "    audit_seal_key_path: " + dir.File("engine-seal.key") + "\n"
         "    metrics_path: \"\"\n" +
         QueueVerifyKeysYaml();
  std::string engine_cfg = dir.File("engine.yaml");
  WriteFile(engine_cfg, cfg, 0600);
  const auto seal_key = crypto::Ed25519PrivateKey::Generate();
  WriteFile(dir.File("engine-seal.key"), seal_key.Seed(), 0600);

  std::string out;
  int rc = RunCommand({std::string(VV_BIN_DIR) + "/vv-engine", "--config", engine_cfg, "--drain"},
                      &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("stored=3"), std::string::npos) << out;
  // The engine's own audit log is sealed with its key, up to its last entry (shutdown seal).
  rc = RunCommand({std::string(VV_BIN_DIR) + "/vv-audit", "verify", dir.File("engine-audit.jsonl"),
                   "--public-key", seal_key.PublicKey().ToBase64()},
                  &out);
  ASSERT_EQ(rc, 0) << out;
  auto verdict = json::Parse(out.substr(out.rfind('{')));
  ASSERT_TRUE(verdict.ok()) << out;
  EXPECT_EQ(verdict->Find("signature_key")->as_string(), "pinned") << out;
  EXPECT_EQ(*verdict->Find("sealed_size")->as_int64(), *verdict->Find("entries")->as_int64() - 1)
      << out;

  // Tenant-scoped, decrypted read-back.
  rc = RunCommand({std::string(VV_BIN_DIR) + "/vv-evidence", "list", "--config", engine_cfg,
                   "--tenant", kTenant1},
                  &out);
  ASSERT_EQ(rc, 0) << out;
  auto start = out.find('[');
  ASSERT_NE(start, std::string::npos) << out;
  auto records = json::Parse(out.substr(start));
  ASSERT_TRUE(records.ok()) << out;
  ASSERT_EQ(records->as_array().size(), 3u);
  for (const auto& rec : records->as_array()) {
    const json::Value* payload = rec.Find("payload");
    ASSERT_NE(payload, nullptr);
    EXPECT_EQ(payload->Find("tenant_id")->as_string(), kTenant1);
    EXPECT_EQ(payload->Find("payload")->Find("severity")->as_string(), "high");
  }
  // Another tenant sees nothing.
  rc = RunCommand({std::string(VV_BIN_DIR) + "/vv-evidence", "list", "--config", engine_cfg,
                   "--tenant", kTenant2},
                  &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("[]"), std::string::npos) << out;
  // The payload is not stored in clear.
  std::string db = ReadFile(dir.File("evidence.db"));
  EXPECT_EQ(db.find("Observed suspicious process chain"), std::string::npos);
  EXPECT_EQ(db.find(event_ids[0] + "\",\"event_type"), std::string::npos);
}

}  // namespace
}  // namespace vv::testing

namespace vv::testing {
namespace {

// The engine's metrics are exposed the same way as the gateway's: GET /metrics on a loopback
// admin listener, with the EngineMetrics set moving as messages are stored.
TEST(EngineMetricsTest, AdminListenerServesEngineMetrics) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  auto client = gw.Client();
  int64_t ts = NowSeconds();
  for (int i = 0; i < 2; ++i) {
    std::string nonce = "nonce-em-" + std::to_string(i) + "-" + std::to_string(ts);
    auto r = SignBody(MakeTelemetryBody(ts, nonce, "evt-" + nonce), ts, nonce);
    ASSERT_EQ(client.Post("/internal/v1/telemetry", TelemetryHeaders(r), r.body).status, 202);
  }
  TempDir dir;
  std::string root_key = dir.File("root.key");
  WriteFile(root_key, std::string(32, 'B'), 0400);
  std::string cfg = ReadFile(gw.config_path()) +
                    "  evidence_engine:\n    store_backend: sqlite\n    store_path: " +
                    dir.File("evidence.db") +
                    "\n    root_key_provider: file\n    root_key_id: k1\n    root_key_file: " +
                    root_key + "\n    audit_log_path: " + dir.File("engine-audit.jsonl") +
                    "\n    metrics_path: \"\"\n    poll_interval_ms: 50\n" +
                    QueueVerifyKeysYaml();
  std::string engine_cfg = dir.File("engine.yaml");
  WriteFile(engine_cfg, cfg, 0600);
  ChildProcess engine({std::string(VV_BIN_DIR) + "/vv-engine", "--config", engine_cfg,
                       "--admin-listen", "127.0.0.1:0"},
                      dir.File("engine.log"));
  auto port = engine.WaitForLine("ADMIN_PORT ", std::chrono::seconds(20));
  ASSERT_TRUE(port.has_value()) << engine.Log();
  std::string metrics;
  for (int i = 0; i < 100; ++i) {
    std::string out;
    RunCommand({"/usr/bin/curl", "-s", "http://127.0.0.1:" + *port + "/metrics"}, &out);
    metrics = out;
    if (metrics.find("vv_engine_messages_stored_total 2") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(metrics.find("vv_engine_messages_stored_total 2"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("vv_engine_messages_consumed_total"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("# TYPE vv_engine_consumer_lag_messages gauge"), std::string::npos) << metrics;
  EXPECT_EQ(engine.Terminate(15, std::chrono::seconds(10)), 0) << engine.Log();
}

}  // namespace
}  // namespace vv::testing

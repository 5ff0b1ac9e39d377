// config::LoadEngineConfig: the vectorvue.evidence_engine section plus the shared gateway keys.

#include "config/engine_config.h"

#include <gtest/gtest.h>

#include <map>

namespace vv::config {
namespace {

EnvLookup Env(std::map<std::string, std::string> vars = {}) {
  return [vars](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const char kBase[] =
    "vectorvue:\n"
    "  telemetry_gateway:\n"
    "    listen: 127.0.0.1:8443\n"
    "    queue_path: var/q.db\n"
    "    audit_log_path: var/audit.jsonl\n"
    "    operator_tenant_map:\n"
    "      op-001: 10000000-0000-0000-0000-000000000001\n";

TEST(EngineConfigTest, DefaultsAndSharedGatewayKeys) {
  auto c = ParseEngineConfig(kBase, Env(), "/etc/vv");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->queue_backend, QueueBackend::kEmbedded);
  EXPECT_EQ(c->queue_path, "/etc/vv/var/q.db");
  EXPECT_EQ(c->store_backend, StoreBackend::kSqlite);
  EXPECT_EQ(c->root_key_provider, "env");
  EXPECT_EQ(c->EffectiveAuditLogPath(), "/etc/vv/var/audit.jsonl.engine.jsonl");
  EXPECT_EQ(c->operator_tenant_map.at("op-001"), "10000000-0000-0000-0000-000000000001");
}

TEST(EngineConfigTest, ProbeListenAnyAddressButValid) {
  auto on = ParseEngineConfig(std::string(kBase) + "  evidence_engine:\n    probe_listen: 0.0.0.0:9466\n",
                              Env(), "/etc/vv");
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  EXPECT_EQ(on->probe_listen, "0.0.0.0:9466");
  EXPECT_EQ(ParseEngineConfig(kBase, Env(), "/etc/vv")->probe_listen, "");
  auto bad = ParseEngineConfig(std::string(kBase) + "  evidence_engine:\n    probe_listen: nowhere\n",
                               Env(), "/etc/vv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("probe_listen"), std::string::npos);
}

TEST(EngineConfigTest, EngineSectionAndEnvironmentOverrides) {
  std::string y = std::string(kBase) +
                  "  evidence_engine:\n"
                  "    store_backend: postgres\n"
                  "    postgres_url: postgresql://vv_engine@db/vv\n"
                  "    root_key_provider: pkcs11\n"
                  "    pkcs11_token_label: vv\n"
                  "    root_key_id: hsm-1\n"
                  "    audit_log_path: engine.jsonl\n"
                  "    audit_seal_pkcs11_token_label: vv-audit\n"
                  "    audit_seal_pkcs11_key_label: engine-seal\n"
                  "    max_deliveries: 7\n";
  auto c = ParseEngineConfig(y,
                             Env({{"VV_EVIDENCE_POSTGRES_URL", "postgresql://x@y/z"},
                                  {"VV_HSM_EVIDENCE_ROOT_KEY_ID", "hsm-2"}}),
                             "/d");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->postgres_url, "postgresql://x@y/z");
  EXPECT_EQ(c->root_key_id, "hsm-2");
  EXPECT_EQ(c->max_deliveries, 7);
  EXPECT_EQ(c->EffectiveAuditLogPath(), "/d/engine.jsonl");
  EXPECT_EQ(c->audit_seal_pkcs11.token_label, "vv-audit");
  EXPECT_EQ(c->audit_seal_pkcs11.key_label, "engine-seal");
}

// Issue 12: the gateway's queue public keys (several kids), the NATS credentials/TLS shared with
// the gateway, and the development-only escape hatch for unsigned envelopes.
TEST(EngineConfigTest, QueueVerifyKeysAndUnsignedFlag) {
  const std::string k1 = "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=";
  auto c = ParseEngineConfig(std::string(kBase) +
                                 "    nats_creds_file: nats.creds\n"
                                 "    nats_tls_ca_path: ca.crt\n"
                                 "  evidence_engine:\n    queue_verify_keys:\n      old: " + k1 +
                                 "\n      new: " + k1 + "\n",
                             Env(), "/d");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->queue_verify_keys.size(), 2u);
  EXPECT_FALSE(c->allow_unsigned_queue_messages);
  EXPECT_EQ(c->nats_creds_file, "/d/nats.creds");
  EXPECT_EQ(c->nats_tls_ca_path, "/d/ca.crt");
  auto env = ParseEngineConfig(kBase, Env({{"VV_EVIDENCE_QUEUE_VERIFY_KEYS_JSON",
                                            "{\"q\":\"" + k1 + "\"}"}}),
                               "/d");
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->queue_verify_keys.count("q"), 1u);
  auto bad_key = ParseEngineConfig(
      std::string(kBase) + "  evidence_engine:\n    queue_verify_keys:\n      q: notakey\n", Env(),
      "/d");
  ASSERT_FALSE(bad_key.ok());
  EXPECT_NE(bad_key.status().message().find("queue_verify_keys.q"), std::string::npos);
  const std::string unsigned_section =
      "  evidence_engine:\n    allow_unsigned_queue_messages: true\n";
  EXPECT_TRUE(ParseEngineConfig(std::string(kBase) + unsigned_section, Env(), "/d")
                  ->allow_unsigned_queue_messages);
  std::string prod(kBase);
  prod.insert(prod.find("    listen:"), "    profile: production\n");
  // (Issue 14: production also needs the shared PostgreSQL store; input extended.)
  const std::string pg = "    store_backend: postgres\n    postgres_url: postgresql://vv@db/vv\n";
  auto refused = ParseEngineConfig(prod + unsigned_section + pg, Env(), "/d");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("forbidden in profile production"), std::string::npos)
      << refused.status().message();
}

TEST(EngineConfigTest, ProductionRefusesASqliteStore) {
  std::string prod(kBase);
  prod.insert(prod.find("    listen:"), "    profile: production\n");
  auto sqlite = ParseEngineConfig(prod, Env(), "/d");  // store_backend defaults to sqlite
  ASSERT_FALSE(sqlite.ok());
  EXPECT_NE(sqlite.status().message().find("store_backend must be postgres in profile production"),
            std::string::npos)
      << sqlite.status().message();
  auto pg = ParseEngineConfig(
      prod + "  evidence_engine:\n    store_backend: postgres\n    postgres_url: postgresql://vv@db/vv\n",
      Env(), "/d");
  EXPECT_TRUE(pg.ok() || pg.status().message().find("store_backend") == std::string::npos)
      << pg.status().message();
}

TEST(EngineConfigTest, RejectsBadOrUnsafeSettingsNamingTheKey) {
  auto bad = [](const std::string& section) {
    auto c = ParseEngineConfig(std::string(kBase) + "  evidence_engine:\n" + section, Env(), "/d");
    return c.ok() ? std::string() : c.status().message();
  };
  EXPECT_NE(bad("    store_backend: mongo\n").find("store_backend"), std::string::npos);
  EXPECT_NE(bad("    root_key_provider: kms\n").find("root_key_provider"), std::string::npos);
  EXPECT_NE(bad("    root_key_provider: file\n").find("root_key_file"), std::string::npos);
  EXPECT_NE(bad("    root_key_provider: pkcs11\n").find("pkcs11_token_label"), std::string::npos);
  EXPECT_NE(bad("    store_backend: postgres\n").find("postgres_url"), std::string::npos);
  EXPECT_NE(bad("    max_deliveries: 0\n").find("max_deliveries"), std::string::npos);
  EXPECT_NE(bad("    batch_size: abc\n").find("batch_size"), std::string::npos);
  EXPECT_NE(bad("    typo_key: 1\n").find("typo_key"), std::string::npos);
  // Issue 14: queue retention and the JetStream ack wait.
  EXPECT_NE(bad("    queue_retention_seconds: -1\n").find("queue_retention_seconds"),
            std::string::npos);
  EXPECT_NE(bad("    jetstream_ack_wait_seconds: 90000\n").find("jetstream_ack_wait_seconds"),
            std::string::npos);
  EXPECT_EQ(bad("    queue_retention_seconds: 0\n    jetstream_ack_wait_seconds: 5\n"), "");
  // The engine's own seal key: a PKCS#11 pair needs its label, and excludes a key file.
  EXPECT_NE(bad("    audit_seal_pkcs11_token_label: vv\n").find("audit_seal_pkcs11_key_label"),
            std::string::npos);
  EXPECT_NE(bad("    audit_seal_pkcs11_token_label: vv\n    audit_seal_pkcs11_key_label: k\n"
                "    audit_seal_key_path: /nonexistent/seal.key\n")
                .find("audit_seal_key_path"),
            std::string::npos);
  // The engine must never share the gateway's audit file (one writer per file).
  EXPECT_NE(bad("    audit_log_path: var/audit.jsonl\n").find("audit_log_path"), std::string::npos);
  // Tenant map required and must hold UUIDs.
  auto c = ParseEngineConfig("vectorvue:\n  telemetry_gateway:\n    queue_path: q\n", Env(), "/d");
  EXPECT_FALSE(c.ok());
  auto d = ParseEngineConfig(kBase, Env({{"VV_TG_OPERATOR_TENANT_MAP", R"({"op":"nope"})"}}), "/");
  EXPECT_FALSE(d.ok());
  EXPECT_FALSE(ParseEngineConfig("[1, 2", Env(), "/").ok());
  EXPECT_FALSE(LoadEngineConfig("/nonexistent/vv.yaml", Env()).ok());
}

}  // namespace
}  // namespace vv::config

namespace vv::config {
namespace {

TEST(EngineConfigTest, ShippedExampleLoads) {
  auto c = LoadEngineConfig(std::string(VV_SOURCE_DIR) + "/deploy/config/engine.example.yaml",
                            [](const std::string&) { return std::optional<std::string>(); });
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->root_key_provider, "file");
  EXPECT_EQ(c->store_backend, StoreBackend::kSqlite);
  EXPECT_EQ(c->queue_retention_seconds, 604800);
  EXPECT_EQ(c->jetstream_ack_wait_seconds, 0);
  EXPECT_NE(c->EffectiveAuditLogPath().find("vv-audit.jsonl.engine.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace vv::config

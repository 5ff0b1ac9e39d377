#include "config/effective_config.h"

#include <gtest/gtest.h>

namespace vv::config {
namespace {

TEST(RedactUrlTest, HidesPasswordsKeepsWhereItPoints) {
  EXPECT_EQ(RedactUrl("redis://:s3cret@127.0.0.1:6379/0"), "redis://:***@127.0.0.1:6379/0");
  EXPECT_EQ(RedactUrl("redis://app:s3cret@redis:6379/2"), "redis://app:***@redis:6379/2");
  EXPECT_EQ(RedactUrl("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
  EXPECT_EQ(RedactUrl("nats://mytoken@nats:4222"), "nats://***@nats:4222");
  EXPECT_EQ(RedactUrl("postgresql://vv:pw@db/vv?sslmode=require&password=pw2"),
            "postgresql://vv:***@db/vv?sslmode=require&password=***");
  EXPECT_EQ(RedactUrl("host=db user=vv password=pw dbname=vv"),
            "host=db user=vv password=*** dbname=vv");
  EXPECT_EQ(RedactUrl("postgresql://db/vv?auth_token=abc"), "postgresql://db/vv?auth_token=***");
  EXPECT_EQ(RedactUrl(""), "");
}

TEST(DescribeConfigTest, GatewayShowsPathsNeverSecrets) {
  GatewayConfig c;
  c.redis_url = "redis://:hunter2@10.0.0.5:6379/0";
  c.nats_url = "nats://tok3n@nats:4222";
  c.tls.key_path = "/etc/vv/server.key";
  c.audit_signing_key_path = "/etc/vv/seal.key";
  c.log_format = "json";
  const std::string d = DescribeGatewayConfig(c);
  EXPECT_EQ(d.find("hunter2"), std::string::npos) << d;
  EXPECT_EQ(d.find("tok3n"), std::string::npos) << d;
  EXPECT_NE(d.find("redis_url=redis://:***@10.0.0.5:6379/0"), std::string::npos) << d;
  EXPECT_NE(d.find("tls.key=/etc/vv/server.key"), std::string::npos) << d;
  EXPECT_NE(d.find("audit_seal_key_path=/etc/vv/seal.key"), std::string::npos) << d;
  EXPECT_NE(d.find("log_format=json"), std::string::npos) << d;
  EXPECT_NE(d.find("require_mtls=true"), std::string::npos) << d;
}

TEST(DescribeConfigTest, EngineRedactsPostgresPassword) {
  EngineConfig c;
  c.store_backend = StoreBackend::kPostgres;
  c.postgres_url = "postgresql://vv:Pa55@db:5432/vv";
  const std::string d = DescribeEngineConfig(c);
  EXPECT_EQ(d.find("Pa55"), std::string::npos) << d;
  EXPECT_NE(d.find("postgres_url=postgresql://vv:***@db:5432/vv"), std::string::npos) << d;
  EXPECT_NE(d.find("store_backend=postgres"), std::string::npos) << d;
}

}  // namespace
}  // namespace vv::config

namespace vv::config {
namespace {

// log_level / log_format: validated at load (an unknown level used to silence the process).
TEST(LogSettingsTest, GatewayAndEngineRefuseUnknownLevelAndFormat) {
  auto env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  // Validation checks the log settings first, so a default config gets past them.
  GatewayConfig g;
  EXPECT_EQ(ValidateGatewayConfig(g).message().find("log_"), std::string::npos);
  g.log_level = "verbose";
  Status s = ValidateGatewayConfig(g);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("log_level"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("trace, debug, info, warn, error"), std::string::npos);
  g.log_level = "debug";
  g.log_format = "xml";
  s = ValidateGatewayConfig(g);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("log_format"), std::string::npos) << s.message();

  auto e = ParseEngineConfig(
      "vectorvue:\n  evidence_engine:\n    log_level: loud\n", env, "/tmp");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("evidence_engine.log_level"), std::string::npos)
      << e.status().message();
  auto env_json = [](const std::string& n) -> std::optional<std::string> {
    if (n == "VV_EVIDENCE_LOG_FORMAT") return std::string("json");
    return std::nullopt;
  };
  auto ok = ParseEngineConfig(
      "vectorvue:\n  telemetry_gateway:\n    operator_tenant_map:\n"
      "      op-001: 10000000-0000-0000-0000-000000000001\n"
      "  evidence_engine:\n    log_level: warn\n",
      env_json, "/tmp");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->log_level, "warn");
  EXPECT_EQ(ok->log_format, "json");
}

}  // namespace
}  // namespace vv::config

// Producer configuration: manual section 9 YAML, the issue's extra fields, VECTORVUE_* overrides.
#include <gtest/gtest.h>

#include "spectrastrike/config.h"

namespace spectrastrike {
namespace {

constexpr char kManualYaml[] = R"(spectrastrike:
  producer:
    endpoint: https://vectorvue-telemetry-gateway.internal/internal/v1/telemetry
    service_identity: spectrastrike-producer
    operator_id: op-001
    tenant_id: 10000000-0000-0000-0000-000000000001
    campaign_id: cmp-001
    spool_path: spool.db
    mtls:
      cert_path: /etc/spectrastrike/certs/client.crt
      key_path: /etc/spectrastrike/certs/client.key
      ca_path: /etc/spectrastrike/certs/ca.crt
      verify_peer: true
    signing:
      algorithm: ed25519
      private_key_path: /etc/spectrastrike/keys/telemetry_ed25519.key
      key_id: spectrastrike-ed25519-2026q1
    replay:
      nonce_length: 24
      timestamp_format: unix_epoch_seconds
      max_clock_skew_seconds: 30
    retry:
      max_attempts: 3
      backoff_ms: 500
      jitter_ms: 250
)";

TEST(ProducerConfigTest, ManualSection9ExampleParses) {
  auto c = ParseProducerConfig(kManualYaml, {}, "/srv/ss");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->host, "vectorvue-telemetry-gateway.internal");
  EXPECT_EQ(c->port, 443);
  EXPECT_EQ(c->base_path, "");
  EXPECT_EQ(c->service_identity, "spectrastrike-producer");
  EXPECT_EQ(c->cert_path, "/etc/spectrastrike/certs/client.crt");
  EXPECT_EQ(c->private_key_path, "/etc/spectrastrike/keys/telemetry_ed25519.key");
  EXPECT_EQ(c->key_id, "spectrastrike-ed25519-2026q1");
  EXPECT_EQ(c->nonce_length, 24u);
  EXPECT_EQ(c->retry.max_attempts, 3);
  EXPECT_EQ(c->retry.backoff_ms, 500);
  EXPECT_EQ(c->retry.jitter_ms, 250);
  EXPECT_EQ(c->identity.operator_id, "op-001");
  EXPECT_EQ(c->identity.campaign_id, "cmp-001");
  EXPECT_EQ(c->spool_path, "/srv/ss/spool.db");  // relative to the config file
}

TEST(ProducerConfigTest, EnvironmentOverridesYaml) {
  Environment env = {
      {"VECTORVUE_FEDERATION_URL", "https://127.0.0.1:8443/prefix"},
      {"VECTORVUE_FEDERATION_SERVICE_IDENTITY", "other-id"},
      {"VECTORVUE_MTLS_CLIENT_CERT_FILE", "/c.crt"},
      {"VECTORVUE_FEDERATION_MTLS_KEY_FILE", "/k.key"},
      {"VECTORVUE_VERIFY_TLS_CA_FILE", "/ca.crt"},
      {"VECTORVUE_FEDERATION_SIGNING_KEY_PATH", "/sign.key"},
      {"VECTORVUE_FEDERATION_OPERATOR_ID", "op-002"},
      {"VECTORVUE_TENANT_ID", "20000000-0000-0000-0000-000000000002"},
      {"VECTORVUE_TLS_PINNED_CERT_SHA256", "ab"},
      {"VECTORVUE_FEEDBACK_VERIFY_PUBLIC_KEY_B64", "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc="},
  };
  auto c = ParseProducerConfig(kManualYaml, env);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_EQ(c->port, 8443);
  EXPECT_EQ(c->base_path, "/prefix");
  EXPECT_EQ(c->service_identity, "other-id");
  EXPECT_EQ(c->cert_path, "/c.crt");
  EXPECT_EQ(c->key_path, "/k.key");
  EXPECT_EQ(c->ca_path, "/ca.crt");
  EXPECT_EQ(c->private_key_path, "/sign.key");
  EXPECT_EQ(c->identity.operator_id, "op-002");
  EXPECT_EQ(c->identity.tenant_id, "20000000-0000-0000-0000-000000000002");
  EXPECT_EQ(c->pinned_server_cert_sha256, "ab");
  EXPECT_EQ(c->feedback_verify_keys.at("default"), "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=");
  // Keys JSON wins over the single key.
  env["VECTORVUE_FEEDBACK_VERIFY_KEYS_JSON"] = R"({"kid-001":"/fb.pub"})";
  c = ParseProducerConfig(kManualYaml, env);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->feedback_verify_keys.size(), 1u);
  EXPECT_EQ(c->feedback_verify_keys.at("kid-001"), "/fb.pub");
}

TEST(ProducerConfigTest, PeerVerificationCannotBeTurnedOff) {
  std::string yaml = kManualYaml;
  yaml.replace(yaml.find("verify_peer: true"), 17, "verify_peer: false");
  EXPECT_FALSE(ParseProducerConfig(yaml, {}).ok());
  EXPECT_FALSE(ParseProducerConfig(kManualYaml, {{"VECTORVUE_VERIFY_TLS", "0"}}).ok());
  EXPECT_TRUE(ParseProducerConfig(kManualYaml, {{"VECTORVUE_VERIFY_TLS", "1"}}).ok());
}

TEST(ProducerConfigTest, BadValuesAreCleanErrors) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string y = kManualYaml;
    y.replace(y.find(from), from.size(), to);
    return ParseProducerConfig(y, {});
  };
  EXPECT_FALSE(with("https://vectorvue", "http://vectorvue").ok());
  EXPECT_FALSE(with("algorithm: ed25519", "algorithm: rsa").ok());
  EXPECT_FALSE(with("nonce_length: 24", "nonce_length: 8").ok());
  EXPECT_FALSE(with("nonce_length: 24", "nonce_length: lots").ok());
  EXPECT_FALSE(with("max_attempts: 3", "max_attempts: 0").ok());
  EXPECT_FALSE(with("timestamp_format: unix_epoch_seconds", "timestamp_format: iso").ok());
  EXPECT_FALSE(ParseProducerConfig("spectrastrike: [", {}).ok());
  EXPECT_FALSE(ParseProducerConfig("other: 1", {}).ok());
  EXPECT_FALSE(ParseProducerConfig("", {}).ok());
}

// Issue 16: like the gateway, a key the producer does not know is an error naming it (a
// misspelt key used to be ignored and its default silently used).
TEST(ProducerConfigTest, UnknownKeysAreErrorsNamingTheKey) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string y = kManualYaml;
    y.replace(y.find(from), from.size(), to);
    return ParseProducerConfig(y, {});
  };
  struct Case {
    std::string from, to, expect;
  };
  for (const Case& c : std::vector<Case>{
           {"      verify_peer: true", "      verify_peer: true\n      pinned_cert: ab",
            "unknown key 'spectrastrike.producer.mtls.pinned_cert'"},
           {"      key_id: spectrastrike", "      keyid: spectrastrike",
            "unknown key 'spectrastrike.producer.signing.keyid' (did you mean 'key_id'?)"},
           {"    spool_path: spool.db", "    spool_pth: spool.db",
            "unknown key 'spectrastrike.producer.spool_pth' (did you mean 'spool_path'?)"},
           {"      jitter_ms: 250", "      jitter_ms: 250\n      max_backof_ms: 9",
            "(did you mean 'max_backoff_ms'?)"},
           {"      nonce_length: 24", "      nonce_len: 24", "spectrastrike.producer.replay.nonce_len"},
           {"  producer:", "  consumer: {}\n  producer:", "unknown key 'spectrastrike.consumer'"},
       }) {
    auto r = with(c.from, c.to);
    ASSERT_FALSE(r.ok()) << c.to;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().message();
  }
  // No hint when nothing is close; control bytes in a key are not echoed raw.
  auto far = with("    spool_path: spool.db", "    zzzzzzzzzz: 1");
  ASSERT_FALSE(far.ok());
  EXPECT_EQ(far.status().message().find("did you mean"), std::string::npos);
  auto ctl = with("    spool_path: spool.db", "    \"a\\x1b[2Jb\": 1");
  ASSERT_FALSE(ctl.ok());
  EXPECT_EQ(ctl.status().message().find('\x1b'), std::string::npos) << ctl.status().message();
  // feedback block keys too.
  std::string y = std::string(kManualYaml) + "    feedback:\n      window_secs: 5\n";
  auto fb = ParseProducerConfig(y, {});
  ASSERT_FALSE(fb.ok());
  EXPECT_NE(fb.status().message().find("feedback.window_secs"), std::string::npos);
}

TEST(ProducerConfigTest, EndpointForms) {
  std::string host, base;
  uint16_t port = 0;
  ASSERT_TRUE(ParseEndpoint("https://[::1]:9443/internal/v1/telemetry/", &host, &port, &base).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 9443);
  EXPECT_EQ(base, "");
  EXPECT_FALSE(ParseEndpoint("https://h:0", &host, &port, &base).ok());
  EXPECT_FALSE(ParseEndpoint("https://h:99999", &host, &port, &base).ok());
  EXPECT_FALSE(ParseEndpoint("https://", &host, &port, &base).ok());
  EXPECT_FALSE(ParseEndpoint("ftp://h", &host, &port, &base).ok());
}

}  // namespace
}  // namespace spectrastrike

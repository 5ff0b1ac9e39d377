#include "config/gateway_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "common/encoding.h"
#include "fakes/temp_dir.h"

namespace vv::config {
namespace {

using ::testing::HasSubstr;
using vv::testing::TempDir;
using vv::testing::WriteFile;

constexpr char kPin[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr char kPin2[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
constexpr char kKey1[] = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
constexpr char kKey2[] = "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=";
constexpr char kTenant[] = "10000000-0000-0000-0000-000000000001";

// A scratch directory holding TLS files and a map-backed environment.
class GatewayConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_.File("server.crt"), "cert", 0644);
    WriteFile(dir_.File("server.key"), "key", 0600);
    WriteFile(dir_.File("ca.crt"), "ca", 0644);
  }

  EnvLookup Env() const {
    auto env = env_;
    return [env](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
  }

  // A minimal valid section body (indented by 4), plus `extra` lines appended.
  std::string Yaml(const std::string& extra = "", bool with_defaults = true) const {
    std::string y = "vectorvue:\n  telemetry_gateway:\n";
    if (with_defaults) {
      y += "    tls:\n      cert_path: server.crt\n      key_path: server.key\n"
           "      ca_path: ca.crt\n";
      y += std::string("    spectrastrike_ed25519_public_key_b64: ") + kKey1 + "\n";
      y += std::string("    allowed_service_identities:\n      spectrastrike-producer: ") + kPin +
           "\n";
      y += std::string("    operator_tenant_map:\n      op-001: ") + kTenant + "\n";
    }
    y += extra;
    return y;
  }

  Result<GatewayConfig> Parse(const std::string& yaml) const {
    return ParseGatewayConfig(yaml, Env(), dir_.path().string());
  }

  // Asserts that parsing fails and the message names `key`.
  void ExpectError(const std::string& yaml, const std::string& key) const {
    auto r = Parse(yaml);
    ASSERT_FALSE(r.ok()) << "expected an error naming " << key;
    EXPECT_THAT(r.status().message(), HasSubstr(key));
  }

  TempDir dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(GatewayConfigTest, MinimalConfigLoadsWithSecureDefaults) {
  auto r = Parse(Yaml());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const GatewayConfig& c = *r;
  EXPECT_TRUE(c.require_mtls);
  EXPECT_TRUE(c.require_payload_signature);
  EXPECT_FALSE(c.insecure_dev_mode);
  EXPECT_EQ(c.allowed_clock_skew_seconds, 30);
  EXPECT_EQ(c.nonce_ttl_seconds, 120);
  EXPECT_EQ(c.tls.cert_path, dir_.File("server.crt"));
  EXPECT_EQ(c.tls.key_path, dir_.File("server.key"));
  ASSERT_EQ(c.identities.size(), 1u);
  EXPECT_EQ(c.identities[0].id, "spectrastrike-producer");
  EXPECT_EQ(c.identities[0].cert_sha256_pins, std::vector<std::string>{kPin});
  ASSERT_EQ(c.default_signing_keys.size(), 1u);
  EXPECT_EQ(c.default_signing_keys[0].kid, "default");
  EXPECT_EQ(c.default_signing_keys[0].key.ToBase64(), kKey1);
  const ServiceIdentity* id = c.FindIdentity("spectrastrike-producer");
  ASSERT_NE(id, nullptr);
  EXPECT_EQ(c.KeysFor(*id).size(), 1u);
  EXPECT_EQ(c.FindIdentity("nobody"), nullptr);
  EXPECT_EQ(c.operator_tenant_map.at("op-001"), kTenant);
  EXPECT_EQ(c.FederationKeys().size(), 1u);
}

TEST_F(GatewayConfigTest, ManualSection10KeysAreAccepted) {
  auto r = Parse(
      Yaml("    require_mtls: true\n    require_payload_signature: true\n"
           "    allowed_clock_skew_seconds: 20\n    nonce_ttl_seconds: 300\n"
           "    nonce_backend: redis\n    redis_url: redis://vectorvue-redis.internal:6379/0\n"
           "    rate_limit_per_minute: 60\n    rate_limit_backend: redis\n"
           "    queue_backend: nats\n    nats_url: nats://vectorvue-nats.internal:4222\n"
           "    queue_subject: a.ingest\n    dlq_subject: a.dlq\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->allowed_clock_skew_seconds, 20);
  EXPECT_EQ(r->nonce_ttl_seconds, 300);
  EXPECT_EQ(r->nonce_backend, StateBackend::kRedis);
  EXPECT_EQ(r->rate_limit_backend, StateBackend::kRedis);
  EXPECT_EQ(r->rate_limit_per_minute, 60);
  EXPECT_EQ(r->queue_backend, QueueBackend::kNats);
  EXPECT_EQ(r->nats_url, "nats://vectorvue-nats.internal:4222");
  EXPECT_EQ(r->queue_subject, "a.ingest");
  EXPECT_EQ(r->dlq_subject, "a.dlq");
}

TEST_F(GatewayConfigTest, OurKeysAreParsed) {
  std::filesystem::create_directory(dir_.File("mitre"));
  WriteFile(dir_.File("crl.pem"), "crl", 0644);
  auto r = Parse(Yaml(
      "    listen: 0.0.0.0:9443\n    queue_path: data/q.db\n    audit_log_path: /var/log/a.jsonl\n"
      "    audit_seal_every: 7\n    audit_fsync: always\n"
      "    allowed_schema_versions: ['1.0', '2.0', '1.0']\n    enforce_schema_version: false\n"
      "    insecure_dev_mode: false\n    profile: development\n    worker_threads: 3\n"
      "    mitre_catalog_dir: mitre\n"
      "    limits:\n      max_body_bytes: 2048\n      max_header_bytes: 1000\n"
      "      max_header_count: 10\n      header_timeout_seconds: 5\n"
      "      idle_timeout_seconds: 6\n      body_timeout_seconds: 7\n      max_connections: 9\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->listen_host, "0.0.0.0");
  EXPECT_EQ(r->listen_port, 9443);
  EXPECT_EQ(r->queue_path, dir_.File("data/q.db"));
  EXPECT_EQ(r->audit_log_path, "/var/log/a.jsonl");
  EXPECT_EQ(r->audit_seal_every, 7);
  EXPECT_EQ(r->audit_fsync, FsyncPolicy::kAlways);
  EXPECT_EQ(r->allowed_schema_versions, (std::vector<std::string>{"1.0", "2.0"}));
  EXPECT_FALSE(r->enforce_schema_version);
  EXPECT_EQ(r->worker_threads, 3);
  EXPECT_EQ(r->mitre_catalog_dir, dir_.File("mitre"));
  EXPECT_EQ(r->max_body_bytes, 2048u);
  EXPECT_EQ(r->max_header_bytes, 1000u);
  EXPECT_EQ(r->max_header_count, 10u);
  EXPECT_EQ(r->header_timeout_seconds, 5);
  EXPECT_EQ(r->idle_timeout_seconds, 6);
  EXPECT_EQ(r->body_timeout_seconds, 7);
  EXPECT_EQ(r->max_connections, 9u);

  auto with_crl =
      Parse(Yaml("    tls:\n      cert_path: server.crt\n      key_path: server.key\n"
                 "      ca_path: ca.crt\n      crl_path: crl.pem\n",
                 true));
  // tls given twice is a duplicate key.
  ASSERT_FALSE(with_crl.ok());
  EXPECT_THAT(with_crl.status().message(), HasSubstr("duplicate key 'tls'"));
}

TEST_F(GatewayConfigTest, CrlPathResolvedAndChecked) {
  std::string base =
      "vectorvue:\n  telemetry_gateway:\n"
      "    tls:\n      cert_path: server.crt\n      key_path: server.key\n"
      "      ca_path: ca.crt\n      crl_path: crl.pem\n" +
      std::string("    spectrastrike_ed25519_public_key_b64: ") + kKey1 + "\n" +
      "    allowed_service_identities:\n      svc: " + kPin + "\n";
  ExpectError(base, "tls.crl_path");
  WriteFile(dir_.File("crl.pem"), "crl", 0644);
  auto r = Parse(base);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->tls.crl_path, dir_.File("crl.pem"));
}

TEST_F(GatewayConfigTest, Ipv6ListenAddress) {
  auto r = Parse(Yaml("    listen: '[::1]:8443'\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->listen_host, "::1");
  EXPECT_EQ(r->listen_port, 8443);
}

TEST_F(GatewayConfigTest, BadListenNamesKey) {
  ExpectError(Yaml("    listen: localhost\n"), "listen");
  ExpectError(Yaml("    listen: 'localhost:99999'\n"), "listen");
  ExpectError(Yaml("    listen: ':8443'\n"), "listen");
  ExpectError(Yaml("    listen: 'host:abc'\n"), "listen");
  ExpectError(Yaml("    listen: '::1:8443'\n"), "listen");
}

// Issue 14: the admin (write) listener stays on loopback; the probe listener may be anywhere.
TEST_F(GatewayConfigTest, AdminListenIsLoopbackOnlyProbeListenAnyAddress) {
  for (const char* ok : {"127.0.0.1:9464", "'[::1]:9464'", "localhost:9464", "off", "''"})
    EXPECT_TRUE(Parse(Yaml(std::string("    admin_listen: ") + ok + "\n")).ok()) << ok;
  ExpectError(Yaml("    admin_listen: 0.0.0.0:9464\n"), "admin_listen");
  ExpectError(Yaml("    admin_listen: 10.1.2.3:9464\n"), "admin_listen");
  ExpectError(Yaml("    admin_listen: '[::]:9464'\n"), "admin_listen");
  auto probe = Parse(Yaml("    probe_listen: 0.0.0.0:9465\n"));
  ASSERT_TRUE(probe.ok()) << probe.status().message();
  EXPECT_EQ(probe->probe_listen, "0.0.0.0:9465");
  EXPECT_TRUE(Parse(Yaml("    probe_listen: '[::]:9465'\n")).ok());
  EXPECT_EQ(Parse(Yaml(""))->probe_listen, "");  // off by default
  ExpectError(Yaml("    probe_listen: gateway.example:9465\n"), "probe_listen");
  ExpectError(Yaml("    probe_listen: 0.0.0.0\n"), "probe_listen");
  ExpectError(Yaml("    probe_listen: 0.0.0.0:70000\n"), "probe_listen");
}

TEST_F(GatewayConfigTest, UnknownKeysAreNamed) {
  ExpectError(Yaml("    require_mtsl: false\n"), "require_mtsl");
  ExpectError(Yaml("    limits:\n      max_body_byte: 10\n"), "limits.max_body_byte");
  std::string y =
      "vectorvue:\n  telemetry_gateway:\n    tls:\n      cert_path: server.crt\n"
      "      key_path: server.key\n      ca_path: ca.crt\n      crl: x\n";
  ExpectError(y, "tls.crl");
  ExpectError(Yaml("    allowed_service_identities:\n      svc:\n        cert_sha256: " +
                       std::string(kPin) + "\n        signing_key: {}\n",
                   false),
              "signing_key");
}

TEST_F(GatewayConfigTest, MissingSectionAndBadYaml) {
  ExpectError("foo: 1\n", "vectorvue");
  ExpectError("vectorvue:\n  other: 1\n", "vectorvue.telemetry_gateway");
  ExpectError("vectorvue: [\n", "YAML");
  ExpectError("- 1\n- 2\n", "vectorvue.telemetry_gateway");
  ExpectError("", "vectorvue");
}

TEST_F(GatewayConfigTest, IdentityMapFormWithRotation) {
  std::string y =
      "vectorvue:\n  telemetry_gateway:\n"
      "    tls: {cert_path: server.crt, key_path: server.key, ca_path: ca.crt}\n"
      "    allowed_service_identities:\n"
      "      producer-a:\n"
      "        cert_sha256: ['" +
      std::string(kPin) + "', '" +
      "BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:"
      "BB:BB:BB:BB:BB:BB']\n"
      "        signing_keys:\n          k1: " +
      kKey1 + "\n          k2: " + kKey2 + "\n";
  auto r = Parse(y);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->identities.size(), 1u);
  const auto& id = r->identities[0];
  EXPECT_EQ(id.cert_sha256_pins, (std::vector<std::string>{kPin, kPin2}));
  ASSERT_EQ(id.signing_keys.size(), 2u);
  EXPECT_EQ(id.signing_keys[0].kid, "k1");
  EXPECT_EQ(id.signing_keys[1].kid, "k2");
  EXPECT_EQ(id.signing_keys[1].key.ToBase64(), kKey2);
  EXPECT_EQ(&r->KeysFor(id), &id.signing_keys);
  EXPECT_TRUE(r->default_signing_keys.empty());
}

TEST_F(GatewayConfigTest, PinWithColonsAndUppercaseIsNormalized) {
  std::string colon_pin;
  for (int i = 0; i < 32; ++i) colon_pin += std::string(i ? ":" : "") + "AB";
  std::string y = Yaml("", false) +
                  "    tls: {cert_path: server.crt, key_path: server.key, ca_path: ca.crt}\n"
                  "    spectrastrike_ed25519_public_key_b64: " +
                  kKey1 +
                  "\n"
                  "    allowed_service_identities:\n      svc: '" +
                  colon_pin + "'\n";
  auto r = Parse(y);
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::string expect;
  for (int i = 0; i < 32; ++i) expect += "ab";
  EXPECT_EQ(r->identities[0].cert_sha256_pins[0], expect);
}

// ---- Validation rules, each naming its key -------------------------------------------------

TEST_F(GatewayConfigTest, MissingTlsFilesNamed) {
  std::filesystem::remove(dir_.File("server.crt"));
  ExpectError(Yaml(), "tls.cert_path");
  WriteFile(dir_.File("server.crt"), "cert", 0644);
  std::filesystem::remove(dir_.File("ca.crt"));
  ExpectError(Yaml(), "tls.ca_path");
  WriteFile(dir_.File("ca.crt"), "ca", 0644);
  std::filesystem::remove(dir_.File("server.key"));
  ExpectError(Yaml(), "tls.key_path");
}

TEST_F(GatewayConfigTest, UnsetTlsPathNamed) {
  std::string y = Yaml("", false) + "    spectrastrike_ed25519_public_key_b64: " + kKey1 +
                  "\n    allowed_service_identities:\n      svc: " + kPin + "\n";
  ExpectError(y, "tls.cert_path");
}

TEST_F(GatewayConfigTest, UnreadableCertNamed) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads every file";
  WriteFile(dir_.File("server.crt"), "cert", 0000);
  ExpectError(Yaml(), "tls.cert_path");
}

TEST_F(GatewayConfigTest, GroupReadableTlsKeyRefused) {
  WriteFile(dir_.File("server.key"), "key", 0640);
  auto r = Parse(Yaml());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("tls.key_path"));
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  WriteFile(dir_.File("server.key"), "key", 0400);
  EXPECT_TRUE(Parse(Yaml()).ok());
}

TEST_F(GatewayConfigTest, WorldReadableAuditSigningKeyRefused) {
  WriteFile(dir_.File("seal.key"), std::string(32, 'k'), 0644);
  ExpectError(Yaml("    audit_signing_key_path: seal.key\n"), "audit_signing_key_path");
  WriteFile(dir_.File("seal.key"), std::string(32, 'k'), 0600);
  auto r = Parse(Yaml("    audit_signing_key_path: seal.key\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->audit_signing_key_path, dir_.File("seal.key"));
}

TEST_F(GatewayConfigTest, Pkcs11SealKeySettingsAreParsedAndChecked) {
  WriteFile(dir_.File("pin"), "1234\n", 0600);
  auto r = Parse(Yaml(
      "    audit_seal_pkcs11_token_label: vv-audit\n    audit_seal_pkcs11_key_label: gw-seal\n"
      "    audit_seal_pkcs11_pin_file: pin\n    audit_seal_pkcs11_module: /opt/hsm/libp11.so\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->audit_seal_pkcs11.enabled());
  EXPECT_EQ(r->audit_seal_pkcs11.token_label, "vv-audit");
  EXPECT_EQ(r->audit_seal_pkcs11.key_label, "gw-seal");
  EXPECT_EQ(r->audit_seal_pkcs11.pin_file, dir_.File("pin"));  // relative to the config
  EXPECT_EQ(r->audit_seal_pkcs11.module, "/opt/hsm/libp11.so");
  EXPECT_EQ(r->audit_seal_pkcs11.pin_env, "VV_AUDIT_PKCS11_PIN");
  // A token without a key label, a key label without a token, a loose PIN file, and a key
  // file as well as a token are all refused, each naming the key.
  ExpectError(Yaml("    audit_seal_pkcs11_token_label: vv-audit\n"), "audit_seal_pkcs11_key_label");
  ExpectError(Yaml("    audit_seal_pkcs11_key_label: gw-seal\n"), "audit_seal_pkcs11_token_label");
  WriteFile(dir_.File("loose-pin"), "1234\n", 0644);
  ExpectError(Yaml("    audit_seal_pkcs11_token_label: t\n    audit_seal_pkcs11_key_label: k\n"
                   "    audit_seal_pkcs11_pin_file: loose-pin\n"),
              "audit_seal_pkcs11_pin_file");
  WriteFile(dir_.File("seal.key"), std::string(32, 'k'), 0600);
  ExpectError(Yaml("    audit_seal_key_path: seal.key\n    audit_seal_pkcs11_token_label: t\n"
                   "    audit_seal_pkcs11_key_label: k\n"),
              "choose one");
  ExpectError(Yaml("    audit_seal_pkcs11_typo: x\n"), "audit_seal_pkcs11_typo");
}

TEST_F(GatewayConfigTest, FeedbackKeysValidated) {
  WriteFile(dir_.File("fb.key"), std::string(32, 'f'), 0644);
  ExpectError(
      Yaml("    feedback_ed25519_keys: {kid-001: fb.key}\n    feedback_active_kid: kid-001\n"),
      "feedback_ed25519_keys.kid-001");
  WriteFile(dir_.File("fb.key"), std::string(32, 'f'), 0600);
  ExpectError(Yaml("    feedback_ed25519_keys: {kid-001: fb.key}\n"), "feedback_active_kid");
  ExpectError(
      Yaml("    feedback_ed25519_keys: {kid-001: fb.key}\n    feedback_active_kid: kid-2\n"),
      "feedback_active_kid");
  auto r = Parse(
      Yaml("    feedback_ed25519_keys: {kid-001: fb.key}\n    feedback_active_kid: kid-001\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->feedback_key_paths.at("kid-001"), dir_.File("fb.key"));
}

TEST_F(GatewayConfigTest, EmptyAllowlistRefused) {
  std::string y = Yaml("", false) +
                  "    tls: {cert_path: server.crt, key_path: server.key, ca_path: ca.crt}\n"
                  "    spectrastrike_ed25519_public_key_b64: " +
                  kKey1 + "\n";
  ExpectError(y, "allowed_service_identities");
  ExpectError(y + "    allowed_service_identities: {}\n", "allowed_service_identities");
}

TEST_F(GatewayConfigTest, MalformedPinRefused) {
  std::string base = Yaml("", false) +
                     "    tls: {cert_path: server.crt, key_path: server.key, ca_path: ca.crt}\n"
                     "    spectrastrike_ed25519_public_key_b64: " +
                     kKey1 + "\n";
  ExpectError(base + "    allowed_service_identities:\n      svc: abc\n",
              "allowed_service_identities.svc");
  ExpectError(base + "    allowed_service_identities:\n      svc: " + std::string(63, 'a') + "g\n",
              "allowed_service_identities.svc");
  ExpectError(base + "    allowed_service_identities:\n      svc: {cert_sha256: [" +
                  std::string(65, 'a') + "]}\n",
              "allowed_service_identities.svc.cert_sha256");
}

TEST_F(GatewayConfigTest, MalformedSigningKeyRefused) {
  std::string base =
      Yaml("", false) + "    tls: {cert_path: server.crt, key_path: server.key, ca_path: ca.crt}\n";
  // 31 bytes.
  std::string short_key = Base64Encode(std::string(31, 'x'));
  ExpectError(base + "    spectrastrike_ed25519_public_key_b64: " + short_key +
                  "\n    allowed_service_identities: {svc: " + kPin + "}\n",
              "spectrastrike_ed25519_public_key_b64");
  ExpectError(base +
                  "    spectrastrike_ed25519_public_key_b64: not-base64!\n"
                  "    allowed_service_identities: {svc: " +
                  kPin + "}\n",
              "spectrastrike_ed25519_public_key_b64");
  ExpectError(base + "    allowed_service_identities:\n      svc:\n        cert_sha256: " + kPin +
                  "\n        signing_keys: {k1: " + short_key + "}\n",
              "allowed_service_identities.svc.signing_keys.k1");
}

TEST_F(GatewayConfigTest, IdentityWithoutAnySigningKeyRefused) {
  std::string y = Yaml("", false) +
                  "    tls: {cert_path: server.crt, key_path: server.key, ca_path: ca.crt}\n"
                  "    allowed_service_identities:\n"
                  "      a:\n        cert_sha256: " +
                  kPin + "\n        signing_keys: {k1: " + kKey1 + "}\n      b: " + kPin2 + "\n";
  auto r = Parse(y);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("allowed_service_identities.b"));
  EXPECT_THAT(r.status().message(), HasSubstr("signing key"));
  // With a default key, b uses it.
  auto ok = Parse(y + "    spectrastrike_ed25519_public_key_b64: " + kKey2 + "\n");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->KeysFor(*ok->FindIdentity("b"))[0].key.ToBase64(), kKey2);
  EXPECT_EQ(ok->KeysFor(*ok->FindIdentity("a"))[0].key.ToBase64(), kKey1);
}

TEST_F(GatewayConfigTest, SamePinForTwoIdentitiesRefused) {
  ExpectError(Yaml("", false) +
                  "    tls: {cert_path: server.crt, key_path: server.key, ca_path: ca.crt}\n"
                  "    spectrastrike_ed25519_public_key_b64: " +
                  kKey1 +
                  "\n"
                  "    allowed_service_identities: {a: " +
                  kPin + ", b: " + kPin + "}\n",
              "allowed_service_identities.b");
}

TEST_F(GatewayConfigTest, DisablingMtlsNeedsInsecureDevMode) {
  ExpectError(Yaml("    require_mtls: false\n"), "require_mtls");
  auto r = Parse(Yaml("    require_mtls: false\n    insecure_dev_mode: true\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->require_mtls);
}

TEST_F(GatewayConfigTest, DisablingSignaturesNeedsInsecureDevMode) {
  ExpectError(Yaml("    require_payload_signature: off\n"), "require_payload_signature");
  EXPECT_TRUE(Parse(Yaml("    require_payload_signature: off\n    insecure_dev_mode: yes\n")).ok());
}

TEST_F(GatewayConfigTest, ProductionForbidsInsecureDevMode) {
  env_["VV_TG_REDIS_URL"] = "redis://r:6379/0";
  env_["VV_TG_NATS_URL"] = "nats://n:4222";
  ExpectError(Yaml("    profile: production\n    nonce_backend: redis\n"
                   "    rate_limit_backend: redis\n    queue_backend: nats\n"
                   "    insecure_dev_mode: true\n"),
              "insecure_dev_mode");
}

TEST_F(GatewayConfigTest, NonceTtlMustCoverTwiceTheSkew) {
  auto r = Parse(Yaml("    allowed_clock_skew_seconds: 61\n    nonce_ttl_seconds: 120\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("nonce_ttl_seconds"));
  EXPECT_THAT(r.status().message(), HasSubstr("allowed_clock_skew_seconds"));
  EXPECT_TRUE(Parse(Yaml("    allowed_clock_skew_seconds: 60\n    nonce_ttl_seconds: 120\n")).ok());
}

TEST_F(GatewayConfigTest, RangeMinimumsNamed) {
  ExpectError(Yaml("    allowed_clock_skew_seconds: 0\n"), "allowed_clock_skew_seconds");
  ExpectError(Yaml("    nonce_ttl_seconds: 29\n    allowed_clock_skew_seconds: 1\n"),
              "nonce_ttl_seconds");
  ExpectError(Yaml("    rate_limit_per_minute: 0\n"), "rate_limit_per_minute");
  ExpectError(Yaml("    audit_seal_every: 0\n"), "audit_seal_every");
  ExpectError(Yaml("    worker_threads: -1\n"), "worker_threads");
  ExpectError(Yaml("    limits: {max_body_bytes: 0}\n"), "limits.max_body_bytes");
  ExpectError(Yaml("    limits: {header_timeout_seconds: 0}\n"), "limits.header_timeout_seconds");
}

TEST_F(GatewayConfigTest, NonIntegersNamed) {
  ExpectError(Yaml("    allowed_clock_skew_seconds: 1.5\n"), "allowed_clock_skew_seconds");
  ExpectError(Yaml("    nonce_ttl_seconds: abc\n"), "nonce_ttl_seconds");
  ExpectError(Yaml("    rate_limit_per_minute: [1]\n"), "rate_limit_per_minute");
  ExpectError(Yaml("    audit_seal_every: ''\n"), "audit_seal_every");
  ExpectError(Yaml("    limits: {max_connections: 10k}\n"), "limits.max_connections");
}

TEST_F(GatewayConfigTest, NonBooleansNamed) {
  ExpectError(Yaml("    require_mtls: maybe\n"), "require_mtls");
  ExpectError(Yaml("    enforce_schema_version: 2\n"), "enforce_schema_version");
}

TEST_F(GatewayConfigTest, TenantMapValuesMustBeUuids) {
  ExpectError(Yaml("", false) +
                  "    tls: {cert_path: server.crt, key_path: server.key, ca_path: ca.crt}\n"
                  "    spectrastrike_ed25519_public_key_b64: " +
                  kKey1 +
                  "\n"
                  "    allowed_service_identities: {svc: " +
                  kPin +
                  "}\n"
                  "    operator_tenant_map: {op-1: 10000000000000000000000000000000000x}\n",
              "operator_tenant_map");
  ExpectError(Yaml("", false) +
                  "    tls: {cert_path: server.crt, key_path: server.key, ca_path: ca.crt}\n"
                  "    spectrastrike_ed25519_public_key_b64: " +
                  kKey1 +
                  "\n"
                  "    allowed_service_identities: {svc: " +
                  kPin +
                  "}\n"
                  "    operator_tenant_map: {op-1: 1000000-00000-0000-0000-000000000001}\n",
              "operator_tenant_map");
  EXPECT_TRUE(IsCanonicalUuid("10000000-0000-0000-0000-00000000000A"));
  EXPECT_FALSE(IsCanonicalUuid("10000000-0000-0000-0000-00000000000g"));
  EXPECT_FALSE(IsCanonicalUuid("10000000-0000-0000-0000-0000000000011"));
}

TEST_F(GatewayConfigTest, EmptyOperatorIdRefused) {
  env_["VV_TG_OPERATOR_TENANT_MAP"] = std::string("{\" \": \"") + kTenant + "\"}";
  ExpectError(Yaml(), "operator_tenant_map");
}

TEST_F(GatewayConfigTest, UnknownBackendsNamed) {
  ExpectError(Yaml("    nonce_backend: memcached\n"), "nonce_backend");
  ExpectError(Yaml("    rate_limit_backend: dynamo\n"), "rate_limit_backend");
  ExpectError(Yaml("    queue_backend: kafka\n"), "queue_backend");
  ExpectError(Yaml("    audit_fsync: sometimes\n"), "audit_fsync");
  ExpectError(Yaml("    profile: staging\n"), "profile");
}

TEST_F(GatewayConfigTest, RemoteBackendsNeedUrls) {
  ExpectError(Yaml("    nonce_backend: redis\n"), "redis_url");
  ExpectError(Yaml("    rate_limit_backend: redis\n"), "redis_url");
  ExpectError(Yaml("    queue_backend: nats\n"), "nats_url");
  ExpectError(Yaml("    nonce_backend: redis\n    redis_url: http://x\n"), "redis_url");
  ExpectError(Yaml("    queue_backend: nats\n    nats_url: http://x\n"), "nats_url");
}

TEST_F(GatewayConfigTest, ProductionProfileRefusesEmbeddedBackends) {
  const std::string urls = "    redis_url: redis://r:6379/0\n    nats_url: nats://n:4222\n";
  ExpectError(Yaml("    profile: production\n" + urls +
                   "    rate_limit_backend: redis\n    queue_backend: nats\n"),
              "profile: production requires nonce_backend: redis");
  ExpectError(Yaml("    profile: production\n" + urls +
                   "    nonce_backend: redis\n    queue_backend: nats\n"),
              "profile: production requires rate_limit_backend: redis");
  ExpectError(Yaml("    profile: production\n" + urls +
                   "    nonce_backend: redis\n    rate_limit_backend: redis\n"),
              "profile: production requires queue_backend: nats");
  // Production also binds every identity to its operators (issue 12 item 2).
  env_["VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON"] =
      std::string("{\"spectrastrike-producer\":{\"cert_sha256\":\"") + kPin +
      "\",\"operators\":[\"op-001\"]}}";
  auto r = Parse(Yaml("    profile: production\n" + urls +
                      "    nonce_backend: redis\n    rate_limit_backend: redis\n"
                      "    queue_backend: nats\n"));
  EXPECT_TRUE(r.ok()) << r.status().message();
}

TEST_F(GatewayConfigTest, MemoryQueueIsEmbeddedSynonym) {
  auto r = Parse(Yaml("    queue_backend: memory\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->queue_backend, QueueBackend::kEmbedded);
  env_["VV_TG_QUEUE_BACKEND"] = "MEMORY";
  r = Parse(Yaml());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->queue_backend, QueueBackend::kEmbedded);
}

// ---- Environment overrides -----------------------------------------------------------------

TEST_F(GatewayConfigTest, EnvOverridesYaml) {
  WriteFile(dir_.File("other.crt"), "c2", 0644);
  WriteFile(dir_.File("other.key"), "k2", 0400);
  WriteFile(dir_.File("other-ca.crt"), "ca2", 0644);
  env_["VV_TG_ALLOWED_CLOCK_SKEW_SECONDS"] = " 10 ";
  env_["VV_TG_NONCE_TTL_SECONDS"] = "60";
  env_["VV_TG_NONCE_BACKEND"] = "redis";
  env_["VV_TG_REDIS_URL"] = "redis://:pass@redis:6379/0";
  env_["VV_TG_RATE_LIMIT_PER_MINUTE"] = "5";
  env_["VV_TG_RATE_LIMIT_BACKEND"] = "Redis";
  env_["VV_TG_QUEUE_BACKEND"] = "nats";
  env_["VV_TG_NATS_URL"] = "nats://nats:4222";
  env_["VV_TG_QUEUE_SUBJECT"] = "q.in";
  env_["VV_TG_DLQ_SUBJECT"] = "q.dlq";
  env_["VV_SERVICE_IDENTITY_CERT_PATH"] = dir_.File("other.crt");
  env_["VV_SERVICE_IDENTITY_KEY_PATH"] = dir_.File("other.key");
  env_["VV_SERVICE_IDENTITY_CA_PATH"] = dir_.File("other-ca.crt");
  env_["VV_TG_SPECTRASTRIKE_ED25519_PUBKEY"] = kKey2;
  env_["VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON"] =
      std::string("{\" svc-x \": \" ") + "AA:" + std::string(62, 'B') + " \"}";
  env_["VV_TG_OPERATOR_TENANT_MAP"] = "{\"op-9\": \"20000000-0000-0000-0000-000000000002\"}";
  env_["VV_TG_ENFORCE_SCHEMA_VERSION"] = "0";
  env_["VV_TAMPER_LOG_PATH"] = "/tmp/tamper.jsonl";
  env_["VV_TAMPER_LOG_SEAL_EVERY"] = "3";
  auto r = Parse(Yaml());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->allowed_clock_skew_seconds, 10);
  EXPECT_EQ(r->nonce_ttl_seconds, 60);
  EXPECT_EQ(r->nonce_backend, StateBackend::kRedis);
  EXPECT_EQ(r->redis_url, "redis://:pass@redis:6379/0");
  EXPECT_EQ(r->rate_limit_per_minute, 5);
  EXPECT_EQ(r->rate_limit_backend, StateBackend::kRedis);
  EXPECT_EQ(r->queue_backend, QueueBackend::kNats);
  EXPECT_EQ(r->nats_url, "nats://nats:4222");
  EXPECT_EQ(r->queue_subject, "q.in");
  EXPECT_EQ(r->dlq_subject, "q.dlq");
  EXPECT_EQ(r->tls.cert_path, dir_.File("other.crt"));
  EXPECT_EQ(r->tls.key_path, dir_.File("other.key"));
  EXPECT_EQ(r->tls.ca_path, dir_.File("other-ca.crt"));
  ASSERT_EQ(r->default_signing_keys.size(), 1u);
  EXPECT_EQ(r->default_signing_keys[0].kid, "default");
  EXPECT_EQ(r->default_signing_keys[0].key.ToBase64(), kKey2);
  ASSERT_EQ(r->identities.size(), 1u);
  EXPECT_EQ(r->identities[0].id, "svc-x");
  EXPECT_EQ(r->identities[0].cert_sha256_pins[0], "aa" + std::string(62, 'b'));
  EXPECT_EQ(r->operator_tenant_map.size(), 1u);
  EXPECT_EQ(r->operator_tenant_map.at("op-9"), "20000000-0000-0000-0000-000000000002");
  EXPECT_FALSE(r->enforce_schema_version);
  EXPECT_EQ(r->audit_log_path, "/tmp/tamper.jsonl");
  EXPECT_EQ(r->audit_seal_every, 3);
}

TEST_F(GatewayConfigTest, EnvBooleansFollowReferenceRules) {
  for (const char* t : {"1", "true", "YES", " on ", "True"}) {
    env_["VV_TG_REQUIRE_MTLS"] = t;
    auto r = Parse(Yaml("    require_mtls: false\n    insecure_dev_mode: true\n"));
    ASSERT_TRUE(r.ok()) << t << ": " << r.status().message();
    EXPECT_TRUE(r->require_mtls) << t;
  }
  for (const char* f : {"0", "false", "No", " OFF"}) {
    env_["VV_TG_REQUIRE_MTLS"] = f;
    auto r = Parse(Yaml("    insecure_dev_mode: true\n"));
    ASSERT_TRUE(r.ok()) << f << ": " << r.status().message();
    EXPECT_FALSE(r->require_mtls) << f;
  }
  env_["VV_TG_REQUIRE_MTLS"] = "enabled";
  ExpectError(Yaml(), "VV_TG_REQUIRE_MTLS");
  env_.erase("VV_TG_REQUIRE_MTLS");
  env_["VV_TG_REQUIRE_PAYLOAD_SIGNATURE"] = "";
  ExpectError(Yaml(), "VV_TG_REQUIRE_PAYLOAD_SIGNATURE");
  env_.erase("VV_TG_REQUIRE_PAYLOAD_SIGNATURE");
  env_["VV_TG_ENFORCE_SCHEMA_VERSION"] = "2";
  ExpectError(Yaml(), "VV_TG_ENFORCE_SCHEMA_VERSION");
}

TEST_F(GatewayConfigTest, EnvSecurityFlagOffStillNeedsDevMode) {
  env_["VV_TG_REQUIRE_PAYLOAD_SIGNATURE"] = "0";
  ExpectError(Yaml(), "require_payload_signature");
}

TEST_F(GatewayConfigTest, EnvNonIntegersNamed) {
  env_["VV_TG_ALLOWED_CLOCK_SKEW_SECONDS"] = "30s";
  ExpectError(Yaml(), "VV_TG_ALLOWED_CLOCK_SKEW_SECONDS");
  env_.erase("VV_TG_ALLOWED_CLOCK_SKEW_SECONDS");
  env_["VV_TG_NONCE_TTL_SECONDS"] = "1e3";
  ExpectError(Yaml(), "VV_TG_NONCE_TTL_SECONDS");
  env_.erase("VV_TG_NONCE_TTL_SECONDS");
  env_["VV_TG_RATE_LIMIT_PER_MINUTE"] = "99999999999999999999999";
  ExpectError(Yaml(), "VV_TG_RATE_LIMIT_PER_MINUTE");
  env_.erase("VV_TG_RATE_LIMIT_PER_MINUTE");
  env_["VV_TAMPER_LOG_SEAL_EVERY"] = "x";
  ExpectError(Yaml(), "VV_TAMPER_LOG_SEAL_EVERY");
}

TEST_F(GatewayConfigTest, EnvIdentitiesJsonErrorsNamed) {
  env_["VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON"] = "{}";
  ExpectError(Yaml(), "VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON");
  env_["VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON"] = "[\"a\"]";
  ExpectError(Yaml(), "VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON");
  env_["VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON"] = "{not json";
  ExpectError(Yaml(), "VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON");
  env_["VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON"] = "{\"svc\": \"abcd\"}";
  ExpectError(Yaml(), "VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON");
  env_["VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON"] = "{\"svc\": 5}";
  ExpectError(Yaml(), "VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON");
}

TEST_F(GatewayConfigTest, EnvIdentitiesJsonObjectForm) {
  env_["VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON"] =
      std::string("{\"svc\": {\"cert_sha256\": [\"") + kPin + "\", \"" + kPin2 +
      "\"], \"signing_keys\": {\"k9\": \"" + kKey2 + "\"}}}";
  auto r = Parse(Yaml());
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->identities.size(), 1u);
  EXPECT_EQ(r->identities[0].cert_sha256_pins.size(), 2u);
  ASSERT_EQ(r->identities[0].signing_keys.size(), 1u);
  EXPECT_EQ(r->identities[0].signing_keys[0].kid, "k9");
}

TEST_F(GatewayConfigTest, EnvPublicKeyErrorsNamed) {
  env_["VV_TG_SPECTRASTRIKE_ED25519_PUBKEY"] = Base64Encode(std::string(33, 'a'));
  ExpectError(Yaml(), "VV_TG_SPECTRASTRIKE_ED25519_PUBKEY");
  env_["VV_TG_SPECTRASTRIKE_ED25519_PUBKEY"] = "%%%";
  ExpectError(Yaml(), "VV_TG_SPECTRASTRIKE_ED25519_PUBKEY");
  // Set but empty: no default key, so the identity has none.
  env_["VV_TG_SPECTRASTRIKE_ED25519_PUBKEY"] = "";
  ExpectError(Yaml(), "VV_TG_SPECTRASTRIKE_ED25519_PUBKEY");
}

TEST_F(GatewayConfigTest, EnvTenantMapErrorsNamed) {
  env_["VV_TG_OPERATOR_TENANT_MAP"] = "{\"op\": 5}";
  ExpectError(Yaml(), "VV_TG_OPERATOR_TENANT_MAP");
  env_["VV_TG_OPERATOR_TENANT_MAP"] = "{\"op\": \"not-a-uuid\"}";
  ExpectError(Yaml(), "VV_TG_OPERATOR_TENANT_MAP");
  env_["VV_TG_OPERATOR_TENANT_MAP"] = "[]";
  ExpectError(Yaml(), "VV_TG_OPERATOR_TENANT_MAP");
  env_["VV_TG_OPERATOR_TENANT_MAP"] = "{}";
  auto r = Parse(Yaml());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->operator_tenant_map.empty());
}

TEST_F(GatewayConfigTest, EnvSchemaVersionsCsvJsonAndPrecedence) {
  env_["VV_TG_ALLOWED_SCHEMA_VERSION"] = "1.1";
  auto r = Parse(Yaml());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->allowed_schema_versions, std::vector<std::string>{"1.1"});

  env_["VV_TG_ALLOWED_SCHEMA_VERSIONS"] = " 1.0, 2.0 ,1.0,, ";
  r = Parse(Yaml());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->allowed_schema_versions, (std::vector<std::string>{"1.0", "2.0"}));

  env_["VV_TG_ALLOWED_SCHEMA_VERSIONS"] = "[\"2.1\", \"2.1\", \"1.0\"]";
  r = Parse(Yaml());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->allowed_schema_versions, (std::vector<std::string>{"2.1", "1.0"}));

  env_["VV_TG_ALLOWED_SCHEMA_VERSIONS"] = "[1, 2]";
  ExpectError(Yaml(), "VV_TG_ALLOWED_SCHEMA_VERSIONS");
  env_["VV_TG_ALLOWED_SCHEMA_VERSIONS"] = "[\"1.0\"";
  ExpectError(Yaml(), "VV_TG_ALLOWED_SCHEMA_VERSIONS");
}

TEST_F(GatewayConfigTest, EnvFeedbackKeys) {
  WriteFile(dir_.File("fb.key"), std::string(32, 'f'), 0600);
  env_["VV_TG_FEEDBACK_ED25519_KEYS_JSON"] = "{\"kid-001\": \"" + dir_.File("fb.key") + "\"}";
  ExpectError(Yaml(), "VV_TG_FEEDBACK_ACTIVE_KID");
  env_["VV_TG_FEEDBACK_ACTIVE_KID"] = "kid-001";
  auto r = Parse(Yaml());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->feedback_active_kid, "kid-001");
}

TEST_F(GatewayConfigTest, ParseHelpers) {
  EXPECT_EQ(*ParseIntSetting(" +42 ", "x"), 42);
  EXPECT_EQ(*ParseIntSetting("-7", "x"), -7);
  EXPECT_FALSE(ParseIntSetting("+-7", "x").ok());
  EXPECT_FALSE(ParseIntSetting("", "x").ok());
  EXPECT_FALSE(ParseIntSetting("7.0", "x").ok());
  EXPECT_THAT(ParseIntSetting("q", "NAME").status().message(), HasSubstr("NAME"));
  EXPECT_FALSE(ParseBoolSetting("tru", "x").ok());
  EXPECT_TRUE(*ParseBoolSetting("ON", "x"));
  EXPECT_FALSE(*ParseBoolSetting("Off", "x"));
  EXPECT_FALSE(NormalizeCertPin("", "x").ok());
}

// ---- Files on disk ------------------------------------------------------------------------

TEST_F(GatewayConfigTest, LoadResolvesRelativePathsAgainstConfigDir) {
  std::filesystem::create_directories(dir_.File("etc"));
  WriteFile(dir_.File("etc/server.crt"), "cert", 0644);
  WriteFile(dir_.File("etc/server.key"), "key", 0600);
  WriteFile(dir_.File("etc/ca.crt"), "ca", 0644);
  WriteFile(dir_.File("etc/gw.yaml"), Yaml("    queue_path: q.db\n"), 0644);
  auto r = LoadGatewayConfig(dir_.File("etc/gw.yaml"), Env());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->tls.cert_path, dir_.File("etc/server.crt"));
  EXPECT_EQ(r->queue_path, dir_.File("etc/q.db"));
}

TEST_F(GatewayConfigTest, LoadMissingFileNamesPath) {
  auto r = LoadGatewayConfig(dir_.File("nope.yaml"), Env());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("nope.yaml"));
}

TEST_F(GatewayConfigTest, ExampleConfigLoads) {
  // The shipped example references certs relative to itself; point TLS at test files.
  const std::string example = std::string(VV_SOURCE_DIR) + "/deploy/config/gateway.example.yaml";
  env_["VV_SERVICE_IDENTITY_CERT_PATH"] = dir_.File("server.crt");
  env_["VV_SERVICE_IDENTITY_KEY_PATH"] = dir_.File("server.key");
  env_["VV_SERVICE_IDENTITY_CA_PATH"] = dir_.File("ca.crt");
  auto r = LoadGatewayConfig(example, Env());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->profile, "development");
  EXPECT_EQ(r->nonce_backend, StateBackend::kMemory);
  EXPECT_EQ(r->queue_backend, QueueBackend::kEmbedded);
  EXPECT_TRUE(r->require_mtls);
  EXPECT_TRUE(r->require_payload_signature);
  EXPECT_FALSE(r->identities.empty());
  EXPECT_TRUE(std::filesystem::path(r->queue_path).is_absolute());
}

// Issue 15: the JetStream publisher's writes are gathered by nats.c's flusher unless
// nats_send_asap asks for one write per publish.
TEST_F(GatewayConfigTest, NatsSendAsapDefaultsOffAndParses) {
  auto d = Parse(Yaml());
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_FALSE(d->nats_send_asap);
  auto y = Parse(Yaml("    nats_send_asap: true\n"));
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_TRUE(y->nats_send_asap);
  ExpectError(Yaml("    nats_send_asap: sometimes\n"), "nats_send_asap");
}

// Issue 15: how many groups of single publishes may wait for their JetStream acks.
TEST_F(GatewayConfigTest, NatsPublishGroupsInFlightDefaultsToOneAndIsBounded) {
  auto d = Parse(Yaml());
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->nats_publish_groups_in_flight, 1);
  auto z = Parse(Yaml("    nats_publish_groups_in_flight: 0\n"));
  ASSERT_TRUE(z.ok()) << z.status().message();
  EXPECT_EQ(z->nats_publish_groups_in_flight, 0);
  ExpectError(Yaml("    nats_publish_groups_in_flight: -1\n"), "nats_publish_groups_in_flight");
  ExpectError(Yaml("    nats_publish_groups_in_flight: 1025\n"), "nats_publish_groups_in_flight");
}

// Issue 14: JetStream stream limits.
TEST_F(GatewayConfigTest, StreamLimitsParseAndBadValuesAreRefused) {
  auto r = Parse(Yaml("    nats_stream_max_age_seconds: 86400\n    nats_stream_max_bytes: 1048576\n"
                      "    nats_stream_discard: old\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->nats_stream_max_age_seconds, 86400);
  EXPECT_EQ(r->nats_stream_max_bytes, 1048576);
  EXPECT_EQ(r->nats_stream_discard, "old");
  auto d = Parse(Yaml());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->nats_stream_max_age_seconds, 0);
  EXPECT_EQ(d->nats_stream_discard, "new");
  GatewayConfig c = *d;
  c.nats_stream_discard = "drop";
  EXPECT_THAT(ValidateGatewayConfig(c).message(), HasSubstr("nats_stream_discard"));
  c = *d;
  c.nats_stream_max_bytes = -5;
  EXPECT_THAT(ValidateGatewayConfig(c).message(), HasSubstr("nats_stream_max_bytes"));
}

TEST_F(GatewayConfigTest, ValidateRejectsHandBuiltBadConfig) {
  auto r = Parse(Yaml());
  ASSERT_TRUE(r.ok());
  GatewayConfig c = *r;
  EXPECT_TRUE(ValidateGatewayConfig(c).ok());
  c.identities[0].cert_sha256_pins[0] = "AB";
  EXPECT_THAT(ValidateGatewayConfig(c).message(), HasSubstr("allowed_service_identities"));
  c = *r;
  c.nonce_backend = static_cast<StateBackend>(7);  // a hand-built value outside the enum
  EXPECT_THAT(ValidateGatewayConfig(c).message(), HasSubstr("nonce_backend"));
  c = *r;
  c.allowed_schema_versions.clear();
  EXPECT_THAT(ValidateGatewayConfig(c).message(), HasSubstr("allowed_schema_versions"));
}


// Issue 15: worker_threads 0 is one io thread per core, two per core when a request waits on a
// Redis round trip (nonce or rate state in Redis); a number given is used as it is.
TEST_F(GatewayConfigTest, WorkerThreadsAutomaticFollowsTheStateBackend) {
  auto d = Parse(Yaml());
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->worker_threads, 0);
  EXPECT_EQ(d->EffectiveWorkerThreads(2), 2);
  EXPECT_EQ(d->EffectiveWorkerThreads(0), 1) << "unknown core count";
  GatewayConfig c = *d;
  c.rate_limit_backend = StateBackend::kRedis;
  EXPECT_EQ(c.EffectiveWorkerThreads(2), 4);
  c.rate_limit_backend = StateBackend::kMemory;
  c.nonce_backend = StateBackend::kRedis;
  EXPECT_EQ(c.EffectiveWorkerThreads(8), 16);
  c.worker_threads = 3;
  EXPECT_EQ(c.EffectiveWorkerThreads(8), 3);
}

// ---- Issue 12 item 4: handshake deadline and the pending-handshake pool ---------------------

TEST_F(GatewayConfigTest, PendingHandshakeLimitsDefaultsYamlAndEnv) {
  auto d = Parse(Yaml());
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->handshake_timeout_seconds, 5);
  EXPECT_EQ(d->EffectiveMaxPendingHandshakes(), 256u);  // a quarter of max_connections 1024
  EXPECT_EQ(d->EffectiveMaxPendingHandshakesPerSource(), 128u);
  auto y = Parse(Yaml(
      "    limits:\n      max_connections: 100\n      max_pending_handshakes: 40\n"
      "      max_pending_handshakes_per_source: 10\n      handshake_timeout_seconds: 3\n"));
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(y->EffectiveMaxPendingHandshakes(), 40u);
  EXPECT_EQ(y->EffectiveMaxPendingHandshakesPerSource(), 10u);
  EXPECT_EQ(y->handshake_timeout_seconds, 3);
  env_["VV_TG_MAX_PENDING_HANDSHAKES"] = "20";
  env_["VV_TG_MAX_PENDING_HANDSHAKES_PER_SOURCE"] = "5";
  env_["VV_TG_HANDSHAKE_TIMEOUT_SECONDS"] = "2";
  auto e = Parse(Yaml("    limits:\n      max_connections: 100\n"));
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->EffectiveMaxPendingHandshakes(), 20u);
  EXPECT_EQ(e->EffectiveMaxPendingHandshakesPerSource(), 5u);
  EXPECT_EQ(e->handshake_timeout_seconds, 2);
}

TEST_F(GatewayConfigTest, PendingHandshakeLimitsAreValidated) {
  // The pool must leave slots for authenticated connections.
  ExpectError(Yaml("    limits:\n      max_connections: 10\n      max_pending_handshakes: 10\n"),
              "limits.max_pending_handshakes");
  ExpectError(Yaml("    limits:\n      max_pending_handshakes: 10\n"
                   "      max_pending_handshakes_per_source: 11\n"),
              "limits.max_pending_handshakes_per_source");
  ExpectError(Yaml("    limits:\n      handshake_timeout_seconds: 0\n"),
              "limits.handshake_timeout_seconds");
  env_["VV_TG_MAX_PENDING_HANDSHAKES"] = "0";
  ExpectError(Yaml(), "VV_TG_MAX_PENDING_HANDSHAKES");
}

// Issue 14: replica identity.
TEST_F(GatewayConfigTest, WithoutReplicaIdTheSingleReplicaOriginAndLogStay) {
  auto c = Parse(Yaml());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->replica_id, "");
  EXPECT_EQ(c->EffectiveAuditOrigin(), "vectorvue.local/audit-log");
  EXPECT_EQ(c->audit_log_path, "vv-audit.jsonl");
}

TEST_F(GatewayConfigTest, ReplicaIdDerivesOriginAndDefaultLogPath) {
  auto c = Parse(Yaml("    replica_id: gw-a\n"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->EffectiveAuditOrigin(), "vectorvue.local/audit-log/gw-a");
  EXPECT_EQ(c->audit_log_path, "vv-audit-gw-a.jsonl");
  // An explicit path is kept; {replica_id} in it is replaced.
  c = Parse(Yaml("    replica_id: gw-b\n    audit_log_path: /var/x/audit-{replica_id}.jsonl\n"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->audit_log_path, "/var/x/audit-gw-b.jsonl");
  // The environment wins; an explicit audit_origin wins over the derived one.
  env_["VV_TG_REPLICA_ID"] = "gw-c";
  c = Parse(Yaml("    replica_id: gw-a\n    audit_origin: example.org/audit/c\n"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->replica_id, "gw-c");
  EXPECT_EQ(c->EffectiveAuditOrigin(), "example.org/audit/c");
}

TEST_F(GatewayConfigTest, BadReplicaIdAndOriginAreRefused) {
  ExpectError(Yaml("    replica_id: GW-A\n"), "replica_id");
  ExpectError(Yaml("    replica_id: gw_a\n"), "replica_id");
  ExpectError(Yaml("    replica_id: -gw\n"), "replica_id");
  ExpectError(Yaml("    replica_id: " + std::string(33, 'a') + "\n"), "replica_id");
  ExpectError(Yaml("    audit_origin: \"a b\"\n"), "audit_origin");
  ExpectError(Yaml("    audit_origin: a+b\n"), "audit_origin");
  ExpectError(Yaml("    audit_origin: " + std::string(129, 'a') + "\n"), "audit_origin");
  ExpectError(Yaml("    audit_log_path: /x/{replica_id}.jsonl\n"), "{replica_id}");
  EXPECT_TRUE(Parse(Yaml("    replica_id: " + std::string(32, 'a') + "\n")).ok());
}

}  // namespace
}  // namespace vv::config

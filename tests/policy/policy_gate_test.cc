#include "policy/policy_gate.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <ctime>
#include <map>
#include <string>

#include "crypto/crypto.h"
#include "fakes/fake_clock.h"
#include "fakes/process.h"
#include "fakes/temp_dir.h"
#include "json/json.h"

namespace vv::policy {
namespace {

using vv::testing::FakeClock;
using vv::testing::ReadFile;
using vv::testing::TempDir;
using vv::testing::WriteFile;

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(std::string::npos, pos) << "template text not found: " << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class PolicyGateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TempDir();
    const std::string script = std::string(VV_SOURCE_DIR) + "/scripts/dev-pki.sh";
    std::string out;
    ASSERT_EQ(0, vv::testing::RunCommand({"/bin/bash", script, pki_->path().string()}, &out))
        << out;
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  std::string Pki(const std::string& name) const { return pki_->File(name); }
  std::string Pin(const std::string& name) const {
    return Trimmed(ReadFile(Pki(name + ".sha256")));
  }

  // A development config that passes every rule.
  std::string BaseYaml() const {
    return "vectorvue:\n"
           "  telemetry_gateway:\n"
           "    profile: development\n"
           "    tls:\n"
           "      cert_path: " +
           Pki("gateway.crt") +
           "\n"
           "      key_path: " +
           Pki("gateway.key") +
           "\n"
           "      ca_path: " +
           Pki("ca.crt") +
           "\n"
           "    require_mtls: true\n"
           "    require_payload_signature: true\n"
           "    insecure_dev_mode: false\n"
           "    allowed_clock_skew_seconds: 30\n"
           "    nonce_ttl_seconds: 120\n"
           "    nonce_backend: memory\n"
           "    rate_limit_backend: memory\n"
           "    queue_backend: embedded\n"
           "    queue_path: " +
           dir_.File("q.db") +
           "\n"
           "    audit_log_path: " +
           dir_.File("audit.jsonl") +
           "\n"
           // A key of this test's own: the appendix key A6EHv... is refused by
           // no_published_test_keys (issue 16), so a secure config cannot use it.
           "    spectrastrike_ed25519_public_key_b64: "
           "w9culsTDp+GAt9jMoVO2FurMlx97sySYrxLZ5mVZAHw=\n"
           "    allowed_service_identities:\n"
           "      spectrastrike-producer: " +
           Pin("producer") +
           "\n"
           "      rogue-producer: " +
           Pin("rogue") +
           "\n"
           "    operator_tenant_map:\n"
           "      op-001: 10000000-0000-0000-0000-000000000001\n"
           "      op-002: 10000000-0000-0000-0000-000000000002\n";
  }

  // A production config that passes every rule (file audit anchor).
  std::string SecureProductionYaml() {
    std::string y = BaseYaml();
    y = Replace(y, "profile: development", "profile: production");
    // Production binds every identity to its operators (issue 12 item 2).
    y = Replace(y, "spectrastrike-producer: " + Pin("producer"),
                "spectrastrike-producer: {cert_sha256: " + Pin("producer") + ", operators: [op-001]}");
    y = Replace(y, "rogue-producer: " + Pin("rogue"),
                "rogue-producer: {cert_sha256: " + Pin("rogue") + ", operators: [op-002]}");
    y = Replace(y, "nonce_backend: memory", "nonce_backend: redis");
    y = Replace(y, "rate_limit_backend: memory", "rate_limit_backend: redis");
    // Issue 12: production also needs authenticated backends and a queue signing key (input
    // extended; the assertion is unchanged).
    const std::string creds = dir_.File("nats.creds");
    WriteFile(creds, "-----BEGIN NATS USER JWT-----\nx\n------END NATS USER JWT------\n", 0600);
    const std::string queue_key = dir_.File("queue.pem");
    WriteFile(queue_key, crypto::Ed25519PrivateKey::Generate().ToPem(), 0600);
    y = Replace(y, "queue_backend: embedded",
                "queue_backend: nats\n    nats_url: nats://nats:4222\n"
                "    nats_creds_file: " + creds + "\n    nats_tls_ca_path: " + Pki("ca.crt") +
                    "\n    queue_signing_key_path: " + queue_key +
                    "\n    redis_tls_ca_path: " + Pki("ca.crt") +
                    "\n    redis_url: rediss://vv@redis:6379/0");
    const std::string seal_key = dir_.File("seal.key");
    WriteFile(seal_key, std::string(32, 's'), 0600);
    y += "    audit_seal_key_path: " + seal_key + "\n";
    // Issue 14: the Redis password from a file (not the URL), the graph/evidence store on
    // PostgreSQL (input extended; the assertion is unchanged). The engine section goes first
    // so callers can keep appending gateway keys.
    const std::string redis_pw = dir_.File("redis.pw");
    WriteFile(redis_pw, "s3cret\n", 0600);
    y += "    redis_password_file: " + redis_pw + "\n";
    y = Replace(y, "vectorvue:\n",
                "vectorvue:\n  evidence_engine:\n    store_backend: postgres\n"
                "    postgres_url: postgresql://vv_gateway@db/vectorvue\n");
    return y;
  }

  PolicyReport Check(const std::string& yaml, std::map<std::string, std::string> env = {},
                     int64_t min_days = 30) {
    const std::string path = dir_.File("gateway.yaml");
    WriteFile(path, yaml, 0644);
    PolicyOptions opts;
    opts.min_cert_days = min_days;
    config::EnvLookup lookup = [env](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    return CheckGatewayConfigFile(path, lookup, clock_, opts);
  }

  static std::string Rules(const PolicyReport& r) {
    std::string s;
    for (const auto& v : r.violations) s += v.rule + ": " + v.detail + "\n";
    return s;
  }

  static TempDir* pki_;
  TempDir dir_;
  FakeClock clock_{static_cast<int64_t>(std::time(nullptr))};
};

TempDir* PolicyGateTest::pki_ = nullptr;

TEST_F(PolicyGateTest, AcceptsSecureDevelopmentConfig) {
  auto r = Check(BaseYaml());
  EXPECT_TRUE(r.ok()) << Rules(r);
  EXPECT_EQ(1u + RuleNames().size(), r.checked.size());
}

TEST_F(PolicyGateTest, AcceptsSecureProductionConfig) {
  const std::string y = SecureProductionYaml();
  auto r = Check(y);
  EXPECT_TRUE(r.ok()) << Rules(r);
  const std::string redis_pw = dir_.File("redis.pw");  // written by SecureProductionYaml

  // Issue 14: an inline password is refused (critical), so is a password file anyone can read,
  // and a SQLite graph store (the default) or no shared kill switch.
  auto inline_pw = Check(Replace(y, "rediss://vv@redis", "rediss://vv:s3cret@redis"));
  EXPECT_TRUE(inline_pw.Violates("production_backend_auth")) << Rules(inline_pw);
  EXPECT_NE(Rules(inline_pw).find("inline password"), std::string::npos) << Rules(inline_pw);
  auto no_user = Check(Replace(y, "rediss://vv@redis", "rediss://redis"));
  EXPECT_NE(Rules(no_user).find("ACL user"), std::string::npos) << Rules(no_user);
  auto no_pw = Check(Replace(y, "    redis_password_file: " + redis_pw + "\n", ""));
  EXPECT_NE(Rules(no_pw).find("Redis password"), std::string::npos) << Rules(no_pw);
  EXPECT_TRUE(Check(Replace(y, "    redis_password_file: " + redis_pw + "\n", ""),
                           {{"VV_TG_REDIS_PASSWORD", "s3cret"}})
                  .ok());
  chmod(redis_pw.c_str(), 0644);
  EXPECT_TRUE(Check(y).Violates("key_file_permissions"));
  chmod(redis_pw.c_str(), 0600);
  auto sqlite = Check(Replace(y, "store_backend: postgres", "store_backend: sqlite"));
  EXPECT_TRUE(sqlite.Violates("production_backends")) << Rules(sqlite);
  EXPECT_NE(Rules(sqlite).find("PostgreSQL"), std::string::npos);
  auto no_section = Replace(y,
                            "  evidence_engine:\n    store_backend: postgres\n"
                            "    postgres_url: postgresql://vv_gateway@db/vectorvue\n",
                            "");
  EXPECT_TRUE(Check(no_section).Violates("production_backends"));
  EXPECT_TRUE(Check(no_section, {{"VV_EVIDENCE_STORE_BACKEND", "postgres"}}).ok());
}

// Issue 14: replicas sharing the JetStream audit anchor need their own identity.
TEST_F(PolicyGateTest, ProductionJetStreamAnchorWithoutReplicaIdViolatesReplicaIdentity) {
  const std::string y = SecureProductionYaml() + "    audit_anchor: jetstream\n";
  auto r = Check(y);
  EXPECT_TRUE(r.Violates("replica_identity")) << Rules(r);
  EXPECT_EQ(r.violations.size(), 1u) << Rules(r);
  EXPECT_NE(r.ToText().find("fix: set replica_id"), std::string::npos) << r.ToText();
  EXPECT_TRUE(Check(y + "    replica_id: gw-a\n").ok());
  EXPECT_TRUE(Check(y, {{"VV_TG_REPLICA_ID", "gw-b"}}).ok());
  // The file anchor is not shared; development never needs it.
  EXPECT_FALSE(Check(SecureProductionYaml()).Violates("replica_identity"));
  EXPECT_FALSE(Check(BaseYaml() + "    audit_anchor: jetstream\n    nats_url: nats://n:4222\n")
                   .Violates("replica_identity"));
}

TEST_F(PolicyGateTest, ProductionWithAnonymousBackendsViolatesProductionBackendAuth) {
  std::string y = BaseYaml();
  y = Replace(y, "profile: development", "profile: production");
  y = Replace(y, "nonce_backend: memory", "nonce_backend: redis");
  y = Replace(y, "rate_limit_backend: memory", "rate_limit_backend: redis");
  y = Replace(y, "queue_backend: embedded",
              "queue_backend: nats\n    nats_url: nats://nats:4222\n"
              "    redis_url: redis://redis:6379/0");
  auto r = Check(y);
  EXPECT_TRUE(r.Violates("production_backend_auth")) << Rules(r);
  const std::string text = Rules(r);
  EXPECT_NE(text.find("queue_signing_key_path"), std::string::npos) << text;
  EXPECT_NE(text.find("NATS credentials"), std::string::npos) << text;
  EXPECT_NE(text.find("TLS to NATS"), std::string::npos) << text;
  EXPECT_NE(text.find("Redis password"), std::string::npos) << text;
  EXPECT_NE(text.find("TLS to Redis"), std::string::npos) << text;
  int n = 0;
  for (const auto& v : r.violations) n += v.rule == "production_backend_auth";
  EXPECT_EQ(5, n);
  // The development profile never needs them.
  EXPECT_FALSE(Check(BaseYaml()).Violates("production_backend_auth"));
}

TEST_F(PolicyGateTest, MtlsOffInDevModeViolatesMtlsAndDevModeRules) {
  std::string y = Replace(BaseYaml(), "require_mtls: true", "require_mtls: false");
  y = Replace(y, "insecure_dev_mode: false", "insecure_dev_mode: true");
  auto r = Check(y);
  EXPECT_TRUE(r.Violates("mtls_required")) << Rules(r);
  EXPECT_TRUE(r.Violates("insecure_dev_mode_off"));
  EXPECT_FALSE(r.Violates("config_invalid"));  // the loader accepts it: only the gate objects
  EXPECT_FALSE(r.Violates("signatures_required"));
}

TEST_F(PolicyGateTest, MtlsOffWithoutDevModeIsConfigInvalidAndMtlsRule) {
  auto r = Check(Replace(BaseYaml(), "require_mtls: true", "require_mtls: false"));
  EXPECT_TRUE(r.Violates("config_invalid")) << Rules(r);
  EXPECT_TRUE(r.Violates("mtls_required"));
}

TEST_F(PolicyGateTest, MtlsOffThroughEnvironmentIsCaught) {
  std::string y = Replace(BaseYaml(), "insecure_dev_mode: false", "insecure_dev_mode: true");
  auto r = Check(y, {{"VV_TG_REQUIRE_MTLS", "0"}});
  EXPECT_TRUE(r.Violates("mtls_required")) << Rules(r);
}

TEST_F(PolicyGateTest, SignaturesOffViolatesSignatureRule) {
  std::string y =
      Replace(BaseYaml(), "require_payload_signature: true", "require_payload_signature: false");
  y = Replace(y, "insecure_dev_mode: false", "insecure_dev_mode: true");
  auto r = Check(y);
  EXPECT_TRUE(r.Violates("signatures_required")) << Rules(r);
  EXPECT_FALSE(r.Violates("mtls_required"));
}

TEST_F(PolicyGateTest, EmptyAllowlistViolatesPinsets) {
  std::string y = BaseYaml();
  y = Replace(y, "      spectrastrike-producer: " + Pin("producer") + "\n", "");
  y = Replace(y, "      rogue-producer: " + Pin("rogue") + "\n", "");
  y = Replace(y, "allowed_service_identities:", "allowed_service_identities: {}");
  auto r = Check(y);
  EXPECT_TRUE(r.Violates("pinsets_explicit")) << Rules(r);
  EXPECT_TRUE(r.Violates("config_invalid"));
}

TEST_F(PolicyGateTest, WildcardPinViolatesPinsets) {
  auto r = Check(Replace(BaseYaml(), "rogue-producer: " + Pin("rogue"), "rogue-producer: \"*\""));
  EXPECT_TRUE(r.Violates("pinsets_explicit")) << Rules(r);
  EXPECT_NE(std::string::npos, Rules(r).find("wildcard"));
}

TEST_F(PolicyGateTest, MalformedPinViolatesPinsets) {
  auto r = Check(Replace(BaseYaml(), "rogue-producer: " + Pin("rogue"), "rogue-producer: abc123"));
  EXPECT_TRUE(r.Violates("pinsets_explicit")) << Rules(r);
  EXPECT_NE(std::string::npos, Rules(r).find("64-hex"));
}

TEST_F(PolicyGateTest, PinSharedByTwoIdentitiesViolatesPinsets) {
  auto r = Check(
      Replace(BaseYaml(), "rogue-producer: " + Pin("rogue"), "rogue-producer: " + Pin("producer")));
  EXPECT_TRUE(r.Violates("pinsets_explicit")) << Rules(r);
  EXPECT_NE(std::string::npos, Rules(r).find("shared"));
}

TEST_F(PolicyGateTest, DuplicateIdentityKeyViolatesPinsets) {
  auto r = Check(Replace(BaseYaml(), "rogue-producer: " + Pin("rogue"),
                         "spectrastrike-producer: " + Pin("rogue")));
  EXPECT_TRUE(r.Violates("pinsets_explicit")) << Rules(r);
  EXPECT_NE(std::string::npos, Rules(r).find("listed twice"));
}

TEST_F(PolicyGateTest, ProductionWithMemoryBackendsViolatesProductionBackends) {
  auto r = Check(Replace(BaseYaml(), "profile: development", "profile: production"));
  EXPECT_TRUE(r.Violates("production_backends")) << Rules(r);
  EXPECT_TRUE(r.Violates("config_invalid"));
  int n = 0;
  for (const auto& v : r.violations) n += v.rule == "production_backends";
  // nonce, rate limit, queue, and (issue 14) the graph/evidence store on PostgreSQL and the
  // kill switch on Redis (redis_url)
  EXPECT_EQ(5, n);
}

TEST_F(PolicyGateTest, ProductionWithoutASealKeyViolatesAuditSealsSigned) {
  const std::string prod = Replace(BaseYaml(), "profile: development", "profile: production");
  auto r = Check(prod);
  EXPECT_TRUE(r.Violates("audit_seals_signed")) << Rules(r);
  // A PKCS#11 token satisfies the rule (the development profile never needs it).
  auto hsm = Check(prod + "    audit_seal_pkcs11_token_label: vv-audit\n"
                          "    audit_seal_pkcs11_key_label: gw-seal\n");
  EXPECT_FALSE(hsm.Violates("audit_seals_signed")) << Rules(hsm);
  EXPECT_FALSE(Check(BaseYaml()).Violates("audit_seals_signed"));
}

TEST_F(PolicyGateTest, GroupReadableTlsKeyViolatesKeyFilePermissions) {
  const std::string key = dir_.File("gateway.key");
  WriteFile(key, ReadFile(Pki("gateway.key")), 0640);
  auto r = Check(Replace(BaseYaml(), Pki("gateway.key"), key));
  EXPECT_TRUE(r.Violates("key_file_permissions")) << Rules(r);
  EXPECT_NE(std::string::npos, Rules(r).find("0640"));
}

TEST_F(PolicyGateTest, ReadOnlyKeyFileIsAccepted) {
  const std::string key = dir_.File("gateway.key");
  WriteFile(key, ReadFile(Pki("gateway.key")), 0400);
  auto r = Check(Replace(BaseYaml(), Pki("gateway.key"), key));
  EXPECT_TRUE(r.ok()) << Rules(r);
}

TEST_F(PolicyGateTest, WorldReadableAuditAndFeedbackKeysViolateKeyFilePermissions) {
  const std::string seal = dir_.File("seal.key");
  const std::string fb = dir_.File("feedback.key");
  WriteFile(seal, std::string(32, 'k'), 0644);
  WriteFile(fb, std::string(32, 'f'), 0604);
  std::string y = BaseYaml() + "    audit_seal_key_path: " + seal +
                  "\n    feedback_ed25519_keys:\n      fb-1: " + fb +
                  "\n    feedback_active_kid: fb-1\n";
  auto r = Check(y);
  int n = 0;
  for (const auto& v : r.violations) n += v.rule == "key_file_permissions";
  EXPECT_EQ(2, n) << Rules(r);
}

TEST_F(PolicyGateTest, CertificateExpiringWithinWindowViolatesCertExpiry) {
  // dev-pki.sh issues the server cert for 825 days and the CA for 3650.
  clock_.AdvanceSeconds(int64_t{810} * 86400);
  auto r = Check(BaseYaml());
  EXPECT_TRUE(r.Violates("cert_expiry")) << Rules(r);
  EXPECT_NE(std::string::npos, Rules(r).find("tls.cert_path"));
  EXPECT_EQ(std::string::npos, Rules(r).find("tls.ca_path"));
  // A smaller window accepts the same certificate.
  EXPECT_FALSE(Check(BaseYaml(), {}, 10).Violates("cert_expiry"));
}

TEST_F(PolicyGateTest, ExpiredCertificateIsCritical) {
  clock_.AdvanceSeconds(int64_t{830} * 86400);
  auto r = Check(BaseYaml());
  ASSERT_TRUE(r.Violates("cert_expiry")) << Rules(r);
  bool critical = false;
  for (const auto& v : r.violations)
    if (v.rule == "cert_expiry" && v.severity == kCritical) critical = true;
  EXPECT_TRUE(critical);
}

TEST_F(PolicyGateTest, NotYetValidCertificateViolatesCertExpiry) {
  clock_.AdvanceSeconds(-int64_t{3} * 86400);
  auto r = Check(BaseYaml());
  EXPECT_TRUE(r.Violates("cert_expiry")) << Rules(r);
  EXPECT_NE(std::string::npos, Rules(r).find("not valid before"));
}

TEST_F(PolicyGateTest, ShortNonceTtlViolatesNonceTtlRule) {
  std::string y = Replace(BaseYaml(), "nonce_ttl_seconds: 120", "nonce_ttl_seconds: 60");
  y = Replace(y, "allowed_clock_skew_seconds: 30", "allowed_clock_skew_seconds: 45");
  auto r = Check(y);
  EXPECT_TRUE(r.Violates("nonce_ttl_vs_skew")) << Rules(r);
  EXPECT_TRUE(r.Violates("config_invalid"));
}

TEST_F(PolicyGateTest, InvalidTenantUuidViolatesTenantMap) {
  auto r = Check(Replace(BaseYaml(), "10000000-0000-0000-0000-000000000002", "tenant-two"));
  EXPECT_TRUE(r.Violates("tenant_map_valid")) << Rules(r);
}

TEST_F(PolicyGateTest, DuplicateOperatorKeyViolatesTenantMap) {
  auto r = Check(Replace(BaseYaml(), "op-002:", "op-001:"));
  EXPECT_TRUE(r.Violates("tenant_map_valid")) << Rules(r);
  EXPECT_NE(std::string::npos, Rules(r).find("more than once"));
}

TEST_F(PolicyGateTest, TenantMapFromEnvironmentIsChecked) {
  auto r = Check(BaseYaml(), {{"VV_TG_OPERATOR_TENANT_MAP", R"({"op-9":"not-a-uuid"})"}});
  EXPECT_TRUE(r.Violates("tenant_map_valid")) << Rules(r);
}

TEST_F(PolicyGateTest, MissingFileReportsOnlyConfigInvalid) {
  PolicyOptions opts;
  auto r = CheckGatewayConfigFile(dir_.File("absent.yaml"), nullptr, clock_, opts);
  ASSERT_EQ(1u, r.violations.size());
  EXPECT_EQ("config_invalid", r.violations[0].rule);
  EXPECT_EQ(std::vector<std::string>{"config_invalid"}, r.checked);
}

TEST_F(PolicyGateTest, BrokenYamlReportsConfigInvalid) {
  auto r = Check("vectorvue: [unclosed\n");
  EXPECT_TRUE(r.Violates("config_invalid"));
  EXPECT_FALSE(r.ok());
}

TEST_F(PolicyGateTest, JsonReportIsMachineReadable) {
  std::string y = Replace(BaseYaml(), "10000000-0000-0000-0000-000000000002", "bad");
  auto r = Check(y);
  auto v = json::Parse(r.ToJson());
  ASSERT_TRUE(v.ok()) << r.ToJson();
  ASSERT_NE(nullptr, v->Find("ok"));
  EXPECT_FALSE(v->Find("ok")->as_bool());
  const auto* list = v->Find("violations");
  ASSERT_NE(nullptr, list);
  ASSERT_FALSE(list->as_array().empty());
  const auto& first = list->as_array()[0];
  ASSERT_NE(nullptr, first.Find("rule"));
  ASSERT_NE(nullptr, first.Find("severity"));
  ASSERT_NE(nullptr, first.Find("detail"));
  EXPECT_EQ(r.checked.size(), v->Find("checked")->as_array().size());
}

// ---- Issue 16: published test keys, placeholder pins, a fix for every rule ---------------------

TEST_F(PolicyGateTest, RefusesThePublishedTestKeysInAnyProfile) {
  for (const char* key : {"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=",
                          "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc="}) {
    auto r = Check(Replace(BaseYaml(), "w9culsTDp+GAt9jMoVO2FurMlx97sySYrxLZ5mVZAHw=", key));
    EXPECT_TRUE(r.Violates("no_published_test_keys")) << key << "\n" << Rules(r);
  }
  EXPECT_FALSE(Check(BaseYaml()).Violates("no_published_test_keys"));
}

TEST_F(PolicyGateTest, RefusesAFeedbackKeyFileHoldingThePublishedSeed) {
  const std::string seed_path = dir_.File("feedback.seed");
  std::string seed;
  for (int i = 0x20; i < 0x40; ++i) seed.push_back(static_cast<char>(i));  // appendix A.1
  WriteFile(seed_path, seed, 0600);
  std::string y = BaseYaml() + "    feedback_ed25519_keys:\n      kid-001: " + seed_path +
                  "\n    feedback_active_kid: kid-001\n";
  auto r = Check(y);
  EXPECT_TRUE(r.Violates("no_published_test_keys")) << Rules(r);
  // A seed of its own passes the rule.
  WriteFile(seed_path, std::string(32, 'k'), 0600);
  EXPECT_FALSE(Check(y).Violates("no_published_test_keys")) << Rules(Check(y));
}

TEST_F(PolicyGateTest, RefusesPlaceholderPins) {
  for (const std::string& pin :
       {std::string(64, 'a'), std::string(64, '0'),
        std::string("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
        std::string("abababababababababababababababababababababababababababababababab"),
        std::string("BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:"
                    "BB:BB:BB:BB:BB:BB:BB")}) {
    auto r = Check(Replace(BaseYaml(), Pin("rogue"), "\"" + pin + "\""));
    EXPECT_TRUE(r.Violates("no_placeholder_pins")) << pin << "\n" << Rules(r);
  }
  EXPECT_FALSE(Check(BaseYaml()).Violates("no_placeholder_pins"));
}

TEST_F(PolicyGateTest, EveryRuleHasAnIdAMessageAndAFix) {
  for (const auto& rule : RuleNames()) {
    auto it = RuleFixes().find(rule);
    ASSERT_NE(it, RuleFixes().end()) << rule;
    EXPECT_FALSE(it->second.empty()) << rule;
  }
  EXPECT_NE(RuleFixes().find("config_invalid"), RuleFixes().end());
  auto r = Check(Replace(BaseYaml(), Pin("rogue"), std::string(64, 'c')));
  ASSERT_FALSE(r.ok());
  auto v = json::Parse(r.ToJson());
  ASSERT_TRUE(v.ok());
  for (const auto& viol : v->Find("violations")->as_array()) {
    ASSERT_NE(viol.Find("fix"), nullptr) << r.ToJson();
    EXPECT_FALSE(viol.Find("fix")->as_string().empty()) << r.ToJson();
  }
  EXPECT_NE(r.ToText().find("fix: "), std::string::npos) << r.ToText();
}

// ---- vvctl --------------------------------------------------------------------------------

std::string LastLine(const std::string& out) {
  std::string t = Trimmed(out);
  auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

TEST_F(PolicyGateTest, VvctlExitsOneWithJsonOnViolation) {
  const std::string path = dir_.File("bad.yaml");
  WriteFile(path, Replace(BaseYaml(), "op-002:", "op-001:"));
  std::string out;
  int rc = vv::testing::RunCommand(
      {std::string(VV_BIN_DIR) + "/vvctl", "policy", "check", path, "--format", "text"}, &out);
  EXPECT_EQ(1, rc) << out;
  auto v = json::Parse(LastLine(out));
  ASSERT_TRUE(v.ok()) << out;
  EXPECT_FALSE(v->Find("ok")->as_bool());
  EXPECT_NE(std::string::npos, out.find("FAIL tenant_map_valid"));
}

TEST_F(PolicyGateTest, VvctlExitsZeroOnCleanConfig) {
  const std::string path = dir_.File("good.yaml");
  WriteFile(path, BaseYaml());
  std::string out;
  int rc = vv::testing::RunCommand(
      {std::string(VV_BIN_DIR) + "/vvctl", "policy", "check", path, "--min-cert-days", "7"}, &out);
  EXPECT_EQ(0, rc) << out;
  auto v = json::Parse(LastLine(out));
  ASSERT_TRUE(v.ok()) << out;
  EXPECT_TRUE(v->Find("ok")->as_bool());
}

TEST_F(PolicyGateTest, VvctlUsageErrorExitsTwo) {
  std::string out;
  const std::string bin = std::string(VV_BIN_DIR) + "/vvctl";
  EXPECT_EQ(2, vv::testing::RunCommand({bin, "policy", "check"}, &out)) << out;
  EXPECT_EQ(2,
            vv::testing::RunCommand({bin, "policy", "check", "x.yaml", "--format", "xml"}, &out));
  EXPECT_EQ(2, vv::testing::RunCommand({bin, "policy", "check", "x.yaml", "--min-cert-days", "-1"},
                                       &out));
  EXPECT_EQ(2, vv::testing::RunCommand({bin}, &out));
}

}  // namespace
}  // namespace vv::policy

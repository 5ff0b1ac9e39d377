// Issue 12 items 2, 5 and 7 in the gateway config: identities bound to operators (YAML and
// env JSON forms; production refuses an unbound identity, development warns), unknown operators
// refused, tenant map values canonical (lowercase), the rejection budget setting.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "config/gateway_config.h"
#include "fakes/temp_dir.h"

namespace vv::config {
namespace {

using ::testing::HasSubstr;
using vv::testing::TempDir;
using vv::testing::WriteFile;

constexpr char kPin[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr char kPin2[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
constexpr char kKey1[] = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";

class IdentityOperatorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_.File("server.crt"), "cert", 0644);
    WriteFile(dir_.File("server.key"), "key", 0600);
    WriteFile(dir_.File("ca.crt"), "ca", 0644);
  }
  // `identities` is the YAML body of allowed_service_identities (indented by 6).
  std::string Yaml(const std::string& identities, const std::string& extra = "") const {
    return std::string("vectorvue:\n  telemetry_gateway:\n") +
           "    tls: {cert_path: server.crt, key_path: server.key, ca_path: ca.crt}\n" +
           "    spectrastrike_ed25519_public_key_b64: " + kKey1 + "\n" +
           "    allowed_service_identities:\n" + identities +
           "    operator_tenant_map:\n"
           "      op-001: 10000000-0000-0000-0000-000000000001\n"
           "      op-002: ABCDEF00-0000-4000-8000-0000000000AA\n" +
           extra;
  }
  static std::string Production() {
    return "    profile: production\n    redis_url: redis://r:6379/0\n"
           "    nats_url: nats://n:4222\n    nonce_backend: redis\n"
           "    rate_limit_backend: redis\n    queue_backend: nats\n";
  }
  Result<GatewayConfig> Parse(const std::string& yaml) const {
    auto env = env_;
    return ParseGatewayConfig(
        yaml,
        [env](const std::string& n) -> std::optional<std::string> {
          auto it = env.find(n);
          if (it == env.end()) return std::nullopt;
          return it->second;
        },
        dir_.path().string());
  }
  TempDir dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(IdentityOperatorsTest, YamlOperatorsAreParsedTrimmedAndDeduplicated) {
  auto r = Parse(Yaml(std::string("      producer-a:\n        cert_sha256: ") + kPin +
                      "\n        operators: [' op-001 ', op-002, op-001]\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const ServiceIdentity& id = r->identities.at(0);
  EXPECT_EQ(id.operators, (std::vector<std::string>{"op-001", "op-002"}));
  EXPECT_FALSE(id.Unbound());
  EXPECT_TRUE(id.MayActFor("op-002"));
  EXPECT_FALSE(id.MayActFor("op-003"));
  EXPECT_FALSE(id.MayActFor("OP-001"));
  EXPECT_TRUE(GatewayConfigWarnings(*r).empty());
}

TEST_F(IdentityOperatorsTest, EnvJsonOperators) {
  env_["VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON"] =
      std::string("{\"b\":{\"cert_sha256\":\"") + kPin2 + "\",\"operators\":[\"op-002\"]}}";
  auto r = Parse(Yaml(std::string("      a: ") + kPin + "\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->identities.size(), 1u);
  EXPECT_EQ(r->identities[0].operators, (std::vector<std::string>{"op-002"}));
  env_["VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON"] =
      std::string("{\"b\":{\"cert_sha256\":\"") + kPin2 + "\",\"operators\":\"op-002\"}}";
  auto bad = Parse(Yaml(std::string("      a: ") + kPin + "\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("operators"));
}

TEST_F(IdentityOperatorsTest, UnmappedOrEmptyOperatorIsRefused) {
  auto r = Parse(Yaml(std::string("      a:\n        cert_sha256: ") + kPin +
                      "\n        operators: [op-009]\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("allowed_service_identities.a.operators"));
  EXPECT_THAT(r.status().message(), HasSubstr("op-009"));
  auto e = Parse(Yaml(std::string("      a:\n        cert_sha256: ") + kPin +
                      "\n        operators: ['  ']\n"));
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.status().message(), HasSubstr("must not be empty"));
}

TEST_F(IdentityOperatorsTest, ProductionRefusesAnUnboundIdentityDevelopmentWarns) {
  const std::string unbound = std::string("      a: ") + kPin + "\n";
  auto dev = Parse(Yaml(unbound));
  ASSERT_TRUE(dev.ok()) << dev.status().message();
  EXPECT_TRUE(dev->identities[0].Unbound());
  EXPECT_TRUE(dev->identities[0].MayActFor("anything"));
  auto warnings = GatewayConfigWarnings(*dev);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("allowed_service_identities.a"));
  auto prod = Parse(Yaml(unbound, Production()));
  ASSERT_FALSE(prod.ok());
  EXPECT_THAT(prod.status().message(), HasSubstr("allowed_service_identities.a.operators"));
  auto bound = Parse(Yaml(std::string("      a: {cert_sha256: ") + kPin + ", operators: [op-001]}\n",
                          Production()));
  EXPECT_TRUE(bound.ok()) << bound.status().message();
}

TEST_F(IdentityOperatorsTest, TenantMapValuesAreCanonicalLowercase) {
  auto r = Parse(Yaml(std::string("      a: ") + kPin + "\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->operator_tenant_map.at("op-002"), "abcdef00-0000-4000-8000-0000000000aa");
  env_["VV_TG_OPERATOR_TENANT_MAP"] = "{\"op-001\":\"ABCDEF00-0000-4000-8000-0000000000BB\"}";
  r = Parse(Yaml(std::string("      a: ") + kPin + "\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->operator_tenant_map.at("op-001"), "abcdef00-0000-4000-8000-0000000000bb");
  EXPECT_EQ(CanonicalTenantId("ABCDEF00-0000-4000-8000-0000000000BB"),
            "abcdef00-0000-4000-8000-0000000000bb");
}

TEST_F(IdentityOperatorsTest, RejectionBudgetSetting) {
  const std::string ids = std::string("      a: ") + kPin + "\n";
  auto r = Parse(Yaml(ids));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rejection_budget_per_minute, 600);
  r = Parse(Yaml(ids, "    rejection_budget_per_minute: 0\n"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rejection_budget_per_minute, 0);
  env_["VV_TG_REJECTION_BUDGET_PER_MINUTE"] = "25";
  r = Parse(Yaml(ids));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rejection_budget_per_minute, 25);
  env_.clear();
  auto bad = Parse(Yaml(ids, "    rejection_budget_per_minute: -1\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("rejection_budget_per_minute"));
}

TEST_F(IdentityOperatorsTest, PinnedByAnyIdentity) {
  auto r = Parse(Yaml(std::string("      a: ") + kPin + "\n      b: {cert_sha256: [" + kPin2 +
                      "], operators: [op-001]}\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->PinnedByAnyIdentity(kPin));
  EXPECT_TRUE(r->PinnedByAnyIdentity(kPin2));
  EXPECT_FALSE(r->PinnedByAnyIdentity(std::string(64, 'c')));
  EXPECT_FALSE(r->PinnedByAnyIdentity(""));
}

}  // namespace
}  // namespace vv::config

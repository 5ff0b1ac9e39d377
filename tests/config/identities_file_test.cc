// The machine-owned identities file (issue 13): its one format, the loader's refusals (fail
// closed: group-writable, oversized, not a file, any field error), and the gateway config
// reading it through identities_file / VV_TG_IDENTITIES_FILE.

#include "config/identities_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "crypto/crypto.h"
#include "fakes/telemetry_builder.h"
#include "fakes/temp_dir.h"

namespace vv::config {
namespace {

const std::string kPinA(64, 'a');
const std::string kPinB(64, 'b');

ServiceIdentity Producer() {
  ServiceIdentity i;
  i.id = "spectrastrike-producer";
  i.cert_sha256_pins = {kPinA, kPinB};
  i.operators = {"op-001"};
  i.signing_keys.push_back(
      {"k1", crypto::Ed25519PublicKey::FromBase64(testing::kProducerPublicKeyB64).value()});
  return i;
}

std::string Doc(const std::string& identities) {
  return R"({"format": "vectorvue.identities.v1", "identities": )" + identities + "}";
}

TEST(IdentitiesFileTest, SerializesOneValuePerLineAndParsesBack) {
  ServiceIdentity bare;
  bare.id = "pin-only \"quoted\"";
  bare.cert_sha256_pins = {std::string(64, 'c')};
  const std::string text = SerializeIdentities({Producer(), bare});
  EXPECT_EQ(text,
            "{\n  \"format\": \"vectorvue.identities.v1\",\n  \"identities\": {\n"
            "    \"spectrastrike-producer\": {\n"
            "      \"cert_sha256\": [\n        \"" + kPinA + "\",\n        \"" + kPinB +
                "\"\n      ],\n"
            "      \"operators\": [\n        \"op-001\"\n      ],\n"
            "      \"signing_keys\": {\n        \"k1\": \"" +
                testing::kProducerPublicKeyB64 + "\"\n      }\n"
            "    },\n"
            "    \"pin-only \\\"quoted\\\"\": {\n"
            "      \"cert_sha256\": [\n        \"" + std::string(64, 'c') + "\"\n      ],\n"
            "      \"operators\": [],\n      \"signing_keys\": {}\n    }\n  }\n}\n");
  auto back = ParseIdentitiesJson(text, "f");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].id, "spectrastrike-producer");
  EXPECT_EQ((*back)[0].cert_sha256_pins, Producer().cert_sha256_pins);
  EXPECT_EQ((*back)[0].operators, Producer().operators);
  ASSERT_EQ((*back)[0].signing_keys.size(), 1u);
  EXPECT_EQ((*back)[0].signing_keys[0].key.ToBase64(), testing::kProducerPublicKeyB64);
  EXPECT_EQ((*back)[1].id, bare.id);
  EXPECT_EQ(SerializeIdentities(*back), text);
  EXPECT_EQ(SerializeIdentities({}),
            "{\n  \"format\": \"vectorvue.identities.v1\",\n  \"identities\": {}\n}\n");
}

TEST(IdentitiesFileTest, AcceptsThePinOnlyFormAndNormalisesPins) {
  auto ids = ParseIdentitiesJson(Doc(R"({"svc": ")" + std::string(64, 'A') + R"("})"), "f");
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  EXPECT_EQ(ids->at(0).cert_sha256_pins, (std::vector<std::string>{kPinA}));
}

TEST(IdentitiesFileTest, RefusesAnythingElseNamingTheFile) {
  const std::map<std::string, std::string> bad = {
      {"not json", "{"},
      {"not an object", "[]"},
      {"no format", R"({"identities": {}})"},
      {"wrong format", R"({"format": "vectorvue.identities.v2", "identities": {}})"},
      {"unknown top key", R"({"format": "vectorvue.identities.v1", "identities": {}, "x": 1})"},
      {"identities not an object", Doc("[]")},
      {"duplicate identity", Doc(R"({"a": ")" + kPinA + R"(", "a": ")" + kPinB + R"("})")},
      {"unknown identity key", Doc(R"({"a": {"pins": []}})")},
      {"bad pin", Doc(R"({"a": {"cert_sha256": ["abc"]}})")},
      {"bad key", Doc(R"({"a": {"cert_sha256": [], "signing_keys": {"k": "AAAA"}}})")},
      {"empty kid", Doc(R"({"a": {"signing_keys": {" ": ")" +
                        std::string(testing::kProducerPublicKeyB64) + R"("}}})")},
      {"empty operator", Doc(R"({"a": {"operators": [" "]}})")},
      {"empty id", Doc(R"({" ": ")" + kPinA + R"("})")},
      {"pins not a list", Doc(R"({"a": {"cert_sha256": 7}})")},
  };
  for (const auto& [what, text] : bad) {
    auto r = ParseIdentitiesJson(text, "identities_file /x.json");
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().message().rfind("identities_file /x.json: ", 0), 0u)
        << what << ": " << r.status().ToString();
  }
}

TEST(IdentitiesFileTest, LoaderFailsClosedOnModeSizeAndKind) {
  testing::TempDir d;
  const std::string path = d.File("ids.json");
  ASSERT_TRUE(WriteIdentitiesFile(path, {Producer()}, 0640).ok());
  auto ok = LoadIdentitiesFile(path);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->size(), 1u);
  // Whoever can write it can admit a producer.
  std::filesystem::permissions(path, std::filesystem::perms::group_write,
                               std::filesystem::perm_options::add);
  EXPECT_EQ(LoadIdentitiesFile(path).status().code(), StatusCode::kPermissionDenied);
  EXPECT_FALSE(WriteIdentitiesFile(path, {Producer()}, 0666).ok());
  EXPECT_EQ(LoadIdentitiesFile(d.File("missing.json")).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(LoadIdentitiesFile(d.path().string()).ok());  // a directory
  testing::WriteFile(d.File("big.json"), std::string(kMaxIdentitiesFileBytes + 1, ' '), 0600);
  auto big = LoadIdentitiesFile(d.File("big.json"));
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("larger than"), std::string::npos);
}

class IdentitiesFileConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFile(d_.File("c.crt"), "x", 0644);
    testing::WriteFile(d_.File("c.key"), "x", 0600);
    testing::WriteFile(d_.File("ca.crt"), "x", 0644);
    ASSERT_TRUE(WriteIdentitiesFile(d_.File("ids.json"), {Producer()}, 0644).ok());
  }
  Result<GatewayConfig> Load(const std::string& identities, const EnvLookup& env = nullptr) {
    const std::string yaml =
        std::string("vectorvue:\n  telemetry_gateway:\n    queue_backend: embedded\n") +
        "    tls:\n      cert_path: c.crt\n      key_path: c.key\n      ca_path: ca.crt\n" +
        identities + "    operator_tenant_map:\n      op-001: " + testing::kTenant1 + "\n";
    return ParseGatewayConfig(yaml, env, d_.path().string());
  }
  testing::TempDir d_;
};

TEST_F(IdentitiesFileConfigTest, RelativePathResolvesBesideTheConfig) {
  auto cfg = Load("    identities_file: ids.json\n");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->identities_file, d_.File("ids.json"));
  ASSERT_EQ(cfg->identities.size(), 1u);
  EXPECT_EQ(cfg->identities[0].id, "spectrastrike-producer");
  EXPECT_EQ(cfg->identities[0].signing_keys.size(), 1u);
}

TEST_F(IdentitiesFileConfigTest, TheEnvironmentCanNameTheFile) {
  const std::string path = d_.File("ids.json");
  auto cfg = Load("", [&](const std::string& k) -> std::optional<std::string> {
    if (k == "VV_TG_IDENTITIES_FILE") return path;
    return std::nullopt;
  });
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->identities.size(), 1u);
}

TEST_F(IdentitiesFileConfigTest, InlineAndFileTogetherOrABadFileAreRefused) {
  auto both = Load("    identities_file: ids.json\n    allowed_service_identities:\n      x: " +
                   kPinB + "\n");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("both set"), std::string::npos)
      << both.status().ToString();
  auto missing = Load("    identities_file: nope.json\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.json"), std::string::npos);
  testing::WriteFile(d_.File("bad.json"), Doc(R"({"a": {"cert_sha256": ["abc"]}})"), 0600);
  EXPECT_FALSE(Load("    identities_file: bad.json\n").ok());
  // An empty file list is an empty allowlist: refused like an empty inline one.
  ASSERT_TRUE(WriteIdentitiesFile(d_.File("empty.json"), {}, 0600).ok());
  auto empty = Load("    identities_file: empty.json\n");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("non-empty allowlist"), std::string::npos);
}

}  // namespace
}  // namespace vv::config

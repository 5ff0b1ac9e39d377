// Software root key providers: the reference environment variables and key files.

#include "evidence/root_key_provider.h"

#include <gtest/gtest.h>

#include <map>

#include "common/encoding.h"
#include "fakes/temp_dir.h"

namespace vv::evidence {
namespace {

using vv::testing::TempDir;
using vv::testing::WriteFile;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const std::string kA32 = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=";

TEST(RootKeyProviderTest, EnvUsesReferenceVariablesAndDefaultKeyId) {
  auto p = StaticRootKeyProvider::FromEnv(
      Env({{"VV_HSM_ROOT_KEYS_JSON", R"({"vv-evidence-root-v1": ")" + kA32 + R"("})"}}));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ((*p)->active_key_id(), "vv-evidence-root-v1");
  EXPECT_EQ((*p)->kind(), "env");
  auto kek = (*p)->DeriveKek("10000000-0000-0000-0000-000000000001", "vv-evidence-root-v1");
  ASSERT_TRUE(kek.ok());
  EXPECT_EQ(HexEncode(*kek), "eeb73e33f4b130f0da920c11b63c83f0e96e3e07172133b01e49bda9f9fd1ac0");
  EXPECT_EQ((*p)->DeriveKek("t", "other").status().code(), StatusCode::kNotFound);
}

TEST(RootKeyProviderTest, EnvActiveKeyIdFromVariableOrOverride) {
  auto vars = Env(
      {{"VV_HSM_ROOT_KEYS_JSON", R"({"k1": ")" + kA32 + R"(", "k2": "QkJCQkJCQkJCQkJCQkJCQg=="})"},
       {"VV_HSM_EVIDENCE_ROOT_KEY_ID", "k2"}});
  auto p = StaticRootKeyProvider::FromEnv(vars);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ((*p)->active_key_id(), "k2");
  EXPECT_EQ((*p)->key_ids(), (std::vector<std::string>{"k1", "k2"}));
  auto q = StaticRootKeyProvider::FromEnv(vars, "k1");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)->active_key_id(), "k1");
  EXPECT_FALSE(StaticRootKeyProvider::FromEnv(vars, "k3").ok());
}

TEST(RootKeyProviderTest, EnvRejectsBadInput) {
  EXPECT_FALSE(StaticRootKeyProvider::FromEnv(Env({})).ok());
  for (std::string bad : {"", "not json", "[]", R"({"k": 5})", R"({"k": "!!!"})",
                          R"({"vv-evidence-root-v1": "QUFB"})" /* 3 bytes */, R"({})"}) {
    EXPECT_FALSE(StaticRootKeyProvider::FromEnv(Env({{"VV_HSM_ROOT_KEYS_JSON", bad}})).ok()) << bad;
  }
  // Active key id missing from the map.
  EXPECT_FALSE(StaticRootKeyProvider::FromEnv(
                   Env({{"VV_HSM_ROOT_KEYS_JSON", R"({"k1": ")" + kA32 + R"("})"}}))
                   .ok());
}

TEST(RootKeyProviderTest, FileAcceptsJsonAndRawKeysWithStrictMode) {
  TempDir dir;
  const std::string json_path = dir.File("keys.json");
  WriteFile(json_path, R"({"k1": ")" + kA32 + R"(", "k2": ")" + kA32 + R"("})", 0400);
  auto p = StaticRootKeyProvider::FromFile(json_path, "k2");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ((*p)->active_key_id(), "k2");
  EXPECT_EQ((*p)->kind(), "file");

  const std::string raw_path = dir.File("root.key");
  WriteFile(raw_path, std::string(32, 'A'), 0600);
  auto r = StaticRootKeyProvider::FromFile(raw_path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->active_key_id(), "vv-evidence-root-v1");
  EXPECT_EQ(
      HexEncode(*(*r)->DeriveKek("10000000-0000-0000-0000-000000000001", "vv-evidence-root-v1")),
      "eeb73e33f4b130f0da920c11b63c83f0e96e3e07172133b01e49bda9f9fd1ac0");
  // A raw key that happens to start with '{' is still a raw key.
  WriteFile(raw_path, "{" + std::string(31, 'x'), 0600);
  EXPECT_TRUE(StaticRootKeyProvider::FromFile(raw_path, "r").ok());
}

TEST(RootKeyProviderTest, FileRefusesGroupOrWorldAccess) {
  TempDir dir;
  const std::string path = dir.File("root.key");
  WriteFile(path, std::string(32, 'A'), 0644);
  auto p = StaticRootKeyProvider::FromFile(path);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kPermissionDenied);
  WriteFile(path, std::string(32, 'A'), 0640);
  EXPECT_EQ(StaticRootKeyProvider::FromFile(path).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(StaticRootKeyProvider::FromFile(dir.File("missing")).status().code(),
            StatusCode::kNotFound);
}

TEST(RootKeyProviderTest, FileRejectsBadContent) {
  TempDir dir;
  const std::string path = dir.File("root.key");
  for (std::string bad :
       {std::string(31, 'A'), std::string(33, 'A'), std::string(), std::string("{\"k\": 1}")}) {
    WriteFile(path, bad, 0600);
    EXPECT_FALSE(StaticRootKeyProvider::FromFile(path).ok()) << bad.size();
  }
}

}  // namespace
}  // namespace vv::evidence

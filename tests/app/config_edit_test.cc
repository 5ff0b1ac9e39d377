// vvctl identity stage/retire helpers: YAML edits validated as the gateway would.

#include "app/config_edit.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "crypto/crypto.h"
#include "fakes/telemetry_builder.h"
#include "fakes/temp_dir.h"

namespace vv::app::config_edit {
namespace {

const std::string kPinA(64, 'a');
const std::string kPinB(64, 'b');

// TLS files the validation requires to exist (contents are not parsed by the config layer).
const testing::TempDir& Files() {
  static testing::TempDir* dir = [] {
    auto* d = new testing::TempDir();
    testing::WriteFile(d->File("c.crt"), "x", 0644);
    testing::WriteFile(d->File("c.key"), "x", 0600);
    testing::WriteFile(d->File("ca.crt"), "x", 0644);
    return d;
  }();
  return *dir;
}

std::string Yaml() {
  return std::string("vectorvue:\n  telemetry_gateway:\n    queue_backend: embedded\n") +
         "    tls:\n      cert_path: " + Files().File("c.crt") + "\n      key_path: " +
         Files().File("c.key") + "\n      ca_path: " + Files().File("ca.crt") + "\n" +
         "    require_mtls: true\n    allowed_service_identities:\n      svc: " + kPinA + "\n" +
         "    spectrastrike_ed25519_public_key_b64: " + testing::kProducerPublicKeyB64 + "\n" +
         "    operator_tenant_map:\n      op-001: " + testing::kTenant1 + "\n";
}

config::GatewayConfig Parse(const std::string& text) {
  auto c = config::ParseGatewayConfig(text, nullptr, "/");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : config::GatewayConfig{};
}

TEST(ConfigEditTest, StageAndRetirePinConvertsThePinOnlyForm) {
  auto t = ApplyToText(Yaml(), {Op::kStagePin, "svc", "", "", kPinB}, nullptr, "/", false);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto cfg = Parse(*t);
  ASSERT_EQ(cfg.identities.size(), 1u);
  EXPECT_EQ(cfg.identities[0].cert_sha256_pins, (std::vector<std::string>{kPinA, kPinB}));
  auto r = ApplyToText(*t, {Op::kRetirePin, "svc", "", "", kPinA}, nullptr, "/", false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Parse(*r).identities[0].cert_sha256_pins, (std::vector<std::string>{kPinB}));
  // The last pin cannot be retired.
  EXPECT_FALSE(ApplyToText(*r, {Op::kRetirePin, "svc", "", "", kPinB}, nullptr, "/", false).ok());
}

TEST(ConfigEditTest, StageAndRetireKeys) {
  const std::string new_key =
      crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'n')).value().PublicKey().ToBase64();
  auto t = ApplyToText(Yaml(), {Op::kStageKey, "svc", "k1", testing::kProducerPublicKeyB64, ""},
                       nullptr, "/", false);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  t = ApplyToText(*t, {Op::kStageKey, "svc", "k2", new_key, ""}, nullptr, "/", false);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(Parse(*t).identities[0].signing_keys.size(), 2u);
  EXPECT_FALSE(ApplyToText(*t, {Op::kStageKey, "svc", "k2", new_key, ""}, nullptr, "/", false).ok());
  EXPECT_FALSE(ApplyToText(*t, {Op::kStageKey, "svc", "k3", "not-a-key", ""}, nullptr, "/", false).ok());
  t = ApplyToText(*t, {Op::kRetireKey, "svc", "k1", "", ""}, nullptr, "/", false);
  ASSERT_TRUE(t.ok());
  auto cfg = Parse(*t);
  ASSERT_EQ(cfg.identities[0].signing_keys.size(), 1u);
  EXPECT_EQ(cfg.identities[0].signing_keys[0].kid, "k2");
  EXPECT_FALSE(ApplyToText(*t, {Op::kRetireKey, "svc", "k2", "", ""}, nullptr, "/", false).ok());
}

TEST(ConfigEditTest, UnknownIdentityIsRefused) {
  EXPECT_EQ(ApplyToText(Yaml(), {Op::kStagePin, "nope", "", "", kPinB}, nullptr, "/", false)
                .status()
                .code(),
            StatusCode::kNotFound);
}

TEST(ConfigEditTest, ApplyToFileWritesAtomicallyKeepingTheMode) {
  testing::TempDir dir;
  const std::string path = dir.File("gw.yaml");
  testing::WriteFile(path, Yaml(), 0600);
  Status s = ApplyToFile(path, {Op::kStagePin, "svc", "", "", kPinB}, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Parse(testing::ReadFile(path)).identities[0].cert_sha256_pins.size(), 2u);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // An edit that would not validate leaves the file untouched.
  const std::string before = testing::ReadFile(path);
  EXPECT_FALSE(ApplyToFile(path, {Op::kStageKey, "svc", "k", "AAAA", ""}, nullptr).ok());
  EXPECT_EQ(testing::ReadFile(path), before);
}

}  // namespace
}  // namespace vv::app::config_edit

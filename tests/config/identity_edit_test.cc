// `vvctl identity ...` edits (issue 8 rotation, issue 12 operators) on the machine-owned
// identities file (issue 13): each edit is validated with the whole gateway config, written
// whole and atomically with the file's mode kept, and a config with inline identities is
// refused with the way out (export).

#include "config/identity_edit.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "config/identities_file.h"
#include "crypto/crypto.h"
#include "fakes/telemetry_builder.h"
#include "fakes/temp_dir.h"

namespace vv::config::identity {
namespace {

const std::string kPinA(64, 'a');
const std::string kPinB(64, 'b');

// A gateway config in a temp dir whose identities live in ids.json (named relatively), with
// one pin-only identity `svc` using the default signing key.
class IdentityEditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFile(dir_.File("c.crt"), "x", 0644);
    testing::WriteFile(dir_.File("c.key"), "x", 0600);
    testing::WriteFile(dir_.File("ca.crt"), "x", 0644);
    testing::WriteFile(config_path(), Yaml("    identities_file: ids.json\n"), 0600);
    ServiceIdentity svc;
    svc.id = "svc";
    svc.cert_sha256_pins = {kPinA};
    ASSERT_TRUE(WriteIdentitiesFile(ids_path(), {svc}, 0600).ok());
  }
  std::string Yaml(const std::string& identities) const {
    return std::string("vectorvue:\n  telemetry_gateway:\n    queue_backend: embedded\n") +
           "    tls:\n      cert_path: " + dir_.File("c.crt") + "\n      key_path: " +
           dir_.File("c.key") + "\n      ca_path: " + dir_.File("ca.crt") + "\n" +
           "    require_mtls: true\n" + identities +
           "    spectrastrike_ed25519_public_key_b64: " + testing::kProducerPublicKeyB64 + "\n" +
           "    operator_tenant_map:\n      op-001: " + testing::kTenant1 + "\n      op-002: " +
           testing::kTenant2 + "\n";
  }
  std::string config_path() const { return dir_.File("gateway.yaml"); }
  std::string ids_path() const { return dir_.File("ids.json"); }
  Status Run(const Edit& e) {
    auto w = ApplyToConfig(config_path(), e, nullptr);
    if (w.ok()) {
      EXPECT_EQ(w->path, ids_path());
    }
    return w.status();
  }
  // The identity `svc` as the gateway loads it now.
  ServiceIdentity Svc() const {
    auto cfg = LoadGatewayConfig(config_path(), nullptr);
    EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
    if (!cfg.ok() || cfg->identities.size() != 1) return {};
    return cfg->identities[0];
  }
  static Edit SetOps(std::vector<std::string> ops) {
    Edit e{Op::kSetOperators, "svc", "", "", ""};
    e.operators = std::move(ops);
    return e;
  }

  testing::TempDir dir_;
};

TEST_F(IdentityEditTest, StageAndRetirePin) {
  ASSERT_TRUE(Run({Op::kStagePin, "svc", "", "", kPinB}).ok());
  EXPECT_EQ(Svc().cert_sha256_pins, (std::vector<std::string>{kPinA, kPinB}));
  EXPECT_EQ(Run({Op::kStagePin, "svc", "", "", kPinB}).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(Run({Op::kRetirePin, "svc", "", "", kPinA}).ok());
  EXPECT_EQ(Svc().cert_sha256_pins, (std::vector<std::string>{kPinB}));
  // The last pin cannot be retired; an unknown one is NotFound.
  EXPECT_EQ(Run({Op::kRetirePin, "svc", "", "", kPinB}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Run({Op::kRetirePin, "svc", "", "", kPinA}).code(), StatusCode::kNotFound);
  // Any accepted pin notation is normalised (colons, case).
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += std::string(i ? ":" : "") + "CC";
  ASSERT_TRUE(Run({Op::kStagePin, "svc", "", "", colons}).ok());
  EXPECT_EQ(Svc().cert_sha256_pins.back(), std::string(64, 'c'));
}

TEST_F(IdentityEditTest, StageAndRetireKeys) {
  const std::string new_key =
      crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'n')).value().PublicKey().ToBase64();
  ASSERT_TRUE(Run({Op::kStageKey, "svc", "k1", testing::kProducerPublicKeyB64, ""}).ok());
  ASSERT_TRUE(Run({Op::kStageKey, "svc", "k2", new_key, ""}).ok());
  EXPECT_EQ(Svc().signing_keys.size(), 2u);
  EXPECT_EQ(Run({Op::kStageKey, "svc", "k2", new_key, ""}).code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(Run({Op::kStageKey, "svc", "k3", "not-a-key", ""}).ok());
  ASSERT_TRUE(Run({Op::kRetireKey, "svc", "k1", "", ""}).ok());
  const auto svc = Svc();
  ASSERT_EQ(svc.signing_keys.size(), 1u);
  EXPECT_EQ(svc.signing_keys[0].kid, "k2");
  EXPECT_EQ(svc.signing_keys[0].key.ToBase64(), new_key);
  EXPECT_FALSE(Run({Op::kRetireKey, "svc", "k2", "", ""}).ok());
  EXPECT_EQ(Run({Op::kRetireKey, "svc", "k9", "", ""}).code(), StatusCode::kNotFound);
}

TEST_F(IdentityEditTest, UnknownIdentityIsRefused) {
  EXPECT_EQ(Run({Op::kStagePin, "nope", "", "", kPinB}).code(), StatusCode::kNotFound);
}

TEST_F(IdentityEditTest, WritesAtomicallyKeepingTheModeAndLeavesTheFileOnAnyError) {
  ASSERT_TRUE(Run({Op::kStagePin, "svc", "", "", kPinB}).ok());
  EXPECT_EQ(std::filesystem::status(ids_path()).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const std::string before = testing::ReadFile(ids_path());
  // A malformed key, an edit the whole config refuses (operator not mapped), a duplicate.
  EXPECT_FALSE(Run({Op::kStageKey, "svc", "k", "AAAA", ""}).ok());
  auto unmapped = Run(SetOps({"op-404"}));
  ASSERT_FALSE(unmapped.ok());
  EXPECT_NE(unmapped.message().find("op-404"), std::string::npos) << unmapped.ToString();
  EXPECT_FALSE(Run({Op::kStagePin, "svc", "", "", kPinB}).ok());
  EXPECT_EQ(testing::ReadFile(ids_path()), before);
  // The YAML is never rewritten.
  EXPECT_EQ(testing::ReadFile(config_path()), Yaml("    identities_file: ids.json\n"));
  // No temporary file is left beside it.
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_.path())) ++files;
  EXPECT_EQ(files, 5);  // c.crt c.key ca.crt gateway.yaml ids.json
}

TEST_F(IdentityEditTest, SetOperatorsThenRotateKeepsThem) {
  ASSERT_TRUE(Run(SetOps({"op-001", "op-002", "op-001"})).ok());
  EXPECT_EQ(Svc().operators, (std::vector<std::string>{"op-001", "op-002"}));
  EXPECT_EQ(Svc().cert_sha256_pins, (std::vector<std::string>{kPinA}));
  // A later pin rotation keeps the binding.
  ASSERT_TRUE(Run({Op::kStagePin, "svc", "", "", kPinB}).ok());
  EXPECT_EQ(Svc().operators, (std::vector<std::string>{"op-001", "op-002"}));
  EXPECT_EQ(Svc().cert_sha256_pins.size(), 2u);
  // Replacing the list narrows it.
  ASSERT_TRUE(Run(SetOps({"op-002"})).ok());
  EXPECT_EQ(Svc().operators, (std::vector<std::string>{"op-002"}));
  // Missing or empty operators are refused.
  EXPECT_FALSE(Run(SetOps({})).ok());
  EXPECT_FALSE(Run(SetOps({""})).ok());
}

TEST_F(IdentityEditTest, InlineIdentitiesAreRefusedWithTheWayOutAndExportMovesThem) {
  const std::string inline_yaml =
      Yaml("    allowed_service_identities:\n      svc:\n        cert_sha256: [" + kPinA +
           "]\n        operators: [op-001]  # the producer\n");
  testing::WriteFile(config_path(), inline_yaml, 0600);
  auto refused = ApplyToConfig(config_path(), {Op::kStagePin, "svc", "", "", kPinB}, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("vvctl identity export"), std::string::npos)
      << refused.status().ToString();
  // The suggested file is the one `identities_file: identities.json` resolves to.
  EXPECT_NE(refused.status().message().find("--out " + dir_.File("identities.json")),
            std::string::npos)
      << refused.status().ToString();
  EXPECT_EQ(testing::ReadFile(config_path()), inline_yaml);  // untouched, comment and all
  // Export refuses to overwrite unless told to.
  EXPECT_EQ(Export(config_path(), ids_path(), false, nullptr).status().code(),
            StatusCode::kAlreadyExists);
  auto w = Export(config_path(), ids_path(), true, nullptr);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->identities, 1u);
  EXPECT_EQ(w->path, ids_path());  // absolute
  // The operator swaps the inline mapping for the file: the gateway loads the same identity.
  testing::WriteFile(config_path(), Yaml("    identities_file: ids.json\n"), 0600);
  EXPECT_EQ(Svc().operators, (std::vector<std::string>{"op-001"}));
  EXPECT_EQ(Svc().cert_sha256_pins, (std::vector<std::string>{kPinA}));
  ASSERT_TRUE(Run({Op::kStagePin, "svc", "", "", kPinB}).ok());
}

TEST_F(IdentityEditTest, ConcurrentEditsLoseNothing) {
  // Two vvctl runs at once (threads here; the lock is an flock, so processes too).
  auto stage = [&](char base) {
    for (int i = 0; i < 8; ++i) {
      std::string pin(64, base);
      pin[0] = "0123456789abcdef"[i];
      EXPECT_TRUE(Run({Op::kStagePin, "svc", "", "", pin}).ok());
    }
  };
  std::thread a(stage, 'd'), b(stage, 'e');
  a.join();
  b.join();
  EXPECT_EQ(Svc().cert_sha256_pins.size(), 17u);
}

}  // namespace
}  // namespace vv::config::identity

// `vvctl identity set-operators` (issue 12 item 2): an identity staged or rotated by vvctl can
// carry the operators it may act for, and later pin/key edits keep them.

#include <gtest/gtest.h>

#include "config/config_edit.h"
#include "fakes/telemetry_builder.h"
#include "fakes/temp_dir.h"

namespace vv::config::edit {
namespace {

const std::string kPinA(64, 'a');
const std::string kPinB(64, 'b');

std::string Yaml(const testing::TempDir& d) {
  testing::WriteFile(d.File("c.crt"), "x", 0644);
  testing::WriteFile(d.File("c.key"), "x", 0600);
  testing::WriteFile(d.File("ca.crt"), "x", 0644);
  return std::string("vectorvue:\n  telemetry_gateway:\n    queue_backend: embedded\n") +
         "    tls:\n      cert_path: " + d.File("c.crt") + "\n      key_path: " + d.File("c.key") +
         "\n      ca_path: " + d.File("ca.crt") + "\n" +
         "    allowed_service_identities:\n      svc: " + kPinA + "  # the producer\n" +
         "    spectrastrike_ed25519_public_key_b64: " + testing::kProducerPublicKeyB64 + "\n" +
         "    operator_tenant_map:\n      op-001: " + testing::kTenant1 + "\n      op-002: " +
         testing::kTenant2 + "\n";
}

Edit SetOps(std::vector<std::string> ops) {
  Edit e{Op::kSetOperators, "svc", "", "", ""};
  e.operators = std::move(ops);
  return e;
}

TEST(ConfigEditOperatorsTest, SetOperatorsOnAPinOnlyIdentityThenRotateKeepsThem) {
  testing::TempDir d;
  auto t = ApplyToText(Yaml(d), SetOps({"op-001", "op-002"}), nullptr, d.path().string());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto cfg = config::ParseGatewayConfig(*t, nullptr, "/");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->identities.at(0).operators, (std::vector<std::string>{"op-001", "op-002"}));
  EXPECT_EQ(cfg->identities.at(0).cert_sha256_pins, (std::vector<std::string>{kPinA}));
  // A later pin rotation keeps the binding.
  auto r = ApplyToText(*t, {Op::kStagePin, "svc", "", "", kPinB}, nullptr, d.path().string());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  cfg = config::ParseGatewayConfig(*r, nullptr, "/");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->identities.at(0).operators, (std::vector<std::string>{"op-001", "op-002"}));
  EXPECT_EQ(cfg->identities.at(0).cert_sha256_pins.size(), 2u);
  // Replacing the list narrows it.
  auto n = ApplyToText(*r, SetOps({"op-002"}), nullptr, d.path().string());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(config::ParseGatewayConfig(*n, nullptr, "/")->identities.at(0).operators,
            (std::vector<std::string>{"op-002"}));
}

TEST(ConfigEditOperatorsTest, UnmappedOrMissingOperatorsAreRefused) {
  testing::TempDir d;
  auto unmapped = ApplyToText(Yaml(d), SetOps({"op-404"}), nullptr, d.path().string());
  ASSERT_FALSE(unmapped.ok());
  EXPECT_NE(unmapped.status().message().find("op-404"), std::string::npos);
  EXPECT_FALSE(ApplyToText(Yaml(d), SetOps({}), nullptr, d.path().string()).ok());
  EXPECT_FALSE(ApplyToText(Yaml(d), SetOps({""}), nullptr, d.path().string()).ok());
}

}  // namespace
}  // namespace vv::config::edit

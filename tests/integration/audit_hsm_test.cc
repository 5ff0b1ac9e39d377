// The real gateway signing its audit seals with an Ed25519 key inside a SoftHSM2 token
// (issue 4): the operator creates the key pair with `vv-audit pkcs11-keygen`, gives verifiers
// the printed verifier key, the gateway seals with the token (PIN from the environment), a
// clean shutdown leaves the log sealed up to its last entry, and `vv-audit verify` pinned to
// the token's key accepts it while another key is refused. A wrong PIN or a missing key stops
// the gateway at start-up with the cause named.

#include <gtest/gtest.h>

#include <sstream>

#include "crypto/crypto.h"
#include "fakes/process.h"
#include "fakes/softhsm.h"
#include "integration/gateway_harness.h"
#include "json/json.h"

namespace vv::testing {
namespace {

json::Value LastJson(const std::string& out) {
  std::istringstream in(out);
  std::string last;
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) last = l;
  auto v = json::Parse(last);
  return v.ok() ? *v : json::Value();
}

std::string Str(const json::Value& v, const char* key) {
  const json::Value* f = v.is_object() ? v.Find(key) : nullptr;
  return f != nullptr && f->is_string() ? f->as_string() : "<missing " + std::string(key) + ">";
}

class AuditHsmTest : public ::testing::Test {
 protected:
  void SetUp() override { VV_REQUIRE_SOFTHSM(hsm_); }

  // Runs vv-audit with the token's environment and the PIN in VV_AUDIT_PKCS11_PIN.
  int Audit(const std::vector<std::string>& args, std::string* out,
            const std::string& pin = SoftHsmToken::kUserPin) {
    std::vector<std::string> argv = {std::string(VV_BIN_DIR) + "/vv-audit"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, out, {hsm_.env(), "VV_AUDIT_PKCS11_PIN=" + pin});
  }

  GatewayOptions Options(const std::string& key_label, const std::string& pin) {
    GatewayOptions o;
    o.seal_every = 4;
    o.extra_yaml = "    audit_seal_pkcs11_token_label: " + hsm_.label() +
                   "\n    audit_seal_pkcs11_key_label: " + key_label + "\n";
    o.env = {hsm_.env(), "VV_AUDIT_PKCS11_PIN=" + pin};
    return o;
  }

  SoftHsmToken hsm_{"vv-audit-seal"};
};

TEST_F(AuditHsmTest, GatewaySealsWithTheTokenKeyAndTheLogVerifiesPinnedToIt) {
  std::string out;
  ASSERT_EQ(Audit({"pkcs11-keygen", "--pkcs11-token", hsm_.label(), "--pkcs11-key-label",
                   "gw-seal"},
                  &out),
            0)
      << out;
  const json::Value generated = LastJson(out);
  const std::string verifier_key = Str(generated, "verifier_key");
  EXPECT_EQ(Str(generated, "source"), "pkcs11");
  // Generating again never replaces the key.
  EXPECT_EQ(Audit({"pkcs11-keygen", "--pkcs11-token", hsm_.label(), "--pkcs11-key-label",
                   "gw-seal"},
                  &out),
            1);
  EXPECT_NE(out.find("exists"), std::string::npos) << out;
  // public-key reads the same key back from the token.
  ASSERT_EQ(Audit({"public-key", "--pkcs11-token", hsm_.label(), "--pkcs11-key-label", "gw-seal"},
                  &out),
            0)
      << out;
  EXPECT_EQ(Str(LastJson(out), "verifier_key"), verifier_key);

  GatewayUnderTest gw(Options("gw-seal", SoftHsmToken::kUserPin));
  ASSERT_TRUE(gw.started()) << gw.log();
  EXPECT_NE(gw.log().find("audit seals signed by pkcs11 key " + verifier_key), std::string::npos)
      << gw.log();
  auto c = gw.Client();
  const int64_t ts = NowSeconds();
  int accepted = 0;
  for (int i = 0; i < 6; ++i) {
    const std::string nonce = "nonce-hsm-" + std::to_string(i) + "-" + std::to_string(ts);
    auto r = SignBody(MakeTelemetryBody(ts, nonce, "evt-" + nonce), ts, nonce, kProducerSeedHex);
    auto resp = c.Post("/internal/v1/telemetry", TelemetryHeaders(r), r.body);
    if (resp.transport_ok && resp.status == 202) ++accepted;
  }
  EXPECT_EQ(accepted, 6);
  ASSERT_EQ(gw.Stop(), 0) << gw.log();

  // Sealed up to the last entry by the clean shutdown, signed by the token's key.
  ASSERT_EQ(Audit({"verify", gw.audit_path(), "--public-key", verifier_key}, &out), 0) << out;
  const json::Value v = LastJson(out);
  ASSERT_TRUE(v.is_object()) << out;
  const int64_t entries = v.Find("entries")->as_int64().value_or(-1);
  EXPECT_GE(entries, 8);  // 6 accepts + seals
  EXPECT_EQ(v.Find("sealed_size")->as_int64().value_or(-1), entries - 1) << out;
  EXPECT_EQ(Str(v, "signature_key"), "pinned");
  const std::vector<std::string> lines = gw.AuditLines();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("\"event_type\":\"log.sealed\""), std::string::npos);

  // Any other key is refused: exit 3, does not verify (issue 16's exit codes; was 1).
  ASSERT_EQ(Audit({"verify", gw.audit_path(), "--public-key",
                   crypto::Ed25519PrivateKey::Generate().PublicKey().ToBase64()},
                  &out),
            3);
  EXPECT_EQ(Str(LastJson(out), "reason"), "seal_signature_invalid");
}

TEST_F(AuditHsmTest, WrongPinOrMissingKeyStopsTheGatewayAtStartUp) {
  std::string out;
  ASSERT_EQ(Audit({"pkcs11-keygen", "--pkcs11-token", hsm_.label(), "--pkcs11-key-label",
                   "gw-seal"},
                  &out),
            0)
      << out;
  {
    GatewayUnderTest gw(Options("gw-seal", "0000"));
    EXPECT_FALSE(gw.started());
    EXPECT_NE(gw.log().find("audit seal key"), std::string::npos) << gw.log();
    EXPECT_NE(gw.log().find("CKR_PIN_INCORRECT"), std::string::npos) << gw.log();
  }
  {
    GatewayUnderTest gw(Options("no-such-key", SoftHsmToken::kUserPin));
    EXPECT_FALSE(gw.started());
    EXPECT_NE(gw.log().find("key labelled 'no-such-key'"), std::string::npos)
        << gw.log();
  }
  EXPECT_EQ(Audit({"public-key", "--pkcs11-token", hsm_.label(), "--pkcs11-key-label", "gw-seal"},
                  &out, "0000"),
            1);
}

}  // namespace
}  // namespace vv::testing

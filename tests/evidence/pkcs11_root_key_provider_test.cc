// PKCS#11 root keys on a real SoftHSM2 token created in a temp dir: the root key is generated
// inside the token and cannot be read out; KEKs are derived in the token; evidence round-trips,
// stays tenant-bound, rotates and re-wraps (including from the software provider into the HSM).

#include "evidence/pkcs11_root_key_provider.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "evidence/evidence_cipher.h"
#include "evidence/scripted_random.h"
#include "fakes/softhsm.h"

namespace vv::evidence {
namespace {


constexpr char kTenant[] = "10000000-0000-0000-0000-000000000001";
constexpr char kOther[] = "20000000-0000-0000-0000-000000000002";
constexpr const char* kPin = vv::testing::SoftHsmToken::kUserPin;

class Pkcs11RootKeyProviderTest : public ::testing::Test {
 protected:
  void SetUp() override { VV_REQUIRE_SOFTHSM(hsm_); }

  Result<std::unique_ptr<Pkcs11RootKeyProvider>> OpenProvider(const std::string& active,
                                                              bool require = true,
                                                              const std::string& pin = kPin) {
    Pkcs11Options o;
    o.token_label = "vv-test";
    o.pin = pin;
    o.active_key_id = active;
    o.require_active_key = require;
    return Pkcs11RootKeyProvider::Open(o);
  }

  vv::testing::SoftHsmToken hsm_;
  vv::testing::ScriptedRandom random_;
};

TEST_F(Pkcs11RootKeyProviderTest, GeneratedRootKeyNeverLeavesTheToken) {
  auto p = OpenProvider("hsm-root-1", /*require=*/false);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE((*p)->GenerateRootKey("hsm-root-1").ok());
  EXPECT_EQ((*p)->GenerateRootKey("hsm-root-1").code(), StatusCode::kAlreadyExists);
  auto hidden = (*p)->KeyIsNonExtractable("hsm-root-1");
  ASSERT_TRUE(hidden.ok()) << hidden.status().ToString();
  EXPECT_TRUE(*hidden);
  EXPECT_TRUE((*p)->HasKey("hsm-root-1"));
  EXPECT_EQ((*p)->key_ids(), std::vector<std::string>{"hsm-root-1"});
}

TEST_F(Pkcs11RootKeyProviderTest, DerivesStableTenantBoundKeksInsideToken) {
  {
    auto admin = OpenProvider("hsm-root-1", false);
    ASSERT_TRUE(admin.ok());
    ASSERT_TRUE((*admin)->GenerateRootKey("hsm-root-1").ok());
  }
  auto p = OpenProvider("hsm-root-1");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto k1 = (*p)->DeriveKek(kTenant, "hsm-root-1");
  auto k2 = (*p)->DeriveKek(kTenant, "hsm-root-1");
  auto k3 = (*p)->DeriveKek(kOther, "hsm-root-1");
  ASSERT_TRUE(k1.ok() && k2.ok() && k3.ok()) << k1.status().ToString();
  EXPECT_EQ(k1->size(), 32u);
  EXPECT_EQ(*k1, *k2);
  EXPECT_NE(*k1, *k3);
  EXPECT_EQ((*p)->DeriveKek(kTenant, "nope").status().code(), StatusCode::kNotFound);

  EvidenceCipher cipher(**p, random_);
  auto env = cipher.Encrypt(kTenant, "hsm evidence");
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->version, kEnvelopeV2Pkcs11);
  EXPECT_EQ(env->algorithm, kAlgorithmV2Pkcs11);
  auto parsed = ParseEnvelopeJson(env->Serialize());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*cipher.Decrypt(kTenant, *parsed), "hsm evidence");
  EXPECT_EQ(cipher.Decrypt(kOther, *parsed).status().message(), kErrTenantMismatch);
  EvidenceEnvelope tampered = *parsed;
  tampered.ciphertext[0] ^= 1;
  EXPECT_EQ(cipher.Decrypt(kTenant, tampered).status().code(), StatusCode::kDataLoss);
}

TEST_F(Pkcs11RootKeyProviderTest, RefusesWrongPinMissingTokenAndMissingKey) {
  EXPECT_EQ(OpenProvider("k", false, "0000").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(OpenProvider("absent-key").status().code(), StatusCode::kNotFound);
  Pkcs11Options o;
  o.token_label = "no-such-token";
  o.pin = kPin;
  o.active_key_id = "k";
  EXPECT_EQ(Pkcs11RootKeyProvider::Open(o).status().code(), StatusCode::kUnavailable);
  o.token_label = "vv-test";
  o.module_path = "/nonexistent/libpkcs11.so";
  EXPECT_EQ(Pkcs11RootKeyProvider::Open(o).status().code(), StatusCode::kUnavailable);
}

TEST_F(Pkcs11RootKeyProviderTest, RotationAndRewrapInsideToken) {
  auto p = OpenProvider("hsm-root-2", false);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)->GenerateRootKey("hsm-root-1").ok());
  ASSERT_TRUE((*p)->GenerateRootKey("hsm-root-2").ok());
  EvidenceCipher cipher(**p, random_);
  auto old_env = cipher.EncryptWithKey(kTenant, "hsm-root-1", "old");
  ASSERT_TRUE(old_env.ok());
  auto moved = cipher.Rewrap(kTenant, *old_env, "hsm-root-2");
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->key_id, "hsm-root-2");
  EXPECT_EQ(moved->data_key_id, "hsm-root-1");
  EXPECT_EQ(moved->ciphertext, old_env->ciphertext);
  EXPECT_EQ(*cipher.Decrypt(kTenant, *ParseEnvelopeJson(moved->Serialize())), "old");
}

TEST_F(Pkcs11RootKeyProviderTest, MigratesSoftwareEnvelopeIntoHsm) {
  auto soft = StaticRootKeyProvider::Create({{"vv-evidence-root-v1", std::string(32, 'A')}},
                                            "vv-evidence-root-v1", "env");
  ASSERT_TRUE(soft.ok());
  auto hsm = OpenProvider("hsm-root-1", false);
  ASSERT_TRUE(hsm.ok());
  ASSERT_TRUE((*hsm)->GenerateRootKey("hsm-root-1").ok());
  EvidenceCipher soft_cipher(**soft, random_);
  auto env = soft_cipher.Encrypt(kTenant, "migrated");
  ASSERT_TRUE(env.ok());
  auto moved = soft_cipher.Rewrap(kTenant, *env, **hsm, "hsm-root-1");
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->version, kEnvelopeV2Pkcs11);
  EXPECT_EQ(moved->data_key_id, "vv-evidence-root-v1");
  EvidenceCipher hsm_cipher(**hsm, random_);
  EXPECT_EQ(*hsm_cipher.Decrypt(kTenant, *moved), "migrated");
  // The software provider cannot open an HSM envelope and vice versa.
  EXPECT_FALSE(soft_cipher.Decrypt(kTenant, *moved).ok());
  EXPECT_FALSE(hsm_cipher.Decrypt(kTenant, *env).ok());
}

}  // namespace
}  // namespace vv::evidence

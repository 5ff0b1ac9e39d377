// Audit seals signed inside a real SoftHSM2 token: the key pair is generated in the token and
// its private half cannot be read out; seals verify with the public key the token reports;
// a mismatched pair is refused at start-up; a lost session is recovered; a signing failure
// writes nothing (fail closed, never an unsigned seal).

#include "audit/pkcs11_seal_signer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>

#include "audit/audit_log.h"
#include "audit/verifier.h"
#include "audit_test_util.h"
#include "fakes/fake_clock.h"
#include "fakes/softhsm.h"
#include "fakes/temp_dir.h"

namespace vv::audit {
namespace {

using vv::testing::SoftHsmToken;

class Pkcs11SealSignerTest : public ::testing::Test {
 protected:
  void SetUp() override { VV_REQUIRE_SOFTHSM(hsm_); }

  std::unique_ptr<pkcs11::Token> OpenToken() {
    pkcs11::TokenOptions o;
    o.token_label = hsm_.label();
    o.pin = SoftHsmToken::kUserPin;
    auto t = pkcs11::Token::Open(o);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(t).value() : nullptr;
  }

  crypto::Ed25519PublicKey Generate(const std::string& label) {
    auto token = OpenToken();
    auto pub = Pkcs11SealSigner::GenerateKeyPair(*token, label);
    EXPECT_TRUE(pub.ok()) << pub.status().ToString();
    return pub.value();
  }

  std::unique_ptr<Pkcs11SealSigner> OpenSigner(const std::string& label) {
    auto s = Pkcs11SealSigner::Open(std::string(kDefaultCheckpointOrigin), OpenToken(), label);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // Relabels the public key object labelled `from` to `to`.
  void RelabelPublicKey(const std::string& from, const std::string& to) {
    auto token = OpenToken();
    auto rv = token->Run([&](const pkcs11::Session& s) {
      CK_RV r = CKR_OK;
      auto h = pkcs11::Token::FindObject(s, CKO_PUBLIC_KEY, from, &r);
      if (!h.ok() || *h == CK_INVALID_HANDLE) return static_cast<CK_RV>(CKR_GENERAL_ERROR);
      std::string l = to;
      CK_ATTRIBUTE a = {CKA_LABEL, l.data(), l.size()};
      return s.f->C_SetAttributeValue(s.handle, *h, &a, 1);
    });
    ASSERT_TRUE(rv.ok());
    ASSERT_EQ(*rv, static_cast<CK_RV>(CKR_OK)) << pkcs11::RvText(*rv);
  }

  SoftHsmToken hsm_;
  vv::testing::TempDir dir_;
  vv::testing::FakeClock clock_{1772323200};
};

TEST_F(Pkcs11SealSignerTest, GeneratedKeyNeverLeavesTheTokenAndSignsVerifiably) {
  crypto::Ed25519PublicKey pub = Generate("seal-1");
  auto again = Pkcs11SealSigner::GenerateKeyPair(*OpenToken(), "seal-1");
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  auto signer = OpenSigner("seal-1");
  ASSERT_NE(signer, nullptr);
  EXPECT_EQ(signer->public_key().raw(), pub.raw());
  EXPECT_EQ(signer->kind(), "pkcs11");
  auto hidden = signer->KeyIsNonExtractable();
  ASSERT_TRUE(hidden.ok()) << hidden.status().ToString();
  EXPECT_TRUE(*hidden);
  const std::string body = "vectorvue.local/audit-log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
  auto sig = signer->Sign(body);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  ASSERT_EQ(sig->size(), 64u);
  EXPECT_TRUE(pub.Verify(body, *sig));
  EXPECT_FALSE(pub.Verify(body + "x", *sig));
  // Ed25519 is deterministic: the token's signature equals any other correct implementation's.
  auto sig2 = signer->Sign(body);
  ASSERT_TRUE(sig2.ok());
  EXPECT_EQ(*sig, *sig2);
  // The signed-note line verifies with the note verifier of the public key.
  auto note = ParseSignedNote(body + "\n" + signer->SignatureLine(*sig));
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  EXPECT_TRUE(VerifyNoteSignature(*note, kDefaultCheckpointOrigin, pub).ok());
}

TEST_F(Pkcs11SealSignerTest, MissingOrMismatchedKeysAreRefusedAtOpen) {
  auto missing = Pkcs11SealSigner::Open("o", OpenToken(), "nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
  EXPECT_EQ(Pkcs11SealSigner::Open("o", OpenToken(), "").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Pkcs11SealSigner::Open("o", nullptr, "x").status().code(),
            StatusCode::kInvalidArgument);
  // "mixed": the private key of pair A with the public key of pair B.
  Generate("pair-a");
  Generate("pair-b");
  RelabelPublicKey("pair-a", "pair-a-old");
  RelabelPublicKey("pair-b", "pair-a");
  auto mixed = Pkcs11SealSigner::Open("o", OpenToken(), "pair-a");
  EXPECT_EQ(mixed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mixed.status().message().find("do not form a pair"), std::string::npos)
      << mixed.status().message();
}

TEST_F(Pkcs11SealSignerTest, AuditLogSealedInTheTokenVerifiesOnlyWithItsKey) {
  crypto::Ed25519PublicKey pub = Generate("audit-seal");
  AuditLogOptions o;
  o.seal_every = 2;
  o.fsync = FsyncPolicy::kNone;
  o.seal_signer = OpenSigner("audit-seal");
  ASSERT_NE(o.seal_signer, nullptr);
  const std::string path = dir_.File("audit.jsonl");
  {
    auto log = AuditLog::Open(path, o, clock_);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_NE((*log)->seal_public_key(), nullptr);
    EXPECT_EQ((*log)->seal_public_key()->raw(), pub.raw());
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE((*log)->Append("telemetry.accepted", "gw", testutil::Details("r")).ok());
    ASSERT_TRUE((*log)->SealNow().ok());
  }
  VerifyOptions pinned;
  pinned.public_key = pub;
  VerifyResult v = VerifyLogFile(path, pinned);
  ASSERT_TRUE(v.ok) << v.reason << " " << v.detail;
  EXPECT_EQ(v.seals, 3);
  EXPECT_EQ(v.signature_key, "pinned");
  EXPECT_EQ(v.sealed_size, v.entries - 1);
  VerifyOptions other;
  other.public_key = crypto::Ed25519PrivateKey::Generate().PublicKey();
  VerifyResult wrong = VerifyLogFile(path, other);
  EXPECT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.reason, kReasonSealSignatureInvalid);
  // A signer under another key name than the log's origin is refused.
  AuditLogOptions renamed = o;
  renamed.checkpoint_origin = "other.example/log";
  EXPECT_EQ(AuditLog::Open(dir_.File("b.jsonl"), renamed, clock_).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(Pkcs11SealSignerTest, SealingSurvivesALostSession) {
  crypto::Ed25519PublicKey pub = Generate("audit-seal");
  auto signer = OpenSigner("audit-seal");
  ASSERT_NE(signer, nullptr);
  auto other = OpenToken();
  auto closed = other->Run([](const pkcs11::Session& s) {
    CK_SESSION_INFO info;
    CK_RV r = s.f->C_GetSessionInfo(s.handle, &info);
    return r != CKR_OK ? r : s.f->C_CloseAllSessions(info.slotID);
  });
  ASSERT_TRUE(closed.ok());
  auto sig = signer->Sign("body\n");
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(pub.Verify("body\n", *sig));
  EXPECT_EQ(signer->token().sessions_opened(), 2);
}

TEST_F(Pkcs11SealSignerTest, SigningFailureWritesNothingAndTheLogStaysValid) {
  Generate("audit-seal");
  AuditLogOptions o;
  o.seal_every = 3;
  o.fsync = FsyncPolicy::kNone;
  o.seal_signer = OpenSigner("audit-seal");
  const std::string path = dir_.File("audit.jsonl");
  auto log = AuditLog::Open(path, o, clock_);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append("a", "gw", testutil::Details("1")).ok());
  ASSERT_TRUE((*log)->Append("a", "gw", testutil::Details("2")).ok());
  // The key disappears from the token (an operator mistake, a token swapped).
  auto token = OpenToken();
  auto destroyed = token->Run([](const pkcs11::Session& s) {
    CK_RV r = CKR_OK;
    auto h = pkcs11::Token::FindObject(s, CKO_PRIVATE_KEY, "audit-seal", &r);
    if (!h.ok() || *h == CK_INVALID_HANDLE) return static_cast<CK_RV>(CKR_GENERAL_ERROR);
    return s.f->C_DestroyObject(s.handle, *h);
  });
  ASSERT_TRUE(destroyed.ok());
  ASSERT_EQ(*destroyed, static_cast<CK_RV>(CKR_OK));
  const std::string before = vv::testing::ReadFile(path);
  Status s = (*log)->Append("a", "gw", testutil::Details("3"));  // would be sealed
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("cannot sign the seal"), std::string::npos) << s.message();
  EXPECT_EQ(vv::testing::ReadFile(path), before);  // neither the entry nor an unsigned seal
  EXPECT_EQ((*log)->line_count(), 2);
  EXPECT_TRUE(VerifyLogFile(path).ok);
}

TEST_F(Pkcs11SealSignerTest, OpenSealSignerChoosesTheConfiguredSource) {
  Generate("audit-seal");
  std::map<std::string, std::string> vars = {{"VV_AUDIT_PKCS11_PIN", SoftHsmToken::kUserPin}};
  EnvLookup env = [&](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  SealKeyOptions none;
  auto unsigned_signer = OpenSealSigner(none, "o", env);
  ASSERT_TRUE(unsigned_signer.ok());
  EXPECT_EQ(*unsigned_signer, nullptr);

  SealKeyOptions hsm;
  hsm.pkcs11_token_label = hsm_.label();
  hsm.pkcs11_key_label = "audit-seal";
  auto from_hsm = OpenSealSigner(hsm, "o", env);
  ASSERT_TRUE(from_hsm.ok()) << from_hsm.status().ToString();
  EXPECT_EQ((*from_hsm)->kind(), "pkcs11");
  EXPECT_EQ((*from_hsm)->key_name(), "o");
  // PKCS#11 logins are per application and token: while this signer is logged in, C_Login on
  // another session reports CKR_USER_ALREADY_LOGGED_IN without checking the PIN.
  from_hsm = std::shared_ptr<const SealSigner>();

  vars.clear();
  EXPECT_EQ(OpenSealSigner(hsm, "o", env).status().code(), StatusCode::kInvalidArgument);
  vars["VV_AUDIT_PKCS11_PIN"] = "0000";
  EXPECT_EQ(OpenSealSigner(hsm, "o", env).status().code(), StatusCode::kPermissionDenied);
  SealKeyOptions no_label = hsm;
  no_label.pkcs11_key_label.clear();
  EXPECT_EQ(OpenSealSigner(no_label, "o", env).status().code(), StatusCode::kInvalidArgument);

  const std::string key_file = dir_.File("seal.key");
  vv::testing::WriteFile(key_file, std::string(32, 's'));
  chmod(key_file.c_str(), 0600);
  SealKeyOptions file;
  file.key_path = key_file;
  auto from_file = OpenSealSigner(file, "o", env);
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  EXPECT_EQ((*from_file)->kind(), "key-file");
  SealKeyOptions both = hsm;
  both.key_path = key_file;
  EXPECT_EQ(OpenSealSigner(both, "o", env).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vv::audit

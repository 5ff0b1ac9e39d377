// Evidence envelope encryption: reference vector A.8 byte for byte, interop with the
// reference's rules (an independent decrypt written straight against OpenSSL's EVP_PKEY HKDF
// and EVP AES-GCM), tenant binding, tamper detection, key rotation and re-wrap.

#include "evidence/evidence_cipher.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <map>

#include "common/encoding.h"
#include "evidence/aead.h"
#include "evidence/envelope.h"
#include "evidence/root_key_provider.h"
#include "evidence/scripted_random.h"
#include "json/json.h"

namespace vv::evidence {
namespace {

using vv::testing::ScriptedRandom;

constexpr char kTenant[] = "10000000-0000-0000-0000-000000000001";
constexpr char kOtherTenant[] = "20000000-0000-0000-0000-000000000002";
constexpr char kKid[] = "vv-evidence-root-v1";
constexpr char kPlain[] = R"({"finding":"critical","evidence":"blob"})";

std::string Dek() {
  std::string d;
  for (int b = 0x64; b <= 0x83; ++b) d.push_back(static_cast<char>(b));
  return d;
}

std::unique_ptr<StaticRootKeyProvider> Provider(std::map<std::string, std::string> keys,
                                                std::string active) {
  auto p = StaticRootKeyProvider::Create(std::move(keys), std::move(active), "test");
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::move(p).value();
}

std::unique_ptr<StaticRootKeyProvider> A8Provider() {
  return Provider({{kKid, std::string(32, 'A')}}, kKid);
}

// The reference's decrypt_evidence_blob, re-implemented from its rules (wire-contract 9)
// with OpenSSL calls independent of evidence/aead.cc (EVP_PKEY_HKDF, raw EVP GCM).
std::optional<std::string> ReferenceDecrypt(const json::Value& blob, const std::string& root,
                                            const std::string& tenant) {
  auto s = [&](const char* k) { return blob.Find(k)->as_string(); };
  if (s("version") != "vv-evidence-env-v1" || s("tenant_id") != tenant) return std::nullopt;
  const std::string kid = s("key_id");
  unsigned char kek[32];
  size_t kek_len = sizeof(kek);
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
  bool ok =
      EVP_PKEY_derive_init(pctx) > 0 && EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()) > 0 &&
      EVP_PKEY_CTX_set1_hkdf_salt(pctx, reinterpret_cast<const unsigned char*>(tenant.data()),
                                  tenant.size()) > 0 &&
      EVP_PKEY_CTX_set1_hkdf_key(pctx, reinterpret_cast<const unsigned char*>(root.data()),
                                 root.size()) > 0 &&
      EVP_PKEY_CTX_add1_hkdf_info(
          pctx, reinterpret_cast<const unsigned char*>("vectorvue-evidence-kek-v1"), 25) > 0 &&
      EVP_PKEY_derive(pctx, kek, &kek_len) > 0;
  EVP_PKEY_CTX_free(pctx);
  if (!ok) return std::nullopt;
  const std::string aad = "tenant:" + tenant + "|key:" + kid + "|purpose:evidence-blob";
  auto gcm_open = [&](const unsigned char* key, const std::string& nonce,
                      const std::string& ct_tag) -> std::optional<std::string> {
    if (ct_tag.size() < 16) return std::nullopt;
    std::string out(ct_tag.size() - 16, '\0');
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    int len = 0;
    std::string tag = ct_tag.substr(ct_tag.size() - 16);
    bool good =
        EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) ==
            1 &&
        EVP_DecryptInit_ex(c, nullptr, nullptr, key,
                           reinterpret_cast<const unsigned char*>(nonce.data())) == 1 &&
        EVP_DecryptUpdate(c, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) == 1 &&
        EVP_DecryptUpdate(c, reinterpret_cast<unsigned char*>(out.data()), &len,
                          reinterpret_cast<const unsigned char*>(ct_tag.data()),
                          static_cast<int>(out.size())) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag.data()) == 1 &&
        EVP_DecryptFinal_ex(c, reinterpret_cast<unsigned char*>(out.data()) + len, &len) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!good) return std::nullopt;
    return out;
  };
  auto dek = gcm_open(kek, *Base64DecodeStrict(s("dek_wrap_nonce_b64")),
                      *Base64DecodeStrict(s("wrapped_dek_b64")));
  if (!dek || dek->size() != 32) return std::nullopt;
  return gcm_open(reinterpret_cast<const unsigned char*>(dek->data()),
                  *Base64DecodeStrict(s("data_nonce_b64")),
                  *Base64DecodeStrict(s("ciphertext_b64")));
}

TEST(EvidenceCipherTest, KekMatchesVectorA8) {
  auto p = A8Provider();
  auto kek = p->DeriveKek(kTenant, kKid);
  ASSERT_TRUE(kek.ok());
  EXPECT_EQ(HexEncode(*kek), "eeb73e33f4b130f0da920c11b63c83f0e96e3e07172133b01e49bda9f9fd1ac0");
  EXPECT_EQ(EvidenceAad(kTenant, kKid),
            "tenant:10000000-0000-0000-0000-000000000001|key:vv-evidence-root-v1|purpose:"
            "evidence-blob");
}

TEST(EvidenceCipherTest, EncryptReproducesVectorA8ByteForByte) {
  auto p = A8Provider();
  ScriptedRandom random;
  random.Push(Dek());                    // DEK
  random.Push(std::string(12, '\0'));    // data nonce
  random.Push(std::string(12, '\x01'));  // wrap nonce
  EvidenceCipher cipher(*p, random);
  auto env = cipher.Encrypt(kTenant, kPlain);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  json::Value j = env->ToJson();
  EXPECT_EQ(j.Find("version")->as_string(), "vv-evidence-env-v1");
  EXPECT_EQ(j.Find("algorithm")->as_string(), "AES-256-GCM+HKDF-SHA256");
  EXPECT_EQ(j.Find("key_id")->as_string(), kKid);
  EXPECT_EQ(j.Find("tenant_id")->as_string(), kTenant);
  EXPECT_EQ(j.Find("wrapped_dek_b64")->as_string(),
            "eU8Lj88HGGAPck4RqNJgOOOyfYLS4xdlqImS9FOhby/tPjqpx7gusjo+OsrgC9em");
  EXPECT_EQ(j.Find("dek_wrap_nonce_b64")->as_string(), "AQEBAQEBAQEBAQEB");
  EXPECT_EQ(j.Find("data_nonce_b64")->as_string(), "AAAAAAAAAAAAAAAA");
  EXPECT_EQ(j.Find("ciphertext_b64")->as_string(),
            "J0Wd+x7xxhMgaGHqgo5ZN5VAU24vknr/XwtP7iT4K4KMtSeU55IuJy7oKdbMnqhjrP04RbMy6xI=");
  EXPECT_EQ(env->wrapped_dek.size(), 48u);
  EXPECT_EQ(env->ciphertext.size(), 56u);
  EXPECT_EQ(j.Find("data_key_id"), nullptr);
  EXPECT_TRUE(IsEvidenceEnvelope(j));
}

TEST(EvidenceCipherTest, DecryptsReferenceWrittenBlob) {
  // As the Python engine stores it (json.dumps default separators, its key order).
  const std::string blob =
      R"({"version": "vv-evidence-env-v1", "algorithm": "AES-256-GCM+HKDF-SHA256", )"
      R"("key_id": "vv-evidence-root-v1", "tenant_id": "10000000-0000-0000-0000-000000000001", )"
      R"("wrapped_dek_b64": "eU8Lj88HGGAPck4RqNJgOOOyfYLS4xdlqImS9FOhby/tPjqpx7gusjo+OsrgC9em", )"
      R"("dek_wrap_nonce_b64": "AQEBAQEBAQEBAQEB", "data_nonce_b64": "AAAAAAAAAAAAAAAA", )"
      R"("ciphertext_b64": "J0Wd+x7xxhMgaGHqgo5ZN5VAU24vknr/XwtP7iT4K4KMtSeU55IuJy7oKdbMnqhjrP04RbMy6xI="})";
  auto env = ParseEnvelopeJson(blob);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  auto p = A8Provider();
  ScriptedRandom random;
  EvidenceCipher cipher(*p, random);
  auto pt = cipher.Decrypt(kTenant, *env);
  ASSERT_TRUE(pt.ok()) << pt.status().ToString();
  EXPECT_EQ(*pt, kPlain);
}

TEST(EvidenceCipherTest, OurBlobDecryptsWithReferenceRules) {
  auto p = A8Provider();
  ScriptedRandom random;  // counter-stream randomness: not the A.8 values
  EvidenceCipher cipher(*p, random);
  const std::string plaintext = R"({"payload":{"event_id":"evt-1"},"tenant_id":"t"})";
  auto env = cipher.Encrypt(kTenant, plaintext);
  ASSERT_TRUE(env.ok());
  auto j = json::Parse(env->Serialize());
  ASSERT_TRUE(j.ok());
  auto pt = ReferenceDecrypt(*j, std::string(32, 'A'), kTenant);
  ASSERT_TRUE(pt.has_value());
  EXPECT_EQ(*pt, plaintext);
  // The reference rules also refuse another tenant.
  EXPECT_FALSE(ReferenceDecrypt(*j, std::string(32, 'A'), kOtherTenant).has_value());
}

TEST(EvidenceCipherTest, RefusesOtherTenantsEnvelope) {
  auto p = A8Provider();
  ScriptedRandom random;
  EvidenceCipher cipher(*p, random);
  auto env = cipher.Encrypt(kTenant, kPlain);
  ASSERT_TRUE(env.ok());
  auto pt = cipher.Decrypt(kOtherTenant, *env);
  ASSERT_FALSE(pt.ok());
  EXPECT_EQ(pt.status().message(), kErrTenantMismatch);
  // Relabelling the envelope's tenant does not help: the KEK and AAD are tenant-bound.
  EvidenceEnvelope relabelled = *env;
  relabelled.tenant_id = kOtherTenant;
  auto pt2 = cipher.Decrypt(kOtherTenant, relabelled);
  ASSERT_FALSE(pt2.ok());
  EXPECT_EQ(pt2.status().code(), StatusCode::kDataLoss);
}

TEST(EvidenceCipherTest, RefusesUnsupportedVersion) {
  auto p = A8Provider();
  ScriptedRandom random;
  EvidenceCipher cipher(*p, random);
  auto env = cipher.Encrypt(kTenant, kPlain);
  ASSERT_TRUE(env.ok());
  env->version = "vv-evidence-env-v0";
  auto pt = cipher.Decrypt(kTenant, *env);
  ASSERT_FALSE(pt.ok());
  EXPECT_EQ(pt.status().message(), kErrUnsupportedVersion);
  json::Value j = env->ToJson();
  EXPECT_FALSE(IsEvidenceEnvelope(j));
  auto parsed = EnvelopeFromJson(j);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(), kErrUnsupportedVersion);
}

TEST(EvidenceCipherTest, RefusesUnknownKeyId) {
  auto p = A8Provider();
  ScriptedRandom random;
  EvidenceCipher cipher(*p, random);
  auto env = cipher.Encrypt(kTenant, kPlain);
  ASSERT_TRUE(env.ok());
  env->key_id = "vv-evidence-root-unknown";
  auto pt = cipher.Decrypt(kTenant, *env);
  ASSERT_FALSE(pt.ok());
  EXPECT_EQ(pt.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(cipher.EncryptWithKey(kTenant, "nope", kPlain).ok());
}

TEST(EvidenceCipherTest, WrongRootKeyWithSameIdFails) {
  auto p = A8Provider();
  auto other = Provider({{kKid, std::string(32, 'B')}}, kKid);
  ScriptedRandom random;
  auto env = EvidenceCipher(*p, random).Encrypt(kTenant, kPlain);
  ASSERT_TRUE(env.ok());
  auto pt = EvidenceCipher(*other, random).Decrypt(kTenant, *env);
  ASSERT_FALSE(pt.ok());
  EXPECT_EQ(pt.status().code(), StatusCode::kDataLoss);
}

TEST(EvidenceCipherTest, DetectsEveryTamperedField) {
  auto p = Provider({{"k1", std::string(32, 'A')}, {"k2", std::string(32, 'C')}}, "k1");
  ScriptedRandom random;
  EvidenceCipher cipher(*p, random);
  auto env = cipher.Encrypt(kTenant, kPlain);
  ASSERT_TRUE(env.ok());
  ASSERT_TRUE(cipher.Decrypt(kTenant, *env).ok());
  std::vector<std::function<void(EvidenceEnvelope*)>> edits = {
      [](EvidenceEnvelope* e) { e->ciphertext[0] ^= 1; },
      [](EvidenceEnvelope* e) { e->ciphertext.back() ^= 0x80; },  // tag
      [](EvidenceEnvelope* e) { e->ciphertext.pop_back(); },
      [](EvidenceEnvelope* e) { e->wrapped_dek[5] ^= 1; },
      [](EvidenceEnvelope* e) { e->data_nonce[0] ^= 1; },
      [](EvidenceEnvelope* e) { e->dek_wrap_nonce[11] ^= 1; },
      [](EvidenceEnvelope* e) { e->key_id = "k2"; },  // other existing key
      [](EvidenceEnvelope* e) { e->data_key_id = "k2"; },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    EvidenceEnvelope t = *env;
    edits[i](&t);
    auto pt = cipher.Decrypt(kTenant, t);
    ASSERT_FALSE(pt.ok()) << "edit " << i;
    EXPECT_EQ(pt.status().code(), StatusCode::kDataLoss) << "edit " << i;
  }
}

TEST(EvidenceCipherTest, RotationWritesActiveKeyAndOldEnvelopesStillDecrypt) {
  auto before = Provider({{"k1", std::string(32, 'A')}}, "k1");
  ScriptedRandom random;
  auto old_env = EvidenceCipher(*before, random).Encrypt(kTenant, "old evidence");
  ASSERT_TRUE(old_env.ok());
  EXPECT_EQ(old_env->key_id, "k1");

  auto after = Provider({{"k1", std::string(32, 'A')}, {"k2", std::string(32, 'Z')}}, "k2");
  EvidenceCipher cipher(*after, random);
  auto new_env = cipher.Encrypt(kTenant, "new evidence");
  ASSERT_TRUE(new_env.ok());
  EXPECT_EQ(new_env->key_id, "k2");
  EXPECT_EQ(*cipher.Decrypt(kTenant, *old_env), "old evidence");
  EXPECT_EQ(*cipher.Decrypt(kTenant, *new_env), "new evidence");
}

TEST(EvidenceCipherTest, RewrapMovesDekWithoutTouchingCiphertext) {
  auto both = Provider({{"k1", std::string(32, 'A')}, {"k2", std::string(32, 'Z')}}, "k2");
  ScriptedRandom random;
  EvidenceCipher cipher(*both, random);
  auto env = cipher.EncryptWithKey(kTenant, "k1", kPlain);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->version, kEnvelopeV1);

  auto moved = cipher.Rewrap(kTenant, *env, "k2");
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->key_id, "k2");
  EXPECT_EQ(moved->data_key_id, "k1");
  EXPECT_EQ(moved->version, kEnvelopeV1Rewrapped);
  EXPECT_EQ(moved->ciphertext, env->ciphertext);
  EXPECT_EQ(moved->data_nonce, env->data_nonce);
  EXPECT_NE(moved->wrapped_dek, env->wrapped_dek);

  // The retired key is no longer needed: a provider holding only k2 decrypts it.
  auto only_k2 = Provider({{"k2", std::string(32, 'Z')}}, "k2");
  EvidenceCipher k2_cipher(*only_k2, random);
  auto reparsed = ParseEnvelopeJson(moved->Serialize());
  ASSERT_TRUE(reparsed.ok()) << reparsed.status().ToString();
  auto pt = k2_cipher.Decrypt(kTenant, *reparsed);
  ASSERT_TRUE(pt.ok()) << pt.status().ToString();
  EXPECT_EQ(*pt, kPlain);
  EXPECT_FALSE(k2_cipher.Decrypt(kTenant, *env).ok());

  // Moving it back under k1 yields a plain reference-compatible v1 envelope again.
  auto back = cipher.Rewrap(kTenant, *moved, "k1");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->version, kEnvelopeV1);
  EXPECT_TRUE(back->data_key_id.empty());
  auto j = json::Parse(back->Serialize());
  EXPECT_EQ(ReferenceDecrypt(*j, std::string(32, 'A'), kTenant).value_or(""), kPlain);
  // Re-wrap refuses another tenant and unknown target keys.
  EXPECT_FALSE(cipher.Rewrap(kOtherTenant, *env, "k2").ok());
  EXPECT_EQ(cipher.Rewrap(kTenant, *env, "k3").status().code(), StatusCode::kNotFound);
}

TEST(EvidenceCipherTest, EnvelopeParserRejectsMalformedInput) {
  for (const char* bad : {"", "[]", "{", "null", R"({"version":"vv-evidence-env-v1"})",
                          R"({"version":1,"ciphertext_b64":"AA=="})"}) {
    EXPECT_FALSE(ParseEnvelopeJson(bad).ok()) << bad;
  }
  auto p = A8Provider();
  ScriptedRandom random;
  auto env = EvidenceCipher(*p, random).Encrypt(kTenant, kPlain);
  json::Value j = env->ToJson();
  j.Set("ciphertext_b64", "not base64!");
  EXPECT_FALSE(EnvelopeFromJson(j).ok());
  j = env->ToJson();
  j.Set("data_key_id", "k9");  // v1 never carries data_key_id
  EXPECT_FALSE(EnvelopeFromJson(j).ok());
  j = env->ToJson();
  j.Erase("tenant_id");
  EXPECT_FALSE(EnvelopeFromJson(j).ok());
}

TEST(EvidenceCipherTest, EmptyPlaintextRoundTrips) {
  auto p = A8Provider();
  ScriptedRandom random;
  EvidenceCipher cipher(*p, random);
  auto env = cipher.Encrypt(kTenant, "");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->ciphertext.size(), 16u);
  EXPECT_EQ(*cipher.Decrypt(kTenant, *env), "");
  EXPECT_FALSE(cipher.Encrypt("", kPlain).ok());
}

}  // namespace
}  // namespace vv::evidence

#include "crypto/crypto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/encoding.h"
#include "fakes/temp_dir.h"

namespace vv::crypto {
namespace {

using ::testing::HasSubstr;
using vv::testing::TempDir;
using vv::testing::WriteFile;

std::string Unhex(std::string_view h) { return HexDecode(h).value(); }

const std::string kProducerSeed =
    Unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const std::string kFeedbackSeed =
    Unhex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f");
constexpr char kProducerPub[] = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
constexpr char kFeedbackPub[] = "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=";

Ed25519PrivateKey Key(const std::string& seed) { return Ed25519PrivateKey::FromSeed(seed).value(); }

// ---- SHA-256 ----------------------------------------------------------------------------------

TEST(Sha256Test, KnownAnswers) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(Sha256("abc").size(), 32u);
  EXPECT_EQ(HexEncode(Sha256("abc")), Sha256Hex("abc"));
}

// Each thread hashes with its own digest context (the algorithm is fetched once and shared):
// concurrent hashes of different inputs never mix (run under TSan in CI).
TEST(Sha256Test, ConcurrentHashesFromManyThreadsAreEachCorrect) {
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&wrong, t] {
      for (int i = 0; i < 2000; ++i) {
        const bool abc = (i + t) % 2 == 0;
        const std::string got = Sha256Hex(abc ? "abc" : "");
        if (got != (abc ? "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                        : "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
          wrong.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

// ---- Vector A.1 -------------------------------------------------------------------------------

TEST(Ed25519KeysTest, VectorA1SeedsGiveExpectedPublicKeys) {
  EXPECT_EQ(Key(kProducerSeed).PublicKey().ToBase64(), kProducerPub);
  EXPECT_EQ(Key(kFeedbackSeed).PublicKey().ToBase64(), kFeedbackPub);
  EXPECT_EQ(Key(kProducerSeed).Seed(), kProducerSeed);
}

TEST(Ed25519KeysTest, PublicKeyParsing) {
  auto k = Ed25519PublicKey::FromBase64(kProducerPub);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->raw().size(), 32u);
  EXPECT_EQ(k->ToBase64(), kProducerPub);
  EXPECT_FALSE(Ed25519PublicKey::FromBase64(Base64Encode(std::string(31, 'a'))).ok());
  EXPECT_FALSE(Ed25519PublicKey::FromBase64(Base64Encode(std::string(33, 'a'))).ok());
  EXPECT_FALSE(Ed25519PublicKey::FromBase64("A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=").ok());
  EXPECT_FALSE(Ed25519PublicKey::FromBase64("").ok());
  EXPECT_FALSE(Ed25519PublicKey::FromRaw("short").ok());
  // PEM round trip and base64 through FromPemOrBase64.
  std::string pem = PublicKeyToPem(*k);
  EXPECT_THAT(pem, HasSubstr("-----BEGIN PUBLIC KEY-----"));
  auto from_pem = Ed25519PublicKey::FromPemOrBase64(pem);
  ASSERT_TRUE(from_pem.ok()) << from_pem.status().message();
  EXPECT_EQ(from_pem->raw(), k->raw());
  auto from_b64 = Ed25519PublicKey::FromPemOrBase64(std::string(" ") + kProducerPub + "\n");
  ASSERT_TRUE(from_b64.ok());
  EXPECT_EQ(from_b64->raw(), k->raw());
  EXPECT_FALSE(Ed25519PublicKey::FromPemOrBase64("-----BEGIN PUBLIC KEY-----\nxx\n").ok());
}

// ---- Vector A.2 (request signature) ---------------------------------------------------------

constexpr char kA2Body[] =
    R"({"campaign_id":"cmp-001","execution_hash":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","nonce":"nonce-vector-0001","operator_id":"op-001","payload":{"attributes":{"asset_ref":"host-nyc-01","attestation_measurement_hash":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","schema_version":"1.0"},"description":"Observed suspicious process chain","event_id":"evt-vector-0001","event_type":"PROCESS_ANOMALY","mitre_tactics":["TA0002"],"mitre_techniques":["T1059.001"],"observed_at":"2026-02-26T12:00:00Z","severity":"high","source_system":"spectrastrike-sensor"},"signed_metadata":{"campaign_id":"cmp-001","operator_id":"op-001","tenant_id":"10000000-0000-0000-0000-000000000001"},"tenant_id":"10000000-0000-0000-0000-000000000001","timestamp":1772107200})";

TEST(Ed25519SignTest, VectorA2RequestSignature) {
  EXPECT_EQ(Sha256Hex(kA2Body), "1e0392aced563264e98d218d46f83dee735cbd8d06f06588bbdee8956a8baa91");
  std::string msg = std::string("1772107200.nonce-vector-0001.") + kA2Body;
  std::string sig = Key(kProducerSeed).Sign(msg);
  EXPECT_EQ(
      Base64Encode(sig),
      "HjuDkbBV7mkWMfumR2il3i0/5MJE0VbYV+s3pxI1zGAJSuqP8oveXSbQbf4+h209uS6DSLZcpGRmiatw0pBqDQ==");
  auto pub = Ed25519PublicKey::FromBase64(kProducerPub).value();
  EXPECT_TRUE(pub.Verify(msg, sig));
  EXPECT_FALSE(pub.Verify(msg + " ", sig));
  EXPECT_EQ(Sha256Hex("1772107200:nonce-vector-0001"),
            "e628bb104186a2b5487c6d61decb24068261e093d248f31950600e054d531022");
}

// ---- Vector A.5 (federation bundle) -----------------------------------------------------------

TEST(Ed25519SignTest, VectorA5FederationSignature) {
  const std::string msg =
      "op-001|cmp-001|" + std::string(64, 'f') + "|1772107200|nonce-federation-00000001";
  const std::string expected =
      "ROXfV7V7SPgHvwfvt7Nrgnn/pmxi8r80kMcjPyCcfPDW472mRo+AAjIGkKPQXZmvd3GcXmxOkWALL8f7flWXAw==";
  EXPECT_EQ(Base64Encode(Key(kProducerSeed).Sign(msg)), expected);
  auto pub = Ed25519PublicKey::FromBase64(kProducerPub).value();
  EXPECT_TRUE(pub.Verify(msg, Base64DecodeStrict(expected).value()));
  EXPECT_EQ(Sha256Hex(msg), "7262fd3691290de5a42514de68c0da5194f2f45024b074abf473a225c014e9b9");
  // Wrong key, tampered message, truncated or extended signatures fail.
  auto other = Ed25519PublicKey::FromBase64(kFeedbackPub).value();
  std::string sig = Base64DecodeStrict(expected).value();
  EXPECT_FALSE(other.Verify(msg, sig));
  EXPECT_FALSE(pub.Verify(msg.substr(1), sig));
  EXPECT_FALSE(pub.Verify(msg, sig.substr(0, 63)));
  EXPECT_FALSE(pub.Verify(msg, sig + "x"));
  EXPECT_FALSE(pub.Verify(msg, ""));
  std::string flipped = sig;
  flipped[10] ^= 1;
  EXPECT_FALSE(pub.Verify(msg, flipped));
}

// ---- Vector A.4 (feedback response) -----------------------------------------------------------

TEST(Ed25519SignTest, VectorA4FeedbackSignature) {
  const std::string input =
      "10000000-0000-0000-0000-000000000001|1772107205|resp-nonce-vector-01|feedback.response.v1|"
      "kid-001|[{\"action\":\"observe\",\"attestation_measurement_hash\":\"" +
      std::string(64, 'c') +
      "\",\"confidence\":0.55,\"control\":\"execution\",\"execution_fingerprint\":\"" +
      std::string(64, 'c') +
      "\",\"rationale\":\"graph telemetry received; monitoring baseline adjustments\","
      "\"schema_version\":\"feedback.adjustment.v1\",\"target_urn\":\"urn:target:ip:10.0.0.5\","
      "\"tenant_id\":\"10000000-0000-0000-0000-000000000001\",\"timestamp\":1772107200,"
      "\"ttl_seconds\":1800}]";
  const std::string expected =
      "aduCNOKt5pjI4VHoGiX06WumIQsLYtigBUJib+p3+wIthrzkzgiZgDCupfoiPz6B/iLr1d+LDM3qgwhWasyzBA==";
  EXPECT_EQ(Base64Encode(Key(kFeedbackSeed).Sign(input)), expected);
  auto pub = Ed25519PublicKey::FromBase64(kFeedbackPub).value();
  EXPECT_TRUE(pub.Verify(input, Base64DecodeStrict(expected).value()));
}

TEST(Ed25519SignTest, GeneratedKeysSignAndVerify) {
  auto a = Ed25519PrivateKey::Generate();
  auto b = Ed25519PrivateKey::Generate();
  EXPECT_NE(a.Seed(), b.Seed());
  std::string sig = a.Sign("hello");
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_TRUE(a.PublicKey().Verify("hello", sig));
  EXPECT_FALSE(b.PublicKey().Verify("hello", sig));
  // Copies and moves keep the key.
  Ed25519PrivateKey c = a;
  EXPECT_EQ(c.Seed(), a.Seed());
  Ed25519PrivateKey d = std::move(c);
  EXPECT_EQ(d.Seed(), a.Seed());
}

// ---- Key files --------------------------------------------------------------------------------

TEST(KeyFileTest, RawSeedFile) {
  TempDir dir;
  WriteFile(dir.File("seed.key"), kProducerSeed, 0600);
  auto k = Ed25519PrivateKey::LoadFile(dir.File("seed.key"));
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(k->PublicKey().ToBase64(), kProducerPub);
}

TEST(KeyFileTest, PemFile) {
  TempDir dir;
  std::string pem = Key(kFeedbackSeed).ToPem();
  EXPECT_THAT(pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  WriteFile(dir.File("fb.pem"), pem, 0400);
  auto k = Ed25519PrivateKey::LoadFile(dir.File("fb.pem"));
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(k->PublicKey().ToBase64(), kFeedbackPub);
  EXPECT_EQ(k->Seed(), kFeedbackSeed);
  // Surrounding whitespace is tolerated.
  WriteFile(dir.File("fb2.pem"), "\n" + pem + "\n\n", 0600);
  auto k2 = Ed25519PrivateKey::LoadFile(dir.File("fb2.pem"));
  ASSERT_TRUE(k2.ok()) << k2.status().message();
  EXPECT_EQ(k2->Seed(), kFeedbackSeed);
}

TEST(KeyFileTest, BadFilesRejectedCleanly) {
  TempDir dir;
  WriteFile(dir.File("short.key"), std::string(31, 'x'), 0600);
  auto r = Ed25519PrivateKey::LoadFile(dir.File("short.key"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("short.key"));
  WriteFile(dir.File("badpem.key"),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0600);
  EXPECT_FALSE(Ed25519PrivateKey::LoadFile(dir.File("badpem.key")).ok());
  WriteFile(dir.File("empty.key"), "", 0600);
  EXPECT_FALSE(Ed25519PrivateKey::LoadFile(dir.File("empty.key")).ok());
  // An RSA key is a valid PEM but not Ed25519.
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  ASSERT_NE(rsa, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, rsa, nullptr, nullptr, 0, nullptr, nullptr);
  char* p = nullptr;
  long n = BIO_get_mem_data(bio, &p);
  WriteFile(dir.File("rsa.key"), std::string(p, static_cast<size_t>(n)), 0600);
  BIO_free(bio);
  EVP_PKEY_free(rsa);
  EXPECT_FALSE(Ed25519PrivateKey::LoadFile(dir.File("rsa.key")).ok());
  auto missing = Ed25519PrivateKey::LoadFile(dir.File("missing.key"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("missing.key"));
}

TEST(KeyFileTest, PermissionsEnforced) {
  TempDir dir;
  for (int mode : {0644, 0640, 0604, 0660, 0606, 0620}) {
    WriteFile(dir.File("k"), kProducerSeed, mode);
    auto r = Ed25519PrivateKey::LoadFile(dir.File("k"));
    ASSERT_FALSE(r.ok()) << std::oct << mode;
    EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
    EXPECT_THAT(r.status().message(), HasSubstr(dir.File("k")));
    EXPECT_EQ(CheckSecretFilePermissions(dir.File("k")).code(), StatusCode::kPermissionDenied);
    // Without the check the same file loads.
    EXPECT_TRUE(Ed25519PrivateKey::LoadFile(dir.File("k"), /*check_permissions=*/false).ok());
  }
  for (int mode : {0600, 0400}) {
    WriteFile(dir.File("k"), kProducerSeed, mode);
    EXPECT_TRUE(CheckSecretFilePermissions(dir.File("k")).ok()) << std::oct << mode;
    EXPECT_TRUE(Ed25519PrivateKey::LoadFile(dir.File("k")).ok()) << std::oct << mode;
  }
  EXPECT_EQ(CheckSecretFilePermissions(dir.File("none")).code(), StatusCode::kNotFound);
  EXPECT_FALSE(CheckSecretFilePermissions(dir.path().string()).ok());  // a directory
}

TEST(FileTest, ReadFileBytes) {
  TempDir dir;
  std::string data("a\0b\xff", 4);
  WriteFile(dir.File("f"), data, 0644);
  EXPECT_EQ(ReadFileBytes(dir.File("f")).value(), data);
  EXPECT_EQ(ReadFileBytes(dir.File("nope")).status().code(), StatusCode::kNotFound);
}

// ---- Certificate fingerprints -----------------------------------------------------------------

TEST(CertFingerprintTest, MatchesSha256OfDer) {
  TempDir dir;
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  ASSERT_NE(key, nullptr);
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("spectrastrike-producer"), -1,
                             -1, 0);
  X509_set_issuer_name(cert, name);
  ASSERT_GT(X509_sign(cert, key, nullptr), 0);
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  ASSERT_GT(len, 0);
  std::string der_s(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* p = nullptr;
  long n = BIO_get_mem_data(bio, &p);
  WriteFile(dir.File("c.pem"), std::string(p, static_cast<size_t>(n)), 0644);
  BIO_free(bio);
  X509_free(cert);
  EVP_PKEY_free(key);

  auto fp = CertificateFingerprintFromPemFile(dir.File("c.pem"));
  ASSERT_TRUE(fp.ok()) << fp.status().message();
  EXPECT_EQ(*fp, Sha256Hex(der_s));
  EXPECT_EQ(CertificateFingerprintFromDer(der_s), *fp);
  EXPECT_TRUE(IsHex(*fp, 64));

  WriteFile(dir.File("bad.pem"), "not a cert", 0644);
  EXPECT_FALSE(CertificateFingerprintFromPemFile(dir.File("bad.pem")).ok());
  EXPECT_FALSE(CertificateFingerprintFromPemFile(dir.File("missing.pem")).ok());
}

}  // namespace
}  // namespace vv::crypto

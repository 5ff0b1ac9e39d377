// The AES-GCM and HKDF-SHA256 wrappers against Google's Wycheproof vectors
// (tests/testdata/vectors/wycheproof).

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "evidence/aead.h"
#include "json/json.h"

namespace vv::evidence {
namespace {

json::Value Load(const std::string& name) {
  auto text = crypto::ReadFileBytes(std::string(VV_TESTDATA_DIR) + "/vectors/wycheproof/" + name);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  auto v = json::Parse(text.ok() ? *text : "{}");
  EXPECT_TRUE(v.ok());
  return std::move(v).value();
}

std::string H(const json::Value& t, const char* key) {
  auto v = HexDecode(t.Find(key)->as_string());
  EXPECT_TRUE(v.has_value()) << key;
  return v.value_or("");
}

TEST(AeadWycheproofTest, AesGcmVectors) {
  json::Value doc = Load("aes_gcm_test.json");
  int valid = 0, invalid = 0, long_iv = 0;
  for (const auto& group : doc.Find("testGroups")->as_array()) {
    for (const auto& t : group.Find("tests")->as_array()) {
      const int64_t id = *t.Find("tcId")->as_int64();
      const std::string key = H(t, "key"), iv = H(t, "iv"), aad = H(t, "aad"), msg = H(t, "msg");
      const std::string expected = H(t, "ct") + H(t, "tag");
      const bool is_valid = t.Find("result")->as_string() == "valid";
      auto opened = AesGcmOpen(key, iv, aad, expected);
      if (iv.size() > kMaxGcmIvBytes) {
        // OpenSSL 3 does not support GCM IVs over 128 bytes: refused cleanly, never misused.
        ++long_iv;
        EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument) << "tcId " << id;
        EXPECT_EQ(AesGcmSeal(key, iv, aad, msg).status().code(), StatusCode::kInvalidArgument);
        continue;
      }
      if (is_valid) {
        ++valid;
        auto sealed = AesGcmSeal(key, iv, aad, msg);
        ASSERT_TRUE(sealed.ok()) << "tcId " << id << ": " << sealed.status().ToString();
        EXPECT_EQ(HexEncode(*sealed), HexEncode(expected)) << "tcId " << id;
        ASSERT_TRUE(opened.ok()) << "tcId " << id << ": " << opened.status().ToString();
        EXPECT_EQ(*opened, msg) << "tcId " << id;
      } else {
        ++invalid;
        EXPECT_FALSE(opened.ok()) << "tcId " << id << " must be refused";
      }
    }
  }
  EXPECT_GT(valid, 100);
  EXPECT_GT(invalid, 10);
  EXPECT_LT(long_iv, 20);
}

TEST(AeadWycheproofTest, HkdfSha256Vectors) {
  json::Value doc = Load("hkdf_sha256_test.json");
  int n = 0;
  for (const auto& group : doc.Find("testGroups")->as_array()) {
    for (const auto& t : group.Find("tests")->as_array()) {
      const int64_t id = *t.Find("tcId")->as_int64();
      const size_t size = static_cast<size_t>(*t.Find("size")->as_int64());
      auto okm = HkdfSha256(H(t, "ikm"), H(t, "salt"), H(t, "info"), size);
      if (t.Find("result")->as_string() == "valid") {
        ASSERT_TRUE(okm.ok()) << "tcId " << id << ": " << okm.status().ToString();
        EXPECT_EQ(HexEncode(*okm), t.Find("okm")->as_string()) << "tcId " << id;
      } else {
        EXPECT_FALSE(okm.ok()) << "tcId " << id;
      }
      ++n;
    }
  }
  EXPECT_GT(n, 50);
}

TEST(AeadTest, RejectsBadKeySizesAndShortInput) {
  EXPECT_EQ(AesGcmSeal(std::string(15, 'k'), std::string(12, 'n'), "", "x").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(AesGcmSeal(std::string(32, 'k'), "", "", "x").ok());
  EXPECT_EQ(AesGcmOpen(std::string(32, 'k'), std::string(12, 'n'), "", "short").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(HkdfSha256("ikm", "", "", 0).ok());
  EXPECT_FALSE(HkdfSha256("ikm", "", "", 255 * 32 + 1).ok());
}

}  // namespace
}  // namespace vv::evidence

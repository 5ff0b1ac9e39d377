// Ed25519 conformance: Wycheproof (expected results) and CCTV edge cases (policy check:
// our strict verify must reject low-order and non-canonical points).

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "json/json.h"

namespace vv::crypto {
namespace {

json::Value LoadJson(const std::string& rel) {
  auto bytes = ReadFileBytes(std::string(VV_TESTDATA_DIR) + "/" + rel);
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  if (!bytes.ok()) return json::Value();
  auto v = json::Parse(*bytes);
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() ? std::move(v).value() : json::Value();
}

std::string Unhex(const json::Value& v) {
  auto d = HexDecode(v.as_string());
  EXPECT_TRUE(d.has_value()) << v.as_string();
  return d.value_or("");
}

// Verifies with a raw public key; false when the key does not even load.
bool VerifyRaw(const std::string& pk, const std::string& msg, const std::string& sig) {
  auto key = Ed25519PublicKey::FromRaw(pk);
  if (!key.ok()) return false;
  return key->Verify(msg, sig);
}

TEST(Ed25519WycheproofTest, All151VectorsAgreeWithExpectedResult) {
  json::Value root = LoadJson("vectors/wycheproof/ed25519_test.json");
  ASSERT_TRUE(root.is_object());
  int total = 0, valid = 0, invalid = 0;
  for (const auto& group : root.Find("testGroups")->as_array()) {
    std::string pk = Unhex(*group.Find("publicKey")->Find("pk"));
    for (const auto& t : group.Find("tests")->as_array()) {
      ++total;
      const std::string& result = t.Find("result")->as_string();
      ASSERT_TRUE(result == "valid" || result == "invalid") << result;
      bool ok = VerifyRaw(pk, Unhex(*t.Find("msg")), Unhex(*t.Find("sig")));
      (ok ? valid : invalid)++;
      EXPECT_EQ(ok, result == "valid")
          << "tcId " << t.Find("tcId")->int_text() << ": " << t.Find("comment")->as_string();
    }
  }
  EXPECT_EQ(total, 151);
  EXPECT_EQ(valid, 88);
  EXPECT_EQ(invalid, 63);
}

TEST(Ed25519CctvTest, StrictVerifyRejectsLowOrderAndNonCanonicalPoints) {
  json::Value root = LoadJson("vectors/cctv-ed25519/ed25519vectors.json");
  ASSERT_TRUE(root.is_array());
  ASSERT_EQ(root.as_array().size(), 914u);
  const std::set<std::string> must_reject = {"low_order_A", "low_order_R", "non_canonical_A",
                                             "non_canonical_R"};
  std::map<std::string, std::pair<int, int>> per_flag;  // flag -> (accepted, rejected)
  int unflagged = 0;
  for (const auto& v : root.as_array()) {
    std::string pk = Unhex(*v.Find("key"));
    std::string sig = Unhex(*v.Find("sig"));
    const std::string& msg = v.Find("msg")->as_string();
    bool ok = VerifyRaw(pk, msg, sig);
    // "flags" is an array, or null for a vector with no edge case (number 305).
    const json::Value* flags_v = v.Find("flags");
    ASSERT_NE(flags_v, nullptr);
    ASSERT_TRUE(flags_v->is_array() || flags_v->is_null());
    const json::Array flags = flags_v->is_array() ? flags_v->as_array() : json::Array{};
    bool forbidden = false;
    for (const auto& f : flags) {
      auto& c = per_flag[f.as_string()];
      (ok ? c.first : c.second)++;
      if (must_reject.count(f.as_string())) forbidden = true;
    }
    const std::string number = v.Find("number")->int_text();
    if (forbidden) {
      EXPECT_FALSE(ok) << "vector " << number << " must be rejected";
    }
    if (flags.empty()) {
      ++unflagged;
      EXPECT_TRUE(ok) << "vector " << number << " has no flags and must verify";
    }
  }
  std::string report = "CCTV ed25519 (flag: accepted/rejected):";
  for (const auto& [flag, c] : per_flag)
    report += " " + flag + "=" + std::to_string(c.first) + "/" + std::to_string(c.second);
  report += " unflagged=" + std::to_string(unflagged);
  std::printf("%s\n", report.c_str());
  RecordProperty("cctv_counts", report);
  EXPECT_GT(unflagged, 0);
  for (const auto& f : must_reject) {
    ASSERT_TRUE(per_flag.count(f)) << f;
    EXPECT_EQ(per_flag[f].first, 0) << f;
  }
}

}  // namespace
}  // namespace vv::crypto

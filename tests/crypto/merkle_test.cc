// RFC 6962 Merkle code against the transparency-dev/merkle vectors (tests/testdata/vectors)
// and the RFC 6962 8-leaf test tree.
#include "crypto/merkle.h"

#include <gtest/gtest.h>

#include <charconv>
#include <optional>

#include <filesystem>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/temp_dir.h"
#include "json/json.h"

namespace vv::crypto::merkle {
namespace {

const std::string kVectorDir =
    std::string(VV_TESTDATA_DIR) + "/vectors/transparency-dev-merkle/testdata";

std::vector<std::filesystem::path> JsonFiles(const std::string& sub) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(kVectorDir + "/" + sub)) {
    if (e.is_regular_file() && e.path().extension() == ".json") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string B64(const json::Value& v) {
  if (!v.is_string()) return "";
  return Base64DecodeStrict(v.as_string()).value_or("<bad base64>");
}

std::vector<std::string> Proof(const json::Value& v) {
  std::vector<std::string> out;
  if (v.is_array()) {
    for (const auto& h : v.as_array()) out.push_back(B64(h));
  }
  return out;
}

json::Value Load(const std::filesystem::path& p) {
  auto v = json::Parse(testing::ReadFile(p.string()));
  EXPECT_TRUE(v.ok()) << p;
  return v.ok() ? std::move(v).value() : json::Value();
}

// The RFC 6962 test tree's leaves (as in transparency-dev/merkle testonly).
std::vector<std::string> TestLeafHashes() {
  const std::vector<std::string> hex = {"",         "00",       "10",
                                        "2021",     "3031",     "40414243",
                                        "5051525354555657",
                                        "606162636465666768696a6b6c6d6e6f"};
  std::vector<std::string> out;
  for (const auto& h : hex) out.push_back(LeafHash(*HexDecode(h)));
  return out;
}

TEST(MerkleTest, RootOfTheEightLeafTestTree) {
  auto leaves = TestLeafHashes();
  EXPECT_EQ(Base64Encode(RootHash(leaves, 8)), "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=");
  EXPECT_EQ(HexEncode(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(RootHash(leaves, 1), leaves[0]);
}

TEST(MerkleTest, CompactTreeMatchesRecursiveRootAtEverySize) {
  std::vector<std::string> leaves;
  CompactTree tree;
  EXPECT_EQ(tree.Root(), EmptyRoot());
  for (int i = 0; i < 70; ++i) {
    leaves.push_back(LeafHash("leaf" + std::to_string(i)));
    tree.Append(leaves.back());
    ASSERT_EQ(tree.Root(), RootHash(leaves, leaves.size())) << "size " << leaves.size();
  }
}

// A vector's index or size as the unsigned 64-bit value it spells (some are 2^64 - 1, beyond
// int64: as_int64() is nullopt for them); nullopt only for a negative or malformed number.
std::optional<uint64_t> U64(const json::Value& v) {
  if (!v.is_int()) return std::nullopt;
  const std::string& t = v.int_text();
  if (t.empty() || t[0] == '-') return std::nullopt;
  uint64_t out = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  if (ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
  return out;
}

TEST(MerkleTest, InclusionVectors) {
  auto files = JsonFiles("inclusion");
  ASSERT_GT(files.size(), 90u);
  int ok_count = 0, err_count = 0;
  for (const auto& f : files) {
    json::Value v = Load(f);
    const bool want_err = v.Find("wantErr")->as_bool();
    const auto idx = U64(*v.Find("leafIdx"));
    const auto size = U64(*v.Find("treeSize"));
    Status s = !idx || !size ? Status::InvalidArgument("negative")
                             : VerifyInclusion(*idx, *size, B64(*v.Find("leafHash")),
                                               Proof(*v.Find("proof")), B64(*v.Find("root")));
    EXPECT_EQ(s.ok(), !want_err) << f << ": " << v.Find("desc")->as_string() << " "
                                 << s.ToString();
    (want_err ? err_count : ok_count)++;
  }
  EXPECT_GT(ok_count, 0);
  EXPECT_GT(err_count, 0);
}

TEST(MerkleTest, ConsistencyVectors) {
  auto files = JsonFiles("consistency");
  ASSERT_GT(files.size(), 90u);
  int ok_count = 0, err_count = 0;
  for (const auto& f : files) {
    json::Value v = Load(f);
    const bool want_err = v.Find("wantErr")->as_bool();
    const auto size1 = U64(*v.Find("size1"));
    const auto size2 = U64(*v.Find("size2"));
    Status s = !size1 || !size2 ? Status::InvalidArgument("negative")
                                : VerifyConsistency(*size1, *size2, B64(*v.Find("root1")),
                                                    B64(*v.Find("root2")),
                                                    Proof(*v.Find("proof")));
    EXPECT_EQ(s.ok(), !want_err) << f << ": " << v.Find("desc")->as_string() << " "
                                 << s.ToString();
    (want_err ? err_count : ok_count)++;
  }
  EXPECT_GT(ok_count, 0);
  EXPECT_GT(err_count, 0);
}

// Our generator reproduces every happy-path proof of the vectors exactly.
TEST(MerkleTest, GeneratedProofsEqualTheHappyPathVectors) {
  auto leaves = TestLeafHashes();
  int checked = 0;
  for (const auto& f : JsonFiles("inclusion")) {
    if (f.filename() != "happy-path.json") continue;
    json::Value v = Load(f);
    if (*v.Find("treeSize")->as_int64() > 8) continue;
    auto p =
        InclusionProof(leaves, *v.Find("leafIdx")->as_int64(), *v.Find("treeSize")->as_int64());
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(*p, Proof(*v.Find("proof"))) << f;
    EXPECT_EQ(RootHash(leaves, *v.Find("treeSize")->as_int64()), B64(*v.Find("root")));
    ++checked;
  }
  for (const auto& f : JsonFiles("consistency")) {
    if (f.filename() != "happy-path.json") continue;
    json::Value v = Load(f);
    auto p = ConsistencyProof(leaves, *v.Find("size1")->as_int64(), *v.Find("size2")->as_int64());
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(*p, Proof(*v.Find("proof"))) << f;
    ++checked;
  }
  EXPECT_GE(checked, 4);
}

// Every proof we generate, for every (index, size) and (size1, size2) up to 40 leaves,
// verifies; a flipped bit in any proof hash does not.
TEST(MerkleTest, GeneratedProofsVerifyExhaustively) {
  std::vector<std::string> leaves;
  for (int i = 0; i < 40; ++i) leaves.push_back(LeafHash(std::string(1, static_cast<char>(i))));
  for (uint64_t n = 1; n <= leaves.size(); ++n) {
    const std::string root = RootHash(leaves, n);
    for (uint64_t i = 0; i < n; ++i) {
      auto p = InclusionProof(leaves, i, n);
      ASSERT_TRUE(p.ok());
      ASSERT_TRUE(VerifyInclusion(i, n, leaves[i], *p, root).ok()) << i << "/" << n;
      if (!p->empty()) {
        auto bad = *p;
        bad.back()[5] ^= 1;
        EXPECT_FALSE(VerifyInclusion(i, n, leaves[i], bad, root).ok());
      }
      EXPECT_FALSE(VerifyInclusion(i, n, leaves[(i + 1) % leaves.size()], *p, root).ok());
    }
    for (uint64_t m = 1; m <= n; ++m) {
      auto p = ConsistencyProof(leaves, m, n);
      ASSERT_TRUE(p.ok());
      const std::string root1 = RootHash(leaves, m);
      ASSERT_TRUE(VerifyConsistency(m, n, root1, root, *p).ok()) << m << "->" << n;
      if (!p->empty()) {
        auto bad = *p;
        bad.front()[0] ^= 0x80;
        EXPECT_FALSE(VerifyConsistency(m, n, root1, root, bad).ok());
      }
    }
  }
  EXPECT_FALSE(InclusionProof(leaves, 5, 5).ok());
  EXPECT_FALSE(InclusionProof(leaves, 0, 41).ok());
  EXPECT_FALSE(ConsistencyProof(leaves, 0, 3).ok());
  EXPECT_FALSE(ConsistencyProof(leaves, 4, 3).ok());
}

TEST(MerkleTest, EntryLeafHashDecodesTheHexEntryHash) {
  const std::string h = "b8b9dedfd030966105bcaa78d275968663a65ea1fbccc8e1fed11a9c61722085";
  EXPECT_EQ(EntryLeafHash(h), crypto::Sha256(std::string(1, '\0') + *HexDecode(h)));
  EXPECT_EQ(EntryLeafHash("zz"), "");
  EXPECT_EQ(EntryLeafHash(h.substr(1)), "");
}

TEST(MerkleTest, AllInclusionProofsEqualsOneProofPerLeaf) {
  for (uint64_t n = 0; n <= 40; ++n) {
    std::vector<std::string> leaves;
    for (uint64_t i = 0; i < n; ++i) leaves.push_back(LeafHash("leaf " + std::to_string(i)));
    AllProofs all = AllInclusionProofs(leaves);
    EXPECT_EQ(all.root, RootHash(leaves, n)) << n;
    ASSERT_EQ(all.proofs.size(), n);
    for (uint64_t i = 0; i < n; ++i) {
      EXPECT_EQ(all.proofs[i], InclusionProof(leaves, i, n).value()) << n << "/" << i;
      auto root = RootFromInclusion(i, n, leaves[i], all.proofs[i]);
      ASSERT_TRUE(root.ok()) << root.status().ToString();
      EXPECT_EQ(*root, all.root);
    }
  }
}

TEST(MerkleTest, RootFromInclusionRefusesProofsThatCannotBeOne) {
  std::vector<std::string> leaves;
  for (int i = 0; i < 6; ++i) leaves.push_back(LeafHash(std::string(1, char('a' + i))));
  auto proof = InclusionProof(leaves, 2, 6).value();
  EXPECT_FALSE(RootFromInclusion(6, 6, leaves[2], proof).ok());  // index == size
  EXPECT_FALSE(RootFromInclusion(2, 6, "short", proof).ok());
  auto longer = proof;
  longer.push_back(leaves[0]);
  EXPECT_FALSE(RootFromInclusion(2, 6, leaves[2], longer).ok());
  auto shorter = proof;
  shorter.pop_back();
  EXPECT_FALSE(RootFromInclusion(2, 6, leaves[2], shorter).ok());
  auto bad = proof;
  bad[0] = "not 32 bytes";
  EXPECT_FALSE(RootFromInclusion(2, 6, leaves[2], bad).ok());
  // A wrong sibling still gives a root, just not the tree's.
  auto wrong = proof;
  wrong[0] = leaves[5];
  ASSERT_TRUE(RootFromInclusion(2, 6, leaves[2], wrong).ok());
  EXPECT_NE(*RootFromInclusion(2, 6, leaves[2], wrong), RootHash(leaves, 6));
  EXPECT_EQ(VerifyInclusion(2, 6, leaves[2], wrong, RootHash(leaves, 6)).code(),
            StatusCode::kDataLoss);
}

}  // namespace
}  // namespace vv::crypto::merkle

// Sealer (issue 13: the audit log's checkpoint records, split out of AuditLog): the signer is
// chosen once (given signer > key > key file > none), a signer under another name is refused,
// a seal record carries the Merkle root and the chain links, and a failing signer (an HSM
// outage) appends nothing.

#include "audit/sealer.h"

#include <gtest/gtest.h>

#include "audit/verifier.h"
#include "fakes/temp_dir.h"
#include "json/json.h"

namespace vv::audit {
namespace {

const crypto::Ed25519PrivateKey& Key() {
  static const auto* k = new crypto::Ed25519PrivateKey(
      crypto::Ed25519PrivateKey::FromSeed(std::string(32, 's')).value());
  return *k;
}

class DownSigner final : public SealSigner {
 public:
  explicit DownSigner(std::string name) : SealSigner(std::move(name), Key().PublicKey()) {}
  std::string_view kind() const override { return "pkcs11"; }
  Result<std::string> Sign(std::string_view) const override {
    return Status::Unavailable("token not present (test)");
  }
};

crypto::merkle::CompactTree TreeOf(int leaves) {
  crypto::merkle::CompactTree t;
  for (int i = 0; i < leaves; ++i) t.Append(crypto::merkle::EntryLeafHash(std::string(64, 'a' + i)));
  return t;
}

TEST(SealerTest, ChoosesTheSignerOnceAndRefusesAMismatchedOne) {
  auto none = Sealer::Make("vectorvue.local/audit-log", "SYSTEM", nullptr, nullptr, "");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->signer(), nullptr);
  auto key = std::make_shared<const crypto::Ed25519PrivateKey>(Key());
  auto keyed = Sealer::Make("vectorvue.local/audit-log", "SYSTEM", nullptr, key, "/no/such/file");
  ASSERT_TRUE(keyed.ok()) << keyed.status().ToString();  // the key wins over the file
  ASSERT_NE(keyed->signer(), nullptr);
  EXPECT_EQ(keyed->signer()->kind(), "key-file");
  auto down = std::make_shared<DownSigner>("vectorvue.local/audit-log");
  auto given = Sealer::Make("vectorvue.local/audit-log", "SYSTEM", down, key, "");
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(given->signer(), down.get());  // the signer wins over the key
  EXPECT_FALSE(Sealer::Make("other-origin", "SYSTEM", down, nullptr, "").ok());
  EXPECT_FALSE(Sealer::Make("has space", "SYSTEM", nullptr, nullptr, "").ok());
  auto missing = Sealer::Make("vectorvue.local/audit-log", "SYSTEM", nullptr, nullptr, "/no/key");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("audit seal key"), std::string::npos);
}

TEST(SealerTest, BuildsTheSealRecordAndItsAnchorRecord) {
  auto key = std::make_shared<const crypto::Ed25519PrivateKey>(Key());
  auto sealer = Sealer::Make("vectorvue.local/audit-log", "SYSTEM", nullptr, key, "").value();
  const auto tree = TreeOf(4);
  const std::string sealed_hash(64, 'd'), previous(64, 'p');
  Sealer::At at;
  at.seal_index = 5;
  at.sealed_index = 4;
  at.sealed_hash = &sealed_hash;
  at.tree = &tree;
  at.previous_seal_hash = &previous;
  at.segment = 2;
  at.sealed_at = "2026-12-06T00:00:00+00:00";
  std::string out = "prefix\n";
  AnchorRecord info;
  auto hash = sealer.BuildLine(at, &out, &info);
  ASSERT_TRUE(hash.ok()) << hash.status().ToString();
  ASSERT_EQ(out.rfind("prefix\n", 0), 0u);
  auto line = json::Parse(std::string_view(out).substr(7, out.size() - 8));
  ASSERT_TRUE(line.ok()) << out;
  EXPECT_EQ(line->Find("index")->as_int64(), 5);
  EXPECT_EQ(line->Find("event_type")->as_string(), kSealEventType);
  EXPECT_EQ(line->Find("actor")->as_string(), "SYSTEM");
  EXPECT_EQ(line->Find("previous_hash")->as_string(), sealed_hash);
  EXPECT_EQ(line->Find("entry_hash")->as_string(), *hash);
  const json::Value* d = line->Find("details");
  EXPECT_EQ(d->Find("tree_size")->as_int64(), 4);
  EXPECT_EQ(d->Find("previous_seal_hash")->as_string(), previous);
  EXPECT_FALSE(d->Find("signature")->as_string().empty());
  EXPECT_EQ(info.index, 5);
  EXPECT_EQ(info.segment, 2);
  EXPECT_EQ(info.entry_hash, *hash);
  EXPECT_EQ(info.tree_size, 4);
  EXPECT_EQ(info.previous_seal_hash, previous);
}

TEST(SealerTest, AFailingSignerAppendsNothing) {
  auto down = std::make_shared<DownSigner>("vectorvue.local/audit-log");
  auto sealer = Sealer::Make("vectorvue.local/audit-log", "SYSTEM", down, nullptr, "").value();
  const auto tree = TreeOf(1);
  const std::string h(64, 'a'), prev;
  Sealer::At at{2, 1, &h, &tree, &prev, 0, "2026-12-06T00:00:00+00:00"};
  std::string out = "kept\n";
  AnchorRecord info;
  auto r = sealer.BuildLine(at, &out, &info);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("cannot sign the seal (pkcs11)"), std::string::npos);
  EXPECT_EQ(out, "kept\n");
}

}  // namespace
}  // namespace vv::audit

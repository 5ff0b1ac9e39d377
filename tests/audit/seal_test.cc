// Signed Merkle checkpoint seals, anchoring, and the tamper suite over logs written by the
// real AuditLog writer.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "audit/anchor.h"
#include "audit/audit_log.h"
#include "audit/checkpoint.h"
#include "audit/verifier.h"
#include "audit_test_util.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "crypto/merkle.h"
#include "fakes/fake_clock.h"
#include "fakes/temp_dir.h"
#include "json/json.h"

namespace vv::audit {
namespace {

using testutil::Details;
using testutil::Join;
using testutil::Line;
using testutil::MakeRecord;
using testutil::SplitLines;

constexpr int64_t kMarch1 = 1772323200;

std::shared_ptr<const crypto::Ed25519PrivateKey> TestKey(char seed = 'k') {
  return std::make_shared<const crypto::Ed25519PrivateKey>(
      crypto::Ed25519PrivateKey::FromSeed(std::string(32, seed)).value());
}

class SealTest : public ::testing::Test {
 protected:
  AuditLogOptions Options(int64_t seal_every = 3, bool signed_seals = true) {
    AuditLogOptions o;
    o.seal_every = seal_every;
    o.fsync = FsyncPolicy::kNone;
    if (signed_seals) o.seal_key = key_;
    return o;
  }
  std::unique_ptr<AuditLog> Open(const AuditLogOptions& o) {
    auto r = AuditLog::Open(path_, o, clock_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  // Writes `n` entries (seal_every 3 -> a seal after every third entry).
  void WriteLog(int n, bool signed_seals = true, int64_t seal_every = 3) {
    auto log = Open(Options(seal_every, signed_seals));
    ASSERT_NE(log, nullptr);
    for (int i = 1; i <= n; ++i) {
      clock_.AdvanceSeconds(1);
      ASSERT_TRUE(log->Append("telemetry.accepted", "telemetry_gateway",
                              Details("r" + std::to_string(i)))
                      .ok());
    }
  }
  std::vector<std::string> Lines() { return SplitLines(testing::ReadFile(path_)); }
  void WriteLines(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    testing::WriteFile(path_, s);
  }
  VerifyOptions Pinned() {
    VerifyOptions o;
    o.public_key = key_->PublicKey();
    return o;
  }
  VerifyOptions WithAnchor(bool pinned = true) {
    VerifyOptions o = pinned ? Pinned() : VerifyOptions{};
    auto f = LoadAnchorFile(DefaultAnchorPath(path_));
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    if (f.ok()) o.anchors = f->records;
    return o;
  }
  static json::Value Rec(const std::string& line) { return json::Parse(line).value(); }
  // Re-hashes a record (after editing its fields) so its own entry_hash is right.
  static std::string Rehash(json::Value rec) {
    rec.Erase("entry_hash");
    const std::string h = crypto::Sha256Hex(json::Canonical(rec));
    rec.Set("entry_hash", h);
    return json::Canonical(rec);
  }
  // Rewrites the whole chain from line `from` (1-based) on: re-links previous_hash and
  // re-hashes every line; seals keep their (now stale) details except the linkage fields.
  static void RelinkFrom(std::vector<std::string>* lines, size_t from) {
    std::string prev = from >= 2 ? Rec((*lines)[from - 2]).Find("entry_hash")->as_string() : "";
    for (size_t i = from - 1; i < lines->size(); ++i) {
      json::Value r = Rec((*lines)[i]);
      r.Set("previous_hash", prev);
      if (r.Find("event_type")->as_string() == "log.sealed") {
        r.Find("details")->Set("last_entry_hash", prev);
      }
      (*lines)[i] = Rehash(std::move(r));
      prev = Rec((*lines)[i]).Find("entry_hash")->as_string();
    }
  }

  void ExpectBroken(const VerifyResult& r, int64_t line, std::string_view reason) {
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.reason, reason) << r.detail;
    EXPECT_EQ(r.broken_at, line) << r.reason << ": " << r.detail;
  }

  testing::TempDir dir_;
  std::string path_ = dir_.File("audit.jsonl");
  testing::FakeClock clock_{kMarch1};
  std::shared_ptr<const crypto::Ed25519PrivateKey> key_ = TestKey();
};

TEST_F(SealTest, SealsAreSignedCheckpointsOverTheMerkleTreeOfAllPriorLines) {
  WriteLog(7);
  auto lines = Lines();
  // e e e S e e e S e  (9 lines + seals at 4 and 8)
  ASSERT_EQ(lines.size(), 9u);
  std::vector<std::string> leaves;
  std::string prev_seal;
  for (size_t i = 0; i < lines.size(); ++i) {
    json::Value r = Rec(lines[i]);
    EXPECT_EQ(*r.Find("index")->as_int64(), static_cast<int64_t>(i + 1));
    if (r.Find("event_type")->as_string() == "log.sealed") {
      const json::Value& d = *r.Find("details");
      EXPECT_EQ(*d.Find("tree_size")->as_int64(), static_cast<int64_t>(i));
      const std::string root = merkle::RootHash(leaves, leaves.size());
      EXPECT_EQ(d.Find("root_hash")->as_string(), Base64Encode(root));
      EXPECT_EQ(d.Find("previous_seal_hash")->as_string(), prev_seal);
      const std::string body = std::string(kDefaultCheckpointOrigin) + "\n" +
                               std::to_string(i) + "\n" + Base64Encode(root) + "\n";
      const std::string& note = d.Find("checkpoint")->as_string();
      ASSERT_EQ(note.substr(0, body.size() + 1), body + "\n");
      // Independent signature check: key id || sig over the body.
      const std::string pub = key_->PublicKey().raw();
      const std::string key_id =
          crypto::Sha256(std::string(kDefaultCheckpointOrigin) + "\n\x01" + pub).substr(0, 4);
      const std::string sig = key_->Sign(body);
      EXPECT_EQ(note.substr(body.size() + 1), "\xe2\x80\x94 " +
                                                  std::string(kDefaultCheckpointOrigin) + " " +
                                                  Base64Encode(key_id + sig) + "\n");
      EXPECT_EQ(d.Find("signature")->as_string(), Base64Encode(sig));
      EXPECT_EQ(d.Find("key_id")->as_string(), HexEncode(key_id));
      EXPECT_EQ(d.Find("public_key")->as_string(), key_->PublicKey().ToBase64());
      prev_seal = r.Find("entry_hash")->as_string();
    }
    leaves.push_back(merkle::LeafHash(*HexDecode(r.Find("entry_hash")->as_string())));
  }
  VerifyResult v = VerifyLogFile(path_, Pinned());
  ASSERT_TRUE(v.ok) << v.reason << " " << v.detail;
  EXPECT_EQ(v.entries, 9);
  EXPECT_EQ(v.sealed_size, 7);
  EXPECT_EQ(v.seals, 2);
  EXPECT_FALSE(v.unsigned_seals);
  EXPECT_EQ(v.signature_key, "pinned");
}

// The reference verifier checks only the hash chain: its rule (sha256 of the canonical JSON
// of the record without entry_hash, previous_hash = the previous entry_hash) accepts our log.
TEST_F(SealTest, ReferenceHashRuleAcceptsOurLog) {
  WriteLog(8);
  std::string prev;
  for (const auto& l : Lines()) {
    json::Value r = Rec(l);
    json::Value copy = r;
    copy.Erase("entry_hash");
    EXPECT_EQ(crypto::Sha256Hex(json::Canonical(copy)), r.Find("entry_hash")->as_string());
    EXPECT_EQ(r.Find("previous_hash")->as_string(), prev);
    prev = r.Find("entry_hash")->as_string();
    EXPECT_EQ(json::Canonical(r), l);  // canonical key order, as the reference writes
  }
}

TEST_F(SealTest, UnsignedSealsVerifyAndAreReportedButFailWithAPinnedKey) {
  WriteLog(6, /*signed_seals=*/false);
  VerifyResult v = VerifyLogFile(path_);
  ASSERT_TRUE(v.ok) << v.detail;
  EXPECT_TRUE(v.unsigned_seals);
  EXPECT_EQ(v.sealed_size, 7);
  EXPECT_EQ(json::Canonical(v.ToJson()).find("\"unsigned_seals\":true") != std::string::npos, true);
  ExpectBroken(VerifyLogFile(path_, Pinned()), 4, kReasonSealSignatureInvalid);
}

TEST_F(SealTest, WrongPinnedKeyIsSealSignatureInvalid) {
  WriteLog(4);
  VerifyOptions o;
  o.public_key = TestKey('x')->PublicKey();
  ExpectBroken(VerifyLogFile(path_, o), 4, kReasonSealSignatureInvalid);
  VerifyResult embedded = VerifyLogFile(path_);
  EXPECT_TRUE(embedded.ok);
  EXPECT_EQ(embedded.signature_key, "embedded");
}

TEST_F(SealTest, AnchorFileHasOneLinePerSealAndVerifies) {
  WriteLog(10);
  auto anchor = LoadAnchorFile(DefaultAnchorPath(path_));
  ASSERT_TRUE(anchor.ok()) << anchor.status().ToString();
  ASSERT_EQ(anchor->records.size(), 3u);
  auto lines = Lines();
  for (const auto& a : anchor->records) {
    json::Value seal = Rec(lines[a.index - 1]);
    EXPECT_EQ(seal.Find("event_type")->as_string(), "log.sealed");
    EXPECT_EQ(a.entry_hash, seal.Find("entry_hash")->as_string());
    EXPECT_EQ(a.checkpoint, seal.Find("details")->Find("checkpoint")->as_string());
    EXPECT_EQ(a.tree_size, a.index - 1);
  }
  EXPECT_TRUE(CheckAnchors(anchor->records, key_->PublicKey()).ok);
  VerifyResult v = VerifyLogFile(path_, WithAnchor());
  ASSERT_TRUE(v.ok) << v.reason << v.detail;
  EXPECT_EQ(v.anchored_size, 11);
}

TEST_F(SealTest, SealNowSealsOnlyWhenSomethingIsUnsealed) {
  auto log = Open(Options(100));
  EXPECT_TRUE(log->SealNow().ok());
  EXPECT_EQ(log->line_count(), 0);
  ASSERT_TRUE(log->Append("e", "a", {}).ok());
  ASSERT_TRUE(log->SealNow().ok());
  EXPECT_EQ(log->line_count(), 2);
  ASSERT_TRUE(log->SealNow().ok());
  EXPECT_EQ(log->line_count(), 2);
  log.reset();
  VerifyResult v = VerifyLogFile(path_, WithAnchor());
  ASSERT_TRUE(v.ok) << v.detail;
  EXPECT_EQ(v.sealed_size, 1);
  EXPECT_EQ(v.anchored_size, 1);
}

TEST_F(SealTest, IntervalTimerSealsAfterTheClockAdvances) {
  AuditLogOptions o = Options(1000);
  o.seal_interval_seconds = 30;
  auto log = Open(o);
  ASSERT_TRUE(log->Append("e", "a", {}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(log->line_count(), 1);  // interval not reached on the fake clock
  clock_.AdvanceSeconds(31);
  for (int i = 0; i < 50 && log->line_count() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(log->line_count(), 2);
  clock_.AdvanceSeconds(31);  // nothing new to seal
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(log->line_count(), 2);
  log.reset();
  EXPECT_TRUE(VerifyLogFile(path_, Pinned()).ok);
}

TEST_F(SealTest, SealCadenceContinuesAcrossReopenAndAfterTimeSeals) {
  {
    auto log = Open(Options(3));
    ASSERT_TRUE(log->Append("e", "a", {}).ok());
    ASSERT_TRUE(log->SealNow().ok());  // line 2
    ASSERT_TRUE(log->Append("e", "a", {}).ok());
  }
  {
    auto log = Open(Options(3));
    ASSERT_TRUE(log->Append("e", "a", {}).ok());
    ASSERT_TRUE(log->Append("e", "a", {}).ok());  // third since the seal -> seal at 6
    EXPECT_EQ(log->line_count(), 6);
  }
  VerifyResult v = VerifyLogFile(path_, WithAnchor());
  ASSERT_TRUE(v.ok) << v.detail;
  EXPECT_EQ(v.sealed_size, 5);
}

TEST_F(SealTest, SealKeyFileWithLoosePermissionsIsRefused) {
  const std::string key_path = dir_.File("seal.key");
  testing::WriteFile(key_path, std::string(32, 's'));
  ::chmod(key_path.c_str(), 0644);
  AuditLogOptions o = Options(3, false);
  o.seal_key_path = key_path;
  auto r = AuditLog::Open(path_, o, clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("seal key"), std::string::npos) << r.status().message();
  ::chmod(key_path.c_str(), 0600);
  auto ok = AuditLog::Open(path_, o, clock_);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_NE((*ok)->seal_public_key(), nullptr);
  EXPECT_EQ((*ok)->seal_public_key()->raw(),
            crypto::Ed25519PrivateKey::FromSeed(std::string(32, 's'))->PublicKey().raw());
}

TEST_F(SealTest, WriterRefusesALogTruncatedBeforeAnAnchoredSeal) {
  WriteLog(6);
  auto lines = Lines();  // seals at 4 and 8
  lines.resize(6);
  WriteLines(lines);
  auto r = AuditLog::Open(path_, Options(), clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("truncated_after_seal"), std::string::npos);
}

TEST_F(SealTest, WriterRepublishesSealsMissingFromTheAnchor) {
  WriteLog(6);
  const std::string anchor_path = DefaultAnchorPath(path_);
  const std::string full = testing::ReadFile(anchor_path);
  testing::WriteFile(anchor_path, SplitLines(full)[0] + "\n{\"torn");  // lost + torn
  { auto log = Open(Options()); }
  EXPECT_EQ(testing::ReadFile(anchor_path), full);
}

// ---- Tamper suite (log produced by the real writer, 10 entries, seals at 4, 8, 12). ----

class TamperTest : public SealTest {
 protected:
  void SetUp() override {
    WriteLog(10);
    lines_ = Lines();
    ASSERT_EQ(lines_.size(), 13u);
  }
  VerifyResult VerifyTampered(VerifyOptions o) {
    WriteLines(lines_);
    return VerifyLogFile(path_, std::move(o));
  }
  std::vector<std::string> lines_;
};

TEST_F(TamperTest, UntouchedLogVerifiesWithAnchorAndKey) {
  VerifyResult v = VerifyLogFile(path_, WithAnchor());
  ASSERT_TRUE(v.ok) << v.reason << " " << v.detail;
  EXPECT_EQ(v.entries, 13);
  EXPECT_EQ(v.sealed_size, 11);
  EXPECT_EQ(v.anchored_size, 11);
}

TEST_F(TamperTest, EditedEntryIsEntryHashMismatch) {
  lines_[5].replace(lines_[5].find("\"r5\""), 4, "\"r0\"");
  ExpectBroken(VerifyTampered(WithAnchor()), 6, kReasonEntryHashMismatch);
}

TEST_F(TamperTest, EditedAndRehashedEntryIsPreviousHashMismatchOnTheNextLine) {
  json::Value r = Rec(lines_[5]);
  r.Find("details")->Set("request_id", "forged");
  lines_[5] = Rehash(std::move(r));
  ExpectBroken(VerifyTampered(WithAnchor()), 7, kReasonPreviousHashMismatch);
}

TEST_F(TamperTest, DeletedEntryIsPreviousHashMismatch) {
  lines_.erase(lines_.begin() + 1);
  ExpectBroken(VerifyTampered(WithAnchor()), 2, kReasonPreviousHashMismatch);
}

TEST_F(TamperTest, DeletedAndRelinkedEntryIsIndexGap) {
  lines_.erase(lines_.begin() + 1);
  RelinkFrom(&lines_, 2);
  ExpectBroken(VerifyTampered(WithAnchor()), 2, kReasonIndexGap);
}

TEST_F(TamperTest, ReorderedEntriesArePreviousHashMismatch) {
  std::swap(lines_[1], lines_[2]);
  ExpectBroken(VerifyTampered(WithAnchor()), 2, kReasonPreviousHashMismatch);
}

TEST_F(TamperTest, TruncationAfterASealIsDetectedWithTheAnchor) {
  lines_.resize(9);  // seals at 4 and 8 kept, 12 anchored
  ExpectBroken(VerifyTampered(WithAnchor()), 10, kReasonTruncatedAfterSeal);
  lines_.resize(3);
  ExpectBroken(VerifyTampered(WithAnchor()), 4, kReasonTruncatedAfterSeal);
}

TEST_F(TamperTest, TornTailIsReportedDistinctly) {
  WriteLines(lines_);
  testing::WriteFile(path_, testing::ReadFile(path_) + "{\"actor\":\"telemetry_ga");
  ExpectBroken(VerifyLogFile(path_, WithAnchor()), 14, kReasonTornTail);
}

TEST_F(TamperTest, GarbageLineIsMalformed) {
  lines_.insert(lines_.begin() + 4, "\x01\x02 not json");
  ExpectBroken(VerifyTampered(WithAnchor()), 5, kReasonMalformedLine);
}

// Forged lines appended after the last seal (correctly chained and hashed) are not covered
// by any checkpoint: the log verifies but sealed_size shows they are unsealed. A forged seal
// over them needs the key.
TEST_F(TamperTest, AppendedForgedLinesAreUnsealedAndAForgedSealFailsTheSignature) {
  const std::string last = Rec(lines_.back()).Find("entry_hash")->as_string();
  Line forged = MakeRecord(14, "2026-03-01T01:00:00+00:00", "telemetry.accepted",
                           "telemetry_gateway", Details("forged"), last);
  lines_.push_back(forged.text);
  VerifyResult v = VerifyTampered(WithAnchor());
  ASSERT_TRUE(v.ok) << v.detail;
  EXPECT_EQ(v.entries, 14);
  EXPECT_EQ(v.sealed_size, 11);  // line 14 is not sealed

  // The attacker adds a seal signed with their own key.
  std::vector<std::string> forged_log = lines_;
  {
    WriteLines(forged_log);
    AuditLogOptions o = Options(1);
    o.seal_key = TestKey('z');
    o.file_anchor = false;
    auto log = Open(o);
    ASSERT_TRUE(log->SealNow().ok());
  }
  ExpectBroken(VerifyLogFile(path_, WithAnchor()), 15, kReasonSealSignatureInvalid);
}

TEST_F(TamperTest, SealWithARecomputedWrongRootIsMerkleRootMismatch) {
  json::Value seal = Rec(lines_[7]);  // line 8
  seal.Find("details")->Set("root_hash", Base64Encode(std::string(32, '\x11')));
  lines_[7] = Rehash(std::move(seal));
  RelinkFrom(&lines_, 9);
  ExpectBroken(VerifyTampered(Pinned()), 8, kReasonMerkleRootMismatch);
}

// An attacker edits an early entry and re-hashes the whole chain after it. Old seals now
// carry stale roots.
TEST_F(TamperTest, WholeChainRewriteKeepingOldSealsIsMerkleRootMismatch) {
  json::Value r = Rec(lines_[1]);
  r.Find("details")->Set("request_id", "forged");
  lines_[1] = Rehash(std::move(r));
  RelinkFrom(&lines_, 3);
  ExpectBroken(VerifyTampered({}), 4, kReasonMerkleRootMismatch);
}

// A full rewrite with fresh seals (computed by a writer with the attacker's own key, or
// unsigned): detected by the pinned key, and by the anchor even without a key.
TEST_F(TamperTest, WholeChainRewriteWithFreshSealsIsCaughtByKeyAndAnchor) {
  const std::string anchor_text = testing::ReadFile(DefaultAnchorPath(path_));
  std::remove(path_.c_str());
  {
    AuditLogOptions o = Options(3);
    o.seal_key = TestKey('z');
    o.file_anchor = false;
    auto log = Open(o);
    for (int i = 1; i <= 10; ++i) {
      ASSERT_TRUE(log->Append("telemetry.accepted", "telemetry_gateway",
                              Details(i == 2 ? "rewritten" : "r" + std::to_string(i)))
                      .ok());
    }
  }
  EXPECT_TRUE(VerifyLogFile(path_).ok);  // self-consistent without key or anchor
  ExpectBroken(VerifyLogFile(path_, Pinned()), 4, kReasonSealSignatureInvalid);
  VerifyOptions anchored;
  anchored.anchors = ParseAnchorText(anchor_text)->records;
  ExpectBroken(VerifyLogFile(path_, anchored), 4, kReasonForkDetected);
}

TEST_F(TamperTest, AnchorDefectsAreReported) {
  auto anchors = LoadAnchorFile(DefaultAnchorPath(path_))->records;
  auto forged = anchors;
  forged[1].root_hash = Base64Encode(std::string(32, '\x22'));
  VerifyResult r = CheckAnchors(forged, key_->PublicKey());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, kReasonMalformedLine);  // checkpoint text disagrees with root_hash
  // A re-signed anchor (attacker key) fails with the pinned key.
  forged = anchors;
  CheckpointSigner attacker(std::string(kDefaultCheckpointOrigin), *TestKey('z'));
  const std::string body = ParseSignedNote(forged[0].checkpoint)->body;
  forged[0].checkpoint = body + "\n" + attacker.SignatureLine(*attacker.Sign(body));
  r = CheckAnchors(forged, key_->PublicKey());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, kReasonSealSignatureInvalid);
  EXPECT_FALSE(ParseAnchorText("{}\n").ok());
  EXPECT_FALSE(ParseAnchorText(anchors[1].ToLine() + "\n" + anchors[0].ToLine() + "\n").ok());
  EXPECT_TRUE(ParseAnchorText(anchors[0].ToLine() + "\n{\"torn").value().torn_tail);
}

}  // namespace
}  // namespace vv::audit

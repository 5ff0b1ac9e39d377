// Audit log rotation (docs/audit-format.md section 7): segments linked by their first record,
// anchors ordered by (segment, index), chain verification naming each kind of break, and the
// origin check that refuses another replica's anchor.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "audit/anchor.h"
#include "audit/audit_log.h"
#include "audit/verifier.h"
#include "audit_test_util.h"
#include "crypto/crypto.h"
#include "fakes/fake_clock.h"
#include "fakes/temp_dir.h"
#include "json/json.h"

namespace vv::audit {
namespace {

using testutil::Details;
using testutil::MakeRecord;
using testutil::SplitLines;

constexpr int64_t kMarch1 = 1772323200;

bool Exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// An anchor whose availability the test switches (a local sink: published inline).
class SwitchableAnchor final : public AnchorSink {
 public:
  Status Publish(const AnchorRecord& r) override {
    if (!up) return Status::Unavailable("anchor down (test)");
    if (latest_.has_value() && !AnchorBefore(*latest_, r)) return Status::Ok();
    records.push_back(r);
    latest_ = r;
    return Status::Ok();
  }
  std::optional<AnchorRecord> Latest() const override { return latest_; }
  bool up = true;
  std::vector<AnchorRecord> records;

 private:
  std::optional<AnchorRecord> latest_;
};

class RotationTest : public ::testing::Test {
 protected:
  AuditLogOptions Options(const std::string& origin = "vectorvue.local/audit-log/gw-a") {
    AuditLogOptions o;
    o.seal_every = 3;
    o.fsync = FsyncPolicy::kNone;
    o.anchor_retry_ms = 0;
    o.checkpoint_origin = origin;
    o.seal_key = key_;
    return o;
  }
  std::unique_ptr<AuditLog> Open(const AuditLogOptions& o, const std::string& path = "") {
    auto r = AuditLog::Open(path.empty() ? path_ : path, o, clock_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  void Append(AuditLog* log, int n) {
    for (int i = 0; i < n; ++i) {
      clock_.AdvanceSeconds(1);
      ASSERT_TRUE(log->Append("telemetry.accepted", "telemetry_gateway",
                              Details("r" + std::to_string(++appended_)))
                      .ok());
    }
  }
  VerifyOptions WithAnchor() {
    VerifyOptions o;
    o.public_key = key_->PublicKey();
    auto f = LoadAnchorFile(DefaultAnchorPath(path_));
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    if (f.ok()) o.anchors = f->records;
    return o;
  }
  // Three segments: 0 and 1 rotated, 2 live (sealed at close).
  void WriteThreeSegments() {
    auto log = Open(Options());
    ASSERT_NE(log, nullptr);
    Append(log.get(), 4);
    ASSERT_TRUE(log->Rotate().ok());
    Append(log.get(), 5);
    ASSERT_TRUE(log->Rotate().ok());
    Append(log.get(), 2);
    ASSERT_TRUE(log->SealNow().ok());
  }
  std::vector<std::string> Chain() {
    return {SegmentPath(path_, 0), SegmentPath(path_, 1), path_};
  }

  testing::TempDir dir_;
  std::string path_ = dir_.File("audit.jsonl");
  testing::FakeClock clock_{kMarch1};
  std::shared_ptr<const crypto::Ed25519PrivateKey> key_ =
      std::make_shared<const crypto::Ed25519PrivateKey>(
          crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'r')).value());
  int appended_ = 0;
};

TEST_F(RotationTest, RotateSealsAnchorsRenamesAndLinksTheNewSegment) {
  auto log = Open(Options());
  ASSERT_NE(log, nullptr);
  Append(log.get(), 4);  // 1 2 3 seal(4) 5  -> Rotate seals line 6
  auto r = log->Rotate();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->sealed_segment, 0);
  EXPECT_EQ(r->segment, 1);
  EXPECT_EQ(r->rotated_path, path_ + ".000000");
  EXPECT_EQ(r->sealed_lines, 6);
  EXPECT_EQ(log->segment(), 1);
  EXPECT_EQ(log->line_count(), 1);

  // The old segment ends on the seal the link names, and that seal is anchored.
  auto old_lines = SplitLines(testing::ReadFile(r->rotated_path));
  ASSERT_EQ(old_lines.size(), 6u);
  json::Value last = json::Parse(old_lines.back()).value();
  EXPECT_EQ(last.Find("event_type")->as_string(), "log.sealed");
  EXPECT_EQ(last.Find("entry_hash")->as_string(), r->last_seal_hash);
  auto anchors = LoadAnchorFile(DefaultAnchorPath(path_));
  ASSERT_TRUE(anchors.ok());
  ASSERT_FALSE(anchors->records.empty());
  EXPECT_EQ(anchors->records.back().segment, 0);
  EXPECT_EQ(anchors->records.back().index, 6);
  EXPECT_EQ(anchors->records.back().entry_hash, r->last_seal_hash);

  // Line 1 of the new segment is the link.
  auto new_lines = SplitLines(testing::ReadFile(path_));
  ASSERT_EQ(new_lines.size(), 1u);
  json::Value first = json::Parse(new_lines[0]).value();
  EXPECT_EQ(first.Find("event_type")->as_string(), kSegmentStartEventType);
  EXPECT_EQ(first.Find("index")->as_int64(), std::optional<int64_t>(1));
  EXPECT_EQ(first.Find("previous_hash")->as_string(), "");
  auto link = SegmentLink::FromDetails(*first.Find("details"));
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  EXPECT_EQ(link->segment, 1);
  EXPECT_EQ(link->previous_lines, 6);
  EXPECT_EQ(link->previous_seal_hash, r->last_seal_hash);
  EXPECT_EQ(link->origin, "vectorvue.local/audit-log/gw-a");
  EXPECT_EQ(link->previous_file, "audit.jsonl.000000");

  // Seals of segment 1 are anchored as segment 1, after segment 0's.
  Append(log.get(), 2);  // link + 2 entries -> seal at line 4
  anchors = LoadAnchorFile(DefaultAnchorPath(path_));
  ASSERT_TRUE(anchors.ok());
  EXPECT_EQ(anchors->records.back().segment, 1);
  EXPECT_EQ(anchors->records.back().index, 4);

  log.reset();  // not sealed again: the live segment ends on its seal
  std::vector<SegmentReport> segs;
  VerifyResult chain = VerifySegmentChain({path_, r->rotated_path}, WithAnchor(), &segs);
  EXPECT_TRUE(chain.ok) << chain.reason << ": " << chain.detail;
  EXPECT_EQ(chain.entries, 6 + 4);
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].segment, 0);  // ordered by content, not by argument order
  EXPECT_EQ(segs[1].segment, 1);
  // The live segment alone verifies against the anchor (its link matches segment 0's seal).
  VerifyResult live = VerifyLogFile(path_, WithAnchor());
  EXPECT_TRUE(live.ok) << live.reason << ": " << live.detail;
  // The rotated segment alone is not the live log any more.
  VerifyResult old_alone = VerifyLogFile(r->rotated_path, WithAnchor());
  EXPECT_FALSE(old_alone.ok);
  EXPECT_EQ(old_alone.reason, kReasonTruncatedAfterSeal) << old_alone.detail;
  VerifyOptions allow = WithAnchor();
  allow.allow_later_segments = true;
  EXPECT_TRUE(VerifyLogFile(r->rotated_path, allow).ok);
}

TEST_F(RotationTest, ARotatedLogReopensAndContinuesItsSegment) {
  {
    auto log = Open(Options());
    ASSERT_NE(log, nullptr);
    Append(log.get(), 3);
    ASSERT_TRUE(log->Rotate().ok());
  }  // closed right after rotation: the anchor holds only segment 0
  {
    auto log = Open(Options());
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->segment(), 1);
    Append(log.get(), 4);
    ASSERT_TRUE(log->SealNow().ok());
  }
  {
    auto log = Open(Options());  // the anchor now holds segment 1 seals
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->segment(), 1);
  }
  VerifyResult chain = VerifySegmentChain({SegmentPath(path_, 0), path_}, WithAnchor());
  EXPECT_TRUE(chain.ok) << chain.reason << ": " << chain.detail;
}

TEST_F(RotationTest, AnImproperlyMovedLogIsStillRefused) {
  auto log = Open(Options());
  ASSERT_NE(log, nullptr);
  Append(log.get(), 4);
  ASSERT_TRUE(log->Rotate().ok());
  Append(log.get(), 2);  // segment 1 seal anchored
  log.reset();
  // Moving the live segment aside by hand (no rotate): the new empty log is segment 0, the
  // anchor holds seals of segment 1.
  ASSERT_EQ(::rename(path_.c_str(), (path_ + ".moved").c_str()), 0);
  auto r = AuditLog::Open(path_, Options(), clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("truncated_after_seal"), std::string::npos)
      << r.status().message();
}

TEST_F(RotationTest, AnImproperlyMovedUnrotatedLogIsStillRefused) {
  {
    auto log = Open(Options());
    Append(log.get(), 4);
  }
  ASSERT_EQ(::rename(path_.c_str(), (path_ + ".000000").c_str()), 0);  // looks rotated, is not
  auto r = AuditLog::Open(path_, Options(), clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("truncated_after_seal"), std::string::npos);
}

TEST_F(RotationTest, RotationWaitsForTheAnchorAndChangesNothingWhenItIsDown) {
  auto sink = std::make_shared<SwitchableAnchor>();
  AuditLogOptions o = Options();
  o.shared_anchor_sink = sink;
  auto log = Open(o);
  ASSERT_NE(log, nullptr);
  Append(log.get(), 4);
  sink->up = false;
  auto r = log->Rotate();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("not anchored"), std::string::npos);
  EXPECT_FALSE(Exists(SegmentPath(path_, 0)));
  EXPECT_EQ(log->segment(), 0);
  Append(log.get(), 1);  // appends continue (the seal stays pending)
  sink->up = true;
  r = log->Rotate();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(Exists(SegmentPath(path_, 0)));
  ASSERT_FALSE(sink->records.empty());
  EXPECT_EQ(sink->records.back().entry_hash, r->last_seal_hash);
  EXPECT_EQ(log->anchor_state().pending_seals, 0);
}

TEST_F(RotationTest, EmptyLogAndExistingTargetAreRefused) {
  auto log = Open(Options());
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->Rotate().status().code(), StatusCode::kNotFound);
  Append(log.get(), 1);
  testing::WriteFile(SegmentPath(path_, 0), "someone else's file\n");
  auto r = log->Rotate();
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(testing::ReadFile(SegmentPath(path_, 0)), "someone else's file\n");
  Append(log.get(), 1);  // still writing the same file
  EXPECT_EQ(log->segment(), 0);
}

TEST_F(RotationTest, AnInterruptedRotationLeavesTheLiveLogIntactAndIsCleanedUpAtOpen) {
  {
    auto log = Open(Options());
    Append(log.get(), 4);
  }
  // A crash after the rotated name was linked and before the new segment was renamed in.
  ASSERT_EQ(::link(path_.c_str(), SegmentPath(path_, 0).c_str()), 0);
  testing::WriteFile(path_ + ".rotating", "partial", 0600);
  auto log = Open(Options());
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->segment(), 0);
  EXPECT_FALSE(Exists(SegmentPath(path_, 0)));
  EXPECT_FALSE(Exists(path_ + ".rotating"));
  auto r = log->Rotate();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(Exists(path_ + ".rotating"));
  log.reset();
  EXPECT_TRUE(VerifySegmentChain({SegmentPath(path_, 0), path_}, WithAnchor()).ok);
}

TEST_F(RotationTest, ConcurrentAppendsAcrossRotationsLoseNothing) {
  auto log = Open(Options());
  ASSERT_NE(log, nullptr);
  std::atomic<int> ok{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (log->Append("telemetry.accepted", "w" + std::to_string(t), Details("x")).ok()) ++ok;
      }
    });
  }
  int rotations = 0;
  for (int i = 0; i < 5; ++i) {
    if (log->Rotate().ok()) ++rotations;
  }
  for (auto& w : writers) w.join();
  ASSERT_TRUE(log->SealNow().ok());
  const int64_t segments = log->segment() + 1;
  log.reset();
  EXPECT_EQ(ok.load(), 800);
  std::vector<std::string> files;
  for (int64_t s = 0; s + 1 < segments; ++s) files.push_back(SegmentPath(path_, s));
  files.push_back(path_);
  std::vector<SegmentReport> reports;
  VerifyResult chain = VerifySegmentChain(files, WithAnchor(), &reports);
  ASSERT_TRUE(chain.ok) << chain.reason << ": " << chain.detail;
  // Every appended record is in exactly one segment.
  int64_t entries = 0;
  for (const auto& f : files) {
    for (const auto& l : SplitLines(testing::ReadFile(f))) {
      if (json::Parse(l).value().Find("event_type")->as_string() == "telemetry.accepted") ++entries;
    }
  }
  EXPECT_EQ(entries, 800);
  EXPECT_EQ(static_cast<int>(segments), rotations + 1);
}

// ---- Chain verification: each break is named. ----

TEST_F(RotationTest, ChainOfThreeSegmentsVerifies) {
  WriteThreeSegments();
  std::vector<SegmentReport> reports;
  VerifyResult r = VerifySegmentChain(Chain(), WithAnchor(), &reports);
  EXPECT_TRUE(r.ok) << r.reason << ": " << r.detail;
  EXPECT_EQ(reports.size(), 3u);
}

TEST_F(RotationTest, MissingMiddleSegmentIsNamed) {
  WriteThreeSegments();
  int64_t seg = -1;
  VerifyResult r = VerifySegmentChain({SegmentPath(path_, 0), path_}, WithAnchor(), nullptr, &seg);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, kReasonMissingSegment);
  EXPECT_EQ(seg, 1);
  EXPECT_NE(r.detail.find("segment 1 is missing"), std::string::npos) << r.detail;
}

TEST_F(RotationTest, MissingFirstSegmentIsNamed) {
  WriteThreeSegments();
  int64_t seg = -1;
  VerifyResult r =
      VerifySegmentChain({SegmentPath(path_, 1), path_}, WithAnchor(), nullptr, &seg);
  EXPECT_EQ(r.reason, kReasonMissingSegment);
  EXPECT_EQ(seg, 0);
}

TEST_F(RotationTest, TamperedLineInSegmentKIsNamedWithItsFileAndLine) {
  WriteThreeSegments();
  const std::string seg1 = SegmentPath(path_, 1);
  auto lines = SplitLines(testing::ReadFile(seg1));
  json::Value rec = json::Parse(lines[2]).value();  // line 3: an entry
  rec.Find("details")->Set("request_id", "forged");
  lines[2] = json::Canonical(rec);
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  testing::WriteFile(seg1, text);
  int64_t seg = -1;
  std::string file;
  VerifyResult r = VerifySegmentChain(Chain(), WithAnchor(), nullptr, &seg, &file);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, kReasonEntryHashMismatch);
  EXPECT_EQ(r.broken_at, 3);
  EXPECT_EQ(seg, 1);
  EXPECT_EQ(file, seg1);
  EXPECT_NE(r.detail.find("segment 1 (" + seg1 + "): line 3"), std::string::npos) << r.detail;
}

TEST_F(RotationTest, SegmentThatDoesNotEndAtTheLinkedSealIsALinkMismatch) {
  WriteThreeSegments();
  // A well-chained extra line appended to segment 0 after it was rotated.
  const std::string seg0 = SegmentPath(path_, 0);
  auto lines = SplitLines(testing::ReadFile(seg0));
  json::Value last = json::Parse(lines.back()).value();
  auto extra = MakeRecord(static_cast<int64_t>(lines.size()) + 1, "2026-03-01T01:00:00+00:00",
                          "telemetry.accepted", "telemetry_gateway", Details("late"),
                          last.Find("entry_hash")->as_string());
  testing::WriteFile(seg0, testing::ReadFile(seg0) + extra.text + "\n");
  VerifyOptions no_anchor;  // only the link itself
  int64_t seg = -1;
  VerifyResult r = VerifySegmentChain(Chain(), no_anchor, nullptr, &seg);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, kReasonSegmentLinkMismatch);
  EXPECT_EQ(seg, 0);  // the segment that grew after its final seal
  EXPECT_NE(r.detail.find("does not end on a checkpoint seal"), std::string::npos) << r.detail;
  EXPECT_EQ(r.broken_at, static_cast<int64_t>(lines.size()) + 1);
}

TEST_F(RotationTest, LinkNamingAnotherLineCountIsALinkMismatch) {
  WriteThreeSegments();
  // Segment 0 cut back to its previous seal (still ending on a seal, the link names more).
  const std::string seg0 = SegmentPath(path_, 0);
  auto lines = SplitLines(testing::ReadFile(seg0));
  size_t keep = lines.size() - 1;
  while (json::Parse(lines[keep - 1]).value().Find("event_type")->as_string() != "log.sealed") --keep;
  std::string text;
  for (size_t i = 0; i < keep; ++i) text += lines[i] + "\n";
  testing::WriteFile(seg0, text);
  int64_t seg = -1;
  VerifyResult r = VerifySegmentChain(Chain(), VerifyOptions{}, nullptr, &seg);
  EXPECT_EQ(r.reason, kReasonSegmentLinkMismatch) << r.detail;
  EXPECT_EQ(seg, 1);
  EXPECT_NE(r.detail.find("previous_lines"), std::string::npos) << r.detail;
}

TEST_F(RotationTest, LinkToASealTheAnchorDoesNotHoldIsALinkMismatch) {
  WriteThreeSegments();
  VerifyOptions o = WithAnchor();
  for (auto& a : o.anchors) {
    if (a.segment == 0) a.entry_hash = std::string(64, 'a');  // segment 0 "sealed" otherwise
  }
  VerifyResult r = VerifyLogFile(SegmentPath(path_, 1), [&] {
    VerifyOptions x = o;
    x.allow_later_segments = true;
    return x;
  }());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, kReasonSegmentLinkMismatch) << r.detail;
  EXPECT_EQ(r.broken_at, 1);
}

TEST_F(RotationTest, SegmentStartRecordAfterLineOneIsRefused) {
  WriteThreeSegments();
  auto lines = SplitLines(testing::ReadFile(path_));
  // Re-chain segment 2's link record as line 2 of a fresh log.
  json::Value link = json::Parse(lines[0]).value();
  auto l1 = MakeRecord(1, "2026-03-01T00:00:00+00:00", "telemetry.accepted", "t", Details("a"), "");
  auto l2 = MakeRecord(2, "2026-03-01T00:00:01+00:00", std::string(kSegmentStartEventType), "SYSTEM",
                       *link.Find("details"), l1.hash);
  VerifyResult r = VerifyLogText(l1.text + "\n" + l2.text + "\n");
  EXPECT_EQ(r.reason, kReasonSegmentLinkMismatch);
  EXPECT_EQ(r.broken_at, 2);
}

TEST_F(RotationTest, AnotherReplicasAnchorIsRefusedAsOriginMismatch) {
  // Replica A and replica B, each with its own log and anchor file.
  const std::string path_b = dir_.File("audit-b.jsonl");
  {
    auto a = Open(Options("vectorvue.local/audit-log/gw-a"));
    auto b = Open(Options("vectorvue.local/audit-log/gw-b"), path_b);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    Append(a.get(), 4);
    Append(b.get(), 4);
  }
  VerifyOptions own;
  own.anchors = LoadAnchorFile(DefaultAnchorPath(path_b)).value().records;
  EXPECT_TRUE(VerifyLogFile(path_b, own).ok);
  VerifyOptions other;
  other.anchors = LoadAnchorFile(DefaultAnchorPath(path_)).value().records;  // A's
  VerifyResult r = VerifyLogFile(path_b, other);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, kReasonOriginMismatch);
  EXPECT_NE(r.detail.find("vectorvue.local/audit-log/gw-b"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("vectorvue.local/audit-log/gw-a"), std::string::npos) << r.detail;
}

// ---- Anchor records with segments. ----

TEST(AnchorSegmentTest, SegmentKeyIsWrittenOnlyAfterTheFirstSegment) {
  AnchorRecord r;
  r.index = 4;
  r.tree_size = 3;
  EXPECT_EQ(r.ToLine().find("segment"), std::string::npos);
  r.segment = 2;
  auto back = AnchorRecord::FromLine(r.ToLine());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->segment, 2);
  json::Value v = r.ToJson();
  v.Set("segment", int64_t{0});
  EXPECT_FALSE(AnchorRecord::FromJson(v).ok());  // 0 is written without the key
}

TEST(AnchorSegmentTest, AnchorFileOrdersBySegmentThenIndex) {
  AnchorRecord a;
  a.index = 10;
  a.tree_size = 9;
  AnchorRecord b;
  b.segment = 1;
  b.index = 4;
  b.tree_size = 3;
  EXPECT_TRUE(ParseAnchorText(a.ToLine() + "\n" + b.ToLine() + "\n").ok());
  auto bad = ParseAnchorText(b.ToLine() + "\n" + a.ToLine() + "\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("anchor line 2"), std::string::npos);
}

TEST(AnchorSegmentTest, ReconcileTreatsTheLinkedSealAsTheLastAnchored) {
  AnchorRecord link_seal;
  link_seal.index = 6;
  link_seal.entry_hash = "h6";
  AnchorRecord next;
  next.segment = 1;
  next.index = 4;
  next.entry_hash = "n4";
  auto skip = ReconcileAnchorHead(link_seal, link_seal, {next});
  ASSERT_TRUE(skip.ok());
  EXPECT_EQ(*skip, 0u);
  // Same index in another segment is a different seal.
  AnchorRecord other = next;
  other.segment = 0;
  EXPECT_FALSE(ReconcileAnchorHead(other, link_seal, {next}).ok());
  skip = ReconcileAnchorHead(next, link_seal, {next});
  ASSERT_TRUE(skip.ok());
  EXPECT_EQ(*skip, 1u);
}

}  // namespace
}  // namespace vv::audit

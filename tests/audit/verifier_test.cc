#include "audit/verifier.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "audit_test_util.h"
#include "fakes/temp_dir.h"
#include "json/json.h"

namespace vv::audit {
namespace {

using testutil::Details;
using testutil::Join;
using testutil::Line;
using testutil::MakeChain;
using testutil::MakeRecord;
using testutil::MakeSeal;

void ExpectBroken(const VerifyResult& r, int64_t line, std::string_view reason) {
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken_at, line) << r.detail;
  EXPECT_EQ(r.reason, reason) << r.detail;
  EXPECT_FALSE(r.detail.empty());
}

TEST(VerifierTest, EmptyLogIsOkWithZeroEntries) {
  VerifyResult r = VerifyLogText("");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(json::Canonical(r.ToJson()),
            R"({"entries":0,"latest_hash":"","ok":true,"sealed_size":0})");
}

TEST(VerifierTest, ValidChainReportsEntriesAndLatestHash) {
  auto lines = MakeChain(5);
  VerifyResult r = VerifyLogText(Join(lines));
  ASSERT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(json::Canonical(r.ToJson()),
            R"({"entries":5,"latest_hash":")" + lines[4].hash + R"(","ok":true,"sealed_size":0})");
}

TEST(VerifierTest, FailureJsonHasReferenceShapePlusDetail) {
  auto lines = MakeChain(3);
  lines[1].text.replace(lines[1].text.find("\"r2\""), 4, "\"rX\"");
  json::Value v = VerifyLogText(Join(lines)).ToJson();
  EXPECT_EQ(v.Find("ok")->as_bool(), false);
  EXPECT_EQ(v.Find("broken_at")->as_int64(), 2);
  EXPECT_EQ(v.Find("reason")->as_string(), "entry_hash_mismatch");
  ASSERT_NE(v.Find("detail"), nullptr);
  EXPECT_EQ(v.as_object().size(), 4u);
}

TEST(VerifierTest, EditedDetailsFieldIsEntryHashMismatchAtThatLine) {
  auto lines = MakeChain(6);
  std::string& t = lines[3].text;  // line 4
  t.replace(t.find("\"r4\""), 4, "\"r9\"");
  ExpectBroken(VerifyLogText(Join(lines)), 4, kReasonEntryHashMismatch);
}

TEST(VerifierTest, EditedEntryHashIsEntryHashMismatch) {
  auto lines = MakeChain(3);
  std::string& t = lines[2].text;
  size_t p = t.find(lines[2].hash);
  t[p] = t[p] == 'a' ? 'b' : 'a';
  ExpectBroken(VerifyLogText(Join(lines)), 3, kReasonEntryHashMismatch);
}

// Deleting a middle line leaves the next line's own hash intact, but its previous_hash names
// the deleted line: previous_hash_mismatch (checked before the index).
TEST(VerifierTest, DeletedMiddleLineIsPreviousHashMismatch) {
  auto lines = MakeChain(5);
  lines.erase(lines.begin() + 2);  // delete line 3
  ExpectBroken(VerifyLogText(Join(lines)), 3, kReasonPreviousHashMismatch);
}

// An attacker who deletes a line and relinks the next one (recomputing its hash) is still
// caught by the numbering.
TEST(VerifierTest, DeletedLineWithRelinkedSuccessorIsIndexGap) {
  auto lines = MakeChain(5);
  Line relinked = MakeRecord(4, "2026-03-01T00:00:04+00:00", "telemetry.accepted",
                             "telemetry_gateway", Details("r4"), lines[1].hash);
  std::vector<Line> tampered = {lines[0], lines[1], relinked};
  ExpectBroken(VerifyLogText(Join(tampered)), 3, kReasonIndexGap);
}

TEST(VerifierTest, SwappedLinesArePreviousHashMismatchAtFirstSwappedLine) {
  auto lines = MakeChain(5);
  std::swap(lines[1], lines[2]);
  ExpectBroken(VerifyLogText(Join(lines)), 2, kReasonPreviousHashMismatch);
}

TEST(VerifierTest, FirstLineMustHaveEmptyPreviousHashAndIndexOne) {
  auto lines = MakeChain(3);
  lines.erase(lines.begin());  // front truncation
  ExpectBroken(VerifyLogText(Join(lines)), 1, kReasonPreviousHashMismatch);
  Line bad_index = MakeRecord(2, "t", "e", "a", Details("r"), "");
  ExpectBroken(VerifyLogText(bad_index.text + "\n"), 1, kReasonIndexGap);
}

TEST(VerifierTest, MalformedLinesAreReportedNotThrown) {
  auto good = MakeChain(2);
  const std::string prefix = Join(good);
  const std::vector<std::string> bad = {
      "not json", "[1,2,3]",        "\"string\"",
      "",  // empty line in the middle
      "{}",       R"({"index":3})", "{\"actor\":\"a\"",
  };
  for (const std::string& b : bad) {
    ExpectBroken(VerifyLogText(prefix + b + "\n" + good[0].text + "\n"), 3, kReasonMalformedLine);
  }
}

TEST(VerifierTest, WrongTypesMissingAndExtraKeysAreMalformed) {
  auto good = MakeChain(1);
  json::Value base = json::Parse(MakeChain(2)[1].text).value();
  auto with = [&](const std::string& key, json::Value v) {
    json::Value r = base;
    if (v.is_null() && key != "details") {
      r.Erase(key);
    } else {
      r.Set(key, std::move(v));
    }
    return Join(good) + json::Canonical(r) + "\n";
  };
  ExpectBroken(VerifyLogText(with("index", "2")), 2, kReasonMalformedLine);
  ExpectBroken(VerifyLogText(with("index", 2.0)), 2, kReasonMalformedLine);
  ExpectBroken(VerifyLogText(with("index", json::Value::IntFromDecimal("99999999999999999999999"))),
               2, kReasonMalformedLine);
  ExpectBroken(VerifyLogText(with("details", json::Value())), 2, kReasonMalformedLine);
  ExpectBroken(VerifyLogText(with("details", "x")), 2, kReasonMalformedLine);
  ExpectBroken(VerifyLogText(with("actor", 5)), 2, kReasonMalformedLine);
  ExpectBroken(VerifyLogText(with("entry_hash", json::Value())), 2, kReasonMalformedLine);
  ExpectBroken(VerifyLogText(with("timestamp", json::Value())), 2, kReasonMalformedLine);
  ExpectBroken(VerifyLogText(with("extra", 1)), 2, kReasonMalformedLine);
}

TEST(VerifierTest, LastLineWithoutNewlineIsTornTail) {
  auto lines = MakeChain(3);
  std::string text = Join(lines);
  text.pop_back();  // a complete record, but the write was torn before '\n'
  ExpectBroken(VerifyLogText(text), 3, kReasonTornTail);
  ExpectBroken(VerifyLogText(Join(lines) + "{\"actor\":\"tele"), 4, kReasonTornTail);
}

TEST(VerifierTest, ReferenceStyleDuplicateSealIndicesStillVerify) {
  // The reference with seal_every=2: indices 1, 2, 2(seal), 4, 4(seal), 6, 6(seal), 8.
  std::vector<Line> lines;
  std::string prev;
  auto entry = [&](int64_t index) {
    lines.push_back(MakeRecord(index, "2026-03-01T00:00:00+00:00", "telemetry.accepted",
                               "telemetry_gateway", Details("r" + std::to_string(index)), prev));
    prev = lines.back().hash;
  };
  auto seal = [&](int64_t index) {
    lines.push_back(MakeSeal(index, index, prev, "2026-03-01T00:00:00.5+00:00"));
    prev = lines.back().hash;
  };
  entry(1);
  entry(2);
  seal(2);
  entry(4);
  seal(4);
  entry(6);
  seal(6);
  entry(8);
  VerifyResult r = VerifyLogText(Join(lines));
  ASSERT_TRUE(r.ok) << r.reason << " " << r.detail;
  EXPECT_EQ(r.entries, 8);
  EXPECT_EQ(r.latest_hash, lines.back().hash);
}

TEST(VerifierTest, DuplicateIndexOnlyAllowedForSeals) {
  auto lines = MakeChain(2);
  Line dup =
      MakeRecord(2, "t", "telemetry.accepted", "telemetry_gateway", Details("r"), lines[1].hash);
  lines.push_back(dup);
  ExpectBroken(VerifyLogText(Join(lines)), 3, kReasonIndexGap);
}

TEST(VerifierTest, OurSealFormatVerifies) {
  auto lines = MakeChain(2);
  lines.push_back(MakeSeal(3, 2, lines[1].hash, "2026-03-01T00:00:03+00:00"));
  VerifyResult r = VerifyLogText(Join(lines));
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.entries, 3);
}

TEST(VerifierTest, SealThatDoesNotSealThePreviousEntryIsSealMismatch) {
  auto lines = MakeChain(2);
  // Correctly linked and hashed, but claims to seal entry 1.
  auto wrong_index = lines;
  wrong_index.push_back(MakeSeal(3, 1, lines[1].hash, "2026-03-01T00:00:03+00:00"));
  ExpectBroken(VerifyLogText(Join(wrong_index)), 3, kReasonSealMismatch);

  // last_entry_hash names another hash.
  json::Value d = json::Value::MakeObject();
  d.Set("sealed_index", 2);
  d.Set("last_entry_hash", lines[0].hash);
  d.Set("sealed_at", "2026-03-01T00:00:03+00:00");
  auto wrong_hash = lines;
  wrong_hash.push_back(
      MakeRecord(3, "2026-03-01T00:00:03+00:00", "log.sealed", "SYSTEM", d, lines[1].hash));
  ExpectBroken(VerifyLogText(Join(wrong_hash)), 3, kReasonSealMismatch);

  // Missing seal details.
  auto no_details = lines;
  no_details.push_back(MakeRecord(3, "2026-03-01T00:00:03+00:00", "log.sealed", "SYSTEM",
                                  json::Value::MakeObject(), lines[1].hash));
  ExpectBroken(VerifyLogText(Join(no_details)), 3, kReasonSealMismatch);

  // A seal on line 1 seals nothing.
  Line first = MakeSeal(1, 0, "", "2026-03-01T00:00:03+00:00");
  ExpectBroken(VerifyLogText(first.text + "\n"), 1, kReasonSealMismatch);

  // A seal of a seal.
  auto double_seal = lines;
  double_seal.push_back(MakeSeal(3, 2, lines[1].hash, "2026-03-01T00:00:03+00:00"));
  double_seal.push_back(MakeSeal(4, 3, double_seal[2].hash, "2026-03-01T00:00:04+00:00"));
  ExpectBroken(VerifyLogText(Join(double_seal)), 4, kReasonSealMismatch);
}

TEST(VerifierTest, GarbageNeverCrashes) {
  std::mt19937 rng(12345);
  for (int i = 0; i < 300; ++i) {
    std::string s(rng() % 400, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    if (i % 3 == 0) s += "\n";
    VerifyResult r = VerifyLogText(s);
    if (!s.empty()) {
      EXPECT_FALSE(r.ok);
      EXPECT_EQ(r.broken_at, 1);
    }
  }
  EXPECT_FALSE(VerifyLogText(std::string(1000, '[') + "\n").ok);
  EXPECT_FALSE(VerifyLogText(std::string(5, '\0')).ok);
  EXPECT_EQ(VerifyLogText("\n").reason, kReasonMalformedLine);
}

TEST(VerifierTest, FileVersionMatchesTextVersion) {
  testing::TempDir dir;
  auto lines = MakeChain(4);
  std::vector<std::string> texts = {Join(lines), "", "garbage\n", Join(lines) + "torn"};
  auto swapped = lines;
  std::swap(swapped[0], swapped[3]);
  texts.push_back(Join(swapped));
  for (const auto& t : texts) {
    std::string path = dir.File("log.jsonl");
    testing::WriteFile(path, t);
    EXPECT_EQ(json::Canonical(VerifyLogFile(path).ToJson()),
              json::Canonical(VerifyLogText(t).ToJson()));
  }
}

TEST(VerifierTest, HugeLineInFileIsMalformedWithBoundedMemory) {
  testing::TempDir dir;
  std::string path = dir.File("huge.jsonl");
  auto lines = MakeChain(1);
  std::string huge(kMaxLineBytes + 1000, 'x');
  testing::WriteFile(path, Join(lines) + huge + "\n" + Join(lines));
  VerifyResult r = VerifyLogFile(path);
  ExpectBroken(r, 2, kReasonMalformedLine);
}

TEST(VerifierTest, MissingFileIsIoError) {
  VerifyResult r = VerifyLogFile("/nonexistent/dir/audit.jsonl");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, kReasonIoError);
  EXPECT_EQ(r.broken_at, 0);
}

}  // namespace
}  // namespace vv::audit

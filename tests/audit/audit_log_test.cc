#include "audit/audit_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/file.h>

#include <filesystem>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "audit/record.h"
#include "audit/verifier.h"
#include "audit_test_util.h"
#include "fakes/fake_clock.h"
#include "fakes/temp_dir.h"
#include "json/json.h"

namespace vv::audit {
namespace {

using testutil::Details;
using testutil::Join;
using testutil::MakeChain;
using testutil::MakeRecord;
using testutil::MakeSeal;
using testutil::SplitLines;

constexpr int64_t kMarch1 = 1772323200;  // 2026-03-01T00:00:00Z

class AuditLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<AuditLog> OpenLog(int64_t seal_every = 50,
                                    FsyncPolicy fsync = FsyncPolicy::kNone) {
    AuditLogOptions opts;
    opts.seal_every = seal_every;
    opts.fsync = fsync;
    auto r = AuditLog::Open(path_, opts, clock_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::vector<json::Value> Records() {
    std::vector<json::Value> out;
    for (const auto& l : SplitLines(testing::ReadFile(path_)))
      out.push_back(json::Parse(l).value());
    return out;
  }

  testing::TempDir dir_;
  std::string path_ = dir_.File("audit.jsonl");
  testing::FakeClock clock_{kMarch1};
};

TEST_F(AuditLogTest, ReproducesVectorA6ByteForByte) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Append("telemetry.accepted", "telemetry_gateway", Details("r1")).ok());
    clock_.AdvanceSeconds(1);
    json::Value d = Details("r2");
    d.Set("status_code", 401);
    d.Set("detail", "Invalid telemetry signature");
    ASSERT_TRUE(log->Append("telemetry.rejected", "telemetry_gateway", d).ok());
  }
  const std::string h1 = "b8b9dedfd030966105bcaa78d275968663a65ea1fbccc8e1fed11a9c61722085";
  const std::string h2 = "a8f4e69753af334a7dd681aed59e2ee517d535365d2e287118bef4db79843e67";
  const std::string expected =
      R"({"actor":"telemetry_gateway","details":{"request_id":"r1"},"entry_hash":")" + h1 +
      R"(","event_type":"telemetry.accepted","index":1,"previous_hash":"","timestamp":"2026-03-01T00:00:00+00:00"})"
      "\n"
      R"({"actor":"telemetry_gateway","details":{"detail":"Invalid telemetry signature","request_id":"r2","status_code":401},"entry_hash":")" +
      h2 + R"(","event_type":"telemetry.rejected","index":2,"previous_hash":")" + h1 +
      R"(","timestamp":"2026-03-01T00:00:01+00:00"})"
      "\n";
  EXPECT_EQ(testing::ReadFile(path_), expected);
}

TEST(RecordTest, HashInputOfVectorA6IsTheDocumentedCanonicalForm) {
  RecordFields f{"1",
                 "2026-03-01T00:00:00+00:00",
                 "telemetry.accepted",
                 "telemetry_gateway",
                 R"({"request_id":"r1"})",
                 ""};
  EXPECT_EQ(
      HashInput(f),
      R"({"actor":"telemetry_gateway","details":{"request_id":"r1"},"event_type":"telemetry.accepted","index":1,"previous_hash":"","timestamp":"2026-03-01T00:00:00+00:00"})");
  EXPECT_EQ(EntryHash(f), "b8b9dedfd030966105bcaa78d275968663a65ea1fbccc8e1fed11a9c61722085");
}

TEST(RecordTest, SplicedLineEqualsCanonicalOfTheFullObject) {
  json::Value d =
      json::Parse(R"({"z":[1,2.5,null],"a":"\u00e9\u2028\ud83d\ude00\u007f\n"})").value();
  const std::string dc = json::Canonical(d);
  RecordFields f{"42", "2026-03-01T00:00:00.000001+00:00", "ev\"t\\", "act\u00e9", dc, "abc"};
  std::string line;
  AppendRecordLine(f, EntryHash(f), &line);
  testutil::Line want =
      MakeRecord(42, "2026-03-01T00:00:00.000001+00:00", "ev\"t\\", "act\u00e9", d, "abc");
  EXPECT_EQ(line, want.text + "\n");
}

TEST_F(AuditLogTest, TimestampKeepsMicrosecondsWhenNonZero) {
  clock_.SetMicros(kMarch1 * 1000000 + 123456);
  auto log = OpenLog();
  ASSERT_TRUE(log->Append("e", "a", Details("r")).ok());
  EXPECT_EQ(Records()[0].Find("timestamp")->as_string(), "2026-03-01T00:00:00.123456+00:00");
}

TEST_F(AuditLogTest, ReopenContinuesTheChain) {
  std::string hash_after_first;
  {
    auto log = OpenLog();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->Append("e", "a", Details("x")).ok());
    hash_after_first = log->last_hash();
  }
  {
    auto log = OpenLog();
    EXPECT_EQ(log->line_count(), 3);
    EXPECT_EQ(log->last_hash(), hash_after_first);
    ASSERT_TRUE(log->Append("e", "a", Details("y")).ok());
  }
  auto recs = Records();
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[3].Find("index")->as_int64(), 4);
  EXPECT_EQ(recs[3].Find("previous_hash")->as_string(), hash_after_first);
  VerifyResult r = VerifyLogFile(path_);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.entries, 4);
}

// Issue 12, item 1: a client-controlled string with invalid UTF-8 (an overlong "\n", a
// surrogate, a stray continuation byte, a truncated sequence) must not poison the chain:
// the record re-verifies, the log reopens, and it says which fields were replaced.
TEST_F(AuditLogTest, InvalidUtf8InDetailsIsReplacedAndTheChainStillVerifies) {
  const std::vector<std::string> hostile = {
      std::string("x\xC0\x8Ay"),     std::string("\xED\xA0\x80"),     std::string("\x80\x80"),
      std::string("ab\xE2\x82"),     std::string("\xF5\x80\x80\x80"), std::string("\xFF"),
      std::string("ok\xC3\xA9"),     std::string("\xE0\x80\xAF"),     std::string("\xF4\x90\x80\x80")};
  {
    auto log = OpenLog(/*seal_every=*/3);
    for (const auto& h : hostile) {
      json::Value d = json::Value::MakeObject();
      d.Set("identity", h);
      d.Set(h, "as a key");
      json::Value nested = json::Value::MakeObject();
      nested.Set("x-service-identity", h);
      d.Set("headers", std::move(nested));
      ASSERT_TRUE(log->Append("telemetry.rejected", "gw", std::move(d)).ok());
    }
  }
  VerifyResult r = VerifyLogFile(path_);
  ASSERT_TRUE(r.ok) << r.detail;
  {
    auto log = OpenLog(3);  // a restart after any input must succeed
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(log->Append("e", "a", Details("after")).ok());
  }
  r = VerifyLogFile(path_);
  ASSERT_TRUE(r.ok) << r.detail;
  int marked = 0, valid_left_alone = 0;
  for (const auto& rec : Records()) {
    const json::Value* d = rec.Find("details");
    if (d == nullptr || d->Find("identity") == nullptr) continue;
    const json::Value* m = d->Find(kUntrustedBytesReplacedKey);
    if (d->Find("identity")->as_string() == "ok\xC3\xA9") {
      EXPECT_EQ(m, nullptr);  // valid UTF-8 is written as sent, unmarked
      ++valid_left_alone;
      continue;
    }
    ASSERT_NE(m, nullptr) << json::Canonical(*d);
    ++marked;
    std::string paths = json::Canonical(*m);
    EXPECT_NE(paths.find("identity"), std::string::npos) << paths;
    EXPECT_NE(paths.find("headers.x-service-identity"), std::string::npos) << paths;
  }
  EXPECT_EQ(marked, static_cast<int>(hostile.size()) - 1);
  EXPECT_EQ(valid_left_alone, 1);
}

TEST(RecordTest, NonFiniteDoublesInDetailsBecomeStrings) {
  json::Value d = json::Value::MakeObject();
  d.Set("v", std::numeric_limits<double>::quiet_NaN());
  EXPECT_TRUE(ReplaceInvalidUtf8(&d));
  EXPECT_TRUE(json::Parse(json::Canonical(d)).ok()) << json::Canonical(d);
}

TEST_F(AuditLogTest, SealCadenceEveryTwoNumbersSealsConsecutively) {
  {
    auto log = OpenLog(2);
    for (int i = 1; i <= 5; ++i) {
      ASSERT_TRUE(log->Append("e", "a", Details("r" + std::to_string(i))).ok());
    }
    EXPECT_EQ(log->line_count(), 7);
  }
  auto recs = Records();
  ASSERT_EQ(recs.size(), 7u);
  const std::vector<std::string> types = {"e", "e", "log.sealed", "e", "e", "log.sealed", "e"};
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].Find("index")->as_int64(), static_cast<int64_t>(i + 1));
    EXPECT_EQ(recs[i].Find("event_type")->as_string(), types[i]);
  }
  for (size_t seal : {2u, 5u}) {
    const json::Value& s = recs[seal];
    const json::Value& sealed = recs[seal - 1];
    EXPECT_EQ(s.Find("actor")->as_string(), "SYSTEM");
    EXPECT_EQ(s.Find("previous_hash")->as_string(), sealed.Find("entry_hash")->as_string());
    const json::Value& d = *s.Find("details");
    EXPECT_EQ(d.Find("sealed_index")->as_int64(), sealed.Find("index")->as_int64());
    EXPECT_EQ(d.Find("last_entry_hash")->as_string(), sealed.Find("entry_hash")->as_string());
    EXPECT_EQ(d.Find("sealed_at")->as_string(), s.Find("timestamp")->as_string());
  }
  EXPECT_TRUE(VerifyLogFile(path_).ok);
}

TEST_F(AuditLogTest, SealCadenceCountsEntriesAcrossReopen) {
  {
    auto log = OpenLog(3);
    ASSERT_TRUE(log->Append("e", "a", {}).ok());
    ASSERT_TRUE(log->Append("e", "a", {}).ok());
  }
  {
    auto log = OpenLog(3);
    ASSERT_TRUE(log->Append("e", "a", {}).ok());
    EXPECT_EQ(log->line_count(), 4);  // the third entry was sealed
  }
  EXPECT_EQ(Records()[3].Find("event_type")->as_string(), "log.sealed");
  EXPECT_TRUE(VerifyLogFile(path_).ok);
}

TEST_F(AuditLogTest, SealEveryOneSealsEachEntry) {
  {
    auto log = OpenLog(1);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->Append("e", "a", {}).ok());
  }
  VerifyResult r = VerifyLogFile(path_);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.entries, 6);
}

TEST_F(AuditLogTest, InvalidOptionsAndDetailsAreRejected) {
  AuditLogOptions opts;
  opts.seal_every = 0;
  EXPECT_EQ(AuditLog::Open(path_, opts, clock_).status().code(), StatusCode::kInvalidArgument);
  auto log = OpenLog();
  EXPECT_EQ(log->Append("e", "a", json::Value("text")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log->Append("e", "a", json::Value::MakeArray()).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(log->Append("e", "a", json::Value()).ok());  // null -> {}
  EXPECT_EQ(Records()[0].Find("details")->as_object().size(), 0u);
  EXPECT_EQ(log->line_count(), 1);
}

TEST_F(AuditLogTest, ConcurrentAppendsFromFourThreadsFormAValidChain) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  {
    auto log = OpenLog(7, FsyncPolicy::kBatch);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          json::Value d = Details("t" + std::to_string(t) + "-" + std::to_string(i));
          EXPECT_TRUE(log->Append("telemetry.accepted", "telemetry_gateway", d).ok());
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  VerifyResult r = VerifyLogFile(path_);
  ASSERT_TRUE(r.ok) << r.broken_at << " " << r.reason << " " << r.detail;
  const int entries = kThreads * kPerThread;
  EXPECT_EQ(r.entries, entries + entries / 7);
}

TEST_F(AuditLogTest, AlwaysFsyncPolicyWritesAValidChain) {
  {
    auto log = OpenLog(2, FsyncPolicy::kAlways);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->Append("e", "a", {}).ok());
  }
  EXPECT_EQ(VerifyLogFile(path_).entries, 4);
}

TEST_F(AuditLogTest, SecondWriterIsRefusedUntilTheFirstCloses) {
  auto first = OpenLog();
  ASSERT_NE(first, nullptr);
  auto second = AuditLog::Open(path_, AuditLogOptions{}, clock_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("another writer"), std::string::npos);
  first.reset();
  EXPECT_TRUE(AuditLog::Open(path_, AuditLogOptions{}, clock_).ok());
}

// Every refusal of Open closes what it opened (RAII descriptors, issue 13): the lock of the
// refused second writer and of a broken log is released, no descriptor left behind.
int OpenDescriptors() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST_F(AuditLogTest, RefusedOpensLeaveNoDescriptorBehind) {
  auto first = OpenLog();
  ASSERT_NE(first, nullptr);
  const int before = OpenDescriptors();
  for (int i = 0; i < 20; ++i) ASSERT_FALSE(AuditLog::Open(path_, AuditLogOptions{}, clock_).ok());
  EXPECT_EQ(OpenDescriptors(), before) << "refused second writer";
  first.reset();

  auto lines = MakeChain(4);
  lines[1].text.replace(lines[1].text.find("\"r2\""), 4, "\"rZ\"");
  testing::WriteFile(path_, Join(lines));
  const int before_broken = OpenDescriptors();
  for (int i = 0; i < 20; ++i) {
    auto r = AuditLog::Open(path_, AuditLogOptions{}, clock_);
    ASSERT_FALSE(r.ok());
    ASSERT_EQ(r.status().code(), StatusCode::kDataLoss);
  }
  EXPECT_EQ(OpenDescriptors(), before_broken) << "broken chain";
  // The file is not left locked: another process-level writer could take it.
  const int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  ::close(fd);
}

TEST_F(AuditLogTest, TornTailIsTruncatedAndRecordedOnReopen) {
  {
    auto log = OpenLog();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->Append("e", "a", {}).ok());
  }
  const std::string good = testing::ReadFile(path_);
  const std::string torn = R"({"actor":"telemetry_gateway","details":{"req)";
  testing::WriteFile(path_, good + torn);
  EXPECT_EQ(VerifyLogFile(path_).reason, kReasonTornTail);
  {
    auto log = OpenLog();
    EXPECT_EQ(log->line_count(), 4);
  }
  const std::string after = testing::ReadFile(path_);
  ASSERT_EQ(after.compare(0, good.size(), good), 0);  // the good prefix untouched
  auto recs = Records();
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[3].Find("event_type")->as_string(), "audit.recovered");
  EXPECT_EQ(recs[3].Find("actor")->as_string(), "SYSTEM");
  EXPECT_EQ(recs[3].Find("index")->as_int64(), 4);
  EXPECT_EQ(recs[3].Find("details")->Find("truncated_bytes")->as_int64(),
            static_cast<int64_t>(torn.size()));
  EXPECT_EQ(recs[3].Find("details")->Find("reason")->as_string(), "torn_tail");
  EXPECT_TRUE(VerifyLogFile(path_).ok);
}

TEST_F(AuditLogTest, UnparsableLastLineIsTreatedAsTornTail) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Append("e", "a", {}).ok());
  }
  testing::WriteFile(path_, testing::ReadFile(path_) + std::string(7, '\0') + "\n");
  {
    auto log = OpenLog();
    ASSERT_NE(log, nullptr);
  }
  auto recs = Records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].Find("details")->Find("truncated_bytes")->as_int64(), 8);
  EXPECT_TRUE(VerifyLogFile(path_).ok);
}

TEST_F(AuditLogTest, TornOnlyLineRecoversToAFreshChain) {
  testing::WriteFile(path_, "{\"act");
  {
    auto log = OpenLog();
    ASSERT_NE(log, nullptr);
  }
  auto recs = Records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].Find("previous_hash")->as_string(), "");
  EXPECT_TRUE(VerifyLogFile(path_).ok);
}

TEST_F(AuditLogTest, CorruptEarlierLineRefusesToOpen) {
  auto lines = MakeChain(4);
  std::string& t = lines[1].text;
  t.replace(t.find("\"r2\""), 4, "\"rZ\"");
  const std::string content = Join(lines) + "torn";
  testing::WriteFile(path_, content);
  auto r = AuditLog::Open(path_, AuditLogOptions{}, clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("line 2"), std::string::npos) << r.status().message();
  EXPECT_EQ(testing::ReadFile(path_), content);  // nothing truncated or appended
}

TEST_F(AuditLogTest, TamperedLastCompleteLineIsNotMistakenForATornTail) {
  auto lines = MakeChain(3);
  std::string& t = lines[2].text;
  t.replace(t.find("\"r3\""), 4, "\"rZ\"");
  testing::WriteFile(path_, Join(lines));
  auto r = AuditLog::Open(path_, AuditLogOptions{}, clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("line 3"), std::string::npos);
}

TEST_F(AuditLogTest, ContinuesAReferenceStyleLog) {
  // Reference log with seal_every=2: 1, 2, 2(seal), 4.
  std::vector<testutil::Line> lines = MakeChain(2);
  lines.push_back(MakeSeal(2, 2, lines[1].hash, "2026-03-01T00:00:02+00:00"));
  lines.push_back(
      MakeRecord(4, "2026-03-01T00:00:03+00:00", "e", "a", Details("r4"), lines[2].hash));
  testing::WriteFile(path_, Join(lines));
  ASSERT_TRUE(VerifyLogFile(path_).ok);
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Append("e", "a", {}).ok());
  }
  auto recs = Records();
  ASSERT_EQ(recs.size(), 5u);
  EXPECT_EQ(recs[4].Find("index")->as_int64(), 5);
  VerifyResult r = VerifyLogFile(path_);
  EXPECT_TRUE(r.ok) << r.detail;
}

// A write that hits the file-size limit (EFBIG) must fail closed with Unavailable and roll
// back the partial line, so the chain stays verifiable. Runs in a child process because the
// limit is process-wide.
TEST_F(AuditLogTest, FailedWriteIsUnavailableAndRolledBack) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Append("e", "a", Details("first")).ok());
  }
  const off_t limit = static_cast<off_t>(testing::ReadFile(path_).size()) + 300;
  const int child = testutil::RunWithFileSizeLimit(limit, [&] {
    AuditLogOptions opts;
    opts.fsync = FsyncPolicy::kNone;
    auto log = AuditLog::Open(path_, opts, clock_);
    if (!log.ok()) return 1;
    json::Value big = Details(std::string(200, 'x'));
    Status s;
    for (int i = 0; i < 10 && s.ok(); ++i) s = (*log)->Append("e", "a", big);
    if (s.ok()) return 2;
    if (s.code() != StatusCode::kUnavailable) return 3;
    if (!VerifyLogFile(path_).ok) return 4;
    return 0;
  });
  EXPECT_EQ(child, 0);
  VerifyResult r = VerifyLogFile(path_);
  EXPECT_TRUE(r.ok) << r.reason << " " << r.detail;
  EXPECT_GE(r.entries, 1);
}

TEST_F(AuditLogTest, SecondWriterInAnotherProcessIsRefused) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto r = AuditLog::Open(path_, AuditLogOptions{}, clock_);
    ::_exit(!r.ok() && r.status().code() == StatusCode::kUnavailable ? 0 : 1);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
}

}  // namespace
}  // namespace vv::audit

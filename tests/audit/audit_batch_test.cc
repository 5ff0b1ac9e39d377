// AuditLog::AppendBatch (issue 15): a batch of records is one write() under one lock, byte for
// byte what the same records appended one by one give (seals where they fall), stops at its
// first failure, and a failed write rolls the whole batch back (the chain goes on unbroken).

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "audit/audit_log.h"
#include "audit/verifier.h"
#include "audit_test_util.h"
#include "fakes/fake_clock.h"
#include "fakes/temp_dir.h"

namespace vv::audit {
namespace {

using testutil::Details;

constexpr int64_t kMarch1 = 1772323200;  // 2026-03-01T00:00:00Z

class AuditBatchTest : public ::testing::Test {
 protected:
  std::unique_ptr<AuditLog> Open(const std::string& path, int64_t seal_every,
                                 FsyncPolicy fsync = FsyncPolicy::kNone) {
    AuditLogOptions opts;
    opts.seal_every = seal_every;
    opts.fsync = fsync;
    auto r = AuditLog::Open(path, opts, clock_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  static std::vector<AuditEntry> Entries(int n, const std::string& prefix) {
    std::vector<AuditEntry> out;
    for (int i = 0; i < n; ++i)
      out.push_back({"telemetry.accepted", "telemetry_gateway",
                     Details(prefix + std::to_string(i))});
    return out;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_{kMarch1};
};

TEST_F(AuditBatchTest, OneWriteByteForByteTheSequentialAppends) {
  const std::string one_by_one = dir_.File("one.jsonl"), batched = dir_.File("batch.jsonl");
  constexpr int kN = 7;  // seal_every 3: two seals fall inside the batch
  {
    auto log = Open(one_by_one, 3);
    for (AuditEntry& e : Entries(kN, "r"))
      ASSERT_TRUE(log->Append(e.event_type, e.actor, std::move(e.details)).ok());
  }
  {
    auto log = Open(batched, 3);
    const uint64_t writes_before = log->record_writes();
    std::vector<AuditEntry> entries = Entries(kN, "r");
    std::vector<Status> st = log->AppendBatch(entries);
    ASSERT_EQ(st.size(), static_cast<size_t>(kN));
    for (const Status& s : st) EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(log->record_writes() - writes_before, 1u);
    EXPECT_EQ(log->line_count(), kN + 2);
    // The chain goes on after the batch as after single appends.
    ASSERT_TRUE(log->Append("e", "a", Details("after")).ok());
  }
  {
    auto log = Open(one_by_one, 3);
    ASSERT_TRUE(log->Append("e", "a", Details("after")).ok());
  }
  EXPECT_EQ(testing::ReadFile(batched), testing::ReadFile(one_by_one));
  VerifyResult r = VerifyLogFile(batched);
  EXPECT_TRUE(r.ok) << r.reason << " " << r.detail;
}

TEST_F(AuditBatchTest, StopsAtTheFirstFailure) {
  const std::string path = dir_.File("audit.jsonl");
  auto log = Open(path, 50);
  std::vector<AuditEntry> entries = Entries(4, "r");
  entries[2].details = json::Value("not an object");
  std::vector<Status> st = log->AppendBatch(entries);
  ASSERT_EQ(st.size(), 4u);
  EXPECT_TRUE(st[0].ok());
  EXPECT_TRUE(st[1].ok());
  EXPECT_EQ(st[2].code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st[3].code(), StatusCode::kUnavailable);
  EXPECT_EQ(log->line_count(), 2);
  EXPECT_TRUE(log->AppendBatch(entries = {}).empty());
  EXPECT_TRUE(VerifyLogFile(path).ok);
}

TEST_F(AuditBatchTest, FailedWriteRollsTheWholeBatchBackAndTheChainGoesOn) {
  const std::string path = dir_.File("audit.jsonl");
  {
    auto log = Open(path, 3);
    ASSERT_TRUE(log->Append("e", "a", Details("first")).ok());
  }
  const off_t limit = static_cast<off_t>(testing::ReadFile(path).size()) + 1800;
  const int child = testutil::RunWithFileSizeLimit(limit, [&] {
    AuditLogOptions opts;
    opts.seal_every = 3;
    opts.fsync = FsyncPolicy::kNone;
    auto log = AuditLog::Open(path, opts, clock_);
    if (!log.ok()) return 1;
    // Twenty records (and six seals) do not fit under the limit: none is written.
    std::vector<AuditEntry> entries = Entries(20, std::string(100, 'x'));
    for (const Status& s : (*log)->AppendBatch(entries))
      if (s.code() != StatusCode::kUnavailable) return 2;
    if ((*log)->line_count() != 1) return 3;
    // The state was put back: the next record is line 2 and its seal follows at line 4.
    if (!(*log)->Append("e", "a", Details("second")).ok()) return 4;
    if (!(*log)->Append("e", "a", Details("third")).ok()) return 5;
    if ((*log)->line_count() != 4) return 6;
    return VerifyLogFile(path).ok ? 0 : 7;
  });
  EXPECT_EQ(child, 0);
  VerifyResult r = VerifyLogFile(path);
  EXPECT_TRUE(r.ok) << r.reason << " " << r.detail;
  EXPECT_EQ(r.entries, 4);
}

TEST_F(AuditBatchTest, BatchesAndSingleAppendsFromSeveralThreadsFormAValidChain) {
  const std::string path = dir_.File("audit.jsonl");
  constexpr int kThreads = 4, kRounds = 50, kBatch = 5;
  {
    auto log = Open(path, 7, FsyncPolicy::kBatch);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kRounds; ++i) {
          if (t % 2 == 0) {
            std::vector<AuditEntry> entries = Entries(kBatch, "t" + std::to_string(t) + "-");
            for (const Status& s : log->AppendBatch(entries)) EXPECT_TRUE(s.ok());
          } else {
            for (int k = 0; k < kBatch; ++k)
              EXPECT_TRUE(log->Append("e", "a", Details("s" + std::to_string(k))).ok());
          }
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  VerifyResult r = VerifyLogFile(path);
  ASSERT_TRUE(r.ok) << r.broken_at << " " << r.reason << " " << r.detail;
  const int entries = kThreads * kRounds * kBatch;
  EXPECT_EQ(r.entries, entries + entries / 7);
}

}  // namespace
}  // namespace vv::audit

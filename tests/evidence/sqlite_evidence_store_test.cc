#include "evidence/sqlite_evidence_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "evidence/store_contract.h"
#include "fakes/temp_dir.h"
#include "sqlstore/sqlite_util.h"

namespace vv::evidence {
namespace {

using vv::testing::TempDir;

TEST(SqliteEvidenceStoreTest, SatisfiesStoreContract) {
  TempDir dir;
  auto store = SqliteEvidenceStore::Open(dir.File("evidence.db"));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  testing::RunStoreContract(**store);
  auto tenants = (*store)->Tenants();
  ASSERT_TRUE(tenants.ok());
  EXPECT_EQ(tenants->size(), 2u);
}

TEST(SqliteEvidenceStoreTest, SurvivesReopen) {
  TempDir dir;
  {
    auto store = SqliteEvidenceStore::Open(dir.File("evidence.db"));
    ASSERT_TRUE(store.ok());
    ASSERT_EQ(*(*store)->Put(testing::MakeRecord(testing::kTenantA, "e1")), PutOutcome::kStored);
  }
  auto store = SqliteEvidenceStore::Open(dir.File("evidence.db"));
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(*(*store)->Put(testing::MakeRecord(testing::kTenantA, "e1")), PutOutcome::kDuplicate);
  EXPECT_EQ(*(*store)->Count(testing::kTenantA), 1);
}

TEST(SqliteEvidenceStoreTest, PutBatchIsOneTransactionAllOrNothing) {
  TempDir dir;
  auto store = SqliteEvidenceStore::Open(dir.File("evidence.db"));
  ASSERT_TRUE(store.ok());
  testing::RunPutBatchContract(**store);
  // A row refused in the middle of a batch (a trigger, as an I/O error would) rolls the whole
  // batch back: every result is the error and nothing of it is stored.
  auto raw = sqlstore::Db::Open(dir.File("evidence.db"), "test");
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(sqlstore::Exec(raw->get(),
                             "CREATE TRIGGER refuse BEFORE INSERT ON evidence WHEN "
                             "NEW.event_id = 'boom' BEGIN SELECT RAISE(ABORT, 'refused'); END")
                  .ok());
  const int64_t before = *(*store)->Count(testing::kTenantA);
  auto out = (*store)->PutBatch({testing::MakeRecord(testing::kTenantA, "tx-1"),
                                 testing::MakeRecord(testing::kTenantA, "boom"),
                                 testing::MakeRecord(testing::kTenantA, "tx-2")});
  ASSERT_EQ(out.size(), 3u);
  for (const auto& r : out) EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(*(*store)->Count(testing::kTenantA), before);
  EXPECT_FALSE((*store)->Get(testing::kTenantA, "tx-1")->has_value());
  // The store is usable afterwards (no transaction left open).
  ASSERT_TRUE(sqlstore::Exec(raw->get(), "DROP TRIGGER refuse").ok());
  out = (*store)->PutBatch({testing::MakeRecord(testing::kTenantA, "tx-1"),
                            testing::MakeRecord(testing::kTenantA, "boom")});
  ASSERT_TRUE(out[0].ok() && out[1].ok());
  EXPECT_EQ(*out[0], PutOutcome::kStored);
  EXPECT_EQ(*(*store)->Count(testing::kTenantA), before + 2);
}

TEST(SqliteEvidenceStoreTest, RefusesNonStoreFiles) {
  TempDir dir;
  vv::testing::WriteFile(dir.File("junk.db"), std::string(4096, 'x'));
  EXPECT_FALSE(SqliteEvidenceStore::Open(dir.File("junk.db")).ok());
  EXPECT_FALSE(SqliteEvidenceStore::Open(dir.File("no/such/dir/e.db")).ok());
}

// Two engines started together on one new file both come up: creating the schema and switching
// to WAL can meet SQLITE_BUSY without SQLite's busy handler running (a read lock cannot wait to
// be upgraded), so opening retries those (found by the shared-consumer integration test).
TEST(SqliteEvidenceStoreTest, ConcurrentOpensOfOneNewFileAllSucceed) {
  TempDir dir;
  constexpr int kRounds = 20;
  constexpr int kOpeners = 4;
  for (int round = 0; round < kRounds; ++round) {
    const std::string path = dir.File("evidence-" + std::to_string(round) + ".db");
    std::atomic<int> ready{0};
    std::vector<std::string> failures(kOpeners);
    std::vector<std::thread> threads;
    for (int i = 0; i < kOpeners; ++i) {
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < kOpeners) std::this_thread::yield();
        auto store = SqliteEvidenceStore::Open(path);
        if (!store.ok()) failures[i] = store.status().ToString();
      });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < kOpeners; ++i) EXPECT_EQ(failures[i], "") << "round " << round;
  }
}

}  // namespace
}  // namespace vv::evidence

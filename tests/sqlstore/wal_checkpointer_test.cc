// WalCheckpointer: the log of an attached connection is copied into the database file by the
// checkpointer's thread, not by the committing connection; the log is bounded by the connection
// itself when the thread does not catch up (inline checkpoint, then the log rewinds); only a
// WAL-mode database is accepted; the data is whole after everything is closed.

#include "sqlstore/wal_checkpointer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "fakes/temp_dir.h"
#include "sqlstore/sqlite_util.h"

namespace vv::sqlstore {
namespace {

class WalCheckpointerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (db_ != nullptr) sqlite3_close(db_);
  }
  // Opens path_ in WAL mode (synchronous=FULL) with a table of 4 KB rows.
  void OpenWal() {
    ASSERT_EQ(OpenSqlite(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db_), SQLITE_OK);
    ASSERT_EQ(Run("PRAGMA journal_mode=WAL"), SQLITE_OK);
    ASSERT_EQ(Run("PRAGMA synchronous=FULL"), SQLITE_OK);
    ASSERT_EQ(Run("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)"), SQLITE_OK);
  }
  int Run(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }
  // One commit of one row of about a page: two frames or so.
  void CommitRow() { ASSERT_EQ(Run("INSERT INTO t (body) VALUES (zeroblob(4000))"), SQLITE_OK); }
  uintmax_t FileSize(const std::string& p) {
    std::error_code ec;
    const uintmax_t n = std::filesystem::file_size(p, ec);
    return ec ? 0 : n;
  }
  int64_t RowsSeenByAnotherConnection() {
    sqlite3* other = nullptr;
    int64_t n = -1;
    if (sqlite3_open_v2(path_.c_str(), &other, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(other, "SELECT count(*) FROM t", -1, &st, nullptr) == SQLITE_OK &&
          sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
      sqlite3_finalize(st);
    }
    sqlite3_close(other);
    return n;
  }

  vv::testing::TempDir dir_;
  const std::string path_ = dir_.File("ck.db");
  sqlite3* db_ = nullptr;
};

TEST_F(WalCheckpointerTest, TheThreadCopiesTheLogNotTheCommittingConnection) {
  OpenWal();
  WalCheckpointer::Options o;
  o.threshold_frames = 20;
  o.inline_frames = 1 << 30;  // never in the connection
  auto ck = WalCheckpointer::Start(path_, o);
  ASSERT_TRUE(ck.ok()) << ck.status().ToString();
  (*ck)->Attach(db_);
  const uintmax_t empty_db = FileSize(path_);
  for (int i = 0; i < 60; ++i) CommitRow();
  // The thread was woken past 20 frames; a checkpoint that copied everything follows once the
  // commits stop (each wake-up runs until the log is copied or commits outrun it).
  for (int i = 0; i < 1000 && (*ck)->complete_checkpoints() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if ((*ck)->checkpoints() > 0 && (*ck)->complete_checkpoints() == 0) CommitRow();
  }
  EXPECT_GT((*ck)->checkpoints(), 0u);
  EXPECT_GT((*ck)->complete_checkpoints(), 0u);
  EXPECT_EQ((*ck)->inline_checkpoints(), 0u);
  EXPECT_EQ((*ck)->errors(), 0u);
  // The pages are in the database file itself (60 rows of ~4 KB), not only in the log.
  EXPECT_GE(FileSize(path_), empty_db + 40u * 4096u);
  EXPECT_GE(RowsSeenByAnotherConnection(), 60);
}

// A log that cannot rewind (here a reader keeps an old snapshot, so no checkpoint copies past
// it; commits that outrun the thread do the same) still wakes the thread once per threshold of
// new frames, not at every commit (each wake-up a checkpoint and an fsync).
TEST_F(WalCheckpointerTest, AThresholdOfNewFramesNotEveryCommitWakesTheThread) {
  OpenWal();
  CommitRow();
  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &reader, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM t;", nullptr, nullptr, nullptr),
            SQLITE_OK);
  WalCheckpointer::Options o;
  o.threshold_frames = 20;
  o.inline_frames = 1 << 30;
  auto ck = WalCheckpointer::Start(path_, o);
  ASSERT_TRUE(ck.ok()) << ck.status().ToString();
  (*ck)->Attach(db_);
  constexpr int kCommits = 300;
  for (int i = 0; i < kCommits; ++i) {
    CommitRow();
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // the thread keeps up
  }
  // At most 3 frames a commit: 900 frames, 45 thresholds, one round each (the log stays long).
  EXPECT_GE((*ck)->checkpoints(), 1u);
  EXPECT_LE((*ck)->checkpoints(), 2u * (3u * kCommits / 20u) + 4u);
  EXPECT_EQ((*ck)->complete_checkpoints(), 0u);
  sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(reader);
}

TEST_F(WalCheckpointerTest, TheConnectionBoundsTheLogWhenTheThreadDoesNotCatchUp) {
  OpenWal();
  WalCheckpointer::Options o;
  o.threshold_frames = 10;
  o.inline_frames = 40;
  o.start_thread = false;  // a thread that never runs: the bound is the connection's
  auto ck = WalCheckpointer::Start(path_, o);
  ASSERT_TRUE(ck.ok()) << ck.status().ToString();
  (*ck)->Attach(db_);
  for (int i = 0; i < 200; ++i) CommitRow();
  EXPECT_GE((*ck)->inline_checkpoints(), 4u);
  EXPECT_EQ((*ck)->checkpoints(), 0u);
  // 200 commits of 2+ frames would make a log of 400+ frames (1.6 MB) if it never rewound; it
  // rewinds after each inline checkpoint, so it never holds much more than 40 frames.
  const uintmax_t frame = 4096 + 24;
  EXPECT_LE(FileSize(path_ + "-wal"), 32 + 48 * frame);
  EXPECT_EQ(RowsSeenByAnotherConnection(), 200);
}

TEST_F(WalCheckpointerTest, DataIsWholeInTheDatabaseFileAfterEverythingCloses) {
  OpenWal();
  auto ck = WalCheckpointer::Start(path_);
  ASSERT_TRUE(ck.ok()) << ck.status().ToString();
  (*ck)->Attach(db_);
  for (int i = 0; i < 30; ++i) CommitRow();
  sqlite3_close(db_);
  db_ = nullptr;
  (*ck).reset();  // the last connection: it checkpoints and removes the log
  EXPECT_FALSE(std::filesystem::exists(path_ + "-wal"));
  EXPECT_EQ(RowsSeenByAnotherConnection(), 30);
}

TEST_F(WalCheckpointerTest, OnlyAWalModeDatabaseIsAccepted) {
  auto missing = WalCheckpointer::Start(dir_.File("missing.db"));
  EXPECT_FALSE(missing.ok());
  ASSERT_EQ(OpenSqlite(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db_), SQLITE_OK);
  ASSERT_EQ(Run("CREATE TABLE t (id INTEGER PRIMARY KEY)"), SQLITE_OK);  // rollback journal
  auto not_wal = WalCheckpointer::Start(path_);
  ASSERT_FALSE(not_wal.ok());
  EXPECT_EQ(not_wal.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(not_wal.status().message().find("not in WAL mode"), std::string::npos);
}

}  // namespace
}  // namespace vv::sqlstore

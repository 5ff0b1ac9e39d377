// SQLite helpers: opening (created file, error message), Exec, prepared statements (typed
// binders and column readers, reuse after Reset, changes, NULL columns), error statuses.

#include "sqlstore/sqlite_util.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <utility>

#include "fakes/temp_dir.h"

namespace vv::sqlstore {
namespace {

using StepResult = Stmt::StepResult;

class SqliteUtilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Db::Open(dir_.File("t.db"), "test store");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(Exec(db_.get(), "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)")
                    .ok());
  }
  vv::testing::TempDir dir_;
  Db db_;
};

TEST_F(SqliteUtilTest, BindsStepsAndReadsTypedColumns) {
  Stmt ins(db_.get(), "INSERT INTO t (name, n) VALUES (?, ?)");
  ASSERT_TRUE(ins.ok());
  const std::string with_nul("a\0b", 3);
  ins.Bind(with_nul, int64_t{-7});
  EXPECT_EQ(ins.Step(), StepResult::kDone);
  EXPECT_EQ(ins.Changes(), 1);
  // Reset keeps the statement for the next row; explicit binders replace parameters.
  ins.Reset();
  ins.Text(1, "second");
  ins.Int(2, int64_t{1} << 40);
  EXPECT_EQ(ins.Step(), StepResult::kDone);

  Stmt sel(db_.get(), std::string("SELECT id, name, n FROM t ORDER BY id"));
  ASSERT_TRUE(sel.ok());
  ASSERT_EQ(sel.Step(), StepResult::kRow);
  int64_t id = 0;
  std::string name;
  int64_t n = 0;
  sel.Read(id, name, n);
  EXPECT_EQ(id, 1);
  EXPECT_EQ(name, with_nul);  // length-exact, embedded NUL kept
  EXPECT_EQ(n, -7);
  ASSERT_EQ(sel.Step(), StepResult::kRow);
  EXPECT_EQ(sel.ColText(1), "second");
  EXPECT_EQ(sel.ColInt(2), int64_t{1} << 40);
  EXPECT_EQ(sel.Step(), StepResult::kDone);
}

TEST_F(SqliteUtilTest, NullTextColumnIsEmpty) {
  ASSERT_TRUE(Exec(db_.get(), "INSERT INTO t (name, n) VALUES (NULL, NULL)").ok());
  Stmt sel(db_.get(), "SELECT name, n FROM t");
  ASSERT_EQ(sel.Step(), StepResult::kRow);
  EXPECT_EQ(sel.ColText(0), "");
  EXPECT_EQ(sel.ColInt(1), 0);
}

TEST_F(SqliteUtilTest, ChangesCountsOnlyMatchedRows) {
  ASSERT_TRUE(
      Exec(db_.get(), "INSERT INTO t (name) VALUES ('x'); INSERT INTO t (name) VALUES ('x')").ok());
  Stmt upd(db_.get(), "UPDATE t SET n = ? WHERE name = ?");
  upd.Bind(int64_t{5}, "x");
  ASSERT_EQ(upd.Step(), StepResult::kDone);
  EXPECT_EQ(upd.Changes(), 2);
  Stmt none(db_.get(), "UPDATE t SET n = 1 WHERE name = 'absent'");
  ASSERT_EQ(none.Step(), StepResult::kDone);
  EXPECT_EQ(none.Changes(), 0);
}

TEST_F(SqliteUtilTest, FailuresBecomeUnavailableWithTheCallersPrefix) {
  Stmt bad(db_.get(), "SELECT nope FROM t");
  EXPECT_FALSE(bad.ok());
  Status s = Error(db_.get(), "test store (sqlite): ", "prepare select");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "test store (sqlite): prepare select: no such column: nope");

  Status exec = Exec(db_.get(), "CREATE TABLE t (x)", "test: ");
  EXPECT_EQ(exec.code(), StatusCode::kUnavailable);
  EXPECT_EQ(exec.message(), "test: table t already exists");

  // A constraint violation is a step error.
  ASSERT_TRUE(Exec(db_.get(), "CREATE TABLE u (k TEXT UNIQUE)").ok());
  ASSERT_TRUE(Exec(db_.get(), "INSERT INTO u VALUES ('k')").ok());
  Stmt dup(db_.get(), "INSERT INTO u VALUES (?)");
  dup.Bind("k");
  EXPECT_EQ(dup.Step(), StepResult::kError);
}

TEST_F(SqliteUtilTest, RetryWhileBusyRetriesOnlyBusyAndLockedWithinTheBudget) {
  // BUSY (also as an extended code) and LOCKED are retried until the attempt succeeds.
  int calls = 0;
  EXPECT_EQ(RetryWhileBusy(db_.get(), 1000,
                           [&] {
                             ++calls;
                             if (calls == 1) return SQLITE_BUSY;
                             if (calls == 2) return SQLITE_BUSY_SNAPSHOT;
                             if (calls == 3) return SQLITE_LOCKED;
                             return SQLITE_OK;
                           }),
            SQLITE_OK);
  EXPECT_EQ(calls, 4);
  // Any other failure is returned at once.
  calls = 0;
  EXPECT_EQ(RetryWhileBusy(db_.get(), 1000, [&] { return ++calls, SQLITE_CORRUPT; }),
            SQLITE_CORRUPT);
  EXPECT_EQ(calls, 1);
  // A step that stays busy gives up once the budget is spent and returns the busy code.
  calls = 0;
  EXPECT_EQ(RetryWhileBusy(db_.get(), 30, [&] { return ++calls, SQLITE_BUSY; }), SQLITE_BUSY);
  EXPECT_GT(calls, 1);
  EXPECT_LT(calls, 10);
  // A transaction the failed attempt left open is rolled back before the next attempt.
  calls = 0;
  EXPECT_EQ(RetryWhileBusy(db_.get(), 1000,
                           [&] {
                             if (++calls == 1) {
                               EXPECT_TRUE(Exec(db_.get(), "BEGIN").ok());
                               return SQLITE_BUSY;
                             }
                             return Exec(db_.get(), "BEGIN").ok() ? SQLITE_OK : SQLITE_ERROR;
                           }),
            SQLITE_OK);
  EXPECT_TRUE(Exec(db_.get(), "COMMIT").ok());
}

TEST_F(SqliteUtilTest, ExecSetupReportsFailuresWithThePrefix) {
  EXPECT_TRUE(ExecSetup(db_.get(), "CREATE TABLE IF NOT EXISTS t (id INTEGER)").ok());
  Status bad = ExecSetup(db_.get(), "CREATE TABLE broken (,)", "store: ");
  EXPECT_EQ(bad.code(), StatusCode::kUnavailable);
  EXPECT_EQ(bad.message().rfind("store: ", 0), 0u) << bad.message();
  EXPECT_NE(bad.message().find("syntax error"), std::string::npos) << bad.message();
}

TEST(SqliteDbTest, OpenFailureNamesTheLabelAndPath) {
  vv::testing::TempDir dir;
  const std::string path = dir.File("no/such/dir/x.db");
  auto db = Db::Open(path, "graph store");
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(db.status().message().rfind("graph store: cannot open " + path + ": ", 0), 0u)
      << db.status().message();
}

TEST(SqliteDbTest, ConnectionsShareTheFileAndOwnershipMoves) {
  vv::testing::TempDir dir;
  auto a = Db::Open(dir.File("s.db"), "a");
  auto b = Db::Open(dir.File("s.db"), "b");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(Exec(a->get(), "PRAGMA journal_mode=WAL; CREATE TABLE k (v TEXT)").ok());
  ASSERT_TRUE(Exec(a->get(), "INSERT INTO k VALUES ('from a')").ok());
  Stmt sel(b->get(), "SELECT v FROM k");
  ASSERT_EQ(sel.Step(), StepResult::kRow);
  EXPECT_EQ(sel.ColText(0), "from a");

  Db moved = std::move(*a);
  EXPECT_EQ(a->get(), nullptr);
  ASSERT_NE(moved.get(), nullptr);
  EXPECT_TRUE(Exec(moved.get(), "SELECT 1").ok());
  Db assigned;
  assigned = std::move(moved);
  EXPECT_EQ(moved.get(), nullptr);
  EXPECT_TRUE(Exec(assigned.get(), "SELECT 1").ok());
  // release() hands the handle over; closing it is then the caller's job.
  sqlite3* raw = assigned.release();
  EXPECT_EQ(assigned.get(), nullptr);
  ASSERT_NE(raw, nullptr);
  {
    Stmt still_open(raw, "SELECT count(*) FROM k");
    ASSERT_EQ(still_open.Step(), StepResult::kRow);
    EXPECT_EQ(still_open.ColInt(0), 1);
  }
  EXPECT_EQ(sqlite3_close(raw), SQLITE_OK);
}

}  // namespace
}  // namespace vv::sqlstore

// The WAL-buffering VFS: a commit's frames reach the file in one write (counted at the system
// call SQLite's unix VFS makes), every commit is in the file when COMMIT returns (other
// connections and a process that dies right after see it, in synchronous=NORMAL too), frames
// of a rolled-back transaction never land on frames written later, a failed write fails the
// commit and leaves the database whole, and the layer reports itself in the VFS name chain.

#include "sqlstore/wal_buffer_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "fakes/temp_dir.h"

namespace vv::sqlstore {
namespace {

// Write system calls of SQLite's unix VFS, counted and optionally failed (ENOSPC), installed
// through its documented xSetSystemCall hook for the life of one test.
int g_writes = 0;
bool g_fail_writes = false;
sqlite3_syscall_ptr g_real_pwrite = nullptr;
sqlite3_syscall_ptr g_real_pwrite64 = nullptr;
sqlite3_syscall_ptr g_real_write = nullptr;

ssize_t CountingPwrite(int fd, const void* buf, size_t n, off_t off) {
  ++g_writes;
  if (g_fail_writes) {
    errno = ENOSPC;
    return -1;
  }
  return reinterpret_cast<ssize_t (*)(int, const void*, size_t, off_t)>(g_real_pwrite)(fd, buf, n,
                                                                                       off);
}
ssize_t CountingPwrite64(int fd, const void* buf, size_t n, off_t off) {
  ++g_writes;
  if (g_fail_writes) {
    errno = ENOSPC;
    return -1;
  }
  return reinterpret_cast<ssize_t (*)(int, const void*, size_t, off_t)>(g_real_pwrite64)(
      fd, buf, n, off);
}
ssize_t CountingWrite(int fd, const void* buf, size_t n) {
  ++g_writes;
  if (g_fail_writes) {
    errno = ENOSPC;
    return -1;
  }
  return reinterpret_cast<ssize_t (*)(int, const void*, size_t)>(g_real_write)(fd, buf, n);
}

class WalBufferVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto name = WalBufferVfsName();
    ASSERT_TRUE(name.ok()) << name.status().ToString();
    layered_ = *name;
    unix_ = sqlite3_vfs_find(nullptr);
    ASSERT_NE(unix_, nullptr);
    g_real_pwrite = unix_->xGetSystemCall(unix_, "pwrite");
    g_real_pwrite64 = unix_->xGetSystemCall(unix_, "pwrite64");
    g_real_write = unix_->xGetSystemCall(unix_, "write");
    if (g_real_pwrite != nullptr)
      unix_->xSetSystemCall(unix_, "pwrite", reinterpret_cast<sqlite3_syscall_ptr>(CountingPwrite));
    if (g_real_pwrite64 != nullptr)
      unix_->xSetSystemCall(unix_, "pwrite64",
                            reinterpret_cast<sqlite3_syscall_ptr>(CountingPwrite64));
    unix_->xSetSystemCall(unix_, "write", reinterpret_cast<sqlite3_syscall_ptr>(CountingWrite));
    g_writes = 0;
    g_fail_writes = false;
  }
  void TearDown() override {
    for (sqlite3* db : open_) sqlite3_close(db);
    unix_->xSetSystemCall(unix_, "pwrite", nullptr);
    unix_->xSetSystemCall(unix_, "pwrite64", nullptr);
    unix_->xSetSystemCall(unix_, "write", nullptr);
  }

  // Opens `file` in the test directory through `vfs` (nullptr: SQLite's default), in WAL mode
  // with the given synchronous level and no automatic checkpoint.
  sqlite3* OpenDb(const std::string& file, const char* vfs, const char* synchronous = "FULL") {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(dir_.File(file).c_str(), &db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
              SQLITE_OK);
    open_.push_back(db);
    Run(db, "PRAGMA journal_mode=WAL");
    Run(db, std::string("PRAGMA synchronous=") + synchronous);
    Run(db, "PRAGMA wal_autocheckpoint=0");
    Run(db,
        "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, body TEXT);"
        "CREATE INDEX IF NOT EXISTS t_body ON t(substr(body, 1, 16))");
    return db;
  }
  static int Run(sqlite3* db, const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);
    return rc;
  }
  static int64_t Scalar(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
  }
  static std::string Text(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::string v;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr)
      v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
  }
  // One transaction of `rows` rows of ~600 random-looking bytes, keys from `first`.
  static int Insert(sqlite3* db, int first, int rows) {
    std::string sql = "BEGIN;";
    for (int i = first; i < first + rows; ++i) {
      sql += "INSERT INTO t (k, body) VALUES ('key-" + std::to_string(i) +
             "', hex(randomblob(300)));";
    }
    sql += "COMMIT;";
    const int rc = Run(db, sql);
    if (rc != SQLITE_OK && sqlite3_get_autocommit(db) == 0) Run(db, "ROLLBACK");
    return rc;
  }

  vv::testing::TempDir dir_;
  const char* layered_ = nullptr;
  sqlite3_vfs* unix_ = nullptr;
  std::vector<sqlite3*> open_;
};

TEST_F(WalBufferVfsTest, WritesEachCommitsFramesWithOneSystemCall) {
  sqlite3* plain = OpenDb("plain.db", nullptr);
  sqlite3* layered = OpenDb("layered.db", layered_);
  constexpr int kCommits = 20;
  g_writes = 0;
  for (int c = 0; c < kCommits; ++c) ASSERT_EQ(Insert(plain, c * 20, 20), SQLITE_OK);
  const int plain_writes = g_writes;
  g_writes = 0;
  for (int c = 0; c < kCommits; ++c) ASSERT_EQ(Insert(layered, c * 20, 20), SQLITE_OK);
  const int layered_writes = g_writes;
  RecordProperty("plain_writes", plain_writes);
  RecordProperty("layered_writes", layered_writes);
  // One write per commit (its frames, ending with the commit frame).
  EXPECT_LE(layered_writes, kCommits + 2);
  EXPECT_GE(plain_writes, 8 * layered_writes) << "plain " << plain_writes;
  EXPECT_EQ(Scalar(layered, "SELECT count(*) FROM t"), kCommits * 20);
  EXPECT_EQ(Text(layered, "PRAGMA integrity_check"), "ok");
}

TEST_F(WalBufferVfsTest, CommitsOfManyMegabytesGoOutInBoundedWrites) {
  // SQLite's unix VFS writes at most 128 KiB with one call: a commit of several MiB (a batch
  // of thousands of envelopes) must reach the file whole, in pieces below that.
  for (const char* sync : {"NORMAL", "FULL"}) {
    sqlite3* layered = OpenDb(std::string("big-") + sync + ".db", layered_, sync);
    g_writes = 0;
    for (int c = 0; c < 3; ++c) ASSERT_EQ(Insert(layered, c * 3000, 3000), SQLITE_OK) << sync;
    const int writes = g_writes;
    // 3 x ~2 MiB of frames: at least 16 writes each, far below two per frame (~1,500 each).
    EXPECT_GE(writes, 3 * 16) << sync;
    EXPECT_LE(writes, 3 * 40) << sync;
    sqlite3* plain = OpenDb(std::string("big-") + sync + ".db", nullptr);
    EXPECT_EQ(Scalar(plain, "SELECT count(*) FROM t"), 9000) << sync;
    EXPECT_EQ(Scalar(plain, "SELECT sum(length(body)) FROM t"), 9000 * 600) << sync;
    EXPECT_EQ(Text(plain, "PRAGMA integrity_check"), "ok") << sync;
  }
}

TEST_F(WalBufferVfsTest, EveryCommitIsVisibleToAnotherConnectionAtOnce) {
  // synchronous=NORMAL: no fsync at commit, so the commit frame's write-through is what puts
  // the frames in the file before the commit is published.
  sqlite3* writer = OpenDb("shared.db", layered_, "NORMAL");
  sqlite3* reader = OpenDb("shared.db", nullptr);
  for (int c = 0; c < 30; ++c) {
    ASSERT_EQ(Insert(writer, c * 7, 7), SQLITE_OK);
    ASSERT_EQ(Scalar(reader, "SELECT count(*) FROM t"), (c + 1) * 7);
    ASSERT_EQ(Scalar(reader, "SELECT sum(length(body)) FROM t"), (c + 1) * 7 * 600);
  }
  EXPECT_EQ(Text(reader, "PRAGMA integrity_check"), "ok");
}

TEST_F(WalBufferVfsTest, ACommitIsInTheFileWhenAProcessDiesRightAfterIt) {
  for (const char* sync : {"NORMAL", "FULL"}) {
    const std::string file = std::string("die-") + sync + ".db";
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      sqlite3* db = nullptr;
      if (sqlite3_open_v2(dir_.File(file).c_str(), &db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, layered_) != SQLITE_OK)
        _exit(3);
      Run(db, "PRAGMA journal_mode=WAL");
      Run(db, std::string("PRAGMA synchronous=") + sync);
      Run(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, body TEXT)");
      for (int c = 0; c < 10; ++c)
        if (Insert(db, c * 10, 10) != SQLITE_OK) _exit(4);
      _exit(0);  // no close, no checkpoint: only what reached the file survives
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0) << sync;
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(dir_.File(file).c_str(), &db, SQLITE_OPEN_READWRITE, nullptr),
              SQLITE_OK);
    open_.push_back(db);
    EXPECT_EQ(Scalar(db, "SELECT count(*) FROM t"), 100) << sync;
    EXPECT_EQ(Text(db, "PRAGMA integrity_check"), "ok") << sync;
  }
}

TEST_F(WalBufferVfsTest, FramesOfARolledBackTransactionNeverLandOnLaterCommits) {
  sqlite3* layered = OpenDb("rollback.db", layered_, "NORMAL");
  sqlite3* plain = OpenDb("rollback.db", nullptr);
  ASSERT_EQ(Insert(layered, 0, 10), SQLITE_OK);
  // Everything committed moves to the database file, so rolling back reloads pages from there
  // (not through the WAL, which would write the gathered frames on the way) ...
  ASSERT_EQ(Run(layered, "PRAGMA wal_checkpoint(TRUNCATE)"), SQLITE_OK);
  // ... and a small page cache makes the big transaction spill frames into the WAL.
  Run(layered, "PRAGMA cache_size=20");
  std::string big = "BEGIN;";
  for (int i = 1000; i < 1100; ++i)
    big += "INSERT INTO t (k, body) VALUES ('spill-" + std::to_string(i) +
           "', hex(randomblob(300)));";
  ASSERT_EQ(Run(layered, big), SQLITE_OK);
  ASSERT_EQ(Run(layered, "ROLLBACK"), SQLITE_OK);
  // Another connection now writes where the rolled-back frames were (one commit: its frames
  // are the only copies of their pages) ...
  ASSERT_EQ(Insert(plain, 100, 10), SQLITE_OK);
  // ... and the layered connection writes again after them.
  ASSERT_EQ(Insert(layered, 500, 10), SQLITE_OK);
  for (sqlite3* db : {plain, layered}) {
    EXPECT_EQ(Scalar(db, "SELECT count(*) FROM t"), 30);
    EXPECT_EQ(Scalar(db, "SELECT count(*) FROM t WHERE k LIKE 'spill-%'"), 0);
    EXPECT_EQ(Text(db, "PRAGMA integrity_check"), "ok");
  }
  sqlite3* fresh = OpenDb("rollback.db", nullptr);
  EXPECT_EQ(Scalar(fresh, "SELECT count(*) FROM t"), 30);
}

TEST_F(WalBufferVfsTest, AFailedWriteFailsTheCommitAndLeavesTheDatabaseWhole) {
  // NORMAL has no fsync at commit: the commit frame's own write must report the failure.
  for (const char* sync : {"NORMAL", "FULL"}) {
    const std::string file = std::string("fail-") + sync + ".db";
    sqlite3* layered = OpenDb(file, layered_, sync);
    ASSERT_EQ(Insert(layered, 0, 20), SQLITE_OK);
    g_fail_writes = true;
    const int rc = Insert(layered, 100, 20);
    g_fail_writes = false;
    EXPECT_NE(rc, SQLITE_OK) << sync;
    EXPECT_TRUE((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_FULL) << rc;
    EXPECT_EQ(Scalar(layered, "SELECT count(*) FROM t"), 20) << sync;
    ASSERT_EQ(Insert(layered, 200, 20), SQLITE_OK) << sync;
    sqlite3* plain = OpenDb(file, nullptr);
    EXPECT_EQ(Scalar(plain, "SELECT count(*) FROM t"), 40) << sync;
    EXPECT_EQ(Scalar(plain, "SELECT count(*) FROM t WHERE k = 'key-100'"), 0) << sync;
    EXPECT_EQ(Text(plain, "PRAGMA integrity_check"), "ok") << sync;
  }
}

TEST_F(WalBufferVfsTest, SqliteRunsWithoutMemoryStatistics) {
  // The fixture's WalBufferVfsName() is this process's first use of SQLite: it turned the
  // statistics (and their global mutex around every allocation) off.
  sqlite3* db = OpenDb("stats.db", layered_);
  ASSERT_EQ(Insert(db, 0, 50), SQLITE_OK);
  EXPECT_EQ(sqlite3_memory_used(), 0);
  sqlite3_int64 current = -1;
  sqlite3_int64 highwater = -1;
  EXPECT_EQ(sqlite3_status64(SQLITE_STATUS_MALLOC_COUNT, &current, &highwater, 0), SQLITE_OK);
  EXPECT_EQ(current, 0);
}

TEST_F(WalBufferVfsTest, NamesItselfInTheVfsChainAndRefusesAnUnknownBase) {
  sqlite3* layered = OpenDb("name.db", layered_);
  char* name = nullptr;
  ASSERT_EQ(sqlite3_file_control(layered, "main", SQLITE_FCNTL_VFSNAME, &name), SQLITE_OK);
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(std::string(name).rfind("vv-walbuf", 0), 0u) << name;
  sqlite3_free(name);
  auto again = WalBufferVfsName();
  ASSERT_TRUE(again.ok());
  EXPECT_STREQ(*again, layered_);
  auto missing = WalBufferVfsName("no-such-vfs");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no-such-vfs"), std::string::npos);
}

}  // namespace
}  // namespace vv::sqlstore

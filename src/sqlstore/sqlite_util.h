#pragma once
// SQLite plumbing shared by the embedded stores (evidence, cognitive graphs, the producer's
// spool): Db, a connection opened the one way they all open their file; Stmt, an RAII prepared
// statement with typed binders and column readers; Exec() for statements without results; and
// Error(), the Unavailable status a store returns when a statement fails. No exceptions: every
// failure is a vv::Status.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace vv::sqlstore {

// Db: one owned SQLite connection, opened read-write (the file is created when missing) in
// serialized threading mode (SQLITE_OPEN_FULLMUTEX) with a 5 s busy timeout, so several
// connections and processes may share one file (together with WAL mode, which the owner sets),
// through the WAL-buffering VFS (wal_buffer_vfs.h: a commit's log frames in one write).
// Thread-safety: the handle may be used from several threads, but a sequence of statements
// that must not interleave needs the owner's own lock. Ownership: owns the connection (closed
// by the destructor unless release()d); movable, not copyable.
class Db {
 public:
  // Opens `path`. On failure: Unavailable("<label>: cannot open <path>: <SQLite's message>").
  static Result<Db> Open(const std::string& path, std::string_view label);

  Db() = default;  // no connection
  ~Db();
  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* get() const { return db_; }
  // Gives up ownership: the caller closes the handle (sqlite3_close).
  sqlite3* release();

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// Opens `path` with sqlite3_open_v2 `flags` through the WAL-buffering VFS (wal_buffer_vfs.h):
// the one way every embedded store opens its file. Returns SQLite's result code; *db as
// sqlite3_open_v2 leaves it (close it on failure too), null with SQLITE_CANTOPEN when the VFS
// cannot be set up.
int OpenSqlite(const std::string& path, int flags, sqlite3** db);

// Runs `sql` (one or more `;`-separated statements, results discarded). On failure:
// Unavailable("<prefix><SQLite's message>"); callers may classify the message further.
Status Exec(sqlite3* db, const std::string& sql, std::string_view prefix = "");

// Set-up that several connections or processes may run at once on one new file (WAL switch,
// CREATE ... IF NOT EXISTS, schema version) can fail with SQLITE_BUSY without SQLite's busy
// handler ever running: a connection holding a read lock is refused at once when it must
// upgrade (waiting could deadlock), and the journal-mode switch needs the file to itself.
// RetryWhileBusy calls `attempt` (an idempotent step returning a SQLite result code) again
// while it returns SQLITE_BUSY or SQLITE_LOCKED (extended codes included), rolling back a
// transaction the attempt left open and sleeping 5-20 ms between attempts, for at most
// `budget_ms` in all; it returns the last result code.
int RetryWhileBusy(sqlite3* db, int budget_ms, const std::function<int()>& attempt);

// Exec() of idempotent set-up SQL under RetryWhileBusy with the connection's busy timeout.
Status ExecSetup(sqlite3* db, const std::string& sql, std::string_view prefix = "");

// The status of a failed statement: Unavailable("<prefix><what>: <sqlite3_errmsg(db)>").
Status Error(sqlite3* db, std::string_view prefix, std::string_view what);

// Stmt: one prepared statement, finalized by the destructor. Binders and column readers take
// SQLite's indices (parameters from 1, columns from 0); a statement that failed to prepare is
// !ok() and must not be bound or stepped (report it with Error()).
// Thread-safety: none; use under the lock that guards the connection. Ownership: owns the
// statement, not the connection (which must outlive it).
class Stmt {
 public:
  enum class StepResult { kRow, kDone, kError };

  Stmt(sqlite3* db, const char* sql);
  Stmt(sqlite3* db, const std::string& sql) : Stmt(db, sql.c_str()) {}
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return st_ != nullptr; }

  // Parameters (copied by SQLite: the arguments need not outlive the call).
  void Text(int i, std::string_view v);
  void Int(int i, int64_t v);
  // Binds `args` to parameters 1..N in order: strings as TEXT, integers as INTEGER.
  template <typename... Args>
  void Bind(const Args&... args) {
    int i = 0;
    (BindOne(++i, args), ...);
  }

  // Advances: kRow (a row is readable), kDone, or kError (see Error() on the connection).
  StepResult Step();
  // Rewinds to run again; bindings are kept.
  void Reset();

  // Columns of the current row. ColText is "" for NULL.
  std::string ColText(int i) const;
  int64_t ColInt(int i) const;
  // Reads columns 0..N-1 of the current row into `out` in order (std::string or int64_t).
  template <typename... Out>
  void Read(Out&... out) const {
    int i = 0;
    (ReadOne(i++, out), ...);
  }

  // Rows changed by the connection's most recent INSERT/UPDATE/DELETE.
  int64_t Changes() const;

 private:
  void BindOne(int i, std::string_view v) { Text(i, v); }
  void BindOne(int i, int64_t v) { Int(i, v); }
  void ReadOne(int i, std::string& v) const { v = ColText(i); }
  void ReadOne(int i, int64_t& v) const { v = ColInt(i); }

  sqlite3* const db_;
  sqlite3_stmt* st_ = nullptr;
};

}  // namespace vv::sqlstore

#include "sqlstore/sqlite_util.h"

#include <sqlite3.h>

#include <utility>

#include "common/file_mode.h"
#include "sqlstore/wal_buffer_vfs.h"

namespace vv::sqlstore {

namespace {

constexpr int kBusyTimeoutMs = 5000;

}  // namespace

Result<Db> Db::Open(const std::string& path, std::string_view label) {
  // Owner-only before SQLite creates it 0644 (its -wal/-shm inherit the mode; issue 12). A
  // failure here (e.g. a missing directory) is reported by SQLite's own open below.
  const bool private_file = EnsurePrivateFile(path).ok();
  sqlite3* db = nullptr;
  int rc =
      OpenSqlite(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, &db);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::Unavailable(std::string(label) + ": cannot open " + path + ": " + msg);
  }
  if (!private_file) {
    Status again = EnsurePrivateFile(path);
    if (!again.ok()) {
      sqlite3_close(db);
      return Status::Unavailable(std::string(label) + ": " + again.message());
    }
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  return Db(db);
}

int OpenSqlite(const std::string& path, int flags, sqlite3** db) {
  *db = nullptr;
  Result<const char*> vfs = WalBufferVfsName();
  if (!vfs.ok()) return SQLITE_CANTOPEN;
  return sqlite3_open_v2(path.c_str(), db, flags, *vfs);
}

Db::~Db() { sqlite3_close(db_); }

Db::Db(Db&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    sqlite3_close(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

sqlite3* Db::release() { return std::exchange(db_, nullptr); }

Status Exec(sqlite3* db, const std::string& sql, std::string_view prefix) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::Unavailable(std::string(prefix) + msg);
  }
  return Status::Ok();
}

int RetryWhileBusy(sqlite3* db, int budget_ms, const std::function<int()>& attempt) {
  int waited_ms = 0;
  int pause_ms = 5;
  for (;;) {
    const int rc = attempt();
    const int primary = rc & 0xff;
    if ((primary != SQLITE_BUSY && primary != SQLITE_LOCKED) || waited_ms >= budget_ms) return rc;
    if (sqlite3_get_autocommit(db) == 0) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_sleep(pause_ms);
    waited_ms += pause_ms;
    pause_ms = pause_ms < 20 ? pause_ms * 2 : 20;
  }
}

Status ExecSetup(sqlite3* db, const std::string& sql, std::string_view prefix) {
  std::string msg;
  const int rc = RetryWhileBusy(db, kBusyTimeoutMs, [&] {
    char* err = nullptr;
    const int r = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    msg = err ? err : (r == SQLITE_OK ? "" : sqlite3_errstr(r));
    sqlite3_free(err);
    return r;
  });
  if (rc != SQLITE_OK) return Status::Unavailable(std::string(prefix) + msg);
  return Status::Ok();
}

Status Error(sqlite3* db, std::string_view prefix, std::string_view what) {
  return Status::Unavailable(std::string(prefix) + std::string(what) + ": " + sqlite3_errmsg(db));
}

Stmt::Stmt(sqlite3* db, const char* sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK) {
    sqlite3_finalize(st_);
    st_ = nullptr;
  }
}

Stmt::~Stmt() { sqlite3_finalize(st_); }

void Stmt::Text(int i, std::string_view v) {
  sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

void Stmt::Int(int i, int64_t v) { sqlite3_bind_int64(st_, i, v); }

Stmt::StepResult Stmt::Step() {
  switch (sqlite3_step(st_)) {
    case SQLITE_ROW:
      return StepResult::kRow;
    case SQLITE_DONE:
      return StepResult::kDone;
    default:
      return StepResult::kError;
  }
}

void Stmt::Reset() { sqlite3_reset(st_); }

std::string Stmt::ColText(int i) const {
  const unsigned char* p = sqlite3_column_text(st_, i);
  if (p == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(st_, i)));
}

int64_t Stmt::ColInt(int i) const { return sqlite3_column_int64(st_, i); }

int64_t Stmt::Changes() const { return sqlite3_changes(db_); }

}  // namespace vv::sqlstore

#include "sqlstore/wal_checkpointer.h"

#include <sqlite3.h>

#include <string>
#include <utility>

#include "sqlstore/sqlite_util.h"

namespace vv::sqlstore {

namespace {

// PASSIVE checkpoints one wake-up runs at most while commits keep adding frames behind them.
constexpr int kMaxRounds = 4;

}  // namespace

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(const std::string& path,
                                                                Options options) {
  const std::string what = "wal checkpointer for " + path + ": ";
  sqlite3* db = nullptr;
  const int rc = OpenSqlite(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, &db);
  if (rc != SQLITE_OK) {
    Status s = Status::Unavailable(what + "cannot open: " +
                                   (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close(db);
    return s;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  // The database file is synced before the log can be rewound (synchronous=FULL is what makes
  // a checkpoint durable; a new connection's default may be lower in some builds).
  Status setup = Exec(db, "PRAGMA synchronous=FULL", what);
  std::string mode;
  if (setup.ok()) {
    Stmt journal(db, "PRAGMA journal_mode");
    if (journal.ok() && journal.Step() == Stmt::StepResult::kRow)
      mode = journal.ColText(0);
    else
      setup = Status::Unavailable(what + "PRAGMA journal_mode: " + sqlite3_errmsg(db));
  }
  if (setup.ok() && mode != "wal")
    setup = Status::InvalidArgument(what + "the database is not in WAL mode (" + mode + ")");
  if (!setup.ok()) {
    sqlite3_close(db);
    return setup;
  }
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(db, options));
}

WalCheckpointer::WalCheckpointer(sqlite3* db, Options options) : db_(db), options_(options) {
  if (options_.start_thread) thread_ = std::thread([this] { Loop(); });
}

WalCheckpointer::~WalCheckpointer() {
  {
    MutexLock l(&mu_);
    stop_ = true;
    cv_.Signal();
  }
  if (thread_.joinable()) thread_.join();
  sqlite3_close(db_);
}

void WalCheckpointer::Attach(sqlite3* db) { sqlite3_wal_hook(db, &WalCheckpointer::Hook, this); }

int WalCheckpointer::Hook(void* ctx, sqlite3* db, const char* schema, int frames) {
  auto* self = static_cast<WalCheckpointer*>(ctx);
  if (frames >= self->options_.inline_frames) {
    // The thread has not caught up with a quiet moment: this connection, between its
    // transactions, copies what is left (as SQLite's automatic checkpoint would), so the next
    // write transaction rewinds the log. A failure leaves the frames for the next checkpoint.
    int log = 0, copied = 0;
    if (sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) ==
        SQLITE_OK) {
      self->inline_++;
      self->checked_.store(log);
    }
    return SQLITE_OK;  // the commit stands whatever happens here
  }
  // Frames added since the last checkpoint looked at the log (a log shorter than it was then
  // has rewound since). Only a full threshold of them wakes the thread: a log that did not
  // rewind (commits kept coming during the last checkpoint, or a reader still needs old
  // frames) would otherwise wake it at every commit, for a copy and an fsync of a few pages.
  int checked = self->checked_.load();
  if (frames < checked) checked = 0;
  if (frames - checked >= self->options_.threshold_frames) self->Kick();
  return SQLITE_OK;
}

void WalCheckpointer::Kick() {
  if (!options_.start_thread || kicked_.exchange(true)) return;  // already signalled
  MutexLock l(&mu_);
  wake_ = true;
  cv_.Signal();
}

void WalCheckpointer::Loop() {
  for (;;) {
    {
      MutexLock l(&mu_);
      while (!wake_ && !stop_) cv_.Wait(&mu_);
      if (stop_) return;
      wake_ = false;
    }
    kicked_.store(false);  // a commit from now on signals again
    for (int round = 0; round < kMaxRounds; ++round) {
      int log = 0, copied = 0;
      const int rc =
          sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
      if (rc != SQLITE_OK) {
        if ((rc & 0xff) != SQLITE_BUSY) errors_++;  // BUSY: another checkpoint is running
        break;
      }
      checkpoints_++;
      checked_.store(log);
      if (copied >= log) {
        complete_++;  // the next write transaction rewinds the log
        break;
      }
      // Commits came in meanwhile. Only a short remainder is worth another round now (it may
      // complete, and the log rewinds); a long one waits for the next threshold of frames.
      if (log - copied > options_.threshold_frames / 8) break;
    }
  }
}

}  // namespace vv::sqlstore

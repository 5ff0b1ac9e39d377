#include "spectrastrike/spool.h"

#include <sqlite3.h>

#include "spectrastrike/producer.h"

namespace spectrastrike {
namespace {

using vv::Status;

constexpr char kSchema[] = R"(
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dedupe_key TEXT NOT NULL UNIQUE,
  event_id TEXT NOT NULL,
  envelope TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  last_status INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox(state, id);
)";

// RAII prepared statement.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK) st_ = nullptr;
  }
  ~Stmt() { sqlite3_finalize(st_); }
  bool ok() const { return st_ != nullptr; }
  sqlite3_stmt* get() { return st_; }
  void Text(int i, const std::string& s) { sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT); }
  void Int(int i, int64_t v) { sqlite3_bind_int64(st_, i, v); }
  std::string Error() const { return sqlite3_errmsg(db_); }
  std::string Col(int i) {
    const unsigned char* t = sqlite3_column_text(st_, i);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(st_, i)) : "";
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

Status DbError(sqlite3* db, const std::string& what) {
  return Status::Unavailable("spool: " + what + ": " + sqlite3_errmsg(db));
}

}  // namespace

vv::Result<std::unique_ptr<Spool>> Spool::Open(const std::string& path, const vv::Clock& clock) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::Unavailable("spool: cannot open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 5000);
  auto spool = std::unique_ptr<Spool>(new Spool(db, clock));
  VV_RETURN_IF_ERROR(spool->Exec("PRAGMA journal_mode=WAL"));
  VV_RETURN_IF_ERROR(spool->Exec("PRAGMA synchronous=FULL"));
  VV_RETURN_IF_ERROR(spool->Exec(kSchema));
  return spool;
}

Spool::~Spool() { sqlite3_close(db_); }

Status Spool::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::Unavailable("spool: " + msg);
  }
  return Status::Ok();
}

vv::Result<std::vector<EnqueueResult>> Spool::Enqueue(const std::vector<PreparedEvent>& events) {
  VV_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  std::vector<EnqueueResult> out;
  out.reserve(events.size());
  int64_t now = clock_.NowSeconds();
  Stmt ins(db_,
           "INSERT INTO outbox (dedupe_key, event_id, envelope, created_at, updated_at) "
           "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT(dedupe_key) DO NOTHING");
  Stmt sel(db_, "SELECT id, state FROM outbox WHERE dedupe_key = ?1");
  if (!ins.ok() || !sel.ok()) {
    Exec("ROLLBACK");
    return DbError(db_, "prepare");
  }
  for (const PreparedEvent& e : events) {
    std::string key = e.tenant_id + "/" + e.event_id;
    sqlite3_reset(ins.get());
    ins.Text(1, key);
    ins.Text(2, e.event_id);
    ins.Text(3, vv::json::Canonical(e.envelope));
    ins.Int(4, now);
    if (sqlite3_step(ins.get()) != SQLITE_DONE) {
      Status s = DbError(db_, "insert");
      Exec("ROLLBACK");
      return s;
    }
    EnqueueResult r;
    r.inserted = sqlite3_changes(db_) > 0;
    sqlite3_reset(sel.get());
    sel.Text(1, key);
    if (sqlite3_step(sel.get()) != SQLITE_ROW) {
      Status s = DbError(db_, "select");
      Exec("ROLLBACK");
      return s;
    }
    r.id = sqlite3_column_int64(sel.get(), 0);
    r.state = sel.Col(1);
    out.push_back(std::move(r));
  }
  VV_RETURN_IF_ERROR(Exec("COMMIT"));
  return out;
}

vv::Result<std::vector<SpoolEntry>> Spool::Pending(size_t limit, int64_t after_id) {
  Stmt s(db_,
         "SELECT id, event_id, envelope, attempts FROM outbox WHERE state = 'pending' AND id > ?1 "
         "ORDER BY id LIMIT ?2");
  if (!s.ok()) return DbError(db_, "prepare");
  s.Int(1, after_id);
  s.Int(2, static_cast<int64_t>(limit));
  std::vector<SpoolEntry> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    SpoolEntry e;
    e.id = sqlite3_column_int64(s.get(), 0);
    e.event_id = s.Col(1);
    e.envelope_json = s.Col(2);
    e.attempts = sqlite3_column_int64(s.get(), 3);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return DbError(db_, "select pending");
  return out;
}

namespace {
Status Update(sqlite3* db, const char* sql, int64_t id, int64_t a, int64_t b,
              const std::string& text, int64_t now) {
  Stmt s(db, sql);
  if (!s.ok()) return DbError(db, "prepare");
  s.Int(1, id);
  s.Int(2, a);
  s.Int(3, b);
  s.Text(4, text);
  s.Int(5, now);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return DbError(db, "update");
  return Status::Ok();
}
}  // namespace

Status Spool::MarkDelivered(int64_t id, int status) {
  return Update(db_,
                "UPDATE outbox SET state='delivered', attempts=attempts+?3, last_status=?2, "
                "last_error=?4, updated_at=?5 WHERE id=?1",
                id, status, 1, "", clock_.NowSeconds());
}

Status Spool::MarkRejected(int64_t id, int status, const std::string& reason) {
  return Update(db_,
                "UPDATE outbox SET state='rejected', attempts=attempts+?3, last_status=?2, "
                "last_error=?4, updated_at=?5 WHERE id=?1",
                id, status, 1, reason, clock_.NowSeconds());
}

Status Spool::MarkFailedAttempt(int64_t id, int attempts, int status, const std::string& error) {
  return Update(db_,
                "UPDATE outbox SET attempts=attempts+?3, last_status=?2, last_error=?4, "
                "updated_at=?5 WHERE id=?1",
                id, status, attempts, error, clock_.NowSeconds());
}

vv::Result<std::string> Spool::StateOf(int64_t id) {
  Stmt s(db_, "SELECT state FROM outbox WHERE id = ?1");
  if (!s.ok()) return DbError(db_, "prepare");
  s.Int(1, id);
  if (sqlite3_step(s.get()) != SQLITE_ROW) return Status::NotFound("spool: no entry " + std::to_string(id));
  return s.Col(0);
}

vv::Result<SpoolCounts> Spool::Counts() {
  Stmt s(db_, "SELECT state, count(*) FROM outbox GROUP BY state");
  if (!s.ok()) return DbError(db_, "prepare");
  SpoolCounts c;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    std::string state = s.Col(0);
    int64_t n = sqlite3_column_int64(s.get(), 1);
    if (state == "pending") c.pending = n;
    else if (state == "delivered") c.delivered = n;
    else if (state == "rejected") c.rejected = n;
  }
  if (rc != SQLITE_DONE) return DbError(db_, "count");
  return c;
}

vv::Result<std::vector<std::pair<std::string, std::string>>> Spool::Rejections(size_t limit) {
  Stmt s(db_,
         "SELECT event_id, last_error FROM outbox WHERE state='rejected' ORDER BY id DESC LIMIT ?1");
  if (!s.ok()) return DbError(db_, "prepare");
  s.Int(1, static_cast<int64_t>(limit));
  std::vector<std::pair<std::string, std::string>> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.emplace_back(s.Col(0), s.Col(1));
  return out;
}

vv::Result<DrainStats> DrainSpool(
    Spool& spool, Producer& producer,
    const std::function<void(const SpoolEntry&, const DeliveryResult&)>& on_result,
    int64_t max_events) {
  DrainStats stats;
  int64_t after = 0;
  int64_t handled = 0;
  bool stop = false;
  while (!stop) {
    auto batch = spool.Pending(256, after);
    if (!batch.ok()) return batch.status();
    if (batch->empty()) break;
    for (const SpoolEntry& e : *batch) {
      if (max_events > 0 && handled >= max_events) {
        stop = true;
        break;
      }
      after = e.id;
      ++handled;
      DeliveryResult r;
      auto prepared = PrepareEventText(e.envelope_json, ProducerIdentity{});
      if (!prepared.ok()) {
        r.outcome = Outcome::kRejected;
        r.detail = "spooled event no longer valid: " + prepared.status().message();
      } else {
        r = producer.Send(*prepared);
      }
      if (r.outcome == Outcome::kAccepted) {
        VV_RETURN_IF_ERROR(spool.MarkDelivered(e.id, r.status));
        ++stats.accepted;
      } else if (r.outcome == Outcome::kRejected) {
        VV_RETURN_IF_ERROR(spool.MarkRejected(e.id, r.status, r.detail));
        ++stats.rejected;
      } else {
        VV_RETURN_IF_ERROR(spool.MarkFailedAttempt(e.id, r.attempts, r.status, r.detail));
        ++stats.failed;
        stop = true;
      }
      if (on_result) on_result(e, r);
      if (stop) break;
    }
  }
  auto counts = spool.Counts();
  if (!counts.ok()) return counts.status();
  stats.remaining = counts->pending;
  return stats;
}

}  // namespace spectrastrike

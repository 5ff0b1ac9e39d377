#include "spectrastrike/spool.h"

#include <sqlite3.h>

#include "client/status_bridge.h"
#include "json/json.h"
#include "spectrastrike/producer.h"
#include "sqlstore/sqlite_util.h"

namespace spectrastrike {
namespace {

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

using vv::sqlstore::Stmt;
using StepResult = vv::sqlstore::Stmt::StepResult;

constexpr char kPrefix[] = "spool: ";

vv::Status DbError(sqlite3* db, std::string_view what) {
  return vv::sqlstore::Error(db, kPrefix, what);
}

vv::Status Exec(sqlite3* db, const std::string& sql) {
  return vv::sqlstore::Exec(db, sql, kPrefix);
}

}  // namespace

Result<std::unique_ptr<Spool>> Spool::Open(const std::string& path, const Clock& clock) {
  return Public([&]() -> vv::Result<std::unique_ptr<Spool>> {
    VV_ASSIGN_OR_RETURN(vv::sqlstore::Db db, vv::sqlstore::Db::Open(path, "spool"));
    VV_RETURN_IF_ERROR(vv::sqlstore::ExecSetup(db.get(), "PRAGMA journal_mode=WAL", kPrefix));
    VV_RETURN_IF_ERROR(vv::sqlstore::ExecSetup(db.get(), "PRAGMA synchronous=FULL", kPrefix));
    VV_RETURN_IF_ERROR(vv::sqlstore::ExecSetup(db.get(), kSchema, kPrefix));
    return std::unique_ptr<Spool>(new Spool(db.release(), clock));
  }());
}

Spool::~Spool() { sqlite3_close(db_); }

Result<std::vector<EnqueueResult>> Spool::Enqueue(const std::vector<PreparedEvent>& events) {
  return Public([&]() -> vv::Result<std::vector<EnqueueResult>> {
    VV_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
    std::vector<EnqueueResult> out;
    out.reserve(events.size());
    int64_t now = clock_.NowSeconds();
    Stmt ins(db_,
             "INSERT INTO outbox (dedupe_key, event_id, envelope, created_at, updated_at) "
             "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT(dedupe_key) DO NOTHING");
    Stmt sel(db_, "SELECT id, state FROM outbox WHERE dedupe_key = ?1");
    if (!ins.ok() || !sel.ok()) {
      Exec(db_, "ROLLBACK");
      return DbError(db_, "prepare");
    }
    for (const PreparedEvent& e : events) {
      std::string key = e.tenant_id + "/" + e.event_id;
      ins.Reset();
      ins.Bind(key, e.event_id, e.envelope_json, now);
      if (ins.Step() != StepResult::kDone) {
        vv::Status s = DbError(db_, "insert");
        Exec(db_, "ROLLBACK");
        return s;
      }
      EnqueueResult r;
      r.inserted = ins.Changes() > 0;
      sel.Reset();
      sel.Bind(key);
      if (sel.Step() != StepResult::kRow) {
        vv::Status s = DbError(db_, "select");
        Exec(db_, "ROLLBACK");
        return s;
      }
      sel.Read(r.id, r.state);
      out.push_back(std::move(r));
    }
    VV_RETURN_IF_ERROR(Exec(db_, "COMMIT"));
    return out;
  }());
}

Result<std::vector<SpoolEntry>> Spool::Pending(size_t limit, int64_t after_id) {
  return Public([&]() -> vv::Result<std::vector<SpoolEntry>> {
    Stmt s(
        db_,
        "SELECT id, event_id, envelope, attempts FROM outbox WHERE state = 'pending' AND id > ?1 "
        "ORDER BY id LIMIT ?2");
    if (!s.ok()) return DbError(db_, "prepare");
    s.Bind(after_id, static_cast<int64_t>(limit));
    std::vector<SpoolEntry> out;
    StepResult rc;
    while ((rc = s.Step()) == StepResult::kRow) {
      SpoolEntry e;
      s.Read(e.id, e.event_id, e.envelope_json, e.attempts);
      out.push_back(std::move(e));
    }
    if (rc != StepResult::kDone) return DbError(db_, "select pending");
    return out;
  }());
}

namespace {
vv::Status Update(sqlite3* db, const char* sql, int64_t id, int64_t a, int64_t b,
                  const std::string& text, int64_t now) {
  Stmt s(db, sql);
  if (!s.ok()) return DbError(db, "prepare");
  s.Bind(id, a, b, text, now);
  if (s.Step() != StepResult::kDone) return DbError(db, "update");
  return vv::Status::Ok();
}
}  // namespace

Status Spool::MarkDelivered(int64_t id, int status) {
  return Public(Update(db_,
                       "UPDATE outbox SET state='delivered', attempts=attempts+?3, last_status=?2, "
                       "last_error=?4, updated_at=?5 WHERE id=?1",
                       id, status, 1, "", clock_.NowSeconds()));
}

Status Spool::MarkRejected(int64_t id, int status, const std::string& reason) {
  return Public(Update(db_,
                       "UPDATE outbox SET state='rejected', attempts=attempts+?3, last_status=?2, "
                       "last_error=?4, updated_at=?5 WHERE id=?1",
                       id, status, 1, reason, clock_.NowSeconds()));
}

Status Spool::MarkFailedAttempt(int64_t id, int attempts, int status, const std::string& error) {
  return Public(Update(db_,
                       "UPDATE outbox SET attempts=attempts+?3, last_status=?2, last_error=?4, "
                       "updated_at=?5 WHERE id=?1",
                       id, status, attempts, error, clock_.NowSeconds()));
}

Result<std::string> Spool::StateOf(int64_t id) {
  return Public([&]() -> vv::Result<std::string> {
    Stmt s(db_, "SELECT state FROM outbox WHERE id = ?1");
    if (!s.ok()) return DbError(db_, "prepare");
    s.Bind(id);
    if (s.Step() != StepResult::kRow)
      return vv::Status::NotFound("spool: no entry " + std::to_string(id));
    return s.ColText(0);
  }());
}

Result<SpoolCounts> Spool::Counts() {
  return Public([&]() -> vv::Result<SpoolCounts> {
    Stmt s(db_, "SELECT state, count(*) FROM outbox GROUP BY state");
    if (!s.ok()) return DbError(db_, "prepare");
    SpoolCounts c;
    StepResult rc;
    while ((rc = s.Step()) == StepResult::kRow) {
      std::string state = s.ColText(0);
      int64_t n = s.ColInt(1);
      if (state == "pending")
        c.pending = n;
      else if (state == "delivered")
        c.delivered = n;
      else if (state == "rejected")
        c.rejected = n;
    }
    if (rc != StepResult::kDone) return DbError(db_, "count");
    return c;
  }());
}

Result<std::vector<std::pair<std::string, std::string>>> Spool::Rejections(size_t limit) {
  return Public([&]() -> vv::Result<std::vector<std::pair<std::string, std::string>>> {
    Stmt s(
        db_,
        "SELECT event_id, last_error FROM outbox WHERE state='rejected' ORDER BY id DESC LIMIT ?1");
    if (!s.ok()) return DbError(db_, "prepare");
    s.Bind(static_cast<int64_t>(limit));
    std::vector<std::pair<std::string, std::string>> out;
    while (s.Step() == StepResult::kRow) out.emplace_back(s.ColText(0), s.ColText(1));
    return out;
  }());
}

Result<DrainStats> DrainSpool(
    Spool& spool, Producer& producer,
    const std::function<void(const SpoolEntry&, const DeliveryResult&)>& on_result,
    int64_t max_events, size_t batch_size) {
  if (batch_size < 1) batch_size = 1;
  DrainStats stats;
  int64_t after = 0;
  int64_t handled = 0;
  bool stop = false;
  while (!stop) {
    VV_ASSIGN_OR_RETURN(auto pending, spool.Pending(256, after));
    if (pending.empty()) break;
    for (size_t start = 0; start < pending.size() && !stop; start += batch_size) {
      // One group: up to batch_size entries, delivered in one batch request when there are
      // several valid ones (Producer::SendBatch falls back to single sends by itself).
      std::vector<const SpoolEntry*> group;
      for (size_t i = start; i < pending.size() && group.size() < batch_size; ++i) {
        if (max_events > 0 && handled >= max_events) {
          stop = true;
          break;
        }
        group.push_back(&pending[i]);
        ++handled;
      }
      if (group.empty()) break;
      after = group.back()->id;
      std::vector<DeliveryResult> results(group.size());
      std::vector<PreparedEvent> events;
      std::vector<size_t> where;  // results index of each prepared event
      for (size_t i = 0; i < group.size(); ++i) {
        auto prepared = PrepareEvent(group[i]->envelope_json, ProducerIdentity{});
        if (!prepared.ok()) {
          results[i].outcome = Outcome::kRejected;
          results[i].detail = "spooled event no longer valid: " + prepared.status().message();
          continue;
        }
        events.push_back(std::move(prepared).value());
        where.push_back(i);
      }
      if (batch_size > 1 && events.size() > 1) {
        std::vector<DeliveryResult> sent = producer.SendBatch(events);
        for (size_t k = 0; k < sent.size(); ++k) results[where[k]] = std::move(sent[k]);
      } else {
        for (size_t k = 0; k < events.size(); ++k) {
          results[where[k]] = producer.Send(events[k]);
          if (results[where[k]].outcome == Outcome::kExhausted) {
            // The gateway is unreachable: the rest of the group stays pending, untouched.
            group.resize(where[k] + 1);
            break;
          }
        }
      }
      for (size_t i = 0; i < group.size(); ++i) {
        const SpoolEntry& e = *group[i];
        const DeliveryResult& r = results[i];
        if (r.outcome == Outcome::kAccepted) {
          if (Status s = spool.MarkDelivered(e.id, r.status); !s.ok()) return s;
          ++stats.accepted;
        } else if (r.outcome == Outcome::kRejected) {
          if (Status s = spool.MarkRejected(e.id, r.status, r.detail); !s.ok()) return s;
          ++stats.rejected;
        } else {
          if (Status s = spool.MarkFailedAttempt(e.id, r.attempts, r.status, r.detail); !s.ok())
            return s;
          ++stats.failed;
          stop = true;
        }
        if (on_result) on_result(e, r);
      }
    }
  }
  VV_ASSIGN_OR_RETURN(auto counts, spool.Counts());
  stats.remaining = counts.pending;
  return stats;
}

}  // namespace spectrastrike

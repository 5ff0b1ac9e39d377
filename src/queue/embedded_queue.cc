#include "queue/embedded_queue.h"

#include <sqlite3.h>

#include <utility>

#include "common/completion_batch.h"
#include "common/file_mode.h"
#include "queue/envelope_codec.h"
#include "sqlstore/sqlite_util.h"

namespace vv::queue {
namespace {

// Schema 2 (issue 15): message_id is no longer UNIQUE. A random uuid4 index took one random
// B-tree page per stored event (written to the WAL at every commit and again at checkpoint), the
// largest write cost of a queue past a few hundred thousand rows; message_id is a fresh uuid4 per
// envelope, and the one lookup by it (redrive) goes through the time-ordered created_at index,
// whose inserts land at its right edge. The dedupe_id index stays: it is the dedupe.
// Schema 2 also has messages_acked (kind, acked_at) over the acked rows: retention pruning
// finds the rows acked before its cutoff by a range scan of it, O(rows pruned). Without it the
// prune walked every acked row of the kind once per call (once a second in the engine), the
// whole retention window (7 days by default) of rows. It is only an index, so a file that lacks
// it (made by an earlier build of schema 2) gets it on open, and an earlier build still opens
// and maintains a file that has it: no version change.
constexpr int kSchemaVersion = 2;

#define VV_QUEUE_MESSAGES_COLUMNS                                      \
  "  seq INTEGER PRIMARY KEY AUTOINCREMENT,\n"                         \
  "  kind TEXT NOT NULL CHECK (kind IN ('ingest', 'dead_letter')),\n" \
  "  message_id TEXT NOT NULL,\n"                                      \
  "  dedupe_id TEXT UNIQUE,\n"                                         \
  "  created_at TEXT NOT NULL,\n"                                      \
  "  integrity_hash TEXT NOT NULL,\n"                                  \
  "  body TEXT NOT NULL,\n"                                            \
  "  delivered_count INTEGER NOT NULL DEFAULT 0,\n"                    \
  "  acked_at INTEGER\n"

#define VV_QUEUE_MESSAGES_INDEXES                                                       \
  "CREATE INDEX IF NOT EXISTS messages_kind_seq ON messages(kind, seq);\n"            \
  "CREATE INDEX IF NOT EXISTS messages_unacked ON messages(kind, seq) WHERE acked_at IS " \
  "NULL;\n"                                                                            \
  "CREATE INDEX IF NOT EXISTS messages_created_at ON messages(created_at);\n"         \
  VV_QUEUE_ACKED_INDEX

#define VV_QUEUE_ACKED_INDEX                                                          \
  "CREATE INDEX IF NOT EXISTS messages_acked ON messages(kind, acked_at) WHERE acked_at " \
  "IS NOT NULL;\n"

constexpr const char* kSchemaSql =
    "CREATE TABLE IF NOT EXISTS messages (\n" VV_QUEUE_MESSAGES_COLUMNS ");\n"
    VV_QUEUE_MESSAGES_INDEXES;

// Schema 1 -> 2 inside the schema transaction: the table is rebuilt without the UNIQUE
// message_id (SQLite cannot drop a column constraint in place), rows and seqs kept, and the
// AUTOINCREMENT high-water mark carried over so a seq is never handed out twice (consumers
// page by seq) even when retention pruned the newest rows.
constexpr const char* kMigrateV1Sql =
    "CREATE TABLE messages_v2 (\n" VV_QUEUE_MESSAGES_COLUMNS ");\n"
    "INSERT INTO messages_v2 (seq, kind, message_id, dedupe_id, created_at, integrity_hash, body,"
    " delivered_count, acked_at) SELECT seq, kind, message_id, dedupe_id, created_at,"
    " integrity_hash, body, delivered_count, acked_at FROM messages ORDER BY seq;\n"
    "DELETE FROM sqlite_sequence WHERE name = 'messages_v2';\n"
    "INSERT INTO sqlite_sequence (name, seq) SELECT 'messages_v2', max(seq) FROM"
    " (SELECT seq FROM sqlite_sequence WHERE name = 'messages' UNION ALL"
    "  SELECT max(seq) FROM messages_v2) HAVING max(seq) IS NOT NULL;\n"
    "DROP TABLE messages;\n"
    "ALTER TABLE messages_v2 RENAME TO messages;\n"
    VV_QUEUE_MESSAGES_INDEXES;

constexpr const char* kAckedIndexSql = VV_QUEUE_ACKED_INDEX;

#undef VV_QUEUE_MESSAGES_COLUMNS
#undef VV_QUEUE_MESSAGES_INDEXES
#undef VV_QUEUE_ACKED_INDEX

// Oldest acked first, through messages_acked (a range scan; the query plan is checked by a
// test through EmbeddedQueue::PruneAckedSql()).
constexpr const char* kPruneAckedSql =
    "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE kind = ?1 AND acked_at IS "
    "NOT NULL AND acked_at < ?2 ORDER BY acked_at LIMIT ?3)";

constexpr const char* kInsertSql =
    "INSERT INTO messages (kind, message_id, dedupe_id, created_at, integrity_hash, body) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(dedupe_id) DO NOTHING";

// RAII prepared statement.
class Stmt {
 public:
  Stmt() = default;
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  int Prepare(sqlite3* db, const char* sql) {
    sqlite3_finalize(s_);
    s_ = nullptr;
    return sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
  }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
};

std::string DbError(sqlite3* db, int rc) {
  std::string m = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return m + " (sqlite code " + std::to_string(rc) + ")";
}

int Exec(sqlite3* db, const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }

void BindText(sqlite3_stmt* s, int idx, const std::string& v) {
  sqlite3_bind_text(s, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

void RollbackIfOpen(sqlite3* db) {
  if (sqlite3_get_autocommit(db) == 0) Exec(db, "ROLLBACK");
}

// Status code for a failure while opening: corrupt / foreign files are DataLoss, everything
// else (permissions, missing directory, locked) is Unavailable.
Status OpenError(const std::string& path, const std::string& what, sqlite3* db, int rc) {
  std::string msg = "embedded queue '" + path + "': " + what + ": " + DbError(db, rc);
  int primary = rc & 0xff;
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) return Status::DataLoss(msg);
  return Status::Unavailable(msg);
}

// Opens one connection configured for the queue: WAL, synchronous=FULL, busy timeout.
Result<sqlite3*> OpenConnection(const std::string& path, const EmbeddedQueueOptions& options) {
  // queue.db holds every tenant's telemetry: owner-only (0600) before SQLite would create it
  // 0644; the -wal/-shm files inherit the database file's mode (issue 12). A failure here
  // (e.g. a missing directory) is reported by SQLite's own open below.
  const bool private_file = EnsurePrivateFile(path).ok();
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    Status s = OpenError(path, "cannot open or create the database file", db, rc);
    sqlite3_close(db);
    return s;
  }
  if (!private_file) {
    Status again = EnsurePrivateFile(path);
    if (!again.ok()) {
      sqlite3_close(db);
      return Status::Unavailable("embedded queue: " + again.message());
    }
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  // journal_mode=WAL returns the resulting mode as a row; anything but "wal" is a failure
  // (e.g. a file system without shared memory support).
  // The switch needs the file to itself: several processes opening one new file at once may
  // meet SQLITE_BUSY here without the busy handler running, so it is retried.
  std::string mode;
  rc = sqlstore::RetryWhileBusy(db, options.busy_timeout_ms, [&] {
    Stmt st;
    int r = st.Prepare(db, "PRAGMA journal_mode=WAL");
    if (r == SQLITE_OK) {
      r = sqlite3_step(st.get());
      if (r == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(st.get(), 0);
        mode = t != nullptr ? reinterpret_cast<const char*>(t) : "";
        r = SQLITE_OK;
      }
    }
    return r;
  });
  if (rc != SQLITE_OK) {
    Status s = OpenError(path, "cannot enable WAL mode", db, rc);
    sqlite3_close(db);
    return s;
  }
  if (mode != "wal") {
    sqlite3_close(db);
    return Status::Unavailable("embedded queue '" + path +
                               "': WAL journal mode not available (got '" + mode + "')");
  }
  rc = Exec(db, "PRAGMA synchronous=FULL");
  if (rc != SQLITE_OK) {
    Status s = OpenError(path, "cannot set synchronous=FULL", db, rc);
    sqlite3_close(db);
    return s;
  }
  return db;
}

Status InitSchema(const std::string& path, sqlite3* db, const EmbeddedQueueOptions& options) {
  const int busy_timeout_ms = options.busy_timeout_ms;
  bool migrated = false;
  bool added_index = false;
  // The version is read inside the write transaction: of several processes opening one file,
  // only the first migrates it.
  int version = -1;
  const char* failed = nullptr;
  const std::string set_version = "PRAGMA user_version=" + std::to_string(kSchemaVersion);
  int rc = sqlstore::RetryWhileBusy(db, busy_timeout_ms, [&] {
    failed = "cannot begin schema transaction";
    int r = Exec(db, "BEGIN IMMEDIATE");
    if (r != SQLITE_OK) return r;
    failed = "cannot read schema version";
    {
      Stmt st;
      r = st.Prepare(db, "PRAGMA user_version");
      if (r == SQLITE_OK && (r = sqlite3_step(st.get())) == SQLITE_ROW) {
        version = sqlite3_column_int(st.get(), 0);
        r = SQLITE_OK;
      }
    }
    if (r != SQLITE_OK) return r;
    if (version == kSchemaVersion) {
      // A schema-2 file of an earlier build lacks messages_acked (see kSchemaVersion).
      failed = "cannot add index messages_acked";
      bool has_index = false;
      {
        Stmt st;
        r = st.Prepare(db,
                       "SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = "
                       "'messages_acked'");
        if (r == SQLITE_OK) {
          r = sqlite3_step(st.get());
          has_index = r == SQLITE_ROW;
          if (r == SQLITE_ROW || r == SQLITE_DONE) r = SQLITE_OK;
        }
      }
      if (r == SQLITE_OK && !has_index) {
        if (options.on_notice) {
          options.on_notice("embedded queue '" + path +
                            "': adding index messages_acked (retention pruning; built once "
                            "from the acked rows)");
        }
        r = Exec(db, kAckedIndexSql);
        added_index = r == SQLITE_OK;
      }
      if (r != SQLITE_OK) return r;
      return Exec(db, "COMMIT");
    }
    if (version != 0 && version != 1) return SQLITE_OK;  // refused below, rolled back
    failed = version == 1 ? "cannot migrate schema 1 to 2" : "cannot create schema";
    if (version == 1 && options.on_notice) {
      options.on_notice("embedded queue '" + path +
                        "': migrating schema 1 to 2 (the messages table is rebuilt once; a "
                        "large queue takes a while)");
    }
    r = Exec(db, version == 1 ? kMigrateV1Sql : kSchemaSql);
    migrated = r == SQLITE_OK && version == 1;
    if (r == SQLITE_OK) r = Exec(db, set_version.c_str());
    if (r == SQLITE_OK) r = Exec(db, "COMMIT");
    return r;
  });
  if (rc != SQLITE_OK) {
    Status s = OpenError(path, failed, db, rc);
    RollbackIfOpen(db);
    return s;
  }
  if (migrated && options.on_notice)
    options.on_notice("embedded queue '" + path + "': schema 2 in place");
  if (added_index && options.on_notice)
    options.on_notice("embedded queue '" + path + "': index messages_acked in place");
  if (version != 0 && version != 1 && version != kSchemaVersion) {
    RollbackIfOpen(db);
    return Status::DataLoss("embedded queue '" + path + "': unsupported schema version " +
                            std::to_string(version));
  }
  // Validate that the table has the expected shape (a foreign 'messages' table fails here).
  Stmt st;
  rc = st.Prepare(db, kInsertSql);
  if (rc != SQLITE_OK) return OpenError(path, "unexpected database schema", db, rc);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<EmbeddedQueue>> EmbeddedQueue::Open(const std::string& path,
                                                           const EmbeddedQueueOptions& options) {
  if (path.empty()) return Status::InvalidArgument("embedded queue: empty database path");
  if (options.max_pending == 0) {
    return Status::InvalidArgument("embedded queue: max_pending must be positive");
  }
  if (options.signer != nullptr &&
      options.max_pending > static_cast<size_t>(kEnvelopeBatchMaxSize)) {
    return Status::InvalidArgument(
        "embedded queue: max_pending must be <= 2^20 with a signer (one signature per group)");
  }
  if (options.busy_timeout_ms < 0) {
    return Status::InvalidArgument("embedded queue: busy_timeout_ms must not be negative");
  }
  VV_ASSIGN_OR_RETURN(sqlite3* writer, OpenConnection(path, options));
  Status s = InitSchema(path, writer, options);
  if (!s.ok()) {
    sqlite3_close(writer);
    return s;
  }
  Result<sqlite3*> reader = OpenConnection(path, options);
  if (!reader.ok()) {
    sqlite3_close(writer);
    return reader.status();
  }
  return std::unique_ptr<EmbeddedQueue>(new EmbeddedQueue(writer, *reader, options));
}

EmbeddedQueue::EmbeddedQueue(sqlite3* writer_db, sqlite3* reader_db,
                             const EmbeddedQueueOptions& options)
    : options_(options),
      clock_(options.clock != nullptr ? *options.clock : system_clock_),
      writer_db_(writer_db),
      reader_db_(reader_db) {
  writer_running_.store(true);
  writer_ = std::thread([this] { WriterLoop(); });
}

EmbeddedQueue::~EmbeddedQueue() {
  {
    MutexLock l(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  if (writer_.joinable()) writer_.join();
  sqlite3_close(reader_db_);
  sqlite3_close(writer_db_);
}

EmbeddedQueue::Pending EmbeddedQueue::MakePending(Envelope envelope, PublishCallback done) const {
  Pending p;
  if (options_.signer != nullptr && envelope.auth.is_null() && envelope.wire.empty())
    p.unsigned_bytes = envelope.TakeUnsignedBytes();  // signed by the writer, per group
  else
    p.wire_bytes = envelope.TakeWireBytes();  // serialise outside the lock
  p.envelope = std::move(envelope);
  // The writer stores wire_bytes and the scalar columns only: free the DOM here, on the
  // thread that built it, rather than on the writer thread after the commit.
  p.envelope.trace = json::Value();
  p.envelope.payload = json::Value();
  p.done = std::move(done);
  return p;
}

void EmbeddedQueue::Publish(Envelope envelope, PublishCallback done) {
  Pending one = MakePending(std::move(envelope), std::move(done));
  Enqueue(&one, 1);  // no vector: the single publish stays allocation-free here
}

void EmbeddedQueue::PublishBatch(std::vector<Envelope> envelopes, PublishBatchCallback done) {
  if (envelopes.empty()) {
    done(Status::Ok(), {});
    return;
  }
  std::vector<PublishCallback> callbacks = JoinBatchCallbacks(envelopes.size(), std::move(done));
  std::vector<Pending> batch;
  batch.reserve(envelopes.size());
  for (size_t i = 0; i < envelopes.size(); ++i)
    batch.push_back(MakePending(std::move(envelopes[i]), std::move(callbacks[i])));
  // A batch is a group already: signed here, on the publishing thread, with one signature
  // (the writer thread, shared by every publisher, only signs what single publishes leave).
  if (options_.signer != nullptr) SignGroup(batch);
  Enqueue(batch.data(), batch.size());
}

void EmbeddedQueue::Enqueue(Pending* items, size_t n) {
  const char* reject = nullptr;
  {
    MutexLock l(&mu_);
    if (stopping_ || !writer_running_.load()) {
      reject = "embedded queue is shutting down";
    } else if (pending_.size() + n > options_.max_pending) {
      reject = "embedded queue is full";
    } else {
      // Under one lock: the writer takes everything pending at once, so these share a commit.
      for (size_t i = 0; i < n; ++i) pending_.push_back(std::move(items[i]));
    }
  }
  if (reject != nullptr) {
    for (size_t i = 0; i < n; ++i)
      items[i].done(Status::Unavailable(reject), PublishOutcome::kStored);
    return;
  }
  cv_.Signal();
}

Status EmbeddedQueue::Health() const {
  if (!writer_running_.load()) return Status::Unavailable("embedded queue writer stopped");
  if (last_commit_failed_.load()) {
    return Status::Unavailable("embedded queue: last write transaction failed");
  }
  return Status::Ok();
}

// The writer's prepared statements, reused across batches (sqlite3_prepare_v2 re-prepares
// them itself after a schema change). Owned by the writer thread; finalized when WriterLoop
// returns, i.e. before the destructor closes the connection.
struct EmbeddedQueue::WriterStatements {
  Stmt begin;
  Stmt insert;
  Stmt commit;
};

void EmbeddedQueue::WriterLoop() {
  std::vector<Pending> batch;
  std::vector<Outcome> outcomes;
  WriterStatements statements;
  for (;;) {
    batch.clear();
    {
      MutexLock l(&mu_);
      while (!stopping_ && pending_.empty()) cv_.Wait(&mu_);
      if (pending_.empty()) break;  // stopping and fully drained
      batch.reserve(pending_.size());
      for (Pending& p : pending_) batch.push_back(std::move(p));
      pending_.clear();
    }
    if (options_.signer != nullptr) SignGroup(batch);
    WriteBatch(batch, &statements, &outcomes);
    // The callbacks of one commit group run inside one CompletionBatch: work they defer to
    // it (the gateway's audit records and answers) is done once for the group, after the last.
    CompletionBatch group;
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].done(std::move(outcomes[i].status), outcomes[i].outcome);
    }
  }
  writer_running_.store(false);
}

void EmbeddedQueue::SignGroup(std::vector<Pending>& batch) const {
  std::vector<size_t> idx;
  for (size_t i = 0; i < batch.size(); ++i)
    if (!batch[i].unsigned_bytes.empty()) idx.push_back(i);
  if (idx.empty()) return;
  std::vector<std::string> unsigned_bytes;
  unsigned_bytes.reserve(idx.size());
  for (size_t i : idx) unsigned_bytes.push_back(std::move(batch[i].unsigned_bytes));
  // A group is at most max_pending <= kEnvelopeBatchMaxSize envelopes (checked at Open). Only
  // the stored bytes carry the signature: the writer binds the envelope's scalar columns.
  std::vector<std::string> wire = options_.signer->SignedWireBytes(unsigned_bytes);
  for (size_t k = 0; k < idx.size(); ++k) {
    Pending& p = batch[idx[k]];
    p.wire_bytes = std::move(wire[k]);
    p.unsigned_bytes.clear();
  }
}

namespace {

// Steps a statement that returns no rows (BEGIN, COMMIT), preparing it on first use, and
// resets it. Returns the step's result code (SQLITE_OK for SQLITE_DONE).
int StepCached(sqlite3* db, Stmt* st, const char* sql) {
  if (st->get() == nullptr) {
    int rc = st->Prepare(db, sql);
    if (rc != SQLITE_OK) return rc;
  }
  int rc = sqlite3_step(st->get());
  sqlite3_reset(st->get());
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

}  // namespace

void EmbeddedQueue::WriteBatch(std::vector<Pending>& batch, WriterStatements* statements,
                               std::vector<Outcome>* outcomes) {
  outcomes->assign(batch.size(), Outcome{});
  sqlite3* db = writer_db_;
  auto fail_all = [&](const std::string& why) {
    RollbackIfOpen(db);
    for (Outcome& o : *outcomes) {
      o.status = Status::Unavailable("embedded queue write failed: " + why);
      o.outcome = PublishOutcome::kStored;
    }
    failed_commits_.fetch_add(1);
    last_commit_failed_.store(true);
  };

  int rc = StepCached(db, &statements->begin, "BEGIN IMMEDIATE");
  if (rc != SQLITE_OK) return fail_all("begin: " + DbError(db, rc));
  uint64_t stored = 0;
  {
    if (statements->insert.get() == nullptr) {
      rc = statements->insert.Prepare(db, kInsertSql);
      if (rc != SQLITE_OK) return fail_all("prepare: " + DbError(db, rc));
    }
    sqlite3_stmt* s = statements->insert.get();
    for (size_t i = 0; i < batch.size(); ++i) {
      const Envelope& e = batch[i].envelope;
      sqlite3_bind_text(s, 1, KindName(e.kind), -1, SQLITE_STATIC);
      BindText(s, 2, e.message_id);
      // Dead letters are never deduplicated; an empty dedupe_id means "no dedupe".
      if (e.kind == Kind::kIngest && !e.dedupe_id.empty()) {
        BindText(s, 3, e.dedupe_id);
      } else {
        sqlite3_bind_null(s, 3);
      }
      BindText(s, 4, e.created_at);
      BindText(s, 5, e.integrity_hash);
      sqlite3_bind_text(s, 6, batch[i].wire_bytes.data(),
                        static_cast<int>(batch[i].wire_bytes.size()), SQLITE_STATIC);
      rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) {
        if (sqlite3_changes(db) == 0) {
          (*outcomes)[i].outcome = PublishOutcome::kDuplicate;
        } else {
          ++stored;
        }
      } else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        // Only this statement is undone (a constraint it broke): the batch goes on.
        (*outcomes)[i].status = Status::AlreadyExists(
            "embedded queue: message not stored: " + DbError(db, rc));
      } else {
        std::string why = "insert: " + DbError(db, rc);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        return fail_all(why);
      }
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    }
  }
  if (options_.fail_commit_for_test) {
    Status injected = options_.fail_commit_for_test();
    if (!injected.ok()) return fail_all("commit: " + injected.message());
  }
  rc = StepCached(db, &statements->commit, "COMMIT");
  if (rc != SQLITE_OK) return fail_all("commit: " + DbError(db, rc));
  commits_.fetch_add(1);
  committed_messages_.fetch_add(stored);
  last_commit_failed_.store(false);
}

Result<std::vector<StoredMessage>> EmbeddedQueue::Select(Kind kind, int64_t after_seq, int limit,
                                                         bool unacked_only) {
  std::vector<StoredMessage> out;
  if (limit <= 0) return out;
  sqlite3* db = reader_db_;
  Stmt st;
  int rc = st.Prepare(db, unacked_only
                              ? "SELECT seq, dedupe_id, body FROM messages WHERE kind = ?1 AND "
                                "seq > ?2 AND acked_at IS NULL ORDER BY seq LIMIT ?3"
                              : "SELECT seq, dedupe_id, body FROM messages WHERE kind = ?1 AND "
                                "seq > ?2 ORDER BY seq LIMIT ?3");
  if (rc != SQLITE_OK) return Status::Unavailable("embedded queue read: " + DbError(db, rc));
  sqlite3_bind_text(st.get(), 1, KindName(kind), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st.get(), 2, after_seq);
  sqlite3_bind_int(st.get(), 3, limit);
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    StoredMessage m;
    m.sequence = sqlite3_column_int64(st.get(), 0);
    const unsigned char* body = sqlite3_column_text(st.get(), 2);
    m.wire_bytes.assign(body != nullptr ? reinterpret_cast<const char*>(body) : "",
                        static_cast<size_t>(sqlite3_column_bytes(st.get(), 2)));
    Result<Envelope> e = ParseEnvelope(m.wire_bytes);
    if (!e.ok()) {
      return Status::DataLoss("embedded queue: stored message " + std::to_string(m.sequence) +
                              " is corrupt: " + e.status().message());
    }
    m.envelope = std::move(e).value();
    const unsigned char* dd = sqlite3_column_text(st.get(), 1);
    if (dd != nullptr) m.envelope.dedupe_id = reinterpret_cast<const char*>(dd);
    out.push_back(std::move(m));
  }
  if (rc != SQLITE_DONE) return Status::Unavailable("embedded queue read: " + DbError(db, rc));
  return out;
}

Result<std::vector<StoredMessage>> EmbeddedQueue::List(Kind kind, int64_t after_seq, int limit) {
  MutexLock l(&reader_mu_);
  return Select(kind, after_seq, limit, /*unacked_only=*/false);
}

Result<int64_t> EmbeddedQueue::Count(Kind kind) {
  MutexLock l(&reader_mu_);
  sqlite3* db = reader_db_;
  Stmt st;
  int rc = st.Prepare(db, "SELECT COUNT(*) FROM messages WHERE kind = ?1");
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st.get(), 1, KindName(kind), -1, SQLITE_STATIC);
    rc = sqlite3_step(st.get());
    if (rc == SQLITE_ROW) return static_cast<int64_t>(sqlite3_column_int64(st.get(), 0));
  }
  return Status::Unavailable("embedded queue count: " + DbError(db, rc));
}

Result<std::vector<StoredMessage>> EmbeddedQueue::FetchUnacked(Kind kind, int limit) {
  MutexLock l(&reader_mu_);
  sqlite3* db = reader_db_;
  if (limit <= 0) return std::vector<StoredMessage>{};
  int rc = Exec(db, "BEGIN IMMEDIATE");
  if (rc != SQLITE_OK) return Status::Unavailable("embedded queue fetch: " + DbError(db, rc));
  Result<std::vector<StoredMessage>> msgs = Select(kind, 0, limit, /*unacked_only=*/true);
  if (!msgs.ok()) {
    RollbackIfOpen(db);
    return msgs.status();
  }
  {
    Stmt st;
    rc = st.Prepare(db, "UPDATE messages SET delivered_count = delivered_count + 1 WHERE seq = ?1");
    for (size_t i = 0; rc == SQLITE_OK && i < msgs->size(); ++i) {
      sqlite3_bind_int64(st.get(), 1, (*msgs)[i].sequence);
      rc = sqlite3_step(st.get());
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
      sqlite3_reset(st.get());
    }
  }
  if (rc == SQLITE_OK) rc = Exec(db, "COMMIT");
  if (rc != SQLITE_OK) {
    Status s = Status::Unavailable("embedded queue fetch: " + DbError(db, rc));
    RollbackIfOpen(db);
    return s;
  }
  return msgs;
}

Status EmbeddedQueue::Ack(int64_t seq) { return AckBatch({seq}); }

Status EmbeddedQueue::AckBatch(const std::vector<int64_t>& seqs) {
  if (seqs.empty()) return Status::Ok();
  MutexLock l(&reader_mu_);
  sqlite3* db = reader_db_;
  // One transaction (one WAL sync) for the batch; a single ack needs none of its own.
  const bool txn = seqs.size() > 1;
  int rc = txn ? Exec(db, "BEGIN IMMEDIATE") : SQLITE_OK;
  Stmt st;
  // COALESCE keeps the first ack time: acking twice is a no-op.
  if (rc == SQLITE_OK)
    rc = st.Prepare(db, "UPDATE messages SET acked_at = COALESCE(acked_at, ?2) WHERE seq = ?1");
  const int64_t now = clock_.NowMicros();
  for (size_t i = 0; rc == SQLITE_OK && i < seqs.size(); ++i) {
    sqlite3_bind_int64(st.get(), 1, seqs[i]);
    sqlite3_bind_int64(st.get(), 2, now);
    rc = sqlite3_step(st.get());
    if (rc != SQLITE_DONE) break;
    rc = SQLITE_OK;
    if (sqlite3_changes(db) == 0) {
      RollbackIfOpen(db);
      return Status::NotFound("embedded queue: no message with seq " + std::to_string(seqs[i]));
    }
    sqlite3_reset(st.get());
  }
  if (rc == SQLITE_OK && txn) rc = Exec(db, "COMMIT");
  if (rc != SQLITE_OK) {
    Status s = Status::Unavailable("embedded queue ack: " + DbError(db, rc));
    RollbackIfOpen(db);
    return s;
  }
  return Status::Ok();
}

Result<int64_t> EmbeddedQueue::DeliveredCount(int64_t seq) {
  MutexLock l(&reader_mu_);
  sqlite3* db = reader_db_;
  Stmt st;
  int rc = st.Prepare(db, "SELECT delivered_count FROM messages WHERE seq = ?1");
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(st.get(), 1, seq);
    rc = sqlite3_step(st.get());
    if (rc == SQLITE_ROW) return static_cast<int64_t>(sqlite3_column_int64(st.get(), 0));
    if (rc == SQLITE_DONE) {
      return Status::NotFound("embedded queue: no message with seq " + std::to_string(seq));
    }
  }
  return Status::Unavailable("embedded queue read: " + DbError(db, rc));
}

const char* EmbeddedQueue::PruneAckedSql() { return kPruneAckedSql; }

Result<int> EmbeddedQueue::PruneAcked(Kind kind, int64_t cutoff_micros, int limit) {
  if (limit <= 0) return 0;
  MutexLock l(&reader_mu_);
  sqlite3* db = reader_db_;
  Stmt st;
  int rc = st.Prepare(db, kPruneAckedSql);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st.get(), 1, KindName(kind), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st.get(), 2, cutoff_micros);
    sqlite3_bind_int(st.get(), 3, limit);
    rc = sqlite3_step(st.get());
  }
  if (rc != SQLITE_DONE) return Status::Unavailable("embedded queue prune: " + DbError(db, rc));
  return sqlite3_changes(db);
}

Result<std::vector<StoredMessage>> EmbeddedQueue::ListUnacked(Kind kind, int64_t after_seq,
                                                              int limit) {
  MutexLock l(&reader_mu_);
  return Select(kind, after_seq, limit, /*unacked_only=*/true);
}

Result<int64_t> EmbeddedQueue::Redrive(int64_t dlq_seq, const Envelope& original,
                                       const std::string& original_wire) {
  MutexLock l(&reader_mu_);
  sqlite3* db = reader_db_;
  auto fail = [&](const std::string& what, int rc) -> Status {
    Status s = Status::Unavailable("embedded queue redrive: " + what + ": " + DbError(db, rc));
    RollbackIfOpen(db);
    return s;
  };
  int rc = Exec(db, "BEGIN IMMEDIATE");
  if (rc != SQLITE_OK) return fail("begin", rc);
  {
    Stmt retire;
    rc = retire.Prepare(db, "UPDATE messages SET acked_at = ?2 WHERE seq = ?1 AND kind = "
                            "'dead_letter' AND acked_at IS NULL");
    if (rc == SQLITE_OK) {
      sqlite3_bind_int64(retire.get(), 1, dlq_seq);
      sqlite3_bind_int64(retire.get(), 2, clock_.NowMicros());
      rc = sqlite3_step(retire.get());
    }
    if (rc != SQLITE_DONE) return fail("retire dead letter", rc);
    if (sqlite3_changes(db) == 0) {
      RollbackIfOpen(db);
      return Status::NotFound("no live dead letter with seq " + std::to_string(dlq_seq));
    }
  }
  int64_t ingest_seq = 0;
  {
    Stmt again;
    // Found through the created_at index (message_id has none; schema 2).
    rc = again.Prepare(db, "UPDATE messages SET acked_at = NULL, delivered_count = 0 WHERE "
                           "created_at = ?1 AND message_id = ?2 AND kind = 'ingest' "
                           "RETURNING seq");
    if (rc == SQLITE_OK) {
      BindText(again.get(), 1, original.created_at);
      BindText(again.get(), 2, original.message_id);
      rc = sqlite3_step(again.get());
      if (rc == SQLITE_ROW) ingest_seq = sqlite3_column_int64(again.get(), 0);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail("requeue", rc);
  }
  if (ingest_seq == 0) {  // pruned by retention (or never stored here): insert it again
    Stmt insert;
    rc = insert.Prepare(db, kInsertSql);
    if (rc == SQLITE_OK) {
      sqlite3_bind_text(insert.get(), 1, KindName(Kind::kIngest), -1, SQLITE_STATIC);
      BindText(insert.get(), 2, original.message_id);
      sqlite3_bind_null(insert.get(), 3);
      BindText(insert.get(), 4, original.created_at);
      BindText(insert.get(), 5, original.integrity_hash);
      BindText(insert.get(), 6, original_wire);
      rc = sqlite3_step(insert.get());
    }
    if (rc != SQLITE_DONE) return fail("insert", rc);
    ingest_seq = sqlite3_last_insert_rowid(db);
  }
  rc = Exec(db, "COMMIT");
  if (rc != SQLITE_OK) return fail("commit", rc);
  return ingest_seq;
}

}  // namespace vv::queue

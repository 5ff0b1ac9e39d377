#include "queue/embedded_queue.h"

#include <sqlite3.h>

#include <initializer_list>
#include <utility>

#include "common/file_mode.h"
#include "queue/envelope_codec.h"
#include "sqlstore/sqlite_util.h"

namespace vv::queue {
namespace {

// Schema 3 (issue 15): a message's bytes and its delivery state live apart.
//   messages  seq INTEGER PRIMARY KEY AUTOINCREMENT, kind, message_id, dedupe_id UNIQUE,
//             created_at, integrity_hash, body. Written once, deleted by retention.
//   unacked   (kind, seq) WITHOUT ROWID, delivered_count: one short row per live message.
//   acked     seq INTEGER PRIMARY KEY, kind, acked_at, delivered_count; index (kind, acked_at).
// An ack moves a message's short row from unacked to acked; a fetch counts the delivery in it.
// In schema 2 both were columns of the ~1.7 KB messages row: every fetch and every ack
// rewrote two or three such rows per 4 KB page, i.e. every page of the batch, to the WAL and
// again at checkpoint (a 500-event batch: ~1 MB written twice to fetch and ack it). Now they
// touch a few pages of short rows. A publish still writes five B-trees (messages, dedupe_id,
// (kind, seq), created_at, and unacked in place of schema 2's partial unacked index).
// Schema 2 had dropped the UNIQUE index on the random uuid4 message_id (one random B-tree page
// per stored event); redrive finds its row through the time-ordered created_at index. The
// dedupe_id index is the dedupe. Retention pruning finds the rows acked before its cutoff by a
// range scan of acked_by_time: it reads only what it deletes.
constexpr int kSchemaVersion = 3;

#define VV_QUEUE_TABLES                                                                  \
  "CREATE TABLE IF NOT EXISTS messages (\n"                                             \
  "  seq INTEGER PRIMARY KEY AUTOINCREMENT,\n"                                          \
  "  kind TEXT NOT NULL CHECK (kind IN ('ingest', 'dead_letter')),\n"                  \
  "  message_id TEXT NOT NULL,\n"                                                       \
  "  dedupe_id TEXT UNIQUE,\n"                                                          \
  "  created_at TEXT NOT NULL,\n"                                                       \
  "  integrity_hash TEXT NOT NULL,\n"                                                   \
  "  body TEXT NOT NULL,\n"                                                             \
  "  schema INTEGER NOT NULL CHECK (schema = 3));\n"                                    \
  "CREATE TABLE IF NOT EXISTS unacked (\n"                                              \
  "  kind TEXT NOT NULL,\n"                                                             \
  "  seq INTEGER NOT NULL,\n"                                                           \
  "  delivered_count INTEGER NOT NULL DEFAULT 0,\n"                                     \
  "  PRIMARY KEY (kind, seq)) WITHOUT ROWID;\n"                                         \
  "CREATE TABLE IF NOT EXISTS acked (\n"                                                \
  "  seq INTEGER PRIMARY KEY,\n"                                                        \
  "  kind TEXT NOT NULL,\n"                                                             \
  "  acked_at INTEGER NOT NULL,\n"                                                      \
  "  delivered_count INTEGER NOT NULL);\n"

#define VV_QUEUE_INDEXES                                                        \
  "CREATE INDEX IF NOT EXISTS messages_kind_seq ON messages(kind, seq);\n"    \
  "CREATE INDEX IF NOT EXISTS messages_created_at ON messages(created_at);\n" \
  "CREATE INDEX IF NOT EXISTS acked_by_time ON acked(kind, acked_at);\n"

constexpr const char* kSchemaSql = VV_QUEUE_TABLES VV_QUEUE_INDEXES;

// Schema 1 or 2 -> 3 inside the schema transaction. The old messages table (schema 1: with a
// UNIQUE message_id; schema 2: without) is renamed away and its rows copied: the bytes to the
// new messages table, the delivery state of each row to unacked or acked. Seqs are kept, and
// the AUTOINCREMENT high-water mark too, so a seq is never handed out twice (consumers page by
// seq) even when retention pruned the newest rows. Dropping the old table drops its indexes.
constexpr const char* kMigrateSql =
    "ALTER TABLE messages RENAME TO messages_old;\n"
    "DROP INDEX IF EXISTS messages_kind_seq;\n"
    "DROP INDEX IF EXISTS messages_unacked;\n"
    "DROP INDEX IF EXISTS messages_created_at;\n"
    "DROP INDEX IF EXISTS messages_acked;\n"
    VV_QUEUE_TABLES
    "INSERT INTO messages (seq, kind, message_id, dedupe_id, created_at, integrity_hash, body,"
    " schema) SELECT seq, kind, message_id, dedupe_id, created_at, integrity_hash, body, 3 FROM"
    " messages_old ORDER BY seq;\n"
    "INSERT INTO unacked (kind, seq, delivered_count) SELECT kind, seq, delivered_count FROM"
    " messages_old WHERE acked_at IS NULL;\n"
    "INSERT INTO acked (seq, kind, acked_at, delivered_count) SELECT seq, kind, acked_at,"
    " delivered_count FROM messages_old WHERE acked_at IS NOT NULL;\n"
    "DELETE FROM sqlite_sequence WHERE name = 'messages';\n"
    "INSERT INTO sqlite_sequence (name, seq) SELECT 'messages', max(seq) FROM"
    " (SELECT seq FROM sqlite_sequence WHERE name = 'messages_old' UNION ALL"
    "  SELECT max(seq) FROM messages) HAVING max(seq) IS NOT NULL;\n"
    "DROP TABLE messages_old;\n"
    VV_QUEUE_INDEXES;

#undef VV_QUEUE_TABLES
#undef VV_QUEUE_INDEXES

// Oldest acked first, through acked_by_time (a range scan; the query plan is checked by a
// test through EmbeddedQueue::PruneAckedSql()).
constexpr const char* kPruneAckedSql =
    "SELECT seq FROM acked WHERE kind = ?1 AND acked_at < ?2 ORDER BY acked_at LIMIT ?3";

constexpr const char* kInsertSql =
    "INSERT INTO messages (kind, message_id, dedupe_id, created_at, integrity_hash, body, "
    "schema) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 3) ON CONFLICT(dedupe_id) DO NOTHING";
// Every stored message starts unacked: right after kInsertSql stored one (?1 kind). A process
// of an earlier release still running on a migrated file (the old gateway of a rolling
// upgrade) would store rows without this - never delivered - with an INSERT that is otherwise
// valid on schema 3: the NOT NULL `schema` column, which it does not name, refuses them (a
// failed publish, never a 202 for a message nobody will deliver). Its engine's fetch and ack
// name columns schema 3 does not have: they fail too. (An AFTER INSERT trigger adding the
// unacked row instead halved the batch endpoint's rate: SQLite then keeps a statement journal
// per insert.)
constexpr const char* kInsertUnackedSql =
    "INSERT INTO unacked (kind, seq) VALUES (?1, last_insert_rowid())";

// The oldest unacked messages of a kind after a seq: driven by unacked's (kind, seq) order,
// each message's bytes found by its seq (CROSS JOIN keeps that order of the loops).
constexpr const char* kSelectUnackedSql =
    "SELECT u.seq, m.dedupe_id, m.body, u.delivered_count FROM unacked u CROSS JOIN messages m"
    " ON m.seq = u.seq WHERE u.kind = ?1 AND u.seq > ?2 ORDER BY u.seq LIMIT ?3";
constexpr const char* kCountDeliverySql =
    "UPDATE unacked SET delivered_count = delivered_count + 1 WHERE kind = ?1 AND seq = ?2";

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

// Binds `v` without a copy: its bytes must stay valid until the statement is reset.
void BindText(sqlite3_stmt* s, int idx, std::string_view v) {
  sqlite3_bind_text(s, idx, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

void RollbackIfOpen(sqlite3* db) {
  if (sqlite3_get_autocommit(db) == 0) Exec(db, "ROLLBACK");
}

// Ends the open transaction of a reader-side operation `what`: COMMIT when `rc` (the result of
// its statements) is SQLITE_OK, ROLLBACK otherwise or when the commit fails (Unavailable).
Status CommitOrRollBack(sqlite3* db, int rc, const char* what) {
  if (rc == SQLITE_OK) rc = Exec(db, "COMMIT");
  if (rc == SQLITE_OK) return Status::Ok();
  Status s = Status::Unavailable(std::string("embedded queue ") + what + ": " + DbError(db, rc));
  RollbackIfOpen(db);
  return s;
}

// Acks one message inside the caller's transaction: `record` (kRecordAckedSql) copies its
// delivery state from unacked to acked, then `drop` (kDropUnackedSql) removes its unacked row;
// ?1 = seq, ?2 = the ack time. *moved = false when it had no unacked row. An SQLite result code.
// (Was one DELETE ... RETURNING with `kind IN ('ingest', 'dead_letter')` feeding the INSERT:
// SQLite gathers RETURNING rows and IN lists in ephemeral tables, each opened, created and
// closed per execution - more than half of the engine's ack in a profile.)
int MoveToAcked(sqlite3_stmt* record, sqlite3_stmt* drop, int64_t seq, int64_t now, bool* moved) {
  *moved = false;
  sqlite3_bind_int64(record, 1, seq);
  sqlite3_bind_int64(record, 2, now);
  int rc = sqlite3_step(record);
  const bool copied = rc == SQLITE_DONE && sqlite3_changes(sqlite3_db_handle(record)) != 0;
  sqlite3_reset(record);
  if (rc != SQLITE_DONE) return rc;
  if (!copied) return SQLITE_OK;
  sqlite3_bind_int64(drop, 1, seq);
  rc = sqlite3_step(drop);
  sqlite3_reset(drop);
  if (rc != SQLITE_DONE) return rc;
  *moved = true;
  return SQLITE_OK;
}

// An ack's two statements for the message whose kind is KIND (an SQL expression). Never
// `kind IN (...)`: SQLite builds an ephemeral table for an IN list at every execution. A general
// ack reads the kind from the message's row (found by its integer primary key).
#define VV_ACK_RECORD_SQL(KIND)                                                        \
  "INSERT INTO acked (seq, kind, acked_at, delivered_count) SELECT seq, kind, ?2, "    \
  "delivered_count FROM unacked WHERE kind = " KIND " AND seq = ?1"
#define VV_ACK_DROP_SQL(KIND) "DELETE FROM unacked WHERE kind = " KIND " AND seq = ?1"
#define VV_KIND_OF_SEQ "(SELECT kind FROM messages WHERE seq = ?1)"
constexpr const char* kRecordAckedSql = VV_ACK_RECORD_SQL(VV_KIND_OF_SEQ);
constexpr const char* kDropUnackedSql = VV_ACK_DROP_SQL(VV_KIND_OF_SEQ);
constexpr const char* kRecordAckedDeadLetterSql = VV_ACK_RECORD_SQL("'dead_letter'");
constexpr const char* kDropUnackedDeadLetterSql = VV_ACK_DROP_SQL("'dead_letter'");
#undef VV_ACK_RECORD_SQL
#undef VV_ACK_DROP_SQL
#undef VV_KIND_OF_SEQ

// Runs each of `statements` (no rows returned) once with ?1 = `seq`; an SQLite result code.
int StepEachWith(int64_t seq, std::initializer_list<sqlite3_stmt*> statements) {
  for (sqlite3_stmt* st : statements) {
    sqlite3_bind_int64(st, 1, seq);
    const int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return rc;
  }
  return SQLITE_OK;
}

// The stored columns of one message (a view: bound SQLITE_STATIC, valid for the call).
struct MessageRow {
  Kind kind = Kind::kIngest;
  std::string_view message_id;
  std::string_view dedupe_id;  // "" = NULL (never deduplicated)
  std::string_view created_at;
  std::string_view integrity_hash;
  std::string_view body;
};

// Stores one message, unacked, inside the caller's transaction: `insert` (kInsertSql) then
// `insert_unacked` (kInsertUnackedSql), both reset and cleared after. *seq = its new seq, 0
// when the dedupe id was already stored (nothing stored, SQLITE_DONE). Returns SQLITE_DONE or
// the failing step's code; *seq != 0 then means the message row went in and its unacked row
// did not (the caller rolls back).
int StoreMessage(sqlite3* db, sqlite3_stmt* insert, sqlite3_stmt* insert_unacked,
                 const MessageRow& m, int64_t* seq) {
  *seq = 0;
  sqlite3_bind_text(insert, 1, KindName(m.kind), -1, SQLITE_STATIC);
  BindText(insert, 2, m.message_id);
  if (m.dedupe_id.empty()) {
    sqlite3_bind_null(insert, 3);
  } else {
    BindText(insert, 3, m.dedupe_id);
  }
  BindText(insert, 4, m.created_at);
  BindText(insert, 5, m.integrity_hash);
  BindText(insert, 6, m.body);
  int rc = sqlite3_step(insert);
  const bool inserted = rc == SQLITE_DONE && sqlite3_changes(db) != 0;
  if (inserted) *seq = sqlite3_last_insert_rowid(db);
  sqlite3_reset(insert);
  sqlite3_clear_bindings(insert);
  if (!inserted) return rc;
  sqlite3_bind_text(insert_unacked, 1, KindName(m.kind), -1, SQLITE_STATIC);
  rc = sqlite3_step(insert_unacked);
  sqlite3_reset(insert_unacked);
  return rc;
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
  int rc = sqlstore::OpenSqlite(
      path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, &db);
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
    if (version == kSchemaVersion) return Exec(db, "COMMIT");
    if (version < 0 || version > kSchemaVersion) return SQLITE_OK;  // refused below, rolled back
    const bool upgrade = version != 0;
    failed = upgrade ? "cannot migrate the schema to 3" : "cannot create schema";
    if (upgrade && options.on_notice) {
      options.on_notice("embedded queue '" + path + "': migrating schema " +
                        std::to_string(version) +
                        " to 3 (the messages table is rebuilt once; a large queue takes a "
                        "while)");
    }
    r = Exec(db, upgrade ? kMigrateSql : kSchemaSql);
    migrated = r == SQLITE_OK && upgrade;
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
    options.on_notice("embedded queue '" + path + "': schema 3 in place");
  if (version < 0 || version > kSchemaVersion) {
    RollbackIfOpen(db);
    return Status::DataLoss("embedded queue '" + path + "': unsupported schema version " +
                            std::to_string(version));
  }
  // Validate that the tables have the expected shape (a foreign 'messages' table fails here).
  for (const char* sql : {kInsertSql, kInsertUnackedSql, kSelectUnackedSql}) {
    Stmt st;
    rc = st.Prepare(db, sql);
    if (rc != SQLITE_OK) return OpenError(path, "unexpected database schema", db, rc);
  }
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
  Result<std::unique_ptr<sqlstore::WalCheckpointer>> checkpointer =
      sqlstore::WalCheckpointer::Start(path);
  if (!checkpointer.ok()) {
    sqlite3_close(*reader);
    sqlite3_close(writer);
    return Status::Unavailable("embedded queue: " + checkpointer.status().message());
  }
  return std::unique_ptr<EmbeddedQueue>(
      new EmbeddedQueue(writer, *reader, std::move(checkpointer).value(), options));
}

EmbeddedQueue::EmbeddedQueue(sqlite3* writer_db, sqlite3* reader_db,
                             std::unique_ptr<sqlstore::WalCheckpointer> checkpointer,
                             const EmbeddedQueueOptions& options)
    : options_(options),
      clock_(options.clock != nullptr ? *options.clock : system_clock_),
      writer_db_(writer_db),
      reader_db_(reader_db),
      checkpointer_(std::move(checkpointer)) {
  checkpointer_->Attach(writer_db_);
  {
    MutexLock l(&reader_mu_);
    checkpointer_->Attach(reader_db_);
  }
  writer_running_.store(true);
  writer_ = std::thread([this] { WriterLoop(); });
}

EmbeddedQueue::~EmbeddedQueue() {
  {
    MutexLock l(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  if (writer_.joinable()) writer_.join();  // its last groups are handed over
  completions_.Stop();                     // every callback has run
  sqlite3_close(reader_db_);
  sqlite3_close(writer_db_);
  checkpointer_.reset();  // its connection is the last: it checkpoints and removes the log
}

void EmbeddedQueue::Publish(Envelope envelope, PublishCallback done) {
  Pending one =
      MakePendingPublish(std::move(envelope), std::move(done), options_.signer != nullptr);
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
    batch.push_back(MakePendingPublish(std::move(envelopes[i]), std::move(callbacks[i]),
                                       options_.signer != nullptr));
  // A batch is a group already: signed here, on the publishing thread, with one signature
  // (the writer thread, shared by every publisher, only signs what single publishes leave).
  if (options_.signer != nullptr) SignPendingGroup(*options_.signer, batch);
  Enqueue(batch.data(), batch.size());
}

void EmbeddedQueue::Enqueue(Pending* items, size_t n) {
  const char* reject = nullptr;
  bool wake = false;
  {
    MutexLock l(&mu_);
    if (stopping_ || !writer_running_.load()) {
      reject = "embedded queue is shutting down";
    } else if (pending_.size() + n > options_.max_pending) {
      reject = "embedded queue is full";
    } else {
      // Under one lock: the writer takes everything pending at once, so these share a commit.
      // The writer sleeps only while nothing is pending: the publish that ends that wakes it;
      // the others find it awake, or already woken.
      wake = pending_.empty();
      for (size_t i = 0; i < n; ++i) pending_.push_back(std::move(items[i]));
    }
  }
  if (reject != nullptr) {
    for (size_t i = 0; i < n; ++i)
      items[i].done(Status::Unavailable(reject), PublishOutcome::kStored);
    return;
  }
  if (wake) cv_.Signal();
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
  Stmt insert_unacked;
  Stmt commit;
};

void EmbeddedQueue::WriterLoop() {
  WriterStatements statements;
  for (;;) {
    Group group;
    {
      MutexLock l(&mu_);
      while (!stopping_ && pending_.empty()) cv_.Wait(&mu_);
      if (pending_.empty()) break;  // stopping and fully drained
      group.batch.reserve(pending_.size());
      for (Pending& p : pending_) group.batch.push_back(std::move(p));
      pending_.clear();
    }
    // A group is at most max_pending <= kEnvelopeBatchMaxSize envelopes (checked at Open). Only
    // the stored bytes carry the signature: the writer binds the envelope's scalar columns.
    if (options_.signer != nullptr) SignPendingGroup(*options_.signer, group.batch);
    if (options_.on_group) options_.on_group(group.batch.size());
    WriteBatch(group.batch, &statements, &group.outcomes);
    completions_.Post(std::move(group));  // waits while two groups wait for their callbacks
  }
  writer_running_.store(false);
}

void EmbeddedQueue::CompleteGroup(Group& group) {
  for (size_t i = 0; i < group.batch.size(); ++i)
    group.batch[i].done(std::move(group.outcomes[i].status), group.outcomes[i].outcome);
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
    if (statements->insert_unacked.get() == nullptr) {
      rc = statements->insert_unacked.Prepare(db, kInsertUnackedSql);
      if (rc != SQLITE_OK) return fail_all("prepare: " + DbError(db, rc));
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      const Envelope& e = batch[i].envelope;
      MessageRow row;
      row.kind = e.kind;
      row.message_id = e.message_id;
      // Dead letters are never deduplicated: no dedupe id, NULL.
      if (e.kind == Kind::kIngest) row.dedupe_id = e.dedupe_id;
      row.created_at = e.created_at;
      row.integrity_hash = e.integrity_hash;
      row.body = batch[i].wire_bytes;
      int64_t seq = 0;
      rc = StoreMessage(db, statements->insert.get(), statements->insert_unacked.get(), row,
                        &seq);
      if (rc == SQLITE_DONE) {
        if (seq == 0) {
          (*outcomes)[i].outcome = PublishOutcome::kDuplicate;
        } else {
          ++stored;
        }
      } else if (seq == 0 && (rc & 0xff) == SQLITE_CONSTRAINT) {
        // Only this statement is undone (a constraint it broke): the batch goes on.
        (*outcomes)[i].status = Status::AlreadyExists(
            "embedded queue: message not stored: " + DbError(db, rc));
      } else {
        return fail_all("insert: " + DbError(db, rc));
      }
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

namespace {

// Appends the rows of `st` - seq, dedupe_id, body[, delivered_count] - to `out` (and each
// dedupe id to `dedupe_ids`, when not null): delivery_count = the delivered_count column (when
// `deliveries_column`) plus `extra_deliveries`. Returns the last step's code (SQLITE_DONE when
// every row was read).
int AppendRows(sqlite3_stmt* st, bool deliveries_column, int extra_deliveries,
               std::vector<StoredMessage>* out, std::vector<std::string>* dedupe_ids) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    StoredMessage m;
    m.sequence = sqlite3_column_int64(st, 0);
    if (dedupe_ids != nullptr) {
      const unsigned char* dd = sqlite3_column_text(st, 1);
      dedupe_ids->emplace_back(dd != nullptr ? reinterpret_cast<const char*>(dd) : "");
    }
    const unsigned char* body = sqlite3_column_text(st, 2);
    m.wire_bytes.assign(body != nullptr ? reinterpret_cast<const char*>(body) : "",
                        static_cast<size_t>(sqlite3_column_bytes(st, 2)));
    m.delivery_count =
        (deliveries_column ? sqlite3_column_int64(st, 3) : 0) + extra_deliveries;
    out->push_back(std::move(m));
  }
  return rc;
}

// Reads the oldest unacked messages of `kind` with seq > after_seq (at most `limit`) into
// `out`: sequence, wire bytes, dedupe id (`dedupe_ids`, when not null) and delivery_count =
// the deliveries counted so far, plus one when `count_delivery` - in which case this delivery
// is counted in unacked too. Inside the caller's transaction when counting. Returns an SQLite
// result code (SQLITE_OK on success). Envelopes are not parsed.
int ReadUnacked(sqlite3* db, Kind kind, int64_t after_seq, int limit, bool count_delivery,
                std::vector<StoredMessage>* out, std::vector<std::string>* dedupe_ids,
                Stmt* select, Stmt* count) {
  int rc = SQLITE_OK;
  if (select->get() == nullptr && (rc = select->Prepare(db, kSelectUnackedSql)) != SQLITE_OK)
    return rc;
  sqlite3_stmt* st = select->get();
  sqlite3_bind_text(st, 1, KindName(kind), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, after_seq);
  sqlite3_bind_int(st, 3, limit);
  rc = AppendRows(st, /*deliveries_column=*/true, count_delivery ? 1 : 0, out, dedupe_ids);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return rc;
  if (!count_delivery || out->empty()) return SQLITE_OK;
  if (count->get() == nullptr && (rc = count->Prepare(db, kCountDeliverySql)) != SQLITE_OK)
    return rc;
  sqlite3_stmt* up = count->get();
  for (const StoredMessage& m : *out) {
    sqlite3_bind_text(up, 1, KindName(kind), -1, SQLITE_STATIC);
    sqlite3_bind_int64(up, 2, m.sequence);
    rc = sqlite3_step(up);
    sqlite3_reset(up);
    if (rc != SQLITE_DONE) return rc;
  }
  return SQLITE_OK;
}

// ReadUnacked counting the delivery, in one transaction of its own.
Result<std::vector<StoredMessage>> FetchCounted(sqlite3* db, Kind kind, int64_t after_seq,
                                                int limit, std::vector<std::string>* dedupe_ids,
                                                Stmt* select, Stmt* count) {
  std::vector<StoredMessage> out;
  if (limit <= 0) return out;
  int rc = Exec(db, "BEGIN IMMEDIATE");
  if (rc == SQLITE_OK)
    rc = ReadUnacked(db, kind, after_seq, limit, /*count_delivery=*/true, &out, dedupe_ids,
                     select, count);
  VV_RETURN_IF_ERROR(CommitOrRollBack(db, rc, "fetch"));
  return out;
}

// Parses each message's stored bytes (a stored row that is not an envelope is DataLoss) and
// sets its dedupe id.
Status ParseStored(std::vector<StoredMessage>* msgs, std::vector<std::string>* dedupe_ids) {
  for (size_t i = 0; i < msgs->size(); ++i) {
    StoredMessage& m = (*msgs)[i];
    Result<Envelope> e = ParseEnvelope(m.wire_bytes);
    if (!e.ok()) {
      return Status::DataLoss("embedded queue: stored message " + std::to_string(m.sequence) +
                              " is corrupt: " + e.status().message());
    }
    m.envelope = std::move(e).value();
    if (!(*dedupe_ids)[i].empty()) m.envelope.dedupe_id = std::move((*dedupe_ids)[i]);
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<StoredMessage>> EmbeddedQueue::Select(Kind kind, int64_t after_seq, int limit,
                                                         bool unacked_only) {
  std::vector<StoredMessage> out;
  if (limit <= 0) return out;
  sqlite3* db = reader_db_;
  std::vector<std::string> dedupe_ids;
  Stmt st;
  int rc = SQLITE_OK;
  if (unacked_only) {
    Stmt unused;
    rc = ReadUnacked(db, kind, after_seq, limit, /*count_delivery=*/false, &out, &dedupe_ids, &st,
                     &unused);
  } else {
    rc = st.Prepare(db,
                    "SELECT seq, dedupe_id, body FROM messages WHERE kind = ?1 AND seq > ?2 "
                    "ORDER BY seq LIMIT ?3");
    if (rc == SQLITE_OK) {
      sqlite3_bind_text(st.get(), 1, KindName(kind), -1, SQLITE_STATIC);
      sqlite3_bind_int64(st.get(), 2, after_seq);
      sqlite3_bind_int(st.get(), 3, limit);
      rc = AppendRows(st.get(), /*deliveries_column=*/false, 0, &out, &dedupe_ids);
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
  }
  if (rc != SQLITE_OK) return Status::Unavailable("embedded queue read: " + DbError(db, rc));
  VV_RETURN_IF_ERROR(ParseStored(&out, &dedupe_ids));
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
  std::vector<std::string> dedupe_ids;
  Stmt select, count;
  VV_ASSIGN_OR_RETURN(std::vector<StoredMessage> msgs,
                      FetchCounted(reader_db_, kind, 0, limit, &dedupe_ids, &select, &count));
  VV_RETURN_IF_ERROR(ParseStored(&msgs, &dedupe_ids));
  return msgs;
}

Status EmbeddedQueue::Ack(int64_t seq) { return AckBatch({seq}); }

Status EmbeddedQueue::AckBatch(const std::vector<int64_t>& seqs) {
  if (seqs.empty()) return Status::Ok();
  MutexLock l(&reader_mu_);
  sqlite3* db = reader_db_;
  // One transaction (one WAL sync) for the batch.
  int rc = Exec(db, "BEGIN IMMEDIATE");
  // An ack moves the message's delivery state from unacked to acked. A seq found in neither
  // table is unknown; one found in acked only was acked before (a no-op: the first ack time
  // is kept).
  Stmt record, drop, known;
  if (rc == SQLITE_OK) rc = record.Prepare(db, kRecordAckedSql);
  if (rc == SQLITE_OK) rc = drop.Prepare(db, kDropUnackedSql);
  if (rc == SQLITE_OK) rc = known.Prepare(db, "SELECT 1 FROM acked WHERE seq = ?1");
  const int64_t now = clock_.NowMicros();
  for (size_t i = 0; rc == SQLITE_OK && i < seqs.size(); ++i) {
    bool moved = false;
    rc = MoveToAcked(record.get(), drop.get(), seqs[i], now, &moved);
    if (rc != SQLITE_OK || moved) continue;
    sqlite3_bind_int64(known.get(), 1, seqs[i]);
    rc = sqlite3_step(known.get());
    sqlite3_reset(known.get());
    if (rc == SQLITE_DONE) {
      RollbackIfOpen(db);
      return Status::NotFound("embedded queue: no message with seq " + std::to_string(seqs[i]));
    }
    if (rc == SQLITE_ROW) rc = SQLITE_OK;
  }
  return CommitOrRollBack(db, rc, "ack");
}

Result<int64_t> EmbeddedQueue::DeliveredCount(int64_t seq) {
  MutexLock l(&reader_mu_);
  sqlite3* db = reader_db_;
  Stmt st;
  int rc = st.Prepare(db,
                      "SELECT delivered_count FROM unacked WHERE kind IN ('ingest', "
                      "'dead_letter') AND seq = ?1 UNION ALL SELECT delivered_count FROM acked "
                      "WHERE seq = ?1");
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

std::vector<const char*> EmbeddedQueue::AckSql() {
  return {kRecordAckedSql, kDropUnackedSql, kRecordAckedDeadLetterSql, kDropUnackedDeadLetterSql};
}

Result<int> EmbeddedQueue::PruneAcked(Kind kind, int64_t cutoff_micros, int limit) {
  if (limit <= 0) return 0;
  MutexLock l(&reader_mu_);
  sqlite3* db = reader_db_;
  int rc = Exec(db, "BEGIN IMMEDIATE");
  std::vector<int64_t> due;
  {
    Stmt st;
    if (rc == SQLITE_OK) rc = st.Prepare(db, kPruneAckedSql);
    if (rc == SQLITE_OK) {
      sqlite3_bind_text(st.get(), 1, KindName(kind), -1, SQLITE_STATIC);
      sqlite3_bind_int64(st.get(), 2, cutoff_micros);
      sqlite3_bind_int(st.get(), 3, limit);
      while ((rc = sqlite3_step(st.get())) == SQLITE_ROW)
        due.push_back(sqlite3_column_int64(st.get(), 0));
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
  }
  {
    Stmt drop_message, drop_state;
    if (rc == SQLITE_OK) rc = drop_message.Prepare(db, "DELETE FROM messages WHERE seq = ?1");
    if (rc == SQLITE_OK) rc = drop_state.Prepare(db, "DELETE FROM acked WHERE seq = ?1");
    for (size_t i = 0; rc == SQLITE_OK && i < due.size(); ++i)
      rc = StepEachWith(due[i], {drop_message.get(), drop_state.get()});
  }
  VV_RETURN_IF_ERROR(CommitOrRollBack(db, rc, "prune"));
  return static_cast<int>(due.size());
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
    Stmt record, drop;
    rc = record.Prepare(db, kRecordAckedDeadLetterSql);
    if (rc == SQLITE_OK) rc = drop.Prepare(db, kDropUnackedDeadLetterSql);
    bool moved = false;
    if (rc == SQLITE_OK)
      rc = MoveToAcked(record.get(), drop.get(), dlq_seq, clock_.NowMicros(), &moved);
    if (rc != SQLITE_OK) return fail("retire dead letter", rc);
    if (!moved) {
      RollbackIfOpen(db);
      return Status::NotFound("no live dead letter with seq " + std::to_string(dlq_seq));
    }
  }
  int64_t ingest_seq = 0;
  {
    // Found through the created_at index (message_id has none; schema 2). Made unacked again
    // with no delivery counted, whether it was acked or still waiting.
    std::vector<int64_t> found;
    Stmt find, unack, requeue;
    rc = find.Prepare(db, "SELECT seq FROM messages WHERE created_at = ?1 AND message_id = ?2 "
                          "AND kind = 'ingest' ORDER BY seq");
    if (rc == SQLITE_OK) {
      BindText(find.get(), 1, original.created_at);
      BindText(find.get(), 2, original.message_id);
      while ((rc = sqlite3_step(find.get())) == SQLITE_ROW)
        found.push_back(sqlite3_column_int64(find.get(), 0));
    }
    if (rc != SQLITE_DONE) return fail("requeue", rc);
    rc = SQLITE_OK;
    if (!found.empty()) {
      rc = unack.Prepare(db, "DELETE FROM acked WHERE seq = ?1");
      if (rc == SQLITE_OK)
        rc = requeue.Prepare(db, "INSERT INTO unacked (kind, seq, delivered_count) VALUES "
                                 "('ingest', ?1, 0) ON CONFLICT (kind, seq) DO UPDATE SET "
                                 "delivered_count = 0");
    }
    for (size_t i = 0; rc == SQLITE_OK && i < found.size(); ++i)
      rc = StepEachWith(found[i], {unack.get(), requeue.get()});
    if (rc != SQLITE_OK) return fail("requeue", rc);
    if (!found.empty()) ingest_seq = found.front();
  }
  if (ingest_seq == 0) {  // pruned by retention (or never stored here): insert it again
    Stmt insert, unacked;
    rc = insert.Prepare(db, kInsertSql);
    if (rc == SQLITE_OK) rc = unacked.Prepare(db, kInsertUnackedSql);
    if (rc != SQLITE_OK) return fail("insert", rc);
    MessageRow row;
    row.message_id = original.message_id;
    row.created_at = original.created_at;
    row.integrity_hash = original.integrity_hash;
    row.body = original_wire;
    rc = StoreMessage(db, insert.get(), unacked.get(), row, &ingest_seq);
    if (rc != SQLITE_DONE || ingest_seq == 0) return fail("insert", rc);
  }
  rc = Exec(db, "COMMIT");
  if (rc != SQLITE_OK) return fail("commit", rc);
  return ingest_seq;
}

struct EmbeddedDeliveryReader::Statements {
  Stmt select;
  Stmt count;
  Stmt lag;
};

Result<std::unique_ptr<EmbeddedDeliveryReader>> EmbeddedDeliveryReader::Open(
    const std::string& path, int busy_timeout_ms) {
  sqlite3* db = nullptr;
  int rc = sqlstore::OpenSqlite(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, &db);
  if (rc != SQLITE_OK) {
    Status s = Status::Unavailable("embedded queue '" + path + "': cannot open for delivery: " +
                                   DbError(db, rc));
    sqlite3_close(db);
    return s;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  rc = Exec(db, "PRAGMA synchronous=NORMAL");
  if (rc != SQLITE_OK) {
    Status s = Status::Unavailable("embedded queue '" + path + "': " + DbError(db, rc));
    sqlite3_close(db);
    return s;
  }
  return std::unique_ptr<EmbeddedDeliveryReader>(
      new EmbeddedDeliveryReader(db, std::make_unique<Statements>()));
}

EmbeddedDeliveryReader::EmbeddedDeliveryReader(sqlite3* db, std::unique_ptr<Statements> statements)
    : db_(db), statements_(std::move(statements)) {}

EmbeddedDeliveryReader::~EmbeddedDeliveryReader() {
  statements_.reset();  // finalized before the connection closes
  sqlite3_close(db_);
}

Result<std::vector<StoredMessage>> EmbeddedDeliveryReader::Fetch(Kind kind, int64_t after_seq,
                                                                 int limit) {
  return FetchCounted(db_, kind, after_seq, limit, /*dedupe_ids=*/nullptr, &statements_->select,
                      &statements_->count);
}

Result<int64_t> EmbeddedDeliveryReader::CountUnacked(Kind kind) {
  Stmt& st = statements_->lag;
  int rc = st.get() != nullptr ? SQLITE_OK
                               : st.Prepare(db_, "SELECT COUNT(*) FROM unacked WHERE kind = ?1");
  int64_t n = -1;
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st.get(), 1, KindName(kind), -1, SQLITE_STATIC);
    rc = sqlite3_step(st.get());
    if (rc == SQLITE_ROW) n = sqlite3_column_int64(st.get(), 0);
    sqlite3_reset(st.get());
  }
  if (n < 0) return Status::Unavailable("embedded queue lag: " + DbError(db_, rc));
  return n;
}

}  // namespace vv::queue

#include "evidence/sqlite_evidence_store.h"

#include <sqlite3.h>

namespace vv::evidence {

namespace {

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) s_ = nullptr;
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return s_ != nullptr; }
  sqlite3_stmt* get() { return s_; }
  void Text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Int(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  std::string Col(int i) {
    const unsigned char* p = sqlite3_column_text(s_, i);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(s_, i)))
             : std::string();
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

Status Err(sqlite3* db, const std::string& what) {
  return Status::Unavailable("evidence store (sqlite): " + what + ": " + sqlite3_errmsg(db));
}

constexpr char kColumns[] =
    "seq, tenant_id, event_id, message_id, integrity_hash, key_id, envelope, created_at, "
    "stored_at";

EvidenceRecord Row(Stmt& st) {
  EvidenceRecord r;
  r.seq = sqlite3_column_int64(st.get(), 0);
  r.tenant_id = st.Col(1);
  r.event_id = st.Col(2);
  r.message_id = st.Col(3);
  r.integrity_hash = st.Col(4);
  r.key_id = st.Col(5);
  r.envelope_json = st.Col(6);
  r.created_at = st.Col(7);
  r.stored_at_micros = sqlite3_column_int64(st.get(), 8);
  return r;
}

}  // namespace

Result<std::unique_ptr<SqliteEvidenceStore>> SqliteEvidenceStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::Unavailable("evidence store: cannot open " + path + ": " + msg);
  }
  std::unique_ptr<SqliteEvidenceStore> store(new SqliteEvidenceStore(db));
  sqlite3_busy_timeout(db, 5000);
  const char* kSetup =
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=FULL;"
      "CREATE TABLE IF NOT EXISTS evidence ("
      " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
      " tenant_id TEXT NOT NULL, event_id TEXT NOT NULL, message_id TEXT NOT NULL,"
      " integrity_hash TEXT NOT NULL, key_id TEXT NOT NULL, envelope TEXT NOT NULL,"
      " created_at TEXT NOT NULL, stored_at INTEGER NOT NULL,"
      " UNIQUE (tenant_id, event_id));"
      "PRAGMA user_version=1;";
  char* err = nullptr;
  if (sqlite3_exec(db, kSetup, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    if (msg.find("not a database") != std::string::npos ||
        msg.find("malformed") != std::string::npos)
      return Status::DataLoss("evidence store: " + path + " is not an evidence store: " + msg);
    return Status::Unavailable("evidence store: cannot initialise " + path + ": " + msg);
  }
  // Refuse a file whose `evidence` table has another shape.
  Stmt check(db,
             "SELECT seq, tenant_id, event_id, message_id, integrity_hash, key_id, envelope,"
             " created_at, stored_at FROM evidence LIMIT 0");
  if (!check.ok()) return Status::DataLoss("evidence store: " + path + " has an unexpected schema");
  return store;
}

SqliteEvidenceStore::~SqliteEvidenceStore() { sqlite3_close(db_); }

Result<PutOutcome> SqliteEvidenceStore::Put(const EvidenceRecord& r) {
  if (r.tenant_id.empty() || r.event_id.empty())
    return Status::InvalidArgument("evidence record needs tenant_id and event_id");
  std::lock_guard<std::mutex> l(mu_);
  Stmt st(db_,
          "INSERT INTO evidence (tenant_id, event_id, message_id, integrity_hash, key_id,"
          " envelope, created_at, stored_at) VALUES (?,?,?,?,?,?,?,?)"
          " ON CONFLICT (tenant_id, event_id) DO NOTHING");
  if (!st.ok()) return Err(db_, "prepare insert");
  st.Text(1, r.tenant_id);
  st.Text(2, r.event_id);
  st.Text(3, r.message_id);
  st.Text(4, r.integrity_hash);
  st.Text(5, r.key_id);
  st.Text(6, r.envelope_json);
  st.Text(7, r.created_at);
  st.Int(8, r.stored_at_micros);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return Err(db_, "insert");
  return sqlite3_changes(db_) == 1 ? PutOutcome::kStored : PutOutcome::kDuplicate;
}

Result<std::optional<EvidenceRecord>> SqliteEvidenceStore::Get(std::string_view tenant_id,
                                                               std::string_view event_id) {
  std::lock_guard<std::mutex> l(mu_);
  std::string sql =
      std::string("SELECT ") + kColumns + " FROM evidence WHERE tenant_id = ? AND event_id = ?";
  Stmt st(db_, sql.c_str());
  if (!st.ok()) return Err(db_, "prepare get");
  st.Text(1, tenant_id);
  st.Text(2, event_id);
  int rc = sqlite3_step(st.get());
  if (rc == SQLITE_DONE) return std::optional<EvidenceRecord>();
  if (rc != SQLITE_ROW) return Err(db_, "get");
  return std::optional<EvidenceRecord>(Row(st));
}

Result<std::vector<EvidenceRecord>> SqliteEvidenceStore::List(std::string_view tenant_id,
                                                              int64_t after_seq, int limit) {
  std::vector<EvidenceRecord> out;
  if (limit <= 0) return out;
  std::lock_guard<std::mutex> l(mu_);
  std::string sql = std::string("SELECT ") + kColumns +
                    " FROM evidence WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?";
  Stmt st(db_, sql.c_str());
  if (!st.ok()) return Err(db_, "prepare list");
  st.Text(1, tenant_id);
  st.Int(2, after_seq);
  st.Int(3, limit);
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.push_back(Row(st));
  if (rc != SQLITE_DONE) return Err(db_, "list");
  return out;
}

Result<int64_t> SqliteEvidenceStore::Count(std::string_view tenant_id) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt st(db_, "SELECT COUNT(*) FROM evidence WHERE tenant_id = ?");
  if (!st.ok()) return Err(db_, "prepare count");
  st.Text(1, tenant_id);
  if (sqlite3_step(st.get()) != SQLITE_ROW) return Err(db_, "count");
  return static_cast<int64_t>(sqlite3_column_int64(st.get(), 0));
}

Status SqliteEvidenceStore::ReplaceEnvelope(std::string_view tenant_id, std::string_view event_id,
                                            std::string_view key_id,
                                            std::string_view envelope_json) {
  std::lock_guard<std::mutex> l(mu_);
  Stmt st(db_, "UPDATE evidence SET key_id = ?, envelope = ? WHERE tenant_id = ? AND event_id = ?");
  if (!st.ok()) return Err(db_, "prepare update");
  st.Text(1, key_id);
  st.Text(2, envelope_json);
  st.Text(3, tenant_id);
  st.Text(4, event_id);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return Err(db_, "update");
  if (sqlite3_changes(db_) != 1) return Status::NotFound("evidence record not found");
  return Status::Ok();
}

Result<std::vector<std::string>> SqliteEvidenceStore::Tenants() {
  std::lock_guard<std::mutex> l(mu_);
  Stmt st(db_, "SELECT DISTINCT tenant_id FROM evidence ORDER BY tenant_id");
  if (!st.ok()) return Err(db_, "prepare tenants");
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.push_back(st.Col(0));
  if (rc != SQLITE_DONE) return Err(db_, "tenants");
  return out;
}

}  // namespace vv::evidence

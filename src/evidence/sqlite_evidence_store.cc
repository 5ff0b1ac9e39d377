#include "evidence/sqlite_evidence_store.h"

namespace vv::evidence {

namespace {

using sqlstore::Stmt;
using StepResult = sqlstore::Stmt::StepResult;

Status Err(sqlite3* db, std::string_view what) {
  return sqlstore::Error(db, "evidence store (sqlite): ", what);
}

constexpr char kColumns[] =
    "seq, tenant_id, event_id, message_id, integrity_hash, key_id, envelope, created_at, "
    "stored_at";

EvidenceRecord Row(const Stmt& st) {
  EvidenceRecord r;
  st.Read(r.seq, r.tenant_id, r.event_id, r.message_id, r.integrity_hash, r.key_id,
          r.envelope_json, r.created_at, r.stored_at_micros);
  return r;
}

}  // namespace

Result<std::unique_ptr<SqliteEvidenceStore>> SqliteEvidenceStore::Open(const std::string& path) {
  VV_ASSIGN_OR_RETURN(sqlstore::Db db, sqlstore::Db::Open(path, "evidence store"));
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
  if (Status setup = sqlstore::ExecSetup(db.get(), kSetup); !setup.ok()) {
    const std::string& msg = setup.message();
    if (msg.find("not a database") != std::string::npos ||
        msg.find("malformed") != std::string::npos)
      return Status::DataLoss("evidence store: " + path + " is not an evidence store: " + msg);
    return Status::Unavailable("evidence store: cannot initialise " + path + ": " + msg);
  }
  // Refuse a file whose `evidence` table has another shape.
  Stmt check(db.get(),
             "SELECT seq, tenant_id, event_id, message_id, integrity_hash, key_id, envelope,"
             " created_at, stored_at FROM evidence LIMIT 0");
  if (!check.ok()) return Status::DataLoss("evidence store: " + path + " has an unexpected schema");
  Result<std::unique_ptr<sqlstore::WalCheckpointer>> checkpointer =
      sqlstore::WalCheckpointer::Start(path);
  if (!checkpointer.ok())
    return Status::Unavailable("evidence store: " + checkpointer.status().message());
  return std::unique_ptr<SqliteEvidenceStore>(
      new SqliteEvidenceStore(std::move(db), std::move(checkpointer).value()));
}

SqliteEvidenceStore::SqliteEvidenceStore(sqlstore::Db db,
                                         std::unique_ptr<sqlstore::WalCheckpointer> checkpointer)
    : checkpointer_(std::move(checkpointer)), db_(std::move(db)) {
  MutexLock l(&mu_);
  checkpointer_->Attach(db_.get());
}

SqliteEvidenceStore::~SqliteEvidenceStore() = default;

Result<PutOutcome> SqliteEvidenceStore::Put(const EvidenceRecord& r) {
  VV_RETURN_IF_ERROR(CheckRecordKeys(r));
  VV_ASSIGN_OR_RETURN(auto out, PutAll({r}));
  return out.front();
}

std::vector<Result<PutOutcome>> SqliteEvidenceStore::PutBatch(
    const std::vector<EvidenceRecord>& records) {
  return PutAllOrNothing(records, [&] { return PutAll(records); });
}

Result<std::vector<PutOutcome>> SqliteEvidenceStore::PutAll(
    const std::vector<EvidenceRecord>& records) {
  std::vector<PutOutcome> out;
  if (records.empty()) return out;
  out.reserve(records.size());
  MutexLock l(&mu_);
  Stmt st(db_.get(),
          "INSERT INTO evidence (tenant_id, event_id, message_id, integrity_hash, key_id,"
          " envelope, created_at, stored_at) VALUES (?,?,?,?,?,?,?,?)"
          " ON CONFLICT (tenant_id, event_id) DO NOTHING");
  if (!st.ok()) return Err(db_.get(), "prepare insert");
  // One transaction (one WAL sync) for the batch; a single record needs none of its own.
  const bool txn = records.size() > 1;
  if (txn) VV_RETURN_IF_ERROR(sqlstore::Exec(db_.get(), "BEGIN IMMEDIATE", "evidence store (sqlite): "));
  for (const EvidenceRecord& r : records) {
    st.Bind(r.tenant_id, r.event_id, r.message_id, r.integrity_hash, r.key_id, r.envelope_json,
            r.created_at, r.stored_at_micros);
    if (st.Step() != StepResult::kDone) {
      Status s = Err(db_.get(), "insert");
      if (txn) (void)sqlstore::Exec(db_.get(), "ROLLBACK");
      return s;
    }
    out.push_back(st.Changes() == 1 ? PutOutcome::kStored : PutOutcome::kDuplicate);
    st.Reset();
  }
  if (txn) {
    Status commit = sqlstore::Exec(db_.get(), "COMMIT", "evidence store (sqlite): commit: ");
    if (!commit.ok()) {
      (void)sqlstore::Exec(db_.get(), "ROLLBACK");
      return commit;
    }
  }
  return out;
}

Result<std::optional<EvidenceRecord>> SqliteEvidenceStore::Get(std::string_view tenant_id,
                                                               std::string_view event_id) {
  MutexLock l(&mu_);
  std::string sql =
      std::string("SELECT ") + kColumns + " FROM evidence WHERE tenant_id = ? AND event_id = ?";
  Stmt st(db_.get(), sql);
  if (!st.ok()) return Err(db_.get(), "prepare get");
  st.Bind(tenant_id, event_id);
  StepResult rc = st.Step();
  if (rc == StepResult::kDone) return std::optional<EvidenceRecord>();
  if (rc != StepResult::kRow) return Err(db_.get(), "get");
  return std::optional<EvidenceRecord>(Row(st));
}

Result<std::vector<EvidenceRecord>> SqliteEvidenceStore::List(std::string_view tenant_id,
                                                              int64_t after_seq, int limit) {
  std::vector<EvidenceRecord> out;
  if (limit <= 0) return out;
  MutexLock l(&mu_);
  std::string sql = std::string("SELECT ") + kColumns +
                    " FROM evidence WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?";
  Stmt st(db_.get(), sql);
  if (!st.ok()) return Err(db_.get(), "prepare list");
  st.Bind(tenant_id, after_seq, limit);
  StepResult rc;
  while ((rc = st.Step()) == StepResult::kRow) out.push_back(Row(st));
  if (rc != StepResult::kDone) return Err(db_.get(), "list");
  return out;
}

Result<int64_t> SqliteEvidenceStore::Count(std::string_view tenant_id) {
  MutexLock l(&mu_);
  Stmt st(db_.get(), "SELECT COUNT(*) FROM evidence WHERE tenant_id = ?");
  if (!st.ok()) return Err(db_.get(), "prepare count");
  st.Bind(tenant_id);
  if (st.Step() != StepResult::kRow) return Err(db_.get(), "count");
  return st.ColInt(0);
}

Status SqliteEvidenceStore::ReplaceEnvelope(std::string_view tenant_id, std::string_view event_id,
                                            std::string_view key_id,
                                            std::string_view envelope_json) {
  MutexLock l(&mu_);
  Stmt st(db_.get(),
          "UPDATE evidence SET key_id = ?, envelope = ? WHERE tenant_id = ? AND event_id = ?");
  if (!st.ok()) return Err(db_.get(), "prepare update");
  st.Bind(key_id, envelope_json, tenant_id, event_id);
  if (st.Step() != StepResult::kDone) return Err(db_.get(), "update");
  if (st.Changes() != 1) return Status::NotFound("evidence record not found");
  return Status::Ok();
}

Result<std::vector<std::string>> SqliteEvidenceStore::Tenants() {
  MutexLock l(&mu_);
  Stmt st(db_.get(), "SELECT DISTINCT tenant_id FROM evidence ORDER BY tenant_id");
  if (!st.ok()) return Err(db_.get(), "prepare tenants");
  std::vector<std::string> out;
  StepResult rc;
  while ((rc = st.Step()) == StepResult::kRow) out.push_back(st.ColText(0));
  if (rc != StepResult::kDone) return Err(db_.get(), "tenants");
  return out;
}

}  // namespace vv::evidence

#pragma once
// SqliteEvidenceStore: the embedded EvidenceStore, one SQLite file (WAL, synchronous=FULL).
// Table `evidence`:
//   seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, event_id TEXT NOT NULL,
//   message_id TEXT NOT NULL, integrity_hash TEXT NOT NULL, key_id TEXT NOT NULL,
//   envelope TEXT NOT NULL, created_at TEXT NOT NULL, stored_at INTEGER NOT NULL,
//   UNIQUE (tenant_id, event_id)
// PRAGMA user_version = 1. Every statement binds tenant_id in its WHERE clause.
// Thread-safety: thread-safe (one connection serialised by a mutex). Ownership: owns the
// connection.

#include <memory>
#include <string>
#include <utility>

#include "common/mutex.h"
#include "evidence/evidence_store.h"
#include "sqlstore/sqlite_util.h"
#include "sqlstore/wal_checkpointer.h"

namespace vv::evidence {

class SqliteEvidenceStore final : public EvidenceStore {
 public:
  // Opens or creates the store. Unavailable when the file cannot be opened, DataLoss when it
  // is not an evidence store.
  static Result<std::unique_ptr<SqliteEvidenceStore>> Open(const std::string& path);
  ~SqliteEvidenceStore() override;
  SqliteEvidenceStore(const SqliteEvidenceStore&) = delete;
  SqliteEvidenceStore& operator=(const SqliteEvidenceStore&) = delete;

  Result<PutOutcome> Put(const EvidenceRecord& record) override;
  // One transaction for the batch (BEGIN IMMEDIATE ... COMMIT): all records or none.
  std::vector<Result<PutOutcome>> PutBatch(const std::vector<EvidenceRecord>& records) override;
  Result<std::optional<EvidenceRecord>> Get(std::string_view tenant_id,
                                            std::string_view event_id) override;
  Result<std::vector<EvidenceRecord>> List(std::string_view tenant_id, int64_t after_seq,
                                           int limit) override;
  Result<int64_t> Count(std::string_view tenant_id) override;
  Status ReplaceEnvelope(std::string_view tenant_id, std::string_view event_id,
                         std::string_view key_id, std::string_view envelope_json) override;
  Result<std::vector<std::string>> Tenants() override;

 private:
  // The batch (keys checked by the caller) in one transaction (a single record: one
  // statement); all outcomes or an error.
  Result<std::vector<PutOutcome>> PutAll(const std::vector<EvidenceRecord>& records);
  SqliteEvidenceStore(sqlstore::Db db, std::unique_ptr<sqlstore::WalCheckpointer> checkpointer);
  Mutex mu_;
  // The connection's checkpoints, on a thread of their own (declared first: destroyed last).
  const std::unique_ptr<sqlstore::WalCheckpointer> checkpointer_;
  const sqlstore::Db db_ VV_GUARDED_BY(mu_);  // the connection: every statement under mu_
};

}  // namespace vv::evidence

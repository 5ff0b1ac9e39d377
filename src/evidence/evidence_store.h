#pragma once
// EvidenceStore: tenant-scoped persistence of encrypted evidence records. Every read and
// write names its tenant explicitly; there is no unscoped read. (tenant_id, event_id) is
// unique: storing an event twice keeps the first record and reports kDuplicate, which makes
// the processing engine idempotent under redelivery.
//
// Backends: SqliteEvidenceStore (embedded default, sqlite_evidence_store.h) and
// PostgresEvidenceStore (row-level security per tenant, postgres_evidence_store.h).
// Thread-safety: implementations are thread-safe. Ownership: each owns its connection(s).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vv::evidence {

struct EvidenceRecord {
  int64_t seq = 0;  // store-assigned, increasing (0 before Put)
  std::string tenant_id;
  std::string event_id;
  std::string message_id;      // queue envelope message_id
  std::string integrity_hash;  // queue envelope integrity_hash (SHA-256 of the plaintext)
  std::string key_id;          // root key id wrapping the DEK (rotation / re-wrap queries)
  std::string envelope_json;   // the evidence envelope (evidence/envelope.h), canonical JSON
  std::string created_at;      // queue envelope created_at
  int64_t stored_at_micros = 0;
};

enum class PutOutcome { kStored, kDuplicate };

// Every record names its tenant and event (InvalidArgument otherwise).
inline Status CheckRecordKeys(const EvidenceRecord& r) {
  if (r.tenant_id.empty() || r.event_id.empty())
    return Status::InvalidArgument("evidence record needs tenant_id and event_id");
  return Status::Ok();
}

// PutBatch of a backend that commits a batch as one transaction: checks every record's keys,
// runs `put_all` (one outcome per record, or the transaction's error) and returns its result
// per record (every one the error when it failed).
inline std::vector<Result<PutOutcome>> PutAllOrNothing(
    const std::vector<EvidenceRecord>& records,
    const std::function<Result<std::vector<PutOutcome>>()>& put_all) {
  Result<std::vector<PutOutcome>> all = std::vector<PutOutcome>{};
  for (const EvidenceRecord& r : records)
    if (Status s = CheckRecordKeys(r); !s.ok()) all = s;
  if (all.ok() && !records.empty()) all = put_all();
  std::vector<Result<PutOutcome>> out;
  out.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    if (all.ok()) {
      out.emplace_back((*all)[i]);
    } else {
      out.emplace_back(all.status());
    }
  }
  return out;
}

class EvidenceStore {
 public:
  virtual ~EvidenceStore() = default;
  // Inserts the record (seq ignored). kDuplicate, with nothing changed, when the tenant
  // already has a record for event_id. Unavailable when the backend fails.
  virtual Result<PutOutcome> Put(const EvidenceRecord& record) = 0;
  // Inserts `records` (seq ignored); one result per record, in order. A record whose
  // (tenant_id, event_id) is already stored, or comes earlier in the same batch, is
  // kDuplicate. SQLite and PostgreSQL commit the batch as ONE transaction: every result is OK
  // or, when the transaction failed, every result is that error and nothing is stored. This
  // default Puts each record on its own (each result is its own Put's).
  virtual std::vector<Result<PutOutcome>> PutBatch(const std::vector<EvidenceRecord>& records) {
    std::vector<Result<PutOutcome>> out;
    out.reserve(records.size());
    for (const EvidenceRecord& r : records) out.push_back(Put(r));
    return out;
  }
  // The record of (tenant_id, event_id), or nullopt.
  virtual Result<std::optional<EvidenceRecord>> Get(std::string_view tenant_id,
                                                    std::string_view event_id) = 0;
  // The tenant's records with seq > after_seq, in seq order, at most `limit`.
  virtual Result<std::vector<EvidenceRecord>> List(std::string_view tenant_id, int64_t after_seq,
                                                   int limit) = 0;
  virtual Result<int64_t> Count(std::string_view tenant_id) = 0;
  // Replaces key_id and envelope_json of one record (re-wrap). NotFound when absent.
  virtual Status ReplaceEnvelope(std::string_view tenant_id, std::string_view event_id,
                                 std::string_view key_id, std::string_view envelope_json) = 0;
  // Distinct tenant ids with records (operator tooling: re-wrap all). Listing tenants is not a
  // read of evidence. The PostgreSQL backend answers only for tenants visible to the caller.
  virtual Result<std::vector<std::string>> Tenants() = 0;
};

}  // namespace vv::evidence

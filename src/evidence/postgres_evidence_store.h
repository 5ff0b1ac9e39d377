#pragma once
// PostgresEvidenceStore: the scale-out EvidenceStore on PostgreSQL (libpqxx 6.4), with
// tenant isolation enforced by the database, not only by our queries.
//
// Table vv_evidence (seq BIGSERIAL, tenant_id, event_id, message_id, integrity_hash, key_id,
// envelope JSONB, created_at, stored_at BIGINT, UNIQUE (tenant_id, event_id)) is owned by a
// schema-owner role that is NOT the role the engine connects as, has ROW LEVEL SECURITY
// enabled AND forced, and one policy:
//   USING / WITH CHECK (tenant_id = current_setting('vv.tenant_id', true))
// Every operation runs in its own transaction that first does SET LOCAL vv.tenant_id = <t>,
// so a session scoped to tenant A cannot see or write tenant B's rows, even through an
// unscoped SELECT (tests/evidence/postgres_evidence_store_test.cc). Our queries also filter
// on tenant_id (defence in depth). Without a tenant set, the policy matches nothing.
//
// InstallSchema() is the migration step, run with an administrative connection; roles must
// exist (the app role must not be a superuser and must not have BYPASSRLS).
//
// Thread-safety: thread-safe (one connection serialised by a mutex; reconnects after a
// broken connection on the next call). Ownership: owns the connection.

#include <memory>
#include <string>

#include "evidence/evidence_store.h"
#include "sqlstore/postgres_util.h"

namespace vv::evidence {

class PostgresEvidenceStore final : public EvidenceStore {
 public:
  // Creates (idempotently) the table, policy and grants. `admin_url` must be able to create
  // the table and change its owner to `owner_role`; `app_role` gets SELECT/INSERT/UPDATE.
  static Status InstallSchema(const std::string& admin_url, const std::string& owner_role,
                              const std::string& app_role);
  // Connects as the application role. Unavailable when the server cannot be reached.
  // With `require_least_privilege` (production profile) a superuser, BYPASSRLS or
  // table-owning role is refused (PermissionDenied naming the problem; issue 12).
  static Result<std::unique_ptr<PostgresEvidenceStore>> Open(const std::string& url,
                                                             bool require_least_privilege = false);
  ~PostgresEvidenceStore() override;
  PostgresEvidenceStore(const PostgresEvidenceStore&) = delete;
  PostgresEvidenceStore& operator=(const PostgresEvidenceStore&) = delete;

  Result<PutOutcome> Put(const EvidenceRecord& record) override;
  // ONE transaction for the batch (all records or none): per tenant, SET LOCAL vv.tenant_id
  // then multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING event_id (the RLS policy checks
  // every row against its tenant's scope, as for Put).
  std::vector<Result<PutOutcome>> PutBatch(const std::vector<EvidenceRecord>& records) override;
  Result<std::optional<EvidenceRecord>> Get(std::string_view tenant_id,
                                            std::string_view event_id) override;
  Result<std::vector<EvidenceRecord>> List(std::string_view tenant_id, int64_t after_seq,
                                           int limit) override;
  Result<int64_t> Count(std::string_view tenant_id) override;
  Status ReplaceEnvelope(std::string_view tenant_id, std::string_view event_id,
                         std::string_view key_id, std::string_view envelope_json) override;
  // Not available: row-level security hides other tenants by design (InvalidArgument).
  Result<std::vector<std::string>> Tenants() override;

 private:
  explicit PostgresEvidenceStore(const std::string& url);
  // The batch (keys checked by the caller) in one transaction; all outcomes or an error.
  Result<std::vector<PutOutcome>> PutAll(const std::vector<EvidenceRecord>& records);

  sqlstore::PgConnection conn_;
};

}  // namespace vv::evidence

#include "evidence/postgres_evidence_store.h"

#include <pqxx/pqxx>

namespace vv::evidence {

struct PostgresEvidenceStore::Conn {
  explicit Conn(const std::string& url) : c(url) {}
  pqxx::connection c;
};

namespace {

constexpr char kColumns[] =
    "seq, tenant_id, event_id, message_id, integrity_hash, key_id, envelope::text, created_at, "
    "stored_at";

EvidenceRecord Row(const pqxx::row& r) {
  EvidenceRecord e;
  e.seq = r[0].as<int64_t>();
  e.tenant_id = r[1].as<std::string>();
  e.event_id = r[2].as<std::string>();
  e.message_id = r[3].as<std::string>();
  e.integrity_hash = r[4].as<std::string>();
  e.key_id = r[5].as<std::string>();
  e.envelope_json = r[6].as<std::string>();
  e.created_at = r[7].as<std::string>();
  e.stored_at_micros = r[8].as<int64_t>();
  return e;
}

// Scopes the transaction to `tenant` (reverts at COMMIT/ROLLBACK).
void ScopeToTenant(pqxx::transaction_base& w, std::string_view tenant) {
  w.exec("SET LOCAL vv.tenant_id = " + w.quote(std::string(tenant)));
}

}  // namespace

Status PostgresEvidenceStore::InstallSchema(const std::string& admin_url,
                                            const std::string& owner_role,
                                            const std::string& app_role) {
  try {
    pqxx::connection c(admin_url);
    pqxx::work w(c);
    const std::string owner = w.quote_name(owner_role);
    const std::string app = w.quote_name(app_role);
    w.exec(
        "CREATE TABLE IF NOT EXISTS vv_evidence ("
        " seq BIGSERIAL PRIMARY KEY,"
        " tenant_id TEXT NOT NULL CHECK (tenant_id <> ''),"
        " event_id TEXT NOT NULL CHECK (event_id <> ''),"
        " message_id TEXT NOT NULL, integrity_hash TEXT NOT NULL, key_id TEXT NOT NULL,"
        " envelope JSONB NOT NULL, created_at TEXT NOT NULL, stored_at BIGINT NOT NULL,"
        " UNIQUE (tenant_id, event_id))");
    w.exec("ALTER TABLE vv_evidence OWNER TO " + owner);
    w.exec("ALTER TABLE vv_evidence ENABLE ROW LEVEL SECURITY");
    w.exec("ALTER TABLE vv_evidence FORCE ROW LEVEL SECURITY");
    w.exec("DROP POLICY IF EXISTS vv_evidence_tenant_isolation ON vv_evidence");
    w.exec(
        "CREATE POLICY vv_evidence_tenant_isolation ON vv_evidence"
        " USING (tenant_id = current_setting('vv.tenant_id', true))"
        " WITH CHECK (tenant_id = current_setting('vv.tenant_id', true))");
    w.exec("REVOKE ALL ON vv_evidence FROM PUBLIC");
    w.exec("GRANT SELECT, INSERT, UPDATE ON vv_evidence TO " + app);
    w.exec("GRANT USAGE ON SEQUENCE vv_evidence_seq_seq TO " + app);
    w.commit();
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable(std::string("evidence store (postgres): ") + e.what());
  } catch (const std::exception& e) {
    return Status::Internal(std::string("evidence store (postgres) schema: ") + e.what());
  }
  return Status::Ok();
}

PostgresEvidenceStore::PostgresEvidenceStore(std::string url) : url_(std::move(url)) {}
PostgresEvidenceStore::~PostgresEvidenceStore() = default;

Result<std::unique_ptr<PostgresEvidenceStore>> PostgresEvidenceStore::Open(const std::string& url) {
  std::unique_ptr<PostgresEvidenceStore> s(new PostgresEvidenceStore(url));
  std::lock_guard<std::mutex> l(s->mu_);
  VV_RETURN_IF_ERROR(s->EnsureConnectedLocked());
  return s;
}

Status PostgresEvidenceStore::EnsureConnectedLocked() {
  if (conn_ && conn_->c.is_open()) return Status::Ok();
  conn_.reset();
  try {
    conn_ = std::make_unique<Conn>(url_);
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("evidence store (postgres): cannot connect: ") +
                               e.what());
  }
  return Status::Ok();
}

// Runs `fn(work)` in a tenant-scoped transaction, converting exceptions to Status.
#define VV_PG_TXN(tenant, body)                                                        \
  std::lock_guard<std::mutex> l(mu_);                                                  \
  VV_RETURN_IF_ERROR(EnsureConnectedLocked());                                         \
  try {                                                                                \
    pqxx::work w(conn_->c);                                                            \
    ScopeToTenant(w, tenant);                                                          \
    body                                                                               \
  } catch (const pqxx::broken_connection& e) {                                         \
    conn_.reset();                                                                     \
    return Status::Unavailable(std::string("evidence store (postgres): ") + e.what()); \
  } catch (const pqxx::sql_error& e) {                                                 \
    return Status::Unavailable(std::string("evidence store (postgres): ") + e.what()); \
  } catch (const std::exception& e) {                                                  \
    return Status::Internal(std::string("evidence store (postgres): ") + e.what());    \
  }

Result<PutOutcome> PostgresEvidenceStore::Put(const EvidenceRecord& r) {
  if (r.tenant_id.empty() || r.event_id.empty())
    return Status::InvalidArgument("evidence record needs tenant_id and event_id");
  VV_PG_TXN(r.tenant_id, {
    pqxx::result res = w.exec_params(
        "INSERT INTO vv_evidence (tenant_id, event_id, message_id, integrity_hash, key_id,"
        " envelope, created_at, stored_at) VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7,$8)"
        " ON CONFLICT (tenant_id, event_id) DO NOTHING",
        r.tenant_id, r.event_id, r.message_id, r.integrity_hash, r.key_id, r.envelope_json,
        r.created_at, r.stored_at_micros);
    w.commit();
    return res.affected_rows() == 1 ? PutOutcome::kStored : PutOutcome::kDuplicate;
  })
}

Result<std::optional<EvidenceRecord>> PostgresEvidenceStore::Get(std::string_view tenant_id,
                                                                 std::string_view event_id){
    VV_PG_TXN(tenant_id,
              {
                pqxx::result res =
                    w.exec_params(std::string("SELECT ") + kColumns +
                                      " FROM vv_evidence WHERE tenant_id = $1 AND event_id = $2",
                                  std::string(tenant_id), std::string(event_id));
                w.commit();
                if (res.empty()) return std::optional<EvidenceRecord>();
                return std::optional<EvidenceRecord>(Row(res[0]));
              })}

Result<std::vector<EvidenceRecord>> PostgresEvidenceStore::List(std::string_view tenant_id,
                                                                int64_t after_seq, int limit) {
  if (limit <= 0) return std::vector<EvidenceRecord>();
  VV_PG_TXN(tenant_id, {
    pqxx::result res = w.exec_params(
        std::string("SELECT ") + kColumns +
            " FROM vv_evidence WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        std::string(tenant_id), after_seq, limit);
    w.commit();
    std::vector<EvidenceRecord> out;
    for (const auto& row : res) out.push_back(Row(row));
    return out;
  })
}

Result<int64_t> PostgresEvidenceStore::Count(std::string_view tenant_id){
    VV_PG_TXN(tenant_id,
              {
                pqxx::result res =
                    w.exec_params("SELECT COUNT(*) FROM vv_evidence WHERE tenant_id = $1",
                                  std::string(tenant_id));
                w.commit();
                return res[0][0].as<int64_t>();
              })}

Status PostgresEvidenceStore::ReplaceEnvelope(std::string_view tenant_id, std::string_view event_id,
                                              std::string_view key_id,
                                              std::string_view envelope_json){
    VV_PG_TXN(tenant_id,
              {
                pqxx::result res = w.exec_params(
                    "UPDATE vv_evidence SET key_id = $1, envelope = $2::jsonb"
                    " WHERE tenant_id = $3 AND event_id = $4",
                    std::string(key_id), std::string(envelope_json), std::string(tenant_id),
                    std::string(event_id));
                w.commit();
                if (res.affected_rows() != 1) return Status::NotFound("evidence record not found");
                return Status::Ok();
              })}

Result<std::vector<std::string>> PostgresEvidenceStore::Tenants() {
  return Status::InvalidArgument(
      "listing tenants is not available on the postgres evidence store (row-level security); "
      "name the tenant explicitly");
}

}  // namespace vv::evidence

#include "evidence/postgres_evidence_store.h"

#include <pqxx/pqxx>

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace vv::evidence {

namespace {

constexpr char kLabel[] = "evidence store (postgres)";

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

}  // namespace

Status PostgresEvidenceStore::InstallSchema(const std::string& admin_url,
                                            const std::string& owner_role,
                                            const std::string& app_role) {
  return sqlstore::Migrate(admin_url, kLabel, [&](pqxx::transaction_base& w) {
    const std::string owner = w.quote_name(owner_role);
    w.exec(
        "CREATE TABLE IF NOT EXISTS vv_evidence ("
        " seq BIGSERIAL PRIMARY KEY,"
        " tenant_id TEXT NOT NULL CHECK (tenant_id <> ''),"
        " event_id TEXT NOT NULL CHECK (event_id <> ''),"
        " message_id TEXT NOT NULL, integrity_hash TEXT NOT NULL, key_id TEXT NOT NULL,"
        " envelope JSONB NOT NULL, created_at TEXT NOT NULL, stored_at BIGINT NOT NULL,"
        " UNIQUE (tenant_id, event_id))");
    w.exec("ALTER TABLE vv_evidence OWNER TO " + owner);
    sqlstore::EnableTenantIsolation(w, "vv_evidence");
    w.exec("REVOKE ALL ON vv_evidence FROM PUBLIC");
    sqlstore::GrantTableAccess(w, "vv_evidence", "SELECT, INSERT, UPDATE", app_role);
    return Status::Ok();
  });
}

// SQL errors are Unavailable; anything else (e.g. a row that does not convert) is Internal.
PostgresEvidenceStore::PostgresEvidenceStore(const std::string& url)
    : conn_(url, kLabel, StatusCode::kInternal) {}
PostgresEvidenceStore::~PostgresEvidenceStore() = default;

Result<std::unique_ptr<PostgresEvidenceStore>> PostgresEvidenceStore::Open(
    const std::string& url, bool require_least_privilege) {
  std::unique_ptr<PostgresEvidenceStore> s(new PostgresEvidenceStore(url));
  VV_RETURN_IF_ERROR(s->conn_.Connect());
  if (require_least_privilege)
    VV_RETURN_IF_ERROR(sqlstore::RequireLeastPrivilege(s->conn_, "vv_evidence", kLabel));
  return s;
}

Result<PutOutcome> PostgresEvidenceStore::Put(const EvidenceRecord& r) {
  VV_RETURN_IF_ERROR(CheckRecordKeys(r));
  PutOutcome outcome = PutOutcome::kDuplicate;
  VV_RETURN_IF_ERROR(conn_.InTenantTransaction(r.tenant_id, [&](pqxx::transaction_base& w) {
    pqxx::result res = w.exec_params(
        "INSERT INTO vv_evidence (tenant_id, event_id, message_id, integrity_hash, key_id,"
        " envelope, created_at, stored_at) VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7,$8)"
        " ON CONFLICT (tenant_id, event_id) DO NOTHING",
        r.tenant_id, r.event_id, r.message_id, r.integrity_hash, r.key_id, r.envelope_json,
        r.created_at, r.stored_at_micros);
    outcome = res.affected_rows() == 1 ? PutOutcome::kStored : PutOutcome::kDuplicate;
    return Status::Ok();
  }));
  return outcome;
}

std::vector<Result<PutOutcome>> PostgresEvidenceStore::PutBatch(
    const std::vector<EvidenceRecord>& records) {
  return PutAllOrNothing(records, [&] { return PutAll(records); });
}

Result<std::vector<PutOutcome>> PostgresEvidenceStore::PutAll(
    const std::vector<EvidenceRecord>& records) {
  std::vector<PutOutcome> out(records.size(), PutOutcome::kDuplicate);
  if (records.empty()) return out;
  // Records grouped by tenant (first-appearance order). A (tenant, event_id) repeated within
  // the batch is sent once: the later copies stay kDuplicate.
  std::vector<std::pair<std::string_view, std::vector<size_t>>> groups;
  std::map<std::string_view, size_t> group_of;
  std::set<std::pair<std::string_view, std::string_view>> seen;
  for (size_t i = 0; i < records.size(); ++i) {
    const EvidenceRecord& r = records[i];
    if (!seen.emplace(r.tenant_id, r.event_id).second) continue;
    auto [it, added] = group_of.emplace(r.tenant_id, groups.size());
    if (added) groups.emplace_back(r.tenant_id, std::vector<size_t>{});
    groups[it->second].second.push_back(i);
  }
  // One transaction: each tenant's rows are inserted under that tenant's RLS scope, in
  // multi-row INSERTs (8 parameters a row, well under the protocol's 65535).
  constexpr size_t kRowsPerInsert = 500;
  VV_RETURN_IF_ERROR(conn_.InTransaction([&](pqxx::transaction_base& w) {
    for (const auto& [tenant, indices] : groups) {
      sqlstore::ScopeToTenant(w, std::string(tenant));
      for (size_t from = 0; from < indices.size(); from += kRowsPerInsert) {
        const size_t to = std::min(indices.size(), from + kRowsPerInsert);
        std::string sql =
            "INSERT INTO vv_evidence (tenant_id, event_id, message_id, integrity_hash, key_id,"
            " envelope, created_at, stored_at) VALUES ";
        std::vector<std::string> params;
        params.reserve((to - from) * 8);
        for (size_t k = from; k < to; ++k) {
          const EvidenceRecord& r = records[indices[k]];
          const size_t p = params.size();
          sql += (k == from ? "(" : ",(");
          for (size_t c = 1; c <= 8; ++c) {
            sql += "$" + std::to_string(p + c) + (c == 6 ? "::jsonb" : "") + (c == 8 ? ")" : ",");
          }
          params.insert(params.end(), {r.tenant_id, r.event_id, r.message_id, r.integrity_hash,
                                       r.key_id, r.envelope_json, r.created_at,
                                       std::to_string(r.stored_at_micros)});
        }
        sql += " ON CONFLICT (tenant_id, event_id) DO NOTHING RETURNING event_id";
        pqxx::result res = w.exec_params(sql, pqxx::prepare::make_dynamic_params(params));
        std::set<std::string, std::less<>> inserted;
        for (const auto& row : res) inserted.insert(row[0].as<std::string>());
        for (size_t k = from; k < to; ++k)
          if (inserted.count(records[indices[k]].event_id) != 0)
            out[indices[k]] = PutOutcome::kStored;
      }
    }
    return Status::Ok();
  }));
  return out;
}

Result<std::optional<EvidenceRecord>> PostgresEvidenceStore::Get(std::string_view tenant_id,
                                                                 std::string_view event_id) {
  std::optional<EvidenceRecord> out;
  VV_RETURN_IF_ERROR(conn_.InTenantTransaction(tenant_id, [&](pqxx::transaction_base& w) {
    pqxx::result res = w.exec_params(
        std::string("SELECT ") + kColumns +
            " FROM vv_evidence WHERE tenant_id = $1 AND event_id = $2",
        std::string(tenant_id), std::string(event_id));
    if (!res.empty()) out = Row(res[0]);
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<EvidenceRecord>> PostgresEvidenceStore::List(std::string_view tenant_id,
                                                                int64_t after_seq, int limit) {
  std::vector<EvidenceRecord> out;
  if (limit <= 0) return out;
  VV_RETURN_IF_ERROR(conn_.InTenantTransaction(tenant_id, [&](pqxx::transaction_base& w) {
    pqxx::result res = w.exec_params(
        std::string("SELECT ") + kColumns +
            " FROM vv_evidence WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        std::string(tenant_id), after_seq, limit);
    for (const auto& row : res) out.push_back(Row(row));
    return Status::Ok();
  }));
  return out;
}

Result<int64_t> PostgresEvidenceStore::Count(std::string_view tenant_id) {
  int64_t count = 0;
  VV_RETURN_IF_ERROR(conn_.InTenantTransaction(tenant_id, [&](pqxx::transaction_base& w) {
    pqxx::result res = w.exec_params("SELECT COUNT(*) FROM vv_evidence WHERE tenant_id = $1",
                                     std::string(tenant_id));
    count = res[0][0].as<int64_t>();
    return Status::Ok();
  }));
  return count;
}

Status PostgresEvidenceStore::ReplaceEnvelope(std::string_view tenant_id, std::string_view event_id,
                                              std::string_view key_id,
                                              std::string_view envelope_json) {
  return conn_.InTenantTransaction(tenant_id, [&](pqxx::transaction_base& w) {
    pqxx::result res = w.exec_params(
        "UPDATE vv_evidence SET key_id = $1, envelope = $2::jsonb"
        " WHERE tenant_id = $3 AND event_id = $4",
        std::string(key_id), std::string(envelope_json), std::string(tenant_id),
        std::string(event_id));
    // No row changed: nothing to commit (the rollback is a no-op).
    if (res.affected_rows() != 1) return Status::NotFound("evidence record not found");
    return Status::Ok();
  });
}

Result<std::vector<std::string>> PostgresEvidenceStore::Tenants() {
  return Status::InvalidArgument(
      "listing tenants is not available on the postgres evidence store (row-level security); "
      "name the tenant explicitly");
}

}  // namespace vv::evidence

#include "cognitive/postgres_graph_store.h"

#include <pqxx/pqxx>

namespace vv::cognitive {

namespace {

constexpr char kLabel[] = "graph store (postgres)";

void CreateTable(pqxx::transaction_base& w) {
  w.exec(
      "CREATE TABLE IF NOT EXISTS vv_cognitive_graphs ("
      " seq BIGSERIAL PRIMARY KEY,"
      " tenant_id TEXT NOT NULL CHECK (tenant_id <> ''),"
      " request_id TEXT NOT NULL, operator_id TEXT NOT NULL,"
      " execution_fingerprint TEXT NOT NULL, attestation_measurement_hash TEXT NOT NULL,"
      " schema_version TEXT NOT NULL, target_urn TEXT NOT NULL, node_count BIGINT NOT NULL,"
      " graph TEXT NOT NULL, received_at BIGINT NOT NULL)");
  w.exec(
      "CREATE INDEX IF NOT EXISTS vv_cognitive_graphs_tenant_seq ON vv_cognitive_graphs"
      " (tenant_id, seq)");
}

}  // namespace

Status PostgresGraphStore::InstallSchema(const std::string& admin_url,
                                         const std::string& owner_role,
                                         const std::string& app_role) {
  if (owner_role.empty() || app_role.empty() || owner_role == app_role)
    return Status::InvalidArgument(
        "graph store schema: owner role and app role must be set and differ");
  return sqlstore::Migrate(admin_url, kLabel, [&](pqxx::transaction_base& w) {
    CreateTable(w);
    w.exec("ALTER TABLE vv_cognitive_graphs OWNER TO " + w.quote_name(owner_role));
    sqlstore::EnableTenantIsolation(w, "vv_cognitive_graphs");
    w.exec("REVOKE ALL ON vv_cognitive_graphs FROM PUBLIC");
    sqlstore::GrantTableAccess(w, "vv_cognitive_graphs", "SELECT, INSERT", app_role);
    return Status::Ok();
  });
}

Status PostgresGraphStore::InstallSchema(const std::string& url, const std::string& app_role) {
  return sqlstore::Migrate(url, kLabel, [&](pqxx::transaction_base& w) {
    CreateTable(w);
    sqlstore::EnableTenantIsolation(w, "vv_cognitive_graphs");
    if (!app_role.empty())
      sqlstore::GrantTableAccess(w, "vv_cognitive_graphs", "SELECT, INSERT", app_role);
    return Status::Ok();
  });
}

// Every failure, SQL errors and conversions included, is Unavailable (the store is down).
PostgresGraphStore::PostgresGraphStore(const std::string& url)
    : conn_(url, kLabel, StatusCode::kUnavailable) {}
PostgresGraphStore::~PostgresGraphStore() = default;

Result<std::unique_ptr<PostgresGraphStore>> PostgresGraphStore::Open(
    const std::string& url, bool require_least_privilege) {
  std::unique_ptr<PostgresGraphStore> s(new PostgresGraphStore(url));
  if (require_least_privilege) {
    VV_RETURN_IF_ERROR(sqlstore::RequireLeastPrivilege(s->conn_, "vv_cognitive_graphs", kLabel));
    VV_RETURN_IF_ERROR(s->Health());
    return s;
  }
  Status installed = InstallSchema(url);
  if (installed.code() == StatusCode::kUnavailable) return installed;
  // Not the owner: the schema must already exist (installed by an admin). Check it is usable.
  VV_RETURN_IF_ERROR(s->Health());
  return s;
}

Status PostgresGraphStore::Append(const GraphRecord& r) {
  if (r.tenant_id.empty()) return Status::InvalidArgument("graph record needs a tenant_id");
  return conn_.InTenantTransaction(r.tenant_id, [&](pqxx::transaction_base& w) {
    w.exec_params(
        "INSERT INTO vv_cognitive_graphs (tenant_id, request_id, operator_id,"
        " execution_fingerprint, attestation_measurement_hash, schema_version, target_urn,"
        " node_count, graph, received_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        r.tenant_id, r.request_id, r.operator_id, r.execution_fingerprint,
        r.attestation_measurement_hash, r.schema_version, r.target_urn, r.node_count,
        r.graph_json, r.received_at);
    return Status::Ok();
  });
}

Result<std::vector<GraphRecord>> PostgresGraphStore::Latest(std::string_view tenant_id,
                                                           int limit) {
  if (tenant_id.empty()) return Status::InvalidArgument("graph query needs a tenant_id");
  if (limit < 1) return Status::InvalidArgument("graph query limit must be >= 1");
  std::vector<GraphRecord> out;
  VV_RETURN_IF_ERROR(conn_.InTenantTransaction(tenant_id, [&](pqxx::transaction_base& w) {
    pqxx::result res = w.exec_params(
        "SELECT seq, tenant_id, request_id, operator_id, execution_fingerprint,"
        " attestation_measurement_hash, schema_version, target_urn, node_count, graph,"
        " received_at FROM (SELECT * FROM vv_cognitive_graphs WHERE tenant_id = $1"
        " ORDER BY seq DESC LIMIT $2) t ORDER BY seq ASC",
        std::string(tenant_id), limit);
    out.reserve(res.size());
    for (const auto& row : res) {
      GraphRecord g;
      g.seq = row[0].as<int64_t>();
      g.tenant_id = row[1].as<std::string>();
      g.request_id = row[2].as<std::string>();
      g.operator_id = row[3].as<std::string>();
      g.execution_fingerprint = row[4].as<std::string>();
      g.attestation_measurement_hash = row[5].as<std::string>();
      g.schema_version = row[6].as<std::string>();
      g.target_urn = row[7].as<std::string>();
      g.node_count = row[8].as<int64_t>();
      g.graph_json = row[9].as<std::string>();
      g.received_at = row[10].as<int64_t>();
      out.push_back(std::move(g));
    }
    return Status::Ok();
  }));
  return out;
}

Status PostgresGraphStore::Health() {
  return conn_.InTransaction([](pqxx::transaction_base& w) {
    w.exec("SELECT 1 FROM vv_cognitive_graphs LIMIT 0");
    return Status::Ok();
  });
}

}  // namespace vv::cognitive

#include "cognitive/postgres_graph_store.h"

#include <pqxx/pqxx>

namespace vv::cognitive {

struct PostgresGraphStore::Conn {
  explicit Conn(const std::string& url) : c(url) {}
  pqxx::connection c;
};

namespace {

void ScopeToTenant(pqxx::transaction_base& w, std::string_view tenant) {
  w.exec("SET LOCAL vv.tenant_id = " + w.quote(std::string(tenant)));
}

}  // namespace

Status PostgresGraphStore::InstallSchema(const std::string& url, const std::string& app_role) {
  try {
    pqxx::connection c(url);
    pqxx::work w(c);
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
    w.exec("ALTER TABLE vv_cognitive_graphs ENABLE ROW LEVEL SECURITY");
    w.exec("ALTER TABLE vv_cognitive_graphs FORCE ROW LEVEL SECURITY");
    w.exec("DROP POLICY IF EXISTS vv_cognitive_graphs_tenant_isolation ON vv_cognitive_graphs");
    w.exec(
        "CREATE POLICY vv_cognitive_graphs_tenant_isolation ON vv_cognitive_graphs"
        " USING (tenant_id = current_setting('vv.tenant_id', true))"
        " WITH CHECK (tenant_id = current_setting('vv.tenant_id', true))");
    if (!app_role.empty()) {
      const std::string app = w.quote_name(app_role);
      w.exec("GRANT SELECT, INSERT ON vv_cognitive_graphs TO " + app);
      w.exec("GRANT USAGE ON SEQUENCE vv_cognitive_graphs_seq_seq TO " + app);
    }
    w.commit();
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable(std::string("graph store (postgres): ") + e.what());
  } catch (const std::exception& e) {
    return Status::Internal(std::string("graph store (postgres) schema: ") + e.what());
  }
  return Status::Ok();
}

PostgresGraphStore::PostgresGraphStore(std::string url) : url_(std::move(url)) {}
PostgresGraphStore::~PostgresGraphStore() = default;

Result<std::unique_ptr<PostgresGraphStore>> PostgresGraphStore::Open(const std::string& url) {
  std::unique_ptr<PostgresGraphStore> s(new PostgresGraphStore(url));
  Status installed = InstallSchema(url);
  if (installed.code() == StatusCode::kUnavailable) return installed;
  // Not the owner: the schema must already exist (installed by an admin). Check it is usable.
  VV_RETURN_IF_ERROR(s->Health());
  return s;
}

Status PostgresGraphStore::EnsureConnectedLocked() {
  if (conn_ && conn_->c.is_open()) return Status::Ok();
  conn_.reset();
  try {
    conn_ = std::make_unique<Conn>(url_);
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("graph store (postgres): cannot connect: ") +
                               e.what());
  }
  return Status::Ok();
}

// Runs `body` in a tenant-scoped transaction, converting exceptions to Status.
#define VV_GRAPH_PG_TXN(tenant, body)                                                  \
  std::lock_guard<std::mutex> l(mu_);                                                  \
  VV_RETURN_IF_ERROR(EnsureConnectedLocked());                                         \
  try {                                                                                \
    pqxx::work w(conn_->c);                                                            \
    ScopeToTenant(w, tenant);                                                          \
    body                                                                               \
  } catch (const pqxx::broken_connection& e) {                                         \
    conn_.reset();                                                                     \
    return Status::Unavailable(std::string("graph store (postgres): ") + e.what());    \
  } catch (const std::exception& e) {                                                  \
    return Status::Unavailable(std::string("graph store (postgres): ") + e.what());    \
  }

Status PostgresGraphStore::Append(const GraphRecord& r) {
  if (r.tenant_id.empty()) return Status::InvalidArgument("graph record needs a tenant_id");
  VV_GRAPH_PG_TXN(r.tenant_id, {
    w.exec_params(
        "INSERT INTO vv_cognitive_graphs (tenant_id, request_id, operator_id,"
        " execution_fingerprint, attestation_measurement_hash, schema_version, target_urn,"
        " node_count, graph, received_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        r.tenant_id, r.request_id, r.operator_id, r.execution_fingerprint,
        r.attestation_measurement_hash, r.schema_version, r.target_urn, r.node_count,
        r.graph_json, r.received_at);
    w.commit();
    return Status::Ok();
  })
}

Result<std::vector<GraphRecord>> PostgresGraphStore::Latest(std::string_view tenant_id,
                                                           int limit) {
  if (tenant_id.empty()) return Status::InvalidArgument("graph query needs a tenant_id");
  if (limit < 1) return Status::InvalidArgument("graph query limit must be >= 1");
  VV_GRAPH_PG_TXN(tenant_id, {
    pqxx::result res = w.exec_params(
        "SELECT seq, tenant_id, request_id, operator_id, execution_fingerprint,"
        " attestation_measurement_hash, schema_version, target_urn, node_count, graph,"
        " received_at FROM (SELECT * FROM vv_cognitive_graphs WHERE tenant_id = $1"
        " ORDER BY seq DESC LIMIT $2) t ORDER BY seq ASC",
        std::string(tenant_id), limit);
    w.commit();
    std::vector<GraphRecord> out;
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
    return out;
  })
}

Status PostgresGraphStore::Health() {
  std::lock_guard<std::mutex> l(mu_);
  VV_RETURN_IF_ERROR(EnsureConnectedLocked());
  try {
    pqxx::work w(conn_->c);
    w.exec("SELECT 1 FROM vv_cognitive_graphs LIMIT 0");
    w.commit();
  } catch (const pqxx::broken_connection& e) {
    conn_.reset();
    return Status::Unavailable(std::string("graph store (postgres): ") + e.what());
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("graph store (postgres): ") + e.what());
  }
  return Status::Ok();
}

}  // namespace vv::cognitive

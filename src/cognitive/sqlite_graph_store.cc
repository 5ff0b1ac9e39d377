#include "cognitive/sqlite_graph_store.h"

namespace vv::cognitive {

namespace {

using sqlstore::Stmt;
using StepResult = sqlstore::Stmt::StepResult;

Status Err(sqlite3* db, std::string_view what) {
  return sqlstore::Error(db, "graph store (sqlite): ", what);
}

constexpr const char* kSelect =
    "SELECT seq, tenant_id, request_id, operator_id, execution_fingerprint,"
    " attestation_measurement_hash, schema_version, target_urn, node_count, graph, received_at"
    " FROM (SELECT * FROM cognitive_graphs WHERE tenant_id = ?1 ORDER BY seq DESC LIMIT ?2)"
    " ORDER BY seq ASC";

}  // namespace

Result<std::unique_ptr<SqliteGraphStore>> SqliteGraphStore::Open(const std::string& path) {
  VV_ASSIGN_OR_RETURN(sqlstore::Db db, sqlstore::Db::Open(path, "graph store"));
  const char* kSetup =
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=FULL;"
      "CREATE TABLE IF NOT EXISTS cognitive_graphs ("
      " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
      " tenant_id TEXT NOT NULL CHECK (tenant_id <> ''),"
      " request_id TEXT NOT NULL, operator_id TEXT NOT NULL,"
      " execution_fingerprint TEXT NOT NULL, attestation_measurement_hash TEXT NOT NULL,"
      " schema_version TEXT NOT NULL, target_urn TEXT NOT NULL, node_count INTEGER NOT NULL,"
      " graph TEXT NOT NULL, received_at INTEGER NOT NULL);"
      "CREATE INDEX IF NOT EXISTS cognitive_graphs_tenant_seq ON cognitive_graphs"
      " (tenant_id, seq);";
  if (Status setup = sqlstore::ExecSetup(db.get(), kSetup); !setup.ok()) {
    const std::string& msg = setup.message();
    if (msg.find("not a database") != std::string::npos)
      return Status::DataLoss("graph store: " + path + " is not a SQLite database: " + msg);
    return Status::Unavailable("graph store: cannot initialise " + path + ": " + msg);
  }
  Stmt check(db.get(),
             "SELECT seq, tenant_id, request_id, operator_id, execution_fingerprint,"
             " attestation_measurement_hash, schema_version, target_urn, node_count, graph,"
             " received_at FROM cognitive_graphs LIMIT 0");
  if (!check.ok())
    return Status::DataLoss("graph store: " + path + ": cognitive_graphs has an unexpected schema");
  return std::unique_ptr<SqliteGraphStore>(new SqliteGraphStore(std::move(db), path));
}

SqliteGraphStore::~SqliteGraphStore() = default;

Status SqliteGraphStore::Append(const GraphRecord& r) {
  if (r.tenant_id.empty()) return Status::InvalidArgument("graph record needs a tenant_id");
  MutexLock l(&mu_);
  Stmt st(db_.get(),
          "INSERT INTO cognitive_graphs (tenant_id, request_id, operator_id,"
          " execution_fingerprint, attestation_measurement_hash, schema_version, target_urn,"
          " node_count, graph, received_at) VALUES (?,?,?,?,?,?,?,?,?,?)");
  if (!st.ok()) return Err(db_.get(), "prepare insert");
  st.Bind(r.tenant_id, r.request_id, r.operator_id, r.execution_fingerprint,
          r.attestation_measurement_hash, r.schema_version, r.target_urn, r.node_count,
          r.graph_json, r.received_at);
  if (st.Step() != StepResult::kDone) return Err(db_.get(), "insert");
  return Status::Ok();
}

Result<std::vector<GraphRecord>> SqliteGraphStore::Latest(std::string_view tenant_id, int limit) {
  if (tenant_id.empty()) return Status::InvalidArgument("graph query needs a tenant_id");
  if (limit < 1) return Status::InvalidArgument("graph query limit must be >= 1");
  MutexLock l(&mu_);
  Stmt st(db_.get(), kSelect);
  if (!st.ok()) return Err(db_.get(), "prepare select");
  st.Bind(tenant_id, limit);
  std::vector<GraphRecord> out;
  StepResult rc;
  while ((rc = st.Step()) == StepResult::kRow) {
    GraphRecord g;
    st.Read(g.seq, g.tenant_id, g.request_id, g.operator_id, g.execution_fingerprint,
            g.attestation_measurement_hash, g.schema_version, g.target_urn, g.node_count,
            g.graph_json, g.received_at);
    out.push_back(std::move(g));
  }
  if (rc != StepResult::kDone) return Err(db_.get(), "select");
  return out;
}

Status SqliteGraphStore::Health() {
  MutexLock l(&mu_);
  Stmt st(db_.get(), "SELECT 1 FROM cognitive_graphs LIMIT 1");
  if (!st.ok()) return Err(db_.get(), "health");
  if (st.Step() == StepResult::kError) return Err(db_.get(), "health");
  return Status::Ok();
}

}  // namespace vv::cognitive

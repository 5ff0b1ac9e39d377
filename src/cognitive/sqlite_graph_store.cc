#include "cognitive/sqlite_graph_store.h"

#include <sqlite3.h>

namespace vv::cognitive {

namespace {

// RAII prepared statement.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &st_, nullptr); }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return st_ != nullptr; }
  sqlite3_stmt* get() const { return st_; }
  void Text(int i, std::string_view s) {
    sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void Int(int i, int64_t v) { sqlite3_bind_int64(st_, i, v); }
  std::string Col(int i) const {
    const unsigned char* p = sqlite3_column_text(st_, i);
    int n = sqlite3_column_bytes(st_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : "";
  }

 private:
  sqlite3_stmt* st_ = nullptr;
};

Status Err(sqlite3* db, const std::string& what) {
  return Status::Unavailable("graph store (sqlite): " + what + ": " + sqlite3_errmsg(db));
}

constexpr const char* kSelect =
    "SELECT seq, tenant_id, request_id, operator_id, execution_fingerprint,"
    " attestation_measurement_hash, schema_version, target_urn, node_count, graph, received_at"
    " FROM (SELECT * FROM cognitive_graphs WHERE tenant_id = ?1 ORDER BY seq DESC LIMIT ?2)"
    " ORDER BY seq ASC";

}  // namespace

Result<std::unique_ptr<SqliteGraphStore>> SqliteGraphStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::Unavailable("graph store: cannot open " + path + ": " + msg);
  }
  std::unique_ptr<SqliteGraphStore> store(new SqliteGraphStore(db, path));
  sqlite3_busy_timeout(db, 5000);
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
  char* err = nullptr;
  if (sqlite3_exec(db, kSetup, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    if (msg.find("not a database") != std::string::npos)
      return Status::DataLoss("graph store: " + path + " is not a SQLite database: " + msg);
    return Status::Unavailable("graph store: cannot initialise " + path + ": " + msg);
  }
  Stmt check(db, "SELECT seq, tenant_id, request_id, operator_id, execution_fingerprint,"
                 " attestation_measurement_hash, schema_version, target_urn, node_count, graph,"
                 " received_at FROM cognitive_graphs LIMIT 0");
  if (!check.ok())
    return Status::DataLoss("graph store: " + path + ": cognitive_graphs has an unexpected schema");
  return store;
}

SqliteGraphStore::~SqliteGraphStore() { sqlite3_close(db_); }

Status SqliteGraphStore::Append(const GraphRecord& r) {
  if (r.tenant_id.empty()) return Status::InvalidArgument("graph record needs a tenant_id");
  std::lock_guard<std::mutex> l(mu_);
  Stmt st(db_,
          "INSERT INTO cognitive_graphs (tenant_id, request_id, operator_id,"
          " execution_fingerprint, attestation_measurement_hash, schema_version, target_urn,"
          " node_count, graph, received_at) VALUES (?,?,?,?,?,?,?,?,?,?)");
  if (!st.ok()) return Err(db_, "prepare insert");
  st.Text(1, r.tenant_id);
  st.Text(2, r.request_id);
  st.Text(3, r.operator_id);
  st.Text(4, r.execution_fingerprint);
  st.Text(5, r.attestation_measurement_hash);
  st.Text(6, r.schema_version);
  st.Text(7, r.target_urn);
  st.Int(8, r.node_count);
  st.Text(9, r.graph_json);
  st.Int(10, r.received_at);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return Err(db_, "insert");
  return Status::Ok();
}

Result<std::vector<GraphRecord>> SqliteGraphStore::Latest(std::string_view tenant_id, int limit) {
  if (tenant_id.empty()) return Status::InvalidArgument("graph query needs a tenant_id");
  if (limit < 1) return Status::InvalidArgument("graph query limit must be >= 1");
  std::lock_guard<std::mutex> l(mu_);
  Stmt st(db_, kSelect);
  if (!st.ok()) return Err(db_, "prepare select");
  st.Text(1, tenant_id);
  st.Int(2, limit);
  std::vector<GraphRecord> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    GraphRecord g;
    g.seq = sqlite3_column_int64(st.get(), 0);
    g.tenant_id = st.Col(1);
    g.request_id = st.Col(2);
    g.operator_id = st.Col(3);
    g.execution_fingerprint = st.Col(4);
    g.attestation_measurement_hash = st.Col(5);
    g.schema_version = st.Col(6);
    g.target_urn = st.Col(7);
    g.node_count = sqlite3_column_int64(st.get(), 8);
    g.graph_json = st.Col(9);
    g.received_at = sqlite3_column_int64(st.get(), 10);
    out.push_back(std::move(g));
  }
  if (rc != SQLITE_DONE) return Err(db_, "select");
  return out;
}

Status SqliteGraphStore::Health() {
  std::lock_guard<std::mutex> l(mu_);
  Stmt st(db_, "SELECT 1 FROM cognitive_graphs LIMIT 1");
  if (!st.ok()) return Err(db_, "health");
  int rc = sqlite3_step(st.get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Err(db_, "health");
  return Status::Ok();
}

}  // namespace vv::cognitive

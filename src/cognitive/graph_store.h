#pragma once
// GraphStore: tenant-scoped persistence of the execution graphs received on
// POST /internal/v1/cognitive/execution-graph (wire-contract 1.6, 10). Unlike the reference's
// in-process list, records live in the evidence store database configured by
// `vectorvue.evidence_engine` (SQLite file or PostgreSQL), so they survive restarts and are
// shared by every gateway replica. Every read names its tenant explicitly; there is no
// unscoped read.
//
// Backends: SqliteGraphStore (sqlite_graph_store.h, table `cognitive_graphs` in the evidence
// database file, WAL) and PostgresGraphStore (postgres_graph_store.h, row-level security).
// Thread-safety: implementations are thread-safe. Ownership: each owns its connection.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/backends.h"

namespace vv::cognitive {

struct GraphRecord {
  int64_t seq = 0;  // store-assigned, increasing per store (0 before Append)
  std::string tenant_id;
  std::string request_id;
  std::string operator_id;
  std::string execution_fingerprint;         // lowercase hex
  std::string attestation_measurement_hash;  // lowercase hex
  std::string schema_version;
  std::string target_urn;  // str(graph.target_urn), or "urn:target:unknown"
  int64_t node_count = -1;  // len(graph.nodes) when it is a list, else -1
  std::string graph_json;   // canonical JSON of the graph object
  int64_t received_at = 0;  // unix seconds
};

class GraphStore {
 public:
  virtual ~GraphStore() = default;
  // Appends one record (seq ignored). InvalidArgument without a tenant; Unavailable when the
  // backend fails.
  virtual Status Append(const GraphRecord& record) = 0;
  // The tenant's last `limit` records (limit >= 1), oldest first (arrival order).
  virtual Result<std::vector<GraphRecord>> Latest(std::string_view tenant_id, int limit) = 0;
  virtual Status Health() = 0;
};

// Where the graph store lives (the `vectorvue.evidence_engine` store settings).
struct GraphStoreConfig {
  config::StoreBackend backend = config::StoreBackend::kSqlite;
  std::string path;                // sqlite file
  std::string postgres_url;        // postgres
  // Production (issue 12): the postgres role must be least-privilege (no superuser, no
  // BYPASSRLS, not the table owner) and the schema is never installed on open (an admin
  // installs it with a separate owner role: vv-evidence init-postgres-graphs).
  bool require_least_privilege = false;
};

// Opens the configured backend (creating the table when needed).
Result<std::unique_ptr<GraphStore>> OpenGraphStore(const GraphStoreConfig& cfg);

}  // namespace vv::cognitive

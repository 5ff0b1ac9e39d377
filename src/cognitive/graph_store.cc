#include "cognitive/graph_store.h"

#include "cognitive/postgres_graph_store.h"
#include "cognitive/sqlite_graph_store.h"

namespace vv::cognitive {

Result<std::unique_ptr<GraphStore>> OpenGraphStore(const GraphStoreConfig& cfg) {
  if (cfg.backend == "sqlite") {
    auto s = SqliteGraphStore::Open(cfg.path);
    if (!s.ok()) return s.status();
    return std::unique_ptr<GraphStore>(std::move(s).value());
  }
  if (cfg.backend == "postgres") {
    auto s = PostgresGraphStore::Open(cfg.postgres_url, cfg.require_least_privilege);
    if (!s.ok()) return s.status();
    return std::unique_ptr<GraphStore>(std::move(s).value());
  }
  return Status::InvalidArgument("graph store backend '" + cfg.backend + "' is not supported");
}

}  // namespace vv::cognitive

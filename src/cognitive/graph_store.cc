#include "cognitive/graph_store.h"

#include "cognitive/postgres_graph_store.h"
#include "cognitive/sqlite_graph_store.h"

namespace vv::cognitive {

Result<std::unique_ptr<GraphStore>> OpenGraphStore(const GraphStoreConfig& cfg) {
  switch (cfg.backend) {
    case config::StoreBackend::kSqlite: {
      VV_ASSIGN_OR_RETURN(auto s, SqliteGraphStore::Open(cfg.path));
      return std::unique_ptr<GraphStore>(std::move(s));
    }
    case config::StoreBackend::kPostgres: {
      VV_ASSIGN_OR_RETURN(auto s,
                          PostgresGraphStore::Open(cfg.postgres_url, cfg.require_least_privilege));
      return std::unique_ptr<GraphStore>(std::move(s));
    }
  }
  return Status::InvalidArgument("graph store backend " +
                                 std::to_string(static_cast<int>(cfg.backend)) +
                                 " is not supported");
}

}  // namespace vv::cognitive

#pragma once
// SqliteGraphStore: the embedded GraphStore. Table `cognitive_graphs` in the evidence store's
// SQLite file (the evidence engine's own table lives beside it; this class touches only its
// own table and never changes database-wide settings other than WAL mode, which both use).
// WAL mode and a busy timeout make it safe to share the file with the evidence engine process.
// Thread-safety: a mutex serialises statements on the one connection. Ownership: owns it.

#include <memory>
#include <string>
#include <utility>

#include "cognitive/graph_store.h"
#include "common/mutex.h"
#include "sqlstore/sqlite_util.h"

namespace vv::cognitive {

class SqliteGraphStore final : public GraphStore {
 public:
  static Result<std::unique_ptr<SqliteGraphStore>> Open(const std::string& path);
  ~SqliteGraphStore() override;
  SqliteGraphStore(const SqliteGraphStore&) = delete;
  SqliteGraphStore& operator=(const SqliteGraphStore&) = delete;

  Status Append(const GraphRecord& record) override;
  Result<std::vector<GraphRecord>> Latest(std::string_view tenant_id, int limit) override;
  Status Health() override;

 private:
  SqliteGraphStore(sqlstore::Db db, std::string path)
      : db_(std::move(db)), path_(std::move(path)) {}
  Mutex mu_;
  const sqlstore::Db db_ VV_GUARDED_BY(mu_);  // the connection: every statement under mu_
  const std::string path_;
};

}  // namespace vv::cognitive

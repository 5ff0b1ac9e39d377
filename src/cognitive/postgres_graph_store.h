#pragma once
// PostgresGraphStore: the scale-out GraphStore. Table `vv_cognitive_graphs` with row-level
// security (ENABLE + FORCE): every statement runs in a transaction that first sets
// `vv.tenant_id` (SET LOCAL), and the policy only shows and accepts rows of that tenant, so a
// query can never see another tenant's graphs even if its WHERE clause were wrong. Several
// gateway replicas share the table. (Connect as a non-superuser role: superusers bypass RLS.)
// Thread-safety: one connection guarded by a mutex; reconnects after a broken connection.
// Ownership: owns the connection.

#include <memory>
#include <string>

#include "cognitive/graph_store.h"
#include "sqlstore/postgres_util.h"

namespace vv::cognitive {

class PostgresGraphStore final : public GraphStore {
 public:
  // Creates the table, policy and grants (idempotent). `app_role` ("" = none) gets
  // SELECT/INSERT. Run by the table owner (or an admin).
  static Status InstallSchema(const std::string& url, const std::string& app_role = "");
  // The owner/app-role split of the evidence store (issue 12): run by an admin, creates the
  // table, hands it to `owner_role` (which the gateway never connects as), forces RLS, revokes
  // PUBLIC and grants SELECT/INSERT to `app_role` - which therefore cannot disable RLS.
  static Status InstallSchema(const std::string& admin_url, const std::string& owner_role,
                              const std::string& app_role);
  // Connects; installs the schema when the role may (ignored otherwise) and checks the
  // table is readable. With `require_least_privilege` (production profile) nothing is
  // installed and a superuser, BYPASSRLS or table-owning role is refused (PermissionDenied
  // naming the problem): such a role can read every tenant's graphs.
  static Result<std::unique_ptr<PostgresGraphStore>> Open(const std::string& url,
                                                          bool require_least_privilege = false);
  ~PostgresGraphStore() override;

  Status Append(const GraphRecord& record) override;
  Result<std::vector<GraphRecord>> Latest(std::string_view tenant_id, int limit) override;
  Status Health() override;

 private:
  explicit PostgresGraphStore(const std::string& url);

  sqlstore::PgConnection conn_;
};

}  // namespace vv::cognitive

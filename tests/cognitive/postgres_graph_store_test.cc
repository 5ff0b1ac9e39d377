// PostgreSQL graph store on a real server started by the test: the GraphStore contract, and
// row-level security proven at the SQL level (an unscoped SELECT in tenant A's session returns
// only A's graphs; no tenant -> no rows; writing another tenant's graph is refused), schema
// installation by the owner for an application role, and recovery after a server restart.

#include "cognitive/postgres_graph_store.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "cognitive/graph_store_contract.h"
#include "fakes/postgres_server.h"
#include "fakes/servers.h"
#include "sqlstore/postgres_util.h"

namespace vv::cognitive {
namespace {

using testing::kT1;
using testing::kT2;
using testing::Rec;

// The table is owned by vv_graph_owner (it installs the schema); the gateway connects as
// vv_gateway. Neither is a superuser nor has BYPASSRLS, and RLS is forced, so both are bound by
// the tenant policy.
class PostgresGraphStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VV_REQUIRE_SERVER(server_);
    Status roles = server_.Psql(
        "CREATE ROLE vv_graph_owner LOGIN NOSUPERUSER NOBYPASSRLS; "
        "CREATE ROLE vv_gateway LOGIN NOSUPERUSER NOBYPASSRLS; "
        "GRANT CREATE ON SCHEMA public TO vv_graph_owner;");
    ASSERT_TRUE(roles.ok()) << roles.ToString();
  }
  void InstallSchema() {
    Status s = PostgresGraphStore::InstallSchema(OwnerUrl(), "vv_gateway");
    ASSERT_TRUE(s.ok()) << s.ToString();
    // Idempotent migration.
    s = PostgresGraphStore::InstallSchema(OwnerUrl(), "vv_gateway");
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::string OwnerUrl() const { return server_.Url("vv_graph_owner"); }
  std::string GatewayUrl() const { return server_.Url("vv_gateway"); }

  vv::testing::PostgresServer server_;
};

TEST_F(PostgresGraphStoreTest, SatisfiesGraphStoreContract) {
  InstallSchema();
  auto store = PostgresGraphStore::Open(GatewayUrl());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  testing::RunGraphStoreContract(**store);
}

TEST_F(PostgresGraphStoreTest, OwnerInstallsTheSchemaOnOpen) {
  auto store = PostgresGraphStore::Open(OwnerUrl());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Append(Rec(kT1, "r", 1)).ok());
  auto got = (*store)->Latest(kT1, 10);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), 1u);
}

TEST_F(PostgresGraphStoreTest, OpenFailsWhenTheAppRoleCannotReadTheTable) {
  // No schema installed and no right to create it: Open reports the store as unusable.
  auto store = PostgresGraphStore::Open(GatewayUrl());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(store.status().message().find("graph store (postgres): "), std::string::npos)
      << store.status().message();
}

TEST_F(PostgresGraphStoreTest, RowLevelSecurityHidesOtherTenantsGraphs) {
  InstallSchema();
  auto store = PostgresGraphStore::Open(GatewayUrl());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Append(Rec(kT1, "a-1", 1)).ok());
  ASSERT_TRUE((*store)->Append(Rec(kT1, "a-2", 2)).ok());
  ASSERT_TRUE((*store)->Append(Rec(kT2, "b-1", 3)).ok());

  // A raw session of the gateway role, scoped the way the store scopes its transactions.
  sqlstore::PgConnection raw(GatewayUrl(), "raw session");
  std::vector<std::string> seen;
  Status s = raw.InTenantTransaction(kT1, [&](pqxx::transaction_base& txn) {
    // No WHERE clause at all: the database itself filters.
    for (const auto& row : txn.exec("SELECT tenant_id FROM vv_cognitive_graphs ORDER BY seq"))
      seen.push_back(row[0].as<std::string>());
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(seen, (std::vector<std::string>{kT1, kT1}));
  // No tenant set (SET LOCAL reverted at the last COMMIT): nothing is visible.
  int64_t unscoped = -1;
  s = raw.InTransaction([&](pqxx::transaction_base& txn) {
    unscoped = txn.exec("SELECT count(*) FROM vv_cognitive_graphs")[0][0].as<int64_t>();
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(unscoped, 0);
  // Tenant 1's session cannot insert a graph for tenant 2 (WITH CHECK), nor delete anything
  // (the application role has SELECT and INSERT only).
  Status forged = raw.InTenantTransaction(kT1, [&](pqxx::transaction_base& txn) {
    txn.exec(
        "INSERT INTO vv_cognitive_graphs (tenant_id, request_id, operator_id,"
        " execution_fingerprint, attestation_measurement_hash, schema_version, target_urn,"
        " node_count, graph, received_at) VALUES (" +
        txn.quote(std::string(kT2)) + ", 'forged', 'op', 'f', 'h', 'v', 'u', 0, '{}', 0)");
    return Status::Ok();
  });
  EXPECT_NE(forged.message().find("row-level security"), std::string::npos) << forged.ToString();
  Status deleted = raw.InTenantTransaction(kT1, [](pqxx::transaction_base& txn) {
    txn.exec("DELETE FROM vv_cognitive_graphs");
    return Status::Ok();
  });
  EXPECT_NE(deleted.message().find("permission denied"), std::string::npos) << deleted.ToString();
  // Through the store, each tenant reads only its own graphs.
  auto t2 = (*store)->Latest(kT2, 100);
  ASSERT_TRUE(t2.ok());
  ASSERT_EQ(t2->size(), 1u);
  EXPECT_EQ((*t2)[0].request_id, "b-1");
  // The superuser (not used by the gateway) sees all three: the rows really exist.
  std::string out;
  ASSERT_TRUE(server_.Psql("SELECT count(*) FROM vv_cognitive_graphs", &out).ok());
  EXPECT_EQ(out.substr(0, 1), "3");
}

TEST_F(PostgresGraphStoreTest, ReconnectsAfterServerRestart) {
  InstallSchema();
  auto store = PostgresGraphStore::Open(GatewayUrl());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Append(Rec(kT1, "before", 1)).ok());
  server_.Stop();
  Status during = (*store)->Append(Rec(kT1, "during", 2));
  EXPECT_EQ(during.code(), StatusCode::kUnavailable) << during.ToString();
  EXPECT_FALSE((*store)->Health().ok());
  ASSERT_TRUE(server_.Start().ok());
  // The first call after the outage may fail once (broken connection detected), then recovers.
  Status after = (*store)->Append(Rec(kT1, "after", 3));
  if (!after.ok()) after = (*store)->Append(Rec(kT1, "after", 3));
  ASSERT_TRUE(after.ok()) << after.ToString();
  EXPECT_TRUE((*store)->Health().ok());
  auto got = (*store)->Latest(kT1, 10);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].request_id, "before");
  EXPECT_EQ((*got)[1].request_id, "after");
}

// Issue 12: the owner/app-role split. Installed by the admin for owner vv_graph_owner, the
// gateway's role can use the table but cannot switch RLS off; the production open refuses a
// superuser and the table owner, naming the problem.
TEST_F(PostgresGraphStoreTest, AppRoleCannotDisableRlsAndProductionRefusesPrivilegedRoles) {
  Status s = PostgresGraphStore::InstallSchema(server_.admin_url(), "vv_graph_owner", "vv_gateway");
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(PostgresGraphStore::InstallSchema(server_.admin_url(), "vv_graph_owner", "vv_gateway")
                  .ok());  // idempotent
  EXPECT_EQ(PostgresGraphStore::InstallSchema(server_.admin_url(), "vv_gateway", "vv_gateway").code(),
            StatusCode::kInvalidArgument);
  for (const char* sql : {"ALTER TABLE vv_cognitive_graphs DISABLE ROW LEVEL SECURITY",
                          "ALTER TABLE vv_cognitive_graphs NO FORCE ROW LEVEL SECURITY",
                          "DROP POLICY vv_cognitive_graphs_tenant_isolation ON vv_cognitive_graphs"}) {
    pqxx::connection c(GatewayUrl());
    pqxx::work w(c);
    EXPECT_THROW(w.exec(sql), pqxx::sql_error) << sql;
  }
  auto app = PostgresGraphStore::Open(GatewayUrl(), /*require_least_privilege=*/true);
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  ASSERT_TRUE((*app)->Append(Rec(kT1, "r", 1)).ok());

  auto su = PostgresGraphStore::Open(server_.admin_url(), true);
  ASSERT_FALSE(su.ok());
  EXPECT_EQ(su.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(su.status().message().find("role 'vv_admin' is a superuser"), std::string::npos)
      << su.status().message();
  auto owner = PostgresGraphStore::Open(OwnerUrl(), true);
  ASSERT_FALSE(owner.ok());
  EXPECT_NE(owner.status().message().find("owns table vv_cognitive_graphs"), std::string::npos)
      << owner.status().message();
  // Development keeps the old convenience (the owner may open and install).
  EXPECT_TRUE(PostgresGraphStore::Open(OwnerUrl()).ok());
}

TEST(PostgresGraphStoreOpenTest, UnreachableServerIsUnavailable) {
  const std::string url = "postgresql://vv@127.0.0.1:" +
                          std::to_string(vv::testing::FreeLoopbackPort()) +
                          "/x?connect_timeout=2";
  EXPECT_EQ(PostgresGraphStore::InstallSchema(url).code(), StatusCode::kUnavailable);
  auto opened = PostgresGraphStore::Open(url);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(opened.status().message().rfind("graph store (postgres): ", 0), 0u)
      << opened.status().message();
}

}  // namespace
}  // namespace vv::cognitive

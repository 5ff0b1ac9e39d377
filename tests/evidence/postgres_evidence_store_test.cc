// PostgreSQL evidence store on a real server started by the test: the store contract, and
// row-level security proven at the SQL level (an unscoped SELECT in tenant A's session returns
// only tenant A's rows; no tenant -> no rows; writing another tenant's row is refused; the
// application role cannot switch RLS off).

#include "evidence/postgres_evidence_store.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "evidence/store_contract.h"
#include "fakes/postgres_server.h"
#include "fakes/servers.h"

namespace vv::evidence {
namespace {

using testing::kTenantA;
using testing::kTenantB;
using testing::MakeRecord;

class PostgresEvidenceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VV_REQUIRE_SERVER(server_);
    ASSERT_TRUE(server_
                    .Psql("CREATE ROLE vv_owner NOLOGIN; "
                          "CREATE ROLE vv_engine LOGIN NOSUPERUSER NOBYPASSRLS;")
                    .ok());
    Status s = PostgresEvidenceStore::InstallSchema(server_.admin_url(), "vv_owner", "vv_engine");
    ASSERT_TRUE(s.ok()) << s.ToString();
    // Idempotent migration.
    ASSERT_TRUE(
        PostgresEvidenceStore::InstallSchema(server_.admin_url(), "vv_owner", "vv_engine").ok());
  }
  std::string EngineUrl() const { return server_.Url("vv_engine"); }

  vv::testing::PostgresServer server_;
};

TEST_F(PostgresEvidenceStoreTest, SatisfiesStoreContract) {
  auto store = PostgresEvidenceStore::Open(EngineUrl());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  testing::RunStoreContract(**store);
  EXPECT_FALSE((*store)->Tenants().ok());
}

TEST_F(PostgresEvidenceStoreTest, PutBatchIsOneTransactionAllOrNothing) {
  auto store = PostgresEvidenceStore::Open(EngineUrl());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  testing::RunPutBatchContract(**store);
  // One bad row (an envelope that is not JSON) fails the whole batch: nothing is stored,
  // also not the other tenant's rows written earlier in the same transaction.
  EvidenceRecord bad = MakeRecord(kTenantA, "tx-bad");
  bad.envelope_json = "{not json";
  auto out = (*store)->PutBatch(
      {MakeRecord(kTenantB, "tx-1"), MakeRecord(kTenantA, "tx-1"), bad});
  ASSERT_EQ(out.size(), 3u);
  for (const auto& r : out) EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE((*store)->Get(kTenantB, "tx-1")->has_value());
  EXPECT_FALSE((*store)->Get(kTenantA, "tx-1")->has_value());
  out = (*store)->PutBatch({MakeRecord(kTenantB, "tx-1"), MakeRecord(kTenantA, "tx-1")});
  for (const auto& r : out) EXPECT_TRUE(r.ok() && *r == PutOutcome::kStored);
}

TEST_F(PostgresEvidenceStoreTest, RowLevelSecurityHidesOtherTenantsFromUnscopedSelect) {
  auto store = PostgresEvidenceStore::Open(EngineUrl());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Put(MakeRecord(kTenantA, "a-1")).ok());
  ASSERT_TRUE((*store)->Put(MakeRecord(kTenantA, "a-2")).ok());
  ASSERT_TRUE((*store)->Put(MakeRecord(kTenantB, "b-1")).ok());

  pqxx::connection c(EngineUrl());
  {
    pqxx::work w(c);
    w.exec("SET LOCAL vv.tenant_id = " + w.quote(std::string(kTenantA)));
    // No WHERE clause at all: the database itself filters.
    pqxx::result all = w.exec("SELECT tenant_id, event_id FROM vv_evidence ORDER BY seq");
    ASSERT_EQ(all.size(), 2u);
    for (const auto& row : all) EXPECT_EQ(row[0].as<std::string>(), kTenantA);
    // Even asking for B explicitly returns nothing.
    pqxx::result b =
        w.exec("SELECT 1 FROM vv_evidence WHERE tenant_id = " + w.quote(std::string(kTenantB)));
    EXPECT_EQ(b.size(), 0u);
    // Updates and deletes cannot reach B's rows either.
    pqxx::result upd = w.exec("UPDATE vv_evidence SET key_id = 'x' WHERE tenant_id <> " +
                              w.quote(std::string(kTenantA)));
    EXPECT_EQ(upd.affected_rows(), 0u);
    w.commit();
  }
  {
    // No tenant set: nothing is visible.
    pqxx::work w(c);
    EXPECT_EQ(w.exec("SELECT * FROM vv_evidence").size(), 0u);
    w.commit();
  }
  {
    // After the scoped transaction ended, SET LOCAL has reverted: still nothing visible.
    pqxx::work w(c);
    EXPECT_EQ(w.exec("SELECT count(*) FROM vv_evidence")[0][0].as<int>(), 0);
    w.commit();
  }
  {
    // Tenant A's session cannot insert a row for tenant B (WITH CHECK).
    pqxx::work w(c);
    w.exec("SET LOCAL vv.tenant_id = " + w.quote(std::string(kTenantA)));
    EXPECT_THROW(
        w.exec("INSERT INTO vv_evidence (tenant_id, event_id, message_id, "
               "integrity_hash, key_id, envelope, created_at, stored_at) VALUES (" +
               w.quote(std::string(kTenantB)) + ", 'forged', 'm', 'h', 'k', '{}', 'c', 0)"),
        pqxx::sql_error);
  }
  {
    // The application role can neither disable RLS nor drop the policy (not the owner).
    pqxx::work w(c);
    EXPECT_THROW(w.exec("ALTER TABLE vv_evidence DISABLE ROW LEVEL SECURITY"), pqxx::sql_error);
  }
  {
    pqxx::work w(c);
    EXPECT_THROW(w.exec("DELETE FROM vv_evidence"), pqxx::sql_error);  // no DELETE grant
  }
  // The superuser (not used by the engine) sees both tenants: the rows really exist.
  std::string out;
  ASSERT_TRUE(server_.Psql("SELECT count(*) FROM vv_evidence", &out).ok());
  EXPECT_EQ(out.substr(0, 1), "3");
}

// Issue 12: the production open refuses a role that can bypass or switch off RLS.
TEST_F(PostgresEvidenceStoreTest, ProductionOpenRefusesASuperuserAndAcceptsTheAppRole) {
  auto app = PostgresEvidenceStore::Open(EngineUrl(), /*require_least_privilege=*/true);
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  auto su = PostgresEvidenceStore::Open(server_.admin_url(), true);
  ASSERT_FALSE(su.ok());
  EXPECT_EQ(su.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(su.status().message().find("is a superuser"), std::string::npos)
      << su.status().message();
  EXPECT_TRUE(PostgresEvidenceStore::Open(server_.admin_url()).ok());  // development: allowed
}

TEST_F(PostgresEvidenceStoreTest, ReconnectsAfterServerRestart) {
  auto store = PostgresEvidenceStore::Open(EngineUrl());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Put(MakeRecord(kTenantA, "before")).ok());
  server_.Stop();
  EXPECT_FALSE((*store)->Put(MakeRecord(kTenantA, "during")).ok());
  ASSERT_TRUE(server_.Start().ok());
  // First call after the outage may fail once (broken connection detected), then recovers.
  auto r = (*store)->Put(MakeRecord(kTenantA, "after"));
  if (!r.ok()) r = (*store)->Put(MakeRecord(kTenantA, "after"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*(*store)->Count(kTenantA), 2);
}

TEST(PostgresEvidenceStoreOpenTest, UnreachableServerIsUnavailable) {
  int port = vv::testing::FreeLoopbackPort();
  auto store = PostgresEvidenceStore::Open("postgresql://vv@127.0.0.1:" + std::to_string(port) +
                                           "/x?connect_timeout=2");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace vv::evidence

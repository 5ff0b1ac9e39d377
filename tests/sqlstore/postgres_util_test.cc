// PostgreSQL helpers on a real server started by the test: commit on OK and rollback
// otherwise, tenant scoping with SET LOCAL (and its revert), the exception-to-Status mapping,
// tenant isolation installed by EnableTenantIsolation, one-shot migrations, and reconnecting
// after the server restarts.

#include "sqlstore/postgres_util.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <stdexcept>
#include <string>

#include "fakes/postgres_server.h"
#include "fakes/servers.h"

namespace vv::sqlstore {
namespace {

constexpr char kTenantA[] = "10000000-0000-0000-0000-000000000001";
constexpr char kTenantB[] = "20000000-0000-0000-0000-000000000002";
constexpr char kLabel[] = "test store (postgres)";

int64_t CountRows(PgConnection& conn, std::string_view tenant) {
  int64_t n = -1;
  Status s = conn.InTenantTransaction(tenant, [&](pqxx::transaction_base& txn) {
    n = txn.exec("SELECT count(*) FROM items")[0][0].as<int64_t>();
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return n;
}

// Table `items` (tenant_id, v) owned by the bootstrap superuser, with tenant isolation, used by
// the role vv_app (not a superuser, no BYPASSRLS: bound by the policy).
class PostgresUtilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VV_REQUIRE_SERVER(server_);
    ASSERT_TRUE(server_.Psql("CREATE ROLE vv_app LOGIN NOSUPERUSER NOBYPASSRLS;").ok());
    Status s = Migrate(server_.admin_url(), kLabel, [](pqxx::transaction_base& txn) {
      txn.exec("CREATE TABLE IF NOT EXISTS items (tenant_id TEXT NOT NULL, v TEXT NOT NULL)");
      EnableTenantIsolation(txn, "items");
      txn.exec("GRANT SELECT, INSERT ON items TO vv_app");
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::string AppUrl() const { return server_.Url("vv_app"); }

  vv::testing::PostgresServer server_;
};

TEST_F(PostgresUtilTest, TenantTransactionsCommitAndSeeOnlyTheirTenant) {
  PgConnection conn(AppUrl(), kLabel);
  ASSERT_TRUE(conn.Connect().ok());
  for (const char* tenant : {kTenantA, kTenantA, kTenantB}) {
    Status s = conn.InTenantTransaction(tenant, [&](pqxx::transaction_base& txn) {
      txn.exec_params("INSERT INTO items (tenant_id, v) VALUES ($1, 'x')", std::string(tenant));
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_EQ(CountRows(conn, kTenantA), 2);
  EXPECT_EQ(CountRows(conn, kTenantB), 1);
  EXPECT_EQ(CountRows(conn, "30000000-0000-0000-0000-000000000003"), 0);
  // The scope is SET LOCAL: it is set inside and gone in the next, unscoped transaction.
  std::string inside = "?";
  std::string after = "?";
  ASSERT_TRUE(conn.InTenantTransaction(kTenantA, [&](pqxx::transaction_base& txn) {
                    inside = txn.exec("SELECT current_setting('vv.tenant_id', true)")[0][0]
                                 .as<std::string>();
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_TRUE(conn.InTransaction([&](pqxx::transaction_base& txn) {
                    after = txn.exec("SELECT coalesce(current_setting('vv.tenant_id', true), '')"
                                     " || '|' || (SELECT count(*) FROM items)")[0][0]
                                .as<std::string>();
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(inside, kTenantA);
  EXPECT_EQ(after, "|0");  // no tenant: the policy shows nothing
}

TEST_F(PostgresUtilTest, PolicyRefusesWritingAnotherTenantsRow) {
  PgConnection conn(AppUrl(), kLabel);
  Status s = conn.InTenantTransaction(kTenantA, [&](pqxx::transaction_base& txn) {
    txn.exec_params("INSERT INTO items (tenant_id, v) VALUES ($1, 'forged')",
                    std::string(kTenantB));
    return Status::Ok();
  });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);  // a SQL error
  EXPECT_EQ(s.message().rfind(std::string(kLabel) + ": ", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("row-level security"), std::string::npos) << s.message();
  EXPECT_EQ(CountRows(conn, kTenantB), 0);
}

TEST_F(PostgresUtilTest, NonOkBodyRollsBackAndIsReturnedAsIs) {
  PgConnection conn(AppUrl(), kLabel);
  Status s = conn.InTenantTransaction(kTenantA, [&](pqxx::transaction_base& txn) {
    txn.exec_params("INSERT INTO items (tenant_id, v) VALUES ($1, 'x')", std::string(kTenantA));
    return Status::NotFound("changed my mind");
  });
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "changed my mind");
  EXPECT_EQ(CountRows(conn, kTenantA), 0);
}

TEST_F(PostgresUtilTest, OtherExceptionsMapToTheConfiguredCode) {
  PgConnection internal(AppUrl(), kLabel);
  Status s = internal.InTransaction([](pqxx::transaction_base& txn) {
    txn.exec("SELECT 'not a number'")[0][0].as<int64_t>();  // conversion_error
    return Status::Ok();
  });
  EXPECT_EQ(s.code(), StatusCode::kInternal) << s.ToString();
  EXPECT_EQ(s.message().rfind(std::string(kLabel) + ": ", 0), 0u) << s.message();

  PgConnection unavailable(AppUrl(), kLabel, StatusCode::kUnavailable);
  s = unavailable.InTransaction([](pqxx::transaction_base&) -> Status {
    throw std::runtime_error("boom");
  });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), std::string(kLabel) + ": boom");
  // The connection stays usable after a failed transaction.
  EXPECT_EQ(CountRows(unavailable, kTenantA), 0);
}

TEST_F(PostgresUtilTest, ReconnectsAfterServerRestart) {
  PgConnection conn(AppUrl(), kLabel);
  EXPECT_EQ(CountRows(conn, kTenantA), 0);
  server_.Stop();
  Status down = conn.InTransaction([](pqxx::transaction_base& txn) {
    txn.exec("SELECT 1");
    return Status::Ok();
  });
  EXPECT_EQ(down.code(), StatusCode::kUnavailable) << down.ToString();
  EXPECT_EQ(down.message().rfind(std::string(kLabel) + ": ", 0), 0u) << down.message();
  // While it is down, reconnecting fails with the connect message.
  Status again = conn.Connect();
  EXPECT_EQ(again.code(), StatusCode::kUnavailable);
  EXPECT_EQ(again.message().rfind(std::string(kLabel) + ": cannot connect: ", 0), 0u)
      << again.message();
  ASSERT_TRUE(server_.Start().ok());
  auto probe = [](pqxx::transaction_base& txn) {
    txn.exec("SELECT 1");
    return Status::Ok();
  };
  // The first call after the outage may fail once (broken connection detected), then recovers.
  Status up = conn.InTransaction(probe);
  if (!up.ok()) up = conn.InTransaction(probe);
  EXPECT_TRUE(up.ok()) << up.ToString();
}

TEST_F(PostgresUtilTest, MigrateCommitsOnOkAndReportsFailures) {
  ASSERT_TRUE(Migrate(server_.admin_url(), kLabel, [](pqxx::transaction_base& txn) {
                txn.exec("CREATE TABLE migrated (x INT)");
                return Status::Ok();
              }).ok());
  std::string out;
  ASSERT_TRUE(server_.Psql("SELECT count(*) FROM migrated", &out).ok());
  EXPECT_EQ(out.substr(0, 1), "0");

  Status bad = Migrate(server_.admin_url(), kLabel, [](pqxx::transaction_base& txn) {
    txn.exec("CREATE TABLE half_done (x INT)");
    txn.exec("CREATE TABLE migrated (x INT)");  // already exists
    return Status::Ok();
  });
  EXPECT_EQ(bad.code(), StatusCode::kInternal);
  EXPECT_EQ(bad.message().rfind(std::string(kLabel) + " schema: ", 0), 0u) << bad.message();
  // All or nothing: the first table of the failed migration does not exist.
  EXPECT_FALSE(server_.Psql("SELECT 1 FROM half_done").ok());
}

TEST(PostgresUtilOfflineTest, UnreachableServerIsUnavailable) {
  const std::string url = "postgresql://vv@127.0.0.1:" +
                          std::to_string(vv::testing::FreeLoopbackPort()) +
                          "/x?connect_timeout=2";
  PgConnection conn(url, kLabel);
  Status s = conn.Connect();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message().rfind(std::string(kLabel) + ": cannot connect: ", 0), 0u) << s.message();
  bool ran = false;
  s = conn.InTenantTransaction(kTenantA, [&](pqxx::transaction_base&) {
    ran = true;
    return Status::Ok();
  });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_FALSE(ran);
  s = Migrate(url, kLabel, [](pqxx::transaction_base&) { return Status::Ok(); });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message().rfind(std::string(kLabel) + ": ", 0), 0u) << s.message();
}

}  // namespace
}  // namespace vv::sqlstore

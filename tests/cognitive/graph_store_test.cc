// SqliteGraphStore: the GraphStore contract (graph_store_contract.h), persistence across reopen,
// sharing the evidence database file; the store-config reader (defaults, YAML, env).

#include "cognitive/sqlite_graph_store.h"

#include <gtest/gtest.h>

#include "cognitive/graph_store_contract.h"
#include "cognitive/store_config.h"
#include "fakes/temp_dir.h"

namespace vv::cognitive {
namespace {

using testing::kT1;
using testing::kT2;
using testing::Rec;

TEST(SqliteGraphStoreTest, SatisfiesGraphStoreContract) {
  vv::testing::TempDir dir;
  auto s = SqliteGraphStore::Open(dir.File("vv-evidence.db"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  testing::RunGraphStoreContract(**s);
}

TEST(SqliteGraphStoreTest, ReadsAreTenantScopedLastNOldestFirstAndSurviveReopen) {
  vv::testing::TempDir dir;
  const std::string path = dir.File("vv-evidence.db");
  {
    auto s = SqliteGraphStore::Open(path);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE((*s)->Append(Rec(kT1, "r" + std::to_string(i), i)).ok());
    ASSERT_TRUE((*s)->Append(Rec(kT2, "other", 9)).ok());
  }
  auto s = SqliteGraphStore::Open(path);  // a restart (or a second replica)
  ASSERT_TRUE(s.ok());
  auto last3 = (*s)->Latest(kT1, 3);
  ASSERT_TRUE(last3.ok());
  ASSERT_EQ(last3->size(), 3u);
  EXPECT_EQ((*last3)[0].request_id, "r2");
  EXPECT_EQ((*last3)[2].request_id, "r4");
  EXPECT_EQ((*last3)[2].node_count, 4);
  EXPECT_EQ((*last3)[2].target_urn, "urn:target:r4");
  auto t2 = (*s)->Latest(kT2, 100);
  ASSERT_TRUE(t2.ok());
  ASSERT_EQ(t2->size(), 1u);
  EXPECT_EQ((*t2)[0].tenant_id, kT2);
  auto none = (*s)->Latest("30000000-0000-0000-0000-000000000003", 100);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE((*s)->Latest("", 10).ok());
  EXPECT_FALSE((*s)->Append(Rec("", "x", 1)).ok());
  EXPECT_TRUE((*s)->Health().ok());
}

TEST(SqliteGraphStoreTest, TwoHandlesOnOneFileSeeEachOthersWrites) {
  vv::testing::TempDir dir;
  auto a = SqliteGraphStore::Open(dir.File("db"));
  auto b = SqliteGraphStore::Open(dir.File("db"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Append(Rec(kT1, "from-a", 1)).ok());
  auto seen = (*b)->Latest(kT1, 10);
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ((*seen)[0].request_id, "from-a");
}

TEST(SqliteGraphStoreTest, RefusesAFileThatIsNotADatabase) {
  vv::testing::TempDir dir;
  vv::testing::WriteFile(dir.File("junk"), std::string(8192, 'x'), 0600);
  EXPECT_FALSE(SqliteGraphStore::Open(dir.File("junk")).ok());
}

config::EnvLookup Env(std::map<std::string, std::string> m) {
  return [m](const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

TEST(GraphStoreConfigTest, DefaultsToSqliteBesideTheQueue) {
  auto c = ParseGraphStoreConfig("vectorvue:\n  telemetry_gateway:\n    listen: x\n", Env({}),
                                 "/etc/vv", "/var/lib/vv/queue.db");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->backend, config::StoreBackend::kSqlite);
  EXPECT_EQ(c->path, "/var/lib/vv/vv-evidence.db");
}

TEST(GraphStoreConfigTest, ReadsEvidenceEngineSectionAndEnvOverrides) {
  const std::string yaml =
      "vectorvue:\n  evidence_engine:\n    store_backend: sqlite\n    store_path: var/ev.db\n"
      "    root_key_provider: env\n";
  auto c = ParseGraphStoreConfig(yaml, Env({}), "/etc/vv", "/q/queue.db");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->path, "/etc/vv/var/ev.db");
  auto pg = ParseGraphStoreConfig(yaml, Env({{"VV_EVIDENCE_STORE_BACKEND", "postgres"},
                                             {"VV_EVIDENCE_POSTGRES_URL", "postgresql://x/db"}}),
                                  "/etc/vv", "/q/queue.db");
  ASSERT_TRUE(pg.ok());
  EXPECT_EQ(pg->backend, config::StoreBackend::kPostgres);
  EXPECT_EQ(pg->postgres_url, "postgresql://x/db");
  EXPECT_FALSE(ParseGraphStoreConfig("vectorvue:\n  evidence_engine:\n    store_backend: mongo\n",
                                     Env({}), "", "q.db")
                   .ok());
  EXPECT_FALSE(ParseGraphStoreConfig(
                   "vectorvue:\n  evidence_engine:\n    store_backend: postgres\n", Env({}), "",
                   "q.db")
                   .ok());
  EXPECT_FALSE(ParseGraphStoreConfig("vectorvue: [unclosed", Env({}), "", "q.db").ok());
}

}  // namespace
}  // namespace vv::cognitive

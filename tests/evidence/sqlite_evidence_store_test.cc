#include "evidence/sqlite_evidence_store.h"

#include <gtest/gtest.h>

#include "evidence/store_contract.h"
#include "fakes/temp_dir.h"

namespace vv::evidence {
namespace {

using vv::testing::TempDir;

TEST(SqliteEvidenceStoreTest, SatisfiesStoreContract) {
  TempDir dir;
  auto store = SqliteEvidenceStore::Open(dir.File("evidence.db"));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  testing::RunStoreContract(**store);
  auto tenants = (*store)->Tenants();
  ASSERT_TRUE(tenants.ok());
  EXPECT_EQ(tenants->size(), 2u);
}

TEST(SqliteEvidenceStoreTest, SurvivesReopen) {
  TempDir dir;
  {
    auto store = SqliteEvidenceStore::Open(dir.File("evidence.db"));
    ASSERT_TRUE(store.ok());
    ASSERT_EQ(*(*store)->Put(testing::MakeRecord(testing::kTenantA, "e1")), PutOutcome::kStored);
  }
  auto store = SqliteEvidenceStore::Open(dir.File("evidence.db"));
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(*(*store)->Put(testing::MakeRecord(testing::kTenantA, "e1")), PutOutcome::kDuplicate);
  EXPECT_EQ(*(*store)->Count(testing::kTenantA), 1);
}

TEST(SqliteEvidenceStoreTest, RefusesNonStoreFiles) {
  TempDir dir;
  vv::testing::WriteFile(dir.File("junk.db"), std::string(4096, 'x'));
  EXPECT_FALSE(SqliteEvidenceStore::Open(dir.File("junk.db")).ok());
  EXPECT_FALSE(SqliteEvidenceStore::Open(dir.File("no/such/dir/e.db")).ok());
}

}  // namespace
}  // namespace vv::evidence

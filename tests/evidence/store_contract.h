#pragma once
// The EvidenceStore contract, run against every backend (SQLite, PostgreSQL): idempotent
// Put per (tenant, event_id), tenant-scoped reads, ordering/pagination, re-wrap updates.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "evidence/evidence_store.h"

namespace vv::evidence::testing {

inline EvidenceRecord MakeRecord(const std::string& tenant, const std::string& event,
                                 const std::string& key_id = "k1") {
  EvidenceRecord r;
  r.tenant_id = tenant;
  r.event_id = event;
  r.message_id = "msg-" + tenant.substr(0, 2) + "-" + event;
  r.integrity_hash = std::string(64, 'a');
  r.key_id = key_id;
  r.envelope_json =
      R"({"ciphertext_b64":"AA==","event":")" + event + R"(","tenant":")" + tenant + R"("})";
  r.created_at = "2026-03-01T00:00:00.000000+00:00";
  r.stored_at_micros = 1772107200000000;
  return r;
}

inline constexpr char kTenantA[] = "10000000-0000-0000-0000-000000000001";
inline constexpr char kTenantB[] = "20000000-0000-0000-0000-000000000002";

inline void RunStoreContract(EvidenceStore& store) {
  // Idempotent Put.
  auto first = store.Put(MakeRecord(kTenantA, "evt-1"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, PutOutcome::kStored);
  EvidenceRecord changed = MakeRecord(kTenantA, "evt-1");
  changed.message_id = "other-message";
  auto dup = store.Put(changed);
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(*dup, PutOutcome::kDuplicate);
  // Same event id in another tenant is a different record.
  auto b1 = store.Put(MakeRecord(kTenantB, "evt-1"));
  ASSERT_TRUE(b1.ok());
  EXPECT_EQ(*b1, PutOutcome::kStored);
  ASSERT_TRUE(store.Put(MakeRecord(kTenantA, "evt-2")).ok());
  ASSERT_TRUE(store.Put(MakeRecord(kTenantA, "evt-3")).ok());

  // Get is tenant-scoped and keeps the first record.
  auto got = store.Get(kTenantA, "evt-1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->message_id, "msg-10-evt-1");
  EXPECT_EQ((*got)->tenant_id, kTenantA);
  EXPECT_GT((*got)->seq, 0);
  auto b_view = store.Get(kTenantB, "evt-2");
  ASSERT_TRUE(b_view.ok());
  EXPECT_FALSE(b_view->has_value()) << "tenant B must not see tenant A's evt-2";
  auto missing = store.Get("30000000-0000-0000-0000-000000000003", "evt-1");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  // List / Count are tenant-scoped, in seq order, paginated.
  auto list_a = store.List(kTenantA, 0, 100);
  ASSERT_TRUE(list_a.ok());
  ASSERT_EQ(list_a->size(), 3u);
  EXPECT_EQ((*list_a)[0].event_id, "evt-1");
  EXPECT_EQ((*list_a)[2].event_id, "evt-3");
  for (const auto& r : *list_a) EXPECT_EQ(r.tenant_id, kTenantA);
  auto page = store.List(kTenantA, (*list_a)[0].seq, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].event_id, "evt-2");
  EXPECT_EQ(*store.Count(kTenantA), 3);
  EXPECT_EQ(*store.Count(kTenantB), 1);
  EXPECT_TRUE(store.List(kTenantA, 0, 0)->empty());

  // Re-wrap update is tenant-scoped too.
  EXPECT_TRUE(store.ReplaceEnvelope(kTenantA, "evt-2", "k2", R"({"rewrapped":true})").ok());
  auto rewrapped = store.Get(kTenantA, "evt-2");
  EXPECT_EQ((*rewrapped)->key_id, "k2");
  EXPECT_NE((*rewrapped)->envelope_json.find("rewrapped"), std::string::npos);
  EXPECT_EQ(store.ReplaceEnvelope(kTenantB, "evt-2", "k2", "{}").code(), StatusCode::kNotFound);

  // Bad input.
  EXPECT_FALSE(store.Put(MakeRecord("", "evt-x")).ok());
  EXPECT_FALSE(store.Put(MakeRecord(kTenantA, "")).ok());
}

// PutBatch (issue 15 item 4): one result per record, in order; a record already stored, or
// repeated earlier in the same batch, is kDuplicate; several tenants in one batch.
inline void RunPutBatchContract(EvidenceStore& store) {
  ASSERT_TRUE(store.Put(MakeRecord(kTenantA, "pb-old")).ok());
  std::vector<EvidenceRecord> batch = {MakeRecord(kTenantA, "pb-1"), MakeRecord(kTenantB, "pb-1"),
                                       MakeRecord(kTenantA, "pb-old"), MakeRecord(kTenantA, "pb-2"),
                                       MakeRecord(kTenantA, "pb-1")};
  batch[4].message_id = "another-message";
  auto out = store.PutBatch(batch);
  ASSERT_EQ(out.size(), batch.size());
  const PutOutcome want[] = {PutOutcome::kStored, PutOutcome::kStored, PutOutcome::kDuplicate,
                             PutOutcome::kStored, PutOutcome::kDuplicate};
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_TRUE(out[i].ok()) << i << ": " << out[i].status().ToString();
    EXPECT_EQ(*out[i], want[i]) << i;
  }
  EXPECT_EQ(*store.Count(kTenantA), 3);
  EXPECT_EQ(*store.Count(kTenantB), 1);
  auto first = store.Get(kTenantA, "pb-1");
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->message_id, batch[0].message_id);  // the first copy is kept
  auto b = store.Get(kTenantB, "pb-1");
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->tenant_id, kTenantB);
  // The same batch again: every record is a duplicate, nothing changes.
  for (const auto& r : store.PutBatch(batch)) {
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, PutOutcome::kDuplicate);
  }
  EXPECT_EQ(*store.Count(kTenantA), 3);
  EXPECT_TRUE(store.PutBatch({}).empty());
}

}  // namespace vv::evidence::testing

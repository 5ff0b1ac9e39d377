#pragma once
// The GraphStore contract, run against every backend (SQLite, PostgreSQL): tenant-scoped
// reads, the last N records oldest first, every field stored as given, bad input refused.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "cognitive/graph_store.h"

namespace vv::cognitive::testing {

inline constexpr char kT1[] = "10000000-0000-0000-0000-000000000001";
inline constexpr char kT2[] = "20000000-0000-0000-0000-000000000002";
inline constexpr char kT3[] = "30000000-0000-0000-0000-000000000003";

inline GraphRecord Rec(const std::string& tenant, const std::string& req, int64_t nodes) {
  GraphRecord r;
  r.tenant_id = tenant;
  r.request_id = req;
  r.operator_id = "op";
  r.execution_fingerprint = std::string(64, 'a');
  r.attestation_measurement_hash = std::string(64, 'b');
  r.schema_version = "execution.graph.v1";
  r.target_urn = "urn:target:" + req;
  r.node_count = nodes;
  r.graph_json = "{}";
  r.received_at = 1772107200;
  return r;
}

// Expects an empty store.
inline void RunGraphStoreContract(GraphStore& store) {
  for (int i = 0; i < 5; ++i) {
    Status s = store.Append(Rec(kT1, "r" + std::to_string(i), i));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  GraphRecord other = Rec(kT2, "other", -1);
  other.graph_json = R"({"nodes":"not a list","note":"ünïcode"})";
  ASSERT_TRUE(store.Append(other).ok());

  // The last three of T1, oldest first, with increasing seq.
  auto last3 = store.Latest(kT1, 3);
  ASSERT_TRUE(last3.ok()) << last3.status().ToString();
  ASSERT_EQ(last3->size(), 3u);
  EXPECT_EQ((*last3)[0].request_id, "r2");
  EXPECT_EQ((*last3)[1].request_id, "r3");
  EXPECT_EQ((*last3)[2].request_id, "r4");
  EXPECT_LT((*last3)[0].seq, (*last3)[1].seq);
  EXPECT_LT((*last3)[1].seq, (*last3)[2].seq);
  for (const GraphRecord& g : *last3) EXPECT_EQ(g.tenant_id, kT1);
  // Every field comes back as stored.
  const GraphRecord& r4 = (*last3)[2];
  EXPECT_EQ(r4.operator_id, "op");
  EXPECT_EQ(r4.execution_fingerprint, std::string(64, 'a'));
  EXPECT_EQ(r4.attestation_measurement_hash, std::string(64, 'b'));
  EXPECT_EQ(r4.schema_version, "execution.graph.v1");
  EXPECT_EQ(r4.target_urn, "urn:target:r4");
  EXPECT_EQ(r4.node_count, 4);
  EXPECT_EQ(r4.graph_json, "{}");
  EXPECT_EQ(r4.received_at, 1772107200);

  // A limit above the count returns everything; limit 1 only the newest.
  auto all = store.Latest(kT1, 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0].request_id, "r0");
  auto newest = store.Latest(kT1, 1);
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->size(), 1u);
  EXPECT_EQ((*newest)[0].request_id, "r4");

  // Tenant scoping: T2 sees only its own record, T3 nothing.
  auto t2 = store.Latest(kT2, 100);
  ASSERT_TRUE(t2.ok());
  ASSERT_EQ(t2->size(), 1u);
  EXPECT_EQ((*t2)[0].tenant_id, kT2);
  EXPECT_EQ((*t2)[0].node_count, -1);
  EXPECT_EQ((*t2)[0].graph_json, other.graph_json);
  auto none = store.Latest(kT3, 100);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  // Bad input.
  EXPECT_EQ(store.Latest("", 10).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Latest(kT1, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Append(Rec("", "x", 1)).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store.Health().ok());
}

}  // namespace vv::cognitive::testing

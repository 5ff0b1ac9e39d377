// OperatorTenantCheck (R22-R23 for the cognitive endpoints; TenantCheck applies the same rule
// after its signed_metadata comparison): ctx.operator_id is mapped (403 operator_unmapped) to
// exactly ctx.tenant_id (403 tenant_mapping_violation), tenant case ignored.

#include <gtest/gtest.h>

#include "verify/checks.h"
#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

Verdict Map(const ConfigPtr& cfg, const std::string& op, const std::string& tenant) {
  RequestContext ctx;
  ctx.operator_id = op;
  ctx.tenant_id = tenant;
  return OperatorTenantCheck(cfg).Run(ctx);
}

TEST(OperatorTenantCheckTest, MappedOperatorOfItsTenantPasses) {
  auto cfg = MakeConfig();
  EXPECT_PASSED(Map(cfg, "op-001", testing::kTenant1));
  EXPECT_PASSED(Map(cfg, "op-002", testing::kTenant2));
}

TEST(OperatorTenantCheckTest, TenantCaseIsIgnored) {
  auto cfg = MakeConfig();
  EXPECT_PASSED(Map(cfg, "op-001", "10000000-0000-0000-0000-000000000001"));
  cfg->operator_tenant_map["op-003"] = "ABCDEF00-0000-0000-0000-00000000000A";
  EXPECT_PASSED(Map(cfg, "op-003", "abcdef00-0000-0000-0000-00000000000a"));
  EXPECT_PASSED(Map(cfg, "op-003", "ABCDEF00-0000-0000-0000-00000000000a"));
  EXPECT_REJECTED(Map(cfg, "op-003", "abcdef00-0000-0000-0000-00000000000b"),
                  Reason::kTenantMismatch, 403, "Operator tenant mapping violation");
}

TEST(OperatorTenantCheckTest, UnmappedOperator) {
  auto cfg = MakeConfig();
  Verdict v = Map(cfg, "op-999", testing::kTenant1);
  EXPECT_REJECTED(v, Reason::kOperatorUnmapped, 403, "Operator is not mapped to any tenant");
  EXPECT_EQ(v.internal_detail, "operator=op-999");
  // Operator ids are case-sensitive.
  EXPECT_REJECTED(Map(cfg, "OP-001", testing::kTenant1), Reason::kOperatorUnmapped, 403,
                  "Operator is not mapped to any tenant");
}

TEST(OperatorTenantCheckTest, OperatorOfAnotherTenant) {
  auto cfg = MakeConfig();
  Verdict v = Map(cfg, "op-001", testing::kTenant2);
  EXPECT_REJECTED(v, Reason::kTenantMismatch, 403, "Operator tenant mapping violation");
  EXPECT_EQ(v.internal_detail, std::string("operator=op-001 mapped=") + testing::kTenant1 +
                                   " claimed=" + testing::kTenant2);
  EXPECT_REJECTED(Map(cfg, "op-001", ""), Reason::kTenantMismatch, 403,
                  "Operator tenant mapping violation");
}

}  // namespace
}  // namespace vv::verify

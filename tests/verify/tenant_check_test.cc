// TenantCheck (R21-R23): signed_metadata equals the top-level tenant/operator/campaign (401
// signed_metadata_mismatch), the operator is mapped (403 operator_unmapped) to exactly this
// tenant (403 tenant_mapping_violation). Tenant ids compare in canonical (lowercase) form.
// The context is filled by the real BodyCheck, as in the chain.

#include <gtest/gtest.h>

#include "schema/mitre_catalog.h"
#include "verify/checks.h"
#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

constexpr const char* kNonce = "nonce-tenant-0001";

class TenantCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto catalog = schema::MitreCatalog::Load();
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    catalog_ = std::make_unique<schema::MitreCatalog>(std::move(catalog).value());
  }
  Verdict Run(const json::Value& body) {
    body_ = json::Canonical(body);
    ctx_ = RequestContext();
    ctx_.body = body_;
    ctx_.timestamp = kNow;
    ctx_.nonce = kNonce;
    Verdict v = BodyCheck(*catalog_).Run(ctx_);
    if (!v.ok()) {
      ADD_FAILURE() << "BodyCheck: " << v.detail << " / " << v.internal_detail;
      return v;
    }
    return TenantCheck(cfg_).Run(ctx_);
  }
  static json::Value Body() { return testing::MakeTelemetryBody(kNow, kNonce); }
  static json::Value& Signed(json::Value& b) { return *b.Find("signed_metadata"); }
  // Top level and signed_metadata both say `op` / `tenant`.
  static json::Value BodyFor(const std::string& op, const std::string& tenant) {
    json::Value b = Body();
    b.Set("operator_id", op);
    b.Set("tenant_id", tenant);
    Signed(b).Set("operator_id", op);
    Signed(b).Set("tenant_id", tenant);
    return b;
  }

  std::shared_ptr<config::GatewayConfig> cfg_ = MakeConfig();
  std::unique_ptr<schema::MitreCatalog> catalog_;
  std::string body_;
  RequestContext ctx_;
};

TEST_F(TenantCheckTest, MappedOperatorOfItsOwnTenantPasses) {
  EXPECT_PASSED(Run(Body()));
  EXPECT_PASSED(Run(BodyFor("op-002", testing::kTenant2)));
}

TEST_F(TenantCheckTest, SignedTenantDiffers) {
  json::Value b = Body();
  Signed(b).Set("tenant_id", testing::kTenant2);
  EXPECT_REJECTED(Run(b), Reason::kSignedMetadataMismatch, 401, "Signed metadata mapping mismatch");
}

TEST_F(TenantCheckTest, SignedOperatorDiffers) {
  json::Value b = Body();
  Signed(b).Set("operator_id", "op-002");
  EXPECT_REJECTED(Run(b), Reason::kSignedMetadataMismatch, 401, "Signed metadata mapping mismatch");
}

TEST_F(TenantCheckTest, SignedCampaignDiffers) {
  json::Value b = Body();
  Signed(b).Set("campaign_id", "cmp-002");
  EXPECT_REJECTED(Run(b), Reason::kSignedMetadataMismatch, 401, "Signed metadata mapping mismatch");
}

TEST_F(TenantCheckTest, OperatorAndCampaignCompareCaseSensitively) {
  json::Value b = Body();
  Signed(b).Set("operator_id", "OP-001");
  EXPECT_REJECTED(Run(b), Reason::kSignedMetadataMismatch, 401, "Signed metadata mapping mismatch");
  json::Value c = Body();
  Signed(c).Set("campaign_id", "CMP-001");
  EXPECT_REJECTED(Run(c), Reason::kSignedMetadataMismatch, 401, "Signed metadata mapping mismatch");
}

TEST_F(TenantCheckTest, TenantCaseIsNeverADifference) {
  std::string upper = testing::kTenant1;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  // Upper in signed_metadata only, in the top level only, and in both.
  json::Value a = Body();
  Signed(a).Set("tenant_id", upper);
  EXPECT_PASSED(Run(a));
  json::Value b = Body();
  b.Set("tenant_id", upper);
  EXPECT_PASSED(Run(b));
  EXPECT_PASSED(Run(BodyFor("op-001", upper)));
  EXPECT_EQ(ctx_.tenant_id, testing::kTenant1);
}

TEST_F(TenantCheckTest, UnmappedOperator) {
  Verdict v = Run(BodyFor("op-999", testing::kTenant1));
  EXPECT_REJECTED(v, Reason::kOperatorUnmapped, 403, "Operator is not mapped to any tenant");
  EXPECT_EQ(v.internal_detail, "operator=op-999");
}

TEST_F(TenantCheckTest, OperatorMapIsCaseSensitive) {
  EXPECT_REJECTED(Run(BodyFor("OP-001", testing::kTenant1)), Reason::kOperatorUnmapped, 403,
                  "Operator is not mapped to any tenant");
}

TEST_F(TenantCheckTest, OperatorClaimingAnotherTenant) {
  Verdict v = Run(BodyFor("op-001", testing::kTenant2));
  EXPECT_REJECTED(v, Reason::kTenantMismatch, 403, "Operator tenant mapping violation");
  EXPECT_EQ(v.internal_detail, std::string("operator=op-001 mapped=") + testing::kTenant1 +
                                   " claimed=" + testing::kTenant2);
}

TEST_F(TenantCheckTest, OperatorClaimingAnUnknownTenant) {
  EXPECT_REJECTED(Run(BodyFor("op-001", "30000000-0000-0000-0000-000000000003")),
                  Reason::kTenantMismatch, 403, "Operator tenant mapping violation");
}

TEST_F(TenantCheckTest, SignedMetadataIsCheckedBeforeTheMap) {
  json::Value b = BodyFor("op-999", testing::kTenant1);
  Signed(b).Set("campaign_id", "cmp-other");
  EXPECT_REJECTED(Run(b), Reason::kSignedMetadataMismatch, 401, "Signed metadata mapping mismatch");
}

TEST_F(TenantCheckTest, EmptyMapRefusesEveryOperator) {
  cfg_->operator_tenant_map.clear();
  EXPECT_REJECTED(Run(Body()), Reason::kOperatorUnmapped, 403,
                  "Operator is not mapped to any tenant");
}

}  // namespace
}  // namespace vv::verify

// SchemaVersionCheck (R24-R25): attributes.schema_version required when enforced (422
// schema_version_required) and one of allowed_schema_versions, exactly (422
// schema_version_not_allowed).

#include <gtest/gtest.h>

#include "verify/checks.h"
#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

class SchemaVersionCheckTest : public ::testing::Test {
 protected:
  Verdict Run(const std::string& version) {
    ctx_ = RequestContext();
    ctx_.schema_version = version;
    return SchemaVersionCheck(cfg_).Run(ctx_);
  }
  std::shared_ptr<config::GatewayConfig> cfg_ = MakeConfig();  // allowed {"1.0", "2.0"}
  RequestContext ctx_;
};

TEST_F(SchemaVersionCheckTest, AllowedVersionsPass) {
  EXPECT_PASSED(Run("1.0"));
  EXPECT_PASSED(Run("2.0"));
}

TEST_F(SchemaVersionCheckTest, MissingVersionIsRequired) {
  EXPECT_REJECTED(Run(""), Reason::kSchemaVersionRequired, 422,
                  "Telemetry schema version is required by gateway policy");
}

TEST_F(SchemaVersionCheckTest, UnlistedVersion) {
  Verdict v = Run("1.1");
  EXPECT_REJECTED(v, Reason::kSchemaVersionNotAllowed, 422,
                  "Telemetry schema version is not allowed");
  EXPECT_EQ(v.internal_detail, "schema_version=1.1");
}

TEST_F(SchemaVersionCheckTest, ComparisonIsExact) {
  for (const char* near : {"1", "1.00", "01.0", "1.0 ", "v1.0", "1.0\n", "2.0.0"}) {
    SCOPED_TRACE(near);
    EXPECT_REJECTED(Run(near), Reason::kSchemaVersionNotAllowed, 422,
                    "Telemetry schema version is not allowed");
  }
}

TEST_F(SchemaVersionCheckTest, NotEnforcedPassesAnything) {
  cfg_->enforce_schema_version = false;
  EXPECT_PASSED(Run(""));
  EXPECT_PASSED(Run("9.9"));
}

TEST_F(SchemaVersionCheckTest, EmptyAllowListRefusesEveryVersion) {
  cfg_->allowed_schema_versions.clear();
  EXPECT_REJECTED(Run("1.0"), Reason::kSchemaVersionNotAllowed, 422,
                  "Telemetry schema version is not allowed");
}

}  // namespace
}  // namespace vv::verify

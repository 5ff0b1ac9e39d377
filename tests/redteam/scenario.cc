#include "redteam/scenario.h"

#include <gtest/gtest.h>

#include "fakes/process.h"

namespace vv::testing {

void Scenario(const std::string& category, const std::string& expected,
              const std::string& observed, const std::string& audit_evidence) {
  ::testing::Test::RecordProperty("rt_category", category);
  ::testing::Test::RecordProperty("rt_expected", expected);
  ::testing::Test::RecordProperty("rt_observed", observed);
  if (!audit_evidence.empty()) {
    // Bounded: the report shows evidence, not whole logs.
    ::testing::Test::RecordProperty("rt_audit", audit_evidence.substr(0, 2000));
  }
}

void ExpectAuditVerifies(const std::string& audit_path) {
  std::string out;
  int rc = RunCommand({std::string(VV_BIN_DIR) + "/vv-audit", "verify", audit_path}, &out);
  EXPECT_EQ(rc, 0) << "vv-audit verify " << audit_path << ":\n" << out;
}

void ExpectAuditVerifiesAndRestarts(GatewayUnderTest& gw) {
  ExpectAuditVerifies(gw.audit_path());
  ASSERT_TRUE(gw.Restart()) << "gateway did not restart on its own files:\n" << gw.log();
  auto client = gw.Client("producer");
  auto r = client.Get("/healthz");
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 200) << r.body;
}

std::string FindAuditRecord(const GatewayUnderTest& gw, const std::vector<std::string>& needles) {
  auto lines = gw.AuditLines();
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    bool all = true;
    for (const auto& n : needles) {
      if (it->find(n) == std::string::npos) {
        all = false;
        break;
      }
    }
    if (all) return *it;
  }
  return "";
}

}  // namespace vv::testing

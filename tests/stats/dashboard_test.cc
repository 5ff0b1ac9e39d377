// Checks that the Grafana dashboard and the Prometheus alert rules only reference metrics that
// GatewayMetrics / EngineMetrics actually expose, and that the dashboard covers the manual's
// section 28 metrics.

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "fakes/process.h"
#include "fakes/temp_dir.h"
#include "json/json.h"
#include "stats/service_metrics.h"

namespace vv::stats {
namespace {

const std::string kDashboard =
    std::string(VV_SOURCE_DIR) + "/deploy/grafana/vectorvue-dashboard.json";
const std::string kAlerts = std::string(VV_SOURCE_DIR) + "/deploy/prometheus/vectorvue-alerts.yml";

void CollectExprs(const json::Value& v, std::vector<std::string>* out) {
  if (v.is_object()) {
    for (const auto& [k, m] : v.as_object()) {
      if (k == "expr" && m.is_string()) out->push_back(m.as_string());
      CollectExprs(m, out);
    }
  } else if (v.is_array()) {
    for (const auto& e : v.as_array()) CollectExprs(e, out);
  }
}

// Metric names in a PromQL expression: identifiers starting with vv_.
std::set<std::string> MetricNames(const std::string& expr) {
  std::set<std::string> out;
  static const std::regex kName("\\bvv_[a-zA-Z0-9_]+");
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), kName);
       it != std::sregex_iterator(); ++it)
    out.insert(it->str());
  return out;
}

std::set<std::string> Known() {
  auto v = AllServiceSampleNames();
  return {v.begin(), v.end()};
}

std::vector<std::string> DashboardExprs() {
  auto v = json::Parse(vv::testing::ReadFile(kDashboard));
  EXPECT_TRUE(v.ok()) << v.status().message();
  std::vector<std::string> exprs;
  if (v.ok()) CollectExprs(*v, &exprs);
  return exprs;
}

TEST(DashboardTest, IsValidJsonWithPanels) {
  auto v = json::Parse(vv::testing::ReadFile(kDashboard));
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_TRUE(v->is_object());
  const auto* panels = v->Find("panels");
  ASSERT_NE(nullptr, panels);
  EXPECT_GE(panels->as_array().size(), 6u);
  ASSERT_NE(nullptr, v->Find("title"));
  ASSERT_NE(nullptr, v->Find("uid"));
}

TEST(DashboardTest, EveryReferencedMetricExists) {
  const auto known = Known();
  auto exprs = DashboardExprs();
  ASSERT_FALSE(exprs.empty());
  for (const auto& e : exprs) {
    auto names = MetricNames(e);
    EXPECT_FALSE(names.empty()) << "expr references no vv_ metric: " << e;
    for (const auto& n : names)
      EXPECT_TRUE(known.count(n)) << "unknown metric " << n << " in " << e;
  }
}

TEST(DashboardTest, CoversSection28Metrics) {
  std::set<std::string> used;
  for (const auto& e : DashboardExprs())
    for (const auto& n : MetricNames(e)) used.insert(n);
  for (const char* required :
       {"vv_gateway_requests_accepted_total", "vv_gateway_requests_rejected_total",
        "vv_gateway_replay_detections_total", "vv_gateway_signature_failures_total",
        "vv_gateway_mtls_identity_mismatches_total",
        "vv_gateway_verification_duration_seconds_bucket", "vv_gateway_dlq_published_total",
        "vv_engine_dead_lettered_total", "vv_gateway_backend_errors_total",
        "vv_gateway_audit_integrity_failures_total"})
    EXPECT_TRUE(used.count(required)) << "dashboard does not show " << required;
}

TEST(DashboardTest, ExprsParseWithPromtoolWhenAvailable) {
  const std::string promtool = "/usr/bin/promtool";
  if (!std::filesystem::exists(promtool)) GTEST_SKIP() << "promtool not installed";
  vv::testing::TempDir dir;
  std::string rules = "groups:\n  - name: dashboard\n    rules:\n";
  int i = 0;
  for (auto e : DashboardExprs()) {
    for (size_t p; (p = e.find("$instance")) != std::string::npos;) e.replace(p, 9, ".*");
    std::string quoted;
    for (char c : e) quoted += (c == '\'') ? std::string("''") : std::string(1, c);
    rules += "      - record: dashboard:expr_" + std::to_string(i++) + "\n        expr: '" +
             quoted + "'\n";
  }
  const std::string path = dir.File("dashboard-rules.yml");
  vv::testing::WriteFile(path, rules);
  std::string out;
  EXPECT_EQ(0, vv::testing::RunCommand({promtool, "check", "rules", path}, &out)) << out;
}

TEST(AlertRulesTest, EveryReferencedMetricExists) {
  const auto known = Known();
  const std::string text = vv::testing::ReadFile(kAlerts);
  auto names = MetricNames(text);
  ASSERT_FALSE(names.empty());
  for (const auto& n : names) EXPECT_TRUE(known.count(n)) << "unknown metric " << n;
}

TEST(AlertRulesTest, CoversManualP1P2P3Table) {
  const std::string text = vv::testing::ReadFile(kAlerts);
  for (const char* alert :
       {"VectorVueTamperLogIntegrityFailure", "VectorVueCertMismatchSurge", "VectorVueReplayFlood",
        "VectorVueElevated422Rate", "VectorVueElevated429Rate", "VectorVueDlqBacklogGrowth",
        "VectorVueDependencyErrors503"})
    EXPECT_NE(std::string::npos, text.find("alert: " + std::string(alert))) << alert;
  for (const char* p : {"priority: P1", "priority: P2", "priority: P3"})
    EXPECT_NE(std::string::npos, text.find(p)) << p;
}

}  // namespace
}  // namespace vv::stats

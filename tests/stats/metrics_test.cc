#include "stats/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "stats/service_metrics.h"

namespace vv::stats {
namespace {

TEST(MetricsRegistryTest, RendersSmallRegistryExactly) {
  Registry r;
  auto& rejected =
      r.AddCounterFamily("vv_test_rejected_total", "Rejected requests.", {"status", "reason"});
  rejected.WithLabels({"401", "bad_signature"}).Inc(3);
  rejected.WithLabels({"409", "replayed_nonce"}).Inc();
  r.AddCounter("vv_test_accepted_total", "Accepted requests.").Inc(7);
  r.AddGauge("vv_test_lag_messages", "Lag.\nSecond line \\ backslash").Set(2.5);
  auto& h = r.AddHistogram("vv_test_latency_seconds", "Latency.", {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(3);

  const std::string expected =
      "# HELP vv_test_accepted_total Accepted requests.\n"
      "# TYPE vv_test_accepted_total counter\n"
      "vv_test_accepted_total 7\n"
      "# HELP vv_test_lag_messages Lag.\\nSecond line \\\\ backslash\n"
      "# TYPE vv_test_lag_messages gauge\n"
      "vv_test_lag_messages 2.5\n"
      "# HELP vv_test_latency_seconds Latency.\n"
      "# TYPE vv_test_latency_seconds histogram\n"
      "vv_test_latency_seconds_bucket{le=\"0.1\"} 1\n"
      "vv_test_latency_seconds_bucket{le=\"1\"} 2\n"
      "vv_test_latency_seconds_bucket{le=\"+Inf\"} 3\n"
      "vv_test_latency_seconds_sum 3.55\n"
      "vv_test_latency_seconds_count 3\n"
      "# HELP vv_test_rejected_total Rejected requests.\n"
      "# TYPE vv_test_rejected_total counter\n"
      "vv_test_rejected_total{status=\"401\",reason=\"bad_signature\"} 3\n"
      "vv_test_rejected_total{status=\"409\",reason=\"replayed_nonce\"} 1\n";
  EXPECT_EQ(expected, r.Render());
}

TEST(MetricsRegistryTest, EmptyFamilyRendersHeaderOnly) {
  Registry r;
  r.AddCounterFamily("vv_x_total", "X.", {"a"});
  EXPECT_EQ("# HELP vv_x_total X.\n# TYPE vv_x_total counter\n", r.Render());
}

TEST(MetricsRegistryTest, ConcurrentIncrementsAreNotLost) {
  Registry r;
  auto& fam = r.AddCounterFamily("vv_conc_total", "Concurrency.", {"k"});
  Counter& plain = r.AddCounter("vv_plain_total", "Plain.");
  constexpr int kThreads = 4;
  constexpr int kIncrements = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        fam.WithLabels({i % 2 == 0 ? "even" : "odd"}).Inc();
        plain.Inc();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(uint64_t{kThreads} * kIncrements, plain.value());
  EXPECT_EQ(uint64_t{kThreads} * kIncrements / 2, fam.WithLabels({"even"}).value());
  EXPECT_EQ(uint64_t{kThreads} * kIncrements / 2, fam.WithLabels({"odd"}).value());
}

TEST(MetricsRegistryTest, ConcurrentHistogramObservationsAreCounted) {
  Registry r;
  Histogram& h = r.AddHistogram("vv_h_seconds", "H.", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) h.Observe(0.5);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(40000u, h.count());
  EXPECT_EQ(40000u, h.CumulativeCount(0));
  EXPECT_DOUBLE_EQ(20000.0, h.sum());
}

TEST(MetricsRegistryTest, WithLabelsReturnsSameChild) {
  Registry r;
  auto& fam = r.AddCounterFamily("vv_same_total", "S.", {"a", "b"});
  Counter& c1 = fam.WithLabels({"x", "y"});
  Counter& c2 = fam.WithLabels({"x", "y"});
  Counter& c3 = fam.WithLabels({"x", "z"});
  EXPECT_EQ(&c1, &c2);
  EXPECT_NE(&c1, &c3);
}

TEST(MetricsRegistryTest, ReRegisteringSameFamilyReturnsIt) {
  Registry r;
  auto& a = r.AddCounterFamily("vv_re_total", "R.", {"a"});
  auto& b = r.AddCounterFamily("vv_re_total", "R.", {"a"});
  EXPECT_EQ(&a, &b);
}

TEST(MetricsRegistryDeathTest, ConflictingRegistrationAborts) {
  Registry r;
  r.AddCounter("vv_conflict_total", "C.");
  EXPECT_DEATH(r.AddGauge("vv_conflict_total", "C."), "different type");
  EXPECT_DEATH(r.AddCounter("bad-name", "C."), "invalid metric name");
  EXPECT_DEATH(r.AddCounterFamily("vv_ok_total", "C.", {"__reserved"}), "invalid label name");
}

TEST(HistogramTest, BucketBoundariesAreInclusiveAndCumulative) {
  Histogram h({0.1, 0.5, 1.0});
  h.Observe(0.1);   // le=0.1 (inclusive upper bound)
  h.Observe(0.11);  // le=0.5
  h.Observe(0.5);   // le=0.5
  h.Observe(1.0);   // le=1
  h.Observe(7.0);   // +Inf
  h.Observe(-1.0);  // le=0.1
  EXPECT_EQ(2u, h.CumulativeCount(0));
  EXPECT_EQ(4u, h.CumulativeCount(1));
  EXPECT_EQ(5u, h.CumulativeCount(2));
  EXPECT_EQ(6u, h.CumulativeCount(3));
  EXPECT_EQ(6u, h.count());
  EXPECT_DOUBLE_EQ(0.1 + 0.11 + 0.5 + 1.0 + 7.0 - 1.0, h.sum());
}

TEST(HistogramTest, LabelledHistogramRendersLeAfterLabels) {
  Registry r;
  auto& fam = r.AddHistogramFamily("vv_lh_seconds", "L.", {"backend"}, {0.25});
  fam.WithLabels({"redis"}).Observe(0.25);
  EXPECT_EQ(
      "# HELP vv_lh_seconds L.\n"
      "# TYPE vv_lh_seconds histogram\n"
      "vv_lh_seconds_bucket{backend=\"redis\",le=\"0.25\"} 1\n"
      "vv_lh_seconds_bucket{backend=\"redis\",le=\"+Inf\"} 1\n"
      "vv_lh_seconds_sum{backend=\"redis\"} 0.25\n"
      "vv_lh_seconds_count{backend=\"redis\"} 1\n",
      r.Render());
}

TEST(EscapingTest, LabelValuesEscapeBackslashQuoteNewline) {
  EXPECT_EQ("a\\\\b\\\"c\\nd", EscapeLabelValue("a\\b\"c\nd"));
  EXPECT_EQ("plain-op_1", EscapeLabelValue("plain-op_1"));
  Registry r;
  r.AddCounterFamily("vv_esc_total", "E.", {"operator"}).WithLabels({"evil\"}\n"}).Inc();
  EXPECT_NE(std::string::npos, r.Render().find("vv_esc_total{operator=\"evil\\\"}\\n\"} 1\n"));
}

TEST(EscapingTest, HelpEscapesBackslashAndNewlineButNotQuotes) {
  EXPECT_EQ("say \"hi\"\\n\\\\", EscapeHelp("say \"hi\"\n\\"));
}

TEST(NamesTest, MetricAndLabelNameRules) {
  EXPECT_TRUE(IsValidMetricName("vv_gateway_requests_total"));
  EXPECT_TRUE(IsValidMetricName("ns:rule_total"));
  EXPECT_FALSE(IsValidMetricName("1abc"));
  EXPECT_FALSE(IsValidMetricName("vv.gateway"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_TRUE(IsValidLabelName("status"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
}

TEST(ServiceMetricsTest, GatewayRejectedUsesStatusAndReasonLabels) {
  Registry r;
  GatewayMetrics m(r);
  m.Rejected(401, "bad_signature").Inc();
  m.Rejected(401, "bad_signature").Inc();
  m.Rejected(429, "rate_limited").Inc();
  m.ReplayDetected("op-001").Inc();
  m.verification_duration.Observe(0.002);
  EXPECT_EQ(2u, m.Rejected(401, "bad_signature").value());
  EXPECT_EQ(1u, m.requests_rejected.WithLabels({"429", "rate_limited"}).value());
  const std::string text = r.Render();
  EXPECT_NE(
      std::string::npos,
      text.find("vv_gateway_requests_rejected_total{status=\"401\",reason=\"bad_signature\"} 2\n"));
  EXPECT_NE(std::string::npos,
            text.find("vv_gateway_replay_detections_total{operator=\"op-001\"} 1\n"));
  EXPECT_NE(std::string::npos,
            text.find("vv_gateway_verification_duration_seconds_bucket{le=\"0.0025\"} 1\n"));
}

TEST(ServiceMetricsTest, SampleNamesCoverGatewayAndEngine) {
  auto names = AllServiceSampleNames();
  auto has = [&](const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  EXPECT_TRUE(has("vv_gateway_requests_accepted_total"));
  EXPECT_TRUE(has("vv_gateway_verification_duration_seconds_bucket"));
  EXPECT_TRUE(has("vv_engine_consumer_lag_messages"));
  EXPECT_TRUE(has("vv_engine_dead_lettered_total"));
  EXPECT_FALSE(has("vv_gateway_verification_duration_seconds"));
  for (const auto& n : names) EXPECT_TRUE(IsValidMetricName(n)) << n;
}

}  // namespace
}  // namespace vv::stats

// Issue 14 black-box tests against the real vv-gateway and vv-engine binaries:
//   * the probe listener (probe_listen) serves only GET /livez, /readyz, /metrics, without
//     authentication and without configuration details;
//   * /healthz and /readyz tell the truth: 503 with the reason code when the audit anchor is
//     forked (a foreign seal appended to the gateway's JetStream anchor subject), and the
//     gateway's vv_gateway_audit_integrity_failures_total counts the fork;
//   * metric coverage: every metric name an alert rule (deploy/prometheus/vectorvue-alerts.yml)
//     or the dashboard (deploy/grafana/vectorvue-dashboard.json) uses is in a scrape of a
//     running gateway or engine. The names are parsed out of the PromQL expressions.

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <set>
#include <sstream>
#include <thread>

#include "audit/jetstream_anchor.h"
#include "fakes/process.h"
#include "fakes/raw_http.h"
#include "fakes/servers.h"
#include "fakes/temp_dir.h"
#include "integration/gateway_harness.h"
#include "json/json.h"

namespace vv::testing {
namespace {

constexpr const char* kProbeYaml = "    probe_listen: 127.0.0.1:0\n";

struct PlainResponse {
  int status = 0;
  std::string head, body;
};

PlainResponse ProbeGet(uint16_t port, const std::string& path, const std::string& method = "GET") {
  std::string raw = LoopbackHttpExchange(
      port, method + " " + path + " HTTP/1.1\r\nHost: probe.example:9465\r\nContent-Length: 0\r\n\r\n");
  PlainResponse r;
  const size_t sp = raw.find(' ');
  if (sp != std::string::npos && raw.size() > sp + 4) r.status = std::stoi(raw.substr(sp + 1, 3));
  const size_t end = raw.find("\r\n\r\n");
  r.head = raw.substr(0, end);
  if (end != std::string::npos) r.body = raw.substr(end + 4);
  return r;
}

// ---- PromQL metric names -------------------------------------------------------------------

bool IdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool IdentChar(char c) { return IdentStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

// Removes a bracketed region starting at s[i] == open (nesting-aware); returns the index after.
size_t SkipBracket(const std::string& s, size_t i, char open, char close) {
  int depth = 0;
  for (; i < s.size(); ++i) {
    if (s[i] == '"' || s[i] == '\'') {
      const char q = s[i];
      for (++i; i < s.size() && s[i] != q; ++i)
        if (s[i] == '\\') ++i;
      continue;
    }
    if (s[i] == open) ++depth;
    if (s[i] == close && --depth == 0) return i + 1;
  }
  return s.size();
}

// The metric names an expression selects: identifiers that are not functions or aggregations
// (followed by '('), not keywords, not label names (inside {...}, or the label lists of
// by/without/on/ignoring/group_left/group_right), not template variables ($instance), not
// inside strings, durations or numbers.
std::set<std::string> PromqlMetricNames(const std::string& expr) {
  static const std::set<std::string> kKeywords = {"and", "or", "unless", "bool", "offset",
                                                  "by", "without", "on", "ignoring",
                                                  "group_left", "group_right", "inf", "nan"};
  static const std::set<std::string> kLabelLists = {"by", "without", "on", "ignoring",
                                                    "group_left", "group_right"};
  std::set<std::string> out;
  size_t i = 0;
  while (i < expr.size()) {
    const char c = expr[i];
    if (c == '"' || c == '\'' || c == '`') {
      const char q = c;
      for (++i; i < expr.size() && expr[i] != q; ++i)
        if (expr[i] == '\\') ++i;
      ++i;
    } else if (c == '{') {
      i = SkipBracket(expr, i, '{', '}');
    } else if (c == '[') {
      i = SkipBracket(expr, i, '[', ']');
    } else if (c == '$') {
      for (++i; i < expr.size() && IdentChar(expr[i]); ++i) {
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      // A number or duration: 5m, 1e-9, 0.25, 86400.
      for (++i; i < expr.size() && (IdentChar(expr[i]) || expr[i] == '.'); ++i) {
      }
    } else if (IdentStart(c)) {
      size_t j = i;
      while (j < expr.size() && IdentChar(expr[j])) ++j;
      std::string word = expr.substr(i, j - i);
      size_t k = j;
      while (k < expr.size() && std::isspace(static_cast<unsigned char>(expr[k]))) ++k;
      std::string lower = word;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (kLabelLists.count(lower) && k < expr.size() && expr[k] == '(') {
        i = SkipBracket(expr, k, '(', ')');  // a label list, not an argument list
        continue;
      }
      // An aggregation with its grouping first: `sum by (le) (...)`, `max without (x) (...)`.
      size_t n = k;
      while (n < expr.size() && IdentChar(expr[n])) ++n;
      const std::string next = expr.substr(k, n - k);
      const bool aggregation = next == "by" || next == "without";
      if (!kKeywords.count(lower) && !aggregation && !(k < expr.size() && expr[k] == '('))
        out.insert(word);
      i = j;
    } else {
      ++i;
    }
  }
  return out;
}

// The `expr:` values of a Prometheus rules file: inline, or a `|` block (more-indented lines).
std::vector<std::string> RuleExprs(const std::string& yaml) {
  std::vector<std::string> out;
  std::istringstream in(yaml);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  for (size_t n = 0; n < lines.size(); ++n) {
    const std::string& l = lines[n];
    const size_t at = l.find("expr:");
    if (at == std::string::npos || l.find_first_not_of(' ') != at) continue;
    std::string rest = l.substr(at + 5);
    rest.erase(0, rest.find_first_not_of(' '));
    if (rest.rfind("|", 0) != 0 && rest.rfind(">", 0) != 0) {
      out.push_back(rest);
      continue;
    }
    std::string block;
    for (size_t m = n + 1; m < lines.size(); ++m) {
      const size_t ind = lines[m].find_first_not_of(' ');
      if (ind != std::string::npos && ind <= at) break;
      block += lines[m] + "\n";
    }
    out.push_back(block);
  }
  return out;
}

void CollectJsonExprs(const json::Value& v, std::vector<std::string>* out) {
  if (v.is_object()) {
    for (const auto& [k, m] : v.as_object()) {
      if (k == "expr" && m.is_string()) out->push_back(m.as_string());
      CollectJsonExprs(m, out);
    }
  } else if (v.is_array()) {
    for (const auto& e : v.as_array()) CollectJsonExprs(e, out);
  }
}

// Every sample name a scrape exposes: sample lines, and each `# TYPE` family (a family whose
// labelled children have not been used yet shows only there; histograms expand).
std::set<std::string> ScrapedNames(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(l.substr(7));
      std::string name, type;
      t >> name >> type;
      out.insert(name);
      if (type == "histogram")
        for (const char* suffix : {"_bucket", "_sum", "_count"}) out.insert(name + suffix);
    } else if (!l.empty() && l[0] != '#') {
      out.insert(l.substr(0, l.find_first_of("{ ")));
    }
  }
  return out;
}

TEST(PromqlNamesTest, ParsesSelectorsNotFunctionsLabelsOrTemplates) {
  EXPECT_EQ(PromqlMetricNames(
                "histogram_quantile(0.99, sum by (le, instance) (rate(a_bucket{instance=~\"$instance\",x=\"y{z}\"}[5m]))) > 0.25"),
            (std::set<std::string>{"a_bucket"}));
  EXPECT_EQ(PromqlMetricNames("(sum(increase(b_total[5m])) or vector(0)) + c / clamp_min(d, 1e-9) "
                              "and on (job) absent(up{job=\"g\"} == 1) unless e offset 5m"),
            (std::set<std::string>{"b_total", "c", "d", "up", "e"}));
  EXPECT_EQ(PromqlMetricNames("(x - time() < 3 * 86400) and (x > 0)"), (std::set<std::string>{"x"}));
}

// ---- probe listener ----------------------------------------------------------------------------

TEST(ProbeListenerTest, ServesOnlyProbesAndMetricsWithoutConfigurationDetails) {
  GatewayOptions o;
  // A backend CA bundle: its expiry is exported too (cert="nats_ca").
  o.extra_yaml = std::string(kProbeYaml) + "    nats_tls_ca_path: " + DevPki::Get().Path("ca.crt") + "\n";
  GatewayUnderTest gw(o);
  ASSERT_TRUE(gw.started()) << gw.log();
  ASSERT_NE(gw.probe_port(), 0) << gw.log();
  auto live = ProbeGet(gw.probe_port(), "/livez");
  EXPECT_EQ(live.status, 200) << live.head;
  auto ready = ProbeGet(gw.probe_port(), "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "{\"ready\":true}");
  auto metrics = ProbeGet(gw.probe_port(), "/metrics");
  EXPECT_EQ(metrics.status, 200);
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_open_fds", "process_start_time_seconds", "vv_build_info",
                           "vv_gateway_ready 1", "vv_gateway_tls_certificate_expiry_timestamp_seconds"})
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name;
  for (const char* cert : {"server", "ca", "nats_ca"}) {
    const std::string series =
        std::string("vv_gateway_tls_certificate_expiry_timestamp_seconds{cert=\"") + cert + "\"} ";
    const size_t at = metrics.body.find(series);
    ASSERT_NE(at, std::string::npos) << series << metrics.body;
    EXPECT_GT(std::stod(metrics.body.substr(at + series.size())), static_cast<double>(NowSeconds()))
        << cert;
  }
  // Nothing but the three paths, nothing but GET; no configuration in any answer.
  EXPECT_EQ(ProbeGet(gw.probe_port(), "/healthz").status, 404);
  EXPECT_EQ(ProbeGet(gw.probe_port(), "/admin/kill-switch").status, 404);
  EXPECT_EQ(ProbeGet(gw.probe_port(), "/admin/reload", "POST").status, 405);
  EXPECT_EQ(ProbeGet(gw.probe_port(), "/metrics", "DELETE").status, 405);
  for (const std::string& answer : {live.body, ready.body, metrics.body}) {
    EXPECT_EQ(answer.find(gw.dir()), std::string::npos) << "a path leaked: " << answer;
    EXPECT_EQ(answer.find("spectrastrike-producer"), std::string::npos);
    EXPECT_EQ(answer.find("embedded"), std::string::npos);
  }
}

// ---- truthful health: a forked audit anchor ------------------------------------------------

class ForkedAnchorTest : public ::testing::Test {
 protected:
  void SetUp() override { VV_REQUIRE_SERVER(nats_); }
  NatsServer nats_;
};

TEST_F(ForkedAnchorTest, HealthIs503WithTheReasonAndTheIntegrityCounterCountsIt) {
  GatewayOptions o;
  o.nats_url = nats_.url();
  o.seal_every = 2;
  o.extra_yaml = std::string(kProbeYaml) + "    audit_anchor: jetstream\n";
  GatewayUnderTest gw(o);
  ASSERT_TRUE(gw.started()) << gw.log();
  auto c = gw.Client();
  const int64_t ts = NowSeconds();
  int seq = 0;
  auto post = [&] {
    const std::string nonce = "nonce-fork-" + std::to_string(++seq) + "-" + std::to_string(ts);
    auto r = SignBody(MakeTelemetryBody(ts, nonce, "evt-" + nonce), ts, nonce);
    return c.Post("/internal/v1/telemetry", TelemetryHeaders(r), r.body).status;
  };
  ASSERT_EQ(post(), 202);
  ASSERT_EQ(post(), 202);
  // The gateway's seals reach its anchor subject (the default origin's).
  audit::JetStreamAnchorOptions ao;
  ao.nats.url = nats_.url();
  ao.nats.require_connection = true;
  auto sink = audit::JetStreamAnchorSink::Open(ao);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  std::optional<audit::AnchorRecord> head;
  for (int i = 0; i < 200 && !head; ++i) {
    auto h = (*sink)->Refresh();
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    head = *h;
    if (!head) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(head.has_value()) << "no seal anchored\n" << gw.log();
  EXPECT_EQ(ProbeGet(gw.probe_port(), "/readyz").status, 200);
  // Another writer (a second replica with the same origin) appends a different history.
  audit::AnchorRecord foreign = *head;
  foreign.index = head->index + 10;
  foreign.tree_size = foreign.index - 1;
  foreign.entry_hash = std::string(64, 'f');
  ASSERT_TRUE((*sink)->Publish(foreign).ok());

  // The gateway's next seal finds the fork; from then on every append that seals is refused:
  // requests get 503 - and so do /healthz (pinned and unpinned) and both /readyz.
  int status = 0;
  for (int i = 0; i < 100 && status != 503; ++i) {
    status = post();
    if (status != 503) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(status, 503) << gw.log();
  PlainResponse probe;
  for (int i = 0; i < 100; ++i) {
    probe = ProbeGet(gw.probe_port(), "/readyz");
    if (probe.status == 503) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(probe.status, 503);
  EXPECT_EQ(probe.body, "{\"ready\":false,\"reason\":\"audit_anchor_forked\"}");
  auto healthz = c.Get("/healthz");  // the producer's certificate is pinned: details too
  EXPECT_EQ(healthz.status, 503);
  auto body = json::Parse(healthz.body);
  ASSERT_TRUE(body.ok()) << healthz.body;
  EXPECT_EQ(body->Find("status")->as_string(), "unavailable");
  EXPECT_EQ(body->Find("reason")->as_string(), "audit_anchor_forked");
  EXPECT_NE(body->Find("detail")->as_string().find("fork_detected"), std::string::npos);
  auto unpinned = gw.Client("rogue").Get("/readyz");
  EXPECT_EQ(unpinned.status, 503);
  EXPECT_EQ(unpinned.body, "{\"ready\":false,\"reason\":\"audit_anchor_forked\"}");
  EXPECT_EQ(post(), 503);  // still refused: health and requests agree
  const std::string metrics = ProbeGet(gw.probe_port(), "/metrics").body;
  EXPECT_NE(metrics.find("\nvv_gateway_audit_integrity_failures_total 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("\nvv_gateway_ready 0\n"), std::string::npos);
}

// ---- metric coverage ---------------------------------------------------------------------------

TEST(MetricCoverageTest, EveryMetricOfTheAlertRulesAndTheDashboardIsScraped) {
  GatewayOptions o;
  o.extra_yaml = kProbeYaml;
  GatewayUnderTest gw(o);
  ASSERT_TRUE(gw.started()) << gw.log();
  ASSERT_NE(gw.probe_port(), 0) << gw.log();
  auto c = gw.Client();
  const int64_t ts = NowSeconds();
  const std::string nonce = "nonce-coverage-" + std::to_string(ts);
  auto r = SignBody(MakeTelemetryBody(ts, nonce, "evt-" + nonce), ts, nonce);
  ASSERT_EQ(c.Post("/internal/v1/telemetry", TelemetryHeaders(r), r.body).status, 202);

  // A real engine on the gateway's queue, with its own probe listener.
  TempDir dir;
  WriteFile(dir.File("root.key"), std::string(32, 'C'), 0400);
  const std::string cfg = ReadFile(gw.config_path()) +
                          "  evidence_engine:\n    store_backend: sqlite\n    store_path: " +
                          dir.File("evidence.db") +
                          "\n    root_key_provider: file\n    root_key_id: k1\n    root_key_file: " +
                          dir.File("root.key") + "\n    audit_log_path: " +
                          dir.File("engine-audit.jsonl") +
                          "\n    metrics_path: \"\"\n    poll_interval_ms: 50\n"
                          "    probe_listen: 127.0.0.1:0\n" +
                          QueueVerifyKeysYaml();
  WriteFile(dir.File("engine.yaml"), cfg, 0600);
  ChildProcess engine({std::string(VV_BIN_DIR) + "/vv-engine", "--config", dir.File("engine.yaml")},
                      dir.File("engine.log"));
  auto engine_port = engine.WaitForLine("PROBE_PORT ", std::chrono::seconds(20));
  ASSERT_TRUE(engine_port.has_value()) << engine.Log();
  const uint16_t ep = static_cast<uint16_t>(std::stoi(*engine_port));
  PlainResponse engine_metrics;
  for (int i = 0; i < 200; ++i) {
    engine_metrics = ProbeGet(ep, "/metrics");
    if (engine_metrics.body.find("\nvv_engine_messages_stored_total 1\n") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(engine_metrics.body.find("\nvv_engine_messages_stored_total 1\n"), std::string::npos)
      << engine_metrics.body << engine.Log();
  EXPECT_NE(engine_metrics.body.find("\nvv_engine_consumer_lag_messages 0\n"), std::string::npos);
  EXPECT_EQ(ProbeGet(ep, "/readyz").body, "{\"ready\":true}");
  EXPECT_EQ(ProbeGet(ep, "/livez").status, 200);

  std::set<std::string> scraped = ScrapedNames(ProbeGet(gw.probe_port(), "/metrics").body);
  for (const auto& n : ScrapedNames(engine_metrics.body)) scraped.insert(n);

  std::map<std::string, std::string> used;  // name -> where
  for (const auto& e : RuleExprs(ReadFile(std::string(VV_SOURCE_DIR) +
                                          "/deploy/prometheus/vectorvue-alerts.yml")))
    for (const auto& n : PromqlMetricNames(e)) used.emplace(n, "alert rule: " + e);
  auto dash = json::Parse(ReadFile(std::string(VV_SOURCE_DIR) +
                                   "/deploy/grafana/vectorvue-dashboard.json"));
  ASSERT_TRUE(dash.ok());
  std::vector<std::string> dash_exprs;
  CollectJsonExprs(*dash, &dash_exprs);
  ASSERT_FALSE(dash_exprs.empty());
  for (const auto& e : dash_exprs)
    for (const auto& n : PromqlMetricNames(e)) used.emplace(n, "dashboard: " + e);
  // The parse found the rules' metrics (a parser that finds nothing proves nothing).
  for (const char* expected :
       {"vv_gateway_audit_integrity_failures_total", "vv_engine_integrity_failures_total",
        "vv_engine_consumer_lag_messages", "vv_gateway_ready",
        "vv_gateway_tls_certificate_expiry_timestamp_seconds",
        "vv_gateway_tls_crl_next_update_timestamp_seconds",
        "vv_gateway_verification_duration_seconds_bucket", "up"})
    EXPECT_TRUE(used.count(expected)) << expected;
  EXPECT_GE(used.size(), 20u);
  for (const auto& [name, where] : used) {
    // `up` is the series Prometheus itself records for every scrape, never in a scrape body.
    if (name == "up") continue;
    EXPECT_TRUE(scraped.count(name)) << name << " is in no scrape (" << where << ")";
  }
  EXPECT_EQ(engine.Terminate(15, std::chrono::seconds(10)), 0) << engine.Log();
}

}  // namespace
}  // namespace vv::testing

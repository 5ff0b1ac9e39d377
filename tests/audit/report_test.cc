#include "audit/report.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "fakes/fake_clock.h"
#include "fakes/temp_dir.h"

namespace vv::audit {
namespace {

constexpr char kHostile[] = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>&";
constexpr char kTenantA[] = "10000000-0000-0000-0000-000000000001";

json::Value Decision(const std::string& identity, const std::string& tenant,
                     const std::string& reason) {
  json::Value d = json::Value::MakeObject();
  d.Set("request_id", "r");
  d.Set("identity", identity);
  d.Set("tenant_id", tenant);
  if (!reason.empty()) d.Set("reason", reason);
  return d;
}

// Tags opened and closed in order (void: meta); attribute values never contain '<' or '>'.
bool Balanced(const std::string& html, std::string* why) {
  std::vector<std::string> stack;
  size_t i = 0;
  while ((i = html.find('<', i)) != std::string::npos) {
    size_t end = html.find('>', i);
    if (end == std::string::npos) {
      *why = "unterminated tag";
      return false;
    }
    std::string tag = html.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.rfind("!DOCTYPE", 0) == 0) continue;
    const bool closing = !tag.empty() && tag[0] == '/';
    std::string name = tag.substr(closing ? 1 : 0, tag.find_first_of(" />", closing ? 1 : 0) -
                                                       (closing ? 1 : 0));
    if (name == "meta") continue;
    if (!closing) {
      stack.push_back(name);
    } else if (stack.empty() || stack.back() != name) {
      *why = "</" + name + "> closes <" + (stack.empty() ? "" : stack.back()) + ">";
      return false;
    } else {
      stack.pop_back();
    }
  }
  if (!stack.empty()) *why = "unclosed <" + stack.back() + ">";
  return stack.empty();
}

class ReportTest : public ::testing::Test {
 protected:
  std::string WriteLog() {
    AuditLogOptions o;
    o.seal_every = 4;
    o.fsync = FsyncPolicy::kNone;
    auto log = AuditLog::Open(path_, o, clock_);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    auto add = [&](const char* type, json::Value d) {
      EXPECT_TRUE((*log)->Append(type, "telemetry_gateway", std::move(d)).ok());
      clock_.AdvanceSeconds(20);
    };
    for (int i = 0; i < 3; ++i) add("telemetry.accepted", Decision("producer", kTenantA, ""));
    add("telemetry.rejected", Decision("producer", kTenantA, "bad_signature"));
    add("telemetry.rejected", Decision(kHostile, "-", "bad_signature"));
    add("telemetry.rejected", Decision(kHostile, "-", std::string("schema\x01<b>", 9)));
    add("tls.handshake_rejected", json::Value::MakeObject());
    add("config.reloaded", json::Value::MakeObject());
    EXPECT_TRUE((*log)->SealNow().ok());
    log->reset();
    return testing::ReadFile(path_);
  }

  testing::TempDir dir_;
  std::string path_ = dir_.File("audit.jsonl");
  testing::FakeClock clock_{1772323200};  // 2026-03-01T00:00:00Z
};

TEST_F(ReportTest, CountsDecisionsByReasonIdentityAndTenant) {
  const std::string text = WriteLog();
  ReportData d = CollectReport(text);
  EXPECT_EQ(d.decisions.accepted, 3);
  EXPECT_EQ(d.decisions.rejected, 4);  // 3 telemetry + 1 handshake
  EXPECT_EQ(d.rejected_by_reason["bad_signature"], 2);
  EXPECT_EQ(d.rejected_by_reason["tls: unknown"], 1);  // the handshake record has no reason
  EXPECT_EQ(d.by_identity["producer"].accepted, 3);
  EXPECT_EQ(d.by_identity["producer"].rejected, 1);
  EXPECT_EQ(d.by_identity[kHostile].rejected, 2);
  EXPECT_EQ(d.by_tenant[kTenantA].accepted, 3);
  EXPECT_EQ(d.by_identity["(no identity)"].rejected, 1);  // the handshake
  EXPECT_EQ(d.by_event_type["config.reloaded"], 1);
  EXPECT_GE(d.seal_records, 1);
  EXPECT_EQ(d.unreadable, 0);
  // 7 decisions 20 s apart = 120 s: 5-second buckets (<= 60), all decisions in the timeline.
  int64_t in_timeline = 0;
  for (const auto& b : d.timeline) in_timeline += b.total();
  EXPECT_EQ(in_timeline, 7);
  EXPECT_LE(d.timeline.size(), 60u);
  EXPECT_EQ(d.first_unix, 1772323200);
}

TEST_F(ReportTest, HtmlIsWellFormedSelfContainedAndEscapesLogStrings) {
  const std::string text = WriteLog();
  VerifyResult v = VerifyLogText(text);
  ASSERT_TRUE(v.ok) << v.detail;
  ReportContext ctx;
  ctx.log_path = "/var/log/<audit>.jsonl";
  ctx.generated_at = "2026-03-01T01:00:00Z";
  const std::string html = RenderReportHtml(CollectReport(text), v, ctx);
  ASSERT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  std::string why;
  EXPECT_TRUE(Balanced(html, &why)) << why;
  // The hostile identity and reason appear only escaped.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html.find('\x01'), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;x&#39;)"), std::string::npos);
  EXPECT_NE(html.find("&lt;audit&gt;"), std::string::npos);
  // Nothing from the network, no script.
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_NE(html.find("VERIFIED"), std::string::npos);
  EXPECT_NE(html.find("rejected: bad_signature"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
}

TEST_F(ReportTest, BrokenLogIsShownBroken) {
  std::string text = WriteLog();
  const size_t at = text.find("producer");
  text.replace(at, 8, "producex");
  VerifyResult v = VerifyLogText(text);
  ASSERT_FALSE(v.ok);
  const std::string html = RenderReportHtml(CollectReport(text), v, ReportContext{});
  EXPECT_NE(html.find("BROKEN"), std::string::npos);
  const std::string where = "entry_hash_mismatch at line " + std::to_string(v.broken_at);
  EXPECT_NE(html.find(where), std::string::npos) << v.reason;
}

TEST(ReportEscapeTest, EscapesBoundsAndReplacesControls) {
  EXPECT_EQ(HtmlEscape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
  EXPECT_EQ(HtmlEscape(std::string("x\x1b\xff", 3)), "x&#xFFFD;&#xFFFD;");
  EXPECT_EQ(HtmlEscape(std::string(100, 'a'), 10), std::string(10, 'a') + "...");
  EXPECT_EQ(HtmlEscape("\xc3\xa9"), "\xc3\xa9");
}

TEST(ReportCollectTest, GarbageLinesAreCountedNotFatal) {
  ReportData d = CollectReport("not json\n{\"event_type\":5}\n\n{\"event_type\":\"a.accepted\"}\n");
  EXPECT_EQ(d.lines, 3);
  EXPECT_EQ(d.unreadable, 2);
  EXPECT_EQ(d.decisions.accepted, 1);
  EXPECT_TRUE(d.timeline.empty());  // no timestamp
  std::string why;
  EXPECT_TRUE(Balanced(RenderReportHtml(d, VerifyResult{}, ReportContext{}), &why)) << why;
}

}  // namespace
}  // namespace vv::audit

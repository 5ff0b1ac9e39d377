#include "audit/report.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "common/text.h"
#include "json/json.h"

namespace vv::audit {

namespace {

constexpr const char* kGreen = "#2e7d32";
constexpr const char* kRed = "#c62828";
constexpr const char* kGrey = "#607d8b";
// At most this many timeline buckets; the bucket width grows with the log's time span.
constexpr int64_t kMaxBuckets = 60;

// "2026-03-01T00:00:00..." -> unix seconds (UTC offset ignored: the log writes +00:00).
bool ParseIsoSeconds(const std::string& s, int64_t* out) {
  int y, mo, d, h, mi, se;
  if (s.size() < 19 ||
      std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6)
    return false;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  *out = static_cast<int64_t>(timegm(&tm));
  return true;
}

std::string IsoUtc(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string StringField(const json::Value& details, std::string_view key, const char* absent) {
  const json::Value* v = details.is_object() ? details.Find(key) : nullptr;
  if (v == nullptr || !v->is_string() || v->as_string().empty()) return absent;
  // Bounded before it is used as a map key: a log full of distinct huge identities must not
  // make the report's memory grow with their size.
  return std::string(v->as_string().substr(0, 4 * kReportMaxLabel));
}

enum class Decision { kNone, kAccepted, kRejected };

Decision Classify(std::string_view event_type) {
  auto ends = [&](std::string_view s) {
    return event_type.size() >= s.size() &&
           event_type.compare(event_type.size() - s.size(), s.size(), s) == 0;
  };
  if (ends(".accepted") || event_type == "evidence.stored") return Decision::kAccepted;
  if (ends("rejected") || event_type == "evidence.dead_lettered") return Decision::kRejected;
  return Decision::kNone;
}

std::string Num(int64_t v) { return std::to_string(v); }
std::string Fix(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// Rows of a map sorted by count (desc), the tail summed into one "(N others)" row.
template <typename V, typename Count>
std::vector<std::pair<std::string, V>> TopRows(const std::map<std::string, V>& m, Count count) {
  std::vector<std::pair<std::string, V>> rows(m.begin(), m.end());
  std::stable_sort(rows.begin(), rows.end(),
                   [&](const auto& a, const auto& b) { return count(a.second) > count(b.second); });
  if (rows.size() > kReportMaxRows) {
    V rest{};
    const size_t others = rows.size() - (kReportMaxRows - 1);
    for (size_t i = kReportMaxRows - 1; i < rows.size(); ++i) {
      if constexpr (std::is_same_v<V, DecisionCounts>) {
        rest.accepted += rows[i].second.accepted;
        rest.rejected += rows[i].second.rejected;
      } else {
        rest += rows[i].second;
      }
    }
    rows.resize(kReportMaxRows - 1);
    rows.emplace_back("(" + std::to_string(others) + " others)", rest);
  }
  return rows;
}

// Horizontal bars: one row per label, accepted (green) then rejected (red) segments.
std::string StackedBars(const std::vector<std::pair<std::string, DecisionCounts>>& rows,
                        const char* title) {
  const int label_w = 300, bar_w = 520, row_h = 26, top = 8;
  int64_t max = 1;
  for (const auto& [_, c] : rows) max = std::max(max, c.total());
  const int h = top + static_cast<int>(rows.size()) * row_h + 8;
  std::string s = "<svg role=\"img\" aria-label=\"" + std::string(title) + "\" width=\"" +
                  Num(label_w + bar_w + 120) + "\" height=\"" + Num(h) + "\" viewBox=\"0 0 " +
                  Num(label_w + bar_w + 120) + " " + Num(h) + "\">";
  int y = top;
  for (const auto& [label, c] : rows) {
    const double wa = static_cast<double>(c.accepted) * bar_w / static_cast<double>(max);
    const double wr = static_cast<double>(c.rejected) * bar_w / static_cast<double>(max);
    s += "<text x=\"" + Num(label_w - 8) + "\" y=\"" + Num(y + 17) +
         "\" text-anchor=\"end\" class=\"lbl\">" + HtmlEscape(label, 40) + "</text>";
    if (c.accepted > 0)
      s += "<rect x=\"" + Num(label_w) + "\" y=\"" + Num(y + 3) + "\" width=\"" + Fix(wa) +
           "\" height=\"" + Num(row_h - 8) + "\" fill=\"" + kGreen + "\"><title>accepted " +
           Num(c.accepted) + "</title></rect>";
    if (c.rejected > 0)
      s += "<rect x=\"" + Fix(label_w + wa) + "\" y=\"" + Num(y + 3) + "\" width=\"" + Fix(wr) +
           "\" height=\"" + Num(row_h - 8) + "\" fill=\"" + kRed + "\"><title>rejected " +
           Num(c.rejected) + "</title></rect>";
    s += "<text x=\"" + Fix(label_w + wa + wr + 6) + "\" y=\"" + Num(y + 17) +
         "\" class=\"val\">" + Num(c.accepted) + " / " + Num(c.rejected) + "</text>";
    y += row_h;
  }
  s += "</svg>";
  return s;
}

// Horizontal bars for outcome -> count, in one colour per row.
std::string Bars(const std::vector<std::tuple<std::string, int64_t, const char*>>& rows,
                 const char* title) {
  const int label_w = 340, bar_w = 520, row_h = 26, top = 8;
  int64_t max = 1;
  for (const auto& r : rows) max = std::max(max, std::get<1>(r));
  const int h = top + static_cast<int>(rows.size()) * row_h + 8;
  std::string s = "<svg role=\"img\" aria-label=\"" + std::string(title) + "\" width=\"" +
                  Num(label_w + bar_w + 80) + "\" height=\"" + Num(h) + "\" viewBox=\"0 0 " +
                  Num(label_w + bar_w + 80) + " " + Num(h) + "\">";
  int y = top;
  for (const auto& [label, count, colour] : rows) {
    const double w = static_cast<double>(count) * bar_w / static_cast<double>(max);
    s += "<text x=\"" + Num(label_w - 8) + "\" y=\"" + Num(y + 17) +
         "\" text-anchor=\"end\" class=\"lbl\">" + HtmlEscape(label, 46) + "</text>";
    s += "<rect x=\"" + Num(label_w) + "\" y=\"" + Num(y + 3) + "\" width=\"" + Fix(w) +
         "\" height=\"" + Num(row_h - 8) + "\" fill=\"" + colour + "\"></rect>";
    s += "<text x=\"" + Fix(label_w + w + 6) + "\" y=\"" + Num(y + 17) + "\" class=\"val\">" +
         Num(count) + "</text>";
    y += row_h;
  }
  s += "</svg>";
  return s;
}

std::string Timeline(const ReportData& d) {
  const int w = 1000, h = 240, left = 56, bottom = 36, top = 12, right = 12;
  const int plot_w = w - left - right, plot_h = h - top - bottom;
  int64_t max = 1;
  for (const auto& b : d.timeline) max = std::max(max, b.total());
  std::string s = "<svg role=\"img\" aria-label=\"decisions over time\" width=\"" + Num(w) +
                  "\" height=\"" + Num(h) + "\" viewBox=\"0 0 " + Num(w) + " " + Num(h) + "\">";
  s += "<line x1=\"" + Num(left) + "\" y1=\"" + Num(top + plot_h) + "\" x2=\"" + Num(w - right) +
       "\" y2=\"" + Num(top + plot_h) + "\" stroke=\"#999\"></line>";
  s += "<text x=\"" + Num(left - 6) + "\" y=\"" + Num(top + 10) +
       "\" text-anchor=\"end\" class=\"val\">" + Num(max) + "</text>";
  s += "<text x=\"" + Num(left - 6) + "\" y=\"" + Num(top + plot_h) +
       "\" text-anchor=\"end\" class=\"val\">0</text>";
  const size_t n = d.timeline.size();
  if (n == 0) {
    s += "<text x=\"" + Num(left + 10) + "\" y=\"" + Num(top + plot_h / 2) +
         "\" class=\"lbl\">no decisions in this log</text></svg>";
    return s;
  }
  const double slot = static_cast<double>(plot_w) / static_cast<double>(n);
  const double bw = std::max(1.0, slot * 0.8);
  for (size_t i = 0; i < n; ++i) {
    const auto& b = d.timeline[i];
    const double x = left + slot * static_cast<double>(i) + (slot - bw) / 2;
    const double ha = static_cast<double>(b.accepted) * plot_h / static_cast<double>(max);
    const double hr = static_cast<double>(b.rejected) * plot_h / static_cast<double>(max);
    const std::string when = IsoUtc(d.first_unix + static_cast<int64_t>(i) * d.bucket_seconds);
    if (b.accepted > 0)
      s += "<rect x=\"" + Fix(x) + "\" y=\"" + Fix(top + plot_h - ha) + "\" width=\"" + Fix(bw) +
           "\" height=\"" + Fix(ha) + "\" fill=\"" + kGreen + "\"><title>" + when +
           " accepted " + Num(b.accepted) + "</title></rect>";
    if (b.rejected > 0)
      s += "<rect x=\"" + Fix(x) + "\" y=\"" + Fix(top + plot_h - ha - hr) + "\" width=\"" +
           Fix(bw) + "\" height=\"" + Fix(hr) + "\" fill=\"" + kRed + "\"><title>" + when +
           " rejected " + Num(b.rejected) + "</title></rect>";
  }
  auto xlabel = [&](size_t i, const char* anchor) {
    const double x = left + slot * static_cast<double>(i) + slot / 2;
    s += "<text x=\"" + Fix(x) + "\" y=\"" + Num(h - 12) + "\" text-anchor=\"" + anchor +
         "\" class=\"val\">" +
         IsoUtc(d.first_unix + static_cast<int64_t>(i) * d.bucket_seconds) + "</text>";
  };
  xlabel(0, "start");
  if (n > 2) xlabel(n - 1, "end");
  s += "</svg>";
  return s;
}

std::string Card(const std::string& title, const std::string& value, const std::string& sub,
                 const char* colour) {
  return "<div class=\"card\" style=\"border-top-color:" + std::string(colour) +
         "\"><div class=\"ct\">" + title + "</div><div class=\"cv\" style=\"color:" + colour +
         "\">" + value + "</div><div class=\"cs\">" + sub + "</div></div>";
}

}  // namespace

std::string HtmlEscape(std::string_view s, size_t max_bytes) {
  std::string out;
  const bool cut = text::ForEachCodePoint(s, max_bytes, [&](uint32_t cp, std::string_view bytes,
                                                            bool valid) {
    if (!valid || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
      out += "&#xFFFD;";
      return;
    }
    switch (cp) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.append(bytes);
    }
  });
  if (cut) out += "...";
  return out;
}

ReportData CollectReport(std::string_view text) {
  ReportData d;
  std::map<int64_t, DecisionCounts> per_second;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    d.lines++;
    auto rec = json::Parse(line);
    const json::Value* type = rec.ok() && rec->is_object() ? rec->Find("event_type") : nullptr;
    if (type == nullptr || !type->is_string()) {
      d.unreadable++;
      continue;
    }
    const std::string event_type = type->as_string().substr(0, 4 * kReportMaxLabel);
    d.by_event_type[event_type]++;
    if (event_type == kSealEventType) d.seal_records++;
    const Decision dec = Classify(event_type);
    if (dec == Decision::kNone) continue;
    const json::Value* details_ptr = rec->Find("details");
    static const json::Value kEmpty = json::Value::MakeObject();
    const json::Value& details = details_ptr ? *details_ptr : kEmpty;
    const std::string identity = StringField(details, "identity", "(no identity)");
    const std::string tenant = StringField(details, "tenant_id", "(no tenant)");
    DecisionCounts& ic = d.by_identity[identity];
    DecisionCounts& tc = d.by_tenant[tenant];
    int64_t t = 0;
    const json::Value* ts = rec->Find("timestamp");
    const bool timed = ts != nullptr && ts->is_string() && ParseIsoSeconds(ts->as_string(), &t);
    if (dec == Decision::kAccepted) {
      d.decisions.accepted++;
      ic.accepted++;
      tc.accepted++;
      if (timed) per_second[t].accepted++;
    } else {
      d.decisions.rejected++;
      ic.rejected++;
      tc.rejected++;
      // A refused TLS handshake carries the TLS library's text as its reason: marked as such.
      std::string reason = StringField(details, "reason", "unknown");
      if (event_type == "tls.handshake_rejected") reason = "tls: " + reason;
      d.rejected_by_reason[reason]++;
      if (timed) per_second[t].rejected++;
    }
  }
  if (!per_second.empty()) {
    d.first_unix = per_second.begin()->first;
    d.last_unix = per_second.rbegin()->first;
    const int64_t span = d.last_unix - d.first_unix;
    static constexpr int64_t kWidths[] = {1,    5,     10,    30,    60,    300,   600,
                                          1800, 3600,  10800, 21600, 43200, 86400, 604800};
    d.bucket_seconds = kWidths[std::size(kWidths) - 1];
    for (int64_t w : kWidths) {
      if (span / w + 1 <= kMaxBuckets) {
        d.bucket_seconds = w;
        break;
      }
    }
    d.first_unix -= d.first_unix % d.bucket_seconds;
    const int64_t buckets = (d.last_unix - d.first_unix) / d.bucket_seconds + 1;
    d.timeline.assign(static_cast<size_t>(std::min<int64_t>(buckets, 4 * kMaxBuckets)), {});
    for (const auto& [sec, c] : per_second) {
      size_t i = static_cast<size_t>((sec - d.first_unix) / d.bucket_seconds);
      if (i >= d.timeline.size()) i = d.timeline.size() - 1;
      d.timeline[i].accepted += c.accepted;
      d.timeline[i].rejected += c.rejected;
    }
  }
  return d;
}

std::string RenderReportHtml(const ReportData& d, const VerifyResult& v, const ReportContext& ctx) {
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<title>VectorVue audit report - " + HtmlEscape(ctx.log_path, 200) + "</title>"
       "<style>"
       "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px 32px;"
       "color:#1c2833;background:#f7f9fb}"
       "h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;color:#34495e}"
       ".sub{color:#5d6d7e;font-size:13px}"
       ".cards{display:flex;flex-wrap:wrap;gap:14px;margin-top:18px}"
       ".card{background:#fff;border-top:4px solid #999;border-radius:6px;padding:12px 16px;"
       "min-width:200px;box-shadow:0 1px 3px rgba(0,0,0,.12)}"
       ".ct{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:#5d6d7e}"
       ".cv{font-size:26px;font-weight:600;margin:4px 0}.cs{font-size:12px;color:#5d6d7e;"
       "max-width:320px;overflow-wrap:anywhere}"
       ".panel{background:#fff;border-radius:6px;padding:12px 16px;max-width:calc(100% - 32px);"
       "box-shadow:0 1px 3px "
       "rgba(0,0,0,.12);display:inline-block}"
       "svg{max-width:100%;height:auto}"
       "svg .lbl{font-size:13px;fill:#1c2833}svg .val{font-size:12px;fill:#5d6d7e}"
       "table{border-collapse:collapse;font-size:13px}td,th{padding:4px 12px;text-align:left;"
       "border-bottom:1px solid #e5e8e8}td.n{text-align:right;font-variant-numeric:tabular-nums}"
       ".legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;"
       "vertical-align:-1px}"
       "</style></head><body>\n";
  h += "<h1>VectorVue audit report</h1><div class=\"sub\">" + HtmlEscape(ctx.log_path, 200) +
       " &#183; " + Num(d.lines) + " records";
  if (d.first_unix != 0)
    h += " &#183; " + IsoUtc(d.first_unix) + " to " + IsoUtc(d.last_unix) + " UTC";
  h += "</div>\n<div class=\"cards\">";
  // Verification.
  if (v.ok) {
    std::string sub = Num(v.entries) + " lines, hash chain intact";
    if (v.seals > 0) sub += ", " + Num(v.seals) + " checkpoints verified";
    h += Card("Verification", "VERIFIED", sub, kGreen);
  } else {
    std::string sub = HtmlEscape(v.reason, 60);
    if (v.broken_at > 0) sub += " at line " + Num(v.broken_at);
    sub += ": " + HtmlEscape(v.detail, 200);
    h += Card("Verification", "BROKEN", sub, kRed);
  }
  h += Card("Decisions", Num(d.decisions.total()),
            Num(d.decisions.accepted) + " accepted &#183; " + Num(d.decisions.rejected) +
                " rejected",
            kGrey);
  {
    std::string seal_value = v.seals > 0 ? Num(v.sealed_size) : "none";
    std::string sub = v.seals > 0 ? "entries covered by the last checkpoint; " : "";
    if (v.seals > 0) {
      if (v.unsigned_seals) sub += "UNSIGNED checkpoints";
      else if (v.signature_key == "pinned") sub += "signatures verified with the pinned key";
      else sub += "signatures verified with the key named in the seal (not pinned)";
    } else {
      sub += Num(d.seal_records) + " seal records";
    }
    const char* colour = v.seals == 0 || v.unsigned_seals ? kRed
                         : v.signature_key == "pinned"   ? kGreen
                                                         : "#ef6c00";
    h += Card("Seal", seal_value, sub, colour);
  }
  if (v.anchored_size >= 0) {
    h += Card("Anchor", Num(v.anchored_size),
              "entries covered by the last anchored seal (anchor checked)",
              v.ok ? kGreen : kRed);
  } else {
    h += Card("Anchor", "not checked", "no anchor given or found beside the log", "#ef6c00");
  }
  h += "</div>\n";

  h += "<h2>Decisions over time (" + Num(d.bucket_seconds) + " s buckets)</h2>"
       "<div class=\"panel\"><div class=\"legend sub\"><span style=\"background:" +
       std::string(kGreen) + "\"></span>accepted<span style=\"background:" + kRed +
       "\"></span>rejected</div>" + Timeline(d) + "</div>\n";

  std::vector<std::tuple<std::string, int64_t, const char*>> outcome_rows;
  outcome_rows.emplace_back("accepted", d.decisions.accepted, kGreen);
  for (const auto& [reason, n] : TopRows(d.rejected_by_reason, [](int64_t c) { return c; }))
    outcome_rows.emplace_back("rejected: " + reason, n, kRed);
  h += "<h2>Accepted vs rejected, by precise reason</h2><div class=\"panel\">" +
       Bars(outcome_rows, "outcomes by reason") + "</div>\n";

  auto total = [](const DecisionCounts& c) { return c.total(); };
  h += "<h2>By identity (accepted / rejected)</h2><div class=\"panel\">" +
       StackedBars(TopRows(d.by_identity, total), "decisions by identity") + "</div>\n";
  h += "<h2>By tenant (accepted / rejected)</h2><div class=\"panel\">" +
       StackedBars(TopRows(d.by_tenant, total), "decisions by tenant") + "</div>\n";

  h += "<h2>Records by event type</h2><div class=\"panel\"><table><tr><th>event type</th>"
       "<th>records</th></tr>";
  for (const auto& [type, n] : TopRows(d.by_event_type, [](int64_t c) { return c; }))
    h += "<tr><td>" + HtmlEscape(type) + "</td><td class=\"n\">" + Num(n) + "</td></tr>";
  if (d.unreadable > 0)
    h += "<tr><td>(unreadable lines)</td><td class=\"n\">" + Num(d.unreadable) + "</td></tr>";
  h += "</table></div>\n";
  h += "<p class=\"sub\">Generated by vv-audit report at " + HtmlEscape(ctx.generated_at, 64) +
       ". Self-contained: no script, nothing loaded from the network.</p>\n</body></html>\n";
  return h;
}

}  // namespace vv::audit

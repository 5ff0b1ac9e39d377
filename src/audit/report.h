#pragma once
// `vv-audit report LOG --html OUT.html`: one self-contained HTML page about an audit log
// (issue 16) - decisions over time, accepted vs rejected by precise reason, by identity and by
// tenant, seal and anchor status and the verification result. Charts are inline SVG; no
// script, no stylesheet or font from the network. Every string taken from the log (identities,
// tenants, reasons, event types, the verifier's detail) is HTML-escaped and bounded, so a
// hostile identity or reason cannot inject markup into the page.
// Thread-safety: pure functions.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "audit/verifier.h"

namespace vv::audit {

// Longest string from the log shown in the page (longer ones are cut, marked "...").
inline constexpr size_t kReportMaxLabel = 80;
// At most this many rows per table/chart (the rest are summed into "(N others)").
inline constexpr size_t kReportMaxRows = 12;

struct DecisionCounts {
  int64_t accepted = 0;
  int64_t rejected = 0;
  int64_t total() const { return accepted + rejected; }
};

struct ReportData {
  int64_t lines = 0;           // records read (seals included)
  int64_t unreadable = 0;      // lines that are not a JSON object with the record keys
  int64_t seal_records = 0;    // "log.sealed" lines
  DecisionCounts decisions;    // *.accepted / evidence.stored vs *.rejected
  std::map<std::string, int64_t> by_event_type;
  std::map<std::string, int64_t> rejected_by_reason;  // details.reason ("unknown" if absent)
  std::map<std::string, DecisionCounts> by_identity;  // details.identity ("-" if absent)
  std::map<std::string, DecisionCounts> by_tenant;    // details.tenant_id ("-" if absent)
  int64_t first_unix = 0;      // first/last record time (0 when no timestamp parsed)
  int64_t last_unix = 0;
  int64_t bucket_seconds = 60;           // width of one timeline bucket
  std::vector<DecisionCounts> timeline;  // buckets from first_unix (rounded down)
};

// Reads the records of an audit log (JSONL). Never fails: unreadable lines are counted.
ReportData CollectReport(std::string_view log_text);

struct ReportContext {
  std::string log_path;      // shown in the title
  std::string generated_at;  // ISO-8601, shown in the footer
};

// The HTML page. `verify` is the verifier's result for the same log (with the pinned key and
// anchor the caller had).
std::string RenderReportHtml(const ReportData& data, const VerifyResult& verify,
                             const ReportContext& ctx);

// `s` with & < > " ' replaced by entities, invalid UTF-8 and control characters replaced,
// cut at `max_bytes` (with "...").
std::string HtmlEscape(std::string_view s, size_t max_bytes = kReportMaxLabel);

}  // namespace vv::audit

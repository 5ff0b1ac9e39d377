#pragma once
// Verifier for the tamper-evident audit log (wire-contract section 8, with the section 13 item 9
// defects fixed). It checks, line by line (reason in brackets):
//   - every line is a JSON object with exactly the keys index (int), timestamp, event_type,
//     actor, previous_hash, entry_hash (strings) and details (object)   [malformed_line]
//   - entry_hash = sha256 hex of the canonical JSON of the six other keys, checked first like
//     the reference                                                      [entry_hash_mismatch]
//   - previous_hash = the previous line's entry_hash ("" on line 1)   [previous_hash_mismatch]
//   - index = the 1-based line number; a "log.sealed" line may instead repeat the previous
//     line's index (the reference's duplicate-index seals, so reference logs still verify).
//     Reference entries are numbered "lines so far + 1", i.e. also by line number, so one rule
//     covers both formats and every deletion or insertion shows up       [index_gap]
//   - a "log.sealed" line seals the line before it: details.sealed_index and
//     details.last_entry_hash equal that line's index and entry_hash, details.sealed_at equals
//     the seal's timestamp, and the line before is not itself a seal      [seal_mismatch]
//   - the file ends with '\n' (a last line without one is a torn write)   [torn_tail]
// The first bad line stops verification; broken_at is its 1-based line number.
// Truncation at the end of the chain cannot be detected from the file alone (that needs the
// signed checkpoints of a later issue).
//
// Never throws, never crashes on garbage; memory is bounded by kMaxLineBytes when reading a file.
// Thread-safety: free functions are reentrant; a ChainVerifier is single-threaded.

#include <cstdint>
#include <string>
#include <string_view>

#include "json/json.h"

namespace vv::audit {

inline constexpr std::string_view kReasonEntryHashMismatch = "entry_hash_mismatch";
inline constexpr std::string_view kReasonPreviousHashMismatch = "previous_hash_mismatch";
inline constexpr std::string_view kReasonIndexGap = "index_gap";
inline constexpr std::string_view kReasonMalformedLine = "malformed_line";
inline constexpr std::string_view kReasonSealMismatch = "seal_mismatch";
inline constexpr std::string_view kReasonTornTail = "torn_tail";
// The file could not be opened or read (not a chain defect; broken_at is 0).
inline constexpr std::string_view kReasonIoError = "io_error";

inline constexpr std::string_view kSealEventType = "log.sealed";

// Lines longer than this are reported as malformed without being buffered whole.
inline constexpr size_t kMaxLineBytes = 16 * 1024 * 1024;

struct VerifyResult {
  bool ok = true;
  int64_t entries = 0;      // lines verified (seals included); on failure, the good prefix
  std::string latest_hash;  // entry_hash of the last good line, "" when none
  int64_t broken_at = 0;    // failure only: 1-based line number (0 for io_error)
  std::string reason;       // failure only: one of the kReason* strings
  std::string detail;       // failure only: human-readable explanation

  // {"ok":true,"entries":N,"latest_hash":"..."} or
  // {"ok":false,"broken_at":N,"reason":"...","detail":"..."}.
  json::Value ToJson() const;
};

// Incremental verifier: feed the lines of a log in order. Used by VerifyLog* and by the
// writer's recovery at open.
class ChainVerifier {
 public:
  // Feeds the next line (without its '\n'). `terminated` is false only for trailing bytes not
  // followed by '\n'. Returns false once the chain is broken (this line or an earlier one);
  // later calls are ignored.
  bool AddLine(std::string_view line, bool terminated);
  // Feeds a line known to be malformed without its content (e.g. longer than kMaxLineBytes).
  bool AddMalformedLine(std::string detail);

  bool ok() const { return result_.ok; }
  // Summary so far. REQUIRES for a final answer: all lines fed.
  const VerifyResult& result() const { return result_; }

  // State of the good prefix (what a writer continues from).
  int64_t lines() const { return lines_; }
  int64_t last_index() const { return last_index_; }
  const std::string& last_hash() const { return result_.latest_hash; }
  // Good lines that are not seals.
  int64_t non_seal_entries() const { return non_seal_entries_; }

 private:
  bool Fail(std::string_view reason, std::string detail);

  VerifyResult result_;
  int64_t lines_ = 0;
  int64_t last_index_ = 0;
  bool last_was_seal_ = false;
  int64_t non_seal_entries_ = 0;
};

// Where a scan over a file stopped, for writer recovery.
struct ScanInfo {
  int64_t file_size = 0;
  int64_t fail_line_begin = 0;  // byte offset of the first bad line (valid when !ok)
  int64_t fail_line_end = 0;    // byte offset just past it (and its '\n', if any)
};

// Verifies the log read from an open file descriptor, from offset 0 to EOF, streaming.
// `verifier` receives every line. Returns false only on a read error (`*error` set).
bool ScanLogFd(int fd, ChainVerifier* verifier, ScanInfo* info, std::string* error);

// Verifies a whole log held in memory.
VerifyResult VerifyLogText(std::string_view text);
// Verifies a log file (streaming). A missing or unreadable file gives reason io_error.
VerifyResult VerifyLogFile(const std::string& path);

}  // namespace vv::audit

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
//   - a checkpoint seal (details.tree_size present; see docs/audit-format.md) also carries
//     the RFC 6962 Merkle root over the entry hashes of every line before it
//                                                                  [merkle_root_mismatch]
//     the previous checkpoint seal's entry_hash, and a C2SP signed-note checkpoint consistent
//     with tree_size and root_hash                                        [seal_mismatch]
//     signed with the pinned key (VerifyOptions::public_key) or, when none is given, with the
//     key named in the seal                                          [seal_signature_invalid]
//     With a pinned key every checkpoint seal must be signed; a legacy seal after a
//     checkpoint seal is refused [seal_mismatch].
//   - the anchored seals (VerifyOptions::anchors): the log's line at each anchored index must
//     be that seal and the Merkle root at its size must match                [fork_detected]
//     and the log must reach the last anchored seal                  [truncated_after_seal]
//   - the file ends with '\n' (a last line without one is a torn write)   [torn_tail]
//   - rotation (docs/audit-format.md section 6): a "log.segment_start" record may only be
//     line 1 and must carry a well-formed link to the previous segment's last seal; when the
//     anchors hold the previous segment's seals, its last anchored seal must be the one the
//     link names                                                     [segment_link_mismatch]
//     Anchors of other segments are not compared with this file; anchors of a LATER segment
//     mean this file is not the live log (unless allow_later_segments) [truncated_after_seal]
//   - the log's checkpoint origin must be the anchored seals' origin (another replica's
//     anchor is refused by name)                                          [origin_mismatch]
// The first bad line stops verification; broken_at is its 1-based line number (0 for an
// io_error or a defect of the anchor itself).
// Without an anchor, truncation at the end of the chain and a whole-chain rewrite can only be
// detected with a pinned key (a rewrite cannot be re-signed) - see docs/audit-format.md.
//
// Never throws, never crashes on garbage; memory is bounded by kMaxLineBytes when reading a file.
// Thread-safety: free functions are reentrant; a ChainVerifier is single-threaded.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/anchor.h"
#include "crypto/crypto.h"
#include "crypto/merkle.h"
#include "json/json.h"

namespace vv::audit {

namespace merkle = crypto::merkle;  // the audit log's tree (crypto/merkle.h)

inline constexpr std::string_view kReasonEntryHashMismatch = "entry_hash_mismatch";
inline constexpr std::string_view kReasonPreviousHashMismatch = "previous_hash_mismatch";
inline constexpr std::string_view kReasonIndexGap = "index_gap";
inline constexpr std::string_view kReasonMalformedLine = "malformed_line";
inline constexpr std::string_view kReasonSealMismatch = "seal_mismatch";
inline constexpr std::string_view kReasonTornTail = "torn_tail";
inline constexpr std::string_view kReasonSealSignatureInvalid = "seal_signature_invalid";
inline constexpr std::string_view kReasonMerkleRootMismatch = "merkle_root_mismatch";
inline constexpr std::string_view kReasonTruncatedAfterSeal = "truncated_after_seal";
inline constexpr std::string_view kReasonForkDetected = "fork_detected";
inline constexpr std::string_view kReasonOriginMismatch = "origin_mismatch";
inline constexpr std::string_view kReasonSegmentLinkMismatch = "segment_link_mismatch";
inline constexpr std::string_view kReasonMissingSegment = "missing_segment";
// The file could not be opened or read (not a chain defect; broken_at is 0).
inline constexpr std::string_view kReasonIoError = "io_error";

inline constexpr std::string_view kSealEventType = "log.sealed";
// Line 1 of every segment after the first (AuditLog::Rotate).
inline constexpr std::string_view kSegmentStartEventType = "log.segment_start";

// The link a segment's first record makes to the previous segment (its details).
struct SegmentLink {
  int64_t segment = 0;             // this segment's number (>= 1)
  int64_t previous_lines = 0;      // lines in the previous segment (its last line is a seal)
  std::string previous_seal_hash;  // entry_hash of that last seal
  std::string origin;              // checkpoint origin of the previous segment
  std::string previous_file;       // file name the previous segment was renamed to (a hint)

  json::Value ToDetails() const;
  // Strict: exactly the keys segment, previous_segment (= segment - 1), previous_lines,
  // previous_seal_hash, origin, previous_file.
  static Result<SegmentLink> FromDetails(const json::Value& details);
};

// Lines longer than this are reported as malformed without being buffered whole.
inline constexpr size_t kMaxLineBytes = 16 * 1024 * 1024;

struct VerifyResult {
  bool ok = true;
  int64_t entries = 0;      // lines verified (seals included); on failure, the good prefix
  std::string latest_hash;  // entry_hash of the last good line, "" when none
  int64_t sealed_size = 0;  // tree_size of the last checkpoint seal (0 when none)
  int64_t seals = 0;        // checkpoint seals verified
  bool unsigned_seals = false;  // some checkpoint seal carries no signature
  std::string signature_key;    // "pinned" / "embedded" when signed seals were verified
  int64_t anchored_size = -1;   // tree_size of the last anchored seal checked (-1: no anchor)
  int64_t broken_at = 0;    // failure only: 1-based line number (0 for io_error / anchor defects)
  std::string reason;       // failure only: one of the kReason* strings
  std::string detail;       // failure only: human-readable explanation

  // {"ok":true,"entries":N,"latest_hash":"...","sealed_size":M} (+ "unsigned_seals":true,
  // "signature_key":..., "anchored_size":... when applicable) or
  // {"ok":false,"broken_at":N,"reason":"...","detail":"..."}.
  json::Value ToJson() const;
};

// One checkpoint seal as seen in the log (what the writer anchors).
using SealInfo = AnchorRecord;

struct VerifyOptions {
  // Pinned seal key: every checkpoint seal must be signed by it.
  std::optional<crypto::Ed25519PublicKey> public_key;
  // Anchored seals to compare the log with (increasing index).
  std::vector<AnchorRecord> anchors;
  // Called for every verified checkpoint seal (the writer republishes unanchored ones).
  std::function<void(const SealInfo&)> on_seal;
  // When set, receives the RFC 6962 leaf hash of every verified line (for proofs).
  std::vector<std::string>* leaf_hashes = nullptr;
  // Anchors of a segment after this file's are accepted (verifying an older segment of a
  // chain); otherwise they mean the file is not the live log [truncated_after_seal].
  bool allow_later_segments = false;
};

// Incremental verifier: feed the lines of a log in order. Used by VerifyLog* and by the
// writer's recovery at open.
class ChainVerifier {
 public:
  ChainVerifier() = default;
  explicit ChainVerifier(VerifyOptions opts);
  // Feeds the next line (without its '\n'). `terminated` is false only for trailing bytes not
  // followed by '\n'. Returns false once the chain is broken (this line or an earlier one);
  // later calls are ignored.
  bool AddLine(std::string_view line, bool terminated);
  // Feeds a line known to be malformed without its content (e.g. longer than kMaxLineBytes).
  bool AddMalformedLine(std::string detail);
  // Call after the last line: checks that the log reaches every anchored seal.
  bool Finish();

  bool ok() const { return result_.ok; }
  // Summary so far. REQUIRES for a final answer: all lines fed.
  const VerifyResult& result() const { return result_; }

  // State of the good prefix (what a writer continues from).
  int64_t lines() const { return lines_; }
  int64_t last_index() const { return last_index_; }
  const std::string& last_hash() const { return result_.latest_hash; }
  // Good lines that are not seals.
  int64_t non_seal_entries() const { return non_seal_entries_; }
  // Good non-seal lines after the last seal.
  int64_t entries_since_seal() const { return entries_since_seal_; }
  // entry_hash of the last checkpoint seal ("" when none).
  const std::string& last_seal_hash() const { return last_seal_hash_; }
  // Merkle tree over the good lines.
  const merkle::CompactTree& tree() const { return tree_; }
  // The segment this log is (0 unless line 1 is a segment start record) and its link.
  int64_t segment() const { return link_.has_value() ? link_->segment : 0; }
  const std::optional<SegmentLink>& link() const { return link_; }
  // Origin of the first checkpoint seal ("" when none).
  const std::string& checkpoint_origin() const { return checkpoint_origin_; }
  // The last good line is a checkpoint seal (a segment that was rotated ends on one).
  bool ends_on_seal() const { return lines_ > 0 && last_seal_hash_ == result_.latest_hash; }

 private:
  bool Fail(std::string_view reason, std::string detail);
  // Checks a checkpoint seal's details. REQUIRES: the legacy seal checks passed.
  bool CheckCheckpointSeal(const json::Value& details, const std::string& entry_hash,
                           const std::string& timestamp);
  // Checks the anchored seal at this line, if any. REQUIRES: line verified, not yet counted.
  bool CheckAnchorAt(int64_t line_no, const std::string& entry_hash);
  // Line 1 was read: keeps the anchors of this file's segment, checks the link against the
  // previous segment's anchored seals. Idempotent.
  bool SelectAnchors();
  bool CheckSegmentStart(int64_t line_no, const json::Value& details);

  VerifyOptions opts_;
  VerifyResult result_;
  int64_t lines_ = 0;
  int64_t last_index_ = 0;
  bool last_was_seal_ = false;
  int64_t non_seal_entries_ = 0;
  int64_t entries_since_seal_ = 0;
  merkle::CompactTree tree_;
  std::string last_seal_hash_;
  bool seen_checkpoint_ = false;  // a checkpoint seal was verified
  size_t next_anchor_ = 0;
  std::optional<SegmentLink> link_;
  std::string checkpoint_origin_;
  std::string anchor_origin_;       // origin of the anchored seals ("" when none / unknown)
  bool anchors_selected_ = false;
  std::optional<AnchorRecord> later_anchor_;  // first anchored seal of a later segment
};

// One segment's file in a chain verification.
struct SegmentReport {
  std::string path;
  int64_t segment = 0;
  VerifyResult result;
};

// Verifies a chain of segments (the rotated files and the live log, in any order: they are
// ordered by the segment number of their first record). Each segment is verified like
// VerifyLogFile against the anchored seals of its segment; consecutive segments must link
// (segment_link_mismatch naming the field), no segment may be missing from 0 to the last
// (missing_segment), two files may not claim one segment. On failure broken_at is the line
// in the failing segment; *segments (optional) receives one report per file verified.
VerifyResult VerifySegmentChain(const std::vector<std::string>& paths, VerifyOptions opts,
                                std::vector<SegmentReport>* segments = nullptr,
                                int64_t* broken_segment = nullptr,
                                std::string* broken_file = nullptr);
// The segment link a log file declares on its first line (nullopt when it has none, is empty
// or line 1 is not a well-formed link: the chain check names that). NotFound when the file
// cannot be opened.
Result<std::optional<SegmentLink>> ReadSegmentLink(const std::string& path);
// The rotated-segment file name for a live log path and a segment number: PATH.NNNNNN.
std::string SegmentPath(const std::string& live_path, int64_t segment);

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
VerifyResult VerifyLogText(std::string_view text, VerifyOptions opts = {});
// Verifies a log file (streaming). A missing or unreadable file gives reason io_error.
VerifyResult VerifyLogFile(const std::string& path, VerifyOptions opts = {});
// Checks the anchored seals themselves (signatures under the same policy as the log's seals,
// checkpoint text consistent with tree_size / root_hash). Returns a failed result naming the
// anchor line (broken_at 0) or an ok result.
VerifyResult CheckAnchors(const std::vector<AnchorRecord>& anchors,
                          const std::optional<crypto::Ed25519PublicKey>& public_key);

}  // namespace vv::audit

#pragma once
// Anchoring of audit-log seals outside the log.
//
// Every seal the writer makes is also published to an AnchorSink as an AnchorRecord. The
// embedded default is FileAnchorSink: an append-only file beside the log (LOG + ".anchor"),
// one canonical-JSON line per seal:
//   {"checkpoint":"<signed note>","entry_hash":"<seal line hash>","index":<seal line number>,
//    "previous_seal_hash":"...","public_key":"<b64 or empty>","root_hash":"<b64>",
//    "sealed_at":"...","tree_size":<N>}
// A verifier compares the log with the anchored seals: a log shorter than an anchored seal is
// truncated (truncated_after_seal); a log whose seal line or Merkle root at an anchored size
// differs has been rewritten (fork_detected). JetStreamAnchorSink (jetstream_anchor.h) is the
// remote implementation (deny_delete, deny_purge, expected-last-subject-sequence appends).
// Thread-safety: AnchorSink implementations must be safe for calls from one thread at a time
// (the AuditLog calls them under its own mutex). Parsers are pure.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "json/json.h"

namespace vv::audit {

struct AnchorRecord {
  // Log segment the seal belongs to (docs/audit-format.md section 6: rotation). 0 for the
  // first segment (and every log that was never rotated); the JSON key "segment" is written
  // only when > 0, so anchors of unrotated logs keep their 8-key format.
  int64_t segment = 0;
  int64_t index = 0;  // line number of the seal in its segment
  std::string entry_hash;  // the seal line's entry_hash
  int64_t tree_size = 0;   // leaves covered (= index - 1)
  std::string root_hash;   // base64 of the 32-byte Merkle root
  std::string checkpoint;  // signed-note text
  std::string public_key;  // base64 Ed25519 public key of the signer, "" when unsigned
  std::string sealed_at;
  std::string previous_seal_hash;

  json::Value ToJson() const;
  // Canonical JSON line, without '\n'.
  std::string ToLine() const;
  static Result<AnchorRecord> FromJson(const json::Value& v);
  static Result<AnchorRecord> FromLine(std::string_view line);
};

// Anchored seals are ordered by (segment, index): true when a comes before b.
inline bool AnchorBefore(const AnchorRecord& a, const AnchorRecord& b) {
  return a.segment != b.segment ? a.segment < b.segment : a.index < b.index;
}
// Same seal position (segment and line).
inline bool SamePosition(const AnchorRecord& a, const AnchorRecord& b) {
  return a.segment == b.segment && a.index == b.index;
}

// Where seals are published besides the log.
class AnchorSink {
 public:
  virtual ~AnchorSink() = default;
  // Appends one seal. Records arrive in increasing index order.
  virtual Status Publish(const AnchorRecord& record) = 0;
  // Appends `records` in order, as Publish would one after the other; *done = how many of them
  // are stored when it returns (on an error, the first *done are). The default calls Publish;
  // the file anchor writes them with one write() and one fdatasync (issue 15: a 500-event batch
  // with audit_seal_every 50 makes 10 seals).
  virtual Status PublishAll(std::span<const AnchorRecord> records, size_t* done);
  // The latest anchored seal, nullopt when none. The writer checks the log against it at open
  // (a shorter or different log is refused) and republishes any later seals.
  virtual std::optional<AnchorRecord> Latest() const = 0;
  // Re-reads the latest anchored seal from the anchor's store (at open and after an outage)
  // and resets the sink's append position to it. Unavailable when the store cannot be
  // reached; DataLoss when it holds something that is not an anchor record.
  virtual Result<std::optional<AnchorRecord>> Refresh() { return Latest(); }
  // True when Publish/Refresh may block on the network: the AuditLog then calls them only
  // from its anchor thread, never on the append path.
  virtual bool remote() const { return false; }
};
// Publish() status contract: Ok = stored (or already stored); Unavailable = outage, the writer
// keeps the seal pending and retries; DataLoss = the anchor already holds a different history
// (fork_detected class), the writer stops sealing.

// Decides where a writer's pending seals continue after the anchor's latest record `head`
// was re-read: `last` is the latest record the writer knows to be anchored (nullopt when
// unknown or none), `pending` its unanchored seals in order. Returns how many leading
// pending seals are already anchored (head is one of them), 0 when head is `last` or there is
// no head and no last. DataLoss (fork_detected) when head is neither: the anchor holds a seal
// this log does not have (a forked or longer history), or it lost anchored seals.
Result<size_t> ReconcileAnchorHead(const std::optional<AnchorRecord>& head,
                                   const std::optional<AnchorRecord>& last,
                                   const std::vector<AnchorRecord>& pending);

// The anchor file's default path for a log.
std::string DefaultAnchorPath(const std::string& log_path);

struct AnchorFile {
  std::vector<AnchorRecord> records;
  bool torn_tail = false;  // the last line had no '\n' (ignored)
};

// Reads an anchor file. An unterminated last line is ignored (torn_tail). A malformed line,
// or records whose index / tree_size do not increase, give InvalidArgument naming the 1-based
// anchor line ("anchor line N: ..."). A missing file gives NotFound.
Result<AnchorFile> LoadAnchorFile(const std::string& path);
// Same, from text.
Result<AnchorFile> ParseAnchorText(std::string_view text);

// FileAnchorSink: appends anchor lines to a file (O_APPEND, fdatasync after each record when
// `sync`). Open() reads the existing file, truncates an unterminated last line, and refuses a
// malformed file. Thread-safety: not synchronised (see AnchorSink). Owns its descriptor.
class FileAnchorSink final : public AnchorSink {
 public:
  static Result<std::unique_ptr<FileAnchorSink>> Open(const std::string& path, bool sync);
  ~FileAnchorSink() override;
  FileAnchorSink(const FileAnchorSink&) = delete;
  FileAnchorSink& operator=(const FileAnchorSink&) = delete;

  Status Publish(const AnchorRecord& record) override;
  Status PublishAll(std::span<const AnchorRecord> records, size_t* done) override;
  std::optional<AnchorRecord> Latest() const override { return latest_; }
  const std::string& path() const { return path_; }

 private:
  FileAnchorSink(std::string path, int fd, bool sync, int64_t size)
      : path_(std::move(path)), fd_(fd), sync_(sync), size_(size) {}

  const std::string path_;
  const int fd_;
  const bool sync_;
  int64_t size_;
  std::optional<AnchorRecord> latest_;
};

}  // namespace vv::audit

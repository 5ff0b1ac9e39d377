#pragma once
// The tamper-evident audit log (reference record format, wire-contract section 8):
// a JSONL file, one canonical-JSON record per line with keys
//   index, timestamp, event_type, actor, details, previous_hash, entry_hash
// entry_hash = SHA-256 hex of the canonical JSON of the six other keys; previous_hash = the
// previous line's entry_hash ("" for the first). Unlike the reference, indices increase by
// exactly one per line (seal lines included), appends are O(1) (the writer keeps the last
// index and hash in memory after verifying the file once at open), and one writer per file
// holds an exclusive lock on the file.
// Thread-safety: AuditLog::Append may be called from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/anchor.h"
#include "audit/anchor_publisher.h"
#include "audit/checkpoint.h"
#include "audit/log_file.h"
#include "audit/sealer.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "crypto/crypto.h"
#include "crypto/merkle.h"
#include "json/json.h"

namespace vv::audit {

namespace merkle = crypto::merkle;  // the audit log's tree (crypto/merkle.h)

// One record for AuditSink::AppendBatch (the strings are borrowed for the call).
struct AuditEntry {
  std::string_view event_type;
  std::string_view actor;
  json::Value details;
};

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Appends one record. Returns a non-OK Status when the record could not be written (the
  // caller fails closed). Never blocks on another record's fsync under kBatch.
  virtual Status Append(std::string_view event_type, std::string_view actor,
                        json::Value details) = 0;
  // Appends `entries` in order, as Append would one after the other, and returns one Status
  // per entry. Stops at the first failure: that entry gets its error and every later one
  // Unavailable (not written). Moves the details out of `entries`. The default calls Append;
  // AuditLog writes the whole batch with one write() under one lock (issue 15).
  virtual std::vector<Status> AppendBatch(std::vector<AuditEntry>& entries);
  // Ok, or why appends are refused now without trying one (a sticky state: the log broken
  // after a failed rollback, a failed fdatasync, DataLoss once the anchor is forked). The
  // gateway's readiness (app/readiness.h) reads it; a transient write error shows only in
  // Append's result.
  virtual Status WriteHealth() const { return Status::Ok(); }
};

struct AuditLogOptions {
  int64_t seal_every = 50;  // >= 1: a seal line after every seal_every non-seal entries
  // > 0: also seal every this many seconds (measured on the Clock's monotonic time) when
  // entries arrived since the last seal; a background thread checks about once a second.
  // 0 = no timer (SealNow() still works).
  int64_t seal_interval_seconds = 0;
  FsyncPolicy fsync = FsyncPolicy::kBatch;
  std::string actor_system = "SYSTEM";  // actor of seal and recovery records
  // Ed25519 seal key file (PEM PKCS#8 or raw 32-byte seed, mode 0400/0600). "" and no
  // seal_key = checkpoints carry the Merkle root but no signature ("unsigned_seals").
  std::string seal_key_path;
  // A key given directly (tests, tools); wins over seal_key_path.
  std::shared_ptr<const crypto::Ed25519PrivateKey> seal_key;
  // A signer given directly (e.g. a Pkcs11SealSigner from OpenSealSigner); wins over both.
  // Its key name must be checkpoint_origin. A seal whose signature fails (HSM unreachable) is
  // not written, and neither is the entry that triggered it: Append returns Unavailable.
  std::shared_ptr<const SealSigner> seal_signer;
  // Checkpoint origin line, also the signature's key name (no spaces, no '+').
  std::string checkpoint_origin = std::string(kDefaultCheckpointOrigin);
  // Anchor: with no external sink, seals go to the file DefaultAnchorPath(path)
  // (path + ".anchor") unless file_anchor is false.
  bool file_anchor = true;
  AnchorSink* anchor_sink = nullptr;  // not owned; must outlive the AuditLog
  // The same, owned jointly with the AuditLog (e.g. a JetStreamAnchorSink); wins over
  // anchor_sink. With either set, the file anchor is not written.
  std::shared_ptr<AnchorSink> shared_anchor_sink;
  // > 0: while seals are pending (anchor outage), they are retried this often (a remote sink
  // from the publisher's thread, a local one from the log file's background tick).
  // 0 = retry only when the next seal is made.
  int64_t anchor_retry_ms = 1000;
  // Called once, from the thread that found it, when the anchor is found to hold a different
  // history (fork: DataLoss, sealing refused from then on), with that status. The gateway
  // counts it in vv_gateway_audit_integrity_failures_total. Must not call back into the log.
  std::function<void(const Status&)> on_integrity_failure;
};

inline constexpr std::string_view kRecoveredEventType = "audit.recovered";

// What AuditLog::Rotate did.
struct RotateResult {
  int64_t sealed_segment = 0;     // the segment that was sealed, anchored and renamed
  std::string rotated_path;       // where it now is (SegmentPath(path, sealed_segment))
  int64_t sealed_lines = 0;       // its lines (the last is the seal the new segment links to)
  std::string last_seal_hash;     // that seal's entry_hash
  int64_t segment = 0;            // the new live segment's number
};

// AuditLog: the file-backed AuditSink.
//
// Open() takes an exclusive flock on the file (a second writer, in this or another process,
// is refused), verifies the existing chain once (streaming) and keeps the last index, the last
// entry_hash and the entry count in memory; after that, each Append builds one line and issues
// one write() on an O_APPEND descriptor: O(1), no re-reading. A torn last line (no trailing
// newline, or unparsable) is truncated at open and an "audit.recovered" record is appended; a
// broken chain anywhere before it makes Open fail with DataLoss (never append to a broken
// chain). A failed write is rolled back (ftruncate) and reported as Unavailable.
//
// Record numbering: index = line number, seals included (unlike the reference's duplicate seal
// indices). After every seal_every-th non-seal entry since the last seal a "log.sealed" line
// follows in the same write(); seal_interval_seconds and SealNow() add time-driven seals.
// A seal is a signed checkpoint (docs/audit-format.md): an RFC 6962 Merkle root over the
// entry hashes of every line before it, in a C2SP signed note. After a seal is written the
// log is fdatasynced and the seal is published to the anchor sink: inline for a local sink,
// from the publisher's thread for a remote one (AnchorSink::remote(), e.g. JetStream), so an
// anchor outage never blocks appends. A failed publish leaves the seal pending: the anchor
// is "lagging" (anchor_status() Unavailable), the publisher retries every
// anchor_retry_ms, re-reads the anchor's head (AnchorSink::Refresh, ReconcileAnchorHead)
// and republishes every missing seal in order. A DataLoss from the anchor (it holds a
// different history: a fork) is sticky: anchor_status() reports it and every later seal -
// and so every append that would trigger one - is refused with DataLoss.
// At Open the log is checked against the latest anchored seal (Refresh): a shorter or
// different log is refused (DataLoss). When the anchor cannot be reached at Open, the check
// is deferred: every seal of the log stays pending until the anchor's head is known.
//
// The parts (issue 13, as leveldb splits its log): the chain itself lives here (line
// numbering, hashes, the Merkle tree, when to seal, Open's verification and recovery,
// rotation); LogFile (log_file.h) is the file - writes with rollback, the fsync policy and the
// log's one background thread (the kBatch flusher, which also runs this log's tick: the seal
// timer and local anchor retries); Sealer (sealer.h) makes the signed checkpoint records;
// AnchorPublisher (anchor_publisher.h) keeps and publishes the pending seals (a remote sink
// from its own thread, so a network outage never delays the file's fdatasync).
//
// Thread-safety: Append and Sync may be called concurrently from any thread. Ownership: the
// object owns the file (descriptor, lock, background thread) and the anchor publisher; the
// Clock must outlive it. The destructor stops both threads, fdatasyncs and releases the lock.
class AuditLog final : public AuditSink {
 public:
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& path,
                                                const AuditLogOptions& opts, const Clock& clock);
  ~AuditLog() override;
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // details must be a JSON object (null is taken as {}); otherwise InvalidArgument.
  Status Append(std::string_view event_type, std::string_view actor, json::Value details) override;
  // One lock, one write() for the whole batch (seals included where they fall), one
  // fdatasync under kAlways. A failed write rolls the whole batch back (none written).
  std::vector<Status> AppendBatch(std::vector<AuditEntry>& entries) override;

  // fdatasyncs everything written so far (any policy).
  Status Sync();

  // Writes a seal now when any line follows the last seal (no-op otherwise).
  Status SealNow();

  // Rotation (docs/audit-format.md section 6): seals the live segment (unless it already
  // ends on a seal), publishes every pending seal to the anchor and waits for it, then
  // (crash-safe: new file written as path.rotating, live file hard-linked as
  // SegmentPath(path, segment), rename over path) continues in a new file whose line 1 is a
  // "log.segment_start" record linking to that seal (hash, line count, origin). Appends wait
  // while it runs (one anchor round trip at most, bounded by the sink's timeout). Nothing
  // changes when the seal cannot be anchored (Unavailable: retry later) or the anchor is
  // forked (DataLoss); NotFound for an empty log, AlreadyExists when the target file exists.
  Result<RotateResult> Rotate();
  // The live segment's number (0 until the first rotation).
  int64_t segment() const;

  // Ok, or the last anchor publishing error: Unavailable while seals are pending after a
  // failure (lagging, retried), DataLoss once the anchor is known to be forked (sticky).
  Status anchor_status() const;
  AnchorState anchor_state() const;
  Status WriteHealth() const override;
  // Publishes pending seals now (blocking on the anchor; tests and shutdown paths).
  void FlushAnchor() { anchor_->Pass(); }
  // The seal signer's public key; nullptr when seals are unsigned.
  const crypto::Ed25519PublicKey* seal_public_key() const {
    return sealer_.signer() ? &sealer_.signer()->public_key() : nullptr;
  }
  // The seal signer (nullptr when seals are unsigned).
  const SealSigner* seal_signer() const { return sealer_.signer(); }

  // Lines in the file (seals included) and the last entry_hash ("" when empty).
  int64_t line_count() const;
  // Successful appends of lines to the file (each one write() of a record, a seal or a whole
  // AppendBatch); for tests.
  uint64_t record_writes() const { return file_->writes(); }
  std::string last_hash() const;
  const std::string& path() const { return path_; }

 private:
  AuditLog(std::string path, const AuditLogOptions& opts, const Clock& clock, Sealer sealer,
           std::unique_ptr<LogFile> file, std::unique_ptr<AnchorPublisher> anchor);

  // Appends the canonical line for one record to *out and returns its entry_hash.
  std::string BuildLineLocked(int64_t index, std::string_view event_type, std::string_view actor,
                              const std::string& details_canonical,
                              const std::string& previous_hash, std::string* out) const
      VV_REQUIRES(mu_);
  // The seal line after line `sealed_index` (entry hash `sealed_hash`) over `tree`, appended
  // to *out (nothing on failure: the signer failed, or the anchor is forked).
  Result<std::string> BuildSealLineLocked(int64_t sealed_index, const std::string& sealed_hash,
                                          const merkle::CompactTree& tree, std::string* out,
                                          AnchorRecord* info) const VV_REQUIRES(mu_);
  // Writes a seal line for the current state and queues it for the anchor.
  Status SealLocked() VV_REQUIRES(mu_);
  // The lines one entry adds (its own, and the seal it triggers) and the chain state after
  // them; built by StageEntryLocked, applied by ApplyEntryLocked.
  struct StagedEntry;
  // Appends the entry's lines to *buf without changing the chain (on failure nothing is
  // appended).
  Status StageEntryLocked(std::string_view event_type, std::string_view actor,
                          const std::string& details_canonical, std::string* buf,
                          StagedEntry* staged) const VV_REQUIRES(mu_);
  // Advances the chain state past a staged entry; its seal's anchor record (if any) goes to
  // *seals, queued by the caller once the bytes are written.
  void ApplyEntryLocked(StagedEntry&& staged, std::vector<AnchorRecord>* seals)
      VV_REQUIRES(mu_);
  // Builds the entry (and the seal it triggers) and writes them.
  Status AppendLocked(std::string_view event_type, std::string_view actor,
                      const std::string& details_canonical) VV_REQUIRES(mu_);
  // Canonical details for a record (null -> {}, invalid UTF-8 replaced), or InvalidArgument.
  static Result<std::string> CanonicalDetails(json::Value& details);
  // The log's background tick (seal timer, local anchor retries), on the file's thread.
  void Tick() VV_EXCLUDES(mu_);

  const std::string path_;
  const AuditLogOptions opts_;
  const Clock& clock_;
  const Sealer sealer_;
  // Lock order: anchor_->io_mutex(), mu_, then the publisher's and the file's own mutexes.
  const std::unique_ptr<LogFile> file_;
  const std::unique_ptr<AnchorPublisher> anchor_;

  mutable Mutex mu_;  // guards the chain state and orders the writes
  int64_t lines_ VV_GUARDED_BY(mu_) = 0;
  int64_t non_seal_entries_ VV_GUARDED_BY(mu_) = 0;
  std::string last_hash_ VV_GUARDED_BY(mu_);
  int64_t entries_since_seal_ VV_GUARDED_BY(mu_) = 0;
  int64_t segment_ VV_GUARDED_BY(mu_) = 0;
  std::string last_seal_hash_ VV_GUARDED_BY(mu_);
  merkle::CompactTree tree_ VV_GUARDED_BY(mu_);  // over every line
  int64_t last_seal_mono_us_ VV_GUARDED_BY(mu_) = 0;
};

}  // namespace vv::audit

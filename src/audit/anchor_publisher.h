#pragma once
// The audit log's anchor publisher (issue 13: AuditLog split): keeps the seals written to the
// log but not yet anchored, publishes them in order to the AnchorSink (an external sink, or
// the file anchor beside the log), and tracks where the anchoring stands. After a failure the
// seals stay pending ("lagging"), and the next pass re-reads the anchor's head
// (AnchorSink::Refresh, ReconcileAnchorHead) and republishes every missing seal in order. A
// DataLoss from the anchor (it holds a different history: a fork) is sticky: SealAllowed()
// refuses every later seal. Before each publish the log is made durable (`durable`): an
// anchored seal must never be lost from the log.
//
// A local sink is published inline by Kick() (a file append); a remote one (AnchorSink::
// remote(), e.g. JetStream) from the publisher's own thread, so an anchor outage never blocks
// appends and never delays the log's fdatasync (the log file's background thread keeps its
// 20 ms cadence). Local retries after a failure run on the log's background tick (RetryTick).
//
// Thread-safety: every method may be called from any thread. io_mu_ serialises the sink's
// calls (a pass, a rotation's PublishAllLocked); mu_ guards the state and is held only
// briefly. Lock order: io_mu_, then the AuditLog's chain mutex, then mu_. Ownership: owns the
// file anchor (when used), shares an external shared sink; a raw sink must outlive it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/anchor.h"
#include "common/mutex.h"
#include "common/status.h"

namespace vv::audit {

// Where the anchoring stands (AuditLog::anchor_state()).
struct AnchorState {
  bool configured = false;       // the log has an anchor sink
  bool forked = false;           // the anchor holds a different history: sealing is refused
  bool lagging = false;          // seals are waiting to be anchored after a failure
  int64_t pending_seals = 0;     // seals written to the log but not yet anchored
  int64_t last_anchored_index = 0;  // line of the latest seal known anchored (0: none/unknown)
  Status status;                 // Ok, Unavailable (lagging) or DataLoss (forked)
};

struct AnchorPublisherOptions {
  std::shared_ptr<AnchorSink> shared_sink;  // wins over sink
  AnchorSink* sink = nullptr;               // not owned
  bool file_anchor = true;                  // neither given: the file DefaultAnchorPath(log)
  bool file_anchor_sync = true;             // fdatasync the file anchor after each record
  int64_t retry_ms = 1000;                  // > 0: retry pending seals this often
  std::function<void(const Status&)> on_integrity_failure;  // once, when a fork is found
};

class AnchorPublisher {
 public:
  // Opens the anchor for the log at `log_path` and reads its head (head_at_open()). DataLoss
  // when the anchor is forked; an unreachable remote head defers the check (lagging: every
  // seal stays pending until the head is known).
  static Result<std::unique_ptr<AnchorPublisher>> Open(const std::string& log_path,
                                                       AnchorPublisherOptions opts);
  ~AnchorPublisher();
  AnchorPublisher(const AnchorPublisher&) = delete;
  AnchorPublisher& operator=(const AnchorPublisher&) = delete;

  bool configured() const { return sink_ != nullptr; }
  bool remote() const { return sink_ != nullptr && sink_->remote(); }
  // The anchor's latest seal read at open (nullopt: none, or unknown when lagging).
  const std::optional<AnchorRecord>& head_at_open() const { return head_at_open_; }

  // Starts publishing the seals the log's scan found unanchored: a local sink now (inline), a
  // remote one on its thread. `durable` makes the log durable (nullptr: nothing to do).
  void Start(std::vector<AnchorRecord> unanchored, std::function<Status()> durable)
      VV_EXCLUDES(io_mu_, mu_);
  // Stops and joins the thread (idempotent).
  void Stop();

  // A seal line is in the log: queue its record (no-op when not configured).
  void Queue(AnchorRecord record) VV_EXCLUDES(mu_);
  // Ok, or the sticky DataLoss of a forked anchor.
  Status SealAllowed() const VV_EXCLUDES(mu_);
  // After seals were queued: publishes inline (local) or wakes the thread (remote). Blocks
  // on a local sink only.
  void Kick() VV_EXCLUDES(io_mu_, mu_);
  // One pass now, whatever the sink (blocking; tests and shutdown paths).
  void Pass() VV_EXCLUDES(io_mu_, mu_);
  // The log's background tick: a pass when a local sink has pending seals and retry_ms has
  // passed since the last attempt.
  void RetryTick() VV_EXCLUDES(io_mu_, mu_);
  // Rotation: publishes every pending seal and waits (its caller holds io_mutex()). Ok when
  // nothing is pending afterwards.
  Status PublishAllLocked() VV_REQUIRES(io_mu_) VV_EXCLUDES(mu_);
  Mutex& io_mutex() VV_RETURN_CAPABILITY(io_mu_) { return io_mu_; }

  AnchorState state() const VV_EXCLUDES(mu_);
  Status status() const VV_EXCLUDES(mu_);

 private:
  AnchorPublisher(AnchorPublisherOptions opts, std::unique_ptr<FileAnchorSink> own,
                  AnchorSink* sink);
  // Publishes `batch` in order, re-reading the anchor's head first when !synced. *done = how
  // many were anchored.
  Status PublishBatch(const std::vector<AnchorRecord>& batch,
                      const std::optional<AnchorRecord>& last, bool synced, size_t* done)
      VV_REQUIRES(io_mu_);
  // One pass: durable, then PublishBatch, then the result recorded.
  void PassLocked() VV_REQUIRES(io_mu_) VV_EXCLUDES(mu_);
  // Records a PublishBatch outcome; returns the fork error when it newly found one.
  Status ApplyResultLocked(const std::vector<AnchorRecord>& batch, size_t done,
                           const Status& err) VV_REQUIRES(mu_);
  void Report(const Status& newly_forked) const;
  void Loop();

  const AnchorPublisherOptions opts_;
  std::unique_ptr<FileAnchorSink> own_;
  AnchorSink* const sink_;  // own_, opts_.shared_sink or opts_.sink; nullptr = none
  std::optional<AnchorRecord> head_at_open_;
  std::function<Status()> durable_;  // set by Start, before any pass

  Mutex io_mu_ VV_ACQUIRED_BEFORE(mu_);
  mutable Mutex mu_;
  std::vector<AnchorRecord> pending_ VV_GUARDED_BY(mu_);
  Status error_ VV_GUARDED_BY(mu_);
  Status forked_ VV_GUARDED_BY(mu_);  // sticky DataLoss
  bool synced_ VV_GUARDED_BY(mu_) = false;  // the sink's head is known
  std::optional<AnchorRecord> last_anchored_ VV_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point last_attempt_ VV_GUARDED_BY(io_mu_);
  std::atomic<bool> queued_{false};  // a seal was queued since the last pass

  // Remote sinks: the publishing thread.
  Mutex cv_mu_;
  CondVar cv_;
  bool kick_ VV_GUARDED_BY(cv_mu_) = false;
  bool stop_ VV_GUARDED_BY(cv_mu_) = false;
  std::thread thread_;
};

}  // namespace vv::audit

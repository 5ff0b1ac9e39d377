#pragma once
// Readiness: the one place that decides whether the gateway can serve requests (issue 14
// item 1). /healthz and /readyz on the HTTPS listener and /readyz on the probe listener all
// answer from it, and the request path feeds it: every audit append and queue publish outcome
// is reported (ObservedAuditSink / ObservedPublisher wrap the real backends once, at wiring),
// so the health endpoints answer 503 whenever requests get 503.
//
// A component is not ready when
//   * its probe fails (queue Health, nonce store / rate limiter PING, graph store, and the
//     audit log's WriteHealth: broken, fdatasync failed, anchor forked), or
//   * the request path reported a failure of it within the last failure_window_seconds and
//     no success since (an append that failed on a full disk, a publish that timed out). The
//     window lets a replica that no longer gets traffic (because it is not ready) come back
//     once the backend recovers, instead of staying out of rotation for ever.
// Components are checked in registration order; the verdict names the first failing one.
// Probe results are cached for probe_cache_ms so a flood of unauthenticated /readyz requests
// (probe listener) costs at most one backend round trip per interval.
//
// Thread-safety: every member may be called from any thread. Ownership: probes are owned
// (their captures must outlive the model); the Clock is borrowed.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "queue/queue.h"

namespace vv::app {

struct ReadinessOptions {
  int64_t probe_cache_ms = 1000;
  int64_t failure_window_seconds = 30;
};

// The answer. `reason` is a fixed code safe for any caller (no configuration details):
// audit_anchor_forked, audit_unavailable, queue_unavailable, nonce_store_unavailable,
// rate_limiter_unavailable, graph_store_unavailable. `detail` is the precise status message
// (may name paths and hosts: for pinned callers, logs and the audit log only).
struct ReadinessVerdict {
  bool ready = true;
  std::string component;  // "" when ready
  std::string reason;
  std::string detail;
};

class Readiness {
 public:
  explicit Readiness(const Clock& clock, ReadinessOptions options = {});

  // Registers a component: `name` (e.g. "queue"), the reason code reported when it fails, and
  // its probe (nullptr = only reported outcomes count). Call during wiring, before serving.
  void AddComponent(std::string name, std::string reason, std::function<Status()> probe);
  // The same with the reason code chosen from the failing status (e.g. AuditReason).
  void AddComponent(std::string name, std::function<std::string(const Status&)> reason,
                    std::function<Status()> probe);
  // A request-path outcome for a registered component (unknown names are ignored).
  void Report(std::string_view component, const Status& outcome);
  // The verdict now (probes at most every probe_cache_ms).
  ReadinessVerdict Check();

 private:
  // What a component is, fixed at wiring; shared with a prober that calls `probe` unlocked.
  struct Spec {
    std::string name;
    std::function<std::string(const Status&)> reason;
    std::function<Status()> probe;
  };
  // What is known of it now: reachable only through components_, so only under mu_.
  struct Component {
    std::shared_ptr<const Spec> spec;
    Status probed;          // the cached probe result
    Status last_failure;    // reported, until a reported success
    int64_t last_failure_mono_us = 0;
  };
  const Clock& clock_;
  const ReadinessOptions options_;
  Mutex probe_mu_ VV_ACQUIRED_BEFORE(mu_);  // one prober at a time; the others use its results
  Mutex mu_;
  std::vector<Component> components_ VV_GUARDED_BY(mu_);
  int64_t probed_at_mono_us_ VV_GUARDED_BY(mu_) = 0;
  bool probed_once_ VV_GUARDED_BY(mu_) = false;
};

// The reason code for an audit log failure: a DataLoss (the anchor holds a different
// history) is audit_anchor_forked, anything else audit_unavailable.
std::string AuditReason(const Status& s);

// An AuditSink that reports every Append outcome (and WriteHealth) to a Readiness under the
// component name "audit". Borrows both.
class ObservedAuditSink final : public audit::AuditSink {
 public:
  ObservedAuditSink(audit::AuditSink& inner, Readiness& readiness)
      : inner_(inner), readiness_(readiness) {}
  Status Append(std::string_view event_type, std::string_view actor,
                json::Value details) override;
  std::vector<Status> AppendBatch(std::vector<audit::AuditEntry>& entries) override;
  Status WriteHealth() const override { return inner_.WriteHealth(); }

 private:
  audit::AuditSink& inner_;
  Readiness& readiness_;
};

// A Publisher that reports every publish outcome to a Readiness under the component name
// "queue". Borrows both.
class ObservedPublisher final : public queue::Publisher {
 public:
  ObservedPublisher(queue::Publisher& inner, Readiness& readiness)
      : inner_(inner), readiness_(readiness) {}
  void Publish(queue::Envelope envelope, queue::PublishCallback done) override;
  // Hands the batch on whole (the default would split it into single publishes, losing the
  // embedded queue's one-commit batch); reported when it holds an ingest envelope.
  void PublishBatch(std::vector<queue::Envelope> envelopes,
                    queue::PublishBatchCallback done) override;
  Status Health() const override { return inner_.Health(); }

 private:
  queue::Publisher& inner_;
  Readiness& readiness_;
};

}  // namespace vv::app

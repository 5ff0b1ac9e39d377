#include "app/readiness.h"

namespace vv::app {

Readiness::Readiness(const Clock& clock, ReadinessOptions options)
    : clock_(clock), options_(options) {}

void Readiness::AddComponent(std::string name, std::string reason,
                             std::function<Status()> probe) {
  AddComponent(std::move(name), [reason](const Status&) { return reason; }, std::move(probe));
}

void Readiness::AddComponent(std::string name,
                             std::function<std::string(const Status&)> reason,
                             std::function<Status()> probe) {
  auto spec = std::make_shared<Spec>();
  spec->name = std::move(name);
  spec->reason = std::move(reason);
  spec->probe = std::move(probe);
  MutexLock l(&mu_);
  components_.push_back(Component{std::move(spec), Status::Ok(), Status::Ok(), 0});
}

void Readiness::Report(std::string_view component, const Status& outcome) {
  MutexLock l(&mu_);
  for (Component& c : components_) {
    if (c.spec->name != component) continue;
    if (outcome.ok()) {
      c.last_failure = Status::Ok();
    } else {
      c.last_failure = outcome;
      c.last_failure_mono_us = clock_.MonotonicMicros();
    }
    return;
  }
}

ReadinessVerdict Readiness::Check() {
  {
    // Probe outside mu_ (a backend round trip must not block Report on the request path);
    // probe_mu_ makes concurrent checks wait for one prober and reuse its results.
    MutexLock pl(&probe_mu_);
    // (index in components_, its spec): the spec is immutable, its probe called unlocked.
    std::vector<std::pair<size_t, std::shared_ptr<const Spec>>> due;
    {
      MutexLock l(&mu_);
      const int64_t now = clock_.MonotonicMicros();
      if (!probed_once_ || now - probed_at_mono_us_ >= options_.probe_cache_ms * 1000) {
        for (size_t i = 0; i < components_.size(); ++i)
          if (components_[i].spec->probe) due.emplace_back(i, components_[i].spec);
      }
    }
    if (!due.empty()) {
      std::vector<Status> results;
      results.reserve(due.size());
      for (auto& d : due) results.push_back(d.second->probe());
      MutexLock l(&mu_);
      for (size_t i = 0; i < due.size(); ++i) components_[due[i].first].probed = results[i];
      probed_at_mono_us_ = clock_.MonotonicMicros();
      probed_once_ = true;
    }
  }
  MutexLock l(&mu_);
  const int64_t now = clock_.MonotonicMicros();
  for (const Component& c : components_) {
    Status why = c.probed;
    if (why.ok() && !c.last_failure.ok() &&
        now - c.last_failure_mono_us < options_.failure_window_seconds * 1000000) {
      why = c.last_failure;
    }
    if (why.ok()) continue;
    ReadinessVerdict v;
    v.ready = false;
    v.component = c.spec->name;
    v.reason = c.spec->reason(why);
    v.detail = why.message();
    return v;
  }
  return ReadinessVerdict{};
}

std::string AuditReason(const Status& s) {
  return s.code() == StatusCode::kDataLoss ? "audit_anchor_forked" : "audit_unavailable";
}

Status ObservedAuditSink::Append(std::string_view event_type, std::string_view actor,
                                 json::Value details) {
  Status s = inner_.Append(event_type, actor, std::move(details));
  // A refused record (details not an object) is the caller's bug, not the log's health.
  if (s.code() != StatusCode::kInvalidArgument) readiness_.Report("audit", s);
  return s;
}

std::vector<Status> ObservedAuditSink::AppendBatch(std::vector<audit::AuditEntry>& entries) {
  std::vector<Status> out = inner_.AppendBatch(entries);
  // One report for the batch: its first failure (the batch stops there), else OK; a refused
  // record is the caller's bug, as in Append.
  Status first;
  for (const Status& s : out) {
    if (!s.ok()) {
      first = s;
      break;
    }
  }
  if (!out.empty() && first.code() != StatusCode::kInvalidArgument) readiness_.Report("audit", first);
  return out;
}

void ObservedPublisher::Publish(queue::Envelope envelope, queue::PublishCallback done) {
  // Only ingest publishes decide 202 vs 503; a failed dead letter still gets its 422.
  if (envelope.kind != queue::Kind::kIngest) {
    inner_.Publish(std::move(envelope), std::move(done));
    return;
  }
  inner_.Publish(std::move(envelope),
                 [this, done = std::move(done)](Status s, queue::PublishOutcome o) {
                   readiness_.Report("queue", s);
                   done(std::move(s), o);
                 });
}

void ObservedPublisher::PublishBatch(std::vector<queue::Envelope> envelopes,
                                     queue::PublishBatchCallback done) {
  bool has_ingest = false;
  for (const queue::Envelope& e : envelopes) has_ingest |= e.kind == queue::Kind::kIngest;
  if (!has_ingest) {
    inner_.PublishBatch(std::move(envelopes), std::move(done));
    return;
  }
  inner_.PublishBatch(std::move(envelopes),
                      [this, done = std::move(done)](Status s,
                                                     std::vector<queue::PublishOutcome> o) {
                        readiness_.Report("queue", s);
                        done(std::move(s), std::move(o));
                      });
}

}  // namespace vv::app

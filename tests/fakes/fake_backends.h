#pragma once
// In-process fakes for the gateway's seams: a Publisher that records envelopes (and can be
// told to fail or to treat dedupe ids as duplicates), an AuditSink that records entries (and
// can fail). Thread-safe.

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "queue/queue.h"

namespace vv::testing {

class RecordingPublisher final : public queue::Publisher {
 public:
  void Publish(queue::Envelope envelope, queue::PublishCallback done) override {
    Status s;
    queue::PublishOutcome outcome = queue::PublishOutcome::kStored;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (fail_) {
        s = Status::Unavailable("injected publish failure");
      } else if (!envelope.dedupe_id.empty() && !dedupe_.insert(envelope.dedupe_id).second) {
        outcome = queue::PublishOutcome::kDuplicate;
      } else if (envelope.kind == queue::Kind::kIngest) {
        ingest_.push_back(std::move(envelope));
      } else {
        dlq_.push_back(std::move(envelope));
      }
    }
    done(s, outcome);
  }
  Status Health() const override {
    std::lock_guard<std::mutex> l(mu_);
    return fail_ ? Status::Unavailable("injected") : Status::Ok();
  }
  void SetFail(bool f) {
    std::lock_guard<std::mutex> l(mu_);
    fail_ = f;
  }
  std::vector<queue::Envelope> ingest() const {
    std::lock_guard<std::mutex> l(mu_);
    return ingest_;
  }
  std::vector<queue::Envelope> dlq() const {
    std::lock_guard<std::mutex> l(mu_);
    return dlq_;
  }

 private:
  mutable std::mutex mu_;
  bool fail_ = false;
  std::set<std::string> dedupe_;
  std::vector<queue::Envelope> ingest_, dlq_;
};

struct AuditRecord {
  std::string event_type;
  std::string actor;
  json::Value details;
};

class RecordingAuditSink final : public audit::AuditSink {
 public:
  Status Append(std::string_view event_type, std::string_view actor,
                json::Value details) override {
    std::lock_guard<std::mutex> l(mu_);
    if (fail_) return Status::Unavailable("injected audit failure");
    if (fail_after_ >= 0 && static_cast<int64_t>(records_.size()) >= fail_after_)
      return Status::Unavailable("injected audit failure after " + std::to_string(fail_after_) +
                                 " records");
    records_.push_back({std::string(event_type), std::string(actor), std::move(details)});
    return Status::Ok();
  }
  // Records the size of each batch, then appends its records one by one (AuditSink's default).
  std::vector<Status> AppendBatch(std::vector<audit::AuditEntry>& entries) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      batch_sizes_.push_back(entries.size());
    }
    return AuditSink::AppendBatch(entries);
  }
  std::vector<size_t> batch_sizes() const {
    std::lock_guard<std::mutex> l(mu_);
    return batch_sizes_;
  }
  void SetFail(bool f) {
    std::lock_guard<std::mutex> l(mu_);
    fail_ = f;
  }
  // Every append fails once `n` records are held (n < 0: never); the earlier ones succeed.
  void FailAfter(int64_t n) {
    std::lock_guard<std::mutex> l(mu_);
    fail_after_ = n;
  }
  // What WriteHealth() reports (e.g. DataLoss for a forked anchor); Ok by default.
  void SetWriteHealth(Status s) {
    std::lock_guard<std::mutex> l(mu_);
    write_health_ = std::move(s);
  }
  Status WriteHealth() const override {
    std::lock_guard<std::mutex> l(mu_);
    return write_health_;
  }
  std::vector<AuditRecord> records() const {
    std::lock_guard<std::mutex> l(mu_);
    return records_;
  }

 private:
  int64_t fail_after_ = -1;
  mutable std::mutex mu_;
  bool fail_ = false;
  Status write_health_;
  std::vector<AuditRecord> records_;
  std::vector<size_t> batch_sizes_;
};

}  // namespace vv::testing

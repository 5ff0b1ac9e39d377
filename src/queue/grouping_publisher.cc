#include "queue/grouping_publisher.h"

#include <algorithm>
#include <utility>

namespace vv::queue {

GroupingPublisher::GroupingPublisher(std::unique_ptr<Publisher> inner,
                                     std::shared_ptr<const EnvelopeSigner> signer,
                                     GroupingPublisherOptions options)
    : inner_(std::move(inner)), signer_(std::move(signer)), options_([&] {
        options.max_pending = std::max<size_t>(options.max_pending, 1);
        options.max_group = std::clamp<size_t>(options.max_group, 1,
                                               static_cast<size_t>(kEnvelopeBatchMaxSize));
        return options;
      }()) {
  grouper_ = std::thread([this] { GrouperLoop(); });
}

GroupingPublisher::~GroupingPublisher() {
  {
    MutexLock l(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  grouper_.join();  // everything pending is with `inner` now
  // Completes or fails every message it holds (JetStream: acks awaited up to its drain
  // timeout, the rest failed); no completion can arrive after this.
  inner_.reset();
  completions_.Stop();  // every completion has run
}

void GroupingPublisher::Publish(Envelope envelope, PublishCallback done) {
  // Serialised here, on the calling thread (the grouper is one thread for every publisher):
  // the grouper only hashes, signs once and splices the signature in.
  Pending p = MakePendingPublish(std::move(envelope), std::move(done), signer_ != nullptr);
  const char* refused = nullptr;
  bool wake = false;
  {
    MutexLock l(&mu_);
    if (stopping_) {
      refused = "Telemetry queue publish failed: shutting down";
    } else if (pending_.size() >= options_.max_pending) {
      refused = "Telemetry queue publish failed: too many publishes waiting to be signed";
    } else {
      // The grouper sleeps while nothing is pending or the in-flight bound is reached. Only
      // the publish that ends "nothing pending" below the bound wakes it; while a group awaits
      // its acks, the last ack wakes it (CompleteLater) - a wake-up per publish meanwhile
      // was a futex call and two context switches each, for nothing (issue 15: JetStream
      // path 3.7 futex calls and 3.2 context switches a request).
      wake = pending_.empty() && !FlightFull();
      pending_.push_back(std::move(p));
    }
  }
  if (refused != nullptr) {
    p.done(Status::Unavailable(refused), PublishOutcome::kStored);
    return;
  }
  if (wake) cv_.Signal();
}

void GroupingPublisher::PublishBatch(std::vector<Envelope> envelopes, PublishBatchCallback done) {
  if (envelopes.empty()) {
    done(Status::Ok(), {});
    return;
  }
  {
    MutexLock l(&mu_);
    if (stopping_) {
      l.Unlock();
      done(Status::Unavailable("Telemetry queue publish failed: shutting down"), {});
      return;
    }
  }
  if (signer_ != nullptr) signer_->SignBatchForWire(&envelopes);
  if (options_.on_group) options_.on_group(envelopes.size());
  inner_->PublishBatch(std::move(envelopes), CompleteLater(std::move(done)));
}

Status GroupingPublisher::Health() const {
  {
    MutexLock l(&mu_);
    if (stopping_) return Status::Unavailable("queue publisher is shutting down");
  }
  return inner_->Health();
}

uint64_t GroupingPublisher::groups() const {
  MutexLock l(&mu_);
  return groups_;
}

uint64_t GroupingPublisher::idle_wakeups() const {
  MutexLock l(&mu_);
  return idle_wakeups_;
}

void GroupingPublisher::GrouperLoop() {
  std::vector<Pending> group;
  for (;;) {
    {
      MutexLock l(&mu_);
      const auto idle = [&]() VV_REQUIRES(mu_) { return pending_.empty() || FlightFull(); };
      while (!stopping_ && idle()) {
        cv_.Wait(&mu_);
        if (!stopping_ && idle()) ++idle_wakeups_;
      }
      if (pending_.empty()) return;  // stopping, and everything was handed on
      const size_t n = std::min(pending_.size(), options_.max_group);
      group.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        group.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
      ++groups_;
      ++groups_in_flight_;
    }
    if (signer_ != nullptr) SignPendingGroup(*signer_, group);
    if (options_.on_group) options_.on_group(group.size());
    auto acks_out = std::make_shared<std::atomic<size_t>>(group.size());
    for (Pending& p : group) {
      p.envelope.wire = std::move(p.wire_bytes);
      inner_->Publish(std::move(p.envelope), CompleteLater(std::move(p.done), acks_out));
    }
    group.clear();
  }
}

PublishCallback GroupingPublisher::CompleteLater(PublishCallback done,
                                                 std::shared_ptr<std::atomic<size_t>> group) {
  return [this, done = std::move(done), group = std::move(group)](Status s,
                                                                  PublishOutcome o) mutable {
    if (group != nullptr && group->fetch_sub(1) == 1) {  // the group's last ack: it has landed
      bool wake = false;
      {
        MutexLock l(&mu_);
        --groups_in_flight_;
        wake = !pending_.empty();  // else the next publish wakes the grouper
      }
      if (wake) cv_.Signal();
    }
    Completion c;
    c.done = std::move(done);
    c.status = std::move(s);
    c.outcome = o;
    completions_.Post(std::move(c));
  };
}

PublishBatchCallback GroupingPublisher::CompleteLater(PublishBatchCallback done) {
  return [this, done = std::move(done)](Status s, std::vector<PublishOutcome> o) mutable {
    Completion c;
    c.batch_done = std::move(done);
    c.status = std::move(s);
    c.outcomes = std::move(o);
    completions_.Post(std::move(c));
  };
}

// Everything that completed while the previous run was busy runs in one CompletionBatch (the
// gateway's audit records of the run are appended together, then each request is answered).
void GroupingPublisher::Completion::Run(Completion& c) {
  if (c.batch_done) {
    c.batch_done(std::move(c.status), std::move(c.outcomes));
  } else {
    c.done(std::move(c.status), c.outcome);
  }
}

}  // namespace vv::queue

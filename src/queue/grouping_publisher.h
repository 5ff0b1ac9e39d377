#pragma once
// GroupingPublisher: group commit in front of a publisher that stores and acknowledges each
// message on its own - JetStream, one PubAck per message (issue 15). The embedded queue groups
// inside its writer; this gives the JetStream path the same shape:
//
//   Publish (io threads)  -> pending -> grouper thread: once the previous group's acks are
//                            back (options.max_groups_in_flight), everything pending is ONE
//                            group, signed with ONE signature (SignedWireBytes: a group of one
//                            is plain ed25519, more are ed25519-merkle-v1, envelope_auth.h) and
//                            handed to `inner` message by message (JetStream async publish)
//   inner's completions   -> completion thread (common/completion_thread.h): every completion
//   (any thread)             waiting when it wakes runs inside ONE CompletionBatch, so the
//                            gateway appends their audit records with one write and posts
//                            their answers together, instead of one write and one wake-up each
//
// Publishing from the io threads and completing on the library's thread directly (the
// SigningPublisher this replaces) cost one Ed25519 signature, one audit write and one
// cross-thread post per request; under load these are paid once per group.
// PublishBatch is a group already: signed on the calling thread with one signature and handed
// to inner->PublishBatch as it is; its completion goes through the completion thread too.
// An envelope that arrives signed (auth set or wire bytes built) is passed on as it is.
//
// Bounds: at most options.max_pending publishes wait for the grouper (more are refused at once
// with Unavailable, like a full embedded queue); a group is at most options.max_group envelopes;
// at most options.max_groups_in_flight groups wait for their acks (the next group forms
// meanwhile). Shutdown does not wait for the acks before handing everything on.
// Thread-safety: thread-safe. Callbacks run on the completion thread, never inside Publish.
// Destruction: new publishes are refused, everything pending is handed to `inner`, `inner` is
// destroyed (it completes or fails what it holds: JetStream waits for the acks up to its drain
// timeout), then every completion runs; no callback is lost or called twice.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "common/completion_thread.h"
#include "common/mutex.h"
#include "queue/envelope_auth.h"
#include "queue/queue.h"

namespace vv::queue {

struct GroupingPublisherOptions {
  size_t max_pending = 65536;  // publishes waiting for the grouper
  size_t max_group = 1024;     // envelopes under one signature (<= kEnvelopeBatchMaxSize)
  // Groups handed to `inner` whose acknowledgements are not all back; the grouper forms the
  // next group only below this (self-clocking, as the embedded queue's writer waits for its
  // fsync): under load the publishes that arrive during an ack round trip share one
  // signature, an idle gateway's publish goes out at once. 0 = no bound (a group as soon as
  // the previous one is handed on). Measured (bench/README.md, 2026-12-07 night), Redis +
  // JetStream at 64 connections: 1 -> groups of 6-7, 4.2-4.9k req/s, 210-254 us CPU a request;
  // 2 -> groups of 3, 3.6-4.0k; 0 -> groups of 1.5, 3.2-4.0k req/s, 267-346 us.
  size_t max_groups_in_flight = 1;
  // Told the size of every group handed to `inner` (single publishes signed together, or one
  // PublishBatch), on the grouper's or the publishing thread. Must be cheap. nullptr = not told.
  std::function<void(size_t)> on_group;
};

class GroupingPublisher final : public Publisher {
 public:
  // `signer` may be null: envelopes are passed on unsigned, completions still grouped.
  GroupingPublisher(std::unique_ptr<Publisher> inner, std::shared_ptr<const EnvelopeSigner> signer,
                    GroupingPublisherOptions options = {});
  ~GroupingPublisher() override;
  GroupingPublisher(const GroupingPublisher&) = delete;
  GroupingPublisher& operator=(const GroupingPublisher&) = delete;

  void Publish(Envelope envelope, PublishCallback done) override;
  void PublishBatch(std::vector<Envelope> envelopes, PublishBatchCallback done) override;
  // Unavailable once shutting down, else the inner publisher's health.
  Status Health() const override;

  // Groups handed to `inner` so far (for tests and metrics).
  uint64_t groups() const;
  // Times the grouper thread woke and found no group it may form (nothing pending, or the
  // in-flight bound reached): each a futex wake-up and two context switches for nothing. A
  // publish wakes the grouper only when it can form a group (for tests).
  uint64_t idle_wakeups() const;

 private:
  using Pending = PendingPublish;
  // A completion waiting for the completion thread: a message's or a batch's.
  struct Completion {
    PublishCallback done;
    PublishBatchCallback batch_done;
    Status status;
    PublishOutcome outcome = PublishOutcome::kStored;
    std::vector<PublishOutcome> outcomes;
    static void Run(Completion& c);
  };
  // Callbacks for `inner` that complete `done` on the completion thread; `group`, when set,
  // counts the group's acks still out (the last one ends the group's flight).
  PublishCallback CompleteLater(PublishCallback done,
                                std::shared_ptr<std::atomic<size_t>> group = nullptr);
  PublishBatchCallback CompleteLater(PublishBatchCallback done);

  void GrouperLoop();
  // options_.max_groups_in_flight groups await their acks (never, for a bound of 0).
  bool FlightFull() const VV_REQUIRES(mu_) {
    return options_.max_groups_in_flight > 0 &&
           groups_in_flight_ >= options_.max_groups_in_flight;
  }

  std::unique_ptr<Publisher> inner_;
  const std::shared_ptr<const EnvelopeSigner> signer_;
  const GroupingPublisherOptions options_;

  mutable Mutex mu_;
  CondVar cv_;
  std::deque<Pending> pending_ VV_GUARDED_BY(mu_);
  bool stopping_ VV_GUARDED_BY(mu_) = false;
  uint64_t groups_ VV_GUARDED_BY(mu_) = 0;
  size_t groups_in_flight_ VV_GUARDED_BY(mu_) = 0;
  uint64_t idle_wakeups_ VV_GUARDED_BY(mu_) = 0;

  // Unbounded: inner's completions arrive on a library thread that must not block.
  CompletionThread<Completion> completions_{&Completion::Run};

  std::thread grouper_;
};

}  // namespace vv::queue

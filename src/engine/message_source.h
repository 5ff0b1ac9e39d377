#pragma once
// MessageSource: where the processing engine gets queued ingest envelopes from, with
// at-least-once semantics (a fetched message comes back until it is acked).
//
//   EmbeddedSource   the embedded SQLite queue. Fetch reads the oldest unacked ingest rows
//                    through a connection of its own (queue::EmbeddedDeliveryReader) and counts
//                    their delivery in the same transaction, as EmbeddedQueue::FetchUnacked
//                    does, but does not parse the bodies: the engine re-parses them anyway (so `envelope` is
//                    left empty), and a corrupt body is handed to the engine (which
//                    dead-letters it) instead of failing the batch and blocking the queue.
//                    Deliveries come from that fetch (delivery_count); Ack / AckBatch go
//                    through the queue (EmbeddedQueue::Ack / AckBatch).
//                    The fetch's connection runs synchronous=NORMAL (one fsync less per
//                    batch): a power loss may forget the last delivery counts (a message is
//                    then delivered once more than counted before it is dead-lettered); acks
//                    and stored evidence stay synchronous=FULL.
//                    The embedded queue has no in-flight leases: two consumers would both get
//                    every message. Open() therefore takes an exclusive lock on
//                    `<queue_path>.consumer.lock` (flock, released when the process exits,
//                    also on a crash) and refuses a second engine on the same file.
//                    Retention (queue_retention_seconds): acked ingest rows older than that
//                    (acked_at by the injected clock) are deleted in bounded batches, at most
//                    once a second, from Fetch.
//   JetStreamSource  a durable JetStream pull consumer (queue::JetStreamConsumer); several
//                    engine processes may share one durable. Delivery counts come from the
//                    server's message metadata (across processes); lag = the consumer's
//                    pending + ack-pending counts. Like EmbeddedSource it hands over the raw
//                    bytes unparsed, a corrupt message too (the engine dead-letters it with
//                    an audit record; it used to be terminated silently by the consumer).
//
// Thread-safety: Fetch, Deliveries and Lag are called from the engine's Run thread, Ack from
// it too (a rejected message); AckBatch (whose default calls Ack) from the engine's store
// stage, concurrently with all of them (engine.h): Ack and AckBatch must be safe to call
// alongside every other method. Ownership: sources borrow their queue / consumer, which must
// outlive them.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "queue/embedded_queue.h"
#include "queue/queue.h"


namespace vv::queue {
class JetStreamConsumer;
}

namespace vv::engine {

class MessageSource {
 public:
  virtual ~MessageSource() = default;
  // Up to `max` unacked ingest messages, waiting at most `timeout_ms` when none is ready.
  // wire_bytes is always set; `envelope` may be empty for a corrupt message (the engine
  // re-parses wire_bytes itself). `after_sequence` > 0: only messages with a higher sequence
  // (the engine's batch still being stored ends there, unacked); a source that never hands out
  // an unacked message again before its ack wait (JetStream) may ignore it.
  virtual Result<std::vector<queue::StoredMessage>> Fetch(int max, int64_t timeout_ms,
                                                          int64_t after_sequence) = 0;
  virtual Status Ack(int64_t sequence) = 0;
  // Acks every message of `sequences` (a batch whose store transaction committed). Embedded:
  // one queue transaction, all or none. This default acks one by one and stops at the first
  // failure (those before it stay acked; the rest are redelivered, found duplicate).
  virtual Status AckBatch(const std::vector<int64_t>& sequences) {
    for (int64_t seq : sequences) VV_RETURN_IF_ERROR(Ack(seq));
    return Status::Ok();
  }
  // Deliveries of the message so far, the current one included.
  virtual Result<int64_t> Deliveries(int64_t sequence) = 0;
  // Unacked ingest messages waiting; -1 when the backend cannot tell.
  virtual Result<int64_t> Lag() = 0;
};

struct EmbeddedSourceOptions {
  // Acked ingest rows are deleted this long after their ack; 0 = kept forever.
  int64_t retention_seconds = 0;
  int prune_batch = 1000;  // rows per DELETE transaction
  const Clock* clock = nullptr;  // for retention; nullptr = system clock (must outlive)
};

class EmbeddedSource final : public MessageSource {
 public:
  // `queue` must outlive the source; `queue_path` is the same file (read for lag and for the
  // corrupt-message fallback). AlreadyExists when another process holds the consumer
  // lock (another engine consumes this queue).
  static Result<std::unique_ptr<EmbeddedSource>> Open(queue::EmbeddedQueue& queue,
                                                      const std::string& queue_path,
                                                      EmbeddedSourceOptions options = {});
  ~EmbeddedSource() override;

  Result<std::vector<queue::StoredMessage>> Fetch(int max, int64_t timeout_ms,
                                                  int64_t after_sequence) override;
  Status Ack(int64_t sequence) override;
  Status AckBatch(const std::vector<int64_t>& sequences) override;
  Result<int64_t> Deliveries(int64_t sequence) override;
  Result<int64_t> Lag() override;

 private:
  EmbeddedSource(queue::EmbeddedQueue& queue,
                 std::unique_ptr<queue::EmbeddedDeliveryReader> reader, int lock_fd,
                 EmbeddedSourceOptions options)
      : queue_(queue), reader_(std::move(reader)), lock_fd_(lock_fd), options_(options),
        clock_(options.clock != nullptr ? *options.clock : system_clock_) {}
  // Delivery counts of the last fetch's messages (seq -> count, this delivery included).
  std::map<int64_t, int64_t> deliveries_;
  // Retention: prunes when due (once a second by the clock); errors are logged, not returned.
  void PruneIfDue();

  queue::EmbeddedQueue& queue_;
  std::unique_ptr<queue::EmbeddedDeliveryReader> reader_;
  int lock_fd_;
  const EmbeddedSourceOptions options_;
  SystemClock system_clock_;
  const Clock& clock_;
  int64_t next_prune_micros_ = 0;
};

class JetStreamSource final : public MessageSource {
 public:
  // `consumer` must outlive the source.
  explicit JetStreamSource(queue::JetStreamConsumer& consumer) : consumer_(consumer) {}

  Result<std::vector<queue::StoredMessage>> Fetch(int max, int64_t timeout_ms,
                                                  int64_t after_sequence) override;
  Status Ack(int64_t sequence) override;
  Result<int64_t> Deliveries(int64_t sequence) override;
  Result<int64_t> Lag() override;

 private:
  queue::JetStreamConsumer& consumer_;
  Mutex mu_;
  std::map<int64_t, int64_t> deliveries_ VV_GUARDED_BY(mu_);  // erased at ack
};

}  // namespace vv::engine

#pragma once
// MessageSource: where the processing engine gets queued ingest envelopes from, with
// at-least-once semantics (a fetched message comes back until it is acked).
//
//   EmbeddedSource   the embedded SQLite queue (queue::EmbeddedQueue::FetchUnacked / Ack /
//                    DeliveredCount). A stored body that no longer parses as an envelope makes
//                    FetchUnacked fail for the whole batch; EmbeddedSource then reads the
//                    unacked rows itself (documented layout in embedded_queue.h), so a
//                    corrupt message is handed to the engine (which dead-letters it) instead
//                    of blocking the queue forever.
//   JetStreamSource  a durable JetStream pull consumer (queue::JetStreamConsumer). Delivery
//                    counts are tracked in memory (per process lifetime); lag is the durable
//                    consumer's pending + ack-pending count from the server's consumer info.
//
// Thread-safety: a source is used by one engine thread at a time. Ownership: sources borrow
// their queue / consumer, which must outlive them.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "queue/embedded_queue.h"
#include "queue/queue.h"

struct sqlite3;

namespace vv::queue {
class JetStreamConsumer;
}

namespace vv::engine {

class MessageSource {
 public:
  virtual ~MessageSource() = default;
  // Up to `max` unacked ingest messages, waiting at most `timeout_ms` when none is ready.
  // wire_bytes is always set; `envelope` may be empty for a corrupt message (the engine
  // re-parses wire_bytes itself).
  virtual Result<std::vector<queue::StoredMessage>> Fetch(int max, int64_t timeout_ms) = 0;
  virtual Status Ack(int64_t sequence) = 0;
  // Deliveries of the message so far, the current one included.
  virtual Result<int64_t> Deliveries(int64_t sequence) = 0;
  // Unacked ingest messages waiting; -1 when the backend cannot tell.
  virtual Result<int64_t> Lag() = 0;
};

class EmbeddedSource final : public MessageSource {
 public:
  // `queue` must outlive the source; `queue_path` is the same file (read for lag and for the
  // corrupt-message fallback).
  static Result<std::unique_ptr<EmbeddedSource>> Open(queue::EmbeddedQueue& queue,
                                                      const std::string& queue_path);
  ~EmbeddedSource() override;

  Result<std::vector<queue::StoredMessage>> Fetch(int max, int64_t timeout_ms) override;
  Status Ack(int64_t sequence) override;
  Result<int64_t> Deliveries(int64_t sequence) override;
  Result<int64_t> Lag() override;

 private:
  EmbeddedSource(queue::EmbeddedQueue& queue, sqlite3* db) : queue_(queue), db_(db) {}
  // Reads unacked ingest rows directly (no envelope parsing) and counts the delivery.
  Result<std::vector<queue::StoredMessage>> RawFetch(int max);

  queue::EmbeddedQueue& queue_;
  sqlite3* db_;
};

class JetStreamSource final : public MessageSource {
 public:
  // `consumer` must outlive the source.
  explicit JetStreamSource(queue::JetStreamConsumer& consumer) : consumer_(consumer) {}

  Result<std::vector<queue::StoredMessage>> Fetch(int max, int64_t timeout_ms) override;
  Status Ack(int64_t sequence) override;
  Result<int64_t> Deliveries(int64_t sequence) override;
  Result<int64_t> Lag() override;

 private:
  queue::JetStreamConsumer& consumer_;
  std::mutex mu_;
  std::map<int64_t, int64_t> deliveries_;  // guarded by mu_; erased at ack
};

}  // namespace vv::engine

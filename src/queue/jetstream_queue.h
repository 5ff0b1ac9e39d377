#pragma once
// NATS JetStream backend of the queue seam (libnats / nats.c 3.4).
//
// JetStreamPublisher: one persistent NATS connection (auto-reconnect forever, fixed wait) and
// one JetStream context. At Create() both streams (ingest, DLQ; file storage, configurable
// replicas, duplicate window, max age / max bytes / discard policy) are created, or verified
// and updated when their subjects, duplicate window, replicas or limits differ (an update the
// server refuses, e.g. a replica change it cannot make, is InvalidArgument naming the stream
// and both values); a stream with memory storage is refused.
// Publish() is asynchronous (js_PublishMsgAsync): data = the envelope's canonical bytes,
// header Nats-Msg-Id = SHA-256 hex of dedupe_id for ingest envelopes that have one (so a
// producer retry inside the duplicate window is stored once and acked as Duplicate), else the
// message_id (dead letters are never deduplicated: every DLQ envelope has a fresh uuid4).
// The callback runs on the library's ack thread when the stream acks: OK + kStored, OK +
// kDuplicate (PubAck.duplicate), or Unavailable on a negative ack / no responders / ack
// timeout (own reaper thread, `ack_timeout_ms`). Fail fast (callback inline, Unavailable) when
// the connection is not CONNECTED or `max_in_flight` acks are outstanding: the caller's
// thread never blocks on the network. An Unavailable outcome never means "not stored" for
// sure (a late ack may exist), which is safe because a retry carries the same Nats-Msg-Id.
//
// JetStreamConsumer: a durable pull consumer (explicit ack) on one stream, for the
// processing engine and for tests: Fetch(batch, timeout) then Ack(sequence).
//
// Thread-safety: both classes are thread-safe. Ownership: each owns its NATS connection;
// destroying a publisher fails every still-outstanding publish with Unavailable (callbacks
// run before the destructor returns) after waiting up to `drain_timeout_ms` for acks.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "natsclient/options.h"
#include "queue/queue.h"

// nats.c opaque types (global namespace, as in <nats/nats.h>).
typedef struct __natsConnection natsConnection;
typedef struct __jsCtx jsCtx;
typedef struct __natsMsg natsMsg;
typedef struct __natsSubscription natsSubscription;
struct jsPubAck;
struct jsPubAckErr;

namespace vv::queue {

// The queue's connection defaults: gateway connection name, send_asap (see below).
inline natsclient::ConnectOptions DefaultQueueConnection() {
  natsclient::ConnectOptions c;
  c.url = "nats://127.0.0.1:4222";
  c.name = "vectorvue-telemetry-gateway";
  // nats.c's flusher writes the publishes of a millisecond together (send_asap false): a
  // publish waits up to 1 ms more for its ack on an idle connection, and under load the
  // writes, the CPU and even the latency go down - measured on the gateway (Redis +
  // JetStream, 2 cores, 64 connections, issue 15): 3294/3834 -> 4221/4394 req/s, 288/271 ->
  // 252/239 us CPU a request, p50 17.9/15.3 -> 13.5/13.0 ms; batch 19.5/17.4k -> 21.7/22.3k
  // events/s. The gateway's `nats_send_asap: true` writes each publish at once (see
  // tests/conformance/backends_throughput_test.cc for the latency of one publish and ack).
  c.send_asap = false;
  return c;
}

struct JetStreamOptions {
  // Seed list, credentials, TLS, timeouts and reconnect policy (natsclient/options.h).
  natsclient::ConnectOptions nats = DefaultQueueConnection();
  std::string ingest_subject = "vectorvue.telemetry.ingest";
  std::string dlq_subject = "vectorvue.telemetry.dlq";
  std::string ingest_stream = "VV_TELEMETRY";
  std::string dlq_stream = "VV_TELEMETRY_DLQ";
  int replicas = 1;
  // Must exceed the producer's retry horizon so every retry of an event is deduplicated.
  int64_t duplicate_window_ms = 10 * 60 * 1000;
  // Stream limits (both streams): 0 = unlimited. discard_new: a full stream refuses new
  // messages (publish fails -> 503) instead of deleting the oldest.
  int64_t max_age_ms = 0;
  int64_t max_bytes = 0;
  bool discard_new = true;
  // An existing stream whose config differs (subjects, duplicate window, replicas, limits) is
  // updated to these options. The engine sets false: the gateway owns the streams' config;
  // the engine only creates a missing stream (with these options) and otherwise leaves it.
  bool reconcile_existing = true;
  size_t max_in_flight = 8192;
  int64_t ack_timeout_ms = 5000;
  int64_t drain_timeout_ms = 2000;  // destructor: wait this long for outstanding acks
  // Create(): how long to keep retrying the stream check/creation while JetStream answers
  // Unavailable (e.g. a cluster re-electing the leader of a stream whose node just died);
  // then Create() fails. 0 = one try.
  int64_t stream_setup_timeout_ms = 20000;
};

class JetStreamPublisher final : public Publisher {
 public:
  // Connects, then creates/verifies both streams. Unavailable when NATS or JetStream cannot
  // be reached; InvalidArgument for bad options or an incompatible existing stream.
  static Result<std::unique_ptr<JetStreamPublisher>> Create(const JetStreamOptions& options);
  ~JetStreamPublisher() override;
  JetStreamPublisher(const JetStreamPublisher&) = delete;
  JetStreamPublisher& operator=(const JetStreamPublisher&) = delete;

  void Publish(Envelope envelope, PublishCallback done) override;
  Status Health() const override;

  // Messages currently stored in the stream of `kind` (a JetStream API round trip).
  Result<uint64_t> StoredCount(Kind kind);
  // Operator access to stored messages (DLQ inspection and redrive, dead_letters.h):
  // first/last stream sequence; one message by sequence (NotFound when deleted or unknown);
  // a synchronous publish of exact bytes to the ingest subject with the given Nats-Msg-Id
  // (returns the stream sequence; Unavailable on failure); deleting one message.
  Result<std::pair<uint64_t, uint64_t>> SequenceRange(Kind kind);
  Result<StoredMessage> GetStored(Kind kind, uint64_t sequence);
  Result<uint64_t> PublishIngestBytesSync(const std::string& bytes, const std::string& msg_id);
  Status DeleteStored(Kind kind, uint64_t sequence);
  size_t in_flight() const;
  const JetStreamOptions& options() const { return options_; }

  // Nats-Msg-Id used for `envelope` (exposed for tests and consumers).
  static std::string MessageIdFor(const Envelope& envelope);

 private:
  struct Pending {
    PublishCallback done;
    int64_t deadline_us = 0;  // steady clock
    // js_PublishMsgAsync has not returned yet: an ack (or nats.c's own MaxWait timeout) that
    // arrives meanwhile must not destroy the message the publishing thread still reads; the
    // result is parked here and completed when the call returns.
    bool in_call = true;
    bool completed_during_call = false;
    Status result;
    PublishOutcome outcome = PublishOutcome::kStored;
  };
  explicit JetStreamPublisher(const JetStreamOptions& options);
  Status Init();
  Status EnsureStream(const std::string& name, const std::string& subject);
  void ReaperLoop();
  void ExpireTimedOut(bool all);
  // Frees the acked messages collected so far (all of them, or only a full batch).
  void FreeAcked(bool only_full_batch);
  static void OnAck(jsCtx* js, natsMsg* msg, ::jsPubAck* pa, ::jsPubAckErr* pae, void* closure);

  const JetStreamOptions options_;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;

  mutable Mutex mu_;
  // Two condition variables on mu_, so that completing a publish never wakes the reaper:
  // drained_cv_ is notified whenever pending_ shrinks to empty (only the destructor waits on
  // it; a notify without waiters is free), reaper_cv_ only when stopping_ is set.
  CondVar drained_cv_;
  CondVar reaper_cv_;
  std::unordered_map<natsMsg*, Pending> pending_ VV_GUARDED_BY(mu_);
  bool stopping_ VV_GUARDED_BY(mu_) = false;
  // Acked messages not yet freed. nats.c hands every natsMsg_Destroy to its
  // garbage-collector thread and wakes that thread whenever its list was empty, i.e. about once
  // per publish under a steady load; freeing kFreeBatch messages at a time (the rest on the
  // reaper's 50 ms tick and in the destructor) wakes it once per batch.
  static constexpr size_t kFreeBatch = 32;
  std::vector<natsMsg*> acked_ VV_GUARDED_BY(mu_);
  std::atomic<int> handlers_running_{0};
  std::thread reaper_;
};

// What the server says about a durable consumer (consumer info).
struct ConsumerState {
  uint64_t pending = 0;      // matching messages not yet delivered to any consumer process
  int64_t ack_pending = 0;   // delivered (to any process sharing the durable) and not acked
};

class JetStreamConsumer {
 public:
  // Binds (creating if needed) the durable pull consumer `durable` on `stream`, filtered to
  // `subject`. Several processes binding the same durable share its messages (each message
  // goes to one of them at a time). `ack_wait_ms` > 0 sets the consumer's ack wait (how long
  // a delivered, unacked message is held before it is redelivered, e.g. after a crash);
  // 0 = the server default (30 s). A durable that exists with another ack wait is updated.
  static Result<std::unique_ptr<JetStreamConsumer>> Create(const JetStreamOptions& options,
                                                           const std::string& stream,
                                                           const std::string& subject,
                                                           const std::string& durable,
                                                           int64_t ack_wait_ms = 0);
  // NAKs every fetched, still unacked message (redelivered at once to another process
  // instead of after the ack wait), then closes the connection.
  ~JetStreamConsumer();
  JetStreamConsumer(const JetStreamConsumer&) = delete;
  JetStreamConsumer& operator=(const JetStreamConsumer&) = delete;

  // What Fetch does with a message's bytes.
  enum class FetchMode {
    // Parsed into StoredMessage::envelope (dedupe_id empty: not part of the wire bytes); a
    // message that is not an envelope is terminated (never redelivered) and not returned.
    kParsed,
    // Only wire_bytes (envelope left empty) and every message returned, an unparsable one
    // too: for a caller that parses the bytes itself and dead-letters what is not an
    // envelope, with an audit record (the engine, which never trusts an earlier parse).
    kRawBytes,
  };
  // Up to `batch` messages, waiting at most `timeout_ms` (an empty vector when none). Each
  // stays unacked (and is redelivered after the consumer's ack wait) until Ack(sequence).
  Result<std::vector<StoredMessage>> Fetch(int batch, int64_t timeout_ms,
                                           FetchMode mode = FetchMode::kParsed);
  // Acks the fetched message with stream sequence `sequence`. NotFound when unknown.
  Status Ack(int64_t sequence);
  // The durable consumer's counts from the server's consumer info: pending (not yet
  // delivered) and ack-pending (delivered, waiting for an ack); the same for every engine
  // sharing the durable (lag = their sum). Unavailable when the server cannot be asked (one
  // JetStream API request, bounded by the connection's timeout).
  Result<ConsumerState> State();

 private:
  JetStreamConsumer() = default;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  natsSubscription* sub_ = nullptr;
  std::string stream_;
  std::string durable_;
  Mutex mu_;
  std::map<int64_t, natsMsg*> unacked_ VV_GUARDED_BY(mu_);
};

}  // namespace vv::queue

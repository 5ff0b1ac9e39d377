#pragma once
// The processing engine: consumes accepted ingest envelopes, re-checks them, encrypts each
// payload as evidence for its tenant and stores it, exactly once per (tenant, event_id).
//
// Per message (at-least-once delivery from a MessageSource):
//   1. delivery bound: a message delivered more than max_deliveries times without being
//      acked is dead-lettered (DLQ envelope `evidence_max_deliveries` + audit
//      "evidence.dead_lettered") and acked.
//   2. re-parse the wire bytes (corrupt -> reject `envelope_corrupt`), require kind ingest,
//      recompute integrity_hash = SHA-256(canonical(payload)) (mismatch -> reject
//      `integrity_mismatch`), re-validate the tenant: operator_tenant_map[operator_id] ==
//      payload.tenant_id == signed_metadata.tenant_id == trace.tenant_id (-> reject
//      `tenant_mismatch`), and require payload.payload.event_id (-> reject `missing_event_id`).
//      Then the envelope must be authenticated (queue/envelope_auth.h): signed by the gateway
//      under one of `queue_verify_keys` (-> reject envelope_unsigned / envelope_unknown_kid /
//      envelope_signature_invalid / envelope_auth_malformed / envelope_auth_unsupported_alg);
//      an unsigned envelope passes only with allow_unsigned_queue_messages (development).
//      The unkeyed integrity_hash alone proves nothing: anyone who can publish can compute it.
//      A rejection publishes a DLQ envelope {error_code, error_message, raw_body = wire bytes},
//      audits "evidence.rejected" with the precise reason, and acks.
//   3. plaintext = canonical JSON of the payload (so integrity_hash = SHA-256(plaintext));
//      encrypt with the active root key (a fresh DEK per payload, tenant-bound AAD).
// Then, per fetched batch (issue 15 item 4): the records of every message that passed steps
// 1-3 are Put in ONE store transaction (EvidenceStore::PutBatch); only after it commits, each
// gets its audit record - kStored -> "evidence.stored"; kDuplicate -> "evidence.duplicate"
// (redelivery of the same message, or another message with the same event id, also earlier
// in the same batch) - and the audited messages are acked together (MessageSource::AckBatch).
//   Any transient failure (store, key provider, DLQ publish, audit) leaves the message
//   unacked: it is redelivered on a later fetch (bounded by step 1). A failed batch commit
//   leaves every message of the batch unacked (SQLite, PostgreSQL: nothing of it stored); a rejected message
//   in a batch is dead-lettered on its own while the rest commit. Because the store commit
//   happens before the ack and Put is idempotent, a crash at any point loses nothing and
//   stores nothing twice.
// Run pipelines two batches (issue 15): a store stage (one thread) runs batch N's store
// commit, audit and acks - three durable writes - while the Run thread fetches and checks
// batch N+1 (fetching sequences above batch N, whose messages are still unacked). Order of
// the three writes per batch, and of the store commits, is unchanged; the audit records of
// batch N+1's rejections may precede batch N's stored records. Run goes back to the oldest
// unacked message after a short fetch, after a message was left unacked, and once a second.
// ProcessOnce is one batch, start to end, on the caller's thread.
//
// Thread-safety: ProcessOnce/Run are called from one thread (Run starts its store stage and
// joins it before returning); counters() and MetricsText() may be read from any thread. Ownership: borrows every dependency; all must outlive the engine.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "engine/message_source.h"
#include "evidence/evidence_cipher.h"
#include "evidence/evidence_store.h"
#include "queue/envelope_auth.h"
#include "queue/queue.h"

namespace vv::engine {

// Drain progress (Run with drain = true): messages handled to an ack since the drain began,
// and the total = processed + what the queue still holds (pending + in flight).
struct DrainProgress {
  uint64_t processed = 0;
  int64_t total = 0;         // -1 while the queue's backlog is unknown
  double rate_per_s = 0;     // processed / elapsed, by the engine's clock
  double elapsed_s = 0;
  bool final = false;        // the last call, once the queue is empty
};

struct EngineOptions {
  int batch_size = 500;  // messages per fetch = per store transaction and ack batch
  int64_t max_deliveries = 5;
  int64_t poll_interval_ms = 200;
  std::map<std::string, std::string> operator_tenant_map;  // operator_id -> tenant uuid
  std::string actor = "evidence_engine";                   // audit actor
  int64_t dlq_publish_timeout_ms = 10000;
  // Names in the backend state log lines (logging::Backends(): one line per down/up change).
  std::string store_name = "evidence store";
  std::string queue_name = "queue";
  // Public keys of the gateway's queue signing keys (kid -> key; several for rotation).
  queue::EnvelopeVerifyKeys queue_verify_keys;
  // Development only: store envelopes that carry no "auth" at all (a present but bad
  // signature is still rejected).
  bool allow_unsigned_queue_messages = false;
  // Drain: called at most once per progress_interval_ms (engine clock) while draining, and
  // once more with final = true when the queue is empty. Called on the Run thread.
  std::function<void(const DrainProgress&)> on_progress;
  int64_t progress_interval_ms = 1000;
};

// Counters (monotonic) and the lag gauge, exported as stats::EngineMetrics by
// EngineMetricsExporter (engine/metrics_exporter.h).
struct EngineCounters {
  std::atomic<uint64_t> consumed{0};  // deliveries handled (redeliveries included)
  std::atomic<uint64_t> stored{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> integrity_failures{0};  // integrity_mismatch + envelope_corrupt
  std::atomic<uint64_t> rejected{0};            // every permanent rejection (incl. integrity)
  std::atomic<uint64_t> unauthenticated{0};     // envelopes failing queue authentication
  std::atomic<uint64_t> dead_lettered{0};       // max deliveries exceeded
  std::atomic<uint64_t> transient_failures{0};  // left unacked for redelivery
  // Unacked messages (-1 unknown): asked from the queue after a short fetch and at least once
  // a second, lowered in between by each batch's handled messages.
  std::atomic<int64_t> lag{0};
};

class Engine {
 public:
  Engine(EngineOptions options, MessageSource& source, queue::Publisher& dlq,
         const evidence::EvidenceCipher& cipher, evidence::EvidenceStore& store,
         audit::AuditSink& audit, const Clock& clock, Random& random);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Fetches one batch (waiting up to wait_ms when the queue is empty) and handles it.
  // Returns the number of messages fetched; an error only when the fetch itself failed.
  Result<int> ProcessOnce(int64_t wait_ms = 0);
  // Loops until `stop` becomes true (checked between batches and while idle). With `drain`,
  // consumes until the queue itself reports nothing left (source Lag() == 0: nothing pending
  // and nothing delivered-but-unacked, to this or another consumer) after a fetch that found
  // nothing, then returns OK. An empty fetch alone is not "empty": a JetStream pull may
  // expire before the server's delivery arrives, and those messages are then held for the
  // ack wait (the old drain exited there and consumed nothing).
  Status Run(const std::atomic<bool>& stop, bool drain = false);

  const EngineCounters& counters() const { return counters_; }
  // Ok when the engine can make progress; else why not: the audit log refuses appends
  // (AuditSink::WriteHealth), the last fetch failed (queue), or the last store write failed
  // with no success since (evidence store). For /readyz (engine/metrics_exporter.h).
  Status Health() const;

  // Warn lines a second about messages left unacked (see LogLeftUnacked).
  static constexpr int kUnackedLinesPerSecond = 10;

 private:
  enum class Outcome { kAcked, kLeaveUnacked, kPending };
  // The messages of one fetch that passed every check, encrypted, waiting for the batch's
  // store commit: records[i] belongs to ready[i].
  struct Ready {
    int64_t sequence;
    json::Value details;  // the audit record's details so far
  };
  struct Batch {
    std::vector<Ready> ready;
    std::vector<evidence::EvidenceRecord> records;
    int64_t max_sequence = 0;  // of every fetched message, stored or not
  };
  class StoreStage;  // Run's store thread (engine.cc)
  // Fetches one batch of sequences above `after_sequence` (0: from the oldest unacked) and
  // checks each message into `batch`. Returns the number fetched.
  Result<int> FetchAndCheck(int64_t wait_ms, int64_t after_sequence, Batch* batch);
  // Refreshes the lag gauge after a batch (see EngineCounters::lag).
  void UpdateLag(int fetched, uint64_t processed_before);
  // Steps 1-2 and the encryption of step 3 for one message: a rejection is dead-lettered,
  // audited and acked here (kAcked); a message to store joins `batch` (kPending).
  Outcome Check(const queue::StoredMessage& m, Batch* batch);
  // Step 3 for the whole batch: ONE store transaction (PutBatch), then per message the audit
  // record, then one AckBatch of the audited messages. A failed commit acks nothing.
  void StoreBatch(Batch* batch);
  // DLQ + audit + ack for a permanent rejection. Returns kLeaveUnacked on transient failure.
  Outcome Reject(const queue::StoredMessage& m, const std::string& code, const std::string& message,
                 const std::string& event_type, json::Value details);
  // Messages handled to an ack (stored, duplicate, rejected, dead-lettered).
  uint64_t Processed() const;
  Status PublishDeadLetter(const queue::StoredMessage& m, const std::string& message_id,
                           const std::string& code, const std::string& message);
  // A message left unacked by a transient failure comes back after the queue's ack wait
  // (JetStream: 30 s by default); the operator sees why in one warn line naming the step and
  // the error (encryption, audit, dead-letter publish, ack; a failed store commit is the
  // store's backend state line). At most kUnackedLinesPerSecond lines a second, then one line
  // counting those not shown. Engine thread only (like ProcessOnce).
  void LogLeftUnacked(int64_t sequence, std::string_view step, const Status& s);
  // Engine clock time after which UpdateLag asks the source for the lag again (Run thread).
  static constexpr int64_t kLagQueryIntervalMicros = 1'000'000;
  int64_t next_lag_query_micros_ = 0;
  // Run fetches from the oldest unacked message at least this often (see Run).
  static constexpr int64_t kFullFetchIntervalMicros = 1'000'000;
  Mutex unacked_log_mu_;
  int64_t unacked_log_second_ VV_GUARDED_BY(unacked_log_mu_) = -1;
  int unacked_lines_ VV_GUARDED_BY(unacked_log_mu_) = 0;
  int unacked_not_shown_ VV_GUARDED_BY(unacked_log_mu_) = 0;


  const EngineOptions options_;
  MessageSource& source_;
  queue::Publisher& dlq_;
  const evidence::EvidenceCipher& cipher_;
  evidence::EvidenceStore& store_;
  audit::AuditSink& audit_;
  const Clock& clock_;
  Random& random_;
  EngineCounters counters_;
  // Batch envelope signatures already verified (queue/envelope_auth.h): the other envelopes
  // of a gateway batch cost a Merkle path walk, not a signature verify.
  queue::VerifiedRoots verified_roots_;
  mutable Mutex health_mu_;
  Status fetch_status_ VV_GUARDED_BY(health_mu_);  // the last fetch's result
  Status store_status_ VV_GUARDED_BY(health_mu_);  // the last store write's result
};

}  // namespace vv::engine

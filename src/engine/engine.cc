#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <thread>

#include "common/logging.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "queue/envelope_codec.h"

namespace vv::engine {

namespace {

const std::string* StringField(const json::Value& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  const json::Value* v = obj.Find(key);
  return v != nullptr && v->is_string() ? &v->as_string() : nullptr;
}

}  // namespace

Engine::Engine(EngineOptions options, MessageSource& source, queue::Publisher& dlq,
               const evidence::EvidenceCipher& cipher, evidence::EvidenceStore& store,
               audit::AuditSink& audit, const Clock& clock, Random& random)
    : options_(std::move(options)),
      source_(source),
      dlq_(dlq),
      cipher_(cipher),
      store_(store),
      audit_(audit),
      clock_(clock),
      random_(random) {}

Result<int> Engine::FetchAndCheck(int64_t wait_ms, int64_t after_sequence, Batch* batch) {
  auto msgs = source_.Fetch(options_.batch_size, wait_ms, after_sequence);
  logging::Backends().Observe(options_.queue_name, msgs.status());
  {
    MutexLock l(&health_mu_);
    fetch_status_ = msgs.status();
  }
  if (!msgs.ok()) return msgs.status();
  batch->ready.reserve(msgs->size());
  batch->records.reserve(msgs->size());
  for (const auto& m : *msgs) {
    counters_.consumed.fetch_add(1);
    batch->max_sequence = std::max(batch->max_sequence, m.sequence);
    if (Check(m, batch) == Outcome::kLeaveUnacked) counters_.transient_failures.fetch_add(1);
  }
  return static_cast<int>(msgs->size());
}

void Engine::UpdateLag(int fetched, uint64_t processed_before) {
  // The lag gauge: the queue is asked after a short fetch (the queue may be drained: Run's
  // drain ends on it) and otherwise at most once a second - asking costs a count of the whole
  // backlog (embedded: COUNT over the unacked index; JetStream: a consumer-info round trip),
  // which per batch made draining a large backlog quadratic. In between, each batch lowers
  // the last answer by what it handled.
  const int64_t now = clock_.NowMicros();
  if (fetched < options_.batch_size || now >= next_lag_query_micros_) {
    next_lag_query_micros_ = now + kLagQueryIntervalMicros;
    auto lag = source_.Lag();
    counters_.lag.store(lag.ok() ? *lag : -1);
  } else if (const int64_t lag = counters_.lag.load(); lag > 0) {
    const auto handled = static_cast<int64_t>(Processed() - processed_before);
    counters_.lag.store(std::max<int64_t>(0, lag - handled));
  }
}

Result<int> Engine::ProcessOnce(int64_t wait_ms) {
  Batch batch;
  const uint64_t processed_before = Processed();
  VV_ASSIGN_OR_RETURN(const int n, FetchAndCheck(wait_ms, /*after_sequence=*/0, &batch));
  StoreBatch(&batch);
  UpdateLag(n, processed_before);
  return n;
}

uint64_t Engine::Processed() const {
  return counters_.stored.load() + counters_.duplicates.load() + counters_.rejected.load() +
         counters_.dead_lettered.load();
}

// Run's second stage: one thread storing one batch at a time (StoreBatch: the store
// transaction, the audit batch, the acks - three durable writes, most of a batch's wall time)
// while the Run thread fetches and checks the next batch (parse, verify, encrypt: CPU). At most
// one batch is handed over and not yet stored; a batch handed over is always stored, also when
// Run stops (the destructor waits for it).
class Engine::StoreStage {
 public:
  explicit StoreStage(Engine& engine) : engine_(engine), thread_([this] { Loop(); }) {}
  ~StoreStage() {
    {
      MutexLock l(&mu_);
      quit_ = true;
    }
    cv_.SignalAll();
    thread_.join();
  }
  StoreStage(const StoreStage&) = delete;
  StoreStage& operator=(const StoreStage&) = delete;

  // Waits until the batch before is stored, then hands `batch` over.
  void Submit(Batch batch) {
    MutexLock l(&mu_);
    while (busy_) cv_.Wait(&mu_);
    pending_ = std::move(batch);
    busy_ = true;
    cv_.SignalAll();
  }
  void WaitIdle() {
    MutexLock l(&mu_);
    while (busy_) cv_.Wait(&mu_);
  }
  // The highest sequence of the batch handed over and not yet stored; 0 when none.
  int64_t InFlightMaxSequence() {
    MutexLock l(&mu_);
    return busy_ ? pending_.max_sequence : 0;
  }

 private:
  void Loop() {
    MutexLock l(&mu_);
    for (;;) {
      while (!busy_ && !quit_) cv_.Wait(&mu_);
      if (!busy_) return;  // quit, nothing left to store
      Batch batch = std::move(pending_);
      pending_.max_sequence = batch.max_sequence;  // still in flight until stored
      l.Unlock();
      engine_.StoreBatch(&batch);
      l.Lock();
      busy_ = false;
      cv_.SignalAll();
    }
  }

  Engine& engine_;
  Mutex mu_;
  CondVar cv_;
  Batch pending_ VV_GUARDED_BY(mu_);
  bool busy_ VV_GUARDED_BY(mu_) = false;  // a batch is handed over and not yet stored
  bool quit_ VV_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members above exist
};

Status Engine::Run(const std::atomic<bool>& stop, bool drain) {
  // A pull that expires before the server's delivery arrives leaves messages held until the
  // ack wait, so a drain waits a real interval per fetch (it only costs time when idle).
  const int64_t fetch_wait_ms = drain ? std::clamp<int64_t>(options_.poll_interval_ms, 100, 1000)
                                      : std::min<int64_t>(options_.poll_interval_ms, 200);
  const uint64_t processed_at_start = Processed();
  const int64_t start_us = clock_.NowMicros();
  int64_t next_progress_us = start_us + options_.progress_interval_ms * 1000;
  auto progress = [&](bool final) {
    if (!options_.on_progress) return;
    DrainProgress p;
    p.processed = Processed() - processed_at_start;
    const int64_t lag = counters_.lag.load();
    p.total = lag < 0 ? -1 : static_cast<int64_t>(p.processed) + lag;
    p.elapsed_s = static_cast<double>(clock_.NowMicros() - start_us) / 1e6;
    p.rate_per_s = p.elapsed_s > 0 ? static_cast<double>(p.processed) / p.elapsed_s : 0;
    p.final = final;
    options_.on_progress(p);
  };
  if (drain) {
    auto lag = source_.Lag();
    counters_.lag.store(lag.ok() ? *lag : -1);
  }
  StoreStage store_stage(*this);
  // While a batch is in the store stage its messages are still unacked: the next fetch asks
  // for sequences above it (a source that never hands out an unacked message twice, like
  // JetStream, ignores that). A fetch from the start (after the store stage emptied) comes
  // after a short fetch, after messages were left unacked, and at least once a second, so
  // a message left unacked or redriven below the cursor is fetched again.
  int64_t next_full_fetch_us = start_us + kFullFetchIntervalMicros;
  bool fetch_from_start = true;
  while (!stop.load()) {
    const uint64_t failures_before = counters_.transient_failures.load();
    const uint64_t processed_before = Processed();
    if (!fetch_from_start && clock_.NowMicros() >= next_full_fetch_us) fetch_from_start = true;
    if (fetch_from_start) {
      store_stage.WaitIdle();
      next_full_fetch_us = clock_.NowMicros() + kFullFetchIntervalMicros;
    }
    Batch batch;
    auto n = FetchAndCheck(fetch_wait_ms, store_stage.InFlightMaxSequence(), &batch);
    if (n.ok() && !batch.records.empty()) store_stage.Submit(std::move(batch));
    const bool short_fetch = !n.ok() || *n < options_.batch_size;
    // A short fetch may mean the queue is drained: the lag must then count the stored batch.
    if (short_fetch) store_stage.WaitIdle();
    if (!n.ok()) {
      counters_.transient_failures.fetch_add(1);
    } else {
      UpdateLag(*n, processed_before);
      if (*n == 0 && drain && counters_.lag.load() == 0) {
        // Asked the queue after this empty fetch, with nothing in flight: nothing pending,
        // nothing held.
        progress(/*final=*/true);
        return Status::Ok();
      }
    }
    if (drain && clock_.NowMicros() >= next_progress_us) {
      progress(/*final=*/false);
      next_progress_us = clock_.NowMicros() + options_.progress_interval_ms * 1000;
    }
    // Back off while idle, after a failed fetch, or when messages were left for redelivery
    // (in this batch's checks or the stored batch before it).
    const bool left_unacked = counters_.transient_failures.load() != failures_before;
    fetch_from_start = short_fetch || left_unacked;
    if (!n.ok() || *n == 0 || left_unacked) {
      store_stage.WaitIdle();
      auto until =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.poll_interval_ms);
      while (!stop.load() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return Status::Ok();
}

Status Engine::PublishDeadLetter(const queue::StoredMessage& m, const std::string& message_id,
                                 const std::string& code, const std::string& message) {
  json::Value trace = json::Value::MakeObject();
  trace.Set("reason", code);
  trace.Set("stage", "evidence_engine");
  trace.Set("source_sequence", m.sequence);
  if (!message_id.empty()) trace.Set("source_message_id", message_id);
  queue::Envelope dl =
      queue::MakeDeadLetterEnvelope(code, message, m.wire_bytes, std::move(trace), clock_, random_);
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> done = promise->get_future();
  dlq_.Publish(std::move(dl),
               [promise](Status s, queue::PublishOutcome) { promise->set_value(s); });
  if (done.wait_for(std::chrono::milliseconds(options_.dlq_publish_timeout_ms)) !=
      std::future_status::ready)
    return Status::Unavailable("DLQ publish timed out");
  return done.get();
}

Engine::Outcome Engine::Reject(const queue::StoredMessage& m, const std::string& code,
                               const std::string& message, const std::string& event_type,
                               json::Value details) {
  // The message id of the engine's own parse (details.message_id); none for a corrupt body.
  const std::string* message_id = StringField(details, "message_id");
  Status s = PublishDeadLetter(m, message_id != nullptr ? *message_id : std::string(), code,
                               message);
  if (!s.ok()) {
    LogLeftUnacked(m.sequence, "dead-letter publish (" + code + ")", s);
    return Outcome::kLeaveUnacked;
  }
  details.Set("reason", code);
  details.Set("detail", message);
  details.Set("sequence", m.sequence);
  details.Set("dead_lettered", true);
  if (Status a = audit_.Append(event_type, options_.actor, std::move(details)); !a.ok()) {
    LogLeftUnacked(m.sequence, "audit of " + event_type, a);
    return Outcome::kLeaveUnacked;
  }
  if (Status a = source_.Ack(m.sequence); !a.ok()) {
    LogLeftUnacked(m.sequence, "ack after " + event_type, a);
    return Outcome::kLeaveUnacked;
  }
  if (event_type == "evidence.dead_lettered") {
    counters_.dead_lettered.fetch_add(1);
  } else {
    counters_.rejected.fetch_add(1);
  }
  return Outcome::kAcked;
}

Engine::Outcome Engine::Check(const queue::StoredMessage& m, Batch* batch) {
  json::Value details = json::Value::MakeObject();

  // 2a. Re-parse what is actually stored; never trust an earlier parse.
  auto parsed = queue::ParseEnvelope(m.wire_bytes);
  if (!parsed.ok()) {
    counters_.integrity_failures.fetch_add(1);
    return Reject(m, "envelope_corrupt", "Queued envelope is not a valid envelope",
                  "evidence.rejected", std::move(details));
  }
  const queue::Envelope& env = *parsed;
  details.Set("message_id", env.message_id);

  // 1. Delivery bound.
  auto deliveries = source_.Deliveries(m.sequence);
  if (deliveries.ok() && *deliveries > options_.max_deliveries) {
    details.Set("deliveries", *deliveries);
    return Reject(m, "evidence_max_deliveries",
                  "Evidence processing failed after the maximum number of deliveries",
                  "evidence.dead_lettered", std::move(details));
  }

  if (env.kind != queue::Kind::kIngest) {
    return Reject(m, "unexpected_kind", "Only ingest envelopes are processed", "evidence.rejected",
                  std::move(details));
  }
  // 2b. Integrity.
  const std::string plaintext = json::Canonical(env.payload);
  const std::string recomputed = crypto::Sha256Hex(plaintext);
  if (!ConstantTimeEquals(recomputed, env.integrity_hash)) {
    counters_.integrity_failures.fetch_add(1);
    details.Set("integrity_hash", env.integrity_hash);
    details.Set("recomputed_hash", recomputed);
    return Reject(m, "integrity_mismatch", "Envelope integrity hash mismatch", "evidence.rejected",
                  std::move(details));
  }
  details.Set("integrity_hash", env.integrity_hash);

  // 2c. Tenant mapping, re-validated.
  const std::string* tenant = StringField(env.payload, "tenant_id");
  const std::string* op = StringField(env.payload, "operator_id");
  std::string tenant_problem;
  if (tenant == nullptr || op == nullptr) {
    tenant_problem = "payload lacks tenant_id or operator_id";
  } else {
    auto it = options_.operator_tenant_map.find(*op);
    if (it == options_.operator_tenant_map.end()) {
      tenant_problem = "operator is not mapped to a tenant";
    } else if (it->second != *tenant) {
      tenant_problem = "operator is mapped to another tenant";
    } else {
      const json::Value* sm = env.payload.Find("signed_metadata");
      const std::string* sm_tenant = sm ? StringField(*sm, "tenant_id") : nullptr;
      const std::string* trace_tenant = StringField(env.trace, "tenant_id");
      if (sm_tenant == nullptr || *sm_tenant != *tenant)
        tenant_problem = "signed_metadata.tenant_id differs from tenant_id";
      else if (trace_tenant != nullptr && *trace_tenant != *tenant)
        tenant_problem = "trace.tenant_id differs from tenant_id";
    }
  }
  if (tenant != nullptr) details.Set("tenant_id", *tenant);
  if (op != nullptr) details.Set("operator_id", *op);
  if (!tenant_problem.empty()) {
    details.Set("tenant_problem", tenant_problem);
    return Reject(m, "tenant_mismatch", "Tenant mapping re-validation failed", "evidence.rejected",
                  std::move(details));
  }
  const json::Value* inner = env.payload.Find("payload");
  const std::string* event_id = inner ? StringField(*inner, "event_id") : nullptr;
  if (event_id == nullptr || event_id->empty()) {
    return Reject(m, "missing_event_id", "Payload has no event_id", "evidence.rejected",
                  std::move(details));
  }
  details.Set("event_id", *event_id);

  // 2d. Authentication: only what the gateway signed becomes evidence.
  // The signed bytes around the payload already serialised for 2b: one serialisation.
  const std::string auth_problem =
      queue::VerifyEnvelopeAuth(env, options_.queue_verify_keys, &verified_roots_,
                                env.UnsignedCanonicalBytes(plaintext));
  if (!auth_problem.empty() &&
      !(auth_problem == queue::kAuthUnsigned && options_.allow_unsigned_queue_messages)) {
    counters_.unauthenticated.fetch_add(1);
    if (env.auth.is_object()) {
      // Attacker-chosen strings: bounded before they reach the audit log.
      const std::string* kid = StringField(env.auth, "kid");
      if (kid != nullptr) details.Set("kid", kid->substr(0, 64));
    }
    return Reject(m, auth_problem, "Envelope is not authenticated by the gateway",
                  "evidence.rejected", std::move(details));
  }
  details.Set("authenticated", auth_problem.empty());

  // 3. Encrypt; the batch's store commit, audit and ack follow in StoreBatch.
  auto sealed = cipher_.Encrypt(*tenant, plaintext);
  if (!sealed.ok()) {
    LogLeftUnacked(m.sequence, "encryption", sealed.status());
    return Outcome::kLeaveUnacked;
  }
  evidence::EvidenceRecord record;
  record.tenant_id = *tenant;
  record.event_id = *event_id;
  record.message_id = env.message_id;
  record.integrity_hash = env.integrity_hash;
  record.key_id = sealed->key_id;
  record.envelope_json = sealed->Serialize();
  record.created_at = env.created_at;
  record.stored_at_micros = clock_.NowMicros();
  batch->records.push_back(std::move(record));
  batch->ready.push_back({m.sequence, std::move(details)});
  return Outcome::kPending;
}

void Engine::StoreBatch(Batch* batch) {
  if (batch->records.empty()) return;
  // One store transaction for the batch (SQLite, PostgreSQL: all stored or none). Put is
  // idempotent per record, so a redelivered message finds its record: kDuplicate.
  const std::vector<Result<evidence::PutOutcome>> put = store_.PutBatch(batch->records);
  Status store_status;
  for (const auto& p : put)
    if (!p.ok()) {
      store_status = p.status();
      break;
    }
  logging::Backends().Observe(options_.store_name, store_status);
  {
    MutexLock l(&health_mu_);
    store_status_ = store_status;
  }
  // After the commit: one audit record per stored message, then the acks of the audited ones.
  // A record not stored (failed commit) leaves its message unacked, to be redelivered.
  // The batch's records go to the audit log in one AppendBatch (one lock, one write).
  std::vector<audit::AuditEntry> entries;
  std::vector<size_t> entry_of;  // entries[k] is the record of batch->records[entry_of[k]]
  entries.reserve(put.size());
  entry_of.reserve(put.size());
  for (size_t i = 0; i < put.size(); ++i) {
    if (!put[i].ok()) {
      counters_.transient_failures.fetch_add(1);  // logged by the store's backend state line
      continue;
    }
    const evidence::EvidenceRecord& r = batch->records[i];
    json::Value& details = batch->ready[i].details;
    details.Set("key_id", r.key_id);
    details.Set("sequence", batch->ready[i].sequence);
    std::string_view event_type = "evidence.stored";
    if (*put[i] == evidence::PutOutcome::kDuplicate) {
      event_type = "evidence.duplicate";
      auto existing = store_.Get(r.tenant_id, r.event_id);
      if (existing.ok() && existing->has_value()) {
        const auto& e = **existing;
        details.Set("redelivery", e.message_id == r.message_id);
        details.Set("same_content", e.integrity_hash == r.integrity_hash);
        details.Set("key_id", e.key_id);
      }
    }
    entries.push_back({event_type, options_.actor, std::move(details)});
    entry_of.push_back(i);
  }
  const std::vector<Status> audited = audit_.AppendBatch(entries);
  std::vector<int64_t> to_ack;
  std::vector<evidence::PutOutcome> acked_outcomes;
  to_ack.reserve(entries.size());
  acked_outcomes.reserve(entries.size());
  for (size_t k = 0; k < entries.size(); ++k) {
    const size_t i = entry_of[k];
    if (!audited[k].ok()) {
      counters_.transient_failures.fetch_add(1);  // stored; redelivered, then a duplicate
      LogLeftUnacked(batch->ready[i].sequence,
                     "audit of " + std::string(entries[k].event_type), audited[k]);
      continue;
    }
    to_ack.push_back(batch->ready[i].sequence);
    acked_outcomes.push_back(*put[i]);
  }
  if (Status a = source_.AckBatch(to_ack); !a.ok()) {
    counters_.transient_failures.fetch_add(to_ack.size());
    // Stored and audited; the unacked ones come back as duplicates.
    for (int64_t seq : to_ack) LogLeftUnacked(seq, "ack after store", a);
    return;
  }
  for (evidence::PutOutcome o : acked_outcomes) {
    if (o == evidence::PutOutcome::kStored) {
      counters_.stored.fetch_add(1);
    } else {
      counters_.duplicates.fetch_add(1);
    }
  }
}

void Engine::LogLeftUnacked(int64_t sequence, std::string_view step, const Status& s) {
  MutexLock l(&unacked_log_mu_);  // the Run thread and the store stage
  const int64_t second = clock_.NowMicros() / 1'000'000;
  if (second != unacked_log_second_) {
    if (unacked_not_shown_ > 0)
      spdlog::warn("{} more messages left unacked in the previous second (not shown)",
                   unacked_not_shown_);
    unacked_log_second_ = second;
    unacked_lines_ = 0;
    unacked_not_shown_ = 0;
  }
  if (unacked_lines_ >= kUnackedLinesPerSecond) {
    ++unacked_not_shown_;
    return;
  }
  ++unacked_lines_;
  spdlog::warn("message {} left unacked (redelivered after the ack wait): {}: {}", sequence, step,
               s.ToString());
}

Status Engine::Health() const {
  VV_RETURN_IF_ERROR(audit_.WriteHealth());
  MutexLock l(&health_mu_);
  if (!fetch_status_.ok()) return fetch_status_;
  return store_status_;
}

}  // namespace vv::engine

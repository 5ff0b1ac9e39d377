// The processing engine in-process on embedded defaults: EmbeddedQueue (fed as the gateway
// feeds it) -> Engine -> SQLite evidence store, with its own audit log.

#include "engine/engine.h"
#include "engine/metrics_exporter.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

#include <chrono>
#include <functional>
#include <map>

#include "audit/audit_log.h"
#include "common/logging.h"
#include "common/mutex.h"
#include "engine/engine_test_util.h"
#include "evidence/evidence_cipher.h"
#include "evidence/root_key_provider.h"
#include "evidence/sqlite_evidence_store.h"
#include "fakes/fake_backends.h"
#include "fakes/fake_clock.h"
#include "fakes/temp_dir.h"
#include "queue/envelope_codec.h"

namespace vv::engine {
namespace {

using testing::AuditRecords;
using testing::CountAudit;
using testing::MakeIngest;
using testing::PublishSync;
using testing::SqlExec;

constexpr char kT1[] = "10000000-0000-0000-0000-000000000001";
constexpr char kT2[] = "20000000-0000-0000-0000-000000000002";

// Forwards to a real store; can fail the next N Puts, or "crash" after committing (the Put
// commits, then Unavailable is returned as if the process died before the ack).
// Forwards every call to `inner`; the stores below change Put.
class ForwardingStore : public evidence::EvidenceStore {
 public:
  explicit ForwardingStore(evidence::EvidenceStore& inner) : inner_(inner) {}
  Result<evidence::PutOutcome> Put(const evidence::EvidenceRecord& r) override {
    return inner_.Put(r);
  }
  Result<std::optional<evidence::EvidenceRecord>> Get(std::string_view t,
                                                      std::string_view e) override {
    return inner_.Get(t, e);
  }
  Result<std::vector<evidence::EvidenceRecord>> List(std::string_view t, int64_t a,
                                                     int l) override {
    return inner_.List(t, a, l);
  }
  Result<int64_t> Count(std::string_view t) override { return inner_.Count(t); }
  Status ReplaceEnvelope(std::string_view t, std::string_view e, std::string_view k,
                         std::string_view j) override {
    return inner_.ReplaceEnvelope(t, e, k, j);
  }
  Result<std::vector<std::string>> Tenants() override { return inner_.Tenants(); }

 protected:
  evidence::EvidenceStore& inner_;
};

class FlakyStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  int fail_next_puts = 0;
  int crash_after_commit = 0;
  Result<evidence::PutOutcome> Put(const evidence::EvidenceRecord& r) override {
    if (fail_next_puts > 0) {
      --fail_next_puts;
      return Status::Unavailable("injected store failure");
    }
    auto out = inner_.Put(r);
    if (out.ok() && crash_after_commit > 0) {
      --crash_after_commit;
      return Status::Unavailable("injected crash after commit");
    }
    return out;
  }
};

// Captures what is logged through the default logger (text format) while alive.
class LogCapture {
 public:
  LogCapture() : prev_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)));
    spdlog::set_formatter(logging::MakeFormatter("vv-engine", logging::Format::kText));
  }
  ~LogCapture() { spdlog::set_default_logger(prev_); }
  std::string Text() const { return out_.str(); }
  int Count(const std::string& needle) const {
    const std::string log = out_.str();
    int n = 0;
    for (size_t p = log.find(needle); p != std::string::npos; p = log.find(needle, p + 1)) ++n;
    return n;
  }

 private:
  std::shared_ptr<spdlog::logger> prev_;
  std::ostringstream out_;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto q = queue::EmbeddedQueue::Open(QueuePath(), {});
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    queue_ = std::move(q).value();
    auto s = evidence::SqliteEvidenceStore::Open(dir_.File("evidence.db"));
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    flaky_ = std::make_unique<FlakyStore>(*store_);
    auto p = evidence::StaticRootKeyProvider::Create({{"root-1", std::string(32, 'A')}}, "root-1",
                                                     "test");
    ASSERT_TRUE(p.ok());
    provider_ = std::move(p).value();
    cipher_ = std::make_unique<evidence::EvidenceCipher>(*provider_, random_);
    audit::AuditLogOptions ao;
    ao.fsync = audit::FsyncPolicy::kNone;
    ao.file_anchor = false;
    auto a = audit::AuditLog::Open(AuditPath(), ao, clock_);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    audit_ = std::move(a).value();
    auto src = EmbeddedSource::Open(*queue_, QueuePath());
    ASSERT_TRUE(src.ok());
    source_ = std::move(src).value();
    options_.operator_tenant_map = {{"op-001", kT1}, {"op-002", kT2}};
    options_.max_deliveries = 3;
    options_.poll_interval_ms = 1;
    options_.queue_verify_keys = testing::QueueVerifyKeys();
  }

  std::string QueuePath() const { return dir_.File("queue.db"); }
  std::string AuditPath() const { return dir_.File("engine-audit.jsonl"); }

  std::unique_ptr<Engine> MakeEngine() {
    return std::make_unique<Engine>(options_, *source_, *queue_, *cipher_, *flaky_, *audit_, clock_,
                                    random_);
  }
  void Publish(const std::string& tenant, const std::string& op, const std::string& event) {
    ASSERT_TRUE(PublishSync(*queue_, MakeIngest(tenant, op, event, clock_, random_)).ok());
  }
  void Drain(Engine& engine) {
    std::atomic<bool> stop{false};
    ASSERT_TRUE(engine.Run(stop, /*drain=*/true).ok());
  }
  // The engine on the real store (no FlakyStore, whose default PutBatch Puts one at a time).
  std::unique_ptr<Engine> MakeEngineOnStore() {
    return std::make_unique<Engine>(options_, *source_, *queue_, *cipher_, *store_, *audit_,
                                    clock_, random_);
  }
  // Edits the stored body of the message of `event` in the SQLite file, keeping it valid JSON.
  void TamperBody(const std::string& event) {
    ASSERT_EQ(SqlExec(QueuePath(),
                      "UPDATE messages SET body = replace(body, 'host-nyc-01', 'host-evil-1') "
                      "WHERE body LIKE '%" + event + "%'"),
              1);
  }
  std::vector<queue::StoredMessage> DeadLetters() {
    auto l = queue_->List(queue::Kind::kDeadLetter, 0, 1000);
    EXPECT_TRUE(l.ok());
    return l.ok() ? *l : std::vector<queue::StoredMessage>{};
  }

  vv::testing::TempDir dir_;
  vv::testing::FakeClock clock_;
  SystemRandom random_;
  std::unique_ptr<queue::EmbeddedQueue> queue_;
  std::unique_ptr<evidence::SqliteEvidenceStore> store_;
  std::unique_ptr<FlakyStore> flaky_;
  std::unique_ptr<evidence::StaticRootKeyProvider> provider_;
  std::unique_ptr<evidence::EvidenceCipher> cipher_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<EmbeddedSource> source_;
  EngineOptions options_;
};

TEST_F(EngineTest, StoresEveryEventOnceEncryptedPerTenant) {
  for (int i = 0; i < 5; ++i) Publish(kT1, "op-001", "evt-a" + std::to_string(i));
  for (int i = 0; i < 3; ++i) Publish(kT2, "op-002", "evt-b" + std::to_string(i));
  auto engine = MakeEngine();
  Drain(*engine);
  EXPECT_EQ(engine->counters().stored.load(), 8u);
  EXPECT_EQ(engine->counters().consumed.load(), 8u);
  EXPECT_EQ(engine->counters().lag.load(), 0);
  EXPECT_EQ(*store_->Count(kT1), 5);
  EXPECT_EQ(*store_->Count(kT2), 3);

  // The stored record decrypts to the canonical payload whose hash is the integrity hash.
  auto rec = store_->Get(kT1, "evt-a3");
  ASSERT_TRUE(rec.ok() && rec->has_value());
  auto env = evidence::ParseEnvelopeJson((*rec)->envelope_json);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->version, evidence::kEnvelopeV1);
  EXPECT_EQ(env->key_id, "root-1");
  EXPECT_EQ((*rec)->envelope_json.find("evt-a3"), std::string::npos) << "plaintext leaked";
  auto pt = cipher_->Decrypt(kT1, *env);
  ASSERT_TRUE(pt.ok());
  EXPECT_EQ(crypto::Sha256Hex(*pt), (*rec)->integrity_hash);
  auto payload = json::Parse(*pt);
  ASSERT_TRUE(payload.ok());
  EXPECT_EQ(payload->Find("payload")->Find("event_id")->as_string(), "evt-a3");
  EXPECT_EQ(payload->Find("tenant_id")->as_string(), kT1);
  // Tenant 2 cannot decrypt tenant 1's evidence, nor see its record.
  EXPECT_FALSE(cipher_->Decrypt(kT2, *env).ok());
  EXPECT_FALSE(store_->Get(kT2, "evt-a3")->has_value());

  auto audit = AuditRecords(AuditPath());
  EXPECT_EQ(CountAudit(audit, "evidence.stored"), 8);
  EXPECT_NE(EngineMetricsExporter(*engine).Render().find("vv_engine_messages_stored_total 8"),
            std::string::npos);
}

// The engine audits a stored batch with one AppendBatch; a record the log refuses leaves its
// message (and every later one of the batch) unacked, to be redelivered and audited then as a
// duplicate: nothing is acked unaudited, nothing is stored twice.
TEST_F(EngineTest, ABatchIsAuditedInOneCallAndAnUnauditedRecordIsNotAcked) {
  for (int i = 0; i < 5; ++i) Publish(kT1, "op-001", "evt-" + std::to_string(i));
  vv::testing::RecordingAuditSink sink;
  sink.FailAfter(3);
  options_.batch_size = 64;
  Engine engine(options_, *source_, *queue_, *cipher_, *store_, sink, clock_, random_);
  ASSERT_TRUE(engine.ProcessOnce().ok());
  EXPECT_EQ(sink.batch_sizes(), std::vector<size_t>{5});  // one call for the batch
  EXPECT_EQ(sink.records().size(), 3u);
  EXPECT_EQ(engine.counters().stored.load(), 3u);
  EXPECT_EQ(engine.counters().transient_failures.load(), 2u);
  EXPECT_EQ(*store_->Count(kT1), 5);  // committed before the audit
  auto left = queue_->ListUnacked(queue::Kind::kIngest, 0, 10);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), 2u);
  // The log recovers: the two come back as duplicates, audited, and acked.
  sink.FailAfter(-1);
  clock_.AdvanceSeconds(120);  // past the ack wait
  std::atomic<bool> stop{false};
  ASSERT_TRUE(engine.Run(stop, /*drain=*/true).ok());
  EXPECT_EQ(engine.counters().duplicates.load(), 2u);
  EXPECT_EQ(queue_->ListUnacked(queue::Kind::kIngest, 0, 10)->size(), 0u);
  EXPECT_EQ(*store_->Count(kT1), 5);
  size_t duplicates = 0;
  for (const auto& r : sink.records()) duplicates += r.event_type == "evidence.duplicate";
  EXPECT_EQ(duplicates, 2u);
}

TEST_F(EngineTest, RedeliveryAfterCrashBeforeAckStoresNothingTwice) {
  for (int i = 0; i < 4; ++i) Publish(kT1, "op-001", "evt-" + std::to_string(i));
  flaky_->crash_after_commit = 2;  // first two commits "crash" before their ack
  auto engine = MakeEngine();
  ASSERT_TRUE(engine->ProcessOnce().ok());
  EXPECT_EQ(engine->counters().stored.load(), 2u);
  EXPECT_EQ(engine->counters().transient_failures.load(), 2u);
  EXPECT_EQ(*store_->Count(kT1), 4);  // committed, just not acked
  // A fresh engine (restart) redelivers the two unacked ones: duplicates, nothing new.
  auto restarted = MakeEngine();
  Drain(*restarted);
  EXPECT_EQ(restarted->counters().duplicates.load(), 2u);
  EXPECT_EQ(restarted->counters().stored.load(), 0u);
  EXPECT_EQ(*store_->Count(kT1), 4);
  auto audit = AuditRecords(AuditPath());
  int redeliveries = 0;
  for (const auto& r : audit) {
    if (r.Find("event_type")->as_string() != "evidence.duplicate") continue;
    const json::Value* d = r.Find("details");
    EXPECT_TRUE(d->Find("redelivery")->as_bool());
    EXPECT_TRUE(d->Find("same_content")->as_bool());
    ++redeliveries;
  }
  EXPECT_EQ(redeliveries, 2);
}

TEST_F(EngineTest, SameEventFromAnotherMessageIsADuplicate) {
  Publish(kT1, "op-001", "evt-dup");
  // A second envelope for the same event that bypassed the queue's dedupe (no dedupe_id).
  queue::Envelope again = MakeIngest(kT1, "op-001", "evt-dup", clock_, random_);
  again.dedupe_id.clear();
  ASSERT_TRUE(PublishSync(*queue_, std::move(again)).ok());
  auto engine = MakeEngine();
  Drain(*engine);
  EXPECT_EQ(engine->counters().stored.load(), 1u);
  EXPECT_EQ(engine->counters().duplicates.load(), 1u);
  EXPECT_EQ(*store_->Count(kT1), 1);
  auto audit = AuditRecords(AuditPath());
  ASSERT_EQ(CountAudit(audit, "evidence.duplicate"), 1);
}

TEST_F(EngineTest, TamperedEnvelopeInQueueIsRejectedDeadLetteredAndAudited) {
  Publish(kT1, "op-001", "evt-ok-1");
  Publish(kT1, "op-001", "evt-tampered");
  Publish(kT1, "op-001", "evt-ok-2");
  // Edit the stored body of one message in the SQLite file, keeping it valid JSON.
  TamperBody("evt-tampered");
  auto engine = MakeEngine();
  Drain(*engine);
  EXPECT_EQ(engine->counters().stored.load(), 2u);
  EXPECT_EQ(engine->counters().integrity_failures.load(), 1u);
  EXPECT_EQ(engine->counters().rejected.load(), 1u);
  EXPECT_FALSE(store_->Get(kT1, "evt-tampered")->has_value());
  EXPECT_TRUE(store_->Get(kT1, "evt-ok-2")->has_value());
  EXPECT_EQ(*source_->Lag(), 0);  // acked: not retried forever

  auto dlq = DeadLetters();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_TRUE(queue::VerifyIntegrity(dlq[0].envelope));
  EXPECT_EQ(dlq[0].envelope.payload.Find("error_code")->as_string(), "integrity_mismatch");
  EXPECT_NE(dlq[0].envelope.payload.Find("raw_body")->as_string().find("host-evil-1"),
            std::string::npos);
  auto audit = AuditRecords(AuditPath());
  ASSERT_EQ(CountAudit(audit, "evidence.rejected"), 1);
  for (const auto& r : audit) {
    if (r.Find("event_type")->as_string() != "evidence.rejected") continue;
    EXPECT_EQ(r.Find("details")->Find("reason")->as_string(), "integrity_mismatch");
    EXPECT_NE(r.Find("details")->Find("recomputed_hash")->as_string(),
              r.Find("details")->Find("integrity_hash")->as_string());
  }
}

// Issue 15 item 4: a fetched batch is stored in ONE store transaction and acked after it.
// When that commit fails, nothing of the batch is stored and nothing is acked: every message
// is redelivered and then stored once (as kStored: the failed commit left no record behind).
TEST_F(EngineTest, BatchWhoseCommitFailsAcksNothingAndIsRedelivered) {
  for (int i = 0; i < 3; ++i) Publish(kT1, "op-001", "evt-c" + std::to_string(i));
  // The real store; a trigger refuses one row, which fails the batch's transaction as an I/O
  // error would.
  ASSERT_EQ(SqlExec(dir_.File("evidence.db"),
                    "CREATE TRIGGER refuse BEFORE INSERT ON evidence WHEN NEW.event_id = 'evt-c1' "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"),
            0);
  auto engine_ptr = MakeEngineOnStore();
  Engine& engine = *engine_ptr;
  auto n = engine.ProcessOnce();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3);
  EXPECT_EQ(engine.counters().stored.load(), 0u);
  EXPECT_EQ(engine.counters().transient_failures.load(), 3u);
  EXPECT_EQ(*store_->Count(kT1), 0);  // evt-c0 was inserted before the failure: rolled back
  EXPECT_EQ(*source_->Lag(), 3);      // nothing acked
  EXPECT_EQ(CountAudit(AuditRecords(AuditPath()), "evidence.stored"), 0);
  EXPECT_TRUE(DeadLetters().empty());

  ASSERT_EQ(SqlExec(dir_.File("evidence.db"), "DROP TRIGGER refuse"), 0);
  Drain(engine);
  EXPECT_EQ(engine.counters().stored.load(), 3u);
  EXPECT_EQ(engine.counters().duplicates.load(), 0u);
  EXPECT_EQ(*store_->Count(kT1), 3);
  EXPECT_EQ(*source_->Lag(), 0);
  EXPECT_EQ(CountAudit(AuditRecords(AuditPath()), "evidence.stored"), 3);
}

// A poison message inside a batch goes to the DLQ on its own; the rest of the batch commits
// and is acked in the same pass.
TEST_F(EngineTest, PoisonMessageInABatchIsDeadLetteredWhileTheRestCommit) {
  Publish(kT1, "op-001", "evt-p0");
  Publish(kT1, "op-001", "evt-poison");
  Publish(kT2, "op-002", "evt-p1");
  Publish(kT1, "op-001", "evt-p2");
  TamperBody("evt-poison");
  auto engine_ptr = MakeEngineOnStore();
  Engine& engine = *engine_ptr;
  auto n = engine.ProcessOnce();  // one fetch holds all four
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 4);
  EXPECT_EQ(engine.counters().stored.load(), 3u);
  EXPECT_EQ(engine.counters().rejected.load(), 1u);
  EXPECT_EQ(engine.counters().transient_failures.load(), 0u);
  EXPECT_EQ(*source_->Lag(), 0);
  EXPECT_EQ(*store_->Count(kT1), 2);
  EXPECT_EQ(*store_->Count(kT2), 1);
  EXPECT_FALSE(store_->Get(kT1, "evt-poison")->has_value());
  auto dlq = DeadLetters();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].envelope.payload.Find("error_code")->as_string(), "integrity_mismatch");
  auto audit = AuditRecords(AuditPath());
  EXPECT_EQ(CountAudit(audit, "evidence.stored"), 3);
  EXPECT_EQ(CountAudit(audit, "evidence.rejected"), 1);
  // Every stored record still decrypts under its own tenant only (per-payload DEK, AAD).
  auto rec = store_->Get(kT2, "evt-p1");
  ASSERT_TRUE(rec.ok() && rec->has_value());
  auto env = evidence::ParseEnvelopeJson((*rec)->envelope_json);
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(cipher_->Decrypt(kT2, *env).ok());
  EXPECT_FALSE(cipher_->Decrypt(kT1, *env).ok());
}

TEST_F(EngineTest, CorruptQueueBodyIsDeadLetteredWithoutBlockingTheQueue) {
  Publish(kT1, "op-001", "evt-1");
  Publish(kT1, "op-001", "evt-2");
  ASSERT_EQ(
      SqlExec(QueuePath(), "UPDATE messages SET body = '{not json' WHERE body LIKE '%evt-1%'"), 1);
  auto engine = MakeEngine();
  Drain(*engine);
  EXPECT_EQ(engine->counters().integrity_failures.load(), 1u);
  EXPECT_EQ(engine->counters().stored.load(), 1u);
  EXPECT_TRUE(store_->Get(kT1, "evt-2")->has_value());
  auto dlq = DeadLetters();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].envelope.payload.Find("error_code")->as_string(), "envelope_corrupt");
}

TEST_F(EngineTest, TenantMappingIsRevalidated) {
  Publish(kT2, "op-001", "evt-wrong-tenant");  // op-001 belongs to T1
  Publish(kT1, "op-999", "evt-unmapped");      // unknown operator
  queue::Envelope forged = MakeIngest(kT1, "op-001", "evt-sm", clock_, random_);
  {
    json::Value payload = forged.payload;
    json::Value sm = *payload.Find("signed_metadata");
    sm.Set("tenant_id", kT2);
    payload.Set("signed_metadata", sm);
    forged = queue::MakeIngestEnvelope(payload, forged.trace, "x/evt-sm", clock_, random_);
  }
  ASSERT_TRUE(PublishSync(*queue_, std::move(forged)).ok());
  Publish(kT1, "op-001", "evt-good");
  auto engine = MakeEngine();
  Drain(*engine);
  EXPECT_EQ(engine->counters().rejected.load(), 3u);
  EXPECT_EQ(engine->counters().stored.load(), 1u);
  EXPECT_EQ(*store_->Count(kT1), 1);
  EXPECT_EQ(*store_->Count(kT2), 0);
  for (const auto& d : DeadLetters())
    EXPECT_EQ(d.envelope.payload.Find("error_code")->as_string(), "tenant_mismatch");
  EXPECT_EQ(CountAudit(AuditRecords(AuditPath()), "evidence.rejected"), 3);
}

// Issue 12: a forged envelope with a correct (unkeyed) integrity_hash and a consistent tenant
// mapping - what an anonymous NATS client or a writer of queue.db can produce - is
// dead-lettered with the precise reason, never stored.
TEST_F(EngineTest, UnauthenticatedEnvelopesAreDeadLetteredWithThePreciseReason) {
  auto forge = [&](const std::string& event) {
    queue::Envelope e = MakeIngest(kT2, "op-002", event, clock_, random_);
    e.auth = json::Value();  // drop the gateway's signature
    return e;
  };
  ASSERT_TRUE(PublishSync(*queue_, forge("evt-unsigned")).ok());
  {
    queue::Envelope e = forge("evt-unknown-kid");
    queue::EnvelopeSigner("attacker-kid", crypto::Ed25519PrivateKey::Generate()).Sign(&e);
    ASSERT_TRUE(PublishSync(*queue_, std::move(e)).ok());
  }
  {
    // The right kid, the wrong key.
    queue::Envelope e = forge("evt-bad-sig");
    queue::EnvelopeSigner(testing::kQueueKid, crypto::Ed25519PrivateKey::Generate()).Sign(&e);
    ASSERT_TRUE(PublishSync(*queue_, std::move(e)).ok());
  }
  {
    // A genuine signature, then the payload swapped for another tenant's (hash recomputed).
    queue::Envelope good = MakeIngest(kT1, "op-001", "evt-swapped", clock_, random_);
    queue::Envelope other = forge("evt-swapped");
    other.auth = good.auth;
    ASSERT_TRUE(PublishSync(*queue_, std::move(other)).ok());
  }
  {
    queue::Envelope e = forge("evt-alg");
    testing::QueueSigner().Sign(&e);
    e.auth.Set("alg", "hmac-sha256");
    ASSERT_TRUE(PublishSync(*queue_, std::move(e)).ok());
  }
  Publish(kT2, "op-002", "evt-genuine");
  auto engine = MakeEngine();
  Drain(*engine);
  EXPECT_EQ(engine->counters().stored.load(), 1u);
  EXPECT_EQ(engine->counters().unauthenticated.load(), 5u);
  EXPECT_EQ(*store_->Count(kT2), 1);
  EXPECT_TRUE(store_->Get(kT2, "evt-genuine")->has_value());
  std::map<std::string, std::string> reasons;  // event_id -> reason
  for (const auto& r : AuditRecords(AuditPath())) {
    if (r.Find("event_type")->as_string() != "evidence.rejected") continue;
    const json::Value* d = r.Find("details");
    reasons[d->Find("event_id")->as_string()] = d->Find("reason")->as_string();
  }
  EXPECT_EQ(reasons["evt-unsigned"], "envelope_unsigned");
  EXPECT_EQ(reasons["evt-unknown-kid"], "envelope_unknown_kid");
  EXPECT_EQ(reasons["evt-bad-sig"], "envelope_signature_invalid");
  EXPECT_EQ(reasons["evt-swapped"], "envelope_signature_invalid");
  EXPECT_EQ(reasons["evt-alg"], "envelope_auth_unsupported_alg");
  EXPECT_EQ(DeadLetters().size(), 5u);
  EXPECT_NE(EngineMetricsExporter(*engine).Render().find("vv_engine_unauthenticated_total 5"),
            std::string::npos);
}

TEST_F(EngineTest, EnvelopesOfABatchSignedOnceAreStoredAndATamperedOneIsNot) {
  // The gateway's batch path: one Merkle-root signature for the whole batch (envelope_auth.h).
  std::vector<queue::Envelope> batch;
  for (int i = 0; i < 6; ++i)
    batch.push_back(MakeIngest(kT1, "op-001", "evt-b" + std::to_string(i), clock_, random_));
  testing::QueueSigner().SignBatch(&batch);
  ASSERT_EQ(batch[0].auth.Find("alg")->as_string(), queue::kEnvelopeBatchAuthAlg);
  batch[4].payload.Set("campaign_id", "cmp-evil");  // altered after signing
  batch[4].integrity_hash = crypto::Sha256Hex(json::Canonical(batch[4].payload));
  for (auto& e : batch) ASSERT_TRUE(PublishSync(*queue_, std::move(e)).ok());
  auto engine = MakeEngineOnStore();
  Drain(*engine);
  EXPECT_EQ(engine->counters().stored.load(), 5u);
  EXPECT_EQ(engine->counters().unauthenticated.load(), 1u);
  EXPECT_EQ(*store_->Count(kT1), 5);
  EXPECT_FALSE(store_->Get(kT1, "evt-b4")->has_value());
  std::string reason;
  for (const auto& r : AuditRecords(AuditPath()))
    if (r.Find("event_type")->as_string() == "evidence.rejected")
      reason = r.Find("details")->Find("reason")->as_string();
  EXPECT_EQ(reason, "envelope_signature_invalid");
}

TEST_F(EngineTest, UnsignedEnvelopesPassOnlyWhenExplicitlyAllowed) {
  queue::Envelope e = MakeIngest(kT1, "op-001", "evt-dev", clock_, random_);
  e.auth = json::Value();
  ASSERT_TRUE(PublishSync(*queue_, e).ok());
  options_.allow_unsigned_queue_messages = true;
  options_.queue_verify_keys.clear();
  // A present but wrong signature is still refused with the flag.
  queue::Envelope bad = MakeIngest(kT1, "op-001", "evt-badsig", clock_, random_);
  queue::EnvelopeSigner("queue-test", crypto::Ed25519PrivateKey::Generate()).Sign(&bad);
  ASSERT_TRUE(PublishSync(*queue_, std::move(bad)).ok());
  auto engine = MakeEngine();
  Drain(*engine);
  EXPECT_TRUE(store_->Get(kT1, "evt-dev")->has_value());
  EXPECT_FALSE(store_->Get(kT1, "evt-badsig")->has_value());
  EXPECT_EQ(engine->counters().unauthenticated.load(), 1u);
}

TEST_F(EngineTest, TransientFailureIsRetriedThenDeadLetteredAfterMaxDeliveries) {
  Publish(kT1, "op-001", "evt-retry");
  flaky_->fail_next_puts = 1;  // first delivery fails, second succeeds
  auto engine = MakeEngine();
  ASSERT_TRUE(engine->ProcessOnce().ok());
  EXPECT_EQ(engine->counters().transient_failures.load(), 1u);
  EXPECT_EQ(*source_->Lag(), 1);
  ASSERT_TRUE(engine->ProcessOnce().ok());
  EXPECT_EQ(engine->counters().stored.load(), 1u);

  Publish(kT1, "op-001", "evt-poison");
  flaky_->fail_next_puts = 1000;  // store keeps failing
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(engine->ProcessOnce().ok());
  EXPECT_EQ(engine->counters().dead_lettered.load(), 0u);
  ASSERT_TRUE(engine->ProcessOnce().ok());  // 4th delivery > max_deliveries (3)
  EXPECT_EQ(engine->counters().dead_lettered.load(), 1u);
  EXPECT_EQ(*source_->Lag(), 0);
  auto dlq = DeadLetters();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].envelope.payload.Find("error_code")->as_string(), "evidence_max_deliveries");
  EXPECT_EQ(CountAudit(AuditRecords(AuditPath()), "evidence.dead_lettered"), 1);
}

TEST_F(EngineTest, RunStopsPromptlyWhenAskedTo) {
  auto engine = MakeEngine();
  std::atomic<bool> stop{false};
  options_.poll_interval_ms = 50;
  std::thread t([&] { EXPECT_TRUE(engine->Run(stop).ok()); });
  Publish(kT1, "op-001", "evt-live");
  for (int i = 0; i < 500 && engine->counters().stored.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop.store(true);
  t.join();
  EXPECT_EQ(engine->counters().stored.load(), 1u);
}

// Issue 16: a store outage gives one "down" line (with the error) and one "up again" line,
// not one line per failed message.
TEST_F(EngineTest, StoreOutageLogsOneLinePerStateChange) {
  LogCapture capture;
  options_.store_name = "store-under-test-" + random_.Uuid4();  // process-wide state: unique
  options_.max_deliveries = 10;
  flaky_->fail_next_puts = 4;
  for (int i = 0; i < 3; ++i) Publish(kT1, "op-001", "evt-outage" + std::to_string(i));
  auto engine = MakeEngine();
  Drain(*engine);
  EXPECT_EQ(engine->counters().stored.load(), 3u);
  const std::string log = capture.Text();
  auto count = [&](const std::string& needle) { return capture.Count(needle); };
  const std::string down = "backend " + options_.store_name + " down: UNAVAILABLE: injected";
  EXPECT_EQ(count(down), 1) << log;
  EXPECT_EQ(count("backend " + options_.store_name + " up again"), 1) << log;
  EXPECT_EQ(count("backend " + options_.store_name), 2) << log;
}

// A root key provider whose device fails the next N derivations (an HSM that drops out).
class FlakyRootKeyProvider final : public evidence::RootKeyProvider {
 public:
  explicit FlakyRootKeyProvider(const evidence::RootKeyProvider& inner) : inner_(inner) {}
  mutable int fail_next = 0;
  std::string_view kind() const override { return inner_.kind(); }
  evidence::KekScheme scheme() const override { return inner_.scheme(); }
  const std::string& active_key_id() const override { return inner_.active_key_id(); }
  bool HasKey(std::string_view k) const override { return inner_.HasKey(k); }
  std::vector<std::string> key_ids() const override { return inner_.key_ids(); }
  Result<std::string> DeriveKek(std::string_view t, std::string_view k) const override {
    if (fail_next > 0) {
      --fail_next;
      return Status::Unavailable("injected HSM failure");
    }
    return inner_.DeriveKek(t, k);
  }

 private:
  const evidence::RootKeyProvider& inner_;
};

// A message left unacked by a transient failure is not silent: the operator reads which
// message, which step and which error, in a bounded number of lines (it comes back after the
// queue's ack wait, which on JetStream is 30 s by default).
TEST_F(EngineTest, MessageLeftUnackedByAFailingHsmIsLoggedWithStepAndErrorBounded) {
  LogCapture capture;
  FlakyRootKeyProvider hsm(*provider_);
  evidence::EvidenceCipher cipher(hsm, random_);
  options_.batch_size = 20;
  for (int i = 0; i < 15; ++i) Publish(kT1, "op-001", "evt-hsm" + std::to_string(i));
  Engine engine(options_, *source_, *queue_, cipher, *store_, *audit_, clock_, random_);
  hsm.fail_next = 1000;  // every derivation of this pass fails (no KEK cached yet)
  auto n = engine.ProcessOnce();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 15);
  EXPECT_EQ(engine.counters().transient_failures.load(), 15u);
  EXPECT_EQ(*store_->Count(kT1), 0);
  // A failure in a later second first reports how many lines the previous second held back.
  clock_.AdvanceSeconds(1);
  hsm.fail_next = 1;
  Drain(engine);
  EXPECT_EQ(*store_->Count(kT1), 15);
  const std::string log = capture.Text();
  auto count = [&](const std::string& needle) { return capture.Count(needle); };
  EXPECT_EQ(count("left unacked (redelivered after the ack wait): encryption: UNAVAILABLE: "
                  "injected HSM failure"),
            Engine::kUnackedLinesPerSecond + 1)
      << log;
  EXPECT_EQ(count("5 more messages left unacked in the previous second (not shown)"), 1) << log;
  EXPECT_NE(log.find("message 1 left unacked"), std::string::npos) << log;
}

// Issue 14: one metric name set (the alert rules' and the dashboard's names), and readiness
// follows the store: not ready while its writes fail, ready again after one succeeds.
TEST_F(EngineTest, ExporterUsesOneNameSetAndReadinessFollowsTheStore) {
  Publish(kT1, "op-001", "evt-ready-1");
  auto engine = MakeEngine();
  EngineMetricsExporter exporter(*engine);
  EXPECT_TRUE(exporter.Ready().ok());
  flaky_->fail_next_puts = 1;
  ASSERT_TRUE(engine->ProcessOnce().ok());
  Status not_ready = exporter.Ready();
  EXPECT_EQ(not_ready.code(), StatusCode::kUnavailable) << not_ready.ToString();
  std::string text = exporter.Render();
  EXPECT_NE(text.find("\nvv_engine_ready 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nvv_engine_transient_failures_total 1\n"), std::string::npos);
  EXPECT_NE(text.find("\nvv_engine_consumer_lag_messages 1\n"), std::string::npos);
  ASSERT_TRUE(engine->ProcessOnce().ok());
  EXPECT_TRUE(exporter.Ready().ok());
  text = exporter.Render();
  for (const char* line :
       {"\nvv_engine_ready 1\n", "\nvv_engine_messages_consumed_total 2\n",
        "\nvv_engine_messages_stored_total 1\n", "\nvv_engine_consumer_lag_messages 0\n"})
    EXPECT_NE(text.find(line), std::string::npos) << line << " missing in\n" << text;
  // No second spelling of the same counters (the old text file's names).
  for (const char* old : {"vv_engine_consumed_total", "vv_engine_stored_total", "vv_engine_lag "})
    EXPECT_EQ(text.find(old), std::string::npos) << old;
  EXPECT_NE(text.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(text.find("vv_build_info{service=\"engine\""), std::string::npos);
}

// A source whose fetches come back empty while the queue still holds messages (what a
// JetStream pull that expires before the server's delivery arrives looks like, or a commit
// that lands just after the fetch), and which advances the engine's clock per fetch.
class LateSource final : public MessageSource {
 public:
  LateSource(MessageSource& inner, vv::testing::FakeClock& clock) : inner_(inner), clock_(clock) {}
  int empty_fetches = 0;         // the next N fetches return nothing
  int64_t advance_per_fetch_us = 0;
  int fetches = 0;
  std::vector<int64_t> fetched_after;  // after_sequence of every fetch
  std::function<void()> on_fetch;     // called at the start of every fetch
  Result<std::vector<queue::StoredMessage>> Fetch(int max, int64_t timeout_ms,
                                                  int64_t after_sequence) override {
    ++fetches;
    fetched_after.push_back(after_sequence);
    if (on_fetch) on_fetch();
    clock_.AdvanceMicros(advance_per_fetch_us);
    if (empty_fetches > 0) {
      --empty_fetches;
      return std::vector<queue::StoredMessage>{};
    }
    return inner_.Fetch(max, timeout_ms, after_sequence);
  }
  Status Ack(int64_t seq) override { return inner_.Ack(seq); }
  Result<int64_t> Deliveries(int64_t seq) override { return inner_.Deliveries(seq); }
  int lag_queries = 0;
  Result<int64_t> Lag() override {
    ++lag_queries;
    return inner_.Lag();
  }

 private:
  MessageSource& inner_;
  vv::testing::FakeClock& clock_;
};

// Issue 15: asking the queue for its lag counts the whole backlog (embedded: a COUNT over the
// unacked rows; JetStream: a consumer-info round trip); asked after every batch, draining a
// large backlog was quadratic. It is asked after a short fetch and at most once a second
// (engine clock); in between the gauge is lowered by each batch's handled messages.
TEST_F(EngineTest, LagIsAskedOncePerSecondAndAfterShortFetchesNotPerBatch) {
  for (int i = 0; i < 30; ++i) Publish(kT1, "op-001", "evt-lag" + std::to_string(i));
  LateSource late(*source_, clock_);
  options_.batch_size = 5;
  Engine engine(options_, late, *queue_, *cipher_, *flaky_, *audit_, clock_, random_);
  ASSERT_EQ(*engine.ProcessOnce(), 5);
  EXPECT_EQ(late.lag_queries, 1);  // the first batch asks
  EXPECT_EQ(engine.counters().lag.load(), 25);
  ASSERT_EQ(*engine.ProcessOnce(), 5);
  ASSERT_EQ(*engine.ProcessOnce(), 5);
  EXPECT_EQ(late.lag_queries, 1) << "full batches inside the second do not ask";
  EXPECT_EQ(engine.counters().lag.load(), 15) << "lowered by what each batch handled";
  // New messages are not seen until the next question...
  for (int i = 0; i < 4; ++i) Publish(kT1, "op-001", "evt-lag-more" + std::to_string(i));
  ASSERT_EQ(*engine.ProcessOnce(), 5);
  EXPECT_EQ(engine.counters().lag.load(), 10);
  // ...which comes a second later (engine clock).
  clock_.AdvanceMicros(1'000'000);
  ASSERT_EQ(*engine.ProcessOnce(), 5);
  EXPECT_EQ(late.lag_queries, 2);
  EXPECT_EQ(engine.counters().lag.load(), 9);  // 34 published, 25 handled
  while (*engine.ProcessOnce() == 5) {
  }
  // The short fetch asked: the gauge is exact at the end of the backlog.
  EXPECT_EQ(late.lag_queries, 3);
  EXPECT_EQ(engine.counters().lag.load(), 0);
  EXPECT_EQ(engine.counters().stored.load(), 34u);
  ASSERT_EQ(*engine.ProcessOnce(), 0);
  EXPECT_EQ(late.lag_queries, 4);
}

// A store whose first Put waits (up to 10 s) until `open` is called: a batch held in the
// store while the test watches what the engine does meanwhile.
class GateStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  void Open() {
    MutexLock l(&mu_);
    open_ = true;
    cv_.SignalAll();
  }
  bool opened_while_waiting() {
    MutexLock l(&mu_);
    return opened_while_waiting_;
  }
  Result<evidence::PutOutcome> Put(const evidence::EvidenceRecord& r) override {
    {
      MutexLock l(&mu_);
      if (!first_put_done_) {
        first_put_done_ = true;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!open_ && cv_.WaitUntil(&mu_, deadline) != std::cv_status::timeout) {
        }
        opened_while_waiting_ = open_;
      }
    }
    return inner_.Put(r);
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool open_ VV_GUARDED_BY(mu_) = false;
  bool first_put_done_ VV_GUARDED_BY(mu_) = false;
  bool opened_while_waiting_ VV_GUARDED_BY(mu_) = false;
};

// Issue 15: Run pipelines two batches - the next batch is fetched and checked while the one
// before is in the store (store commit, audit, acks: three durable writes). The first batch's
// store waits until the engine fetches again, which a serial engine never does (the wait
// would time out). The fetch made meanwhile asks for sequences above the batch in the store
// (its messages are still unacked), so nothing is delivered twice.
TEST_F(EngineTest, RunFetchesTheNextBatchWhileTheBatchBeforeIsStored) {
  for (int i = 0; i < 12; ++i) Publish(kT1, "op-001", "evt-pipe" + std::to_string(i));
  GateStore gate(*store_);
  LateSource source(*source_, clock_);
  source.on_fetch = [&] {
    if (source.fetches == 2) gate.Open();
  };
  options_.batch_size = 4;
  Engine engine(options_, source, *queue_, *cipher_, gate, *audit_, clock_, random_);
  Drain(engine);
  EXPECT_TRUE(gate.opened_while_waiting()) << "the second fetch waited for the first store";
  ASSERT_GE(source.fetched_after.size(), 3u);
  EXPECT_EQ(source.fetched_after[0], 0);
  auto all = queue_->List(queue::Kind::kIngest, 0, 100);
  ASSERT_TRUE(all.ok() && all->size() == 12u);
  EXPECT_EQ(source.fetched_after[1], (*all)[3].sequence) << "above the batch in the store";
  EXPECT_EQ(source.fetched_after[2], (*all)[7].sequence);
  EXPECT_EQ(engine.counters().consumed.load(), 12u) << "no message fetched twice";
  EXPECT_EQ(engine.counters().stored.load(), 12u);
  EXPECT_EQ(engine.counters().duplicates.load(), 0u);
  EXPECT_EQ(*store_->Count(kT1), 12);
  EXPECT_EQ(*source_->Lag(), 0);
}

// A message left unacked while later batches are in flight (a failed store commit) sits below
// the fetch cursor: Run goes back to the oldest unacked message and stores it.
TEST_F(EngineTest, RunRefetchesAMessageLeftUnackedBelowTheCursor) {
  for (int i = 0; i < 12; ++i) Publish(kT1, "op-001", "evt-left" + std::to_string(i));
  flaky_->fail_next_puts = 1;  // the first batch's first record
  options_.batch_size = 4;
  options_.poll_interval_ms = 1;
  LateSource source(*source_, clock_);
  Engine engine(options_, source, *queue_, *cipher_, *flaky_, *audit_, clock_, random_);
  Drain(engine);
  EXPECT_EQ(engine.counters().stored.load(), 12u);
  EXPECT_EQ(engine.counters().consumed.load(), 13u);  // the failed one twice
  EXPECT_EQ(*store_->Count(kT1), 12);
  EXPECT_EQ(*source_->Lag(), 0);
}

// Issue 14: --drain used to exit at the first empty fetch, before consuming anything.
TEST_F(EngineTest, DrainConsumesUntilTheQueueReportsNothingLeftNotUntilAnEmptyFetch) {
  for (int i = 0; i < 30; ++i) Publish(kT1, "op-001", "evt-late" + std::to_string(i));
  LateSource late(*source_, clock_);
  late.empty_fetches = 3;
  std::vector<DrainProgress> progress;
  options_.on_progress = [&](const DrainProgress& p) { progress.push_back(p); };
  Engine engine(options_, late, *queue_, *cipher_, *flaky_, *audit_, clock_, random_);
  Drain(engine);
  EXPECT_EQ(engine.counters().stored.load(), 30u);
  EXPECT_EQ(*source_->Lag(), 0);
  EXPECT_GE(late.fetches, 4);
  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(progress.back().final);
  EXPECT_EQ(progress.back().processed, 30u);
  EXPECT_EQ(progress.back().total, 30);
}

TEST_F(EngineTest, DrainOfAnEmptyQueueExitsAtOnceWithAFinalLine) {
  std::vector<DrainProgress> progress;
  options_.on_progress = [&](const DrainProgress& p) { progress.push_back(p); };
  auto engine = MakeEngine();
  Drain(*engine);
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_TRUE(progress[0].final);
  EXPECT_EQ(progress[0].processed, 0u);
  EXPECT_EQ(progress[0].total, 0);
}

TEST_F(EngineTest, DrainProgressAtMostOncePerIntervalByTheEngineClock) {
  for (int i = 0; i < 20; ++i) Publish(kT1, "op-001", "evt-progress" + std::to_string(i));
  LateSource late(*source_, clock_);
  late.advance_per_fetch_us = 300'000;  // 0.3 s of engine time per fetch
  options_.batch_size = 1;
  std::vector<DrainProgress> progress;
  options_.on_progress = [&](const DrainProgress& p) { progress.push_back(p); };
  Engine engine(options_, late, *queue_, *cipher_, *flaky_, *audit_, clock_, random_);
  Drain(engine);
  ASSERT_GE(progress.size(), 2u);
  const double elapsed = progress.back().elapsed_s;
  // One line per started second at most (plus the final one).
  EXPECT_LE(static_cast<double>(progress.size() - 1), elapsed + 1) << elapsed;
  uint64_t last = 0;
  for (size_t i = 0; i + 1 < progress.size(); ++i) {
    EXPECT_FALSE(progress[i].final);
    EXPECT_GE(progress[i].processed, last);
    EXPECT_EQ(progress[i].total, 20);
    EXPECT_GT(progress[i].rate_per_s, 0);
    last = progress[i].processed;
  }
  EXPECT_TRUE(progress.back().final);
  EXPECT_EQ(progress.back().processed, 20u);
  EXPECT_NEAR(progress.back().rate_per_s, 20 / elapsed, 0.01);
}

TEST_F(EngineTest, OnlyOneEngineMayConsumeAnEmbeddedQueue) {
  auto second = EmbeddedSource::Open(*queue_, QueuePath());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(second.status().message().find("another vv-engine"), std::string::npos);
  source_.reset();  // the lock goes with the source
  auto again = EmbeddedSource::Open(*queue_, QueuePath());
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

// Retention (issue 14): acked rows go once they are older than queue_retention_seconds by
// the injected clock; unacked rows stay however old.
TEST(EmbeddedSourceRetentionTest, AckedRowsArePrunedAfterTheRetentionTimeOnly) {
  vv::testing::TempDir dir;
  vv::testing::FakeClock clock;
  SystemRandom random;
  queue::EmbeddedQueueOptions qo;
  qo.clock = &clock;
  auto q = queue::EmbeddedQueue::Open(dir.File("q.db"), qo);
  ASSERT_TRUE(q.ok());
  for (int i = 0; i < 25; ++i)
    ASSERT_TRUE(PublishSync(**q, MakeIngest(kT1, "op-001", "evt-r" + std::to_string(i), clock,
                                           random)).ok());
  EmbeddedSourceOptions so;
  so.retention_seconds = 3600;
  so.prune_batch = 4;  // several bounded batches
  so.clock = &clock;
  auto src = EmbeddedSource::Open(**q, dir.File("q.db"), so);
  ASSERT_TRUE(src.ok());
  auto first = (*src)->Fetch(20, 0, 0);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 20u);
  for (const auto& m : *first) ASSERT_TRUE((*src)->Ack(m.sequence).ok());  // acked at t0
  clock.AdvanceSeconds(3599);
  ASSERT_TRUE((*src)->Fetch(1, 0, 0).ok());
  EXPECT_EQ(*(*q)->Count(queue::Kind::kIngest), 25) << "nothing is older than the retention";
  clock.AdvanceSeconds(2);
  auto rest = (*src)->Fetch(10, 0, 0);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), 5u) << "unacked rows are kept";
  EXPECT_EQ(*(*q)->Count(queue::Kind::kIngest), 5);
  EXPECT_EQ(*(*src)->Lag(), 5);
}

}  // namespace
}  // namespace vv::engine

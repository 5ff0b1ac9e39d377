#pragma once
// EmbeddedQueue: the durable queue + dead-letter queue of the embedded (single machine)
// profile, stored in one SQLite file in WAL mode with synchronous=FULL, so an OK publish
// callback (-> HTTP 202) means the message survives a crash or power loss.
//
// Storage layout (schema 3, PRAGMA user_version): a message's bytes and its delivery state
// are kept apart, so fetching and acking rewrite short rows, never the stored bytes.
//   messages  seq INTEGER PRIMARY KEY AUTOINCREMENT, kind ('ingest' | 'dead_letter'; both kinds
//             share the sequence space), message_id, dedupe_id (NULL for dead letters; UNIQUE
//             when not NULL), created_at, integrity_hash, body (canonical envelope JSON = the
//             wire bytes), schema (NOT NULL, always 3: an earlier release's INSERT, which
//             does not name it, is refused). Written once; deleted by retention.
//   unacked   (kind, seq) WITHOUT ROWID, delivered_count: one row per live message.
//   acked     seq INTEGER PRIMARY KEY, kind, acked_at (unix micros), delivered_count; indexed by
//             (kind, acked_at) for retention.
// Files of schemas 1 and 2 (delivery state in columns of messages) are migrated on open.
//
// Group commit: Publish() validates nothing heavy, appends to a bounded in-memory queue and
// returns. One writer thread takes everything pending, inserts it in ONE transaction
// (INSERT ... ON CONFLICT(dedupe_id) DO NOTHING; no row inserted -> kDuplicate), commits,
// and only then hands the group to the completion thread (common/completion_thread.h), which
// invokes the callbacks (OK + kStored / kDuplicate) while the writer goes on with the next
// transaction: the callbacks' work (the gateway's audit records and answers) overlaps the next
// group's inserts and fsync instead of delaying them. At most two committed groups wait for
// their callbacks; the writer waits beyond that. If the transaction fails
// (BEGIN, an I/O error on insert, COMMIT), it is rolled back and every callback of the batch
// gets Unavailable: nothing is reported stored that is not stored. When the pending queue is
// full, or the queue is shutting down, Publish fails fast: the callback is invoked with
// Unavailable inline, on the caller's thread (callers must not hold a lock the callback
// needs; see queue.h "callers must not assume which thread").
//
// Health(): Unavailable after a failed transaction until a later one commits, and once the
// writer has stopped; OK otherwise.
//
// Reads (List, Count) and the consumer primitives (FetchUnacked, Ack) use a separate SQLite
// connection (WAL lets it read while the writer writes), serialised by its own mutex; they
// never touch the publish path's lock. A consumer's hot path can have a connection of its own
// (EmbeddedDeliveryReader, below).
//
// The callbacks of one commit group - of every group waiting when the completion thread wakes -
// run inside one CompletionBatch (common/completion_batch.h): work a callback defers to it
// runs once after the last of them.
//
// Thread-safety: all public methods are thread-safe. Callbacks run on the completion thread,
// in commit order (or inline on the caller's thread for fail-fast rejections), with no
// internal lock held; they must not throw and must not destroy the queue. Ownership: the queue
// owns both SQLite connections, the writer and the completion thread; the destructor drains
// every pending message (callbacks still called), then stops both threads and closes the
// database.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/completion_thread.h"
#include "common/mutex.h"
#include "common/status.h"
#include "queue/envelope_auth.h"
#include "queue/queue.h"
#include "sqlstore/wal_checkpointer.h"

struct sqlite3;

namespace vv::queue {

struct EmbeddedQueueOptions {
  // Publishes waiting for the writer beyond this are rejected with Unavailable.
  size_t max_pending = 65536;
  // How long a statement waits for another connection's lock before failing (SQLITE_BUSY).
  int busy_timeout_ms = 5000;
  // Clock for acked_at; nullptr = the system clock. Must outlive the queue.
  const Clock* clock = nullptr;
  // Signs every unsigned envelope on its way in (issue 12) with one signature per group
  // (issue 15): single publishes are grouped by commit - the publishing thread builds each
  // envelope's unsigned canonical bytes, the writer signs the commit group's Merkle root once
  // (EnvelopeSigner::SignedWireBytes: ed25519-merkle-v1, a group of one plain ed25519); a
  // PublishBatch is its own group, signed on the publishing thread. The stored bytes are the
  // signed canonical envelope. An envelope that arrives signed is stored as it is.
  // nullptr = stored unsigned (development).
  std::shared_ptr<const EnvelopeSigner> signer;
  // Told on the opening thread, before and after, when Open migrates the file's schema (a
  // queue of an earlier release): the table is rebuilt, about 70 us a row on the reference
  // machine (470k rows, 1 GB: 34 s), and the process is not serving meanwhile. nullptr = quiet.
  std::function<void(const std::string&)> on_notice;
  // Told the size of every commit group (messages in one write transaction), on the writer
  // thread, before the commit (the gateway's vv_gateway_queue_group_size). Must be cheap and
  // must not call into the queue. nullptr = not told.
  std::function<void(size_t)> on_group;
  // TEST ONLY: called by the writer just before COMMIT; a non-OK status makes the writer
  // roll the batch back as if COMMIT had failed. Called on the writer thread.
  std::function<Status()> fail_commit_for_test;
};

class EmbeddedQueue final : public Publisher {
 public:
  // Opens (creating if needed) the queue file at `path`. Errors: Unavailable when the file
  // cannot be opened/created or WAL mode cannot be enabled, DataLoss when it is not a queue
  // database (or corrupt), InvalidArgument for bad options.
  static Result<std::unique_ptr<EmbeddedQueue>> Open(const std::string& path,
                                                     const EmbeddedQueueOptions& options);
  ~EmbeddedQueue() override;
  EmbeddedQueue(const EmbeddedQueue&) = delete;
  EmbeddedQueue& operator=(const EmbeddedQueue&) = delete;

  // Publisher.
  void Publish(Envelope envelope, PublishCallback done) override;
  // All of `envelopes` enter the pending queue under one lock, so the writer takes them
  // together and commits them in ONE transaction (all stored, or all Unavailable).
  void PublishBatch(std::vector<Envelope> envelopes, PublishBatchCallback done) override;
  Status Health() const override;

  // Messages of `kind` with seq > after_seq, in seq order, at most `limit` (limit <= 0: none).
  Result<std::vector<StoredMessage>> List(Kind kind, int64_t after_seq, int limit);
  // Number of stored messages of `kind` (acked or not).
  Result<int64_t> Count(Kind kind);

  // Consumer primitives (at-least-once): the oldest `limit` unacked messages of `kind`, in
  // seq order; delivered_count of each returned row is incremented in the same transaction.
  // Repeated calls return the same messages until they are acked (in-flight tracking belongs
  // to the caller).
  Result<std::vector<StoredMessage>> FetchUnacked(Kind kind, int limit);
  // Marks message `seq` acked (acked_at = clock now). Idempotent; NotFound for an unknown seq.
  Status Ack(int64_t seq);
  // Acks every message of `seqs` in ONE transaction: all acked, or none (NotFound naming the
  // first unknown seq, Unavailable on a database error).
  Status AckBatch(const std::vector<int64_t>& seqs);
  // delivered_count of message `seq` (NotFound for an unknown seq).
  Result<int64_t> DeliveredCount(int64_t seq);
  // Unacked messages of `kind` with seq > after_seq, in seq order (no delivery counted).
  Result<std::vector<StoredMessage>> ListUnacked(Kind kind, int64_t after_seq, int limit);
  // DLQ redrive (dead_letters.h), in one transaction: the ingest row with `original`'s
  // message_id is made unacked again (delivered_count 0), or, when retention pruned it, the
  // original wire bytes are inserted as a new ingest row (no dedupe id); then dead letter
  // `dlq_seq` is acked (retired). Returns the ingest seq. NotFound when `dlq_seq` is not a
  // live dead letter.
  Result<int64_t> Redrive(int64_t dlq_seq, const Envelope& original,
                          const std::string& original_wire);
  // Retention: deletes at most `limit` messages of `kind` acked before `cutoff_micros`
  // (acked_at < cutoff), oldest first, in one transaction; returns how many. Unacked messages
  // are never deleted.
  Result<int> PruneAcked(Kind kind, int64_t cutoff_micros, int limit);
  // The query by which PruneAcked finds the rows due (?1 kind, ?2 cutoff, ?3 limit); tests check
  // its query plan (a range scan of the acked-rows index, never a walk of the table).
  static const char* PruneAckedSql();
  // The statements of an ack (AckBatch's, then the dead-letter redrive's); tests check their
  // programs hold no ephemeral table (an IN list or RETURNING builds one per execution).
  static std::vector<const char*> AckSql();

  // Stats: committed write transactions, failed ones, and messages that reached a commit.
  uint64_t commits() const { return commits_.load(); }
  uint64_t failed_commits() const { return failed_commits_.load(); }
  uint64_t committed_messages() const { return committed_messages_.load(); }

 private:
  // Made on the publishing thread (MakePendingPublish); signed with its commit group by the
  // writer (SignPendingGroup), or on the publishing thread for a PublishBatch.
  using Pending = PendingPublish;
  struct Outcome {
    Status status;
    PublishOutcome outcome = PublishOutcome::kStored;
  };

  struct WriterStatements;
  // Moves items[0..n) to the pending queue together, or fails every one inline (full/stopping).
  void Enqueue(Pending* items, size_t n);  // the writer thread's cached prepared statements

  // A committed (or failed) group waiting for its callbacks.
  struct Group {
    std::vector<Pending> batch;
    std::vector<Outcome> outcomes;
  };

  EmbeddedQueue(sqlite3* writer_db, sqlite3* reader_db,
                std::unique_ptr<sqlstore::WalCheckpointer> checkpointer,
                const EmbeddedQueueOptions& options);
  void WriterLoop();
  // On the completion thread: the callbacks of one group, in order.
  static void CompleteGroup(Group& group);
  // Writes the batch in one transaction; fills `outcomes` (same size as batch).
  void WriteBatch(std::vector<Pending>& batch, WriterStatements* statements,
                  std::vector<Outcome>* outcomes);
  Result<std::vector<StoredMessage>> Select(Kind kind, int64_t after_seq, int limit,
                                            bool unacked_only) VV_REQUIRES(reader_mu_);

  const EmbeddedQueueOptions options_;
  SystemClock system_clock_;
  const Clock& clock_;

  sqlite3* writer_db_;  // used by the writer thread only (and by Open/destructor)

  mutable Mutex reader_mu_;
  sqlite3* reader_db_ VV_GUARDED_BY(reader_mu_);

  // Both connections' checkpoints (copying the write-ahead log into the database file) run on
  // a thread of their own, not inside the writer's COMMIT that crosses SQLite's 1000-page
  // mark (a stall of every request waiting for the next commit: ~1000 page copies and an
  // fsync). Destroyed after both connections.
  std::unique_ptr<sqlstore::WalCheckpointer> checkpointer_;

  mutable Mutex mu_;
  CondVar cv_;  // pending_ gained messages, or stopping_ was set
  std::deque<Pending> pending_ VV_GUARDED_BY(mu_);
  bool stopping_ VV_GUARDED_BY(mu_) = false;

  // Committed (or failed) groups waiting for their callbacks: at most two (the writer waits).
  CompletionThread<Group> completions_{&EmbeddedQueue::CompleteGroup, /*max_waiting=*/2};

  // Cleared by the writer when it stops (Enqueue and Health read it).
  std::atomic<bool> writer_running_{false};
  std::atomic<bool> last_commit_failed_{false};
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> failed_commits_{0};
  std::atomic<uint64_t> committed_messages_{0};

  std::thread writer_;
};

// A consumer's own connection to an embedded queue file, for its delivery hot path (the
// engine's Run thread, engine/message_source.h), beside the queue's reader connection (its
// acks): Fetch returns the oldest unacked messages of a kind after a seq, counting the delivery
// in the same transaction (delivery_count = deliveries so far, this one included), with the
// stored bytes only - the envelope is NOT parsed (the consumer parses, and dead-letters what is
// not an envelope). synchronous=NORMAL: a fetch commit does not wait for an fsync (it survives a
// process crash; the WAL is synced by the next synchronous=FULL commit on the file, e.g. the
// batch's ack). Open it on a file an EmbeddedQueue has opened (schema in place).
// Thread-safety: one thread at a time.
class EmbeddedDeliveryReader {
 public:
  // Unavailable when the file cannot be opened.
  static Result<std::unique_ptr<EmbeddedDeliveryReader>> Open(const std::string& path,
                                                              int busy_timeout_ms = 5000);
  ~EmbeddedDeliveryReader();
  EmbeddedDeliveryReader(const EmbeddedDeliveryReader&) = delete;
  EmbeddedDeliveryReader& operator=(const EmbeddedDeliveryReader&) = delete;

  // At most `limit` messages (limit <= 0: none); Unavailable on a database error.
  Result<std::vector<StoredMessage>> Fetch(Kind kind, int64_t after_seq, int limit);
  // Unacked messages of `kind` (the consumer's lag).
  Result<int64_t> CountUnacked(Kind kind);

 private:
  struct Statements;  // cached prepared statements
  EmbeddedDeliveryReader(sqlite3* db, std::unique_ptr<Statements> statements);
  sqlite3* db_;
  std::unique_ptr<Statements> statements_;
};

}  // namespace vv::queue

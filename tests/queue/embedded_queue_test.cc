// EmbeddedQueue: durability, dedupe, DLQ, group commit, failure reporting, consumer API.

#include "queue/embedded_queue.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/completion_batch.h"
#include "common/encoding.h"
#include "fakes/fake_clock.h"
#include "fakes/temp_dir.h"
#include "queue/envelope_codec.h"
#include "queue/failing_publisher.h"

namespace vv::queue {
namespace {

using vv::testing::FakeClock;
using vv::testing::TempDir;

// Collects publish callbacks; Wait blocks until `n` arrived (or times out).
class Recorder {
 public:
  struct Entry {
    Status status;
    PublishOutcome outcome;
  };
  PublishCallback Callback(int index) {
    return [this, index](Status s, PublishOutcome o) {
      std::lock_guard<std::mutex> l(mu_);
      entries_.push_back({index, {std::move(s), o}});
      cv_.notify_all();
    };
  }
  bool Wait(size_t n, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return entries_.size() >= n; });
  }
  // Entry for the publish with `index` (REQUIRES: arrived).
  Entry Get(int index) {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [i, e] : entries_) {
      if (i == index) return e;
    }
    ADD_FAILURE() << "no callback for " << index;
    return {Status::Internal("missing"), PublishOutcome::kStored};
  }
  size_t size() {
    std::lock_guard<std::mutex> l(mu_);
    return entries_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<int, Entry>> entries_;
};

// Holds the writer inside its commits (fail_commit_for_test) until Release(); then they pass.
class WriterGate {
 public:
  std::function<Status()> Hook() {
    return [this]() -> Status {
      std::unique_lock<std::mutex> l(mu_);
      in_hook_ = true;
      cv_.notify_all();
      cv_.wait(l, [&] { return release_; });
      return Status::Ok();
    };
  }
  bool WaitUntilHeld() {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(30), [&] { return in_hook_; });
  }
  void Release() {
    {
      std::lock_guard<std::mutex> l(mu_);
      release_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool in_hook_ = false, release_ = false;
};

class EmbeddedQueueTest : public ::testing::Test {
 protected:
  std::unique_ptr<EmbeddedQueue> OpenQueue(EmbeddedQueueOptions options = {}) {
    options.clock = &clock_;
    Result<std::unique_ptr<EmbeddedQueue>> q = EmbeddedQueue::Open(path_, options);
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? std::move(q).value() : nullptr;
  }
  Envelope Ingest(const std::string& event_id, const std::string& dedupe_id,
                  const std::string& bulk = "") {
    json::Value payload = json::Value::MakeObject();
    payload.Set("event_id", event_id);
    if (!bulk.empty()) payload.Set("bulk", bulk);
    payload.Set("tenant_id", "t1");
    json::Value trace = json::Value::MakeObject();
    trace.Set("tenant_id", "t1");
    return MakeIngestEnvelope(payload, trace, dedupe_id, clock_, random_);
  }
  // Column `column` of every row `sql` gives on the queue's file, each followed by `sep`.
  std::string ExplainColumn(const std::string& sql, int column, const char* sep) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    std::string out;
    while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(st, column);
      out += (text != nullptr ? reinterpret_cast<const char*>(text) : "") + std::string(sep);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }
  Envelope DeadLetter(std::string_view raw) {
    json::Value trace = json::Value::MakeObject();
    trace.Set("reason", "json_decode");
    return MakeDeadLetterEnvelope("invalid_json", "Invalid JSON payload", raw, trace, clock_,
                                  random_);
  }
  // Opens the queue with `gate` holding the writer inside its first commit, publishes `first`
  // (callback 0 of `r`) and waits until the writer holds it: later publishes pile up behind it.
  std::unique_ptr<EmbeddedQueue> OpenHeld(EmbeddedQueueOptions o, WriterGate& gate, Recorder& r,
                                          Envelope first) {
    o.fail_commit_for_test = gate.Hook();
    auto q = OpenQueue(o);
    if (q == nullptr) return nullptr;
    q->Publish(std::move(first), r.Callback(0));
    EXPECT_TRUE(gate.WaitUntilHeld());
    return q;
  }
  // Publishes and waits for the callback.
  Recorder::Entry PublishSync(Publisher& q, Envelope e) {
    Recorder r;
    q.Publish(std::move(e), r.Callback(0));
    EXPECT_TRUE(r.Wait(1));
    return r.Get(0);
  }

  TempDir dir_;
  std::string path_ = dir_.File("queue.db");
  FakeClock clock_;
  SystemRandom random_;  // FakeRandom repeats UUIDs after 16 of them
};

// Redrive of a dead letter whose original is no longer stored (pruned by retention, or never
// stored here): the original goes in again - a new seq, unacked, its bytes exactly as given,
// no dedupe id (a later publish of the same event is not refused because of it) - and the
// dead letter retires in the same transaction; a second redrive finds nothing.
TEST_F(EmbeddedQueueTest, RedriveStoresAnOriginalThatIsNoLongerThere) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(PublishSync(*q, DeadLetter("{")).status.ok());
  auto dead = q->ListUnacked(Kind::kDeadLetter, 0, 10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  const Envelope original = Ingest("e-gone", "t1/e-gone");
  const std::string wire = original.CanonicalBytes();
  auto seq = q->Redrive((*dead)[0].sequence, original, wire);
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  EXPECT_GT(*seq, (*dead)[0].sequence);
  auto live = q->ListUnacked(Kind::kIngest, 0, 10);
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].sequence, *seq);
  EXPECT_EQ((*live)[0].wire_bytes, wire);
  EXPECT_EQ((*live)[0].envelope.message_id, original.message_id);
  EXPECT_TRUE((*live)[0].envelope.dedupe_id.empty());
  EXPECT_EQ(*q->DeliveredCount(*seq), 0);
  EXPECT_TRUE(q->ListUnacked(Kind::kDeadLetter, 0, 10)->empty()) << "retired";
  EXPECT_EQ(q->Redrive((*dead)[0].sequence, original, wire).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(PublishSync(*q, Ingest("e-gone", "t1/e-gone")).outcome, PublishOutcome::kStored);
}

TEST_F(EmbeddedQueueTest, OpenCreatesWalDatabaseAndIsHealthy) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(q->Health().ok());
  EXPECT_EQ(*q->Count(Kind::kIngest), 0);
  EXPECT_EQ(*q->Count(Kind::kDeadLetter), 0);
  // WAL mode is persistent in the file: a fresh connection sees it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

// The gateway and an operator's `vvctl dlq` (or two processes started together) may open one new
// queue file at the same moment: the WAL switch and the schema can meet SQLITE_BUSY without the
// busy handler running, and opening retries them instead of refusing to start.
TEST_F(EmbeddedQueueTest, ConcurrentOpensOfOneNewFileAllSucceed) {
  constexpr int kRounds = 20;
  constexpr int kOpeners = 4;
  for (int round = 0; round < kRounds; ++round) {
    const std::string path = dir_.File("concurrent-" + std::to_string(round) + ".db");
    std::atomic<int> ready{0};
    std::vector<std::string> failures(kOpeners);
    std::vector<std::thread> threads;
    for (int i = 0; i < kOpeners; ++i) {
      threads.emplace_back([&, i] {
        EmbeddedQueueOptions options;
        options.clock = &clock_;
        ready.fetch_add(1);
        while (ready.load() < kOpeners) std::this_thread::yield();
        auto q = EmbeddedQueue::Open(path, options);
        if (!q.ok()) failures[i] = q.status().ToString();
      });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < kOpeners; ++i) EXPECT_EQ(failures[i], "") << "round " << round;
  }
}

// Issue 12: queue.db and its -wal/-shm were world-readable (0644); now owner-only whatever
// the umask.
TEST_F(EmbeddedQueueTest, DatabaseAndWalFilesAreOwnerOnly) {
  const mode_t old = ::umask(022);
  auto q = OpenQueue();
  ::umask(old);
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(PublishSync(*q, Ingest("evt-mode", "t1/evt-mode")).status.ok());
  for (const std::string& f : {path_, path_ + "-wal", path_ + "-shm"}) {
    struct stat st {};
    ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
}

TEST_F(EmbeddedQueueTest, PublishedMessageSurvivesReopen) {
  Envelope e = Ingest("evt-1", "t1/evt-1");
  const std::string wire = e.CanonicalBytes();
  const Envelope copy = e;
  {
    auto q = OpenQueue();
    ASSERT_NE(q, nullptr);
    Recorder::Entry r = PublishSync(*q, e);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.outcome, PublishOutcome::kStored);
    EXPECT_GE(q->commits(), 1u);
  }
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(*q->Count(Kind::kIngest), 1);
  Result<std::vector<StoredMessage>> msgs = q->List(Kind::kIngest, 0, 10);
  ASSERT_TRUE(msgs.ok()) << msgs.status().ToString();
  ASSERT_EQ(msgs->size(), 1u);
  const StoredMessage& m = (*msgs)[0];
  EXPECT_GT(m.sequence, 0);
  EXPECT_EQ(m.wire_bytes, wire);
  EXPECT_EQ(m.envelope.message_id, copy.message_id);
  EXPECT_EQ(m.envelope.kind, Kind::kIngest);
  EXPECT_EQ(m.envelope.created_at, copy.created_at);
  EXPECT_EQ(m.envelope.integrity_hash, copy.integrity_hash);
  EXPECT_EQ(m.envelope.dedupe_id, "t1/evt-1");
  EXPECT_TRUE(m.envelope.payload == copy.payload);
  EXPECT_TRUE(m.envelope.trace == copy.trace);
  EXPECT_EQ(*q->Count(Kind::kDeadLetter), 0);
}

TEST_F(EmbeddedQueueTest, DuplicateDedupeIdIsAcknowledgedAndStoredOnce) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  Recorder::Entry first = PublishSync(*q, Ingest("evt-1", "t1/evt-1"));
  ASSERT_TRUE(first.status.ok());
  EXPECT_EQ(first.outcome, PublishOutcome::kStored);
  // A retry: new envelope (new message_id), same idempotence key.
  Recorder::Entry second = PublishSync(*q, Ingest("evt-1", "t1/evt-1"));
  ASSERT_TRUE(second.status.ok()) << second.status.ToString();
  EXPECT_EQ(second.outcome, PublishOutcome::kDuplicate);
  EXPECT_EQ(*q->Count(Kind::kIngest), 1);
  // Another key is stored.
  Recorder::Entry third = PublishSync(*q, Ingest("evt-2", "t1/evt-2"));
  EXPECT_EQ(third.outcome, PublishOutcome::kStored);
  EXPECT_EQ(*q->Count(Kind::kIngest), 2);
}

TEST_F(EmbeddedQueueTest, DedupeSurvivesReopen) {
  {
    auto q = OpenQueue();
    ASSERT_NE(q, nullptr);
    ASSERT_EQ(PublishSync(*q, Ingest("evt-1", "t1/evt-1")).outcome, PublishOutcome::kStored);
  }
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  Recorder::Entry r = PublishSync(*q, Ingest("evt-1", "t1/evt-1"));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outcome, PublishOutcome::kDuplicate);
  EXPECT_EQ(*q->Count(Kind::kIngest), 1);
}

namespace {

// Runs `sql` on `path` through a plain connection; returns the first column of the last row.
std::string RawSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::string last;
  char* err = nullptr;
  const int rc = sqlite3_exec(
      db, sql.c_str(),
      [](void* out, int n, char** values, char**) {
        *static_cast<std::string*>(out) = n > 0 && values[0] != nullptr ? values[0] : "";
        return 0;
      },
      &last, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << "\n" << sql;
  sqlite3_free(err);
  sqlite3_close(db);
  return last;
}

}  // namespace

// Rewrites the schema-3 queue file at `path` into schema 1 or 2 - the layout of an earlier
// release: one messages table with the delivery state in columns (delivered_count, acked_at);
// schema 1 with a UNIQUE message_id, schema 2 without it and with the acked-rows index. The
// AUTOINCREMENT high-water mark becomes `high_water` (a queue whose newest rows were pruned).
void RewriteAsOldSchema(const std::string& path, int version, int high_water) {
  RawSql(path,
         std::string("BEGIN;"
                     "CREATE TABLE old (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                     " kind TEXT NOT NULL CHECK (kind IN ('ingest', 'dead_letter')),"
                     " message_id TEXT NOT NULL") +
             (version == 1 ? " UNIQUE" : "") +
             ", dedupe_id TEXT UNIQUE, created_at TEXT NOT NULL,"
             " integrity_hash TEXT NOT NULL, body TEXT NOT NULL,"
             " delivered_count INTEGER NOT NULL DEFAULT 0, acked_at INTEGER);"
             "INSERT INTO old SELECT m.seq, m.kind, m.message_id, m.dedupe_id, m.created_at,"
             " m.integrity_hash, m.body, coalesce(u.delivered_count, a.delivered_count),"
             " a.acked_at FROM messages m LEFT JOIN unacked u ON u.seq = m.seq"
             " LEFT JOIN acked a ON a.seq = m.seq;"
             "DROP TABLE messages; DROP TABLE unacked; DROP TABLE acked;"
             "ALTER TABLE old RENAME TO messages;"
             "UPDATE sqlite_sequence SET seq = " +
             std::to_string(high_water) +
             " WHERE name = 'messages';"
             "CREATE INDEX messages_kind_seq ON messages(kind, seq);"
             "CREATE INDEX messages_unacked ON messages(kind, seq) WHERE acked_at IS NULL;" +
             (version == 2 ? "CREATE INDEX messages_created_at ON messages(created_at);"
                             "CREATE INDEX messages_acked ON messages(kind, acked_at) WHERE"
                             " acked_at IS NOT NULL;"
                           : "") +
             "PRAGMA user_version=" + std::to_string(version) + "; COMMIT;");
}

// Issue 15: schema 3 keeps each message's delivery state (delivered_count, acked_at) in short
// rows of its own instead of columns of the ~1.7 KB stored row. A queue of an earlier schema
// (1: with a UNIQUE message_id; 2: without) is migrated in place on open: every row, seq,
// delivery count, ack time and dedupe key kept, the AUTOINCREMENT high-water mark too (a pruned
// tail's seqs are never handed out again), announced before and after.
class EmbeddedQueueMigrationTest : public EmbeddedQueueTest,
                                   public ::testing::WithParamInterface<int> {};

TEST_P(EmbeddedQueueMigrationTest, OldSchemaIsMigratedKeepingRowsSeqsStateAndDedupe) {
  const int version = GetParam();
  int64_t acked_seq = 0;
  int64_t acked_at = 0;
  {
    auto q = OpenQueue();
    ASSERT_NE(q, nullptr);
    for (int i = 0; i < 4; ++i) {
      const std::string id = "evt-" + std::to_string(i);
      ASSERT_EQ(PublishSync(*q, Ingest(id, "t1/" + id)).outcome, PublishOutcome::kStored);
    }
    auto got = q->FetchUnacked(Kind::kIngest, 1);
    ASSERT_TRUE(got.ok() && got->size() == 1u);
    acked_seq = (*got)[0].sequence;
    acked_at = clock_.NowMicros();
    ASSERT_TRUE(q->Ack(acked_seq).ok());
    ASSERT_TRUE(q->FetchUnacked(Kind::kIngest, 2).ok());  // two more, delivered once
  }
  RewriteAsOldSchema(path_, version, 40);
  ASSERT_EQ(RawSql(path_, "SELECT count(*) FROM sqlite_schema WHERE name LIKE "
                          "'sqlite_autoindex_messages_%'"),
            version == 1 ? "2" : "1");

  std::vector<std::string> notices;
  EmbeddedQueueOptions noisy;
  noisy.on_notice = [&](const std::string& m) { notices.push_back(m); };
  auto q = OpenQueue(noisy);
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(notices.size(), 2u);  // the operator is told before the rebuild and after
  EXPECT_NE(notices[0].find("migrating schema " + std::to_string(version) + " to 3"),
            std::string::npos)
      << notices[0];
  EXPECT_NE(notices[1].find("schema 3 in place"), std::string::npos) << notices[1];
  EXPECT_EQ(RawSql(path_, "PRAGMA user_version"), "3");
  // Only dedupe_id keeps an automatic (UNIQUE) index; nothing of the old table is left.
  EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM sqlite_schema WHERE name LIKE "
                          "'sqlite_autoindex_messages_%'"),
            "1");
  EXPECT_EQ(RawSql(path_, "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema "
                          "WHERE name NOT LIKE 'sqlite_%' ORDER BY name)"),
            "acked acked_by_time messages messages_created_at messages_kind_seq unacked");
  EXPECT_EQ(*q->Count(Kind::kIngest), 4);
  // The ack time and the delivery counts came along.
  EXPECT_EQ(RawSql(path_, "SELECT acked_at FROM acked WHERE seq = " + std::to_string(acked_seq)),
            std::to_string(acked_at));
  EXPECT_EQ(*q->DeliveredCount(acked_seq), 1);
  // The three unacked rows are still delivered (the first two a second time), the acked one
  // is not.
  auto left = q->FetchUnacked(Kind::kIngest, 10);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 3u);
  for (const StoredMessage& m : *left) EXPECT_NE(m.sequence, acked_seq);
  EXPECT_EQ((*left)[0].delivery_count, 2);
  EXPECT_EQ((*left)[1].delivery_count, 2);
  EXPECT_EQ((*left)[2].delivery_count, 1);
  EXPECT_EQ((*left)[0].envelope.dedupe_id, "t1/evt-1");
  // Dedupe keys came along; a new row continues after the old high-water mark.
  EXPECT_EQ(PublishSync(*q, Ingest("evt-2", "t1/evt-2")).outcome, PublishOutcome::kDuplicate);
  ASSERT_EQ(PublishSync(*q, Ingest("evt-new", "t1/evt-new")).outcome, PublishOutcome::kStored);
  EXPECT_GT(std::stoll(RawSql(path_, "SELECT max(seq) FROM messages")), 40);
  // Retention finds the acked row by its migrated ack time.
  EXPECT_EQ(*q->PruneAcked(Kind::kIngest, acked_at + 1, 10), 1);
  EXPECT_EQ(*q->Count(Kind::kIngest), 4);
  // Opening a migrated file again changes nothing.
  q.reset();
  notices.clear();
  q = OpenQueue(noisy);
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(notices.empty());
  EXPECT_EQ(*q->Count(Kind::kIngest), 4);
  EXPECT_EQ(RawSql(path_, "PRAGMA user_version"), "3");
}

INSTANTIATE_TEST_SUITE_P(SchemaOneAndTwo, EmbeddedQueueMigrationTest, ::testing::Values(1, 2));

// A rolling upgrade: a gateway of the earlier release still running on a file the new engine
// migrated stores with its own INSERT, which names the columns it knew. Schema 3 refuses it
// (the NOT NULL `schema` column): a failed publish the client retries, never a stored row
// without its unacked row, which nobody would deliver. The earlier engine's fetch fails too.
TEST_F(EmbeddedQueueTest, AnEarlierReleasesInsertAndFetchAreRefused) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_NE(sqlite3_exec(db,
                         "INSERT INTO messages (kind, message_id, dedupe_id, created_at,"
                         " integrity_hash, body) VALUES ('ingest', 'm-1', 't1/evt-old',"
                         " '2026-12-07T00:00:00.000000+00:00', 'h', '{}') ON CONFLICT(dedupe_id)"
                         " DO NOTHING",
                         nullptr, nullptr, &err),
            SQLITE_OK);
  EXPECT_NE(std::string(err != nullptr ? err : "").find("NOT NULL constraint failed"),
            std::string::npos)
      << (err != nullptr ? err : "");
  sqlite3_free(err);
  sqlite3_stmt* st = nullptr;
  EXPECT_NE(sqlite3_prepare_v2(db,
                               "SELECT seq, body, delivered_count FROM messages WHERE kind = "
                               "'ingest' AND acked_at IS NULL AND seq > ?2 ORDER BY seq LIMIT ?1",
                               -1, &st, nullptr),
            SQLITE_OK);
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_EQ(*q->Count(Kind::kIngest), 0);
  ASSERT_EQ(PublishSync(*q, Ingest("evt-new", "t1/evt-new")).outcome, PublishOutcome::kStored);
  EXPECT_EQ(q->FetchUnacked(Kind::kIngest, 10)->size(), 1u);
}

// Retention pruning runs once a second in the engine over a queue that keeps 7 days of acked
// rows by default: it must find the rows to delete through acked_by_time (a range scan that
// reads only what it deletes), never by walking a table or the (kind, seq) index past every
// acked row that is still young (which it did before schema 2's acked index: a full walk per
// call once fewer than `limit` rows were due, i.e. nearly always).
TEST_F(EmbeddedQueueTest, PruneAckedSearchesTheAckedIndexInsteadOfWalkingTheQueue) {
  { ASSERT_NE(OpenQueue(), nullptr); }
  const std::string plan =
      ExplainColumn(std::string("EXPLAIN QUERY PLAN ") + EmbeddedQueue::PruneAckedSql(), 3, "\n");
  EXPECT_NE(plan.find("INDEX acked_by_time (kind=? AND acked_at<?)"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("SCAN"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << "no sort: " << plan;
}

// An ack runs per message (the engine acks every event it stores): its statements must not
// build an ephemeral table at each execution, as `kind IN (...)` and DELETE ... RETURNING do
// (opened, created and closed per row: more than half of the engine's ack in a profile).
TEST_F(EmbeddedQueueTest, AckStatementsBuildNoEphemeralTable) {
  { ASSERT_NE(OpenQueue(), nullptr); }
  ASSERT_EQ(EmbeddedQueue::AckSql().size(), 4u);
  for (const char* ack : EmbeddedQueue::AckSql()) {
    const std::string opcodes = ExplainColumn(std::string("EXPLAIN ") + ack, 1, " ");
    ASSERT_TRUE(opcodes.find("Insert") != std::string::npos ||
                opcodes.find("Delete") != std::string::npos)
        << ack << ": " << opcodes;  // a program was read
    EXPECT_EQ(opcodes.find("OpenEphemeral"), std::string::npos) << ack << ": " << opcodes;
    EXPECT_EQ(opcodes.find("OpenAutoindex"), std::string::npos) << ack << ": " << opcodes;
  }
}

// Schema 3's point: fetching a batch (its delivery counted) and acking it writes the short
// delivery-state rows, not the stored messages. With the state in columns of the ~1.7 KB rows
// (schema 2) both rewrote every page of the batch's rows: 100 messages of 1.5 KB, 102 WAL
// frames (4 KB pages) for the two transactions; now 4.
TEST_F(EmbeddedQueueTest, FetchAndAckWriteTheDeliveryStateNotTheStoredMessages) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  const std::string bulk(1500, 'x');
  for (int i = 0; i < 100; ++i) {
    Envelope e = Ingest("evt-" + std::to_string(i), "t1/evt-" + std::to_string(i), bulk);
    ASSERT_EQ(PublishSync(*q, std::move(e)).outcome, PublishOutcome::kStored);
  }
  // Frames in the WAL since it was last emptied (checkpoint column 1, the log's size).
  auto wal_frames = [&](const char* mode) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    int64_t frames = -1;
    const std::string sql = std::string("PRAGMA wal_checkpoint(") + mode + ")";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0)
      frames = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return frames;
  };
  ASSERT_EQ(wal_frames("TRUNCATE"), 0);
  auto got = q->FetchUnacked(Kind::kIngest, 100);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 100u);
  ASSERT_GT((*got)[99].wire_bytes.size(), 1500u);
  std::vector<int64_t> seqs;
  for (const StoredMessage& m : *got) seqs.push_back(m.sequence);
  ASSERT_TRUE(q->AckBatch(seqs).ok());
  const int64_t frames = wal_frames("PASSIVE");
  EXPECT_GE(frames, 2);  // two transactions were written
  EXPECT_LE(frames, 16) << "fetch + ack of 100 stored messages wrote " << frames << " pages";
  EXPECT_EQ(*q->DeliveredCount(seqs[0]), 1);
  EXPECT_TRUE(q->FetchUnacked(Kind::kIngest, 10)->empty());
}

TEST_F(EmbeddedQueueTest, UnknownSchemaVersionIsRefusedAsDataLoss) {
  { ASSERT_NE(OpenQueue(), nullptr); }
  RawSql(path_, "PRAGMA user_version=7");
  auto q = EmbeddedQueue::Open(path_, {});
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(q.status().message().find("unsupported schema version 7"), std::string::npos)
      << q.status().message();
  EXPECT_EQ(RawSql(path_, "PRAGMA user_version"), "7");  // left as it was
}

TEST_F(EmbeddedQueueTest, DuplicatesInsideOneBatchStoreOneRow) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  Recorder r;
  for (int i = 0; i < 10; ++i) q->Publish(Ingest("evt-1", "t1/evt-1"), r.Callback(i));
  ASSERT_TRUE(r.Wait(10));
  int stored = 0, dup = 0;
  for (int i = 0; i < 10; ++i) {
    Recorder::Entry e = r.Get(i);
    ASSERT_TRUE(e.status.ok()) << e.status.ToString();
    (e.outcome == PublishOutcome::kStored ? stored : dup)++;
  }
  EXPECT_EQ(stored, 1);
  EXPECT_EQ(dup, 9);
  EXPECT_EQ(*q->Count(Kind::kIngest), 1);
}

TEST_F(EmbeddedQueueTest, IngestWithoutDedupeIdIsNeverDeduped) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(PublishSync(*q, Ingest("evt-1", "")).outcome, PublishOutcome::kStored);
  EXPECT_EQ(PublishSync(*q, Ingest("evt-1", "")).outcome, PublishOutcome::kStored);
  EXPECT_EQ(*q->Count(Kind::kIngest), 2);
}

TEST_F(EmbeddedQueueTest, DeadLettersAreNeverDeduped) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  Envelope a = DeadLetter("{not json");
  Envelope b = DeadLetter("{not json");
  b.dedupe_id = "t1/evt-1";  // even a (misused) key must not dedupe dead letters
  Envelope c = DeadLetter("{not json");
  c.dedupe_id = "t1/evt-1";
  for (Envelope* e : {&a, &b, &c}) {
    Recorder::Entry r = PublishSync(*q, *e);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.outcome, PublishOutcome::kStored);
  }
  EXPECT_EQ(*q->Count(Kind::kDeadLetter), 3);
  EXPECT_EQ(*q->Count(Kind::kIngest), 0);
  // A dead letter does not consume an ingest key either.
  EXPECT_EQ(PublishSync(*q, Ingest("evt-1", "t1/evt-1")).outcome, PublishOutcome::kStored);
  auto dl = q->List(Kind::kDeadLetter, 0, 10);
  ASSERT_TRUE(dl.ok());
  for (const StoredMessage& m : *dl) EXPECT_TRUE(m.envelope.dedupe_id.empty());
}

TEST_F(EmbeddedQueueTest, NonUtf8DeadLetterBodyStoredAsBase64) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  const std::string raw("\xff\xfe\x00garbage\xc3", 11);
  ASSERT_TRUE(PublishSync(*q, DeadLetter(raw)).status.ok());
  auto msgs = q->List(Kind::kDeadLetter, 0, 10);
  ASSERT_TRUE(msgs.ok()) << msgs.status().ToString();
  ASSERT_EQ(msgs->size(), 1u);
  const json::Value* rb = (*msgs)[0].envelope.payload.Find("raw_body");
  ASSERT_NE(rb, nullptr);
  EXPECT_EQ(rb->as_string(), Base64Encode(raw));
  EXPECT_EQ(*Base64DecodeStrict(rb->as_string()), raw);
  EXPECT_EQ((*msgs)[0].envelope.kind, Kind::kDeadLetter);
}

TEST_F(EmbeddedQueueTest, ConcurrentPublishersAllStoredWithGroupCommit) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  constexpr int kTotal = kThreads * kPerThread;
  Recorder r;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int idx = t * kPerThread + i;
        const std::string id = "evt-" + std::to_string(idx);
        if (i % 10 == 9) {
          q->Publish(DeadLetter("bad " + id), r.Callback(idx));
        } else {
          q->Publish(Ingest(id, "t1/" + id), r.Callback(idx));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(r.Wait(kTotal));
  EXPECT_EQ(r.size(), static_cast<size_t>(kTotal));  // exactly once each
  for (int i = 0; i < kTotal; ++i) {
    Recorder::Entry e = r.Get(i);
    ASSERT_TRUE(e.status.ok()) << i << ": " << e.status.ToString();
    ASSERT_EQ(e.outcome, PublishOutcome::kStored) << i;
  }
  constexpr int kDead = kThreads * (kPerThread / 10);
  EXPECT_EQ(*q->Count(Kind::kIngest), kTotal - kDead);
  EXPECT_EQ(*q->Count(Kind::kDeadLetter), kDead);
  EXPECT_EQ(q->committed_messages(), static_cast<uint64_t>(kTotal));
  // Group commit really batches.
  EXPECT_LT(q->commits(), static_cast<uint64_t>(kTotal));
  EXPECT_GE(q->commits(), 1u);
  RecordProperty("commits", std::to_string(q->commits()));
  // Every row is there, sequences strictly increasing, message ids unique.
  auto all = q->List(Kind::kIngest, 0, kTotal);
  ASSERT_TRUE(all.ok());
  std::set<std::string> ids;
  int64_t last = 0;
  for (const StoredMessage& m : *all) {
    EXPECT_GT(m.sequence, last);
    last = m.sequence;
    ids.insert(m.envelope.message_id);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kTotal - kDead));
}

// Issue 15: with a signer the writer signs each commit group once (a Merkle root over the
// group's envelopes, ed25519-merkle-v1; a group of one plain ed25519). Every stored envelope -
// ingest and dead letter - verifies alone after a round trip through the file, its stored bytes
// are its canonical signed form, and there are no more signatures than commits.
TEST_F(EmbeddedQueueTest, SignerSignsEachCommitGroupOnceAndEveryStoredEnvelopeVerifies) {
  const auto key = crypto::Ed25519PrivateKey::FromSeed(std::string(32, '\x05')).value();
  EmbeddedQueueOptions o;
  o.signer = std::make_shared<const EnvelopeSigner>("q1", key);
  WriterGate gate;  // the first commit waits, so later publishes pile up into one group
  Recorder r;
  auto q = OpenHeld(o, gate, r, Ingest("first", "t1/first"));
  ASSERT_NE(q, nullptr);
  constexpr int kMore = 40;
  for (int i = 1; i <= kMore; ++i) {
    const std::string id = "evt-" + std::to_string(i);
    if (i % 8 == 0)
      q->Publish(DeadLetter("bad " + id), r.Callback(i));
    else
      q->Publish(Ingest(id, "t1/" + id), r.Callback(i));
  }
  gate.Release();
  ASSERT_TRUE(r.Wait(kMore + 1));
  for (int i = 0; i <= kMore; ++i) ASSERT_TRUE(r.Get(i).status.ok()) << i;
  EXPECT_EQ(q->commits(), 2u) << "the first alone, then the 40 that waited";

  const EnvelopeVerifyKeys keys = {{"q1", key.PublicKey()}};
  std::set<std::string> signatures;
  int merkle = 0, single = 0;
  for (Kind kind : {Kind::kIngest, Kind::kDeadLetter}) {
    auto stored = q->List(kind, 0, 100);
    ASSERT_TRUE(stored.ok());
    for (const StoredMessage& m : *stored) {
      auto parsed = ParseEnvelope(m.wire_bytes);
      ASSERT_TRUE(parsed.ok());
      EXPECT_EQ(parsed->CanonicalBytes(), m.wire_bytes) << "stored in canonical form";
      EXPECT_EQ(VerifyEnvelopeAuth(*parsed, keys), "") << m.sequence;
      EXPECT_TRUE(VerifyIntegrity(*parsed));
      const std::string alg = parsed->auth.Find("alg")->as_string();
      (alg == kEnvelopeBatchAuthAlg ? merkle : single)++;
      signatures.insert(parsed->auth.Find("sig")->as_string());
    }
  }
  EXPECT_EQ(single, 1);
  EXPECT_EQ(merkle, kMore);
  EXPECT_EQ(signatures.size(), 2u) << "one signature per commit group";

  // Tampering with a stored member is still caught (its own leaf, the group's signature).
  auto first_ingest = q->List(Kind::kIngest, 1, 1);
  ASSERT_TRUE(first_ingest.ok() && !first_ingest->empty());
  Envelope tampered = (*first_ingest)[0].envelope;
  tampered.payload.Set("event_id", "forged");
  EXPECT_EQ(VerifyEnvelopeAuth(tampered, keys), kAuthBadSignature);
}

TEST_F(EmbeddedQueueTest, SignerSignsAPublishBatchAsOneGroup) {
  const auto key = crypto::Ed25519PrivateKey::FromSeed(std::string(32, '\x05')).value();
  EmbeddedQueueOptions o;
  o.signer = std::make_shared<const EnvelopeSigner>("q1", key);
  auto q = OpenQueue(o);
  ASSERT_NE(q, nullptr);
  std::vector<Envelope> batch;
  for (int i = 0; i < 5; ++i)
    batch.push_back(Ingest("b" + std::to_string(i), "t1/b" + std::to_string(i)));
  std::promise<Status> done;
  q->PublishBatch(std::move(batch),
                  [&](Status st, std::vector<PublishOutcome>) { done.set_value(st); });
  ASSERT_TRUE(done.get_future().get().ok());
  auto stored = q->List(Kind::kIngest, 0, 10);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 5u);
  for (const StoredMessage& m : *stored) {
    auto parsed = ParseEnvelope(m.wire_bytes);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->auth.Find("size")->as_int64(), 5);
    EXPECT_EQ(parsed->auth.Find("sig")->as_string(),
              (*stored)[0].envelope.auth.Find("sig")->as_string());
    EXPECT_EQ(VerifyEnvelopeAuth(*parsed, {{"q1", key.PublicKey()}}), "");
  }
}

TEST_F(EmbeddedQueueTest, SignerStoresAnAlreadySignedEnvelopeAsItIs) {
  const auto key = crypto::Ed25519PrivateKey::FromSeed(std::string(32, '\x05')).value();
  const auto other = crypto::Ed25519PrivateKey::FromSeed(std::string(32, '\x06')).value();
  EmbeddedQueueOptions o;
  o.signer = std::make_shared<const EnvelopeSigner>("q1", key);
  auto q = OpenQueue(o);
  ASSERT_NE(q, nullptr);
  Envelope e = Ingest("pre", "t1/pre");
  EnvelopeSigner("q0", other).Sign(&e);
  const std::string expected = e.CanonicalBytes();
  ASSERT_TRUE(PublishSync(*q, std::move(e)).status.ok());
  auto stored = q->List(Kind::kIngest, 0, 10);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].wire_bytes, expected);
  EXPECT_EQ((*stored)[0].envelope.auth.Find("kid")->as_string(), "q0");
}

TEST_F(EmbeddedQueueTest, SignerRefusesAPendingBoundBeyondOneMerkleGroup) {
  EmbeddedQueueOptions o;
  o.clock = &clock_;
  o.signer = std::make_shared<const EnvelopeSigner>(
      "q1", crypto::Ed25519PrivateKey::FromSeed(std::string(32, '\x05')).value());
  o.max_pending = (size_t{1} << 20) + 1;
  auto q = EmbeddedQueue::Open(path_, o);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
  o.max_pending = size_t{1} << 20;
  EXPECT_TRUE(EmbeddedQueue::Open(path_, o).ok());
}

TEST_F(EmbeddedQueueTest, OpenInMissingDirectoryFailsClearly) {
  const std::string bad = dir_.File("no/such/dir/queue.db");
  Result<std::unique_ptr<EmbeddedQueue>> q = EmbeddedQueue::Open(bad, {});
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(q.status().message().find(bad), std::string::npos) << q.status().message();
  EXPECT_NE(q.status().message().find("unable to open"), std::string::npos)
      << q.status().message();
}

TEST_F(EmbeddedQueueTest, OpenOnNonDatabaseFileFailsAsDataLoss) {
  vv::testing::WriteFile(path_, std::string(4096, 'x'));
  Result<std::unique_ptr<EmbeddedQueue>> q = EmbeddedQueue::Open(path_, {});
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kDataLoss) << q.status().ToString();
}

TEST_F(EmbeddedQueueTest, OpenRejectsBadOptions) {
  EmbeddedQueueOptions o;
  o.max_pending = 0;
  EXPECT_EQ(EmbeddedQueue::Open(path_, o).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EmbeddedQueue::Open("", {}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EmbeddedQueueTest, CommitFailureIsUnavailableAndNothingIsStored) {
  std::atomic<bool> fail{false};
  EmbeddedQueueOptions o;
  o.fail_commit_for_test = [&fail]() -> Status {
    return fail.load() ? Status::Internal("disk on fire") : Status::Ok();
  };
  auto q = OpenQueue(o);
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(PublishSync(*q, Ingest("evt-0", "t1/evt-0")).status.ok());

  fail.store(true);
  Recorder r;
  for (int i = 0; i < 5; ++i) {
    q->Publish(Ingest("evt-" + std::to_string(i + 1), "t1/evt-x" + std::to_string(i)),
               r.Callback(i));
  }
  ASSERT_TRUE(r.Wait(5));
  for (int i = 0; i < 5; ++i) {
    Recorder::Entry e = r.Get(i);
    EXPECT_EQ(e.status.code(), StatusCode::kUnavailable) << e.status.ToString();
    EXPECT_NE(e.status.message().find("disk on fire"), std::string::npos);
  }
  EXPECT_EQ(q->Health().code(), StatusCode::kUnavailable);
  EXPECT_GE(q->failed_commits(), 1u);
  EXPECT_EQ(*q->Count(Kind::kIngest), 1);  // rolled back

  // Recovery: the next successful commit makes the queue healthy again, and the keys of
  // the failed batch were not consumed.
  fail.store(false);
  Recorder::Entry ok = PublishSync(*q, Ingest("evt-1", "t1/evt-x0"));
  ASSERT_TRUE(ok.status.ok()) << ok.status.ToString();
  EXPECT_EQ(ok.outcome, PublishOutcome::kStored);
  EXPECT_TRUE(q->Health().ok());
  EXPECT_EQ(*q->Count(Kind::kIngest), 2);
}

TEST_F(EmbeddedQueueTest, LockedDatabaseFailsBatchWithUnavailable) {
  EmbeddedQueueOptions o;
  o.busy_timeout_ms = 50;
  auto q = OpenQueue(o);
  ASSERT_NE(q, nullptr);
  // Another process/connection holds the write lock: a real SQLite failure (SQLITE_BUSY).
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &blocker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  Recorder::Entry r = PublishSync(*q, Ingest("evt-1", "t1/evt-1"));
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status.ToString();
  EXPECT_EQ(q->Health().code(), StatusCode::kUnavailable);
  ASSERT_EQ(sqlite3_exec(blocker, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(blocker);
  Recorder::Entry r2 = PublishSync(*q, Ingest("evt-1", "t1/evt-1"));
  ASSERT_TRUE(r2.status.ok()) << r2.status.ToString();
  EXPECT_EQ(r2.outcome, PublishOutcome::kStored);
  EXPECT_TRUE(q->Health().ok());
}

TEST_F(EmbeddedQueueTest, FullQueueFailsFastWithoutBlocking) {
  WriterGate gate;
  EmbeddedQueueOptions o;
  o.max_pending = 2;
  Recorder r;
  auto q = OpenHeld(o, gate, r, Ingest("evt-0", "t1/evt-0"));
  ASSERT_NE(q, nullptr);
  // The writer is stuck inside the first batch: two more fit, the third is rejected inline.
  q->Publish(Ingest("evt-1", "t1/evt-1"), r.Callback(1));
  q->Publish(Ingest("evt-2", "t1/evt-2"), r.Callback(2));
  q->Publish(Ingest("evt-3", "t1/evt-3"), r.Callback(3));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r.Get(3).status.code(), StatusCode::kUnavailable);
  gate.Release();
  ASSERT_TRUE(r.Wait(4));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(r.Get(i).status.ok()) << i;
  EXPECT_EQ(*q->Count(Kind::kIngest), 3);
}

TEST_F(EmbeddedQueueTest, DestructorDrainsPendingMessages) {
  constexpr int kN = 300;
  Recorder r;
  {
    auto q = OpenQueue();
    ASSERT_NE(q, nullptr);
    for (int i = 0; i < kN; ++i) {
      q->Publish(Ingest("evt-" + std::to_string(i), "t1/evt-" + std::to_string(i)),
                 r.Callback(i));
    }
  }  // destroyed with messages possibly still pending
  ASSERT_EQ(r.size(), static_cast<size_t>(kN));
  for (int i = 0; i < kN; ++i)
    EXPECT_TRUE(r.Get(i).status.ok()) << i << " " << r.Get(i).status.ToString();
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(*q->Count(Kind::kIngest), kN);
}

TEST_F(EmbeddedQueueTest, ListPagesBySequence) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(PublishSync(*q, Ingest("evt-" + std::to_string(i), "k" + std::to_string(i)))
                    .status.ok());
  }
  ASSERT_TRUE(PublishSync(*q, DeadLetter("x")).status.ok());
  auto page1 = q->List(Kind::kIngest, 0, 2);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 2u);
  EXPECT_EQ((*page1)[0].envelope.payload.Find("event_id")->as_string(), "evt-0");
  auto page2 = q->List(Kind::kIngest, (*page1)[1].sequence, 10);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->size(), 3u);
  EXPECT_EQ((*page2)[0].envelope.payload.Find("event_id")->as_string(), "evt-2");
  EXPECT_TRUE(q->List(Kind::kIngest, 0, 0)->empty());
  EXPECT_EQ(q->List(Kind::kDeadLetter, 0, 10)->size(), 1u);
}

TEST_F(EmbeddedQueueTest, FetchUnackedCountsDeliveriesUntilAcked) {
  {
    auto q = OpenQueue();
    ASSERT_NE(q, nullptr);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(PublishSync(*q, Ingest("evt-" + std::to_string(i), "k" + std::to_string(i)))
                      .status.ok());
    }
    ASSERT_TRUE(PublishSync(*q, DeadLetter("x")).status.ok());

    auto f1 = q->FetchUnacked(Kind::kIngest, 2);
    ASSERT_TRUE(f1.ok()) << f1.status().ToString();
    ASSERT_EQ(f1->size(), 2u);
    const int64_t s0 = (*f1)[0].sequence, s1 = (*f1)[1].sequence;
    EXPECT_EQ(*q->DeliveredCount(s0), 1);
    auto f2 = q->FetchUnacked(Kind::kIngest, 2);  // redelivery until acked
    ASSERT_EQ(f2->size(), 2u);
    EXPECT_EQ((*f2)[0].sequence, s0);
    EXPECT_EQ(*q->DeliveredCount(s0), 2);

    ASSERT_TRUE(q->Ack(s0).ok());
    EXPECT_TRUE(q->Ack(s0).ok());  // idempotent
    EXPECT_EQ(q->Ack(999999).code(), StatusCode::kNotFound);
    auto f3 = q->FetchUnacked(Kind::kIngest, 10);
    ASSERT_EQ(f3->size(), 2u);
    EXPECT_EQ((*f3)[0].sequence, s1);
    EXPECT_EQ(*q->DeliveredCount(s1), 3);
    EXPECT_EQ(q->FetchUnacked(Kind::kDeadLetter, 10)->size(), 1u);
    // Acked messages stay listed and counted.
    EXPECT_EQ(*q->Count(Kind::kIngest), 3);
  }
  // Consumer state is durable.
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  auto f = q->FetchUnacked(Kind::kIngest, 10);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->size(), 2u);
  EXPECT_EQ(q->DeliveredCount(987654).status().code(), StatusCode::kNotFound);
}

TEST_F(EmbeddedQueueTest, FailingPublisherWrapperFailsOnDemand) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  vv::testing::FailingPublisher p(*q);
  EXPECT_TRUE(p.Health().ok());
  p.set_failing(true);
  EXPECT_EQ(p.Health().code(), StatusCode::kUnavailable);
  EXPECT_EQ(PublishSync(p, Ingest("evt-1", "k1")).status.code(), StatusCode::kUnavailable);
  p.set_failing(false);
  p.FailNext(1);
  EXPECT_EQ(PublishSync(p, Ingest("evt-1", "k1")).status.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(PublishSync(p, Ingest("evt-1", "k1")).status.ok());
  EXPECT_EQ(p.failed_count(), 2);
  EXPECT_EQ(p.forwarded_count(), 1);
  EXPECT_EQ(*q->Count(Kind::kIngest), 1);
}

// Retention (issue 14): PruneAcked deletes only acked rows of the kind, acked before the
// cutoff, oldest first, at most `limit` per call.
TEST_F(EmbeddedQueueTest, PruneAckedDeletesOnlyOldAckedRowsInBoundedBatches) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < 6; ++i)
    ASSERT_TRUE(PublishSync(*q, Ingest("p-" + std::to_string(i), "pk" + std::to_string(i)))
                    .status.ok());
  ASSERT_TRUE(PublishSync(*q, DeadLetter("dl")).status.ok());
  auto msgs = q->FetchUnacked(Kind::kIngest, 10);
  ASSERT_TRUE(msgs.ok());
  ASSERT_EQ(msgs->size(), 6u);
  const int64_t t0 = clock_.NowMicros();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(q->Ack((*msgs)[i].sequence).ok());  // acked at t0
  clock_.AdvanceSeconds(100);
  ASSERT_TRUE(q->Ack((*msgs)[3].sequence).ok());  // acked at t0 + 100 s
  EXPECT_EQ(*q->PruneAcked(Kind::kIngest, t0, 10), 0) << "acked_at < cutoff, strictly";
  EXPECT_EQ(*q->PruneAcked(Kind::kIngest, t0 + 1, 2), 2);
  EXPECT_EQ(*q->PruneAcked(Kind::kIngest, t0 + 1, 2), 1);
  EXPECT_EQ(*q->PruneAcked(Kind::kIngest, t0 + 1, 2), 0);
  EXPECT_EQ(*q->PruneAcked(Kind::kDeadLetter, t0 + 1'000'000'000, 10), 0);
  EXPECT_EQ(*q->Count(Kind::kIngest), 3);
  auto left = q->List(Kind::kIngest, 0, 10);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 3u);
  EXPECT_EQ((*left)[0].sequence, (*msgs)[3].sequence);  // the newer ack and the unacked two
  EXPECT_EQ(q->FetchUnacked(Kind::kIngest, 10)->size(), 2u);
  EXPECT_EQ(*q->Count(Kind::kDeadLetter), 1);
}

}  // namespace
}  // namespace vv::queue

namespace vv::queue {
namespace {

// Waits for a PublishBatch callback.
struct BatchWaiter {
  std::mutex mu;
  std::condition_variable cv;
  bool called = false;
  Status status;
  std::vector<PublishOutcome> outcomes;
  PublishBatchCallback Callback() {
    return [this](Status s, std::vector<PublishOutcome> o) {
      std::lock_guard<std::mutex> l(mu);
      status = std::move(s);
      outcomes = std::move(o);
      called = true;
      cv.notify_all();
    };
  }
  bool Wait() {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(60), [&] { return called; });
  }
};

TEST_F(EmbeddedQueueTest, PublishBatchIsOneCommitWithOutcomesInOrder) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(PublishSync(*q, Ingest("evt-0", "t1/evt-0")).status.ok());
  const uint64_t commits_before = q->commits();
  std::vector<Envelope> batch;
  batch.push_back(Ingest("evt-1", "t1/evt-1"));
  batch.push_back(Ingest("evt-0", "t1/evt-0"));  // stored earlier
  batch.push_back(DeadLetter("{not json"));
  batch.push_back(Ingest("evt-2", "t1/evt-2"));
  BatchWaiter w;
  q->PublishBatch(std::move(batch), w.Callback());
  ASSERT_TRUE(w.Wait());
  ASSERT_TRUE(w.status.ok()) << w.status.ToString();
  ASSERT_EQ(w.outcomes.size(), 4u);
  EXPECT_EQ(w.outcomes[0], PublishOutcome::kStored);
  EXPECT_EQ(w.outcomes[1], PublishOutcome::kDuplicate);
  EXPECT_EQ(w.outcomes[3], PublishOutcome::kStored);
  EXPECT_EQ(q->commits() - commits_before, 1u) << "the whole batch in ONE transaction";
  EXPECT_EQ(*q->Count(Kind::kIngest), 3);
  EXPECT_EQ(*q->Count(Kind::kDeadLetter), 1);
}

TEST_F(EmbeddedQueueTest, PublishBatchFailsAsAWholeAndStoresNothing) {
  std::atomic<bool> fail{true};
  EmbeddedQueueOptions o;
  o.fail_commit_for_test = [&fail]() -> Status {
    return fail.load() ? Status::Internal("disk on fire") : Status::Ok();
  };
  auto q = OpenQueue(o);
  ASSERT_NE(q, nullptr);
  std::vector<Envelope> batch;
  for (int i = 0; i < 3; ++i) batch.push_back(Ingest("evt", "t1/evt-" + std::to_string(i)));
  BatchWaiter w;
  q->PublishBatch(std::move(batch), w.Callback());
  ASSERT_TRUE(w.Wait());
  EXPECT_EQ(w.status.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(w.outcomes.empty());
  EXPECT_EQ(*q->Count(Kind::kIngest), 0);
  // A batch larger than the pending bound is refused inline, as a whole.
  fail.store(false);
  EmbeddedQueueOptions small;
  small.max_pending = 2;
  q.reset();
  auto q2 = OpenQueue(small);
  ASSERT_NE(q2, nullptr);
  std::vector<Envelope> big;
  for (int i = 0; i < 3; ++i) big.push_back(Ingest("evt", "t1/big-" + std::to_string(i)));
  BatchWaiter w2;
  q2->PublishBatch(std::move(big), w2.Callback());
  ASSERT_TRUE(w2.Wait());
  EXPECT_EQ(w2.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(*q2->Count(Kind::kIngest), 0);
}

// AckBatch (issue 15 item 4): one transaction for the engine's batch - all acked, or none.
TEST_F(EmbeddedQueueTest, AckBatchAcksAllOrNone) {
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  std::vector<Envelope> batch;
  for (const char* e : {"ab-0", "ab-1", "ab-2", "ab-3"}) batch.push_back(Ingest(e, e));
  BatchWaiter w;
  q->PublishBatch(std::move(batch), w.Callback());
  ASSERT_TRUE(w.Wait() && w.status.ok());
  auto f = q->FetchUnacked(Kind::kIngest, 10);
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f->size(), 4u);
  const int64_t s0 = (*f)[0].sequence, s1 = (*f)[1].sequence, s2 = (*f)[2].sequence;
  ASSERT_TRUE(q->AckBatch({s0, s1}).ok());
  EXPECT_TRUE(q->AckBatch({s0, s1}).ok());  // idempotent
  EXPECT_TRUE(q->AckBatch({}).ok());
  // An unknown sequence fails the batch and acks nothing of it.
  EXPECT_EQ(q->AckBatch({s2, 999999}).code(), StatusCode::kNotFound);
  auto rest = q->FetchUnacked(Kind::kIngest, 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[0].sequence, s2);
}

// Issue 15: the callbacks of one commit group run inside one CompletionBatch; what they defer
// to it is closed once, after the group's last callback (the gateway audits the group there).
TEST_F(EmbeddedQueueTest, CommitGroupCallbacksShareOneCompletionBatchClosedAfterTheLast) {
  constexpr int kGroup = 8;
  WriterGate gate;
  EmbeddedQueueOptions o;
  o.fail_commit_for_test = gate.Hook();
  std::vector<size_t> sizes;  // on_group, writer thread only; read after the queue is gone
  o.on_group = [&](size_t n) { sizes.push_back(n); };
  auto q = OpenQueue(o);
  ASSERT_NE(q, nullptr);
  // What the callbacks saw and when the batch's part was closed (writer thread only; read
  // after every callback ran).
  struct Log {
    std::mutex mu;
    std::vector<std::string> events;
    void Add(std::string e) {
      std::lock_guard<std::mutex> l(mu);
      events.push_back(std::move(e));
    }
  } log;
  struct Part final : CompletionBatch::Part {
    explicit Part(Log& l) : log(l) {}
    void Close() override { log.Add("close after " + std::to_string(callbacks)); }
    Log& log;
    int callbacks = 0;
  };
  Recorder r;
  auto callback = [&](int i) -> PublishCallback {
    PublishCallback record = r.Callback(i);
    return [&, i, record](Status s, PublishOutcome outcome) {
      CompletionBatch* batch = CompletionBatch::Current();
      if (batch == nullptr) {
        log.Add("no batch " + std::to_string(i));
      } else {
        batch->PartFor<Part>(&log, [&] { return std::make_unique<Part>(log); }).callbacks++;
      }
      record(std::move(s), outcome);
    };
  };
  // The writer holds evt-0's group open; the next kGroup publishes wait and form ONE group.
  q->Publish(Ingest("evt-0", "t1/evt-0"), callback(0));
  ASSERT_TRUE(gate.WaitUntilHeld());
  for (int i = 1; i <= kGroup; ++i) {
    q->Publish(Ingest("evt-" + std::to_string(i), "t1/evt-" + std::to_string(i)), callback(i));
  }
  gate.Release();
  ASSERT_TRUE(r.Wait(kGroup + 1));
  q.reset();  // joins the writer: every part is closed
  for (int i = 0; i <= kGroup; ++i) EXPECT_TRUE(r.Get(i).status.ok()) << i;
  // evt-0's group runs in a batch of its own, or - when the completion thread had not woken
  // for it before the second group was committed (a loaded machine; a commit is quick) - in
  // the second group's batch: groups waiting together share one (CompletionThread). Either
  // way the kGroup callbacks share ONE batch, closed after the last of them.
  const std::vector<std::string> apart{"close after 1", "close after " + std::to_string(kGroup)};
  const std::vector<std::string> together{"close after " + std::to_string(kGroup + 1)};
  EXPECT_TRUE(log.events == apart || log.events == together)
      << ::testing::PrintToString(log.events);
  EXPECT_EQ(sizes, (std::vector<size_t>{1, static_cast<size_t>(kGroup)})) << "commit groups";
  EXPECT_EQ(CompletionBatch::Current(), nullptr);  // none on this thread
}

}  // namespace
}  // namespace vv::queue

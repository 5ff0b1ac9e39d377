#include "engine/message_source.h"

#include <sqlite3.h>

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/file.h"
#include "queue/jetstream_queue.h"

namespace vv::engine {

Result<std::unique_ptr<EmbeddedSource>> EmbeddedSource::Open(queue::EmbeddedQueue& queue,
                                                             const std::string& queue_path,
                                                             EmbeddedSourceOptions options) {
  if (options.retention_seconds < 0 || options.prune_batch < 1)
    return Status::InvalidArgument("engine: queue retention must be >= 0, prune batch >= 1");
  // One consumer per embedded queue file (no in-flight leases): an exclusive, non-blocking
  // lock that the kernel releases when this process exits, however it exits.
  const std::string lock_path = queue_path + ".consumer.lock";
  UniqueFd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid())
    return Status::Unavailable("engine: cannot open the queue consumer lock " + lock_path + ": " +
                               std::strerror(errno));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK)
      return Status::AlreadyExists(
          "engine: another vv-engine is consuming the embedded queue " + queue_path + " (lock " +
          lock_path + " held); the embedded queue supports one engine (stop it first, e.g. "
          "before --drain, or use queue_backend nats to run several engines)");
    return Status::Unavailable("engine: cannot lock " + lock_path + ": " + std::strerror(err));
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(queue_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::Unavailable("engine: cannot open queue " + queue_path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 5000);
  // This connection only fetches and counts deliveries: WAL with synchronous=NORMAL, so a
  // fetch commit does not wait for an fsync (it survives a process crash; the WAL is synced by
  // the next synchronous=FULL commit on the file, the batch's ack). See the header.
  sqlite3_exec(db, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  return std::unique_ptr<EmbeddedSource>(new EmbeddedSource(queue, db, fd.Release(), options));
}

EmbeddedSource::~EmbeddedSource() {
  sqlite3_close(db_);
  ::close(lock_fd_);  // releases the consumer lock
}

void EmbeddedSource::PruneIfDue() {
  if (options_.retention_seconds <= 0) return;
  const int64_t now = clock_.NowMicros();
  if (now < next_prune_micros_) return;
  next_prune_micros_ = now + 1'000'000;
  const int64_t cutoff = now - options_.retention_seconds * 1'000'000;
  // Bounded: at most 10 batches per call, so a large backlog is pruned over several calls
  // without holding the write lock for long.
  for (int i = 0; i < 10; ++i) {
    auto n = queue_.PruneAcked(queue::Kind::kIngest, cutoff, options_.prune_batch);
    if (!n.ok()) {
      spdlog::warn("queue retention: prune failed: {}", n.status().ToString());
      return;
    }
    if (*n > 0) spdlog::debug("queue retention: pruned {} acked rows", *n);
    if (*n < options_.prune_batch) return;
  }
}

Result<std::vector<queue::StoredMessage>> EmbeddedSource::Fetch(int max, int64_t timeout_ms,
                                                                 int64_t after_sequence) {
  PruneIfDue();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto msgs = RawFetch(max, after_sequence);
    if (!msgs.ok() || !msgs->empty() || std::chrono::steady_clock::now() >= deadline) return msgs;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min<int64_t>(20, std::max<int64_t>(1, timeout_ms))));
  }
}

Result<std::vector<queue::StoredMessage>> EmbeddedSource::RawFetch(int max,
                                                                    int64_t after_sequence) {
  std::vector<queue::StoredMessage> out;
  deliveries_.clear();
  if (max <= 0) return out;
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
    return Status::Unavailable(std::string("engine: queue fetch: ") + sqlite3_errmsg(db_));
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db_,
                              "SELECT seq, body, delivered_count FROM messages WHERE kind = "
                              "'ingest' AND acked_at IS NULL AND seq > ?2 ORDER BY seq LIMIT ?1",
                              -1, &st, nullptr);
  if (rc == SQLITE_OK) {
    sqlite3_bind_int(st, 1, max);
    sqlite3_bind_int64(st, 2, after_sequence);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      queue::StoredMessage m;
      m.sequence = sqlite3_column_int64(st, 0);
      const unsigned char* body = sqlite3_column_text(st, 1);
      m.wire_bytes.assign(body ? reinterpret_cast<const char*>(body) : "",
                          static_cast<size_t>(sqlite3_column_bytes(st, 1)));
      m.delivery_count = sqlite3_column_int64(st, 2) + 1;  // this delivery included
      out.push_back(std::move(m));
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  sqlite3_stmt* up = nullptr;
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(
        db_, "UPDATE messages SET delivered_count = delivered_count + 1 WHERE seq = ?1", -1, &up,
        nullptr);
  for (size_t i = 0; rc == SQLITE_OK && i < out.size(); ++i) {
    sqlite3_bind_int64(up, 1, out[i].sequence);
    rc = sqlite3_step(up) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_reset(up);
  }
  sqlite3_finalize(up);
  if (rc == SQLITE_OK && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK) {
    for (const auto& m : out) deliveries_[m.sequence] = m.delivery_count;
    return out;
  }
  std::string msg = sqlite3_errmsg(db_);
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return Status::Unavailable("engine: queue fetch: " + msg);
}

Status EmbeddedSource::Ack(int64_t sequence) { return queue_.Ack(sequence); }

Status EmbeddedSource::AckBatch(const std::vector<int64_t>& sequences) {
  return queue_.AckBatch(sequences);
}

Result<int64_t> EmbeddedSource::Deliveries(int64_t sequence) {
  auto it = deliveries_.find(sequence);  // counted by the last fetch, in its transaction
  if (it != deliveries_.end()) return it->second;
  return queue_.DeliveredCount(sequence);
}

Result<int64_t> EmbeddedSource::Lag() {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(
      db_, "SELECT COUNT(*) FROM messages WHERE kind = 'ingest' AND acked_at IS NULL", -1, &st,
      nullptr);
  int64_t n = -1;
  if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (n < 0) return Status::Unavailable(std::string("engine: queue lag: ") + sqlite3_errmsg(db_));
  return n;
}

Result<std::vector<queue::StoredMessage>> JetStreamSource::Fetch(int max, int64_t timeout_ms,
                                                                  int64_t /*after_sequence*/) {
  // The server never hands out a message again before its ack wait: nothing to skip. The
  // engine parses the bytes itself (and dead-letters what is not an envelope, audited).
  auto msgs = consumer_.Fetch(max, timeout_ms, queue::JetStreamConsumer::FetchMode::kRawBytes);
  if (!msgs.ok()) return msgs;
  MutexLock l(&mu_);
  for (const auto& m : *msgs) {
    // The server's count covers every process sharing the durable (and restarts).
    int64_t& d = deliveries_[m.sequence];
    d = std::max(d + 1, m.delivery_count);
  }
  return msgs;
}

Result<int64_t> JetStreamSource::Lag() {
  VV_ASSIGN_OR_RETURN(auto st, consumer_.State());
  return static_cast<int64_t>(st.pending) + st.ack_pending;
}

Status JetStreamSource::Ack(int64_t sequence) {
  Status s = consumer_.Ack(sequence);
  MutexLock l(&mu_);
  deliveries_.erase(sequence);
  return s;
}

Result<int64_t> JetStreamSource::Deliveries(int64_t sequence) {
  MutexLock l(&mu_);
  auto it = deliveries_.find(sequence);
  return it == deliveries_.end() ? int64_t{0} : it->second;
}

}  // namespace vv::engine

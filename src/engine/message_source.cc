#include "engine/message_source.h"

#include <sqlite3.h>

#include <chrono>
#include <thread>

#include "queue/jetstream_queue.h"

namespace vv::engine {

Result<std::unique_ptr<EmbeddedSource>> EmbeddedSource::Open(queue::EmbeddedQueue& queue,
                                                             const std::string& queue_path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(queue_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::Unavailable("engine: cannot open queue " + queue_path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 5000);
  return std::unique_ptr<EmbeddedSource>(new EmbeddedSource(queue, db));
}

EmbeddedSource::~EmbeddedSource() { sqlite3_close(db_); }

Result<std::vector<queue::StoredMessage>> EmbeddedSource::Fetch(int max, int64_t timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto msgs = queue_.FetchUnacked(queue::Kind::kIngest, max);
    if (!msgs.ok() && msgs.status().code() == StatusCode::kDataLoss) msgs = RawFetch(max);
    if (!msgs.ok() || !msgs->empty() || std::chrono::steady_clock::now() >= deadline) return msgs;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min<int64_t>(20, std::max<int64_t>(1, timeout_ms))));
  }
}

Result<std::vector<queue::StoredMessage>> EmbeddedSource::RawFetch(int max) {
  std::vector<queue::StoredMessage> out;
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
    return Status::Unavailable(std::string("engine: queue fetch: ") + sqlite3_errmsg(db_));
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db_,
                              "SELECT seq, body FROM messages WHERE kind = 'ingest' AND acked_at "
                              "IS NULL ORDER BY seq LIMIT ?1",
                              -1, &st, nullptr);
  if (rc == SQLITE_OK) {
    sqlite3_bind_int(st, 1, max);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      queue::StoredMessage m;
      m.sequence = sqlite3_column_int64(st, 0);
      const unsigned char* body = sqlite3_column_text(st, 1);
      m.wire_bytes.assign(body ? reinterpret_cast<const char*>(body) : "",
                          static_cast<size_t>(sqlite3_column_bytes(st, 1)));
      out.push_back(std::move(m));
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  for (size_t i = 0; rc == SQLITE_OK && i < out.size(); ++i) {
    sqlite3_stmt* up = nullptr;
    rc = sqlite3_prepare_v2(
        db_, "UPDATE messages SET delivered_count = delivered_count + 1 WHERE seq = ?1", -1, &up,
        nullptr);
    if (rc == SQLITE_OK) {
      sqlite3_bind_int64(up, 1, out[i].sequence);
      rc = sqlite3_step(up) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(up);
  }
  if (rc == SQLITE_OK && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK)
    return out;
  std::string msg = sqlite3_errmsg(db_);
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return Status::Unavailable("engine: queue fetch: " + msg);
}

Status EmbeddedSource::Ack(int64_t sequence) { return queue_.Ack(sequence); }

Result<int64_t> EmbeddedSource::Deliveries(int64_t sequence) {
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

Result<std::vector<queue::StoredMessage>> JetStreamSource::Fetch(int max, int64_t timeout_ms) {
  auto msgs = consumer_.Fetch(max, timeout_ms);
  if (!msgs.ok()) return msgs;
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& m : *msgs) ++deliveries_[m.sequence];
  return msgs;
}

Status JetStreamSource::Ack(int64_t sequence) {
  Status s = consumer_.Ack(sequence);
  std::lock_guard<std::mutex> l(mu_);
  deliveries_.erase(sequence);
  return s;
}

Result<int64_t> JetStreamSource::Deliveries(int64_t sequence) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = deliveries_.find(sequence);
  return it == deliveries_.end() ? int64_t{0} : it->second;
}

Result<int64_t> JetStreamSource::Lag() { return consumer_.Pending(); }

}  // namespace vv::engine

#include "engine/message_source.h"

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
  VV_ASSIGN_OR_RETURN(std::unique_ptr<queue::EmbeddedDeliveryReader> reader,
                      queue::EmbeddedDeliveryReader::Open(queue_path));
  return std::unique_ptr<EmbeddedSource>(
      new EmbeddedSource(queue, std::move(reader), fd.Release(), options));
}

EmbeddedSource::~EmbeddedSource() {
  reader_.reset();
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
    auto msgs = reader_->Fetch(queue::Kind::kIngest, after_sequence, max);
    if (msgs.ok()) {
      deliveries_.clear();
      for (const auto& m : *msgs) deliveries_[m.sequence] = m.delivery_count;
    }
    if (!msgs.ok() || !msgs->empty() || std::chrono::steady_clock::now() >= deadline) return msgs;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min<int64_t>(20, std::max<int64_t>(1, timeout_ms))));
  }
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

Result<int64_t> EmbeddedSource::Lag() { return reader_->CountUnacked(queue::Kind::kIngest); }

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

#include "audit/anchor_publisher.h"

#include <span>
#include <utility>

namespace vv::audit {

Result<std::unique_ptr<AnchorPublisher>> AnchorPublisher::Open(const std::string& log_path,
                                                               AnchorPublisherOptions opts) {
  std::unique_ptr<FileAnchorSink> own;
  AnchorSink* sink = opts.shared_sink != nullptr ? opts.shared_sink.get() : opts.sink;
  if (sink == nullptr && opts.file_anchor) {
    VV_ASSIGN_OR_RETURN(own, FileAnchorSink::Open(DefaultAnchorPath(log_path),
                                                  opts.file_anchor_sync));
    sink = own.get();
  }
  std::unique_ptr<AnchorPublisher> p(new AnchorPublisher(std::move(opts), std::move(own), sink));
  if (sink == nullptr) return p;
  // The anchor's head. Unreachable (remote outage): the check against it is deferred and
  // every seal of the log stays pending until the head is known (ReconcileAnchorHead).
  auto head = sink->Refresh();
  MutexLock l(&p->mu_);
  if (head.ok()) {
    p->head_at_open_ = *head;
    p->last_anchored_ = *head;
    p->synced_ = true;
  } else if (head.status().code() == StatusCode::kDataLoss) {
    return Status::DataLoss("audit anchor: " + head.status().message());
  } else {
    p->error_ = Status::Unavailable("audit anchor lagging (unreachable at open): " +
                                    head.status().message());
  }
  return p;
}

AnchorPublisher::AnchorPublisher(AnchorPublisherOptions opts, std::unique_ptr<FileAnchorSink> own,
                                 AnchorSink* sink)
    : opts_(std::move(opts)), own_(std::move(own)), sink_(sink) {}

AnchorPublisher::~AnchorPublisher() { Stop(); }

void AnchorPublisher::Start(std::vector<AnchorRecord> unanchored, std::function<Status()> durable) {
  durable_ = std::move(durable);
  if (sink_ == nullptr) return;
  bool any;
  {
    MutexLock l(&mu_);
    pending_ = std::move(unanchored);
    any = !pending_.empty();
  }
  if (!sink_->remote()) {
    if (any) Pass();
    return;
  }
  {
    MutexLock l(&cv_mu_);
    kick_ = true;  // publish what is pending, off the opening thread
  }
  thread_ = std::thread([this] { Loop(); });
}

void AnchorPublisher::Stop() {
  {
    MutexLock l(&cv_mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

void AnchorPublisher::Queue(AnchorRecord record) {
  if (sink_ == nullptr) return;
  {
    MutexLock l(&mu_);
    pending_.push_back(std::move(record));
  }
  queued_.store(true, std::memory_order_release);
}

Status AnchorPublisher::SealAllowed() const {
  MutexLock l(&mu_);
  if (forked_.ok()) return Status::Ok();
  return Status::DataLoss("refusing to seal onto a forked anchor (" + forked_.message() + ")");
}

void AnchorPublisher::Kick() {
  if (sink_ == nullptr || !queued_.load(std::memory_order_acquire)) return;
  if (!sink_->remote()) {
    Pass();
    return;
  }
  {
    MutexLock l(&cv_mu_);
    kick_ = true;
  }
  cv_.Signal();
}

void AnchorPublisher::Pass() {
  MutexLock io(&io_mu_);
  PassLocked();
}

void AnchorPublisher::RetryTick() {
  if (sink_ == nullptr || sink_->remote() || opts_.retry_ms <= 0) return;
  MutexLock io(&io_mu_);
  if (std::chrono::steady_clock::now() - last_attempt_ < std::chrono::milliseconds(opts_.retry_ms))
    return;
  PassLocked();
}

void AnchorPublisher::PassLocked() {
  queued_.store(false, std::memory_order_release);
  last_attempt_ = std::chrono::steady_clock::now();
  std::vector<AnchorRecord> batch;
  std::optional<AnchorRecord> last;
  bool synced = false;
  {
    MutexLock l(&mu_);
    if (sink_ == nullptr || !forked_.ok() || pending_.empty()) return;
    batch = pending_;  // only a pass removes from the front (under io_mu_)
    last = last_anchored_;
    synced = synced_;
  }
  // An anchored seal must never be lost from the log: make it durable first.
  Status err = durable_ ? durable_() : Status::Ok();
  size_t done = 0;
  if (err.ok()) {
    err = PublishBatch(batch, last, synced, &done);
  } else {
    err = Status::Unavailable(err.message() + " (before anchoring)");
  }
  Status newly_forked;
  {
    MutexLock l(&mu_);
    newly_forked = ApplyResultLocked(batch, done, err);
  }
  Report(newly_forked);
}

Status AnchorPublisher::PublishAllLocked() {
  std::vector<AnchorRecord> batch;
  std::optional<AnchorRecord> last;
  bool synced = false;
  {
    MutexLock l(&mu_);
    if (sink_ == nullptr) return Status::Ok();
    if (!forked_.ok()) return forked_;
    batch = pending_;
    last = last_anchored_;
    synced = synced_;
  }
  size_t done = 0;
  Status err = PublishBatch(batch, last, synced, &done);
  Status newly_forked;
  {
    MutexLock l(&mu_);
    newly_forked = ApplyResultLocked(batch, done, err);
  }
  // The hook only counts and logs (it never calls back into the log), so it may run while
  // the rotation holds the chain mutex.
  Report(newly_forked);
  queued_.store(false, std::memory_order_release);
  return err;
}

Status AnchorPublisher::PublishBatch(const std::vector<AnchorRecord>& batch,
                                     const std::optional<AnchorRecord>& last, bool synced,
                                     size_t* done) {
  *done = 0;
  if (!synced) {
    VV_ASSIGN_OR_RETURN(auto head, sink_->Refresh());
    VV_ASSIGN_OR_RETURN(auto skip, ReconcileAnchorHead(head, last, batch));
    *done = skip;
  }
  if (*done == batch.size()) return Status::Ok();
  // One call for the rest (the file anchor: one write, one fdatasync).
  size_t stored = 0;
  Status s = sink_->PublishAll(std::span<const AnchorRecord>(batch).subspan(*done), &stored);
  *done += stored;
  return s;
}

Status AnchorPublisher::ApplyResultLocked(const std::vector<AnchorRecord>& batch, size_t done,
                                          const Status& err) {
  Status newly_forked;
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(done));
  if (done > 0) last_anchored_ = batch[done - 1];
  if (err.ok()) {
    synced_ = true;
    error_ = Status::Ok();
  } else if (err.code() == StatusCode::kDataLoss) {
    if (forked_.ok()) newly_forked = Status::DataLoss("audit anchor: " + err.message());
    forked_ = Status::DataLoss("audit anchor: " + err.message());
    error_ = forked_;
  } else {
    synced_ = false;  // re-read the head before the next attempt
    error_ = Status::Unavailable("audit anchor lagging (" + std::to_string(pending_.size()) +
                                 " seals pending): " + err.message());
  }
  return newly_forked;
}

void AnchorPublisher::Report(const Status& newly_forked) const {
  if (!newly_forked.ok() && opts_.on_integrity_failure) opts_.on_integrity_failure(newly_forked);
}

void AnchorPublisher::Loop() {
  const auto retry = std::chrono::milliseconds(opts_.retry_ms > 0 ? opts_.retry_ms : 1000);
  MutexLock al(&cv_mu_);
  while (!stop_) {
    const auto deadline = std::chrono::steady_clock::now() + retry;
    while (!stop_ && !kick_) {
      if (cv_.WaitUntil(&cv_mu_, deadline) == std::cv_status::timeout) break;
    }
    if (stop_) break;
    kick_ = false;
    al.Unlock();
    Pass();  // a no-op when nothing is pending or the anchor is forked
    al.Lock();
  }
}

AnchorState AnchorPublisher::state() const {
  MutexLock l(&mu_);
  AnchorState st;
  st.configured = sink_ != nullptr;
  st.forked = !forked_.ok();
  st.pending_seals = static_cast<int64_t>(pending_.size());
  st.lagging = !error_.ok() && !st.forked;
  st.last_anchored_index = last_anchored_.has_value() ? last_anchored_->index : 0;
  st.status = error_;
  return st;
}

Status AnchorPublisher::status() const {
  MutexLock l(&mu_);
  return error_;
}

}  // namespace vv::audit

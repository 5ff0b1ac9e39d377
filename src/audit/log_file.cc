#include "audit/log_file.h"

#include <errno.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace vv::audit {

namespace {
std::string ErrnoText(int err) { return std::strerror(err); }
}  // namespace

LogFile::LogFile(std::string path, UniqueFd fd, int64_t size, FsyncPolicy policy)
    : path_(std::move(path)), policy_(policy) {
  MutexLock w(&write_mu_);
  WriterMutexLock f(&fd_mu_);
  size_ = size;
  fd_ = std::move(fd);
}

LogFile::~LogFile() {
  StopBackground();
  WriterMutexLock f(&fd_mu_);
  if (fd_.valid()) ::fdatasync(fd_.get());
  fd_.Reset();  // releases the flock
}

void LogFile::StartBackground(std::function<void()> tick, std::chrono::milliseconds tick_every) {
  if (tick_every.count() <= 0) tick = nullptr;
  if (policy_ != FsyncPolicy::kBatch && tick == nullptr) return;
  tick_ = std::move(tick);
  tick_every_ = tick_every;
  thread_ = std::thread([this] { BackgroundLoop(); });
}

void LogFile::StopBackground() {
  {
    MutexLock l(&sync_mu_);
    stop_ = true;
  }
  sync_cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

Status LogFile::Write(const std::string& bytes) {
  MutexLock w(&write_mu_);
  if (!broken_.ok()) return Status::Unavailable(broken_.message());
  ReaderMutexLock f(&fd_mu_);
  size_t done = 0;
  int err = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd_.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) {
      err = EIO;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (err == 0) {
    size_ += static_cast<int64_t>(bytes.size());
    writes_.fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }
  std::string msg = "write to audit log " + path_ + " failed: " + ErrnoText(err);
  // Roll back a partial line so the chain stays intact for the next append.
  if (::ftruncate(fd_.get(), size_) != 0) {
    broken_ = Status::Unavailable(msg + "; rollback failed (" + ErrnoText(errno) +
                                  "), audit log disabled until reopened");
  }
  return Status::Unavailable(msg);
}

int LogFile::SyncFd() {
  ReaderMutexLock f(&fd_mu_);
  return ::fdatasync(fd_.get());
}

Status LogFile::Sync() {
  if (SyncFd() != 0)
    return Status::Unavailable("fdatasync of audit log " + path_ + ": " + ErrnoText(errno));
  return Status::Ok();
}

Status LogFile::SyncFailure() const {
  MutexLock l(&sync_mu_);
  return Status::Unavailable(sync_error_.message());
}

Status LogFile::Health() const {
  {
    MutexLock w(&write_mu_);
    if (!broken_.ok()) return Status::Unavailable(broken_.message());
  }
  if (sync_failed_.load(std::memory_order_acquire)) return SyncFailure();
  return Status::Ok();
}

Status LogFile::AfterWrite(uint64_t records) {
  switch (policy_) {
    case FsyncPolicy::kNone:
      break;
    case FsyncPolicy::kAlways:
      // Outside the chain's mutex: fdatasync covers every write issued before it.
      if (SyncFd() != 0) {
        Status s = Status::Unavailable("fdatasync of audit log " + path_ + ": " + ErrnoText(errno));
        {
          MutexLock l(&sync_mu_);
          sync_error_ = s;
        }
        sync_failed_.store(true, std::memory_order_release);
        return s;
      }
      break;
    case FsyncPolicy::kBatch: {
      bool wake;
      {
        MutexLock l(&sync_mu_);
        written_seq_ += records;
        wake = idle_;
      }
      // While the thread sits in its kBatchInterval pause it re-checks written_seq_ when the
      // pause ends; waking it there would only cost a futex call and a context switch.
      if (wake) sync_cv_.Signal();
      break;
    }
  }
  return Status::Ok();
}

void LogFile::Replace(UniqueFd fd, int64_t size) {
  MutexLock w(&write_mu_);
  WriterMutexLock f(&fd_mu_);
  fd_ = std::move(fd);  // closes the old descriptor: its flock goes with it
  size_ = size;
}

void LogFile::BackgroundLoop() {
  using SteadyClock = std::chrono::steady_clock;
  const bool ticking = tick_ != nullptr;
  auto next_tick = SteadyClock::now() + tick_every_;
  MutexLock l(&sync_mu_);
  for (;;) {
    idle_ = true;
    while (!stop_ && written_seq_ == synced_seq_) {
      if (!ticking) {
        sync_cv_.Wait(&sync_mu_);
      } else if (SteadyClock::now() >= next_tick ||
                 sync_cv_.WaitUntil(&sync_mu_, next_tick) == std::cv_status::timeout) {
        break;
      }
    }
    idle_ = false;
    if (stop_ && written_seq_ == synced_seq_) break;
    bool synced = false;
    if (written_seq_ != synced_seq_) {
      const uint64_t target = written_seq_;
      l.Unlock();
      const int rc = SyncFd();
      const int err = errno;
      l.Lock();
      if (rc != 0) {
        sync_error_ =
            Status::Unavailable("fdatasync of audit log " + path_ + " failed: " + ErrnoText(err));
        sync_failed_.store(true, std::memory_order_release);
      }
      synced_seq_ = target;
      synced = true;
    }
    if (ticking && !stop_ && SteadyClock::now() >= next_tick) {
      l.Unlock();
      tick_();
      l.Lock();
      next_tick = SteadyClock::now() + tick_every_;
    }
    // At most one fdatasync per interval; a stop request ends the wait early.
    if (synced && !stop_) {
      const auto deadline = SteadyClock::now() + kBatchInterval;
      while (!stop_) {
        if (sync_cv_.WaitUntil(&sync_mu_, deadline) == std::cv_status::timeout) break;
      }
    }
  }
}

}  // namespace vv::audit

#include "audit/audit_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <utility>

#include "audit/record.h"
#include "audit/verifier.h"

namespace vv::audit {

namespace {

constexpr auto kBatchInterval = std::chrono::milliseconds(20);

std::string ErrnoText(int err) { return std::strerror(err); }

// Makes a newly created file's directory entry durable.
void SyncParentDir(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

AuditLog::AuditLog(std::string path, int fd, const AuditLogOptions& opts, const Clock& clock)
    : path_(std::move(path)), fd_(fd), opts_(opts), clock_(clock) {}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path,
                                                 const AuditLogOptions& opts, const Clock& clock) {
  if (opts.seal_every < 1) {
    return Status::InvalidArgument("audit log seal_every must be >= 1, got " +
                                   std::to_string(opts.seal_every));
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::Unavailable("cannot open audit log " + path + ": " + ErrnoText(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::Unavailable("audit log " + path +
                                 " is already open by another writer (exclusive lock held)");
    }
    return Status::Unavailable("cannot lock audit log " + path + ": " + ErrnoText(err));
  }

  // Read the existing chain once.
  ChainVerifier verifier;
  ScanInfo info;
  std::string error;
  if (!ScanLogFd(fd, &verifier, &info, &error)) {
    ::close(fd);
    return Status::Unavailable("cannot read audit log " + path + ": " + error);
  }
  int64_t truncated_bytes = 0;
  int64_t size = info.file_size;
  if (!verifier.ok()) {
    const VerifyResult& r = verifier.result();
    const bool tail_line = info.fail_line_end == info.file_size;
    const bool torn =
        tail_line && (r.reason == kReasonTornTail || r.reason == kReasonMalformedLine);
    if (!torn) {
      ::close(fd);
      return Status::DataLoss("audit log " + path + " is broken at line " +
                              std::to_string(r.broken_at) + " (" + r.reason + ": " + r.detail +
                              "); refusing to append to a broken chain");
    }
    truncated_bytes = info.file_size - info.fail_line_begin;
    if (::ftruncate(fd, info.fail_line_begin) != 0 || ::fdatasync(fd) != 0) {
      int err = errno;
      ::close(fd);
      return Status::Unavailable("cannot truncate the torn tail of audit log " + path + ": " +
                                 ErrnoText(err));
    }
    size = info.fail_line_begin;
  }
  if (info.file_size == 0) SyncParentDir(path);

  std::unique_ptr<AuditLog> log(new AuditLog(path, fd, opts, clock));
  log->lines_ = verifier.lines();
  log->non_seal_entries_ = verifier.non_seal_entries();
  log->last_hash_ = verifier.last_hash();
  log->size_ = size;
  if (truncated_bytes > 0) {
    json::Value details = json::Value::MakeObject();
    details.Set("truncated_bytes", truncated_bytes);
    details.Set("reason", "torn_tail");
    Status s;
    {
      std::lock_guard<std::mutex> l(log->mu_);
      s = log->AppendLocked(kRecoveredEventType, opts.actor_system, json::Canonical(details));
    }
    if (s.ok() && ::fdatasync(fd) != 0) {
      s = Status::Unavailable("fdatasync of audit log " + path + ": " + ErrnoText(errno));
    }
    if (!s.ok()) return s;  // the destructor closes fd
  }
  if (opts.fsync == FsyncPolicy::kBatch) {
    log->flusher_ = std::thread([raw = log.get()] { raw->FlusherLoop(); });
  }
  return log;
}

AuditLog::~AuditLog() {
  {
    std::lock_guard<std::mutex> l(sync_mu_);
    stop_ = true;
  }
  sync_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  ::fdatasync(fd_);
  ::close(fd_);  // releases the flock
}

std::string AuditLog::BuildLineLocked(int64_t index, std::string_view event_type,
                                      std::string_view actor, const std::string& details_canonical,
                                      const std::string& previous_hash, std::string* out) const {
  const std::string index_text = std::to_string(index);
  const std::string timestamp = IsoFormatUtc(clock_.NowMicros());
  RecordFields f{index_text, timestamp, event_type, actor, details_canonical, previous_hash};
  std::string hash = EntryHash(f);
  AppendRecordLine(f, hash, out);
  return hash;
}

std::string AuditLog::BuildSealLineLocked(int64_t seal_index, int64_t sealed_index,
                                          const std::string& sealed_hash, std::string* out) const {
  const std::string index_text = std::to_string(seal_index);
  const std::string sealed_at = IsoFormatUtc(clock_.NowMicros());
  json::Value details = json::Value::MakeObject();
  details.Set("sealed_index", sealed_index);
  details.Set("last_entry_hash", sealed_hash);
  details.Set("sealed_at", sealed_at);
  const std::string details_canonical = json::Canonical(details);
  RecordFields f{index_text,         sealed_at,         kSealEventType,
                 opts_.actor_system, details_canonical, sealed_hash};
  std::string hash = EntryHash(f);
  AppendRecordLine(f, hash, out);
  return hash;
}

Status AuditLog::AppendLocked(std::string_view event_type, std::string_view actor,
                              const std::string& details_canonical) {
  if (!broken_.ok()) return Status::Unavailable(broken_.message());
  if (sync_failed_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> l(sync_mu_);
    return Status::Unavailable(sync_error_.message());
  }
  std::string buf;
  buf.reserve(256 + details_canonical.size() * 2);
  const int64_t index = lines_ + 1;
  std::string hash = BuildLineLocked(index, event_type, actor, details_canonical, last_hash_, &buf);
  int64_t new_lines = index;
  const int64_t new_entries = non_seal_entries_ + 1;
  if (new_entries % opts_.seal_every == 0) {
    hash = BuildSealLineLocked(index + 1, index, hash, &buf);
    new_lines = index + 1;
  }
  VV_RETURN_IF_ERROR(WriteAllLocked(buf));
  lines_ = new_lines;
  non_seal_entries_ = new_entries;
  last_hash_ = std::move(hash);
  return Status::Ok();
}

Status AuditLog::WriteAllLocked(const std::string& bytes) {
  size_t done = 0;
  int err = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (w == 0) {
      err = EIO;
      break;
    }
    done += static_cast<size_t>(w);
  }
  if (err == 0) {
    size_ += static_cast<int64_t>(bytes.size());
    return Status::Ok();
  }
  std::string msg = "write to audit log " + path_ + " failed: " + ErrnoText(err);
  // Roll back a partial line so the chain stays intact for the next append.
  if (::ftruncate(fd_, size_) != 0) {
    broken_ = Status::Unavailable(msg + "; rollback failed (" + ErrnoText(errno) +
                                  "), audit log disabled until reopened");
  }
  return Status::Unavailable(msg);
}

Status AuditLog::Append(std::string_view event_type, std::string_view actor, json::Value details) {
  if (details.is_null()) details = json::Value::MakeObject();
  if (!details.is_object()) {
    return Status::InvalidArgument("audit details must be a JSON object");
  }
  const std::string details_canonical = json::Canonical(details);
  {
    std::lock_guard<std::mutex> l(mu_);
    VV_RETURN_IF_ERROR(AppendLocked(event_type, actor, details_canonical));
  }
  switch (opts_.fsync) {
    case FsyncPolicy::kNone:
      break;
    case FsyncPolicy::kAlways:
      // Outside the append mutex: fdatasync covers every write issued before it.
      if (::fdatasync(fd_) != 0) {
        Status s = Status::Unavailable("fdatasync of audit log " + path_ + ": " + ErrnoText(errno));
        {
          std::lock_guard<std::mutex> l(sync_mu_);
          sync_error_ = s;
        }
        sync_failed_.store(true, std::memory_order_release);
        return s;
      }
      break;
    case FsyncPolicy::kBatch: {
      {
        std::lock_guard<std::mutex> l(sync_mu_);
        ++written_seq_;
      }
      sync_cv_.notify_one();
      break;
    }
  }
  return Status::Ok();
}

Status AuditLog::Sync() {
  if (::fdatasync(fd_) != 0) {
    return Status::Unavailable("fdatasync of audit log " + path_ + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

int64_t AuditLog::line_count() const {
  std::lock_guard<std::mutex> l(mu_);
  return lines_;
}

std::string AuditLog::last_hash() const {
  std::lock_guard<std::mutex> l(mu_);
  return last_hash_;
}

void AuditLog::FlusherLoop() {
  std::unique_lock<std::mutex> l(sync_mu_);
  for (;;) {
    sync_cv_.wait(l, [this] { return stop_ || written_seq_ != synced_seq_; });
    if (written_seq_ == synced_seq_) break;  // stop_ and nothing pending
    const uint64_t target = written_seq_;
    l.unlock();
    const int rc = ::fdatasync(fd_);
    const int err = errno;
    l.lock();
    if (rc != 0) {
      sync_error_ =
          Status::Unavailable("fdatasync of audit log " + path_ + " failed: " + ErrnoText(err));
      sync_failed_.store(true, std::memory_order_release);
    }
    synced_seq_ = target;
    // At most one fdatasync per interval; a stop request ends the wait early.
    if (!stop_) sync_cv_.wait_for(l, kBatchInterval, [this] { return stop_; });
  }
}

}  // namespace vv::audit

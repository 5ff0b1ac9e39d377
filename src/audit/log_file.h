#pragma once
// The audit log's file (issue 13: AuditLog split as leveldb splits its log into a writer, the
// records' format and the rest): one O_APPEND descriptor under an exclusive flock, written
// whole-buffer at a time with rollback, made durable by the fsync policy, swapped atomically
// by a rotation. It also runs the log's one background thread: the kBatch flusher (at most
// one fdatasync per kBatchInterval, woken by a write only while it is idle) and the owner's
// periodic `tick` (the seal timer, anchor retries).
//
// Thread-safety: every method may be called from any thread. Writes are serialised by
// write_mu_; fdatasync runs under fd_mu_ shared, so it never holds up a write; Replace takes
// both (lock order: write_mu_, fd_mu_, sync_mu_). Ownership: owns the descriptor (closing it
// releases the flock) and the background thread; the destructor stops the thread,
// fdatasyncs and closes.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "common/file.h"
#include "common/mutex.h"
#include "common/status.h"

namespace vv::audit {

enum class FsyncPolicy {
  kNone,    // never fdatasync (the OS flushes eventually); tests and throwaway logs
  kBatch,   // a background thread fdatasyncs at most every 20 ms when bytes are unsynced
  kAlways,  // fdatasync before Append returns
};

inline constexpr auto kBatchInterval = std::chrono::milliseconds(20);

class LogFile {
 public:
  // `fd`: open O_RDWR|O_APPEND and flocked; `size`: its length.
  LogFile(std::string path, UniqueFd fd, int64_t size, FsyncPolicy policy);
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // Starts the background thread when there is work for it: the kBatch flusher, and/or
  // `tick` every `tick_every` (> 0; none when `tick` is empty). Call once.
  void StartBackground(std::function<void()> tick, std::chrono::milliseconds tick_every);
  // Stops and joins the background thread (idempotent); the owner calls it before the state
  // its tick uses goes away.
  void StopBackground() VV_EXCLUDES(sync_mu_);

  // Appends all of `bytes` (short writes and EINTR retried). A failed write is rolled back
  // (ftruncate to the previous size) and reported Unavailable; a failed rollback breaks the
  // file for good (Health()).
  Status Write(const std::string& bytes) VV_EXCLUDES(write_mu_);
  // After `records` records were written: kAlways fdatasyncs now; kBatch tells the flusher.
  Status AfterWrite(uint64_t records) VV_EXCLUDES(sync_mu_);
  // fdatasyncs everything written so far (any policy); Unavailable on failure (not sticky).
  Status Sync() VV_EXCLUDES(fd_mu_);
  // Ok, or why writes are refused: a failed rollback, a failed fdatasync (sticky).
  Status Health() const VV_EXCLUDES(write_mu_, sync_mu_);
  // Rotation: the file becomes `fd` (already written, synced and flocked) of length `size`;
  // the old descriptor is closed (its flock released). Writes and syncs wait meanwhile.
  void Replace(UniqueFd fd, int64_t size) VV_EXCLUDES(write_mu_, fd_mu_);

  const std::string& path() const { return path_; }
  FsyncPolicy policy() const { return policy_; }
  // Successful Write calls; for tests.
  uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }

 private:
  int SyncFd() VV_EXCLUDES(fd_mu_);
  void BackgroundLoop() VV_EXCLUDES(sync_mu_);
  Status SyncFailure() const VV_EXCLUDES(sync_mu_);

  const std::string path_;
  const FsyncPolicy policy_;

  mutable Mutex write_mu_ VV_ACQUIRED_BEFORE(fd_mu_);
  int64_t size_ VV_GUARDED_BY(write_mu_) = 0;
  Status broken_ VV_GUARDED_BY(write_mu_);  // sticky: a rollback failed
  mutable SharedMutex fd_mu_;
  UniqueFd fd_ VV_GUARDED_BY(fd_mu_);
  std::atomic<uint64_t> writes_{0};

  // Background thread. written_seq_/synced_seq_ count records (kBatch).
  std::atomic<bool> sync_failed_{false};
  mutable Mutex sync_mu_ VV_ACQUIRED_AFTER(fd_mu_);
  CondVar sync_cv_;
  uint64_t written_seq_ VV_GUARDED_BY(sync_mu_) = 0;
  uint64_t synced_seq_ VV_GUARDED_BY(sync_mu_) = 0;
  // The thread waits for records (not in its between-fdatasync pause): only then does
  // AfterWrite signal, so the hot path does not wake it once per record.
  bool idle_ VV_GUARDED_BY(sync_mu_) = false;
  bool stop_ VV_GUARDED_BY(sync_mu_) = false;
  Status sync_error_ VV_GUARDED_BY(sync_mu_);
  std::function<void()> tick_;
  std::chrono::milliseconds tick_every_{0};
  std::thread thread_;
};

}  // namespace vv::audit

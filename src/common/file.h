#pragma once
// One way to replace a file's contents atomically (issue 13 "Foundations": four hand-written
// copies differed - one never fsynced, some reused a fixed "<path>.tmp" that two processes
// would share, none handled short writes, none synced the directory).
//
// WriteFileAtomic(path, content, mode):
//   1. creates a fresh temporary file beside `path` ("<path>.tmp.<pid>.<n>", O_EXCL, mode
//      `mode` from the start, then fchmod so the umask cannot widen or narrow it);
//   2. writes all of `content` (short writes and EINTR retried);
//   3. fsyncs it (kDurable) and closes it;
//   4. renames it over `path` (readers see the old or the new contents, never a mix);
//   5. fsyncs the directory (kDurable), so the rename survives a power loss.
// On any failure the temporary file is removed, `path` is left untouched, and the Status
// (Unavailable) names the step, the path and errno's text. kFast skips both fsyncs: for files
// that are rewritten often and may be lost (a metrics text file).
//
// Thread-safety: stateless apart from a process-wide atomic counter for temporary names; two
// writers of the same path (threads or processes) never share a temporary file, and the last
// rename wins.

#include <unistd.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace vv {

// An owned file descriptor, closed when the owner goes: an early return cannot leak it (the
// RAII handle of leveldb's and Envoy's file code). Move-only; -1 = none. Not thread-safe.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Hands the descriptor over; this object owns none afterwards.
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes the current descriptor (if any) and owns `fd`.
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Closes now and returns close()'s result (0, or -1 with errno: a deferred write error).
  int Close() {
    const int rc = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return rc;
  }

 private:
  int fd_ = -1;
};

// fsync of the directory that holds `path`, so a file created or renamed into it survives a
// power loss. Unavailable (naming the directory and errno's text) on failure.
Status SyncParentDirectory(const std::string& path);

enum class Durability { kDurable, kFast };

Status WriteFileAtomic(const std::string& path, std::string_view content, int mode,
                       Durability durability = Durability::kDurable);

}  // namespace vv

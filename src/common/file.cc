#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>

namespace vv {

namespace {

std::string ErrText(int err) { return std::strerror(err); }

Status Fail(const std::string& what, const std::string& path, int err) {
  return Status::Unavailable("cannot " + what + " " + path + ": " + ErrText(err));
}

// Writes all of `data`, retrying short writes and EINTR. errno is kept on failure.
bool WriteAll(int fd, std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) {
      errno = EIO;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

std::atomic<uint64_t> g_tmp_counter{0};

}  // namespace

Status WriteFileAtomic(const std::string& path, std::string_view content, int mode,
                       Durability durability) {
  if (path.empty()) return Status::InvalidArgument("WriteFileAtomic: empty path");
  const bool durable = durability == Durability::kDurable;
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
                          std::to_string(g_tmp_counter.fetch_add(1, std::memory_order_relaxed));
  UniqueFd fd(::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
                     static_cast<mode_t>(mode)));
  if (!fd.valid()) return Fail("create", tmp, errno);
  auto abandon = [&](const std::string& what, int err) {
    fd.Reset();
    ::unlink(tmp.c_str());
    return Fail(what, tmp, err);
  };
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) return abandon("chmod", errno);
  if (!WriteAll(fd.get(), content)) return abandon("write", errno);
  if (durable && ::fsync(fd.get()) != 0) return abandon("fsync", errno);
  if (fd.Close() != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Fail("close", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Status::Unavailable("cannot rename " + tmp + " to " + path + ": " + ErrText(err));
  }
  if (durable) return SyncParentDirectory(path);
  return Status::Ok();
}

Status SyncParentDirectory(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) return Fail("fsync the directory of", path, errno);
  return Status::Ok();
}

}  // namespace vv

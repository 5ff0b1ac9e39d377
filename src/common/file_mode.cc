#include "common/file_mode.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace vv {

namespace {

Status Tighten(const std::string& path, bool must_exist) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (!must_exist && errno == ENOENT) return Status::Ok();
    return Status::Unavailable("cannot stat " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::Ok();  // not ours to change (e.g. /dev/null)
  if ((st.st_mode & 077) == 0) return Status::Ok();
  if (::chmod(path.c_str(), st.st_mode & 0700) != 0)
    return Status::Unavailable("cannot restrict " + path + " to its owner (mode " +
                               std::to_string(st.st_mode & 0777) + "): " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

Status EnsurePrivateFile(const std::string& path) {
  if (path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0) return Status::Ok();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
  } else if (errno != EEXIST) {
    return Status::Unavailable("cannot create " + path + ": " + std::strerror(errno));
  }
  VV_RETURN_IF_ERROR(Tighten(path, /*must_exist=*/true));
  for (const char* suffix : {"-wal", "-shm", "-journal"})
    VV_RETURN_IF_ERROR(Tighten(path + suffix, /*must_exist=*/false));
  return Status::Ok();
}

}  // namespace vv

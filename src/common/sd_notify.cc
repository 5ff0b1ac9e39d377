#include "common/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace vv {

Status SdNotify(std::string_view state, const EnvLookup& env) {
  std::optional<std::string> where = env("NOTIFY_SOCKET");
  if (!where || where->empty()) return Status::Ok();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (where->size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("NOTIFY_SOCKET path too long");
  }
  std::memcpy(addr.sun_path, where->data(), where->size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const socklen_t len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + where->size());
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable(std::string("sd_notify socket: ") + std::strerror(errno));
  ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&addr), len);
  int err = errno;
  ::close(fd);
  if (n < 0 || static_cast<size_t>(n) != state.size()) {
    return Status::Unavailable("sd_notify to " + *where + ": " + std::strerror(err));
  }
  return Status::Ok();
}

}  // namespace vv

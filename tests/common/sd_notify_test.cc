#include "common/sd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "fakes/temp_dir.h"

namespace vv {
namespace {

// A unix datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() { ::close(fd_); }
  bool ok() const { return ok_; }
  std::string Receive() {
    char buf[256];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

TEST(SdNotifyTest, SendsTheStateToNotifySocket) {
  testing::TempDir dir;
  const std::string path = dir.File("notify.sock");
  NotifySocket sock(path);
  ASSERT_TRUE(sock.ok());
  EnvLookup env = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "NOTIFY_SOCKET") return path;
    return std::nullopt;
  };
  ASSERT_TRUE(SdNotify("READY=1", env).ok());
  EXPECT_EQ(sock.Receive(), "READY=1");
  ASSERT_TRUE(SdNotify("STOPPING=1", env).ok());
  EXPECT_EQ(sock.Receive(), "STOPPING=1");
}

TEST(SdNotifyTest, NoSocketIsANoOpAndAMissingOneIsAnError) {
  EnvLookup none = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  EXPECT_TRUE(SdNotify("READY=1", none).ok());
  EnvLookup missing = [](const std::string&) -> std::optional<std::string> {
    return std::string("/nonexistent/dir/notify.sock");
  };
  EXPECT_FALSE(SdNotify("READY=1", missing).ok());
}

}  // namespace
}  // namespace vv

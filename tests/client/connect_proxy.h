#pragma once
// A tiny HTTP CONNECT proxy on loopback for tests of the producer's https_proxy support:
// accepts, reads the request head, records the CONNECT line, and either answers
// `reply_status` (no tunnel) or connects to the target and relays bytes both ways until one
// side closes. It sees only TLS records after the 200 (the mTLS session is end to end).
// Header-only: used by tests/client and tests/integration.

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vv::testing {

class ConnectProxy {
 public:
  explicit ConnectProxy(int reply_status = 200) : reply_status_(reply_status) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~ConnectProxy() {
    stop_ = true;
    acceptor_.join();
    std::lock_guard<std::mutex> l(mu_);
    for (auto& t : conns_) t.join();
    ::close(listen_fd_);
  }
  ConnectProxy(const ConnectProxy&) = delete;
  ConnectProxy& operator=(const ConnectProxy&) = delete;

  uint16_t port() const { return port_; }
  std::vector<std::string> requests() const {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  int tunnels() const { return tunnels_.load(); }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::lock_guard<std::mutex> l(mu_);
      conns_.emplace_back([this, c] { Serve(c); });
    }
  }

  static bool WriteAll(int fd, const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  void Serve(int c) {
    std::string head;
    char ch;
    while (head.size() < 8192 && (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n"))) {
      pollfd p{c, POLLIN, 0};
      if (stop_ || ::poll(&p, 1, 100) < 0) break;
      if (!(p.revents & POLLIN)) continue;
      if (::recv(c, &ch, 1, 0) != 1) break;
      head.push_back(ch);
    }
    std::string line = head.substr(0, head.find("\r\n"));
    {
      std::lock_guard<std::mutex> l(mu_);
      requests_.push_back(line);
    }
    int t = -1;
    if (reply_status_ == 200 && line.rfind("CONNECT ", 0) == 0) {
      std::string authority = line.substr(8, line.find(' ', 8) - 8);
      std::string host = authority.substr(0, authority.rfind(':'));
      std::string port = authority.substr(authority.rfind(':') + 1);
      if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
      addrinfo hints{}, *res = nullptr;
      hints.ai_socktype = SOCK_STREAM;
      if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) == 0 && res != nullptr) {
        t = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (::connect(t, res->ai_addr, res->ai_addrlen) != 0) {
          ::close(t);
          t = -1;
        }
        ::freeaddrinfo(res);
      }
    }
    if (t < 0) {
      std::string resp = "HTTP/1.1 " + std::to_string(reply_status_ == 200 ? 502 : reply_status_) +
                         " Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      WriteAll(c, resp.data(), resp.size());
      ::close(c);
      return;
    }
    static const char kOk[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    WriteAll(c, kOk, sizeof kOk - 1);
    ++tunnels_;
    pollfd fds[2] = {{c, POLLIN, 0}, {t, POLLIN, 0}};
    char buf[16384];
    bool open = true;
    while (open && !stop_) {
      if (::poll(fds, 2, 100) <= 0) continue;
      for (int i = 0; i < 2 && open; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        if (n <= 0 || !WriteAll(fds[1 - i].fd, buf, static_cast<size_t>(n))) open = false;
      }
    }
    ::close(t);
    ::close(c);
  }

  const int reply_status_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> tunnels_{0};
  mutable std::mutex mu_;
  std::vector<std::string> requests_;
  std::vector<std::thread> conns_;
  std::thread acceptor_;
};

}  // namespace vv::testing

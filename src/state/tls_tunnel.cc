#include "state/tls_tunnel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

namespace vv::state {

namespace {

std::string OpensslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Connects with a timeout (non-blocking connect + poll). -1 with *why on failure.
int Dial(const std::string& host, int port, int timeout_ms, std::string* why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) {
    *why = std::string("resolve: ") + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = res; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    SetNonBlocking(fd);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      *why = std::string("connect: ") + std::strerror(errno);
      ::close(fd);
      fd = -1;
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, timeout_ms) != 1 ||
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      *why = std::string("connect: ") + (err ? std::strerror(err) : "timed out");
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  return fd;
}

}  // namespace

struct TlsTunnel::Impl {
  int tcp_fd = -1;
  int pump_fd = -1;   // our end of the socketpair
  int local_fd = -1;  // hiredis's end, until taken
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  std::atomic<bool> stop{false};
  std::thread thread;

  ~Impl() {
    stop.store(true);
    if (thread.joinable()) thread.join();
    if (ssl != nullptr) SSL_free(ssl);
    if (ctx != nullptr) SSL_CTX_free(ctx);
    if (tcp_fd >= 0) ::close(tcp_fd);
    if (pump_fd >= 0) ::close(pump_fd);
    if (local_fd >= 0) ::close(local_fd);
  }

  // Copies until either side closes or fails. `to_tls` holds plaintext not yet accepted by
  // SSL_write (retried with the same bytes, as OpenSSL requires).
  void Pump() {
    std::string to_tls;
    char buf[16384];
    while (!stop.load()) {
      pollfd p[2] = {{tcp_fd, POLLIN, 0}, {pump_fd, POLLIN, 0}};
      if (!to_tls.empty()) p[0].events |= POLLOUT;
      if (!to_tls.empty()) p[1].events = 0;  // back-pressure: finish the pending write first
      if (SSL_pending(ssl) == 0 && ::poll(p, 2, 100) < 0 && errno != EINTR) break;
      // TLS -> hiredis.
      for (;;) {
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n > 0) {
          if (!WriteAll(pump_fd, buf, static_cast<size_t>(n))) return Close();
          continue;
        }
        int e = SSL_get_error(ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
        return Close();  // closed by the server or a TLS error
      }
      // hiredis -> TLS.
      if (to_tls.empty() && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = ::read(pump_fd, buf, sizeof buf);
        if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) return Close();
        if (n > 0) to_tls.assign(buf, static_cast<size_t>(n));
      }
      while (!to_tls.empty()) {
        int n = SSL_write(ssl, to_tls.data(), static_cast<int>(to_tls.size()));
        if (n > 0) {
          to_tls.erase(0, static_cast<size_t>(n));
          continue;
        }
        int e = SSL_get_error(ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
        return Close();
      }
    }
    Close();
  }

  bool WriteAll(int fd, const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) {
        pollfd q{fd, POLLOUT, 0};
        if (stop.load() || ::poll(&q, 1, 100) < 0) return false;
        continue;
      }
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  // Ends both directions: hiredis then sees EOF on its end.
  void Close() {
    ::shutdown(pump_fd, SHUT_RDWR);
    ::shutdown(tcp_fd, SHUT_RDWR);
  }
};

TlsTunnel::TlsTunnel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsTunnel::~TlsTunnel() = default;

int TlsTunnel::TakeLocalFd() {
  int fd = impl_->local_fd;
  impl_->local_fd = -1;
  return fd;
}

Result<std::unique_ptr<TlsTunnel>> TlsTunnel::Open(const TlsTunnelOptions& o) {
  const std::string where = "tls " + o.host + ":" + std::to_string(o.port);
  if (o.ca_file.empty())
    return Status::InvalidArgument(where + ": a CA file is required to verify the server");
  auto impl = std::make_unique<Impl>();
  auto fail = [&](const std::string& why) { return Status::Unavailable(where + ": " + why); };

  impl->ctx = SSL_CTX_new(TLS_client_method());
  if (impl->ctx == nullptr) return fail(OpensslError());
  SSL_CTX_set_min_proto_version(impl->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(impl->ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(impl->ctx, o.ca_file.c_str(), nullptr) != 1)
    return fail("cannot load CA file " + o.ca_file + ": " + OpensslError());

  std::string why;
  impl->tcp_fd = Dial(o.host, o.port, o.connect_timeout_ms, &why);
  if (impl->tcp_fd < 0) return fail(why);

  impl->ssl = SSL_new(impl->ctx);
  if (impl->ssl == nullptr) return fail(OpensslError());
  const std::string name = o.server_name.empty() ? o.host : o.server_name;
  X509_VERIFY_PARAM* param = SSL_get0_param(impl->ssl);
  in6_addr ip6{};
  in_addr ip4{};
  if (::inet_pton(AF_INET, name.c_str(), &ip4) == 1 ||
      ::inet_pton(AF_INET6, name.c_str(), &ip6) == 1) {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
    SSL_set_tlsext_host_name(impl->ssl, name.c_str());
  }
  SSL_set_fd(impl->ssl, impl->tcp_fd);
  // Handshake on the non-blocking socket, bounded by the connect timeout.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(o.connect_timeout_ms);
  for (;;) {
    int rc = SSL_connect(impl->ssl);
    if (rc == 1) break;
    int e = SSL_get_error(impl->ssl, rc);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      long verify = SSL_get_verify_result(impl->ssl);
      return fail(verify != X509_V_OK
                      ? std::string("server certificate not trusted: ") +
                            X509_verify_cert_error_string(verify)
                      : "handshake: " + OpensslError());
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    pollfd p{impl->tcp_fd, static_cast<short>(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) != 1) return fail("handshake timed out");
  }

  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return fail(std::string("socketpair: ") + std::strerror(errno));
  impl->pump_fd = pair[0];
  impl->local_fd = pair[1];
  SetNonBlocking(impl->pump_fd);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Pump(); });
  return std::unique_ptr<TlsTunnel>(new TlsTunnel(std::move(impl)));
}

}  // namespace vv::state

#pragma once
// AdminServer: the loopback-only plain-HTTP admin listener of the gateway and the engine
// (`admin_listen`, issue 8): GET /metrics (Prometheus text) and operator endpoints such as
// POST /admin/reload. It refuses any non-loopback address (there is no authentication on it;
// anything that can reach loopback on the host is trusted, as with a local admin socket).
// One request per connection (Connection: close), small bodies (64 KiB), 5 s timeouts.
//
// Thread-safety: Start/Stop/port may be called from any thread except that Stop must not be
// called from the handler. The handler runs on the admin server's single io thread.
// Ownership: owns its thread; the handler is copied. The destructor calls Stop().

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/server.h"

namespace vv::http {

struct AdminRequest {
  std::string method;
  std::string path;  // without the query string
  std::string body;
};

using AdminHandler = std::function<Response(const AdminRequest&)>;

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// Parses "host:port" / "[v6]:port" and refuses anything but a loopback address
// (127.0.0.0/8, ::1, "localhost" -> 127.0.0.1).
Result<HostPort> ParseLoopbackListen(std::string_view text);

class AdminServer {
 public:
  // Binds now (port() valid afterwards); serving starts with Start().
  static Result<std::unique_ptr<AdminServer>> Create(std::string_view listen, AdminHandler handler);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  uint16_t port() const;
  void Start();
  void Stop();

  class Impl;

 private:
  explicit AdminServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace vv::http

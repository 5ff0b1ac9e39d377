#pragma once
// AdminServer: the loopback-only plain-HTTP admin listener of the gateway and the engine
// (`admin_listen`, issue 8): GET /metrics (Prometheus text) and operator endpoints such as
// POST /admin/reload. It refuses any non-loopback address. Loopback alone is not enough (issue
// 12): a browser on the host can be made to POST to it cross-site, and DNS rebinding lets a
// page read from it. So, before the handler runs:
//   * the Host header must name a loopback host (127.0.0.0/8, [::1], localhost; any port),
//     else 403 (DNS rebinding);
//   * a request carrying Origin (or Sec-Fetch-Site other than "none") comes from a browser
//     page: 403 (cross-site request forgery);
//   * every method other than GET/HEAD needs `Authorization: Bearer <token>`, compared in
//     constant time; no token configured = every such request refused (fail closed): 401.
// Refusals get the fixed bodies {"detail":"Forbidden"} / {"detail":"Unauthorized"}; the
// precise reason goes to `on_refused` (for the audit log).
// One request per connection (Connection: close), small bodies (64 KiB), 5 s timeouts.
//
// Thread-safety: Start/Stop/port may be called from any thread except that Stop must not be
// called from the handler. The handler runs on the admin server's single io thread.
// Ownership: owns its thread; the handler is copied. The destructor calls Stop().

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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

// A refused admin request: method and path bounded (kMaxRefusedField bytes) and printable
// ASCII only, so the callback may log/audit them as they are; `reason` is one of
// admin_host_not_loopback, admin_browser_origin, admin_token_missing, admin_token_invalid,
// admin_token_not_configured.
struct AdminRefusal {
  std::string method;
  std::string path;
  std::string reason;
  int status = 403;
};
inline constexpr size_t kMaxRefusedField = 128;

struct AdminOptions {
  std::string token;  // "" = no token: every non-GET request is refused
  std::function<void(const AdminRefusal&)> on_refused;  // called on the io thread
};

// The refusal for a request (nullopt = allowed). Pure; exposed for unit tests.
std::optional<AdminRefusal> CheckAdminRequest(std::string_view method, std::string_view host,
                                              std::string_view origin,
                                              std::string_view sec_fetch_site,
                                              std::string_view authorization,
                                              std::string_view token);
// True when a Host header value names a loopback host (any port).
bool IsLoopbackHostHeader(std::string_view host);

// The paths the probe listener serves, and its limits.
inline constexpr std::string_view kProbePaths[] = {"/livez", "/readyz", "/metrics"};
inline constexpr size_t kProbeMaxHeaderBytes = 8 * 1024;
inline constexpr size_t kProbeMaxConnections = 64;
inline constexpr int kProbeTimeoutSeconds = 5;

class AdminServer {
 public:
  // Binds now (port() valid afterwards); serving starts with Start(). `listen` must be a
  // loopback address (ParseListenAddress in common/host_port.h, key "admin_listen").
  static Result<std::unique_ptr<AdminServer>> Create(std::string_view listen, AdminHandler handler,
                                                     AdminOptions options = {});
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

// ProbeServer: the unauthenticated, read-only plain-HTTP listener for Kubernetes probes and
// Prometheus scrapes (`probe_listen`, issue 14 item 5); it may listen on any address. It
// answers only GET /livez, /readyz and /metrics (the handler gets the path): another method is
// 405 (Allow: GET), another path 404, a request with a body is refused (connection closed),
// headers are bounded (kProbeMaxHeaderBytes), every connection gets kProbeTimeoutSeconds to
// send its request and read the answer, and at most kProbeMaxConnections are open at once
// (more are closed on accept). One request per connection. Nothing it answers may carry
// configuration details: the handler returns status codes, fixed reason codes and metrics.
// Thread-safety and ownership as AdminServer.
using ProbeHandler = std::function<Response(std::string_view path)>;

class ProbeServer {
 public:
  // `listen`: any IP address (ParseListenAddress, key "probe_listen").
  static Result<std::unique_ptr<ProbeServer>> Create(std::string_view listen,
                                                     ProbeHandler handler);
  ~ProbeServer();
  ProbeServer(const ProbeServer&) = delete;
  ProbeServer& operator=(const ProbeServer&) = delete;

  uint16_t port() const;
  void Start();
  void Stop();

 private:
  explicit ProbeServer(std::shared_ptr<AdminServer::Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<AdminServer::Impl> impl_;
};

}  // namespace vv::http

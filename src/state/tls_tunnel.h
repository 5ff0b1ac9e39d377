#pragma once
// TlsTunnel: Redis over TLS (`rediss://`, issue 12) with Debian 12's hiredis 0.14, which has
// no TLS support (no hiredis_ssl). The tunnel dials host:port, completes a TLS 1.2+ handshake
// that verifies the server certificate against `ca_file` and checks its name (DNS name or IP
// address), and exposes the plaintext side as one end of a local socketpair, which hiredis
// adopts with redisConnectFd(). A pump thread copies bytes both ways (non-blocking OpenSSL, so
// a TLS 1.3 post-handshake message can never block a command). Closing the hiredis side (or
// the server closing the TLS side) ends the pump.
//
// Thread-safety: the pump thread owns the TLS socket; the caller only owns the tunnel object.
// Ownership: owns the TLS socket, the pump's socketpair end and the thread; the destructor
// stops and joins. The hiredis end (TakeLocalFd) belongs to whoever takes it.

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace vv::state {

struct TlsTunnelOptions {
  std::string host;
  int port = 0;
  std::string ca_file;      // PEM CA bundle the server certificate must chain to (required)
  std::string server_name;  // name to verify ("" = host)
  int connect_timeout_ms = 1000;
};

class TlsTunnel {
 public:
  // Unavailable("tls <host>:<port>: <why>") when the connection or the verification fails.
  static Result<std::unique_ptr<TlsTunnel>> Open(const TlsTunnelOptions& options);
  ~TlsTunnel();
  TlsTunnel(const TlsTunnel&) = delete;
  TlsTunnel& operator=(const TlsTunnel&) = delete;

  // The plaintext end for hiredis (once; -1 afterwards). The caller closes it.
  int TakeLocalFd();

 private:
  struct Impl;
  explicit TlsTunnel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vv::state

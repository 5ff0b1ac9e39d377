#pragma once
// HTTPS listener seam. The server owns TLS (mTLS), HTTP/1.1 parsing, limits and timeouts;
// it hands complete requests to a Handler and writes back the Response the handler gives.
// The handler may respond from any thread, exactly once.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/request_reader.h"
#include "tls/tls.h"

namespace vv::http {

// What the TLS layer proved about the peer.
struct PeerInfo {
  bool has_certificate = false;     // a client certificate was presented AND chain-verified
  std::string cert_sha256_hex;      // SHA-256 of the presented leaf certificate (DER), lowercase
  std::string subject;              // leaf subject (one-line), for logs
  std::string remote_address;       // ip:port
};

struct Request {
  std::string method;
  std::string target;  // path (+ query)
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased, values raw
  std::string body;
  PeerInfo peer;
  // Framing of the body as declared by the head: the Content-Length, or nullopt (chunked or
  // no body). Set before Handler::OnHead.
  std::optional<uint64_t> content_length;
  bool chunked = false;

  // First value of a header (case-insensitive name), or nullptr.
  const std::string* Header(std::string_view lower_name) const;
  std::string Path() const;  // target without the query string
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

using Responder = std::function<void(Response)>;

class Handler {
 public:
  virtual ~Handler() = default;
  // Handles a complete request. `respond` must be called exactly once, from any thread.
  virtual void Handle(Request request, Responder respond) = 0;
  // The request body exceeded the configured limit (`request` has headers, no body). The
  // connection is closed after this response.
  virtual Response OnBodyTooLarge(const Request& request) = 0;
  // A TLS handshake failed (no client certificate, untrusted or revoked certificate, timeout,
  // protocol error). `peer` has the remote address and, when the client presented one, the
  // certificate's fingerprint and subject (has_certificate stays false). Called on an io
  // thread; must not block. Default: ignore.
  virtual void OnHandshakeFailed(const PeerInfo& peer, std::string_view reason) {}
  // Called once a request head is parsed and its framing accepted, BEFORE any body byte is
  // read (and before "100 Continue"); `head` has no body. A response given here is sent at
  // once and the connection closed without reading the body, so an unauthenticated peer cannot
  // make the server buffer a body (issue 12 item 3). The handler audits what it refuses here.
  // Called on an io thread; must not block. Default: read the body.
  virtual std::optional<Response> OnHead(const Request& head) { return std::nullopt; }
  // The server refused a request itself before it reached the handler: malformed HTTP or
  // refused framing (400), header fields or chunked framing too large (431). `head` has what
  // was parsed (method/target/headers may be empty), `reason` is a stable snake_case code and
  // `detail` the precise parser error (untrusted-free, bounded). The response (fixed body) is
  // sent by the server. Called on an io thread; must not block. Default: ignore.
  virtual void OnProtocolError(const Request& head, int status, std::string_view reason,
                               std::string_view detail) {}
  // After a TLS reload the peer certificate of an open connection (or of a resumed session) no
  // longer verifies against the new CA/CRL (e.g. it was revoked); the connection is closed.
  // Called on an io thread; must not block. Default: ignore.
  virtual void OnPeerRejected(const PeerInfo& peer, std::string_view reason) {}
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = ephemeral (see Server::port())
  tls::ServerTlsOptions tls;
  // io threads, each running an io_context of its own; connections are assigned to them
  // round-robin at accept. 0 = std::thread::hardware_concurrency().
  int threads = 0;
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 * 1024;
  size_t max_header_count = 64;
  size_t max_chunk_metadata_bytes = 0;  // chunk lines + extensions + trailers; 0 = max_header_bytes
  int handshake_timeout_seconds = 10;
  int header_timeout_seconds = 10;  // from the first byte of a request to the end of its header
  int body_timeout_seconds = 30;    // reading the body; also bounds writing a response
  int idle_timeout_seconds = 60;    // keep-alive: waiting for the next request's first byte
  size_t max_connections = 10000;   // connections beyond this are closed right after accept
  // Connections that have not completed the TLS handshake (no identity proven yet). When the
  // pool is full, or one source address holds max_pending_handshakes_per_source of them, the
  // OLDEST pending handshake (of that source) is closed to make room: a flood of idle sockets
  // can neither exhaust the connection slots nor lock out new clients, and established
  // (authenticated) connections keep max_connections - max_pending_handshakes slots.
  // 0 = no limit.
  size_t max_pending_handshakes = 0;
  size_t max_pending_handshakes_per_source = 0;
  int shutdown_grace_seconds = 5;   // Stop(): how long in-flight requests may still finish
};

// Counters; monotonically increasing except active_connections.
struct ServerStats {
  uint64_t accepted = 0;           // TCP connections accepted (including refused ones)
  uint64_t refused = 0;            // closed because max_connections was reached
  uint64_t handshakes_ok = 0;      // completed TLS handshakes
  uint64_t handshakes_failed = 0;  // failed / timed-out TLS handshakes
  uint64_t sessions_resumed = 0;   // handshakes that resumed a TLS session
  uint64_t handshakes_evicted = 0; // pending handshakes closed to make room for a new one
  uint64_t peers_rejected = 0;     // connections closed because their certificate no longer verifies
  uint64_t pending_handshakes = 0; // connections currently in the TLS handshake
  uint64_t requests = 0;           // requests handed to the Handler (+ 413/431/400 answers)
  uint64_t active_connections = 0;
};

// The gateway's HTTPS (mTLS) listener: TLS handshake, HTTP/1.1 keep-alive, limits, timeouts.
// Thread-safety: Start/Stop/Wait/port/stats may be called from any thread except that Stop and
// Wait must not be called from a server (handler) thread. Requests are handled on the server's
// io threads; a Responder may be invoked from any thread.
// Ownership: the Handler is borrowed and must outlive the Server. The destructor calls Stop().
class Server {
 public:
  // Loads TLS material and binds/listens (so port() is valid), but accepts nothing until Start().
  static Result<std::unique_ptr<Server>> Create(const ServerOptions& options, Handler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;
  // Starts accepting and runs `threads` io threads, an io_context each. Call once.
  void Start();
  // Graceful: stops accepting, closes idle connections, lets in-flight requests finish for up
  // to shutdown_grace_seconds, then stops the io threads. Idempotent.
  void Stop();
  // Blocks until the io threads have exited (i.e. until Stop() ran on another thread).
  void Wait();
  ServerStats stats() const;
  // Hot reload: builds a new TLS context (certificate, key, CA, CRL) and uses it for NEW
  // connections. Every open connection's peer certificate is verified again against the new
  // context (CA, CRL, validity) and connections that fail are closed (Handler::OnPeerRejected);
  // sessions of the old context cannot resume (new session cache and ticket keys). On error
  // the current context stays in use. Thread-safe.
  Status ReloadTls(const tls::ServerTlsOptions& tls);
  // Expiry facts of the TLS context in use (for metrics).
  tls::ContextExpiry TlsExpiry() const;

  class Impl;  // implementation detail (public only so server.cc can name it)

 private:
  explicit Server(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;  // shared with live connections
};

// The reader limits the server applies for `o` (shared with the fuzz target).
ReaderLimits ReaderLimitsFor(const ServerOptions& o);

}  // namespace vv::http

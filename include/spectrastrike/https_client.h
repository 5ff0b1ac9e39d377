#pragma once
// SpectraStrike SDK: a small synchronous HTTPS (mTLS) client with one keep-alive connection.
//
// HttpsClient owns its own io_context and TLS context. It keeps ONE connection open between
// requests and reconnects transparently when the server has closed it; a request is retried
// once only when it provably was not sent (stale idle connection, or the write on a reused
// connection failed). TLS >= 1.2 (1.3 preferred), server verification against ca_path with
// host-name (or IP) check, optional server-certificate pin, optional client certificate, TLS
// session resumption across reconnects.
// Thread-safety: not thread-safe; use one HttpsClient per thread.
// Errors never throw: transport failures come back as HttpResponse{transport_ok=false, error}.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "spectrastrike/status.h"

namespace spectrastrike {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// An HTTP proxy reached with CONNECT (RFC 9110 9.3.6): the TLS session with the gateway runs
// end to end through the tunnel, so the proxy sees neither the client certificate's key nor
// the payload. host empty = direct connection.
struct HttpProxy {
  std::string host;
  uint16_t port = 0;
  std::string authorization;  // "Basic ..." from http://user:pass@host:port, else ""
  bool enabled() const { return !host.empty(); }
};

// The proxy for `target_host` from https_proxy / HTTPS_PROXY (http://[user:pass@]host[:port],
// port default 80 as for any http:// URL) unless
// no_proxy / NO_PROXY (comma list: "*", host names, ".domain" or "domain" suffixes, IPs,
// optional ":port") exempts it; a disabled HttpProxy then. InvalidArgument for a bad proxy URL.
Result<HttpProxy> ProxyFromEnvironment(
    const std::string& target_host, uint16_t target_port,
    const std::function<std::optional<std::string>(const char*)>& getenv);

struct TlsClientConfig {
  std::string ca_path;    // PEM trust anchors for the server (empty: system default store)
  std::string cert_path;  // client certificate chain (PEM); empty: no client certificate
  std::string key_path;   // client private key (PEM); empty: no client certificate
  bool verify_peer = true;
  std::string server_name;  // SNI + name to verify; empty: the host passed to HttpsClient
  // Optional SHA-256 (hex, any case, colons allowed) of the server leaf certificate DER.
  std::string pinned_server_cert_sha256;
  HttpProxy proxy;  // connect through this HTTP proxy (CONNECT tunnel) when enabled
};

struct HttpTimeouts {
  int connect_ms = 5000;    // TCP connect
  int handshake_ms = 5000;  // TLS handshake
  int io_ms = 10000;        // writing a request / reading its complete response
};

struct HttpResponse {
  bool transport_ok = false;  // false: no HTTP response (connect, TLS, I/O or timeout failure)
  std::string error;          // transport error text when !transport_ok
  int status = 0;
  std::string body;
  HeaderList headers;  // as received

  // First header value with this name (case-insensitive), or nullptr.
  const std::string* Header(std::string_view name) const;
};

using Response = HttpResponse;

class HttpsClient {
 public:
  HttpsClient(std::string host, uint16_t port, TlsClientConfig config, HttpTimeouts timeouts = {});
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;
  HttpsClient(HttpsClient&&) noexcept;
  HttpsClient& operator=(HttpsClient&&) noexcept;

  HttpResponse Post(const std::string& target, const HeaderList& headers, const std::string& body);
  HttpResponse Get(const std::string& target, const HeaderList& headers = {});
  HttpResponse Send(const std::string& method, const std::string& target, const HeaderList& headers,
                    const std::string& body);

  // Non-empty when the TLS configuration itself is unusable (missing or unreadable client
  // certificate/key, bad CA file): a configuration error that no retry can fix.
  std::string ConfigError() const;

  // Closes the kept-alive connection (the next request reconnects).
  void Close();
  bool connected() const;
  // Number of TCP+TLS connections established so far (diagnostics, tests).
  uint64_t connections_opened() const;
  // Whether the last established connection resumed a TLS session.
  bool last_connection_resumed() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// SHA-256 (lowercase hex, no colons) of the DER of the first certificate in a PEM file; the
// value the gateway pins and the X-Client-Cert-Sha256 header carries.
Result<std::string> CertificateSha256Hex(const std::string& pem_path);

}  // namespace spectrastrike

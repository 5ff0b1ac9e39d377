#pragma once
// HTTPS listener seam. The server owns TLS (mTLS), HTTP/1.1 parsing, limits and timeouts;
// it hands complete requests to a Handler and writes back the Response the handler gives.
// The handler may respond from any thread, exactly once.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

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
};

}  // namespace vv::http

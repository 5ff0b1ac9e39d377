#pragma once
// The NATS server seed list (config `nats_url`, VV_TG_NATS_URL, `vv-audit --anchor`): one or
// more server URLs separated by commas, e.g. "nats://a:4222,nats://b:4222" or
// "tls://a:4222,tls://b:4222". Parsed strictly, once, before anything connects:
//   - scheme nats:// or tls:// (lower case), the same for every entry (a plaintext seed in a
//     TLS list would be a downgrade);
//   - optional user[:password]@ or token@ (development: production uses a creds file);
//   - host: a DNS name (letters, digits, '-', '.'), an IPv4 address or a bracketed IPv6 address;
//   - port: required, 1..65535; nothing after the port (no path, query or fragment);
//   - at most kMaxServers entries, each at most kMaxServerUrlLength bytes; no empty entries.
// Error messages never contain the credentials (the entry is named by its position and, with
// the user info masked, by its host:port). Thread-safety: pure functions.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vv::natsclient {

inline constexpr size_t kMaxServers = 16;
inline constexpr size_t kMaxServerUrlLength = 512;

struct ServerUrl {
  std::string scheme;    // "nats" or "tls"
  std::string userinfo;  // "" when none (a secret: never log it)
  std::string host;      // as written (IPv6 with its brackets)
  int port = 0;
  // scheme://[userinfo@]host:port, what nats.c is given.
  std::string Full() const;
  // scheme://[***@]host:port (user info masked), for logs and errors.
  std::string Redacted() const;
};

// Parses and validates a seed list. InvalidArgument, naming the offending entry (redacted).
Result<std::vector<ServerUrl>> ParseServerList(std::string_view list);

// The list with every entry's user info masked ("nats://***@a:4222,nats://b:4222"); for text
// that does not parse, a fixed placeholder (never the raw text, which may hold a password).
std::string RedactServerList(std::string_view list);

}  // namespace vv::natsclient

#pragma once
// The one parser of "host:port": listen addresses (the gateway's `listen`, admin_listen and
// probe_listen, the engine's probe_listen: SplitHostPort / ParseListenAddress) and the host
// part of URLs and headers (redis_url, the producer's endpoint and https_proxy / no_proxy, NATS
// seed URLs, the admin listener's Host check: SplitAuthority, where the port may be omitted).
//
// Syntax: "host:port" or "[v6]:port". An unbracketed host holding ':' is refused (in
// "::1:8443" the port cannot be told from the address). The port is 1..5 decimal digits with
// a value in 0..65535 (0: the system picks one). SplitHostPort checks only this syntax; the
// host may be empty or a name (the caller decides). ParseListenAddress adds the listener rule:
// the host is an IP literal or "localhost" (-> 127.0.0.1), optionally loopback only.
// Thread-safety: pure functions.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vv {

struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
};

enum class HostPortError {
  kNone = 0,
  kBadBrackets,      // "[..." without "]:port"
  kNoPort,           // no ':' at all
  kUnbracketedIpv6,  // "::1:8443"
  kBadPort,          // empty, not digits, more than 5 digits, above 65535 (authority: or 0)
  kNoHost,           // authority only: nothing before the port
};

// Splits `text` into *out (untouched on error).
HostPortError SplitHostPort(std::string_view text, HostPort* out);

// A URL authority's host part or a Host header: "host", "host:port", "[v6]" or "[v6]:port"
// (no userinfo, no path). The port, when present, is 1..65535 (1..5 digits); when absent it is
// `default_port`. The host is non-empty; an unbracketed host holding ':' is refused as in
// SplitHostPort. *out untouched on error.
HostPortError SplitAuthority(std::string_view text, uint16_t default_port, HostPort* out);

// Why the syntax is wrong, in words ("expected host:port", "invalid port" ...); "" for kNone.
const char* HostPortErrorText(HostPortError error);

// A listener address. InvalidArgument "<key> '<text>': <why>" when the syntax is wrong, the
// host is not an IP literal or "localhost", or (loopback_only) not a loopback address
// (127.0.0.0/8, ::1, localhost).
Result<HostPort> ParseListenAddress(std::string_view key, std::string_view text,
                                    bool loopback_only);

}  // namespace vv

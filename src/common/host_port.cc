#include "common/host_port.h"

#include <arpa/inet.h>

namespace vv {

namespace {

// 1..5 decimal digits -> 0..65535; false otherwise.
bool ParsePortDigits(std::string_view port, uint16_t* out) {
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  uint32_t value = 0;
  for (char c : port) value = value * 10 + static_cast<uint32_t>(c - '0');
  if (value > 65535) return false;
  *out = static_cast<uint16_t>(value);
  return true;
}

}  // namespace

HostPortError SplitAuthority(std::string_view s, uint16_t default_port, HostPort* out) {
  std::string_view host = s;
  std::string_view port;
  bool has_port = false;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) return HostPortError::kBadBrackets;
    host = s.substr(1, close - 1);
    const std::string_view after = s.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return HostPortError::kBadBrackets;
      port = after.substr(1);
      has_port = true;
    }
  } else if (const size_t colon = s.rfind(':'); colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    has_port = true;
    if (host.find(':') != std::string_view::npos) return HostPortError::kUnbracketedIpv6;
  }
  if (host.empty()) return HostPortError::kNoHost;
  uint16_t value = default_port;
  if (has_port && (!ParsePortDigits(port, &value) || value == 0)) return HostPortError::kBadPort;
  out->host = std::string(host);
  out->port = value;
  return HostPortError::kNone;
}

HostPortError SplitHostPort(std::string_view s, HostPort* out) {
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return HostPortError::kBadBrackets;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return HostPortError::kNoPort;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return HostPortError::kUnbracketedIpv6;
  }
  uint16_t value = 0;
  if (!ParsePortDigits(port, &value)) return HostPortError::kBadPort;
  out->host = std::string(host);
  out->port = value;
  return HostPortError::kNone;
}

const char* HostPortErrorText(HostPortError error) {
  switch (error) {
    case HostPortError::kNone:
      return "";
    case HostPortError::kBadBrackets:
      return "expected [addr]:port";
    case HostPortError::kNoPort:
      return "expected host:port";
    case HostPortError::kUnbracketedIpv6:
      return "IPv6 hosts must be bracketed, e.g. [::1]:8443";
    case HostPortError::kBadPort:
      return "invalid port";
    case HostPortError::kNoHost:
      return "missing host";
  }
  return "invalid address";
}

Result<HostPort> ParseListenAddress(std::string_view key, std::string_view text,
                                    bool loopback_only) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(std::string(key) + " '" + std::string(text) +
                                   "': " + std::string(why));
  };
  HostPort hp;
  if (HostPortError e = SplitHostPort(text, &hp); e != HostPortError::kNone)
    return bad(HostPortErrorText(e));
  bool loopback = false;
  in_addr v4{};
  in6_addr v6{};
  if (hp.host == "localhost") {
    hp.host = "127.0.0.1";
    loopback = true;
  } else if (inet_pton(AF_INET, hp.host.c_str(), &v4) == 1) {
    loopback = (ntohl(v4.s_addr) >> 24) == 127;
  } else if (inet_pton(AF_INET6, hp.host.c_str(), &v6) == 1) {
    loopback = IN6_IS_ADDR_LOOPBACK(&v6);
  } else {
    return bad("the host must be an IP address or localhost");
  }
  if (loopback_only && !loopback)
    return bad(
        "only a loopback address is allowed (plain HTTP with write endpoints); use "
        "probe_listen for an address other hosts reach");
  return hp;
}

}  // namespace vv

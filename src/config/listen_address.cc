#include "config/listen_address.h"

#include <arpa/inet.h>

#include <string>

namespace vv::config {

bool ListenerDisabled(std::string_view v) { return v.empty() || v == "off" || v == "disabled"; }

Status CheckListenAddress(std::string_view key, std::string_view value, bool loopback_only) {
  if (ListenerDisabled(value)) return Status::Ok();
  const std::string k(key), s(value);
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(k + " '" + s + "': " + why);
  };
  std::string host, port;
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return bad("expected [addr]:port");
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string::npos) return bad("expected host:port");
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535)
    return bad("invalid port");
  bool loopback = false;
  in_addr v4{};
  in6_addr v6{};
  if (host == "localhost") {
    loopback = true;
  } else if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    loopback = (ntohl(v4.s_addr) >> 24) == 127;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    loopback = IN6_IS_ADDR_LOOPBACK(&v6);
  } else {
    return bad("the host must be an IP address or localhost");
  }
  if (loopback_only && !loopback)
    return bad("only a loopback address is allowed (plain HTTP with write endpoints); use "
               "probe_listen for an address other hosts reach");
  return Status::Ok();
}

}  // namespace vv::config

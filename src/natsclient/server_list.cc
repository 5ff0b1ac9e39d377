#include "natsclient/server_list.h"

#include <cctype>

#include "common/host_port.h"

namespace vv::natsclient {

namespace {

Status Bad(size_t index, const std::string& what) {
  return Status::InvalidArgument("nats_url entry " + std::to_string(index + 1) + ": " + what);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsDnsName(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  size_t label = 0;
  char prev = '.';
  for (char c : h) {
    const bool alnum = std::isalnum(static_cast<unsigned char>(c)) != 0;
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else if (alnum || c == '-') {
      if (c == '-' && label == 0) return false;
      if (++label > 63) return false;
    } else {
      return false;
    }
    prev = c;
  }
  return prev != '-' && prev != '.';
}

bool IsIpv6Literal(std::string_view h) {
  // "[...]": hex digits, ':' and '.' (an embedded IPv4 tail); at least two colons.
  if (h.size() < 4 || h.front() != '[' || h.back() != ']') return false;
  size_t colons = 0;
  for (char c : h.substr(1, h.size() - 2)) {
    if (c == ':') ++colons;
    else if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '.') return false;
  }
  return colons >= 2;
}

bool IsUserinfoChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f && c != '@' && c != '/' && c != ',' && c != '?' && c != '#';
}

Result<ServerUrl> ParseOne(size_t index, std::string_view e) {
  if (e.empty()) return Bad(index, "is empty (stray comma?)");
  if (e.size() > kMaxServerUrlLength)
    return Bad(index, "is longer than " + std::to_string(kMaxServerUrlLength) + " bytes");
  ServerUrl u;
  if (e.rfind("nats://", 0) == 0) {
    u.scheme = "nats";
  } else if (e.rfind("tls://", 0) == 0) {
    u.scheme = "tls";
  } else {
    return Bad(index, "must start with nats:// or tls://");
  }
  std::string_view rest = e.substr(u.scheme.size() + 3);
  const size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view info = rest.substr(0, at);
    if (info.empty()) return Bad(index, "has an empty user part before '@'");
    for (char c : info)
      if (!IsUserinfoChar(c)) return Bad(index, "user part has a character that is not allowed");
    u.userinfo = std::string(info);
    rest = rest.substr(at + 1);
  }
  // host:port or [v6]:port, the port required (common/host_port.h).
  HostPort hp;
  switch (SplitHostPort(rest, &hp)) {
    case HostPortError::kNone:
      break;
    case HostPortError::kNoPort:
    case HostPortError::kBadBrackets:
      return Bad(index, "needs an explicit port (host:port)");
    case HostPortError::kUnbracketedIpv6:
      return Bad(index, "host is not a DNS name, an IPv4 address or a [bracketed] IPv6 address");
    default:
      return Bad(index, "port must be 1..65535 (digits only, no path)");
  }
  if (hp.port == 0) return Bad(index, "port must be 1..65535");
  if (hp.host.empty()) return Bad(index, "has no host");
  // An IPv6 literal keeps its brackets: the URL is rebuilt as host:port.
  const bool v6 = rest.front() == '[';
  std::string host = v6 ? "[" + hp.host + "]" : hp.host;
  if (!(v6 ? IsIpv6Literal(host) : IsDnsName(host)))
    return Bad(index, "host is not a DNS name, an IPv4 address or a [bracketed] IPv6 address");
  u.host = std::move(host);
  u.port = hp.port;
  return u;
}

}  // namespace

std::string ServerUrl::Full() const {
  return scheme + "://" + (userinfo.empty() ? "" : userinfo + "@") + host + ":" +
         std::to_string(port);
}

std::string ServerUrl::Redacted() const {
  return scheme + "://" + (userinfo.empty() ? "" : "***@") + host + ":" + std::to_string(port);
}

Result<std::vector<ServerUrl>> ParseServerList(std::string_view list) {
  if (Trim(list).empty()) return Status::InvalidArgument("nats_url is empty");
  if (list.size() > kMaxServers * (kMaxServerUrlLength + 1))
    return Status::InvalidArgument("nats_url is too long");
  std::vector<ServerUrl> out;
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    std::string_view entry =
        Trim(list.substr(start, comma == std::string_view::npos ? list.npos : comma - start));
    if (out.size() == kMaxServers)
      return Status::InvalidArgument("nats_url lists more than " + std::to_string(kMaxServers) +
                                     " servers");
    VV_ASSIGN_OR_RETURN(auto u, ParseOne(out.size(), entry));
    if (!out.empty() && u.scheme != out.front().scheme)
      return Bad(out.size(), "mixes nats:// and tls:// (every seed must use the same scheme)");
    out.push_back(std::move(u));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string RedactServerList(std::string_view list) {
  auto servers = ParseServerList(list);
  if (!servers.ok()) return list.empty() ? std::string() : "<invalid nats_url>";
  std::string out;
  for (const ServerUrl& s : *servers) {
    if (!out.empty()) out += ',';
    out += s.Redacted();
  }
  return out;
}

}  // namespace vv::natsclient

#include "config/effective_config.h"

#include <algorithm>
#include <cctype>

namespace vv::config {

namespace {

bool IsSecretName(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("password") != std::string::npos || lower.find("token") != std::string::npos ||
         lower.find("secret") != std::string::npos || lower == "pass" || lower == "pwd";
}

// Replaces the value of every `name=value` whose name is secret; `sep` separates pairs
// ('&' in a URL query, ' ' in a libpq conninfo string).
std::string RedactPairs(std::string_view s, char sep) {
  std::string out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t end = s.find(sep, i);
    if (end == std::string_view::npos) end = s.size();
    std::string_view pair = s.substr(i, end - i);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && IsSecretName(pair.substr(0, eq))) {
      out.append(pair.substr(0, eq + 1));
      out += "***";
    } else {
      out.append(pair);
    }
    if (end == s.size()) break;
    out += sep;
    i = end + 1;
  }
  return out;
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  if (url.empty()) return std::string();
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return RedactPairs(url, ' ');  // libpq conninfo
  std::string out(url.substr(0, scheme + 3));
  std::string_view rest = url.substr(scheme + 3);
  const size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail =
      auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    const size_t colon = userinfo.find(':');
    if (colon != std::string_view::npos) {
      out.append(userinfo.substr(0, colon));
      out += ":***";
    } else if (url.substr(0, scheme) == "nats" || url.substr(0, scheme) == "tls") {
      out += "***";  // nats://TOKEN@host: a bare user part is a token
    } else {
      out.append(userinfo);
    }
    out += '@';
    out.append(authority.substr(at + 1));
  } else {
    out.append(authority);
  }
  const size_t q = tail.find('?');
  if (q == std::string_view::npos) {
    out.append(tail);
  } else {
    out.append(tail.substr(0, q + 1));
    out += RedactPairs(tail.substr(q + 1), '&');
  }
  return out;
}

// Both lines come from the section's key table (config_table.h): every printed row, URLs
// redacted, secret rows never.
std::string DescribeGatewayConfig(const GatewayConfig& c) { return GatewayTable().Describe(c); }

std::string DescribeEngineConfig(const EngineConfig& c) { return EngineTable().Describe(c); }

}  // namespace vv::config

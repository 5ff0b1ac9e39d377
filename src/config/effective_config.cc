#include "config/effective_config.h"

#include <algorithm>
#include <cctype>
#include <type_traits>

#include "natsclient/server_list.h"

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

const char* FsyncName(FsyncPolicy p) {
  switch (p) {
    case FsyncPolicy::kNone: return "none";
    case FsyncPolicy::kAlways: return "always";
    case FsyncPolicy::kBatch: break;
  }
  return "batch";
}

class Line {
 public:
  template <typename T>
  Line& Add(std::string_view key, const T& value) {
    if (!out_.empty()) out_ += ' ';
    out_.append(key);
    out_ += '=';
    if constexpr (std::is_same_v<T, bool>) {
      out_ += value ? "true" : "false";
    } else if constexpr (std::is_arithmetic_v<T>) {
      out_ += std::to_string(value);
    } else {
      std::string_view v(value);
      out_.append(v.empty() ? std::string_view("-") : v);
    }
    return *this;
  }
  std::string str() const { return out_; }

 private:
  std::string out_;
};

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

std::string DescribeGatewayConfig(const GatewayConfig& c) {
  Line l;
  l.Add("config", c.source_path)
      .Add("profile", c.profile)
      .Add("listen", c.listen_host + ":" + std::to_string(c.listen_port))
      .Add("tls.cert", c.tls.cert_path)
      .Add("tls.key", c.tls.key_path)
      .Add("tls.ca", c.tls.ca_path)
      .Add("tls.crl", c.tls.crl_path)
      .Add("require_mtls", c.require_mtls)
      .Add("require_payload_signature", c.require_payload_signature)
      .Add("insecure_dev_mode", c.insecure_dev_mode)
      .Add("identities", c.identities.size())
      .Add("operator_tenants", c.operator_tenant_map.size())
      .Add("allowed_clock_skew_seconds", c.allowed_clock_skew_seconds)
      .Add("nonce_ttl_seconds", c.nonce_ttl_seconds)
      .Add("nonce_backend", c.nonce_backend)
      .Add("rate_limit_backend", c.rate_limit_backend)
      .Add("rate_limit_per_minute", c.rate_limit_per_minute)
      .Add("redis_url", RedactUrl(c.redis_url))
      .Add("queue_backend", c.queue_backend)
      .Add("queue_path", c.queue_backend == "embedded" ? c.queue_path : std::string())
      .Add("nats_url", natsclient::RedactServerList(c.nats_url))
      .Add("nats_creds_file", c.nats_creds_file)
      .Add("nats_tls_ca_path", c.nats_tls_ca_path)
      .Add("nats_tls_cert_path", c.nats_tls_cert_path)
      .Add("audit_log_path", c.audit_log_path)
      .Add("audit_fsync", std::string(FsyncName(c.audit_fsync)))
      .Add("audit_seal_every", c.audit_seal_every)
      .Add("audit_anchor", c.audit_anchor)
      .Add("audit_anchor_nats_url", natsclient::RedactServerList(c.audit_anchor_nats_url))
      .Add("audit_seal_key_path", c.audit_signing_key_path)
      .Add("audit_seal_pkcs11_token", c.audit_seal_pkcs11.token_label)
      .Add("audit_seal_pkcs11_pin_file", c.audit_seal_pkcs11.pin_file)
      .Add("audit_seal_pkcs11_pin_env",
           c.audit_seal_pkcs11.enabled() ? c.audit_seal_pkcs11.pin_env : std::string())
      .Add("feedback_keys", c.feedback_key_paths.size())
      .Add("admin_listen", c.admin_listen)
      .Add("kill_switch_file", c.kill_switch_file)
      .Add("max_body_bytes", c.max_body_bytes)
      .Add("max_connections", c.max_connections)
      .Add("log_level", c.log_level)
      .Add("log_format", c.log_format);
  return l.str();
}

std::string DescribeEngineConfig(const EngineConfig& c) {
  Line l;
  l.Add("queue_backend", c.queue_backend)
      .Add("queue_path", c.queue_backend == "embedded" ? c.queue_path : std::string())
      .Add("nats_url", natsclient::RedactServerList(c.nats_url))
      .Add("operator_tenants", c.operator_tenant_map.size())
      .Add("store_backend", c.store_backend)
      .Add("store_path", c.store_backend == "sqlite" ? c.store_path : std::string())
      .Add("postgres_url", RedactUrl(c.postgres_url))
      .Add("root_key_provider", c.root_key_provider)
      .Add("root_key_id", c.root_key_id)
      .Add("root_key_file", c.root_key_file)
      .Add("pkcs11_token_label", c.pkcs11_token_label)
      .Add("pkcs11_pin_file", c.pkcs11_pin_file)
      .Add("audit_log_path", c.EffectiveAuditLogPath())
      .Add("audit_fsync", std::string(FsyncName(c.audit_fsync)))
      .Add("audit_seal_key_path", c.audit_seal_key_path)
      .Add("audit_seal_pkcs11_token", c.audit_seal_pkcs11.token_label)
      .Add("batch_size", c.batch_size)
      .Add("max_deliveries", c.max_deliveries)
      .Add("metrics_path", c.metrics_path)
      .Add("log_level", c.log_level)
      .Add("log_format", c.log_format);
  return l.str();
}

}  // namespace vv::config

#include "config/gateway_config.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/encoding.h"
#include "common/logging.h"
#include "json/json.h"

namespace vv::config {

namespace {

constexpr char kSection[] = "vectorvue.telemetry_gateway";
constexpr char kDefaultKid[] = "default";

Status Invalid(const std::string& msg) { return Status::InvalidArgument(msg); }

std::string Trim(std::string_view s) { return std::string(StripAsciiWhitespace(s)); }

// ---- YAML helpers ---------------------------------------------------------------------------

// A YAML scalar or a sequence of scalars (e.g. one pin or a list of pins), as strings.
Result<std::vector<std::string>> ScalarOrList(const YAML::Node& v, const std::string& key,
                                              const std::string& what) {
  std::vector<std::string> out;
  if (v.IsScalar()) {
    out.push_back(v.Scalar());
  } else if (v.IsSequence()) {
    for (const auto& e : v) {
      if (!e.IsScalar()) return Invalid(key + " entries must be strings");
      out.push_back(e.Scalar());
    }
  } else {
    return Invalid(key + " must be " + what);
  }
  return out;
}

// A YAML value expected to be a scalar; a null (`key:` with nothing) reads as "".
Result<std::string> YamlString(const YAML::Node& n, const std::string& key) {
  if (n.IsNull()) return std::string();
  if (!n.IsScalar()) return Invalid(key + " must be a scalar value");
  return n.Scalar();
}

Result<bool> YamlBool(const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) return Invalid(key + " must be a boolean (true/false)");
  return ParseBoolSetting(n.Scalar(), key);
}

Result<int64_t> YamlInt(const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) return Invalid(key + " must be an integer");
  return ParseIntSetting(n.Scalar(), key);
}

// Iterates a YAML mapping, refusing duplicate keys and non-scalar keys.
Status ForEachMember(const YAML::Node& map, const std::string& key,
                     const std::function<Status(const std::string&, const YAML::Node&)>& fn) {
  if (map.IsNull()) return Status::Ok();
  if (!map.IsMap()) return Invalid(key + " must be a mapping");
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) return Invalid(key + " has a non-scalar key");
    std::string k = it->first.Scalar();
    if (!seen.insert(k).second) return Invalid(key + " has duplicate key '" + k + "'");
    VV_RETURN_IF_ERROR(fn(k, it->second));
  }
  return Status::Ok();
}

Result<SigningKey> ParseSigningKey(const std::string& kid, std::string_view b64,
                                   const std::string& key) {
  if (Trim(kid).empty()) return Invalid(key + ": key id must not be empty");
  auto k = crypto::Ed25519PublicKey::FromBase64(b64);
  if (!k.ok())
    return Invalid(key + ": " + k.status().message() + " (expected standard base64 of a raw " +
                   "32-byte Ed25519 public key)");
  return SigningKey{Trim(kid), std::move(k).value()};
}

Result<std::vector<std::string>> DedupStrings(std::vector<std::string> in) {
  std::vector<std::string> out;
  for (auto& s : in) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  }
  return out;
}

// Adds trimmed, de-duplicated operator ids to an identity; an empty id is an error.
Status AddOperators(const std::vector<std::string>& raw, const std::string& key,
                    ServiceIdentity* ident) {
  for (const auto& r : raw) {
    std::string op = Trim(r);
    if (op.empty()) return Invalid(key + ": operator ids must not be empty");
    if (std::find(ident->operators.begin(), ident->operators.end(), op) == ident->operators.end())
      ident->operators.push_back(std::move(op));
  }
  return Status::Ok();
}

// One service identity from YAML: a pin string or {cert_sha256, signing_keys, operators}.
Result<ServiceIdentity> ParseYamlIdentity(const std::string& id, const YAML::Node& n,
                                          const std::string& key) {
  ServiceIdentity ident;
  ident.id = Trim(id);
  if (ident.id.empty()) return Invalid(key + ": service identity id must not be empty");
  if (n.IsScalar()) {
    auto pin = NormalizeCertPin(n.Scalar(), key);
    if (!pin.ok()) return pin.status();
    ident.cert_sha256_pins.push_back(std::move(pin).value());
    return ident;
  }
  if (!n.IsMap())
    return Invalid(key + " must be a certificate fingerprint or a mapping with cert_sha256 " +
                   "and signing_keys");
  std::vector<std::string> unknown;
  Status s = ForEachMember(n, key, [&](const std::string& k, const YAML::Node& v) -> Status {
    const std::string sub = key + "." + k;
    if (k == "cert_sha256") {
      auto raw = ScalarOrList(v, sub, "a fingerprint or a list of fingerprints");
      if (!raw.ok()) return raw.status();
      for (const auto& r : *raw) {
        auto pin = NormalizeCertPin(r, sub);
        if (!pin.ok()) return pin.status();
        if (std::find(ident.cert_sha256_pins.begin(), ident.cert_sha256_pins.end(), *pin) ==
            ident.cert_sha256_pins.end())
          ident.cert_sha256_pins.push_back(std::move(pin).value());
      }
      return Status::Ok();
    }
    if (k == "signing_keys") {
      if (!v.IsMap()) return Invalid(sub + " must be a mapping of key id to base64 public key");
      return ForEachMember(v, sub, [&](const std::string& kid, const YAML::Node& kv) -> Status {
        auto b64 = YamlString(kv, sub + "." + kid);
        if (!b64.ok()) return b64.status();
        auto sk = ParseSigningKey(kid, *b64, sub + "." + kid);
        if (!sk.ok()) return sk.status();
        ident.signing_keys.push_back(std::move(sk).value());
        return Status::Ok();
      });
    }
    if (k == "operators") {
      auto raw = ScalarOrList(v, sub, "a list of operator ids");
      if (!raw.ok()) return raw.status();
      return AddOperators(*raw, sub, &ident);
    }
    unknown.push_back(sub);
    return Status::Ok();
  });
  VV_RETURN_IF_ERROR(s);
  if (!unknown.empty()) {
    std::string list;
    for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + u;
    return Invalid("unknown key(s) in " + std::string(kSection) + ": " + list);
  }
  return ident;
}

// One service identity from the env JSON: a pin string or the same object form as YAML.
Result<ServiceIdentity> ParseJsonIdentity(const std::string& id, const json::Value& v,
                                          const std::string& var) {
  ServiceIdentity ident;
  ident.id = Trim(id);
  if (ident.id.empty()) return Invalid(var + ": service identity id must not be empty");
  if (v.is_string()) {
    auto pin = NormalizeCertPin(v.as_string(), var);
    if (!pin.ok()) return pin.status();
    ident.cert_sha256_pins.push_back(std::move(pin).value());
    return ident;
  }
  if (!v.is_object())
    return Invalid(var + ": identity '" + ident.id + "' must map to a fingerprint string");
  for (const auto& [k, mv] : v.as_object()) {
    if (k == "cert_sha256") {
      std::vector<const json::Value*> raw;
      if (mv.is_string())
        raw.push_back(&mv);
      else if (mv.is_array())
        for (const auto& e : mv.as_array()) raw.push_back(&e);
      for (const auto* r : raw) {
        if (!r->is_string()) return Invalid(var + ": cert_sha256 entries must be strings");
        auto pin = NormalizeCertPin(r->as_string(), var);
        if (!pin.ok()) return pin.status();
        ident.cert_sha256_pins.push_back(std::move(pin).value());
      }
    } else if (k == "signing_keys") {
      if (!mv.is_object()) return Invalid(var + ": signing_keys must be an object");
      for (const auto& [kid, kv] : mv.as_object()) {
        if (!kv.is_string()) return Invalid(var + ": signing key '" + kid + "' must be a string");
        auto sk = ParseSigningKey(kid, kv.as_string(), var);
        if (!sk.ok()) return sk.status();
        ident.signing_keys.push_back(std::move(sk).value());
      }
    } else if (k == "operators") {
      if (!mv.is_array()) return Invalid(var + ": operators of '" + ident.id + "' must be an array");
      std::vector<std::string> raw;
      for (const auto& e : mv.as_array()) {
        if (!e.is_string())
          return Invalid(var + ": operators of '" + ident.id + "' must be strings");
        raw.push_back(e.as_string());
      }
      VV_RETURN_IF_ERROR(AddOperators(raw, var + ": identity '" + ident.id + "' operators", &ident));
    } else {
      return Invalid(var + ": unknown key '" + k + "' for identity '" + ident.id + "'");
    }
  }
  return ident;
}

// ---- YAML section -----------------------------------------------------------------------------

Status ApplyLimits(const YAML::Node& n, GatewayConfig* cfg, std::vector<std::string>* unknown) {
  auto set_size = [](const YAML::Node& v, const std::string& key, size_t* out) -> Status {
    auto i = YamlInt(v, key);
    if (!i.ok()) return i.status();
    if (*i < 1) return Invalid(key + " must be >= 1");
    *out = static_cast<size_t>(*i);
    return Status::Ok();
  };
  auto set_int = [](const YAML::Node& v, const std::string& key, int* out) -> Status {
    auto i = YamlInt(v, key);
    if (!i.ok()) return i.status();
    if (*i < 1 || *i > 86400) return Invalid(key + " must be between 1 and 86400");
    *out = static_cast<int>(*i);
    return Status::Ok();
  };
  return ForEachMember(n, "limits", [&](const std::string& k, const YAML::Node& v) -> Status {
    const std::string key = "limits." + k;
    if (k == "max_body_bytes") return set_size(v, key, &cfg->max_body_bytes);
    if (k == "batch_max_events") return set_size(v, key, &cfg->batch_max_events);
    if (k == "max_header_bytes") return set_size(v, key, &cfg->max_header_bytes);
    if (k == "max_header_count") return set_size(v, key, &cfg->max_header_count);
    if (k == "max_connections") return set_size(v, key, &cfg->max_connections);
    if (k == "max_pending_handshakes") return set_size(v, key, &cfg->max_pending_handshakes);
    if (k == "max_pending_handshakes_per_source")
      return set_size(v, key, &cfg->max_pending_handshakes_per_source);
    if (k == "handshake_timeout_seconds") return set_int(v, key, &cfg->handshake_timeout_seconds);
    if (k == "header_timeout_seconds") return set_int(v, key, &cfg->header_timeout_seconds);
    if (k == "idle_timeout_seconds") return set_int(v, key, &cfg->idle_timeout_seconds);
    if (k == "body_timeout_seconds") return set_int(v, key, &cfg->body_timeout_seconds);
    unknown->push_back(key);
    return Status::Ok();
  });
}

Status ApplyTls(const YAML::Node& n, const std::string& base_dir, GatewayConfig* cfg,
                std::vector<std::string>* unknown) {
  return ForEachMember(n, "tls", [&](const std::string& k, const YAML::Node& v) -> Status {
    const std::string key = "tls." + k;
    std::string* target = nullptr;
    if (k == "cert_path")
      target = &cfg->tls.cert_path;
    else if (k == "key_path")
      target = &cfg->tls.key_path;
    else if (k == "ca_path")
      target = &cfg->tls.ca_path;
    else if (k == "crl_path")
      target = &cfg->tls.crl_path;
    if (target == nullptr) {
      unknown->push_back(key);
      return Status::Ok();
    }
    auto s = YamlString(v, key);
    if (!s.ok()) return s.status();
    *target = ResolveConfigPath(Trim(*s), base_dir);
    return Status::Ok();
  });
}

Result<FsyncPolicy> ParseFsync(std::string_view text, const std::string& name) {
  std::string v = ToLowerAscii(StripAsciiWhitespace(text));
  if (v == "none") return FsyncPolicy::kNone;
  if (v == "batch") return FsyncPolicy::kBatch;
  if (v == "always") return FsyncPolicy::kAlways;
  return Invalid(name + " must be one of none, batch, always (got '" + std::string(text) + "')");
}

Status ParseListen(std::string_view text, const std::string& name, GatewayConfig* cfg) {
  std::string s = Trim(text);
  std::string host, port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return Invalid(name + " must be host:port (got '" + s + "')");
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string::npos) return Invalid(name + " must be host:port (got '" + s + "')");
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string::npos)
      return Invalid(name + ": IPv6 hosts must be bracketed, e.g. [::1]:8443 (got '" + s + "')");
  }
  if (host.empty()) return Invalid(name + " must be host:port with a non-empty host");
  int p = -1;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p < 0 || p > 65535)
    return Invalid(name + " must be host:port with a port in 0..65535 (got '" + s + "')");
  cfg->listen_host = host;
  cfg->listen_port = static_cast<uint16_t>(p);
  return Status::Ok();
}

std::string NormalizeBackend(std::string_view v) { return ToLowerAscii(StripAsciiWhitespace(v)); }

Status ApplySection(const YAML::Node& sec, const std::string& base_dir, GatewayConfig* cfg) {
  std::vector<std::string> unknown;
  Status s = ForEachMember(sec, kSection, [&](const std::string& k, const YAML::Node& v) -> Status {
    auto str = [&](std::string* out) -> Status {
      auto r = YamlString(v, k);
      if (!r.ok()) return r.status();
      *out = Trim(*r);
      return Status::Ok();
    };
    auto path = [&](std::string* out) -> Status {
      VV_RETURN_IF_ERROR(str(out));
      *out = ResolveConfigPath(*out, base_dir);
      return Status::Ok();
    };
    auto boolean = [&](bool* out) -> Status {
      auto r = YamlBool(v, k);
      if (!r.ok()) return r.status();
      *out = *r;
      return Status::Ok();
    };
    auto integer = [&](int64_t* out) -> Status {
      auto r = YamlInt(v, k);
      if (!r.ok()) return r.status();
      *out = *r;
      return Status::Ok();
    };
    auto backend = [&](std::string* out) -> Status {
      VV_RETURN_IF_ERROR(str(out));
      *out = NormalizeBackend(*out);
      return Status::Ok();
    };
    if (k == "require_mtls") return boolean(&cfg->require_mtls);
    if (k == "require_payload_signature") return boolean(&cfg->require_payload_signature);
    if (k == "insecure_dev_mode") return boolean(&cfg->insecure_dev_mode);
    if (k == "enforce_schema_version") return boolean(&cfg->enforce_schema_version);
    if (k == "allowed_clock_skew_seconds") return integer(&cfg->allowed_clock_skew_seconds);
    if (k == "nonce_ttl_seconds") return integer(&cfg->nonce_ttl_seconds);
    if (k == "rate_limit_per_minute") return integer(&cfg->rate_limit_per_minute);
    if (k == "rejection_budget_per_minute") return integer(&cfg->rejection_budget_per_minute);
    if (k == "audit_seal_every") return integer(&cfg->audit_seal_every);
    if (k == "nonce_backend") return backend(&cfg->nonce_backend);
    if (k == "rate_limit_backend") return backend(&cfg->rate_limit_backend);
    if (k == "queue_backend") {
      VV_RETURN_IF_ERROR(backend(&cfg->queue_backend));
      if (cfg->queue_backend == "memory") cfg->queue_backend = "embedded";
      return Status::Ok();
    }
    if (k == "log_level") return str(&cfg->log_level);
    if (k == "log_format") return str(&cfg->log_format);
    if (k == "redis_url") return str(&cfg->redis_url);
    if (k == "nats_url") return str(&cfg->nats_url);
    if (k == "queue_subject") return str(&cfg->queue_subject);
    if (k == "dlq_subject") return str(&cfg->dlq_subject);
    if (k == "nats_stream") return str(&cfg->nats_stream);
    if (k == "nats_dlq_stream") return str(&cfg->nats_dlq_stream);
    if (k == "nats_replicas") return integer(&cfg->nats_replicas);
    if (k == "nats_duplicate_window_seconds") return integer(&cfg->nats_duplicate_window_seconds);
    if (k == "redis_tls_ca_path") return path(&cfg->redis_tls_ca_path);
    if (k == "nats_creds_file") return path(&cfg->nats_creds_file);
    if (k == "nats_tls_ca_path") return path(&cfg->nats_tls_ca_path);
    if (k == "audit_anchor") {
      VV_RETURN_IF_ERROR(str(&cfg->audit_anchor));
      cfg->audit_anchor = ToLowerAscii(cfg->audit_anchor);
      return Status::Ok();
    }
    if (k == "audit_anchor_nats_url") return str(&cfg->audit_anchor_nats_url);
    if (k == "profile") {
      VV_RETURN_IF_ERROR(str(&cfg->profile));
      cfg->profile = ToLowerAscii(cfg->profile);
      return Status::Ok();
    }
    if (k == "queue_path") return path(&cfg->queue_path);
    if (k == "audit_log_path") return path(&cfg->audit_log_path);
    if (k == "audit_signing_key_path" || k == "audit_seal_key_path") {
      const std::string before = cfg->audit_signing_key_path;
      VV_RETURN_IF_ERROR(path(&cfg->audit_signing_key_path));
      if (!before.empty() && before != cfg->audit_signing_key_path)
        return Invalid("audit_seal_key_path and audit_signing_key_path name different files");
      return Status::Ok();
    }
    if (k == "audit_seal_interval_seconds") return integer(&cfg->audit_seal_interval_seconds);
    if (IsAuditSealPkcs11Key(k)) {
      std::string raw;
      VV_RETURN_IF_ERROR(str(&raw));
      return ApplyAuditSealPkcs11Key(k, raw, base_dir, &cfg->audit_seal_pkcs11);
    }
    if (k == "mitre_catalog_dir") return path(&cfg->mitre_catalog_dir);
    if (k == "feedback_active_kid") return str(&cfg->feedback_active_kid);
    if (k == "audit_fsync") {
      auto r = YamlString(v, k);
      if (!r.ok()) return r.status();
      auto f = ParseFsync(*r, k);
      if (!f.ok()) return f.status();
      cfg->audit_fsync = *f;
      return Status::Ok();
    }
    if (k == "listen") {
      auto r = YamlString(v, k);
      if (!r.ok()) return r.status();
      return ParseListen(*r, k, cfg);
    }
    if (k == "worker_threads") {
      int64_t n = 0;
      VV_RETURN_IF_ERROR(integer(&n));
      if (n < 0 || n > 1024) return Invalid("worker_threads must be between 0 and 1024");
      cfg->worker_threads = static_cast<int>(n);
      return Status::Ok();
    }
    if (k == "spectrastrike_ed25519_public_key_b64" || k == "federation_ed25519_public_key_b64") {
      std::string b64;
      VV_RETURN_IF_ERROR(str(&b64));
      auto& target = k == "spectrastrike_ed25519_public_key_b64" ? cfg->default_signing_keys
                                                                 : cfg->federation_signing_keys;
      target.clear();
      if (b64.empty()) return Status::Ok();
      auto sk = ParseSigningKey(kDefaultKid, b64, k);
      if (!sk.ok()) return sk.status();
      target.push_back(std::move(sk).value());
      return Status::Ok();
    }
    if (k == "admin_listen") return str(&cfg->admin_listen);
    if (k == "admin_token_file") return path(&cfg->admin_token_file);
    if (k == "queue_signing_key_path") return path(&cfg->queue_signing_key_path);
    if (k == "queue_signing_kid") return str(&cfg->queue_signing_kid);
    if (k == "kill_switch_file") return path(&cfg->kill_switch_file);
    if (k == "kill_switch_redis_key") return str(&cfg->kill_switch_redis_key);
    if (k == "kill_switch_approvers") {
      cfg->kill_switch_approvers.clear();
      return ForEachMember(v, k, [&](const std::string& name, const YAML::Node& kv) -> Status {
        auto b64 = YamlString(kv, k + "." + name);
        if (!b64.ok()) return b64.status();
        auto sk = ParseSigningKey(Trim(name), Trim(*b64), k + "." + name);
        if (!sk.ok()) return sk.status();
        cfg->kill_switch_approvers.push_back(std::move(sk).value());
        return Status::Ok();
      });
    }
    if (k == "allowed_service_identities") {
      cfg->identities.clear();
      return ForEachMember(v, k, [&](const std::string& id, const YAML::Node& iv) -> Status {
        auto ident = ParseYamlIdentity(id, iv, k + "." + id);
        if (!ident.ok()) return ident.status();
        cfg->identities.push_back(std::move(ident).value());
        return Status::Ok();
      });
    }
    if (k == "operator_tenant_map") {
      cfg->operator_tenant_map.clear();
      return ForEachMember(v, k, [&](const std::string& op, const YAML::Node& tv) -> Status {
        auto t = YamlString(tv, k + "." + op);
        if (!t.ok()) return t.status();
        cfg->operator_tenant_map[Trim(op)] = CanonicalTenantId(Trim(*t));
        return Status::Ok();
      });
    }
    if (k == "feedback_ed25519_keys" || k == "feedback_signing_keys") {
      cfg->feedback_key_paths.clear();
      return ForEachMember(v, k, [&](const std::string& kid, const YAML::Node& pv) -> Status {
        auto p = YamlString(pv, k + "." + kid);
        if (!p.ok()) return p.status();
        cfg->feedback_key_paths[Trim(kid)] = ResolveConfigPath(Trim(*p), base_dir);
        return Status::Ok();
      });
    }
    if (k == "allowed_schema_versions") {
      std::vector<std::string> versions;
      if (v.IsScalar()) {
        versions.push_back(Trim(v.Scalar()));
      } else if (v.IsSequence()) {
        for (const auto& e : v) {
          if (!e.IsScalar()) return Invalid("allowed_schema_versions entries must be strings");
          versions.push_back(Trim(e.Scalar()));
        }
      } else {
        return Invalid("allowed_schema_versions must be a list of strings");
      }
      cfg->allowed_schema_versions = *DedupStrings(std::move(versions));
      return Status::Ok();
    }
    if (k == "tls") return ApplyTls(v, base_dir, cfg, &unknown);
    if (k == "limits") return ApplyLimits(v, cfg, &unknown);
    unknown.push_back(k);
    return Status::Ok();
  });
  VV_RETURN_IF_ERROR(s);
  if (!unknown.empty()) {
    std::string list;
    for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + u;
    return Invalid("unknown key(s) in " + std::string(kSection) + ": " + list +
                   " (a misspelt key must not silently disable a control)");
  }
  return Status::Ok();
}

// ---- Environment overrides ------------------------------------------------------------------

Result<json::Value> ParseJsonObjectEnv(const std::string& var, const std::string& text) {
  auto v = json::Parse(text);
  if (!v.ok()) return Invalid(var + " is not valid JSON: " + v.status().message());
  if (!v->is_object()) return Invalid(var + " must be a JSON object");
  return std::move(v).value();
}

Status ApplyEnv(const EnvLookup& env, GatewayConfig* cfg) {
  auto get = [&](const char* name) -> std::optional<std::string> {
    if (!env) return std::nullopt;
    return env(name);
  };
  auto boolean = [&](const char* name, bool* out) -> Status {
    if (auto v = get(name)) {
      auto b = ParseBoolSetting(*v, name);
      if (!b.ok()) return b.status();
      *out = *b;
    }
    return Status::Ok();
  };
  auto integer = [&](const char* name, int64_t* out) -> Status {
    if (auto v = get(name)) {
      auto i = ParseIntSetting(*v, name);
      if (!i.ok()) return i.status();
      *out = *i;
    }
    return Status::Ok();
  };
  auto str = [&](const char* name, std::string* out) {
    if (auto v = get(name)) *out = Trim(*v);
  };
  auto backend = [&](const char* name, std::string* out) {
    if (auto v = get(name)) *out = NormalizeBackend(*v);
  };

  VV_RETURN_IF_ERROR(boolean("VV_TG_REQUIRE_MTLS", &cfg->require_mtls));
  VV_RETURN_IF_ERROR(boolean("VV_TG_REQUIRE_PAYLOAD_SIGNATURE", &cfg->require_payload_signature));
  VV_RETURN_IF_ERROR(boolean("VV_TG_ENFORCE_SCHEMA_VERSION", &cfg->enforce_schema_version));
  VV_RETURN_IF_ERROR(integer("VV_TG_ALLOWED_CLOCK_SKEW_SECONDS", &cfg->allowed_clock_skew_seconds));
  VV_RETURN_IF_ERROR(integer("VV_TG_NONCE_TTL_SECONDS", &cfg->nonce_ttl_seconds));
  VV_RETURN_IF_ERROR(integer("VV_TG_RATE_LIMIT_PER_MINUTE", &cfg->rate_limit_per_minute));
  VV_RETURN_IF_ERROR(
      integer("VV_TG_REJECTION_BUDGET_PER_MINUTE", &cfg->rejection_budget_per_minute));
  VV_RETURN_IF_ERROR(integer("VV_TAMPER_LOG_SEAL_EVERY", &cfg->audit_seal_every));
  {
    // Listener limits of issue 12 item 4 (validated with the YAML values below).
    int64_t v = 0;
    auto limit = [&](const char* name, auto* out) -> Status {
      if (!get(name)) return Status::Ok();
      VV_RETURN_IF_ERROR(integer(name, &v));
      if (v < 1) return Invalid(std::string(name) + " must be >= 1");
      if (v > 1000000) return Invalid(std::string(name) + " must be <= 1000000");
      *out = static_cast<std::remove_pointer_t<decltype(out)>>(v);
      return Status::Ok();
    };
    VV_RETURN_IF_ERROR(limit("VV_TG_HANDSHAKE_TIMEOUT_SECONDS", &cfg->handshake_timeout_seconds));
    VV_RETURN_IF_ERROR(limit("VV_TG_MAX_PENDING_HANDSHAKES", &cfg->max_pending_handshakes));
    VV_RETURN_IF_ERROR(limit("VV_TG_MAX_PENDING_HANDSHAKES_PER_SOURCE",
                             &cfg->max_pending_handshakes_per_source));
  }
  VV_RETURN_IF_ERROR(
      integer("VV_TAMPER_LOG_SEAL_INTERVAL_SECONDS", &cfg->audit_seal_interval_seconds));
  backend("VV_TG_NONCE_BACKEND", &cfg->nonce_backend);
  backend("VV_TG_RATE_LIMIT_BACKEND", &cfg->rate_limit_backend);
  backend("VV_TG_QUEUE_BACKEND", &cfg->queue_backend);
  if (cfg->queue_backend == "memory") cfg->queue_backend = "embedded";
  str("VV_TG_LOG_LEVEL", &cfg->log_level);
  str("VV_TG_LOG_FORMAT", &cfg->log_format);
  str("VV_TG_REDIS_URL", &cfg->redis_url);
  str("VV_TG_REDIS_TLS_CA_PATH", &cfg->redis_tls_ca_path);
  str("VV_TG_NATS_URL", &cfg->nats_url);
  str("VV_TG_QUEUE_SUBJECT", &cfg->queue_subject);
  str("VV_TG_DLQ_SUBJECT", &cfg->dlq_subject);
  str("VV_SERVICE_IDENTITY_CERT_PATH", &cfg->tls.cert_path);
  str("VV_SERVICE_IDENTITY_KEY_PATH", &cfg->tls.key_path);
  str("VV_SERVICE_IDENTITY_CA_PATH", &cfg->tls.ca_path);
  str("VV_TAMPER_LOG_PATH", &cfg->audit_log_path);
  str("VV_TAMPER_LOG_SEAL_KEY_PATH", &cfg->audit_signing_key_path);
  str("VV_TG_FEEDBACK_ACTIVE_KID", &cfg->feedback_active_kid);
  str("VV_TG_ADMIN_TOKEN_FILE", &cfg->admin_token_file);
  str("VV_TG_ADMIN_TOKEN", &cfg->admin_token);
  str("VV_TG_QUEUE_SIGNING_KEY_PATH", &cfg->queue_signing_key_path);
  str("VV_TG_QUEUE_SIGNING_KID", &cfg->queue_signing_kid);

  if (auto v = get("VV_TG_SPECTRASTRIKE_ED25519_PUBKEY")) {
    cfg->default_signing_keys.clear();
    if (!Trim(*v).empty()) {
      auto sk = ParseSigningKey(kDefaultKid, *v, "VV_TG_SPECTRASTRIKE_ED25519_PUBKEY");
      if (!sk.ok()) return sk.status();
      cfg->default_signing_keys.push_back(std::move(sk).value());
    }
  }
  if (auto v = get("VV_FEDERATION_SPECTRASTRIKE_ED25519_PUBKEY")) {
    cfg->federation_signing_keys.clear();
    if (!Trim(*v).empty()) {
      auto sk = ParseSigningKey(kDefaultKid, *v, "VV_FEDERATION_SPECTRASTRIKE_ED25519_PUBKEY");
      if (!sk.ok()) return sk.status();
      cfg->federation_signing_keys.push_back(std::move(sk).value());
    }
  }

  if (auto v = get("VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON")) {
    const std::string var = "VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON";
    auto obj = ParseJsonObjectEnv(var, *v);
    if (!obj.ok())
      return Invalid(var + " must be a non-empty JSON object (" + obj.status().message() + ")");
    if (obj->as_object().empty()) return Invalid(var + " must be a non-empty JSON object");
    cfg->identities.clear();
    for (const auto& [id, pv] : obj->as_object()) {
      auto ident = ParseJsonIdentity(id, pv, var);
      if (!ident.ok()) return ident.status();
      cfg->identities.push_back(std::move(ident).value());
    }
  }

  if (auto v = get("VV_TG_OPERATOR_TENANT_MAP")) {
    const std::string var = "VV_TG_OPERATOR_TENANT_MAP";
    auto obj = ParseJsonObjectEnv(var, *v);
    if (!obj.ok()) return obj.status();
    cfg->operator_tenant_map.clear();
    for (const auto& [op, tv] : obj->as_object()) {
      if (!tv.is_string()) return Invalid(var + " values must be UUID strings");
      cfg->operator_tenant_map[Trim(op)] = CanonicalTenantId(Trim(tv.as_string()));
    }
  }

  if (auto v = get("VV_TG_FEEDBACK_ED25519_KEYS_JSON")) {
    const std::string var = "VV_TG_FEEDBACK_ED25519_KEYS_JSON";
    auto obj = ParseJsonObjectEnv(var, *v);
    if (!obj.ok()) return obj.status();
    cfg->feedback_key_paths.clear();
    for (const auto& [kid, pv] : obj->as_object()) {
      if (!pv.is_string()) return Invalid(var + " values must be key file paths");
      cfg->feedback_key_paths[Trim(kid)] = Trim(pv.as_string());
    }
  }

  // Schema versions: the list variable takes precedence over the single one.
  std::optional<std::vector<std::string>> versions;
  if (auto v = get("VV_TG_ALLOWED_SCHEMA_VERSIONS"); v && !Trim(*v).empty()) {
    const std::string var = "VV_TG_ALLOWED_SCHEMA_VERSIONS";
    std::vector<std::string> list;
    std::string t = Trim(*v);
    if (t.front() == '[') {
      auto arr = json::Parse(t);
      if (!arr.ok() || !arr->is_array())
        return Invalid(var + " must be a CSV list or a JSON array of strings");
      for (const auto& e : arr->as_array()) {
        if (!e.is_string()) return Invalid(var + " JSON array entries must be strings");
        std::string s = Trim(e.as_string());
        if (!s.empty()) list.push_back(s);
      }
    } else {
      std::stringstream ss(t);
      std::string item;
      while (std::getline(ss, item, ',')) {
        std::string s = Trim(item);
        if (!s.empty()) list.push_back(s);
      }
    }
    if (!list.empty()) versions = *DedupStrings(std::move(list));
  }
  if (!versions) {
    if (auto v = get("VV_TG_ALLOWED_SCHEMA_VERSION"); v && !Trim(*v).empty())
      versions = std::vector<std::string>{Trim(*v)};
  }
  if (versions) cfg->allowed_schema_versions = std::move(*versions);
  return Status::Ok();
}

// ---- Validation helpers ---------------------------------------------------------------------

Status CheckReadableFile(const std::string& path, const std::string& key) {
  if (path.empty()) return Invalid(key + " must be set");
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) return Status::NotFound(key + ": file missing: " + path);
  if (!std::filesystem::is_regular_file(st)) return Invalid(key + ": not a regular file: " + path);
  if (access(path.c_str(), R_OK) != 0)
    return Status::PermissionDenied(key + ": file not readable: " + path);
  return Status::Ok();
}

Status CheckPrivateKeyFile(const std::string& path, const std::string& key) {
  VV_RETURN_IF_ERROR(CheckReadableFile(path, key));
  Status s = crypto::CheckSecretFilePermissions(path);
  if (!s.ok()) return Status(s.code(), key + ": " + s.message());
  return Status::Ok();
}

bool IsKnown(const std::string& v, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (v == n) return true;
  return false;
}

}  // namespace

// ---- Public helpers -------------------------------------------------------------------------

std::string ResolveConfigPath(const std::string& p, const std::string& base_dir) {
  if (p.empty() || base_dir.empty()) return p;
  std::filesystem::path path(p);
  if (path.is_absolute()) return p;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

Result<bool> ParseBoolSetting(std::string_view text, const std::string& name) {
  std::string v = ToLowerAscii(StripAsciiWhitespace(text));
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  return Invalid(name + " must be a boolean (1/true/yes/on or 0/false/no/off), got '" +
                 std::string(text) + "'");
}

Result<int64_t> ParseIntSetting(std::string_view text, const std::string& name) {
  std::string_view t = StripAsciiWhitespace(text);
  std::string_view digits = t;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() ||
      (!digits.empty() && digits.front() == '-' && t.front() == '+'))
    return Invalid(name + " must be an integer, got '" + std::string(text) + "'");
  return v;
}

Result<std::string> NormalizeCertPin(std::string_view pin, const std::string& name) {
  std::string out;
  for (char c : StripAsciiWhitespace(pin))
    if (c != ':') out += c;
  out = ToLowerAscii(out);
  if (!IsHex(out, 64))
    return Invalid(name + ": service identity fingerprint must be 64-char sha256 hex");
  return out;
}

bool IsCanonicalUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash) {
      if (s[i] != '-') return false;
    } else if (!IsHex(s.substr(i, 1), 1)) {
      return false;
    }
  }
  return true;
}

std::string CanonicalTenantId(std::string_view uuid) { return ToLowerAscii(uuid); }

bool ServiceIdentity::MayActFor(std::string_view operator_id) const {
  if (Unbound()) return true;
  return std::find(operators.begin(), operators.end(), operator_id) != operators.end();
}

std::vector<std::string> GatewayConfigWarnings(const GatewayConfig& cfg) {
  std::vector<std::string> out;
  for (const auto& ident : cfg.identities)
    if (ident.Unbound())
      out.push_back("allowed_service_identities." + ident.id +
                    ": no `operators` list, so this identity may act for ANY operator and "
                    "tenant (development profile only; production refuses it)");
  return out;
}

bool GatewayConfig::PinnedByAnyIdentity(std::string_view cert_sha256_hex) const {
  if (cert_sha256_hex.empty()) return false;
  bool pinned = false;
  for (const auto& ident : identities)
    for (const std::string& pin : ident.cert_sha256_pins)
      pinned |= ConstantTimeEquals(pin, cert_sha256_hex);
  return pinned;
}

const ServiceIdentity* GatewayConfig::FindIdentity(std::string_view id) const {
  for (const auto& i : identities)
    if (i.id == id) return &i;
  return nullptr;
}

Result<GatewayConfig> ParseGatewayConfig(const std::string& yaml_text, const EnvLookup& env,
                                         const std::string& base_dir) {
  GatewayConfig cfg;
  try {
    YAML::Node root = YAML::Load(yaml_text);
    const YAML::Node croot = root;
    if (!croot.IsMap())
      return Invalid("config: the top level must be a mapping containing " + std::string(kSection));
    const YAML::Node vv = croot["vectorvue"];
    if (!vv || !vv.IsMap())
      return Invalid("config: missing mapping 'vectorvue' (expected " + std::string(kSection) +
                     ")");
    const YAML::Node sec = vv["telemetry_gateway"];
    if (!sec || !sec.IsMap()) return Invalid("config: missing mapping " + std::string(kSection));
    VV_RETURN_IF_ERROR(ApplySection(sec, base_dir, &cfg));
  } catch (const YAML::Exception& e) {
    return Invalid(std::string("config: invalid YAML: ") + e.what());
  } catch (const std::exception& e) {
    return Invalid(std::string("config: ") + e.what());
  }
  VV_RETURN_IF_ERROR(ApplyEnv(env, &cfg));
  VV_RETURN_IF_ERROR(ValidateGatewayConfig(cfg));
  // Explicit move into the Result: GCC 12 at -O3 miscompiles the implicit move of this local
  // on `return cfg;` here (the moved-from object is destroyed with uninitialised members;
  // reproduced with valgrind on a clean -O3 build).
  return Result<GatewayConfig>(std::move(cfg));
}

Result<GatewayConfig> LoadGatewayConfig(const std::string& path, const EnvLookup& env) {
  auto text = crypto::ReadFileBytes(path);
  if (!text.ok()) return Status(text.status().code(), "config file: " + text.status().message());
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  std::string base_dir = ec ? std::string() : abs.parent_path().string();
  auto cfg = ParseGatewayConfig(*text, env, base_dir);
  if (cfg.ok()) cfg->source_path = ec ? path : abs.string();
  if (cfg.ok() && cfg->kill_switch_file.empty() && !ec)
    cfg->kill_switch_file = (abs.parent_path() / "kill-switch.json").string();
  return cfg;
}

Status ValidateGatewayConfig(const GatewayConfig& cfg) {
  // Logging: an unknown level used to turn logging off silently.
  if (auto l = logging::ParseLevel(cfg.log_level); !l.ok())
    return Invalid("log_level (VV_TG_LOG_LEVEL): " + l.status().message());
  if (auto f = logging::ParseFormat(cfg.log_format); !f.ok())
    return Invalid("log_format (VV_TG_LOG_FORMAT): " + f.status().message());
  // Security policy.
  if (cfg.profile != "development" && cfg.profile != "production")
    return Invalid("profile must be 'development' or 'production' (got '" + cfg.profile + "')");
  if (!cfg.require_mtls && !cfg.insecure_dev_mode)
    return Invalid(
        "require_mtls (VV_TG_REQUIRE_MTLS) may only be false with insecure_dev_mode: true");
  if (!cfg.require_payload_signature && !cfg.insecure_dev_mode)
    return Invalid(
        "require_payload_signature (VV_TG_REQUIRE_PAYLOAD_SIGNATURE) may only be false "
        "with insecure_dev_mode: true");
  if (cfg.profile == "production" && cfg.insecure_dev_mode)
    return Invalid("profile: production forbids insecure_dev_mode");

  // Replay window and rate limit.
  if (cfg.allowed_clock_skew_seconds < 1) return Invalid("allowed_clock_skew_seconds must be >= 1");
  if (cfg.allowed_clock_skew_seconds > 86400)
    return Invalid("allowed_clock_skew_seconds must be <= 86400");
  if (cfg.nonce_ttl_seconds < 30) return Invalid("nonce_ttl_seconds must be >= 30");
  if (cfg.nonce_ttl_seconds < 2 * cfg.allowed_clock_skew_seconds)
    return Invalid("nonce_ttl_seconds (" + std::to_string(cfg.nonce_ttl_seconds) +
                   ") must be at least 2 x allowed_clock_skew_seconds (" +
                   std::to_string(cfg.allowed_clock_skew_seconds) +
                   ") or a replay could slip through after the nonce expired");
  if (cfg.rate_limit_per_minute < 1) return Invalid("rate_limit_per_minute must be >= 1");
  if (cfg.rejection_budget_per_minute < 0)
    return Invalid("rejection_budget_per_minute must be >= 0 (0 = no budget)");
  if (cfg.audit_seal_every < 1)
    return Invalid("audit_seal_every (VV_TAMPER_LOG_SEAL_EVERY) must be >= 1");
  if (cfg.audit_seal_interval_seconds < 0 || cfg.audit_seal_interval_seconds > 86400)
    return Invalid(
        "audit_seal_interval_seconds (VV_TAMPER_LOG_SEAL_INTERVAL_SECONDS) must be between 0 "
        "and 86400");

  // Backends.
  if (!IsKnown(cfg.nonce_backend, {"memory", "redis"}))
    return Invalid("nonce_backend must be 'memory' or 'redis' (got '" + cfg.nonce_backend + "')");
  if (!IsKnown(cfg.rate_limit_backend, {"memory", "redis"}))
    return Invalid("rate_limit_backend must be 'memory' or 'redis' (got '" +
                   cfg.rate_limit_backend + "')");
  if (!IsKnown(cfg.queue_backend, {"embedded", "nats"}))
    return Invalid("queue_backend must be 'embedded' (or 'memory') or 'nats' (got '" +
                   cfg.queue_backend + "')");
  auto has_scheme = [](const std::string& url, std::initializer_list<const char*> schemes) {
    for (const char* s : schemes)
      if (url.rfind(s, 0) == 0 && url.size() > std::string_view(s).size()) return true;
    return false;
  };
  if (cfg.nonce_backend == "redis" && cfg.redis_url.empty())
    return Invalid("nonce_backend: redis requires redis_url (VV_TG_REDIS_URL)");
  if (cfg.rate_limit_backend == "redis" && cfg.redis_url.empty())
    return Invalid("rate_limit_backend: redis requires redis_url (VV_TG_REDIS_URL)");
  if (!cfg.redis_url.empty() && !has_scheme(cfg.redis_url, {"redis://", "rediss://", "unix://"}))
    return Invalid("redis_url must start with redis://, rediss:// or unix://");
  if (cfg.queue_backend == "nats" && cfg.nats_url.empty())
    return Invalid("queue_backend: nats requires nats_url (VV_TG_NATS_URL)");
  if (!cfg.nats_url.empty() && !has_scheme(cfg.nats_url, {"nats://", "tls://"}))
    return Invalid("nats_url must start with nats:// or tls://");
  if (cfg.audit_anchor != "file" && cfg.audit_anchor != "jetstream")
    return Invalid("audit_anchor must be 'file' or 'jetstream' (got '" + cfg.audit_anchor + "')");
  if (cfg.audit_anchor == "jetstream" && cfg.audit_anchor_nats_url.empty() && cfg.nats_url.empty())
    return Invalid("audit_anchor: jetstream requires audit_anchor_nats_url or nats_url");
  if (cfg.nats_replicas < 1 || cfg.nats_replicas > 5)
    return Invalid("nats_replicas must be between 1 and 5");
  if (cfg.nats_duplicate_window_seconds < 60)
    return Invalid("nats_duplicate_window_seconds must be >= 60 (it must exceed the producer's "
                   "retry horizon)");
  if (cfg.queue_backend == "nats" && (cfg.nats_stream.empty() || cfg.nats_dlq_stream.empty() ||
                                      cfg.nats_stream == cfg.nats_dlq_stream))
    return Invalid("nats_stream and nats_dlq_stream must be set and differ");
  if (cfg.queue_backend == "nats" && (cfg.queue_subject.empty() || cfg.dlq_subject.empty()))
    return Invalid("queue_subject and dlq_subject must not be empty");
  if (cfg.queue_backend == "nats" && cfg.queue_subject == cfg.dlq_subject)
    return Invalid("queue_subject and dlq_subject must differ");
  if (cfg.profile == "production") {
    if (cfg.nonce_backend != "redis")
      return Invalid("profile: production requires nonce_backend: redis");
    if (cfg.rate_limit_backend != "redis")
      return Invalid("profile: production requires rate_limit_backend: redis");
    if (cfg.queue_backend != "nats")
      return Invalid("profile: production requires queue_backend: nats");
  }
  if (cfg.queue_backend == "embedded" && cfg.queue_path.empty())
    return Invalid("queue_path must be set for queue_backend: embedded");
  if (cfg.audit_log_path.empty()) return Invalid("audit_log_path (VV_TAMPER_LOG_PATH) must be set");

  // Listener and limits.
  if (cfg.listen_host.empty()) return Invalid("listen must be host:port with a non-empty host");
  if (cfg.worker_threads < 0) return Invalid("worker_threads must be >= 0");
  if (cfg.max_body_bytes < 1) return Invalid("limits.max_body_bytes must be >= 1");
  if (cfg.batch_max_events < 1 || cfg.batch_max_events > 100000)
    return Invalid("limits.batch_max_events must be between 1 and 100000");
  if (cfg.max_header_bytes < 1) return Invalid("limits.max_header_bytes must be >= 1");
  if (cfg.max_header_count < 1) return Invalid("limits.max_header_count must be >= 1");
  if (cfg.max_connections < 1) return Invalid("limits.max_connections must be >= 1");
  if (cfg.header_timeout_seconds < 1) return Invalid("limits.header_timeout_seconds must be >= 1");
  if (cfg.idle_timeout_seconds < 1) return Invalid("limits.idle_timeout_seconds must be >= 1");
  if (cfg.body_timeout_seconds < 1) return Invalid("limits.body_timeout_seconds must be >= 1");
  if (cfg.handshake_timeout_seconds < 1 || cfg.handshake_timeout_seconds > 86400)
    return Invalid("limits.handshake_timeout_seconds must be between 1 and 86400");
  // Authenticated connections keep the slots the pending-handshake pool cannot take.
  if (cfg.max_connections > 1 && cfg.EffectiveMaxPendingHandshakes() >= cfg.max_connections)
    return Invalid("limits.max_pending_handshakes must be below limits.max_connections");
  if (cfg.EffectiveMaxPendingHandshakesPerSource() > cfg.EffectiveMaxPendingHandshakes())
    return Invalid(
        "limits.max_pending_handshakes_per_source must not exceed limits.max_pending_handshakes");

  // Schema policy.
  if (cfg.enforce_schema_version && cfg.allowed_schema_versions.empty())
    return Invalid("allowed_schema_versions must not be empty when enforce_schema_version is on");
  for (const auto& v : cfg.allowed_schema_versions)
    if (v.empty()) return Invalid("allowed_schema_versions entries must not be empty");

  // Identities and keys.
  if (cfg.identities.empty())
    return Invalid(
        "allowed_service_identities (VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON) must be a "
        "non-empty allowlist");
  for (const auto& k : cfg.default_signing_keys)
    if (k.key.raw().size() != 32)
      return Invalid("spectrastrike_ed25519_public_key_b64: Invalid Ed25519 public key length");
  std::map<std::string, std::string> pin_owner;
  std::set<std::string> ids;
  for (const auto& ident : cfg.identities) {
    const std::string key = "allowed_service_identities." + ident.id;
    if (ident.id.empty())
      return Invalid("allowed_service_identities: service identity id must not be empty");
    if (!ids.insert(ident.id).second) return Invalid(key + ": duplicate service identity");
    if (ident.cert_sha256_pins.empty()) return Invalid(key + ": no cert_sha256 pin configured");
    for (const auto& pin : ident.cert_sha256_pins) {
      if (!IsHex(pin, 64) || ToLowerAscii(pin) != pin)
        return Invalid(key + ": service identity fingerprint must be 64-char sha256 hex");
      auto [it, inserted] = pin_owner.emplace(pin, ident.id);
      if (!inserted && it->second != ident.id)
        return Invalid(key + ": certificate pin " + pin + " is also pinned by identity '" +
                       it->second + "'");
    }
    if (ident.Unbound() && cfg.profile == "production")
      return Invalid(key +
                     ".operators: production requires every identity to list the operators it "
                     "may act for");
    for (const auto& op : ident.operators)
      if (cfg.operator_tenant_map.count(op) == 0)
        return Invalid(key + ".operators: operator '" + op +
                       "' is not in operator_tenant_map (VV_TG_OPERATOR_TENANT_MAP)");
    const auto& keys = cfg.KeysFor(ident);
    if (keys.empty())
      return Invalid(key +
                     ": no signing key (set signing_keys for the identity or "
                     "spectrastrike_ed25519_public_key_b64 / VV_TG_SPECTRASTRIKE_ED25519_PUBKEY)");
    std::set<std::string> kids;
    for (const auto& k : keys) {
      if (k.kid.empty()) return Invalid(key + ": signing key id must not be empty");
      if (!kids.insert(k.kid).second) return Invalid(key + ": duplicate signing key id " + k.kid);
      if (k.key.raw().size() != 32)
        return Invalid(key + ".signing_keys." + k.kid + ": Invalid Ed25519 public key length");
    }
  }
  for (const auto& [op, tenant] : cfg.operator_tenant_map) {
    if (op.empty())
      return Invalid(
          "operator_tenant_map (VV_TG_OPERATOR_TENANT_MAP): operator ids must not be "
          "empty");
    if (!IsCanonicalUuid(tenant))
      return Invalid(
          "operator_tenant_map (VV_TG_OPERATOR_TENANT_MAP) values must be UUID strings "
          "(operator '" +
          op + "': '" + tenant + "')");
  }

  // Feedback signing keys.
  if (!cfg.feedback_key_paths.empty() || !cfg.feedback_active_kid.empty()) {
    if (cfg.feedback_active_kid.empty())
      return Invalid("feedback_active_kid (VV_TG_FEEDBACK_ACTIVE_KID) must be configured");
    if (cfg.feedback_key_paths.count(cfg.feedback_active_kid) == 0)
      return Invalid(
          "feedback_active_kid (VV_TG_FEEDBACK_ACTIVE_KID) must exist in "
          "feedback_ed25519_keys");
    for (const auto& [kid, path] : cfg.feedback_key_paths) {
      if (kid.empty()) return Invalid("feedback_ed25519_keys: key ids must not be empty");
      VV_RETURN_IF_ERROR(CheckPrivateKeyFile(path, "feedback_ed25519_keys." + kid));
    }
  }

  // Files.
  VV_RETURN_IF_ERROR(
      CheckReadableFile(cfg.tls.cert_path, "tls.cert_path (VV_SERVICE_IDENTITY_CERT_PATH)"));
  VV_RETURN_IF_ERROR(
      CheckPrivateKeyFile(cfg.tls.key_path, "tls.key_path (VV_SERVICE_IDENTITY_KEY_PATH)"));
  VV_RETURN_IF_ERROR(
      CheckReadableFile(cfg.tls.ca_path, "tls.ca_path (VV_SERVICE_IDENTITY_CA_PATH)"));
  if (!cfg.tls.crl_path.empty())
    VV_RETURN_IF_ERROR(CheckReadableFile(cfg.tls.crl_path, "tls.crl_path"));
  if (cfg.redis_url.rfind("rediss://", 0) == 0)
    VV_RETURN_IF_ERROR(CheckReadableFile(
        cfg.redis_tls_ca_path, "redis_tls_ca_path (VV_TG_REDIS_TLS_CA_PATH, needed by rediss://)"));
  if (!cfg.queue_signing_key_path.empty()) {
    if (cfg.queue_signing_kid.empty())
      return Invalid("queue_signing_kid (VV_TG_QUEUE_SIGNING_KID) must not be empty");
    VV_RETURN_IF_ERROR(CheckPrivateKeyFile(
        cfg.queue_signing_key_path, "queue_signing_key_path (VV_TG_QUEUE_SIGNING_KEY_PATH)"));
  }
  if (!cfg.admin_token_file.empty())
    VV_RETURN_IF_ERROR(CheckPrivateKeyFile(cfg.admin_token_file,
                                           "admin_token_file (VV_TG_ADMIN_TOKEN_FILE)"));
  if (!cfg.audit_signing_key_path.empty())
    VV_RETURN_IF_ERROR(CheckPrivateKeyFile(cfg.audit_signing_key_path,
                                           "audit_seal_key_path (audit_signing_key_path)"));
  VV_RETURN_IF_ERROR(
      ValidateAuditSealPkcs11(cfg.audit_seal_pkcs11, cfg.audit_signing_key_path, kSection));
  if (!cfg.mitre_catalog_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(cfg.mitre_catalog_dir, ec))
      return Status::NotFound("mitre_catalog_dir: not a directory: " + cfg.mitre_catalog_dir);
  }
  return Status::Ok();
}

}  // namespace vv::config

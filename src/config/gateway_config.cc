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
#include "common/host_port.h"
#include "common/logging.h"
#include "config/config_table.h"
#include "config/identities_file.h"
#include "config/listen_address.h"
#include "json/json.h"
#include "natsclient/server_list.h"

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

Result<std::vector<std::string>> DedupStrings(std::vector<std::string> in) {
  std::vector<std::string> out;
  for (auto& s : in) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  }
  return out;
}

// One service identity from YAML: a pin string or {cert_sha256, signing_keys, operators}.
Result<ServiceIdentity> ParseYamlIdentity(const std::string& id, const YAML::Node& n,
                                          const std::string& key) {
  ServiceIdentity ident;
  ident.id = Trim(id);
  if (ident.id.empty()) return Invalid(key + ": service identity id must not be empty");
  if (n.IsScalar()) {
    VV_ASSIGN_OR_RETURN(auto pin, NormalizeCertPin(n.Scalar(), key));
    ident.cert_sha256_pins.push_back(std::move(pin));
    return ident;
  }
  if (!n.IsMap())
    return Invalid(key + " must be a certificate fingerprint or a mapping with cert_sha256 " +
                   "and signing_keys");
  std::vector<std::string> unknown;
  Status s = ForEachMember(n, key, [&](const std::string& k, const YAML::Node& v) -> Status {
    const std::string sub = key + "." + k;
    if (k == "cert_sha256") {
      VV_ASSIGN_OR_RETURN(auto raw,
                          ScalarOrList(v, sub, "a fingerprint or a list of fingerprints"));
      for (const auto& r : raw) {
        VV_ASSIGN_OR_RETURN(auto pin, NormalizeCertPin(r, sub));
        if (std::find(ident.cert_sha256_pins.begin(), ident.cert_sha256_pins.end(), pin) ==
            ident.cert_sha256_pins.end())
          ident.cert_sha256_pins.push_back(std::move(pin));
      }
      return Status::Ok();
    }
    if (k == "signing_keys") {
      if (!v.IsMap()) return Invalid(sub + " must be a mapping of key id to base64 public key");
      return ForEachMember(v, sub, [&](const std::string& kid, const YAML::Node& kv) -> Status {
        VV_ASSIGN_OR_RETURN(auto b64, YamlString(kv, sub + "." + kid));
        VV_ASSIGN_OR_RETURN(auto sk, ParseSigningKey(kid, b64, sub + "." + kid));
        ident.signing_keys.push_back(std::move(sk));
        return Status::Ok();
      });
    }
    if (k == "operators") {
      VV_ASSIGN_OR_RETURN(auto raw, ScalarOrList(v, sub, "a list of operator ids"));
      return AddOperators(raw, sub, &ident);
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

// identities_file (after YAML and environment): the machine-owned identities file replaces an
// inline allowlist; both at once is an error (which one would win is not obvious).
void LoadIdentities(GatewayConfig* cfg, table::Violations* errors) {
  if (cfg->identities_file.empty()) return;
  if (!cfg->identities.empty()) {
    errors->Add(Invalid("identities_file (VV_TG_IDENTITIES_FILE) and allowed_service_identities "
                        "(VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON) are both set: keep one"));
    return;
  }
  auto ids = LoadIdentitiesFile(cfg->identities_file);
  if (!ids.ok()) {
    errors->Add(ids.status());
    return;
  }
  cfg->identities = std::move(ids).value();
}

}  // namespace

Result<FsyncPolicy> ParseFsyncPolicy(std::string_view text, const std::string& name) {
  std::string v = ToLowerAscii(StripAsciiWhitespace(text));
  if (v == "none") return FsyncPolicy::kNone;
  if (v == "batch") return FsyncPolicy::kBatch;
  if (v == "always") return FsyncPolicy::kAlways;
  return Invalid(name + " must be one of none, batch, always (got '" + std::string(text) + "')");
}

namespace {

// `listen` takes a host name as well as an IP literal, so only the syntax is shared with the
// other listeners (SplitHostPort); the messages are this key's own.
Status ParseListen(std::string_view text, const std::string& name, GatewayConfig* cfg) {
  const std::string s = Trim(text);
  HostPort hp;
  switch (SplitHostPort(s, &hp)) {
    case HostPortError::kNone:
      break;
    case HostPortError::kBadBrackets:
    case HostPortError::kNoPort:
      return Invalid(name + " must be host:port (got '" + s + "')");
    case HostPortError::kUnbracketedIpv6:
      return Invalid(name + ": IPv6 hosts must be bracketed, e.g. [::1]:8443 (got '" + s + "')");
    case HostPortError::kBadPort:
      return Invalid(name + " must be host:port with a port in 0..65535 (got '" + s + "')");
    case HostPortError::kNoHost:  // SplitAuthority only; an empty host is checked below
      break;
  }
  if (hp.host.empty()) return Invalid(name + " must be host:port with a non-empty host");
  cfg->listen_host = hp.host;
  cfg->listen_port = hp.port;
  return Status::Ok();
}

Result<json::Value> ParseJsonObjectEnv(const std::string& var, const std::string& text) {
  auto v = json::Parse(text);
  if (!v.ok()) return Invalid(var + " is not valid JSON: " + v.status().message());
  if (!v->is_object()) return Invalid(var + " must be a JSON object");
  return std::move(v).value();
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


// ---- The table of vectorvue.telemetry_gateway (config_table.h) ------------------------------

namespace t = table;
using G = GatewayConfig;

bool HasScheme(const std::string& url, std::initializer_list<const char*> schemes) {
  for (const char* s : schemes)
    if (url.rfind(s, 0) == 0 && url.size() > std::string_view(s).size()) return true;
  return false;
}

// One default signing key from a base64 text ("" clears the list).
Status SetDefaultKey(std::vector<SigningKey>* target, const std::string& b64,
                     const std::string& name) {
  target->clear();
  if (Trim(b64).empty()) return Status::Ok();
  VV_ASSIGN_OR_RETURN(auto sk, ParseSigningKey(kDefaultKid, b64, name));
  target->push_back(std::move(sk));
  return Status::Ok();
}

t::Key<G> DefaultKeyRow(const std::string& yaml, std::vector<SigningKey> G::*keys) {
  return t::Custom<G>(
      yaml,
      [keys](G& c, const YAML::Node& v, const std::string& k, const t::Source&) -> Status {
        VV_ASSIGN_OR_RETURN(auto b64, YamlString(v, k));
        return SetDefaultKey(&(c.*keys), Trim(b64), k);
      },
      [keys](G& c, const std::string& text, const std::string& var) {
        return SetDefaultKey(&(c.*keys), text, var);
      });
}

t::Key<G> ListenRow() {
  t::Key<G> k = t::Custom<G>(
      "listen", [](G& c, const YAML::Node& v, const std::string& key, const t::Source&) -> Status {
        VV_ASSIGN_OR_RETURN(auto r, YamlString(v, key));
        return ParseListen(r, key, &c);
      });
  return std::move(k).Print("listen", [](const G& c) {
    return c.listen_host + ":" + std::to_string(c.listen_port);
  });
}

t::Key<G> SchemaVersionsRow() {
  t::Key<G> k = t::Custom<G>(
      "allowed_schema_versions",
      [](G& c, const YAML::Node& v, const std::string&, const t::Source&) -> Status {
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
        c.allowed_schema_versions = *DedupStrings(std::move(versions));
        return Status::Ok();
      },
      // The single variable, then the list variable (which therefore takes precedence); an
      // empty value (or a list of nothing) leaves the setting as it was.
      [](G& c, const std::string& text, const std::string& var) -> Status {
        std::string t = Trim(text);
        if (t.empty()) return Status::Ok();
        if (var == "VV_TG_ALLOWED_SCHEMA_VERSION") {
          c.allowed_schema_versions = {t};
          return Status::Ok();
        }
        std::vector<std::string> list;
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
        if (!list.empty()) c.allowed_schema_versions = *DedupStrings(std::move(list));
        return Status::Ok();
      });
  return std::move(k)
      .Env({"VV_TG_ALLOWED_SCHEMA_VERSION", "VV_TG_ALLOWED_SCHEMA_VERSIONS"})
      .Check([](const G& c, t::Violations* v) {
        if (c.enforce_schema_version && c.allowed_schema_versions.empty())
          v->Add(Invalid("allowed_schema_versions must not be empty when enforce_schema_version "
                         "is on"));
        for (const auto& s : c.allowed_schema_versions)
          if (s.empty()) {
            v->Add(Invalid("allowed_schema_versions entries must not be empty"));
            break;
          }
      });
}

t::Key<G> IdentitiesRow() {
  t::Key<G> k = t::Custom<G>(
      "allowed_service_identities",
      [](G& c, const YAML::Node& v, const std::string& key, const t::Source&) -> Status {
        c.identities.clear();
        return ForEachMember(v, key, [&](const std::string& id, const YAML::Node& iv) -> Status {
          VV_ASSIGN_OR_RETURN(auto ident, ParseYamlIdentity(id, iv, key + "." + id));
          c.identities.push_back(std::move(ident));
          return Status::Ok();
        });
      },
      [](G& c, const std::string& text, const std::string& var) -> Status {
        auto obj = ParseJsonObjectEnv(var, text);
        if (!obj.ok())
          return Invalid(var + " must be a non-empty JSON object (" + obj.status().message() +
                         ")");
        if (obj->as_object().empty()) return Invalid(var + " must be a non-empty JSON object");
        c.identities.clear();
        for (const auto& [id, pv] : obj->as_object()) {
          VV_ASSIGN_OR_RETURN(auto ident, ParseJsonIdentity(id, pv, var));
          c.identities.push_back(std::move(ident));
        }
        return Status::Ok();
      });
  return std::move(k)
      .Env({"VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON"})
      .Print("identities", [](const G& c) { return std::to_string(c.identities.size()); });
}

t::Key<G> TenantMapRow() {
  t::Key<G> k = t::Custom<G>(
      "operator_tenant_map",
      [](G& c, const YAML::Node& v, const std::string& key, const t::Source&) -> Status {
        c.operator_tenant_map.clear();
        return ForEachMember(v, key, [&](const std::string& op, const YAML::Node& tv) -> Status {
          VV_ASSIGN_OR_RETURN(auto tenant, YamlString(tv, key + "." + op));
          c.operator_tenant_map[Trim(op)] = CanonicalTenantId(Trim(tenant));
          return Status::Ok();
        });
      },
      [](G& c, const std::string& text, const std::string& var) -> Status {
        VV_ASSIGN_OR_RETURN(auto obj, ParseJsonObjectEnv(var, text));
        c.operator_tenant_map.clear();
        for (const auto& [op, tv] : obj.as_object()) {
          if (!tv.is_string()) return Invalid(var + " values must be UUID strings");
          c.operator_tenant_map[Trim(op)] = CanonicalTenantId(Trim(tv.as_string()));
        }
        return Status::Ok();
      });
  return std::move(k)
      .Env({"VV_TG_OPERATOR_TENANT_MAP"})
      .Print("operator_tenants",
             [](const G& c) { return std::to_string(c.operator_tenant_map.size()); })
      .Check([](const G& c, t::Violations* v) {
        for (const auto& [op, tenant] : c.operator_tenant_map) {
          if (op.empty())
            v->Add(Invalid("operator_tenant_map (VV_TG_OPERATOR_TENANT_MAP): operator ids must "
                           "not be empty"));
          else if (!IsCanonicalUuid(tenant))
            v->Add(Invalid("operator_tenant_map (VV_TG_OPERATOR_TENANT_MAP) values must be UUID "
                           "strings (operator '" + op + "': '" + tenant + "')"));
        }
      });
}

t::Key<G> FeedbackKeysRow() {
  t::Key<G> k = t::Custom<G>(
      "feedback_ed25519_keys",
      [](G& c, const YAML::Node& v, const std::string& key, const t::Source& src) -> Status {
        c.feedback_key_paths.clear();
        return ForEachMember(v, key, [&](const std::string& kid, const YAML::Node& pv) -> Status {
          VV_ASSIGN_OR_RETURN(auto p, YamlString(pv, key + "." + kid));
          c.feedback_key_paths[Trim(kid)] = ResolveConfigPath(Trim(p), src.base_dir);
          return Status::Ok();
        });
      },
      [](G& c, const std::string& text, const std::string& var) -> Status {
        VV_ASSIGN_OR_RETURN(auto obj, ParseJsonObjectEnv(var, text));
        c.feedback_key_paths.clear();
        for (const auto& [kid, pv] : obj.as_object()) {
          if (!pv.is_string()) return Invalid(var + " values must be key file paths");
          c.feedback_key_paths[Trim(kid)] = Trim(pv.as_string());
        }
        return Status::Ok();
      });
  return std::move(k)
      .Alias("feedback_signing_keys")
      .Env({"VV_TG_FEEDBACK_ED25519_KEYS_JSON"})
      .Print("feedback_keys",
             [](const G& c) { return std::to_string(c.feedback_key_paths.size()); });
}

t::Key<G> ApproversRow() {
  return t::Custom<G>(
      "kill_switch_approvers",
      [](G& c, const YAML::Node& v, const std::string& k, const t::Source&) -> Status {
        c.kill_switch_approvers.clear();
        return ForEachMember(v, k, [&](const std::string& name, const YAML::Node& kv) -> Status {
          VV_ASSIGN_OR_RETURN(auto b64, YamlString(kv, k + "." + name));
          VV_ASSIGN_OR_RETURN(auto sk, ParseSigningKey(Trim(name), Trim(b64), k + "." + name));
          c.kill_switch_approvers.push_back(std::move(sk));
          return Status::Ok();
        });
      });
}

t::Key<G> SealKeyPathRow() {
  t::Key<G> k = t::Path<G>("audit_signing_key_path", t::F(&G::audit_signing_key_path));
  // Both spellings may be given only if they name the same file.
  k.from_yaml = [](G& c, const YAML::Node& v, const std::string& key, const t::Source& src) {
    VV_ASSIGN_OR_RETURN(auto s, YamlString(v, key));
    std::string p = ResolveConfigPath(Trim(s), src.base_dir);
    if (!c.audit_signing_key_path.empty() && c.audit_signing_key_path != p)
      return Invalid("audit_seal_key_path and audit_signing_key_path name different files");
    c.audit_signing_key_path = p;
    return Status::Ok();
  };
  return std::move(k)
      .Alias("audit_seal_key_path")
      .Env({"VV_TAMPER_LOG_SEAL_KEY_PATH"})
      .Print("audit_seal_key_path")
      .Check([](const G& c, t::Violations* v) {
        if (!c.audit_signing_key_path.empty())
          v->Add(CheckPrivateKeyFile(c.audit_signing_key_path,
                                     "audit_seal_key_path (audit_signing_key_path)"));
      });
}

t::Key<G> FsyncRow(const std::string& yaml, FsyncPolicy G::*f) {
  t::Key<G> k = t::Custom<G>(
      yaml, [f](G& c, const YAML::Node& v, const std::string& key, const t::Source&) -> Status {
        VV_ASSIGN_OR_RETURN(auto r, YamlString(v, key));
        VV_ASSIGN_OR_RETURN(auto p, ParseFsyncPolicy(r, key));
        c.*f = p;
        return Status::Ok();
      });
  return std::move(k).Print(yaml, [f](const G& c) { return std::string(FsyncPolicyName(c.*f)); });
}

// A key that must name a readable file (`label` names it in messages).
t::Key<G> FileRow(t::Key<G> k, std::function<const std::string&(const G&)> get, std::string label,
                  bool secret, bool required) {
  return std::move(k).Check([get, label, secret, required](const G& c, t::Violations* v) {
    const std::string& p = get(c);
    if (p.empty() && !required) return;
    v->Add(secret ? CheckPrivateKeyFile(p, label) : CheckReadableFile(p, label));
  });
}

t::Key<G> Min(t::Key<G> k, std::function<int64_t(const G&)> get, int64_t lo, std::string msg) {
  return std::move(k).Check([get, lo, msg](const G& c, t::Violations* v) {
    if (get(c) < lo) v->Add(Invalid(msg));
  });
}

t::Key<G> Known(t::Key<G> k, std::function<const std::string&(const G&)> get,
                std::vector<std::string> names, std::string msg) {
  return std::move(k).Check([get, names, msg](const G& c, t::Violations* v) {
    const std::string& x = get(c);
    if (std::find(names.begin(), names.end(), x) == names.end())
      v->Add(Invalid(msg + " (got '" + x + "')"));
  });
}

const t::Range kAtLeastOne{1};
const t::Range kSeconds{1, 86400, true};

}  // namespace

Status CheckNatsServerList(const std::string& url) {
  if (url.empty()) return Status::Ok();
  auto servers = natsclient::ParseServerList(url);
  return servers.ok() ? Status::Ok() : Invalid(servers.status().message());
}

Status CheckNatsReplicas(int64_t replicas) {
  return replicas >= 1 && replicas <= 5 ? Status::Ok()
                                        : Invalid("nats_replicas must be between 1 and 5");
}

Status CheckNatsClientCertPair(const std::string& cert, const std::string& key) {
  return cert.empty() == key.empty()
             ? Status::Ok()
             : Invalid("nats_tls_cert_path and nats_tls_key_path must be set together");
}

std::string RedactNatsServers(std::string_view list) {
  return list.empty() ? std::string() : natsclient::RedactServerList(list);
}

namespace {

std::vector<t::Key<G>> GatewayKeys() {
  std::vector<t::Key<G>> k;
  auto add = [&](t::Key<G> row) { k.push_back(std::move(row)); };
  add(t::PrintOnly<G>("config", [](const G& c) { return c.source_path; }));
  add(Known(t::Choice<G>("profile", t::F(&G::profile)), [](const G& c) -> auto& { return c.profile; },
            {"development", "production"}, "profile must be 'development' or 'production'"));
  add(ListenRow());
  add(FileRow(t::Path<G>("tls.cert_path", t::F(&G::tls, &TlsConfig::cert_path))
                  .Env({"VV_SERVICE_IDENTITY_CERT_PATH"}).Print("tls.cert"),
              [](const G& c) -> auto& { return c.tls.cert_path; },
              "tls.cert_path (VV_SERVICE_IDENTITY_CERT_PATH)", false, true));
  add(FileRow(t::Path<G>("tls.key_path", t::F(&G::tls, &TlsConfig::key_path))
                  .Env({"VV_SERVICE_IDENTITY_KEY_PATH"}).Print("tls.key"),
              [](const G& c) -> auto& { return c.tls.key_path; },
              "tls.key_path (VV_SERVICE_IDENTITY_KEY_PATH)", true, true));
  add(FileRow(t::Path<G>("tls.ca_path", t::F(&G::tls, &TlsConfig::ca_path))
                  .Env({"VV_SERVICE_IDENTITY_CA_PATH"}).Print("tls.ca"),
              [](const G& c) -> auto& { return c.tls.ca_path; },
              "tls.ca_path (VV_SERVICE_IDENTITY_CA_PATH)", false, true));
  add(FileRow(t::Path<G>("tls.crl_path", t::F(&G::tls, &TlsConfig::crl_path)).Print("tls.crl"),
              [](const G& c) -> auto& { return c.tls.crl_path; }, "tls.crl_path", false, false));
  add(t::Bool<G>("require_mtls", t::F(&G::require_mtls)).Env({"VV_TG_REQUIRE_MTLS"}));
  add(t::Bool<G>("require_payload_signature", t::F(&G::require_payload_signature))
          .Env({"VV_TG_REQUIRE_PAYLOAD_SIGNATURE"}));
  add(t::Bool<G>("insecure_dev_mode", t::F(&G::insecure_dev_mode)));
  add(IdentitiesRow());
  add(t::Path<G>("identities_file", t::F(&G::identities_file)).Env({"VV_TG_IDENTITIES_FILE"}));
  add(TenantMapRow());
  add(DefaultKeyRow("spectrastrike_ed25519_public_key_b64", &G::default_signing_keys)
          .Env({"VV_TG_SPECTRASTRIKE_ED25519_PUBKEY"}));
  add(DefaultKeyRow("federation_ed25519_public_key_b64", &G::federation_signing_keys)
          .Env({"VV_FEDERATION_SPECTRASTRIKE_ED25519_PUBKEY"}));
  add(t::Bool<G>("enforce_schema_version", t::F(&G::enforce_schema_version))
          .Env({"VV_TG_ENFORCE_SCHEMA_VERSION"}));
  add(SchemaVersionsRow());
  add(t::Path<G>("mitre_catalog_dir", t::F(&G::mitre_catalog_dir)).NoPrint());
  add(Min(t::Int<G>("allowed_clock_skew_seconds", t::F(&G::allowed_clock_skew_seconds))
              .Env({"VV_TG_ALLOWED_CLOCK_SKEW_SECONDS"})
              .Check([](const G& c, t::Violations* v) {
                if (c.allowed_clock_skew_seconds > 86400)
                  v->Add(Invalid("allowed_clock_skew_seconds must be <= 86400"));
              }),
          [](const G& c) { return c.allowed_clock_skew_seconds; }, 1,
          "allowed_clock_skew_seconds must be >= 1"));
  add(Min(t::Int<G>("nonce_ttl_seconds", t::F(&G::nonce_ttl_seconds))
              .Env({"VV_TG_NONCE_TTL_SECONDS"}),
          [](const G& c) { return c.nonce_ttl_seconds; }, 30, "nonce_ttl_seconds must be >= 30"));
  add(t::Enum<G>("nonce_backend", t::F(&G::nonce_backend), BackendNames<StateBackend>::kNames,
                 "nonce_backend must be 'memory' or 'redis'")
          .Env({"VV_TG_NONCE_BACKEND"}));
  add(t::Enum<G>("rate_limit_backend", t::F(&G::rate_limit_backend),
                 BackendNames<StateBackend>::kNames, "rate_limit_backend must be 'memory' or 'redis'")
          .Env({"VV_TG_RATE_LIMIT_BACKEND"}));
  add(Min(t::Int<G>("rate_limit_per_minute", t::F(&G::rate_limit_per_minute))
              .Env({"VV_TG_RATE_LIMIT_PER_MINUTE"}),
          [](const G& c) { return c.rate_limit_per_minute; }, 1,
          "rate_limit_per_minute must be >= 1"));
  add(Min(t::Int<G>("rejection_budget_per_minute", t::F(&G::rejection_budget_per_minute))
              .Env({"VV_TG_REJECTION_BUDGET_PER_MINUTE"}),
          [](const G& c) { return c.rejection_budget_per_minute; }, 0,
          "rejection_budget_per_minute must be >= 0 (0 = no budget)"));
  add(t::Str<G>("redis_url", t::F(&G::redis_url)).Env({"VV_TG_REDIS_URL"}).Url()
          .Check([](const G& c, t::Violations* v) {
            if (!c.redis_url.empty() &&
                !HasScheme(c.redis_url,
                           {"redis://", "rediss://", "redis-sentinel://", "rediss-sentinel://"}))
              v->Add(Invalid("redis_url must start with redis://, rediss://, redis-sentinel:// or "
                             "rediss-sentinel://"));
          }));
  add(t::Path<G>("redis_tls_ca_path", t::F(&G::redis_tls_ca_path))
          .Env({"VV_TG_REDIS_TLS_CA_PATH"})
          .Check([](const G& c, t::Violations* v) {
            if (c.redis_url.rfind("rediss://", 0) == 0 ||
                c.redis_url.rfind("rediss-sentinel://", 0) == 0)
              v->Add(CheckReadableFile(c.redis_tls_ca_path,
                                       "redis_tls_ca_path (VV_TG_REDIS_TLS_CA_PATH, needed by "
                                       "rediss://)"));
          }));
  // Redis AUTH outside the URL (issue 14): password file (0400/0600) or the environment only.
  add(FileRow(t::Path<G>("redis_password_file", t::F(&G::redis_password_file))
                  .Env({"VV_TG_REDIS_PASSWORD_FILE"}),
              [](const G& c) -> auto& { return c.redis_password_file; },
              "redis_password_file (VV_TG_REDIS_PASSWORD_FILE)", true, false));
  add(t::EnvOnly<G>([](G& c, const std::string& text, const std::string&) {
        c.redis_password = Trim(text);
        return Status::Ok();
      }).Env({"VV_TG_REDIS_PASSWORD"}).Secret());
  add(FileRow(t::Path<G>("redis_sentinel_password_file", t::F(&G::redis_sentinel_password_file))
                  .Env({"VV_TG_REDIS_SENTINEL_PASSWORD_FILE"}),
              [](const G& c) -> auto& { return c.redis_sentinel_password_file; },
              "redis_sentinel_password_file (VV_TG_REDIS_SENTINEL_PASSWORD_FILE)", true, false));
  add(t::EnvOnly<G>([](G& c, const std::string& text, const std::string&) {
        c.redis_sentinel_password = Trim(text);
        return Status::Ok();
      }).Env({"VV_TG_REDIS_SENTINEL_PASSWORD"}).Secret());
  add(t::Str<G>("redis_sentinel_username", t::F(&G::redis_sentinel_username))
          .Env({"VV_TG_REDIS_SENTINEL_USERNAME"}));
  add(t::Enum<G>("queue_backend", t::F(&G::queue_backend), BackendNames<QueueBackend>::kNames,
                 "queue_backend must be 'embedded' (or 'memory') or 'nats'")
          .Env({"VV_TG_QUEUE_BACKEND"}));
  add(t::Path<G>("queue_path", t::F(&G::queue_path))
          .Print("queue_path", [](const G& c) {
            return c.queue_backend == QueueBackend::kEmbedded ? c.queue_path : "";
          }));
  add(t::Str<G>("nats_url", t::F(&G::nats_url))
          .Env({"VV_TG_NATS_URL"})
          .Print("nats_url", [](const G& c) { return RedactNatsServers(c.nats_url); })
          .Check([](const G& c, t::Violations* v) { v->Add(CheckNatsServerList(c.nats_url)); }));
  add(t::Path<G>("nats_creds_file", t::F(&G::nats_creds_file)));
  add(t::Path<G>("nats_tls_ca_path", t::F(&G::nats_tls_ca_path)));
  add(t::Path<G>("nats_tls_cert_path", t::F(&G::nats_tls_cert_path)));
  add(t::Path<G>("nats_tls_key_path", t::F(&G::nats_tls_key_path))
          .NoPrint()
          .Check([](const G& c, t::Violations* v) {
            v->Add(CheckNatsClientCertPair(c.nats_tls_cert_path, c.nats_tls_key_path));
          }));
  add(t::Int<G>("nats_stream_max_age_seconds", t::F(&G::nats_stream_max_age_seconds)));
  add(t::Int<G>("nats_stream_max_bytes", t::F(&G::nats_stream_max_bytes)));
  add(t::Choice<G>("nats_stream_discard", t::F(&G::nats_stream_discard))
          .Check([](const G& c, t::Violations* v) {
            if (c.nats_stream_max_age_seconds < 0 || c.nats_stream_max_bytes < 0 ||
                (c.nats_stream_discard != "new" && c.nats_stream_discard != "old"))
              v->Add(Invalid("nats_stream_max_age_seconds and nats_stream_max_bytes must be >= 0 "
                             "(0 = unlimited) and nats_stream_discard 'new' or 'old'"));
          }));
  add(t::Str<G>("queue_subject", t::F(&G::queue_subject)).Env({"VV_TG_QUEUE_SUBJECT"}));
  add(t::Str<G>("dlq_subject", t::F(&G::dlq_subject)).Env({"VV_TG_DLQ_SUBJECT"}));
  add(t::Str<G>("nats_stream", t::F(&G::nats_stream)));
  add(t::Str<G>("nats_dlq_stream", t::F(&G::nats_dlq_stream)));
  add(t::Int<G>("nats_replicas", t::F(&G::nats_replicas)).Check([](const G& c, t::Violations* v) {
    v->Add(CheckNatsReplicas(c.nats_replicas));
  }));
  add(t::Bool<G>("nats_send_asap", t::F(&G::nats_send_asap)));
  add(t::Int<G>("nats_publish_groups_in_flight", t::F(&G::nats_publish_groups_in_flight),
                t::Range{0, 1024, true}));
  add(Min(t::Int<G>("nats_duplicate_window_seconds", t::F(&G::nats_duplicate_window_seconds)),
          [](const G& c) { return c.nats_duplicate_window_seconds; }, 60,
          "nats_duplicate_window_seconds must be >= 60 (it must exceed the producer's retry "
          "horizon)"));
  add(t::Str<G>("replica_id", t::F(&G::replica_id))
          .Env({"VV_TG_REPLICA_ID"})
          .Check([](const G& c, t::Violations* v) {
            if (!c.replica_id.empty() && !IsValidReplicaId(c.replica_id))
              v->Add(Invalid("replica_id (VV_TG_REPLICA_ID) must be 1.." +
                             std::to_string(kMaxReplicaIdLength) +
                             " characters of [a-z0-9-], not starting with '-' (got '" +
                             c.replica_id.substr(0, 40) + "')"));
          }));
  add(t::Str<G>("audit_origin", t::F(&G::audit_origin))
          .Env({"VV_TG_AUDIT_ORIGIN"})
          .Print("audit_origin", [](const G& c) { return c.EffectiveAuditOrigin(); })
          .Check([](const G& c, t::Violations* v) {
            if (c.audit_origin.empty()) return;
            bool ok = c.audit_origin.size() <= 128;
            for (char ch : c.audit_origin) {
              const auto u = static_cast<unsigned char>(ch);
              ok = ok && u > 0x20 && u < 0x7f && ch != '+';
            }
            if (!ok)
              v->Add(Invalid("audit_origin (VV_TG_AUDIT_ORIGIN) must be 1..128 printable ASCII "
                             "characters without spaces or '+'"));
          }));
  add(t::Path<G>("audit_log_path", t::F(&G::audit_log_path))
          .Env({"VV_TAMPER_LOG_PATH"})
          .Check([](const G& c, t::Violations* v) {
            if (c.audit_log_path.empty())
              v->Add(Invalid("audit_log_path (VV_TAMPER_LOG_PATH) must be set"));
            if (c.audit_log_path.find(kReplicaIdPlaceholder) != std::string::npos)
              v->Add(Invalid("audit_log_path contains {replica_id} but replica_id "
                             "(VV_TG_REPLICA_ID) is not set"));
          }));
  add(FsyncRow("audit_fsync", &G::audit_fsync));
  add(Min(t::Int<G>("audit_seal_every", t::F(&G::audit_seal_every))
              .Env({"VV_TAMPER_LOG_SEAL_EVERY"}),
          [](const G& c) { return c.audit_seal_every; }, 1,
          "audit_seal_every (VV_TAMPER_LOG_SEAL_EVERY) must be >= 1"));
  add(t::Int<G>("audit_seal_interval_seconds", t::F(&G::audit_seal_interval_seconds))
          .Env({"VV_TAMPER_LOG_SEAL_INTERVAL_SECONDS"})
          .Check([](const G& c, t::Violations* v) {
            if (c.audit_seal_interval_seconds < 0 || c.audit_seal_interval_seconds > 86400)
              v->Add(Invalid("audit_seal_interval_seconds (VV_TAMPER_LOG_SEAL_INTERVAL_SECONDS) "
                             "must be between 0 and 86400"));
          }));
  add(Known(t::Choice<G>("audit_anchor", t::F(&G::audit_anchor)),
            [](const G& c) -> auto& { return c.audit_anchor; }, {"file", "jetstream"},
            "audit_anchor must be 'file' or 'jetstream'"));
  add(t::Str<G>("audit_anchor_nats_url", t::F(&G::audit_anchor_nats_url))
          .Print("audit_anchor_nats_url",
                 [](const G& c) { return RedactNatsServers(c.audit_anchor_nats_url); })
          .Check([](const G& c, t::Violations* v) {
            if (c.audit_anchor_nats_url.empty()) return;
            if (auto servers = natsclient::ParseServerList(c.audit_anchor_nats_url); !servers.ok())
              v->Add(Invalid("audit_anchor_nats_url: " + servers.status().message()));
          }));
  add(SealKeyPathRow());
  for (auto& row : AuditSealPkcs11Rows<G>(t::F(&G::audit_seal_pkcs11))) add(std::move(row));
  add(t::PrintOnly<G>("audit_seal_pkcs11_token",
                      [](const G& c) { return c.audit_seal_pkcs11.token_label; }));
  add(t::PrintOnly<G>("audit_seal_pkcs11_pin_file",
                      [](const G& c) { return c.audit_seal_pkcs11.pin_file; }));
  add(t::PrintOnly<G>("audit_seal_pkcs11_pin_env", [](const G& c) {
    return c.audit_seal_pkcs11.enabled() ? c.audit_seal_pkcs11.pin_env : std::string();
  }));
  add(t::Str<G>("feedback_active_kid", t::F(&G::feedback_active_kid))
          .Env({"VV_TG_FEEDBACK_ACTIVE_KID"}));
  add(FeedbackKeysRow());
  add(t::Str<G>("admin_listen", t::F(&G::admin_listen)).Check([](const G& c, t::Violations* v) {
    if (Status s = CheckListenAddress("admin_listen", c.admin_listen, /*loopback_only=*/true);
        !s.ok())
      v->Add(std::move(s));
  }));
  add(t::Str<G>("probe_listen", t::F(&G::probe_listen)).Check([](const G& c, t::Violations* v) {
    if (Status s = CheckListenAddress("probe_listen", c.probe_listen, false); !s.ok())
      v->Add(std::move(s));
  }));
  add(FileRow(t::Path<G>("admin_token_file", t::F(&G::admin_token_file))
                  .Env({"VV_TG_ADMIN_TOKEN_FILE"}),
              [](const G& c) -> auto& { return c.admin_token_file; },
              "admin_token_file (VV_TG_ADMIN_TOKEN_FILE)", true, false));
  add(t::EnvOnly<G>([](G& c, const std::string& text, const std::string&) {
        c.admin_token = Trim(text);
        return Status::Ok();
      }).Env({"VV_TG_ADMIN_TOKEN"}).Secret());
  add(t::Path<G>("queue_signing_key_path", t::F(&G::queue_signing_key_path))
          .Env({"VV_TG_QUEUE_SIGNING_KEY_PATH"})
          .Check([](const G& c, t::Violations* v) {
            if (c.queue_signing_key_path.empty()) return;
            if (c.queue_signing_kid.empty())
              v->Add(Invalid("queue_signing_kid (VV_TG_QUEUE_SIGNING_KID) must not be empty"));
            v->Add(CheckPrivateKeyFile(c.queue_signing_key_path,
                                       "queue_signing_key_path (VV_TG_QUEUE_SIGNING_KEY_PATH)"));
          }));
  add(t::Str<G>("queue_signing_kid", t::F(&G::queue_signing_kid))
          .Env({"VV_TG_QUEUE_SIGNING_KID"}));
  add(t::Path<G>("kill_switch_file", t::F(&G::kill_switch_file)));
  add(t::Str<G>("kill_switch_redis_key", t::F(&G::kill_switch_redis_key)));
  add(ApproversRow());
  add(t::Int<G>("worker_threads", t::F(&G::worker_threads), t::Range{0, 1024, true})
          .Check([](const G& c, t::Violations* v) {
            if (c.worker_threads < 0) v->Add(Invalid("worker_threads must be >= 0"));
          }));
  auto limit = [&](const std::string& name, size_t G::*f, t::Range env_range = {},
                   std::vector<std::string> env = {}) {
    t::Key<G> row = t::Int<G>("limits." + name, t::F(f), kAtLeastOne, env_range);
    row.env = std::move(env);
    return row;
  };
  auto timeout = [&](const std::string& name, int G::*f, t::Range env_range = {},
                     std::vector<std::string> env = {}) {
    t::Key<G> row = t::Int<G>("limits." + name, t::F(f), kSeconds, env_range);
    row.env = std::move(env);
    return row;
  };
  const t::Range env_limit{1, 1000000};
  add(Min(limit("max_body_bytes", &G::max_body_bytes).Print("max_body_bytes"),
          [](const G& c) { return static_cast<int64_t>(c.max_body_bytes); }, 1,
          "limits.max_body_bytes must be >= 1"));
  add(limit("batch_max_events", &G::batch_max_events).Check([](const G& c, t::Violations* v) {
    if (c.batch_max_events < 1 || c.batch_max_events > 100000)
      v->Add(Invalid("limits.batch_max_events must be between 1 and 100000"));
  }));
  add(Min(limit("max_header_bytes", &G::max_header_bytes),
          [](const G& c) { return static_cast<int64_t>(c.max_header_bytes); }, 1,
          "limits.max_header_bytes must be >= 1"));
  add(Min(limit("max_header_count", &G::max_header_count),
          [](const G& c) { return static_cast<int64_t>(c.max_header_count); }, 1,
          "limits.max_header_count must be >= 1"));
  add(Min(limit("max_connections", &G::max_connections).Print("max_connections"),
          [](const G& c) { return static_cast<int64_t>(c.max_connections); }, 1,
          "limits.max_connections must be >= 1"));
  add(limit("max_pending_handshakes", &G::max_pending_handshakes, env_limit,
            {"VV_TG_MAX_PENDING_HANDSHAKES"}));
  add(limit("max_pending_handshakes_per_source", &G::max_pending_handshakes_per_source, env_limit,
            {"VV_TG_MAX_PENDING_HANDSHAKES_PER_SOURCE"}));
  add(timeout("handshake_timeout_seconds", &G::handshake_timeout_seconds, env_limit,
              {"VV_TG_HANDSHAKE_TIMEOUT_SECONDS"})
          .Check([](const G& c, t::Violations* v) {
            if (c.handshake_timeout_seconds < 1 || c.handshake_timeout_seconds > 86400)
              v->Add(Invalid("limits.handshake_timeout_seconds must be between 1 and 86400"));
          }));
  add(Min(timeout("header_timeout_seconds", &G::header_timeout_seconds),
          [](const G& c) { return c.header_timeout_seconds; }, 1,
          "limits.header_timeout_seconds must be >= 1"));
  add(Min(timeout("idle_timeout_seconds", &G::idle_timeout_seconds),
          [](const G& c) { return c.idle_timeout_seconds; }, 1,
          "limits.idle_timeout_seconds must be >= 1"));
  add(Min(timeout("body_timeout_seconds", &G::body_timeout_seconds),
          [](const G& c) { return c.body_timeout_seconds; }, 1,
          "limits.body_timeout_seconds must be >= 1"));
  add(t::Str<G>("log_level", t::F(&G::log_level))
          .Env({"VV_TG_LOG_LEVEL"})
          .Check([](const G& c, t::Violations* v) {
            if (auto l = logging::ParseLevel(c.log_level); !l.ok())
              v->Add(Invalid("log_level (VV_TG_LOG_LEVEL): " + l.status().message()));
          }));
  add(t::Str<G>("log_format", t::F(&G::log_format))
          .Env({"VV_TG_LOG_FORMAT"})
          .Check([](const G& c, t::Violations* v) {
            if (auto f = logging::ParseFormat(c.log_format); !f.ok())
              v->Add(Invalid("log_format (VV_TG_LOG_FORMAT): " + f.status().message()));
          }));
  return k;
}

// ---- Cross-key rules ----------------------------------------------------------------------------

void SecurityRules(const G& cfg, t::Violations* v) {
  if (!cfg.require_mtls && !cfg.insecure_dev_mode)
    v->Add(Invalid(
        "require_mtls (VV_TG_REQUIRE_MTLS) may only be false with insecure_dev_mode: true"));
  if (!cfg.require_payload_signature && !cfg.insecure_dev_mode)
    v->Add(Invalid(
        "require_payload_signature (VV_TG_REQUIRE_PAYLOAD_SIGNATURE) may only be false "
        "with insecure_dev_mode: true"));
  if (cfg.profile == "production" && cfg.insecure_dev_mode)
    v->Add(Invalid("profile: production forbids insecure_dev_mode"));
  if (cfg.allowed_clock_skew_seconds >= 1 && cfg.nonce_ttl_seconds >= 30 &&
      cfg.nonce_ttl_seconds < 2 * cfg.allowed_clock_skew_seconds)
    v->Add(Invalid("nonce_ttl_seconds (" + std::to_string(cfg.nonce_ttl_seconds) +
                   ") must be at least 2 x allowed_clock_skew_seconds (" +
                   std::to_string(cfg.allowed_clock_skew_seconds) +
                   ") or a replay could slip through after the nonce expired"));
}

void BackendRules(const G& cfg, t::Violations* v) {
  if (cfg.nonce_backend == StateBackend::kRedis && cfg.redis_url.empty())
    v->Add(Invalid("nonce_backend: redis requires redis_url (VV_TG_REDIS_URL)"));
  if (cfg.rate_limit_backend == StateBackend::kRedis && cfg.redis_url.empty())
    v->Add(Invalid("rate_limit_backend: redis requires redis_url (VV_TG_REDIS_URL)"));
  if (cfg.queue_backend == QueueBackend::kNats && cfg.nats_url.empty())
    v->Add(Invalid("queue_backend: nats requires nats_url (VV_TG_NATS_URL)"));
  if (cfg.audit_anchor == "jetstream" && cfg.audit_anchor_nats_url.empty() && cfg.nats_url.empty())
    v->Add(Invalid("audit_anchor: jetstream requires audit_anchor_nats_url or nats_url"));
  if (cfg.queue_backend == QueueBackend::kNats) {
    if (cfg.nats_stream.empty() || cfg.nats_dlq_stream.empty() ||
        cfg.nats_stream == cfg.nats_dlq_stream)
      v->Add(Invalid("nats_stream and nats_dlq_stream must be set and differ"));
    if (cfg.queue_subject.empty() || cfg.dlq_subject.empty())
      v->Add(Invalid("queue_subject and dlq_subject must not be empty"));
    else if (cfg.queue_subject == cfg.dlq_subject)
      v->Add(Invalid("queue_subject and dlq_subject must differ"));
  }
  if (cfg.profile == "production") {
    if (cfg.nonce_backend != StateBackend::kRedis)
      v->Add(Invalid("profile: production requires nonce_backend: redis"));
    if (cfg.rate_limit_backend != StateBackend::kRedis)
      v->Add(Invalid("profile: production requires rate_limit_backend: redis"));
    if (cfg.queue_backend != QueueBackend::kNats)
      v->Add(Invalid("profile: production requires queue_backend: nats"));
  }
  if (cfg.queue_backend == QueueBackend::kEmbedded && cfg.queue_path.empty())
    v->Add(Invalid("queue_path must be set for queue_backend: embedded"));
}

void ListenerRules(const G& cfg, t::Violations* v) {
  if (cfg.listen_host.empty()) v->Add(Invalid("listen must be host:port with a non-empty host"));
  // Authenticated connections keep the slots the pending-handshake pool cannot take.
  if (cfg.max_connections > 1 && cfg.EffectiveMaxPendingHandshakes() >= cfg.max_connections)
    v->Add(Invalid("limits.max_pending_handshakes must be below limits.max_connections"));
  if (cfg.EffectiveMaxPendingHandshakesPerSource() > cfg.EffectiveMaxPendingHandshakes())
    v->Add(Invalid(
        "limits.max_pending_handshakes_per_source must not exceed limits.max_pending_handshakes"));
}

void IdentityRules(const G& cfg, t::Violations* v) {
  if (cfg.identities.empty())
    v->Add(Invalid("allowed_service_identities (VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON) must be a "
                   "non-empty allowlist (or set identities_file)"));
  for (const auto& k : cfg.default_signing_keys)
    if (k.key.raw().size() != 32)
      v->Add(Invalid("spectrastrike_ed25519_public_key_b64: Invalid Ed25519 public key length"));
  std::map<std::string, std::string> pin_owner;
  std::set<std::string> ids;
  for (const auto& ident : cfg.identities) {
    const std::string key = "allowed_service_identities." + ident.id;
    if (ident.id.empty())
      v->Add(Invalid("allowed_service_identities: service identity id must not be empty"));
    if (!ids.insert(ident.id).second) v->Add(Invalid(key + ": duplicate service identity"));
    if (ident.cert_sha256_pins.empty()) v->Add(Invalid(key + ": no cert_sha256 pin configured"));
    for (const auto& pin : ident.cert_sha256_pins) {
      if (!IsHex(pin, 64) || ToLowerAscii(pin) != pin)
        v->Add(Invalid(key + ": service identity fingerprint must be 64-char sha256 hex"));
      auto [it, inserted] = pin_owner.emplace(pin, ident.id);
      if (!inserted && it->second != ident.id)
        v->Add(Invalid(key + ": certificate pin " + pin + " is also pinned by identity '" +
                       it->second + "'"));
    }
    if (ident.Unbound() && cfg.profile == "production")
      v->Add(Invalid(key +
                     ".operators: production requires every identity to list the operators it "
                     "may act for"));
    for (const auto& op : ident.operators)
      if (cfg.operator_tenant_map.count(op) == 0)
        v->Add(Invalid(key + ".operators: operator '" + op +
                       "' is not in operator_tenant_map (VV_TG_OPERATOR_TENANT_MAP)"));
    const auto& keys = cfg.KeysFor(ident);
    if (keys.empty())
      v->Add(Invalid(key +
                     ": no signing key (set signing_keys for the identity or "
                     "spectrastrike_ed25519_public_key_b64 / VV_TG_SPECTRASTRIKE_ED25519_PUBKEY)"));
    std::set<std::string> kids;
    for (const auto& k : keys) {
      if (k.kid.empty()) v->Add(Invalid(key + ": signing key id must not be empty"));
      if (!kids.insert(k.kid).second) v->Add(Invalid(key + ": duplicate signing key id " + k.kid));
      if (k.key.raw().size() != 32)
        v->Add(Invalid(key + ".signing_keys." + k.kid + ": Invalid Ed25519 public key length"));
    }
  }
}

void FileRules(const G& cfg, t::Violations* v) {
  // Feedback signing keys.
  if (!cfg.feedback_key_paths.empty() || !cfg.feedback_active_kid.empty()) {
    if (cfg.feedback_active_kid.empty())
      v->Add(Invalid("feedback_active_kid (VV_TG_FEEDBACK_ACTIVE_KID) must be configured"));
    else if (cfg.feedback_key_paths.count(cfg.feedback_active_kid) == 0)
      v->Add(Invalid("feedback_active_kid (VV_TG_FEEDBACK_ACTIVE_KID) must exist in "
                     "feedback_ed25519_keys"));
    for (const auto& [kid, path] : cfg.feedback_key_paths) {
      if (kid.empty()) v->Add(Invalid("feedback_ed25519_keys: key ids must not be empty"));
      else v->Add(CheckPrivateKeyFile(path, "feedback_ed25519_keys." + kid));
    }
  }
  v->Add(ValidateAuditSealPkcs11(cfg.audit_seal_pkcs11, cfg.audit_signing_key_path, kSection));
  if (!cfg.mitre_catalog_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(cfg.mitre_catalog_dir, ec))
      v->Add(Status::NotFound("mitre_catalog_dir: not a directory: " + cfg.mitre_catalog_dir));
  }
}

}  // namespace

const table::Table<GatewayConfig>& GatewayTable() {
  static const table::Table<GatewayConfig> kTable(
      kSection, GatewayKeys(),
      {SecurityRules, BackendRules, ListenerRules, IdentityRules, FileRules},
      " (a misspelt key must not silently disable a control)");
  return kTable;
}



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

bool IsValidReplicaId(std::string_view id) {
  if (id.empty() || id.size() > kMaxReplicaIdLength || id.front() == '-') return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

void ApplyReplicaDefaults(GatewayConfig* cfg) {
  if (cfg->replica_id.empty()) return;
  // One file for every replica: "{replica_id}" in audit_log_path names each one's own log.
  for (size_t at; (at = cfg->audit_log_path.find(kReplicaIdPlaceholder)) != std::string::npos;)
    cfg->audit_log_path.replace(at, kReplicaIdPlaceholder.size(), cfg->replica_id);
  if (cfg->audit_origin.empty()) cfg->audit_origin = std::string(kAuditOriginPrefix) + cfg->replica_id;
  if (cfg->audit_log_path == GatewayConfig().audit_log_path)
    cfg->audit_log_path = "vv-audit-" + cfg->replica_id + ".jsonl";
}

std::string GatewayConfig::EffectiveAuditOrigin() const {
  return audit_origin.empty() ? std::string(kSingleReplicaAuditOrigin) : audit_origin;
}

const char* FsyncPolicyName(FsyncPolicy p) {
  switch (p) {
    case FsyncPolicy::kNone: return "none";
    case FsyncPolicy::kAlways: return "always";
    case FsyncPolicy::kBatch: break;
  }
  return "batch";
}

GatewayConfigDraft DraftGatewayConfig(const std::string& yaml_text, const EnvLookup& env,
                                      const std::string& base_dir) {
  GatewayConfigDraft d;
  table::Violations errors;
  try {
    YAML::Node root = YAML::Load(yaml_text);
    const YAML::Node croot = root;
    if (!croot.IsMap()) {
      errors.Add(Invalid("config: the top level must be a mapping containing " +
                         std::string(kSection)));
    } else if (const YAML::Node vv = croot["vectorvue"]; !vv || !vv.IsMap()) {
      errors.Add(Invalid("config: missing mapping 'vectorvue' (expected " + std::string(kSection) +
                         ")"));
    } else if (const YAML::Node sec = vv["telemetry_gateway"]; !sec || !sec.IsMap()) {
      errors.Add(Invalid("config: missing mapping " + std::string(kSection)));
    } else {
      d.yaml_ok = true;
      d.section = sec;
      GatewayTable().ApplyYaml(sec, table::Source{base_dir, ""}, &d.config, &errors);
    }
  } catch (const YAML::Exception& e) {
    errors.Add(Invalid(std::string("config: invalid YAML: ") + e.what()));
  } catch (const std::exception& e) {
    errors.Add(Invalid(std::string("config: ") + e.what()));
  }
  // The environment is applied even when the YAML had errors, so every error is reported.
  GatewayTable().ApplyEnv(env, &d.config, &errors);
  LoadIdentities(&d.config, &errors);
  ApplyReplicaDefaults(&d.config);
  d.parse_errors = errors.list();
  return d;
}

Result<GatewayConfig> ParseGatewayConfig(const std::string& yaml_text, const EnvLookup& env,
                                         const std::string& base_dir) {
  GatewayConfigDraft d = DraftGatewayConfig(yaml_text, env, base_dir);
  if (!d.parse_errors.empty()) {
    table::Violations v;
    for (auto& s : d.parse_errors) v.Add(std::move(s));
    return v.ToStatus();
  }
  VV_RETURN_IF_ERROR(ValidateGatewayConfig(d.config));
  // Explicit move into the Result: GCC 12 at -O3 miscompiles the implicit move of this local
  // on `return cfg;` here (the moved-from object is destroyed with uninitialised members;
  // reproduced with valgrind on a clean -O3 build).
  return Result<GatewayConfig>(std::move(d.config));
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
  return GatewayTable().Validate(cfg).ToStatus();
}

std::vector<Status> GatewayConfigViolations(const GatewayConfig& cfg) {
  return GatewayTable().Validate(cfg).list();
}

}  // namespace vv::config

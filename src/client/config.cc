#include "spectrastrike/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "client/status_bridge.h"
#include "common/encoding.h"
#include "common/host_port.h"
#include "json/json.h"

extern char** environ;

namespace spectrastrike {
namespace {

vv::Status SplitEndpoint(const std::string& url, std::string* host, uint16_t* port,
                         std::string* base_path);

std::string Resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || base_dir.empty() || p[0] == '/') return p;
  return (std::filesystem::path(base_dir) / p).string();
}

const std::string* Env(const Environment& env, const char* name) {
  auto it = env.find(name);
  if (it == env.end() || vv::StripAsciiWhitespace(it->second).empty()) return nullptr;
  return &it->second;
}

bool ParseBool(std::string_view s, bool* out) {
  std::string v = vv::ToLowerAscii(vv::StripAsciiWhitespace(s));
  if (v == "1" || v == "true" || v == "yes" || v == "on") return *out = true, true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return *out = false, true;
  return false;
}

// Reads scalar `key` of `node` (when present) into *out. Throws nothing.
vv::Status GetString(const YAML::Node& node, const char* key, std::string* out) {
  YAML::Node v = node[key];
  if (!v) return vv::Status::Ok();
  if (!v.IsScalar()) return vv::Status::InvalidArgument(std::string(key) + " must be a scalar");
  *out = v.Scalar();
  return vv::Status::Ok();
}

vv::Status GetInt(const YAML::Node& node, const char* key, int64_t* out) {
  YAML::Node v = node[key];
  if (!v) return vv::Status::Ok();
  if (!v.IsScalar()) return vv::Status::InvalidArgument(std::string(key) + " must be an integer");
  const std::string& s = v.Scalar();
  int64_t value = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || p != s.data() + s.size())
    return vv::Status::InvalidArgument(std::string(key) + " must be an integer, got '" + s + "'");
  *out = value;
  return vv::Status::Ok();
}

vv::Status GetBool(const YAML::Node& node, const char* key, bool* out) {
  YAML::Node v = node[key];
  if (!v) return vv::Status::Ok();
  if (!v.IsScalar() || !ParseBool(v.Scalar(), out))
    return vv::Status::InvalidArgument(std::string(key) + " must be a boolean");
  return vv::Status::Ok();
}

// Edit distance (bounded inputs: key names), for "did you mean" hints.
size_t Distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Like the gateway's config: a key this version does not know is an error naming it (a
// misspelt key silently falling back to a default is how a producer ends up unpinned or
// pointed at the wrong key). The key text is the operator's own file, bounded for the message.
vv::Status CheckKeys(const YAML::Node& node, std::string_view where,
                     std::initializer_list<std::string_view> known) {
  for (const auto& kv : node) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("<non-scalar>");
    bool ok = false;
    std::string_view best;
    size_t best_d = 3;  // suggest only close matches
    for (std::string_view k : known) {
      if (k == key) ok = true;
      size_t d = Distance(key.substr(0, 64), k);
      if (d < best_d) best_d = d, best = k;
    }
    if (ok) continue;
    std::string shown;
    for (char ch : key.substr(0, 64))
      shown.push_back(static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f ? '?' : ch);
    std::string msg = "unknown key '" + std::string(where) + "." + shown + "'";
    if (!best.empty()) msg += " (did you mean '" + std::string(best) + "'?)";
    return vv::Status::InvalidArgument(msg);
  }
  return vv::Status::Ok();
}

vv::Status ParseYaml(const YAML::Node& root, ProducerConfig* c) {
  if (!root || !root.IsMap()) return vv::Status::InvalidArgument("config must be a YAML mapping");
  YAML::Node ss = root["spectrastrike"];
  if (!ss || !ss.IsMap())
    return vv::Status::InvalidArgument("config needs a 'spectrastrike' mapping");
  YAML::Node p = ss["producer"];
  if (!p || !p.IsMap())
    return vv::Status::InvalidArgument("config needs a 'spectrastrike.producer' mapping");
  VV_RETURN_IF_ERROR(CheckKeys(ss, "spectrastrike", {"producer"}));
  VV_RETURN_IF_ERROR(CheckKeys(p, "spectrastrike.producer",
                               {"endpoint", "service_identity", "operator_id", "tenant_id",
                                "campaign_id", "spool_path", "mtls", "signing", "replay", "retry",
                                "feedback"}));
  VV_RETURN_IF_ERROR(GetString(p, "endpoint", &c->endpoint));
  VV_RETURN_IF_ERROR(GetString(p, "service_identity", &c->service_identity));
  VV_RETURN_IF_ERROR(GetString(p, "operator_id", &c->identity.operator_id));
  VV_RETURN_IF_ERROR(GetString(p, "tenant_id", &c->identity.tenant_id));
  VV_RETURN_IF_ERROR(GetString(p, "campaign_id", &c->identity.campaign_id));
  VV_RETURN_IF_ERROR(GetString(p, "spool_path", &c->spool_path));
  if (YAML::Node m = p["mtls"]) {
    if (!m.IsMap()) return vv::Status::InvalidArgument("mtls must be a mapping");
    VV_RETURN_IF_ERROR(CheckKeys(m, "spectrastrike.producer.mtls",
                                 {"cert_path", "key_path", "ca_path", "verify_peer", "server_name",
                                  "pinned_server_cert_sha256", "client_cert_sha256"}));
    VV_RETURN_IF_ERROR(GetString(m, "cert_path", &c->cert_path));
    VV_RETURN_IF_ERROR(GetString(m, "key_path", &c->key_path));
    VV_RETURN_IF_ERROR(GetString(m, "ca_path", &c->ca_path));
    VV_RETURN_IF_ERROR(GetBool(m, "verify_peer", &c->verify_peer));
    VV_RETURN_IF_ERROR(GetString(m, "server_name", &c->server_name));
    VV_RETURN_IF_ERROR(GetString(m, "pinned_server_cert_sha256", &c->pinned_server_cert_sha256));
    VV_RETURN_IF_ERROR(GetString(m, "client_cert_sha256", &c->client_cert_sha256));
  }
  if (YAML::Node s = p["signing"]) {
    if (!s.IsMap()) return vv::Status::InvalidArgument("signing must be a mapping");
    VV_RETURN_IF_ERROR(CheckKeys(s, "spectrastrike.producer.signing",
                                 {"algorithm", "private_key_path", "key_id"}));
    VV_RETURN_IF_ERROR(GetString(s, "algorithm", &c->signing_algorithm));
    VV_RETURN_IF_ERROR(GetString(s, "private_key_path", &c->private_key_path));
    VV_RETURN_IF_ERROR(GetString(s, "key_id", &c->key_id));
  }
  if (YAML::Node r = p["replay"]) {
    if (!r.IsMap()) return vv::Status::InvalidArgument("replay must be a mapping");
    VV_RETURN_IF_ERROR(CheckKeys(r, "spectrastrike.producer.replay",
                                 {"nonce_length", "timestamp_format", "max_clock_skew_seconds"}));
    int64_t len = static_cast<int64_t>(c->nonce_length);
    VV_RETURN_IF_ERROR(GetInt(r, "nonce_length", &len));
    if (len < 12 || len > 128)
      return vv::Status::InvalidArgument("replay.nonce_length must be 12..128");
    c->nonce_length = static_cast<size_t>(len);
    VV_RETURN_IF_ERROR(GetString(r, "timestamp_format", &c->timestamp_format));
    VV_RETURN_IF_ERROR(GetInt(r, "max_clock_skew_seconds", &c->max_clock_skew_seconds));
  }
  if (YAML::Node r = p["retry"]) {
    if (!r.IsMap()) return vv::Status::InvalidArgument("retry must be a mapping");
    VV_RETURN_IF_ERROR(CheckKeys(r, "spectrastrike.producer.retry",
                                 {"max_attempts", "backoff_ms", "jitter_ms", "max_backoff_ms"}));
    int64_t attempts = c->retry.max_attempts;
    VV_RETURN_IF_ERROR(GetInt(r, "max_attempts", &attempts));
    if (attempts < 1 || attempts > 100)
      return vv::Status::InvalidArgument("retry.max_attempts must be 1..100");
    c->retry.max_attempts = static_cast<int>(attempts);
    VV_RETURN_IF_ERROR(GetInt(r, "backoff_ms", &c->retry.backoff_ms));
    VV_RETURN_IF_ERROR(GetInt(r, "jitter_ms", &c->retry.jitter_ms));
    VV_RETURN_IF_ERROR(GetInt(r, "max_backoff_ms", &c->retry.max_backoff_ms));
    if (c->retry.backoff_ms < 0 || c->retry.jitter_ms < 0 || c->retry.max_backoff_ms < 0)
      return vv::Status::InvalidArgument("retry delays must be >= 0");
  }
  if (YAML::Node f = p["feedback"]) {
    if (!f.IsMap()) return vv::Status::InvalidArgument("feedback must be a mapping");
    VV_RETURN_IF_ERROR(CheckKeys(f, "spectrastrike.producer.feedback",
                                 {"verify_keys", "replay_cache_path", "window_seconds"}));
    if (YAML::Node k = f["verify_keys"]) {
      if (!k.IsMap()) return vv::Status::InvalidArgument("feedback.verify_keys must be a mapping");
      for (const auto& kv : k) {
        if (!kv.second.IsScalar())
          return vv::Status::InvalidArgument("feedback.verify_keys values must be strings");
        c->feedback_verify_keys[kv.first.Scalar()] = kv.second.Scalar();
      }
    }
    VV_RETURN_IF_ERROR(GetString(f, "replay_cache_path", &c->feedback_replay_cache_path));
    VV_RETURN_IF_ERROR(GetInt(f, "window_seconds", &c->feedback_window_seconds));
  }
  return vv::Status::Ok();
}

vv::Status ApplyEnv(const Environment& env, ProducerConfig* c) {
  auto set = [&](std::initializer_list<const char*> names, std::string* field) {
    for (const char* n : names)
      if (const std::string* v = Env(env, n)) {
        *field = std::string(vv::StripAsciiWhitespace(*v));
        return;
      }
  };
  set({"VECTORVUE_FEDERATION_URL", "VECTORVUE_BASE_URL"}, &c->endpoint);
  set({"VECTORVUE_FEDERATION_SERVICE_IDENTITY"}, &c->service_identity);
  set({"VECTORVUE_FEDERATION_CLIENT_CERT_SHA256"}, &c->client_cert_sha256);
  set({"VECTORVUE_FEDERATION_MTLS_CERT_FILE", "VECTORVUE_MTLS_CLIENT_CERT_FILE"}, &c->cert_path);
  set({"VECTORVUE_FEDERATION_MTLS_KEY_FILE", "VECTORVUE_MTLS_CLIENT_KEY_FILE"}, &c->key_path);
  set({"VECTORVUE_FEDERATION_MTLS_CA_FILE", "VECTORVUE_VERIFY_TLS_CA_FILE"}, &c->ca_path);
  set({"VECTORVUE_TLS_PINNED_CERT_SHA256"}, &c->pinned_server_cert_sha256);
  set({"VECTORVUE_FEDERATION_SIGNING_KEY_PATH"}, &c->private_key_path);
  set({"VECTORVUE_FEDERATION_OPERATOR_ID"}, &c->identity.operator_id);
  set({"VECTORVUE_TENANT_ID"}, &c->identity.tenant_id);
  set({"VECTORVUE_FEDERATION_CAMPAIGN_ID"}, &c->identity.campaign_id);
  set({"VECTORVUE_SPOOL_PATH"}, &c->spool_path);
  set({"VECTORVUE_FEEDBACK_REPLAY_CACHE_PATH"}, &c->feedback_replay_cache_path);
  if (const std::string* v = Env(env, "VECTORVUE_VERIFY_TLS")) {
    bool b = true;
    if (!ParseBool(*v, &b))
      return vv::Status::InvalidArgument("VECTORVUE_VERIFY_TLS must be a boolean");
    c->verify_peer = b;
  }
  if (const std::string* v = Env(env, "VECTORVUE_FEEDBACK_VERIFY_KEYS_JSON")) {
    auto j = vv::json::Parse(*v);
    if (!j.ok() || !j->is_object())
      return vv::Status::InvalidArgument(
          "VECTORVUE_FEEDBACK_VERIFY_KEYS_JSON must be a JSON object");
    c->feedback_verify_keys.clear();
    for (const auto& [kid, val] : j->as_object()) {
      if (!val.is_string())
        return vv::Status::InvalidArgument(
            "VECTORVUE_FEEDBACK_VERIFY_KEYS_JSON values must be strings");
      c->feedback_verify_keys[kid] = val.as_string();
    }
  } else if (const std::string* v = Env(env, "VECTORVUE_FEEDBACK_VERIFY_PUBLIC_KEY_B64")) {
    c->feedback_verify_keys.clear();
    c->feedback_verify_keys["default"] = std::string(vv::StripAsciiWhitespace(*v));
  }
  return vv::Status::Ok();
}

vv::Status Validate(ProducerConfig* c, const std::string& base_dir) {
  if (!c->verify_peer)
    return vv::Status::InvalidArgument(
        "TLS peer verification cannot be disabled (mtls.verify_peer / VECTORVUE_VERIFY_TLS)");
  if (c->endpoint.empty())
    return vv::Status::InvalidArgument("spectrastrike.producer.endpoint is required");
  VV_RETURN_IF_ERROR(SplitEndpoint(c->endpoint, &c->host, &c->port, &c->base_path));
  if (vv::ToLowerAscii(c->signing_algorithm) != "ed25519")
    return vv::Status::InvalidArgument("signing.algorithm must be ed25519");
  if (c->timestamp_format != "unix_epoch_seconds")
    return vv::Status::InvalidArgument("replay.timestamp_format must be unix_epoch_seconds");
  if (c->service_identity.empty())
    return vv::Status::InvalidArgument("service_identity is required");
  if (c->nonce_length < 12 || c->nonce_length > 128)
    return vv::Status::InvalidArgument("replay.nonce_length must be 12..128");
  if (c->feedback_window_seconds < 1)
    return vv::Status::InvalidArgument("feedback.window_seconds must be >= 1");
  for (std::string* p : {&c->cert_path, &c->key_path, &c->ca_path, &c->private_key_path,
                         &c->spool_path, &c->feedback_replay_cache_path})
    *p = Resolve(base_dir, *p);
  for (auto& [kid, v] : c->feedback_verify_keys) {
    std::string resolved = Resolve(base_dir, v);
    if (resolved != v && std::filesystem::exists(resolved)) v = resolved;
  }
  return vv::Status::Ok();
}

vv::Status SplitEndpoint(const std::string& url, std::string* host, uint16_t* port,
                         std::string* base_path) {
  std::string_view u = vv::StripAsciiWhitespace(url);
  constexpr std::string_view kHttps = "https://";
  if (u.size() < kHttps.size() || vv::ToLowerAscii(u.substr(0, kHttps.size())) != kHttps)
    return vv::Status::InvalidArgument("endpoint must be an https:// URL, got '" + url + "'");
  u.remove_prefix(kHttps.size());
  size_t slash = u.find('/');
  std::string_view authority = u.substr(0, slash);
  std::string path = slash == std::string_view::npos ? "" : std::string(u.substr(slash));
  vv::HostPort hp;
  if (vv::HostPortError e = vv::SplitAuthority(authority, 443, &hp); e != vv::HostPortError::kNone)
    return vv::Status::InvalidArgument(std::string("bad endpoint '") + url +
                                       "': " + vv::HostPortErrorText(e));
  *host = std::move(hp.host);
  *port = hp.port;
  while (!path.empty() && path.back() == '/') path.pop_back();
  for (std::string_view suffix : {"/internal/v1/telemetry", "/internal/v1"}) {
    if (path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(),
                                                     suffix.data(), suffix.size()) == 0) {
      path.resize(path.size() - suffix.size());
      break;
    }
  }
  *base_path = path;
  return vv::Status::Ok();
}

vv::Result<ProducerConfig> Parse(std::string_view yaml_text, const Environment& env,
                                 const std::string& base_dir) {
  ProducerConfig c;
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    VV_RETURN_IF_ERROR(ParseYaml(root, &c));
  } catch (const std::exception& e) {
    return vv::Status::InvalidArgument(std::string("invalid YAML: ") + e.what());
  }
  VV_RETURN_IF_ERROR(ApplyEnv(env, &c));
  VV_RETURN_IF_ERROR(Validate(&c, base_dir));
  return c;
}

}  // namespace

Status ParseEndpoint(const std::string& url, std::string* host, uint16_t* port,
                     std::string* base_path) {
  return Public(SplitEndpoint(url, host, port, base_path));
}

Result<ProducerConfig> ParseProducerConfig(std::string_view yaml_text, const Environment& env,
                                           const std::string& base_dir) {
  return Public(Parse(yaml_text, env, base_dir));
}

Result<ProducerConfig> LoadProducerConfig(const std::string& path, const Environment& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, "cannot read config file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string dir = std::filesystem::path(path).parent_path().string();
  auto c = ParseProducerConfig(ss.str(), env, dir);
  if (!c.ok()) return Status(c.status().code(), path + ": " + c.status().message());
  return c;
}

Environment ProcessEnvironment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    if (kv.substr(0, 10) != "VECTORVUE_") continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

}  // namespace spectrastrike

#include "config/engine_config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>

#include "common/encoding.h"
#include "common/logging.h"
#include "crypto/crypto.h"
#include "json/json.h"

namespace vv::config {

namespace {

constexpr char kEngineSection[] = "vectorvue.evidence_engine";
constexpr char kGatewaySection[] = "vectorvue.telemetry_gateway";

Status Invalid(std::string m) { return Status::InvalidArgument(std::move(m)); }

std::string Trim(std::string_view s) { return std::string(StripAsciiWhitespace(s)); }

Result<std::string> Scalar(const YAML::Node& v, const std::string& key) {
  if (!v.IsScalar()) {
    if (v.IsNull()) return std::string();
    return Invalid(key + " must be a scalar");
  }
  return Trim(v.Scalar());
}

Result<int64_t> Int(const YAML::Node& v, const std::string& key) {
  auto s = Scalar(v, key);
  if (!s.ok()) return s.status();
  return ParseIntSetting(*s, key);
}

std::string NormalizeBackend(std::string s) {
  s = ToLowerAscii(Trim(s));
  return s;
}

Status ReadGatewaySection(const YAML::Node& sec, const std::string& base_dir, EngineConfig* cfg) {
  for (auto it = sec.begin(); it != sec.end(); ++it) {
    const std::string k = it->first.Scalar();
    const YAML::Node v = it->second;  // a copy: it->second lives in a temporary proxy
    const std::string key = std::string(kGatewaySection) + "." + k;
    auto set_str = [&](std::string* out, bool path) -> Status {
      auto s = Scalar(v, key);
      if (!s.ok()) return s.status();
      *out = path ? ResolveConfigPath(*s, base_dir) : *s;
      return Status::Ok();
    };
    if (k == "queue_backend") {
      VV_RETURN_IF_ERROR(set_str(&cfg->queue_backend, false));
      cfg->queue_backend = NormalizeBackend(cfg->queue_backend);
    } else if (k == "queue_path") {
      VV_RETURN_IF_ERROR(set_str(&cfg->queue_path, true));
    } else if (k == "nats_url") {
      VV_RETURN_IF_ERROR(set_str(&cfg->nats_url, false));
    } else if (k == "queue_subject") {
      VV_RETURN_IF_ERROR(set_str(&cfg->queue_subject, false));
    } else if (k == "dlq_subject") {
      VV_RETURN_IF_ERROR(set_str(&cfg->dlq_subject, false));
    } else if (k == "audit_log_path") {
      VV_RETURN_IF_ERROR(set_str(&cfg->gateway_audit_log_path, true));
    } else if (k == "nats_creds_file") {
      VV_RETURN_IF_ERROR(set_str(&cfg->nats_creds_file, true));
    } else if (k == "nats_tls_ca_path") {
      VV_RETURN_IF_ERROR(set_str(&cfg->nats_tls_ca_path, true));
    } else if (k == "profile") {
      VV_RETURN_IF_ERROR(set_str(&cfg->profile, false));
      cfg->profile = NormalizeBackend(cfg->profile);
    } else if (k == "operator_tenant_map") {
      if (v.IsNull()) continue;
      if (!v.IsMap()) return Invalid(key + " must be a mapping operator_id -> tenant UUID");
      cfg->operator_tenant_map.clear();
      for (auto m = v.begin(); m != v.end(); ++m) {
        auto t = Scalar(m->second, key);
        if (!t.ok()) return t.status();
        cfg->operator_tenant_map[Trim(m->first.Scalar())] = ToLowerAscii(*t);  // canonical tenant
      }
    }
  }
  return Status::Ok();
}

Status ReadEngineSection(const YAML::Node& sec, const std::string& base_dir, EngineConfig* cfg) {
  std::vector<std::string> unknown;
  std::set<std::string> seen;
  for (auto it = sec.begin(); it != sec.end(); ++it) {
    const std::string k = it->first.Scalar();
    const YAML::Node v = it->second;  // a copy: it->second lives in a temporary proxy
    const std::string key = std::string(kEngineSection) + "." + k;
    if (!seen.insert(k).second) return Invalid(key + " is duplicated");
    auto str = [&](std::string* out) -> Status {
      auto s = Scalar(v, key);
      if (!s.ok()) return s.status();
      *out = *s;
      return Status::Ok();
    };
    auto path = [&](std::string* out) -> Status {
      VV_RETURN_IF_ERROR(str(out));
      *out = ResolveConfigPath(*out, base_dir);
      return Status::Ok();
    };
    auto integer = [&](int64_t* out) -> Status {
      auto i = Int(v, key);
      if (!i.ok()) return i.status();
      *out = *i;
      return Status::Ok();
    };
    Status s;
    if (k == "log_level") {
      s = str(&cfg->log_level);
    } else if (k == "log_format") {
      s = str(&cfg->log_format);
    } else if (k == "store_backend") {
      s = str(&cfg->store_backend);
      cfg->store_backend = NormalizeBackend(cfg->store_backend);
    } else if (k == "store_path") {
      s = path(&cfg->store_path);
    } else if (k == "postgres_url") {
      s = str(&cfg->postgres_url);
    } else if (k == "root_key_provider") {
      s = str(&cfg->root_key_provider);
      cfg->root_key_provider = NormalizeBackend(cfg->root_key_provider);
    } else if (k == "root_key_id") {
      s = str(&cfg->root_key_id);
    } else if (k == "root_key_file") {
      s = path(&cfg->root_key_file);
    } else if (k == "pkcs11_module") {
      s = path(&cfg->pkcs11_module);
    } else if (k == "pkcs11_token_label") {
      s = str(&cfg->pkcs11_token_label);
    } else if (k == "pkcs11_pin_env") {
      s = str(&cfg->pkcs11_pin_env);
    } else if (k == "pkcs11_pin_file") {
      s = path(&cfg->pkcs11_pin_file);
    } else if (k == "audit_log_path") {
      s = path(&cfg->audit_log_path);
    } else if (k == "audit_seal_every") {
      s = integer(&cfg->audit_seal_every);
    } else if (k == "audit_seal_key_path") {
      s = path(&cfg->audit_seal_key_path);
    } else if (IsAuditSealPkcs11Key(k)) {
      std::string raw;
      s = str(&raw);
      if (s.ok()) s = ApplyAuditSealPkcs11Key(k, raw, base_dir, &cfg->audit_seal_pkcs11);
    } else if (k == "audit_fsync") {
      std::string f;
      s = str(&f);
      f = ToLowerAscii(f);
      if (s.ok()) {
        if (f == "none")
          cfg->audit_fsync = FsyncPolicy::kNone;
        else if (f == "batch")
          cfg->audit_fsync = FsyncPolicy::kBatch;
        else if (f == "always")
          cfg->audit_fsync = FsyncPolicy::kAlways;
        else
          s = Invalid(key + " must be none, batch or always");
      }
    } else if (k == "batch_size") {
      s = integer(&cfg->batch_size);
    } else if (k == "max_deliveries") {
      s = integer(&cfg->max_deliveries);
    } else if (k == "poll_interval_ms") {
      s = integer(&cfg->poll_interval_ms);
    } else if (k == "metrics_path") {
      s = path(&cfg->metrics_path);
    } else if (k == "metrics_interval_seconds") {
      s = integer(&cfg->metrics_interval_seconds);
    } else if (k == "jetstream_stream") {
      s = str(&cfg->jetstream_stream);
    } else if (k == "jetstream_dlq_stream") {
      s = str(&cfg->jetstream_dlq_stream);
    } else if (k == "jetstream_durable") {
      s = str(&cfg->jetstream_durable);
    } else if (k == "queue_verify_keys") {
      cfg->queue_verify_keys.clear();
      if (!v.IsMap()) {
        s = Invalid(key + " must be a mapping kid -> base64 Ed25519 public key");
      } else {
        for (auto m = v.begin(); m != v.end() && s.ok(); ++m) {
          auto b64 = Scalar(m->second, key);
          if (!b64.ok()) s = b64.status();
          else cfg->queue_verify_keys[Trim(m->first.Scalar())] = Trim(*b64);
        }
      }
    } else if (k == "allow_unsigned_queue_messages") {
      std::string b;
      s = str(&b);
      if (s.ok()) {
        auto parsed = ParseBoolSetting(b, key);
        if (!parsed.ok()) s = parsed.status();
        else cfg->allow_unsigned_queue_messages = *parsed;
      }
    } else {
      unknown.push_back(k);
    }
    VV_RETURN_IF_ERROR(s);
  }
  if (!unknown.empty()) {
    std::string list;
    for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + u;
    return Invalid("unknown key(s) in " + std::string(kEngineSection) + ": " + list);
  }
  return Status::Ok();
}

Status ApplyEngineEnv(const EnvLookup& env, EngineConfig* cfg) {
  if (!env) return Status::Ok();
  auto str = [&](const char* name, std::string* out) {
    if (auto v = env(name)) *out = Trim(*v);
  };
  if (auto v = env("VV_TG_QUEUE_BACKEND")) cfg->queue_backend = NormalizeBackend(*v);
  str("VV_TG_NATS_URL", &cfg->nats_url);
  str("VV_TG_QUEUE_SUBJECT", &cfg->queue_subject);
  str("VV_TG_DLQ_SUBJECT", &cfg->dlq_subject);
  str("VV_TAMPER_LOG_PATH", &cfg->gateway_audit_log_path);
  str("VV_EVIDENCE_LOG_LEVEL", &cfg->log_level);
  str("VV_EVIDENCE_LOG_FORMAT", &cfg->log_format);
  str("VV_EVIDENCE_STORE_BACKEND", &cfg->store_backend);
  str("VV_EVIDENCE_STORE_PATH", &cfg->store_path);
  str("VV_EVIDENCE_POSTGRES_URL", &cfg->postgres_url);
  str("VV_EVIDENCE_ROOT_KEY_PROVIDER", &cfg->root_key_provider);
  str("VV_EVIDENCE_ROOT_KEY_FILE", &cfg->root_key_file);
  str("VV_EVIDENCE_AUDIT_LOG_PATH", &cfg->audit_log_path);
  str("VV_EVIDENCE_AUDIT_SEAL_KEY_PATH", &cfg->audit_seal_key_path);
  if (auto v = env("VV_HSM_EVIDENCE_ROOT_KEY_ID"); v && !Trim(*v).empty()) {
    cfg->root_key_id = Trim(*v);
  }
  if (auto v = env("VV_TG_OPERATOR_TENANT_MAP")) {
    auto obj = json::Parse(*v);
    if (!obj.ok() || !obj->is_object())
      return Invalid("VV_TG_OPERATOR_TENANT_MAP must be a JSON object");
    cfg->operator_tenant_map.clear();
    for (const auto& [op, t] : obj->as_object()) {
      if (!t.is_string()) return Invalid("VV_TG_OPERATOR_TENANT_MAP values must be UUID strings");
      cfg->operator_tenant_map[Trim(op)] = ToLowerAscii(Trim(t.as_string()));
    }
  }
  if (auto v = env("VV_EVIDENCE_QUEUE_VERIFY_KEYS_JSON")) {
    auto obj = json::Parse(*v);
    if (!obj.ok() || !obj->is_object())
      return Invalid("VV_EVIDENCE_QUEUE_VERIFY_KEYS_JSON must be a JSON object kid -> base64 key");
    cfg->queue_verify_keys.clear();
    for (const auto& [kid, k] : obj->as_object()) {
      if (!k.is_string())
        return Invalid("VV_EVIDENCE_QUEUE_VERIFY_KEYS_JSON values must be base64 strings");
      cfg->queue_verify_keys[Trim(kid)] = Trim(k.as_string());
    }
  }
  if (cfg->queue_backend == "memory") cfg->queue_backend = "embedded";
  return Status::Ok();
}

}  // namespace

Status ValidateEngineConfig(const EngineConfig& cfg) {
  if (auto l = logging::ParseLevel(cfg.log_level); !l.ok())
    return Invalid("evidence_engine.log_level (VV_EVIDENCE_LOG_LEVEL): " + l.status().message());
  if (auto f = logging::ParseFormat(cfg.log_format); !f.ok())
    return Invalid("evidence_engine.log_format (VV_EVIDENCE_LOG_FORMAT): " +
                   f.status().message());
  if (cfg.queue_backend != "embedded" && cfg.queue_backend != "nats")
    return Invalid("telemetry_gateway.queue_backend must be embedded or nats");
  if (cfg.queue_backend == "embedded" && cfg.queue_path.empty())
    return Invalid("telemetry_gateway.queue_path must be set for the embedded queue");
  if (cfg.queue_backend == "nats" && cfg.nats_url.empty())
    return Invalid(
        "telemetry_gateway.nats_url (VV_TG_NATS_URL) is required for queue_backend nats");
  if (cfg.store_backend != "sqlite" && cfg.store_backend != "postgres")
    return Invalid("evidence_engine.store_backend must be sqlite or postgres");
  if (cfg.store_backend == "sqlite" && cfg.store_path.empty())
    return Invalid("evidence_engine.store_path must be set for store_backend sqlite");
  if (cfg.store_backend == "postgres" && cfg.postgres_url.empty())
    return Invalid(
        "evidence_engine.postgres_url (VV_EVIDENCE_POSTGRES_URL) is required for "
        "store_backend postgres");
  if (cfg.root_key_provider == "file") {
    if (cfg.root_key_file.empty())
      return Invalid("evidence_engine.root_key_file is required for root_key_provider file");
  } else if (cfg.root_key_provider == "pkcs11") {
    if (cfg.pkcs11_token_label.empty())
      return Invalid("evidence_engine.pkcs11_token_label is required for root_key_provider pkcs11");
    if (cfg.root_key_id.empty())
      return Invalid("evidence_engine.root_key_id is required for root_key_provider pkcs11");
    if (cfg.pkcs11_module.empty()) return Invalid("evidence_engine.pkcs11_module must be set");
  } else if (cfg.root_key_provider != "env") {
    return Invalid("evidence_engine.root_key_provider must be env, file or pkcs11");
  }
  if (cfg.operator_tenant_map.empty())
    return Invalid(
        "telemetry_gateway.operator_tenant_map is empty: the engine re-validates "
        "every envelope's tenant against it");
  for (const auto& [op, tenant] : cfg.operator_tenant_map) {
    if (op.empty() || !IsCanonicalUuid(tenant))
      return Invalid("operator_tenant_map values must be UUID strings (operator '" + op + "')");
  }
  if (cfg.audit_seal_every < 1) return Invalid("evidence_engine.audit_seal_every must be >= 1");
  if (!cfg.audit_seal_key_path.empty()) {
    Status k = crypto::CheckSecretFilePermissions(cfg.audit_seal_key_path);
    if (!k.ok()) return Status(k.code(), "evidence_engine.audit_seal_key_path: " + k.message());
  }
  VV_RETURN_IF_ERROR(ValidateAuditSealPkcs11(cfg.audit_seal_pkcs11, cfg.audit_seal_key_path,
                                             "vectorvue.evidence_engine"));
  if (cfg.batch_size < 1 || cfg.batch_size > 10000)
    return Invalid("evidence_engine.batch_size must be 1..10000");
  if (cfg.max_deliveries < 1) return Invalid("evidence_engine.max_deliveries must be >= 1");
  if (cfg.poll_interval_ms < 1 || cfg.poll_interval_ms > 60000)
    return Invalid("evidence_engine.poll_interval_ms must be 1..60000");
  if (cfg.metrics_interval_seconds < 1)
    return Invalid("evidence_engine.metrics_interval_seconds must be >= 1");
  for (const auto& [kid, b64] : cfg.queue_verify_keys) {
    if (kid.empty()) return Invalid("evidence_engine.queue_verify_keys: key ids must not be empty");
    if (!crypto::Ed25519PublicKey::FromBase64(b64).ok())
      return Invalid("evidence_engine.queue_verify_keys." + kid +
                     ": not a base64 32-byte Ed25519 public key");
  }
  if (cfg.store_backend != "postgres" && cfg.profile == "production")
    return Invalid(
        "evidence_engine.store_backend must be postgres in profile production (got '" +
        cfg.store_backend +
        "'): every engine and gateway replica must share one evidence and execution-graph "
        "store. Set store_backend: postgres and postgres_url (VV_EVIDENCE_STORE_BACKEND, "
        "VV_EVIDENCE_POSTGRES_URL)");
  if (cfg.allow_unsigned_queue_messages && cfg.profile == "production")
    return Invalid(
        "evidence_engine.allow_unsigned_queue_messages is forbidden in profile production");
  if (cfg.EffectiveAuditLogPath() == cfg.gateway_audit_log_path)
    return Invalid(
        "evidence_engine.audit_log_path must differ from the gateway's audit log "
        "(one writer per audit file)");
  return Status::Ok();
}

Result<EngineConfig> ParseEngineConfig(const std::string& yaml_text, const EnvLookup& env,
                                       const std::string& base_dir) {
  EngineConfig cfg;
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (!root.IsMap()) return Invalid("config: the top level must be a mapping");
    const YAML::Node vv = root["vectorvue"];
    if (!vv || !vv.IsMap()) return Invalid("config: missing mapping 'vectorvue'");
    const YAML::Node gw = vv["telemetry_gateway"];
    if (gw && gw.IsMap()) VV_RETURN_IF_ERROR(ReadGatewaySection(gw, base_dir, &cfg));
    const YAML::Node eng = vv["evidence_engine"];
    if (eng && !eng.IsNull()) {
      if (!eng.IsMap()) return Invalid(std::string(kEngineSection) + " must be a mapping");
      VV_RETURN_IF_ERROR(ReadEngineSection(eng, base_dir, &cfg));
    }
  } catch (const YAML::Exception& e) {
    return Invalid(std::string("config: invalid YAML: ") + e.what());
  } catch (const std::exception& e) {
    return Invalid(std::string("config: ") + e.what());
  }
  VV_RETURN_IF_ERROR(ApplyEngineEnv(env, &cfg));
  VV_RETURN_IF_ERROR(ValidateEngineConfig(cfg));
  return Result<EngineConfig>(std::move(cfg));  // explicit: see ParseGatewayConfig
}

Result<EngineConfig> LoadEngineConfig(const std::string& path, const EnvLookup& env) {
  auto text = crypto::ReadFileBytes(path);
  if (!text.ok()) return Status(text.status().code(), "config file: " + text.status().message());
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  std::string base_dir = ec ? std::string() : abs.parent_path().string();
  return ParseEngineConfig(*text, env, base_dir);
}

}  // namespace vv::config

#include "config/engine_config.h"
#include "config/listen_address.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>

#include "common/encoding.h"
#include "common/logging.h"
#include "crypto/crypto.h"
#include "json/json.h"
#include "config/config_table.h"

namespace vv::config {

namespace {

constexpr char kEngineSection[] = "vectorvue.evidence_engine";
constexpr char kGatewaySection[] = "vectorvue.telemetry_gateway";

Status Invalid(std::string m) { return Status::InvalidArgument(std::move(m)); }

std::string Trim(std::string_view s) { return std::string(StripAsciiWhitespace(s)); }

namespace t = table;
using E = EngineConfig;
using G = GatewayConfig;

// The gateway-section keys the engine shares, read through the gateway's own table rows (same
// YAML key, same environment variable, same parser), then copied here: one row per key, naming
// the gateway key once with the gateway field it fills and the engine field it is copied to.
struct SharedKey {
  const char* key;  // the gateway table's YAML key
  void (*copy)(const G& from, E* to);
};

template <auto kGatewayField, auto kEngineField>
void CopyField(const G& from, E* to) {
  to->*kEngineField = from.*kGatewayField;
}

constexpr SharedKey kSharedKeys[] = {
    {"queue_backend", CopyField<&G::queue_backend, &E::queue_backend>},
    {"queue_path", CopyField<&G::queue_path, &E::queue_path>},
    {"nats_url", CopyField<&G::nats_url, &E::nats_url>},
    {"nats_creds_file", CopyField<&G::nats_creds_file, &E::nats_creds_file>},
    {"nats_tls_ca_path", CopyField<&G::nats_tls_ca_path, &E::nats_tls_ca_path>},
    {"nats_tls_cert_path", CopyField<&G::nats_tls_cert_path, &E::nats_tls_cert_path>},
    {"nats_tls_key_path", CopyField<&G::nats_tls_key_path, &E::nats_tls_key_path>},
    {"nats_replicas", CopyField<&G::nats_replicas, &E::nats_replicas>},
    {"queue_subject", CopyField<&G::queue_subject, &E::queue_subject>},
    {"dlq_subject", CopyField<&G::dlq_subject, &E::dlq_subject>},
    {"operator_tenant_map", CopyField<&G::operator_tenant_map, &E::operator_tenant_map>},
    {"audit_log_path", CopyField<&G::audit_log_path, &E::gateway_audit_log_path>},
    {"profile", CopyField<&G::profile, &E::profile>},
};

const std::set<std::string>& SharedGatewayKeys() {
  static const std::set<std::string> kKeys = [] {
    std::set<std::string> keys;
    for (const SharedKey& k : kSharedKeys) keys.insert(k.key);
    return keys;
  }();
  return kKeys;
}

void CopyShared(const G& g, E* e) {
  for (const SharedKey& k : kSharedKeys) k.copy(g, e);
}

t::Key<E> Check(t::Key<E> k, std::function<bool(const E&)> bad, std::string msg) {
  return std::move(k).Check([bad, msg](const E& c, t::Violations* v) {
    if (bad(c)) v->Add(Invalid(msg));
  });
}

std::vector<t::Key<E>> EngineKeys() {
  std::vector<t::Key<E>> k;
  auto add = [&](t::Key<E> row) { k.push_back(std::move(row)); };
  // Shared with the gateway section (printed here, parsed by the gateway table).
  add(t::PrintOnly<E>("queue_backend", [](const E& c) { return std::string(Name(c.queue_backend)); }));
  add(t::PrintOnly<E>("queue_path",
                      [](const E& c) { return c.queue_backend == QueueBackend::kEmbedded ? c.queue_path : ""; }));
  add(t::PrintOnly<E>("nats_url", [](const E& c) { return RedactNatsServers(c.nats_url); }));
  add(t::PrintOnly<E>("operator_tenants",
                      [](const E& c) { return std::to_string(c.operator_tenant_map.size()); }));
  // vectorvue.evidence_engine.
  add(t::Enum<E>("store_backend", t::F(&E::store_backend), BackendNames<StoreBackend>::kNames,
                 "evidence_engine.store_backend must be sqlite or postgres")
          .Env({"VV_EVIDENCE_STORE_BACKEND"}));
  add(Check(t::Path<E>("store_path", t::F(&E::store_path))
                .Env({"VV_EVIDENCE_STORE_PATH"})
                .Print("store_path",
                       [](const E& c) { return c.store_backend == StoreBackend::kSqlite ? c.store_path : ""; }),
            [](const E& c) { return c.store_backend == StoreBackend::kSqlite && c.store_path.empty(); },
            "evidence_engine.store_path must be set for store_backend sqlite"));
  add(Check(t::Str<E>("postgres_url", t::F(&E::postgres_url)).Env({"VV_EVIDENCE_POSTGRES_URL"}).Url(),
            [](const E& c) { return c.store_backend == StoreBackend::kPostgres && c.postgres_url.empty(); },
            "evidence_engine.postgres_url (VV_EVIDENCE_POSTGRES_URL) is required for "
            "store_backend postgres"));
  add(t::Choice<E>("root_key_provider", t::F(&E::root_key_provider))
          .Env({"VV_EVIDENCE_ROOT_KEY_PROVIDER"})
          .Check([](const E& c, t::Violations* v) {
            if (c.root_key_provider == "file") {
              if (c.root_key_file.empty())
                v->Add(Invalid("evidence_engine.root_key_file is required for root_key_provider "
                               "file"));
            } else if (c.root_key_provider == "pkcs11") {
              if (c.pkcs11_token_label.empty())
                v->Add(Invalid("evidence_engine.pkcs11_token_label is required for "
                               "root_key_provider pkcs11"));
              if (c.root_key_id.empty())
                v->Add(Invalid("evidence_engine.root_key_id is required for root_key_provider "
                               "pkcs11"));
              if (c.pkcs11_module.empty())
                v->Add(Invalid("evidence_engine.pkcs11_module must be set"));
            } else if (c.root_key_provider != "env") {
              v->Add(Invalid("evidence_engine.root_key_provider must be env, file or pkcs11"));
            }
          }));
  {
    // The reference's variable names the active root key; an empty value is ignored.
    t::Key<E> row = t::Str<E>("root_key_id", t::F(&E::root_key_id));
    row.from_env = [](E& c, const std::string& text, const std::string&) {
      if (!Trim(text).empty()) c.root_key_id = Trim(text);
      return Status::Ok();
    };
    add(std::move(row).Env({"VV_HSM_EVIDENCE_ROOT_KEY_ID"}));
  }
  add(t::Path<E>("root_key_file", t::F(&E::root_key_file)).Env({"VV_EVIDENCE_ROOT_KEY_FILE"}));
  add(t::Path<E>("pkcs11_module", t::F(&E::pkcs11_module)).NoPrint());
  add(t::Str<E>("pkcs11_token_label", t::F(&E::pkcs11_token_label)));
  add(t::Str<E>("pkcs11_pin_env", t::F(&E::pkcs11_pin_env)).NoPrint());
  add(t::Path<E>("pkcs11_pin_file", t::F(&E::pkcs11_pin_file)));
  add(t::Path<E>("audit_log_path", t::F(&E::audit_log_path))
          .Env({"VV_EVIDENCE_AUDIT_LOG_PATH"})
          .Print("audit_log_path", [](const E& c) { return c.EffectiveAuditLogPath(); })
          .Check([](const E& c, t::Violations* v) {
            if (c.EffectiveAuditLogPath() == c.gateway_audit_log_path)
              v->Add(Invalid("evidence_engine.audit_log_path must differ from the gateway's audit "
                             "log (one writer per audit file)"));
          }));
  add(t::Custom<E>("audit_fsync",
                   [](E& c, const YAML::Node& v, const std::string& key,
                      const t::Source&) -> Status {
                     VV_ASSIGN_OR_RETURN(auto s, t::YamlScalar(v, key));
                     VV_ASSIGN_OR_RETURN(auto p, ParseFsyncPolicy(s, key));
                     c.audit_fsync = p;
                     return Status::Ok();
                   })
          .Print("audit_fsync", [](const E& c) { return std::string(FsyncPolicyName(c.audit_fsync)); }));
  add(t::Path<E>("audit_seal_key_path", t::F(&E::audit_seal_key_path))
          .Env({"VV_EVIDENCE_AUDIT_SEAL_KEY_PATH"})
          .Check([](const E& c, t::Violations* v) {
            if (c.audit_seal_key_path.empty()) return;
            Status s = crypto::CheckSecretFilePermissions(c.audit_seal_key_path);
            if (!s.ok())
              v->Add(Status(s.code(), "evidence_engine.audit_seal_key_path: " + s.message()));
          }));
  for (auto& row : AuditSealPkcs11Rows<E>(t::F(&E::audit_seal_pkcs11))) add(std::move(row));
  add(t::PrintOnly<E>("audit_seal_pkcs11_token",
                      [](const E& c) { return c.audit_seal_pkcs11.token_label; }));
  add(Check(t::Int<E>("audit_seal_every", t::F(&E::audit_seal_every)),
            [](const E& c) { return c.audit_seal_every < 1; },
            "evidence_engine.audit_seal_every must be >= 1"));
  add(Check(t::Int<E>("batch_size", t::F(&E::batch_size)),
            [](const E& c) { return c.batch_size < 1 || c.batch_size > 10000; },
            "evidence_engine.batch_size must be 1..10000"));
  add(Check(t::Int<E>("max_deliveries", t::F(&E::max_deliveries)),
            [](const E& c) { return c.max_deliveries < 1; },
            "evidence_engine.max_deliveries must be >= 1"));
  add(Check(t::Int<E>("poll_interval_ms", t::F(&E::poll_interval_ms)).NoPrint(),
            [](const E& c) { return c.poll_interval_ms < 1 || c.poll_interval_ms > 60000; },
            "evidence_engine.poll_interval_ms must be 1..60000"));
  add(Check(t::Int<E>("kek_cache_seconds", t::F(&E::kek_cache_seconds)),
            [](const E& c) { return c.kek_cache_seconds < 0 || c.kek_cache_seconds > 86400; },
            "evidence_engine.kek_cache_seconds must be 0..86400 (0 = no KEK cache)"));
  add(t::Path<E>("metrics_path", t::F(&E::metrics_path)));
  add(t::Str<E>("probe_listen", t::F(&E::probe_listen)).Check([](const E& c, t::Violations* v) {
    if (Status s = CheckListenAddress("evidence_engine.probe_listen", c.probe_listen, false);
        !s.ok())
      v->Add(std::move(s));
  }));
  add(Check(t::Int<E>("metrics_interval_seconds", t::F(&E::metrics_interval_seconds)).NoPrint(),
            [](const E& c) { return c.metrics_interval_seconds < 1; },
            "evidence_engine.metrics_interval_seconds must be >= 1"));
  add(t::Str<E>("jetstream_stream", t::F(&E::jetstream_stream)).NoPrint());
  add(t::Str<E>("jetstream_dlq_stream", t::F(&E::jetstream_dlq_stream)).NoPrint());
  add(t::Str<E>("jetstream_durable", t::F(&E::jetstream_durable)).NoPrint());
  add(Check(t::Int<E>("jetstream_ack_wait_seconds", t::F(&E::jetstream_ack_wait_seconds)),
            [](const E& c) {
              return c.jetstream_ack_wait_seconds < 0 || c.jetstream_ack_wait_seconds > 86400;
            },
            "evidence_engine.jetstream_ack_wait_seconds must be 0..86400 (0 = default)"));
  add(Check(t::Int<E>("queue_retention_seconds", t::F(&E::queue_retention_seconds)),
            [](const E& c) { return c.queue_retention_seconds < 0; },
            "evidence_engine.queue_retention_seconds must be >= 0 (0 = keep forever)"));
  add(t::Custom<E>(
          "queue_verify_keys",
          [](E& c, const YAML::Node& v, const std::string& key, const t::Source&) -> Status {
            c.queue_verify_keys.clear();
            if (!v.IsMap())
              return Invalid(key + " must be a mapping kid -> base64 Ed25519 public key");
            for (auto m = v.begin(); m != v.end(); ++m) {
              VV_ASSIGN_OR_RETURN(auto b64, t::YamlScalar(m->second, key));
              c.queue_verify_keys[Trim(m->first.Scalar())] = Trim(b64);
            }
            return Status::Ok();
          },
          [](E& c, const std::string& text, const std::string& var) -> Status {
            auto obj = json::Parse(text);
            if (!obj.ok() || !obj->is_object())
              return Invalid(var + " must be a JSON object kid -> base64 key");
            c.queue_verify_keys.clear();
            for (const auto& [kid, key] : obj->as_object()) {
              if (!key.is_string()) return Invalid(var + " values must be base64 strings");
              c.queue_verify_keys[Trim(kid)] = Trim(key.as_string());
            }
            return Status::Ok();
          })
          .Env({"VV_EVIDENCE_QUEUE_VERIFY_KEYS_JSON"})
          .Check([](const E& c, t::Violations* v) {
            for (const auto& [kid, b64] : c.queue_verify_keys) {
              if (kid.empty())
                v->Add(Invalid("evidence_engine.queue_verify_keys: key ids must not be empty"));
              else if (!crypto::Ed25519PublicKey::FromBase64(b64).ok())
                v->Add(Invalid("evidence_engine.queue_verify_keys." + kid +
                               ": not a base64 32-byte Ed25519 public key"));
            }
          }));
  add(Check(t::Bool<E>("allow_unsigned_queue_messages", t::F(&E::allow_unsigned_queue_messages))
                .NoPrint(),
            [](const E& c) { return c.allow_unsigned_queue_messages && c.profile == "production"; },
            "evidence_engine.allow_unsigned_queue_messages is forbidden in profile production"));
  add(t::Str<E>("log_level", t::F(&E::log_level))
          .Env({"VV_EVIDENCE_LOG_LEVEL"})
          .Check([](const E& c, t::Violations* v) {
            if (auto l = logging::ParseLevel(c.log_level); !l.ok())
              v->Add(Invalid("evidence_engine.log_level (VV_EVIDENCE_LOG_LEVEL): " +
                             l.status().message()));
          }));
  add(t::Str<E>("log_format", t::F(&E::log_format))
          .Env({"VV_EVIDENCE_LOG_FORMAT"})
          .Check([](const E& c, t::Violations* v) {
            if (auto f = logging::ParseFormat(c.log_format); !f.ok())
              v->Add(Invalid("evidence_engine.log_format (VV_EVIDENCE_LOG_FORMAT): " +
                             f.status().message()));
          }));
  return k;
}

// Checks of the shared gateway keys as the engine uses them.
void SharedRules(const E& cfg, t::Violations* v) {
  if (Name(cfg.queue_backend).empty())
    v->Add(Invalid("telemetry_gateway.queue_backend must be embedded or nats"));
  if (cfg.queue_backend == QueueBackend::kEmbedded && cfg.queue_path.empty())
    v->Add(Invalid("telemetry_gateway.queue_path must be set for the embedded queue"));
  if (cfg.queue_backend == QueueBackend::kNats && cfg.nats_url.empty())
    v->Add(Invalid("telemetry_gateway.nats_url (VV_TG_NATS_URL) is required for queue_backend "
                   "nats"));
  if (cfg.queue_backend == QueueBackend::kNats) {
    for (const Status& s : {CheckNatsServerList(cfg.nats_url), CheckNatsReplicas(cfg.nats_replicas),
                            CheckNatsClientCertPair(cfg.nats_tls_cert_path, cfg.nats_tls_key_path)})
      if (!s.ok()) v->Add(Invalid("telemetry_gateway." + s.message()));
  }
  if (cfg.store_backend != StoreBackend::kPostgres && cfg.profile == "production")
    v->Add(Invalid(
        "evidence_engine.store_backend must be postgres in profile production (got '" +
        std::string(Name(cfg.store_backend)) +
        "'): every engine and gateway replica must share one evidence and execution-graph "
        "store. Set store_backend: postgres and postgres_url (VV_EVIDENCE_STORE_BACKEND, "
        "VV_EVIDENCE_POSTGRES_URL)"));
  if (cfg.operator_tenant_map.empty())
    v->Add(Invalid("telemetry_gateway.operator_tenant_map is empty: the engine re-validates "
                   "every envelope's tenant against it"));
  for (const auto& [op, tenant] : cfg.operator_tenant_map)
    if (op.empty() || !IsCanonicalUuid(tenant))
      v->Add(Invalid("operator_tenant_map values must be UUID strings (operator '" + op + "')"));
  v->Add(ValidateAuditSealPkcs11(cfg.audit_seal_pkcs11, cfg.audit_seal_key_path,
                                 "vectorvue.evidence_engine"));
}

}  // namespace

const table::Table<EngineConfig>& EngineTable() {
  static const table::Table<EngineConfig> kTable(kEngineSection, EngineKeys(), {SharedRules});
  return kTable;
}

Status ValidateEngineConfig(const EngineConfig& cfg) {
  return EngineTable().Validate(cfg).ToStatus();
}

Result<EngineConfig> ParseEngineKeys(const std::string& yaml_text, const EnvLookup& env,
                                     const std::string& base_dir,
                                     const std::set<std::string>& only, EngineConfig start) {
  EngineConfig cfg = std::move(start);
  t::Violations errors;
  GatewayConfig shared;
  const t::Source engine_src{base_dir, std::string(kEngineSection) + "."};
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (root && !root.IsNull()) {
      if (!root.IsMap()) return Invalid("config: the top level must be a mapping");
      const YAML::Node vv = root["vectorvue"];
      if ((!vv || !vv.IsMap()) && only.empty())
        return Invalid("config: missing mapping 'vectorvue'");
      // With `only`, a file without the sections leaves the defaults (and the environment).
      const YAML::Node gw = vv && vv.IsMap() ? vv["telemetry_gateway"] : YAML::Node();
      if (only.empty() && gw && gw.IsMap())
        GatewayTable().ApplyYaml(gw, t::Source{base_dir, std::string(kGatewaySection) + "."},
                                 &shared, &errors, SharedGatewayKeys());
      const YAML::Node eng = vv && vv.IsMap() ? vv["evidence_engine"] : YAML::Node();
      if (eng && !eng.IsNull()) {
        if (!eng.IsMap()) return Invalid(std::string(kEngineSection) + " must be a mapping");
        EngineTable().ApplyYaml(eng, engine_src, &cfg, &errors, only);
      }
    } else if (only.empty()) {
      return Invalid("config: the top level must be a mapping");
    }
  } catch (const YAML::Exception& e) {
    return Invalid(std::string("config: invalid YAML: ") + e.what());
  } catch (const std::exception& e) {
    return Invalid(std::string("config: ") + e.what());
  }
  if (only.empty()) GatewayTable().ApplyEnv(env, &shared, &errors, SharedGatewayKeys());
  EngineTable().ApplyEnv(env, &cfg, &errors, only);
  if (!errors.empty()) return errors.ToStatus();
  if (only.empty()) CopyShared(shared, &cfg);
  return Result<EngineConfig>(std::move(cfg));  // explicit: see ParseGatewayConfig
}

Result<EngineConfig> ParseEngineConfig(const std::string& yaml_text, const EnvLookup& env,
                                       const std::string& base_dir) {
  VV_ASSIGN_OR_RETURN(auto cfg, ParseEngineKeys(yaml_text, env, base_dir, {}, EngineConfig()));
  VV_RETURN_IF_ERROR(ValidateEngineConfig(cfg));
  return Result<EngineConfig>(std::move(cfg));
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

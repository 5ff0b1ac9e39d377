#pragma once
// Typed configuration of the processing + evidence engine (vv-engine, vv-evidence): the
// `vectorvue.evidence_engine` section of the same YAML file as the gateway, plus the keys of
// `vectorvue.telemetry_gateway` the engine shares with the gateway (queue_backend, queue_path,
// nats_url, queue_subject, dlq_subject, operator_tenant_map, audit_log_path). The gateway
// section is read leniently here (the gateway validates its own section; its other keys are
// ignored); unknown keys in evidence_engine are an error. Environment overrides: the
// gateway's VV_TG_QUEUE_BACKEND, VV_TG_NATS_URL, VV_TG_QUEUE_SUBJECT, VV_TG_DLQ_SUBJECT,
// VV_TG_OPERATOR_TENANT_MAP, VV_TAMPER_LOG_PATH, plus VV_EVIDENCE_* (see ApplyEngineEnv) and
// the reference's VV_HSM_EVIDENCE_ROOT_KEY_ID (active root key id). Relative paths resolve
// against the config file's directory. Built once, then shared read-only.

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "common/status.h"
#include "config/gateway_config.h"
#include "pkcs11/defaults.h"

namespace vv::config {

struct EngineConfig {
  // Logging (issue 16): evidence_engine.log_level / log_format, VV_EVIDENCE_LOG_LEVEL /
  // VV_EVIDENCE_LOG_FORMAT; a --log-level flag wins over both.
  std::string log_level = "info";
  std::string log_format = "text";
  // --- shared with the gateway section ---
  QueueBackend queue_backend = QueueBackend::kEmbedded;
  std::string queue_path = "vv-queue.db";
  std::string nats_url;
  std::string nats_creds_file;   // shared with the gateway: NATS credentials (JWT + NKey seed)
  std::string nats_tls_ca_path;  // shared with the gateway: TLS to NATS verified against it
  std::string nats_tls_cert_path;  // shared with the gateway: mutual TLS client certificate
  std::string nats_tls_key_path;   // and its key
  // Shared with the gateway: replicas of the JetStream streams the engine also creates or
  // verifies (a different value would make one of them resize the other's streams).
  int64_t nats_replicas = 1;
  std::string queue_subject = "vectorvue.telemetry.ingest";
  std::string dlq_subject = "vectorvue.telemetry.dlq";
  std::map<std::string, std::string> operator_tenant_map;
  std::string gateway_audit_log_path = "vv-audit.jsonl";

  // --- vectorvue.evidence_engine ---
  StoreBackend store_backend = StoreBackend::kSqlite;
  std::string store_path = "vv-evidence.db";
  std::string postgres_url;               // env VV_EVIDENCE_POSTGRES_URL
  std::string root_key_provider = "env";  // env | file | pkcs11
  // Active root key id ("" = provider default: VV_HSM_EVIDENCE_ROOT_KEY_ID or
  // vv-evidence-root-v1 for env/file; required for pkcs11).
  std::string root_key_id;
  std::string root_key_file;  // file provider (mode 0400/0600)
  std::string pkcs11_module = pkcs11::kDefaultModule;
  std::string pkcs11_token_label;
  std::string pkcs11_pin_env = "VV_PKCS11_PIN";  // name of the env var holding the user PIN
  std::string pkcs11_pin_file;                   // or a file (0400/0600) holding it
  // The engine's own tamper-evident audit log ("" = <gateway audit_log_path>.engine.jsonl).
  std::string audit_log_path;
  int64_t audit_seal_every = 50;
  FsyncPolicy audit_fsync = FsyncPolicy::kBatch;
  // Signed seals of the engine's audit log: an Ed25519 key file (0400/0600;
  // VV_EVIDENCE_AUDIT_SEAL_KEY_PATH) or a key pair in a PKCS#11 token (audit_seal_pkcs11_*);
  // neither = unsigned checkpoints (development only).
  std::string audit_seal_key_path;
  AuditSealPkcs11Config audit_seal_pkcs11;
  int64_t batch_size = 500;        // messages per fetch (and per store transaction), 1..10000
  int64_t max_deliveries = 5;      // deliveries before a message is dead-lettered, >= 1
  int64_t poll_interval_ms = 200;  // idle wait between fetches, 1..60000
  // Per-tenant KEK cache (evidence/kek_cache.h): a derived KEK is reused for this long (by
  // tenant and root key id, at most 1024 entries, wiped on eviction), so an HSM is asked once
  // per tenant per period instead of once per payload. 0 = off (every payload derives).
  int64_t kek_cache_seconds = 300;
  std::string metrics_path;        // "" = no metrics file (Prometheus text, rewritten)
  int64_t metrics_interval_seconds = 10;
  // Probe and scrape listener (issue 14): unauthenticated, read-only plain HTTP serving only
  // GET /livez, /readyz and /metrics, on any address (host:port); "" or "off" = none.
  std::string probe_listen;
  std::string jetstream_stream = "VV_TELEMETRY";
  std::string jetstream_dlq_stream = "VV_TELEMETRY_DLQ";
  std::string jetstream_durable = "vv-evidence-engine";
  // How long JetStream holds a message delivered to an engine that does not ack it (a crashed
  // engine) before redelivering it to another engine; 0 = the server default (30 s).
  int64_t jetstream_ack_wait_seconds = 0;
  // Embedded queue retention (issue 14): acked ingest rows (processed plaintext bodies) are
  // deleted this long after their ack; 0 = kept forever. Unacked rows are never deleted.
  int64_t queue_retention_seconds = 7 * 24 * 3600;
  // Queue envelope authentication (issue 12): the gateway's queue signing public keys,
  // kid -> base64 Ed25519 public key (queue_verify_keys / VV_EVIDENCE_QUEUE_VERIFY_KEYS_JSON);
  // several kids for rotation. Envelopes not signed by one of them are dead-lettered.
  std::map<std::string, std::string> queue_verify_keys;
  // Development only (refused with the gateway section's profile: production): accept
  // envelopes carrying no signature at all. Start-up refuses neither keys nor this flag.
  bool allow_unsigned_queue_messages = false;
  std::string profile = "development";  // the gateway section's profile

  // The engine audit log path with the default applied.
  std::string EffectiveAuditLogPath() const {
    return audit_log_path.empty() ? gateway_audit_log_path + ".engine.jsonl" : audit_log_path;
  }
};

// The key table of vectorvue.evidence_engine (config_table.h). The keys shared with the gateway
// section are read through the gateway's table (GatewayTable), so each is declared once.
const table::Table<EngineConfig>& EngineTable();

// Only the evidence_engine rows named in `only` (YAML then environment; not validated), for a
// component that needs a few engine settings (the gateway's graph store); `only` empty = the
// whole section plus the shared gateway keys, still unvalidated (ParseEngineConfig validates).
// Values not configured keep those of `start` (e.g. "" to tell "not set" from the default).
Result<EngineConfig> ParseEngineKeys(const std::string& yaml_text, const EnvLookup& env,
                                     const std::string& base_dir,
                                     const std::set<std::string>& only, EngineConfig start);

// Loads `path`, applies environment overrides, validates. Errors name the key (all of them).
Result<EngineConfig> LoadEngineConfig(const std::string& path, const EnvLookup& env);
Result<EngineConfig> ParseEngineConfig(const std::string& yaml_text, const EnvLookup& env,
                                       const std::string& base_dir);
Status ValidateEngineConfig(const EngineConfig& cfg);

}  // namespace vv::config

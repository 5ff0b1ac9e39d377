#pragma once
// Typed configuration of the telemetry gateway: the `vectorvue.telemetry_gateway` section of
// the YAML file (manual section 10 plus our additions), overridden by the VV_TG_* / VV_*
// environment variables of wire-contract 4.1. Built once at start-up, validated as a whole
// (insecure or inconsistent combinations refuse to start, naming the key), then shared
// read-only (std::shared_ptr<const GatewayConfig>).

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "config/audit_seal_key.h"
#include "config/backends.h"
#include "config/config_table.h"
#include "crypto/crypto.h"

namespace vv::config {

inline constexpr size_t kMaxReplicaIdLength = 32;
// The audit origin of a gateway without replica_id (audit::kDefaultCheckpointOrigin) and the
// prefix of one derived from replica_id.
inline constexpr std::string_view kSingleReplicaAuditOrigin = "vectorvue.local/audit-log";
inline constexpr std::string_view kAuditOriginPrefix = "vectorvue.local/audit-log/";
// Replaced by replica_id in audit_log_path (one config file for every replica).
inline constexpr std::string_view kReplicaIdPlaceholder = "{replica_id}";

// One Ed25519 verify key an identity may sign with (key rotation = several active kids).
struct SigningKey {
  std::string kid;
  crypto::Ed25519PublicKey key;
};

// A service identity of the allowlist: its pinned certificate fingerprints (SHA-256 of the
// DER certificate, lowercase hex; more than one during certificate rotation) and the keys
// its request signatures may verify with, and the operators (hence, through
// operator_tenant_map, the tenants) it may act for (issue 12 item 2: a valid producer
// certificate alone must not let one producer write, read or steer another's tenant).
struct ServiceIdentity {
  std::string id;
  std::vector<std::string> cert_sha256_pins;
  std::vector<SigningKey> signing_keys;
  // YAML `operators: [...]` / env JSON "operators": [...]. Empty = not bound: refused at
  // start-up in the production profile; in development it may act for any operator (the
  // pre-issue-12 behaviour) and start-up logs a warning (GatewayConfigWarnings).
  std::vector<std::string> operators;

  bool Unbound() const { return operators.empty(); }
  // True when this identity may act for `operator_id` (always when Unbound()).
  bool MayActFor(std::string_view operator_id) const;
};

enum class FsyncPolicy { kNone, kBatch, kAlways };

struct TlsConfig {
  std::string cert_path;
  std::string key_path;
  std::string ca_path;
  std::string crl_path;  // optional ("" = none)
};

struct GatewayConfig {
  // Listener.
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8443;
  TlsConfig tls;
  // io threads. 0 = automatic (EffectiveWorkerThreads): one per core, two per core when the
  // nonce or rate state is in Redis - each request then waits on a Redis round trip with its
  // io thread (hiredis, synchronous), and the second thread per core keeps the core busy
  // meanwhile (measured, issue 15: -27 to -33 % gateway CPU per request, +34 to 46 % req/s;
  // with in-process state the extra threads cost 10-20 %).
  int worker_threads = 0;
  size_t max_body_bytes = 1048576; // 1 MiB (413 above); also the batch endpoint's byte limit
  size_t batch_max_events = 1000;  // events per POST .../telemetry/batch (413 above)
  size_t max_header_bytes = 16384;
  size_t max_header_count = 64;
  int header_timeout_seconds = 10; // time to receive a complete request head
  int idle_timeout_seconds = 60;   // keep-alive idle
  int body_timeout_seconds = 30;
  size_t max_connections = 1024;
  // Issue 12 item 4: TLS handshake deadline, and the pool of connections that have not
  // completed their handshake (oldest evicted when full, so idle sockets cannot exhaust
  // max_connections). 0 = automatic: a quarter of max_connections, resp. half of the pool.
  int handshake_timeout_seconds = 5;
  size_t max_pending_handshakes = 0;
  size_t max_pending_handshakes_per_source = 0;
  int EffectiveWorkerThreads(unsigned cores) const {
    if (worker_threads > 0) return worker_threads;
    const bool redis_state =
        nonce_backend == StateBackend::kRedis || rate_limit_backend == StateBackend::kRedis;
    return static_cast<int>(std::max(cores, 1u)) * (redis_state ? 2 : 1);
  }
  size_t EffectiveMaxPendingHandshakes() const {
    return max_pending_handshakes != 0 ? max_pending_handshakes
                                       : std::max<size_t>(1, max_connections / 4);
  }
  size_t EffectiveMaxPendingHandshakesPerSource() const {
    return max_pending_handshakes_per_source != 0
               ? max_pending_handshakes_per_source
               : std::max<size_t>(1, EffectiveMaxPendingHandshakes() / 2);
  }

  // Security policy.
  bool require_mtls = true;
  bool require_payload_signature = true;
  bool insecure_dev_mode = false;  // allows disabling the two flags above; logged loudly
  std::string profile = "development";  // "production" forbids embedded/memory backends

  int64_t allowed_clock_skew_seconds = 30;
  int64_t nonce_ttl_seconds = 120;
  StateBackend nonce_backend = StateBackend::kMemory;
  StateBackend rate_limit_backend = StateBackend::kMemory;
  int64_t rate_limit_per_minute = 120;
  // Issue 12 item 5: rejected-but-authenticated requests of one identity per sliding minute
  // (same backend as the rate limiter); past it that identity's rejections become 429
  // rejection_budget_exceeded, and a backend that cannot decide gives 503. 0 = no budget.
  int64_t rejection_budget_per_minute = 600;
  std::string redis_url;
  // rediss:// (TLS): the CA that signed the Redis server certificate (redis_tls_ca_path /
  // VV_TG_REDIS_TLS_CA_PATH); required with rediss://.
  std::string redis_tls_ca_path;
  // Redis AUTH password for the user named in redis_url (redis://user@host): the contents of
  // redis_password_file (VV_TG_REDIS_PASSWORD_FILE, mode 0400/0600) or VV_TG_REDIS_PASSWORD.
  // Either one wins over a password inside redis_url (refused by the policy gate in
  // production). Sentinels that require AUTH (redis-sentinel:// URLs): the same pair
  // redis_sentinel_password_file / VV_TG_REDIS_SENTINEL_PASSWORD(_FILE), with the optional
  // ACL user redis_sentinel_username (VV_TG_REDIS_SENTINEL_USERNAME).
  std::string redis_password_file;
  std::string redis_password;  // VV_TG_REDIS_PASSWORD only (never in YAML)
  std::string redis_sentinel_password_file;
  std::string redis_sentinel_password;  // VV_TG_REDIS_SENTINEL_PASSWORD only
  std::string redis_sentinel_username;

  // Identities and keys. `default_signing_keys` comes from
  // spectrastrike_ed25519_public_key_b64 / VV_TG_SPECTRASTRIKE_ED25519_PUBKEY and applies to
  // identities that list no keys of their own.
  std::vector<ServiceIdentity> identities;
  // identities_file / VV_TG_IDENTITIES_FILE: the machine-owned JSON file the identities are
  // read from instead (config/identities_file.h; `vvctl identity` rewrites it). "" = inline.
  std::string identities_file;
  std::vector<SigningKey> default_signing_keys;
  // Federation bundle verify keys (VV_FEDERATION_SPECTRASTRIKE_ED25519_PUBKEY /
  // federation_ed25519_public_key_b64); empty = use default_signing_keys (reference fallback).
  std::vector<SigningKey> federation_signing_keys;
  std::map<std::string, std::string> operator_tenant_map;  // operator_id -> tenant uuid

  // Schema policy.
  bool enforce_schema_version = true;
  std::vector<std::string> allowed_schema_versions = {"1.0"};
  std::string mitre_catalog_dir;  // directory with enterprise-attack-*.tsv; "" = built-in path

  // Logging (issue 16): trace|debug|info|warn|error|critical|off; text | json lines.
  // VV_TG_LOG_LEVEL / VV_TG_LOG_FORMAT; a --log-level flag wins over both.
  std::string log_level = "info";
  std::string log_format = "text";

  // Queue.
  QueueBackend queue_backend = QueueBackend::kEmbedded;
  std::string queue_path = "vv-queue.db";
  std::string nats_url;
  std::string queue_subject = "vectorvue.telemetry.ingest";
  std::string dlq_subject = "vectorvue.telemetry.dlq";
  // JetStream streams (created or verified at start-up; file storage).
  std::string nats_stream = "VV_TELEMETRY";
  std::string nats_dlq_stream = "VV_TELEMETRY_DLQ";
  int64_t nats_replicas = 1;
  // true: each publish is written to the NATS socket at once (lowest latency on an idle
  // gateway); false (default): nats.c's flusher writes what a millisecond gathered in one go -
  // up to 1 ms more per request when idle, fewer writes and less CPU under load (issue 15).
  bool nats_send_asap = false;
  // Groups of single publishes whose JetStream acks are not all back before the next group is
  // signed (queue/grouping_publisher.h): 1 (default) = the publishes that arrive during an ack
  // round trip share one signature (fewer signatures to make and for the engine to verify,
  // up to one ack round trip more latency at moderate load); 0 = no bound (a group as soon as
  // the previous one is handed on; groups of ~1.5). Range 0..1024 (issue 15).
  int64_t nats_publish_groups_in_flight = 1;
  // Must exceed the producer's retry horizon: retries inside it are stored once.
  int64_t nats_duplicate_window_seconds = 600;
  // Stream limits (issue 14), applied when the gateway creates a stream and reconciled (stream
  // update) when an existing one differs: max age in seconds (0 = unlimited; messages older
  // are deleted whether consumed or not), max bytes per stream (0 = unlimited), and what a full
  // stream does: "new" refuses new publishes (the gateway answers 503, nothing acknowledged is
  // lost) or "old" deletes the oldest messages.
  int64_t nats_stream_max_age_seconds = 0;
  int64_t nats_stream_max_bytes = 0;
  std::string nats_stream_discard = "new";
  std::string nats_creds_file;  // optional NATS credentials (JWT + NKey seed)
  std::string nats_tls_ca_path; // optional: TLS to NATS, server verified against this CA
  // Optional client certificate chain + key (PEM) for mutual TLS to NATS; both or neither.
  std::string nats_tls_cert_path;
  std::string nats_tls_key_path;

  // Replica identity (issue 14): a short name unique among the gateways that share backends
  // ([a-z0-9-], 1..32 characters, starting with a letter or digit; VV_TG_REPLICA_ID). When
  // set, audit_origin defaults to "vectorvue.local/audit-log/<replica_id>" and an
  // audit_log_path left at its default to "vv-audit-<replica_id>.jsonl", so each replica
  // has its own log, checkpoint origin, anchor subject and anchor file. "" = single replica
  // (today's origin "vectorvue.local/audit-log" and log "vv-audit.jsonl"). "{replica_id}" in
  // audit_log_path is replaced by it.
  std::string replica_id;
  // The audit checkpoint origin (signature key name, JetStream anchor subject token);
  // VV_TG_AUDIT_ORIGIN. "" = derived from replica_id (above). Printable, no spaces or '+',
  // at most 128 bytes.
  std::string audit_origin;

  // Audit log.
  std::string audit_log_path = "vv-audit.jsonl";
  int64_t audit_seal_every = 50;
  FsyncPolicy audit_fsync = FsyncPolicy::kBatch;
  // Seal checkpoints also every this many seconds when entries arrived since the last seal
  // (audit_seal_interval_seconds / VV_TAMPER_LOG_SEAL_INTERVAL_SECONDS); 0 = count-only.
  int64_t audit_seal_interval_seconds = 60;
  // Where seals are anchored: "file" (append-only LOG.anchor beside the log) or "jetstream" (a
  // deny_delete/deny_purge stream, appended with an expected-last-sequence check).
  std::string audit_anchor = "file";
  std::string audit_anchor_nats_url;  // "" = nats_url
  // Ed25519 private key file (raw seed or PEM, mode 0400/0600) signing the audit seals
  // (YAML audit_seal_key_path, or its older name audit_signing_key_path;
  // VV_TAMPER_LOG_SEAL_KEY_PATH); "" = checkpoints carry the Merkle root but no signature.
  std::string audit_signing_key_path;
  // Or the seal key inside a PKCS#11 token (audit_seal_pkcs11_*; config/audit_seal_key.h).
  AuditSealPkcs11Config audit_seal_pkcs11;

  // Signed feedback responses (wire-contract 2.3): kid -> private key file path
  // (VV_TG_FEEDBACK_ED25519_KEYS_JSON / feedback_ed25519_keys, alias feedback_signing_keys) and the active kid
  // (VV_TG_FEEDBACK_ACTIVE_KID / feedback_active_kid). Empty map = feedback signing not configured.
  std::map<std::string, std::string> feedback_key_paths;
  std::string feedback_active_kid;

  // Operations (issue 8). Admin listener (plain HTTP, loopback only: GET /metrics,
  // POST /admin/reload); "" or "off" disables it.
  std::string admin_listen = "127.0.0.1:9464";
  // Probe and scrape listener (issue 14): unauthenticated, read-only plain HTTP serving only
  // GET /livez, /readyz and /metrics, on any address (host:port); "" or "off" = none.
  std::string probe_listen;
  // Bearer token the admin listener requires for every POST (issue 12): a file holding it
  // (admin_token_file / VV_TG_ADMIN_TOKEN_FILE, mode 0400/0600) or the value itself
  // (VV_TG_ADMIN_TOKEN, environment only). Neither = POST endpoints refused (fail closed).
  std::string admin_token_file;
  std::string admin_token;  // resolved at load (file contents or VV_TG_ADMIN_TOKEN)
  // Queue envelope authentication (issue 12): the Ed25519 private key (PEM PKCS#8, mode
  // 0400/0600; queue_signing_key_path / VV_TG_QUEUE_SIGNING_KEY_PATH) the gateway signs every
  // envelope it enqueues with, under key id `queue_signing_kid` (VV_TG_QUEUE_SIGNING_KID). The
  // engine verifies with the matching public keys. Unset = unsigned envelopes (development
  // only; the engine refuses them unless it explicitly allows unsigned messages).
  std::string queue_signing_key_path;
  std::string queue_signing_kid = "queue-001";
  // Kill switch (SD-03): approvers' Ed25519 public keys (kid = approver name); the revocation
  // state lives in Redis key `kill_switch_redis_key` when redis_url is set, else in
  // `kill_switch_file` ("" = kill-switch.json beside the config file).
  std::vector<SigningKey> kill_switch_approvers;
  std::string kill_switch_file;
  std::string kill_switch_redis_key = "vv:tg:kill_switch";
  // Runtime, never read from YAML: identities revoked by the kill switch (every request from
  // them is refused with identity_revoked). Applied by the gateway on top of the file config.
  std::set<std::string> revoked_identities;

  // The YAML file this config was loaded from (absolute; "" when parsed from text). Lets
  // other components read their own sections of the same file (e.g. the graph store reads
  // vectorvue.evidence_engine.store_*).
  std::string source_path;

  // Returns the identity with this id, or nullptr.
  const ServiceIdentity* FindIdentity(std::string_view id) const;
  // True when some identity pins this certificate fingerprint (lowercase hex). Compares every
  // pin in constant time (no early exit), like the identity check.
  bool PinnedByAnyIdentity(std::string_view cert_sha256_hex) const;
  // audit_origin, or the single-replica origin when neither it nor replica_id is set.
  std::string EffectiveAuditOrigin() const;
  // Keys that may verify a request of `identity`.
  const std::vector<SigningKey>& KeysFor(const ServiceIdentity& identity) const {
    return identity.signing_keys.empty() ? default_signing_keys : identity.signing_keys;
  }
  // Keys that may verify a federation bundle signature.
  const std::vector<SigningKey>& FederationKeys() const {
    return federation_signing_keys.empty() ? default_signing_keys : federation_signing_keys;
  }
};

// Environment lookup, injectable for tests (common/env.h).
using vv::EnvLookup;
using vv::ProcessEnv;

// The key table of the section (config_table.h): YAML keys, environment variables, parsers,
// validators and the effective-config printer, each key declared once (gateway_config.cc).
const table::Table<GatewayConfig>& GatewayTable();

// "none" | "batch" | "always" (the YAML values of audit_fsync), either way.
const char* FsyncPolicyName(FsyncPolicy p);
Result<FsyncPolicy> ParseFsyncPolicy(std::string_view text, const std::string& name);

// The loader's first stage, for the policy gate (extra rules over the same struct): the config
// as parsed (YAML, then the environment; a value that failed to parse keeps its default) and
// every parse error. Not validated.
struct GatewayConfigDraft {
  GatewayConfig config;
  bool yaml_ok = false;  // the text was YAML with a vectorvue.telemetry_gateway mapping
  YAML::Node section;    // that mapping (as written, duplicates and all)
  std::vector<Status> parse_errors;
};
GatewayConfigDraft DraftGatewayConfig(const std::string& yaml_text, const EnvLookup& env,
                                      const std::string& base_dir);

// Loads `path` (YAML), applies environment overrides, validates. Errors name the key; all of
// them at once ("N config errors: a; b; ...").
Result<GatewayConfig> LoadGatewayConfig(const std::string& path, const EnvLookup& env);
// Same from YAML text (tests); relative paths resolve against `base_dir`.
Result<GatewayConfig> ParseGatewayConfig(const std::string& yaml_text, const EnvLookup& env,
                                         const std::string& base_dir);
// Non-fatal findings to log at start-up (e.g. a development-profile identity bound to no
// operator). Never includes secrets.
std::vector<std::string> GatewayConfigWarnings(const GatewayConfig& cfg);
// Whole-config validation (also used by the policy gate). Checks value ranges, security
// policy and that every referenced file exists and is readable (key files: not accessible by
// group/others). Every violation is reported (GatewayConfigViolations: one Status each).
Status ValidateGatewayConfig(const GatewayConfig& cfg);
std::vector<Status> GatewayConfigViolations(const GatewayConfig& cfg);
// replica_id syntax: 1..kMaxReplicaIdLength of [a-z0-9-], not starting with '-'.
bool IsValidReplicaId(std::string_view id);
// The NATS client keys the gateway and engine sections share, checked once for both (the
// engine prefixes the messages with "telemetry_gateway."): seed-list syntax ("" is Ok),
// stream replicas 1..5, client certificate and key set together.
Status CheckNatsServerList(const std::string& url);
Status CheckNatsReplicas(int64_t replicas);
Status CheckNatsClientCertPair(const std::string& cert, const std::string& key);
// A NATS seed list for printing: every entry's user info masked; "" stays "".
std::string RedactNatsServers(std::string_view list);
// Derives audit_origin and the default audit_log_path from replica_id (called by
// ParseGatewayConfig after the environment is applied).
void ApplyReplicaDefaults(GatewayConfig* cfg);

// A path from a config file: relative paths resolve against base_dir (the file's directory),
// lexically normalised; empty and absolute paths (or an empty base_dir) are returned as given.
std::string ResolveConfigPath(const std::string& p, const std::string& base_dir);

// Reference boolean text: 1/true/yes/on and 0/false/no/off (case-insensitive, stripped).
// Anything else is InvalidArgument naming `name`.
Result<bool> ParseBoolSetting(std::string_view text, const std::string& name);
// Strict decimal integer (optional sign, surrounding whitespace allowed), naming `name` on error.
Result<int64_t> ParseIntSetting(std::string_view text, const std::string& name);
// Certificate pin normalisation: strips whitespace, removes ':' and lowercases; error unless
// the result is 64 hex chars.
Result<std::string> NormalizeCertPin(std::string_view pin, const std::string& name);
// True for an 8-4-4-4-12 hex UUID string (either case).
bool IsCanonicalUuid(std::string_view s);
// The one stored form of a tenant UUID (issue 12 item 7): lowercase. Tenant ids are compared
// case-insensitively by producers' tooling, so two spellings of one tenant must never become
// two tenants (two dedupe keys, two graph stores).
std::string CanonicalTenantId(std::string_view uuid);

}  // namespace vv::config

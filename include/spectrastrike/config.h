#pragma once
// SpectraStrike SDK: producer configuration (integration manual section 9 shape, YAML first,
// then the reference's VECTORVUE_* environment variables as overrides, wire-contract 4.2).
//
//   spectrastrike:
//     producer:
//       endpoint: https://gateway.internal:8443/internal/v1/telemetry   # or the base URL
//       service_identity: spectrastrike-producer
//       operator_id / tenant_id / campaign_id / spool_path
//       mtls: {cert_path, key_path, ca_path, verify_peer (must be true), pinned_server_cert_sha256,
//              client_cert_sha256, server_name}
//       signing: {algorithm: ed25519, private_key_path, key_id}
//       replay: {nonce_length (12..128), timestamp_format: unix_epoch_seconds, max_clock_skew_seconds}
//       retry: {max_attempts, backoff_ms, jitter_ms, max_backoff_ms}
//       feedback: {verify_keys: {kid: path-or-base64}, replay_cache_path, window_seconds}
//
// Environment overrides: VECTORVUE_FEDERATION_URL (else VECTORVUE_BASE_URL),
// VECTORVUE_FEDERATION_SERVICE_IDENTITY, VECTORVUE_FEDERATION_CLIENT_CERT_SHA256,
// VECTORVUE_FEDERATION_MTLS_CERT_FILE / _KEY_FILE (else VECTORVUE_MTLS_CLIENT_CERT_FILE / _KEY_FILE),
// VECTORVUE_FEDERATION_MTLS_CA_FILE / VECTORVUE_VERIFY_TLS_CA_FILE, VECTORVUE_VERIFY_TLS (a false
// value is refused), VECTORVUE_TLS_PINNED_CERT_SHA256, VECTORVUE_FEDERATION_SIGNING_KEY_PATH,
// VECTORVUE_FEDERATION_OPERATOR_ID, VECTORVUE_TENANT_ID, VECTORVUE_FEDERATION_CAMPAIGN_ID,
// VECTORVUE_SPOOL_PATH, VECTORVUE_FEEDBACK_VERIFY_KEYS_JSON, VECTORVUE_FEEDBACK_VERIFY_PUBLIC_KEY_B64
// (kid "default"), VECTORVUE_FEEDBACK_REPLAY_CACHE_PATH.
// Relative file paths resolve against the config file's directory.
// Thread-safety: plain data and pure functions.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "spectrastrike/event.h"
#include "spectrastrike/retry.h"
#include "spectrastrike/status.h"

namespace spectrastrike {

struct ProducerConfig {
  std::string endpoint;  // as configured
  std::string host;
  uint16_t port = 443;
  std::string base_path;  // URL path before /internal/v1/...
  std::string service_identity = "spectrastrike-producer";

  std::string cert_path, key_path, ca_path;
  bool verify_peer = true;
  std::string server_name;
  std::string pinned_server_cert_sha256;
  std::string client_cert_sha256;

  std::string signing_algorithm = "ed25519";
  std::string private_key_path;
  std::string key_id;

  size_t nonce_length = 24;
  std::string timestamp_format = "unix_epoch_seconds";
  int64_t max_clock_skew_seconds = 30;

  RetryPolicy retry;
  ProducerIdentity identity;
  std::string spool_path;

  std::map<std::string, std::string> feedback_verify_keys;  // kid -> path or base64
  std::string feedback_replay_cache_path;
  int64_t feedback_window_seconds = 300;
};

using Environment = std::map<std::string, std::string>;

// Parses YAML text (base_dir resolves relative paths) and applies `env`. Validates.
Result<ProducerConfig> ParseProducerConfig(std::string_view yaml_text, const Environment& env,
                                           const std::string& base_dir = "");
Result<ProducerConfig> LoadProducerConfig(const std::string& path, const Environment& env);
// The process environment as a map (for the CLI).
Environment ProcessEnvironment();

// Splits https://host[:port][/path]; http:// is refused. base_path drops a trailing
// /internal/v1/telemetry (the manual's endpoint form).
Status ParseEndpoint(const std::string& url, std::string* host, uint16_t* port,
                     std::string* base_path);

}  // namespace spectrastrike

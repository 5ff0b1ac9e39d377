#pragma once
// The options of one NATS client connection (natsclient::Connect in connection.h), kept free
// of <nats/nats.h> so the queue and audit headers can embed them. Thread-safety: plain data
// and pure functions.

#include <cstdint>
#include <string>

#include "common/status.h"

namespace vv::natsclient {

struct ConnectOptions {
  std::string url;   // seed list: "nats://a:4222[,nats://b:4222...]" (server_list.h)
  std::string name;  // the connection name the server shows
  int64_t connect_timeout_ms = 2000;
  int64_t reconnect_wait_ms = 250;       // first wait after a failed round over all servers
  int64_t reconnect_wait_max_ms = 5000;  // cap of the exponential backoff
  int reconnect_buffer_bytes = 1 << 20;  // bounded, see above
  std::string creds_file;      // "" = no credentials
  std::string tls_ca_file;     // "" = no CA pin (plain TCP unless the URLs are tls://)
  std::string tls_cert_file;   // client certificate chain (PEM) for mutual TLS; with key
  std::string tls_key_file;    // its private key (PEM)
  bool send_asap = false;   // flush every publish immediately (latency over batching)
  // false: return a connection even when no server is up right now; nats.c keeps trying
  // in the background (the caller sees the outage as failed requests until it connects).
  bool require_connection = true;
};

// The wait before reconnect round `attempt` (1, 2, ...): full jitter over an exponential
// ceiling, min(max_ms, base_ms * 2^(attempt-1)) * unit, where unit in [0, 1) is a random
// draw, but never below base_ms / 2 (no hot loop). Pure: tests pass the draw.
int64_t ReconnectDelayMs(int attempt, int64_t base_ms, int64_t max_ms, double unit);

// Validates options (seed list, timeouts, TLS key pair) without connecting.
Status ValidateOptions(const ConnectOptions& options);

}  // namespace vv::natsclient

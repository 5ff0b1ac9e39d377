#pragma once
// Connecting to NATS the same way everywhere (the JetStream queue in src/queue and the
// JetStream audit anchor in src/audit): reconnect forever with a fixed wait, ping every 5 s and
// declare the server gone after 2 missed pongs, optional credentials (JWT + NKey seed file)
// and optional TLS with a pinned CA. Thread-safety: pure functions (nats.c is thread-safe).

#include <nats/nats.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vv::natsclient {

struct ConnectOptions {
  std::string url;
  std::string name;  // the connection name the server shows
  int64_t connect_timeout_ms = 2000;
  int64_t reconnect_wait_ms = 250;
  std::string creds_file;   // "" = no credentials
  std::string tls_ca_file;  // "" = plain TCP
  bool send_asap = false;   // flush every publish immediately (latency over batching)
  // false: return a connection even when the server is down right now; nats.c keeps trying
  // in the background (the caller sees the outage as failed requests until it connects).
  bool require_connection = true;
};

// natsStatus text with nats.c's last error detail and, when given, the JetStream error code.
std::string NatsText(natsStatus s, jsErrCode jerr = static_cast<jsErrCode>(0));

// Connects. The caller owns the connection (natsConnection_Destroy). InvalidArgument for
// options nats.c refuses (bad URL, unreadable creds or CA file), Unavailable when the server
// cannot be reached (require_connection). Messages start with `what`.
Result<natsConnection*> Connect(const ConnectOptions& options, std::string_view what);

}  // namespace vv::natsclient

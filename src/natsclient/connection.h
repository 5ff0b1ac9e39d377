#pragma once
// Connecting to NATS the same way everywhere (the JetStream queue in src/queue, the JetStream
// audit anchor in src/audit, vv-engine, vv-audit verify): the ONE place where nats.c options
// are built. Behaviour:
//   - servers: a validated seed list (server_list.h); nats.c connects to the first that
//     answers (in random order, so replicas spread over the cluster) and learns the rest of
//     the cluster from it. Start-up succeeds while one seed answers; with none it fails
//     (require_connection) or keeps trying in the background (require_connection = false).
//   - reconnect: forever, across every known server; after each full round the wait grows
//     exponentially from reconnect_wait_ms to reconnect_wait_max_ms with full jitter
//     (ReconnectDelayMs), so replicas that lost the same node do not reconnect in lock step.
//   - reconnect buffer: bounded (reconnect_buffer_bytes); callers check IsConnected() and
//     fail fast (503) while disconnected instead of buffering, the buffer only absorbs the
//     race between that check and the write. Nothing in it has been acknowledged.
//   - liveness: ping every 5 s, the server is declared gone after 2 missed pongs.
//   - optional credentials (JWT + NKey seed file), optional TLS: CA pin, client certificate.
// Credentials inside URLs never appear in messages (the seed list is redacted).
// Thread-safety: pure functions (nats.c is thread-safe).

#include <nats/nats.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "natsclient/options.h"

namespace vv::natsclient {

// natsStatus text with nats.c's last error detail and, when given, the JetStream error code.
std::string NatsText(natsStatus s, jsErrCode jerr = static_cast<jsErrCode>(0));

// Connects. The caller owns the connection (natsConnection_Destroy). InvalidArgument for
// options that are refused (bad seed list, unreadable creds, CA or client certificate file),
// Unavailable when no server can be reached (require_connection). Messages start with `what`.
Result<natsConnection*> Connect(const ConnectOptions& options, std::string_view what);

// True while the connection is up (not connecting, reconnecting, draining or closed).
bool IsConnected(natsConnection* nc);

// The server the connection is attached to right now (redacted URL), "" when none.
std::string ConnectedServer(natsConnection* nc);

}  // namespace vv::natsclient

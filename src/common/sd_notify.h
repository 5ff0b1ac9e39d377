#pragma once
// systemd's readiness protocol (sd_notify(3)) without linking libsystemd: when the service
// runs under a unit with Type=notify, systemd sets NOTIFY_SOCKET to a unix datagram socket
// (a path, or an abstract name starting with '@') and waits for "READY=1" before it counts the
// service as started. Outside systemd (NOTIFY_SOCKET unset) every call is a no-op.
// Thread-safety: safe from any thread.

#include <string_view>

#include "common/env.h"
#include "common/status.h"

namespace vv {

// Sends `state` (e.g. "READY=1", "STOPPING=1", "STATUS=...") to $NOTIFY_SOCKET. Ok when sent
// or when NOTIFY_SOCKET is unset; Unavailable (with the errno text) when sending failed.
Status SdNotify(std::string_view state, const EnvLookup& env = ProcessEnv());

}  // namespace vv

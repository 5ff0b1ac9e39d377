#pragma once
// Validation of listener settings (issue 14 item 5): admin_listen must name a loopback address
// (the admin listener is plain HTTP with write endpoints); probe_listen may name any address.
// Both are "host:port" or "[v6]:port" with an IP literal (or "localhost"); "", "off" and
// "disabled" turn the listener off. The syntax and the address rules are
// vv::ParseListenAddress (common/host_port.h), which the listeners use too.

#include <string_view>

#include "common/status.h"

namespace vv::config {

// True for "", "off" and "disabled".
bool ListenerDisabled(std::string_view value);
// Ok (also for a disabled listener), or InvalidArgument naming `key`.
Status CheckListenAddress(std::string_view key, std::string_view value, bool loopback_only);

}  // namespace vv::config

#pragma once
// Plain-TCP HTTP exchanges with a loopback listener (the admin listener has no TLS): sends
// `request` bytes as given, reads until the server closes. Thread-safety: none needed.

#include <cstdint>
#include <string>

namespace vv::testing {

// The whole response, or "" when the connection is refused.
std::string LoopbackHttpExchange(uint16_t port, const std::string& request);

}  // namespace vv::testing

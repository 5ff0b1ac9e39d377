#pragma once
// The effective configuration as one log line, logged by vv-gateway and vv-engine at start-up
// (issue 16): what the process actually runs with after the YAML, the environment overrides
// and the defaults. Secrets never appear: key and PIN *paths* and the name of a PIN
// environment variable are shown, URL passwords and password/token/secret parameters are
// replaced by "***", keys and pins are shown as counts only.
// Thread-safety: pure functions.

#include <string>
#include <string_view>

#include "config/engine_config.h"
#include "config/gateway_config.h"

namespace vv::config {

// `url` with its password (scheme://user:PASSWORD@host) and the values of query or
// conninfo parameters whose name contains "password", "token" or "secret" replaced by "***".
std::string RedactUrl(std::string_view url);

std::string DescribeGatewayConfig(const GatewayConfig& cfg);
std::string DescribeEngineConfig(const EngineConfig& cfg);

}  // namespace vv::config

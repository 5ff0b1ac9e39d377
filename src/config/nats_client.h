#pragma once
// The NATS client options of every process, from the configuration keys the gateway and the
// engine share (nats_url seed list, nats_creds_file, nats_tls_ca_path, nats_tls_cert_path,
// nats_tls_key_path): the one mapping from config to natsclient::ConnectOptions, used by the
// gateway's queue publisher and audit anchor and by vv-engine. It overlays the configured
// keys onto the caller's defaults (connection name, send_asap, require_connection stay).
// Thread-safety: pure functions.

#include "config/engine_config.h"
#include "config/gateway_config.h"
#include "natsclient/options.h"

namespace vv::config {

void ApplyNatsConfig(const GatewayConfig& cfg, natsclient::ConnectOptions* out);
void ApplyNatsConfig(const EngineConfig& cfg, natsclient::ConnectOptions* out);

}  // namespace vv::config

#include "config/nats_client.h"

namespace vv::config {

namespace {

// Both sections carry the same five keys under the same names.
template <typename Cfg>
void Apply(const Cfg& cfg, natsclient::ConnectOptions* o) {
  o->url = cfg.nats_url;
  o->creds_file = cfg.nats_creds_file;
  o->tls_ca_file = cfg.nats_tls_ca_path;
  o->tls_cert_file = cfg.nats_tls_cert_path;
  o->tls_key_file = cfg.nats_tls_key_path;
}

}  // namespace

void ApplyNatsConfig(const GatewayConfig& cfg, natsclient::ConnectOptions* out) {
  Apply(cfg, out);
}

void ApplyNatsConfig(const EngineConfig& cfg, natsclient::ConnectOptions* out) {
  Apply(cfg, out);
}

}  // namespace vv::config

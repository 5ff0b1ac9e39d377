#pragma once
// GatewayApp: builds the whole gateway from a validated config - the only place that picks
// backends (a plain switch on the configured kind) - and owns every component. Components are
// destroyed in reverse order of construction: listener first, queue and audit log last, so
// in-flight publishes complete and the audit log is flushed.

#include <memory>

#include "app/cognitive_service.h"
#include "app/federation_service.h"
#include "app/gateway_service.h"
#include "cognitive/feedback.h"
#include "cognitive/graph_store.h"
#include "audit/audit_log.h"
#include "common/clock.h"
#include "config/gateway_config.h"
#include "http/server.h"
#include "queue/queue.h"
#include "schema/mitre_catalog.h"
#include "state/admission.h"
#include "state/state.h"

namespace vv::app {

class GatewayApp {
 public:
  // Builds and binds (port() valid afterwards) but does not start serving.
  static Result<std::unique_ptr<GatewayApp>> Create(std::shared_ptr<const config::GatewayConfig> cfg);
  ~GatewayApp();

  void Start() { server_->Start(); }
  void Stop() { server_->Stop(); }
  void Wait() { server_->Wait(); }
  uint16_t port() const { return server_->port(); }
  const GatewayService& service() const { return *service_; }

 private:
  GatewayApp() = default;

  std::shared_ptr<const config::GatewayConfig> cfg_;
  SystemClock clock_;
  SystemRandom random_;
  std::unique_ptr<schema::MitreCatalog> catalog_;
  std::unique_ptr<state::NonceStore> nonces_;
  std::unique_ptr<state::RateLimiter> limiter_;
  std::unique_ptr<state::Admission> admission_;
  std::unique_ptr<audit::AuditSink> audit_;
  std::unique_ptr<queue::Publisher> publisher_;
  std::unique_ptr<state::NonceStore> own_bundle_nonces_;  // memory backend: a dedicated cache
  state::NonceStore* bundle_nonces_ = nullptr;            // own_bundle_nonces_ or nonces_
  std::unique_ptr<cognitive::GraphStore> graphs_;
  std::shared_ptr<const cognitive::FeedbackSigner> feedback_signer_;
  std::unique_ptr<FederationService> federation_;
  std::unique_ptr<CognitiveService> cognitive_;
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace vv::app

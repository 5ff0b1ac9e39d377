#pragma once
// GatewayApp: builds the whole gateway from a validated config - the only place that picks
// backends (a plain switch on the configured kind) - and owns every component. Components are
// destroyed in reverse order of construction: listener first, queue and audit log last, so
// in-flight publishes complete and the audit log is flushed.

#include <atomic>
#include <memory>
#include <set>
#include <thread>

#include "app/cognitive_service.h"
#include "app/federation_service.h"
#include "app/gateway_service.h"
#include "app/readiness.h"
#include "cognitive/feedback.h"
#include "cognitive/graph_store.h"
#include "audit/audit_log.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "config/gateway_config.h"
#include "http/admin_server.h"
#include "http/server.h"
#include "stats/metrics.h"
#include "stats/process_metrics.h"
#include "stats/service_metrics.h"
#include "queue/queue.h"
#include "schema/mitre_catalog.h"
#include "state/admission.h"
#include "state/state.h"

namespace vv::queue {
struct JetStreamOptions;
}

namespace vv::app {

// The JetStream queue options of a gateway config (streams, limits, credentials); shared by
// the gateway and vvctl dlq so both address the same streams.
void FillJetStreamOptions(const config::GatewayConfig& cfg, queue::JetStreamOptions* o);

namespace killswitch {
class Store;
}

// Issue 8 additions: the app also owns the Prometheus registry and GatewayMetrics (passed to
// every service), the loopback admin listener (GET /metrics, POST /admin/reload,
// GET /admin/kill-switch), hot reload (Reload(): re-read and validate the config file, rebuild
// the TLS context for new connections, swap the services' config snapshots; audited
// config.reloaded / config.reload_rejected) and the kill-switch watcher thread (polls the
// shared revocation state every 250 ms and applies it; audited kill_switch.engaged/.released).
// Thread-safety: Reload() may be called from any thread (serialised internally).
class GatewayApp {
 public:
  // Builds and binds (port() valid afterwards) but does not start serving.
  static Result<std::unique_ptr<GatewayApp>> Create(std::shared_ptr<const config::GatewayConfig> cfg);
  ~GatewayApp();

  void Start();
  void Stop();
  void Wait() { server_->Wait(); }
  uint16_t port() const { return server_->port(); }
  const GatewayService& service() const { return *service_; }
  // Port of the admin listener, 0 when disabled or not bound.
  uint16_t admin_port() const { return admin_ ? admin_->port() : 0; }
  // Port of the probe listener (probe_listen), 0 when disabled.
  uint16_t probe_port() const { return probe_ ? probe_->port() : 0; }
  stats::Registry& registry() { return registry_; }

  // Re-reads the config file, validates it and applies it without dropping connections.
  // On error the running config stays and the error says why. `trigger` is for the audit
  // record ("SIGHUP", "admin").
  Status Reload(std::string_view trigger);
  // Rotates the audit log (audit::AuditLog::Rotate: seal, anchor, rename to PATH.NNNNNN, new
  // segment linked to the last seal) and audits "audit.rotated" as the new segment's second
  // record. `trigger` is "SIGUSR1" or "admin". Appends wait while it runs.
  Result<audit::RotateResult> RotateAudit(std::string_view trigger);
  // Reads the kill-switch state once and applies it (the watcher calls this every 250 ms).
  void PollKillSwitch();
  static constexpr int kKillSwitchPollMillis = 250;
  // Checks Redis (PING), the embedded queue and the audit anchor and logs each state change
  // once (logging::Backends(); NATS connections log their own from nats.c's callbacks). The
  // kill-switch watcher calls it every kBackendWatchTicks polls.
  void WatchBackends();
  static constexpr int kBackendWatchTicks = 4;

 private:
  GatewayApp() = default;
  http::Response HandleAdmin(const http::AdminRequest& r);
  // GET /livez, /readyz, /metrics of the probe listener: no configuration details.
  http::Response HandleProbe(std::string_view path);
  // The /metrics text: refreshes vv_gateway_ready and the process_* metrics, then renders.
  std::string RenderMetrics();
  void AuditApp(std::string_view event_type, json::Value details);
  // Publishes base config + revocations to every service.
  void PublishSnapshot() VV_REQUIRES(reload_mu_);
  // Sets the vv_gateway_tls_* expiry gauges from the TLS context in use (and the backend CA
  // bundles of base_cfg_).
  void PublishTlsExpiry() VV_REQUIRES(reload_mu_);

  std::shared_ptr<const config::GatewayConfig> cfg_;
  stats::Registry registry_;
  std::unique_ptr<stats::GatewayMetrics> metrics_;
  std::unique_ptr<stats::ProcessMetrics> process_metrics_;
  Mutex reload_mu_;
  std::shared_ptr<const config::GatewayConfig> base_cfg_ VV_GUARDED_BY(reload_mu_);  // file config
  std::set<std::string> revoked_ VV_GUARDED_BY(reload_mu_);
  std::unique_ptr<killswitch::Store> ks_store_;
  std::string ks_last_text_;   // only the watcher thread (and Create) touch it
  int64_t ks_applied_generation_ = -1;  // newest state generation applied (watcher thread)
  std::string ks_applied_path_;          // where it and revoked_ are persisted
  bool ks_read_failing_ = false;
  Mutex ks_mu_;
  CondVar ks_cv_;
  bool ks_stop_ VV_GUARDED_BY(ks_mu_) = false;
  std::thread ks_thread_;
  SystemClock clock_;
  SystemRandom random_;
  std::unique_ptr<schema::MitreCatalog> catalog_;
  std::unique_ptr<state::NonceStore> nonces_;
  std::unique_ptr<state::RateLimiter> limiter_;
  std::unique_ptr<state::RateLimiter> rejection_budget_;  // nullptr = no rejection budget
  std::unique_ptr<state::Admission> admission_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<queue::Publisher> publisher_;
  // The readiness model and the request path's views of the audit log and the queue that
  // report to it (declared after what they borrow, so destroyed before it).
  std::unique_ptr<Readiness> readiness_;
  std::unique_ptr<ObservedAuditSink> observed_audit_;
  std::unique_ptr<ObservedPublisher> observed_publisher_;
  std::unique_ptr<state::NonceStore> own_bundle_nonces_;  // memory backend: a dedicated cache
  state::NonceStore* bundle_nonces_ = nullptr;            // own_bundle_nonces_ or nonces_
  std::unique_ptr<cognitive::GraphStore> graphs_;
  std::shared_ptr<const cognitive::FeedbackSigner> feedback_signer_;
  std::unique_ptr<FederationService> federation_;
  std::unique_ptr<CognitiveService> cognitive_;
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<GatewayHandler> handler_;  // the listener's handler: routes to every service
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::AdminServer> admin_;
  std::unique_ptr<http::ProbeServer> probe_;
};

}  // namespace vv::app

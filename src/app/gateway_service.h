#pragma once
// GatewayService: the telemetry gateway's request handling behind the HTTPS listener.
// Routes requests, runs the verification chain, publishes accepted envelopes (202 only after
// the queue reports them durable) and dead letters, writes one audit record per request
// outcome (accepted or rejected, precise reason included), and answers with the contract's
// status codes and fixed reason strings.
//
// Thread-safety: Handle() is called concurrently from the listener's worker threads; all
// members are immutable or thread-safe. Ownership: borrows every dependency; they must outlive
// the service (wiring in gateway_app.h owns them).

#include <atomic>
#include <memory>
#include <string>

#include "app/published.h"
#include "app/readiness.h"
#include "app/router.h"
#include "audit/audit_log.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "config/gateway_config.h"
#include "http/server.h"
#include "queue/queue.h"
#include "schema/mitre_catalog.h"
#include "state/state.h"
#include "stats/service_metrics.h"
#include "verify/check.h"
#include "verify/chains.h"

namespace vv::app {

// Counters per outcome, for /metrics (issue 8 extends) and for tests.
struct GatewayCounters {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> dlq_published{0};
  std::atomic<uint64_t> dlq_failed{0};
  std::atomic<uint64_t> audit_failures{0};
  std::atomic<uint64_t> handshakes_rejected{0};
};

struct GatewayDeps {
  std::shared_ptr<const config::GatewayConfig> config;
  const Clock* clock = nullptr;
  Random* random = nullptr;
  const schema::MitreCatalog* catalog = nullptr;
  state::NonceStore* nonces = nullptr;
  state::RateLimiter* limiter = nullptr;
  // Nonce + rate as one decision; nullptr = a CompositeAdmission over `nonces` and `limiter`.
  state::Admission* admission = nullptr;
  // Per-identity budget of rejected-but-authenticated requests (issue 12 item 5), keyed
  // "rejections:<identity>"; nullptr = no budget.
  state::RateLimiter* rejection_budget = nullptr;
  queue::Publisher* publisher = nullptr;
  audit::AuditSink* audit = nullptr;
  // The other services' endpoint rows (FederationService::Endpoints(),
  // CognitiveService::Endpoints(): issue 6), routed beside the telemetry endpoints; a path
  // without a row is 404.
  std::vector<Endpoint> endpoints;
  // Prometheus metrics (issue 8); nullptr = the service keeps a private registry (tests).
  stats::GatewayMetrics* metrics = nullptr;
  // The readiness model /healthz and /readyz answer from (issue 14). The wiring registers the
  // components and passes `publisher` and `audit` wrapped in ObservedPublisher /
  // ObservedAuditSink; nullptr = the service builds its own over publisher, audit, nonces and
  // limiter (unit tests), wrapping them the same way.
  Readiness* readiness = nullptr;
};

// Registers the gateway's components on `r` in the order the verdict reports them: audit
// (AuditSink::WriteHealth + append outcomes), queue (Publisher::Health + publish outcomes),
// nonce store, rate limiter. The backends are borrowed and must outlive `r`.
void AddGatewayComponents(Readiness& r, const audit::AuditSink& audit,
                          const queue::Publisher& publisher, const state::NonceStore& nonces,
                          const state::RateLimiter& limiter);

class GatewayService final : public http::Handler {
 public:
  explicit GatewayService(GatewayDeps deps);
  ~GatewayService() override;

  void Handle(http::Request request, http::Responder respond) override;
  http::Response OnBodyTooLarge(const http::Request& request) override;
  // Audits a refused TLS handshake as "tls.handshake_rejected" (remote address, reason,
  // presented certificate). At most kMaxHandshakeAuditsPerSecond records a second so a
  // connection flood cannot flood the audit log; the suppressed count goes into the next one.
  void OnHandshakeFailed(const http::PeerInfo& peer, std::string_view reason) override;
  static constexpr int kMaxHandshakeAuditsPerSecond = 20;
  // Issue 12 (transport hardening), in gateway_service_head.cc. OnHead answers a POST to the
  // telemetry, federation and cognitive endpoints from its head alone when the full chain would
  // refuse it there anyway - wrong Content-Type (415), then the pinned-certificate identity
  // check (401/403, kill switch included) - before the server reads any body byte; exactly the
  // status and reason the full chain gives, audited the same way.
  std::optional<http::Response> OnHead(const http::Request& head) override;
  // Audits a request the listener refused itself (malformed HTTP, refused Transfer-Encoding,
  // oversized header fields or chunked framing) as "http.rejected" with the precise reason.
  void OnProtocolError(const http::Request& head, int status, std::string_view reason,
                       std::string_view detail) override;
  // Audits a connection closed after a TLS reload because its certificate no longer verifies
  // (e.g. revoked by the new CRL) as "tls.connection_revoked".
  void OnPeerRejected(const http::PeerInfo& peer, std::string_view reason) override;

  // This service's endpoint rows: the telemetry endpoint and the batch endpoint.
  std::vector<Endpoint> Endpoints();

  const GatewayCounters& counters() const { return counters_; }
  stats::GatewayMetrics& metrics() const { return *deps_.metrics; }

  // Hot reload: the next requests use `cfg` (identities, pins, verify keys, tenant map,
  // revocations, policy); requests in flight finish with the snapshot they started with.
  void Reload(std::shared_ptr<const config::GatewayConfig> cfg);
  std::shared_ptr<const config::GatewayConfig> config() const { return Current()->config; }

 private:
  // One immutable configuration generation and the chain built from it.
  struct Snapshot {
    std::shared_ptr<const config::GatewayConfig> config;
    std::unique_ptr<verify::TelemetryChain> chain;
  };
  std::shared_ptr<const Snapshot> Current() const { return snapshot_.Current(); }
  std::shared_ptr<const Snapshot> MakeSnapshot(
      std::shared_ptr<const config::GatewayConfig> cfg) const;

  void HandleTelemetry(http::Request request, http::Responder respond);
  // POST /internal/v1/telemetry/batch (gateway_service_batch.cc; docs/producer.md).
  void HandleTelemetryBatch(http::Request request, http::Responder respond);
  struct BatchCall;
  void FinishBatch(const std::shared_ptr<BatchCall>& call, Status publish_status,
                   const std::vector<queue::PublishOutcome>& outcomes);
  // Health/readiness from the Readiness model: 503 whenever requests would get 503, with the
  // fixed reason code ({"status":"unavailable","reason":...} / {"ready":false,"reason":...}).
  // Configuration details (identities, flags, backends, the failing dependency's precise
  // error) only for a caller whose presented certificate is pinned by some identity (issue
  // 12 item 14); any other CA-signed client gets only the status and the reason code.
  http::Response Health(bool readiness, const http::PeerInfo& peer) const;
  // 404 / 405 from the router: counted, audited as http.rejected, answered.
  http::Response RoutingRejection(const http::Request& request, int status, verify::Reason reason,
                                  const char* detail);
  // Answers a rejection: releases the nonce for transient failures, audits, responds.
  void Reject(const std::shared_ptr<struct TelemetryCall>& call, const verify::Verdict& v,
              const char* dlq_outcome);
  void Audit(std::string_view event_type, std::string_view actor, json::Value details);
  // Appends a record (actor telemetry_gateway) and calls `then` with the outcome. Inside a
  // CompletionBatch (the embedded queue's commit group) the record joins the batch's records,
  // appended together when the batch closes, and `then` runs after that (issue 15).
  // `event_type` must outlive the batch (a literal).
  void AuditThen(std::string_view event_type, json::Value details,
                 std::function<void(Status)> then);

  GatewayDeps deps_;
  Router router_;  // the telemetry rows, then deps_.endpoints; read-only after construction
  std::unique_ptr<state::Admission> own_admission_;  // when deps.admission was null
  std::unique_ptr<stats::Registry> own_registry_;       // when deps.metrics was null
  std::unique_ptr<stats::GatewayMetrics> own_metrics_;  // when deps.metrics was null
  std::unique_ptr<Readiness> own_readiness_;            // when deps.readiness was null
  std::unique_ptr<ObservedAuditSink> own_audit_;        // wrapping deps.audit for it
  std::unique_ptr<ObservedPublisher> own_publisher_;    // wrapping deps.publisher for it
  Published<Snapshot> snapshot_;
  GatewayCounters counters_;
  Mutex handshake_audit_mu_;
  int64_t handshake_audit_second_ VV_GUARDED_BY(handshake_audit_mu_) = 0;
  int handshake_audits_this_second_ VV_GUARDED_BY(handshake_audit_mu_) = 0;
  uint64_t handshake_audits_suppressed_ VV_GUARDED_BY(handshake_audit_mu_) = 0;
};

inline constexpr std::string_view kTelemetryPath = "/internal/v1/telemetry";
inline constexpr const char* kTelemetryMediaDetail =
    "Telemetry endpoint only accepts application/json";
inline constexpr std::string_view kTelemetryBatchPath = "/internal/v1/telemetry/batch";
// The batch body is NDJSON; any other Content-Type (a JSON array sent as application/json
// included) is refused 415 with this detail.
inline constexpr std::string_view kBatchMediaType = "application/x-ndjson";
inline constexpr const char* kBatchMediaDetail =
    "Telemetry batch endpoint only accepts application/x-ndjson";

}  // namespace vv::app

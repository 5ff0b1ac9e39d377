#pragma once
// GatewayService: the telemetry service - POST /internal/v1/telemetry and its batch endpoint.
// Runs the verification chain, publishes accepted envelopes (202 only after the queue reports
// them durable) and dead letters, writes one audit record per request outcome (accepted or
// rejected, precise reason included), and answers with the contract's status codes and fixed
// reason strings. Requests reach it through its endpoint rows (Endpoints()), routed by the
// gateway's HTTP handler (app/gateway_handler.h), which also owns health, 404/405 and the
// transport hooks.
//
// Thread-safety: the endpoint handlers are called concurrently from the listener's worker
// threads; all members are immutable or thread-safe. Ownership: borrows every dependency;
// they must outlive the service (wiring in gateway_app.h owns them).

#include <atomic>
#include <memory>
#include <string>

#include "app/gateway_handler.h"
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

class GatewayService final {
 public:
  explicit GatewayService(GatewayDeps deps);
  ~GatewayService();
  GatewayService(const GatewayService&) = delete;
  GatewayService& operator=(const GatewayService&) = delete;

  // This service's endpoint rows: the telemetry endpoint and the batch endpoint.
  std::vector<Endpoint> Endpoints();
  // The deps of the gateway's HTTP handler over this service's instrumentation (the metrics,
  // readiness model, observed audit sink and counters it uses or built) and config: its rows,
  // then `other_rows` (the federation and cognitive services'). The handler must not outlive
  // this service.
  GatewayHandlerDeps HandlerDeps(std::vector<Endpoint> other_rows = {});

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
  // The one exit of a telemetry request (single or batch): observes request_duration (head
  // to answer), then responds.
  void Answer(struct TelemetryCall& call, http::Response response);
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
  std::unique_ptr<state::Admission> own_admission_;  // when deps.admission was null
  std::unique_ptr<stats::Registry> own_registry_;       // when deps.metrics was null
  std::unique_ptr<stats::GatewayMetrics> own_metrics_;  // when deps.metrics was null
  std::unique_ptr<Readiness> own_readiness_;            // when deps.readiness was null
  std::unique_ptr<ObservedAuditSink> own_audit_;        // wrapping deps.audit for it
  std::unique_ptr<ObservedPublisher> own_publisher_;    // wrapping deps.publisher for it
  Published<Snapshot> snapshot_;
  GatewayCounters counters_;
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

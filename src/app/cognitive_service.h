#pragma once
// CognitiveService: the two signed cognitive endpoints (wire-contract 1.6, 1.7, 10, 2.3) with
// the reference's gaps closed (wire-contract 13 item 5):
//   POST /internal/v1/cognitive/execution-graph
//     415 / 422 empty -> identity, signature, replay (the telemetry chain) -> strict body (422)
//     -> body timestamp/nonce == signed headers (401) -> schema_version execution.graph.v1
//     (422) -> size limits (413) -> operator -> tenant (403) -> rate "graph:<operator_id>"
//     (429) -> stored tenant-scoped in the GraphStore (503 when it fails) -> 202 with the
//     reference body. Audit: cognitive.graph.accepted / cognitive.graph.rejected.
//   POST /internal/v1/cognitive/feedback/adjustments/query
//     same chain, body, binding, tenant, rate "feedback:<operator_id>" -> adjustments derived
//     from the tenant's last `limit` graphs, signed with the active feedback key (loaded once
//     at start-up) -> 200. Audit: cognitive.feedback.issued / cognitive.feedback.rejected.
// The nonce is released and the rate unit refunded on transient failures (429/503).
// Response bodies keep the reference's member order (compact, ensure_ascii escaping).
//
// Thread-safety: Handle() may be called concurrently; members are immutable or thread-safe.
// Ownership: borrows every dependency (they must outlive the service); shares the signer.

#include <atomic>
#include <memory>
#include <string_view>

#include "app/published.h"
#include "app/router.h"
#include "audit/audit_log.h"
#include "cognitive/feedback.h"
#include "cognitive/graph_store.h"
#include "common/clock.h"
#include "config/gateway_config.h"
#include "http/server.h"
#include "state/state.h"
#include "verify/chains.h"
#include "stats/service_metrics.h"
#include <mutex>

namespace vv::app {

inline constexpr const char* kCognitiveMediaDetail =
    "Cognitive endpoint only accepts application/json";
inline constexpr std::string_view kExecutionGraphPath = "/internal/v1/cognitive/execution-graph";
inline constexpr std::string_view kFeedbackQueryPath =
    "/internal/v1/cognitive/feedback/adjustments/query";

struct CognitiveDeps {
  std::shared_ptr<const config::GatewayConfig> config;
  const Clock* clock = nullptr;
  Random* random = nullptr;
  state::NonceStore* nonces = nullptr;  // the request nonce store (shared with telemetry)
  state::RateLimiter* limiter = nullptr;
  state::RateLimiter* rejection_budget = nullptr;  // per-identity rejections; nullptr = none
  audit::AuditSink* audit = nullptr;
  cognitive::GraphStore* graphs = nullptr;
  std::shared_ptr<const cognitive::FeedbackSigner> signer;
  stats::GatewayMetrics* metrics = nullptr;  // nullptr = a private registry
};

struct CognitiveCounters {
  std::atomic<uint64_t> graphs_accepted{0};
  std::atomic<uint64_t> feedback_issued{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> audit_failures{0};
};

class CognitiveService {
 public:
  explicit CognitiveService(CognitiveDeps deps);
  ~CognitiveService();
  // True for the two paths this service answers.
  // This service's endpoint rows (app/router.h): execution-graph and feedback query; the
  // service answers a wrong method itself (405 under its own rejected event).
  std::vector<Endpoint> Endpoints();
  // Answers exactly once (synchronously).
  void Handle(http::Request request, http::Responder respond);
  const CognitiveCounters& counters() const { return counters_; }
  // Hot reload: later requests use the chain built from `cfg`.
  void Reload(std::shared_ptr<const config::GatewayConfig> cfg);

 private:
  struct Snapshot {
    std::shared_ptr<const config::GatewayConfig> config;
    verify::EndpointChain graph;     // verify/chains.cc: MakeGraphChain
    verify::EndpointChain feedback;  // MakeFeedbackChain
  };
  std::shared_ptr<const Snapshot> MakeSnapshot(
      std::shared_ptr<const config::GatewayConfig> cfg) const;
  std::shared_ptr<const Snapshot> Current() const { return snapshot_.Current(); }
  struct Call;
  void HandleGraph(Call& call);
  void HandleFeedback(Call& call);
  void Reject(Call& call, const verify::Verdict& v);
  // Runs the shared prefix (method, media type, empty body, identity/signature/replay, JSON).
  bool Prefix(Call& call, json::Value* body);

  CognitiveDeps deps_;
  std::unique_ptr<stats::Registry> own_registry_;
  std::unique_ptr<stats::GatewayMetrics> own_metrics_;
  Published<Snapshot> snapshot_;
  CognitiveCounters counters_;
};

// Compact JSON with members in insertion order (Starlette's JSONResponse layout), strings
// escaped as in the canonical form.
std::string OrderedJson(const json::Value& v);

}  // namespace vv::app

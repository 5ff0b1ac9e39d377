#pragma once
// The replies of the request services (telemetry single and batch, cognitive, federation):
// the client-facing body ({"detail": ...} with the contract's fixed string), and the one
// rejection path that turns a verdict into metric increments, a log line and an audit record,
// so every rejection records the same keys and increments exactly one
// vv_gateway_requests_rejected_total{status,reason} child, plus the class counter the verdict
// belongs to (replay per operator, signature failures, mTLS identity mismatches, backend
// errors). The services depend on this module, never on each other. Thread-safe (metrics are
// atomics).

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "audit/audit_log.h"
#include "common/status.h"
#include "config/gateway_config.h"
#include "http/server.h"
#include "json/json.h"
#include "state/state.h"
#include "stats/service_metrics.h"
#include "verify/check.h"

namespace vv::app {

// The actor of every audit record the gateway's request services write.
inline constexpr const char* kActor = "telemetry_gateway";

// {"detail": "..."} exactly as FastAPI/Starlette renders it.
std::string DetailBody(std::string_view detail);
// The response of a rejection: `status`, DetailBody(detail), application/json.
http::Response DetailResponse(int status, std::string_view detail);
// `status` with the canonical JSON of `v` (application/json).
http::Response JsonResponse(int status, const json::Value& v);

// Where a service's rejections go (borrowed; outlive the call).
struct RejectionPath {
  std::string_view event;                         // "telemetry.rejected", "federation.rejected"...
  stats::GatewayMetrics* metrics = nullptr;
  state::RateLimiter* budget = nullptr;           // the identities' rejection budget, or nullptr
  const config::GatewayConfig* config = nullptr;  // the call's config generation
};

// Appends an audit record (actor kActor) synchronously whose answer does not depend on it (a
// rejection, a transport event). A failed append is counted (audit_append_failures,
// backend_errors{audit}) and logged; returns false then.
bool AppendAuditCounted(audit::AuditSink& audit, stats::GatewayMetrics& m,
                        std::string_view event, std::string_view actor, json::Value details);
// What AppendAuditCounted does with a failed append (counted and logged), for a caller that
// appended the record itself (a batch's records, AuditSink::AppendBatch).
void CountAuditAppendFailure(stats::GatewayMetrics& m, const Status& append_status);

// The one rejection path, in order: charge the identity's rejection budget
// (ChargeRejectionBudget: the verdict may become 429/503); on a transient answer (429/503) call
// `release` so the same signed bytes can be retried (nonce, rate unit); count it
// (CountRejection); log "<event> <status>" (LogRejection); audit `event` with
// RejectionDetails plus the caller's keys (`add_details`, may be empty) through `audit` (the
// service's sink: synchronous or batched). Returns the response the client gets (the contract's
// fixed detail of the verdict answered). The caller counts its own counters and responds.
http::Response Reject(const RejectionPath& path, const verify::Verdict& verdict,
                      const verify::RequestContext& ctx,
                      const std::function<void(const verify::RequestContext&)>& release,
                      const std::function<void(json::Value&)>& add_details,
                      const std::function<void(json::Value)>& audit);

// `state_backend` is the nonce/rate backend, labelled by its canonical name in backend_errors
// ("redis" / "memory"; "state" when not known). `operator_label` must come from OperatorLabel (bounded label set),
// never raw request data.
void CountRejection(stats::GatewayMetrics& m, const verify::Verdict& v,
                    std::string_view operator_label,
                    std::optional<config::StateBackend> state_backend);

// The metric label for an operator id taken from a request (issue 12 item 11): the id itself
// only when it is a configured operator (a key of operator_tenant_map, a bounded set chosen by
// the operator of the gateway), "unknown" when empty, and "other" for anything else, so
// requests cannot create label series (a flood of random operator ids stays one series).
std::string_view OperatorLabel(const config::GatewayConfig& cfg, std::string_view operator_id);

// Charges a permanent rejection (4xx other than 429) of an authenticated identity
// (ctx.identity_authenticated) to that identity's rejection budget (issue 12 item 5; key
// "rejections:<identity>") and returns the verdict to answer: `v` itself while within budget
// (or when `budget` is nullptr), 429 rejection_budget_exceeded past it, 503
// rejection_budget_unavailable when the budget backend cannot decide (fail closed).
verify::Verdict ChargeRejectionBudget(state::RateLimiter* budget,
                                      const verify::RequestContext& ctx,
                                      const verify::Verdict& v);

// An accepted request whose audit record could not be written fails closed: counts it (audit
// append failure + one rejected{503,audit_unavailable}), logs the precise error and returns the
// 503 the client gets. The caller releases what the request holds (nonce, rate unit) and
// responds. `what` names the request kind for the log line.
http::Response AuditFailureResponse(stats::GatewayMetrics& m, std::string_view what,
                                    std::string_view request_id, std::string_view operator_id,
                                    const Status& append_status);

// The audit details of a rejected request, the same keys on every path: request_id,
// status_code, detail (the client's fixed string), reason (the precise reason code),
// internal_detail (when the check gave one), identity and operator_id (when known). Callers
// add their own keys (tenant_id, dlq).
json::Value RejectionDetails(const verify::Verdict& v, const verify::RequestContext& ctx);

// The audit details of an accepted telemetry event (single or batch), the same keys on both
// paths: request_id, tenant_id, operator_id, campaign_id, event_id, identity, kid.
json::Value AcceptedDetails(const verify::RequestContext& ctx);

// Logs a rejection at info: "<event> <status>" with request_id, identity (when known) and
// reason (the precise reason code) as fields, escaped by the log formatter (issue 16).
void LogRejection(std::string_view event, const verify::Verdict& v,
                  const verify::RequestContext& ctx);

// Classifies a TLS handshake failure text into a small fixed label set (bounded cardinality):
// no_client_certificate, certificate_revoked, certificate_expired, untrusted_certificate,
// timeout, evicted, protocol_error.
std::string_view HandshakeFailureClass(std::string_view reason);

}  // namespace vv::app

#pragma once
// The rejection and fail-closed paths shared by the three request services (telemetry,
// federation, cognitive): the one place that turns a rejection verdict into metric increments
// and audit details, so every rejection path records the same keys and increments
// exactly one vv_gateway_requests_rejected_total{status,reason} child, plus the class counter
// the verdict belongs to (replay per operator, signature failures, mTLS identity mismatches,
// backend errors). Thread-safe (metrics are atomics).

#include <string_view>

#include "common/status.h"
#include "config/gateway_config.h"
#include "http/server.h"
#include "json/json.h"
#include "state/state.h"
#include "stats/service_metrics.h"
#include "verify/check.h"

namespace vv::app {

// `state_backend` names the nonce/rate backend for backend_errors ("redis" / "memory").
// `operator_label` must come from OperatorLabel (bounded label set), never raw request data.
void CountRejection(stats::GatewayMetrics& m, const verify::Verdict& v,
                    std::string_view operator_label, std::string_view state_backend);

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

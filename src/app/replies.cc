#include "app/replies.h"

#include <spdlog/spdlog.h>

#include "json/json.h"
#include "common/logging.h"

namespace vv::app {

std::string DetailBody(std::string_view detail) {
  std::string out = "{\"detail\":";
  json::AppendQuoted(detail, &out);
  out += '}';
  return out;
}

http::Response DetailResponse(int status, std::string_view detail) {
  return {status, DetailBody(detail), "application/json"};
}

http::Response JsonResponse(int status, const json::Value& v) {
  return {status, json::Canonical(v), "application/json"};
}

bool AppendAuditCounted(audit::AuditSink& audit, stats::GatewayMetrics& m,
                        std::string_view event, std::string_view actor, json::Value details) {
  Status as = audit.Append(event, actor, std::move(details));
  if (as.ok()) return true;
  CountAuditAppendFailure(m, as);
  return false;
}

void CountAuditAppendFailure(stats::GatewayMetrics& m, const Status& append_status) {
  m.audit_append_failures.Inc();
  m.BackendError("audit").Inc();
  spdlog::error("audit append failed: {}", append_status.ToString());
}

http::Response Reject(const RejectionPath& path, const verify::Verdict& verdict,
                      const verify::RequestContext& ctx,
                      const std::function<void(const verify::RequestContext&)>& release,
                      const std::function<void(json::Value&)>& add_details,
                      const std::function<void(json::Value)>& audit) {
  const verify::Verdict v = ChargeRejectionBudget(path.budget, ctx, verdict);
  // Transient answers give back what the request holds so the same signed bytes can be retried.
  if ((v.http_status == 429 || v.http_status == 503) && release) release(ctx);
  CountRejection(*path.metrics, v, OperatorLabel(*path.config, ctx.operator_id),
                 path.config->nonce_backend);
  json::Value details = RejectionDetails(v, ctx);
  if (add_details) add_details(details);
  LogRejection(path.event, v, ctx);
  audit(std::move(details));
  return DetailResponse(v.http_status, v.detail);
}

std::string_view OperatorLabel(const config::GatewayConfig& cfg, std::string_view operator_id) {
  if (operator_id.empty()) return "unknown";
  auto it = cfg.operator_tenant_map.find(std::string(operator_id));
  if (it == cfg.operator_tenant_map.end()) return "other";
  return it->first;  // owned by the config snapshot, which outlives the increment
}

verify::Verdict ChargeRejectionBudget(state::RateLimiter* budget,
                                      const verify::RequestContext& ctx,
                                      const verify::Verdict& v) {
  // Only permanent rejections of an authenticated identity count: a flood of invalid bodies is
  // otherwise free to send and costs a full validation, a DLQ record and an audit entry each.
  // Transient answers (429/503) never count, nor does a request whose identity is unproven.
  if (budget == nullptr || ctx.identity == nullptr || !ctx.identity_authenticated ||
      v.http_status < 400 || v.http_status >= 500 || v.http_status == 429)
    return v;
  state::RateTicket ticket;
  Status s = budget->Acquire("rejections:" + ctx.identity->id, &ticket);
  if (s.ok()) return v;
  if (s.code() == StatusCode::kResourceExhausted)
    return verify::Verdict::Reject(
        verify::Reason::kRejectionBudgetExceeded, 429, "Operator burst anomaly detected",
        "identity=" + ctx.identity->id + " exceeded its rejection budget; would have been " +
            std::to_string(v.http_status) + " " + verify::ReasonName(v.reason));
  // Fail closed: the budget cannot be checked, so the identity is not served.
  return verify::Verdict::Reject(verify::Reason::kRejectionBudgetUnavailable, 503,
                                 "Rate limiter unavailable", s.ToString());
}

void CountRejection(stats::GatewayMetrics& m, const verify::Verdict& v,
                    std::string_view operator_label,
                    std::optional<config::StateBackend> state_backend) {
  using verify::Reason;
  m.Rejected(v.http_status, verify::ReasonName(v.reason)).Inc();
  switch (v.reason) {
    case Reason::kReplay:
      m.ReplayDetected(operator_label.empty() ? std::string_view("unknown") : operator_label).Inc();
      break;
    case Reason::kBadSignature:
    case Reason::kSignatureEncoding:
    case Reason::kSignatureNotBase64:
      m.signature_failures.Inc();
      break;
    case Reason::kCertPinMismatch:
    case Reason::kCertHeaderMismatch:
    case Reason::kNoClientCertificate:
      m.mtls_identity_mismatches.Inc();
      break;
    case Reason::kNonceStoreUnavailable:
    case Reason::kRateLimiterUnavailable:
    case Reason::kRejectionBudgetUnavailable:
      m.BackendError(state_backend ? config::Name(*state_backend) : std::string_view("state"))
          .Inc();
      break;
    case Reason::kQueuePublishFailed:
      m.BackendError("queue").Inc();
      break;
    case Reason::kAuditUnavailable:
      m.BackendError("audit").Inc();
      break;
    default:
      break;
  }
}

json::Value AcceptedDetails(const verify::RequestContext& ctx) {
  json::Object d;
  d.reserve(10);  // room for what the batch endpoint adds (batch_id, batch_index, duplicate)
  d.emplace_back("request_id", ctx.request_id);
  d.emplace_back("tenant_id", ctx.tenant_id);
  d.emplace_back("operator_id", ctx.operator_id);
  d.emplace_back("campaign_id", ctx.campaign_id);
  d.emplace_back("event_id", ctx.event_id);
  d.emplace_back("identity", ctx.identity->id);
  d.emplace_back("kid", ctx.signing_kid);
  return json::Value(std::move(d));
}

json::Value RejectionDetails(const verify::Verdict& v, const verify::RequestContext& ctx) {
  json::Value details = json::Value::MakeObject();
  details.Set("request_id", ctx.request_id);
  details.Set("status_code", v.http_status);
  details.Set("detail", v.detail);
  details.Set("reason", verify::ReasonName(v.reason));
  if (!v.internal_detail.empty()) details.Set("internal_detail", v.internal_detail);
  if (ctx.identity) details.Set("identity", ctx.identity->id);
  if (!ctx.operator_id.empty()) details.Set("operator_id", ctx.operator_id);
  return details;
}

void LogRejection(std::string_view event, const verify::Verdict& v,
                  const verify::RequestContext& ctx) {
  if (!spdlog::should_log(spdlog::level::info)) return;
  logging::Fields f;
  f.request_id = ctx.request_id;
  if (ctx.identity) f.identity = ctx.identity->id;
  f.reason = verify::ReasonName(v.reason);
  logging::LogWithFields(spdlog::level::info,
                         std::string(event) + " " + std::to_string(v.http_status), f);
}

std::string_view HandshakeFailureClass(std::string_view r) {
  auto has = [&](std::string_view s) { return r.find(s) != std::string_view::npos; };
  if (has("evicted")) return "evicted";  // pending-handshake pool full (issue 12 item 4)
  if (has("revoked")) return "certificate_revoked";
  if (has("expired")) return "certificate_expired";
  if (has("did not return a certificate") || has("certificate required")) return "no_client_certificate";
  if (has("certificate verify failed") || has("unable to get") || has("self-signed") ||
      has("self signed") || has("unknown ca") || has("CRL"))
    return "untrusted_certificate";
  if (has("timed out") || has("Operation canceled") || has("operation canceled")) return "timeout";
  return "protocol_error";
}

http::Response AuditFailureResponse(stats::GatewayMetrics& m, std::string_view what,
                                    std::string_view request_id, std::string_view operator_id,
                                    const Status& append_status) {
  static constexpr std::string_view kDetail = "Tamper audit log unavailable";
  m.audit_append_failures.Inc();
  CountRejection(m, verify::Verdict::Reject(verify::Reason::kAuditUnavailable, 503,
                                            std::string(kDetail)),
                 "", std::nullopt);
  spdlog::error("audit append failed for {} request {}: {}", what, request_id,
                append_status.ToString());
  return {503, DetailBody(kDetail), "application/json"};
}

}  // namespace vv::app

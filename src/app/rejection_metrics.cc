#include "app/rejection_metrics.h"

#include <spdlog/spdlog.h>

#include "app/gateway_service.h"
#include "common/logging.h"

namespace vv::app {

void CountRejection(stats::GatewayMetrics& m, const verify::Verdict& v,
                    std::string_view operator_id, std::string_view state_backend) {
  using verify::Reason;
  m.Rejected(v.http_status, verify::ReasonName(v.reason)).Inc();
  switch (v.reason) {
    case Reason::kReplay:
      m.ReplayDetected(operator_id.empty() ? std::string_view("unknown") : operator_id).Inc();
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
      m.BackendError(state_backend.empty() ? std::string_view("state") : state_backend).Inc();
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
                 operator_id, "");
  spdlog::error("audit append failed for {} request {}: {}", what, request_id,
                append_status.ToString());
  return {503, DetailBody(kDetail), "application/json"};
}

}  // namespace vv::app

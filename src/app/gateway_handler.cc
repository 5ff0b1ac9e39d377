#include "app/gateway_handler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "app/replies.h"
#include "common/logging.h"
#include "common/text.h"

namespace vv::app {

GatewayHandler::GatewayHandler(GatewayHandlerDeps deps)
    : deps_(std::move(deps)), config_(deps_.config) {
  router_.Add(std::move(deps_.endpoints));
  deps_.endpoints.clear();
}

void GatewayHandler::Audit(std::string_view event_type, std::string_view actor,
                           json::Value details) {
  if (!AppendAuditCounted(*deps_.audit, *deps_.metrics, event_type, actor, std::move(details)))
    deps_.counters->audit_failures++;
}

void GatewayHandler::Handle(http::Request request, http::Responder respond) {
  const std::string path = request.Path();
  if (const Endpoint* e = router_.Find(path)) {
    if (e->router_refuses_other_methods && request.method != "POST") {
      respond(RoutingRejection(request, 405, verify::Reason::kMethodNotAllowed,
                               "Method Not Allowed"));
      return;
    }
    e->handle(std::move(request), std::move(respond));
    return;
  }
  if (path == "/healthz" && request.method == "GET") {
    respond(Health(false, request.peer));
    return;
  }
  if (path == "/readyz" && request.method == "GET") {
    respond(Health(true, request.peer));
    return;
  }
  respond(RoutingRejection(request, 404, verify::Reason::kNotFound, "Not Found"));
}

http::Response GatewayHandler::RoutingRejection(const http::Request& request, int status,
                                                verify::Reason reason, const char* detail) {
  // Every bad input gets an audit record, also a probe of an unknown path or a wrong method
  // (an authenticated peer: mTLS came first). Request bytes are escaped and bounded. Counted
  // in the rejection metric; the counters' `rejected` keeps counting the endpoints' requests.
  deps_.metrics->Rejected(status, verify::ReasonName(reason)).Inc();
  json::Value details = json::Value::MakeObject();
  details.Set("request_id", deps_.random->Uuid4());
  details.Set("status_code", status);
  details.Set("detail", detail);
  details.Set("reason", verify::ReasonName(reason));
  details.Set("method", text::PrintableAscii(request.method, 32));
  details.Set("path", text::PrintableAscii(request.Path(), 200));
  if (const std::string* id = request.Header("x-service-identity")) {
    details.Set("claimed_identity", text::PrintableAscii(*id, 128));
  }
  details.Set("remote_address", request.peer.remote_address);
  if (!request.peer.cert_sha256_hex.empty()) {
    details.Set("cert_sha256", request.peer.cert_sha256_hex);
  }
  const std::string request_id = details.Find("request_id")->as_string();
  Audit("http.rejected", kActor, std::move(details));
  if (spdlog::should_log(spdlog::level::info)) {
    logging::Fields f;
    f.request_id = request_id;
    f.reason = verify::ReasonName(reason);
    logging::LogWithFields(spdlog::level::info, "http.rejected " + std::to_string(status), f);
  }
  return DetailResponse(status, detail);
}

http::Response GatewayHandler::OnBodyTooLarge(const http::Request& request) {
  std::string request_id = deps_.random->Uuid4();
  deps_.counters->rejected++;
  deps_.metrics->Rejected(413, verify::ReasonName(verify::Reason::kBodyTooLarge)).Inc();
  json::Value details = json::Value::MakeObject();
  details.Set("request_id", request_id);
  details.Set("status_code", 413);
  details.Set("detail", "Telemetry payload exceeds 1MiB limit");
  details.Set("reason", verify::ReasonName(verify::Reason::kBodyTooLarge));
  details.Set("path", request.Path());
  Audit("telemetry.rejected", kActor, std::move(details));
  logging::LogWithFields(spdlog::level::info, "telemetry.rejected 413",
                         {request_id, {}, verify::ReasonName(verify::Reason::kBodyTooLarge)});
  return DetailResponse(413, "Telemetry payload exceeds 1MiB limit");
}

void GatewayHandler::OnHandshakeFailed(const http::PeerInfo& peer, std::string_view reason) {
  deps_.counters->handshakes_rejected++;
  deps_.metrics->HandshakeRejected(HandshakeFailureClass(reason)).Inc();
  uint64_t suppressed = 0;
  {
    MutexLock l(&handshake_audit_mu_);
    int64_t second = deps_.clock->MonotonicMicros() / 1000000;
    if (second != handshake_audit_second_) {
      handshake_audit_second_ = second;
      handshake_audits_this_second_ = 0;
    }
    if (++handshake_audits_this_second_ > kMaxHandshakeAuditsPerSecond) {
      handshake_audits_suppressed_++;
      return;
    }
    suppressed = handshake_audits_suppressed_;
    handshake_audits_suppressed_ = 0;
  }
  json::Value details = json::Value::MakeObject();
  details.Set("remote_address", peer.remote_address);
  details.Set("reason", std::string(reason));
  if (!peer.cert_sha256_hex.empty()) details.Set("cert_sha256", peer.cert_sha256_hex);
  if (!peer.subject.empty()) details.Set("subject", peer.subject);
  if (suppressed > 0) details.Set("suppressed_since_last", static_cast<int64_t>(suppressed));
  Audit("tls.handshake_rejected", kActor, std::move(details));
}

http::Response GatewayHandler::Health(bool readiness, const http::PeerInfo& peer) const {
  const auto cfg_ptr = config_.Current();
  const config::GatewayConfig& cfg = *cfg_ptr;
  // Details only for a presented, verified certificate that some identity pins.
  const bool details = peer.has_certificate && cfg.PinnedByAnyIdentity(peer.cert_sha256_hex);
  const ReadinessVerdict verdict = deps_.readiness->Check();
  deps_.metrics->ready.Set(verdict.ready ? 1 : 0);
  json::Value v = json::Value::MakeObject();
  if (!verdict.ready) {
    if (readiness) {
      v.Set("ready", false);
    } else {
      v.Set("status", "unavailable");
    }
    v.Set("reason", verdict.reason);
    if (details) {
      v.Set("component", verdict.component);
      v.Set("detail", verdict.detail);
    }
    return JsonResponse(503, v);
  }
  if (readiness) {
    v.Set("ready", true);
    return JsonResponse(200, v);
  }
  v.Set("status", "healthy");
  if (!details) return JsonResponse(200, v);
  v.Set("require_mtls", cfg.require_mtls);
  json::Value ids = json::Value::MakeArray();
  std::vector<std::string> names;
  for (const auto& i : cfg.identities) names.push_back(i.id);
  std::sort(names.begin(), names.end());
  for (auto& n : names) ids.Push(n);
  v.Set("trusted_identities", std::move(ids));
  v.Set("require_payload_signature", cfg.require_payload_signature);
  v.Set("enforce_schema_version", cfg.enforce_schema_version);
  v.Set("allowed_schema_version",
        cfg.allowed_schema_versions.empty() ? std::string() : cfg.allowed_schema_versions.front());
  json::Value versions = json::Value::MakeArray();
  for (const auto& s : cfg.allowed_schema_versions) versions.Push(s);
  v.Set("allowed_schema_versions", std::move(versions));
  v.Set("nonce_ttl_seconds", cfg.nonce_ttl_seconds);
  v.Set("nonce_backend", std::string(config::Name(cfg.nonce_backend)));
  v.Set("rate_limit_per_minute", cfg.rate_limit_per_minute);
  v.Set("queue_backend", std::string(config::Name(cfg.queue_backend)));
  return JsonResponse(200, v);
}

}  // namespace vv::app

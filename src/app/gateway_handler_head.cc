// GatewayHandler: the transport-level hooks of issue 12 (early rejection from the request head,
// listener refusals, connections whose certificate was revoked by a reload). Kept apart from
// gateway_handler.cc: these run on the listener's io threads before a request exists.

#include <spdlog/spdlog.h>

#include "app/gateway_handler.h"
#include "app/replies.h"
#include "common/logging.h"
#include "common/text.h"
#include "verify/checks.h"

namespace vv::app {

namespace {
constexpr size_t kMaxLoggedTarget = 200;

// Untrusted request bytes for an audit record (common/text.h).
std::string Printable(std::string_view s) { return text::PrintableAscii(s, kMaxLoggedTarget); }
}  // namespace

std::optional<http::Response> GatewayHandler::OnHead(const http::Request& head) {
  if (head.method != "POST") return std::nullopt;  // 405 / 404 / GET need no body anyway
  const std::string path = head.Path();
  const Endpoint* endpoint = router_.Find(path);
  if (endpoint == nullptr) return std::nullopt;
  const std::string_view event = endpoint->rejected_event;
  // Endpoints whose middleware checks Content-Type first name the type and the 415 text.
  const std::string_view media_type = endpoint->media_type;
  const bool media_checked = !media_type.empty();
  const auto cfg = config_.Current();
  verify::RequestContext ctx;
  ctx.headers = &head.headers;
  ctx.peer_has_certificate = head.peer.has_certificate;
  ctx.peer_cert_sha256 = head.peer.cert_sha256_hex;

  // The contract's order, as far as the head decides it: Content-Type (M1), then an empty body
  // (M2) and the size limit (M3) - both left to the normal path, which answers them without
  // reading a body - then identity (R1-R4 and the kill switch).
  verify::Verdict v;
  if (media_checked) {
    auto ct = ctx.Header("content-type");
    if (!ct || ct->find(media_type) == std::string_view::npos)
      v = verify::Verdict::Reject(verify::Reason::kUnsupportedMediaType, 415,
                                  std::string(endpoint->media_detail));
  }
  if (v.ok()) {
    if (media_checked && head.content_length && *head.content_length == 0)
      return std::nullopt;
    if (head.content_length && *head.content_length > cfg->max_body_bytes)
      return std::nullopt;
    verify::IdentityCheck identity(cfg);
    v = identity.Run(ctx);
    if (v.ok()) return std::nullopt;  // the full chain runs again once the body is read
  }
  ctx.request_id = deps_.random->Uuid4();
  deps_.counters->rejected++;
  CountRejection(*deps_.metrics, v, ctx.operator_id, cfg->nonce_backend);
  json::Value details = RejectionDetails(v, ctx);
  details.Set("path", path);
  details.Set("stage", "request_head");  // refused before the body was read
  Audit(event, kActor, std::move(details));
  LogRejection(event, v, ctx);  // the same info line (request_id, identity, reason) as the chain's
  return DetailResponse(v.http_status, v.detail);
}

void GatewayHandler::OnProtocolError(const http::Request& head, int status,
                                     std::string_view reason, std::string_view detail) {
  deps_.counters->rejected++;
  deps_.metrics->Rejected(status, reason).Inc();  // reason: the listener's fixed code set
  json::Value details = json::Value::MakeObject();
  const std::string request_id = deps_.random->Uuid4();
  details.Set("request_id", request_id);
  details.Set("status_code", status);
  details.Set("detail", status == 400 ? "Malformed HTTP request" : "Request header fields too large");
  details.Set("reason", std::string(reason));
  if (!detail.empty()) details.Set("internal_detail", Printable(detail));
  if (!head.method.empty()) details.Set("method", Printable(head.method));
  if (!head.target.empty()) details.Set("path", Printable(head.Path()));
  details.Set("remote_address", head.peer.remote_address);
  if (!head.peer.cert_sha256_hex.empty()) details.Set("cert_sha256", head.peer.cert_sha256_hex);
  Audit("http.rejected", kActor, std::move(details));
  if (spdlog::should_log(spdlog::level::info)) {
    logging::Fields f;
    f.request_id = request_id;
    f.reason = reason;
    logging::LogWithFields(spdlog::level::info, "http.rejected " + std::to_string(status), f);
  }
}

void GatewayHandler::OnPeerRejected(const http::PeerInfo& peer, std::string_view reason) {
  deps_.metrics->HandshakeRejected(HandshakeFailureClass(reason)).Inc();
  json::Value details = json::Value::MakeObject();
  details.Set("remote_address", peer.remote_address);
  details.Set("reason", std::string(reason));
  if (!peer.cert_sha256_hex.empty()) details.Set("cert_sha256", peer.cert_sha256_hex);
  if (!peer.subject.empty()) details.Set("subject", Printable(peer.subject));
  Audit("tls.connection_revoked", kActor, std::move(details));
}

}  // namespace vv::app

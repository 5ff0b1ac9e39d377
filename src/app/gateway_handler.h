#pragma once
// GatewayHandler: the gateway's one http::Handler behind the HTTPS listener (issue 13). It
// routes each request through the endpoint table (app/router.h) - the telemetry service's rows
// and the federation and cognitive services' rows, services that never know each other -
// answers /healthz and /readyz from the Readiness model, refuses an unknown path (404) or a
// method a row refuses (405), and owns the listener's transport hooks: the early answer from a
// request head, the oversized body, listener protocol refusals, refused TLS handshakes and
// connections revoked by a reload. Every refusal is counted and audited with its precise
// reason (request bytes escaped and bounded); clients get the contract's fixed texts.
//
// Thread-safety: every method may be called concurrently from the listener's threads; members
// are immutable after construction or thread-safe. Ownership: borrows every dependency (the
// wiring in gateway_app.h, or a test, owns them).

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "app/published.h"
#include "app/readiness.h"
#include "app/router.h"
#include "audit/audit_log.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "config/gateway_config.h"
#include "http/server.h"
#include "stats/service_metrics.h"
#include "verify/check.h"

namespace vv::app {

// The telemetry gateway's counters per outcome, for /metrics (issue 8 extends) and for tests:
// the telemetry service (GatewayService) and the handler count into one set.
struct GatewayCounters {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> dlq_published{0};
  std::atomic<uint64_t> dlq_failed{0};
  std::atomic<uint64_t> audit_failures{0};
  std::atomic<uint64_t> handshakes_rejected{0};
};

struct GatewayHandlerDeps {
  std::shared_ptr<const config::GatewayConfig> config;
  const Clock* clock = nullptr;
  Random* random = nullptr;
  audit::AuditSink* audit = nullptr;  // as the services see it (readiness-observed)
  stats::GatewayMetrics* metrics = nullptr;
  Readiness* readiness = nullptr;
  // Shared with the telemetry service: refusals answered here count as its rejections
  // (rejected), handshakes_rejected, audit_failures.
  GatewayCounters* counters = nullptr;
  std::vector<Endpoint> endpoints;  // every service's rows
};

class GatewayHandler final : public http::Handler {
 public:
  explicit GatewayHandler(GatewayHandlerDeps deps);

  void Handle(http::Request request, http::Responder respond) override;
  // 413 for a body over max_body_bytes, audited as telemetry.rejected (body_too_large).
  http::Response OnBodyTooLarge(const http::Request& request) override;
  // Audits a refused TLS handshake as "tls.handshake_rejected" (remote address, reason,
  // presented certificate). At most kMaxHandshakeAuditsPerSecond records a second so a
  // connection flood cannot flood the audit log; the suppressed count goes into the next one.
  void OnHandshakeFailed(const http::PeerInfo& peer, std::string_view reason) override;
  static constexpr int kMaxHandshakeAuditsPerSecond = 20;
  // Issue 12 (transport hardening), in gateway_handler_head.cc. OnHead answers a POST to a
  // routed endpoint from its head alone when the full chain would refuse it there anyway -
  // wrong Content-Type (415), then the pinned-certificate identity check (401/403, kill switch
  // included) - before the server reads any body byte; exactly the status and reason the full
  // chain gives, audited the same way.
  std::optional<http::Response> OnHead(const http::Request& head) override;
  // Audits a request the listener refused itself (malformed HTTP, refused Transfer-Encoding,
  // oversized header fields or chunked framing) as "http.rejected" with the precise reason.
  void OnProtocolError(const http::Request& head, int status, std::string_view reason,
                       std::string_view detail) override;
  // Audits a connection closed after a TLS reload because its certificate no longer verifies
  // (e.g. revoked by the new CRL) as "tls.connection_revoked".
  void OnPeerRejected(const http::PeerInfo& peer, std::string_view reason) override;

  // Hot reload: later requests and heads use `cfg` (identities, pins, kill switch, limits).
  void Reload(std::shared_ptr<const config::GatewayConfig> cfg) { config_.Publish(std::move(cfg)); }

 private:
  // Health/readiness from the Readiness model: 503 whenever requests would get 503, with the
  // fixed reason code ({"status":"unavailable","reason":...} / {"ready":false,"reason":...}).
  // Configuration details (identities, flags, backends, the failing dependency's precise
  // error) only for a caller whose presented certificate is pinned by some identity (issue
  // 12 item 14); any other CA-signed client gets only the status and the reason code.
  http::Response Health(bool readiness, const http::PeerInfo& peer) const;
  // 404 / 405 from the router: counted, audited as http.rejected, answered.
  http::Response RoutingRejection(const http::Request& request, int status, verify::Reason reason,
                                  const char* detail);
  void Audit(std::string_view event_type, std::string_view actor, json::Value details);

  GatewayHandlerDeps deps_;
  Router router_;  // read-only after construction
  Published<config::GatewayConfig> config_;
  Mutex handshake_audit_mu_;
  int64_t handshake_audit_second_ VV_GUARDED_BY(handshake_audit_mu_) = 0;
  int handshake_audits_this_second_ VV_GUARDED_BY(handshake_audit_mu_) = 0;
  uint64_t handshake_audits_suppressed_ VV_GUARDED_BY(handshake_audit_mu_) = 0;
};

}  // namespace vv::app

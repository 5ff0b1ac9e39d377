#include "app/gateway_service.h"

#include <spdlog/spdlog.h>

#include "app/replies.h"
#include "app/telemetry_call.h"
#include "common/completion_batch.h"
#include "common/logging.h"
#include "common/text.h"
#include "verify/checks.h"

namespace vv::app {

namespace {

http::Response JsonResponse(int status, const json::Value& v) {
  return http::Response{status, json::Canonical(v), "application/json"};
}

}  // namespace

GatewayService::GatewayService(GatewayDeps deps) : deps_(std::move(deps)) {
  router_.Add(Endpoints());
  router_.Add(std::move(deps_.endpoints));
  deps_.endpoints.clear();
  if (deps_.admission == nullptr) {
    own_admission_ = std::make_unique<state::CompositeAdmission>(*deps_.nonces, *deps_.limiter);
    deps_.admission = own_admission_.get();
  }
  if (deps_.metrics == nullptr) {
    own_registry_ = std::make_unique<stats::Registry>();
    own_metrics_ = std::make_unique<stats::GatewayMetrics>(*own_registry_);
    deps_.metrics = own_metrics_.get();
  }
  if (deps_.readiness == nullptr) {
    // Unit tests: no probe cache (the backends' fakes flip at will).
    own_readiness_ = std::make_unique<Readiness>(*deps_.clock, ReadinessOptions{0, 30});
    AddGatewayComponents(*own_readiness_, *deps_.audit, *deps_.publisher, *deps_.nonces,
                         *deps_.limiter);
    own_audit_ = std::make_unique<ObservedAuditSink>(*deps_.audit, *own_readiness_);
    own_publisher_ = std::make_unique<ObservedPublisher>(*deps_.publisher, *own_readiness_);
    deps_.audit = own_audit_.get();
    deps_.publisher = own_publisher_.get();
    deps_.readiness = own_readiness_.get();
  }
  snapshot_.Publish(MakeSnapshot(deps_.config));
}

std::shared_ptr<const GatewayService::Snapshot> GatewayService::MakeSnapshot(
    std::shared_ptr<const config::GatewayConfig> cfg) const {
  auto snap = std::make_shared<Snapshot>();
  snap->config = cfg;
  snap->chain =
      std::make_unique<verify::TelemetryChain>(cfg, *deps_.clock, *deps_.catalog, *deps_.admission);
  return snap;
}

void GatewayService::Reload(std::shared_ptr<const config::GatewayConfig> cfg) {
  snapshot_.Publish(MakeSnapshot(std::move(cfg)));
}

GatewayService::~GatewayService() = default;

void GatewayService::Audit(std::string_view event_type, std::string_view actor,
                           json::Value details) {
  if (!AppendAuditCounted(*deps_.audit, *deps_.metrics, event_type, actor, std::move(details)))
    counters_.audit_failures++;
}

std::vector<Endpoint> GatewayService::Endpoints() {
  std::vector<Endpoint> rows;
  rows.push_back({kTelemetryPath, "telemetry.rejected", "application/json", kTelemetryMediaDetail,
                  /*router_refuses_other_methods=*/true,
                  [this](http::Request q, http::Responder r) {
                    HandleTelemetry(std::move(q), std::move(r));
                  }});
  rows.push_back({kTelemetryBatchPath, "telemetry.rejected", kBatchMediaType, kBatchMediaDetail,
                  /*router_refuses_other_methods=*/true,
                  [this](http::Request q, http::Responder r) {
                    HandleTelemetryBatch(std::move(q), std::move(r));
                  }});
  return rows;
}

void GatewayService::Handle(http::Request request, http::Responder respond) {
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

http::Response GatewayService::RoutingRejection(const http::Request& request, int status,
                                                verify::Reason reason, const char* detail) {
  // Every bad input gets an audit record, also a probe of an unknown path or a wrong method
  // (an authenticated peer: mTLS came first). Request bytes are escaped and bounded. Counted
  // in the rejection metric; counters_.rejected keeps counting requests of the endpoints only.
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

http::Response GatewayService::OnBodyTooLarge(const http::Request& request) {
  std::string request_id = deps_.random->Uuid4();
  counters_.rejected++;
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

void GatewayService::OnHandshakeFailed(const http::PeerInfo& peer, std::string_view reason) {
  counters_.handshakes_rejected++;
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

void AddGatewayComponents(Readiness& r, const audit::AuditSink& audit,
                          const queue::Publisher& publisher, const state::NonceStore& nonces,
                          const state::RateLimiter& limiter) {
  r.AddComponent("audit", AuditReason, [&audit] { return audit.WriteHealth(); });
  r.AddComponent("queue", "queue_unavailable", [&publisher] { return publisher.Health(); });
  r.AddComponent("nonce_store", "nonce_store_unavailable", [&nonces] { return nonces.Health(); });
  r.AddComponent("rate_limiter", "rate_limiter_unavailable",
                 [&limiter] { return limiter.Health(); });
}

http::Response GatewayService::Health(bool readiness, const http::PeerInfo& peer) const {
  const auto cfg_ptr = config();
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

void GatewayService::HandleTelemetry(http::Request request, http::Responder respond) {
  auto call = std::make_shared<TelemetryCall>();
  auto snap = Current();
  call->Init(std::move(request), std::move(respond), snap, deps_.clock->MonotonicMicros(),
             deps_.random->Uuid4());
  verify::RequestContext& ctx = call->ctx;

  // Middleware stage (M1, M2): content type, then empty body. M3 (size) is OnBodyTooLarge.
  auto ct = ctx.Header("content-type");
  if (!ct || ct->find("application/json") == std::string_view::npos) {
    Reject(call,
           verify::Verdict::Reject(verify::Reason::kUnsupportedMediaType, 415,
                                   kTelemetryMediaDetail),
           nullptr);
    return;
  }
  if (ctx.body.empty()) {
    Reject(call,
           verify::Verdict::Reject(verify::Reason::kEmptyBody, 422, "Telemetry payload is required"),
           nullptr);
    return;
  }

  verify::Verdict v = snap->chain->Run(ctx);
  deps_.metrics->verification_duration.Observe(
      static_cast<double>(deps_.clock->MonotonicMicros() - call->started_us) / 1e6);
  if (!v.ok()) {
    if (!ctx.dead_letter) {
      Reject(call, v, nullptr);
      return;
    }
    // 422 with a DLQ record: publish it, then answer 422 whatever the DLQ outcome (a DLQ
    // failure never turns a permanent rejection into a 503; it is audited and counted).
    verify::DeadLetter dl = std::move(*ctx.dead_letter);
    ctx.dead_letter.reset();
    queue::Envelope env = queue::MakeDeadLetterEnvelope(
        dl.error_code, dl.error_message, ctx.body, std::move(dl.trace), *deps_.clock,
        *deps_.random);
    deps_.publisher->Publish(std::move(env), [this, call, v](Status s, queue::PublishOutcome) {
      if (s.ok()) {
        counters_.dlq_published++;
        deps_.metrics->dlq_published.Inc();
      } else {
        counters_.dlq_failed++;
        deps_.metrics->dlq_publish_failures.Inc();
        deps_.metrics->BackendError("queue").Inc();
      }
      Reject(call, v, s.ok() ? "stored" : "failed");
    });
    return;
  }

  // Accepted by every check: publish, and answer 202 only once the envelope is durable.
  // DESIGN (issue 12 item 2): the dedupe key stays the reference's (tenant_id, event_id), with
  // tenant_id canonical (lowercase, BodyCheck). OperatorPermissionCheck already limited this
  // write to identities bound to an operator of this tenant, so another tenant's producer can
  // never reach (and pre-empt) these keys; identities sharing a tenant are trusted for it by
  // configuration, and keeping the identity out of the key keeps retries deduplicated across
  // key and certificate rotations. See docs/authorization.md.
  json::Value trace = json::Value::MakeObject();
  trace.Set("operator_id", ctx.operator_id);
  trace.Set("campaign_id", ctx.campaign_id);
  trace.Set("tenant_id", ctx.tenant_id);
  queue::Envelope env =
      queue::MakeIngestEnvelope(std::move(ctx.ingest_payload), std::move(trace),
                                ctx.tenant_id + "/" + ctx.event_id, *deps_.clock, *deps_.random);
  // What the rest of the request no longer reads is freed here, on the io thread that
  // allocated it: freed on the queue's writer thread (where the call ends) every chunk went
  // back to this thread's malloc arena under its lock, contending with the io threads.
  ctx.body_json = json::Value();
  ctx.body = {};
  ctx.headers = nullptr;
  std::string().swap(call->request.body);
  decltype(call->request.headers)().swap(call->request.headers);
  const int64_t publish_start_us = deps_.clock->MonotonicMicros();
  deps_.publisher->Publish(std::move(env), [this, call, publish_start_us](
                                               Status s, queue::PublishOutcome outcome) {
    deps_.metrics->queue_publish_duration.Observe(
        static_cast<double>(deps_.clock->MonotonicMicros() - publish_start_us) / 1e6);
    verify::RequestContext& c = call->ctx;
    if (!s.ok()) {
      if (c.rate_ticket) deps_.admission->Refund(*c.rate_ticket);
      Reject(call,
             verify::Verdict::Reject(verify::Reason::kQueuePublishFailed, 503,
                                     "Telemetry queue publish failed", s.ToString()),
             nullptr);
      return;
    }
    json::Value details = AcceptedDetails(c);
    if (outcome == queue::PublishOutcome::kDuplicate) details.Set("duplicate", true);
    // Inside the queue's commit group the record joins the group's audit batch (one write
    // for the group); the 202 follows its record either way.
    AuditThen("telemetry.accepted", std::move(details), [this, call, outcome](Status as) {
      verify::RequestContext& c = call->ctx;
      if (!as.ok()) {
        // Fail closed: no 202 without its audit record. The envelope is stored; the
        // producer's retry is deduplicated by (tenant_id, event_id).
        counters_.audit_failures++;
        http::Response failed =
            AuditFailureResponse(*deps_.metrics, "accepted", c.request_id, c.operator_id, as);
        if (c.nonce_registered) deps_.admission->ReleaseNonce(c.nonce_key);
        if (c.rate_ticket) deps_.admission->Refund(*c.rate_ticket);
        counters_.rejected++;
        call->respond(std::move(failed));
        return;
      }
      if (outcome == queue::PublishOutcome::kDuplicate) counters_.duplicates++;
      counters_.accepted++;
      deps_.metrics->requests_accepted.Inc();
      json::Value body = json::Value::MakeObject();
      body.Set("accepted", true);
      body.Set("request_id", c.request_id);
      call->respond(JsonResponse(202, body));
    });
  });
}

namespace {
// The audit records deferred to one CompletionBatch (a commit group of the embedded queue):
// appended with one AppendBatch when the group's callbacks are done, then each continuation
// runs with its record's status.
struct DeferredAudit final : CompletionBatch::Part {
  explicit DeferredAudit(audit::AuditSink& s) : sink(s) {}
  void Close() override {
    std::vector<Status> statuses = sink.AppendBatch(entries);
    for (size_t i = 0; i < then.size(); ++i) then[i](std::move(statuses[i]));
  }
  audit::AuditSink& sink;
  std::vector<audit::AuditEntry> entries;
  std::vector<std::function<void(Status)>> then;
};
}  // namespace

void GatewayService::AuditThen(std::string_view event_type, json::Value details,
                               std::function<void(Status)> then) {
  if (CompletionBatch* batch = CompletionBatch::Current()) {
    auto& part = batch->PartFor<DeferredAudit>(
        this, [this] { return std::make_unique<DeferredAudit>(*deps_.audit); });
    part.entries.push_back(audit::AuditEntry{event_type, kActor, std::move(details)});
    part.then.push_back(std::move(then));
    return;
  }
  then(deps_.audit->Append(event_type, kActor, std::move(details)));
}

void GatewayService::Reject(const std::shared_ptr<TelemetryCall>& call,
                            const verify::Verdict& verdict, const char* dlq_outcome) {
  counters_.rejected++;
  const auto cfg = config();
  call->respond(app::Reject(
      {"telemetry.rejected", deps_.metrics, deps_.rejection_budget, cfg.get()}, verdict, call->ctx,
      [this](const verify::RequestContext& ctx) {
        if (!ctx.nonce_registered) return;
        Status s = deps_.admission->ReleaseNonce(ctx.nonce_key);
        if (!s.ok()) spdlog::warn("nonce release failed: {}", s.ToString());
      },
      [dlq_outcome](json::Value& d) {
        if (dlq_outcome) d.Set("dlq", dlq_outcome);
      },
      [this](json::Value d) { Audit("telemetry.rejected", kActor, std::move(d)); }));
}

}  // namespace vv::app

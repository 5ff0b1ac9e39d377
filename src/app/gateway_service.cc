#include "app/gateway_service.h"

#include <spdlog/spdlog.h>

#include "app/replies.h"
#include "app/telemetry_call.h"
#include "common/completion_batch.h"
#include "common/logging.h"
#include "common/text.h"
#include "verify/checks.h"

namespace vv::app {

GatewayService::GatewayService(GatewayDeps deps) : deps_(std::move(deps)) {
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

GatewayHandlerDeps GatewayService::HandlerDeps(std::vector<Endpoint> other_rows) {
  GatewayHandlerDeps h;
  h.config = config();
  h.clock = deps_.clock;
  h.random = deps_.random;
  h.audit = deps_.audit;
  h.metrics = deps_.metrics;
  h.readiness = deps_.readiness;
  h.counters = &counters_;
  h.endpoints = Endpoints();
  for (Endpoint& e : other_rows) h.endpoints.push_back(std::move(e));
  return h;
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

void AddGatewayComponents(Readiness& r, const audit::AuditSink& audit,
                          const queue::Publisher& publisher, const state::NonceStore& nonces,
                          const state::RateLimiter& limiter) {
  r.AddComponent("audit", AuditReason, [&audit] { return audit.WriteHealth(); });
  r.AddComponent("queue", "queue_unavailable", [&publisher] { return publisher.Health(); });
  r.AddComponent("nonce_store", "nonce_store_unavailable", [&nonces] { return nonces.Health(); });
  r.AddComponent("rate_limiter", "rate_limiter_unavailable",
                 [&limiter] { return limiter.Health(); });
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
      queue::MakeIngestEnvelopeForPublish(std::move(ctx.ingest_payload), std::move(trace),
                                          ctx.tenant_id + "/" + ctx.event_id, *deps_.clock,
                                          *deps_.random);
  // What the rest of the request no longer reads is freed here, on the io thread that
  // allocated it: freed on the queue's completion thread (where the call ends) every chunk went
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
        Answer(*call, std::move(failed));
        return;
      }
      if (outcome == queue::PublishOutcome::kDuplicate) counters_.duplicates++;
      counters_.accepted++;
      deps_.metrics->requests_accepted.Inc();
      json::Value body = json::Value::MakeObject();
      body.Set("accepted", true);
      body.Set("request_id", c.request_id);
      Answer(*call, JsonResponse(202, body));
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

void GatewayService::Answer(TelemetryCall& call, http::Response response) {
  deps_.metrics->request_duration.Observe(
      static_cast<double>(deps_.clock->MonotonicMicros() - call.started_us) / 1e6);
  call.respond(std::move(response));
}

void GatewayService::Reject(const std::shared_ptr<TelemetryCall>& call,
                            const verify::Verdict& verdict, const char* dlq_outcome) {
  counters_.rejected++;
  const auto cfg = config();
  Answer(*call, app::Reject(
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

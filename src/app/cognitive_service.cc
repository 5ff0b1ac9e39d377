#include "app/cognitive_service.h"

#include <spdlog/spdlog.h>

#include "app/replies.h"
#include "schema/cognitive_requests.h"
#include "common/encoding.h"

namespace vv::app {

namespace {
constexpr const char* kStoreUnavailable = "Execution graph store unavailable";

void AppendOrdered(const json::Value& v, std::string* out) {
  if (v.is_object()) {
    out->push_back('{');
    bool first = true;
    for (const auto& [k, m] : v.as_object()) {
      if (!first) out->push_back(',');
      first = false;
      json::AppendQuoted(k, out);
      out->push_back(':');
      AppendOrdered(m, out);
    }
    out->push_back('}');
  } else if (v.is_array()) {
    out->push_back('[');
    bool first = true;
    for (const auto& m : v.as_array()) {
      if (!first) out->push_back(',');
      first = false;
      AppendOrdered(m, out);
    }
    out->push_back(']');
  } else {
    json::AppendCanonical(v, out);
  }
}
}  // namespace

std::string OrderedJson(const json::Value& v) {
  std::string out;
  AppendOrdered(v, &out);
  return out;
}

struct CognitiveService::Call {
  http::Request request;
  http::Responder respond;
  verify::RequestContext ctx;
  bool graph = false;  // execution-graph (else feedback query)
  std::shared_ptr<const CognitiveService::Snapshot> snap;  // config generation of this call
  const char* rejected_event = "";
};

CognitiveService::CognitiveService(CognitiveDeps deps) : deps_(std::move(deps)) {
  if (deps_.metrics == nullptr) {
    own_registry_ = std::make_unique<stats::Registry>();
    own_metrics_ = std::make_unique<stats::GatewayMetrics>(*own_registry_);
    deps_.metrics = own_metrics_.get();
  }
  snapshot_.Publish(MakeSnapshot(deps_.config));
}

std::shared_ptr<const CognitiveService::Snapshot> CognitiveService::MakeSnapshot(
    std::shared_ptr<const config::GatewayConfig> cfg) const {
  return std::make_shared<Snapshot>(
      Snapshot{cfg, verify::MakeGraphChain(cfg, *deps_.clock, *deps_.nonces, *deps_.limiter),
               verify::MakeFeedbackChain(cfg, *deps_.clock, *deps_.nonces, *deps_.limiter)});
}

void CognitiveService::Reload(std::shared_ptr<const config::GatewayConfig> cfg) {
  snapshot_.Publish(MakeSnapshot(std::move(cfg)));
}

CognitiveService::~CognitiveService() = default;

std::vector<Endpoint> CognitiveService::Endpoints() {
  auto handle = [this](http::Request q, http::Responder r) { Handle(std::move(q), std::move(r)); };
  std::vector<Endpoint> rows;
  rows.push_back({kExecutionGraphPath, "cognitive.graph.rejected", "application/json",
                  kCognitiveMediaDetail, /*router_refuses_other_methods=*/false, handle});
  rows.push_back({kFeedbackQueryPath, "cognitive.feedback.rejected", "application/json",
                  kCognitiveMediaDetail, /*router_refuses_other_methods=*/false, handle});
  return rows;
}

void CognitiveService::Handle(http::Request request, http::Responder respond) {
  Call call;
  call.snap = Current();
  call.graph = request.Path() == kExecutionGraphPath;
  call.rejected_event = call.graph ? "cognitive.graph.rejected" : "cognitive.feedback.rejected";
  call.request = std::move(request);
  call.respond = std::move(respond);
  verify::RequestContext& ctx = call.ctx;
  ctx.headers = &call.request.headers;
  ctx.body = call.request.body;
  ctx.peer_has_certificate = call.request.peer.has_certificate;
  ctx.peer_cert_sha256 = call.request.peer.cert_sha256_hex;
  ctx.request_id = deps_.random->Uuid4();
  if (call.graph) HandleGraph(call);
  else HandleFeedback(call);
}

void CognitiveService::Reject(Call& call, const verify::Verdict& verdict) {
  counters_.rejected++;
  call.respond(app::Reject(
      {call.rejected_event, deps_.metrics, deps_.rejection_budget, call.snap->config.get()},
      verdict, call.ctx,
      [this](const verify::RequestContext& ctx) {
        if (ctx.nonce_registered) {
          Status s = deps_.nonces->Release(ctx.nonce_key);
          if (!s.ok()) spdlog::warn("nonce release failed: {}", s.ToString());
        }
        if (ctx.rate_ticket) deps_.limiter->Refund(*ctx.rate_ticket);
      },
      [&call](json::Value& d) {
        if (!call.ctx.tenant_id.empty()) d.Set("tenant_id", call.ctx.tenant_id);
      },
      [this, &call](json::Value d) {
        if (!AppendAuditCounted(*deps_.audit, *deps_.metrics, call.rejected_event, kActor,
                                std::move(d)))
          counters_.audit_failures++;
      }));
}

bool CognitiveService::Prefix(Call& call, json::Value* body) {
  using verify::Reason;
  using verify::Verdict;
  verify::RequestContext& ctx = call.ctx;
  if (call.request.method != "POST") {
    Reject(call, Verdict::Reject(Reason::kMethodNotAllowed, 405, "Method Not Allowed"));
    return false;
  }
  auto ct = ctx.Header("content-type");
  if (!ct || ct->find("application/json") == std::string_view::npos) {
    Reject(call, Verdict::Reject(Reason::kUnsupportedMediaType, 415, kCognitiveMediaDetail));
    return false;
  }
  if (ctx.body.empty()) {
    Reject(call, Verdict::Reject(Reason::kEmptyBody, 422,
                                 call.graph ? "Execution graph payload is required"
                                            : "Feedback query payload is required"));
    return false;
  }
  Verdict v = (call.graph ? call.snap->graph : call.snap->feedback).authenticate.Run(ctx);
  if (!v.ok()) {
    Reject(call, v);
    return false;
  }
  auto parsed = json::Parse(ctx.body);
  if (!parsed.ok()) {
    Reject(call, Verdict::Reject(Reason::kInvalidJson, 422, "Invalid JSON payload",
                                 parsed.status().message()));
    return false;
  }
  *body = std::move(parsed).value();
  return true;
}

void CognitiveService::HandleGraph(Call& call) {
  using verify::Reason;
  using verify::Verdict;
  verify::RequestContext& ctx = call.ctx;
  json::Value body;
  if (!Prefix(call, &body)) return;
  auto req = schema::ParseExecutionGraphRequest(body);
  if (!req.ok()) {
    if (req.status().code() == StatusCode::kResourceExhausted)
      return Reject(call, Verdict::Reject(Reason::kBodyTooLarge, 413,
                                          "Execution graph exceeds size limits",
                                          req.status().message()));
    return Reject(call, Verdict::Reject(Reason::kTopLevelSchema, 422,
                                        "Execution graph schema validation failed",
                                        req.status().message()));
  }
  ctx.operator_id = req->operator_id;
  ctx.tenant_id = config::CanonicalTenantId(req->tenant_id);
  ctx.schema_version = req->schema_version;
  ctx.body_timestamp = req->timestamp;
  ctx.body_nonce = req->nonce;
  // Binding, schema version, tenant, permission (the identity may steer only its own
  // operators', so tenants', feedback: issue 12 item 2), rate: verify/chains.cc.
  Verdict v = call.snap->graph.validate.Run(ctx);
  if (!v.ok()) return Reject(call, v);

  cognitive::GraphRecord rec;
  rec.tenant_id = ctx.tenant_id;  // canonical: one storage key per tenant, whatever the case
  rec.request_id = ctx.request_id;
  rec.operator_id = req->operator_id;
  rec.execution_fingerprint = req->execution_fingerprint;
  rec.attestation_measurement_hash = req->attestation_measurement_hash;
  rec.schema_version = req->schema_version;
  rec.target_urn = req->target_urn;
  rec.node_count = req->node_count;
  rec.graph_json = std::move(req->graph_canonical);
  rec.received_at = deps_.clock->NowSeconds();
  Status s = deps_.graphs->Append(rec);
  if (!s.ok())
    return Reject(call, Verdict::Reject(Reason::kQueuePublishFailed, 503, kStoreUnavailable,
                                        s.ToString()));

  json::Value details = json::Value::MakeObject();
  details.Set("request_id", ctx.request_id);
  details.Set("tenant_id", rec.tenant_id);
  details.Set("operator_id", rec.operator_id);
  details.Set("execution_fingerprint", rec.execution_fingerprint);
  details.Set("schema_version", rec.schema_version);
  details.Set("identity", ctx.identity->id);
  details.Set("kid", ctx.signing_kid);
  details.Set("node_count", rec.node_count);
  Status as = deps_.audit->Append("cognitive.graph.accepted", kActor, std::move(details));
  if (!as.ok()) {
    counters_.audit_failures++;
    http::Response failed =
        AuditFailureResponse(*deps_.metrics, "graph", ctx.request_id, ctx.operator_id, as);
    if (ctx.nonce_registered) deps_.nonces->Release(ctx.nonce_key);
    counters_.rejected++;
    call.respond(std::move(failed));
    return;
  }
  counters_.graphs_accepted++;
  deps_.metrics->requests_accepted.Inc();
  json::Object o;
  o.emplace_back("request_id", json::Value(ctx.request_id));
  o.emplace_back("status", json::Value("accepted"));
  json::Object data;
  data.emplace_back("graph_synced", json::Value(true));
  o.emplace_back("data", json::Value(std::move(data)));
  o.emplace_back("errors", json::Value::MakeArray());
  call.respond({202, OrderedJson(json::Value(std::move(o))), "application/json"});
}

void CognitiveService::HandleFeedback(Call& call) {
  using verify::Reason;
  using verify::Verdict;
  verify::RequestContext& ctx = call.ctx;
  json::Value body;
  if (!Prefix(call, &body)) return;
  auto q = schema::ParseFeedbackQuery(body);
  if (!q.ok())
    return Reject(call, Verdict::Reject(Reason::kTopLevelSchema, 422,
                                        "Feedback query schema validation failed",
                                        q.status().message()));
  ctx.operator_id = q->operator_id;
  ctx.tenant_id = config::CanonicalTenantId(q->tenant_id);
  ctx.body_timestamp = q->timestamp;
  ctx.body_nonce = q->nonce;
  // Binding, tenant, permission (the identity may read only its own operators', so tenants',
  // feedback: issue 12 item 2), rate: verify/chains.cc.
  Verdict v = call.snap->feedback.validate.Run(ctx);
  if (!v.ok()) return Reject(call, v);
  // Records are stored under the lowercased tenant; items carry the tenant as requested (the
  // producer drops items whose tenant_id differs from the one it asked for).
  auto records = deps_.graphs->Latest(ctx.tenant_id, static_cast<int>(q->limit));
  if (!records.ok())
    return Reject(call, Verdict::Reject(Reason::kQueuePublishFailed, 503, kStoreUnavailable,
                                        records.status().ToString()));
  for (auto& r : *records) r.tenant_id = q->tenant_id;
  const int64_t now = deps_.clock->NowSeconds();
  json::Value data = cognitive::DeriveAdjustments(*records, now);
  // The response nonce carries a tag of the query's signed nonce, so the signed answer cannot
  // be replayed as the answer to another query (the SDK checks the tag).
  const std::string nonce = cognitive::BoundResponseNonce(deps_.random->TokenUrlSafe(18), ctx.nonce);
  cognitive::SignedFeedback sig = deps_.signer->Sign(q->tenant_id, now, nonce, data);

  json::Value details = json::Value::MakeObject();
  details.Set("request_id", ctx.request_id);
  details.Set("tenant_id", q->tenant_id);
  details.Set("adjustment_count", static_cast<int64_t>(records->size()));
  details.Set("operator_id", q->operator_id);
  details.Set("identity", ctx.identity->id);
  details.Set("feedback_kid", sig.kid);
  details.Set("response_nonce", sig.nonce);
  Status as = deps_.audit->Append("cognitive.feedback.issued", kActor, std::move(details));
  if (!as.ok()) {
    counters_.audit_failures++;
    http::Response failed =
        AuditFailureResponse(*deps_.metrics, "feedback", ctx.request_id, ctx.operator_id, as);
    if (ctx.nonce_registered) deps_.nonces->Release(ctx.nonce_key);
    counters_.rejected++;
    call.respond(std::move(failed));
    return;
  }
  counters_.feedback_issued++;
  deps_.metrics->requests_accepted.Inc();
  json::Object o;
  o.emplace_back("request_id", json::Value(ctx.request_id));
  o.emplace_back("status", json::Value("accepted"));
  o.emplace_back("data", std::move(data));
  o.emplace_back("errors", json::Value::MakeArray());
  o.emplace_back("signature", json::Value(sig.signature_b64));
  o.emplace_back("kid", json::Value(sig.kid));
  o.emplace_back("signature_algorithm", json::Value(std::string(cognitive::kSignatureAlgorithm)));
  o.emplace_back("signed_at", json::Value(sig.signed_at));
  o.emplace_back("nonce", json::Value(sig.nonce));
  o.emplace_back("schema_version", json::Value(sig.schema_version));
  call.respond({200, OrderedJson(json::Value(std::move(o))), "application/json"});
}

}  // namespace vv::app

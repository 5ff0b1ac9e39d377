#include "app/federation_service.h"

#include <spdlog/spdlog.h>

#include "app/replies.h"

namespace vv::app {

namespace {
}  // namespace

FederationService::FederationService(FederationDeps deps) : deps_(std::move(deps)) {
  if (deps_.metrics == nullptr) {
    own_registry_ = std::make_unique<stats::Registry>();
    own_metrics_ = std::make_unique<stats::GatewayMetrics>(*own_registry_);
    deps_.metrics = own_metrics_.get();
  }
  snapshot_.Publish(std::make_shared<Snapshot>(deps_.config, *deps_.clock, *deps_.bundle_nonces));
}

void FederationService::Reload(std::shared_ptr<const config::GatewayConfig> cfg) {
  snapshot_.Publish(
      std::make_shared<Snapshot>(std::move(cfg), *deps_.clock, *deps_.bundle_nonces));
}

std::vector<Endpoint> FederationService::Endpoints() {
  std::vector<Endpoint> rows;
  rows.push_back({kFederationVerifyPath, "federation.rejected", {}, {},
                  /*router_refuses_other_methods=*/false,
                  [this](http::Request q, http::Responder r) { Handle(std::move(q), std::move(r)); }});
  return rows;
}

void FederationService::Handle(http::Request request, http::Responder respond) {
  const auto snap = Current();
  verify::RequestContext ctx;
  ctx.headers = &request.headers;
  ctx.body = request.body;
  ctx.peer_has_certificate = request.peer.has_certificate;
  ctx.peer_cert_sha256 = request.peer.cert_sha256_hex;
  ctx.request_id = deps_.random->Uuid4();

  auto reject = [&](const verify::Verdict& verdict) {
    counters_.rejected++;
    respond(app::Reject(
        {"federation.rejected", deps_.metrics, deps_.rejection_budget, snap->config.get()},
        verdict, ctx,
        [this](const verify::RequestContext& c) {
          if (!c.nonce_registered) return;
          Status s = deps_.bundle_nonces->Release(c.nonce_key);
          if (!s.ok()) spdlog::warn("bundle nonce release failed: {}", s.ToString());
        },
        {},
        [this](json::Value d) {
          if (!AppendAuditCounted(*deps_.audit, *deps_.metrics, "federation.rejected", kActor,
                                  std::move(d)))
            counters_.audit_failures++;
        }));
  };

  if (request.method != "POST") {
    reject(verify::Verdict::Reject(verify::Reason::kMethodNotAllowed, 405, "Method Not Allowed"));
    return;
  }
  verify::Verdict v = snap->chain.authenticate.Run(ctx);
  if (!v.ok()) return reject(v);
  verify::SignedBundle bundle;
  v = verify::ParseFederationRequest(request.body, &bundle);
  if (!v.ok()) return reject(v);
  ctx.bundle = &bundle;
  // Bundle (freshness, signature, bundle nonce, operator mapped), then the binding of issue 12
  // item 2: a bundle speaks for its operator_id, and so for the tenant that operator maps to;
  // only an identity allowed for that operator may have it verified (and learn its tenant's
  // verdict). The bundle's nonce stays burned: a permanent rejection. verify/chains.cc.
  v = snap->chain.validate.Run(ctx);
  if (!v.ok()) return reject(v);

  const std::string bundle_hash = verify::BundleHash(bundle);
  json::Value details = json::Value::MakeObject();
  details.Set("request_id", ctx.request_id);
  details.Set("bundle_hash", bundle_hash);
  details.Set("operator_id", bundle.operator_id);
  details.Set("campaign_id", bundle.campaign_id);
  details.Set("tenant_id", ctx.tenant_id);
  details.Set("identity", ctx.identity->id);
  details.Set("kid", ctx.signing_kid);
  Status as = deps_.audit->Append("federation.accepted", kActor, std::move(details));
  if (!as.ok()) {
    // Fail closed: no acceptance without its audit record; the producer may retry.
    counters_.audit_failures++;
    http::Response failed =
        AuditFailureResponse(*deps_.metrics, "federation", ctx.request_id, ctx.operator_id, as);
    if (ctx.nonce_registered) deps_.bundle_nonces->Release(ctx.nonce_key);
    counters_.rejected++;
    respond(std::move(failed));
    return;
  }
  counters_.accepted++;
  deps_.metrics->requests_accepted.Inc();
  json::Value body = json::Value::MakeObject();
  body.Set("accepted", true);
  body.Set("bundle_hash", bundle_hash);
  respond({200, json::Canonical(body), "application/json"});
}

}  // namespace vv::app

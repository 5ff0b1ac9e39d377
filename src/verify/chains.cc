#include "verify/chains.h"

#include <memory>
#include <utility>
#include <vector>

#include "schema/cognitive_requests.h"
#include "verify/bundle_check.h"

namespace vv::verify {

namespace {

// Chain(Check...) with the checks built in place, in the order written.
template <typename... C>
Chain Of(std::unique_ptr<C>... checks) {
  std::vector<CheckPtr> v;
  v.reserve(sizeof...(C));
  (v.push_back(std::move(checks)), ...);
  return Chain(std::move(v));
}

template <typename C, typename... A>
std::unique_ptr<const Check> Make(A&&... args) {
  return std::make_unique<C>(std::forward<A>(args)...);
}

Chain SignedRequest(const ConfigPtr& cfg, const Clock& clock, state::NonceStore& nonces) {
  return Of(Make<IdentityCheck>(cfg), Make<SignatureCheck>(cfg, clock),
            Make<ReplayCheck>(cfg, nonces));
}

}  // namespace

EndpointChain MakeGraphChain(const ConfigPtr& cfg, const Clock& clock, state::NonceStore& nonces,
                             state::RateLimiter& limiter) {
  return {SignedRequest(cfg, clock, nonces),
          Of(Make<BodyBindingCheck>(),
             Make<FixedSchemaVersionCheck>(std::string(schema::kExecutionGraphSchema),
                                           "Execution graph schema version is not allowed"),
             Make<OperatorTenantCheck>(cfg), Make<OperatorPermissionCheck>(),
             Make<RateCheck>(limiter, "graph:"))};
}

EndpointChain MakeFeedbackChain(const ConfigPtr& cfg, const Clock& clock, state::NonceStore& nonces,
                                state::RateLimiter& limiter) {
  return {SignedRequest(cfg, clock, nonces),
          Of(Make<BodyBindingCheck>(), Make<OperatorTenantCheck>(cfg),
             Make<OperatorPermissionCheck>(), Make<RateCheck>(limiter, "feedback:"))};
}

EndpointChain MakeFederationChain(const ConfigPtr& cfg, const Clock& clock,
                                  state::NonceStore& bundle_nonces) {
  return {Of(Make<IdentityCheck>(cfg)),
          Of(Make<BundleCheck>(cfg, clock, bundle_nonces), Make<OperatorPermissionCheck>())};
}

TelemetryChain::TelemetryChain(ConfigPtr cfg, const Clock& clock,
                               const schema::MitreCatalog& catalog, state::Admission& admission)
    : cfg_(cfg),
      admission_(admission),
      stages_{Of(Make<IdentityCheck>(cfg), Make<SignatureCheck>(cfg, clock)),
              Of(Make<BodyCheck>(catalog), Make<TenantCheck>(cfg), Make<OperatorPermissionCheck>(),
                 Make<SchemaVersionCheck>(cfg))},
      admit_(cfg, admission) {}

Verdict TelemetryChain::Run(RequestContext& ctx) const {
  Verdict v = stages_.authenticate.Run(ctx);
  if (!v.ok()) return v;  // nothing signed: the nonce store is never touched
  v = stages_.validate.Run(ctx);
  if (v.ok()) return admit_.Run(ctx);
  // A signed request that fails validation burns its nonce (permanent rejection); if the
  // nonce was already used, this is a replay and the answer is 409 (no DLQ record).
  ctx.nonce_key = state::NonceKey(ctx.timestamp, ctx.nonce);
  Status s = admission_.BurnNonce(ctx.nonce_key, cfg_->nonce_ttl_seconds);
  if (s.ok()) {
    ctx.nonce_registered = true;
    return v;
  }
  ctx.dead_letter.reset();
  if (s.code() == StatusCode::kAlreadyExists)
    return Verdict::Reject(Reason::kReplay, 409, "Replay detected: nonce already used");
  return Verdict::Reject(Reason::kNonceStoreUnavailable, 503, "Nonce store unavailable",
                         s.ToString());
}

}  // namespace vv::verify

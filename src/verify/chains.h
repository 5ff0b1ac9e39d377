#pragma once
// Every endpoint's verification order, spelled as data in one place (chains.cc). The checks
// (checks.h, bundle_check.h) are endpoint-agnostic: each reads and fills the one typed
// RequestContext. A signed endpoint runs in two stages:
//   authenticate  on the raw request: the presented certificate, the identity headers and the
//                 signature over the raw body (and, where the body is not a telemetry event,
//                 the nonce);
//   (the endpoint parses its body into the context's typed fields: a 422 of the endpoint's
//    own schema stops here)
//   validate      on the typed fields: body/header binding, operator -> tenant, operator
//                 permission, schema version, rate.
// Each stage stops at the first rejection. Thread-safety: built once per config generation,
// immutable, shared by all workers; borrowed stores must outlive the chain.

#include <string_view>

#include "common/clock.h"
#include "schema/mitre_catalog.h"
#include "state/admission.h"
#include "state/state.h"
#include "verify/check.h"
#include "verify/checks.h"

namespace vv::verify {

struct EndpointChain {
  Chain authenticate;
  Chain validate;
};

// POST /internal/v1/cognitive/execution-graph:
//   identity, signature, replay | body_binding, schema_version (exactly graph_schema_version,
//   422 "Execution graph schema version is not allowed"), operator_tenant, operator_permission,
//   rate ("graph:<operator_id>").
EndpointChain MakeGraphChain(const ConfigPtr& cfg, const Clock& clock, state::NonceStore& nonces,
                             state::RateLimiter& limiter);

// POST /internal/v1/cognitive/feedback/query:
//   identity, signature, replay | body_binding, operator_tenant, operator_permission,
//   rate ("feedback:<operator_id>").
EndpointChain MakeFeedbackChain(const ConfigPtr& cfg, const Clock& clock, state::NonceStore& nonces,
                                state::RateLimiter& limiter);

// POST /internal/v1/federation/verify (the bundle carries its own signature and nonce):
//   identity | bundle (freshness, signature, bundle nonce, operator mapped), operator_permission.
EndpointChain MakeFederationChain(const ConfigPtr& cfg, const Clock& clock,
                                  state::NonceStore& bundle_nonces);

// POST /internal/v1/telemetry (and each event of .../telemetry/batch):
//   identity, signature | schema (BodyCheck parses and binds), tenant, operator_permission,
//   schema_version | admission (nonce + rate in one backend round trip).
// A request that fails validation still burns its nonce, and a replay of it is answered 409
// exactly as the reference does (its nonce check precedes validation); so replays are always
// 409, unsigned traffic never touches the nonce store, and the happy path costs one backend
// round trip.
class TelemetryChain {
 public:
  TelemetryChain(ConfigPtr cfg, const Clock& clock, const schema::MitreCatalog& catalog,
                 state::Admission& admission);
  Verdict Run(RequestContext& ctx) const;
  // The stages alone, for the batch endpoint (one signature over the whole body, then each
  // event validated like a single request). Run() is Authenticate, Validate, then admission.
  Verdict Authenticate(RequestContext& ctx) const { return stages_.authenticate.Run(ctx); }
  Verdict Validate(RequestContext& ctx) const { return stages_.validate.Run(ctx); }
  const EndpointChain& stages() const { return stages_; }

 private:
  const ConfigPtr cfg_;
  state::Admission& admission_;
  EndpointChain stages_;
  AdmissionCheck admit_;
};

}  // namespace vv::verify

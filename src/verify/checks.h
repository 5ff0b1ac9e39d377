#pragma once
// The concrete checks of the telemetry chain, in chain order. Each is built once from the
// gateway config (a shared, immutable snapshot) and shared by all workers. Borrowed
// dependencies (stores, clock, catalog) must outlive the check.

#include <memory>

#include "common/clock.h"
#include "config/gateway_config.h"
#include "schema/mitre_catalog.h"
#include "state/admission.h"
#include "state/state.h"
#include "verify/check.h"

namespace vv::verify {

using ConfigPtr = std::shared_ptr<const config::GatewayConfig>;

// R1-R4: X-Service-Identity names an allowlisted identity whose pinned SHA-256 matches the
// certificate actually presented in the TLS handshake (constant-time). X-Client-Cert-Sha256
// is optional; when sent it must be 64 hex and equal the presented certificate's fingerprint.
class IdentityCheck final : public Check {
 public:
  explicit IdentityCheck(ConfigPtr cfg) : cfg_(std::move(cfg)) {}
  std::string_view name() const override { return "identity"; }
  Verdict Run(RequestContext& ctx) const override;

 private:
  const ConfigPtr cfg_;
};

// R6-R13: signature headers, integer timestamp within +-skew, Ed25519 (libsodium strict) over
// "{ts}.{nonce}." + raw body with any of the identity's keys.
class SignatureCheck final : public Check {
 public:
  SignatureCheck(ConfigPtr cfg, const Clock& clock) : cfg_(std::move(cfg)), clock_(clock) {}
  std::string_view name() const override { return "signature"; }
  Verdict Run(RequestContext& ctx) const override;

 private:
  const ConfigPtr cfg_;
  const Clock& clock_;
};

// R14: registers sha256("{ts}:{nonce}") with TTL; 409 on replay, 503 when the store is down.
class ReplayCheck final : public Check {
 public:
  ReplayCheck(ConfigPtr cfg, state::NonceStore& store) : cfg_(std::move(cfg)), store_(store) {}
  std::string_view name() const override { return "replay"; }
  Verdict Run(RequestContext& ctx) const override;

 private:
  const ConfigPtr cfg_;
  state::NonceStore& store_;
};

// R15-R20b: strict JSON, top-level schema, body timestamp/nonce bound to the signed headers
// (BodyBindingCheck's rule, at the reference's point: before the payload checks), canonical
// payload (MITRE catalog, sanitisation), contract v2. Fills the context's typed fields, the DLQ
// record for the 422 cases and the normalised ingest payload on success.
class BodyCheck final : public Check {
 public:
  explicit BodyCheck(const schema::MitreCatalog& catalog) : catalog_(catalog) {}
  std::string_view name() const override { return "schema"; }
  Verdict Run(RequestContext& ctx) const override;

 private:
  const schema::MitreCatalog& catalog_;
};

// The body's timestamp and nonce (ctx.body_timestamp / body_nonce) must be the signed header
// values (401 "Body timestamp mismatch with signed header" / "Body nonce mismatch ...").
class BodyBindingCheck final : public Check {
 public:
  std::string_view name() const override { return "body_binding"; }
  Verdict Run(RequestContext& ctx) const override { return Bind(ctx); }
  static Verdict Bind(const RequestContext& ctx);
};

// R22-R23: ctx.operator_id is mapped (403 "Operator is not mapped to any tenant") to exactly
// ctx.tenant_id (403 "Operator tenant mapping violation"); tenant ids compare ignoring ASCII
// case (canonical form).
class OperatorTenantCheck final : public Check {
 public:
  explicit OperatorTenantCheck(ConfigPtr cfg) : cfg_(std::move(cfg)) {}
  std::string_view name() const override { return "operator_tenant"; }
  Verdict Run(RequestContext& ctx) const override { return Map(*cfg_, ctx); }
  static Verdict Map(const config::GatewayConfig& cfg, const RequestContext& ctx);

 private:
  const ConfigPtr cfg_;
};

// R21-R23: signed_metadata equals the top-level tenant/operator/campaign (401), then
// OperatorTenantCheck's rule.
class TenantCheck final : public Check {
 public:
  explicit TenantCheck(ConfigPtr cfg) : cfg_(std::move(cfg)) {}
  std::string_view name() const override { return "tenant"; }
  Verdict Run(RequestContext& ctx) const override;

 private:
  const ConfigPtr cfg_;
};

// Issue 12 item 2: the authenticated identity may act for the request's operator (its
// `operators` list; an unbound development identity may act for any). Runs on every endpoint
// once ctx.identity and ctx.operator_id are known: telemetry (after TenantCheck, so the
// operator is mapped and the tenant is the operator's), cognitive graph / feedback query, and
// federation verify (the bundle's operator, hence the tenant it maps to). 403 with the
// contract's tenant-mapping text (the client learns nothing new); the audit log and metrics
// get `operator_not_permitted` with the identity and the operator.
class OperatorPermissionCheck final : public Check {
 public:
  OperatorPermissionCheck() = default;
  std::string_view name() const override { return "operator_permission"; }
  Verdict Run(RequestContext& ctx) const override;
};

// R24-R25: attributes.schema_version required (when enforced) and allowed.
class SchemaVersionCheck final : public Check {
 public:
  explicit SchemaVersionCheck(ConfigPtr cfg) : cfg_(std::move(cfg)) {}
  std::string_view name() const override { return "schema_version"; }
  Verdict Run(RequestContext& ctx) const override;

 private:
  const ConfigPtr cfg_;
};

// An endpoint with exactly one body schema version (the execution graph: execution.graph.v1):
// ctx.schema_version must equal `version`, else 422 with the endpoint's `detail`.
class FixedSchemaVersionCheck final : public Check {
 public:
  FixedSchemaVersionCheck(std::string version, std::string detail)
      : version_(std::move(version)), detail_(std::move(detail)) {}
  std::string_view name() const override { return "schema_version"; }
  Verdict Run(RequestContext& ctx) const override;

 private:
  const std::string version_;
  const std::string detail_;
};

// R26 for the endpoints without the combined admission: one unit of the sliding 60 s window
// of key_prefix + ctx.operator_id ("graph:op-001"; each endpoint its own window). 429 "Operator
// burst anomaly detected" over the limit (nothing consumed), 503 "Rate limiter unavailable";
// on success ctx.rate_ticket holds the unit (refunded on a later transient failure).
class RateCheck final : public Check {
 public:
  explicit RateCheck(state::RateLimiter& limiter, std::string key_prefix = "")
      : limiter_(limiter), key_prefix_(std::move(key_prefix)) {}
  std::string_view name() const override { return "rate"; }
  Verdict Run(RequestContext& ctx) const override;

 private:
  state::RateLimiter& limiter_;
  const std::string key_prefix_;
};

// R14 + R26 as one decision, last: registers sha256("{ts}:{nonce}") with TTL and takes one
// rate unit of the operator (one Redis round trip). 409 replay, 429 over the limit (the nonce
// is not kept, so the same signed bytes may be retried), 503 when the backend cannot decide.
class AdmissionCheck final : public Check {
 public:
  AdmissionCheck(ConfigPtr cfg, state::Admission& admission)
      : cfg_(std::move(cfg)), admission_(admission) {}
  std::string_view name() const override { return "admission"; }
  Verdict Run(RequestContext& ctx) const override;

 private:
  const ConfigPtr cfg_;
  state::Admission& admission_;
};

}  // namespace vv::verify

#include <algorithm>

#include "common/encoding.h"
#include "verify/checks.h"

namespace vv::verify {

Verdict OperatorTenantCheck::Map(const config::GatewayConfig& cfg, const RequestContext& ctx) {
  auto it = cfg.operator_tenant_map.find(ctx.operator_id);
  if (it == cfg.operator_tenant_map.end())
    return Verdict::Reject(Reason::kOperatorUnmapped, 403, "Operator is not mapped to any tenant",
                           "operator=" + ctx.operator_id);
  // The map is canonical at config load and ctx.tenant_id by its parser; compared ignoring
  // ASCII case all the same, so case is never a difference between two spellings of a tenant.
  if (!EqualsIgnoreAsciiCase(it->second, ctx.tenant_id))
    return Verdict::Reject(Reason::kTenantMismatch, 403, "Operator tenant mapping violation",
                           "operator=" + ctx.operator_id + " mapped=" + it->second +
                               " claimed=" + ctx.tenant_id);
  return Verdict::Pass();
}

Verdict TenantCheck::Run(RequestContext& ctx) const {
  // signed_metadata as BodyCheck typed it (its tenant_id lowercased, like ctx.tenant_id): so
  // case is never a difference between the two (nor between two stored copies).
  const schema::SignedMetadata& sm = ctx.signed_metadata;
  if (sm.tenant_id != ctx.tenant_id || sm.operator_id != ctx.operator_id ||
      sm.campaign_id != ctx.campaign_id)
    return Verdict::Reject(Reason::kSignedMetadataMismatch, 401, "Signed metadata mapping mismatch");
  return OperatorTenantCheck::Map(*cfg_, ctx);
}

Verdict SchemaVersionCheck::Run(RequestContext& ctx) const {
  if (!cfg_->enforce_schema_version) return Verdict::Pass();
  if (ctx.schema_version.empty())
    return Verdict::Reject(Reason::kSchemaVersionRequired, 422,
                           "Telemetry schema version is required by gateway policy");
  const auto& allowed = cfg_->allowed_schema_versions;
  if (std::find(allowed.begin(), allowed.end(), ctx.schema_version) == allowed.end())
    return Verdict::Reject(Reason::kSchemaVersionNotAllowed, 422,
                           "Telemetry schema version is not allowed",
                           "schema_version=" + ctx.schema_version);
  return Verdict::Pass();
}

Verdict FixedSchemaVersionCheck::Run(RequestContext& ctx) const {
  if (ctx.schema_version != version_)
    return Verdict::Reject(Reason::kSchemaVersionNotAllowed, 422, detail_,
                           "schema_version=" + ctx.schema_version);
  return Verdict::Pass();
}

}  // namespace vv::verify

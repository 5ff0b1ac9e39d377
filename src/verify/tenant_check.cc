#include <algorithm>

#include "verify/checks.h"

namespace vv::verify {

Verdict TenantCheck::Run(RequestContext& ctx) const {
  // signed_metadata equality was extracted by BodyCheck into the context: compare here.
  const json::Value* sm = ctx.body_json.Find("signed_metadata");
  auto field = [&](const char* k) -> std::string_view {
    const json::Value* v = sm ? sm->Find(k) : nullptr;
    return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
  };
  // ctx.tenant_id is canonical (lowercase, BodyCheck): compare the canonical form of the signed
  // one, so case is never a difference between the two (nor between two stored copies).
  if (config::CanonicalTenantId(field("tenant_id")) != ctx.tenant_id ||
      field("operator_id") != ctx.operator_id ||
      field("campaign_id") != ctx.campaign_id)
    return Verdict::Reject(Reason::kSignedMetadataMismatch, 401, "Signed metadata mapping mismatch");
  auto it = cfg_->operator_tenant_map.find(ctx.operator_id);
  if (it == cfg_->operator_tenant_map.end())
    return Verdict::Reject(Reason::kOperatorUnmapped, 403, "Operator is not mapped to any tenant",
                           "operator=" + ctx.operator_id);
  // Both sides are canonical: the map at config load, the request in BodyCheck.
  if (it->second != ctx.tenant_id)
    return Verdict::Reject(Reason::kTenantMismatch, 403, "Operator tenant mapping violation",
                           "operator=" + ctx.operator_id + " mapped=" + it->second +
                               " claimed=" + ctx.tenant_id);
  return Verdict::Pass();
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

}  // namespace vv::verify

#include "schema/telemetry_schema.h"
#include "verify/checks.h"

namespace vv::verify {

namespace {
Reason ReasonFor(schema::Stage s) {
  switch (s) {
    case schema::Stage::kTopLevel: return Reason::kTopLevelSchema;
    case schema::Stage::kCanonical: return Reason::kCanonicalSchema;
    case schema::Stage::kContractV2Schema: return Reason::kContractV2Schema;
    case schema::Stage::kContractV2Validation: return Reason::kContractV2Validation;
  }
  return Reason::kCanonicalSchema;
}

Verdict SchemaReject(RequestContext& ctx, const schema::ValidationFailure& f) {
  json::Value trace = json::Value::MakeObject();
  trace.Set("reason", schema::TraceReason(f.stage));
  if (f.stage == schema::Stage::kContractV2Validation) trace.Set("error", f.summary);
  else trace.Set("errors", f.errors);
  ctx.dead_letter = DeadLetter{schema::DlqErrorCode(f.stage), schema::DetailFor(f.stage),
                               std::move(trace)};
  return Verdict::Reject(ReasonFor(f.stage), 422, schema::DetailFor(f.stage), f.summary);
}
}  // namespace

Verdict BodyCheck::Run(RequestContext& ctx) const {
  auto parsed = json::Parse(ctx.body);
  if (!parsed.ok()) {
    json::Value trace = json::Value::MakeObject();
    trace.Set("reason", "json_decode");
    ctx.dead_letter = DeadLetter{"invalid_json", "Invalid JSON payload", std::move(trace)};
    return Verdict::Reject(Reason::kInvalidJson, 422, "Invalid JSON payload",
                           parsed.status().message());
  }
  ctx.body_json = std::move(parsed).value();

  auto top = schema::ValidateTopLevel(ctx.body_json);
  if (!top.ok()) return SchemaReject(ctx, top.failure());
  const schema::TopLevel& t = top.value();
  // The body's timestamp and nonce must be the ones the signature covered in the headers.
  ctx.body_timestamp = t.timestamp;
  ctx.body_nonce = t.nonce;
  Verdict bound = BodyBindingCheck::Bind(ctx);
  if (!bound.ok()) return bound;
  ctx.operator_id = t.operator_id;
  ctx.campaign_id = t.campaign_id;
  ctx.tenant_id = t.tenant_id;
  ctx.signed_metadata = t.signed_metadata;

  auto canonical = schema::ValidateCanonicalPayload(*t.payload, catalog_);
  if (!canonical.ok()) return SchemaReject(ctx, canonical.failure());
  schema::CanonicalPayload& c = canonical.value();
  ctx.event_id = c.event_id;
  ctx.schema_version = c.schema_version;
  ctx.ingest_payload = schema::BuildNormalizedRequest(t, std::move(c));
  return Verdict::Pass();
}

Verdict BodyBindingCheck::Bind(const RequestContext& ctx) {
  if (ctx.body_timestamp != ctx.timestamp)
    return Verdict::Reject(Reason::kTimestampMismatch, 401,
                           "Body timestamp mismatch with signed header");
  if (ctx.body_nonce != ctx.nonce)
    return Verdict::Reject(Reason::kNonceMismatch, 401, "Body nonce mismatch with signed header");
  return Verdict::Pass();
}

}  // namespace vv::verify

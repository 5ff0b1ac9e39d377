#include "schema/federation_request.h"

#include <tuple>

#include "common/encoding.h"
#include "json/json.h"
#include "schema/fields.h"

namespace vv::schema {

namespace {
FederationBody Fail(FederationBodyError e, std::string why) {
  FederationBody out;
  out.error = e;
  out.why = std::move(why);
  return out;
}
}  // namespace

FederationBody ParseFederationBody(std::string_view body) {
  using fields::Str;
  auto parsed = json::Parse(body);
  if (!parsed.ok())
    return Fail(FederationBodyError::kInvalidJson, "invalid JSON: " + parsed.status().message());
  const json::Value& root = *parsed;
  auto schema_error = [](const Status& s) {
    return Fail(FederationBodyError::kSchema, s.message());
  };
  if (Status s = fields::OnlyKeys(root, {"bundle"}); !s.ok()) return schema_error(s);
  const json::Value* b = root.Find("bundle");
  if (b == nullptr) return Fail(FederationBodyError::kSchema, "bundle: field required");
  if (Status s = fields::OnlyKeys(*b,
                                  {"operator_id", "campaign_id", "execution_hash", "timestamp",
                                   "nonce", "signature"},
                                  "bundle.");
      !s.ok())
    return schema_error(s);
  FederationBody out;
  SignedBundle& sb = out.bundle;
  constexpr bool kNoPipe = true;
  for (auto [key, min, max, forbid_pipe, field] :
       {std::tuple{"operator_id", 1, 128, kNoPipe, &sb.operator_id},
        std::tuple{"campaign_id", 1, 128, kNoPipe, &sb.campaign_id},
        std::tuple{"execution_hash", 64, 64, kNoPipe, &sb.execution_hash},
        std::tuple{"nonce", 12, 128, kNoPipe, &sb.nonce},
        std::tuple{"signature", 12, 4096, false, &sb.signature_b64}}) {
    Result<std::string> v = Str(*b, key, static_cast<size_t>(min), static_cast<size_t>(max),
                                "bundle.", forbid_pipe);
    if (!v.ok()) return schema_error(v.status());
    *field = std::move(v).value();
  }
  if (!IsHex(sb.execution_hash, 64))
    return Fail(FederationBodyError::kSchema, "bundle.execution_hash: must be 64 hex chars");
  Result<int64_t> ts = fields::Int(*b, "timestamp", "bundle.");
  if (!ts.ok()) return schema_error(ts.status());
  sb.timestamp = *ts;
  auto sig = Base64DecodeStrict(sb.signature_b64);
  if (!sig)
    return Fail(FederationBodyError::kSignatureEncoding,
                "bundle.signature is not strict standard base64");
  sb.signature = std::move(*sig);
  return out;
}

}  // namespace vv::schema

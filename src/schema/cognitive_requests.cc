#include "schema/cognitive_requests.h"

#include "schema/fields.h"
#include "schema/text.h"

namespace vv::schema {

namespace {

using fields::Int;
using fields::OnlyKeys;
using fields::Str;

Result<std::string> TenantId(const json::Value& body) {
  VV_ASSIGN_OR_RETURN(auto s, Str(body, "tenant_id", 36, 36));
  if (!IsTenantIdPattern(s))
    return Status::InvalidArgument("tenant_id: must match ^[a-fA-F0-9-]{36}$");
  return s;
}

// Python str() of a JSON scalar target_urn (strings as they are).
std::string TargetUrn(const json::Value* v) {
  if (v == nullptr || v->is_null()) return std::string(kUnknownTargetUrn);
  if (v->is_string()) return v->as_string().empty() ? std::string(kUnknownTargetUrn) : v->as_string();
  if (v->is_int()) return v->int_text();
  if (v->is_bool()) return v->as_bool() ? "True" : "False";
  if (v->is_double()) return json::PythonFloatRepr(v->as_double());
  return std::string(kUnknownTargetUrn);
}

}  // namespace

bool IsTenantIdPattern(std::string_view s) {
  if (s.size() != 36) return false;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<ExecutionGraphRequest> ParseExecutionGraphRequest(const json::Value& body) {
  VV_RETURN_IF_ERROR(OnlyKeys(body, {"operator_id", "tenant_id", "execution_fingerprint",
                                     "timestamp", "nonce", "schema_version",
                                     "attestation_measurement_hash", "graph"}));
  ExecutionGraphRequest r;
  VV_ASSIGN_OR_RETURN(r.operator_id, Str(body, "operator_id", 1, 128));
  VV_ASSIGN_OR_RETURN(r.tenant_id, TenantId(body));
  VV_ASSIGN_OR_RETURN(r.execution_fingerprint,
                      fields::Hex64Lower(body, "execution_fingerprint"));
  VV_ASSIGN_OR_RETURN(r.timestamp, Int(body, "timestamp"));
  VV_ASSIGN_OR_RETURN(r.nonce, Str(body, "nonce", 8, 128));
  VV_ASSIGN_OR_RETURN(r.schema_version, Str(body, "schema_version", 1, 32));
  VV_ASSIGN_OR_RETURN(r.attestation_measurement_hash,
                      fields::Hex64Lower(body, "attestation_measurement_hash"));
  const json::Value* g = body.Find("graph");
  if (g == nullptr) return Status::InvalidArgument("graph: field required");
  if (!g->is_object()) return Status::InvalidArgument("graph: must be an object");
  r.graph = *g;
  const json::Value* nodes = g->Find("nodes");
  if (nodes && nodes->is_array()) {
    if (nodes->as_array().size() > kMaxGraphNodes)
      return Status::ResourceExhausted("graph.nodes: more than " + std::to_string(kMaxGraphNodes));
    r.node_count = static_cast<int64_t>(nodes->as_array().size());
  }
  const json::Value* edges = g->Find("edges");
  if (edges && edges->is_array() && edges->as_array().size() > kMaxGraphEdges)
    return Status::ResourceExhausted("graph.edges: more than " + std::to_string(kMaxGraphEdges));
  r.target_urn = TargetUrn(g->Find("target_urn"));
  if (schema::CodePointCount(r.target_urn) > kMaxTargetUrnChars)
    return Status::ResourceExhausted("graph.target_urn: longer than " +
                              std::to_string(kMaxTargetUrnChars));
  if (r.target_urn.find('\0') != std::string::npos)
    return Status::InvalidArgument("graph.target_urn: must not contain NUL");
  r.graph_canonical = json::Canonical(r.graph);
  if (r.graph_canonical.size() > kMaxGraphCanonicalBytes)
    return Status::ResourceExhausted("graph: canonical size exceeds " +
                              std::to_string(kMaxGraphCanonicalBytes) + " bytes");
  return r;
}

Result<FeedbackQuery> ParseFeedbackQuery(const json::Value& body) {
  VV_RETURN_IF_ERROR(OnlyKeys(body, {"operator_id", "tenant_id", "timestamp", "nonce", "limit"}));
  FeedbackQuery q;
  VV_ASSIGN_OR_RETURN(q.operator_id, Str(body, "operator_id", 1, 128));
  VV_ASSIGN_OR_RETURN(q.tenant_id, TenantId(body));
  VV_ASSIGN_OR_RETURN(q.timestamp, Int(body, "timestamp"));
  VV_ASSIGN_OR_RETURN(q.nonce, Str(body, "nonce", 8, 128));
  if (body.Find("limit") != nullptr) {
    VV_ASSIGN_OR_RETURN(q.limit, Int(body, "limit"));
    if (q.limit < 1 || q.limit > 1000)
      return Status::InvalidArgument("limit: must be between 1 and 1000");
  }
  return q;
}

}  // namespace vv::schema

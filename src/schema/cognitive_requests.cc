#include "schema/cognitive_requests.h"

#include <initializer_list>

#include "common/encoding.h"
#include "schema/text.h"

namespace vv::schema {

namespace {

// Checks that `body` is an object with only `allowed` keys.
Status OnlyKeys(const json::Value& body, std::initializer_list<std::string_view> allowed) {
  if (!body.is_object()) return Status::InvalidArgument("body must be a JSON object");
  for (const auto& [k, v] : body.as_object()) {
    bool known = false;
    for (auto a : allowed) known |= (k == a);
    if (!known) return Status::InvalidArgument("extra field not permitted: " + k);
  }
  return Status::Ok();
}

Result<std::string> Str(const json::Value& body, std::string_view key, size_t min_chars,
                        size_t max_chars) {
  const json::Value* v = body.Find(key);
  if (v == nullptr) return Status::InvalidArgument(std::string(key) + ": field required");
  if (!v->is_string()) return Status::InvalidArgument(std::string(key) + ": must be a string");
  const std::string& s = v->as_string();
  // No control characters at all (C0, DEL, C1 as UTF-8 C2 80..9F): identifiers only here
  // (issue 12 item 15).
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    unsigned char n = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0;
    if (c < 0x20 || c == 0x7F || (c == 0xC2 && n >= 0x80 && n <= 0x9F))
      return Status::InvalidArgument(std::string(key) + ": must not contain control characters");
  }
  size_t n = schema::CodePointCount(s);
  if (n < min_chars || n > max_chars)
    return Status::InvalidArgument(std::string(key) + ": length must be " +
                                   std::to_string(min_chars) + ".." + std::to_string(max_chars));
  return s;
}

Result<int64_t> Int(const json::Value& body, std::string_view key) {
  const json::Value* v = body.Find(key);
  if (v == nullptr) return Status::InvalidArgument(std::string(key) + ": field required");
  if (!v->is_int()) return Status::InvalidArgument(std::string(key) + ": must be an integer");
  auto i = v->as_int64();
  if (!i) return Status::InvalidArgument(std::string(key) + ": integer out of range");
  return *i;
}

Result<std::string> Hex64(const json::Value& body, std::string_view key) {
  VV_ASSIGN_OR_RETURN(auto s, Str(body, key, 64, 64));
  if (!IsHex(s, 64)) return Status::InvalidArgument(std::string(key) + ": must be 64 hex chars");
  return ToLowerAscii(s);
}

Result<std::string> TenantId(const json::Value& body) {
  auto s = Str(body, "tenant_id", 36, 36);
  if (!s.ok()) return s.status();
  if (!IsTenantIdPattern(*s))
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
  VV_ASSIGN_OR_RETURN(r.execution_fingerprint, Hex64(body, "execution_fingerprint"));
  VV_ASSIGN_OR_RETURN(r.timestamp, Int(body, "timestamp"));
  VV_ASSIGN_OR_RETURN(r.nonce, Str(body, "nonce", 8, 128));
  VV_ASSIGN_OR_RETURN(r.schema_version, Str(body, "schema_version", 1, 32));
  VV_ASSIGN_OR_RETURN(r.attestation_measurement_hash, Hex64(body, "attestation_measurement_hash"));
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

#pragma once
// Strict parsing of the two cognitive request bodies (wire-contract 1.6, 1.7), pydantic
// `extra="forbid"` semantics: unknown keys, missing keys, wrong types and out-of-range values
// are errors. Unlike the reference (500 on a body error) the caller answers 422. Lengths are
// counted in code points like pydantic. `timestamp` and `limit` must be JSON integers (the
// reference's lax coercion of "123", 123.0 and true is a weakness, wire-contract 13 item 12).
// No string may contain U+0000. Pure functions, thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "json/json.h"

namespace vv::schema {

inline constexpr std::string_view kExecutionGraphSchema = "execution.graph.v1";
inline constexpr std::string_view kUnknownTargetUrn = "urn:target:unknown";
// Size limits of an accepted graph (beyond the 1 MiB body limit of the listener).
inline constexpr size_t kMaxGraphNodes = 10000;
inline constexpr size_t kMaxGraphEdges = 50000;
inline constexpr size_t kMaxGraphCanonicalBytes = 512 * 1024;
inline constexpr size_t kMaxTargetUrnChars = 512;

struct ExecutionGraphRequest {
  std::string operator_id;
  std::string tenant_id;
  std::string execution_fingerprint;  // lowercased
  int64_t timestamp = 0;
  std::string nonce;
  std::string schema_version;
  std::string attestation_measurement_hash;  // lowercased
  json::Value graph;                          // an object
  std::string target_urn;  // derived: str(graph.target_urn) or kUnknownTargetUrn
  int64_t node_count = -1;  // len(graph.nodes) when a list, else -1
  std::string graph_canonical;
};

struct FeedbackQuery {
  std::string operator_id;
  std::string tenant_id;
  int64_t timestamp = 0;
  std::string nonce;
  int64_t limit = 100;
};

// InvalidArgument (field named) on any schema error; ResourceExhausted when the graph exceeds the
// size limits above.
Result<ExecutionGraphRequest> ParseExecutionGraphRequest(const json::Value& body);
Result<FeedbackQuery> ParseFeedbackQuery(const json::Value& body);

// The reference's tenant_id pattern ^[a-fA-F0-9-]{36}$.
bool IsTenantIdPattern(std::string_view s);

}  // namespace vv::schema

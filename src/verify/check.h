#pragma once
// The verification chain of a signed request. Each check is one class with the same
// interface, endpoint-agnostic: it reads and fills one typed RequestContext. Each endpoint's
// order is spelled as data in verify/chains.cc (authenticate: identity -> signature [-> replay];
// the endpoint parses its body into the context; validate: binding -> tenant -> permission ->
// schema version -> rate/admission) and a chain stops at the first rejection. Replay runs after
// signature so unsigned traffic cannot burn nonces; rate runs last so requests rejected earlier
// never count. Checks are built once from config, immutable, shared by all workers; per-request
// state lives only in RequestContext.
//
// A rejection carries the HTTP status and the contract's fixed client-facing `detail` string
// (wire-contract 1.4), plus a precise `Reason` for the audit log and metrics.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "json/json.h"
#include "schema/telemetry_schema.h"
#include "state/state.h"

namespace vv::config {
struct ServiceIdentity;
}
namespace vv::schema {
struct SignedBundle;  // schema/federation_request.h
}

namespace vv::verify {

using SignedBundle = schema::SignedBundle;

#define VV_REJECT_REASONS(X)                          \
  X(kUnsupportedMediaType, "unsupported_media_type")  \
  X(kEmptyBody, "empty_body")                         \
  X(kBodyTooLarge, "body_too_large")                  \
  X(kMissingIdentityHeader, "missing_identity_header") \
  X(kMissingCertHeader, "missing_cert_header")        \
  X(kBadFingerprintFormat, "bad_fingerprint_format")  \
  X(kUnknownIdentity, "unknown_identity")             \
  X(kNoClientCertificate, "no_client_certificate")    \
  X(kCertPinMismatch, "cert_pin_mismatch")            \
  X(kCertHeaderMismatch, "cert_header_mismatch")      \
  X(kSignatureDisabled, "signature_disabled")         \
  X(kMissingTimestampHeader, "missing_timestamp_header") \
  X(kMissingNonceHeader, "missing_nonce_header")      \
  X(kMissingSignatureHeader, "missing_signature_header") \
  X(kSignatureNotBase64, "signature_not_base64")      \
  X(kTimestampNotInteger, "timestamp_not_integer")    \
  X(kTimestampSkew, "timestamp_skew")                 \
  X(kSignatureEncoding, "signature_encoding")         \
  X(kBadSignature, "bad_signature")                   \
  X(kReplay, "replay")                                \
  X(kNonceStoreUnavailable, "nonce_store_unavailable") \
  X(kInvalidJson, "invalid_json")                     \
  X(kTopLevelSchema, "schema_validation")             \
  X(kTimestampMismatch, "body_timestamp_mismatch")    \
  X(kNonceMismatch, "body_nonce_mismatch")            \
  X(kCanonicalSchema, "canonical_schema")             \
  X(kContractV2Schema, "contract_v2_schema")          \
  X(kContractV2Validation, "contract_v2_validation")  \
  X(kSignedMetadataMismatch, "signed_metadata_mismatch") \
  X(kOperatorUnmapped, "operator_unmapped")           \
  X(kTenantMismatch, "tenant_mapping_violation")      \
  X(kSchemaVersionRequired, "schema_version_required") \
  X(kSchemaVersionNotAllowed, "schema_version_not_allowed") \
  X(kRateLimited, "rate_limited")                     \
  X(kRateLimiterUnavailable, "rate_limiter_unavailable") \
  X(kQueuePublishFailed, "queue_publish_failed")      \
  X(kAuditUnavailable, "audit_unavailable")           \
  X(kNotFound, "not_found")                           \
  X(kMethodNotAllowed, "method_not_allowed")          \
  X(kIdentityRevoked, "identity_revoked")              \
  X(kOperatorNotPermitted, "operator_not_permitted")  \
  X(kRejectionBudgetExceeded, "rejection_budget_exceeded") \
  X(kRejectionBudgetUnavailable, "rejection_budget_unavailable") \
  X(kBatchTooManyEvents, "batch_too_many_events")      \
  X(kBatchNotNdjson, "batch_not_ndjson")

enum class Reason {
  kNone,
#define VV_ENUM(name, str) name,
  VV_REJECT_REASONS(VV_ENUM)
#undef VV_ENUM
};

// snake_case name for audit records and metrics ("bad_signature").
const char* ReasonName(Reason r);

// A client-supplied value for an internal_detail (audit record, log): at most
// kMaxEchoedValueBytes bytes, then "..." (the audit writer escapes what it keeps).
inline constexpr size_t kMaxEchoedValueBytes = 128;
std::string BoundedEcho(std::string_view client_value);

struct Verdict {
  Reason reason = Reason::kNone;
  int http_status = 0;
  std::string detail;  // the contract's client-facing string
  std::string internal_detail;  // precise, for audit/logs only (never sent to the client)

  bool ok() const { return reason == Reason::kNone; }
  static Verdict Pass() { return {}; }
  static Verdict Reject(Reason r, int status, std::string detail, std::string internal = "") {
    return {r, status, std::move(detail), std::move(internal)};
  }
};

// A dead-letter record the chain asks the caller to publish before answering (422 cases).
struct DeadLetter {
  std::string error_code;
  std::string error_message;
  json::Value trace;
};

// Per-request state. Inputs are set by the HTTP layer; checks fill the rest in order.
struct RequestContext {
  // Inputs (borrowed; must outlive the chain run).
  const std::vector<std::pair<std::string, std::string>>* headers = nullptr;  // lowercased names
  std::string_view body;
  bool peer_has_certificate = false;
  std::string_view peer_cert_sha256;  // lowercase hex of the presented, verified leaf
  std::string request_id;

  // Filled by checks.
  const config::ServiceIdentity* identity = nullptr;
  // IdentityCheck passed: the identity is allowlisted, not revoked and (with mTLS) its pin
  // matches the presented certificate. Only such requests are charged to the identity's
  // rejection budget (a stranger cannot exhaust another identity's budget).
  bool identity_authenticated = false;
  int64_t timestamp = 0;
  std::string nonce;
  std::string signing_kid;  // kid of the key that verified
  std::string nonce_key;
  bool nonce_registered = false;
  json::Value body_json;
  // Typed fields of the body, filled by the endpoint's parser (telemetry: BodyCheck; cognitive:
  // the endpoint between the authenticate and validate stages; federation: the endpoint from
  // ParseFederationRequest) and read by the checks of the validate stage, which never go back
  // to the raw JSON. tenant_id is canonical (lowercase).
  std::string operator_id, campaign_id, tenant_id, event_id, schema_version;
  int64_t body_timestamp = 0;  // the body's own timestamp and nonce (bound to the headers)
  std::string body_nonce;
  schema::SignedMetadata signed_metadata;  // telemetry; tenant_id lowercased
  const SignedBundle* bundle = nullptr;    // federation (borrowed; outlives the chain run)
  json::Value ingest_payload;  // the normalised request for the queue envelope
  std::optional<DeadLetter> dead_letter;
  std::optional<state::RateTicket> rate_ticket;

  // First value of a header (lowercase name), whitespace-stripped; nullptr when absent.
  std::optional<std::string_view> Header(std::string_view lower_name) const;
};

class Check {
 public:
  virtual ~Check() = default;
  virtual std::string_view name() const = 0;
  // Thread-safe; may read and fill `ctx`.
  virtual Verdict Run(RequestContext& ctx) const = 0;
};

using CheckPtr = std::unique_ptr<const Check>;

// Runs checks in order, stopping at the first rejection.
class Chain {
 public:
  explicit Chain(std::vector<CheckPtr> checks) : checks_(std::move(checks)) {}
  Verdict Run(RequestContext& ctx) const;
  // The checks' names in run order (the chain as data, for tests and diagnostics).
  std::vector<std::string_view> Names() const;

 private:
  std::vector<CheckPtr> checks_;
};

}  // namespace vv::verify

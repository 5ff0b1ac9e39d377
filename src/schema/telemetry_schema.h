#pragma once
// vv::schema telemetry validation: the strict schema of the gateway's
// POST /internal/v1/telemetry body (wire-contract 1.3), MITRE ATT&CK catalog checks
// (DESIGN-DECISIONS 6) and the sanitisation of wire-contract 7.
//
// Two steps, because the gateway checks the header/body binding (R17, R18) between them:
//   1. ValidateTopLevel(body)                 -> TopLevel            (R16, stage kTopLevel)
//   2. ValidateCanonicalPayload(payload, cat) -> CanonicalPayload    (R19, kCanonical;
//                                                R20 kContractV2Schema; R20b kContractV2Validation)
// Errors are reported pydantic-style: an array of {"type", "loc": [path...], "msg"} objects.
//
// Where we are stricter than the reference (wire-contract 13 items 11, 12; documented here so
// the DLQ reasons can be explained):
//   - tenant_id must be a canonical UUID (8-4-4-4-12 hex, any case; stored lowercased, so two spellings are one tenant);
//   - execution_hash must be 64 hex chars;
//   - timestamp must be a JSON integer fitting int64 (no "123", 123.0 or true);
//   - MITRE techniques must exist in the catalog and be active; tactics must exist and belong to
//     at least one listed technique; contract-v2 ttp likewise;
//   - sanitisation never truncates: an attribute string longer than 2048 code points after
//     escaping, or a key longer than 80, is rejected (the reference cuts it, possibly through an
//     HTML entity, silently changing signed content); two keys that sanitise to the same key are
//     rejected (the reference keeps the last one silently);
//   - dict keys are run through the injection deny-list too (the reference only escapes them);
//   - attributes.schema_version and attestation_measurement_hash must be strings (the reference
//     applies str() to whatever is there);
//   - contract-v2 completed_at vs started_at with one naive and one aware datetime is a v2 schema
//     error (the reference raises TypeError -> 500).
// The deny-list's known bypasses and false positives are described in schema/text.h.
//
// Thread-safety: stateless free functions; the catalog is read-only.

#include <string>
#include <utility>
#include <variant>

#include "json/json.h"
#include "schema/mitre_catalog.h"

namespace vv::schema {

enum class Stage { kTopLevel, kCanonical, kContractV2Schema, kContractV2Validation };

// DLQ error_code: schema_validation_failed / canonical_schema_failed / contract_v2_schema_failed /
// contract_v2_validation_failed.
const char* DlqErrorCode(Stage stage);
// 422 detail (also the DLQ error_message), e.g. "Telemetry schema validation failed".
const char* DetailFor(Stage stage);
// DLQ trace reason: schema_validation / canonical_schema / contract_v2_schema /
// contract_v2_validation.
const char* TraceReason(Stage stage);

struct ValidationFailure {
  Stage stage = Stage::kTopLevel;
  json::Value errors = json::Value::MakeArray();  // [{"type","loc","msg"}...]
  std::string summary;  // first error as "loc: msg" (plus "(+N more)"); the v2-missing text
};

template <typename T>
class Validated {
 public:
  Validated(T value) : v_(std::move(value)) {}                  // NOLINT(implicit)
  Validated(ValidationFailure failure) : v_(std::move(failure)) {}  // NOLINT(implicit)
  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const ValidationFailure& failure() const { return std::get<ValidationFailure>(v_); }

 private:
  std::variant<T, ValidationFailure> v_;
};

struct SignedMetadata {
  std::string tenant_id;
  std::string operator_id;
  std::string campaign_id;
};

struct TopLevel {
  std::string operator_id;
  std::string campaign_id;
  std::string tenant_id;  // lowercased (canonical form)
  std::string execution_hash;
  int64_t timestamp = 0;
  std::string nonce;
  SignedMetadata signed_metadata;
  // Points into the body passed to ValidateTopLevel (an object); valid while the body lives.
  const json::Value* payload = nullptr;
};

struct CanonicalPayload {
  // The normalised payload: fields in model order event_id, event_type, source_system,
  // severity, observed_at, mitre_techniques, mitre_tactics, description, attributes; optional
  // fields always present; severity lowercased; MITRE ids uppercased; observed_at
  // re-serialised; description and attributes sanitised.
  json::Value normalized;
  std::string event_id;
  // attributes.schema_version after sanitisation (stripped); empty when absent.
  std::string schema_version;
  bool contract_v2_validated = false;  // schema_version starts with "2."
};

Validated<TopLevel> ValidateTopLevel(const json::Value& body);

Validated<CanonicalPayload> ValidateCanonicalPayload(const json::Value& payload,
                                                     const MitreCatalog& catalog);

// Builds the ingest payload the queue carries: the top-level fields with `payload` replaced by
// the normalised canonical payload (wire-contract 5). Its canonical JSON equals the producer's
// sorted body when nothing was normalised (vector A.3).
json::Value BuildNormalizedRequest(const TopLevel& top, const CanonicalPayload& canonical);
// The same, taking the normalised payload over (no copy of it: the hot path's form).
json::Value BuildNormalizedRequest(const TopLevel& top, CanonicalPayload&& canonical);

}  // namespace vv::schema

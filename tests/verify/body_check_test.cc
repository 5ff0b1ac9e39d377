// BodyCheck (R15-R20b): strict JSON (422 invalid_json), the top-level schema (422
// schema_validation), the body's timestamp and nonce bound to the signed headers (401), the
// canonical payload against the MITRE catalog (422 canonical_schema) and contract v2 (422
// contract_v2_schema / contract_v2_validation). The 422 cases fill the DLQ record; the 401
// binding failures do not.

#include <gtest/gtest.h>

#include "schema/mitre_catalog.h"
#include "verify/checks.h"
#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

constexpr const char* kNonce = "nonce-body-0001";

class BodyCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto catalog = schema::MitreCatalog::Load();
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    catalog_ = std::make_unique<schema::MitreCatalog>(std::move(catalog).value());
  }
  // The body as raw bytes, with the signed header values SignatureCheck put in the context.
  Verdict RunRaw(std::string body, int64_t signed_ts = kNow, std::string signed_nonce = kNonce) {
    body_ = std::move(body);
    ctx_ = RequestContext();
    ctx_.body = body_;
    ctx_.timestamp = signed_ts;
    ctx_.nonce = std::move(signed_nonce);
    return BodyCheck(*catalog_).Run(ctx_);
  }
  Verdict Run(const json::Value& body) { return RunRaw(json::Canonical(body)); }
  static json::Value Body() { return testing::MakeTelemetryBody(kNow, kNonce); }
  json::Value& Payload(json::Value& body) { return *body.Find("payload"); }
  json::Value& Attributes(json::Value& body) { return *Payload(body).Find("attributes"); }
  void ExpectDlq(const std::string& code, const std::string& message, const std::string& reason) {
    ASSERT_TRUE(ctx_.dead_letter.has_value());
    EXPECT_EQ(ctx_.dead_letter->error_code, code);
    EXPECT_EQ(ctx_.dead_letter->error_message, message);
    ASSERT_TRUE(ctx_.dead_letter->trace.is_object());
    ASSERT_NE(ctx_.dead_letter->trace.Find("reason"), nullptr);
    EXPECT_EQ(ctx_.dead_letter->trace.Find("reason")->as_string(), reason);
  }
  void ExpectTopLevel(const json::Value& body) {
    EXPECT_REJECTED(Run(body), Reason::kTopLevelSchema, 422, "Telemetry schema validation failed");
    ExpectDlq("schema_validation_failed", "Telemetry schema validation failed", "schema_validation");
  }

  std::unique_ptr<schema::MitreCatalog> catalog_;
  std::string body_;
  RequestContext ctx_;
};

TEST_F(BodyCheckTest, ValidBodyFillsTheContext) {
  EXPECT_PASSED(Run(Body()));
  EXPECT_EQ(ctx_.operator_id, "op-001");
  EXPECT_EQ(ctx_.campaign_id, "cmp-001");
  EXPECT_EQ(ctx_.tenant_id, testing::kTenant1);
  EXPECT_EQ(ctx_.event_id, "evt-vector-0001");
  EXPECT_EQ(ctx_.schema_version, "1.0");
  EXPECT_TRUE(ctx_.body_json.is_object());
  ASSERT_TRUE(ctx_.ingest_payload.is_object());
  EXPECT_EQ(ctx_.ingest_payload.Find("tenant_id")->as_string(), testing::kTenant1);
  EXPECT_FALSE(ctx_.dead_letter.has_value());
}

TEST_F(BodyCheckTest, UppercaseTenantIsCanonicalisedToLowercase) {
  json::Value b = Body();
  b.Set("tenant_id", "ABCDEF00-0000-0000-0000-00000000000A");
  b.Find("signed_metadata")->Set("tenant_id", "ABCDEF00-0000-0000-0000-00000000000A");
  EXPECT_PASSED(Run(b));
  EXPECT_EQ(ctx_.tenant_id, "abcdef00-0000-0000-0000-00000000000a");
}

// ---- invalid JSON (422 invalid_json) ------------------------------------------------------------

TEST_F(BodyCheckTest, InvalidJson) {
  Verdict v = RunRaw("{\"operator_id\": ");
  EXPECT_REJECTED(v, Reason::kInvalidJson, 422, "Invalid JSON payload");
  EXPECT_FALSE(v.internal_detail.empty());
  ExpectDlq("invalid_json", "Invalid JSON payload", "json_decode");
}

TEST_F(BodyCheckTest, EmptyBodyIsInvalidJson) {
  EXPECT_REJECTED(RunRaw(""), Reason::kInvalidJson, 422, "Invalid JSON payload");
}

TEST_F(BodyCheckTest, DuplicateKeysAreInvalidJson) {
  // An attacker's second "tenant_id" must not win over the first (or vice versa).
  std::string raw = json::Canonical(Body());
  raw.insert(1, std::string("\"tenant_id\":\"") + testing::kTenant2 + "\",");
  EXPECT_REJECTED(RunRaw(raw), Reason::kInvalidJson, 422, "Invalid JSON payload");
}

TEST_F(BodyCheckTest, NanIsInvalidJson) {
  std::string raw = json::Canonical(Body());
  raw.insert(1, "\"x\":NaN,");
  EXPECT_REJECTED(RunRaw(raw), Reason::kInvalidJson, 422, "Invalid JSON payload");
}

TEST_F(BodyCheckTest, InvalidUtf8IsInvalidJson) {
  json::Value b = Body();
  b.Set("campaign_id", "cmp-X");
  std::string raw = json::Canonical(b);
  raw.replace(raw.find("cmp-X"), 5, "cmp-\xff");
  EXPECT_REJECTED(RunRaw(raw), Reason::kInvalidJson, 422, "Invalid JSON payload");
}

TEST_F(BodyCheckTest, TrailingGarbageIsInvalidJson) {
  EXPECT_REJECTED(RunRaw(json::Canonical(Body()) + "x"), Reason::kInvalidJson, 422,
                  "Invalid JSON payload");
}

// ---- top-level schema (422 schema_validation) ---------------------------------------------------

TEST_F(BodyCheckTest, ArrayBodyIsATopLevelSchemaFailure) { ExpectTopLevel(json::Value::MakeArray()); }

TEST_F(BodyCheckTest, MissingField) {
  json::Value b = Body();
  b.Erase("execution_hash");
  ExpectTopLevel(b);
}

TEST_F(BodyCheckTest, ExtraTopLevelField) {
  json::Value b = Body();
  b.Set("is_admin", true);
  ExpectTopLevel(b);
}

TEST_F(BodyCheckTest, ExtraSignedMetadataField) {
  json::Value b = Body();
  b.Find("signed_metadata")->Set("role", "admin");
  ExpectTopLevel(b);
}

TEST_F(BodyCheckTest, TimestampAsStringIsNotCoerced) {
  json::Value b = Body();
  b.Set("timestamp", std::to_string(kNow));
  ExpectTopLevel(b);
  EXPECT_EQ(RunRaw(json::Canonical(b)).internal_detail, "timestamp: Input should be a valid integer");
}

TEST_F(BodyCheckTest, TimestampAsFloatIsNotCoerced) {
  std::string raw = json::Canonical(Body());
  std::string ts = std::to_string(kNow);
  raw.replace(raw.find(ts), ts.size(), ts + ".0");
  EXPECT_REJECTED(RunRaw(raw), Reason::kTopLevelSchema, 422, "Telemetry schema validation failed");
}

TEST_F(BodyCheckTest, ShortNonce) {
  json::Value b = Body();
  b.Set("nonce", "1234567");
  EXPECT_REJECTED(RunRaw(json::Canonical(b), kNow, "1234567"), Reason::kTopLevelSchema, 422,
                  "Telemetry schema validation failed");
}

TEST_F(BodyCheckTest, NonCanonicalUuidsAreRefused) {
  for (const char* tenant : {"10000000000000000000000000000001",        // no dashes
                             "{10000000-0000-0000-0000-000000000001}",  // braces
                             "10000000-0000-0000-0000-00000000000g",    // non-hex
                             "1000000-00000-0000-0000-000000000001",    // dashes shifted
                             " 10000000-0000-0000-0000-000000000001",   // padded
                             "urn:uuid:10000000-0000-0000-0000-000000000001"}) {
    SCOPED_TRACE(tenant);
    json::Value b = Body();
    b.Set("tenant_id", tenant);
    ExpectTopLevel(b);
    json::Value c = Body();
    c.Find("signed_metadata")->Set("tenant_id", tenant);
    ExpectTopLevel(c);
  }
}

TEST_F(BodyCheckTest, ExecutionHashMustBe64Hex) {
  json::Value b = Body();
  b.Set("execution_hash", std::string(63, 'f') + "g");
  ExpectTopLevel(b);
  b.Set("execution_hash", std::string(65, 'f'));
  ExpectTopLevel(b);
  b.Set("execution_hash", std::string(64, 'F'));  // uppercase hex is hex
  EXPECT_PASSED(Run(b));
}

TEST_F(BodyCheckTest, OversizedOperatorId) {
  json::Value b = Body();
  b.Set("operator_id", std::string(129, 'o'));
  b.Find("signed_metadata")->Set("operator_id", std::string(129, 'o'));
  ExpectTopLevel(b);
}

// ---- binding to the signed headers (401, no DLQ) ------------------------------------------------

TEST_F(BodyCheckTest, BodyTimestampDiffersFromTheSignedHeader) {
  Verdict v = RunRaw(json::Canonical(Body()), kNow + 1, kNonce);
  EXPECT_REJECTED(v, Reason::kTimestampMismatch, 401, "Body timestamp mismatch with signed header");
  EXPECT_FALSE(ctx_.dead_letter.has_value());
  EXPECT_TRUE(ctx_.operator_id.empty());
}

TEST_F(BodyCheckTest, BodyNonceDiffersFromTheSignedHeader) {
  Verdict v = RunRaw(json::Canonical(Body()), kNow, "nonce-body-0002");
  EXPECT_REJECTED(v, Reason::kNonceMismatch, 401, "Body nonce mismatch with signed header");
  EXPECT_FALSE(ctx_.dead_letter.has_value());
}

TEST_F(BodyCheckTest, NonceBindingIsCaseSensitive) {
  EXPECT_REJECTED(RunRaw(json::Canonical(Body()), kNow, "NONCE-BODY-0001"),
                  Reason::kNonceMismatch, 401, "Body nonce mismatch with signed header");
}

TEST_F(BodyCheckTest, TimestampIsCheckedBeforeNonce) {
  EXPECT_REJECTED(RunRaw(json::Canonical(Body()), kNow - 1, "nonce-other-0001"),
                  Reason::kTimestampMismatch, 401, "Body timestamp mismatch with signed header");
}

TEST_F(BodyCheckTest, SchemaFailureIsReportedBeforeTheBinding) {
  json::Value b = Body();
  b.Erase("payload");
  EXPECT_REJECTED(RunRaw(json::Canonical(b), kNow + 5, "other-nonce-01"), Reason::kTopLevelSchema,
                  422, "Telemetry schema validation failed");
}

// ---- canonical payload (422 canonical_schema) ---------------------------------------------------

TEST_F(BodyCheckTest, UnknownMitreTechnique) {
  json::Value b = Body();
  Payload(b).Find("mitre_techniques")->as_array()[0] = json::Value("T9999");
  EXPECT_REJECTED(Run(b), Reason::kCanonicalSchema, 422,
                  "Canonical telemetry schema validation failed");
  ExpectDlq("canonical_schema_failed", "Canonical telemetry schema validation failed",
            "canonical_schema");
  EXPECT_NE(ctx_.dead_letter->trace.Find("errors"), nullptr);
  // The top-level fields were already taken into the context (for the audit record).
  EXPECT_EQ(ctx_.operator_id, "op-001");
}

TEST_F(BodyCheckTest, MissingPayloadField) {
  json::Value b = Body();
  Payload(b).Erase("event_id");
  EXPECT_REJECTED(Run(b), Reason::kCanonicalSchema, 422,
                  "Canonical telemetry schema validation failed");
}

TEST_F(BodyCheckTest, ExtraPayloadField) {
  json::Value b = Body();
  Payload(b).Set("exec", "rm -rf /");
  EXPECT_REJECTED(Run(b), Reason::kCanonicalSchema, 422,
                  "Canonical telemetry schema validation failed");
}

TEST_F(BodyCheckTest, SchemaVersionMustBeAString) {
  json::Value b = Body();
  Attributes(b).Set("schema_version", 1);
  EXPECT_REJECTED(Run(b), Reason::kCanonicalSchema, 422,
                  "Canonical telemetry schema validation failed");
}

TEST_F(BodyCheckTest, SchemaVersionIsStripped) {
  json::Value b = Body();
  Attributes(b).Set("schema_version", " 1.0 ");
  EXPECT_PASSED(Run(b));
  EXPECT_EQ(ctx_.schema_version, "1.0");
}

TEST_F(BodyCheckTest, AbsentSchemaVersionIsEmpty) {
  json::Value b = Body();
  Attributes(b).Erase("schema_version");
  EXPECT_PASSED(Run(b));
  EXPECT_EQ(ctx_.schema_version, "");
}

// ---- contract v2 (422 contract_v2_validation / contract_v2_schema) ------------------------------

TEST_F(BodyCheckTest, V2WithoutTheContractV2Object) {
  json::Value b = Body();
  Attributes(b).Set("schema_version", "2.0");
  Verdict v = Run(b);
  EXPECT_REJECTED(v, Reason::kContractV2Validation, 422, "Telemetry contract v2 validation failed");
  EXPECT_EQ(v.internal_detail,
            "attributes.contract_v2 must be an object when schema_version is 2.x");
  ExpectDlq("contract_v2_validation_failed", "Telemetry contract v2 validation failed",
            "contract_v2_validation");
  ASSERT_NE(ctx_.dead_letter->trace.Find("error"), nullptr);
  EXPECT_EQ(ctx_.dead_letter->trace.Find("error")->as_string(), v.internal_detail);
}

TEST_F(BodyCheckTest, V2WithAnEmptyContractV2Object) {
  json::Value b = Body();
  Attributes(b).Set("schema_version", "2.0");
  Attributes(b).Set("contract_v2", json::Value::MakeObject());
  EXPECT_REJECTED(Run(b), Reason::kContractV2Schema, 422,
                  "Telemetry contract v2 schema validation failed");
  ExpectDlq("contract_v2_schema_failed", "Telemetry contract v2 schema validation failed",
            "contract_v2_schema");
  ASSERT_NE(ctx_.dead_letter->trace.Find("errors"), nullptr);
  EXPECT_TRUE(ctx_.dead_letter->trace.Find("errors")->is_array());
}

}  // namespace
}  // namespace vv::verify

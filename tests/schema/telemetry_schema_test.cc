#include "schema/telemetry_schema.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto/crypto.h"
#include "json/json.h"
#include "schema/py_datetime.h"

namespace vv::schema {
namespace {

// Wire-contract Appendix A.2, sorted compact body as the producer emits it.
constexpr char kA2Body[] =
    R"({"campaign_id":"cmp-001","execution_hash":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","nonce":"nonce-vector-0001","operator_id":"op-001","payload":{"attributes":{"asset_ref":"host-nyc-01","attestation_measurement_hash":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","schema_version":"1.0"},"description":"Observed suspicious process chain","event_id":"evt-vector-0001","event_type":"PROCESS_ANOMALY","mitre_tactics":["TA0002"],"mitre_techniques":["T1059.001"],"observed_at":"2026-02-26T12:00:00Z","severity":"high","source_system":"spectrastrike-sensor"},"signed_metadata":{"campaign_id":"cmp-001","operator_id":"op-001","tenant_id":"10000000-0000-0000-0000-000000000001"},"tenant_id":"10000000-0000-0000-0000-000000000001","timestamp":1772107200})";
constexpr char kA2Sha256[] = "1e0392aced563264e98d218d46f83dee735cbd8d06f06588bbdee8956a8baa91";

constexpr char kV2Block[] = R"({
  "execution": {"execution_id": "exec-1", "lifecycle_state": "succeeded",
                "previous_lifecycle_state": "running", "started_at": "2026-02-26T12:00:00Z",
                "completed_at": "2026-02-26T12:05:00Z", "correlation_id": "corr-1"},
  "asset": {"asset_id": "asset-1", "asset_ref": "host-nyc-01", "hostname": "nyc-01",
            "ip_address": "10.0.0.5", "platform": "linux", "environment": "prod"},
  "identity": {"principal_id": "svc-runner", "principal_type": "service",
               "privilege_level": "admin", "account_domain": "corp.local"},
  "ttp": {"technique_id": "T1059", "tactic_id": "TA0002", "subtechnique_id": "T1059.001",
          "procedure": "powershell -enc ..."},
  "detection": {"detected": true, "detection_source": "edr", "detection_latency_seconds": 12,
                "alert_id": "alert-1", "alert_severity": "high"},
  "response": {"responded": true, "response_action": "isolate", "response_latency_seconds": 30,
               "contained": true, "containment_latency_seconds": 45},
  "control": {"control_id": "ctl-1", "control_type": "edr", "control_vendor": "acme",
              "control_version": "1.2", "effectiveness_score": 0.75}
})";

// Canonical JSON of the first error's loc, or "" when there is none.
std::string FirstLoc(const ValidationFailure& f) {
  if (!f.errors.is_array() || f.errors.as_array().empty()) return "";
  const json::Value* loc = f.errors.as_array()[0].Find("loc");
  return loc == nullptr ? "" : json::Canonical(*loc);
}

json::Value ParseOrDie(std::string_view text) {
  Result<json::Value> v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? std::move(v).value() : json::Value();
}

class TelemetrySchemaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Result<MitreCatalog> cat = MitreCatalog::Load();
    ASSERT_TRUE(cat.ok()) << cat.status().ToString();
    catalog_ = new MitreCatalog(std::move(cat).value());
  }
  static void TearDownTestSuite() {
    delete catalog_;
    catalog_ = nullptr;
  }

  static json::Value Body() { return ParseOrDie(kA2Body); }
  static json::Value Payload() { return *Body().Find("payload"); }
  static json::Value& Attrs(json::Value& payload) { return *payload.Find("attributes"); }

  static Validated<CanonicalPayload> Canon(const json::Value& payload) {
    return ValidateCanonicalPayload(payload, *catalog_);
  }
  // Expects a failure of `stage` whose first error loc contains `loc0` (if non-empty).
  static void ExpectTopFail(const json::Value& body, std::string_view type) {
    Validated<TopLevel> r = ValidateTopLevel(body);
    ASSERT_FALSE(r.ok()) << json::Canonical(body);
    EXPECT_EQ(r.failure().stage, Stage::kTopLevel);
    bool found = false;
    for (const auto& e : r.failure().errors.as_array()) {
      if (e.Find("type")->as_string() == type) found = true;
    }
    EXPECT_TRUE(found) << "expected " << type << " in " << json::Canonical(r.failure().errors);
  }
  static ValidationFailure ExpectCanonFail(const json::Value& payload,
                                           Stage stage = Stage::kCanonical) {
    Validated<CanonicalPayload> r = Canon(payload);
    EXPECT_FALSE(r.ok()) << json::Canonical(payload);
    if (r.ok()) return {};
    EXPECT_EQ(r.failure().stage, stage) << r.failure().summary;
    EXPECT_FALSE(r.failure().summary.empty());
    return r.failure();
  }
  static std::string NormalizedField(const json::Value& payload, std::string_view field) {
    Validated<CanonicalPayload> r = Canon(payload);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.failure().summary);
    if (!r.ok()) return "";
    return json::Canonical(*r.value().normalized.Find(field));
  }

  static MitreCatalog* catalog_;
};

MitreCatalog* TelemetrySchemaTest::catalog_ = nullptr;

// ---- A.2 / A.3 ------------------------------------------------------------------------------

TEST_F(TelemetrySchemaTest, A2BodyNormalisesBackToTheProducerBytes) {
  json::Value body = Body();
  Validated<TopLevel> top = ValidateTopLevel(body);
  ASSERT_TRUE(top.ok()) << top.failure().summary;
  EXPECT_EQ(top.value().operator_id, "op-001");
  EXPECT_EQ(top.value().timestamp, 1772107200);
  EXPECT_EQ(top.value().nonce, "nonce-vector-0001");
  EXPECT_EQ(top.value().signed_metadata.tenant_id, "10000000-0000-0000-0000-000000000001");
  ASSERT_NE(top.value().payload, nullptr);

  Validated<CanonicalPayload> canon = ValidateCanonicalPayload(*top.value().payload, *catalog_);
  ASSERT_TRUE(canon.ok()) << canon.failure().summary;
  EXPECT_EQ(canon.value().event_id, "evt-vector-0001");
  EXPECT_EQ(canon.value().schema_version, "1.0");
  EXPECT_FALSE(canon.value().contract_v2_validated);

  json::Value request = BuildNormalizedRequest(top.value(), canon.value());
  std::string canonical = json::Canonical(request);
  EXPECT_EQ(canonical, kA2Body);
  EXPECT_EQ(crypto::Sha256Hex(canonical), kA2Sha256);
  EXPECT_EQ(crypto::Sha256Hex(kA2Body), kA2Sha256);
}

TEST_F(TelemetrySchemaTest, OptionalFieldsAlwaysPresentInNormalisedPayload) {
  json::Value p = Payload();
  p.Erase("description");
  p.Erase("mitre_tactics");
  std::string expected_attrs = json::Canonical(Attrs(p));
  Validated<CanonicalPayload> r = Canon(p);
  ASSERT_TRUE(r.ok()) << r.failure().summary;
  EXPECT_TRUE(r.value().normalized.Find("description")->is_null());
  EXPECT_EQ(json::Canonical(*r.value().normalized.Find("mitre_tactics")), "[]");
  EXPECT_EQ(json::Canonical(*r.value().normalized.Find("attributes")), expected_attrs);
}

TEST_F(TelemetrySchemaTest, StageStringsMatchContract) {
  EXPECT_STREQ(DlqErrorCode(Stage::kTopLevel), "schema_validation_failed");
  EXPECT_STREQ(DlqErrorCode(Stage::kCanonical), "canonical_schema_failed");
  EXPECT_STREQ(DlqErrorCode(Stage::kContractV2Schema), "contract_v2_schema_failed");
  EXPECT_STREQ(DlqErrorCode(Stage::kContractV2Validation), "contract_v2_validation_failed");
  EXPECT_STREQ(DetailFor(Stage::kTopLevel), "Telemetry schema validation failed");
  EXPECT_STREQ(DetailFor(Stage::kCanonical), "Canonical telemetry schema validation failed");
  EXPECT_STREQ(DetailFor(Stage::kContractV2Schema),
               "Telemetry contract v2 schema validation failed");
  EXPECT_STREQ(DetailFor(Stage::kContractV2Validation), "Telemetry contract v2 validation failed");
  EXPECT_STREQ(TraceReason(Stage::kTopLevel), "schema_validation");
  EXPECT_STREQ(TraceReason(Stage::kCanonical), "canonical_schema");
  EXPECT_STREQ(TraceReason(Stage::kContractV2Schema), "contract_v2_schema");
  EXPECT_STREQ(TraceReason(Stage::kContractV2Validation), "contract_v2_validation");
}

// ---- top level ------------------------------------------------------------------------------

TEST_F(TelemetrySchemaTest, TopLevelRejectsNonObjectBody) {
  ExpectTopFail(ParseOrDie("[1,2]"), "model_type");
  ExpectTopFail(ParseOrDie("\"x\""), "model_type");
}

TEST_F(TelemetrySchemaTest, TopLevelRejectsUnknownKeys) {
  json::Value b = Body();
  b.Set("extra", json::Value(1));
  ExpectTopFail(b, "extra_forbidden");
  json::Value b2 = Body();
  b2.Find("signed_metadata")->Set("role", json::Value("admin"));
  ExpectTopFail(b2, "extra_forbidden");
}

TEST_F(TelemetrySchemaTest, TopLevelRejectsMissingFields) {
  for (const char* f : {"operator_id", "campaign_id", "tenant_id", "execution_hash", "timestamp",
                        "nonce", "signed_metadata", "payload"}) {
    json::Value b = Body();
    b.Erase(f);
    SCOPED_TRACE(f);
    ExpectTopFail(b, "missing");
  }
  for (const char* f : {"operator_id", "campaign_id", "tenant_id"}) {
    json::Value b = Body();
    b.Find("signed_metadata")->Erase(f);
    SCOPED_TRACE(f);
    ExpectTopFail(b, "missing");
  }
}

TEST_F(TelemetrySchemaTest, TopLevelLengthBounds) {
  for (const char* f : {"operator_id", "campaign_id"}) {
    json::Value b = Body();
    b.Set(f, json::Value(""));
    ExpectTopFail(b, "string_too_short");
    b.Set(f, json::Value(std::string(129, 'a')));
    ExpectTopFail(b, "string_too_long");
    b.Set(f, json::Value(std::string(128, 'a')));
    b.Find("signed_metadata")->Set(f, json::Value(std::string(128, 'a')));
    EXPECT_TRUE(ValidateTopLevel(b).ok()) << f;
    b.Find("signed_metadata")->Set(f, json::Value(""));
    ExpectTopFail(b, "string_too_short");
    b.Find("signed_metadata")->Set(f, json::Value(std::string(129, 'a')));
    ExpectTopFail(b, "string_too_long");
  }
  json::Value b = Body();
  b.Set("nonce", json::Value("1234567"));
  ExpectTopFail(b, "string_too_short");
  b.Set("nonce", json::Value("12345678"));
  EXPECT_TRUE(ValidateTopLevel(b).ok());
  b.Set("nonce", json::Value(std::string(129, 'n')));
  ExpectTopFail(b, "string_too_long");
  // Lengths count code points like Python: 128 two-byte chars are fine.
  std::string e_acute;
  for (int i = 0; i < 128; ++i) e_acute += "\xc3\xa9";
  b = Body();
  b.Set("nonce", json::Value(e_acute));
  EXPECT_TRUE(ValidateTopLevel(b).ok());
}

TEST_F(TelemetrySchemaTest, TopLevelTimestampIsStrictInteger) {
  for (const char* ts : {"\"1772107200\"", "1772107200.0", "true", "null", "[1]",
                         "99999999999999999999999"}) {
    json::Value b = Body();
    b.Set("timestamp", ParseOrDie(ts));
    SCOPED_TRACE(ts);
    Validated<TopLevel> r = ValidateTopLevel(b);
    EXPECT_FALSE(r.ok());
  }
  json::Value b = Body();
  b.Set("timestamp", ParseOrDie("-5"));
  ASSERT_TRUE(ValidateTopLevel(b).ok());
  EXPECT_EQ(ValidateTopLevel(b).value().timestamp, -5);
}

TEST_F(TelemetrySchemaTest, TopLevelTenantMustBeCanonicalUuid) {
  for (const char* t : {"------------------------------------",       // 36 hyphens: ref accepts
                        "100000000000-0000-0000-0000000000001",       // hyphens misplaced
                        "10000000-0000-0000-0000-00000000000g",       // non-hex
                        "10000000-0000-0000-0000-0000000000001",      // 37 chars
                        "{10000000-0000-0000-0000-000000000001}"}) {
    json::Value b = Body();
    b.Set("tenant_id", json::Value(t));
    SCOPED_TRACE(t);
    EXPECT_FALSE(ValidateTopLevel(b).ok());
    json::Value b2 = Body();
    b2.Find("signed_metadata")->Set("tenant_id", json::Value(t));
    EXPECT_FALSE(ValidateTopLevel(b2).ok());
  }
  json::Value b = Body();
  b.Set("tenant_id", json::Value("ABCDEF00-0000-0000-0000-00000000000A"));
  Validated<TopLevel> r = ValidateTopLevel(b);
  ASSERT_TRUE(r.ok());
  // Canonicalised at the edge (issue 12 item 7; was "kept as sent", the defect).
  EXPECT_EQ(r.value().tenant_id, "abcdef00-0000-0000-0000-00000000000a");
}

TEST_F(TelemetrySchemaTest, TopLevelExecutionHashMustBe64Hex) {
  json::Value b = Body();
  b.Set("execution_hash", json::Value(std::string(64, 'z')));
  ExpectTopFail(b, "string_pattern_mismatch");
  b.Set("execution_hash", json::Value(std::string(63, 'a')));
  ExpectTopFail(b, "string_too_short");
  b.Set("execution_hash", json::Value(std::string(64, 'A')));
  EXPECT_TRUE(ValidateTopLevel(b).ok());
}

TEST_F(TelemetrySchemaTest, TopLevelPayloadAndSignedMetadataMustBeObjects) {
  json::Value b = Body();
  b.Set("payload", json::Value("{}"));
  ExpectTopFail(b, "dict_type");
  b = Body();
  b.Set("signed_metadata", json::Value::MakeArray());
  ExpectTopFail(b, "model_type");
}

TEST_F(TelemetrySchemaTest, TopLevelCollectsAllErrors) {
  json::Value b = Body();
  b.Set("operator_id", json::Value(""));
  b.Set("nonce", json::Value(5));
  b.Set("bogus", json::Value(true));
  Validated<TopLevel> r = ValidateTopLevel(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure().errors.as_array().size(), 3u) << json::Canonical(r.failure().errors);
  EXPECT_EQ(FirstLoc(r.failure()), "[\"operator_id\"]");
  EXPECT_NE(r.failure().summary.find("(+2 more)"), std::string::npos);
}

// ---- canonical payload: fields --------------------------------------------------------------

TEST_F(TelemetrySchemaTest, CanonicalRejectsNonObjectAndUnknownKeys) {
  ExpectCanonFail(json::Value("x"));
  json::Value p = Payload();
  p.Set("tenant_override", json::Value("x"));
  ValidationFailure f = ExpectCanonFail(p);
  EXPECT_NE(json::Canonical(f.errors).find("extra_forbidden"), std::string::npos);
}

TEST_F(TelemetrySchemaTest, CanonicalRejectsMissingRequiredFields) {
  for (const char* field : {"event_id", "event_type", "source_system", "severity", "observed_at",
                            "mitre_techniques"}) {
    json::Value p = Payload();
    p.Erase(field);
    SCOPED_TRACE(field);
    ValidationFailure f = ExpectCanonFail(p);
    EXPECT_NE(json::Canonical(f.errors).find("\"missing\""), std::string::npos);
  }
}

TEST_F(TelemetrySchemaTest, CanonicalIdFieldsLengthAndCharset) {
  struct Case {
    const char* field;
    size_t max;
  };
  for (Case c : {Case{"event_id", 128}, Case{"event_type", 64}, Case{"source_system", 64}}) {
    SCOPED_TRACE(c.field);
    json::Value p = Payload();
    p.Set(c.field, json::Value(std::string(c.max, 'a')));
    EXPECT_TRUE(Canon(p).ok());
    p.Set(c.field, json::Value(std::string(c.max + 1, 'a')));
    ExpectCanonFail(p);
    p.Set(c.field, json::Value(""));
    ExpectCanonFail(p);
    p.Set(c.field, json::Value("evt 1"));
    ExpectCanonFail(p);
    p.Set(c.field, json::Value("evt/1"));
    ExpectCanonFail(p);
    p.Set(c.field, json::Value(7));
    ExpectCanonFail(p);
    p.Set(c.field, json::Value("A.z_0:9-x"));
    EXPECT_TRUE(Canon(p).ok());
  }
}

TEST_F(TelemetrySchemaTest, CanonicalSeverityNormalisedAndBounded) {
  json::Value p = Payload();
  p.Set("severity", json::Value("  CRITICAL "));
  EXPECT_EQ(NormalizedField(p, "severity"), "\"critical\"");
  p.Set("severity", json::Value("Info"));
  EXPECT_EQ(NormalizedField(p, "severity"), "\"info\"");
  p.Set("severity", json::Value("severe"));
  ExpectCanonFail(p);
  p.Set("severity", json::Value("h"));  // below 2 chars
  ExpectCanonFail(p);
  p.Set("severity", json::Value("high" + std::string(13, ' ')));  // 17 raw chars
  ExpectCanonFail(p);
  p.Set("severity", json::Value("high" + std::string(12, ' ')));  // 16 raw chars
  EXPECT_EQ(NormalizedField(p, "severity"), "\"high\"");
}

TEST_F(TelemetrySchemaTest, ObservedAtForms) {
  struct Case {
    const char* in;
    const char* out;
  };
  for (Case c : {Case{"\"2026-02-26T12:00:00Z\"", "\"2026-02-26T12:00:00Z\""},
                 Case{"\"2026-02-26T12:00:00+00:00\"", "\"2026-02-26T12:00:00Z\""},
                 Case{"\"2026-02-26T12:00:00-00:00\"", "\"2026-02-26T12:00:00Z\""},
                 Case{"\"2026-02-26T12:00:00+02:00\"", "\"2026-02-26T12:00:00+02:00\""},
                 Case{"\"2026-02-26T12:00:00-0530\"", "\"2026-02-26T12:00:00-05:30\""},
                 Case{"\"2026-02-26T12:00:00\"", "\"2026-02-26T12:00:00\""},
                 Case{"\"2026-02-26 12:00\"", "\"2026-02-26T12:00:00\""},
                 Case{"\"2026-02-26T12:00:00.5Z\"", "\"2026-02-26T12:00:00.500000Z\""},
                 Case{"\"2026-02-26T12:00:00.000000Z\"", "\"2026-02-26T12:00:00Z\""},
                 Case{"\"2026-02-26T12:00:00.123456+01:00\"",
                      "\"2026-02-26T12:00:00.123456+01:00\""},
                 Case{"\"2026-02-26\"", "\"2026-02-26T00:00:00\""},
                 Case{"1772107200", "\"2026-02-26T12:00:00Z\""},
                 Case{"1772107200.25", "\"2026-02-26T12:00:00.250000Z\""},
                 Case{"1772107200000", "\"2026-02-26T12:00:00Z\""},  // ms beyond 2e10
                 Case{"\"1772107200\"", "\"2026-02-26T12:00:00Z\""},
                 Case{"0", "\"1970-01-01T00:00:00Z\""},
                 Case{"\"2024-02-29T23:59:59Z\"", "\"2024-02-29T23:59:59Z\""}}) {
    SCOPED_TRACE(c.in);
    json::Value p = Payload();
    p.Set("observed_at", ParseOrDie(c.in));
    EXPECT_EQ(NormalizedField(p, "observed_at"), c.out);
  }
}

TEST_F(TelemetrySchemaTest, ObservedAtInvalidRejected) {
  for (const char* in :
       {"\"2026-02-30T12:00:00Z\"", "\"2025-02-29T00:00:00Z\"", "\"2026-13-01T00:00:00Z\"",
        "\"2026-02-26T24:00:00Z\"", "\"2026-02-26T12:60:00Z\"", "\"2026-02-26T12:00:60Z\"",
        "\"2026-02-26T12:00:00.1234567Z\"", "\"2026-02-26T12:00:00+24:00\"",
        "\"2026-02-26T12:00:00Zjunk\"", "\"yesterday\"", "\"\"", "\"0000-01-01T00:00:00\"",
        "true", "null", "{}", "1e300"}) {
    SCOPED_TRACE(in);
    json::Value p = Payload();
    p.Set("observed_at", ParseOrDie(in));
    ExpectCanonFail(p);
  }
}

// ---- MITRE ----------------------------------------------------------------------------------

TEST_F(TelemetrySchemaTest, MitreIdsStrippedAndUppercased) {
  json::Value p = Payload();
  p.Set("mitre_techniques", ParseOrDie(R"([" t1059.001 ", "t1059"])"));
  p.Set("mitre_tactics", ParseOrDie(R"(["ta0002 "])"));
  EXPECT_EQ(NormalizedField(p, "mitre_techniques"), R"(["T1059.001","T1059"])");
  EXPECT_EQ(NormalizedField(p, "mitre_tactics"), R"(["TA0002"])");
}

TEST_F(TelemetrySchemaTest, MitreTechniqueFormatAndCatalogRejections) {
  for (const char* t : {"TX9999", "T9999", "T1002", "T1026", "T1059.1", "T10590", "", "  ",
                        "T1059.999"}) {
    SCOPED_TRACE(t);
    json::Value p = Payload();
    p.Set("mitre_techniques", json::Value(json::Array{json::Value(t)}));
    p.Set("mitre_tactics", json::Value::MakeArray());
    ValidationFailure f = ExpectCanonFail(p);
    EXPECT_EQ(FirstLoc(f), "[\"mitre_techniques\",0]");
  }
  json::Value p = Payload();
  p.Set("mitre_techniques", json::Value(json::Array{json::Value("T1002")}));
  p.Set("mitre_tactics", json::Value::MakeArray());
  EXPECT_NE(ExpectCanonFail(p).summary.find("revoked"), std::string::npos);
  p.Set("mitre_techniques", json::Value(json::Array{json::Value("T1026")}));
  EXPECT_NE(ExpectCanonFail(p).summary.find("deprecated"), std::string::npos);
  p.Set("mitre_techniques", json::Value(json::Array{json::Value("T9999")}));
  EXPECT_NE(ExpectCanonFail(p).summary.find("not in the MITRE"), std::string::npos);
}

TEST_F(TelemetrySchemaTest, MitreListBounds) {
  json::Value p = Payload();
  p.Set("mitre_techniques", json::Value::MakeArray());
  ExpectCanonFail(p);
  json::Array many;
  for (int i = 0; i < 33; ++i) many.emplace_back("T1059");
  p = Payload();
  p.Set("mitre_techniques", json::Value(many));
  ExpectCanonFail(p);
  many.pop_back();
  p.Set("mitre_techniques", json::Value(many));
  EXPECT_TRUE(Canon(p).ok());
  json::Array tactics;
  for (int i = 0; i < 33; ++i) tactics.emplace_back("TA0002");
  p.Set("mitre_tactics", json::Value(tactics));
  ExpectCanonFail(p);
  p.Set("mitre_techniques", ParseOrDie("[1059]"));
  p.Set("mitre_tactics", json::Value::MakeArray());
  ExpectCanonFail(p);
  p.Set("mitre_techniques", json::Value("T1059"));
  ExpectCanonFail(p);
}

TEST_F(TelemetrySchemaTest, MitreTacticMustExistAndBelongToATechnique) {
  json::Value p = Payload();
  p.Set("mitre_tactics", ParseOrDie(R"(["TA0040"])"));  // impact: not a tactic of T1059.001
  ValidationFailure f = ExpectCanonFail(p);
  EXPECT_NE(f.summary.find("does not belong"), std::string::npos) << f.summary;
  p.Set("mitre_tactics", ParseOrDie(R"(["TA0099"])"));
  EXPECT_NE(ExpectCanonFail(p).summary.find("not in the MITRE"), std::string::npos);
  p.Set("mitre_tactics", ParseOrDie(R"(["TX0002"])"));
  ExpectCanonFail(p);
  // Belonging to any one of the listed techniques is enough.
  p.Set("mitre_techniques", ParseOrDie(R"(["T1059.001", "T1486"])"));
  p.Set("mitre_tactics", ParseOrDie(R"(["TA0002", "TA0040"])"));
  EXPECT_TRUE(Canon(p).ok());
}

// ---- description and attributes: injection and escaping --------------------------------------

TEST_F(TelemetrySchemaTest, DescriptionEscapedAndBounded) {
  json::Value p = Payload();
  p.Set("description", json::Value("<script>alert('x')</script>"));
  EXPECT_EQ(NormalizedField(p, "description"),
            "\"&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;\"");
  p.Set("description", json::Value("<img src=x onerror=alert(1)>"));
  EXPECT_EQ(NormalizedField(p, "description"), "\"&lt;img src=x onerror=alert(1)&gt;\"");
  p.Set("description", json::Value(""));
  EXPECT_EQ(NormalizedField(p, "description"), "\"\"");
  p.Set("description", json::Value(nullptr));
  EXPECT_EQ(NormalizedField(p, "description"), "null");
  // 2048 is checked before escaping: 2048 '<' become 8192 chars and are accepted.
  p.Set("description", json::Value(std::string(2048, '<')));
  EXPECT_TRUE(Canon(p).ok());
  p.Set("description", json::Value(std::string(2049, 'a')));
  ExpectCanonFail(p);
  p.Set("description", json::Value(12));
  ExpectCanonFail(p);
}

TEST_F(TelemetrySchemaTest, InjectionRejectedInDescriptionValuesAndKeys) {
  json::Value p = Payload();
  p.Set("description", json::Value("1 UNION SELECT secret FROM vault"));
  EXPECT_NE(ExpectCanonFail(p).summary.find("Potential injection pattern detected"),
            std::string::npos);
  p = Payload();
  Attrs(p).Set("note", json::Value("x' or 1=1 --"));
  ExpectCanonFail(p);
  p = Payload();
  Attrs(p).Set("nested", ParseOrDie(R"({"list": ["ok", {"deep": "DROP TABLE users"}]})"));
  ValidationFailure f = ExpectCanonFail(p);
  EXPECT_EQ(FirstLoc(f),
            R"(["attributes","nested","list",1,"deep"])");
  p = Payload();
  Attrs(p).Set("delete from users", json::Value("v"));  // keys checked too (reference doesn't)
  ExpectCanonFail(p);
}

TEST_F(TelemetrySchemaTest, CommentBypassIsNotCaughtDocumented) {
  json::Value p = Payload();
  p.Set("description", json::Value("1 union/**/select secret"));
  EXPECT_EQ(NormalizedField(p, "description"), "\"1 union/**/select secret\"");
}

TEST_F(TelemetrySchemaTest, AttributesSanitisedRecursively) {
  json::Value p = Payload();
  Attrs(p).Set(" <k> ", ParseOrDie(R"({" a ": [" <b> ", 1, 2.5, true, null], "n": 3})"));
  std::string attrs = NormalizedField(p, "attributes");
  EXPECT_NE(attrs.find(R"("&lt;k&gt;":{"a":["&lt;b&gt;",1,2.5,true,null],"n":3})"),
            std::string::npos)
      << attrs;
}

TEST_F(TelemetrySchemaTest, OverLongEscapedAttributeRejectedNotTruncated) {
  json::Value p = Payload();
  Attrs(p).Set("v", json::Value(std::string(2048, 'a')));
  EXPECT_TRUE(Canon(p).ok());
  Attrs(p).Set("v", json::Value(std::string(2047, 'a') + "&"));  // 2052 after escaping
  ValidationFailure f = ExpectCanonFail(p);
  EXPECT_NE(f.summary.find("rejected instead of truncated"), std::string::npos) << f.summary;
  p = Payload();
  Attrs(p).Set(std::string(80, 'k'), json::Value(1));
  EXPECT_TRUE(Canon(p).ok());
  p = Payload();
  Attrs(p).Set(std::string(78, 'k') + "<", json::Value(1));  // 82 after escaping
  ExpectCanonFail(p);
}

TEST_F(TelemetrySchemaTest, KeysCollidingAfterSanitisationRejected) {
  json::Value p = Payload();
  Attrs(p).Set("dup", json::Value(1));
  Attrs(p).Set(" dup", json::Value(2));
  EXPECT_NE(ExpectCanonFail(p).summary.find("collides"), std::string::npos);
}

TEST_F(TelemetrySchemaTest, AttestationHashRequired) {
  json::Value p = Payload();
  Attrs(p).Erase("attestation_measurement_hash");
  ExpectCanonFail(p);
  Attrs(p).Set("attestation_measurement_hash", json::Value(std::string(63, 'b')));
  ExpectCanonFail(p);
  Attrs(p).Set("attestation_measurement_hash", json::Value(std::string(64, 'g')));
  ExpectCanonFail(p);
  Attrs(p).Set("attestation_measurement_hash", json::Value(1));
  ExpectCanonFail(p);
  p.Erase("attributes");  // default {} has no hash
  ExpectCanonFail(p);
  p = Payload();
  Attrs(p).Set("attestation_measurement_hash", json::Value(std::string(64, 'B')));
  EXPECT_TRUE(Canon(p).ok());
  p.Set("attributes", json::Value("x"));
  ExpectCanonFail(p);
}

TEST_F(TelemetrySchemaTest, SchemaVersionExtractedAndMustBeString) {
  json::Value p = Payload();
  Attrs(p).Erase("schema_version");
  Validated<CanonicalPayload> r = Canon(p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().schema_version, "");
  Attrs(p).Set("schema_version", json::Value(" 1.1 "));
  r = Canon(p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().schema_version, "1.1");
  Attrs(p).Set("schema_version", json::Value(2.0));
  ExpectCanonFail(p);
}

// ---- contract v2 ----------------------------------------------------------------------------

class ContractV2Test : public TelemetrySchemaTest {
 protected:
  static json::Value V2Payload() {
    json::Value p = Payload();
    Attrs(p).Set("schema_version", json::Value("2.0"));
    Attrs(p).Set("contract_v2", ParseOrDie(kV2Block));
    return p;
  }
  static json::Value& Block(json::Value& p, std::string_view name) {
    return *Attrs(p).Find("contract_v2")->Find(name);
  }
  static ValidationFailure ExpectV2Fail(const json::Value& p) {
    return ExpectCanonFail(p, Stage::kContractV2Schema);
  }
};

TEST_F(ContractV2Test, ValidSampleAccepted) {
  json::Value p = V2Payload();
  Validated<CanonicalPayload> r = Canon(p);
  ASSERT_TRUE(r.ok()) << r.failure().summary;
  EXPECT_TRUE(r.value().contract_v2_validated);
  EXPECT_EQ(r.value().schema_version, "2.0");
  EXPECT_EQ(json::Canonical(*r.value().normalized.Find("attributes")->Find("contract_v2")),
            json::Canonical(ParseOrDie(kV2Block)));
}

TEST_F(ContractV2Test, MissingOrNonObjectContractIsValidationStage) {
  json::Value p = V2Payload();
  Attrs(p).Erase("contract_v2");
  ValidationFailure f = ExpectCanonFail(p, Stage::kContractV2Validation);
  EXPECT_EQ(f.summary, "attributes.contract_v2 must be an object when schema_version is 2.x");
  Attrs(p).Set("contract_v2", json::Value("{}"));
  ExpectCanonFail(p, Stage::kContractV2Validation);
  // Not 2.x: contract_v2 is not required or checked.
  Attrs(p).Set("schema_version", json::Value("1.9"));
  EXPECT_TRUE(Canon(p).ok());
}

TEST_F(ContractV2Test, RunningAfterSucceededRejected) {
  json::Value p = V2Payload();
  Block(p, "execution").Set("previous_lifecycle_state", json::Value("succeeded"));
  Block(p, "execution").Set("lifecycle_state", json::Value("running"));
  ValidationFailure f = ExpectV2Fail(p);
  EXPECT_NE(f.summary.find("Invalid execution lifecycle transition: succeeded -> running"),
            std::string::npos)
      << f.summary;
}

TEST_F(ContractV2Test, LifecycleRules) {
  json::Value p = V2Payload();
  Block(p, "execution").Erase("previous_lifecycle_state");
  Block(p, "execution").Set("lifecycle_state", json::Value("canceled"));
  EXPECT_TRUE(Canon(p).ok());  // no previous state: anything goes
  Block(p, "execution").Set("lifecycle_state", json::Value("paused"));
  ExpectV2Fail(p);
  p = V2Payload();
  Block(p, "execution").Set("completed_at", json::Value("2026-02-26T11:59:59Z"));
  EXPECT_NE(ExpectV2Fail(p).summary.find("cannot be earlier"), std::string::npos);
  Block(p, "execution").Set("completed_at", json::Value("2026-02-26T13:00:00+02:00"));
  ExpectV2Fail(p);  // 11:00Z, before 12:00Z
  Block(p, "execution").Set("completed_at", json::Value("2026-02-26T12:05:00"));
  ExpectV2Fail(p);  // naive vs aware
  p = V2Payload();
  Block(p, "execution").Set("failure_reason", json::Value("boom"));
  EXPECT_NE(ExpectV2Fail(p).summary.find("failure_reason"), std::string::npos);
  Block(p, "execution").Set("previous_lifecycle_state", json::Value("running"));
  Block(p, "execution").Set("lifecycle_state", json::Value("failed"));
  EXPECT_TRUE(Canon(p).ok());
}

TEST_F(ContractV2Test, BlockFieldRulesRejected) {
  auto expect_fail = [](const char* block, const char* field, json::Value v) {
    json::Value p = V2Payload();
    Block(p, block).Set(field, std::move(v));
    SCOPED_TRACE(std::string(block) + "." + field);
    ExpectV2Fail(p);
  };
  expect_fail("execution", "execution_id", json::Value(""));
  expect_fail("execution", "bogus", json::Value(1));
  expect_fail("asset", "asset_ref", json::Value(std::string(513, 'a')));
  expect_fail("asset", "hostname", json::Value(std::string(256, 'a')));
  expect_fail("identity", "principal_id", json::Value(std::string(257, 'a')));
  expect_fail("identity", "privilege_level", json::Value(""));
  expect_fail("ttp", "technique_id", json::Value("t1059"));  // case-sensitive in v2
  expect_fail("ttp", "tactic_id", json::Value("TA2"));
  expect_fail("ttp", "subtechnique_id", json::Value("T1059"));
  expect_fail("detection", "detected", json::Value("true"));
  expect_fail("detection", "detection_latency_seconds", json::Value(-1));
  expect_fail("detection", "detection_latency_seconds", json::Value(1.5));
  expect_fail("response", "contained", json::Value(1));
  expect_fail("response", "response_latency_seconds", json::Value(-3));
  expect_fail("control", "effectiveness_score", json::Value(1.01));
  expect_fail("control", "effectiveness_score", json::Value(-0.1));
  expect_fail("control", "control_type", json::Value(std::string(65, 'a')));
  json::Value p = V2Payload();
  Attrs(p).Find("contract_v2")->Erase("control");
  ExpectV2Fail(p);
  p = V2Payload();
  Attrs(p).Find("contract_v2")->Set("extra_block", json::Value::MakeObject());
  ExpectV2Fail(p);
  p = V2Payload();
  Attrs(p).Find("contract_v2")->Set("asset", json::Value("x"));
  ExpectV2Fail(p);
}

TEST_F(ContractV2Test, TtpCatalogChecks) {
  auto with_ttp = [](const char* tech, const char* tactic, const char* sub) {
    json::Value p = V2Payload();
    json::Value& ttp = Block(p, "ttp");
    ttp.Set("technique_id", json::Value(tech));
    ttp.Set("tactic_id", json::Value(tactic));
    if (sub != nullptr) {
      ttp.Set("subtechnique_id", json::Value(sub));
    } else {
      ttp.Erase("subtechnique_id");
    }
    return p;
  };
  EXPECT_TRUE(Canon(with_ttp("T1059", "TA0002", nullptr)).ok());
  ExpectV2Fail(with_ttp("T9999", "TA0002", nullptr));
  ExpectV2Fail(with_ttp("T1002", "TA0010", nullptr));   // revoked
  ExpectV2Fail(with_ttp("T1059", "TA0040", nullptr));   // tactic not of technique
  ExpectV2Fail(with_ttp("T1059", "TA0099", nullptr));   // unknown tactic
  ExpectV2Fail(with_ttp("T1059", "TA0002", "T1055.001"));  // other parent
  ExpectV2Fail(with_ttp("T1059", "TA0002", "T1059.999"));  // not in catalog
}

TEST_F(ContractV2Test, V2StringsValidatedAfterEscaping) {
  // 126 chars + "<" -> 130 after escaping > 128: the reference validates escaped strings.
  json::Value p = V2Payload();
  Block(p, "execution").Set("execution_id", json::Value(std::string(126, 'a') + "<"));
  ExpectV2Fail(p);
  p = V2Payload();
  Block(p, "asset").Set("hostname", json::Value("drop table hosts"));
  ExpectCanonFail(p, Stage::kCanonical);  // injection is a canonical failure
}

}  // namespace
}  // namespace vv::schema

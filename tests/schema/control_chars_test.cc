// Issue 12 item 15: control characters in string fields. Identifiers and names never carry
// them; free text (description, attribute values) may carry TAB/LF/CR only.
#include <gtest/gtest.h>

#include <string>

#include "json/json.h"
#include "schema/mitre_catalog.h"
#include "schema/telemetry_schema.h"
#include "schema/text.h"

namespace vv::schema {
namespace {

TEST(ControlCharsTest, ContainsControlChar) {
  EXPECT_FALSE(ContainsControlChar("plain text", false));
  EXPECT_TRUE(ContainsControlChar(std::string("a\0b", 3), false));
  EXPECT_TRUE(ContainsControlChar(std::string("a\0b", 3), true));
  EXPECT_TRUE(ContainsControlChar("a\x1b[31m", true));
  EXPECT_TRUE(ContainsControlChar("del\x7f", true));
  EXPECT_TRUE(ContainsControlChar("c1\xc2\x85", true));       // U+0085 NEL
  EXPECT_FALSE(ContainsControlChar("nbsp\xc2\xa0", false));  // U+00A0 is not a control
  EXPECT_FALSE(ContainsControlChar("caf\xc3\xa9", false));
  EXPECT_TRUE(ContainsControlChar("a\nb", false));
  EXPECT_FALSE(ContainsControlChar("a\nb\tc\r", true));
}

json::Value Payload() {
  return *json::Parse(
      R"({"attributes":{"asset_ref":"host-nyc-01","attestation_measurement_hash":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","schema_version":"1.0"},"description":"Observed suspicious process chain","event_id":"evt-1","event_type":"PROCESS_ANOMALY","mitre_tactics":["TA0002"],"mitre_techniques":["T1059.001"],"observed_at":"2026-02-26T12:00:00Z","severity":"high","source_system":"spectrastrike-sensor"})");
}

class ControlCharsPayloadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    catalog_ = new MitreCatalog(MitreCatalog::Load().value());
  }
  static void TearDownTestSuite() { delete catalog_; }
  static inline MitreCatalog* catalog_ = nullptr;
};

TEST_F(ControlCharsPayloadTest, NulInAnIdentifierIsRejected) {
  json::Value p = Payload();
  p.Set("source_system", std::string("sensor\0x", 8));
  auto r = ValidateCanonicalPayload(p, *catalog_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure().stage, Stage::kCanonical);
  EXPECT_NE(r.failure().summary.find("control characters"), std::string::npos)
      << r.failure().summary;
  p = Payload();
  p.Set("event_id", "evt\x01");
  EXPECT_FALSE(ValidateCanonicalPayload(p, *catalog_).ok());
}

TEST_F(ControlCharsPayloadTest, FreeTextAllowsLineBreaksButNoOtherControls) {
  json::Value p = Payload();
  p.Set("description", "line one\nline two\tcol");
  p.Find("attributes")->Set("note", "a\r\nb");
  EXPECT_TRUE(ValidateCanonicalPayload(p, *catalog_).ok());
  p.Set("description", std::string("bell\x07", 5));
  EXPECT_FALSE(ValidateCanonicalPayload(p, *catalog_).ok());
  p = Payload();
  p.Find("attributes")->Set("note", "esc\x1b[2J");
  EXPECT_FALSE(ValidateCanonicalPayload(p, *catalog_).ok());
  p = Payload();
  p.Find("attributes")->Set("key\nwith-newline", "v");
  EXPECT_FALSE(ValidateCanonicalPayload(p, *catalog_).ok());
}

TEST_F(ControlCharsPayloadTest, TopLevelTenantIsCanonicalised) {
  auto body = json::Parse(
      R"({"campaign_id":"cmp-001","execution_hash":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","nonce":"nonce-0001","operator_id":"op-001","payload":{},"signed_metadata":{"campaign_id":"cmp-001","operator_id":"op-001","tenant_id":"ABCDEF00-0000-4000-8000-0000000000AA"},"tenant_id":"ABCDEF00-0000-4000-8000-0000000000AA","timestamp":1})");
  ASSERT_TRUE(body.ok());
  auto t = ValidateTopLevel(*body);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value().tenant_id, "abcdef00-0000-4000-8000-0000000000aa");
  EXPECT_EQ(t.value().signed_metadata.tenant_id, "abcdef00-0000-4000-8000-0000000000aa");
  body->Set("operator_id", std::string("op\0", 3));
  EXPECT_FALSE(ValidateTopLevel(*body).ok());
}

}  // namespace
}  // namespace vv::schema

// Black-box, row by row: every rejection row of wire-contract 1.4 that our design keeps, sent to
// the real vv-gateway binary over mTLS, with the exact status and {"detail"} string, the DLQ
// when the row has one, and the audit record with the precise reason.

#include <gtest/gtest.h>

#include <functional>

#include "integration/gateway_harness.h"
#include "json/json.h"

namespace vv::testing {
namespace {

struct Row {
  std::string name;
  int status;
  std::string detail;
  std::string reason;  // audit details.reason
  bool dlq;
  // Builds the request: body object, headers (mutable), raw body override.
  std::function<void(json::Value& body, spectrastrike::HeaderList& headers, std::string* raw,
                     int64_t ts, const std::string& nonce)>
      mutate;
};

// Test names/descriptions print the row's name, not its bytes.
void PrintTo(const Row& r, std::ostream* os) { *os << r.name; }

void SetHeader(spectrastrike::HeaderList& h, const std::string& name, const std::string& v) {
  for (auto& [k, val] : h)
    if (k == name) {
      val = v;
      return;
    }
  h.emplace_back(name, v);
}
void DropHeader(spectrastrike::HeaderList& h, const std::string& name) {
  std::erase_if(h, [&](const auto& kv) { return kv.first == name; });
}

class GatewayRowsTest : public ::testing::TestWithParam<Row> {
 protected:
  static void SetUpTestSuite() { gw_ = new GatewayUnderTest(); }
  static void TearDownTestSuite() {
    delete gw_;
    gw_ = nullptr;
  }
  static GatewayUnderTest* gw_;
};
GatewayUnderTest* GatewayRowsTest::gw_ = nullptr;

TEST_P(GatewayRowsTest, ExactStatusDetailDlqAndAudit) {
  ASSERT_TRUE(gw_->started()) << gw_->log();
  const Row& row = GetParam();
  int64_t ts = NowSeconds();
  std::string nonce = "nonce-row-" + row.name + "-" + std::to_string(ts);
  json::Value body = MakeTelemetryBody(ts, nonce, "evt-" + nonce);
  spectrastrike::HeaderList headers;
  std::string raw;
  row.mutate(body, headers, &raw, ts, nonce);
  std::string sent = raw.empty() ? json::Canonical(body) : (raw == "<empty>" ? "" : raw);
  // Sign what is sent unless the row replaced the signature header.
  SignedRequest sr{sent, ts, nonce, SignB64(ts, nonce, sent)};
  spectrastrike::HeaderList h = TelemetryHeaders(sr);
  for (const auto& [k, v] : headers) {
    if (v == "<drop>") DropHeader(h, k);
    else SetHeader(h, k, v);
  }
  int64_t dlq_before = gw_->QueueCount("dead_letter");
  auto client = gw_->Client();
  auto r = client.Post("/internal/v1/telemetry", h, sent);
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, row.status) << r.body;
  auto v = json::Parse(r.body);
  ASSERT_TRUE(v.ok() && v->is_object() && v->Find("detail")) << r.body;
  EXPECT_EQ(v->Find("detail")->as_string(), row.detail);
  EXPECT_EQ(gw_->QueueCount("dead_letter"), dlq_before + (row.dlq ? 1 : 0));
  auto lines = gw_->AuditLines();
  bool audited = false;
  for (auto it = lines.rbegin(); it != lines.rend() && !audited; ++it)
    audited = it->find("\"telemetry.rejected\"") != std::string::npos &&
              it->find("\"reason\":\"" + row.reason + "\"") != std::string::npos;
  EXPECT_TRUE(audited) << "no telemetry.rejected with reason " << row.reason;
}

const char* kPin64 = "0000000000000000000000000000000000000000000000000000000000000000";

INSTANTIATE_TEST_SUITE_P(
    WireContract14, GatewayRowsTest,
    ::testing::Values(
        Row{"M1", 415, "Telemetry endpoint only accepts application/json", "unsupported_media_type", false,
            [](auto&, auto& h, auto*, auto, auto&) { h.emplace_back("Content-Type", "text/plain"); }},
        Row{"M2", 422, "Telemetry payload is required", "empty_body", false,
            [](auto&, auto&, auto* raw, auto, auto&) { *raw = "<empty>"; }},
        Row{"R1", 401, "Missing required header: X-Service-Identity", "missing_identity_header", false,
            [](auto&, auto& h, auto*, auto, auto&) { h.emplace_back("X-Service-Identity", "<drop>"); }},
        Row{"R2", 401, "Invalid client certificate fingerprint format", "bad_fingerprint_format", false,
            [](auto&, auto& h, auto*, auto, auto&) { h.emplace_back("X-Client-Cert-Sha256", "xyz"); }},
        Row{"R3", 401, "Unknown service identity", "unknown_identity", false,
            [](auto&, auto& h, auto*, auto, auto&) { h.emplace_back("X-Service-Identity", "nobody"); }},
        Row{"R4", 401, "Service identity certificate fingerprint mismatch", "cert_header_mismatch", false,
            [](auto&, auto& h, auto*, auto, auto&) { h.emplace_back("X-Client-Cert-Sha256", kPin64); }},
        Row{"R7ts", 401, "Missing required header: X-Telemetry-Timestamp", "missing_timestamp_header", false,
            [](auto&, auto& h, auto*, auto, auto&) { h.emplace_back("X-Telemetry-Timestamp", "<drop>"); }},
        Row{"R7nonce", 401, "Missing required header: X-Telemetry-Nonce", "missing_nonce_header", false,
            [](auto&, auto& h, auto*, auto, auto&) { h.emplace_back("X-Telemetry-Nonce", "<drop>"); }},
        Row{"R7sig", 401, "Missing required header: X-Telemetry-Signature", "missing_signature_header", false,
            [](auto&, auto& h, auto*, auto, auto&) { h.emplace_back("X-Telemetry-Signature", "<drop>"); }},
        Row{"R8", 401, "Signature header is not valid base64", "signature_not_base64", false,
            [](auto&, auto& h, auto*, auto, auto&) { h.emplace_back("X-Telemetry-Signature", "a-b_c"); }},
        Row{"R9", 401, "Telemetry timestamp must be unix epoch seconds", "timestamp_not_integer", false,
            [](auto&, auto& h, auto*, auto, auto&) { h.emplace_back("X-Telemetry-Timestamp", "soon"); }},
        Row{"R10", 401, "Telemetry timestamp out of allowed clock skew", "timestamp_skew", false,
            [](auto&, auto& h, auto*, auto ts, auto&) {
              h.emplace_back("X-Telemetry-Timestamp", std::to_string(ts - 3600));
            }},
        Row{"R11", 401, "Malformed signature encoding", "signature_encoding", false,
            [](auto&, auto& h, auto*, auto, auto&) { h.emplace_back("X-Telemetry-Signature", "abc"); }},
        Row{"R13", 401, "Invalid telemetry signature", "bad_signature", false,
            [](auto&, auto& h, auto*, auto, auto&) {
              h.emplace_back("X-Telemetry-Signature", std::string(86, 'A') + "==");
            }},
        Row{"R15", 422, "Invalid JSON payload", "invalid_json", true,
            [](auto&, auto&, auto* raw, auto, auto&) { *raw = "{\"operator_id\": "; }},
        Row{"R16", 422, "Telemetry schema validation failed", "schema_validation", true,
            [](auto& b, auto&, auto*, auto, auto&) { b.Set("unexpected", true); }},
        Row{"R17", 401, "Body timestamp mismatch with signed header", "body_timestamp_mismatch", false,
            [](auto& b, auto&, auto*, auto ts, auto&) { b.Set("timestamp", ts - 1); }},
        Row{"R18", 401, "Body nonce mismatch with signed header", "body_nonce_mismatch", false,
            [](auto& b, auto&, auto*, auto, auto&) { b.Set("nonce", "another-nonce-123"); }},
        Row{"R19", 422, "Canonical telemetry schema validation failed", "canonical_schema", true,
            [](auto& b, auto&, auto*, auto, auto&) {
              json::Value t = json::Value::MakeArray();
              t.Push("T9999");
              b.Find("payload")->Set("mitre_techniques", std::move(t));
            }},
        Row{"R20", 422, "Telemetry contract v2 schema validation failed", "contract_v2_schema", true,
            [](auto& b, auto&, auto*, auto, auto&) {
              auto* a = b.Find("payload")->Find("attributes");
              a->Set("schema_version", "2.0");
              a->Set("contract_v2", json::Value::MakeObject());
            }},
        Row{"R20b", 422, "Telemetry contract v2 validation failed", "contract_v2_validation", true,
            [](auto& b, auto&, auto*, auto, auto&) {
              b.Find("payload")->Find("attributes")->Set("schema_version", "2.0");
            }},
        Row{"R21", 401, "Signed metadata mapping mismatch", "signed_metadata_mismatch", false,
            [](auto& b, auto&, auto*, auto, auto&) { b.Find("signed_metadata")->Set("campaign_id", "x"); }},
        Row{"R22", 403, "Operator is not mapped to any tenant", "operator_unmapped", false,
            [](auto& b, auto&, auto*, auto, auto&) {
              b.Set("operator_id", "op-999");
              b.Find("signed_metadata")->Set("operator_id", "op-999");
            }},
        Row{"R23", 403, "Operator tenant mapping violation", "tenant_mapping_violation", false,
            [](auto& b, auto&, auto*, auto, auto&) {
              b.Set("tenant_id", kTenant2);
              b.Find("signed_metadata")->Set("tenant_id", kTenant2);
            }},
        Row{"R24", 422, "Telemetry schema version is required by gateway policy", "schema_version_required", false,
            [](auto& b, auto&, auto*, auto, auto&) {
              b.Find("payload")->Find("attributes")->Erase("schema_version");
            }},
        Row{"R25", 422, "Telemetry schema version is not allowed", "schema_version_not_allowed", false,
            [](auto& b, auto&, auto*, auto, auto&) {
              b.Find("payload")->Find("attributes")->Set("schema_version", "9.9");
            }}),
    [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });

}  // namespace
}  // namespace vv::testing

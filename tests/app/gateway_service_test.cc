// GatewayService with in-process fakes and a FakeClock: every row of wire-contract 1.4 that
// our design keeps, the DESIGN-DECISIONS fixes (nonce released on 429/503, body bound to the
// signed headers, 422 never becomes 503, no 500 for any input), and the audit trail.

#include "app/gateway_service.h"

#include <gtest/gtest.h>

#include "common/completion_batch.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "app/gateway_fixture.h"

namespace vv::app {
namespace {

using testing::FakeClock;
using testing::kTenant1;
using testing::kTenant2;
using testkit::kNow;
using testkit::kPin;

// The producer's configuration plus a second pinned identity.
std::shared_ptr<const config::GatewayConfig> MakeConfig(int64_t rate = 120) {
  auto cfg = testkit::ProducerConfig(rate);
  config::ServiceIdentity other;
  other.id = "other-service";
  other.cert_sha256_pins = {std::string(64, 'c')};
  cfg->identities.push_back(other);
  return cfg;
}

class GatewayServiceTest : public ::testing::Test {
 protected:
  // `publisher`: the queue the service publishes to (nullptr: publisher_).
  void Build(int64_t rate = 120, queue::Publisher* publisher = nullptr) {
    cfg_ = MakeConfig(rate);
    GatewayDeps d = fakes_.Deps(cfg_);
    if (publisher != nullptr) d.publisher = publisher;
    service_ = std::make_unique<GatewayService>(std::move(d));
    handler_ = std::make_unique<GatewayHandler>(service_->HandlerDeps());
  }
  void SetUp() override { Build(); }

  http::Request MakeRequest(const std::string& body, int64_t ts, const std::string& nonce,
                            const std::string& sig) {
    http::Request r = testkit::SignedProducerPost("/internal/v1/telemetry", "application/json",
                                                  ts, nonce, sig, body);
    r.headers.emplace_back("x-client-cert-sha256", kPin);
    return r;
  }
  http::Request Signed(const json::Value& body, int64_t ts, const std::string& nonce) {
    auto s = testing::SignBody(body, ts, nonce);
    return MakeRequest(s.body, ts, nonce, s.signature_b64);
  }
  http::Request Valid(const std::string& nonce = "nonce-vector-0001",
                      const std::string& event_id = "evt-vector-0001") {
    return Signed(testing::MakeTelemetryBody(kNow, nonce, event_id), kNow, nonce);
  }
  http::Response Send(http::Request r) { return testkit::SendSync(*handler_, std::move(r)); }
  static std::string Detail(const http::Response& r) { return testkit::Detail(r); }
  void SetHeader(http::Request& r, const std::string& name, const std::string& value) {
    for (auto& [k, v] : r.headers)
      if (k == name) {
        v = value;
        return;
      }
    r.headers.emplace_back(name, value);
  }
  void RemoveHeader(http::Request& r, const std::string& name) {
    std::erase_if(r.headers, [&](const auto& h) { return h.first == name; });
  }
  // The last audit record, which every request must produce.
  testing::AuditRecord LastAudit() {
    auto recs = audit_.records();
    EXPECT_FALSE(recs.empty());
    return recs.empty() ? testing::AuditRecord{} : recs.back();
  }
  void ExpectRejected(const http::Response& r, int status, const std::string& detail,
                      const std::string& reason) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(Detail(r), detail);
    auto a = LastAudit();
    EXPECT_EQ(a.event_type, "telemetry.rejected");
    ASSERT_TRUE(a.details.is_object());
    EXPECT_EQ(a.details.Find("status_code")->int_text(), std::to_string(status));
    EXPECT_EQ(a.details.Find("detail")->as_string(), detail);
    EXPECT_EQ(a.details.Find("reason")->as_string(), reason);
  }

  testkit::GatewayFakes fakes_;
  FakeClock& clock_ = fakes_.clock;
  testing::FakeRandom& random_ = fakes_.random;
  std::shared_ptr<const config::GatewayConfig> cfg_;
  testing::RecordingPublisher& publisher_ = fakes_.publisher;
  testing::RecordingAuditSink& audit_ = fakes_.audit;
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<GatewayHandler> handler_;  // the listener's view: routes to service_
};

TEST_F(GatewayServiceTest, AcceptsVectorA2AndQueuesItsIntegrityHash) {
  auto r = Send(Valid());
  ASSERT_EQ(r.status, 202) << r.body;
  auto body = json::Parse(r.body).value();
  EXPECT_TRUE(body.Find("accepted")->as_bool());
  EXPECT_EQ(body.Find("request_id")->as_string().size(), 36u);
  auto q = publisher_.ingest();
  ASSERT_EQ(q.size(), 1u);
  // Vector A.3: the normalised payload canonicalises to the producer's sorted body.
  EXPECT_EQ(q[0].integrity_hash, "1e0392aced563264e98d218d46f83dee735cbd8d06f06588bbdee8956a8baa91");
  EXPECT_EQ(q[0].kind, queue::Kind::kIngest);
  EXPECT_EQ(q[0].trace.Find("tenant_id")->as_string(), kTenant1);
  auto a = LastAudit();
  EXPECT_EQ(a.event_type, "telemetry.accepted");
  EXPECT_EQ(a.actor, "telemetry_gateway");
  EXPECT_EQ(a.details.Find("request_id")->as_string(), body.Find("request_id")->as_string());
  EXPECT_EQ(a.details.Find("tenant_id")->as_string(), kTenant1);
}

TEST_F(GatewayServiceTest, SameEventResentWithFreshNonceIsAcknowledgedButStoredOnce) {
  ASSERT_EQ(Send(Valid("nonce-aaaaaaaa", "evt-1")).status, 202);
  ASSERT_EQ(Send(Valid("nonce-bbbbbbbb", "evt-1")).status, 202);
  EXPECT_EQ(publisher_.ingest().size(), 1u);
  EXPECT_EQ(service_->counters().duplicates.load(), 1u);
}

TEST_F(GatewayServiceTest, M1WrongContentTypeIs415) {
  auto req = Valid();
  SetHeader(req, "content-type", "text/plain");
  ExpectRejected(Send(std::move(req)), 415, "Telemetry endpoint only accepts application/json",
                 "unsupported_media_type");
}

TEST_F(GatewayServiceTest, M2EmptyBodyIs422) {
  auto req = Valid();
  req.body.clear();
  ExpectRejected(Send(std::move(req)), 422, "Telemetry payload is required", "empty_body");
}

TEST_F(GatewayServiceTest, M3OversizeIs413AndAudited) {
  http::Request head = Valid();
  auto resp = handler_->OnBodyTooLarge(head);
  EXPECT_EQ(resp.status, 413);
  EXPECT_EQ(Detail(resp), "Telemetry payload exceeds 1MiB limit");
  EXPECT_EQ(LastAudit().details.Find("reason")->as_string(), "body_too_large");
}

TEST_F(GatewayServiceTest, R1MissingIdentityHeader) {
  auto req = Valid();
  RemoveHeader(req, "x-service-identity");
  ExpectRejected(Send(std::move(req)), 401, "Missing required header: X-Service-Identity",
                 "missing_identity_header");
}

TEST_F(GatewayServiceTest, CertHeaderIsOptionalWithRealMtls) {
  auto req = Valid();
  RemoveHeader(req, "x-client-cert-sha256");
  EXPECT_EQ(Send(std::move(req)).status, 202);
}

TEST_F(GatewayServiceTest, R2MalformedFingerprintHeader) {
  auto req = Valid();
  SetHeader(req, "x-client-cert-sha256", "zz");
  ExpectRejected(Send(std::move(req)), 401, "Invalid client certificate fingerprint format",
                 "bad_fingerprint_format");
}

TEST_F(GatewayServiceTest, R3UnknownIdentity) {
  auto req = Valid();
  SetHeader(req, "x-service-identity", "nobody");
  ExpectRejected(Send(std::move(req)), 401, "Unknown service identity", "unknown_identity");
}

TEST_F(GatewayServiceTest, R4PresentedCertificateNotPinned) {
  auto req = Valid();
  req.peer.cert_sha256_hex = std::string(64, 'b');
  SetHeader(req, "x-client-cert-sha256", std::string(64, 'b'));
  ExpectRejected(Send(std::move(req)), 401, "Service identity certificate fingerprint mismatch",
                 "cert_pin_mismatch");
}

TEST_F(GatewayServiceTest, R4HeaderClaimingThePinWithAnotherCertificate) {
  // The reference's defect: the pin was a bearer header. Here the presented cert decides.
  auto req = Valid();
  req.peer.cert_sha256_hex = std::string(64, 'b');
  ExpectRejected(Send(std::move(req)), 401, "Service identity certificate fingerprint mismatch",
                 "cert_pin_mismatch");
}

TEST_F(GatewayServiceTest, R4HeaderDifferentFromPresentedCertificate) {
  auto req = Valid();
  SetHeader(req, "x-client-cert-sha256", std::string(64, 'b'));
  ExpectRejected(Send(std::move(req)), 401, "Service identity certificate fingerprint mismatch",
                 "cert_header_mismatch");
}

TEST_F(GatewayServiceTest, PinnedCertificateUnderAnotherIdentity) {
  auto req = Valid();
  SetHeader(req, "x-service-identity", "other-service");
  ExpectRejected(Send(std::move(req)), 401, "Service identity certificate fingerprint mismatch",
                 "cert_pin_mismatch");
}

TEST_F(GatewayServiceTest, NoClientCertificate) {
  auto req = Valid();
  req.peer.has_certificate = false;
  req.peer.cert_sha256_hex.clear();
  ExpectRejected(Send(std::move(req)), 401, "Service identity certificate fingerprint mismatch",
                 "no_client_certificate");
}

TEST_F(GatewayServiceTest, R7MissingSignatureHeadersInOrder) {
  for (auto [name, detail, reason] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"x-telemetry-timestamp", "Missing required header: X-Telemetry-Timestamp",
            "missing_timestamp_header"},
           {"x-telemetry-nonce", "Missing required header: X-Telemetry-Nonce",
            "missing_nonce_header"},
           {"x-telemetry-signature", "Missing required header: X-Telemetry-Signature",
            "missing_signature_header"}}) {
    auto req = Valid();
    RemoveHeader(req, name);
    ExpectRejected(Send(std::move(req)), 401, detail, reason);
  }
}

TEST_F(GatewayServiceTest, R8SignatureNotBase64Alphabet) {
  auto req = Valid();
  SetHeader(req, "x-telemetry-signature", "not-base64_!");
  ExpectRejected(Send(std::move(req)), 401, "Signature header is not valid base64",
                 "signature_not_base64");
}

TEST_F(GatewayServiceTest, R9TimestampNotInteger) {
  auto req = Valid();
  SetHeader(req, "x-telemetry-timestamp", "2026-02-26T12:00:00Z");
  ExpectRejected(Send(std::move(req)), 401, "Telemetry timestamp must be unix epoch seconds",
                 "timestamp_not_integer");
}

TEST_F(GatewayServiceTest, R10TimestampOutsideSkewBothWays) {
  for (int64_t delta : {-360, -31, 31, 360}) {
    int64_t ts = kNow + delta;
    auto body = testing::MakeTelemetryBody(ts, "nonce-skew-" + std::to_string(delta));
    ExpectRejected(Send(Signed(body, ts, "nonce-skew-" + std::to_string(delta))), 401,
                   "Telemetry timestamp out of allowed clock skew", "timestamp_skew");
  }
  auto body = testing::MakeTelemetryBody(kNow - 30, "nonce-edge-0001");
  EXPECT_EQ(Send(Signed(body, kNow - 30, "nonce-edge-0001")).status, 202) << "skew is inclusive";
}

TEST_F(GatewayServiceTest, ExtremeTimestampsAreSkewedNotOverflowed) {
  // Regression (found by signature_headers_fuzz): |now - ts| overflowed for INT64_MIN.
  for (const char* ts : {"-9223372036854775808", "9223372036854775807", "-1", "0"}) {
    auto req = Valid();
    SetHeader(req, "x-telemetry-timestamp", ts);
    ExpectRejected(Send(std::move(req)), 401, "Telemetry timestamp out of allowed clock skew",
                   "timestamp_skew");
  }
  auto req = Valid();
  SetHeader(req, "x-telemetry-timestamp", "9223372036854775808");  // beyond int64
  ExpectRejected(Send(std::move(req)), 401, "Telemetry timestamp must be unix epoch seconds",
                 "timestamp_not_integer");
}

TEST_F(GatewayServiceTest, TimestampHeaderIsParsedAsInteger) {
  // "+1772107200" / "01772107200" are signed as "1772107200" (the parsed integer).
  auto s = testing::SignBody(testing::MakeTelemetryBody(kNow, "nonce-plus-0001"), kNow,
                             "nonce-plus-0001");
  auto req = MakeRequest(s.body, kNow, "nonce-plus-0001", s.signature_b64);
  SetHeader(req, "x-telemetry-timestamp", "0" + std::to_string(kNow));
  EXPECT_EQ(Send(std::move(req)).status, 202);
}

TEST_F(GatewayServiceTest, R11BadPadding) {
  auto req = Valid();
  SetHeader(req, "x-telemetry-signature", "abc");
  ExpectRejected(Send(std::move(req)), 401, "Malformed signature encoding", "signature_encoding");
}

TEST_F(GatewayServiceTest, R13ForgedSignature) {
  auto body = testing::MakeTelemetryBody(kNow, "nonce-forged-01");
  auto s = testing::SignBody(body, kNow, "nonce-forged-01",
                             "1111111111111111111111111111111111111111111111111111111111111111");
  ExpectRejected(Send(MakeRequest(s.body, kNow, "nonce-forged-01", s.signature_b64)), 401,
                 "Invalid telemetry signature", "bad_signature");
  EXPECT_TRUE(publisher_.ingest().empty());
}

TEST_F(GatewayServiceTest, R13TamperedBodyAndShortSignature) {
  auto s = testing::SignBody(testing::MakeTelemetryBody(kNow, "nonce-tamper-01"), kNow,
                             "nonce-tamper-01");
  std::string tampered = s.body;
  tampered.replace(tampered.find("high"), 4, "info");
  ExpectRejected(Send(MakeRequest(tampered, kNow, "nonce-tamper-01", s.signature_b64)), 401,
                 "Invalid telemetry signature", "bad_signature");
  ExpectRejected(Send(MakeRequest(s.body, kNow, "nonce-tamper-01", "AAAA")), 401,
                 "Invalid telemetry signature", "bad_signature");
}

TEST_F(GatewayServiceTest, UnsignedTrafficCannotBurnNonces) {
  auto good = Valid("nonce-shared-01");
  auto forged = good;
  SetHeader(forged, "x-telemetry-signature", testing::SignB64(kNow, "nonce-shared-01", "x"));
  EXPECT_EQ(Send(std::move(forged)).status, 401);
  EXPECT_EQ(Send(std::move(good)).status, 202);
}

TEST_F(GatewayServiceTest, R14ReplayIs409) {
  auto req = Valid();
  auto again = req;
  ASSERT_EQ(Send(std::move(req)).status, 202);
  ExpectRejected(Send(std::move(again)), 409, "Replay detected: nonce already used", "replay");
  EXPECT_EQ(publisher_.ingest().size(), 1u);
}

TEST_F(GatewayServiceTest, ReplayOfARejectedRequestIs409AndNotDeadLetteredTwice) {
  // Appendix B.2: "a replay gives 409 even when the first attempt failed later".
  std::string body = "{not json";
  auto req = MakeRequest(body, kNow, "nonce-rej-0001", testing::SignB64(kNow, "nonce-rej-0001", body));
  auto again = req;
  EXPECT_EQ(Send(std::move(req)).status, 422);
  ExpectRejected(Send(std::move(again)), 409, "Replay detected: nonce already used", "replay");
  EXPECT_EQ(publisher_.dlq().size(), 1u);
  auto body2 = testing::MakeTelemetryBody(kNow, "nonce-rej-0002");
  body2.Set("tenant_id", kTenant2);
  body2.Find("signed_metadata")->Set("tenant_id", kTenant2);
  auto cross = Signed(body2, kNow, "nonce-rej-0002");
  auto cross_again = cross;
  EXPECT_EQ(Send(std::move(cross)).status, 403);
  EXPECT_EQ(Send(std::move(cross_again)).status, 409);
}

TEST_F(GatewayServiceTest, R15InvalidJsonGoesToDlq) {
  std::string body = "{not json";
  auto req = MakeRequest(body, kNow, "nonce-json-0001", testing::SignB64(kNow, "nonce-json-0001", body));
  ExpectRejected(Send(std::move(req)), 422, "Invalid JSON payload", "invalid_json");
  auto dlq = publisher_.dlq();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].kind, queue::Kind::kDeadLetter);
  // Vector A.3 (DLQ part).
  EXPECT_EQ(dlq[0].integrity_hash, "c27f029e0f70c43bd8318c17c28a8a7b7c7fd73281654156eefbd5ba728d6623");
  EXPECT_EQ(dlq[0].trace.Find("reason")->as_string(), "json_decode");
  EXPECT_EQ(LastAudit().details.Find("dlq")->as_string(), "stored");
}

TEST_F(GatewayServiceTest, InvalidUtf8WithValidSignatureIs422NotA500) {
  std::string body = "{\"operator_id\":\"op\xff\xfe\"}";
  auto req = MakeRequest(body, kNow, "nonce-utf8-0001", testing::SignB64(kNow, "nonce-utf8-0001", body));
  ExpectRejected(Send(std::move(req)), 422, "Invalid JSON payload", "invalid_json");
  auto dlq = publisher_.dlq();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].payload.Find("raw_body")->as_string(), Base64Encode(body));
}

TEST_F(GatewayServiceTest, R16QueuePoisoningGoesToDlq) {
  json::Value poison = json::Value::MakeObject();
  poison.Set("timestamp", kNow);
  poison.Set("nonce", "nonce-poison-01");
  poison.Set("payload", json::Value::MakeObject());
  ExpectRejected(Send(Signed(poison, kNow, "nonce-poison-01")), 422,
                 "Telemetry schema validation failed", "schema_validation");
  auto dlq = publisher_.dlq();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].payload.Find("error_code")->as_string(), "schema_validation_failed");
  EXPECT_EQ(dlq[0].trace.Find("reason")->as_string(), "schema_validation");
  EXPECT_TRUE(publisher_.ingest().empty());
}

TEST_F(GatewayServiceTest, DlqFailureKeepsThe422) {
  publisher_.SetFail(true);
  std::string body = "[1,2";
  auto req = MakeRequest(body, kNow, "nonce-dlqf-0001", testing::SignB64(kNow, "nonce-dlqf-0001", body));
  ExpectRejected(Send(std::move(req)), 422, "Invalid JSON payload", "invalid_json");
  EXPECT_EQ(LastAudit().details.Find("dlq")->as_string(), "failed");
  EXPECT_EQ(service_->counters().dlq_failed.load(), 1u);
}

TEST_F(GatewayServiceTest, R17R18BodyBoundToSignedHeaders) {
  auto body = testing::MakeTelemetryBody(kNow - 1, "nonce-bind-0001");
  ExpectRejected(Send(Signed(body, kNow, "nonce-bind-0001")), 401,
                 "Body timestamp mismatch with signed header", "body_timestamp_mismatch");
  auto body2 = testing::MakeTelemetryBody(kNow, "nonce-other-001");
  ExpectRejected(Send(Signed(body2, kNow, "nonce-bind-0002")), 401,
                 "Body nonce mismatch with signed header", "body_nonce_mismatch");
  EXPECT_TRUE(publisher_.dlq().empty());
}

TEST_F(GatewayServiceTest, R19CanonicalFailuresGoToDlq) {
  int n = 0;
  auto mutate = [&](auto fn) {
    std::string nonce = "nonce-canon-" + std::to_string(n++);
    auto body = testing::MakeTelemetryBody(kNow, nonce);
    fn(*body.Find("payload"));
    return Signed(body, kNow, nonce);
  };
  std::vector<http::Request> reqs;
  reqs.push_back(mutate([](json::Value& p) {
    json::Value t = json::Value::MakeArray();
    t.Push("TX9999");
    p.Set("mitre_techniques", std::move(t));
  }));
  reqs.push_back(mutate([](json::Value& p) {
    json::Value t = json::Value::MakeArray();
    t.Push("T9999");  // well-formed, but not in ATT&CK
    p.Set("mitre_techniques", std::move(t));
  }));
  reqs.push_back(mutate([](json::Value& p) { p.Set("description", "1 UNION SELECT password"); }));
  reqs.push_back(mutate([](json::Value& p) { p.Set("unexpected", 1); }));
  reqs.push_back(mutate([](json::Value& p) { p.Find("attributes")->Erase("attestation_measurement_hash"); }));
  for (auto& r : reqs)
    ExpectRejected(Send(std::move(r)), 422, "Canonical telemetry schema validation failed",
                   "canonical_schema");
  EXPECT_EQ(publisher_.dlq().size(), reqs.size());
}

TEST_F(GatewayServiceTest, R20ContractV2Failures) {
  auto body = testing::MakeTelemetryBody(kNow, "nonce-v2-000001");
  body.Find("payload")->Find("attributes")->Set("schema_version", "2.0");
  ExpectRejected(Send(Signed(body, kNow, "nonce-v2-000001")), 422,
                 "Telemetry contract v2 validation failed", "contract_v2_validation");
  EXPECT_EQ(publisher_.dlq().back().payload.Find("error_code")->as_string(),
            "contract_v2_validation_failed");
}

TEST_F(GatewayServiceTest, R21SignedMetadataMismatch) {
  auto body = testing::MakeTelemetryBody(kNow, "nonce-meta-0001");
  body.Find("signed_metadata")->Set("campaign_id", "cmp-999");
  ExpectRejected(Send(Signed(body, kNow, "nonce-meta-0001")), 401,
                 "Signed metadata mapping mismatch", "signed_metadata_mismatch");
}

TEST_F(GatewayServiceTest, R22R23TenantMapping) {
  auto body = testing::MakeTelemetryBody(kNow, "nonce-tenant-01");
  body.Set("operator_id", "op-unmapped");
  body.Find("signed_metadata")->Set("operator_id", "op-unmapped");
  ExpectRejected(Send(Signed(body, kNow, "nonce-tenant-01")), 403,
                 "Operator is not mapped to any tenant", "operator_unmapped");
  auto cross = testing::MakeTelemetryBody(kNow, "nonce-tenant-02");
  cross.Set("tenant_id", kTenant2);
  cross.Find("signed_metadata")->Set("tenant_id", kTenant2);
  ExpectRejected(Send(Signed(cross, kNow, "nonce-tenant-02")), 403,
                 "Operator tenant mapping violation", "tenant_mapping_violation");
  EXPECT_TRUE(publisher_.ingest().empty());
}

TEST_F(GatewayServiceTest, R24R25SchemaVersionPolicy) {
  auto body = testing::MakeTelemetryBody(kNow, "nonce-schema-01");
  body.Find("payload")->Find("attributes")->Erase("schema_version");
  ExpectRejected(Send(Signed(body, kNow, "nonce-schema-01")), 422,
                 "Telemetry schema version is required by gateway policy",
                 "schema_version_required");
  auto body2 = testing::MakeTelemetryBody(kNow, "nonce-schema-02");
  body2.Find("payload")->Find("attributes")->Set("schema_version", "1.5");
  ExpectRejected(Send(Signed(body2, kNow, "nonce-schema-02")), 422,
                 "Telemetry schema version is not allowed", "schema_version_not_allowed");
}

TEST_F(GatewayServiceTest, R26RateLimitThenSameBytesRetryIsNever409) {
  Build(2);
  ASSERT_EQ(Send(Valid("nonce-rate-0001", "e1")).status, 202);
  clock_.AdvanceSeconds(1);
  auto b2 = testing::MakeTelemetryBody(kNow + 1, "nonce-rate-0002", "e2");
  ASSERT_EQ(Send(Signed(b2, kNow + 1, "nonce-rate-0002")).status, 202);
  clock_.AdvanceSeconds(57);  // t = 58
  auto b3 = testing::MakeTelemetryBody(kNow + 58, "nonce-rate-0003", "e3");
  auto third = Signed(b3, kNow + 58, "nonce-rate-0003");
  auto retry = third;
  auto retry2 = third;
  ExpectRejected(Send(std::move(third)), 429, "Operator burst anomaly detected", "rate_limited");
  // Same signed bytes, still over the limit: 429 again, not 409 (the nonce was released).
  EXPECT_EQ(Send(std::move(retry)).status, 429);
  clock_.AdvanceSeconds(3);  // t = 61: both earlier admissions left the 60 s window
  EXPECT_EQ(Send(std::move(retry2)).status, 202);
}

TEST_F(GatewayServiceTest, R28QueueDownIs503AndTheRetrySucceeds) {
  publisher_.SetFail(true);
  auto req = Valid();
  auto retry = req;
  ExpectRejected(Send(std::move(req)), 503, "Telemetry queue publish failed", "queue_publish_failed");
  publisher_.SetFail(false);
  EXPECT_EQ(Send(std::move(retry)).status, 202) << "nonce released after the transient failure";
}

TEST_F(GatewayServiceTest, AuditFailureFailsClosed) {
  audit_.SetFail(true);
  auto req = Valid();
  auto r = Send(std::move(req));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(service_->counters().audit_failures.load(), 1u);
}

TEST_F(GatewayServiceTest, HealthAndReadiness) {
  http::Request h;
  h.method = "GET";
  h.target = "/healthz";
  auto r = Send(h);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::Parse(r.body)->Find("status")->as_string(), "healthy");
  publisher_.SetFail(true);
  EXPECT_EQ(Send(h).status, 503);
  h.target = "/readyz";
  EXPECT_EQ(Send(h).status, 503);
}

// Issue 14: health tells the truth. A forked audit anchor (every append that seals is refused)
// and a failing append both make /healthz and /readyz 503 with the reason code; the precise
// error only for a pinned caller; healthy again once the audit log is.
TEST_F(GatewayServiceTest, HealthIs503WheneverRequestsWouldBe503) {
  http::Request h;
  h.method = "GET";
  h.target = "/healthz";
  h.peer.has_certificate = true;
  h.peer.cert_sha256_hex = kPin;
  audit_.SetWriteHealth(Status::DataLoss("audit anchor: fork_detected: not a seal of this log"));
  auto r = Send(h);  // pinned: the component and the precise error too
  EXPECT_EQ(r.status, 503);
  auto body = json::Parse(r.body);
  ASSERT_TRUE(body.ok()) << r.body;
  EXPECT_EQ(body->Find("status")->as_string(), "unavailable");
  EXPECT_EQ(body->Find("reason")->as_string(), "audit_anchor_forked");
  EXPECT_EQ(body->Find("component")->as_string(), "audit");
  EXPECT_NE(body->Find("detail")->as_string().find("fork_detected"), std::string::npos);
  EXPECT_EQ(service_->metrics().ready.value(), 0);
  h.target = "/readyz";
  h.peer.cert_sha256_hex = std::string(64, 'f');  // pinned by nobody: reason code only
  r = Send(h);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "{\"ready\":false,\"reason\":\"audit_anchor_forked\"}");
  audit_.SetWriteHealth(Status::Ok());
  EXPECT_EQ(Send(h).status, 200);
  EXPECT_EQ(service_->metrics().ready.value(), 1);

  // A request whose audit append fails gets 503, and so does health, until an append works.
  audit_.SetFail(true);
  EXPECT_EQ(Send(Valid()).status, 503);
  EXPECT_EQ(Send(h).body, "{\"ready\":false,\"reason\":\"audit_unavailable\"}");
  h.target = "/healthz";
  EXPECT_EQ(Send(h).status, 503);
  audit_.SetFail(false);
  EXPECT_EQ(Send(Valid()).status, 202);
  EXPECT_EQ(Send(h).status, 200);
}

TEST_F(GatewayServiceTest, UnknownPathAndMethod) {
  http::Request r;
  r.method = "GET";
  r.target = "/docs";
  EXPECT_EQ(Send(r).status, 404);
  r.target = "/internal/v1/telemetry";
  EXPECT_EQ(Send(r).status, 405);
}

TEST_F(GatewayServiceTest, GarbageNeverCrashes) {
  // A few hostile bodies with valid signatures: each gets a clean 4xx and an audit record.
  std::vector<std::string> bodies = {
      "null", "[]", "\"str\"", "1e999999", "{\"a\":" + std::string(200, '[') , std::string(1000, '{'),
      "{\"operator_id\":1}", "{\"timestamp\":1e400}", std::string("\0\0\0", 3)};
  int i = 0;
  for (const auto& b : bodies) {
    std::string nonce = "nonce-garbage-" + std::to_string(i++);
    auto r = Send(MakeRequest(b, kNow, nonce, testing::SignB64(kNow, nonce, b)));
    EXPECT_EQ(r.status, 422) << b.substr(0, 40);
  }
  EXPECT_EQ(audit_.records().size(), bodies.size());
}

// Issue 15: a queue whose publish callbacks of one commit group run inside one CompletionBatch
// (the embedded queue's writer does): held until Complete(), then completed together.
class GroupCommitPublisher final : public queue::Publisher {
 public:
  void Publish(queue::Envelope, queue::PublishCallback done) override {
    held_.push_back(std::move(done));
  }
  Status Health() const override { return Status::Ok(); }
  void Complete() {
    CompletionBatch group;
    for (auto& done : held_) done(Status::Ok(), queue::PublishOutcome::kStored);
    held_.clear();
  }
  size_t held() const { return held_.size(); }

 private:
  std::vector<queue::PublishCallback> held_;
};

class GatewayGroupCommitTest : public GatewayServiceTest {
 protected:
  void SetUp() override { Build(120, &group_); }
  // Sends kN valid requests; each answer records its status and how many audit records
  // existed when it was given.
  static constexpr int kN = 5;
  void SendGroup() {
    for (int i = 0; i < kN; ++i) {
      handler_->Handle(Valid("nonce-group-000" + std::to_string(i),
                             "evt-group-000" + std::to_string(i)),
                       [this](http::Response r) {
                         statuses_.push_back(r.status);
                         records_at_answer_.push_back(audit_.records().size());
                       });
    }
    ASSERT_EQ(group_.held(), static_cast<size_t>(kN));
    EXPECT_TRUE(statuses_.empty()) << "no answer before the commit";
    EXPECT_TRUE(audit_.records().empty()) << "no accepted record before the commit";
    group_.Complete();
  }
  GroupCommitPublisher group_;
  std::vector<int> statuses_;
  std::vector<size_t> records_at_answer_;
};

TEST_F(GatewayGroupCommitTest, AcceptedRecordsOfOneCommitGroupAreOneBatchWrittenBeforeAnyAnswer) {
  SendGroup();
  EXPECT_EQ(audit_.batch_sizes(), std::vector<size_t>{kN});
  EXPECT_EQ(statuses_, std::vector<int>(kN, 202));
  EXPECT_EQ(records_at_answer_, std::vector<size_t>(kN, kN));
  auto recs = audit_.records();
  ASSERT_EQ(recs.size(), static_cast<size_t>(kN));
  for (int i = 0; i < kN; ++i) {
    EXPECT_EQ(recs[i].event_type, "telemetry.accepted");
    EXPECT_EQ(recs[i].details.Find("event_id")->as_string(), "evt-group-000" + std::to_string(i));
  }
  EXPECT_EQ(service_->counters().accepted.load(), static_cast<uint64_t>(kN));
}

TEST_F(GatewayGroupCommitTest, AFailedBatchFailsEveryRequestOfTheGroupClosed) {
  audit_.SetFail(true);
  SendGroup();
  EXPECT_EQ(audit_.batch_sizes(), std::vector<size_t>{kN});
  EXPECT_EQ(statuses_, std::vector<int>(kN, 503));
  EXPECT_EQ(service_->counters().accepted.load(), 0u);
  EXPECT_EQ(service_->counters().audit_failures.load(), static_cast<uint64_t>(kN));
}

}  // namespace
}  // namespace vv::app

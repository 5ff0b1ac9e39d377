// Black-box: the real vv-gateway binary, a generated PKI, HTTPS + mTLS through the producer
// library. Covers the transport-identity rows that only a real TLS stack can show, the seven
// red-team scenarios of manual section 24, durability/idempotence of the embedded queue, the
// audit trail (and its verifier), limits and start-up refusals.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <thread>

#include "fakes/process.h"
#include "integration/gateway_harness.h"
#include "json/json.h"

namespace vv::testing {
namespace {

std::string Detail(const spectrastrike::HttpResponse& r) {
  auto v = json::Parse(r.body);
  if (!v.ok() || !v->is_object() || !v->Find("detail") || !v->Find("detail")->is_string())
    return "<" + r.body + ">";
  return v->Find("detail")->as_string();
}

class GatewayBlackboxTest : public SharedGatewayTest {
 protected:

  static std::string UniqueNonce(const std::string& tag) {
    static std::atomic<int> n{0};
    return "nonce-" + tag + "-" + std::to_string(n++) + "-" + std::to_string(NowSeconds());
  }
  // A fresh, validly signed A.2-shaped request.
  static SignedRequest Fresh(const std::string& tag, const std::string& event_id = "") {
    int64_t ts = NowSeconds();
    std::string nonce = UniqueNonce(tag);
    return SignBody(MakeTelemetryBody(ts, nonce, event_id.empty() ? "evt-" + nonce : event_id),
                    ts, nonce);
  }
  static spectrastrike::HttpResponse Post(spectrastrike::HttpsClient& c, const SignedRequest& r,
                                          const std::string& identity = "spectrastrike-producer") {
    return c.Post("/internal/v1/telemetry", TelemetryHeaders(r, identity), r.body);
  }
};

TEST_F(GatewayBlackboxTest, ValidSignedEventIsAcceptedQueuedAndAudited) {
  auto client = gw_->Client();
  int64_t before = gw_->QueueCount("ingest");
  auto r = Post(client, Fresh("valid"));
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 202) << r.body;
  auto body = json::Parse(r.body);
  ASSERT_TRUE(body.ok());
  EXPECT_TRUE(body->Find("accepted")->as_bool());
  std::string request_id = body->Find("request_id")->as_string();
  // 202 means durable: the row is already committed.
  EXPECT_EQ(gw_->QueueCount("ingest"), before + 1);
  bool audited = false;
  for (const auto& line : gw_->AuditLines())
    if (line.find(request_id) != std::string::npos &&
        line.find("\"telemetry.accepted\"") != std::string::npos)
      audited = true;
  EXPECT_TRUE(audited);
}

TEST_F(GatewayBlackboxTest, ClientWithoutCertificateFailsTheHandshake) {
  auto client = gw_->Client("");
  auto r = Post(client, Fresh("nocert"));
  EXPECT_FALSE(r.transport_ok) << "status " << r.status;
  // The refused handshake is audited (reason only; no HTTP request was ever read).
  bool audited = false;
  for (int i = 0; i < 50 && !audited; ++i) {
    for (const auto& line : gw_->AuditLines())
      if (line.find("\"tls.handshake_rejected\"") != std::string::npos &&
          line.find("certificate") != std::string::npos)
        audited = true;
    if (!audited) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(audited);
}

TEST_F(GatewayBlackboxTest, CertificateFromAnotherCaFailsTheHandshake) {
  auto client = gw_->Client("untrusted");
  auto r = Post(client, Fresh("otherca"));
  EXPECT_FALSE(r.transport_ok) << "status " << r.status;
}

TEST_F(GatewayBlackboxTest, CaSignedButUnpinnedCertificateIs401) {
  auto client = gw_->Client("rogue");
  auto r = Post(client, Fresh("rogue"));
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Detail(r), "Service identity certificate fingerprint mismatch");
}

TEST_F(GatewayBlackboxTest, ClaimingThePinnedFingerprintInAHeaderDoesNotHelp) {
  // The reference trusted X-Client-Cert-Sha256; here the presented certificate decides.
  auto client = gw_->Client("rogue");
  auto req = Fresh("claim");
  auto headers = TelemetryHeaders(req);
  headers.emplace_back("X-Client-Cert-Sha256", DevPki::Get().Pin("producer"));
  auto r = client.Post("/internal/v1/telemetry", headers, req.body);
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 401);
}

TEST_F(GatewayBlackboxTest, PinnedCertificateUnderAnotherIdentityIs401) {
  auto client = gw_->Client("producer");
  auto r = Post(client, Fresh("otherid"), "other-service");
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Detail(r), "Service identity certificate fingerprint mismatch");
}

TEST_F(GatewayBlackboxTest, MatchingFingerprintHeaderIsAccepted) {
  auto client = gw_->Client();
  auto req = Fresh("fphdr");
  auto headers = TelemetryHeaders(req);
  headers.emplace_back("X-Client-Cert-Sha256", DevPki::Get().Pin("producer"));
  auto r = client.Post("/internal/v1/telemetry", headers, req.body);
  EXPECT_EQ(r.status, 202) << r.body;
}

// ---- Red-team scenarios (manual section 24) ----------------------------------------------------

TEST_F(GatewayBlackboxTest, RedTeamInvalidSignature) {
  auto client = gw_->Client();
  int64_t ts = NowSeconds();
  std::string nonce = UniqueNonce("forged");
  auto req = SignBody(MakeTelemetryBody(ts, nonce), ts, nonce,
                      "1111111111111111111111111111111111111111111111111111111111111111");
  int64_t before = gw_->QueueCount("ingest");
  auto r = Post(client, req);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Detail(r), "Invalid telemetry signature");
  EXPECT_EQ(gw_->QueueCount("ingest"), before) << "not queued";
  auto lines = gw_->AuditLines();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("Invalid telemetry signature"), std::string::npos);
}

TEST_F(GatewayBlackboxTest, RedTeamExpiredTimestamp) {
  auto client = gw_->Client();
  int64_t ts = NowSeconds() - 360;
  std::string nonce = UniqueNonce("expired");
  auto r = Post(client, SignBody(MakeTelemetryBody(ts, nonce), ts, nonce));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Detail(r), "Telemetry timestamp out of allowed clock skew");
}

TEST_F(GatewayBlackboxTest, RedTeamReplay) {
  auto client = gw_->Client();
  auto req = Fresh("replay");
  EXPECT_EQ(Post(client, req).status, 202);
  auto second = Post(client, req);
  EXPECT_EQ(second.status, 409);
  EXPECT_EQ(Detail(second), "Replay detected: nonce already used");
  // Also from a second connection.
  auto other = gw_->Client();
  EXPECT_EQ(Post(other, req).status, 409);
}

TEST_F(GatewayBlackboxTest, RedTeamCrossTenantInjection) {
  auto client = gw_->Client();
  int64_t ts = NowSeconds();
  std::string nonce = UniqueNonce("xtenant");
  auto body = MakeTelemetryBody(ts, nonce);
  body.Set("tenant_id", kTenant2);
  body.Find("signed_metadata")->Set("tenant_id", kTenant2);
  auto r = Post(client, SignBody(body, ts, nonce));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Detail(r), "Operator tenant mapping violation");
}

TEST_F(GatewayBlackboxTest, RedTeamQueuePoisoningGoesToTheDlqOnly) {
  auto client = gw_->Client();
  int64_t ts = NowSeconds();
  std::string nonce = UniqueNonce("poison");
  json::Value poison = json::Value::MakeObject();
  poison.Set("timestamp", ts);
  poison.Set("nonce", nonce);
  poison.Set("payload", json::Value::MakeObject());
  int64_t ingest = gw_->QueueCount("ingest"), dlq = gw_->QueueCount("dead_letter");
  auto r = Post(client, SignBody(poison, ts, nonce));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Detail(r), "Telemetry schema validation failed");
  EXPECT_EQ(gw_->QueueCount("dead_letter"), dlq + 1);
  EXPECT_EQ(gw_->QueueCount("ingest"), ingest);
}

TEST_F(GatewayBlackboxTest, InvalidUtf8BodyIs422) {
  auto client = gw_->Client();
  int64_t ts = NowSeconds();
  std::string nonce = UniqueNonce("utf8");
  SignedRequest req{"{\"x\":\"\xff\xfe\"}", ts, nonce, ""};
  req.signature_b64 = SignB64(ts, nonce, req.body);
  auto r = Post(client, req);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Detail(r), "Invalid JSON payload");
}

TEST_F(GatewayBlackboxTest, OversizedBodyIs413) {
  auto client = gw_->Client();
  auto req = Fresh("big");
  req.body = std::string(1048577, ' ');
  auto r = Post(client, req);
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Detail(r), "Telemetry payload exceeds 1MiB limit");
}

TEST_F(GatewayBlackboxTest, WrongContentTypeIs415) {
  auto client = gw_->Client();
  auto req = Fresh("ctype");
  auto headers = TelemetryHeaders(req);
  headers[0].second = "text/plain";
  auto r = client.Post("/internal/v1/telemetry", headers, req.body);
  EXPECT_EQ(r.status, 415);
}

TEST_F(GatewayBlackboxTest, KeepAliveServesManyRequestsOnOneConnection) {
  auto client = gw_->Client();
  for (int i = 0; i < 50; ++i) ASSERT_EQ(Post(client, Fresh("ka")).status, 202);
  EXPECT_EQ(client.connections_opened(), 1u);
}

TEST_F(GatewayBlackboxTest, ConcurrentProducersAllAccepted) {
  int64_t before = gw_->QueueCount("ingest");
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      auto client = gw_->Client();
      for (int i = 0; i < 25; ++i)
        if (Post(client, Fresh("conc")).status == 202) accepted++;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 100);
  EXPECT_EQ(gw_->QueueCount("ingest"), before + 100);
}

TEST_F(GatewayBlackboxTest, SameEventIdRetriedWithFreshNonceIsStoredOnce) {
  auto client = gw_->Client();
  int64_t before = gw_->QueueCount("ingest");
  EXPECT_EQ(Post(client, Fresh("dup", "evt-dedupe-1")).status, 202);
  EXPECT_EQ(Post(client, Fresh("dup", "evt-dedupe-1")).status, 202);
  EXPECT_EQ(gw_->QueueCount("ingest"), before + 1);
}

TEST_F(GatewayBlackboxTest, HealthEndpoints) {
  auto client = gw_->Client();
  auto h = client.Get("/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_NE(h.body.find("\"healthy\""), std::string::npos);
  EXPECT_EQ(client.Get("/readyz").status, 200);
  EXPECT_EQ(client.Get("/docs").status, 404);
}

// ---- Separate gateways -------------------------------------------------------------------------

TEST(GatewayRevocationTest, RevokedCertificateIsRefusedWhenTheCrlIsConfigured) {
  GatewayOptions o;
  o.with_crl = true;
  o.extra_yaml = "    allowed_service_identities_extra_unused: 1\n";
  o.extra_yaml.clear();
  GatewayUnderTest gw(o);
  ASSERT_TRUE(gw.started()) << gw.log();
  auto revoked = gw.Client("revoked");
  int64_t ts = NowSeconds();
  auto r = revoked.Post("/internal/v1/telemetry",
                        TelemetryHeaders(SignBody(MakeTelemetryBody(ts, "nonce-revoked-01"), ts,
                                                  "nonce-revoked-01")),
                        "{}");
  EXPECT_FALSE(r.transport_ok) << "revoked certificate must not complete the handshake";
  bool audited = false;
  for (int i = 0; i < 50 && !audited; ++i) {
    for (const auto& line : gw.AuditLines())
      if (line.find("\"tls.handshake_rejected\"") != std::string::npos &&
          line.find("revoked") != std::string::npos &&
          line.find(DevPki::Get().Pin("revoked")) != std::string::npos)
        audited = true;
    if (!audited) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(audited) << "revocation attempt audited with the certificate's fingerprint";
  auto good = gw.Client("producer");
  auto ok = good.Post("/internal/v1/telemetry",
                      TelemetryHeaders(SignBody(MakeTelemetryBody(ts, "nonce-revoked-02"), ts,
                                                "nonce-revoked-02")),
                      json::Canonical(MakeTelemetryBody(ts, "nonce-revoked-02")));
  EXPECT_EQ(ok.status, 202) << ok.body;
}

TEST(GatewayRateLimitTest, RetryOfTheSameBytesAfter429IsNever409) {
  GatewayOptions o;
  o.rate_limit_per_minute = 2;
  GatewayUnderTest gw(o);
  ASSERT_TRUE(gw.started()) << gw.log();
  auto client = gw.Client();
  int64_t ts = NowSeconds();
  auto req = [&](int i) {
    std::string nonce = "nonce-rate-" + std::to_string(i) + "-" + std::to_string(ts);
    return SignBody(MakeTelemetryBody(ts, nonce, "evt-rate-" + std::to_string(i)), ts, nonce);
  };
  auto post = [&](const SignedRequest& r) {
    return client.Post("/internal/v1/telemetry", TelemetryHeaders(r), r.body);
  };
  EXPECT_EQ(post(req(1)).status, 202);
  EXPECT_EQ(post(req(2)).status, 202);
  auto third = req(3);
  auto limited = post(third);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(Detail(limited), "Operator burst anomaly detected");
  for (int i = 0; i < 3; ++i) {
    int status = post(third).status;
    EXPECT_TRUE(status == 429 || status == 202) << "got " << status;
  }
}

TEST(GatewayAuditTest, EveryRequestIsAuditedAndTheLogVerifiesAndTamperingIsDetected) {
  GatewayOptions o;
  o.seal_every = 3;
  std::string audit_path;
  {
    GatewayUnderTest gw(o);
    ASSERT_TRUE(gw.started()) << gw.log();
    audit_path = gw.audit_path();
    auto client = gw.Client();
    int sent = 0;
    int64_t ts = NowSeconds();
    for (int i = 0; i < 5; ++i, ++sent) {
      std::string nonce = "nonce-audit-" + std::to_string(i) + "-" + std::to_string(ts);
      auto r = SignBody(MakeTelemetryBody(ts, nonce, "evt-audit-" + std::to_string(i)), ts, nonce);
      client.Post("/internal/v1/telemetry", TelemetryHeaders(r), r.body);
    }
    auto bad = SignBody(MakeTelemetryBody(ts, "nonce-audit-bad"), ts, "nonce-audit-bad",
                        "2222222222222222222222222222222222222222222222222222222222222222");
    client.Post("/internal/v1/telemetry", TelemetryHeaders(bad), bad.body);
    ++sent;
    EXPECT_EQ(gw.Stop(), 0) << "graceful shutdown";
    int accepted = 0, rejected = 0, seals = 0;
    for (const auto& line : gw.AuditLines()) {
      if (line.find("\"telemetry.accepted\"") != std::string::npos) accepted++;
      if (line.find("\"telemetry.rejected\"") != std::string::npos) rejected++;
      if (line.find("\"log.sealed\"") != std::string::npos) seals++;
    }
    EXPECT_EQ(accepted, 5);
    EXPECT_EQ(rejected, 1);
    EXPECT_EQ(seals, 2);
    std::string out;
    EXPECT_EQ(RunCommand({std::string(VV_BIN_DIR) + "/vv-audit", "verify", audit_path}, &out), 0)
        << out;
    EXPECT_NE(out.find("\"ok\":true"), std::string::npos) << out;

    // Red-team: log tampering. Edit one record's details and keep the line canonical.
    auto lines = gw.AuditLines();
    ASSERT_GE(lines.size(), 3u);
    TempDir tmp;
    std::string tampered = tmp.File("tampered.jsonl");
    std::string content;
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string l = lines[i];
      if (i == 1) {
        auto v = json::Parse(l).value();
        v.Find("details")->Set("request_id", "forged-request");
        l = json::Canonical(v);
      }
      content += l + "\n";
    }
    WriteFile(tampered, content);
    EXPECT_EQ(RunCommand({std::string(VV_BIN_DIR) + "/vv-audit", "verify", tampered}, &out), 3);
    EXPECT_NE(out.find("\"reason\":\"entry_hash_mismatch\""), std::string::npos) << out;
    EXPECT_NE(out.find("\"broken_at\":2"), std::string::npos) << out;
  }
}

// ---- Start-up refusals -------------------------------------------------------------------------

int RunGatewayWithConfig(const std::string& yaml, std::string* out) {
  TempDir dir;
  std::string path = dir.File("gw.yaml");
  WriteFile(path, yaml, 0600);
  return RunCommand({std::string(VV_BIN_DIR) + "/vv-gateway", "--config", path}, out);
}

std::string BaseYaml(const std::string& key_path, const std::string& extra) {
  const DevPki& pki = DevPki::Get();
  return "vectorvue:\n  telemetry_gateway:\n    listen: 127.0.0.1:0\n    tls:\n      cert_path: " +
         pki.Path("gateway.crt") + "\n      key_path: " + key_path + "\n      ca_path: " +
         pki.Path("ca.crt") + "\n    spectrastrike_ed25519_public_key_b64: " +
         kProducerPublicKeyB64 + "\n    operator_tenant_map:\n      op-001: " + kTenant1 + "\n" +
         extra;
}

TEST(GatewayStartupTest, RefusesInsecureOrBrokenConfigNamingTheKey) {
  const DevPki& pki = DevPki::Get();
  std::string ids = "    allowed_service_identities:\n      spectrastrike-producer: " +
                    pki.Pin("producer") + "\n";
  TempDir tmp;
  std::string loose_key = tmp.File("loose.key");
  WriteFile(loose_key, ReadFile(pki.Path("gateway.key")), 0644);
  struct Case {
    std::string yaml, needle;
  } cases[] = {
      {BaseYaml(loose_key, ids), "key_path"},
      {BaseYaml(pki.Path("gateway.key"), ""), "allowed_service_identities"},
      {BaseYaml(pki.Path("gateway.key"), ids + "    require_mtls: false\n"), "require_mtls"},
      {BaseYaml(pki.Path("gateway.key"), ids + "    require_payload_signature: false\n"),
       "require_payload_signature"},
      {BaseYaml(pki.Path("gateway.key"),
                ids + "    allowed_clock_skew_seconds: 90\n    nonce_ttl_seconds: 120\n"),
       "nonce_ttl_seconds"},
      {BaseYaml(pki.Path("gateway.key"),
                "    allowed_service_identities:\n      spectrastrike-producer: abc\n"),
       "allowed_service_identities"},
      {BaseYaml(tmp.File("missing.key"), ids), "key_path"},
  };
  for (const auto& c : cases) {
    std::string out;
    EXPECT_EQ(RunGatewayWithConfig(c.yaml, &out), 2) << out;
    EXPECT_NE(out.find(c.needle), std::string::npos) << "expected '" << c.needle << "' in: " << out;
  }
}

}  // namespace
}  // namespace vv::testing

// Red-team scenarios: audit log poisoning and parser work (issue 12, items 1 and 5).
// Whatever bytes a client sends, every audit record is valid UTF-8 JSON that hashes the same
// on write and on verify, the log verifies, and the gateway restarts on it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "http/raw_tls_client.h"
#include "integration/gateway_harness.h"
#include "redteam/scenario.h"

namespace vv::testing {
namespace {

using namespace std::chrono_literals;

RawTlsClient Raw(const std::string& cert = "producer") {
  const DevPki& pki = DevPki::Get();
  return RawTlsClient(pki.Path("ca.crt"), pki.Path(cert + ".crt"), pki.Path(cert + ".key"));
}

// Sends raw request bytes on a fresh mTLS connection; returns the response ("" if none).
std::string Exchange(uint16_t port, const std::string& request, const std::string& cert = "producer") {
  RawTlsClient c = Raw(cert);
  if (c.Connect(port)) return "";
  if (c.Write(request)) return "";
  // Until the response is complete (head + Content-Length body) or the server closes: an
  // early refusal leaves the server draining the request until the client goes away.
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto ec = c.ReadUntilClosed(&got, 200ms);
    if (ec && ec != boost::asio::error::timed_out) break;  // closed
    const size_t head_end = got.find("\r\n\r\n");
    if (head_end == std::string::npos) continue;
    size_t cl = got.find("Content-Length: ");
    if (cl == std::string::npos || cl > head_end) break;
    const size_t body_len = std::stoul(got.substr(cl + 16));
    if (got.size() >= head_end + 4 + body_len) break;
  }
  c.Close();
  return got;
}

std::string StatusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

class AuditRedTeam : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(gw_.started()) << gw_.log(); }
  GatewayUnderTest gw_;
};

TEST_F(AuditRedTeam, Audit_OverlongNewlineInIdentityHeaderDoesNotPoisonTheLog) {
  const int64_t ts = NowSeconds();
  SignedRequest r = SignBody(MakeTelemetryBody(ts, "rt-audit-overlong"), ts, "rt-audit-overlong");
  std::string req = "POST /internal/v1/telemetry HTTP/1.1\r\nHost: localhost\r\n"
                    "Content-Type: application/json\r\n"
                    "X-Service-Identity: x\xC0\x8Ay\r\n"
                    "X-Telemetry-Timestamp: " + std::to_string(ts) + "\r\n"
                    "X-Telemetry-Nonce: " + r.nonce + "\r\n"
                    "X-Telemetry-Signature: " + r.signature_b64 + "\r\n"
                    "Content-Length: " + std::to_string(r.body.size()) + "\r\n"
                    "Connection: close\r\n\r\n" + r.body;
  std::string resp = Exchange(gw_.port(), req);
  EXPECT_EQ(StatusLine(resp), "HTTP/1.1 401 Unauthorized") << resp;
  EXPECT_NE(resp.find("Unknown service identity"), std::string::npos) << resp;
  std::string rec = FindAuditRecord(gw_, {"telemetry.rejected", "untrusted_bytes_replaced"});
  EXPECT_FALSE(rec.empty()) << "no audit record marks the replaced bytes";
  EXPECT_EQ(rec.find("\\u000a"), std::string::npos) << "overlong C0 8A decoded as a newline: " << rec;
  Scenario("audit", "401 Unknown service identity; record valid, marked untrusted_bytes_replaced; log verifies; restart ok",
           StatusLine(resp), rec);
  ExpectAuditVerifiesAndRestarts(gw_);
}

TEST_F(AuditRedTeam, Audit_InvalidUtf8InPathOfAnOversizedRequest) {
  std::string req = "POST /internal/v1/telemetry\xC0\x8A\xED\xA0\x80 HTTP/1.1\r\nHost: localhost\r\n"
                    "Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{";
  std::string resp = Exchange(gw_.port(), req);
  const std::string status = StatusLine(resp);
  // Beast may refuse the target itself (400) or the gateway answers 413 and audits the path;
  // either way the log must stay verifiable.
  EXPECT_TRUE(status == "HTTP/1.1 413 Payload Too Large" || status == "HTTP/1.1 400 Bad Request")
      << resp;
  std::string rec = FindAuditRecord(gw_, {"untrusted_bytes_replaced", "path"});
  if (status == "HTTP/1.1 413 Payload Too Large") {
    EXPECT_FALSE(rec.empty()) << "the 413 record does not mark the replaced path bytes";
  }
  Scenario("audit", "413 (or 400); path bytes replaced and marked; log verifies; restart ok", status, rec);
  ExpectAuditVerifiesAndRestarts(gw_);
}

TEST_F(AuditRedTeam, Audit_InvalidUtf8InEverySignedHeaderAtOnce) {
  const int64_t ts = NowSeconds();
  SignedRequest r = SignBody(MakeTelemetryBody(ts, "rt-audit-all"), ts, "rt-audit-all");
  std::string req = "POST /internal/v1/telemetry HTTP/1.1\r\nHost: \xFF\xFE\r\n"
                    "Content-Type: application/json\r\n"
                    "X-Service-Identity: spectrastrike-producer\r\n"
                    "X-Telemetry-Timestamp: \xE2\x82" + std::to_string(ts) + "\r\n"
                    "X-Telemetry-Nonce: \xED\xBF\xBF\xC0\x80\r\n"
                    "X-Telemetry-Signature: \xF5\x80\x80\x80" + r.signature_b64 + "\r\n"
                    "X-Client-Cert-Sha256: \x80\x80\r\n"
                    "Content-Length: " + std::to_string(r.body.size()) + "\r\n"
                    "Connection: close\r\n\r\n" + r.body;
  std::string resp = Exchange(gw_.port(), req);
  const std::string status = StatusLine(resp);
  EXPECT_EQ(status.substr(0, 12), "HTTP/1.1 401") << resp;  // fingerprint header format first
  std::string rec = FindAuditRecord(gw_, {"telemetry.rejected"});
  EXPECT_FALSE(rec.empty());
  Scenario("audit", "4xx with the contract reason; every record valid UTF-8; log verifies; restart ok",
           status, rec);
  ExpectAuditVerifiesAndRestarts(gw_);
}

TEST_F(AuditRedTeam, Audit_HostileBytesAcrossManyRequestsThenRestartTwice) {
  // 64 requests, each with a different invalid sequence in the identity header.
  for (int i = 0; i < 64; ++i) {
    std::string bad = "id-";
    bad.push_back(static_cast<char>(0x80 + i));
    bad.push_back(static_cast<char>(0xC0 + (i % 2)));
    std::string req = "POST /internal/v1/telemetry HTTP/1.1\r\nHost: localhost\r\n"
                      "Content-Type: application/json\r\nX-Service-Identity: " + bad + "\r\n"
                      "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    std::string resp = Exchange(gw_.port(), req);
    ASSERT_FALSE(resp.empty()) << "request " << i << " got no answer";
  }
  ExpectAuditVerifies(gw_.audit_path());
  ASSERT_TRUE(gw_.Restart()) << gw_.log();
  ASSERT_TRUE(gw_.Restart()) << gw_.log();
  std::string rec = FindAuditRecord(gw_, {"untrusted_bytes_replaced"});
  EXPECT_FALSE(rec.empty());
  Scenario("audit", "64 hostile identities: all rejected, all audited, log verifies, two restarts ok",
           "all answered; restarts ok", rec);
  ExpectAuditVerifiesAndRestarts(gw_);
}

// Item 5: an 878 KiB object of short keys used to cost seconds of CPU in the duplicate-key
// check (quadratic), triggered on federation verify with only a pinned certificate. It is
// refused (422) and a concurrent legitimate producer is served meanwhile.
TEST_F(AuditRedTeam, Parser_LargeObjectOfShortKeysOnFederationVerify) {
  std::string body = "{";
  int i = 0;
  while (body.size() < 878 * 1024) body += "\"" + std::to_string(i++) + "\":0,";
  body += "\"end\":0}";
  std::atomic<int> accepted{0};
  std::thread legit([&] {
    auto client = gw_.Client("producer");
    for (int k = 0; k < 5; ++k) {
      const int64_t ts = NowSeconds();
      const std::string nonce = "rt-parser-legit-" + std::to_string(k);
      SignedRequest r =
          SignBody(MakeTelemetryBody(ts, nonce, "evt-rt-parser-" + std::to_string(k)), ts, nonce);
      auto resp = client.Post("/internal/v1/telemetry", TelemetryHeaders(r), r.body);
      if (resp.transport_ok && resp.status == 202) accepted++;
    }
  });
  auto client = gw_.Client("producer");
  auto resp = client.Post("/internal/v1/federation/verify",
                          {{"Content-Type", "application/json"},
                           {"X-Service-Identity", "spectrastrike-producer"}},
                          body);
  legit.join();
  ASSERT_TRUE(resp.transport_ok) << resp.error;
  EXPECT_GE(resp.status, 400);
  EXPECT_LT(resp.status, 500) << resp.body;
  EXPECT_EQ(accepted.load(), 5);
  std::string rec = FindAuditRecord(gw_, {"federation.rejected"});
  EXPECT_FALSE(rec.empty());
  Scenario("parser", "4xx for the 878 KiB many-key body; 5/5 concurrent legitimate events accepted",
           std::to_string(resp.status) + "; legit accepted " + std::to_string(accepted.load()) + "/5",
           rec);
  ExpectAuditVerifiesAndRestarts(gw_);
}

}  // namespace
}  // namespace vv::testing

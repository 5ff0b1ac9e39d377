#include "spectrastrike/https_client.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "http/echo_server.h"
#include "spectrastrike/signer.h"
#include "spectrastrike/telemetry_client.h"
#include "tls/pki_fixture.h"

namespace spectrastrike {
namespace {

using vv::testing::DevPki;
using vv::testing::EchoHandler;

class HttpsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = DevPki::Get();
    ASSERT_NE(pki_, nullptr) << "scripts/dev-pki.sh failed";
    server_ = vv::testing::StartServer(vv::testing::TestServerOptions(*pki_), handler_);
    ASSERT_NE(server_, nullptr);
  }

  TlsClientConfig Config() const {
    TlsClientConfig c;
    c.ca_path = pki_->Crt("ca");
    c.cert_path = pki_->Crt("producer");
    c.key_path = pki_->Key("producer");
    return c;
  }

  const DevPki* pki_ = nullptr;
  EchoHandler handler_;
  std::unique_ptr<vv::http::Server> server_;
};

TEST_F(HttpsClientTest, CorrectServerPinConnects) {
  TlsClientConfig c = Config();
  // Upper case with colons is normalised.
  std::string pin = vv::ToLowerAscii(pki_->Sha256("gateway"));
  std::string colon_pin;
  for (size_t i = 0; i < pin.size(); i += 2) {
    if (i) colon_pin += ':';
    colon_pin += pin.substr(i, 2);
  }
  for (char& ch : colon_pin) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  c.pinned_server_cert_sha256 = colon_pin;
  HttpsClient client("127.0.0.1", server_->port(), c);
  HttpResponse r = client.Get("/healthz");
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 200);
}

TEST_F(HttpsClientTest, WrongServerPinFails) {
  TlsClientConfig c = Config();
  c.pinned_server_cert_sha256 = pki_->Sha256("rogue");
  HttpsClient client("127.0.0.1", server_->port(), c);
  HttpResponse r = client.Get("/healthz");
  EXPECT_FALSE(r.transport_ok);
  EXPECT_NE(r.error.find("pin mismatch"), std::string::npos) << r.error;
  EXPECT_EQ(handler_.count(), 0);
}

TEST_F(HttpsClientTest, ServerNameMustMatchCertificate) {
  TlsClientConfig c = Config();
  c.server_name = "vectorvue-telemetry-gateway.internal";
  HttpsClient ok("127.0.0.1", server_->port(), c);
  EXPECT_TRUE(ok.Get("/").transport_ok);
  c.server_name = "evil.example";
  HttpsClient bad("127.0.0.1", server_->port(), c);
  HttpResponse r = bad.Get("/");
  EXPECT_FALSE(r.transport_ok);
  EXPECT_NE(r.error.find("handshake"), std::string::npos) << r.error;
  // "localhost" is in the SAN as well.
  HttpsClient local("localhost", server_->port(), Config());
  EXPECT_TRUE(local.Get("/").transport_ok);
}

TEST_F(HttpsClientTest, UntrustedServerCaFailsUnlessVerificationOff) {
  TlsClientConfig c = Config();
  c.ca_path = pki_->Crt("other-ca");
  HttpsClient client("127.0.0.1", server_->port(), c);
  EXPECT_FALSE(client.Get("/").transport_ok);
  c.verify_peer = false;
  HttpsClient insecure("127.0.0.1", server_->port(), c);
  EXPECT_TRUE(insecure.Get("/").transport_ok);
}

TEST_F(HttpsClientTest, BadTlsConfigIsATransportError) {
  TlsClientConfig c = Config();
  c.key_path = pki_->Path("missing.key");
  HttpsClient client("127.0.0.1", server_->port(), c);
  HttpResponse r = client.Get("/");
  EXPECT_FALSE(r.transport_ok);
  EXPECT_NE(r.error.find("missing.key"), std::string::npos) << r.error;
}

TEST_F(HttpsClientTest, ConnectionRefusedIsATransportError) {
  uint16_t port = server_->port();
  server_->Stop();
  server_.reset();
  HttpsClient client("127.0.0.1", port, Config());
  HttpResponse r = client.Get("/");
  EXPECT_FALSE(r.transport_ok);
  EXPECT_NE(r.error.find("connect"), std::string::npos) << r.error;
}

TEST_F(HttpsClientTest, ReconnectsTransparentlyAfterServerClosedConnection) {
  HttpsClient client("127.0.0.1", server_->port(), Config());
  ASSERT_TRUE(client.Get("/").transport_ok);
  // The server closes after a response carrying Connection: close.
  HttpResponse r = client.Get("/", {{"Connection", "close"}});
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_FALSE(client.connected());
  ASSERT_TRUE(client.Get("/").transport_ok);
  EXPECT_EQ(client.connections_opened(), 2u);
}

TEST_F(HttpsClientTest, CertificateSha256HexMatchesPinFile) {
  EXPECT_EQ(*CertificateSha256Hex(pki_->Crt("producer")), pki_->Sha256("producer"));
  auto missing = CertificateSha256Hex(pki_->Path("nope.crt"));
  EXPECT_FALSE(missing.ok());
  EXPECT_FALSE(missing.status().message().empty());
}

TEST_F(HttpsClientTest, TelemetryClientSendsFiveSignedHeaders) {
  std::string seed =
      *vv::HexDecode("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  auto signer = RequestSigner::FromSeed(seed);
  ASSERT_TRUE(signer.ok());
  HttpsClient http("127.0.0.1", server_->port(), Config());
  std::string fp = *CertificateSha256Hex(pki_->Crt("producer"));
  TelemetryClient telemetry("spectrastrike-producer", fp, *signer, http);
  const std::string body = R"({"nonce":"n-1","timestamp":1772107200})";
  HttpResponse r = telemetry.SendTelemetry(1772107200, "n-1", body, "exec-hash");
  ASSERT_TRUE(r.transport_ok) << r.error;

  auto req = handler_.last();
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->method, "POST");
  EXPECT_EQ(req->target, "/internal/v1/telemetry");
  EXPECT_EQ(req->body, body);
  ASSERT_NE(req->Header("content-type"), nullptr);
  EXPECT_EQ(*req->Header("content-type"), "application/json");
  EXPECT_EQ(*req->Header("x-service-identity"), "spectrastrike-producer");
  EXPECT_EQ(*req->Header("x-client-cert-sha256"), req->peer.cert_sha256_hex);
  EXPECT_EQ(*req->Header("x-telemetry-timestamp"), "1772107200");
  EXPECT_EQ(*req->Header("x-telemetry-nonce"), "n-1");
  EXPECT_EQ(*req->Header("idempotency-key"), "exec-hash");
  auto pub = vv::crypto::Ed25519PublicKey::FromBase64(signer->PublicKeyB64());
  ASSERT_TRUE(pub.ok());
  auto sig = vv::Base64DecodeStrict(*req->Header("x-telemetry-signature"));
  ASSERT_TRUE(sig.has_value());
  EXPECT_TRUE(pub->Verify("1772107200.n-1." + body, *sig));

  // Without a configured fingerprint the header is omitted.
  TelemetryClient no_fp("spectrastrike-producer", "", *signer, http);
  ASSERT_TRUE(no_fp.SendTelemetry(1772107201, "n-2", body).transport_ok);
  EXPECT_EQ(handler_.last()->Header("x-client-cert-sha256"), nullptr);
  EXPECT_EQ(handler_.last()->Header("idempotency-key"), nullptr);
  EXPECT_EQ(http.connections_opened(), 1u);
}

}  // namespace
}  // namespace spectrastrike

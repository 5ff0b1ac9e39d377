// Red-team scenarios of issue 12 for the transport: memory exhaustion before authentication
// (chunk extensions, trailers, bodies of unauthenticated peers), connection-slot exhaustion
// before TLS, slow-loris, Transfer-Encoding smuggling, and CRL revocation of open connections
// and resumed sessions. Real vv-gateway, real mTLS, hand-made bytes (RawTlsClient).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fakes/process.h"
#include "fakes/temp_dir.h"
#include "http/raw_tls_client.h"
#include "integration/gateway_harness.h"
#include "redteam/scenario.h"

namespace vv::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<RawTlsClient> RawClient(const std::string& cert) {
  const DevPki& pki = DevPki::Get();
  if (cert.empty()) return std::make_unique<RawTlsClient>(pki.Path("ca.crt"), "", "");
  return std::make_unique<RawTlsClient>(pki.Path("ca.crt"), pki.Path(cert + ".crt"),
                                        pki.Path(cert + ".key"));
}

// "HTTP/1.1 401 Unauthorized..." -> 401; 0 when there is no status line.
int StatusOf(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
  return std::atoi(response.substr(9, 3).c_str());
}

// VmRSS of a process in KiB (-1 when unreadable).
long RssKib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.substr(6).c_str());
  }
  return -1;
}

// SIGHUP and wait for the n-th "RELOADED ok" line.
bool Reload(GatewayUnderTest& gw) {
  auto count = [&] {
    const std::string log = gw.log();
    size_t n = 0;
    for (size_t p = log.find("RELOADED ok"); p != std::string::npos;
         p = log.find("RELOADED ok", p + 1))
      ++n;
    return n;
  };
  const size_t before = count();
  if (::kill(gw.pid(), SIGHUP) != 0) return false;
  for (int i = 0; i < 250; ++i) {
    if (count() > before) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string TelemetryHead(const std::string& extra, const std::string& identity =
                                                       "spectrastrike-producer") {
  return "POST /internal/v1/telemetry HTTP/1.1\r\nHost: localhost\r\n"
         "Content-Type: application/json\r\nX-Service-Identity: " +
         identity + "\r\n" + extra + "\r\n";
}

// Sends `request` on a fresh producer connection and returns what came back before the close.
std::string Exchange(GatewayUnderTest& gw, const std::string& request,
                     const std::string& cert = "producer") {
  auto c = RawClient(cert);
  if (c->Connect(gw.port())) return "";
  if (c->Write(request)) return "";
  std::string out;
  c->ReadUntilClosed(&out, std::chrono::seconds(5));
  return out;
}

// The audit log is appended by the gateway's threads: poll briefly for a record.
std::string WaitAuditRecord(const GatewayUnderTest& gw, const std::vector<std::string>& needles) {
  for (int i = 0; i < 50; ++i) {
    std::string rec = FindAuditRecord(gw, needles);
    if (!rec.empty()) return rec;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

class TransportRedTeam : public ::testing::Test {};

// ---- Memory exhaustion before authentication (issue 12 item 3) -----------------------------

TEST_F(TransportRedTeam, Resource_HugeChunkExtensionBoundedAndRefused) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  const long rss_before = RssKib(gw.pid());
  ASSERT_GT(rss_before, 0);

  // 1. A 64 MiB chunk extension: the gateway must stop reading early, not buffer it.
  auto c = RawClient("producer");
  ASSERT_FALSE(c->Connect(gw.port()));
  ASSERT_FALSE(c->Write(TelemetryHead("Transfer-Encoding: chunked\r\n") + "5;ext="));
  const std::string mib(1 << 20, 'a');
  size_t accepted_mib = 0;
  for (; accepted_mib < 64; ++accepted_mib) {
    if (c->Write(mib)) break;
  }
  const long rss_after = RssKib(gw.pid());
  c->Close();
  EXPECT_LT(accepted_mib, 64u) << "the gateway kept reading a 64 MiB chunk extension";
  EXPECT_LT(rss_after - rss_before, 32 * 1024) << "RSS grew from " << rss_before << " to "
                                               << rss_after << " KiB";

  // 2. A 2 MiB extension (less than the drain bound, so the answer is readable): 431.
  std::string resp = Exchange(gw, TelemetryHead("Transfer-Encoding: chunked\r\n") + "5;ext=" +
                                      std::string(2 << 20, 'b'));
  EXPECT_EQ(StatusOf(resp), 431) << resp;
  EXPECT_NE(resp.find("Request header fields too large"), std::string::npos) << resp;
  std::string rec = FindAuditRecord(gw, {"\"http.rejected\"", "chunk_metadata_too_large"});
  EXPECT_FALSE(rec.empty());
  Scenario("resource",
           "chunk extensions count against the request's byte budget: 431 after ~16 KiB, RSS "
           "bounded",
           "wrote " + std::to_string(accepted_mib) + " MiB before the close; RSS " +
               std::to_string(rss_before) + " -> " + std::to_string(rss_after) +
               " KiB; 2 MiB extension -> " + std::to_string(StatusOf(resp)),
           rec);
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(TransportRedTeam, Resource_HugeTrailersRefused) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  std::string trailers;
  while (trailers.size() < (2u << 20)) trailers += "X-Pad: " + std::string(100, 'c') + "\r\n";
  const long rss_before = RssKib(gw.pid());
  std::string resp = Exchange(
      gw, TelemetryHead("Transfer-Encoding: chunked\r\n") + "5\r\nhello\r\n0\r\n" + trailers);
  const long rss_after = RssKib(gw.pid());
  EXPECT_EQ(StatusOf(resp), 431) << resp;
  EXPECT_NE(resp.find("Request header fields too large"), std::string::npos) << resp;
  EXPECT_LT(rss_after - rss_before, 16 * 1024);
  std::string rec = FindAuditRecord(gw, {"\"http.rejected\"", "chunk_metadata_too_large"});
  EXPECT_FALSE(rec.empty());
  Scenario("resource", "2 MiB of trailers: 431 once the chunked framing exceeds its budget",
           "status " + std::to_string(StatusOf(resp)) + ", RSS " + std::to_string(rss_before) +
               " -> " + std::to_string(rss_after) + " KiB",
           rec);
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(TransportRedTeam, Authn_UnpinnedCertRefusedBeforeBody) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  // "rogue" is signed by the gateway's CA but pinned for no identity. Announce a 1 MiB body,
  // send only the head: the refusal must come without the body.
  auto c = RawClient("rogue");
  ASSERT_FALSE(c->Connect(gw.port()));
  ASSERT_FALSE(c->Write(TelemetryHead("Content-Length: 1048576\r\n")));
  const auto t0 = Clock::now();
  std::string resp;
  c->ReadUntilClosed(&resp, std::chrono::seconds(5));
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  EXPECT_EQ(StatusOf(resp), 401) << resp;
  EXPECT_NE(resp.find("Service identity certificate fingerprint mismatch"), std::string::npos)
      << resp;
  EXPECT_LT(ms, 3000);
  std::string rec = FindAuditRecord(
      gw, {"\"telemetry.rejected\"", "cert_pin_mismatch", "\"stage\":\"request_head\""});
  EXPECT_FALSE(rec.empty());
  EXPECT_EQ(gw.QueueCount("dead_letter"), 0);
  Scenario("authn", "unpinned CA-signed certificate: 401 from the head, body never read",
           "status " + std::to_string(StatusOf(resp)) + " after " + std::to_string(ms) +
               " ms without sending the body",
           rec);
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(TransportRedTeam, Authn_UnknownIdentityOnFederationRefusedBeforeBody) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  auto c = RawClient("rogue");
  ASSERT_FALSE(c->Connect(gw.port()));
  ASSERT_FALSE(c->Write(
      "POST /internal/v1/federation/verify HTTP/1.1\r\nHost: localhost\r\n"
      "Content-Type: application/json\r\nX-Service-Identity: nobody\r\n"
      "Content-Length: 900000\r\n\r\n"));
  std::string resp;
  c->ReadUntilClosed(&resp, std::chrono::seconds(5));
  EXPECT_EQ(StatusOf(resp), 401) << resp;
  EXPECT_NE(resp.find("Unknown service identity"), std::string::npos) << resp;
  std::string rec = FindAuditRecord(
      gw, {"\"federation.rejected\"", "unknown_identity", "\"stage\":\"request_head\""});
  EXPECT_FALSE(rec.empty());
  Scenario("authn", "unknown identity on federation verify: 401 before the body is read",
           "status " + std::to_string(StatusOf(resp)), rec);
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(TransportRedTeam, Parser_WrongContentTypeStill415FromHead) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  // Contract order: Content-Type (M1) before identity, even for an unpinned certificate, and
  // decided from the head (the announced body is never sent).
  auto c = RawClient("rogue");
  ASSERT_FALSE(c->Connect(gw.port()));
  ASSERT_FALSE(c->Write(
      "POST /internal/v1/telemetry HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
      "X-Service-Identity: spectrastrike-producer\r\nContent-Length: 1000000\r\n\r\n"));
  std::string resp;
  c->ReadUntilClosed(&resp, std::chrono::seconds(5));
  EXPECT_EQ(StatusOf(resp), 415) << resp;
  EXPECT_NE(resp.find("Telemetry endpoint only accepts application/json"), std::string::npos);
  std::string rec = FindAuditRecord(
      gw, {"\"telemetry.rejected\"", "unsupported_media_type", "\"stage\":\"request_head\""});
  EXPECT_FALSE(rec.empty());
  Scenario("parser", "wrong Content-Type: 415 first (contract order), from the head",
           "status " + std::to_string(StatusOf(resp)), rec);
  ExpectAuditVerifiesAndRestarts(gw);
}

// ---- Connection slots (issue 12 item 4) -----------------------------------------------------

TEST_F(TransportRedTeam, Resource_IdleSocketFloodDoesNotStarveClients) {
  GatewayOptions o;
  o.extra_yaml =
      "    limits:\n      max_connections: 200\n      max_pending_handshakes: 50\n"
      "      handshake_timeout_seconds: 30\n";
  GatewayUnderTest gw(o);
  ASSERT_TRUE(gw.started()) << gw.log();
  // 300 TCP connections that never start TLS: more than max_connections.
  boost::asio::io_context ioc;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> idle;
  const boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), gw.port());
  for (int i = 0; i < 300; ++i) {
    auto s = std::make_unique<boost::asio::ip::tcp::socket>(ioc);
    boost::system::error_code ec;
    s->connect(ep, ec);
    if (!ec) idle.push_back(std::move(s));
  }
  ASSERT_GE(idle.size(), 250u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int ok = 0;
  for (int i = 0; i < 20; ++i) {
    auto client = gw.Client("producer");
    auto r = client.Get("/healthz");
    if (r.transport_ok && r.status == 200) ++ok;
  }
  // The flood's oldest sockets were closed by the gateway (eviction), not left to time out.
  int closed = 0;
  for (auto& s : idle) {
    s->non_blocking(true);
    char b;
    boost::system::error_code ec;
    s->read_some(boost::asio::buffer(&b, 1), ec);
    if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) ++closed;
  }
  idle.clear();
  EXPECT_EQ(ok, 20);
  EXPECT_GE(closed, 200);
  std::string rec = WaitAuditRecord(gw, {"\"tls.handshake_rejected\"", "evicted"});
  EXPECT_FALSE(rec.empty());
  Scenario("resource",
           "300 idle TCP sockets (max_connections 200, max_pending_handshakes 50): every "
           "legitimate request still served",
           std::to_string(ok) + "/20 requests served; " + std::to_string(closed) +
               " idle sockets evicted",
           rec);
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(TransportRedTeam, Transport_SlowlorisHeaderDripCutAtHeaderTimeout) {
  GatewayOptions o;
  o.extra_yaml = "    limits:\n      header_timeout_seconds: 2\n";
  GatewayUnderTest gw(o);
  ASSERT_TRUE(gw.started()) << gw.log();
  auto c = RawClient("producer");
  ASSERT_FALSE(c->Connect(gw.port()));
  const auto t0 = Clock::now();
  ASSERT_FALSE(c->Write("POST /internal/v1/telemetry HTTP/1.1\r\n"));
  bool cut = false;
  for (int i = 0; i < 40 && !cut; ++i) {  // one byte every 250 ms, up to 10 s
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    if (c->Write("X")) cut = true;
    std::string out;
    auto ec = c->ReadUntilClosed(&out, std::chrono::milliseconds(1));
    if (ec != boost::asio::error::timed_out) cut = true;
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  EXPECT_TRUE(cut);
  EXPECT_LT(ms, 4500);
  EXPECT_GE(ms, 1500);
  // The drip never produced a request: no record, and the gateway serves others.
  auto r = gw.Client("producer").Get("/healthz");
  EXPECT_EQ(r.status, 200);
  Scenario("transport", "header drip cut at header_timeout_seconds (2 s)",
           cut ? "connection closed after " + std::to_string(ms) + " ms" : "never cut");
  ExpectAuditVerifiesAndRestarts(gw);
}

// ---- Transfer-Encoding (issue 12 item 15) ---------------------------------------------------

void ExpectMalformed(GatewayUnderTest& gw, const std::string& request,
                     const std::vector<std::string>& reasons, const std::string& what) {
  std::string resp = Exchange(gw, request);
  EXPECT_EQ(StatusOf(resp), 400) << resp;
  EXPECT_NE(resp.find("{\"detail\":\"Malformed HTTP request\"}"), std::string::npos) << resp;
  std::string rec;
  for (const auto& r : reasons) {
    rec = FindAuditRecord(gw, {"\"http.rejected\"", "\"" + r + "\""});
    if (!rec.empty()) break;
  }
  EXPECT_FALSE(rec.empty()) << "no http.rejected record for " << what;
  EXPECT_EQ(gw.QueueCount("ingest"), 0);
  Scenario("transport", what + ": 400 Malformed HTTP request, audited",
           "status " + std::to_string(StatusOf(resp)), rec);
}

TEST_F(TransportRedTeam, Transport_TeGzipChunkedRefused) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  ExpectMalformed(gw,
                  TelemetryHead("Transfer-Encoding: gzip, chunked\r\n") + "5\r\nhello\r\n0\r\n\r\n",
                  {"transfer_encoding_not_chunked"}, "Transfer-Encoding: gzip, chunked");
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(TransportRedTeam, Transport_TeChunkedIdentityRefused) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  ExpectMalformed(
      gw, TelemetryHead("Transfer-Encoding: chunked, identity\r\n") + "5\r\nhello\r\n0\r\n\r\n",
      {"transfer_encoding_not_chunked"}, "Transfer-Encoding: chunked, identity");
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(TransportRedTeam, Transport_TeAndContentLengthRefused) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  // Both orders, and a non-chunked coding that Beast alone would let Content-Length win.
  ExpectMalformed(gw,
                  TelemetryHead("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n") +
                      "5\r\nhello\r\n0\r\n\r\n",
                  {"bad_content_length", "content_length_with_transfer_encoding"},
                  "Transfer-Encoding: chunked + Content-Length");
  ExpectMalformed(gw,
                  TelemetryHead("Content-Length: 5\r\nTransfer-Encoding: identity\r\n") + "hello",
                  {"bad_transfer_encoding", "content_length_with_transfer_encoding"},
                  "Content-Length + Transfer-Encoding: identity");
  ExpectAuditVerifiesAndRestarts(gw);
}

// ---- CRL reload (issue 12 item 6) -----------------------------------------------------------

// Adds tls.crl_path (the PKI's CRL revoking "revoked") to the gateway's config file.
void AddRevokingCrl(const GatewayUnderTest& gw) {
  std::string text = ReadFile(gw.config_path());
  const std::string ca = "      ca_path: " + DevPki::Get().Path("ca.crt") + "\n";
  size_t at = text.find(ca);
  ASSERT_NE(at, std::string::npos) << text;
  text.insert(at + ca.size(), "      crl_path: " + DevPki::Get().Path("crl.pem") + "\n");
  WriteFile(gw.config_path(), text, 0600);
}

const std::string kHealthz = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
// Closed by the server after the response (close_notify): the session stays resumable.
const std::string kHealthzClose =
    "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";


TEST_F(TransportRedTeam, Tls_CrlReloadClosesOpenKeepAliveConnection) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  auto c = RawClient("revoked");
  ASSERT_FALSE(c->Connect(gw.port()));
  ASSERT_FALSE(c->Write(kHealthz));
  std::string first;
  c->ReadUntilClosed(&first, std::chrono::milliseconds(500));  // keep-alive: stays open
  ASSERT_EQ(StatusOf(first), 200) << first;

  AddRevokingCrl(gw);
  ASSERT_TRUE(Reload(gw)) << gw.log();
  // The reload closes the connection; the next request on it gets no answer.
  std::string after;
  auto closed_ec = c->ReadUntilClosed(&after, std::chrono::seconds(3));
  EXPECT_NE(closed_ec, boost::asio::error::timed_out) << "connection still open after the CRL reload";
  c->Write(kHealthz);
  c->ReadUntilClosed(&after, std::chrono::seconds(2));
  EXPECT_EQ(StatusOf(after), 0) << after;
  // A new handshake with the revoked certificate fails; others are unaffected.
  EXPECT_NE(gw.Client("revoked").Get("/healthz").status, 200);
  EXPECT_EQ(gw.Client("producer").Get("/healthz").status, 200);
  std::string rec = WaitAuditRecord(
      gw, {"\"tls.connection_revoked\"", DevPki::Get().Pin("revoked"), "revoked"});
  EXPECT_FALSE(rec.empty());
  Scenario("tls", "CRL reload closes the open keep-alive connection of the revoked certificate",
           closed_ec == boost::asio::error::timed_out ? "connection stayed open"
                                                      : "closed by the reload (" +
                                                            closed_ec.message() + ")",
           rec);
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(TransportRedTeam, Tls_ResumedSessionAfterCrlReloadRefused) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  // The producer SDK client keeps its TLS session across reconnects.
  auto client = gw.Client("revoked");
  ASSERT_EQ(client.Get("/healthz").status, 200);
  client.Close();
  ASSERT_EQ(client.Get("/healthz").status, 200);
  ASSERT_TRUE(client.last_connection_resumed()) << "the session must resume before the reload";
  client.Close();

  AddRevokingCrl(gw);
  ASSERT_TRUE(Reload(gw)) << gw.log();
  auto r = client.Get("/healthz");  // offers the session of the now-revoked certificate
  const bool resumed = r.transport_ok && client.last_connection_resumed();
  EXPECT_FALSE(r.transport_ok && r.status == 200) << r.status << " " << r.body;
  EXPECT_FALSE(resumed);
  std::string rec = WaitAuditRecord(gw, {"\"tls.handshake_rejected\"", "revoked"});
  EXPECT_FALSE(rec.empty()) << ReadFile(gw.audit_path());
  Scenario("tls", "a TLS session of the revoked certificate does not resume after the CRL reload",
           r.transport_ok ? "HTTP " + std::to_string(r.status) + (resumed ? " (resumed)" : "")
                          : "refused: " + r.error,
           rec);
  ExpectAuditVerifiesAndRestarts(gw);
}

}  // namespace
}  // namespace vv::testing

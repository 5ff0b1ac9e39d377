#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <vector>

#include <chrono>
#include <thread>

#include "common/completion_batch.h"
#include "http/echo_server.h"
#include "http/raw_tls_client.h"
#include "spectrastrike/https_client.h"
#include "tls/pki_fixture.h"

namespace vv::http {
namespace {

using spectrastrike::HttpResponse;
using spectrastrike::HttpsClient;
using spectrastrike::TlsClientConfig;
using vv::testing::DevPki;
using vv::testing::EchoHandler;
using vv::testing::RawTlsClient;
using Clock = std::chrono::steady_clock;

// Server counters are updated on the server's threads, possibly after the client saw the
// outcome: poll briefly.
template <typename Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 100; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = DevPki::Get();
    ASSERT_NE(pki_, nullptr) << "scripts/dev-pki.sh failed";
    options_ = vv::testing::TestServerOptions(*pki_);
  }

  void StartServer() {
    server_ = vv::testing::StartServer(options_, handler_);
    ASSERT_NE(server_, nullptr);
  }

  HttpsClient Client(const std::string& name) {
    TlsClientConfig c;
    c.ca_path = pki_->Crt("ca");
    if (!name.empty()) {
      c.cert_path = pki_->Crt(name);
      c.key_path = pki_->Key(name);
    }
    return HttpsClient("127.0.0.1", server_->port(), c);
  }

  RawTlsClient Raw(const std::string& name = "producer") {
    return RawTlsClient(pki_->Crt("ca"), name.empty() ? "" : pki_->Crt(name),
                        name.empty() ? "" : pki_->Key(name));
  }

  const DevPki* pki_ = nullptr;
  ServerOptions options_;
  EchoHandler handler_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, ProducerCertConnectsAndPeerInfoCarriesPinnedFingerprint) {
  StartServer();
  HttpsClient client = Client("producer");
  HttpResponse r = client.Post("/internal/v1/telemetry?x=1", {{"X-Custom-Header", " Value "}},
                               R"({"a":1})");
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, pki_->Sha256("producer"));
  ASSERT_NE(r.Header("content-length"), nullptr);
  EXPECT_EQ(*r.Header("Content-Type"), "text/plain");

  auto req = handler_.last();
  ASSERT_TRUE(req.has_value());
  EXPECT_TRUE(req->peer.has_certificate);
  EXPECT_EQ(req->peer.cert_sha256_hex, pki_->Sha256("producer"));
  EXPECT_NE(req->peer.subject.find("spectrastrike-producer"), std::string::npos);
  EXPECT_EQ(req->peer.remote_address.rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(req->method, "POST");
  EXPECT_EQ(req->target, "/internal/v1/telemetry?x=1");
  EXPECT_EQ(req->Path(), "/internal/v1/telemetry");
  EXPECT_EQ(req->body, R"({"a":1})");
  ASSERT_NE(req->Header("x-custom-header"), nullptr);
  EXPECT_EQ(*req->Header("X-Custom-Header"), "Value");  // OWS trimmed by the parser
  for (const auto& [name, value] : req->headers) {
    for (char c : name) EXPECT_FALSE(c >= 'A' && c <= 'Z') << name;
  }
}

TEST_F(ServerTest, RogueCertSameCaConnectsWithItsOwnFingerprint) {
  StartServer();
  HttpsClient client = Client("rogue");
  HttpResponse r = client.Get("/healthz");
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.body, pki_->Sha256("rogue"));
  EXPECT_NE(r.body, pki_->Sha256("producer"));
}

TEST_F(ServerTest, NoClientCertificateFailsBeforeHttp) {
  StartServer();
  HttpsClient client = Client("");
  HttpResponse r = client.Get("/healthz");
  EXPECT_FALSE(r.transport_ok);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(handler_.count(), 0);
  EXPECT_TRUE(Eventually([&] { return server_->stats().handshakes_failed >= 1; }));
}

TEST_F(ServerTest, OptionalClientCertificateReachesHandlerWithoutCertificate) {
  options_.tls.require_client_cert = false;
  StartServer();
  HttpsClient client = Client("");
  HttpResponse r = client.Get("/healthz");
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.body, "no-certificate");
}

TEST_F(ServerTest, CertificateFromAnotherCaFails) {
  StartServer();
  HttpsClient client = Client("untrusted");
  HttpResponse r = client.Get("/healthz");
  EXPECT_FALSE(r.transport_ok);
  EXPECT_EQ(handler_.count(), 0);
}

TEST_F(ServerTest, RevokedCertificateFailsWithCrl) {
  options_.tls.crl_path = pki_->Path("crl.pem");
  StartServer();
  HttpsClient revoked = Client("revoked");
  HttpResponse r = revoked.Get("/healthz");
  EXPECT_FALSE(r.transport_ok);
  EXPECT_EQ(handler_.count(), 0);
  // A valid certificate still passes the CRL check.
  HttpsClient producer = Client("producer");
  HttpResponse ok = producer.Get("/healthz");
  ASSERT_TRUE(ok.transport_ok) << ok.error;
  EXPECT_EQ(ok.body, pki_->Sha256("producer"));
}

TEST_F(ServerTest, RevokedCertificateAcceptedWithoutCrl) {
  StartServer();
  HttpsClient revoked = Client("revoked");
  HttpResponse r = revoked.Get("/healthz");
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.body, pki_->Sha256("revoked"));
}

TEST_F(ServerTest, EmptyCrlAcceptsRevokedCandidate) {
  options_.tls.crl_path = pki_->Path("crl-empty.pem");
  StartServer();
  HttpsClient revoked = Client("revoked");
  HttpResponse r = revoked.Get("/healthz");
  ASSERT_TRUE(r.transport_ok) << r.error;
}

TEST_F(ServerTest, ContentLengthOverLimitGetsHandlerTooLargeResponseAndClose) {
  options_.max_body_bytes = 1024;
  StartServer();
  HttpsClient client = Client("producer");
  HttpResponse r = client.Post("/internal/v1/telemetry", {}, std::string(64 * 1024, 'x'));
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body, R"({"detail":"Payload too large"})");
  ASSERT_NE(r.Header("connection"), nullptr);
  EXPECT_EQ(*r.Header("connection"), "close");
  EXPECT_EQ(handler_.too_large(), 1);
  EXPECT_EQ(handler_.count(), 0);
  // Exactly at the limit is fine; the client reconnects transparently.
  HttpResponse ok = client.Post("/internal/v1/telemetry", {}, std::string(1024, 'x'));
  ASSERT_TRUE(ok.transport_ok) << ok.error;
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(client.connections_opened(), 2u);
}

TEST_F(ServerTest, ChunkedBodyOverLimitGetsTooLargeResponse) {
  options_.max_body_bytes = 100;
  StartServer();
  RawTlsClient raw = Raw();
  ASSERT_FALSE(raw.Connect(server_->port()));
  std::string chunk(80, 'a');
  ASSERT_FALSE(raw.Write("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n" +
                         chunk + "\r\n50\r\n" + chunk + "\r\n0\r\n\r\n"));
  std::string got;
  raw.ReadUntilClosed(&got, std::chrono::seconds(5));
  EXPECT_EQ(got.rfind("HTTP/1.1 413 ", 0), 0u) << got;
  EXPECT_EQ(handler_.too_large(), 1);
}

TEST_F(ServerTest, ChunkedBodyWithinLimitIsAssembled) {
  StartServer();
  RawTlsClient raw = Raw();
  ASSERT_FALSE(raw.Connect(server_->port()));
  ASSERT_FALSE(raw.Write("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                         "Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  std::string got;
  auto ec = raw.ReadUntilClosed(&got, std::chrono::seconds(5));
  EXPECT_EQ(got.rfind("HTTP/1.1 200 ", 0), 0u) << got << ec.message();
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  auto req = handler_.last();
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->body, "abcde");
}

TEST_F(ServerTest, ExpectContinueIsAnswered) {
  StartServer();
  RawTlsClient raw = Raw();
  ASSERT_FALSE(raw.Connect(server_->port()));
  ASSERT_FALSE(raw.Write("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                         "Expect: 100-continue\r\nConnection: close\r\n\r\n"));
  std::string got;
  raw.ReadUntilClosed(&got, std::chrono::milliseconds(300));
  EXPECT_EQ(got, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_FALSE(raw.Write("body"));
  raw.ReadUntilClosed(&got, std::chrono::seconds(5));
  EXPECT_NE(got.find("HTTP/1.1 200 "), std::string::npos) << got;
  EXPECT_EQ(handler_.last()->body, "body");
}

TEST_F(ServerTest, TooManyHeadersGets431) {
  options_.max_header_count = 10;
  StartServer();
  HttpsClient client = Client("producer");
  spectrastrike::HeaderList headers;
  for (int i = 0; i < 20; ++i) headers.emplace_back("X-H" + std::to_string(i), "v");
  HttpResponse r = client.Get("/healthz", headers);
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(handler_.count(), 0);
  EXPECT_FALSE(client.connected());  // server closed
}

TEST_F(ServerTest, OversizedHeaderBlockGets431) {
  options_.max_header_bytes = 1024;
  StartServer();
  HttpsClient client = Client("producer");
  HttpResponse r = client.Get("/healthz", {{"X-Big", std::string(4096, 'b')}});
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 431);
}

TEST_F(ServerTest, MalformedRequestGets400AndClose) {
  StartServer();
  RawTlsClient raw = Raw();
  ASSERT_FALSE(raw.Connect(server_->port()));
  ASSERT_FALSE(raw.Write("THIS IS NOT HTTP\r\n\r\n"));
  std::string got;
  auto ec = raw.ReadUntilClosed(&got, std::chrono::seconds(5));
  EXPECT_NE(ec, boost::asio::error::timed_out);
  EXPECT_EQ(got.rfind("HTTP/1.1 400 ", 0), 0u) << got;
  EXPECT_NE(got.find(R"({"detail":"Malformed HTTP request"})"), std::string::npos);
  EXPECT_NE(got.find("Connection: close"), std::string::npos);
}

TEST_F(ServerTest, KeepAliveReusesOneConnectionFor100Requests) {
  StartServer();
  HttpsClient client = Client("producer");
  for (int i = 0; i < 100; ++i) {
    HttpResponse r = client.Post("/internal/v1/telemetry", {}, "body-" + std::to_string(i));
    ASSERT_TRUE(r.transport_ok) << i << ": " << r.error;
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.Header("connection"), nullptr);
  }
  ServerStats s = server_->stats();
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.handshakes_ok, 1u);
  EXPECT_EQ(s.requests, 100u);
  EXPECT_EQ(client.connections_opened(), 1u);
  EXPECT_EQ(handler_.count(), 100);
}

TEST_F(ServerTest, ClientReconnectsAfterIdleTimeoutAndResumesSession) {
  options_.idle_timeout_seconds = 1;
  StartServer();
  HttpsClient client = Client("producer");
  ASSERT_TRUE(client.Get("/a").transport_ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  HttpResponse r = client.Get("/b");
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.body, pki_->Sha256("producer"));  // resumed session still carries the peer cert
  EXPECT_EQ(client.connections_opened(), 2u);
  EXPECT_EQ(server_->stats().accepted, 2u);
  EXPECT_TRUE(client.last_connection_resumed());
  EXPECT_EQ(server_->stats().sessions_resumed, 1u);
}

TEST_F(ServerTest, ResponderCalledFromAnotherThreadWorks) {
  std::vector<std::thread> workers;
  std::mutex mu;
  handler_.hook = [&](Request req, Responder respond) {
    std::lock_guard<std::mutex> l(mu);
    workers.emplace_back([req = std::move(req), respond = std::move(respond)] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      Response r;
      r.status = 202;
      r.body = R"({"echo":")" + req.body + R"("})";
      respond(std::move(r));
    });
  };
  StartServer();
  HttpsClient client = Client("producer");
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = client.Post("/x", {}, "n" + std::to_string(i));
    ASSERT_TRUE(r.transport_ok) << r.error;
    EXPECT_EQ(r.status, 202);
    EXPECT_EQ(r.body, R"({"echo":"n)" + std::to_string(i) + R"("})");
    EXPECT_EQ(*r.Header("content-type"), "application/json");
  }
  EXPECT_EQ(client.connections_opened(), 1u);
  std::lock_guard<std::mutex> l(mu);
  for (auto& t : workers) t.join();
}

TEST_F(ServerTest, AnswersGivenInsideACompletionBatchAreAllDeliveredWhenItCloses) {
  // Issue 15: a backend thread answering a group of requests inside a CompletionBatch (the
  // queue writer's commit group) hands them to the io threads as one batch - one posted
  // handler per io thread. Each io thread runs an io_context of its own and connections are
  // assigned round-robin: 6 connections on 3 threads are handled by all 3.
  constexpr int kThreads = 3;
  constexpr int kClients = 6;
  options_.threads = kThreads;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, Responder>> held;
  std::set<std::thread::id> io_threads;
  handler_.hook = [&](Request req, Responder respond) {
    std::lock_guard<std::mutex> l(mu);
    io_threads.insert(std::this_thread::get_id());
    held.emplace_back(req.body, std::move(respond));
    cv.notify_all();
  };
  StartServer();
  std::thread answer([&] {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return held.size() == kClients; });
    CompletionBatch group;
    for (auto& [body, respond] : held) {
      Response r;
      r.status = 202;
      r.body = "answer-" + body;
      respond(std::move(r));
    }
  });
  std::vector<std::thread> clients;
  std::vector<HttpResponse> got(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] { got[i] = Client("producer").Post("/x", {}, "n" + std::to_string(i)); });
  }
  for (auto& t : clients) t.join();
  answer.join();
  for (int i = 0; i < kClients; ++i) {
    ASSERT_TRUE(got[i].transport_ok) << got[i].error;
    EXPECT_EQ(got[i].status, 202);
    EXPECT_EQ(got[i].body, "answer-n" + std::to_string(i));
  }
  EXPECT_EQ(io_threads.size(), static_cast<size_t>(kThreads));
}

TEST_F(ServerTest, SecondResponderCallIsIgnored) {
  handler_.hook = [](Request, Responder respond) {
    Response a;
    a.body = "first";
    respond(a);
    Response b;
    b.body = "second";
    respond(b);
  };
  StartServer();
  HttpsClient client = Client("producer");
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = client.Get("/x");
    ASSERT_TRUE(r.transport_ok) << r.error;
    EXPECT_EQ(r.body, "first");
  }
}

TEST_F(ServerTest, ThrowingHandlerClosesConnectionButServerSurvives) {
  std::atomic<bool> throw_now{true};  // read on the server's thread
  handler_.hook = [&](Request, Responder respond) {
    if (throw_now.load()) throw std::runtime_error("boom");
    Response r;
    r.body = "fine";
    respond(r);
  };
  StartServer();
  HttpsClient client = Client("producer");
  HttpResponse r = client.Get("/x");
  EXPECT_FALSE(r.transport_ok);
  throw_now.store(false);
  HttpResponse ok = client.Get("/x");
  ASSERT_TRUE(ok.transport_ok) << ok.error;
  EXPECT_EQ(ok.body, "fine");
}

TEST_F(ServerTest, SlowLorisHalfHeaderDisconnectedAfterHeaderTimeout) {
  options_.header_timeout_seconds = 1;
  StartServer();
  RawTlsClient raw = Raw();
  ASSERT_FALSE(raw.Connect(server_->port()));
  auto start = Clock::now();
  ASSERT_FALSE(raw.Write("POST /internal/v1/telemetry HTTP/1.1\r\nHost: a\r\nX-Slow"));
  // Keep trickling bytes: the header timeout is absolute, not per read.
  std::string got;
  for (int i = 0; i < 4; ++i) {
    raw.ReadUntilClosed(&got, std::chrono::milliseconds(200));
    if (raw.Write("x")) break;
  }
  auto ec = raw.ReadUntilClosed(&got, std::chrono::seconds(5));
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_NE(ec, boost::asio::error::timed_out);
  EXPECT_GE(elapsed, 0.9);
  EXPECT_LT(elapsed, 3.0);
  EXPECT_EQ(got, "");  // no response, just a close
  EXPECT_EQ(handler_.count(), 0);
}

TEST_F(ServerTest, RawTcpWithoutHandshakeDisconnectedAfterHandshakeTimeout) {
  options_.handshake_timeout_seconds = 1;
  StartServer();
  RawTlsClient raw = Raw();
  ASSERT_FALSE(raw.ConnectTcp(server_->port()));
  auto start = Clock::now();
  ASSERT_FALSE(raw.WritePlain(std::string("\x16\x03\x01", 3)));  // a partial TLS record header
  std::string got;
  auto ec = raw.ReadUntilClosed(&got, std::chrono::seconds(5), /*plain=*/true);
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_NE(ec, boost::asio::error::timed_out);
  EXPECT_GE(elapsed, 0.9);
  EXPECT_LT(elapsed, 3.0);
  EXPECT_TRUE(Eventually([&] { return server_->stats().handshakes_failed == 1; }));
}

TEST_F(ServerTest, MaxConnectionsRefusesExtraConnections) {
  options_.max_connections = 2;
  StartServer();
  HttpsClient a = Client("producer");
  HttpsClient b = Client("producer");
  ASSERT_TRUE(a.Get("/").transport_ok);
  ASSERT_TRUE(b.Get("/").transport_ok);
  HttpsClient c = Client("producer");
  EXPECT_FALSE(c.Get("/").transport_ok);
  EXPECT_EQ(server_->stats().refused, 1u);
  a.Close();
  // The server notices the close asynchronously.
  bool ok = false;
  for (int i = 0; i < 50 && !ok; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ok = server_->stats().active_connections < 2;
  }
  ASSERT_TRUE(ok);
  EXPECT_TRUE(c.Get("/").transport_ok);
}

TEST_F(ServerTest, StopClosesIdleConnectionsPromptly) {
  StartServer();
  HttpsClient client = Client("producer");
  ASSERT_TRUE(client.Get("/").transport_ok);
  auto start = Clock::now();
  server_->Stop();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_LT(elapsed, 1.0);
  EXPECT_EQ(server_->stats().active_connections, 0u);
  EXPECT_FALSE(client.Get("/").transport_ok);
}

TEST_F(ServerTest, StopLetsInFlightRequestFinish) {
  std::thread worker;
  handler_.hook = [&](Request, Responder respond) {
    worker = std::thread([respond = std::move(respond)] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      Response r;
      r.body = "late";
      respond(r);
    });
  };
  StartServer();
  HttpResponse r;
  std::thread client_thread([&] {
    HttpsClient client = Client("producer");
    r = client.Get("/");
  });
  while (handler_.count() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server_->Stop();
  client_thread.join();
  worker.join();
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.body, "late");
  ASSERT_NE(r.Header("connection"), nullptr);
  EXPECT_EQ(*r.Header("connection"), "close");
}

TEST_F(ServerTest, CreateFailsOnBadTlsMaterialAndBusyPort) {
  ServerOptions bad = options_;
  bad.tls.key_path = pki_->Path("nope.key");
  auto s = Server::Create(bad, handler_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("nope.key"), std::string::npos);

  StartServer();
  ServerOptions same_port = options_;
  same_port.port = server_->port();
  auto s2 = Server::Create(same_port, handler_);
  EXPECT_FALSE(s2.ok());
}


// ---- Issue 12 -------------------------------------------------------------------------------

TEST_F(ServerTest, OnHeadAnswerIsSentWithoutReadingTheBody) {
  handler_.head_hook = [](const Request& head) -> std::optional<Response> {
    if (head.Header("x-service-identity") == nullptr)
      return Response{401, R"({"detail":"early"})", "application/json"};
    return std::nullopt;
  };
  StartServer();
  RawTlsClient raw = Raw();
  ASSERT_FALSE(raw.Connect(server_->port()));
  ASSERT_FALSE(raw.Write("POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"));
  std::string out;
  const auto t0 = Clock::now();
  raw.ReadUntilClosed(&out, std::chrono::seconds(5));
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));  // not the body timeout
  EXPECT_EQ(out.rfind("HTTP/1.1 401", 0), 0u) << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
  EXPECT_EQ(handler_.count(), 0);
  EXPECT_EQ(handler_.heads(), 1);
  // With the header present the body is read and the request handled.
  HttpsClient c = Client("producer");
  auto r = c.Post("/t", {{"X-Service-Identity", "a"}}, "body");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(handler_.last()->body, "body");
}

TEST_F(ServerTest, RefusedTransferEncodingIs400AndReported) {
  StartServer();
  RawTlsClient raw = Raw();
  ASSERT_FALSE(raw.Connect(server_->port()));
  ASSERT_FALSE(raw.Write(
      "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"));
  std::string out;
  raw.ReadUntilClosed(&out, std::chrono::seconds(5));
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
  EXPECT_NE(out.find("Malformed HTTP request"), std::string::npos);
  EXPECT_EQ(handler_.count(), 0);
  ASSERT_TRUE(Eventually([&] { return handler_.protocol_errors().size() == 1; }));
  EXPECT_EQ(handler_.protocol_errors()[0], "400 transfer_encoding_not_chunked");
}

TEST_F(ServerTest, HugeChunkExtensionIs431AndReported) {
  StartServer();
  RawTlsClient raw = Raw();
  ASSERT_FALSE(raw.Connect(server_->port()));
  ASSERT_FALSE(raw.Write("POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;" +
                         std::string(1 << 20, 'e')));
  std::string out;
  raw.ReadUntilClosed(&out, std::chrono::seconds(5));
  EXPECT_EQ(out.rfind("HTTP/1.1 431", 0), 0u) << out.substr(0, 200);
  ASSERT_TRUE(Eventually([&] { return handler_.protocol_errors().size() == 1; }));
  EXPECT_EQ(handler_.protocol_errors()[0], "431 chunk_metadata_too_large");
}

TEST_F(ServerTest, PendingHandshakePoolEvictsOldestIdleSockets) {
  options_.max_connections = 8;
  options_.max_pending_handshakes = 3;
  options_.max_pending_handshakes_per_source = 3;
  options_.handshake_timeout_seconds = 30;
  StartServer();
  std::vector<std::unique_ptr<RawTlsClient>> idle;
  for (int i = 0; i < 12; ++i) {  // more idle sockets than max_connections
    idle.push_back(std::make_unique<RawTlsClient>(pki_->Crt("ca"), "", ""));
    ASSERT_FALSE(idle.back()->ConnectTcp(server_->port()));
  }
  ASSERT_TRUE(Eventually([&] { return server_->stats().accepted == 12; }));
  EXPECT_TRUE(Eventually([&] { return server_->stats().pending_handshakes <= 3; }));
  // Every legitimate client still gets through, at once.
  for (int i = 0; i < 5; ++i) {
    HttpsClient c = Client("producer");
    auto r = c.Get("/x");
    EXPECT_TRUE(r.transport_ok) << r.error;
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_GE(server_->stats().handshakes_evicted, 9u);
  EXPECT_EQ(server_->stats().refused, 0u);
  // The oldest idle socket was closed by the server.
  std::string out;
  auto ec = idle.front()->ReadUntilClosed(&out, std::chrono::seconds(2), /*plain=*/true);
  EXPECT_NE(ec, boost::asio::error::timed_out);
}

TEST_F(ServerTest, ReloadTlsClosesKeepAliveConnectionOfNowRevokedCertificate) {
  StartServer();
  HttpsClient revoked = Client("revoked");
  HttpsClient good = Client("producer");
  ASSERT_EQ(revoked.Get("/a").status, 200);
  ASSERT_EQ(good.Get("/a").status, 200);
  auto tls = options_.tls;
  tls.crl_path = pki_->Path("crl.pem");
  ASSERT_TRUE(server_->ReloadTls(tls).ok());
  ASSERT_TRUE(Eventually([&] { return server_->stats().peers_rejected == 1; }));
  EXPECT_EQ(handler_.peers_rejected(), 1);
  EXPECT_FALSE(revoked.Get("/b").status == 200);  // closed; the reconnect is refused
  auto r = good.Get("/b");                          // unaffected, same connection
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(good.connections_opened(), 1u);
  EXPECT_GT(server_->TlsExpiry().crl_next_update, 0);
}

TEST_F(ServerTest, ResumedSessionIsVerifiedAgainstTheCrlInForce) {
  StartServer();
  HttpsClient c = Client("revoked");
  ASSERT_EQ(c.Get("/a").status, 200);
  c.Close();
  ASSERT_EQ(c.Get("/b").status, 200);
  ASSERT_TRUE(c.last_connection_resumed());
  c.Close();
  auto tls = options_.tls;
  tls.crl_path = pki_->Path("crl.pem");
  ASSERT_TRUE(server_->ReloadTls(tls).ok());
  auto r = c.Get("/c");
  EXPECT_FALSE(r.transport_ok && r.status == 200);
  EXPECT_FALSE(r.transport_ok && c.last_connection_resumed());
}

}  // namespace
}  // namespace vv::http

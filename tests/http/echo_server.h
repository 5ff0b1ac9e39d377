#pragma once
// Test helper: an echo Handler (records each request, answers 200 with the peer certificate
// fingerprint as body, or 413 on OnBodyTooLarge) and a Server factory over the dev PKI.

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/server.h"
#include "tls/pki_fixture.h"

namespace vv::testing {

class EchoHandler : public http::Handler {
 public:
  // Optional hook: takes over the request (e.g. responds from another thread).
  std::function<void(http::Request, http::Responder)> hook;
  // Optional early answer from the request head (Handler::OnHead).
  std::function<std::optional<http::Response>(const http::Request&)> head_hook;

  std::optional<http::Response> OnHead(const http::Request& head) override {
    heads_.fetch_add(1);
    return head_hook ? head_hook(head) : std::nullopt;
  }
  void OnProtocolError(const http::Request&, int status, std::string_view reason,
                       std::string_view) override {
    std::lock_guard<std::mutex> l(mu_);
    protocol_errors_.push_back(std::to_string(status) + " " + std::string(reason));
  }
  void OnPeerRejected(const http::PeerInfo&, std::string_view) override {
    peers_rejected_.fetch_add(1);
  }
  std::vector<std::string> protocol_errors() const {
    std::lock_guard<std::mutex> l(mu_);
    return protocol_errors_;
  }
  int heads() const { return heads_.load(); }
  int peers_rejected() const { return peers_rejected_.load(); }

  void Handle(http::Request request, http::Responder respond) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      last_ = request;
      ++count_;
    }
    if (hook) return hook(std::move(request), std::move(respond));
    http::Response r;
    r.status = 200;
    r.body = request.peer.has_certificate ? request.peer.cert_sha256_hex : "no-certificate";
    r.content_type = "text/plain";
    respond(std::move(r));
  }

  http::Response OnBodyTooLarge(const http::Request& request) override {
    too_large_.fetch_add(1);
    http::Response r;
    r.status = 413;
    r.body = R"({"detail":"Payload too large"})";
    return r;
  }

  std::optional<http::Request> last() const {
    std::lock_guard<std::mutex> l(mu_);
    return last_;
  }
  int count() const {
    std::lock_guard<std::mutex> l(mu_);
    return count_;
  }
  int too_large() const { return too_large_.load(); }

 private:
  mutable std::mutex mu_;
  std::optional<http::Request> last_;
  int count_ = 0;
  std::atomic<int> too_large_{0};
  std::atomic<int> heads_{0};
  std::atomic<int> peers_rejected_{0};
  std::vector<std::string> protocol_errors_;  // GUARDED_BY(mu_)
};

inline http::ServerOptions TestServerOptions(const DevPki& pki) {
  http::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.threads = 2;
  o.tls.cert_path = pki.Crt("gateway");
  o.tls.key_path = pki.Key("gateway");
  o.tls.ca_path = pki.Crt("ca");
  o.shutdown_grace_seconds = 2;
  return o;
}

inline std::unique_ptr<http::Server> StartServer(const http::ServerOptions& o, EchoHandler& h) {
  auto s = http::Server::Create(o, h);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return nullptr;
  std::unique_ptr<http::Server> server = std::move(s).value();
  server->Start();
  return server;
}

}  // namespace vv::testing

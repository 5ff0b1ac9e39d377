// HTTP CONNECT proxy support of the producer's HTTPS client (issue 16): https_proxy / no_proxy
// parsing, the tunnel through a real (tiny, in-test) proxy with mTLS end to end, a proxy that
// refuses, and the TLS configuration error surfaced before any connection.
#include <gtest/gtest.h>

#include <map>

#include "client/connect_proxy.h"
#include "http/echo_server.h"
#include "spectrastrike/https_client.h"
#include "tls/pki_fixture.h"

namespace spectrastrike {
namespace {

using vv::testing::ConnectProxy;
using vv::testing::DevPki;

HttpProxy FromEnv(const std::map<std::string, std::string>& env, const std::string& host,
                  uint16_t port = 8443, std::string* error = nullptr) {
  auto proxy = ProxyFromEnvironment(host, port, [&](const char* n) -> std::optional<std::string> {
    auto it = env.find(n);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
  if (!proxy.ok()) {
    if (error) *error = proxy.status().message();
    return HttpProxy{};
  }
  return *proxy;
}

TEST(ProxyEnvTest, ParsesHttpsProxyInEitherCase) {
  HttpProxy p = FromEnv({{"https_proxy", "http://proxy.corp:3128/"}}, "gw.internal");
  EXPECT_EQ(p.host, "proxy.corp");
  EXPECT_EQ(p.port, 3128);
  EXPECT_TRUE(p.authorization.empty());
  p = FromEnv({{"HTTPS_PROXY", "proxy.corp"}}, "gw.internal");
  EXPECT_EQ(p.host, "proxy.corp");
  EXPECT_EQ(p.port, 80);
  p = FromEnv({{"https_proxy", "http://user:pa%3Ass@[::1]:8080"}}, "gw.internal");
  EXPECT_EQ(p.host, "::1");
  EXPECT_EQ(p.port, 8080);
  EXPECT_EQ(p.authorization, "Basic dXNlcjpwYTpzcw==");  // user:pa:ss, decoded
  EXPECT_FALSE(FromEnv({}, "gw.internal").enabled());
  EXPECT_FALSE(FromEnv({{"https_proxy", "  "}}, "gw.internal").enabled());
}

TEST(ProxyEnvTest, NoProxyExemptsHostsDomainsPortsAndStar) {
  const std::string proxy = "http://proxy:3128";
  auto used = [&](const std::string& no_proxy, const std::string& host, uint16_t port = 8443) {
    return FromEnv({{"https_proxy", proxy}, {"no_proxy", no_proxy}}, host, port).enabled();
  };
  EXPECT_FALSE(used("gw.internal", "gw.internal"));
  EXPECT_FALSE(used("GW.Internal", "gw.internal"));
  EXPECT_FALSE(used("localhost, .internal", "gw.internal"));
  EXPECT_FALSE(used("internal", "a.b.internal"));
  EXPECT_FALSE(used("*", "anything"));
  EXPECT_FALSE(used("127.0.0.1", "127.0.0.1"));
  EXPECT_FALSE(used("gw.internal:8443", "gw.internal", 8443));
  EXPECT_TRUE(used("gw.internal:9000", "gw.internal", 8443));
  EXPECT_TRUE(used("xinternal", "gw.internal"));  // not a domain suffix
  EXPECT_TRUE(used("other.example", "gw.internal"));
  EXPECT_TRUE(used("", "gw.internal"));
  // IPv6 literals: bracketed with or without a port, or bare (then without a port).
  EXPECT_FALSE(used("[::1]", "::1"));
  EXPECT_FALSE(used("[::1]:8443", "::1", 8443));
  EXPECT_TRUE(used("[::1]:9000", "::1", 8443));
  EXPECT_FALSE(used("::1", "::1"));
  EXPECT_TRUE(used("gw.internal:", "gw.internal"));  // malformed entries exempt nothing
  EXPECT_TRUE(used("gw.internal:0", "gw.internal"));
  EXPECT_FALSE(FromEnv({{"https_proxy", proxy}, {"NO_PROXY", "gw.internal"}}, "gw.internal").enabled());
}

TEST(ProxyEnvTest, BadProxyUrlsAreErrors) {
  for (const std::string url : {"https://proxy:3128", "socks5://proxy:1080", "http://proxy:0",
                                "http://proxy:99999", "http://:3128", "http://[::1:3128"}) {
    std::string error;
    HttpProxy p = FromEnv({{"https_proxy", url}}, "gw", 8443, &error);
    EXPECT_FALSE(p.enabled()) << url;
    EXPECT_FALSE(error.empty()) << url;
  }
}

class HttpsProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = DevPki::Get();
    ASSERT_NE(pki_, nullptr);
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
  vv::testing::EchoHandler handler_;
  std::unique_ptr<vv::http::Server> server_;
};

TEST_F(HttpsProxyTest, TunnelsMtlsThroughAConnectProxy) {
  ConnectProxy proxy;
  TlsClientConfig c = Config();
  c.proxy.host = "127.0.0.1";
  c.proxy.port = proxy.port();
  HttpsClient client("127.0.0.1", server_->port(), c);
  HttpResponse r = client.Post("/echo", {}, "through the tunnel");
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 200);
  // Kept alive: a second request reuses the tunnel.
  ASSERT_TRUE(client.Post("/echo", {}, "again").transport_ok);
  EXPECT_EQ(proxy.tunnels(), 1);
  ASSERT_EQ(proxy.requests().size(), 1u);
  EXPECT_EQ(proxy.requests()[0],
            "CONNECT 127.0.0.1:" + std::to_string(server_->port()) + " HTTP/1.1");
}

TEST_F(HttpsProxyTest, AProxyThatRefusesIsATransportErrorNamingIt) {
  ConnectProxy proxy(403);
  TlsClientConfig c = Config();
  c.proxy.host = "127.0.0.1";
  c.proxy.port = proxy.port();
  HttpsClient client("127.0.0.1", server_->port(), c);
  HttpResponse r = client.Get("/");
  EXPECT_FALSE(r.transport_ok);
  EXPECT_NE(r.error.find("refused CONNECT"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("403"), std::string::npos) << r.error;
}

TEST_F(HttpsProxyTest, ConfigErrorIsKnownBeforeAnyConnection) {
  EXPECT_EQ(HttpsClient("127.0.0.1", server_->port(), Config()).ConfigError(), "");
  TlsClientConfig c = Config();
  c.cert_path = pki_->Path("missing.crt");
  HttpsClient client("127.0.0.1", server_->port(), c);
  EXPECT_NE(client.ConfigError().find("missing.crt"), std::string::npos) << client.ConfigError();
  EXPECT_EQ(client.connections_opened(), 0u);
}

}  // namespace
}  // namespace spectrastrike

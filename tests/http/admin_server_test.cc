// AdminServer: loopback-only plain HTTP listener for /metrics and admin endpoints.

#include "http/admin_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <vector>

#include "common/host_port.h"
#include "fakes/raw_http.h"

namespace vv::http {
namespace {

using vv::testing::LoopbackHttpExchange;

TEST(AdminListenTest, OnlyLoopbackAddressesAreAccepted) {
  EXPECT_TRUE(ParseListenAddress("admin_listen", "127.0.0.1:9464", true).ok());
  EXPECT_TRUE(ParseListenAddress("admin_listen", "[::1]:9464", true).ok());
  EXPECT_EQ(ParseListenAddress("admin_listen", "localhost:0", true)->host, "127.0.0.1");
  EXPECT_FALSE(ParseListenAddress("admin_listen", "0.0.0.0:9464", true).ok());
  EXPECT_FALSE(ParseListenAddress("admin_listen", "10.1.2.3:9464", true).ok());
  EXPECT_FALSE(ParseListenAddress("admin_listen", "127.0.0.1", true).ok());
  EXPECT_FALSE(ParseListenAddress("admin_listen", "127.0.0.1:99999", true).ok());
  EXPECT_FALSE(ParseListenAddress("admin_listen", "", true).ok());
}

TEST(AdminServerTest, ServesTheHandlerAndClosesTheConnection) {
  auto s = AdminServer::Create("127.0.0.1:0", [](const AdminRequest& r) {
    if (r.path == "/metrics") return Response{200, "vv_x_total 1\n", "text/plain"};
    return Response{404, "{}", "application/json"};
  });
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  (*s)->Start();
  std::string out = LoopbackHttpExchange((*s)->port(), "GET /metrics?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_NE(out.find("200 OK"), std::string::npos) << out;
  EXPECT_NE(out.find("vv_x_total 1"), std::string::npos);
  out = LoopbackHttpExchange((*s)->port(), "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_NE(out.find("404"), std::string::npos);
  (*s)->Stop();
}

TEST(AdminRequestCheckTest, HostMustBeLoopback) {
  EXPECT_TRUE(IsLoopbackHostHeader("127.0.0.1:9464"));
  EXPECT_TRUE(IsLoopbackHostHeader("localhost"));
  EXPECT_TRUE(IsLoopbackHostHeader("LOCALHOST:1"));
  EXPECT_TRUE(IsLoopbackHostHeader("[::1]:9464"));
  EXPECT_TRUE(IsLoopbackHostHeader("127.8.9.10"));
  EXPECT_FALSE(IsLoopbackHostHeader(""));
  EXPECT_FALSE(IsLoopbackHostHeader("evil.example:9464"));  // DNS rebinding
  EXPECT_FALSE(IsLoopbackHostHeader("localhost.evil.example"));
  EXPECT_FALSE(IsLoopbackHostHeader("127.0.0.1:abc"));
  EXPECT_FALSE(IsLoopbackHostHeader("10.0.0.1:9464"));
  EXPECT_FALSE(IsLoopbackHostHeader("[::1]x"));
}

TEST(AdminRequestCheckTest, ReasonsForEachRefusal) {
  const std::string tok = "0123456789abcdef0123";
  const std::string auth = "Bearer " + tok;
  EXPECT_FALSE(CheckAdminRequest("GET", "127.0.0.1", "", "", "", "").has_value());
  EXPECT_FALSE(CheckAdminRequest("POST", "localhost:1", "", "", auth, tok).has_value());
  EXPECT_EQ(CheckAdminRequest("GET", "evil.example", "", "", "", tok)->reason,
            "admin_host_not_loopback");
  auto o = CheckAdminRequest("POST", "127.0.0.1", "http://evil.example", "", auth, tok);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->reason, "admin_browser_origin");
  EXPECT_EQ(o->status, 403);
  EXPECT_EQ(CheckAdminRequest("GET", "127.0.0.1", "", "cross-site", "", tok)->reason,
            "admin_browser_origin");
  EXPECT_FALSE(CheckAdminRequest("GET", "127.0.0.1", "", "none", "", tok).has_value());
  auto m = CheckAdminRequest("POST", "127.0.0.1", "", "", "", tok);
  EXPECT_EQ(m->reason, "admin_token_missing");
  EXPECT_EQ(m->status, 401);
  EXPECT_EQ(CheckAdminRequest("POST", "127.0.0.1", "", "", "Bearer nope", tok)->reason,
            "admin_token_invalid");
  EXPECT_EQ(CheckAdminRequest("POST", "127.0.0.1", "", "", "Basic " + tok, tok)->reason,
            "admin_token_invalid");
  EXPECT_EQ(CheckAdminRequest("POST", "127.0.0.1", "", "", auth + "x", tok)->reason,
            "admin_token_invalid");
  // No token configured: POST is refused whatever is sent (fail closed).
  EXPECT_EQ(CheckAdminRequest("POST", "127.0.0.1", "", "", "Bearer ", "")->reason,
            "admin_token_not_configured");
}

TEST(AdminServerTest, RefusesBeforeTheHandlerAndReportsTheReason) {
  int handled = 0;
  std::vector<AdminRefusal> refused;
  AdminOptions o;
  o.token = "0123456789abcdef0123";
  o.on_refused = [&](const AdminRefusal& r) { refused.push_back(r); };
  auto s = AdminServer::Create(
      "127.0.0.1:0",
      [&](const AdminRequest&) {
        ++handled;
        return Response{200, "{}", "application/json"};
      },
      o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  (*s)->Start();
  std::string out = LoopbackHttpExchange(
      (*s)->port(), "POST /admin/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: "
                    "http://evil.example\r\nContent-Length: 0\r\n\r\n");
  EXPECT_NE(out.find("403"), std::string::npos) << out;
  out = LoopbackHttpExchange((*s)->port(),
                             "POST /admin/reload\x01 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Content-Length: 0\r\n\r\n");
  out = LoopbackHttpExchange((*s)->port(),
                             "POST /admin/reload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Content-Length: 0\r\n\r\n");
  EXPECT_NE(out.find("401"), std::string::npos) << out;
  EXPECT_NE(out.find("Unauthorized"), std::string::npos) << out;
  out = LoopbackHttpExchange((*s)->port(),
                             "POST /admin/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
                             "Bearer 0123456789abcdef0123\r\nContent-Length: 0\r\n\r\n");
  EXPECT_NE(out.find("200 OK"), std::string::npos) << out;
  (*s)->Stop();
  EXPECT_EQ(handled, 1);
  ASSERT_GE(refused.size(), 2u);
  EXPECT_EQ(refused.front().reason, "admin_browser_origin");
  EXPECT_EQ(refused.front().path, "/admin/reload");
  EXPECT_EQ(refused.back().reason, "admin_token_missing");
  for (const auto& r : refused)
    for (char c : r.path) EXPECT_TRUE(c >= 0x20 && c < 0x7f);
}

// ---- ProbeServer (issue 14 item 5) -------------------------------------------------------------

TEST(ProbeListenTest, AnyAddressIsAcceptedButTheSyntaxIsChecked) {
  EXPECT_TRUE(ParseListenAddress("probe_listen", "0.0.0.0:9465", false).ok());
  EXPECT_TRUE(ParseListenAddress("probe_listen", "10.1.2.3:9465", false).ok());
  EXPECT_TRUE(ParseListenAddress("probe_listen", "[::]:9465", false).ok());
  EXPECT_EQ(ParseListenAddress("probe_listen", "localhost:1", false)->host, "127.0.0.1");
  auto bad = ParseListenAddress("probe_listen", "gateway.example:9465", false);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("probe_listen"), std::string::npos);
  EXPECT_FALSE(ParseListenAddress("probe_listen", "0.0.0.0", false).ok());
  EXPECT_FALSE(ParseListenAddress("probe_listen", "0.0.0.0:65536", false).ok());
  // The admin listener still refuses them, and says where a scrape address belongs.
  auto admin = ParseListenAddress("admin_listen", "0.0.0.0:9464", true);
  ASSERT_FALSE(admin.ok());
  EXPECT_NE(admin.status().message().find("probe_listen"), std::string::npos);
}

class ProbeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ProbeServer::Create("0.0.0.0:0", [this](std::string_view path) {
      ++calls_;
      return Response{200, "path=" + std::string(path), "text/plain"};
    });
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    server_->Start();
  }
  std::string Exchange(const std::string& request) {
    return LoopbackHttpExchange(server_->port(), request);
  }
  std::atomic<int> calls_{0};
  std::unique_ptr<ProbeServer> server_;
};

TEST_F(ProbeServerTest, ServesOnlyGetOfTheThreeProbePaths) {
  for (const char* path : {"/livez", "/readyz", "/metrics"}) {
    // No Host check (Prometheus and kubelet use the pod's address), no token.
    std::string out = Exchange(std::string("GET ") + path + "?x=1 HTTP/1.1\r\nHost: 10.0.0.7:9465\r\n\r\n");
    EXPECT_NE(out.find("HTTP/1.1 200"), std::string::npos) << out;
    EXPECT_NE(out.find(std::string("path=") + path), std::string::npos) << out;
  }
  EXPECT_EQ(calls_.load(), 3);
  for (const char* method : {"POST", "PUT", "DELETE", "HEAD", "OPTIONS"}) {
    std::string out = Exchange(std::string(method) +
                               " /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    EXPECT_NE(out.find("HTTP/1.1 405"), std::string::npos) << method << ": " << out;
    EXPECT_NE(out.find("Allow: GET"), std::string::npos) << out;
  }
  for (const char* path : {"/", "/healthz", "/admin/reload", "/metrics/x", "/livez/../admin"}) {
    std::string out = Exchange(std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_NE(out.find("HTTP/1.1 404"), std::string::npos) << path << ": " << out;
  }
  EXPECT_EQ(calls_.load(), 3) << "the handler saw a refused request";
}

TEST_F(ProbeServerTest, RefusesBodiesAndOversizedHeadersWithoutCallingTheHandler) {
  EXPECT_EQ(Exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
                .find("HTTP/1.1 200"),
            std::string::npos);
  EXPECT_EQ(Exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " +
                     std::string(kProbeMaxHeaderBytes, 'a') + "\r\n\r\n")
                .find("HTTP/1.1 200"),
            std::string::npos);
  EXPECT_EQ(Exchange("garbage\r\n\r\n").find("HTTP/1.1 200"), std::string::npos);
  EXPECT_EQ(calls_.load(), 0);
  // Still serving afterwards.
  EXPECT_NE(Exchange("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n").find("HTTP/1.1 200"),
            std::string::npos);
}

}  // namespace
}  // namespace vv::http

// AdminServer: loopback-only plain HTTP listener for /metrics and admin endpoints.

#include "http/admin_server.h"

#include <gtest/gtest.h>

#include "fakes/raw_http.h"

namespace vv::http {
namespace {

using vv::testing::LoopbackHttpExchange;

TEST(AdminListenTest, OnlyLoopbackAddressesAreAccepted) {
  EXPECT_TRUE(ParseLoopbackListen("127.0.0.1:9464").ok());
  EXPECT_TRUE(ParseLoopbackListen("[::1]:9464").ok());
  EXPECT_EQ(ParseLoopbackListen("localhost:0")->host, "127.0.0.1");
  EXPECT_FALSE(ParseLoopbackListen("0.0.0.0:9464").ok());
  EXPECT_FALSE(ParseLoopbackListen("10.1.2.3:9464").ok());
  EXPECT_FALSE(ParseLoopbackListen("127.0.0.1").ok());
  EXPECT_FALSE(ParseLoopbackListen("127.0.0.1:99999").ok());
  EXPECT_FALSE(ParseLoopbackListen("").ok());
}

TEST(AdminServerTest, ServesTheHandlerAndClosesTheConnection) {
  auto s = AdminServer::Create("127.0.0.1:0", [](const AdminRequest& r) {
    if (r.path == "/metrics") return Response{200, "vv_x_total 1\n", "text/plain"};
    return Response{404, "{}", "application/json"};
  });
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  (*s)->Start();
  std::string out = LoopbackHttpExchange((*s)->port(), "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(out.find("200 OK"), std::string::npos) << out;
  EXPECT_NE(out.find("vv_x_total 1"), std::string::npos);
  out = LoopbackHttpExchange((*s)->port(), "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(out.find("404"), std::string::npos);
  (*s)->Stop();
}

}  // namespace
}  // namespace vv::http

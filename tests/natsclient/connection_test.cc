// natsclient::Connect against a real nats-server: connects, refuses bad options cleanly,
// reports an unreachable server as Unavailable, and with require_connection=false returns a
// connection that attaches once the server comes up.

#include "natsclient/connection.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "fakes/servers.h"

namespace vv::natsclient {
namespace {

using vv::testing::FreeLoopbackPort;
using vv::testing::NatsServer;

ConnectOptions Options(const std::string& url) {
  ConnectOptions o;
  o.url = url;
  o.name = "natsclient-test";
  o.connect_timeout_ms = 500;
  o.reconnect_wait_ms = 50;
  return o;
}

TEST(NatsConnectTest, ConnectsToARunningServer) {
  NatsServer server;
  VV_REQUIRE_SERVER(server);
  auto nc = Connect(Options(server.url()), "test");
  ASSERT_TRUE(nc.ok()) << nc.status().ToString();
  EXPECT_EQ(natsConnection_Status(*nc), NATS_CONN_STATUS_CONNECTED);
  natsConnection_Destroy(*nc);
}

TEST(NatsConnectTest, UnreachableServerIsUnavailableNamingTheUrl) {
  const std::string url = "nats://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  auto nc = Connect(Options(url), "jetstream queue");
  ASSERT_FALSE(nc.ok());
  EXPECT_EQ(nc.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(nc.status().message().find("jetstream queue: cannot connect to NATS at " + url),
            std::string::npos)
      << nc.status().message();
}

TEST(NatsConnectTest, BadOptionsAreInvalidArgument) {
  ConnectOptions o = Options("nats://127.0.0.1:4222");
  o.tls_ca_file = "/nonexistent/ca.pem";
  auto nc = Connect(o, "test");
  ASSERT_FALSE(nc.ok());
  EXPECT_EQ(nc.status().code(), StatusCode::kInvalidArgument) << nc.status().ToString();
  ConnectOptions creds = Options("nats://127.0.0.1:4222");
  creds.creds_file = "/nonexistent/user.creds";
  EXPECT_FALSE(Connect(creds, "test").ok());
}

TEST(NatsConnectTest, WithoutRequireConnectionItAttachesWhenTheServerStarts) {
  NatsServer server;
  VV_REQUIRE_SERVER(server);
  const std::string url = server.url();
  server.Stop();
  ConnectOptions o = Options(url);
  o.require_connection = false;
  auto nc = Connect(o, "audit anchor");
  ASSERT_TRUE(nc.ok()) << nc.status().ToString();
  EXPECT_NE(natsConnection_Status(*nc), NATS_CONN_STATUS_CONNECTED);
  ASSERT_TRUE(server.Restart().ok());
  bool connected = false;
  for (int i = 0; i < 100 && !connected; ++i) {
    connected = natsConnection_Status(*nc) == NATS_CONN_STATUS_CONNECTED;
    if (!connected) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(connected);
  natsConnection_Destroy(*nc);
}

}  // namespace
}  // namespace vv::natsclient

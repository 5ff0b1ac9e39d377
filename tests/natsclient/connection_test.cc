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

TEST(NatsConnectTest, SeedListStartsWithTheFirstSeedDownAndFailsClosedWithNone) {
  NatsServer server;
  VV_REQUIRE_SERVER(server);
  const std::string down = "nats://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  // One seed down, one up: connects (whatever order nats.c tries them in).
  auto nc = Connect(Options(down + "," + server.url()), "test");
  ASSERT_TRUE(nc.ok()) << nc.status().ToString();
  EXPECT_TRUE(IsConnected(*nc));
  EXPECT_EQ(ConnectedServer(*nc), server.url());
  natsConnection_Destroy(*nc);
  // No seed answers: Unavailable, the credentials of the list never in the message.
  const std::string down2 = "nats://user:hunter2@127.0.0.1:" + std::to_string(FreeLoopbackPort());
  auto none = Connect(Options(down + "," + down2), "jetstream queue");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(none.status().message().find("hunter2"), std::string::npos) << none.status().message();
  EXPECT_NE(none.status().message().find("***@127.0.0.1"), std::string::npos)
      << none.status().message();
}

TEST(NatsConnectTest, InvalidSeedListIsInvalidArgumentBeforeConnecting) {
  auto nc = Connect(Options("nats://127.0.0.1:4222,http://x:1"), "test");
  ASSERT_FALSE(nc.ok());
  EXPECT_EQ(nc.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(nc.status().message().find("entry 2"), std::string::npos) << nc.status().message();
}

}  // namespace
}  // namespace vv::natsclient

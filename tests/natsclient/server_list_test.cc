// The NATS seed list parser: accepted forms, every refusal with a clear message that never
// echoes credentials, redaction, and the reconnect backoff curve.

#include "natsclient/server_list.h"

#include <gtest/gtest.h>

#include "natsclient/options.h"

namespace vv::natsclient {
namespace {

std::string Error(std::string_view list) {
  auto r = ParseServerList(list);
  EXPECT_FALSE(r.ok()) << list;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(ServerListTest, AcceptsSeedListsOfOneScheme) {
  auto r = ParseServerList("nats://a.example:4222, nats://10.0.0.2:4223,nats://[::1]:4224");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].Full(), "nats://a.example:4222");
  EXPECT_EQ((*r)[1].host, "10.0.0.2");
  EXPECT_EQ((*r)[1].port, 4223);
  EXPECT_EQ((*r)[2].Full(), "nats://[::1]:4224");
  auto t = ParseServerList("tls://user:pw@n1:4222,tls://n2:4222");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)[0].Full(), "tls://user:pw@n1:4222");
  EXPECT_EQ((*t)[0].Redacted(), "tls://***@n1:4222");
}

TEST(ServerListTest, RefusesBadEntriesNamingThePosition) {
  EXPECT_NE(Error("").find("empty"), std::string::npos);
  EXPECT_NE(Error("nats://a:4222,").find("entry 2: is empty"), std::string::npos);
  EXPECT_NE(Error("http://a:4222").find("nats:// or tls://"), std::string::npos);
  EXPECT_NE(Error("NATS://a:4222").find("nats:// or tls://"), std::string::npos);
  EXPECT_NE(Error("nats://a").find("explicit port"), std::string::npos);
  EXPECT_NE(Error("nats://a:0").find("1..65535"), std::string::npos);
  EXPECT_NE(Error("nats://a:65536").find("1..65535"), std::string::npos);
  EXPECT_NE(Error("nats://a:4222/path").find("port"), std::string::npos);
  EXPECT_NE(Error("nats://:4222").find("no host"), std::string::npos);
  EXPECT_NE(Error("nats://a_b:4222").find("host"), std::string::npos);
  EXPECT_NE(Error("nats://-a:4222").find("host"), std::string::npos);
  EXPECT_NE(Error("nats://[zz]:4222").find("host"), std::string::npos);
  EXPECT_NE(Error("nats://@a:4222").find("user part"), std::string::npos);
  EXPECT_NE(Error("nats://a:4222,tls://b:4222").find("entry 2: mixes"), std::string::npos);
}

TEST(ServerListTest, BoundsCountAndLength) {
  std::string list;
  for (size_t i = 0; i <= kMaxServers; ++i) list += (i ? "," : "") + std::string("nats://h:4222");
  EXPECT_NE(Error(list).find("more than 16"), std::string::npos);
  EXPECT_NE(Error("nats://" + std::string(600, 'a') + ":4222").find("longer than"),
            std::string::npos);
  EXPECT_NE(Error(std::string(20000, ',')).find("too long"), std::string::npos);
}

TEST(ServerListTest, ErrorsAndRedactionNeverShowCredentials) {
  const std::string secret = "s3cr3t-token";
  for (const std::string& bad :
       {"nats://u:" + secret + "@h:4222,nats://" + secret + "@h", "tls://" + secret + "@h:99999",
        "nats://u:" + secret + "@h:4222,tls://x:1"}) {
    EXPECT_EQ(Error(bad).find(secret), std::string::npos) << bad;
    EXPECT_EQ(RedactServerList(bad).find(secret), std::string::npos) << bad;
  }
  EXPECT_EQ(RedactServerList("nats://u:" + secret + "@a:4222,nats://" + secret + "@b:4222"),
            "nats://***@a:4222,nats://***@b:4222");
  EXPECT_EQ(RedactServerList(""), "");
}

TEST(ReconnectBackoffTest, GrowsExponentiallyWithJitterUpToTheCap) {
  // Full jitter under an exponential ceiling: 250, 500, 1000, ... capped at 5000.
  EXPECT_EQ(ReconnectDelayMs(1, 250, 5000, 0.999999), 249);
  EXPECT_EQ(ReconnectDelayMs(2, 250, 5000, 0.5), 250);
  EXPECT_EQ(ReconnectDelayMs(3, 250, 5000, 0.5), 500);
  EXPECT_EQ(ReconnectDelayMs(10, 250, 5000, 0.5), 2500);
  EXPECT_EQ(ReconnectDelayMs(1000, 250, 5000, 1.0), 5000);  // no overflow for large attempts
  // Never below half the base (no hot loop when the draw is ~0).
  EXPECT_EQ(ReconnectDelayMs(5, 250, 5000, 0.0), 125);
}

TEST(ConnectOptionsTest, ValidateRefusesHalfAKeyPairAndBadTimeouts) {
  ConnectOptions o;
  o.url = "nats://127.0.0.1:4222";
  EXPECT_TRUE(ValidateOptions(o).ok());
  o.tls_cert_file = "/x/cert.pem";
  EXPECT_FALSE(ValidateOptions(o).ok());
  o.tls_key_file = "/x/key.pem";
  EXPECT_TRUE(ValidateOptions(o).ok());
  o.reconnect_wait_max_ms = 10;  // below reconnect_wait_ms
  EXPECT_FALSE(ValidateOptions(o).ok());
  o.reconnect_wait_max_ms = 5000;
  o.url = "nats://127.0.0.1";
  EXPECT_FALSE(ValidateOptions(o).ok());
}

}  // namespace
}  // namespace vv::natsclient

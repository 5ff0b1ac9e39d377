// The one listen-address parser (common/host_port.h): syntax (SplitHostPort) and the listener
// rules (ParseListenAddress) the gateway's admin/probe listeners and the config checks share.
#include "common/host_port.h"

#include <gtest/gtest.h>

namespace vv {
namespace {

HostPortError Split(std::string_view s, HostPort* hp = nullptr) {
  HostPort ignored;
  return SplitHostPort(s, hp ? hp : &ignored);
}

TEST(SplitHostPortTest, HostAndPortAndBracketedIpv6) {
  HostPort hp;
  ASSERT_EQ(Split("127.0.0.1:8443", &hp), HostPortError::kNone);
  EXPECT_EQ(hp.host, "127.0.0.1");
  EXPECT_EQ(hp.port, 8443);
  ASSERT_EQ(Split("[::1]:9464", &hp), HostPortError::kNone);
  EXPECT_EQ(hp.host, "::1");
  EXPECT_EQ(hp.port, 9464);
  ASSERT_EQ(Split("gateway.internal:443", &hp), HostPortError::kNone);  // names pass the syntax
  EXPECT_EQ(hp.host, "gateway.internal");
  ASSERT_EQ(Split(":8443", &hp), HostPortError::kNone);  // an empty host is the caller's call
  EXPECT_EQ(hp.host, "");
}

TEST(SplitHostPortTest, PortBounds) {
  HostPort hp;
  ASSERT_EQ(Split("0.0.0.0:0", &hp), HostPortError::kNone);  // 0: the system picks one
  EXPECT_EQ(hp.port, 0);
  ASSERT_EQ(Split("[::]:65535", &hp), HostPortError::kNone);
  EXPECT_EQ(hp.port, 65535);
  EXPECT_EQ(Split("127.0.0.1:65536"), HostPortError::kBadPort);
  EXPECT_EQ(Split("127.0.0.1:99999"), HostPortError::kBadPort);
  EXPECT_EQ(Split("127.0.0.1:008443"), HostPortError::kBadPort);  // more than 5 digits
  EXPECT_EQ(Split("127.0.0.1:"), HostPortError::kBadPort);
  EXPECT_EQ(Split("127.0.0.1:-1"), HostPortError::kBadPort);
  EXPECT_EQ(Split("127.0.0.1:+80"), HostPortError::kBadPort);
  EXPECT_EQ(Split("127.0.0.1:80 "), HostPortError::kBadPort);
  EXPECT_EQ(Split("host:abc"), HostPortError::kBadPort);
}

TEST(SplitHostPortTest, MissingPortBracketsAndJunk) {
  EXPECT_EQ(Split("127.0.0.1"), HostPortError::kNoPort);
  EXPECT_EQ(Split("localhost"), HostPortError::kNoPort);
  EXPECT_EQ(Split(""), HostPortError::kNoPort);
  EXPECT_EQ(Split("[::1]"), HostPortError::kBadBrackets);
  EXPECT_EQ(Split("[::1]:"), HostPortError::kBadPort);  // brackets fine, the port is missing
  EXPECT_EQ(Split("[::1:8443"), HostPortError::kBadBrackets);
  EXPECT_EQ(Split("[::1]8443"), HostPortError::kBadBrackets);
  EXPECT_EQ(Split("::1:8443"), HostPortError::kUnbracketedIpv6);  // which part is the port?
  EXPECT_EQ(Split("a:b:c"), HostPortError::kUnbracketedIpv6);
  HostPort untouched{"keep", 7};
  EXPECT_NE(SplitHostPort("junk", &untouched), HostPortError::kNone);
  EXPECT_EQ(untouched.host, "keep");
  EXPECT_EQ(untouched.port, 7);
}

// URL authorities and Host headers: the port may be omitted (the default), never 0.
TEST(SplitAuthorityTest, OptionalPortDefaultAndBrackets) {
  HostPort hp;
  ASSERT_EQ(SplitAuthority("redis.internal", 6379, &hp), HostPortError::kNone);
  EXPECT_EQ(hp.host, "redis.internal");
  EXPECT_EQ(hp.port, 6379);
  ASSERT_EQ(SplitAuthority("redis.internal:6380", 6379, &hp), HostPortError::kNone);
  EXPECT_EQ(hp.port, 6380);
  ASSERT_EQ(SplitAuthority("[::1]", 443, &hp), HostPortError::kNone);
  EXPECT_EQ(hp.host, "::1");
  EXPECT_EQ(hp.port, 443);
  ASSERT_EQ(SplitAuthority("[fe80::1]:65535", 443, &hp), HostPortError::kNone);
  EXPECT_EQ(hp.host, "fe80::1");
  EXPECT_EQ(hp.port, 65535);
  ASSERT_EQ(SplitAuthority("10.0.0.1:1", 443, &hp), HostPortError::kNone);
  EXPECT_EQ(hp.port, 1);
}

TEST(SplitAuthorityTest, RefusesWhatAUrlCannotMean) {
  HostPort hp{"keep", 7};
  EXPECT_EQ(SplitAuthority("", 443, &hp), HostPortError::kNoHost);
  EXPECT_EQ(SplitAuthority(":443", 443, &hp), HostPortError::kNoHost);
  EXPECT_EQ(SplitAuthority("[]:443", 443, &hp), HostPortError::kNoHost);
  EXPECT_EQ(SplitAuthority("host:", 443, &hp), HostPortError::kBadPort);
  EXPECT_EQ(SplitAuthority("host:0", 443, &hp), HostPortError::kBadPort);
  EXPECT_EQ(SplitAuthority("host:65536", 443, &hp), HostPortError::kBadPort);
  EXPECT_EQ(SplitAuthority("host:000443", 443, &hp), HostPortError::kBadPort);
  EXPECT_EQ(SplitAuthority("host:44x", 443, &hp), HostPortError::kBadPort);
  EXPECT_EQ(SplitAuthority("host:+44", 443, &hp), HostPortError::kBadPort);
  EXPECT_EQ(SplitAuthority("[::1", 443, &hp), HostPortError::kBadBrackets);
  EXPECT_EQ(SplitAuthority("[::1]x", 443, &hp), HostPortError::kBadBrackets);
  EXPECT_EQ(SplitAuthority("[::1]:", 443, &hp), HostPortError::kBadPort);
  EXPECT_EQ(SplitAuthority("::1", 443, &hp), HostPortError::kUnbracketedIpv6);
  EXPECT_EQ(SplitAuthority("::1:6379", 443, &hp), HostPortError::kUnbracketedIpv6);
  EXPECT_EQ(hp.host, "keep");  // untouched on every error
  EXPECT_EQ(hp.port, 7);
  EXPECT_STREQ(HostPortErrorText(HostPortError::kNoHost), "missing host");
}

TEST(ParseListenAddressTest, IpLiteralsLocalhostAndLoopback) {
  auto v6 = ParseListenAddress("admin_listen", "[::1]:9464", /*loopback_only=*/true);
  ASSERT_TRUE(v6.ok()) << v6.status().message();
  EXPECT_EQ(v6->host, "::1");
  auto local = ParseListenAddress("admin_listen", "localhost:0", true);
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->host, "127.0.0.1");
  EXPECT_EQ(local->port, 0);
  EXPECT_TRUE(ParseListenAddress("admin_listen", "127.1.2.3:9464", true).ok());
  EXPECT_TRUE(ParseListenAddress("probe_listen", "[::]:9465", false).ok());
  EXPECT_TRUE(ParseListenAddress("probe_listen", "10.1.2.3:9465", false).ok());

  auto wide = ParseListenAddress("admin_listen", "0.0.0.0:9464", true);
  ASSERT_FALSE(wide.ok());
  EXPECT_EQ(wide.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wide.status().message().find("only a loopback address"), std::string::npos);
  EXPECT_FALSE(ParseListenAddress("admin_listen", "[::]:9464", true).ok());
}

TEST(ParseListenAddressTest, MessagesNameTheKeyTheValueAndTheRule) {
  EXPECT_EQ(ParseListenAddress("probe_listen", "0.0.0.0", false).status().message(),
            "probe_listen '0.0.0.0': expected host:port");
  EXPECT_EQ(ParseListenAddress("probe_listen", "[::1:9465", false).status().message(),
            "probe_listen '[::1:9465': expected [addr]:port");
  EXPECT_EQ(ParseListenAddress("probe_listen", "0.0.0.0:65536", false).status().message(),
            "probe_listen '0.0.0.0:65536': invalid port");
  EXPECT_EQ(ParseListenAddress("probe_listen", "::1:9465", false).status().message(),
            "probe_listen '::1:9465': IPv6 hosts must be bracketed, e.g. [::1]:8443");
  EXPECT_EQ(ParseListenAddress("probe_listen", "gateway.example:9465", false).status().message(),
            "probe_listen 'gateway.example:9465': the host must be an IP address or localhost");
  EXPECT_EQ(ParseListenAddress("probe_listen", ":9465", false).status().message(),
            "probe_listen ':9465': the host must be an IP address or localhost");
}

}  // namespace
}  // namespace vv

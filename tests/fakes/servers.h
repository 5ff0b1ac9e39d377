#pragma once
// Real backend servers for integration and conformance tests: RedisServer (redis-server) and
// NatsServer (nats-server -js), each started on a free loopback port with its data in a
// private TempDir, polled until it answers, and stopped (SIGTERM, then SIGKILL) in the
// destructor. Stop()/Restart() keep the port and the data directory, so clients configured
// with url() reconnect to the "same" server after an outage test.
//
// Missing binaries: Start() returns a clear error; tests call VV_REQUIRE_SERVER(server),
// which FAILS the test (GTEST_FAIL) unless VV_ALLOW_MISSING_SERVERS=1 is set in the
// environment, in which case the test is skipped (GTEST_SKIP). CI never silently skips.
//
// Thread-safety: none; a fixture object is used from the test's thread. Ownership: owns the
// child process and the temp dir.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/status.h"
#include "fakes/process.h"
#include "fakes/temp_dir.h"

namespace vv::testing {

// A loopback TCP port that was free a moment ago (bind to port 0, read it back, close), never
// one this process was handed before: the kernel may give back a port it just released, and
// one server's two ports (a NATS node's client and route ports) once came out equal. 0 when
// no port could be found. Thread-safe.
int FreeLoopbackPort();
// First existing executable among `candidates` (absolute paths) and $PATH lookups of `name`.
std::optional<std::string> FindBinary(const std::string& name);
// True when VV_ALLOW_MISSING_SERVERS=1.
bool AllowMissingServers();

class TestServer {
 public:
  virtual ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  // Starts the server (first call) and waits until it answers (up to 10 s).
  Status Start();
  // Stops the server (SIGKILL when `hard`, else SIGTERM); the port and data dir are kept.
  void Stop(bool hard = false);
  // Starts it again on the same port with the same data dir and waits until it answers.
  Status Restart();
  bool running() const { return process_ != nullptr; }
  int port() const { return port_; }
  // Process id while running (e.g. for SIGSTOP/SIGCONT freeze tests), else -1.
  int pid() const { return process_ ? static_cast<int>(process_->pid()) : -1; }
  std::string host() const { return "127.0.0.1"; }
  virtual std::string url() const = 0;
  std::string Log() const;
  // Whether the binary exists (set by the constructor).
  bool binary_found() const { return binary_.has_value(); }
  const std::string& name() const { return name_; }

 protected:
  explicit TestServer(std::string name);
  virtual std::vector<std::string> Argv() const = 0;
  // True once the server answers a protocol-level probe on port().
  virtual bool Answers() const = 0;

  std::string name_;
  std::optional<std::string> binary_;
  TempDir dir_;
  int port_ = 0;
  int starts_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// The least-privilege ACL the docs recommend for the gateway's Redis user (docs/operations.md):
// its own key and channel namespace, reads, writes and scripts, PING/AUTH/SELECT and ROLE
// (sentinel mode checks it), nothing dangerous.
inline constexpr const char* kGatewayRedisAclRules[] = {
    "resetkeys", "~vv:tg:*", "resetchannels", "&vv:tg:*", "-@all", "+@read", "+@write",
    "+@scripting", "+@connection", "-@dangerous", "+role", "+publish", "+select"};

struct RedisServerOptions {
  // Non-empty acl_user: the `default` user is disabled and `acl_user` (kGatewayRedisAclRules,
  // password acl_password) exists, plus `admin_user` (+@all; replication and sentinels) when
  // that is set.
  std::string acl_user, acl_password;
  std::string admin_user, admin_password;
  // Non-zero: a replica of 127.0.0.1:<replica_of_port>, authenticating as admin_user.
  int replica_of_port = 0;
};

// The conformance suites' Redis variants: "redis" (no AUTH) and "redis_acl" (the default user
// off, the gateway's least-privilege ACL user with a password; issue 14).
RedisServerOptions RedisOptionsFor(const std::string& variant);

// redis-server --port <p> --bind 127.0.0.1 --save "" --appendonly no (data dir in a TempDir).
class RedisServer final : public TestServer {
 public:
  explicit RedisServer(RedisServerOptions options = {});
  // redis://[acl_user@]127.0.0.1:<port>/0 (never a password: it is options().acl_password)
  std::string url() const override;
  const RedisServerOptions& options() const { return options_; }
 protected:
  std::vector<std::string> Argv() const override;
  bool Answers() const override;     // (AUTH as admin/acl user, then) PING -> +PONG
 private:
  RedisServerOptions options_;
};

// redis-server <conf> --sentinel monitoring `service` at 127.0.0.1:<master_port> with quorum
// 2, down-after-milliseconds 1000 and failover-timeout 5000 (tests fail over in seconds),
// `requirepass`/`sentinel sentinel-pass` = sentinel_password when set, and
// `sentinel auth-user/auth-pass` for the monitored nodes (their admin user) when set. The
// config file lives in the TempDir (sentinels rewrite it with what they learn).
struct RedisSentinelOptions {
  int master_port = 0;
  std::string service = "vv-redis";
  std::string sentinel_password;
  std::string auth_user, auth_password;
};
class RedisSentinel final : public TestServer {
 public:
  explicit RedisSentinel(RedisSentinelOptions options);
  std::string url() const override;  // 127.0.0.1:<port>
 protected:
  std::vector<std::string> Argv() const override;
  bool Answers() const override;  // (AUTH, then) PING -> +PONG
 private:
  RedisSentinelOptions options_;
};

// redis-server with TLS only (issue 12): --port 0 --tls-port <p> with the dev PKI's server
// certificate (SAN localhost, 127.0.0.1) and a password (requirepass). url() is
// rediss://:<password>@127.0.0.1:<p>/0; ca_path() verifies it.
class RedisTlsServer final : public TestServer {
 public:
  explicit RedisTlsServer(std::string password = "tls-test-password");
  std::string url() const override;
  std::string ca_path() const { return (dir_.path() / "pki" / "ca.crt").string(); }
  const std::string& password() const { return password_; }
 protected:
  std::vector<std::string> Argv() const override;
  bool Answers() const override;  // the TLS listener accepts and answers PING (openssl s_client)
 private:
  std::string password_;
};

// Master + replica + 3 sentinels (issue 14), all requiring AUTH: the nodes have the gateway's
// ACL user (kUserPassword) and an admin user for replication and the sentinels, the sentinels
// a password (kSentinelPassword). Start() starts them on free loopback ports and waits (up to
// 60 s) until every sentinel knows the replica and the two other sentinels and the replica is
// in sync, so a failover can happen. Usable with VV_REQUIRE_SERVER.
class RedisSentinelTopology {
 public:
  static constexpr const char* kService = "vv-redis";
  static constexpr const char* kUser = "vv-gateway";
  static constexpr const char* kUserPassword = "gw-acl-password-7f3a";
  static constexpr const char* kAdminUser = "vv-admin";
  static constexpr const char* kAdminPassword = "admin-password-91bc";
  static constexpr const char* kSentinelPassword = "sentinel-password-55d2";

  RedisSentinelTopology();
  Status Start();
  bool binary_found() const { return master_.binary_found(); }
  const std::string& name() const { return master_.name(); }
  std::string Log() const;
  // redis-sentinel://vv-gateway@127.0.0.1:<s1>,.../vv-redis/0 (no password inside)
  std::string url() const;
  RedisServer& master() { return master_; }
  RedisServer& replica() { return *replica_; }
  std::vector<std::unique_ptr<RedisSentinel>>& sentinels() { return sentinels_; }

 private:
  RedisServer master_;
  std::unique_ptr<RedisServer> replica_;
  std::vector<std::unique_ptr<RedisSentinel>> sentinels_;
};

// nats-server -js -a 127.0.0.1 -p <p> -sd <tmpdir>.
class NatsServer final : public TestServer {
 public:
  NatsServer();
  std::string url() const override;  // nats://127.0.0.1:<port>
 protected:
  std::vector<std::string> Argv() const override;
  bool Answers() const override;     // the server's INFO line arrives
};

}  // namespace vv::testing

// Starts `server` (a TestServer) or fails/skips the current test with a clear message.
// Use inside a TEST body or SetUp() (returns from it).
#define VV_REQUIRE_SERVER(server)                                                         \
  do {                                                                                    \
    if (!(server).binary_found()) {                                                       \
      if (::vv::testing::AllowMissingServers()) {                                         \
        GTEST_SKIP() << (server).name() << " not installed (VV_ALLOW_MISSING_SERVERS=1)"; \
      }                                                                                   \
      GTEST_FAIL() << (server).name()                                                     \
                   << " binary not found: install it (scripts/install-deps.sh) or set "   \
                      "VV_ALLOW_MISSING_SERVERS=1 to skip";                               \
    }                                                                                     \
    ::vv::Status _vv_start = (server).Start();                                            \
    if (!_vv_start.ok()) GTEST_FAIL() << _vv_start.ToString() << "\n" << (server).Log();  \
  } while (0)

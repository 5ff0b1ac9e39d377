#include "fakes/servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

namespace vv::testing {

namespace {

int ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads until `needle` appears in the received bytes or 500 ms pass.
bool ReadContains(int fd, const std::string& needle) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return false;
    got.append(buf, static_cast<size_t>(n));
    if (got.find(needle) != std::string::npos) return true;
  }
  return false;
}

int KernelFreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace

int FreeLoopbackPort() {
  static std::mutex mu;
  static std::set<int> handed_out;  // test support: the ports of this process's servers
  for (int attempt = 0; attempt < 256; ++attempt) {
    const int port = KernelFreeLoopbackPort();
    if (port == 0) return 0;
    std::lock_guard<std::mutex> l(mu);
    if (handed_out.insert(port).second) return port;
  }
  return 0;
}

std::optional<std::string> FindBinary(const std::string& name) {
  namespace fs = std::filesystem;
  std::vector<std::string> dirs = {"/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"};
  if (const char* path = std::getenv("PATH")) {
    std::string p(path);
    size_t start = 0;
    while (start <= p.size()) {
      size_t end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      if (end > start) dirs.push_back(p.substr(start, end - start));
      start = end + 1;
    }
  }
  for (const auto& d : dirs) {
    fs::path candidate = fs::path(d) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return std::nullopt;
}

bool AllowMissingServers() {
  const char* v = std::getenv("VV_ALLOW_MISSING_SERVERS");
  return v != nullptr && std::string(v) == "1";
}

// ---- TestServer -----------------------------------------------------------------------------

TestServer::TestServer(std::string name) : name_(std::move(name)), binary_(FindBinary(name_)) {}

TestServer::~TestServer() { Stop(/*hard=*/true); }

Status TestServer::Start() {
  if (running()) return Status::Ok();
  if (!binary_) return Status::NotFound(name_ + " binary not found");
  if (port_ == 0) port_ = FreeLoopbackPort();
  if (port_ == 0) return Status::Unavailable("no free loopback port");
  ++starts_;
  std::vector<std::string> argv = Argv();
  process_ = std::make_unique<ChildProcess>(
      argv, dir_.File(name_ + "-" + std::to_string(starts_) + ".log"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Answers()) return Status::Ok();
    if (process_->WaitExit(std::chrono::milliseconds(0))) {
      std::string log = process_->Log();
      process_.reset();
      return Status::Unavailable(name_ + " exited during start-up: " + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string log = process_->Log();
  Stop(true);
  return Status::Unavailable(name_ + " did not answer within 10 s on port " +
                             std::to_string(port_) + ": " + log);
}

void TestServer::Stop(bool hard) {
  if (!process_) return;
  process_->Terminate(hard ? 9 : 15, std::chrono::seconds(5));
  process_.reset();
}

Status TestServer::Restart() {
  Stop(false);
  return Start();
}

std::string TestServer::Log() const {
  if (process_) return process_->Log();
  return {};
}

// ---- RedisServer ----------------------------------------------------------------------------

RedisServer::RedisServer(RedisServerOptions options)
    : TestServer("redis-server"), options_(std::move(options)) {}

std::string RedisServer::url() const {
  const std::string user = options_.acl_user.empty() ? "" : options_.acl_user + "@";
  return "redis://" + user + "127.0.0.1:" + std::to_string(port_) + "/0";
}

std::vector<std::string> RedisServer::Argv() const {
  std::vector<std::string> argv = {*binary_, "--port", std::to_string(port_), "--bind",
                                   "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                                   dir_.path().string(), "--protected-mode", "no"};
  if (!options_.acl_user.empty()) {
    argv.insert(argv.end(), {"--user", "default", "off", "--user", options_.acl_user, "on",
                             ">" + options_.acl_password});
    for (const char* rule : kGatewayRedisAclRules) argv.push_back(rule);
  }
  if (!options_.admin_user.empty())
    argv.insert(argv.end(), {"--user", options_.admin_user, "on", ">" + options_.admin_password,
                             "~*", "&*", "+@all"});
  if (options_.replica_of_port != 0) {
    argv.insert(argv.end(), {"--replicaof", "127.0.0.1", std::to_string(options_.replica_of_port)});
    if (!options_.admin_user.empty())
      argv.insert(argv.end(), {"--masteruser", options_.admin_user, "--masterauth",
                               options_.admin_password});
  }
  return argv;
}

namespace {

// "AUTH user pass\r\n" (empty when no password) + "PING\r\n", answered with +PONG.
bool PingAs(int port, const std::string& user, const std::string& password) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return false;
  std::string req;
  if (!password.empty())
    req = "AUTH " + (user.empty() ? "" : user + " ") + password + "\r\n";
  req += "PING\r\n";
  bool ok = write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size()) &&
            ReadContains(fd, "+PONG");
  close(fd);
  return ok;
}

}  // namespace

bool RedisServer::Answers() const {
  if (!options_.admin_user.empty())
    return PingAs(port_, options_.admin_user, options_.admin_password);
  return PingAs(port_, options_.acl_user, options_.acl_password);
}

RedisServerOptions RedisOptionsFor(const std::string& variant) {
  RedisServerOptions o;
  if (variant == "redis_acl") {
    o.acl_user = "vv-gateway";
    o.acl_password = "conformance-acl-password-41f0";
  }
  return o;
}

// ---- RedisSentinel ----------------------------------------------------------------------------

RedisSentinel::RedisSentinel(RedisSentinelOptions options)
    : TestServer("redis-server"), options_(std::move(options)) {}

std::string RedisSentinel::url() const { return "127.0.0.1:" + std::to_string(port_); }

std::vector<std::string> RedisSentinel::Argv() const {
  const std::string conf = dir_.File("sentinel.conf");
  if (!std::filesystem::exists(conf)) {
    // Written once: the sentinel rewrites it with what it learns (kept across restarts).
    const std::string& svc = options_.service;
    std::string text = "port " + std::to_string(port_) + "\nbind 127.0.0.1\n" +
                       "protected-mode no\ndir " + dir_.path().string() + "\n" +
                       "sentinel monitor " + svc + " 127.0.0.1 " +
                       std::to_string(options_.master_port) + " 2\n" +
                       "sentinel down-after-milliseconds " + svc + " 1000\n" +
                       "sentinel failover-timeout " + svc + " 5000\n" +
                       "sentinel parallel-syncs " + svc + " 1\n";
    if (!options_.auth_user.empty())
      text += "sentinel auth-user " + svc + " " + options_.auth_user + "\nsentinel auth-pass " +
              svc + " " + options_.auth_password + "\n";
    if (!options_.sentinel_password.empty())
      text += "requirepass " + options_.sentinel_password + "\nsentinel sentinel-pass " +
              options_.sentinel_password + "\n";
    WriteFile(conf, text);
  }
  return {*binary_, conf, "--sentinel"};
}

bool RedisSentinel::Answers() const {
  return PingAs(port_, "", options_.sentinel_password);
}

// ---- RedisTlsServer -------------------------------------------------------------------------

RedisTlsServer::RedisTlsServer(std::string password)
    : TestServer("redis-server"), password_(std::move(password)) {
  // The dev PKI: its server certificate (gateway.crt) names localhost and 127.0.0.1.
  std::string out;
  const std::string pki = (dir_.path() / "pki").string();
  if (RunCommand({"/bin/bash", std::string(VV_SOURCE_DIR) + "/scripts/dev-pki.sh", pki}, &out) != 0)
    binary_.reset();  // Start() then reports the server as unavailable
}

std::string RedisTlsServer::url() const {
  return "rediss://:" + password_ + "@127.0.0.1:" + std::to_string(port_) + "/0";
}

std::vector<std::string> RedisTlsServer::Argv() const {
  const std::string pki = (dir_.path() / "pki").string();
  return {*binary_, "--port", "0", "--tls-port", std::to_string(port_), "--bind", "127.0.0.1",
          "--tls-cert-file", pki + "/gateway.crt", "--tls-key-file", pki + "/gateway.key",
          "--tls-ca-cert-file", pki + "/ca.crt", "--tls-auth-clients", "no",
          "--requirepass", password_, "--save", "", "--appendonly", "no",
          "--dir", dir_.path().string(), "--protected-mode", "no"};
}

bool RedisTlsServer::Answers() const {
  // No plaintext port to PING: the TLS listener accepts and the server says it is ready.
  int fd = ConnectLoopback(port_);
  if (fd < 0) return false;
  close(fd);
  return process_ && process_->Log().find("Ready to accept connections") != std::string::npos;
}

// ---- RedisSentinelTopology ----------------------------------------------------------------

namespace {

RedisServerOptions TopologyNode(int replica_of) {
  RedisServerOptions o;
  o.acl_user = RedisSentinelTopology::kUser;
  o.acl_password = RedisSentinelTopology::kUserPassword;
  o.admin_user = RedisSentinelTopology::kAdminUser;
  o.admin_password = RedisSentinelTopology::kAdminPassword;
  o.replica_of_port = replica_of;
  return o;
}

// Sends `request` (RESP inline commands) and waits for `needle` in the answer.
bool Answer(int port, const std::string& request, const std::string& needle) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return false;
  bool ok = write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()) &&
            ReadContains(fd, needle);
  close(fd);
  return ok;
}

}  // namespace

RedisSentinelTopology::RedisSentinelTopology() : master_(TopologyNode(0)) {}

Status RedisSentinelTopology::Start() {
  VV_RETURN_IF_ERROR(master_.Start());
  replica_ = std::make_unique<RedisServer>(TopologyNode(master_.port()));
  VV_RETURN_IF_ERROR(replica_->Start());
  for (int i = 0; i < 3; ++i) {
    RedisSentinelOptions o;
    o.service = kService;
    o.master_port = master_.port();
    o.sentinel_password = kSentinelPassword;
    o.auth_user = kAdminUser;
    o.auth_password = kAdminPassword;
    sentinels_.push_back(std::make_unique<RedisSentinel>(o));
    VV_RETURN_IF_ERROR(sentinels_.back()->Start());
  }
  const std::string sentinel_auth = std::string("AUTH ") + kSentinelPassword + "\r\n";
  const std::string query = sentinel_auth + "SENTINEL master " + kService + "\r\n";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    bool ready = Answer(replica_->port(),
                        std::string("AUTH ") + kAdminUser + " " + kAdminPassword + "\r\nROLE\r\n",
                        "$9\r\nconnected\r\n");
    for (auto& s : sentinels_)
      ready = ready && Answer(s->port(), query, "num-other-sentinels\r\n$1\r\n2\r\n") &&
              Answer(s->port(), query, "num-slaves\r\n$1\r\n1\r\n");
    if (ready) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status::Unavailable("sentinels did not converge within 60 s");
}

std::string RedisSentinelTopology::url() const {
  std::string url = std::string("redis-sentinel://") + kUser + "@";
  for (size_t i = 0; i < sentinels_.size(); ++i) url += (i ? "," : "") + sentinels_[i]->url();
  return url + "/" + kService + "/0";
}

std::string RedisSentinelTopology::Log() const {
  std::string out = "master: " + master_.Log();
  if (replica_) out += "\nreplica: " + replica_->Log();
  for (const auto& s : sentinels_) out += "\nsentinel: " + s->Log();
  return out.size() > 20000 ? out.substr(out.size() - 20000) : out;
}

// ---- NatsServer -----------------------------------------------------------------------------

NatsServer::NatsServer() : TestServer("nats-server") {}

std::string NatsServer::url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

std::vector<std::string> NatsServer::Argv() const {
  return {*binary_, "-js", "-a", "127.0.0.1", "-p", std::to_string(port_),
          "-sd", (dir_.path() / "jetstream").string()};
}

bool NatsServer::Answers() const {
  int fd = ConnectLoopback(port_);
  if (fd < 0) return false;
  bool ok = ReadContains(fd, "INFO ");
  close(fd);
  // JetStream is enabled before the client listener opens; also require the log line.
  return ok && process_ && process_->Log().find("Server is ready") != std::string::npos;
}

}  // namespace vv::testing

// Issue 8 black-box tests against the real vv-gateway binary: /metrics on the loopback admin
// listener, hot reload (SIGHUP and POST /admin/reload) with signing-key rotation, CRL
// revocation for new handshakes while a keep-alive connection survives, a broken config that
// is refused while the old one keeps serving, and the kill-switch drill (vvctl with two
// approvals) against two replicas sharing a real Redis.

#include <gtest/gtest.h>

#include <filesystem>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <sstream>
#include <thread>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/process.h"
#include "fakes/raw_http.h"
#include "fakes/servers.h"
#include "fakes/temp_dir.h"
#include "integration/gateway_harness.h"

namespace vv::testing {
namespace {

constexpr const char* kNewSeedHex =
    "0101010101010101010101010101010101010101010101010101010101010101";

std::string PubB64(const std::string& seed_hex) {
  return crypto::Ed25519PrivateKey::FromSeed(*HexDecode(seed_hex)).value().PublicKey().ToBase64();
}

// The admin token every OpsGateway is configured with (admin_token_file, issue 12).
constexpr const char* kOpsAdminToken = "ops-admin-token-0123456789abcdef";

// Plain HTTP/1.1 to the admin listener, with the admin token; returns the whole response
// ("" on connect failure).
std::string AdminHttp(uint16_t port, const std::string& method, const std::string& path) {
  return LoopbackHttpExchange(port, method + " " + path +
                                        " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " +
                                        kOpsAdminToken + "\r\nContent-Length: 0\r\n\r\n");
}

// The value of one sample line ("name{labels} value") in a scrape, -1 when absent.
double Sample(const std::string& scrape, const std::string& series) {
  std::istringstream in(scrape);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

struct OpsOptions {
  std::map<std::string, std::string> keys = {{"old", kProducerPublicKeyB64}};  // kid -> b64
  bool with_crl = false;
  bool revoked_identity = false;  // also allow "revoked-producer" (the PKI's revoked cert)
  std::string redis_url;
  std::map<std::string, std::string> approvers;
  std::string kill_switch_file;  // "" = default beside the config
  // Non-empty: the identities come from this identities file (issue 13) instead of the YAML.
  std::string identities_file;
};

std::string ConfigYaml(const OpsOptions& o, const TempDir& dir) {
  const DevPki& pki = DevPki::Get();
  std::ostringstream y;
  y << "vectorvue:\n  telemetry_gateway:\n"
    << "    listen: 127.0.0.1:0\n    admin_listen: 127.0.0.1:0\n    worker_threads: 2\n"
    << "    tls:\n"
    << "      cert_path: " << pki.Path("gateway.crt") << "\n"
    << "      key_path: " << pki.Path("gateway.key") << "\n"
    << "      ca_path: " << pki.Path("ca.crt") << "\n";
  if (o.with_crl) y << "      crl_path: " << pki.Path("crl.pem") << "\n";
  y << "    require_mtls: true\n    require_payload_signature: true\n"
    << "    nonce_backend: " << (o.redis_url.empty() ? "memory" : "redis") << "\n"
    << "    rate_limit_backend: " << (o.redis_url.empty() ? "memory" : "redis") << "\n"
    << (o.redis_url.empty() ? "" : "    redis_url: " + o.redis_url + "\n")
    << "    rate_limit_per_minute: 1000\n"
    << "    queue_backend: embedded\n    queue_path: " << dir.File("queue.db") << "\n"
    << "    audit_log_path: " << dir.File("audit.jsonl") << "\n"
    << (o.identities_file.empty() ? "" : "    identities_file: " + o.identities_file + "\n");
  if (o.identities_file.empty()) {
    y << "    allowed_service_identities:\n"
      << "      spectrastrike-producer:\n"
      << "        cert_sha256: [" << pki.Pin("producer") << "]\n"
      << "        signing_keys:\n";
    for (const auto& [kid, b64] : o.keys) y << "          " << kid << ": " << b64 << "\n";
  }
  if (o.revoked_identity)
    y << "      revoked-producer:\n        cert_sha256: [" << pki.Pin("revoked") << "]\n"
      << "        signing_keys:\n          old: " << kProducerPublicKeyB64 << "\n";
  y << "    operator_tenant_map:\n      op-001: " << kTenant1 << "\n"
    << "    allowed_schema_versions: [\"1.0\", \"2.0\"]\n"
    << "    feedback_ed25519_keys:\n      " << kFeedbackKid << ": " << dir.File("feedback.pem") << "\n"
    << "    feedback_active_kid: " << kFeedbackKid << "\n"
    << "    admin_token_file: " << dir.File("admin.token") << "\n";
  if (!o.kill_switch_file.empty()) y << "    kill_switch_file: " << o.kill_switch_file << "\n";
  if (!o.approvers.empty()) {
    y << "    kill_switch_approvers:\n";
    for (const auto& [name, b64] : o.approvers) y << "      " << name << ": " << b64 << "\n";
  }
  return y.str();
}

class OpsGateway {
 public:
  explicit OpsGateway(const OpsOptions& o) {
    WriteFile(dir_.File("feedback.pem"),
              crypto::Ed25519PrivateKey::FromSeed(*HexDecode(kFeedbackSeedHex)).value().ToPem(),
              0600);
    WriteFile(dir_.File("admin.token"), std::string(kOpsAdminToken) + "\n", 0600);
    Rewrite(o);
    proc_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{std::string(VV_BIN_DIR) + "/vv-gateway", "--config",
                                 config_path()},
        dir_.File("gateway.log"));
    if (auto l = proc_->WaitForLine("LISTENING ", std::chrono::seconds(20))) port_ = std::stoi(*l);
    if (auto l = proc_->WaitForLine("ADMIN_PORT ", std::chrono::seconds(5)))
      admin_port_ = std::stoi(*l);
  }
  void Rewrite(const OpsOptions& o) { WriteFile(config_path(), ConfigYaml(o, dir_), 0600); }
  std::string config_path() const { return dir_.File("gateway.yaml"); }
  const TempDir& dir() const { return dir_; }
  uint16_t port() const { return port_; }
  uint16_t admin_port() const { return admin_port_; }
  pid_t pid() const { return proc_->pid(); }
  std::string log() const { return proc_->Log(); }
  std::string Admin(const std::string& method, const std::string& path) const {
    return AdminHttp(admin_port_, method, path);
  }
  std::string Audit() const { return ReadFile(dir_.File("audit.jsonl")); }

  spectrastrike::HttpsClient Client(const std::string& cert = "producer") const {
    const DevPki& pki = DevPki::Get();
    spectrastrike::TlsClientConfig c;
    c.ca_path = pki.Path("ca.crt");
    c.cert_path = pki.Path(cert + ".crt");
    c.key_path = pki.Path(cert + ".key");
    c.server_name = "localhost";
    spectrastrike::HttpTimeouts t;
    t.io_ms = 5000;
    return spectrastrike::HttpsClient("127.0.0.1", port_, c, t);
  }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> proc_;
  uint16_t port_ = 0, admin_port_ = 0;
};

int Post(spectrastrike::HttpsClient& c, const std::string& seed_hex,
         const std::string& identity = "spectrastrike-producer") {
  static std::atomic<int> seq{0};
  const int64_t ts = NowSeconds();
  const std::string nonce = "nonce-ops-" + std::to_string(::getpid()) + "-" + std::to_string(++seq);
  auto s = SignBody(MakeTelemetryBody(ts, nonce, "evt-" + nonce), ts, nonce, seed_hex);
  auto r = c.Post("/internal/v1/telemetry", TelemetryHeaders(s, identity), s.body);
  return r.transport_ok ? r.status : -1;
}

bool Reload(const OpsGateway& gw) {
  return gw.Admin("POST", "/admin/reload").find("\"reloaded\":true") != std::string::npos;
}

TEST(OpsGatewayTest, MetricsEndpointCountsAcceptedAndRejectedByReason) {
  OpsGateway gw({});
  ASSERT_NE(gw.port(), 0) << gw.log();
  ASSERT_NE(gw.admin_port(), 0) << gw.log();
  auto c = gw.Client();
  ASSERT_EQ(Post(c, kProducerSeedHex), 202);
  ASSERT_EQ(Post(c, kNewSeedHex), 401);  // unknown key -> bad signature
  std::string m = gw.Admin("GET", "/metrics");
  ASSERT_NE(m.find("text/plain; version=0.0.4"), std::string::npos) << m;
  EXPECT_EQ(Sample(m, "vv_gateway_requests_accepted_total"), 1);
  EXPECT_EQ(Sample(m, "vv_gateway_requests_rejected_total{status=\"401\",reason=\"bad_signature\"}"), 1);
  EXPECT_EQ(Sample(m, "vv_gateway_signature_failures_total"), 1);
  EXPECT_EQ(Sample(m, "vv_gateway_verification_duration_seconds_count"), 2);
  EXPECT_EQ(Sample(m, "vv_gateway_queue_publish_duration_seconds_count"), 1);
  EXPECT_EQ(Sample(m, "vv_gateway_queue_group_size_count"), 1);  // one commit of one envelope
  EXPECT_EQ(Sample(m, "vv_gateway_queue_group_size_sum"), 1);
  // A client without a trusted certificate: a handshake rejection.
  auto rogue = gw.Client("untrusted");
  EXPECT_EQ(Post(rogue, kProducerSeedHex), -1);
  // The server accounts for the refused handshake after the client has already seen it fail.
  for (int i = 0; i < 50; ++i) {
    m = gw.Admin("GET", "/metrics");
    if (m.find("vv_gateway_tls_handshake_rejections_total{reason=") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(m.find("vv_gateway_tls_handshake_rejections_total{reason="), std::string::npos) << m;
  EXPECT_NE(gw.Admin("GET", "/nope").find("404"), std::string::npos);
}

TEST(OpsGatewayTest, SighupRotatesSigningKeyOldAndNewThenOnlyNew) {
  OpsOptions o;
  OpsGateway gw(o);
  ASSERT_NE(gw.port(), 0) << gw.log();
  auto c = gw.Client();
  ASSERT_EQ(Post(c, kProducerSeedHex), 202);
  ASSERT_EQ(Post(c, kNewSeedHex), 401);
  // Window: old + new.
  o.keys = {{"old", kProducerPublicKeyB64}, {"new", PubB64(kNewSeedHex)}};
  gw.Rewrite(o);
  ASSERT_EQ(::kill(gw.pid(), SIGHUP), 0);
  // SIGHUP is asynchronous: wait for its result line.
  for (int i = 0; i < 100 && gw.log().find("RELOADED ok") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_NE(gw.log().find("RELOADED ok"), std::string::npos) << gw.log();
  EXPECT_EQ(Post(c, kProducerSeedHex), 202);
  EXPECT_EQ(Post(c, kNewSeedHex), 202);
  // Retire the old key.
  o.keys = {{"new", PubB64(kNewSeedHex)}};
  gw.Rewrite(o);
  ASSERT_TRUE(Reload(gw)) << gw.log();
  EXPECT_EQ(Post(c, kProducerSeedHex), 401);
  EXPECT_EQ(Post(c, kNewSeedHex), 202);
  // The keep-alive connection was never dropped by the reloads.
  EXPECT_EQ(c.connections_opened(), 1u);
  std::string audit = gw.Audit();
  EXPECT_NE(audit.find("config.reloaded"), std::string::npos);
  std::string m = gw.Admin("GET", "/metrics");
  EXPECT_EQ(Sample(m, "vv_gateway_config_reloads_total{result=\"ok\"}"), 2);
}

TEST(OpsGatewayTest, NewCrlRevokesNewHandshakesAndClosesOpenKeepAliveConnections) {
  OpsOptions o;
  o.revoked_identity = true;
  OpsGateway gw(o);
  ASSERT_NE(gw.port(), 0) << gw.log();
  auto before = gw.Client("revoked");
  ASSERT_EQ(Post(before, kProducerSeedHex, "revoked-producer"), 202);
  o.with_crl = true;
  gw.Rewrite(o);
  ASSERT_TRUE(Reload(gw)) << gw.log();
  // A new connection with the revoked certificate fails the handshake...
  auto after = gw.Client("revoked");
  EXPECT_EQ(Post(after, kProducerSeedHex, "revoked-producer"), -1);
  // ...and the keep-alive connection opened before the reload was closed by it (issue 12
  // item 6): the client's reconnect is refused at TLS like any new handshake.
  EXPECT_EQ(Post(before, kProducerSeedHex, "revoked-producer"), -1);
  EXPECT_EQ(before.connections_opened(), 2u);  // the old connection was gone: it reconnected
  // Other identities are unaffected.
  auto good = gw.Client("producer");
  EXPECT_EQ(Post(good, kProducerSeedHex), 202);
}

TEST(OpsGatewayTest, BrokenConfigReloadIsRefusedAndTheOldConfigServes) {
  OpsOptions o;
  OpsGateway gw(o);
  ASSERT_NE(gw.port(), 0) << gw.log();
  auto c = gw.Client();
  ASSERT_EQ(Post(c, kProducerSeedHex), 202);
  WriteFile(gw.config_path(), "vectorvue:\n  telemetry_gateway:\n    require_mtls: [oops\n", 0600);
  std::string r = gw.Admin("POST", "/admin/reload");
  EXPECT_NE(r.find("422"), std::string::npos) << r;
  EXPECT_NE(r.find("\"reloaded\":false"), std::string::npos) << r;
  ASSERT_EQ(::kill(gw.pid(), SIGHUP), 0);
  for (int i = 0; i < 100 && gw.log().find("RELOADED rejected") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_NE(gw.log().find("RELOADED rejected"), std::string::npos);
  EXPECT_EQ(Post(c, kProducerSeedHex), 202);
  auto fresh = gw.Client();
  EXPECT_EQ(Post(fresh, kProducerSeedHex), 202);
  EXPECT_NE(gw.Audit().find("config.reload_rejected"), std::string::npos);
  // A setting that needs a restart is refused too, naming it.
  gw.Rewrite(o);
  std::string text = ReadFile(gw.config_path());
  text.replace(text.find("rate_limit_per_minute: 1000"), 27, "rate_limit_per_minute: 5");
  WriteFile(gw.config_path(), text, 0600);
  r = gw.Admin("POST", "/admin/reload");
  EXPECT_NE(r.find("rate_limit_per_minute"), std::string::npos) << r;
}

// ---- Kill switch ----------------------------------------------------------------------------

struct Approver {
  std::string name, key_path, pub_b64;
};

Approver MakeApprover(const TempDir& dir, const std::string& name, char seed) {
  auto key = crypto::Ed25519PrivateKey::FromSeed(std::string(32, seed)).value();
  Approver a{name, dir.File(name + ".pem"), key.PublicKey().ToBase64()};
  WriteFile(a.key_path, key.ToPem(), 0400);
  return a;
}

int Vvctl(const std::vector<std::string>& args, std::string* out) {
  std::vector<std::string> argv = {std::string(VV_BIN_DIR) + "/vvctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, out);
}

std::string Approve(const TempDir& dir, const std::string& config, const Approver& a,
                    const std::string& action, const std::string& reason) {
  std::string out;
  const std::string path = dir.File(a.name + "-" + action + ".approval");
  int rc = Vvctl({"kill-switch", "approve", "--config", config, "--action", action, "--identity",
                  "spectrastrike-producer", "--reason", reason, "--approver", a.name, "--key",
                  a.key_path, "--out", path},
                 &out);
  EXPECT_EQ(rc, 0) << out;
  return path;
}

// ---- vvctl identity on the machine-owned identities file (issue 13) ------------------------

TEST(OpsIdentityFileTest, VvctlExportsThenRotatesAKeyOfALiveGatewayWithoutTouchingTheYaml) {
  OpsOptions o;
  OpsGateway gw(o);
  ASSERT_NE(gw.port(), 0) << gw.log();
  const std::vector<std::string> stage = {"identity",   "stage-key", "--config",
                                          gw.config_path(), "--identity", "spectrastrike-producer",
                                          "--kid",      "new",       "--public-key",
                                          PubB64(kNewSeedHex)};
  std::string out;
  // Inline identities: vvctl refuses to edit the YAML and names the way out.
  EXPECT_EQ(Vvctl(stage, &out), 1) << out;
  EXPECT_NE(out.find("vvctl identity export"), std::string::npos) << out;
  const std::string ids = gw.dir().File("identities.json");
  ASSERT_EQ(Vvctl({"identity", "export", "--config", gw.config_path(), "--out", ids}, &out), 0)
      << out;
  o.identities_file = ids;
  gw.Rewrite(o);
  const std::string yaml = ReadFile(gw.config_path());
  ASSERT_TRUE(Reload(gw)) << gw.log();
  auto c = gw.Client();
  ASSERT_EQ(Post(c, kProducerSeedHex), 202);
  ASSERT_EQ(Post(c, kNewSeedHex), 401);
  // Stage, reload: old and new verify.
  ASSERT_EQ(Vvctl(stage, &out), 0) << out;
  EXPECT_NE(out.find("\"identities_file\":\"" + ids + "\""), std::string::npos) << out;
  ASSERT_TRUE(Reload(gw)) << gw.log();
  EXPECT_EQ(Post(c, kProducerSeedHex), 202);
  EXPECT_EQ(Post(c, kNewSeedHex), 202);
  // Retire the old key, reload: only the new one.
  ASSERT_EQ(Vvctl({"identity", "retire-key", "--config", gw.config_path(), "--identity",
                   "spectrastrike-producer", "--kid", "old"},
                  &out),
            0)
      << out;
  ASSERT_TRUE(Reload(gw)) << gw.log();
  EXPECT_EQ(Post(c, kProducerSeedHex), 401);
  EXPECT_EQ(Post(c, kNewSeedHex), 202);
  EXPECT_EQ(ReadFile(gw.config_path()), yaml);  // the hand-owned YAML was never rewritten
  // A group-writable identities file fails closed: the reload is refused, the old set serves.
  std::filesystem::permissions(ids, std::filesystem::perms::group_write,
                               std::filesystem::perm_options::add);
  EXPECT_FALSE(Reload(gw));
  EXPECT_EQ(Post(c, kNewSeedHex), 202);
  EXPECT_NE(gw.Audit().find("config.reload_rejected"), std::string::npos);
}

TEST(OpsKillSwitchTest, TwoApprovalsRevokeOnEveryReplicaWithinOneSecondAndAreAudited) {
  RedisServer redis;
  VV_REQUIRE_SERVER(redis);
  TempDir keys;
  Approver alice = MakeApprover(keys, "alice", 'a'), bob = MakeApprover(keys, "bob", 'b');
  OpsOptions o;
  o.redis_url = redis.url();
  o.approvers = {{"alice", alice.pub_b64}, {"bob", bob.pub_b64}};
  OpsGateway gw1(o), gw2(o);
  ASSERT_NE(gw1.port(), 0) << gw1.log();
  ASSERT_NE(gw2.port(), 0) << gw2.log();
  auto c1 = gw1.Client();
  auto c2 = gw2.Client();
  ASSERT_EQ(Post(c1, kProducerSeedHex), 202);
  ASSERT_EQ(Post(c2, kProducerSeedHex), 202);

  const std::string reason = "key compromise drill";
  const std::string a1 = Approve(keys, gw1.config_path(), alice, "engage", reason);
  // One approval: refused, nothing changes.
  std::string out;
  EXPECT_EQ(Vvctl({"kill-switch", "engage", "--config", gw1.config_path(), "--identity",
                   "spectrastrike-producer", "--reason", reason, "--approval", a1},
                  &out),
            1)
      << out;
  // The same approver twice: refused.
  EXPECT_EQ(Vvctl({"kill-switch", "engage", "--config", gw1.config_path(), "--identity",
                   "spectrastrike-producer", "--reason", reason, "--approval", a1, "--approval",
                   a1},
                  &out),
            1)
      << out;
  EXPECT_EQ(Post(c1, kProducerSeedHex), 202);

  const std::string b1 = Approve(keys, gw1.config_path(), bob, "engage", reason);
  ASSERT_EQ(Vvctl({"kill-switch", "engage", "--config", gw1.config_path(), "--identity",
                   "spectrastrike-producer", "--reason", reason, "--approval", a1, "--approval",
                   b1},
                  &out),
            0)
      << out;
  const auto engaged = std::chrono::steady_clock::now();
  bool r1 = false, r2 = false;
  while (std::chrono::steady_clock::now() - engaged < std::chrono::seconds(1) && !(r1 && r2)) {
    if (!r1) r1 = Post(c1, kProducerSeedHex) == 403;
    if (!r2) r2 = Post(c2, kProducerSeedHex) == 403;
    if (!(r1 && r2)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(r1 && r2) << "not revoked on both replicas within 1 s";
  for (const OpsGateway* gw : {&gw1, &gw2}) {
    // The revocation is applied first (fail closed), then the applied state is saved (fsync)
    // and the engagement audited: the record may land just after the first 403.
    std::string audit = gw->Audit();
    for (int i = 0; i < 250 && audit.find("kill_switch.engaged") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      audit = gw->Audit();
    }
    EXPECT_NE(audit.find("kill_switch.engaged"), std::string::npos);
    EXPECT_NE(audit.find("identity_revoked"), std::string::npos);
    EXPECT_NE(Sample(gw->Admin("GET", "/metrics"),
                     "vv_gateway_requests_rejected_total{status=\"403\",reason=\"identity_revoked\"}"),
              -1);
  }
  // Status, then release under the same dual control.
  ASSERT_EQ(Vvctl({"kill-switch", "status", "--config", gw1.config_path()}, &out), 0);
  EXPECT_NE(out.find("spectrastrike-producer"), std::string::npos) << out;
  const std::string a2 = Approve(keys, gw1.config_path(), alice, "release", "drill over");
  const std::string b2 = Approve(keys, gw1.config_path(), bob, "release", "drill over");
  ASSERT_EQ(Vvctl({"kill-switch", "disengage", "--config", gw1.config_path(), "--identity",
                   "spectrastrike-producer", "--reason", "drill over", "--approval", a2,
                   "--approval", b2},
                  &out),
            0)
      << out;
  bool ok1 = false, ok2 = false;
  for (int i = 0; i < 50 && !(ok1 && ok2); ++i) {
    if (!ok1) ok1 = Post(c1, kProducerSeedHex) == 202;
    if (!ok2) ok2 = Post(c2, kProducerSeedHex) == 202;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(ok1 && ok2);
  std::string audit2 = gw2.Audit();
  for (int i = 0; i < 250 && audit2.find("kill_switch.released") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // audited after it applies
    audit2 = gw2.Audit();
  }
  EXPECT_NE(audit2.find("kill_switch.released"), std::string::npos);
}

TEST(OpsKillSwitchTest, WithoutRedisTheFileBesideTheConfigIsWatched) {
  TempDir keys;
  Approver alice = MakeApprover(keys, "alice", 'a'), bob = MakeApprover(keys, "bob", 'b');
  OpsOptions o;
  o.approvers = {{"alice", alice.pub_b64}, {"bob", bob.pub_b64}};
  OpsGateway gw(o);
  ASSERT_NE(gw.port(), 0) << gw.log();
  auto c = gw.Client();
  ASSERT_EQ(Post(c, kProducerSeedHex), 202);
  const std::string a = Approve(keys, gw.config_path(), alice, "engage", "r");
  const std::string b = Approve(keys, gw.config_path(), bob, "engage", "r");
  std::string out;
  ASSERT_EQ(Vvctl({"kill-switch", "engage", "--config", gw.config_path(), "--identity",
                   "spectrastrike-producer", "--reason", "r", "--approval", a, "--approval", b},
                  &out),
            0)
      << out;
  bool revoked = false;
  for (int i = 0; i < 50 && !revoked; ++i) {
    revoked = Post(c, kProducerSeedHex) == 403;
    if (!revoked) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(revoked);
  EXPECT_NE(gw.Admin("GET", "/admin/kill-switch").find("spectrastrike-producer"),
            std::string::npos);

  // "disengage reverses it under the same rules": a release written by hand (no approvals) is
  // not applied by the gateway - the identity stays revoked and the attempt is audited.
  std::string state_path = std::filesystem::path(gw.config_path()).parent_path() / "kill-switch.json";
  auto st = json::Parse(ReadFile(state_path));
  ASSERT_TRUE(st.ok());
  st->Find("revoked")->Erase("spectrastrike-producer");
  st->Set("generation", *st->Find("generation")->as_int64() + 1);
  WriteFile(state_path, json::Canonical(*st), 0600);
  bool audited = false;
  for (int i = 0; i < 50 && !audited; ++i) {
    audited = gw.Audit().find("kill_switch.release_rejected") != std::string::npos;
    if (!audited) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(audited);
  EXPECT_EQ(Post(c, kProducerSeedHex), 403) << "a release without dual control is not applied";
}

}  // namespace
}  // namespace vv::testing

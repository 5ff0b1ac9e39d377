// Red-team scenarios for the back end (issue 12): forged queue envelopes (straight into the
// embedded queue file, and published by an anonymous client onto the JetStream subject), an
// envelope signed by an unknown key id, a replayed kill-switch release, the admin listener
// (cross-site POST, no token, DNS-rebinding Host), and owner-only data files. Real binaries,
// real mTLS, real NATS; the engine is the real vv-engine.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <sstream>
#include <thread>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/postgres_server.h"
#include "fakes/process.h"
#include "fakes/raw_http.h"
#include "fakes/servers.h"
#include "fakes/temp_dir.h"
#include "integration/gateway_harness.h"
#include "json/json.h"
#include "redteam/scenario.h"

namespace vv::testing {
namespace {

int Post(spectrastrike::HttpsClient& c, const std::string& event_id) {
  static int seq = 0;
  const int64_t ts = NowSeconds();
  const std::string nonce = "nonce-rt-backend-" + std::to_string(::getpid()) + "-" +
                            std::to_string(++seq) + "-" + event_id;
  auto s = SignBody(MakeTelemetryBody(ts, nonce, event_id), ts, nonce);
  auto r = c.Post("/internal/v1/telemetry", TelemetryHeaders(s), s.body);
  return r.transport_ok ? r.status : -1;
}

// What an attacker who can publish onto the queue produces: a complete reference envelope for
// tenant 2 (operator op-002, consistent tenant mapping) with a correct integrity_hash - the
// unkeyed SHA-256 anyone can compute - and optionally an "auth" member signed with the
// attacker's own Ed25519 key under `kid`.
std::string ForgedEnvelope(const std::string& event_id, const std::string& kid = "") {
  const int64_t ts = NowSeconds();
  json::Value payload = MakeTelemetryBody(ts, "nonce-forged-" + event_id, event_id);
  payload.Set("tenant_id", kTenant2);
  payload.Set("operator_id", "op-002");
  json::Value sm = *payload.Find("signed_metadata");
  sm.Set("tenant_id", kTenant2);
  sm.Set("operator_id", "op-002");
  payload.Set("signed_metadata", sm);
  json::Value trace = json::Value::MakeObject();
  trace.Set("operator_id", "op-002");
  trace.Set("tenant_id", kTenant2);
  json::Value env = json::Value::MakeObject();
  env.Set("message_id", "6f1c2a3b-0000-4000-8000-" + crypto::Sha256Hex(event_id).substr(0, 12));
  env.Set("kind", "ingest");
  env.Set("created_at", "2026-12-04T12:00:00.000000+00:00");
  env.Set("integrity_hash", crypto::Sha256Hex(json::Canonical(payload)));
  env.Set("trace", trace);
  env.Set("payload", payload);
  if (!kid.empty()) {
    const auto key = crypto::Ed25519PrivateKey::Generate();
    const std::string sig =
        key.Sign(std::string("vv-queue-envelope-v1\n") + json::Canonical(env));
    json::Value auth = json::Value::MakeObject();
    auth.Set("alg", "ed25519");
    auth.Set("kid", kid);
    auth.Set("sig", Base64Encode(sig));
    env.Set("auth", auth);
  }
  return json::Canonical(env);
}

// Writes the forged envelope straight into the embedded queue file (an attacker with write
// access to queue.db). True on success.
bool InjectIntoQueueFile(const std::string& queue_path, const std::string& wire) {
  auto env = json::Parse(wire);
  if (!env.ok()) return false;
  sqlite3* db = nullptr;
  if (sqlite3_open(queue_path.c_str(), &db) != SQLITE_OK) return false;
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  bool ok = sqlite3_prepare_v2(db,
                               "INSERT INTO messages (kind, message_id, dedupe_id, created_at, "
                               "integrity_hash, body, schema) VALUES ('ingest', ?1, ?2, ?3, ?4, "
                               "?5, 3)",
                               -1, &st, nullptr) == SQLITE_OK;
  if (ok) {
    const std::string mid = env->Find("message_id")->as_string();
    const std::string ca = env->Find("created_at")->as_string();
    const std::string ih = env->Find("integrity_hash")->as_string();
    const std::string dd = std::string(kTenant2) + "/" + mid;
    sqlite3_bind_text(st, 1, mid.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, dd.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, ca.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, ih.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, wire.c_str(), -1, SQLITE_TRANSIENT);
    ok = sqlite3_step(st) == SQLITE_DONE;
  }
  sqlite3_finalize(st);
  // ... and its delivery state (schema 3: a live message has an unacked row).
  ok = ok && sqlite3_exec(db, "INSERT INTO unacked (kind, seq) VALUES ('ingest', "
                              "last_insert_rowid())",
                          nullptr, nullptr, nullptr) == SQLITE_OK;
  sqlite3_close(db);
  return ok;
}

// Publishes `payload` on `subject` as an anonymous plain-NATS client (no credentials, no
// JetStream API: a core PUB, which the stream captures). True when the server answered PONG.
bool AnonymousNatsPublish(int port, const std::string& subject, const std::string& payload) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return false;
  }
  const std::string msg = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB " + subject + " " +
                          std::to_string(payload.size()) + "\r\n" + payload + "\r\nPING\r\n";
  bool ok = ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(msg.size());
  std::string in;
  char buf[4096];
  while (ok && in.find("PONG") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return ok && in.find("PONG") != std::string::npos && in.find("-ERR") == std::string::npos;
}

// Runs the real vv-engine (--drain) on the gateway's config plus an evidence_engine section
// that verifies the harness's queue key. Returns its output; the engine's audit log is
// <dir>/engine-audit.jsonl.
struct EngineRun {
  int rc = -1;
  std::string out;
  std::string audit_path;
  std::string evidence_db;
};
std::string WriteEngineConfig(const GatewayUnderTest& gw, const TempDir& dir, EngineRun* r);

EngineRun RunEngine(const GatewayUnderTest& gw, const TempDir& dir) {
  EngineRun r;
  WriteEngineConfig(gw, dir, &r);
  r.rc = RunCommand(
      {std::string(VV_BIN_DIR) + "/vv-engine", "--config", dir.File("engine.yaml"), "--drain"},
      &r.out);
  return r;
}

// The engine as a service (no --drain: a JetStream consumer may deliver after a first empty
// fetch) until `done(audit_path)` holds or 30 s pass, then SIGTERM; rc is its exit status.
EngineRun RunEngineUntil(const GatewayUnderTest& gw, const TempDir& dir,
                         const std::function<bool(const std::string&)>& done) {
  EngineRun r;
  WriteEngineConfig(gw, dir, &r);
  ChildProcess engine({std::string(VV_BIN_DIR) + "/vv-engine", "--config", dir.File("engine.yaml")},
                      dir.File("engine.log"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline &&
         !(std::filesystem::exists(r.audit_path) && done(r.audit_path))) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  r.rc = engine.Terminate();
  r.out = engine.Log();
  return r;
}

std::string WriteEngineConfig(const GatewayUnderTest& gw, const TempDir& dir, EngineRun* out) {
  EngineRun& r = *out;
  r.audit_path = dir.File("engine-audit.jsonl");
  r.evidence_db = dir.File("evidence.db");
  if (!std::filesystem::exists(dir.File("root.key")))
    WriteFile(dir.File("root.key"), std::string(32, 'R'), 0400);
  std::string cfg = ReadFile(gw.config_path()) +
                    "  evidence_engine:\n    store_backend: sqlite\n    store_path: " +
                    r.evidence_db +
                    "\n    root_key_provider: file\n    root_key_id: rt-root\n    root_key_file: " +
                    dir.File("root.key") + "\n    audit_log_path: " + r.audit_path +
                    "\n    metrics_path: \"\"\n" + QueueVerifyKeysYaml();
  WriteFile(dir.File("engine.yaml"), cfg, 0600);
  return dir.File("engine.yaml");
}

// The engine audit record (raw line) for `event_id` of type `event_type`, or "".
std::string EngineAudit(const std::string& path, const std::string& event_type,
                        const std::string& event_id) {
  std::istringstream in(ReadFile(path));
  std::string line, found;
  while (std::getline(in, line))
    if (line.find("\"" + event_type + "\"") != std::string::npos &&
        line.find(event_id) != std::string::npos)
      found = line;
  return found;
}

unsigned Mode(const std::string& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 01000;  // missing: never equals a real mode
  return st.st_mode & 07777;
}

std::string AdminPort(const GatewayUnderTest& gw) {
  const std::string log = gw.log();
  const size_t at = log.find("ADMIN_PORT ");
  if (at == std::string::npos) return "";
  size_t end = log.find_first_not_of("0123456789", at + 11);
  return log.substr(at + 11, end - at - 11);
}

std::string AdminExchange(const std::string& port, const std::string& request) {
  return LoopbackHttpExchange(static_cast<uint16_t>(std::stoi(port)), request);
}

// Waits for the audit record (the admin listener audits from its own thread).
std::string WaitAudit(const GatewayUnderTest& gw, const std::vector<std::string>& needles) {
  for (int i = 0; i < 100; ++i) {
    std::string r = FindAuditRecord(gw, needles);
    if (!r.empty()) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

class BackendRedTeam : public ::testing::Test {};

TEST_F(BackendRedTeam, Backend_ForgedEnvelopeInQueueFileIsDeadLetteredNotStored) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  auto client = gw.Client();
  ASSERT_EQ(Post(client, "evt-rt-genuine-1"), 202);
  ASSERT_TRUE(InjectIntoQueueFile(gw.queue_path(), ForgedEnvelope("evt-rt-forged-file")));
  TempDir dir;
  EngineRun run = RunEngine(gw, dir);
  ASSERT_EQ(run.rc, 0) << run.out;
  EXPECT_NE(run.out.find("stored=1"), std::string::npos) << run.out;
  const std::string rejected =
      EngineAudit(run.audit_path, "evidence.rejected", "evt-rt-forged-file");
  EXPECT_NE(rejected.find("\"reason\":\"envelope_unsigned\""), std::string::npos) << rejected;
  EXPECT_NE(rejected.find("\"dead_lettered\":true"), std::string::npos) << rejected;
  EXPECT_TRUE(EngineAudit(run.audit_path, "evidence.stored", "evt-rt-forged-file").empty());
  EXPECT_FALSE(EngineAudit(run.audit_path, "evidence.stored", "evt-rt-genuine-1").empty());
  EXPECT_EQ(ReadFile(run.evidence_db).find(kTenant2), std::string::npos);
  Scenario("backend",
           "a forged tenant-2 envelope written into queue.db (correct integrity_hash, no "
           "gateway signature) is dead-lettered by vv-engine with envelope_unsigned, not stored",
           "engine stored only the genuine event; forged one rejected", rejected);
  ExpectAuditVerifies(run.audit_path);
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(BackendRedTeam, Backend_EnvelopeSignedByUnknownKidIsDeadLettered) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  auto client = gw.Client();
  ASSERT_EQ(Post(client, "evt-rt-genuine-2"), 202);
  ASSERT_TRUE(
      InjectIntoQueueFile(gw.queue_path(), ForgedEnvelope("evt-rt-unknown-kid", "attacker-1")));
  // The gateway's own kid with the attacker's key: a bad signature, not a missing one.
  ASSERT_TRUE(
      InjectIntoQueueFile(gw.queue_path(), ForgedEnvelope("evt-rt-wrong-key", kQueueKid)));
  TempDir dir;
  EngineRun run = RunEngine(gw, dir);
  ASSERT_EQ(run.rc, 0) << run.out;
  EXPECT_NE(run.out.find("stored=1"), std::string::npos) << run.out;
  const std::string unknown =
      EngineAudit(run.audit_path, "evidence.rejected", "evt-rt-unknown-kid");
  const std::string wrong = EngineAudit(run.audit_path, "evidence.rejected", "evt-rt-wrong-key");
  EXPECT_NE(unknown.find("\"reason\":\"envelope_unknown_kid\""), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("\"kid\":\"attacker-1\""), std::string::npos) << unknown;
  EXPECT_NE(wrong.find("\"reason\":\"envelope_signature_invalid\""), std::string::npos) << wrong;
  EXPECT_EQ(ReadFile(run.evidence_db).find(kTenant2), std::string::npos);
  Scenario("backend",
           "envelopes signed by an unknown kid / by a foreign key under the gateway's kid are "
           "dead-lettered (envelope_unknown_kid / envelope_signature_invalid)",
           "both rejected, only the genuine event stored", unknown + "\n" + wrong);
  ExpectAuditVerifies(run.audit_path);
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(BackendRedTeam, Backend_AnonymousNatsPublishOfForgedEnvelopeIsDeadLettered) {
  NatsServer nats;
  VV_REQUIRE_SERVER(nats);
  GatewayOptions o;
  o.queue_backend = "nats";
  o.nats_url = nats.url();
  GatewayUnderTest gw(o);
  ASSERT_TRUE(gw.started()) << gw.log();
  auto client = gw.Client();
  ASSERT_EQ(Post(client, "evt-rt-genuine-3"), 202);  // creates the stream, one genuine message
  ASSERT_TRUE(AnonymousNatsPublish(nats.port(), "vectorvue.telemetry.ingest",
                                   ForgedEnvelope("evt-rt-forged-nats")))
      << nats.Log();
  TempDir dir;
  // The engine runs as a service until both messages were handled (--drain stops at the first
  // empty fetch, which a loaded JetStream consumer can return before it delivers).
  EngineRun run = RunEngineUntil(gw, dir, [](const std::string& audit) {
    return !EngineAudit(audit, "evidence.rejected", "evt-rt-forged-nats").empty() &&
           !EngineAudit(audit, "evidence.stored", "evt-rt-genuine-3").empty();
  });
  ASSERT_EQ(run.rc, 0) << run.out;
  const std::string rejected =
      EngineAudit(run.audit_path, "evidence.rejected", "evt-rt-forged-nats");
  EXPECT_NE(rejected.find("\"reason\":\"envelope_unsigned\""), std::string::npos) << rejected;
  EXPECT_TRUE(EngineAudit(run.audit_path, "evidence.stored", "evt-rt-forged-nats").empty());
  EXPECT_FALSE(EngineAudit(run.audit_path, "evidence.stored", "evt-rt-genuine-3").empty());
  Scenario("backend",
           "an anonymous NATS client publishing a forged tenant-2 envelope onto the JetStream "
           "ingest subject gets it dead-lettered (envelope_unsigned), not stored",
           "engine stored only the gateway-signed event", rejected);
  ExpectAuditVerifies(run.audit_path);
  ExpectAuditVerifiesAndRestarts(gw);
}

// Kill switch: engage (0->1), release (1->2), engage again (2->3) through vvctl with two
// approvals each; then the generation-2 state - a genuinely approved release - is written
// back. The newer revocation must stay.
TEST_F(BackendRedTeam, Backend_ReplayedOldApprovedReleaseLiftsNoNewerRevocation) {
  TempDir keys;
  struct Approver {
    std::string name, key_path, pub_b64;
  };
  auto make = [&](const std::string& name, char seed) {
    auto key = crypto::Ed25519PrivateKey::FromSeed(std::string(32, seed)).value();
    Approver a{name, keys.File(name + ".pem"), key.PublicKey().ToBase64()};
    WriteFile(a.key_path, key.ToPem(), 0400);
    return a;
  };
  const Approver alice = make("alice", 'a'), bob = make("bob", 'b');
  GatewayOptions o;
  const std::string state_path = keys.File("kill-switch.json");
  o.extra_yaml = "    kill_switch_file: " + state_path +
                 "\n    kill_switch_approvers:\n      alice: " + alice.pub_b64 +
                 "\n      bob: " + bob.pub_b64 + "\n";
  GatewayUnderTest gw(o);
  ASSERT_TRUE(gw.started()) << gw.log();
  const std::string vvctl = std::string(VV_BIN_DIR) + "/vvctl";
  int step = 0;
  auto change = [&](const std::string& action) {
    std::vector<std::string> approvals;
    for (const Approver* a : {&alice, &bob}) {
      const std::string path = keys.File(a->name + "-" + std::to_string(++step) + ".approval");
      std::string out;
      EXPECT_EQ(RunCommand({vvctl, "kill-switch", "approve", "--config", gw.config_path(),
                            "--action", action, "--identity", "spectrastrike-producer",
                            "--reason", "rt drill", "--approver", a->name, "--key", a->key_path,
                            "--out", path},
                           &out),
                0)
          << out;
      approvals.push_back(path);
    }
    std::string out;
    EXPECT_EQ(RunCommand({vvctl, "kill-switch", action == "engage" ? "engage" : "disengage",
                          "--config", gw.config_path(), "--identity", "spectrastrike-producer",
                          "--reason", "rt drill", "--approval", approvals[0], "--approval",
                          approvals[1]},
                         &out),
              0)
        << out;
  };
  auto client = gw.Client();
  auto wait_status = [&](int want) {
    int got = -1;
    for (int i = 0; i < 100 && got != want; ++i) {
      got = Post(client, "evt-rt-ks-" + std::to_string(step) + "-" + std::to_string(i));
      if (got != want) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return got;
  };
  change("engage");
  ASSERT_EQ(wait_status(403), 403);
  change("release");
  ASSERT_EQ(wait_status(202), 202);
  const std::string old_release_state = ReadFile(state_path);  // generation 2
  change("engage");
  ASSERT_EQ(wait_status(403), 403);

  WriteFile(state_path, old_release_state, 0600);  // the replay
  const std::string refused =
      WaitAudit(gw, {"kill_switch.release_rejected", "stale kill-switch state"});
  EXPECT_FALSE(refused.empty()) << gw.log();
  // Give the watcher several polls, then the identity must still be revoked.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const int status = Post(client, "evt-rt-ks-after-replay");
  EXPECT_EQ(status, 403);
  Scenario("backend",
           "writing an old, genuinely dual-approved release (generation 2) back into the "
           "kill-switch state after a newer revocation (generation 3) lifts nothing",
           "producer still refused with " + std::to_string(status) +
               "; release refused as stale",
           refused);
  ExpectAuditVerifiesAndRestarts(gw);
  // The replayed state is still in the store: a restart must not accept it either.
  auto after = gw.Client();
  int restarted = -1;
  for (int i = 0; i < 10 && restarted != 403; ++i) {
    restarted = Post(after, "evt-rt-ks-after-restart-" + std::to_string(i));
    if (restarted != 403) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(restarted, 403) << "a restart accepted the replayed release";
}

GatewayOptions AdminGateway() {
  GatewayOptions o;
  o.extra_yaml = "    admin_listen: 127.0.0.1:0\n";
  return o;
}

TEST_F(BackendRedTeam, Admin_CrossSitePostReloadIsRefused) {
  GatewayUnderTest gw(AdminGateway());
  ASSERT_TRUE(gw.started()) << gw.log();
  const std::string port = AdminPort(gw);
  ASSERT_FALSE(port.empty()) << gw.log();
  // What a page on http://evil.example makes the operator's browser send (a simple POST needs
  // no preflight); even with the right token the Origin is refused.
  const std::string resp = AdminExchange(
      port, "POST /admin/reload HTTP/1.1\r\nHost: 127.0.0.1:" + port +
                "\r\nOrigin: http://evil.example\r\nSec-Fetch-Site: cross-site\r\n"
                "Authorization: Bearer " + std::string(kAdminToken) +
                "\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n");
  EXPECT_NE(resp.find("HTTP/1.1 403"), std::string::npos) << resp;
  EXPECT_NE(resp.find("{\"detail\":\"Forbidden\"}"), std::string::npos) << resp;
  EXPECT_EQ(FindAuditRecord(gw, {"config.reloaded"}), "");
  const std::string audit = WaitAudit(gw, {"admin.refused", "admin_browser_origin"});
  EXPECT_NE(audit.find("\"path\":\"/admin/reload\""), std::string::npos) << audit;
  Scenario("admin", "cross-site POST /admin/reload (Origin: http://evil.example) -> 403",
           resp.substr(0, resp.find("\r\n")), audit);
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(BackendRedTeam, Admin_PostWithoutTokenIsUnauthorized) {
  GatewayUnderTest gw(AdminGateway());
  ASSERT_TRUE(gw.started()) << gw.log();
  const std::string port = AdminPort(gw);
  ASSERT_FALSE(port.empty()) << gw.log();
  const std::string none = AdminExchange(
      port, "POST /admin/reload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
  const std::string wrong = AdminExchange(
      port, "POST /admin/reload HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
            "harness-admin-token-0123456789abcdeX\r\nContent-Length: 0\r\n\r\n");
  EXPECT_NE(none.find("HTTP/1.1 401"), std::string::npos) << none;
  EXPECT_NE(none.find("{\"detail\":\"Unauthorized\"}"), std::string::npos) << none;
  EXPECT_NE(wrong.find("HTTP/1.1 401"), std::string::npos) << wrong;
  const std::string a1 = WaitAudit(gw, {"admin.refused", "admin_token_missing"});
  const std::string a2 = WaitAudit(gw, {"admin.refused", "admin_token_invalid"});
  EXPECT_FALSE(a1.empty());
  EXPECT_FALSE(a2.empty());
  EXPECT_EQ(FindAuditRecord(gw, {"config.reloaded"}), "");
  // The right token still works (the control).
  const std::string ok = AdminExchange(
      port, "POST /admin/reload HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " +
                std::string(kAdminToken) + "\r\nContent-Length: 0\r\n\r\n");
  EXPECT_NE(ok.find("HTTP/1.1 200"), std::string::npos) << ok;
  Scenario("admin", "POST /admin/reload without / with a wrong token -> 401",
           none.substr(0, none.find("\r\n")) + " / " + wrong.substr(0, wrong.find("\r\n")),
           a1 + "\n" + a2);
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(BackendRedTeam, Admin_DnsRebindingHostIsRefused) {
  GatewayUnderTest gw(AdminGateway());
  ASSERT_TRUE(gw.started()) << gw.log();
  const std::string port = AdminPort(gw);
  ASSERT_FALSE(port.empty()) << gw.log();
  // After DNS rebinding, evil.example resolves to 127.0.0.1 and the browser sends its own
  // name as Host (same-origin from the page's point of view: no Origin on a GET).
  const std::string get = AdminExchange(
      port, "GET /metrics HTTP/1.1\r\nHost: evil.example:" + port + "\r\n\r\n");
  const std::string post = AdminExchange(
      port, "POST /admin/reload HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer " +
                std::string(kAdminToken) + "\r\nContent-Length: 0\r\n\r\n");
  EXPECT_NE(get.find("HTTP/1.1 403"), std::string::npos) << get;
  EXPECT_EQ(get.find("vv_gateway_"), std::string::npos) << get;
  EXPECT_NE(post.find("HTTP/1.1 403"), std::string::npos) << post;
  const std::string audit = WaitAudit(gw, {"admin.refused", "admin_host_not_loopback"});
  EXPECT_FALSE(audit.empty());
  // A loopback Host is served (the control).
  const std::string ok =
      AdminExchange(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n\r\n");
  EXPECT_NE(ok.find("HTTP/1.1 200"), std::string::npos) << ok;
  Scenario("admin", "admin request with Host: evil.example (DNS rebinding) -> 403",
           get.substr(0, get.find("\r\n")), audit);
  ExpectAuditVerifiesAndRestarts(gw);
}

// The engine's loopback /metrics listener: a DNS-rebinding Host or a browser Origin is refused
// and audited in the engine's own audit log.
TEST_F(BackendRedTeam, Admin_EngineMetricsRefuseRebindingHostAndBrowserOrigin) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  TempDir dir;
  RunEngine(gw, dir);  // writes engine.yaml (and drains the empty queue)
  ChildProcess engine({std::string(VV_BIN_DIR) + "/vv-engine", "--config", dir.File("engine.yaml"),
                       "--admin-listen", "127.0.0.1:0"},
                      dir.File("engine.log"));
  auto port = engine.WaitForLine("ADMIN_PORT ", std::chrono::seconds(20));
  ASSERT_TRUE(port.has_value()) << engine.Log();
  const std::string rebinding =
      AdminExchange(*port, "GET /metrics HTTP/1.1\r\nHost: evil.example:" + *port + "\r\n\r\n");
  const std::string origin = AdminExchange(
      *port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n\r\n");
  const std::string ok = AdminExchange(*port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_NE(rebinding.find("HTTP/1.1 403"), std::string::npos) << rebinding;
  EXPECT_EQ(rebinding.find("vv_engine_"), std::string::npos) << rebinding;
  EXPECT_NE(origin.find("HTTP/1.1 403"), std::string::npos) << origin;
  EXPECT_NE(ok.find("HTTP/1.1 200"), std::string::npos) << ok;
  EXPECT_EQ(engine.Terminate(), 0) << engine.Log();
  const std::string audit = ReadFile(dir.File("engine-audit.jsonl"));
  EXPECT_NE(audit.find("admin_host_not_loopback"), std::string::npos);
  EXPECT_NE(audit.find("admin_browser_origin"), std::string::npos);
  Scenario("admin",
           "vv-engine /metrics with Host: evil.example (DNS rebinding) or a browser Origin -> 403, "
           "audited admin.refused in the engine's audit log",
           rebinding.substr(0, rebinding.find("\r\n")) + " / " +
               origin.substr(0, origin.find("\r\n")));
  ExpectAuditVerifies(dir.File("engine-audit.jsonl"));
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(BackendRedTeam, Backend_DataFilesAreOwnerOnlyAfterAGatewayAndEngineRun) {
  const mode_t old = ::umask(022);  // a typical service umask: SQLite would create 0644
  GatewayUnderTest gw;
  ::umask(old);
  ASSERT_TRUE(gw.started()) << gw.log();
  auto client = gw.Client();
  ASSERT_EQ(Post(client, "evt-rt-modes"), 202);
  TempDir dir;
  const mode_t old2 = ::umask(022);
  EngineRun run = RunEngine(gw, dir);
  ::umask(old2);
  ASSERT_EQ(run.rc, 0) << run.out;
  std::string observed;
  std::vector<std::string> files = {gw.queue_path(), gw.audit_path(), gw.evidence_db_path(),
                                    run.evidence_db, run.audit_path};
  for (const std::string suffix : {"-wal", "-shm"})
    if (std::filesystem::exists(gw.queue_path() + suffix)) files.push_back(gw.queue_path() + suffix);
  for (const auto& f : files) {
    const unsigned m = Mode(f);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", m);
    observed += std::filesystem::path(f).filename().string() + "=" + buf + " ";
    EXPECT_EQ(m, 0600u) << f;
  }
  Scenario("backend",
           "queue.db (+wal/shm), the audit logs, the graph store and evidence.db are created "
           "0600 under umask 022",
           observed);
  ExpectAuditVerifies(run.audit_path);
  ExpectAuditVerifiesAndRestarts(gw);
}

// Replay state over TLS Redis (rediss://, issue 12): the gateway verifies the Redis server
// against its CA and authenticates; a man in the middle with another CA's certificate (here:
// the same server, but the gateway trusting another CA) makes it refuse to start - it never
// falls back to plaintext or to an unverified server.
TEST_F(BackendRedTeam, Backend_RedisOverVerifiedTlsAndNoFallbackToAnUntrustedServer) {
  RedisTlsServer redis;
  VV_REQUIRE_SERVER(redis);
  TempDir other;
  std::string out;
  ASSERT_EQ(RunCommand({"/bin/bash", std::string(VV_SOURCE_DIR) + "/scripts/dev-pki.sh",
                        other.path().string()},
                       &out),
            0)
      << out;
  auto opts = [&](const std::string& ca) {
    GatewayOptions o;
    o.nonce_backend = o.rate_limit_backend = "redis";
    o.redis_url = redis.url();
    o.extra_yaml = "    redis_tls_ca_path: " + ca + "\n";
    return o;
  };
  std::string refused_log;
  {
    GatewayUnderTest untrusted(opts(other.File("ca.crt")));
    EXPECT_FALSE(untrusted.started()) << "started against a Redis it cannot verify";
    refused_log = untrusted.log();
    EXPECT_NE(refused_log.find("server certificate not trusted"), std::string::npos) << refused_log;
  }
  GatewayUnderTest gw(opts(redis.ca_path()));
  ASSERT_TRUE(gw.started()) << gw.log();
  auto client = gw.Client();
  const int64_t ts = NowSeconds();
  const std::string nonce = "nonce-rt-rediss-" + std::to_string(::getpid());
  auto s = SignBody(MakeTelemetryBody(ts, nonce, "evt-rt-rediss"), ts, nonce);
  auto first = client.Post("/internal/v1/telemetry", TelemetryHeaders(s), s.body);
  auto replay = client.Post("/internal/v1/telemetry", TelemetryHeaders(s), s.body);
  EXPECT_EQ(first.status, 202) << first.body;
  EXPECT_EQ(replay.status, 409) << replay.body;  // the nonce lives in the TLS Redis
  const std::string audit = FindAuditRecord(gw, {"replay"});
  EXPECT_FALSE(audit.empty());
  const size_t at = refused_log.find("not trusted");
  Scenario("backend",
           "replay state over rediss:// (verified TLS + password): accepted then 409 on replay; "
           "a Redis certificate from another CA -> the gateway refuses to start",
           "202 then " + std::to_string(replay.status) + "; untrusted: " +
               (at == std::string::npos ? std::string("?") : refused_log.substr(at, 80)),
           audit);
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(BackendRedTeam, Backend_ProductionPolicyRefusesAnonymousPlaintextBackends) {
  GatewayUnderTest gw;  // only for its PKI, keys and config as a base
  ASSERT_TRUE(gw.started()) << gw.log();
  std::string cfg = ReadFile(gw.config_path());
  // Production, with the backends an attacker on the network can use anonymously.
  const auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = cfg.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    cfg.replace(at, from.size(), to);
  };
  replace("    nonce_backend: memory\n", "    nonce_backend: redis\n    profile: production\n");
  replace("    rate_limit_backend: memory\n",
          "    rate_limit_backend: redis\n    redis_url: redis://redis.internal:6379/0\n"
          "    nats_url: nats://nats.internal:4222\n");
  replace("    queue_backend: embedded\n", "    queue_backend: nats\n");
  replace("    queue_signing_key_path: " + gw.queue_signing_key_path() + "\n", "");
  TempDir dir;
  WriteFile(dir.File("prod.yaml"), cfg, 0600);
  std::string out;
  const int rc = RunCommand({std::string(VV_BIN_DIR) + "/vvctl", "policy", "check",
                             dir.File("prod.yaml"), "--format", "text"},
                            &out);
  EXPECT_EQ(rc, 1) << out;
  for (const char* needle : {"FAIL production_backend_auth", "queue_signing_key_path",
                             "NATS credentials", "TLS to NATS", "Redis password", "TLS to Redis"})
    EXPECT_NE(out.find(needle), std::string::npos) << needle << "\n" << out;
  Scenario("backend",
           "vvctl policy check on a production config with anonymous plaintext Redis/NATS and "
           "no queue signing key -> exit 1, production_backend_auth names each gap",
           "exit " + std::to_string(rc));
  ExpectAuditVerifiesAndRestarts(gw);
}

// PostgreSQL graph store (issue 12). The schema is installed by the admin for a separate owner
// role; the gateway connects as vv_gateway.
void SplitRoles(PostgresServer& pg, std::string* out) {
  ASSERT_TRUE(pg.Psql("CREATE ROLE vv_graph_owner NOLOGIN NOSUPERUSER NOBYPASSRLS; "
                      "CREATE ROLE vv_gateway LOGIN NOSUPERUSER NOBYPASSRLS;")
                  .ok());
  ASSERT_EQ(RunCommand({std::string(VV_BIN_DIR) + "/vv-evidence", "init-postgres-graphs",
                        "--admin-url", pg.admin_url(), "--owner-role", "vv_graph_owner",
                        "--app-role", "vv_gateway"},
                       out),
            0)
      << *out;
}

TEST_F(BackendRedTeam, Backend_SuperuserGraphStoreUrlRefusedInProduction) {
  RedisServer redis;
  VV_REQUIRE_SERVER(redis);
  NatsServer nats;
  VV_REQUIRE_SERVER(nats);
  PostgresServer pg;
  VV_REQUIRE_SERVER(pg);
  std::string out;
  SplitRoles(pg, &out);
  auto production = [&](const std::string& pg_url) {
    GatewayOptions o;
    o.nonce_backend = o.rate_limit_backend = "redis";
    o.redis_url = redis.url();
    o.queue_backend = "nats";
    o.nats_url = nats.url();
    o.extra_yaml = "    profile: production\n";
    o.identity_operators = "[op-001, op-002]";  // production binds identities to operators
    o.env = {"VV_EVIDENCE_STORE_BACKEND=postgres", "VV_EVIDENCE_POSTGRES_URL=" + pg_url};
    return o;
  };
  std::string refusal;
  {
    GatewayUnderTest gw(production(pg.admin_url()));  // the bootstrap superuser
    EXPECT_FALSE(gw.started()) << "a superuser graph-store URL was accepted in production";
    refusal = gw.log();
    EXPECT_NE(refusal.find("role 'vv_admin' is a superuser"), std::string::npos) << refusal;
  }
  {
    GatewayUnderTest gw(production(pg.Url("vv_graph_owner")));
    EXPECT_FALSE(gw.started());
  }
  // The least-privilege role starts (the control), serves, and its audit log verifies.
  GatewayUnderTest gw(production(pg.Url("vv_gateway")));
  ASSERT_TRUE(gw.started()) << gw.log();
  auto client = gw.Client();
  EXPECT_EQ(Post(client, "evt-rt-pg-prod"), 202);
  const size_t at = refusal.find("graph store");
  Scenario("backend",
           "profile production with a superuser (or table-owner) PostgreSQL URL for the graph "
           "store refuses to start, naming the problem; the app role starts",
           at == std::string::npos ? refusal.substr(0, 300) : refusal.substr(at, 300));
  ExpectAuditVerifiesAndRestarts(gw);
}

TEST_F(BackendRedTeam, Backend_GraphStoreAppRoleCannotDisableRowLevelSecurity) {
  PostgresServer pg;
  VV_REQUIRE_SERVER(pg);
  std::string out;
  SplitRoles(pg, &out);
  const char* bin_env = std::getenv("VV_POSTGRES_BIN_DIR");
  const std::string psql =
      std::string(bin_env != nullptr ? bin_env : "/usr/lib/postgresql/15/bin") + "/psql";
  std::string observed;
  for (const std::string sql : {"ALTER TABLE vv_cognitive_graphs DISABLE ROW LEVEL SECURITY",
                                "ALTER TABLE vv_cognitive_graphs NO FORCE ROW LEVEL SECURITY",
                                "DROP POLICY vv_cognitive_graphs_tenant_isolation ON "
                                "vv_cognitive_graphs"}) {
    std::string r;
    const int rc =
        RunCommand({psql, "-X", "-v", "ON_ERROR_STOP=1", "-d", pg.Url("vv_gateway"), "-c", sql}, &r);
    EXPECT_NE(rc, 0) << sql << ": " << r;
    EXPECT_NE(r.find("must be owner"), std::string::npos) << r;
    observed += sql.substr(0, sql.find(" ON ")) + " -> " + r.substr(0, r.find('\n')) + "\n";
  }
  std::string state;
  ASSERT_TRUE(pg.Psql("SELECT relrowsecurity::text || ',' || relforcerowsecurity::text || ',' || "
                      "pg_get_userbyid(relowner) FROM pg_class WHERE relname = "
                      "'vv_cognitive_graphs'",
                      &state)
                  .ok());
  EXPECT_EQ(state.substr(0, state.find('\n')), "true,true,vv_graph_owner") << state;
  Scenario("backend",
           "the gateway's PostgreSQL role cannot disable/unforce RLS or drop the tenant policy "
           "on vv_cognitive_graphs (owned by a separate role, RLS forced)",
           observed + "table: " + state.substr(0, state.find('\n')));
}

}  // namespace
}  // namespace vv::testing

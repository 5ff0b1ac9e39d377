// Black-box: the ss-producer binary against the real vv-gateway (dev PKI, mTLS): NDJSON send,
// exactly-once storage of re-sent events, 429 handling, a producer killed mid-send and a
// gateway that was down, and keygen -> the gateway accepts the generated key.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "cli/run_tool.h"
#include "client/connect_proxy.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/process.h"
#include "integration/gateway_harness.h"
#include "json/json.h"


// GCC says __SANITIZE_ADDRESS__/__SANITIZE_THREAD__, clang 14 only __has_feature (the ASan
// stage of scripts/test.sh builds with clang, the TSan stage with GCC).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define VV_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define VV_TEST_SANITIZED 1
#endif
#endif
#ifndef VV_TEST_SANITIZED
#define VV_TEST_SANITIZED 0
#endif

namespace vv::testing {
namespace {

std::string Producer() { return std::string(VV_BIN_DIR) + "/ss-producer"; }

std::string Event(const std::string& event_id) {
  return std::string(R"({"event_id":")") + event_id +
         R"(","event_type":"PROCESS_ANOMALY","source_system":"spectrastrike-sensor","severity":"high","observed_at":"2026-02-26T12:00:00Z","mitre_techniques":["T1059.001"],"mitre_tactics":["TA0002"],"description":"Observed suspicious process chain","attributes":{"asset_ref":"host-nyc-01","attestation_measurement_hash":")" +
         std::string(64, 'b') + R"(","schema_version":"1.0"}})";
}

std::string Ndjson(const std::string& prefix, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += Event(prefix + "-" + std::to_string(i)) + "\n";
  return s;
}

struct ProducerSetup {
  TempDir dir;
  std::string config;
  std::string spool;

  // A config for a gateway on `port`; key = the A.1 producer seed unless `key_path` given.
  ProducerSetup(uint16_t port, const std::string& key_path = "", int max_attempts = 3,
                bool with_spool = true) {
    const DevPki& pki = DevPki::Get();
    std::string key = key_path;
    if (key.empty()) {
      key = dir.File("producer.seed");
      std::string seed;
      for (size_t i = 0; i < 32; ++i) seed.push_back(static_cast<char>(i));
      WriteFile(key, seed, 0600);
    }
    spool = dir.File("spool.db");
    std::ostringstream y;
    y << "spectrastrike:\n  producer:\n"
      << "    endpoint: https://127.0.0.1:" << port << "/internal/v1/telemetry\n"
      << "    service_identity: spectrastrike-producer\n"
      << "    operator_id: op-001\n    tenant_id: " << kTenant1 << "\n    campaign_id: cmp-001\n";
    if (with_spool) y << "    spool_path: " << spool << "\n";
    y << "    mtls:\n      cert_path: " << pki.Path("producer.crt") << "\n"
      << "      key_path: " << pki.Path("producer.key") << "\n"
      << "      ca_path: " << pki.Path("ca.crt") << "\n      verify_peer: true\n"
      << "      server_name: localhost\n"
      << "    signing:\n      algorithm: ed25519\n      private_key_path: " << key << "\n"
      << "      key_id: test-key\n"
      << "    replay:\n      nonce_length: 24\n      timestamp_format: unix_epoch_seconds\n"
      << "      max_clock_skew_seconds: 30\n"
      << "    retry:\n      max_attempts: " << max_attempts
      << "\n      backoff_ms: 20\n      jitter_ms: 10\n";
    config = dir.File("producer.yaml");
    WriteFile(config, y.str(), 0600);
  }

  int Run(const std::vector<std::string>& args, std::string* out,
          const std::vector<std::string>& env = {}) const {
    std::vector<std::string> argv = {Producer(), "--config", config, "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, out, env);
  }
};

// The last line of the output parsed as JSON (stderr may precede it).
json::Value LastJson(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  size_t nl = s.rfind('\n');
  auto v = json::Parse(nl == std::string::npos ? s : s.substr(nl + 1));
  return v.ok() ? *v : json::Value();
}

int64_t Int(const json::Value& v, const char* key) {
  const json::Value* f = v.is_object() ? v.Find(key) : nullptr;
  return (f && f->is_int()) ? f->as_int64().value_or(-1) : -1;
}

class ProducerCliTest : public SharedGatewayTest {};

TEST_F(ProducerCliTest, SendsAnNdjsonFileAndEveryEventIsAcceptedAndQueued) {
  ProducerSetup p(gw_->port());
  WriteFile(p.dir.File("events.ndjson"), Ndjson("evt-ndjson", 40));
  int64_t before = gw_->QueueCount("ingest");
  std::string out;
  int rc = p.Run({"send", p.dir.File("events.ndjson")}, &out);
  EXPECT_EQ(rc, 0) << out << gw_->log();
  json::Value r = LastJson(out);
  EXPECT_EQ(Int(r, "events"), 40) << out;
  EXPECT_EQ(Int(r, "accepted"), 40) << out;
  EXPECT_EQ(gw_->QueueCount("ingest"), before + 40);
  // Spool status agrees.
  rc = p.Run({"spool", "status"}, &out);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(Int(LastJson(out), "delivered"), 40) << out;
  EXPECT_EQ(Int(LastJson(out), "pending"), 0);
}

TEST_F(ProducerCliTest, ResentEventsAreStoredOnceWithAndWithoutTheSpool) {
  ProducerSetup p(gw_->port());
  WriteFile(p.dir.File("e.ndjson"), Ndjson("evt-resend", 5));
  std::string out;
  int64_t before = gw_->QueueCount("ingest");
  ASSERT_EQ(p.Run({"send", p.dir.File("e.ndjson")}, &out), 0) << out;
  // Through the spool: already delivered, not sent again.
  ASSERT_EQ(p.Run({"send", p.dir.File("e.ndjson")}, &out), 0) << out;
  EXPECT_EQ(Int(LastJson(out), "accepted"), 5);
  // Bypassing the spool: re-signed with fresh nonces (no 409), deduplicated by the gateway.
  ASSERT_EQ(p.Run({"send", "--no-spool", p.dir.File("e.ndjson")}, &out), 0) << out;
  EXPECT_EQ(Int(LastJson(out), "accepted"), 5);
  EXPECT_EQ(gw_->QueueCount("ingest"), before + 5);
}

// --batch-size: the events go to the real gateway's batch endpoint (one signed NDJSON request
// per N events), directly and through the spool; per-event outcomes come back from the 207, each
// event is stored once and audited with its batch id.
TEST_F(ProducerCliTest, BatchSizeUsesTheBatchEndpointWithPerEventOutcomes) {
  ProducerSetup p(gw_->port());
  std::string bad_mitre = Event("evt-batch-bad");
  bad_mitre.replace(bad_mitre.find("T1059.001"), 9, "X1059");
  WriteFile(p.dir.File("e.ndjson"), Ndjson("evt-batch-direct", 9) + bad_mitre + "\n");
  WriteFile(p.dir.File("f.ndjson"), Ndjson("evt-batch-spool", 12));
  const int64_t before = gw_->QueueCount("ingest");
  std::string out;
  EXPECT_EQ(p.Run({"send", "--no-spool", "--batch-size", "4", p.dir.File("e.ndjson")}, &out), 1)
      << out;
  json::Value r = LastJson(out);
  EXPECT_EQ(Int(r, "events"), 10) << out;
  EXPECT_EQ(Int(r, "accepted"), 9) << out;
  EXPECT_EQ(Int(r, "rejected"), 1) << out;
  ASSERT_EQ(p.Run({"send", "--batch-size", "5", p.dir.File("f.ndjson")}, &out), 0) << out;
  EXPECT_EQ(Int(LastJson(out), "accepted"), 12) << out;
  // Re-sent in batches with fresh nonces: deduplicated per event, stored once.
  ASSERT_EQ(p.Run({"send", "--no-spool", "--batch-size", "50", p.dir.File("f.ndjson")}, &out), 0)
      << out;
  EXPECT_EQ(gw_->QueueCount("ingest"), before + 21);
  int batched = 0;
  for (const std::string& line : gw_->AuditLines())
    if (line.find("evt-batch-") != std::string::npos && line.find("\"batch_id\"") != std::string::npos)
      ++batched;
  EXPECT_GE(batched, 9 + 12 + 12) << "one audit record per event, with its batch id";
}

TEST_F(ProducerCliTest, InvalidAndRejectedEventsAreReportedWithReasonsAndExitNonZero) {
  ProducerSetup p(gw_->port());
  std::string bad_mitre = Event("evt-bad-mitre");
  bad_mitre.replace(bad_mitre.find("T1059.001"), 9, "X1059");
  WriteFile(p.dir.File("e.ndjson"),
            Event("evt-good-1") + "\n{not json\n" + bad_mitre + "\n");
  std::string out;
  EXPECT_EQ(p.Run({"send", p.dir.File("e.ndjson")}, &out), 1) << out;
  json::Value r = LastJson(out);
  EXPECT_EQ(Int(r, "events"), 3) << out;
  EXPECT_EQ(Int(r, "accepted"), 1);
  EXPECT_EQ(Int(r, "rejected"), 2);
  EXPECT_NE(out.find("HTTP 422"), std::string::npos) << out;
}

TEST_F(ProducerCliTest, ProducerKilledMidSendLosesNothingAndStoresEachEventOnce) {
  ProducerSetup p(gw_->port());
  const int n = 400;
  WriteFile(p.dir.File("big.ndjson"), Ndjson("evt-kill", n));
  int64_t before = gw_->QueueCount("ingest");
  {
    ChildProcess child({Producer(), "--config", p.config, "--json", "send",
                        p.dir.File("big.ndjson")},
                       p.dir.File("send.log"));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (gw_->QueueCount("ingest") < before + 10 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    child.Terminate(9);
  }
  std::string out;
  ASSERT_EQ(p.Run({"spool", "status"}, &out), 0) << out;
  int64_t pending = Int(LastJson(out), "pending");
  EXPECT_GT(pending, 0) << "the kill should interrupt the send: " << out;
  EXPECT_EQ(pending + Int(LastJson(out), "delivered"), n) << "everything was spooled first";
  // Restart: drain the rest.
  EXPECT_EQ(p.Run({"spool", "drain"}, &out), 0) << out;
  ASSERT_EQ(p.Run({"spool", "status"}, &out), 0);
  EXPECT_EQ(Int(LastJson(out), "delivered"), n) << out;
  EXPECT_EQ(gw_->QueueCount("ingest"), before + n) << "each event stored exactly once";
}

TEST_F(ProducerCliTest, GatewayDownKeepsEventsSpooledUntilItIsBack) {
  ProducerSetup p(gw_->port(), "", /*max_attempts=*/2);
  WriteFile(p.dir.File("e.ndjson"), Ndjson("evt-down", 20));
  // Port 1 on loopback: connection refused (the "gateway" is down).
  std::string out;
  int rc = p.Run({"send", p.dir.File("e.ndjson")}, &out,
                 {"VECTORVUE_FEDERATION_URL=https://127.0.0.1:1"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(Int(LastJson(out), "accepted"), 0) << out;
  ASSERT_EQ(p.Run({"spool", "status"}, &out), 0);
  EXPECT_EQ(Int(LastJson(out), "pending"), 20) << out;
  int64_t before = gw_->QueueCount("ingest");
  EXPECT_EQ(p.Run({"spool", "drain"}, &out), 0) << out;
  EXPECT_EQ(Int(LastJson(out), "accepted"), 20) << out;
  EXPECT_EQ(gw_->QueueCount("ingest"), before + 20);
}

TEST(ProducerRateLimitTest, TooManyRequestsIsRetriedThenLeftPending) {
  GatewayOptions opts;
  opts.rate_limit_per_minute = 2;
  GatewayUnderTest gw(opts);
  ASSERT_TRUE(gw.started()) << gw.log();
  ProducerSetup p(gw.port(), "", /*max_attempts=*/2);
  WriteFile(p.dir.File("e.ndjson"), Ndjson("evt-rate", 4));
  std::string out;
  EXPECT_EQ(p.Run({"send", p.dir.File("e.ndjson")}, &out), 1) << out;
  json::Value r = LastJson(out);
  EXPECT_EQ(Int(r, "accepted"), 2) << out;
  EXPECT_EQ(Int(r, "failed"), 2) << out;
  EXPECT_NE(out.find("Operator burst anomaly detected"), std::string::npos) << out;
  EXPECT_EQ(gw.QueueCount("ingest"), 2);
  ASSERT_EQ(p.Run({"spool", "status"}, &out), 0);
  EXPECT_EQ(Int(LastJson(out), "pending"), 2) << "not lost: retried by the next drain";
}

TEST(ProducerKeygenTest, GatewayAcceptsSignaturesFromAGeneratedKey) {
  TempDir keys;
  std::string key = keys.File("ss_ed25519.key");
  std::string out;
  ASSERT_EQ(RunCommand({Producer(), "--json", "keygen", "--out", key}, &out), 0) << out;
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400);
  json::Value k = LastJson(out);
  ASSERT_TRUE(k.is_object() && k.Find("public_key_b64")) << out;
  std::string pub = k.Find("public_key_b64")->as_string();
  // A second keygen does not overwrite the key.
  EXPECT_NE(RunCommand({Producer(), "keygen", "--out", key}, &out), 0);

  // The gateway takes the key from VV_TG_SPECTRASTRIKE_ED25519_PUBKEY (overrides its YAML);
  // the child inherits this process's environment.
  ::setenv("VV_TG_SPECTRASTRIKE_ED25519_PUBKEY", pub.c_str(), 1);
  GatewayUnderTest gw;
  ::unsetenv("VV_TG_SPECTRASTRIKE_ED25519_PUBKEY");
  ASSERT_TRUE(gw.started()) << gw.log();
  ProducerSetup good(gw.port(), key);
  WriteFile(good.dir.File("e.ndjson"), Ndjson("evt-keygen", 2));
  EXPECT_EQ(good.Run({"send", good.dir.File("e.ndjson")}, &out), 0) << out;
  EXPECT_EQ(Int(LastJson(out), "accepted"), 2) << out;
  // Control: the A.1 key is no longer trusted by this gateway.
  ProducerSetup other(gw.port());
  WriteFile(other.dir.File("e.ndjson"), Ndjson("evt-keygen-other", 1));
  EXPECT_EQ(other.Run({"send", other.dir.File("e.ndjson")}, &out), 1) << out;
  EXPECT_NE(out.find("Invalid telemetry signature"), std::string::npos) << out;
}

TEST(ProducerKeyFileTest, GroupReadablePrivateKeyIsRefused) {
  TempDir d;
  std::string key = d.File("loose.key");
  std::string seed(32, '\x01');
  WriteFile(key, seed, 0644);
  ProducerSetup p(1, key);
  WriteFile(p.dir.File("e.ndjson"), Ndjson("evt-perm", 1));
  std::string out;
  EXPECT_EQ(p.Run({"send", p.dir.File("e.ndjson")}, &out), 2) << out;
  EXPECT_NE(out.find("signing key"), std::string::npos) << out;
}

TEST(ProducerFingerprintTest, PrintsThePinTheGatewayUses) {
  const DevPki& pki = DevPki::Get();
  std::string out;
  ASSERT_EQ(RunCommand({Producer(), "fingerprint", pki.Path("producer.crt")}, &out), 0) << out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  EXPECT_EQ(out, pki.Pin("producer"));
  EXPECT_NE(RunCommand({Producer(), "fingerprint", "/nonexistent.crt"}, &out), 0);
}

}  // namespace
}  // namespace vv::testing

namespace vv::testing {
namespace {

// ---------------------------------------------------------------- issue 16 (user-facing polish)

// A misspelt key used to be ignored silently (the default applied); now it is a configuration
// error naming the key, with a hint, like the gateway's config.
TEST(ProducerConfigStrictnessTest, AMisspeltKeyIsAConfigurationErrorNamingIt) {
  ProducerSetup p(1);
  std::string cfg = ReadFile(p.config);
  cfg.replace(cfg.find("      server_name: localhost"), 28, "      server_nmae: localhost");
  WriteFile(p.config, cfg, 0600);
  WriteFile(p.dir.File("e.ndjson"), Ndjson("evt-strict", 1));
  ToolRun r = RunTool({Producer(), "send", p.dir.File("e.ndjson"), "--config", p.config});
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("unknown key 'spectrastrike.producer.mtls.server_nmae'"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("did you mean 'server_name'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("fix: "), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(p.spool));  // nothing was attempted
}

class ProducerPolishTest : public SharedGatewayTest {};

// A missing client certificate used to be tried max_attempts times and reported as "gateway
// unavailable" (exit 1). It is a configuration error: exit 2 at once, naming the file.
TEST_F(ProducerPolishTest, MissingClientCertificateIsAConfigurationErrorNeverRetried) {
  ProducerSetup p(gw_->port(), "", /*max_attempts=*/5);
  std::string cfg = ReadFile(p.config);
  const std::string crt = DevPki::Get().Path("producer.crt");
  cfg.replace(cfg.find(crt), crt.size(), p.dir.File("no-such-client.crt"));
  WriteFile(p.config, cfg, 0600);
  WriteFile(p.dir.File("e.ndjson"), Ndjson("evt-nocert", 2));
  ToolRun r = RunTool({Producer(), "--json", "--config", p.config, "send", p.dir.File("e.ndjson")});
  EXPECT_EQ(r.rc, 2) << r.err << r.out;
  EXPECT_NE(r.err.find("mtls.cert_path"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no-such-client.crt"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("unavailable"), std::string::npos) << r.err;
  EXPECT_EQ(Int(LastJson(r.out), "exit_code"), 2) << r.out;
  EXPECT_FALSE(std::filesystem::exists(p.spool));
  // Unreadable (not missing): the same class of error.
  const std::string other = p.dir.File("unreadable.crt");
  WriteFile(other, ReadFile(crt), 0000);
  if (::geteuid() != 0) {  // root reads anything
    cfg = ReadFile(p.config);
    cfg.replace(cfg.find(p.dir.File("no-such-client.crt")), p.dir.File("no-such-client.crt").size(), other);
    WriteFile(p.config, cfg, 0600);
    EXPECT_EQ(RunTool({Producer(), "--config", p.config, "send", p.dir.File("e.ndjson")}).rc, 2);
  }
}

// `send -` streams: the first event reaches the gateway while the pipe is still open (it used
// to read all of stdin first).
TEST_F(ProducerPolishTest, SendFromStdinDeliversEachEventWhileThePipeIsStillOpen) {
  ProducerSetup p(gw_->port());
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string log = p.dir.File("producer.out");
  const std::string bin = Producer();  // no allocation after fork (threads in this process)
  const int64_t before = gw_->QueueCount("ingest");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[0], 0);
    ::close(fds[1]);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execl(bin.c_str(), bin.c_str(), "send", "-", "--config", p.config.c_str(), "--json",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[0]);
  auto write_line = [&](const std::string& s) {
    ASSERT_EQ(::write(fds[1], s.data(), s.size()), static_cast<ssize_t>(s.size()));
  };
  write_line(Event("evt-stream-0") + "\n");
  auto wait_for = [&](int64_t n) {
    for (int i = 0; i < 200 && gw_->QueueCount("ingest") < before + n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return gw_->QueueCount("ingest");
  };
  EXPECT_EQ(wait_for(1), before + 1) << ReadFile(log);
  write_line(Event("evt-stream-1") + "\n");
  EXPECT_EQ(wait_for(2), before + 2) << ReadFile(log);
  ::close(fds[1]);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << ReadFile(log);
  EXPECT_EQ(Int(LastJson(ReadFile(log)), "accepted"), 2) << ReadFile(log);
}

// A ~50 MB input is read line by line: peak RSS stays far below the input size (it used to
// hold the whole input twice). Big lines are invalid events (reported, skipped), the valid
// ones around them are delivered.
TEST_F(ProducerPolishTest, LargeInputIsStreamedInBoundedMemory) {
  ProducerSetup p(gw_->port());
  const std::string path = p.dir.File("big.ndjson");
  {
    std::ofstream f(path, std::ios::binary);
    f << Event("evt-big-first") << "\n";
    const std::string filler(800 * 1024, 'x');
    for (int i = 0; i < 64; ++i) {
      f << R"({"event_id":"evt-junk-)" << i << R"(","description":")" << filler << "\n";
      if (i == 32) f << Event("evt-big-middle") << "\n";
    }
    f << std::string(3 << 20, 'y') << "\n";  // one line over the 1 MiB line limit
    f << Event("evt-big-last") << "\n";
  }
  ASSERT_GT(std::filesystem::file_size(path), 50u << 20);
  const int64_t before = gw_->QueueCount("ingest");
  ToolRun r = RunTool({Producer(), "--config", p.config, "--json", "send", "--no-spool", path});
  EXPECT_EQ(r.rc, 1) << r.err.substr(0, 2000);
  json::Value v = LastJson(r.out);
  EXPECT_EQ(Int(v, "events"), 68) << r.out.substr(0, 2000);
  EXPECT_EQ(Int(v, "accepted"), 3);
  EXPECT_EQ(Int(v, "rejected"), 65);
  EXPECT_NE(r.out.find("line longer than 1048576 bytes"), std::string::npos);
  EXPECT_EQ(gw_->QueueCount("ingest"), before + 3);
#if VV_TEST_SANITIZED
  // Sanitizer builds keep freed memory in quarantine/shadow: the bound is for release builds.
  (void)r.max_rss_kb;
#else
  EXPECT_LT(r.max_rss_kb, 40 * 1024) << "peak RSS " << r.max_rss_kb << " KiB for a 50 MB input";
#endif
}

// Progress: on a terminal, the count with the rate and (file size known) percentage and ETA;
// nothing when stderr is not a terminal.
TEST_F(ProducerPolishTest, ProgressWithRateAndEtaOnlyOnATerminal) {
  ProducerSetup p(gw_->port());
  WriteFile(p.dir.File("e.ndjson"), Ndjson("evt-progress", 30));
  ToolRun tty =
      RunTool({Producer(), "--config", p.config, "send", "--no-spool", p.dir.File("e.ndjson")},
              {.env = {}, .stdin_path = "", .stderr_tty = true});
  EXPECT_EQ(tty.rc, 0) << tty.err << tty.out;
  EXPECT_NE(tty.err.find("\r"), std::string::npos) << tty.err;
  EXPECT_NE(tty.err.find(" events, "), std::string::npos) << tty.err;
  EXPECT_NE(tty.err.find("/s, "), std::string::npos) << tty.err;
  EXPECT_NE(tty.err.find("%, ETA "), std::string::npos) << tty.err;
  WriteFile(p.dir.File("f.ndjson"), Ndjson("evt-progress-pipe", 30));
  ToolRun pipe =
      RunTool({Producer(), "--config", p.config, "send", "--no-spool", p.dir.File("f.ndjson")});
  EXPECT_EQ(pipe.rc, 0) << pipe.err;
  EXPECT_EQ(pipe.err.find("\r"), std::string::npos) << pipe.err;
  EXPECT_EQ(pipe.err.find("/s"), std::string::npos) << pipe.err;
  // From stdin the total is unknown: rate, no ETA.
  WriteFile(p.dir.File("g.ndjson"), Ndjson("evt-progress-stdin", 30));
  ToolRun in = RunTool({Producer(), "--config", p.config, "send", "--no-spool", "-"},
                       {.env = {}, .stdin_path = p.dir.File("g.ndjson"), .stderr_tty = true});
  EXPECT_EQ(in.rc, 0) << in.err;
  EXPECT_NE(in.err.find("/s"), std::string::npos) << in.err;
  EXPECT_EQ(in.err.find("ETA"), std::string::npos) << in.err;
}

// https_proxy: the producer tunnels through an HTTP proxy with CONNECT (mTLS end to end);
// no_proxy exempts the gateway; a refusing proxy is a delivery failure naming it.
TEST_F(ProducerPolishTest, HttpsProxyIsUsedUnlessNoProxyExemptsTheGateway) {
  ConnectProxy proxy;
  ProducerSetup p(gw_->port());
  const std::string via = "https_proxy=http://127.0.0.1:" + std::to_string(proxy.port());
  WriteFile(p.dir.File("e.ndjson"), Ndjson("evt-proxy", 3));
  const int64_t before = gw_->QueueCount("ingest");
  ToolRun r = RunTool(
      {Producer(), "--config", p.config, "--json", "send", "--no-spool", p.dir.File("e.ndjson")},
      {.env = {via, "no_proxy=", "NO_PROXY="}, .stdin_path = "", .stderr_tty = false});
  EXPECT_EQ(r.rc, 0) << r.err << r.out;
  EXPECT_EQ(Int(LastJson(r.out), "accepted"), 3) << r.out;
  EXPECT_EQ(gw_->QueueCount("ingest"), before + 3);
  ASSERT_GE(proxy.tunnels(), 1);
  EXPECT_EQ(proxy.requests()[0], "CONNECT 127.0.0.1:" + std::to_string(gw_->port()) + " HTTP/1.1");

  const int tunnels = proxy.tunnels();
  WriteFile(p.dir.File("f.ndjson"), Ndjson("evt-noproxy", 1));
  r = RunTool(
      {Producer(), "--config", p.config, "send", "--no-spool", p.dir.File("f.ndjson")},
      {.env = {via, "no_proxy=localhost,127.0.0.1"}, .stdin_path = "", .stderr_tty = false});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(proxy.tunnels(), tunnels);

  ConnectProxy refusing(403);
  ProducerSetup q(gw_->port(), "", /*max_attempts=*/1);
  WriteFile(q.dir.File("e.ndjson"), Ndjson("evt-proxy-refused", 1));
  r = RunTool(
      {Producer(), "--config", q.config, "--json", "send", "--no-spool", q.dir.File("e.ndjson")},
      {.env = {"https_proxy=http://127.0.0.1:" + std::to_string(refusing.port()), "no_proxy="},
       .stdin_path = "",
       .stderr_tty = false});
  EXPECT_EQ(r.rc, 1) << r.err << r.out;
  EXPECT_NE(r.out.find("refused CONNECT"), std::string::npos) << r.out;
  // A proxy URL the producer cannot use is a configuration error.
  r = RunTool({Producer(), "--config", q.config, "send", "--no-spool", q.dir.File("e.ndjson")},
              {.env = {"https_proxy=socks5://127.0.0.1:1080", "no_proxy="},
               .stdin_path = "",
               .stderr_tty = false});
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("https_proxy"), std::string::npos) << r.err;
}

// --dry-run signs each event and prints the request; nothing reaches the gateway or the spool.
TEST_F(ProducerPolishTest, DryRunSignsAndPrintsWithoutSending) {
  ProducerSetup p(gw_->port());
  WriteFile(p.dir.File("e.ndjson"), Ndjson("evt-dry", 2) + "{broken\n");
  const int64_t before = gw_->QueueCount("ingest");
  ToolRun r = RunTool({Producer(), "--config", p.config, "--json", "send", p.dir.File("e.ndjson"), "--dry-run"});
  EXPECT_EQ(r.rc, 1) << r.err << r.out;  // one invalid line
  std::string seed;
  for (size_t i = 0; i < 32; ++i) seed.push_back(static_cast<char>(i));
  auto key = crypto::Ed25519PrivateKey::FromSeed(seed);
  ASSERT_TRUE(key.ok());
  std::istringstream lines(r.out);
  std::string line;
  int requests = 0;
  while (std::getline(lines, line)) {
    auto v = json::Parse(line);
    ASSERT_TRUE(v.ok()) << line;
    if (v->Find("body") == nullptr) continue;
    ++requests;
    const json::Value* h = v->Find("headers");
    ASSERT_NE(h, nullptr);
    const std::string ts = h->Find("X-Telemetry-Timestamp")->as_string();
    const std::string nonce = h->Find("X-Telemetry-Nonce")->as_string();
    auto sig = Base64DecodeStrict(h->Find("X-Telemetry-Signature")->as_string());
    ASSERT_TRUE(sig.has_value());
    EXPECT_TRUE(key->PublicKey().Verify(ts + "." + nonce + "." + v->Find("body")->as_string(), *sig))
        << line;
    EXPECT_EQ(v->Find("url")->as_string(),
              "https://127.0.0.1:" + std::to_string(gw_->port()) + "/internal/v1/telemetry");
  }
  EXPECT_EQ(requests, 2) << r.out;
  json::Value summary = LastJson(r.out);
  EXPECT_EQ(Int(summary, "signed"), 2) << r.out;
  EXPECT_EQ(Int(summary, "invalid"), 1) << r.out;
  EXPECT_EQ(gw_->QueueCount("ingest"), before);
  EXPECT_FALSE(std::filesystem::exists(p.spool));
}

// Feedback whose signature does not verify (wrong pinned key) is told apart from a delivery
// failure: the message, "verification_failed" in the JSON and exit status 3 (docs/cli.md).
TEST(ProducerVerifyExitTest, FeedbackThatDoesNotVerifyIsReportedAsAVerificationFailure) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  ProducerSetup p(gw.port());
  std::string cfg = ReadFile(p.config);
  cfg += "    feedback:\n      verify_keys:\n        kid-001: " +
         crypto::Ed25519PrivateKey::Generate().PublicKey().ToBase64() + "\n"
         "      replay_cache_path: " + p.dir.File("feedback.cache") + "\n";
  WriteFile(p.config, cfg, 0600);
  ToolRun r = RunTool({Producer(), "feedback", "--limit", "5", "--config", p.config, "--json"});
  EXPECT_EQ(r.rc, 3) << r.err << r.out;  // verification failed (docs/cli.md)
  EXPECT_NE(r.err.find("feedback does not verify"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("fix: check feedback.verify_keys"), std::string::npos) << r.err;
  const json::Value last = LastJson(r.out);  // kept alive: Find points into it
  const json::Value* vf = last.Find("verification_failed");
  ASSERT_NE(vf, nullptr) << r.out;
  EXPECT_TRUE(vf->as_bool());
}

// The other half of the federation against the real gateway: execution graph -> signed
// feedback verified by the producer (wire-contract 2.3, stricter), and a federation bundle.
TEST(ProducerCognitiveLoopTest, GraphFeedbackAndFederationAgainstTheRealGateway) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  ProducerSetup p(gw.port());
  // Feedback verify key: the gateway harness signs with the A.1 feedback seed, kid-001.
  std::string cfg = ReadFile(p.config);
  cfg += "    feedback:\n      verify_keys:\n        kid-001: Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=\n"
         "      replay_cache_path: " + p.dir.File("feedback.cache") + "\n";
  WriteFile(p.config, cfg, 0600);

  std::string graph = p.dir.File("graph.json");
  std::string nodes;
  for (int i = 0; i < 9; ++i) nodes += std::string(i ? "," : "") + "{\"id\":\"n" + std::to_string(i) + "\"}";
  WriteFile(graph, "{\"graph_id\":\"g-1\",\"tenant_id\":\"" + std::string(kTenant1) +
                       "\",\"operator_id\":\"op-001\",\"target_urn\":\"urn:target:ip:10.0.0.5\","
                       "\"execution_fingerprint\":\"" + std::string(64, 'c') +
                       "\",\"nodes\":[" + nodes + "],\"edges\":[]}");
  std::string out;
  ASSERT_EQ(p.Run({"graph", graph}, &out), 0) << out;
  ASSERT_EQ(p.Run({"feedback", "--limit", "10"}, &out), 0) << out;
  // A 9-node graph crosses the threshold: tighten, 0.82 (wire-contract 10).
  EXPECT_NE(out.find("tighten"), std::string::npos) << out;
  EXPECT_NE(out.find("urn:target:ip:10.0.0.5"), std::string::npos) << out;
  // The verified response's nonce is recorded: the cache file exists after the query.
  struct stat st;
  EXPECT_EQ(stat(p.dir.File("feedback.cache").c_str(), &st), 0);

  ASSERT_EQ(p.Run({"federate", "--execution-hash", std::string(64, 'f')}, &out), 0) << out;
  EXPECT_NE(out.find("bundle_hash"), std::string::npos) << out;

  // The gateway audited all three outcomes.
  int graph_ok = 0, feedback_ok = 0, federation_ok = 0;
  for (const auto& line : gw.AuditLines()) {
    graph_ok += line.find("\"cognitive.graph.accepted\"") != std::string::npos;
    feedback_ok += line.find("\"cognitive.feedback.issued\"") != std::string::npos;
    federation_ok += line.find("\"federation.accepted\"") != std::string::npos;
  }
  EXPECT_EQ(graph_ok, 1);
  EXPECT_EQ(feedback_ok, 1);
  EXPECT_EQ(federation_ok, 1);
}

}  // namespace
}  // namespace vv::testing

namespace vv::testing {
namespace {

// Issue 7's outage drill: the gateway is stopped for 10 s while a 1,000-event NDJSON send is in
// flight. The producer spools everything first; what it could not deliver stays pending and a
// `spool drain` after the restart delivers it. Every event ends up accepted exactly once.
TEST(ProducerOutageTest, GatewayDownForTenSecondsDuringAThousandEventSend) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  uint16_t port = gw.port();
  // Restart on the same port.
  std::string cfg = ReadFile(gw.config_path());
  size_t at = cfg.find("listen: 127.0.0.1:0");
  ASSERT_NE(at, std::string::npos);
  cfg.replace(at, std::string("listen: 127.0.0.1:0").size(), "listen: 127.0.0.1:" + std::to_string(port));
  WriteFile(gw.config_path(), cfg, 0600);

  ProducerSetup p(port, "", /*max_attempts=*/2);
  std::string events = p.dir.File("events.ndjson");
  WriteFile(events, Ndjson("evt-outage", 1000));
  ChildProcess send({Producer(), "--config", p.config, "--json", "send", events},
                    p.dir.File("send.log"));
  // Take the gateway down once a third of the events are in.
  for (int i = 0; i < 400 && gw.QueueCount("ingest") < 300; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(gw.Stop(), 0);
  auto down_at = std::chrono::steady_clock::now();
  auto rc = send.WaitExit(std::chrono::seconds(15));  // gives up on what it cannot deliver
  ASSERT_TRUE(rc.has_value()) << send.Log();
  std::this_thread::sleep_until(down_at + std::chrono::seconds(10));
  ASSERT_TRUE(gw.Restart()) << gw.log();
  ASSERT_EQ(gw.port(), port);

  std::string out;
  for (int round = 0; round < 5; ++round) {
    int drc = p.Run({"spool", "drain"}, &out);
    if (drc == 0) break;
  }
  ASSERT_EQ(p.Run({"spool", "status"}, &out), 0) << out;
  EXPECT_EQ(Int(LastJson(out), "pending"), 0) << out;
  EXPECT_EQ(gw.QueueCount("ingest"), 1000) << "every event exactly once (dedupe by event id)";
}

}  // namespace
}  // namespace vv::testing

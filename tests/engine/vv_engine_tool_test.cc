// Black-box: the vv-engine and vv-evidence binaries on embedded defaults (SQLite queue,
// SQLite store, file / env root keys). Envelopes are written into the queue as the gateway
// writes them. Covers kill -9 + restart mid-stream (nothing lost, nothing duplicated),
// graceful SIGTERM, tamper rejection, tenant-scoped decrypting listing, config refusal.

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <set>

#include "audit/anchor.h"
#include "audit/verifier.h"
#include "engine/engine_test_util.h"
#include "evidence/sqlite_evidence_store.h"
#include "fakes/fake_clock.h"
#include "fakes/process.h"
#include "fakes/temp_dir.h"

namespace vv::engine {
namespace {

using namespace std::chrono_literals;
using testing::AuditRecords;
using testing::CountAudit;
using testing::MakeIngest;
using testing::PublishSync;
using vv::testing::ChildProcess;
using vv::testing::RunCommand;

constexpr char kT1[] = "10000000-0000-0000-0000-000000000001";
constexpr char kT2[] = "20000000-0000-0000-0000-000000000002";

class VvEngineToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vv::testing::WriteFile(dir_.File("root.key"), std::string(32, 'K'), 0400);
    WriteConfig("file");
    auto q = queue::EmbeddedQueue::Open(dir_.File("queue.db"), {});
    ASSERT_TRUE(q.ok());
    queue_ = std::move(q).value();
  }

  void WriteConfig(const std::string& provider) {
    vv::testing::WriteFile(config_,
                           "vectorvue:\n"
                           "  telemetry_gateway:\n"
                           "    queue_backend: embedded\n"
                           "    queue_path: queue.db\n"
                           "    audit_log_path: gateway-audit.jsonl\n"
                           "    operator_tenant_map:\n"
                           "      op-001: " +
                               std::string(kT1) +
                               "\n"
                               "      op-002: " +
                               std::string(kT2) +
                               "\n"
                               "  evidence_engine:\n"
                               "    store_backend: sqlite\n"
                               "    store_path: evidence.db\n"
                               "    root_key_provider: " +
                               provider +
                               "\n"
                               "    root_key_file: root.key\n"
                               "    root_key_id: file-root-1\n"
                               "    audit_fsync: none\n"
                               "    batch_size: 16\n"
                               "    poll_interval_ms: 10\n"
                               "    metrics_path: engine.prom\n"
                               "    metrics_interval_seconds: 1\n" +
                               testing::QueueVerifyKeysYaml());
  }

  std::unique_ptr<ChildProcess> StartEngine(std::vector<std::string> extra_args = {},
                                            std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {std::string(VV_BIN_DIR) + "/vv-engine", "--config", config_};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    auto p = std::make_unique<ChildProcess>(
        argv, dir_.File("engine-" + std::to_string(++runs_) + ".log"), env);
    return p;
  }

  void Publish(const std::string& tenant, const std::string& op, const std::string& event) {
    ASSERT_TRUE(PublishSync(*queue_, MakeIngest(tenant, op, event, clock_, random_)).ok());
  }

  int64_t StoredCount(const std::string& tenant) {
    auto s = evidence::SqliteEvidenceStore::Open(dir_.File("evidence.db"));
    if (!s.ok()) return -1;
    auto n = (*s)->Count(tenant);
    return n.ok() ? *n : -1;
  }

  bool WaitForCount(const std::string& tenant, int64_t n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (StoredCount(tenant) >= n) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  int Evidence(std::vector<std::string> args, std::string* out) {
    std::vector<std::string> argv = {std::string(VV_BIN_DIR) + "/vv-evidence"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, out);
  }

  vv::testing::TempDir dir_;
  std::string config_ = dir_.File("vv.yaml");
  vv::testing::FakeClock clock_;
  SystemRandom random_;
  std::unique_ptr<queue::EmbeddedQueue> queue_;
  int runs_ = 0;
};

TEST_F(VvEngineToolTest, KillDashNineMidStreamThenRestartLosesAndDuplicatesNothing) {
  constexpr int kFirst = 300, kSecond = 100;
  for (int i = 0; i < kFirst; ++i) Publish(kT1, "op-001", "evt-" + std::to_string(i));
  auto engine = StartEngine();
  ASSERT_TRUE(engine->WaitForLine("ENGINE READY", 20s)) << engine->Log();
  ASSERT_TRUE(WaitForCount(kT1, 40, 30s)) << engine->Log();
  EXPECT_EQ(engine->Terminate(SIGKILL), -SIGKILL);
  const int64_t at_kill = StoredCount(kT1);
  EXPECT_LT(at_kill, kFirst + kSecond);
  // The gateway keeps accepting while the engine is down.
  for (int i = kFirst; i < kFirst + kSecond; ++i)
    Publish(kT1, "op-001", "evt-" + std::to_string(i));

  auto restarted = StartEngine();
  ASSERT_TRUE(restarted->WaitForLine("ENGINE READY", 20s)) << restarted->Log();
  ASSERT_TRUE(WaitForCount(kT1, kFirst + kSecond, 60s)) << restarted->Log();
  EXPECT_EQ(restarted->Terminate(SIGTERM), 0) << restarted->Log();
  EXPECT_NE(restarted->Log().find("ENGINE STOPPED"), std::string::npos);

  // Every event exactly once, every record decrypts and matches its integrity hash.
  std::string out;
  ASSERT_EQ(Evidence({"list", "--config", config_, "--tenant", kT1, "--limit", "1000"}, &out), 0)
      << out;
  auto arr = json::Parse(out);
  ASSERT_TRUE(arr.ok()) << out.substr(0, 500);
  ASSERT_EQ(arr->as_array().size(), static_cast<size_t>(kFirst + kSecond));
  std::set<std::string> events;
  for (const auto& r : arr->as_array()) {
    EXPECT_TRUE(r.Find("integrity_ok")->as_bool());
    events.insert(r.Find("event_id")->as_string());
  }
  EXPECT_EQ(events.size(), static_cast<size_t>(kFirst + kSecond));
  auto lag = queue_->FetchUnacked(queue::Kind::kIngest, 10);
  ASSERT_TRUE(lag.ok());
  EXPECT_TRUE(lag->empty()) << "every message acked";
  // Audit: one stored-or-duplicate record per event at least; no rejection.
  auto audit = AuditRecords(dir_.File("gateway-audit.jsonl.engine.jsonl"));
  EXPECT_GE(CountAudit(audit, "evidence.stored") + CountAudit(audit, "evidence.duplicate"),
            kFirst + kSecond - 1 /* a kill between commit and audit is re-audited as duplicate */);
  EXPECT_EQ(CountAudit(audit, "evidence.rejected"), 0);
  // Metrics file written on exit.
  EXPECT_NE(vv::testing::ReadFile(dir_.File("engine.prom")).find("vv_engine_messages_stored_total"),
            std::string::npos);
}

TEST_F(VvEngineToolTest, TamperedQueueBodyIsRejectedAndAuditedByTheBinary) {
  Publish(kT1, "op-001", "evt-good");
  Publish(kT1, "op-001", "evt-bad");
  ASSERT_EQ(testing::SqlExec(dir_.File("queue.db"),
                             "UPDATE messages SET body = replace(body, '\"severity\":\"high\"', "
                             "'\"severity\":\"low\"') WHERE body LIKE '%evt-bad%'"),
            1);
  auto engine = StartEngine({"--drain"});
  auto rc = engine->WaitExit(60s);
  ASSERT_TRUE(rc.has_value()) << engine->Log();
  EXPECT_EQ(*rc, 0) << engine->Log();
  EXPECT_NE(engine->Log().find("integrity_failures=1"), std::string::npos) << engine->Log();
  EXPECT_EQ(StoredCount(kT1), 1);
  auto audit = AuditRecords(dir_.File("gateway-audit.jsonl.engine.jsonl"));
  EXPECT_EQ(CountAudit(audit, "evidence.rejected"), 1);
  EXPECT_EQ(*queue_->Count(queue::Kind::kDeadLetter), 1);
}

// Issue 14 item 6: SIGUSR1 rotates the engine's audit log like the gateway's; the rotated
// segment and the live one verify as a chain against the file anchor, and the engine restarts
// on the rotated log.
TEST_F(VvEngineToolTest, SigusrOneRotatesTheEngineAuditLogIntoAVerifiableChain) {
  Publish(kT1, "op-001", "evt-r1");
  auto engine = StartEngine();
  ASSERT_TRUE(engine->WaitForLine("ENGINE READY", 20s)) << engine->Log();
  ASSERT_TRUE(WaitForCount(kT1, 1, 30s)) << engine->Log();
  ASSERT_EQ(::kill(engine->pid(), SIGUSR1), 0);
  ASSERT_TRUE(engine->WaitForLine("ROTATED segment 1", 30s)) << engine->Log();
  Publish(kT1, "op-001", "evt-r2");
  ASSERT_TRUE(WaitForCount(kT1, 2, 30s)) << engine->Log();
  EXPECT_EQ(engine->Terminate(), 0) << engine->Log();
  const std::string log = dir_.File("gateway-audit.jsonl.engine.jsonl");
  std::vector<audit::SegmentReport> segments;
  audit::VerifyOptions o;
  auto anchors = audit::LoadAnchorFile(audit::DefaultAnchorPath(log));
  ASSERT_TRUE(anchors.ok()) << anchors.status().ToString();
  o.anchors = anchors->records;
  audit::VerifyResult r =
      audit::VerifySegmentChain({audit::SegmentPath(log, 0), log}, o, &segments);
  EXPECT_TRUE(r.ok) << r.reason << ": " << r.detail;
  EXPECT_EQ(segments.size(), 2u);
  const std::string live = vv::testing::ReadFile(log);
  EXPECT_EQ(live.find("\"event_type\":\"log.segment_start\""), live.find("\"event_type\""));
  EXPECT_NE(live.find("\"event_type\":\"audit.rotated\""), std::string::npos) << live;
  EXPECT_NE(live.find("evt-r2"), std::string::npos) << live;  // the new event, in the new segment
  EXPECT_EQ(vv::testing::ReadFile(audit::SegmentPath(log, 0)).find("evt-r2"), std::string::npos);
  auto restarted = StartEngine();
  EXPECT_TRUE(restarted->WaitForLine("ENGINE READY", 20s)) << restarted->Log();
}

// Issue 16 (exit-code convention): a record whose plaintext no longer matches its recorded
// integrity hash is "verification failed", exit 3 (it used to be exit 0 with integrity_ok
// false in the JSON).
TEST_F(VvEngineToolTest, EvidenceRecordFailingItsIntegrityCheckIsExitThree) {
  Publish(kT1, "op-001", "evt-integrity");
  auto engine = StartEngine({"--drain"});
  ASSERT_EQ(engine->WaitExit(60s).value_or(-1), 0) << engine->Log();
  std::string out;
  ASSERT_EQ(Evidence({"show", "--tenant", kT1, "--event-id", "evt-integrity", "--config", config_}, &out), 0)
      << out;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.File("evidence.db").c_str(), &db), SQLITE_OK);
  const std::string sql = "UPDATE evidence SET integrity_hash='" + std::string(64, '0') +
                          "' WHERE event_id='evt-integrity'";
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  EXPECT_EQ(Evidence({"show", "--config", config_, "--tenant", kT1, "--event-id", "evt-integrity"}, &out), 3)
      << out;
  EXPECT_NE(out.find("\"integrity_ok\":false"), std::string::npos) << out;
  EXPECT_EQ(Evidence({"list", "--config", config_, "--tenant", kT1}, &out), 3) << out;
}

TEST_F(VvEngineToolTest, EvidenceToolDecryptsPerTenantOnly) {
  Publish(kT1, "op-001", "evt-t1");
  Publish(kT2, "op-002", "evt-t2");
  auto engine = StartEngine({"--drain"});
  ASSERT_EQ(engine->WaitExit(60s).value_or(-1), 0) << engine->Log();

  std::string out;
  ASSERT_EQ(Evidence({"show", "--config", config_, "--tenant", kT1, "--event-id", "evt-t1"}, &out),
            0)
      << out;
  auto rec = json::Parse(out);
  ASSERT_TRUE(rec.ok()) << out;
  EXPECT_EQ(rec->Find("tenant_id")->as_string(), kT1);
  EXPECT_EQ(rec->Find("key_id")->as_string(), "file-root-1");
  EXPECT_EQ(rec->Find("envelope_version")->as_string(), "vv-evidence-env-v1");
  EXPECT_TRUE(rec->Find("integrity_ok")->as_bool());
  EXPECT_EQ(rec->Find("payload")->Find("payload")->Find("event_id")->as_string(), "evt-t1");
  // Tenant 2 cannot read tenant 1's event, and its listing holds only its own record.
  EXPECT_EQ(Evidence({"show", "--config", config_, "--tenant", kT2, "--event-id", "evt-t1"}, &out),
            1);
  ASSERT_EQ(Evidence({"list", "--config", config_, "--tenant", kT2}, &out), 0) << out;
  auto arr = json::Parse(out);
  ASSERT_TRUE(arr.ok());
  ASSERT_EQ(arr->as_array().size(), 1u);
  EXPECT_EQ(arr->as_array()[0].Find("event_id")->as_string(), "evt-t2");
}

TEST_F(VvEngineToolTest, EnvProviderAndRewrapToRotatedKey) {
  WriteConfig("env");
  // Reference variables; the config's root_key_id names the active key.
  const std::string keys = R"({"file-root-1":"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",)"
                           R"("root-2":"QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="})";
  Publish(kT1, "op-001", "evt-rot");
  auto engine = StartEngine({"--drain"}, {"VV_HSM_ROOT_KEYS_JSON=" + keys});
  ASSERT_EQ(engine->WaitExit(60s).value_or(-1), 0) << engine->Log();
  ASSERT_EQ(StoredCount(kT1), 1);

  setenv("VV_HSM_ROOT_KEYS_JSON", keys.c_str(), 1);
  std::string out;
  ASSERT_EQ(Evidence({"rewrap", "--config", config_, "--tenant", kT1, "--to-key", "root-2"}, &out),
            0)
      << out;
  EXPECT_NE(out.find("\"rewrapped\":1"), std::string::npos) << out;
  ASSERT_EQ(Evidence({"show", "--config", config_, "--tenant", kT1, "--event-id", "evt-rot"}, &out),
            0)
      << out;
  auto rec = json::Parse(out);
  ASSERT_TRUE(rec.ok()) << out;
  EXPECT_EQ(rec->Find("key_id")->as_string(), "root-2");
  EXPECT_EQ(rec->Find("envelope_version")->as_string(), "vv-evidence-env-v1.1");
  EXPECT_TRUE(rec->Find("integrity_ok")->as_bool());
  unsetenv("VV_HSM_ROOT_KEYS_JSON");
}

TEST_F(VvEngineToolTest, RefusesToStartWithAnInsecureRootKeyFile) {
  chmod(dir_.File("root.key").c_str(), 0644);
  auto engine = StartEngine();
  auto rc = engine->WaitExit(20s);
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 2);
  EXPECT_NE(engine->Log().find("refusing to start"), std::string::npos) << engine->Log();
}

// Issue 14: --drain on the embedded queue consumes everything, prints a progress line to
// stderr and exits 0; a second engine on the same queue file is refused (the embedded queue
// has no in-flight leases: two consumers would both process every message).
TEST_F(VvEngineToolTest, DrainConsumesEverythingWithProgressAndASecondEngineIsRefused) {
  constexpr int kTotal = 250;
  for (int i = 0; i < kTotal; ++i) Publish(kT1, "op-001", "evt-dr" + std::to_string(i));
  auto service = StartEngine();
  ASSERT_TRUE(service->WaitForLine("ENGINE READY", 20s)) << service->Log();
  // Its own audit log (the shared one would be refused first: one writer per audit file).
  auto second =
      StartEngine({"--drain"}, {"VV_EVIDENCE_AUDIT_LOG_PATH=" + dir_.File("second-audit.jsonl")});
  auto refused = second->WaitExit(30s);
  ASSERT_TRUE(refused.has_value()) << second->Log();
  EXPECT_EQ(*refused, 2) << second->Log();
  EXPECT_NE(second->Log().find("another vv-engine is consuming the embedded queue"),
            std::string::npos)
      << second->Log();
  EXPECT_EQ(service->Terminate(SIGTERM), 0) << service->Log();

  for (int i = kTotal; i < 2 * kTotal; ++i) Publish(kT1, "op-001", "evt-dr" + std::to_string(i));
  auto drain = StartEngine({"--drain"});
  auto rc = drain->WaitExit(50s);
  ASSERT_TRUE(rc.has_value()) << drain->Log();
  EXPECT_EQ(*rc, 0) << drain->Log();
  EXPECT_EQ(StoredCount(kT1), 2 * kTotal);
  auto unacked = queue_->FetchUnacked(queue::Kind::kIngest, 10);
  ASSERT_TRUE(unacked.ok());
  EXPECT_TRUE(unacked->empty());
  // The service stored some of the first half; the drain did the rest, and says so.
  const std::string log = drain->Log();
  const size_t done = log.find("vv-engine: drain done: processed ");
  ASSERT_NE(done, std::string::npos) << log;
  const std::string line = log.substr(done, log.find('\n', done) - done);
  unsigned processed = 0, total = 0;
  ASSERT_EQ(std::sscanf(line.c_str(), "vv-engine: drain done: processed %u/%u", &processed, &total),
            2)
      << line;
  EXPECT_EQ(processed, total) << line;
  EXPECT_GE(processed, static_cast<unsigned>(kTotal)) << line;
  EXPECT_NE(line.find("msg/s"), std::string::npos) << line;
}

}  // namespace
}  // namespace vv::engine

// Black-box, issue 14 (engines scale out): two vv-engine processes on ONE durable JetStream
// consumer (real nats-server) share the work and store every event exactly once; one is
// kill -9'd mid-run and nothing is lost (its unacked messages come back after the consumer's
// ack wait, 2 s here, and are stored once). Then `vv-engine --drain` on the drained queue
// exits 0 at once with a final progress line, and one on a refilled queue consumes it all.
// Each engine writes its own audit log (one writer per file: VV_EVIDENCE_AUDIT_LOG_PATH).
// Needs nats-server (fails unless VV_ALLOW_MISSING_SERVERS=1).

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <set>
#include <thread>

#include "engine/engine_test_util.h"
#include "evidence/sqlite_evidence_store.h"
#include "fakes/fake_clock.h"
#include "fakes/process.h"
#include "fakes/servers.h"
#include "queue/jetstream_queue.h"

namespace vv::engine {
namespace {

using namespace std::chrono_literals;
using testing::AuditRecords;
using testing::CountAudit;
using vv::testing::ChildProcess;

constexpr char kT1[] = "10000000-0000-0000-0000-000000000001";

class SharedConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VV_REQUIRE_SERVER(nats_);
    vv::testing::WriteFile(dir_.File("root.key"), std::string(32, 'K'), 0400);
    vv::testing::WriteFile(config_,
                           "vectorvue:\n"
                           "  telemetry_gateway:\n"
                           "    queue_backend: nats\n"
                           "    nats_url: " + nats_.url() + "\n"
                           "    audit_log_path: gw-audit.jsonl\n"
                           "    operator_tenant_map:\n"
                           "      op-001: " + std::string(kT1) + "\n"
                           "  evidence_engine:\n"
                           "    store_backend: sqlite\n"
                           "    store_path: evidence.db\n"
                           "    root_key_provider: file\n"
                           "    root_key_file: root.key\n"
                           "    root_key_id: file-root-1\n"
                           "    audit_fsync: none\n"
                           "    batch_size: 8\n"
                           "    poll_interval_ms: 10\n"
                           "    jetstream_ack_wait_seconds: 2\n" +
                               testing::QueueVerifyKeysYaml());
    jo_.nats.url = nats_.url();
    auto pub = queue::JetStreamPublisher::Create(jo_);
    ASSERT_TRUE(pub.ok()) << pub.status().ToString();
    pub_ = std::move(pub).value();
  }

  std::unique_ptr<ChildProcess> StartEngine(const std::string& name,
                                            std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {std::string(VV_BIN_DIR) + "/vv-engine", "--config", config_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(
        argv, dir_.File(name + ".log"),
        std::vector<std::string>{"VV_EVIDENCE_AUDIT_LOG_PATH=" + AuditPath(name)});
  }
  std::string AuditPath(const std::string& name) { return dir_.File(name + "-audit.jsonl"); }
  // True once the engines' durable has nothing pending and nothing delivered-but-unacked.
  bool WaitConsumerIdle(std::chrono::seconds timeout) {
    auto c = queue::JetStreamConsumer::Create(jo_, jo_.ingest_stream, jo_.ingest_subject,
                                              "vv-evidence-engine");
    if (!c.ok()) return false;
    for (auto deadline = std::chrono::steady_clock::now() + timeout;
         std::chrono::steady_clock::now() < deadline;) {
      auto st = (*c)->State();
      if (st.ok() && st->pending == 0 && st->ack_pending == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  void Publish(int from, int to) {
    for (int i = from; i < to; ++i)
      ASSERT_TRUE(testing::PublishSync(*pub_, testing::MakeIngest(kT1, "op-001",
                                                                  "evt-" + std::to_string(i),
                                                                  clock_, random_))
                      .ok());
  }
  int64_t Stored() {
    auto s = evidence::SqliteEvidenceStore::Open(dir_.File("evidence.db"));
    if (!s.ok()) return -1;
    auto n = (*s)->Count(kT1);
    return n.ok() ? *n : -1;
  }
  bool WaitStored(int64_t n, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Stored() >= n) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  std::set<std::string> StoredEventIds() {
    std::set<std::string> ids;
    auto s = evidence::SqliteEvidenceStore::Open(dir_.File("evidence.db"));
    if (!s.ok()) return ids;
    auto all = (*s)->List(kT1, 0, 100000);
    if (!all.ok()) return ids;
    for (const auto& r : *all) ids.insert(r.event_id);
    return ids;
  }

  vv::testing::NatsServer nats_;
  vv::testing::TempDir dir_;
  std::string config_ = dir_.File("vv.yaml");
  vv::testing::FakeClock clock_;
  SystemRandom random_;
  queue::JetStreamOptions jo_;
  std::unique_ptr<queue::JetStreamPublisher> pub_;
};

TEST_F(SharedConsumerTest, TwoEnginesShareOneDurableExactlyOnceAndAKilledOneLosesNothing) {
  // One after the other: two engines creating the same SQLite store's schema at once can
  // meet "database is locked" (seen once in CI; see the session note).
  auto a = StartEngine("a");
  ASSERT_TRUE(a->WaitForLine("ENGINE READY", 30s)) << a->Log();
  auto b = StartEngine("b");
  ASSERT_TRUE(b->WaitForLine("ENGINE READY", 30s)) << b->Log();
  constexpr int kTotal = 600;
  Publish(0, kTotal / 2);
  ASSERT_TRUE(WaitStored(kTotal / 6, 45s)) << a->Log() << b->Log();
  EXPECT_EQ(a->Terminate(SIGKILL), -SIGKILL);  // mid-run: it may hold a fetched batch
  EXPECT_LT(Stored(), kTotal);
  Publish(kTotal / 2, kTotal);  // the survivor takes the rest
  ASSERT_TRUE(WaitStored(kTotal, 50s)) << "stored " << Stored() << "\n" << b->Log();
  // Every row can be stored while what A had fetched but not acked still waits for the ack
  // wait (2 s) to come back: the survivor must take those too (as duplicates) before it stops,
  // or the drain below meets them. Wait until the durable has nothing pending or in flight.
  ASSERT_TRUE(WaitConsumerIdle(60s)) << b->Log();
  EXPECT_EQ(b->Terminate(SIGTERM), 0) << b->Log();

  EXPECT_EQ(Stored(), kTotal);
  EXPECT_EQ(StoredEventIds().size(), static_cast<size_t>(kTotal));
  const auto audit_a = AuditRecords(AuditPath("a"));
  const auto audit_b = AuditRecords(AuditPath("b"));
  const int stored_a = CountAudit(audit_a, "evidence.stored");
  const int stored_b = CountAudit(audit_b, "evidence.stored");
  // Both did work (both were long-polling the durable when the events arrived).
  EXPECT_GT(stored_a, 0);
  EXPECT_GT(stored_b, 0);
  // Exactly once: every "stored" record names a different event; a redelivery of what the
  // killed engine committed but never acked is a duplicate, not a second record.
  std::set<std::string> stored_events;
  for (const auto* audit : {&audit_a, &audit_b})
    for (const auto& r : *audit) {
      if (r.Find("event_type")->as_string() == "evidence.stored") {
        EXPECT_TRUE(
            stored_events.insert(r.Find("details")->Find("event_id")->as_string()).second);
      }
    }
  EXPECT_LE(stored_a + stored_b, kTotal);
  EXPECT_EQ(CountAudit(audit_b, "evidence.rejected"), 0);

  // Nothing pending, nothing held: a drain finds the queue empty and exits at once.
  auto drain = StartEngine("drain-empty", {"--drain"});
  auto rc = drain->WaitExit(45s);
  ASSERT_TRUE(rc.has_value()) << drain->Log();
  EXPECT_EQ(*rc, 0) << drain->Log();
  EXPECT_NE(drain->Log().find("drain done: processed 0/0"), std::string::npos) << drain->Log();
}

// Issue 14 item 4: `vv-engine --drain` on JetStream consumed nothing in four tries. One run
// now consumes every message, prints progress on stderr and exits 0.
TEST_F(SharedConsumerTest, DrainConsumesTheWholeQueueInOneRunWithProgress) {
  constexpr int kTotal = 300;
  Publish(0, kTotal);
  auto drain = StartEngine("drain", {"--drain"});
  auto rc = drain->WaitExit(50s);
  ASSERT_TRUE(rc.has_value()) << drain->Log();
  EXPECT_EQ(*rc, 0) << drain->Log();
  EXPECT_EQ(Stored(), kTotal) << drain->Log();
  EXPECT_NE(drain->Log().find("drain done: processed " + std::to_string(kTotal) + "/" +
                              std::to_string(kTotal)),
            std::string::npos)
      << drain->Log();
  const std::string log = drain->Log();
  const size_t done = log.find("vv-engine: drain done");
  if (done != std::string::npos)  // the figure, for the record (not asserted: no timings)
    std::cout << log.substr(done, log.find('\n', done) - done) << std::endl;
  auto c = queue::JetStreamConsumer::Create(jo_, jo_.ingest_stream, jo_.ingest_subject,
                                            "vv-evidence-engine");
  ASSERT_TRUE(c.ok());
  auto st = (*c)->State();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->pending, 0u);
  EXPECT_EQ(st->ack_pending, 0);
}

}  // namespace
}  // namespace vv::engine

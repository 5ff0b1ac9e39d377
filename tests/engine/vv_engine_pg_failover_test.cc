// Black-box PostgreSQL failover (issue 14 item 2): a primary and a synchronous streaming
// standby (pg_basebackup -R, synchronous_standby_names = '*', so a commit is acknowledged only
// once the standby has it), vv-engine writing through a two-host URL with
// target_session_attrs=read-write. Mid-stream the primary crashes (immediate shutdown) and the
// standby is promoted: the engine reconnects to the new primary through the same URL and
// continues; every event is stored exactly once, nothing dead-lettered.
// Needs PostgreSQL 15 (fails unless VV_ALLOW_MISSING_SERVERS=1).

#include <gtest/gtest.h>
#include <signal.h>

#include "engine/engine_test_util.h"
#include "fakes/fake_clock.h"
#include "fakes/postgres_server.h"
#include "fakes/process.h"
#include "fakes/servers.h"
#include "fakes/temp_dir.h"
#include "queue/embedded_queue.h"

namespace vv::engine {
namespace {

using namespace std::chrono_literals;
using vv::testing::ChildProcess;
using vv::testing::RunCommand;

constexpr char kT1[] = "10000000-0000-0000-0000-000000000001";

// "count distinct" of the stored rows on `server` ("-1 -1" when it cannot be asked).
std::pair<int64_t, int64_t> Stored(const vv::testing::PostgresServer& server) {
  std::string out;
  if (!server.Psql("SELECT count(*) || ' ' || count(DISTINCT event_id) FROM vv_evidence", &out)
           .ok())
    return {-1, -1};
  int64_t rows = -1, distinct = -1;
  if (std::sscanf(out.c_str(), "%ld %ld", &rows, &distinct) != 2) return {-1, -1};
  return {rows, distinct};
}

TEST(VvEnginePgFailoverTest, TwoHostUrlFollowsThePromotedStandbyAndLosesNothing) {
  vv::testing::PostgresServer primary;
  VV_REQUIRE_SERVER(primary);
  vv::testing::PostgresServer standby;
  ASSERT_TRUE(primary.Psql("CREATE ROLE vv_owner NOLOGIN; CREATE ROLE vv_engine LOGIN;").ok());
  const std::string bin = VV_BIN_DIR;
  std::string out;
  ASSERT_EQ(RunCommand({bin + "/vv-evidence", "init-postgres", "--admin-url",
                        primary.admin_url(), "--owner-role", "vv_owner", "--app-role",
                        "vv_engine"},
                       &out),
            0)
      << out;
  ASSERT_TRUE(standby.StartStandbyOf(primary).ok()) << standby.Log();
  ASSERT_TRUE(primary.Psql("ALTER SYSTEM SET synchronous_standby_names = '*'").ok());
  ASSERT_TRUE(primary.Psql("SELECT pg_reload_conf()").ok());
  std::string sync;
  for (int i = 0; i < 300 && sync != "sync\n" && sync != "sync"; ++i) {
    (void)primary.Psql("SELECT sync_state FROM pg_stat_replication", &sync);
    if (sync != "sync\n" && sync != "sync") std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(sync == "sync\n" || sync == "sync") << "standby not synchronous: " << sync;

  vv::testing::TempDir dir;
  vv::testing::WriteFile(dir.File("root.key"), std::string(32, 'K'), 0400);
  const std::string url = "postgresql://vv_engine@127.0.0.1:" + std::to_string(primary.port()) +
                          ",127.0.0.1:" + std::to_string(standby.port()) +
                          "/postgres?target_session_attrs=read-write&connect_timeout=5";
  const std::string config = dir.File("vv.yaml");
  vv::testing::WriteFile(config,
                         "vectorvue:\n"
                         "  telemetry_gateway:\n"
                         "    queue_backend: embedded\n"
                         "    queue_path: queue.db\n"
                         "    audit_log_path: gw-audit.jsonl\n"
                         "    operator_tenant_map:\n"
                         "      op-001: " + std::string(kT1) + "\n"
                         "  evidence_engine:\n"
                         "    store_backend: postgres\n"
                         "    postgres_url: \"" + url + "\"\n"
                         "    root_key_provider: file\n"
                         "    root_key_file: root.key\n"
                         "    root_key_id: file-root-1\n"
                         "    audit_fsync: none\n"
                         "    batch_size: 4\n"
                         "    poll_interval_ms: 50\n"
                         // The failover is an outage of the store: messages stay unacked and
                         // come back; they must not be dead-lettered while it lasts.
                         "    max_deliveries: 100000\n" +
                             testing::QueueVerifyKeysYaml());
  auto q = queue::EmbeddedQueue::Open(dir.File("queue.db"), {});
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  vv::testing::FakeClock clock;
  SystemRandom random;
  constexpr int kTotal = 80;
  auto publish = [&](int from, int to) {
    for (int i = from; i < to; ++i)
      ASSERT_TRUE(testing::PublishSync(**q, testing::MakeIngest(kT1, "op-001",
                                                                "evt-" + std::to_string(i),
                                                                clock, random))
                      .ok());
  };
  publish(0, kTotal / 2);

  ChildProcess engine({bin + "/vv-engine", "--config", config}, dir.File("engine.log"));
  ASSERT_TRUE(engine.WaitForLine("ENGINE READY", 30s)) << engine.Log();
  for (int i = 0; i < 600 && Stored(primary).first < 10; ++i) std::this_thread::sleep_for(50ms);
  ASSERT_GE(Stored(primary).first, 10) << engine.Log();

  // Crash the primary mid-stream, promote the standby, keep publishing.
  primary.Crash();
  ASSERT_TRUE(standby.Promote().ok()) << standby.Log();
  publish(kTotal / 2, kTotal);

  std::pair<int64_t, int64_t> s;
  for (int i = 0; i < 1200; ++i) {
    s = Stored(standby);
    if (s.first >= kTotal) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(s.first, kTotal) << engine.Log();
  EXPECT_EQ(s.second, kTotal) << "an event is stored twice";
  auto dead = (*q)->Count(queue::Kind::kDeadLetter);
  ASSERT_TRUE(dead.ok()) << dead.status().ToString();
  EXPECT_EQ(*dead, 0) << engine.Log();
  EXPECT_EQ(engine.Terminate(SIGTERM), 0) << engine.Log();
}

}  // namespace
}  // namespace vv::engine

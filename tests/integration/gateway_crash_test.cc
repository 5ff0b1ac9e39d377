// Crash durability end to end (DEVELOPERS.md: lose nothing that was acknowledged): the real
// vv-gateway on embedded backends, 8 mTLS senders of signed events, SIGKILL in the middle of
// the load. Every event answered 202 must be in queue.db and have its telemetry.accepted
// audit record, and the gateway must start again on the same files. SIGKILL keeps the page
// cache, so this checks that a commit's bytes reach the files before its answer (the
// WAL-buffering VFS writes a commit's frames when SQLite writes its commit frame), not the
// fsync (tests/sqlstore/wal_buffer_vfs_test.cc has the SQLite-level cases).

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gateway_harness.h"
#include "json/json.h"

namespace vv::testing {
namespace {

TEST(GatewayCrashTest, EveryAcceptedEventSurvivesSigkillUnderLoad) {
  GatewayOptions opts;
  opts.rate_limit_per_minute = 1000000;
  GatewayUnderTest gw(opts);
  ASSERT_TRUE(gw.started()) << gw.log();

  constexpr int kSenders = 8;
  constexpr int kKillAfter = 300;  // accepted events before the kill
  std::mutex mu;
  std::vector<std::string> accepted;  // event ids answered 202
  std::atomic<int> accepted_count{0};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      auto client = gw.Client();
      for (int i = 0; i < 100000; ++i) {
        const int64_t ts = NowSeconds();
        const std::string id = "crash-" + std::to_string(s) + "-" + std::to_string(i);
        const SignedRequest sr = SignBody(MakeTelemetryBody(ts, "n-" + id, id), ts, "n-" + id);
        auto r = client.Post("/internal/v1/telemetry", TelemetryHeaders(sr), sr.body);
        if (!r.transport_ok) return;  // the gateway is gone
        if (r.status == 202) {
          std::lock_guard<std::mutex> l(mu);
          accepted.push_back(id);
          accepted_count.fetch_add(1);
        } else {
          unexpected.fetch_add(1);
          return;
        }
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (accepted_count.load() < kKillAfter && unexpected.load() == 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const int status = gw.Kill();  // requests are in flight on every sender
  for (auto& t : senders) t.join();
  ASSERT_EQ(unexpected.load(), 0) << gw.log();
  ASSERT_GE(accepted_count.load(), kKillAfter) << gw.log();
  EXPECT_EQ(status, -SIGKILL) << "the gateway was killed, not stopped";

  const std::set<std::string> stored = gw.QueueDedupeIds();
  std::string audit;
  for (const std::string& line : gw.AuditLines()) audit += line + "\n";
  int missing_rows = 0, missing_audit = 0;
  for (const std::string& id : accepted) {
    if (stored.count(std::string(kTenant1) + "/" + id) == 0) ++missing_rows;
    if (audit.find("\"event_id\":\"" + id + "\"") == std::string::npos) ++missing_audit;
  }
  EXPECT_EQ(missing_rows, 0) << "of " << accepted.size() << " accepted events";
  EXPECT_EQ(missing_audit, 0) << "of " << accepted.size() << " accepted events";

  // The files are whole: the gateway starts on them again and takes new events.
  ASSERT_TRUE(gw.Restart()) << gw.log();
  EXPECT_GE(gw.QueueCount("ingest"), static_cast<int64_t>(accepted.size()));
  const int64_t ts = NowSeconds();
  const SignedRequest sr =
      SignBody(MakeTelemetryBody(ts, "n-after-restart", "after-restart"), ts, "n-after-restart");
  auto client = gw.Client();
  auto r = client.Post("/internal/v1/telemetry", TelemetryHeaders(sr), sr.body);
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 202) << r.body;
}

}  // namespace
}  // namespace vv::testing

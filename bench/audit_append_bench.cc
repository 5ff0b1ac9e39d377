// Audit append cost against log size: O(1) appends (no re-reading, incremental Merkle tree).
//
//   build/bin/audit_append_bench
//
// For each size N the log is first filled to N entries (not timed), then 5000 appends are
// timed. Flat figures from 1e3 to 1e6 entries show the append is independent of the log's size.
// Seals are signed (an Ed25519 key file) and written every 50 entries, as in production;
// fsync is off so the figure is the writer's own cost, not the disk's.

#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "audit/audit_log.h"
#include "common/clock.h"
#include "crypto/crypto.h"

namespace {

using namespace vv;

void BM_AuditAppendAtSize(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::string dir = "/tmp/vv-audit-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::string key = dir + "/seal.key";
  {
    std::ofstream f(key, std::ios::binary);
    f << crypto::Ed25519PrivateKey::Generate().Seed();
  }
  chmod(key.c_str(), 0600);
  SystemClock clock;
  audit::AuditLogOptions o;
  o.seal_every = 50;
  o.seal_interval_seconds = 0;
  o.fsync = audit::FsyncPolicy::kNone;
  o.seal_key_path = key;
  auto log = audit::AuditLog::Open(dir + "/audit.jsonl", o, clock);
  if (!log.ok()) {
    state.SkipWithError(log.status().ToString().c_str());
    return;
  }
  auto details = [] {
    json::Value d = json::Value::MakeObject();
    d.Set("request_id", "00000000-0000-4000-8000-000000000000");
    d.Set("tenant_id", "10000000-0000-0000-0000-000000000001");
    d.Set("status_code", 202);
    return d;
  };
  for (int64_t i = 0; i < n; ++i) (*log)->Append("telemetry.accepted", "telemetry_gateway", details());
  for (auto _ : state) {
    Status s = (*log)->Append("telemetry.accepted", "telemetry_gateway", details());
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.counters["log_entries"] = static_cast<double>(n);
  log->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_AuditAppendAtSize)->Arg(1000)->Arg(10000)->Arg(100000)->Arg(1000000)->Iterations(5000);

}  // namespace

BENCHMARK_MAIN();

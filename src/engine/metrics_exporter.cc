#include "engine/metrics_exporter.h"

namespace vv::engine {

EngineMetricsExporter::EngineMetricsExporter(const Engine& engine)
    : engine_(engine), metrics_(registry_), process_(registry_, "engine") {}

void EngineMetricsExporter::SyncLocked() {
  const EngineCounters& c = engine_.counters();
  // Monotonic atomics -> registry counters (only this exporter writes them, under mu_).
  auto sync = [](stats::Counter& m, uint64_t v) {
    if (v > m.value()) m.Inc(v - m.value());
  };
  sync(metrics_.messages_consumed, c.consumed.load());
  sync(metrics_.messages_stored, c.stored.load());
  sync(metrics_.duplicates, c.duplicates.load());
  sync(metrics_.integrity_failures, c.integrity_failures.load());
  sync(metrics_.dead_lettered, c.dead_lettered.load());
  sync(metrics_.rejected, c.rejected.load());
  sync(metrics_.unauthenticated, c.unauthenticated.load());
  sync(metrics_.transient_failures, c.transient_failures.load());
  metrics_.consumer_lag.Set(static_cast<double>(c.lag.load()));
  metrics_.ready.Set(engine_.Health().ok() ? 1 : 0);
  (void)process_.Update();  // a /proc read failure keeps the previous values
}

std::string EngineMetricsExporter::Render() {
  MutexLock l(&mu_);
  SyncLocked();
  return registry_.Render();
}

Status EngineMetricsExporter::Ready() {
  Status s = engine_.Health();
  MutexLock l(&mu_);
  metrics_.ready.Set(s.ok() ? 1 : 0);
  return s;
}

}  // namespace vv::engine

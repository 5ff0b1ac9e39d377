#pragma once
// EngineMetricsExporter: the engine's ONE metric name set (issue 14 item 5), rendered the same
// for the metrics file (metrics_path), the loopback admin listener and the probe listener:
// stats::EngineMetrics (vv_engine_*, names shared with the alert rules and the dashboard),
// vv_engine_ready, process_* and vv_build_info. The engine's atomics stay the source of truth;
// each Render() brings the registry up to date first.
//
// Thread-safety: Render() and Ready() may be called from any thread (serialised internally).
// Ownership: borrows the engine, which must outlive the exporter.

#include <string>

#include "common/mutex.h"
#include "engine/engine.h"
#include "stats/metrics.h"
#include "stats/process_metrics.h"
#include "stats/service_metrics.h"

namespace vv::engine {

class EngineMetricsExporter {
 public:
  explicit EngineMetricsExporter(const Engine& engine);
  // Prometheus text exposition 0.0.4.
  std::string Render();
  // The engine's readiness (Engine::Health), also recorded in vv_engine_ready.
  Status Ready();

 private:
  void SyncLocked() VV_REQUIRES(mu_);

  const Engine& engine_;
  Mutex mu_;  // one sync (and /proc read) at a time
  stats::Registry registry_;
  stats::EngineMetrics metrics_;
  stats::ProcessMetrics process_ VV_GUARDED_BY(mu_);
};

}  // namespace vv::engine

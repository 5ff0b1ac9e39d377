#pragma once
// Process and build metrics every VectorVue service exports (issue 14 item 5), with the names
// of the Prometheus client libraries' process collector so standard dashboards and alerts
// apply:
//   process_cpu_seconds_total        user + system CPU time (counter)
//   process_resident_memory_bytes    resident set size
//   process_virtual_memory_bytes     virtual memory size
//   process_open_fds                 open file descriptors
//   process_max_fds                  the RLIMIT_NOFILE soft limit
//   process_start_time_seconds       start time, unix seconds
//   vv_build_info{service,version,git_commit}  constant 1
// Values come from /proc (Linux); Update() re-reads them (call it before each render). A
// /proc file that cannot be read leaves the previous value and returns the error.
//
// Thread-safety: Update() may be called from any thread (the metrics are atomic; concurrent
// updates write the same fresh values). Ownership: the Registry owns the metrics.

#include <string>
#include <string_view>

#include "common/status.h"
#include "stats/metrics.h"

namespace vv::stats {

// The version and git commit compiled in (CMake: project version; `git rev-parse` of the
// source tree at configure time, "unknown" when it is not a git checkout).
std::string_view BuildVersion();
std::string_view BuildGitCommit();

// The /proc/<pid>/stat fields ProcessMetrics uses, parsed (exposed for tests).
struct ProcStat {
  double cpu_seconds = 0;       // (utime + stime) / ticks per second
  double start_time_seconds = 0;  // boot time + starttime / ticks per second
  double virtual_bytes = 0;
  double resident_bytes = 0;
};
// Parses the text of /proc/<pid>/stat (the command name may contain spaces and parentheses).
Result<ProcStat> ParseProcStat(std::string_view stat_text, double boot_time_seconds,
                               long ticks_per_second, long page_size);
// The "btime" line of /proc/stat.
Result<double> ParseBootTime(std::string_view proc_stat_text);

class ProcessMetrics {
 public:
  // `service` labels vv_build_info ("gateway", "engine"). `proc_dir` is /proc/self (tests
  // may point it elsewhere).
  ProcessMetrics(Registry& registry, std::string_view service,
                 std::string proc_dir = "/proc/self");
  Status Update();

 private:
  const std::string proc_dir_;
  Gauge& cpu_seconds_;
  Gauge& resident_bytes_;
  Gauge& virtual_bytes_;
  Gauge& open_fds_;
  Gauge& max_fds_;
  Gauge& start_time_;
};

}  // namespace vv::stats

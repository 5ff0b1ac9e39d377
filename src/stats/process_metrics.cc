#include "stats/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

namespace vv::stats {

#ifndef VV_VERSION
#define VV_VERSION "unknown"
#endif
#ifndef VV_GIT_COMMIT
#define VV_GIT_COMMIT "unknown"
#endif

std::string_view BuildVersion() { return VV_VERSION; }
std::string_view BuildGitCommit() { return VV_GIT_COMMIT; }

namespace {

Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Unavailable("cannot read " + path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

bool ParseNumber(std::string_view s, double* out) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return false;
  *out = static_cast<double>(v);
  return true;
}

}  // namespace

Result<ProcStat> ParseProcStat(std::string_view text, double boot_time_seconds,
                               long ticks_per_second, long page_size) {
  // "pid (comm) state ppid ...": comm may hold anything, so split after the last ')'.
  const size_t close = text.rfind(')');
  if (close == std::string_view::npos) return Status::InvalidArgument("stat: no ')'");
  std::vector<std::string_view> f;  // f[0] = field 3 (state)
  size_t pos = close + 1;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n')) ++pos;
    size_t end = pos;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n') ++end;
    if (end > pos) f.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  // Fields (1-based, proc(5)): 14 utime, 15 stime, 22 starttime, 23 vsize, 24 rss.
  auto field = [&](int n, double* out) { return n - 3 < static_cast<int>(f.size()) &&
                                                ParseNumber(f[n - 3], out); };
  double utime, stime, start, vsize, rss;
  if (!field(14, &utime) || !field(15, &stime) || !field(22, &start) || !field(23, &vsize) ||
      !field(24, &rss) || ticks_per_second <= 0)
    return Status::InvalidArgument("stat: malformed");
  ProcStat st;
  st.cpu_seconds = (utime + stime) / static_cast<double>(ticks_per_second);
  st.start_time_seconds = boot_time_seconds + start / static_cast<double>(ticks_per_second);
  st.virtual_bytes = vsize;
  st.resident_bytes = rss * static_cast<double>(page_size);
  return st;
}

Result<double> ParseBootTime(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos);
    if (line.rfind("btime ", 0) == 0) {
      double v;
      if (ParseNumber(line.substr(6), &v)) return v;
      break;
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return Status::InvalidArgument("/proc/stat: no btime line");
}

ProcessMetrics::ProcessMetrics(Registry& r, std::string_view service, std::string proc_dir)
    : proc_dir_(std::move(proc_dir)),
      cpu_seconds_(r.AddSampledCounter("process_cpu_seconds_total",
                                       "Total user and system CPU time spent in seconds.")),
      resident_bytes_(r.AddGauge("process_resident_memory_bytes", "Resident memory size in bytes.")),
      virtual_bytes_(r.AddGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.")),
      open_fds_(r.AddGauge("process_open_fds", "Number of open file descriptors.")),
      max_fds_(r.AddGauge("process_max_fds", "Maximum number of open file descriptors.")),
      start_time_(r.AddGauge("process_start_time_seconds",
                             "Start time of the process since unix epoch in seconds.")) {
  r.AddGaugeFamily("vv_build_info",
                   "Build of the running binary (constant 1): service, version, git commit.",
                   {"service", "version", "git_commit"})
      .WithLabels({service, BuildVersion(), BuildGitCommit()})
      .Set(1);
  (void)Update();
}

Status ProcessMetrics::Update() {
  Status first;
  auto stat = ReadSmallFile(proc_dir_ + "/stat");
  auto proc_stat = ReadSmallFile("/proc/stat");
  if (stat.ok() && proc_stat.ok()) {
    auto boot = ParseBootTime(*proc_stat);
    auto st = boot.ok() ? ParseProcStat(*stat, *boot, ::sysconf(_SC_CLK_TCK),
                                        ::sysconf(_SC_PAGESIZE))
                        : Result<ProcStat>(boot.status());
    if (st.ok()) {
      cpu_seconds_.Set(st->cpu_seconds);
      resident_bytes_.Set(st->resident_bytes);
      virtual_bytes_.Set(st->virtual_bytes);
      start_time_.Set(st->start_time_seconds);
    } else {
      first = st.status();
    }
  } else {
    first = stat.ok() ? proc_stat.status() : stat.status();
  }
  const std::string fd_dir = proc_dir_ + "/fd";
  if (DIR* d = ::opendir(fd_dir.c_str())) {
    int n = 0;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
    // Our own listing holds one descriptor of /proc/self/fd.
    if (proc_dir_ == "/proc/self") --n;
    open_fds_.Set(static_cast<double>(n));
  } else if (first.ok()) {
    first = Status::Unavailable("cannot list " + fd_dir);
  }
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    max_fds_.Set(lim.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(lim.rlim_cur));
  }
  return first;
}

}  // namespace vv::stats

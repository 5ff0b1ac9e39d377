// process_* and vv_build_info (issue 14 item 5): /proc parsing, and the live values of this
// test process.

#include "stats/process_metrics.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <sstream>

namespace vv::stats {
namespace {

// One sample's value in a rendered registry (NaN when absent).
double Value(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return std::nan("");
}

// A /proc/PID/stat line whose command name holds spaces and parentheses.
constexpr const char* kStat =
    "4242 (vv gw) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 1000 "
    "123456789 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcessMetricsTest, ParsesStatAfterTheLastParenthesis) {
  auto st = ParseProcStat(kStat, /*boot=*/1700000000, /*ticks=*/100, /*page=*/4096);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_DOUBLE_EQ(st->cpu_seconds, 3.0);                    // (250 + 50) / 100
  EXPECT_DOUBLE_EQ(st->start_time_seconds, 1700000010.0);    // boot + 1000 / 100
  EXPECT_DOUBLE_EQ(st->virtual_bytes, 123456789.0);
  EXPECT_DOUBLE_EQ(st->resident_bytes, 300.0 * 4096);
}

TEST(ProcessMetricsTest, RefusesMalformedInput) {
  EXPECT_FALSE(ParseProcStat("no parenthesis at all", 0, 100, 4096).ok());
  EXPECT_FALSE(ParseProcStat("1 (x) S 1 2 3", 0, 100, 4096).ok());  // too few fields
  EXPECT_FALSE(ParseProcStat(kStat, 0, 0, 4096).ok());              // no clock ticks
  EXPECT_FALSE(ParseBootTime("cpu 1 2 3\nintr 5\n").ok());
  auto boot = ParseBootTime("cpu 1 2 3\nbtime 1699999999\nprocesses 9\n");
  ASSERT_TRUE(boot.ok());
  EXPECT_DOUBLE_EQ(*boot, 1699999999.0);
}

TEST(ProcessMetricsTest, ReportsThisProcess) {
  Registry r;
  ProcessMetrics m(r, "gateway");
  ASSERT_TRUE(m.Update().ok());
  std::string before = r.Render();
  EXPECT_NE(before.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
  EXPECT_GT(Value(before, "process_resident_memory_bytes"), 1024.0 * 1024);
  EXPECT_GT(Value(before, "process_virtual_memory_bytes"),
            Value(before, "process_resident_memory_bytes"));
  EXPECT_GE(Value(before, "process_cpu_seconds_total"), 0.0);
  EXPECT_GT(Value(before, "process_max_fds"), 0.0);
  const double start = Value(before, "process_start_time_seconds");
  const double now = static_cast<double>(::time(nullptr));
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 86400) << "a test process started more than a day ago?";
  // Three more descriptors show up in the next update.
  const double fds = Value(before, "process_open_fds");
  int extra[3];
  for (int& fd : extra) fd = ::open("/dev/null", O_RDONLY);
  ASSERT_TRUE(m.Update().ok());
  EXPECT_EQ(Value(r.Render(), "process_open_fds"), fds + 3);
  for (int fd : extra) ::close(fd);
  // Build info: the CMake project version, a commit (or "unknown"), constant 1.
  EXPECT_FALSE(BuildVersion().empty());
  EXPECT_NE(BuildVersion(), "unknown");
  const std::string info = "vv_build_info{service=\"gateway\",version=\"" +
                           std::string(BuildVersion()) + "\",git_commit=\"" +
                           std::string(BuildGitCommit()) + "\"}";
  EXPECT_EQ(Value(before, info), 1.0) << before;
}

TEST(ProcessMetricsTest, AMissingProcDirectoryIsAnErrorAndKeepsValues) {
  Registry r;
  ProcessMetrics m(r, "engine", "/nonexistent/proc/self");
  EXPECT_FALSE(m.Update().ok());
  EXPECT_EQ(Value(r.Render(), "process_resident_memory_bytes"), 0.0);
}

}  // namespace
}  // namespace vv::stats

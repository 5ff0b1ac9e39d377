// LogFile (issue 13: the audit log's file, split out of AuditLog): whole-buffer writes, the
// rotation's Replace (the old descriptor - and its flock - released), the one background
// thread running the owner's tick, and its stop.

#include "audit/log_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>

#include <atomic>
#include <thread>

#include "fakes/temp_dir.h"

namespace vv::audit {
namespace {

UniqueFd OpenLocked(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  EXPECT_TRUE(fd.valid());
  EXPECT_EQ(::flock(fd.get(), LOCK_EX | LOCK_NB), 0);
  return fd;
}

bool Lockable(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  return fd.valid() && ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;
}

TEST(LogFileTest, WritesAppendWholeBuffersAndReplaceSwitchesTheFile) {
  testing::TempDir dir;
  const std::string a = dir.File("a.jsonl"), b = dir.File("b.jsonl");
  LogFile f(a, OpenLocked(a), 0, FsyncPolicy::kAlways);
  ASSERT_TRUE(f.Write("one\n").ok());
  ASSERT_TRUE(f.Write("two\nthree\n").ok());
  ASSERT_TRUE(f.AfterWrite(3).ok());
  EXPECT_EQ(testing::ReadFile(a), "one\ntwo\nthree\n");
  EXPECT_EQ(f.writes(), 2u);
  EXPECT_FALSE(Lockable(a));  // the writer holds the lock
  testing::WriteFile(b, "first\n", 0600);
  UniqueFd nb(::open(b.c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
  ASSERT_EQ(::flock(nb.get(), LOCK_EX | LOCK_NB), 0);
  f.Replace(std::move(nb), 6);
  EXPECT_TRUE(Lockable(a));  // the old descriptor went with its lock
  ASSERT_TRUE(f.Write("second\n").ok());
  ASSERT_TRUE(f.Sync().ok());
  EXPECT_EQ(testing::ReadFile(b), "first\nsecond\n");
  EXPECT_EQ(testing::ReadFile(a), "one\ntwo\nthree\n");
  EXPECT_TRUE(f.Health().ok());
}

TEST(LogFileTest, TheBackgroundThreadFlushesAndTicksUntilStopped) {
  testing::TempDir dir;
  const std::string path = dir.File("log.jsonl");
  std::atomic<int> ticks{0};
  {
    LogFile f(path, OpenLocked(path), 0, FsyncPolicy::kBatch);
    f.StartBackground([&] { ++ticks; }, std::chrono::milliseconds(5));
    // Writes keep coming while it ticks: neither starves the other.
    for (int i = 0; i < 200 && ticks.load() < 3; ++i) {
      ASSERT_TRUE(f.Write("x\n").ok());
      ASSERT_TRUE(f.AfterWrite(1).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_GE(ticks.load(), 3);
    f.StopBackground();
    const int stopped_at = ticks.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_EQ(ticks.load(), stopped_at);  // no tick after the stop
    f.StopBackground();                   // idempotent; the destructor calls it again
  }
  EXPECT_TRUE(Lockable(path));  // the destructor closed the file
}

TEST(LogFileTest, NoThreadWithoutWorkAndATickOnlyThreadForOtherPolicies) {
  testing::TempDir dir;
  const std::string path = dir.File("log.jsonl");
  std::atomic<int> ticks{0};
  LogFile none(path, OpenLocked(path), 0, FsyncPolicy::kNone);
  none.StartBackground(nullptr, std::chrono::milliseconds(0));  // nothing to run
  ASSERT_TRUE(none.Write("a\n").ok());
  ASSERT_TRUE(none.AfterWrite(1).ok());
  none.StopBackground();
  const std::string other = dir.File("other.jsonl");
  LogFile always(other, OpenLocked(other), 0, FsyncPolicy::kAlways);
  always.StartBackground([&] { ++ticks; }, std::chrono::milliseconds(2));
  for (int i = 0; i < 500 && ticks.load() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_GE(ticks.load(), 2);
}

}  // namespace
}  // namespace vv::audit

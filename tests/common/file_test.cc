// WriteFileAtomic (issue 13 "Foundations": one atomic-file-write helper for every component).

#include "common/file.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "fakes/temp_dir.h"

namespace vv {
namespace {

unsigned Mode(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// Every entry of the directory (to see that no temporary file is left behind).
std::vector<std::string> Entries(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(WriteFileAtomicTest, CreatesWithTheExactModeWhateverTheUmask) {
  vv::testing::TempDir dir;
  const std::string p = dir.File("key.pem");
  const mode_t old = ::umask(0);
  ASSERT_TRUE(WriteFileAtomic(p, "secret\n", 0400).ok());
  const std::string q = dir.File("approval.json");
  ::umask(077);
  ASSERT_TRUE(WriteFileAtomic(q, "{}", 0644).ok());
  ::umask(old);
  EXPECT_EQ(Mode(p), 0400u);
  EXPECT_EQ(Mode(q), 0644u);
  EXPECT_EQ(vv::testing::ReadFile(p), "secret\n");
}

TEST(WriteFileAtomicTest, ReplacesTheContentsAndLeavesNoTemporaryFile) {
  vv::testing::TempDir dir;
  const std::string p = dir.File("state.json");
  ASSERT_TRUE(WriteFileAtomic(p, std::string(100000, 'a'), 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(p, "short", 0600).ok());
  EXPECT_EQ(vv::testing::ReadFile(p), "short");
  ASSERT_TRUE(WriteFileAtomic(p, "", 0600, Durability::kFast).ok());
  EXPECT_EQ(vv::testing::ReadFile(p), "");
  EXPECT_EQ(Entries(dir.path()), std::vector<std::string>{"state.json"});
}

TEST(WriteFileAtomicTest, AMissingDirectoryIsUnavailableNamingThePathAndTheCause) {
  vv::testing::TempDir dir;
  const std::string p = dir.File("no/such/dir/file");
  Status s = WriteFileAtomic(p, "x", 0600);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find(p), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No such file or directory"), std::string::npos) << s.message();
  EXPECT_EQ(WriteFileAtomic("", "x", 0600).code(), StatusCode::kInvalidArgument);
}

TEST(WriteFileAtomicTest, AFailedRenameKeepsTheOldFileAndRemovesTheTemporary) {
  vv::testing::TempDir dir;
  // The target is a non-empty directory: rename(2) of a file over it fails (EISDIR).
  const std::string p = dir.File("target");
  std::filesystem::create_directory(p);
  vv::testing::WriteFile(p + "/inside", "keep");
  Status s = WriteFileAtomic(p, "new", 0600);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot rename"), std::string::npos) << s.message();
  EXPECT_EQ(vv::testing::ReadFile(p + "/inside"), "keep");
  EXPECT_EQ(Entries(dir.path()), std::vector<std::string>{"target"});
}

TEST(WriteFileAtomicTest, ConcurrentWritersNeverShareATemporaryAndTheFileIsOneWholeVersion) {
  vv::testing::TempDir dir;
  const std::string p = dir.File("shared");
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      const std::string body(4096, static_cast<char>('a' + t));
      for (int i = 0; i < 50; ++i)
        if (!WriteFileAtomic(p, body, 0600, Durability::kFast).ok()) ++failures;
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(failures.load(), 0);
  const std::string got = vv::testing::ReadFile(p);
  ASSERT_EQ(got.size(), 4096u);
  EXPECT_EQ(got, std::string(4096, got[0]));  // never a mix of two writers
  EXPECT_EQ(Entries(dir.path()), std::vector<std::string>{"shared"});
}

bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(UniqueFdTest, ClosesOnScopeExitAndHandsOverOnReleaseOrMove) {
  int raw = -1;
  {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    raw = fd.get();
    EXPECT_TRUE(IsOpen(raw));
  }
  EXPECT_FALSE(IsOpen(raw)) << "closed when the owner went";

  UniqueFd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  raw = a.get();
  UniqueFd b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(b.get(), raw);
  UniqueFd c;
  c = std::move(b);
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(IsOpen(raw));
  const int released = c.Release();
  EXPECT_FALSE(c.valid());
  EXPECT_TRUE(IsOpen(released)) << "Release does not close";
  ::close(released);

  UniqueFd d(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int first = d.get();
  d.Reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));  // opened before the old one closes
  ASSERT_NE(d.get(), first);
  EXPECT_FALSE(IsOpen(first)) << "Reset closed the previous descriptor";
  const int second = d.get();
  EXPECT_EQ(d.Close(), 0);
  EXPECT_FALSE(d.valid());
  EXPECT_FALSE(IsOpen(second));
  EXPECT_EQ(d.Close(), 0) << "closing nothing is fine";
}

}  // namespace
}  // namespace vv

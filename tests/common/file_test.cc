// WriteFileAtomic (issue 13 "Foundations": one atomic-file-write helper for every component).

#include "common/file.h"

#include <gtest/gtest.h>
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

}  // namespace
}  // namespace vv

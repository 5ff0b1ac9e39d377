// EnsurePrivateFile (issue 12): data files 0600 whatever the umask, -wal/-shm too.

#include "common/file_mode.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakes/temp_dir.h"

namespace vv {
namespace {

unsigned Mode(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST(FileModeTest, CreatesAMissingFileOwnerOnlyWhateverTheUmask) {
  vv::testing::TempDir dir;
  const mode_t old = ::umask(0);
  const std::string p = dir.File("queue.db");
  ASSERT_TRUE(EnsurePrivateFile(p).ok());
  ::umask(old);
  EXPECT_EQ(Mode(p), 0600u);
}

TEST(FileModeTest, TightensAnExistingFileAndItsWalAndShm) {
  vv::testing::TempDir dir;
  const std::string p = dir.File("evidence.db");
  for (const std::string& f : {p, p + "-wal", p + "-shm"}) {
    int fd = ::open(f.c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
    ASSERT_EQ(::chmod(f.c_str(), 0644), 0);
  }
  ASSERT_TRUE(EnsurePrivateFile(p).ok());
  EXPECT_EQ(Mode(p), 0600u);
  EXPECT_EQ(Mode(p + "-wal"), 0600u);
  EXPECT_EQ(Mode(p + "-shm"), 0600u);
  EXPECT_TRUE(EnsurePrivateFile(":memory:").ok());
}

TEST(FileModeTest, AMissingDirectoryIsAnError) {
  vv::testing::TempDir dir;
  Status s = EnsurePrivateFile(dir.File("missing-dir/x.db"));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("missing-dir/x.db"), std::string::npos);
}

}  // namespace
}  // namespace vv

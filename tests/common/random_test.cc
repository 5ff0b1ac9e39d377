// SystemRandom's pool (issue 15) and Random::Uuid4's formatting.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"

namespace vv {
namespace {

// Hands out 0, 1, 2, ... so the formatting is checked byte for byte.
class CountingRandom final : public Random {
 public:
  void Fill(uint8_t* out, size_t len) override {
    for (size_t i = 0; i < len; ++i) out[i] = next_++;
  }

 private:
  uint8_t next_ = 0;
};

bool IsUuid4(const std::string& u) {
  if (u.size() != 36) return false;
  for (size_t i = 0; i < u.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (u[i] == '-')) return false;
    if (!dash && !((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f'))) return false;
  }
  return u[14] == '4' && (u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b');
}

TEST(RandomTest, Uuid4FormatsTheBytesWithVersionAndVariant) {
  CountingRandom r;
  EXPECT_EQ(r.Uuid4(), "00010203-0405-4607-8809-0a0b0c0d0e0f");
  EXPECT_EQ(r.Uuid4(), "10111213-1415-4617-9819-1a1b1c1d1e1f");
}

TEST(RandomTest, PooledUuidsAreWellFormedAndDistinct) {
  SystemRandom r;
  std::set<std::string> seen;
  for (int i = 0; i < 20000; ++i) {  // ~80 refills of the pool
    std::string u = r.Uuid4();
    ASSERT_TRUE(IsUuid4(u)) << u;
    ASSERT_TRUE(seen.insert(u).second) << "repeated " << u;
  }
}

TEST(RandomTest, DrawsOfEverySizeAcrossRefillsAreNeverZeroedOrRepeated) {
  SystemRandom r;
  std::set<std::string> seen;
  for (int round = 0; round < 400; ++round) {
    for (size_t len : {size_t{1}, size_t{7}, size_t{16}, size_t{32}, SystemRandom::kPooledMax,
                       SystemRandom::kPooledMax + 1, size_t{4096}}) {
      std::string b(len, '\0');
      r.Fill(reinterpret_cast<uint8_t*>(b.data()), len);
      if (len < 16) continue;  // short draws may collide by chance
      ASSERT_NE(b, std::string(len, '\0')) << "a consumed (zeroed) pool byte was handed out";
      ASSERT_TRUE(seen.insert(b).second) << "repeated draw of " << len << " bytes";
    }
  }
}

TEST(RandomTest, TwoInstancesDrawIndependently) {
  SystemRandom a, b;
  EXPECT_NE(a.Uuid4(), b.Uuid4());
}

TEST(RandomTest, ConcurrentDrawsAreDistinct) {
  SystemRandom r;
  std::vector<std::vector<std::string>> out(4);
  std::vector<std::thread> threads;
  for (auto& v : out)
    threads.emplace_back([&r, &v] {
      for (int i = 0; i < 3000; ++i) v.push_back(r.Uuid4());
    });
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (auto& v : out) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 12000u);
}

TEST(RandomTest, AForkedChildNeverReplaysTheParentsPool) {
  SystemRandom r;
  if (!r.pooled()) GTEST_SKIP() << "kernel without MADV_WIPEONFORK: no pool to test";
  (void)r.Uuid4();  // the pool is filled, most of it unused
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    uint8_t b[32];
    r.Fill(b, sizeof b);
    ssize_t w = write(fds[1], b, sizeof b);
    _exit(w == static_cast<ssize_t>(sizeof b) ? 0 : 1);
  }
  close(fds[1]);
  uint8_t child[32] = {};
  ssize_t got = 0;
  while (got < 32) {
    ssize_t n = read(fds[0], child + got, sizeof child - static_cast<size_t>(got));
    if (n <= 0) break;
    got += n;
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(got, 32);
  uint8_t parent[32];
  r.Fill(parent, sizeof parent);  // the parent's next bytes: what a copied pool would replay
  EXPECT_FALSE(std::equal(std::begin(parent), std::end(parent), std::begin(child)));
  EXPECT_FALSE(std::all_of(std::begin(child), std::end(child), [](uint8_t c) { return c == 0; }))
      << "the child drew from its wiped (zero) page instead of refilling";
}

}  // namespace
}  // namespace vv

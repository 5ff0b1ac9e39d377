// Runs the built vv-audit binary (build/bin/vv-audit).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "audit_test_util.h"
#include "fakes/temp_dir.h"

namespace vv::audit {
namespace {

struct RunResult {
  int exit_code = -1;
  std::string out;
};

RunResult RunTool(const std::string& args) {
  RunResult r;
  std::string cmd = std::string(VV_BIN_DIR) + "/vv-audit " + args + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string LastLine(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

TEST(VvAuditToolTest, VerifyGoodLogExitsZeroWithResultJson) {
  testing::TempDir dir;
  auto lines = testutil::MakeChain(3);
  testing::WriteFile(dir.File("a.jsonl"), testutil::Join(lines));
  RunResult r = RunTool("verify " + dir.File("a.jsonl"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(LastLine(r.out), R"({"entries":3,"latest_hash":")" + lines[2].hash + R"(","ok":true})");
}

TEST(VvAuditToolTest, VerifyBrokenLogExitsOne) {
  testing::TempDir dir;
  auto lines = testutil::MakeChain(3);
  std::swap(lines[0], lines[1]);
  testing::WriteFile(dir.File("a.jsonl"), testutil::Join(lines));
  RunResult r = RunTool("verify " + dir.File("a.jsonl"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(LastLine(r.out).rfind(R"({"broken_at":1,"detail":")", 0), 0u) << r.out;
  EXPECT_NE(LastLine(r.out).find(R"("ok":false,"reason":"previous_hash_mismatch"})"),
            std::string::npos);
}

TEST(VvAuditToolTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunTool("").exit_code, 2);
  EXPECT_EQ(RunTool("verify").exit_code, 2);
  EXPECT_EQ(RunTool("frobnicate x").exit_code, 2);
}

}  // namespace
}  // namespace vv::audit

// Black-box: all eight tools follow one CLI convention (docs/cli.md): --version (version, git
// revision, build type), --help with examples and the exit-code footer, a bad option is exit 2
// with the problem and the fix on stderr (nothing on stdout), options are accepted after the
// subcommand, and `--completion bash` prints a script that completes in a real bash.

#include <gtest/gtest.h>

#include "cli/cli.h"
#include "cli/run_tool.h"
#include "fakes/temp_dir.h"

namespace vv::testing {
namespace {

const std::vector<std::string> kTools = {"vv-gateway", "vv-engine",  "vv-evidence",
                                         "vv-audit",   "vvctl",      "ss-producer",
                                         "vv-loadgen", "vv-demo-producer"};

std::string Bin(const std::string& tool) { return std::string(VV_BIN_DIR) + "/" + tool; }

TEST(CliToolsTest, EveryToolPrintsItsVersionRevisionAndBuildType) {
  for (const auto& t : kTools) {
    ToolRun r = RunTool({Bin(t), "--version"});
    EXPECT_EQ(r.rc, 0) << t << r.err;
    EXPECT_EQ(r.out, vv::cli::VersionString(t) + "\n") << t;
    EXPECT_NE(r.out.find("(git "), std::string::npos) << t << r.out;
    EXPECT_TRUE(r.err.empty()) << t << r.err;
  }
}

TEST(CliToolsTest, EveryToolsHelpHasExamplesAndTheExitCodes) {
  for (const auto& t : kTools) {
    ToolRun r = RunTool({Bin(t), "--help"});
    EXPECT_EQ(r.rc, 0) << t << r.err;
    EXPECT_NE(r.out.find("Examples:\n  " + t), std::string::npos) << t << r.out;
    EXPECT_NE(r.out.find("Exit status: 0 ok, 1 operation failed, 2 usage or configuration "
                         "error, 3 verification failed."),
              std::string::npos)
        << t << r.out;
    EXPECT_NE(r.out.find("--version"), std::string::npos) << t;
    EXPECT_NE(r.out.find("--completion"), std::string::npos) << t;
  }
}

TEST(CliToolsTest, EveryToolExitsTwoOnABadOptionWithTheFixOnStderr) {
  for (const auto& t : kTools) {
    ToolRun r = RunTool({Bin(t), "--no-such-option"});
    EXPECT_EQ(r.rc, 2) << t << r.err;
    EXPECT_NE(r.err.find(t + ": "), std::string::npos) << t << r.err;
    EXPECT_NE(r.err.find("--no-such-option"), std::string::npos) << t << r.err;
    EXPECT_NE(r.err.find("fix: run '" + t + " --help'"), std::string::npos) << t << r.err;
    EXPECT_TRUE(r.out.empty()) << t << r.out;
  }
}

TEST(CliToolsTest, MissingRequiredOptionsAreUsageErrorsNotCli11Codes) {
  // Before: CLI11_PARSE returned CLI11's own codes (106 required, 109 extras).
  for (const auto& t : {"vv-gateway", "vv-engine", "vv-loadgen", "vv-demo-producer"}) {
    ToolRun r = RunTool({Bin(t)});
    EXPECT_EQ(r.rc, 2) << t << r.err;
    EXPECT_NE(r.err.find("is required"), std::string::npos) << t << r.err;
    ToolRun extra = RunTool({Bin(t), "--help-me", "stray"});
    EXPECT_EQ(extra.rc, 2) << t << extra.err;
  }
}

TEST(CliToolsTest, AnInvalidLogLevelIsAUsageError) {
  for (const auto& t : {"vv-gateway", "vv-engine"}) {
    ToolRun r = RunTool({Bin(t), "--config", "/nonexistent.yaml", "--log-level", "verbose"});
    EXPECT_EQ(r.rc, 2) << t << r.err;
    EXPECT_NE(r.err.find("--log-level"), std::string::npos) << t << r.err;
    EXPECT_NE(r.err.find("verbose"), std::string::npos) << t << r.err;
  }
}

TEST(CliToolsTest, ConfigurationErrorsAreTwoWithAFix) {
  for (const auto& t : {"vv-gateway", "vv-engine"}) {
    ToolRun r = RunTool({Bin(t), "--config", "/nonexistent.yaml"});
    EXPECT_EQ(r.rc, 2) << t << r.err;
    EXPECT_NE(r.err.find("refusing to start"), std::string::npos) << t << r.err;
    EXPECT_NE(r.err.find("  fix: "), std::string::npos) << t << r.err;
  }
}

TEST(CliToolsTest, RootOptionsAreAcceptedAfterTheSubcommand) {
  TempDir d;
  // ss-producer: --config and --json after `send` (the config is read: its error is reported).
  ToolRun p = RunTool({Bin("ss-producer"), "send", "x.ndjson", "--config", d.File("none.yaml"), "--json"});
  EXPECT_EQ(p.rc, 2) << p.err;
  EXPECT_NE(p.out.find("\"ok\":false"), std::string::npos) << p.out;
  EXPECT_NE(p.err.find("cannot read config file"), std::string::npos) << p.err;
  // vvctl: --json after `keys generate`.
  ToolRun k = RunTool({Bin("vvctl"), "keys", "generate", "--out", d.File("k.pem"), "--json"});
  EXPECT_EQ(k.rc, 0) << k.err;
  EXPECT_NE(k.out.find("\"public_key_b64\""), std::string::npos) << k.out;
  // vv-audit: --json after `public-key` (a raw 32-byte seed file).
  WriteFile(d.File("seal.key"), std::string(32, '\x07'), 0600);
  ToolRun a = RunTool({Bin("vv-audit"), "public-key", "--key", d.File("seal.key"), "--json"});
  EXPECT_EQ(a.rc, 0) << a.err;
  EXPECT_NE(a.out.find("\"verifier_key\""), std::string::npos) << a.out;
  // vv-evidence: --config before or after the subcommand, and --json errors.
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {Bin("vv-evidence"), "--config", d.File("none.yaml"), "list", "--tenant", "t", "--json"},
           {Bin("vv-evidence"), "list", "--tenant", "t", "--json", "--config", d.File("none.yaml")}}) {
    ToolRun e = RunTool(argv);
    EXPECT_EQ(e.rc, 2) << e.err;
    EXPECT_NE(e.out.find("\"ok\":false"), std::string::npos) << e.out;
    EXPECT_NE(e.err.find("none.yaml"), std::string::npos) << e.err;
  }
  ToolRun e = RunTool({Bin("vv-evidence"), "list", "--tenant", "t"});
  EXPECT_EQ(e.rc, 2) << e.err;
  EXPECT_NE(e.err.find("--config FILE is required"), std::string::npos) << e.err;
}

// Sources `tool --completion bash` in bash and completes `words` (the last one is the word
// under the cursor); returns COMPREPLY joined by spaces.
std::string Complete(const TempDir& d, const std::string& tool, const std::vector<std::string>& words) {
  ToolRun script = RunTool({Bin(tool), "--completion", "bash"});
  EXPECT_EQ(script.rc, 0) << tool << script.err;
  std::string path = d.File(tool + ".bash");
  WriteFile(path, script.out);
  std::string arr;
  for (const auto& w : words) arr += " '" + w + "'";
  std::string fn = "_";
  for (char c : tool) fn.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  fn += "_complete";
  std::string cmd = "source '" + path + "' && COMP_WORDS=(" + arr + " ) && COMP_CWORD=" +
                    std::to_string(words.size() - 1) + " && " + fn +
                    " && complete -p " + tool + " >/dev/null && echo \"${COMPREPLY[*]}\"";
  ToolRun r = RunTool({"/bin/bash", "--norc", "-c", cmd});
  EXPECT_EQ(r.rc, 0) << r.err;
  std::string out = r.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TEST(CliToolsTest, BashCompletionCompletesSubcommandsAndOptionsForEveryTool) {
  TempDir d;
  for (const auto& t : kTools) EXPECT_EQ(Complete(d, t, {t, "--vers"}), "--version") << t;
  EXPECT_EQ(Complete(d, "ss-producer", {"ss-producer", "se"}), "send");
  EXPECT_EQ(Complete(d, "ss-producer", {"ss-producer", "send", "--dr"}), "--dry-run");
  // A root option after the subcommand completes too (it falls through).
  EXPECT_EQ(Complete(d, "ss-producer", {"ss-producer", "send", "--con"}), "--config");
  EXPECT_EQ(Complete(d, "vvctl", {"vvctl", "kill-switch", "eng"}), "engage");
  EXPECT_EQ(Complete(d, "vvctl", {"vvctl", "kill-switch", "engage", "--appr"}), "--approval");
  EXPECT_EQ(Complete(d, "vv-audit", {"vv-audit", "check"}), "check-proof");
  // The value of --config is a file name.
  WriteFile(d.File("gw-config.yaml"), "x");
  EXPECT_EQ(Complete(d, "vv-gateway", {"vv-gateway", "--config", d.File("gw-con")}),
            d.File("gw-config.yaml"));
}

}  // namespace
}  // namespace vv::testing

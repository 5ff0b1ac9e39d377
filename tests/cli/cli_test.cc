// The shared CLI helper (tools/cli/cli.h): version string, help footer, exit codes of Parse,
// options after the subcommand, completion script, progress line, printable error text.
#include "cli/cli.h"

#include <gtest/gtest.h>

#include <iostream>
#include <sstream>

namespace vv::cli {
namespace {

// Runs Parse on a fresh argv; captures stdout and stderr.
struct ParseRun {
  int rc = -1;
  std::string out, err;
};

ParseRun ParseArgs(CLI::App& app, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  ParseRun r;
  r.rc = Parse(app, static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

struct Tool {
  CLI::App app{"test tool"};
  std::string config;
  bool json = false;
  std::string input;
  bool dry = false;
  CLI::App* send = nullptr;
  Tool() {
    Setup(app, {"t-tool", "  t-tool --config c.yaml send x", "  1: it failed."});
    app.add_option("--config", config, "config")->required();
    app.add_flag("--json", json, "json");
    app.require_subcommand(1);
    send = app.add_subcommand("send", "send");
    send->add_option("input", input)->required();
    send->add_flag("--dry-run", dry);
  }
};

TEST(CliTest, ExitCodesAreTheDocumentedOnes) {
  EXPECT_EQ(kExitOk, 0);
  EXPECT_EQ(kExitFailed, 1);
  EXPECT_EQ(kExitUsage, 2);
  EXPECT_EQ(kExitVerifyFailed, 3);
}

TEST(CliTest, VersionStringHasVersionRevisionAndBuildType) {
  std::string v = VersionString("t-tool");
  EXPECT_EQ(v.rfind(std::string("t-tool ") + kVersion + " (git ", 0), 0u) << v;
  EXPECT_NE(v.find(kBuildType), std::string::npos) << v;
  EXPECT_FALSE(std::string(kGitRevision).empty());
  EXPECT_FALSE(std::string(kVersion).empty());
}

TEST(CliTest, FooterListsExamplesAndEveryExitCode) {
  std::string f = HelpFooter("  t-tool run", "  1: it failed.");
  EXPECT_NE(f.find("Examples:\n  t-tool run\n"), std::string::npos) << f;
  EXPECT_NE(f.find("0 ok, 1 operation failed, 2 usage or configuration error, 3 verification failed"),
            std::string::npos)
      << f;
  EXPECT_NE(f.find("  1: it failed."), std::string::npos) << f;
}

TEST(CliTest, HelpAndVersionExitZeroOnStdout) {
  Tool t;
  ParseRun h = ParseArgs(t.app, {"t-tool", "--help"});
  EXPECT_EQ(h.rc, 0);
  EXPECT_NE(h.out.find("Examples:"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("Exit status:"), std::string::npos) << h.out;
  Tool t2;
  // --version wins over the missing required options.
  ParseRun v = ParseArgs(t2.app, {"t-tool", "--version"});
  EXPECT_EQ(v.rc, 0);
  EXPECT_EQ(v.out, VersionString("t-tool") + "\n");
}

TEST(CliTest, UsageErrorIsTwoWithTheProblemAndTheFixOnStderr) {
  Tool t;
  ParseRun r = ParseArgs(t.app, {"t-tool", "--config", "c", "send", "x", "--frobnicate"});
  EXPECT_EQ(r.rc, kExitUsage);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("t-tool: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("fix: run 't-tool --help'"), std::string::npos) << r.err;
  Tool t2;
  EXPECT_EQ(ParseArgs(t2.app, {"t-tool", "send", "x"}).rc, kExitUsage);  // --config missing
  // An unknown option is named even when a required option is missing too.
  Tool t3;
  ParseRun u = ParseArgs(t3.app, {"t-tool", "send", "x", "--cnofig", "c"});
  EXPECT_EQ(u.rc, kExitUsage);
  EXPECT_NE(u.err.find("unknown option or unexpected argument '--cnofig'"), std::string::npos)
      << u.err;
}

TEST(CliTest, ParentOptionsAreAcceptedAfterTheSubcommand) {
  Tool t;
  ParseRun r = ParseArgs(t.app, {"t-tool", "send", "in.ndjson", "--config", "c.yaml", "--json", "--dry-run"});
  ASSERT_EQ(r.rc, -1) << r.err;
  EXPECT_EQ(t.config, "c.yaml");
  EXPECT_TRUE(t.json);
  EXPECT_TRUE(t.dry);
  EXPECT_EQ(t.input, "in.ndjson");
}

TEST(CliTest, CompletionIsPrintedEvenWithoutRequiredOptions) {
  Tool t;
  ParseRun r = ParseArgs(t.app, {"t-tool", "--completion", "bash"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("complete -o filenames -F _t_tool_complete t-tool"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("subs[.]=\"send\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--dry-run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("vals[.]=\" --completion --config \""), std::string::npos) << r.out;
  Tool t2;
  ParseRun z = ParseArgs(t2.app, {"t-tool", "--completion=zsh"});
  EXPECT_EQ(z.rc, kExitUsage);
  EXPECT_NE(z.err.find("--completion bash"), std::string::npos) << z.err;
}

TEST(CliTest, ProgressLineHasRateAndEtaOnlyWhenTheTotalIsKnown) {
  EXPECT_EQ(ProgressLine(100, "events", 4.0, -1), "100 events, 25.0/s");
  EXPECT_EQ(ProgressLine(100, "events", 4.0, 0.25), "100 events, 25.0/s, 25%, ETA 0:12");
  EXPECT_EQ(ProgressLine(0, "events", 0, 0), "0 events, 0.0/s, 0%");
  EXPECT_EQ(ProgressLine(9000, "events", 60.0, 0.1), "9000 events, 150.0/s, 10%, ETA 9:00");
}

TEST(CliTest, PrintableEscapesControlBytesAndBoundsLength) {
  EXPECT_EQ(Printable("a\nb\x1b[2J"), "a\\x0ab\\x1b[2J");
  EXPECT_EQ(Printable(std::string(500, 'x'), 10), std::string(10, 'x') + "...");
}

TEST(CliTest, LogLevelsAreSpdlogsNames) {
  const auto& l = LogLevels();
  EXPECT_NE(std::find(l.begin(), l.end(), "warn"), l.end());
  EXPECT_EQ(std::find(l.begin(), l.end(), "verbose"), l.end());
}

}  // namespace
}  // namespace vv::cli

#pragma once
// The one CLI convention of the eight tools (issue 16, docs/cli.md): exit codes, --version,
// --help with examples and the exit-code footer, options anywhere (also after a subcommand),
// errors on stderr that name the problem and the fix, and a generated bash completion
// (`<tool> --completion bash`). Every tool's main() goes through Setup() and Parse().
// Thread-safety: call from main() only.

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>
#include <string_view>

namespace vv::cli {

// Exit status of every tool.
inline constexpr int kExitOk = 0;            // the operation succeeded
inline constexpr int kExitFailed = 1;        // the operation ran and failed (rejected, I/O, ...)
inline constexpr int kExitUsage = 2;         // bad command line or configuration: nothing done
inline constexpr int kExitVerifyFailed = 3;  // a signature/integrity verification failed

// Filled in at configure time (generated version.cc): project version, `git rev-parse
// --short=12 HEAD` ("unknown" outside a git checkout) and CMAKE_BUILD_TYPE.
extern const char* const kVersion;
extern const char* const kGitRevision;
extern const char* const kBuildType;

// "<tool> <version> (git <rev>, <build type>)".
std::string VersionString(std::string_view tool);

// The footer every --help ends with: the examples (one per line, as given) and the exit codes
// (`exit_notes`: what 1 and 3 mean for this tool; may be empty).
std::string HelpFooter(std::string_view examples, std::string_view exit_notes);

struct ToolInfo {
  std::string name;        // "ss-producer"
  std::string examples;    // lines of "  tool ..." examples
  std::string exit_notes;  // tool-specific meaning of the exit codes
};

// Adds --version, --completion SHELL and the footer to `app`, and the house formatter.
void Setup(CLI::App& app, const ToolInfo& info);

// Parses. Returns -1 when the tool should run; otherwise the exit status to return at once:
// 0 after --help/--version/--completion, 2 after a usage error (printed on stderr with the fix:
// "run '<tool> --help'"). Before parsing, every subcommand is made to fall through, so options
// of a parent are accepted after the subcommand (`tool send --config F FILE`).
int Parse(CLI::App& app, int argc, char** argv);

// Prints "<tool>: <problem>" and, when given, "  fix: <fix>" on stderr; returns `code`.
int Error(std::string_view tool, std::string_view problem, std::string_view fix = {},
          int code = kExitUsage);

// A bash completion script for `app` (subcommands at every level, their options, and file-name
// completion for option values and positionals). Pure: the caller prints it.
std::string BashCompletion(const CLI::App& app, std::string_view tool);

// The log levels --log-level accepts (spdlog's names); anything else is a usage error.
const std::vector<std::string>& LogLevels();

// Untrusted text (file names, config values) bounded and with control bytes escaped, for
// error messages on a terminal.
std::string Printable(std::string_view s, size_t max_len = 200);

}  // namespace vv::cli

namespace vv::cli {

// One progress line (no "\r"): "<done> <unit> <rate>/s" and, when `fraction` is in [0, 1] (the
// total is known), " <pct>% ETA <m:ss>". Rate and ETA need elapsed > 0.
std::string ProgressLine(int64_t done, std::string_view unit, double elapsed_seconds,
                         double fraction);

}  // namespace vv::cli

#include "cli/cli.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace vv::cli {
namespace {

// Bash identifiers and associative-array keys: tool and subcommand names are ours (never
// user input), but keep the script valid for any of them.
std::string Ident(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

struct Level {
  std::string path;  // ".", ".send", ".kill-switch.engage"
  std::vector<std::string> subcommands;
  std::vector<std::string> options;        // every option name (long and short)
  std::vector<std::string> value_options;  // the ones that take a value
};

void Collect(const CLI::App& app, const std::string& path, std::vector<Level>* out) {
  Level level;
  level.path = path;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name().empty()) continue;  // option groups
    level.subcommands.push_back(sub->get_name());
  }
  for (const CLI::Option* opt : app.get_options()) {
    if (!opt->nonpositional()) continue;
    std::vector<std::string> names;
    for (const auto& l : opt->get_lnames()) names.push_back("--" + l);
    for (const auto& s : opt->get_snames()) names.push_back("-" + s);
    for (const auto& n : names) {
      level.options.push_back(n);
      if (opt->get_expected_max() != 0) level.value_options.push_back(n);  // flags expect 0
    }
  }
  out->push_back(level);
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name().empty()) continue;
    Collect(*sub, path == "." ? "." + sub->get_name() : path + "." + sub->get_name(), out);
  }
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

void MakeFallThrough(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    sub->fallthrough();
    MakeFallThrough(*sub);
  }
}

// `--completion bash` or `--completion=bash` anywhere on the command line; checked before the
// real parse so that a tool with required options still prints its completion.
std::optional<std::string> CompletionRequest(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") break;
    if (a == "--completion") return i + 1 < argc ? std::string(argv[i + 1]) : std::string();
    if (a.rfind("--completion=", 0) == 0) return std::string(a.substr(13));
  }
  return std::nullopt;
}

}  // namespace

std::string VersionString(std::string_view tool) {
  return std::string(tool) + " " + kVersion + " (git " + kGitRevision + ", " + kBuildType + ")";
}

std::string HelpFooter(std::string_view examples, std::string_view exit_notes) {
  std::ostringstream f;
  if (!examples.empty()) {
    f << "\nExamples:\n" << examples;
    if (examples.back() != '\n') f << "\n";
  }
  f << "\nExit status: " << kExitOk << " ok, " << kExitFailed << " operation failed, "
    << kExitUsage << " usage or configuration error, " << kExitVerifyFailed
    << " verification failed.\n";
  if (!exit_notes.empty()) {
    f << exit_notes;
    if (exit_notes.back() != '\n') f << "\n";
  }
  f << "Options are accepted before or after the subcommand. See docs/cli.md.";
  return f.str();
}

void Setup(CLI::App& app, const ToolInfo& info) {
  app.name(info.name);
  app.set_version_flag("--version", VersionString(info.name),
                       "print the version, git revision and build type, then exit");
  app.add_option("--completion", "print a shell completion script (bash), then exit")
      ->check(CLI::IsMember({"bash"}))
      ->type_name("SHELL");
  app.footer(HelpFooter(info.examples, info.exit_notes));
  app.get_formatter()->column_width(34);
}

int Parse(CLI::App& app, int argc, char** argv) {
  const std::string tool = app.get_name();
  if (auto shell = CompletionRequest(argc, argv)) {
    if (*shell != "bash")
      return Error(tool, "unsupported shell '" + Printable(*shell) + "' for --completion",
                   "use --completion bash");
    std::cout << BashCompletion(app, tool);
    return kExitOk;
  }
  MakeFallThrough(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    // CLI11 checks required options before unknown ones: name the unknown argument first (it
    // is usually the actual mistake, e.g. a misspelt option).
    std::string problem = e.what();
    const std::vector<std::string> rest = app.remaining(true);
    if (!rest.empty() && dynamic_cast<const CLI::ExtrasError*>(&e) == nullptr)
      problem = "unknown option or unexpected argument '" + Printable(rest.front()) + "' (and: " +
                problem + ")";
    return Error(tool, problem, "run '" + tool + " --help' for the options and examples");
  }
  return -1;
}

int Error(std::string_view tool, std::string_view problem, std::string_view fix, int code) {
  std::cerr << tool << ": " << problem << "\n";
  if (!fix.empty()) std::cerr << "  fix: " << fix << "\n";
  return code;
}

std::string BashCompletion(const CLI::App& app, std::string_view tool) {
  std::vector<Level> levels;
  Collect(app, ".", &levels);
  const std::string fn = "_" + Ident(tool) + "_complete";
  std::ostringstream s;
  s << "# bash completion for " << tool << " (generated by `" << tool
    << " --completion bash`; source it or put it in /etc/bash_completion.d/)\n"
    << fn << "() {\n"
    << "  local -A subs opts vals\n";
  for (const Level& l : levels) {
    s << "  subs[" << l.path << "]=\"" << Join(l.subcommands) << "\"\n";
    s << "  opts[" << l.path << "]=\"" << Join(l.options) << "\"\n";
    s << "  vals[" << l.path << "]=\" " << Join(l.value_options) << " \"\n";
  }
  // Walk the words before the cursor: a word naming a subcommand of the current level
  // descends. Options of the current level and of every parent apply (they fall through).
  s << "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"\" path=. w i s o v\n"
    << "  (( COMP_CWORD > 0 )) && prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
    << "  for (( i = 1; i < COMP_CWORD; i++ )); do\n"
    << "    w=\"${COMP_WORDS[i]}\"\n"
    << "    for s in ${subs[$path]}; do\n"
    << "      if [[ \"$w\" == \"$s\" ]]; then\n"
    << "        if [[ \"$path\" == . ]]; then path=\".$s\"; else path=\"$path.$s\"; fi\n"
    << "        break\n"
    << "      fi\n"
    << "    done\n"
    << "  done\n"
    << "  o=\"\" v=\" \"\n"
    << "  local p=\"$path\"\n"
    << "  while :; do\n"
    << "    o=\"$o ${opts[$p]}\"; v=\"$v${vals[$p]}\"\n"
    << "    [[ \"$p\" == . ]] && break\n"
    << "    p=\"${p%.*}\"; [[ -z \"$p\" ]] && p=.\n"
    << "  done\n"
    << "  if [[ \"$v\" == *\" $prev \"* ]]; then\n"
    << "    COMPREPLY=( $(compgen -f -- \"$cur\") )\n"
    << "  elif [[ \"$cur\" == -* ]]; then\n"
    << "    COMPREPLY=( $(compgen -W \"$o\" -- \"$cur\") )\n"
    << "  elif [[ -n \"${subs[$path]}\" ]]; then\n"
    << "    COMPREPLY=( $(compgen -W \"${subs[$path]}\" -- \"$cur\") )\n"
    << "  else\n"
    << "    COMPREPLY=( $(compgen -f -- \"$cur\") )\n"
    << "  fi\n"
    << "}\n"
    << "complete -o filenames -F " << fn << " " << tool << "\n";
  return s.str();
}

const std::vector<std::string>& LogLevels() {
  static const std::vector<std::string> levels = {"trace", "debug", "info", "warn",
                                                  "error", "critical", "off"};
  return levels;
}

std::string Printable(std::string_view s, size_t max_len) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (out.size() >= max_len) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace vv::cli

namespace vv::cli {

std::string ProgressLine(int64_t done, std::string_view unit, double elapsed_seconds,
                         double fraction) {
  char buf[160];
  const double rate = elapsed_seconds > 0 ? static_cast<double>(done) / elapsed_seconds : 0;
  int n = std::snprintf(buf, sizeof buf, "%lld %.*s, %.1f/s", static_cast<long long>(done),
                        static_cast<int>(unit.size()), unit.data(), rate);
  std::string out(buf, static_cast<size_t>(std::max(n, 0)));
  if (fraction >= 0 && fraction <= 1) {
    std::snprintf(buf, sizeof buf, ", %d%%", static_cast<int>(fraction * 100));
    out += buf;
    if (fraction > 0 && elapsed_seconds > 0) {
      const long long eta = static_cast<long long>(elapsed_seconds * (1 - fraction) / fraction + 0.5);
      std::snprintf(buf, sizeof buf, ", ETA %lld:%02lld", eta / 60, eta % 60);
      out += buf;
    }
  }
  return out;
}

}  // namespace vv::cli

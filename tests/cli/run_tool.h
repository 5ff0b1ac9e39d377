#pragma once
// Runs a tool binary to completion for black-box CLI tests, keeping stdout and stderr apart
// (the convention puts errors on stderr and results on stdout), optionally with stdin from a
// file and stderr on a pseudo-terminal (progress output is for terminals only), and reports
// the child's peak resident set size (wait4 rusage, KiB) for bounded-memory checks.
// Header-only: used by tests/cli and tests/integration.

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace vv::testing {

struct ToolRun {
  int rc = -1;        // exit status, or -signal
  std::string out;    // stdout
  std::string err;    // stderr (what the terminal showed, with stderr_tty)
  long max_rss_kb = 0;
};

struct ToolRunOptions {
  std::vector<std::string> env;  // extra "K=V" (override the inherited ones)
  std::string stdin_path;        // "" = /dev/null
  bool stderr_tty = false;
};

inline ToolRun RunTool(const std::vector<std::string>& argv, const ToolRunOptions& o = {}) {
  ToolRun r;
  char out_tmpl[] = "/tmp/vv-tool-out-XXXXXX";
  char err_tmpl[] = "/tmp/vv-tool-err-XXXXXX";
  int out_fd = mkstemp(out_tmpl);
  int err_fd = mkstemp(err_tmpl);
  int master = -1;
  std::string slave_name;
  if (o.stderr_tty) {
    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0) slave_name = ptsname(master);
  }
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    bool overridden = false;
    for (const auto& x : o.env)
      if (kv.substr(0, kv.find('=') + 1) == x.substr(0, x.find('=') + 1)) overridden = true;
    if (!overridden) env_strings.push_back(kv);
  }
  for (const auto& x : o.env) env_strings.push_back(x);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  pid_t pid = fork();
  if (pid == 0) {
    int in = open(o.stdin_path.empty() ? "/dev/null" : o.stdin_path.c_str(), O_RDONLY);
    if (in >= 0) dup2(in, 0);
    dup2(out_fd, 1);
    if (!slave_name.empty()) {
      setsid();
      int slave = open(slave_name.c_str(), O_RDWR);
      if (slave >= 0) dup2(slave, 2);
    } else {
      dup2(err_fd, 2);
    }
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  std::string tty;
  int st = 0;
  rusage ru{};
  for (;;) {
    if (master >= 0) {
      pollfd p{master, POLLIN, 0};
      while (poll(&p, 1, 20) > 0) {
        char buf[4096];
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0) break;
        tty.append(buf, static_cast<size_t>(n));
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_t w = wait4(pid, &st, WNOHANG, &ru);
    if (w == pid) break;
    if (w < 0) break;
  }
  if (master >= 0) {
    pollfd p{master, POLLIN, 0};
    while (poll(&p, 1, 50) > 0) {
      char buf[4096];
      ssize_t n = read(master, buf, sizeof buf);
      if (n <= 0) break;
      tty.append(buf, static_cast<size_t>(n));
    }
    close(master);
  }
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : (WIFSIGNALED(st) ? -WTERMSIG(st) : -1);
  r.max_rss_kb = ru.ru_maxrss;
  auto slurp = [](const char* path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  r.out = slurp(out_tmpl);
  r.err = o.stderr_tty ? tty : slurp(err_tmpl);
  close(out_fd);
  close(err_fd);
  unlink(out_tmpl);
  unlink(err_tmpl);
  return r;
}

}  // namespace vv::testing

#include "fakes/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace vv::testing {

namespace {
extern "C" char** environ;

pid_t Spawn(const std::vector<std::string>& argv, const std::string& log_path,
            const std::vector<std::string>& env) {
  // Everything the child needs is built before fork(): after fork only async-signal-safe
  // calls are allowed (the parent may be multi-threaded).
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  for (const auto& e : env) env_strings.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  // A test that aborts or is killed by its timeout runs no destructor: the child must not
  // outlive it (an orphaned gateway kept the example config's fixed admin port busy for the
  // README check that runs after the tests).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
  int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
  }
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, 0);
  execve(args[0], args.data(), envp.data());
  _exit(127);
}

int DecodeStatus(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return -WTERMSIG(st);
  return -1;
}
}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv, const std::string& log_path,
                           std::vector<std::string> env)
    : log_path_(log_path) {
  pid_ = Spawn(argv, log_path, env);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_status_) Terminate(SIGTERM, std::chrono::seconds(5));
}

std::string ChildProcess::Log() const {
  std::ifstream f(log_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::optional<int> ChildProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (exit_status_) return exit_status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {  // checks at least once, also for a zero timeout
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      exit_status_ = DecodeStatus(st);
      return exit_status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::optional<std::string> ChildProcess::WaitForLine(const std::string& needle,
                                                     std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string log = Log();
    size_t pos = log.find(needle);
    if (pos != std::string::npos) {
      size_t end = log.find('\n', pos);
      if (end != std::string::npos) return log.substr(pos + needle.size(), end - pos - needle.size());
    }
    if (WaitExit(std::chrono::milliseconds(0))) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

int ChildProcess::Terminate(int sig, std::chrono::milliseconds timeout) {
  if (exit_status_) return *exit_status_;
  kill(pid_, sig);
  if (auto s = WaitExit(timeout)) return *s;
  kill(pid_, SIGKILL);
  int st = 0;
  waitpid(pid_, &st, 0);
  exit_status_ = DecodeStatus(st);
  return *exit_status_;
}

int RunCommand(const std::vector<std::string>& argv, std::string* out,
               const std::vector<std::string>& env) {
  char tmpl[] = "/tmp/vvcmd-XXXXXX";
  int fd = mkstemp(tmpl);
  close(fd);
  pid_t pid = Spawn(argv, tmpl, env);
  int st = 0;
  waitpid(pid, &st, 0);
  if (out) {
    std::ifstream f(tmpl);
    std::stringstream ss;
    ss << f.rdbuf();
    *out = ss.str();
  }
  unlink(tmpl);
  return DecodeStatus(st);
}

}  // namespace vv::testing

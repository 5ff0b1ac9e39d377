#pragma once
// A child process for black-box tests: started with fork/exec, stdout+stderr captured to a
// file, killed (SIGTERM, then SIGKILL) when the object is destroyed.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace vv::testing {

class ChildProcess {
 public:
  // Starts `argv[0]` with `argv`, extra environment `env` ("K=V"), output to `log_path`.
  ChildProcess(std::vector<std::string> argv, const std::string& log_path,
               std::vector<std::string> env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Waits until the log contains `needle`; returns the rest of that line. nullopt on timeout
  // or if the process exited.
  std::optional<std::string> WaitForLine(const std::string& needle,
                                         std::chrono::milliseconds timeout);
  // Sends a signal and waits for exit; returns the exit status (or -signal).
  int Terminate(int sig = 15, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits for the process to exit on its own.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> exit_status_;
};

// Runs a command to completion; returns exit status, output in *out.
int RunCommand(const std::vector<std::string>& argv, std::string* out,
               const std::vector<std::string>& env = {});

}  // namespace vv::testing

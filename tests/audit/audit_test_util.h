#pragma once
// Helpers for the audit tests: hand-built records computed independently of src/audit
// (json::Canonical + Sha256Hex of the full object), so the tests check the encoder too.

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "crypto/crypto.h"
#include "json/json.h"

namespace vv::audit::testutil {

struct Line {
  std::string text;  // without '\n'
  std::string hash;
};

inline Line MakeRecord(int64_t index, const std::string& ts, const std::string& event_type,
                       const std::string& actor, json::Value details,
                       const std::string& previous_hash) {
  json::Value rec = json::Value::MakeObject();
  rec.Set("index", index);
  rec.Set("timestamp", ts);
  rec.Set("event_type", event_type);
  rec.Set("actor", actor);
  rec.Set("details", std::move(details));
  rec.Set("previous_hash", previous_hash);
  std::string hash = crypto::Sha256Hex(json::Canonical(rec));
  rec.Set("entry_hash", hash);
  return {json::Canonical(rec), hash};
}

inline json::Value Details(const std::string& request_id) {
  json::Value d = json::Value::MakeObject();
  d.Set("request_id", request_id);
  return d;
}

inline Line MakeSeal(int64_t index, int64_t sealed_index, const std::string& sealed_hash,
                     const std::string& ts) {
  json::Value d = json::Value::MakeObject();
  d.Set("sealed_index", sealed_index);
  d.Set("last_entry_hash", sealed_hash);
  d.Set("sealed_at", ts);
  return MakeRecord(index, ts, "log.sealed", "SYSTEM", std::move(d), sealed_hash);
}

// A chain of n plain entries in our format (index = line number).
inline std::vector<Line> MakeChain(int n) {
  std::vector<Line> lines;
  std::string prev;
  for (int i = 1; i <= n; ++i) {
    lines.push_back(MakeRecord(i, "2026-03-01T00:00:0" + std::to_string(i % 10) + "+00:00",
                               "telemetry.accepted", "telemetry_gateway",
                               Details("r" + std::to_string(i)), prev));
    prev = lines.back().hash;
  }
  return lines;
}

inline std::string Join(const std::vector<Line>& lines) {
  std::string s;
  for (const auto& l : lines) s += l.text + "\n";
  return s;
}

inline std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

// Runs `child` in a forked process whose files cannot grow past `limit` bytes (a write beyond
// fails with EFBIG, SIGXFSZ ignored) and returns its exit code (-1: it did not exit normally).
inline int RunWithFileSizeLimit(off_t limit, const std::function<int()>& child) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)};
    ::setrlimit(RLIMIT_FSIZE, &rl);
    ::_exit(child());
  }
  int wstatus = 0;
  if (::waitpid(pid, &wstatus, 0) != pid || !WIFEXITED(wstatus)) return -1;
  return WEXITSTATUS(wstatus);
}

}  // namespace vv::audit::testutil

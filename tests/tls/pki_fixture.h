#pragma once
// Test helper: a dev PKI generated once per test binary by scripts/dev-pki.sh (found through
// VV_SOURCE_DIR) into a temp directory that is removed at exit. Not thread-safe on first use.

#include <cstdlib>
#include <memory>
#include <string>

#include "fakes/temp_dir.h"

namespace vv::testing {

class DevPki {
 public:
  // The shared PKI, or nullptr when the script failed (tests then fail with a clear message).
  static const DevPki* Get() {
    static std::unique_ptr<DevPki> pki = [] {
      auto p = std::unique_ptr<DevPki>(new DevPki());
      std::string cmd = std::string("bash '") + VV_SOURCE_DIR + "/scripts/dev-pki.sh' '" +
                        p->dir_.path().string() + "'";
      if (std::system(cmd.c_str()) != 0) p.reset();
      return p;
    }();
    return pki.get();
  }

  std::string Path(const std::string& file) const { return dir_.File(file); }
  std::string Crt(const std::string& name) const { return Path(name + ".crt"); }
  std::string Key(const std::string& name) const { return Path(name + ".key"); }
  // Pin value from <name>.sha256 (trailing newline removed).
  std::string Sha256(const std::string& name) const {
    std::string s = ReadFile(Path(name + ".sha256"));
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }
  const std::string& dir() const { return dir_str_; }

 private:
  DevPki() : dir_str_(dir_.path().string()) {}
  TempDir dir_;
  std::string dir_str_;
};

}  // namespace vv::testing

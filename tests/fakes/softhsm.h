#pragma once
// SoftHsmToken: a fresh SoftHSM2 token in a temp dir for one test (the real PKCS#11 module,
// not a mock). The module reads SOFTHSM2_CONF at C_Initialize, so the constructor points this
// process's environment at the test's config; child processes get env() instead.
// A missing SoftHSM2 FAILS the test unless VV_ALLOW_MISSING_SERVERS=1 (then it is skipped):
// use VV_REQUIRE_SOFTHSM(token) at the start of the test body or SetUp.
// Thread-safety: construct on the test thread. Ownership: owns the token directory.

#include <string>
#include <vector>

#include "fakes/temp_dir.h"

namespace vv::testing {

class SoftHsmToken {
 public:
  static constexpr char kModule[] = "/usr/lib/softhsm/libsofthsm2.so";
  static constexpr char kUserPin[] = "1234";
  static constexpr char kSoPin[] = "5678";

  // Creates a token labelled `label` (when SoftHSM2 is installed).
  explicit SoftHsmToken(std::string label = "vv-test");

  // "" when the token is ready, else why not (installation missing, init failed).
  const std::string& error() const { return error_; }
  bool available() const { return error_.empty(); }
  const std::string& label() const { return label_; }
  const std::string& conf_path() const { return conf_; }
  // "SOFTHSM2_CONF=<conf>": the environment child processes need to see this token.
  std::string env() const { return "SOFTHSM2_CONF=" + conf_; }
  // Runs softhsm2-util with `args` (plus this token's environment); returns its exit status.
  int Util(const std::vector<std::string>& args, std::string* out) const;

 private:
  TempDir dir_;
  std::string label_;
  std::string conf_;
  std::string error_;
};

// True when tests may skip for a missing SoftHSM2 (VV_ALLOW_MISSING_SERVERS=1).
bool AllowMissingSoftHsm();

}  // namespace vv::testing

// Skips (VV_ALLOW_MISSING_SERVERS=1) or fails the current test when the token is unusable.
#define VV_REQUIRE_SOFTHSM(token)                                                    \
  do {                                                                               \
    if (!(token).available()) {                                                      \
      if (::vv::testing::AllowMissingSoftHsm()) GTEST_SKIP() << (token).error();     \
      GTEST_FAIL() << (token).error() << " (set VV_ALLOW_MISSING_SERVERS=1 to skip)"; \
    }                                                                                \
  } while (0)

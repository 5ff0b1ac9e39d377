#include "fakes/softhsm.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "fakes/process.h"

namespace vv::testing {

namespace {
constexpr char kUtil[] = "/usr/bin/softhsm2-util";
}

bool AllowMissingSoftHsm() {
  const char* allow = std::getenv("VV_ALLOW_MISSING_SERVERS");
  return allow != nullptr && std::string(allow) == "1";
}

SoftHsmToken::SoftHsmToken(std::string label) : label_(std::move(label)) {
  if (access(kModule, R_OK) != 0 || access(kUtil, X_OK) != 0) {
    error_ = "SoftHSM2 not installed (softhsm2 package)";
    return;
  }
  const std::string tokens = dir_.File("tokens");
  if (mkdir(tokens.c_str(), 0700) != 0) {
    error_ = "cannot create " + tokens;
    return;
  }
  conf_ = dir_.File("softhsm2.conf");
  WriteFile(conf_, "directories.tokendir = " + tokens +
                       "\nobjectstore.backend = file\nlog.level = ERROR\n");
  setenv("SOFTHSM2_CONF", conf_.c_str(), 1);
  std::string out;
  int rc = Util({"--init-token", "--free", "--label", label_, "--so-pin", kSoPin, "--pin",
                 kUserPin},
                &out);
  if (rc != 0) error_ = "softhsm2-util --init-token failed: " + out;
}

int SoftHsmToken::Util(const std::vector<std::string>& args, std::string* out) const {
  std::vector<std::string> argv = {kUtil};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, out, {env()});
}

}  // namespace vv::testing

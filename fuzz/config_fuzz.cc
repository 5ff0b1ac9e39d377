// libFuzzer target: vv::config::ParseGatewayConfig on arbitrary YAML text, with an empty
// environment and a fixed temporary base directory (created once per process, empty).
// Invariants: never crashes and never throws (yaml-cpp throws; the loader must catch and
// return a Status; an escaping exception terminates the process and is reported); a config
// that loads also passes ValidateGatewayConfig again, and an error names what is wrong.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include <unistd.h>

#include "config/gateway_config.h"

namespace {
[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config_fuzz invariant violated: %s: %s\n", what, detail.c_str());
  std::abort();
}

const std::string& BaseDir() {
  static const std::string* dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                       "/vv-config-fuzz-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    auto* path = new std::string(tmpl);
    std::atexit([] { ::rmdir(BaseDir().c_str()); });  // empty unless the loader wrote into it
    return path;
  }();
  return *dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  vv::config::EnvLookup no_env = [](const std::string&) -> std::optional<std::string> {
    return std::nullopt;
  };
  vv::Result<vv::config::GatewayConfig> cfg =
      vv::config::ParseGatewayConfig(yaml, no_env, BaseDir());
  if (!cfg.ok()) {
    if (cfg.status().message().empty()) Fail("error without a message", yaml);
    return 0;
  }
  vv::Status again = vv::config::ValidateGatewayConfig(*cfg);
  if (!again.ok()) Fail("loaded config fails re-validation", again.message());
  return 0;
}

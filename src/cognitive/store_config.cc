#include "cognitive/store_config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "common/encoding.h"
#include "crypto/crypto.h"

namespace vv::cognitive {

namespace {

std::string DefaultPath(const std::string& queue_path) {
  std::filesystem::path q(queue_path);
  std::filesystem::path dir = q.parent_path();
  return dir.empty() ? std::string("vv-evidence.db") : (dir / "vv-evidence.db").string();
}

Status ReadScalar(const YAML::Node& section, const char* key, std::string* out) {
  YAML::Node v = section[key];
  if (!v || v.IsNull()) return Status::Ok();
  if (!v.IsScalar())
    return Status::InvalidArgument(std::string("evidence_engine.") + key + " must be a string");
  *out = std::string(StripAsciiWhitespace(v.Scalar()));
  return Status::Ok();
}

}  // namespace

Result<GraphStoreConfig> ParseGraphStoreConfig(const std::string& yaml_text,
                                               const config::EnvLookup& env,
                                               const std::string& base_dir,
                                               const std::string& queue_path) {
  GraphStoreConfig cfg;
  std::string path;
  try {
    YAML::Node root = YAML::Load(yaml_text);
    YAML::Node section;
    if (root && root.IsMap() && root["vectorvue"] && root["vectorvue"].IsMap())
      section = root["vectorvue"]["evidence_engine"];
    if (section && !section.IsNull()) {
      if (!section.IsMap()) return Status::InvalidArgument("evidence_engine must be a mapping");
      VV_RETURN_IF_ERROR(ReadScalar(section, "store_backend", &cfg.backend));
      VV_RETURN_IF_ERROR(ReadScalar(section, "store_path", &path));
      VV_RETURN_IF_ERROR(ReadScalar(section, "postgres_url", &cfg.postgres_url));
    }
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("config YAML: ") + e.what());
  }
  if (!path.empty()) path = config::ResolveConfigPath(path, base_dir);
  if (env) {
    if (auto v = env("VV_EVIDENCE_STORE_BACKEND")) cfg.backend = std::string(StripAsciiWhitespace(*v));
    if (auto v = env("VV_EVIDENCE_STORE_PATH")) path = std::string(StripAsciiWhitespace(*v));
    if (auto v = env("VV_EVIDENCE_POSTGRES_URL")) cfg.postgres_url = std::string(StripAsciiWhitespace(*v));
  }
  cfg.backend = ToLowerAscii(cfg.backend);
  if (cfg.backend.empty() || cfg.backend == "sqlite3") cfg.backend = "sqlite";
  if (cfg.backend == "postgresql") cfg.backend = "postgres";
  if (cfg.backend != "sqlite" && cfg.backend != "postgres")
    return Status::InvalidArgument(
        "evidence_engine.store_backend (VV_EVIDENCE_STORE_BACKEND) must be sqlite or postgres");
  cfg.path = path.empty() ? DefaultPath(queue_path) : path;
  if (cfg.backend == "postgres" && cfg.postgres_url.empty())
    return Status::InvalidArgument(
        "evidence_engine.postgres_url (VV_EVIDENCE_POSTGRES_URL) is required for store_backend "
        "postgres");
  return Result<GraphStoreConfig>(std::move(cfg));  // explicit: see ParseGatewayConfig
}

Result<GraphStoreConfig> LoadGraphStoreConfig(const std::string& yaml_path,
                                              const config::EnvLookup& env,
                                              const std::string& queue_path) {
  if (yaml_path.empty()) return ParseGraphStoreConfig("", env, "", queue_path);
  auto text = crypto::ReadFileBytes(yaml_path);
  if (!text.ok()) return text.status();
  std::string base = std::filesystem::path(yaml_path).parent_path().string();
  return ParseGraphStoreConfig(*text, env, base, queue_path);
}

}  // namespace vv::cognitive

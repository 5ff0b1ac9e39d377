#include "cognitive/store_config.h"

#include <filesystem>

#include "config/engine_config.h"
#include "crypto/crypto.h"

namespace vv::cognitive {

namespace {

std::string DefaultPath(const std::string& queue_path) {
  std::filesystem::path q(queue_path);
  std::filesystem::path dir = q.parent_path();
  return dir.empty() ? std::string("vv-evidence.db") : (dir / "vv-evidence.db").string();
}

}  // namespace

Result<GraphStoreConfig> ParseGraphStoreConfig(const std::string& yaml_text,
                                               const config::EnvLookup& env,
                                               const std::string& base_dir,
                                               const std::string& queue_path) {
  // The evidence engine's own rows (YAML key, variable, parser): one declaration of each key.
  config::EngineConfig start;   // store_backend not configured: SQLite
  start.store_path.clear();     // "" = not configured: beside the queue
  VV_ASSIGN_OR_RETURN(
      auto e, config::ParseEngineKeys(yaml_text, env, base_dir,
                                      {"store_backend", "store_path", "postgres_url"}, start));
  GraphStoreConfig cfg;
  cfg.backend = e.store_backend;
  cfg.path = e.store_path.empty() ? DefaultPath(queue_path) : e.store_path;
  cfg.postgres_url = e.postgres_url;
  if (cfg.backend == config::StoreBackend::kPostgres && cfg.postgres_url.empty())
    return Status::InvalidArgument(
        "evidence_engine.postgres_url (VV_EVIDENCE_POSTGRES_URL) is required for store_backend "
        "postgres");
  return Result<GraphStoreConfig>(std::move(cfg));  // explicit: see ParseGatewayConfig
}

Result<GraphStoreConfig> LoadGraphStoreConfig(const std::string& yaml_path,
                                              const config::EnvLookup& env,
                                              const std::string& queue_path) {
  if (yaml_path.empty()) return ParseGraphStoreConfig("", env, "", queue_path);
  VV_ASSIGN_OR_RETURN(auto text, crypto::ReadFileBytes(yaml_path));
  std::string base = std::filesystem::path(yaml_path).parent_path().string();
  return ParseGraphStoreConfig(text, env, base, queue_path);
}

}  // namespace vv::cognitive

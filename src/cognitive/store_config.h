#pragma once
// Where the graph store lives, read with the evidence engine's own key table
// (config::ParseEngineKeys, so each key and variable is declared once in src/config): the
// `vectorvue.evidence_engine` keys store_backend (sqlite | postgres), store_path and
// postgres_url, overridden by VV_EVIDENCE_STORE_BACKEND / VV_EVIDENCE_STORE_PATH /
// VV_EVIDENCE_POSTGRES_URL, the same keys and variables the evidence engine reads, so the
// gateway and the engine use the same database. Only those three keys are looked at (the
// evidence engine validates its own section). Relative store_path resolves against the YAML
// file's directory. When the section (or store_path) is absent the default is SQLite at
// "<directory of queue_path>/vv-evidence.db".
// Pure functions (yaml-cpp exceptions are caught and returned as Status).

#include <string>

#include "cognitive/graph_store.h"
#include "common/status.h"
#include "config/gateway_config.h"

namespace vv::cognitive {

// `yaml_path` "" = no file (defaults and environment only).
Result<GraphStoreConfig> LoadGraphStoreConfig(const std::string& yaml_path,
                                              const config::EnvLookup& env,
                                              const std::string& queue_path);
// Same from YAML text; relative paths resolve against `base_dir`.
Result<GraphStoreConfig> ParseGraphStoreConfig(const std::string& yaml_text,
                                               const config::EnvLookup& env,
                                               const std::string& base_dir,
                                               const std::string& queue_path);

}  // namespace vv::cognitive

#pragma once
// Backend selection for the engine and the operator tools, from EngineConfig: the root key
// provider (env | file | pkcs11) and the evidence store (sqlite | postgres). A plain switch on
// the configured kind, done once at start-up (STYLE.md convention 6).

#include <memory>

#include "common/status.h"
#include "config/engine_config.h"
#include "evidence/evidence_store.h"
#include "evidence/root_key_provider.h"

namespace vv::engine {

// env: VV_HSM_ROOT_KEYS_JSON (+ root_key_id or VV_HSM_EVIDENCE_ROOT_KEY_ID);
// file: root_key_file; pkcs11: module + token label + PIN from pkcs11_pin_file or the
// environment variable named by pkcs11_pin_env. `require_active_key` false only for the
// key-generation tool.
Result<std::unique_ptr<evidence::RootKeyProvider>> MakeRootKeyProvider(
    const config::EngineConfig& cfg, const evidence::EnvLookup& env,
    bool require_active_key = true);

Result<std::unique_ptr<evidence::EvidenceStore>> MakeEvidenceStore(const config::EngineConfig& cfg);

}  // namespace vv::engine

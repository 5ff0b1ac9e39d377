#include "engine/wiring.h"

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "evidence/aead.h"
#include "evidence/pkcs11_root_key_provider.h"
#include "evidence/postgres_evidence_store.h"
#include "evidence/sqlite_evidence_store.h"

namespace vv::engine {

Result<std::unique_ptr<evidence::RootKeyProvider>> MakeRootKeyProvider(
    const config::EngineConfig& cfg, const evidence::EnvLookup& env, bool require_active_key) {
  if (cfg.root_key_provider == "env") {
    auto p = evidence::StaticRootKeyProvider::FromEnv(env, cfg.root_key_id);
    if (!p.ok()) return p.status();
    return std::unique_ptr<evidence::RootKeyProvider>(std::move(p).value());
  }
  if (cfg.root_key_provider == "file") {
    auto p = evidence::StaticRootKeyProvider::FromFile(cfg.root_key_file, cfg.root_key_id);
    if (!p.ok()) return p.status();
    return std::unique_ptr<evidence::RootKeyProvider>(std::move(p).value());
  }
  if (cfg.root_key_provider == "pkcs11") {
    evidence::Pkcs11Options o;
    o.module_path = cfg.pkcs11_module;
    o.token_label = cfg.pkcs11_token_label;
    o.active_key_id = cfg.root_key_id;
    o.require_active_key = require_active_key;
    auto pin = pkcs11::ResolvePin(cfg.pkcs11_pin_file, cfg.pkcs11_pin_env, env,
                                  "evidence_engine pkcs11 root keys");
    if (!pin.ok()) return pin.status();
    o.pin = std::move(pin).value();
    auto p = evidence::Pkcs11RootKeyProvider::Open(o);
    crypto::Wipe(&o.pin);
    if (!p.ok()) return p.status();
    return std::unique_ptr<evidence::RootKeyProvider>(std::move(p).value());
  }
  return Status::InvalidArgument("unknown root_key_provider '" + cfg.root_key_provider + "'");
}

Result<std::unique_ptr<evidence::EvidenceStore>> MakeEvidenceStore(
    const config::EngineConfig& cfg) {
  if (cfg.store_backend == "sqlite") {
    auto s = evidence::SqliteEvidenceStore::Open(cfg.store_path);
    if (!s.ok()) return s.status();
    return std::unique_ptr<evidence::EvidenceStore>(std::move(s).value());
  }
  if (cfg.store_backend == "postgres") {
    auto s = evidence::PostgresEvidenceStore::Open(cfg.postgres_url, cfg.profile == "production");
    if (!s.ok()) return s.status();
    return std::unique_ptr<evidence::EvidenceStore>(std::move(s).value());
  }
  return Status::InvalidArgument("unknown store_backend '" + cfg.store_backend + "'");
}

}  // namespace vv::engine

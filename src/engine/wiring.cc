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
    VV_ASSIGN_OR_RETURN(auto p, evidence::StaticRootKeyProvider::FromEnv(env, cfg.root_key_id));
    return std::unique_ptr<evidence::RootKeyProvider>(std::move(p));
  }
  if (cfg.root_key_provider == "file") {
    VV_ASSIGN_OR_RETURN(
        auto p, evidence::StaticRootKeyProvider::FromFile(cfg.root_key_file, cfg.root_key_id));
    return std::unique_ptr<evidence::RootKeyProvider>(std::move(p));
  }
  if (cfg.root_key_provider == "pkcs11") {
    evidence::Pkcs11Options o;
    o.module_path = cfg.pkcs11_module;
    o.token_label = cfg.pkcs11_token_label;
    o.active_key_id = cfg.root_key_id;
    o.require_active_key = require_active_key;
    VV_ASSIGN_OR_RETURN(o.pin, pkcs11::ResolvePin(cfg.pkcs11_pin_file, cfg.pkcs11_pin_env, env,
                                                  "evidence_engine pkcs11 root keys"));
    auto p = evidence::Pkcs11RootKeyProvider::Open(o);
    crypto::Wipe(&o.pin);
    if (!p.ok()) return p.status();
    return std::unique_ptr<evidence::RootKeyProvider>(std::move(p).value());
  }
  return Status::InvalidArgument("unknown root_key_provider '" + cfg.root_key_provider + "'");
}

Result<std::unique_ptr<evidence::EvidenceStore>> MakeEvidenceStore(
    const config::EngineConfig& cfg) {
  switch (cfg.store_backend) {
    case config::StoreBackend::kSqlite: {
      VV_ASSIGN_OR_RETURN(auto s, evidence::SqliteEvidenceStore::Open(cfg.store_path));
      return std::unique_ptr<evidence::EvidenceStore>(std::move(s));
    }
    case config::StoreBackend::kPostgres: {
      VV_ASSIGN_OR_RETURN(auto s, evidence::PostgresEvidenceStore::Open(
                                      cfg.postgres_url, cfg.profile == "production"));
      return std::unique_ptr<evidence::EvidenceStore>(std::move(s));
    }
  }
  return Status::InvalidArgument("unknown store_backend " +
                                 std::to_string(static_cast<int>(cfg.store_backend)));
}

}  // namespace vv::engine

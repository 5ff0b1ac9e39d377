#pragma once
// The PKCS#11 audit seal key settings shared by the gateway section and the evidence_engine
// section of the YAML (each service signs the seals of its own audit log):
//   audit_seal_pkcs11_module       PKCS#11 module (default SoftHSM2's)
//   audit_seal_pkcs11_token_label  token to use; setting it selects the PKCS#11 seal key
//   audit_seal_pkcs11_key_label    label of the Ed25519 key pair (vv-audit pkcs11-keygen)
//   audit_seal_pkcs11_pin_file     user PIN file (0400/0600), or else
//   audit_seal_pkcs11_pin_env      the environment variable holding it (VV_AUDIT_PKCS11_PIN)
// A PKCS#11 seal key and a seal key file (audit_seal_key_path) are mutually exclusive.
// Thread-safety: plain data and pure functions.

#include <string>
#include <string_view>

#include "common/status.h"
#include "config/config_table.h"
#include "pkcs11/defaults.h"

namespace vv::config {

struct AuditSealPkcs11Config {
  std::string module = pkcs11::kDefaultModule;
  std::string token_label;  // "" = no PKCS#11 seal key
  std::string key_label;
  std::string pin_file;
  std::string pin_env = pkcs11::kAuditSealPinEnv;

  bool enabled() const { return !token_label.empty(); }
  bool operator==(const AuditSealPkcs11Config&) const = default;
};

// True for the five audit_seal_pkcs11_* keys.
bool IsAuditSealPkcs11Key(std::string_view key);

// Applies the YAML key `key` (one of the five: IsAuditSealPkcs11Key) with the scalar `value`,
// paths resolved against base_dir. InvalidArgument for any other key.
Status ApplyAuditSealPkcs11Key(std::string_view key, std::string_view value,
                               const std::string& base_dir, AuditSealPkcs11Config* cfg);

// Checks the settings of `section` (for messages): a token needs a key label and a module; a
// key label or PIN setting without a token is a mistake; a key file as well is a conflict; a
// PIN file must exist with mode 0400/0600.
Status ValidateAuditSealPkcs11(const AuditSealPkcs11Config& cfg, const std::string& key_path,
                               std::string_view section);

// The five audit_seal_pkcs11_* rows of a config table (gateway and evidence_engine sections).
template <class C>
std::vector<table::Key<C>> AuditSealPkcs11Rows(table::Field<C, AuditSealPkcs11Config> f) {
  std::vector<table::Key<C>> rows;
  for (const char* name : {"audit_seal_pkcs11_module", "audit_seal_pkcs11_token_label",
                           "audit_seal_pkcs11_key_label", "audit_seal_pkcs11_pin_file",
                           "audit_seal_pkcs11_pin_env"}) {
    const std::string key = name;
    rows.push_back(table::Custom<C>(
        key, [f, key](C& c, const YAML::Node& v, const std::string& full,
                      const table::Source& src) -> Status {
          VV_ASSIGN_OR_RETURN(auto raw, table::YamlScalar(v, full));
          return ApplyAuditSealPkcs11Key(key, table::TrimCopy(raw), src.base_dir, &f(c));
        }));
  }
  return rows;
}

}  // namespace vv::config

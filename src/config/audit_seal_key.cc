#include "config/audit_seal_key.h"

#include "common/encoding.h"
#include "config/gateway_config.h"
#include "crypto/crypto.h"

namespace vv::config {

bool IsAuditSealPkcs11Key(std::string_view key) {
  return key == "audit_seal_pkcs11_module" || key == "audit_seal_pkcs11_token_label" ||
         key == "audit_seal_pkcs11_key_label" || key == "audit_seal_pkcs11_pin_file" ||
         key == "audit_seal_pkcs11_pin_env";
}

Status ApplyAuditSealPkcs11Key(std::string_view key, std::string_view value,
                               const std::string& base_dir, AuditSealPkcs11Config* cfg) {
  const std::string v(StripAsciiWhitespace(value));
  if (key == "audit_seal_pkcs11_module") {
    cfg->module = ResolveConfigPath(v, base_dir);
  } else if (key == "audit_seal_pkcs11_token_label") {
    cfg->token_label = v;
  } else if (key == "audit_seal_pkcs11_key_label") {
    cfg->key_label = v;
  } else if (key == "audit_seal_pkcs11_pin_file") {
    cfg->pin_file = ResolveConfigPath(v, base_dir);
  } else if (key == "audit_seal_pkcs11_pin_env") {
    cfg->pin_env = v;
  } else {
    return Status::InvalidArgument("not an audit_seal_pkcs11_* key: " + std::string(key));
  }
  return Status::Ok();
}

Status ValidateAuditSealPkcs11(const AuditSealPkcs11Config& cfg, const std::string& key_path,
                               std::string_view section) {
  const std::string p = std::string(section) + ".audit_seal_pkcs11_";
  if (!cfg.enabled()) {
    if (!cfg.key_label.empty() || !cfg.pin_file.empty())
      return Status::InvalidArgument(p + "token_label is required when " + p +
                                     "key_label or " + p + "pin_file is set");
    return Status::Ok();
  }
  if (!key_path.empty())
    return Status::InvalidArgument(std::string(section) +
                                   ": audit_seal_key_path and a PKCS#11 seal key (" + p +
                                   "token_label) are both set; choose one");
  if (cfg.key_label.empty())
    return Status::InvalidArgument(p + "key_label is required with " + p + "token_label");
  if (cfg.module.empty()) return Status::InvalidArgument(p + "module must be set");
  if (!cfg.pin_file.empty()) {
    Status s = crypto::CheckSecretFilePermissions(cfg.pin_file);
    if (!s.ok()) return Status(s.code(), p + "pin_file: " + s.message());
  } else if (cfg.pin_env.empty()) {
    return Status::InvalidArgument(p + "pin_file or " + p + "pin_env must name the PIN");
  }
  return Status::Ok();
}

}  // namespace vv::config

#pragma once
// PKCS#11 defaults named once, for the token code (token.h), the config sections that describe
// a token (config/audit_seal_key.h, config/engine_config.h), the audit seal signer and the
// tools (vv-audit). Constants only: including this needs nothing from p11-kit.

namespace vv::pkcs11 {

// The module loaded when none is configured: SoftHSM2 as Debian installs it.
inline constexpr char kDefaultModule[] = "/usr/lib/softhsm/libsofthsm2.so";

// The environment variable holding the user PIN of the audit seal key's token
// (audit_seal_pkcs11_pin_env, vv-audit --pin-env), unless configured otherwise.
inline constexpr char kAuditSealPinEnv[] = "VV_AUDIT_PKCS11_PIN";

}  // namespace vv::pkcs11

#pragma once
// RootKeyProvider: where the evidence root keys live, behind one interface. A provider derives
// the per-tenant KEK of one of its root keys; the envelope cipher (evidence_cipher.h) does the
// rest. Root keys are named by key id; one is active (new writes), the others still decrypt
// (rotation).
//
// Implementations:
//   StaticRootKeyProvider   root keys in process memory, KEK = HKDF-SHA256 (reference scheme
//                           vv-evidence-env-v1). Built from the environment (the reference's
//                           VV_HSM_ROOT_KEYS_JSON / VV_HSM_EVIDENCE_ROOT_KEY_ID) or a key file.
//   Pkcs11RootKeyProvider   root keys inside a PKCS#11 token (pkcs11_root_key_provider.h).
//
// Thread-safety: every method of every implementation is thread-safe. Providers are built
// once at start-up and shared read-only.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "evidence/envelope.h"

namespace vv::evidence {

inline constexpr std::string_view kDefaultRootKeyId = "vv-evidence-root-v1";
inline constexpr std::string_view kEnvRootKeysJson = "VV_HSM_ROOT_KEYS_JSON";
inline constexpr std::string_view kEnvRootKeyId = "VV_HSM_EVIDENCE_ROOT_KEY_ID";

// Environment lookup, injectable for tests (common/env.h).
using vv::EnvLookup;

class RootKeyProvider {
 public:
  virtual ~RootKeyProvider() = default;
  // "env", "file" or "pkcs11" (logs, audit records).
  virtual std::string_view kind() const = 0;
  virtual KekScheme scheme() const = 0;
  // The key id new envelopes are written with.
  virtual const std::string& active_key_id() const = 0;
  virtual bool HasKey(std::string_view key_id) const = 0;
  virtual std::vector<std::string> key_ids() const = 0;
  // The 32-byte KEK of `tenant_id` under root key `key_id`. NotFound for an unknown key id,
  // Unavailable when the backing device fails. The caller wipes the result after use.
  virtual Result<std::string> DeriveKek(std::string_view tenant_id,
                                        std::string_view key_id) const = 0;
};

// Root keys held in memory (HKDF scheme). Immutable after construction.
class StaticRootKeyProvider final : public RootKeyProvider {
 public:
  // `keys`: key id -> raw root key (16, 24 or 32 bytes). `active_key_id` must be one of them.
  static Result<std::unique_ptr<StaticRootKeyProvider>> Create(
      std::map<std::string, std::string> keys, std::string active_key_id, std::string kind);
  // The reference's environment: VV_HSM_ROOT_KEYS_JSON = {"<kid>": "<base64 root>"} and
  // VV_HSM_EVIDENCE_ROOT_KEY_ID (default vv-evidence-root-v1). `active_override` (non-empty)
  // wins over the variable.
  static Result<std::unique_ptr<StaticRootKeyProvider>> FromEnv(const EnvLookup& env,
                                                                std::string active_override = "");
  // A key file that group/others cannot access (mode 0400 or 0600; PermissionDenied
  // otherwise). Content: a JSON object {"<kid>": "<base64 root>"} as the environment variable,
  // or one raw root key (16/24/32 bytes, exactly) named `active_key_id` (default
  // vv-evidence-root-v1).
  static Result<std::unique_ptr<StaticRootKeyProvider>> FromFile(const std::string& path,
                                                                 std::string active_key_id = "");
  ~StaticRootKeyProvider() override;

  std::string_view kind() const override { return kind_; }
  KekScheme scheme() const override { return KekScheme::kHkdfV1; }
  const std::string& active_key_id() const override { return active_; }
  bool HasKey(std::string_view key_id) const override;
  std::vector<std::string> key_ids() const override;
  Result<std::string> DeriveKek(std::string_view tenant_id, std::string_view key_id) const override;

 private:
  StaticRootKeyProvider(std::map<std::string, std::string> keys, std::string active,
                        std::string kind)
      : keys_(keys.begin(), keys.end()), active_(std::move(active)), kind_(std::move(kind)) {}
  std::map<std::string, std::string, std::less<>> keys_;
  const std::string active_;
  const std::string kind_;
};

// Parses {"kid": "base64", ...} (the VV_HSM_ROOT_KEYS_JSON shape). `what` names the source.
Result<std::map<std::string, std::string>> ParseRootKeysJson(std::string_view text,
                                                             const std::string& what);

}  // namespace vv::evidence

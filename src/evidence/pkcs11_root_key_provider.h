#pragma once
// Pkcs11RootKeyProvider: evidence root keys inside a PKCS#11 token (SoftHSM2 in tests, a
// hardware HSM in production). The root keys are generic secrets (CKK_GENERIC_SECRET, 32
// bytes) created with CKA_SENSITIVE=true, CKA_EXTRACTABLE=false, CKA_SIGN=true and
// CKA_LABEL = key id: their value never leaves the token. The per-tenant KEK is derived
// inside the token as CKM_SHA256_HMAC(root, "vectorvue-evidence-kek-v2" 0x00 <tenant_id>)
// (envelope version vv-evidence-env-v2-pkcs11, docs/evidence-format.md). SoftHSM2 2.6 supports
// CKM_GENERIC_SECRET_KEY_GEN and CKM_SHA256_HMAC on such keys.
//
// The token session is a pkcs11::Token (src/pkcs11): module loaded with dlopen(), one R/W user
// session, re-opened and logged in again when the HSM drops it.
//
// Thread-safety: all methods are thread-safe (the Token serialises every call on its session).
// Ownership: owns the Token.

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "evidence/root_key_provider.h"
#include "pkcs11/token.h"

namespace vv::evidence {

inline constexpr const char* kDefaultPkcs11Module = pkcs11::kDefaultModule;

struct Pkcs11Options {
  std::string module_path = kDefaultPkcs11Module;
  std::string token_label;    // the token to use (first slot whose token has this label)
  std::string pin;            // user PIN
  std::string active_key_id;  // CKA_LABEL of the active root key
  // Refuse to start unless the active key exists (false only for admin tools that create it).
  bool require_active_key = true;
};

class Pkcs11RootKeyProvider final : public RootKeyProvider {
 public:
  // Loads the module, opens a session on the token, logs in. Unavailable when the module or
  // token cannot be used, PermissionDenied for a wrong PIN, NotFound when the active key is
  // missing (require_active_key).
  static Result<std::unique_ptr<Pkcs11RootKeyProvider>> Open(const Pkcs11Options& options);
  ~Pkcs11RootKeyProvider() override;
  Pkcs11RootKeyProvider(const Pkcs11RootKeyProvider&) = delete;
  Pkcs11RootKeyProvider& operator=(const Pkcs11RootKeyProvider&) = delete;

  // Admin: generates a new non-extractable root key labelled `key_id` inside the token.
  // AlreadyExists when a key with that label exists.
  Status GenerateRootKey(const std::string& key_id);
  // True when the token refuses to reveal the key's value (CKA_VALUE unreadable and
  // CKA_EXTRACTABLE false): the property the provider relies on.
  Result<bool> KeyIsNonExtractable(const std::string& key_id) const;

  std::string_view kind() const override { return "pkcs11"; }
  KekScheme scheme() const override { return KekScheme::kPkcs11HmacV2; }
  const std::string& active_key_id() const override { return options_.active_key_id; }
  bool HasKey(std::string_view key_id) const override;
  std::vector<std::string> key_ids() const override;
  Result<std::string> DeriveKek(std::string_view tenant_id, std::string_view key_id) const override;

 private:
  Pkcs11RootKeyProvider(Pkcs11Options options, std::unique_ptr<pkcs11::Token> token);
  // Handle of the secret key labelled key_id, or CK_INVALID_HANDLE. Inside Token::Run.
  static Result<CK_OBJECT_HANDLE> FindKey(const pkcs11::Session& s, std::string_view key_id,
                                          CK_RV* rv);

  const Pkcs11Options options_;  // pin cleared after Open
  std::unique_ptr<pkcs11::Token> token_;
};

}  // namespace vv::evidence

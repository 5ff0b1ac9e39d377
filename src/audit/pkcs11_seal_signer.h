#pragma once
// Seal signing keys for the audit log: from a key file or inside a PKCS#11 token.
//
// Pkcs11SealSigner signs checkpoints with an Ed25519 key pair that lives in the token
// (CKK_EC_EDWARDS, curve edwards25519, mechanism CKM_EDDSA = pure Ed25519, RFC 8032): the
// private key is created inside the token with CKA_SENSITIVE=true, CKA_EXTRACTABLE=false and
// CKA_SIGN as its only capability, so it never leaves it. The private and public key objects
// share one CKA_LABEL. At Open the signer reads the public key (CKA_EC_POINT), signs a probe
// and verifies it with libsodium: a label that names a mismatched pair, a key of another type
// or a token that signs wrongly is refused at start-up, not discovered in a broken seal.
// SoftHSM2 2.6 (Debian 12) supports CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA.
//
// Thread-safety: Sign may be called from any thread (the Token serialises the session).
// Ownership: owns its Token.

#include <memory>
#include <string>

#include "audit/checkpoint.h"
#include "common/env.h"
#include "common/status.h"
#include "crypto/crypto.h"
#include "pkcs11/token.h"

namespace vv::audit {

class Pkcs11SealSigner final : public SealSigner {
 public:
  // Uses the Ed25519 key pair labelled key_label in `token`. NotFound when the label names no
  // private or no public key, InvalidArgument when it is not an Ed25519 pair that verifies.
  static Result<std::unique_ptr<Pkcs11SealSigner>> Open(std::string key_name,
                                                       std::unique_ptr<pkcs11::Token> token,
                                                       std::string key_label);

  // Admin: creates a new Ed25519 key pair labelled key_label inside the token and returns its
  // public key. AlreadyExists when a key with that label exists (never overwritten).
  static Result<crypto::Ed25519PublicKey> GenerateKeyPair(const pkcs11::Token& token,
                                                          const std::string& key_label);

  std::string_view kind() const override { return "pkcs11"; }
  Result<std::string> Sign(std::string_view body) const override;

  // True when the token refuses to reveal the private key (CKA_VALUE unreadable, CKA_SENSITIVE
  // true, CKA_EXTRACTABLE false): the property this signer exists for.
  Result<bool> KeyIsNonExtractable() const;
  const pkcs11::Token& token() const { return *token_; }
  const std::string& key_label() const { return key_label_; }

 private:
  Pkcs11SealSigner(std::string key_name, crypto::Ed25519PublicKey public_key,
                   std::unique_ptr<pkcs11::Token> token, std::string key_label);

  std::unique_ptr<pkcs11::Token> token_;
  const std::string key_label_;
  // The private key's object handle once found; only read and written inside Token::Run (the
  // token's mutex serialises it).
  mutable CK_OBJECT_HANDLE key_handle_ = CK_INVALID_HANDLE;
};

// Reads the Ed25519 public key of the key pair labelled key_label in the token.
Result<crypto::Ed25519PublicKey> ReadPkcs11PublicKey(const pkcs11::Token& token,
                                                    const std::string& key_label);

// Where the seal key comes from (the services' YAML maps onto this; docs/audit-format.md).
struct SealKeyOptions {
  std::string key_path;  // Ed25519 key file (raw seed or PEM, 0400/0600)
  // PKCS#11 (used when token_label is set; exclusive with key_path).
  std::string pkcs11_module = pkcs11::kDefaultModule;
  std::string pkcs11_token_label;
  std::string pkcs11_key_label;
  std::string pkcs11_pin_file;  // mode 0400/0600; else the environment variable below
  std::string pkcs11_pin_env = pkcs11::kAuditSealPinEnv;

  bool configured() const { return !key_path.empty() || !pkcs11_token_label.empty(); }
};

// The signer the options describe, signing under key_name (the checkpoint origin); nullptr
// when no seal key is configured. InvalidArgument for contradictory options (a key file AND a
// token), the loader's errors otherwise (key file mode, PIN, token, key pair).
Result<std::shared_ptr<const SealSigner>> OpenSealSigner(const SealKeyOptions& options,
                                                        const std::string& key_name,
                                                        const EnvLookup& env);

}  // namespace vv::audit

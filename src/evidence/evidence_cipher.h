#pragma once
// EvidenceCipher: envelope encryption of evidence payloads (docs/evidence-format.md).
// Encrypt: a fresh random 32-byte DEK, AES-256-GCM of the plaintext under the DEK with a
// random 12-byte nonce, the DEK wrapped by AES-256-GCM under the tenant's KEK (from the
// RootKeyProvider's active key) with its own random nonce; AAD for both =
// "tenant:<t>|key:<k>|purpose:evidence-blob". Randomness is drawn in this order: DEK (32),
// data nonce (12), wrap nonce (12) - tests inject a scripted vv::Random.
// Decrypt refuses an unsupported version, another tenant's envelope, an unknown key id and
// any authentication failure (DataLoss). Rewrap unwraps the DEK and wraps it under another
// root key (of this or another provider) without touching the data ciphertext.
//
// Thread-safety: const methods are thread-safe when the Random is (SystemRandom is).
// Ownership: borrows the provider and the Random; both must outlive the cipher.

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "evidence/envelope.h"
#include "evidence/root_key_provider.h"

namespace vv::evidence {

class EvidenceCipher {
 public:
  EvidenceCipher(const RootKeyProvider& provider, Random& random)
      : provider_(provider), random_(random) {}

  // Encrypts under the provider's active key.
  Result<EvidenceEnvelope> Encrypt(std::string_view tenant_id, std::string_view plaintext) const;
  // Encrypts under `key_id` (NotFound when the provider lacks it).
  Result<EvidenceEnvelope> EncryptWithKey(std::string_view tenant_id, std::string_view key_id,
                                          std::string_view plaintext) const;
  // Decrypts an envelope that belongs to `tenant_id`. Errors: InvalidArgument with
  // kErrUnsupportedVersion / kErrTenantMismatch texts, NotFound for an unknown key id,
  // DataLoss for a failed authentication (tampered or wrong key).
  Result<std::string> Decrypt(std::string_view tenant_id, const EvidenceEnvelope& envelope) const;
  // Moves the envelope's DEK under root key `new_key_id` of `target` (which may be this
  // cipher's provider): the data ciphertext and nonce are unchanged, the envelope records the
  // key id its data AAD names (data_key_id) when it differs from the new key id.
  Result<EvidenceEnvelope> Rewrap(std::string_view tenant_id, const EvidenceEnvelope& envelope,
                                  const RootKeyProvider& target, std::string_view new_key_id) const;
  Result<EvidenceEnvelope> Rewrap(std::string_view tenant_id, const EvidenceEnvelope& envelope,
                                  std::string_view new_key_id) const {
    return Rewrap(tenant_id, envelope, provider_, new_key_id);
  }

  const RootKeyProvider& provider() const { return provider_; }

 private:
  // Checks version, scheme and tenant; returns the unwrapped DEK.
  Result<std::string> UnwrapDek(std::string_view tenant_id, const EvidenceEnvelope& envelope) const;

  const RootKeyProvider& provider_;
  Random& random_;
};

// The version string a provider writes for an envelope whose data AAD names `data_key_id`
// and whose DEK is wrapped under `key_id`.
std::string VersionFor(KekScheme scheme, std::string_view key_id, std::string_view data_key_id);

}  // namespace vv::evidence

#pragma once
// Symmetric primitives of the evidence engine, on OpenSSL 3: HKDF-SHA256 (RFC 5869, EVP_KDF
// "HKDF"), HMAC-SHA256 and AES-GCM (128/192/256-bit keys, any non-empty IV, 16-byte tag
// appended to the ciphertext as Python `cryptography`'s AESGCM does). Pure functions,
// thread-safe. Key material passed in is not retained.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/crypto.h"

namespace vv::evidence {

inline constexpr size_t kGcmTagBytes = 16;
inline constexpr size_t kMaxGcmIvBytes = 128;  // OpenSSL 3 provider limit

// HKDF-SHA256(ikm, salt, info) -> `length` bytes. An empty salt means the RFC default (32
// zero bytes). InvalidArgument when length is 0 or above 255 * 32.
Result<std::string> HkdfSha256(std::string_view ikm, std::string_view salt, std::string_view info,
                               size_t length);

// HMAC-SHA256(key, data), 32 bytes.
Result<std::string> HmacSha256(std::string_view key, std::string_view data);

// AES-GCM encryption: returns ciphertext || 16-byte tag. The key selects AES-128/192/256.
// InvalidArgument for a bad key size or an IV that is empty or over kMaxGcmIvBytes.
Result<std::string> AesGcmSeal(std::string_view key, std::string_view iv, std::string_view aad,
                               std::string_view plaintext);
// AES-GCM decryption of ciphertext || tag. DataLoss ("authentication failed") when the tag
// does not verify; InvalidArgument for a bad key size, an empty IV or input shorter than the tag.
Result<std::string> AesGcmOpen(std::string_view key, std::string_view iv, std::string_view aad,
                               std::string_view ciphertext_and_tag);

// Secrets (keys, DEKs, file contents) are wiped with crypto::Wipe.
using crypto::Wipe;

}  // namespace vv::evidence

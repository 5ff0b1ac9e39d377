#pragma once
// Thin crypto wrappers: SHA-256 (OpenSSL), Ed25519 strict verify and sign (libsodium), key
// loading, key-file permission checks. Keys are parsed once (at start-up) and then shared
// read-only between threads: all const methods are thread-safe.

#include <array>
#include <initializer_list>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vv::crypto {

// SHA-256 digest as 32 raw bytes / 64 lowercase hex chars.
std::string Sha256(std::string_view data);
std::string Sha256Hex(std::string_view data);
// SHA-256 of the concatenation of `parts`, without building it (Merkle leaf and node hashes:
// a one-byte prefix before a 1.5 KB envelope or two 32-byte hashes).
std::string Sha256Of(std::initializer_list<std::string_view> parts);

// An Ed25519 public key (32 raw bytes).
class Ed25519PublicKey {
 public:
  // Raw 32 bytes.
  static Result<Ed25519PublicKey> FromRaw(std::string_view raw);
  // Standard base64 (strict) of the raw 32 bytes.
  static Result<Ed25519PublicKey> FromBase64(std::string_view b64);
  // PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----") or base64 raw key text.
  static Result<Ed25519PublicKey> FromPemOrBase64(std::string_view text);

  // Strict verification (libsodium): rejects non-canonical S, small-order A and R and
  // non-canonical encodings. `sig` must be exactly 64 bytes, else false.
  bool Verify(std::string_view message, std::string_view sig) const;

  const std::string& raw() const { return raw_; }
  std::string ToBase64() const;

 private:
  std::string raw_;
};

// An Ed25519 private key. Holds the 64-byte libsodium secret key; wiped on destruction.
class Ed25519PrivateKey {
 public:
  static Result<Ed25519PrivateKey> FromSeed(std::string_view seed32);
  // Loads a key file: a raw 32-byte seed, or an unencrypted PEM PKCS#8 Ed25519 private key
  // ("-----BEGIN PRIVATE KEY-----"). When `check_permissions`, refuses a file readable or
  // writable by group or others (must be 0400 or 0600).
  static Result<Ed25519PrivateKey> LoadFile(const std::string& path, bool check_permissions = true);
  // Generates a fresh key from libsodium's CSPRNG.
  static Ed25519PrivateKey Generate();

  Ed25519PrivateKey(const Ed25519PrivateKey&);
  Ed25519PrivateKey& operator=(const Ed25519PrivateKey&);
  Ed25519PrivateKey(Ed25519PrivateKey&&) noexcept;
  Ed25519PrivateKey& operator=(Ed25519PrivateKey&&) noexcept;
  ~Ed25519PrivateKey();

  // 64-byte detached signature.
  std::string Sign(std::string_view message) const;
  Ed25519PublicKey PublicKey() const;
  std::string Seed() const;  // 32 bytes; handle with care
  // PEM PKCS#8 encoding of the private key (for key files).
  std::string ToPem() const;

 private:
  Ed25519PrivateKey() = default;
  std::array<unsigned char, 64> sk_{};
};

// PEM SubjectPublicKeyInfo of a public key.
std::string PublicKeyToPem(const Ed25519PublicKey& key);

// Overwrites a secret's bytes (sodium_memzero) and clears the string; nullptr is a no-op.
void Wipe(std::string* secret);

// Refuses a secret file that group or others may read or write (mode & 077 != 0), naming
// the path. NotFound / PermissionDenied accordingly.
Status CheckSecretFilePermissions(const std::string& path);

// Reads a whole file (binary). NotFound / Unavailable on failure, naming the path.
Result<std::string> ReadFileBytes(const std::string& path);

// SHA-256 fingerprint (lowercase hex) of the first certificate in a PEM file / DER bytes.
Result<std::string> CertificateFingerprintFromPemFile(const std::string& path);
std::string CertificateFingerprintFromDer(std::string_view der);

}  // namespace vv::crypto

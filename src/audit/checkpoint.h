#pragma once
// Signed checkpoints of the audit log in the C2SP formats:
//  - tlog-checkpoint body: "<origin>\n<tree size>\n<base64 root hash>\n" (extension lines
//    are accepted when parsing, never produced);
//  - signed-note: body, a blank line, then one line per signature
//    "\u2014 <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>\n";
//    key id = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4].
// The key name of a checkpoint signature is the checkpoint's origin.
// Thread-safety: pure functions; signers are immutable after construction (const
// methods may be called from any thread). Parsers never throw and reject malformed input.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/crypto.h"

namespace vv::audit {

inline constexpr std::string_view kSignatureDash = "\xe2\x80\x94";  // U+2014 EM DASH
inline constexpr std::string_view kDefaultCheckpointOrigin = "vectorvue.local/audit-log";

struct Checkpoint {
  std::string origin;
  uint64_t tree_size = 0;
  std::string root_hash;  // 32 raw bytes
};

// "<origin>\n<size>\n<base64 root>\n".
std::string CheckpointBody(const Checkpoint& cp);
// Parses a checkpoint body (origin, size without leading zeros, base64 32-byte root, then
// optional non-empty extension lines, every line '\n'-terminated).
Result<Checkpoint> ParseCheckpointBody(std::string_view body);

// The signed-note key id (4 raw bytes) of an Ed25519 key.
std::string NoteKeyId(std::string_view key_name, const crypto::Ed25519PublicKey& key);
// The note verifier key string "<name>+<hex key id>+<base64(0x01 || pubkey)>".
std::string NoteVerifierKey(std::string_view key_name, const crypto::Ed25519PublicKey& key);
// A key name is valid when non-empty, printable ASCII/UTF-8 without spaces and without '+'.
bool IsValidKeyName(std::string_view name);

struct NoteSignature {
  std::string key_name;
  std::string key_id;     // 4 raw bytes
  std::string signature;  // the remaining raw bytes (64 for Ed25519)
};

struct SignedNote {
  std::string body;  // the signed text, ending in '\n'
  std::vector<NoteSignature> signatures;
};

// Parses "<body>\n<signature lines>". A note with no signature line is accepted here (an
// unsigned checkpoint is "<body>\n"); callers decide whether signatures are required.
Result<SignedNote> ParseSignedNote(std::string_view text);

// Ok when `note` carries a signature by (key_name, key) - matching name and key id - that
// verifies over the body. NotFound when no signature line names this key; DataLoss when
// the signature is present but invalid.
Status VerifyNoteSignature(const SignedNote& note, std::string_view key_name,
                           const crypto::Ed25519PublicKey& key);

// SealSigner: what signs the audit log's checkpoints, under a key name (the checkpoint's
// origin). Two implementations: CheckpointSigner (an Ed25519 key held in this process, from a
// key file) and Pkcs11SealSigner (audit/pkcs11_seal_signer.h: the key never leaves an HSM).
// Thread-safety: implementations are safe to call concurrently; the key name, public key and
// key id are immutable.
class SealSigner {
 public:
  virtual ~SealSigner() = default;

  const std::string& key_name() const { return key_name_; }
  const crypto::Ed25519PublicKey& public_key() const { return public_key_; }
  const std::string& key_id() const { return key_id_; }  // 4 raw bytes

  // "key-file" or "pkcs11" (logs, audit records).
  virtual std::string_view kind() const = 0;
  // The 64-byte Ed25519 signature over `body`. Unavailable when the signing device cannot be
  // used (the caller fails closed: no seal is written unsigned).
  virtual Result<std::string> Sign(std::string_view body) const = 0;
  // The signature line for a signature made by Sign (ends in '\n').
  std::string SignatureLine(std::string_view signature) const;

 protected:
  SealSigner(std::string key_name, crypto::Ed25519PublicKey public_key);

 private:
  std::string key_name_;
  crypto::Ed25519PublicKey public_key_;
  std::string key_id_;
};

// CheckpointSigner: signs checkpoint bodies with an Ed25519 key held in this process.
// Thread-safety: immutable; Sign may be called concurrently. Owns a copy of the key.
class CheckpointSigner final : public SealSigner {
 public:
  CheckpointSigner(std::string key_name, crypto::Ed25519PrivateKey key);

  std::string_view kind() const override { return "key-file"; }
  Result<std::string> Sign(std::string_view body) const override;

 private:
  crypto::Ed25519PrivateKey key_;
};

// Loads a seal key file (raw 32-byte seed or PEM PKCS#8, mode 0400/0600 enforced).
Result<crypto::Ed25519PrivateKey> LoadSealKey(const std::string& path);

// Parses a public key given as base64 (raw 32 bytes), a note verifier key string
// ("name+keyid+base64(0x01||key)"), or a file containing either or a PEM public key, or a
// PEM / raw-seed private key file (its public half).
Result<crypto::Ed25519PublicKey> ParsePublicKeyArg(const std::string& arg);

}  // namespace vv::audit

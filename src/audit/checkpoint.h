#pragma once
// Signed checkpoints of the audit log in the C2SP formats:
//  - tlog-checkpoint body: "<origin>\n<tree size>\n<base64 root hash>\n" (extension lines
//    are accepted when parsing, never produced);
//  - signed-note: body, a blank line, then one line per signature
//    "\u2014 <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>\n";
//    key id = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4].
// The key name of a checkpoint signature is the checkpoint's origin.
// Thread-safety: pure functions; CheckpointSigner is immutable after construction (const
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

// CheckpointSigner: signs checkpoint bodies with an Ed25519 key under a key name (the origin).
// Thread-safety: immutable; Sign may be called concurrently. Owns a copy of the key.
class CheckpointSigner {
 public:
  CheckpointSigner(std::string key_name, crypto::Ed25519PrivateKey key);

  const std::string& key_name() const { return key_name_; }
  const crypto::Ed25519PublicKey& public_key() const { return public_key_; }
  const std::string& key_id() const { return key_id_; }  // 4 raw bytes

  // The 64-byte signature over `body`.
  std::string Sign(std::string_view body) const;
  // The signature line for a signature made by Sign (ends in '\n').
  std::string SignatureLine(std::string_view signature) const;

 private:
  std::string key_name_;
  crypto::Ed25519PrivateKey key_;
  crypto::Ed25519PublicKey public_key_;
  std::string key_id_;
};

// Loads a seal key file (raw 32-byte seed or PEM PKCS#8, mode 0400/0600 enforced).
Result<crypto::Ed25519PrivateKey> LoadSealKey(const std::string& path);

// Parses a public key given as base64 (raw 32 bytes), a note verifier key string
// ("name+keyid+base64(0x01||key)"), or a file containing either or a PEM public key, or a
// PEM / raw-seed private key file (its public half).
Result<crypto::Ed25519PublicKey> ParsePublicKeyArg(const std::string& arg);

}  // namespace vv::audit

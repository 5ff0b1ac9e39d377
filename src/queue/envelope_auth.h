#pragma once
// Authentication of queue envelopes (issue 12). The reference envelope's integrity_hash is an
// unkeyed SHA-256: anyone able to publish on the queue (an anonymous NATS client, a process
// with write access to queue.db) could forge an envelope for any tenant and the engine stored
// it as evidence. The gateway therefore signs every envelope it enqueues with an Ed25519 key
// only it holds, and the engine verifies with the public keys (several kids, for rotation) -
// the engine can check but never forge.
//
//   signing input = "vv-queue-envelope-v1\n" + canonical envelope without "auth"
//   "auth"        = {"alg":"ed25519","kid":KID,"sig":base64(signature)}
//
// The domain prefix keeps a queue signature from ever being valid as any other signature made
// with the same key.
//
// A batch (PublishBatch: the batch endpoint's events, issue 15) is signed ONCE, over the root of
// an RFC 6962 Merkle tree (crypto/merkle.h) whose leaves are the envelopes' signing inputs;
// each envelope carries its own inclusion path, so it still verifies alone, in any order, on
// any engine replica:
//
//   leaf_i        = LeafHash(signing input of envelope i)
//   batch input   = "vv-queue-batch-v1\n" + SIZE + "\n" + hex(root)
//   "auth"        = {"alg":"ed25519-merkle-v1","index":I,"kid":KID,
//                    "path":[base64(32-byte sibling), ...],"sig":base64(signature),"size":SIZE}
//
// A different domain than single envelopes, so neither signature can stand for the other. A
// verifier may remember (VerifiedRoots) the batch signatures it has checked, so the other
// envelopes of a batch cost a path walk (~log2(SIZE) hashes) instead of a verify.
// Thread-safety: EnvelopeSigner and VerifyEnvelopeAuth are immutable/pure; VerifiedRoots is
// internally synchronised. The gateway's JetStream path signs through GroupingPublisher
// (grouping_publisher.h), the embedded queue in its writer.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "crypto/crypto.h"
#include "queue/queue.h"

namespace vv::queue {

inline constexpr char kEnvelopeAuthAlg[] = "ed25519";
inline constexpr char kEnvelopeSigningDomain[] = "vv-queue-envelope-v1\n";
inline constexpr char kEnvelopeBatchAuthAlg[] = "ed25519-merkle-v1";
inline constexpr char kEnvelopeBatchSigningDomain[] = "vv-queue-batch-v1\n";
// Bounds a verifier enforces on a batch signature (attacker-controlled sizes).
inline constexpr int64_t kEnvelopeBatchMaxSize = int64_t{1} << 20;
inline constexpr size_t kEnvelopeBatchMaxPath = 64;

// The exact bytes signed for an envelope (its "auth" member is ignored).
std::string EnvelopeSigningInput(const Envelope& e);

class EnvelopeSigner {
 public:
  EnvelopeSigner(std::string kid, crypto::Ed25519PrivateKey key)
      : kid_(std::move(kid)), key_(std::move(key)) {}
  // Loads a PEM PKCS#8 / raw key file (mode 0400/0600 enforced).
  static Result<std::unique_ptr<EnvelopeSigner>> Load(const std::string& path, std::string kid);
  // Sets e->auth (replacing any previous value).
  void Sign(Envelope* e) const;
  // Sets every envelope's auth from ONE signature over the batch's Merkle root (see above);
  // a batch of one is signed as Sign does. At most kEnvelopeBatchMaxSize envelopes.
  void SignBatch(std::vector<Envelope>* envelopes) const;
  // Sets each envelope's `wire` to its canonical signed bytes (what SignBatch and then
  // CanonicalBytes() would give, byte for byte): each envelope is serialised once, for its
  // signature and its wire bytes, and the "auth" member is written straight into them, never
  // built as a DOM (the publishing path). `auth` is left as it was.
  void SignBatchForWire(std::vector<Envelope>* envelopes) const;
  // The canonical signed bytes of envelopes whose unsigned canonical bytes are given
  // (unsigned_bytes[i] MUST be envelope i's UnsignedCanonicalBytes()), under ONE signature as
  // SignBatch signs them; the embedded queue's writer signs a commit group with it.
  std::vector<std::string> SignedWireBytes(const std::vector<std::string>& unsigned_bytes) const;
  const std::string& kid() const { return kid_; }

 private:
  // SignBatch over unsigned canonical bytes already built (unsigned_bytes[i] is envelope i's).
  void SignGroup(std::vector<Envelope>* envelopes,
                 const std::vector<std::string>& unsigned_bytes) const;
  // The single-envelope "auth" member over `unsigned_bytes`.
  json::Value SingleAuth(std::string_view unsigned_bytes) const;

  std::string kid_;
  crypto::Ed25519PrivateKey key_;
};

// A publish waiting for its group's commit (the embedded queue's writer, GroupingPublisher):
// serialised on the publishing thread, signed with its whole group on the committing one.
struct PendingPublish {
  Envelope envelope;           // scalar members only (MakePendingPublish frees the DOM)
  std::string wire_bytes;      // the bytes to store; empty until SignPendingGroup signs them
  std::string unsigned_bytes;  // set while the envelope waits to be signed with its group
  PublishCallback done;
};
// Serialises `envelope` on the calling thread: its unsigned bytes when `sign` and it carries
// no signature yet (auth null, no wire bytes), else its wire bytes as they are; then frees
// its DOM there, on the thread that built it.
PendingPublish MakePendingPublish(Envelope envelope, PublishCallback done, bool sign);
// Signs the members of `group` waiting to be signed under ONE signature (SignedWireBytes: a
// group of one is plain ed25519) and sets their wire bytes. At most kEnvelopeBatchMaxSize.
void SignPendingGroup(const EnvelopeSigner& signer, std::vector<PendingPublish>& group);

using EnvelopeVerifyKeys = std::map<std::string, crypto::Ed25519PublicKey>;  // kid -> key

// Precise reason codes (audit log / DLQ), "" when the envelope is authenticated.
inline constexpr char kAuthUnsigned[] = "envelope_unsigned";
inline constexpr char kAuthMalformed[] = "envelope_auth_malformed";
inline constexpr char kAuthUnsupportedAlg[] = "envelope_auth_unsupported_alg";
inline constexpr char kAuthUnknownKid[] = "envelope_unknown_kid";
inline constexpr char kAuthBadSignature[] = "envelope_signature_invalid";

// Batch signatures already verified: (kid, public key, signed batch input, signature) of each,
// positive results only (a signature that failed is checked again next time). Bounded: emptied
// when it holds kCapacity entries. Thread-safe.
class VerifiedRoots {
 public:
  static constexpr size_t kCapacity = 4096;
  bool Contains(const std::string& key) const;
  void Insert(std::string key);

 private:
  mutable Mutex mu_;
  std::unordered_set<std::string> keys_ VV_GUARDED_BY(mu_);
};

// "" when `e` is authenticated by one of `keys`, else the precise reason. `roots` (optional)
// remembers verified batch signatures across calls. `unsigned_bytes` (optional) MUST be
// e.UnsignedCanonicalBytes() when given (a caller that built them skips a serialisation).
std::string VerifyEnvelopeAuth(const Envelope& e, const EnvelopeVerifyKeys& keys,
                               VerifiedRoots* roots = nullptr,
                               std::optional<std::string_view> unsigned_bytes = std::nullopt);

}  // namespace vv::queue

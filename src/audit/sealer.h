#pragma once
// The audit log's sealer (issue 13: AuditLog split): makes the "log.sealed" record - a signed
// checkpoint (docs/audit-format.md: an RFC 6962 Merkle root over the entry hashes of every
// line before it, in a C2SP signed note) - and the AnchorRecord the anchor publisher sends on.
// The signer is chosen once, when the log opens: a given SealSigner (e.g. PKCS#11), else a
// given key, else the key file, else none (checkpoints carry the root but no signature).
//
// Thread-safety: const after construction; BuildLine may run on any thread (the signer's own
// thread-safety applies: the AuditLog calls it under its chain mutex).

#include <cstdint>
#include <memory>
#include <string>

#include "audit/anchor.h"
#include "audit/checkpoint.h"
#include "common/status.h"
#include "crypto/crypto.h"
#include "crypto/merkle.h"

namespace vv::audit {

class Sealer {
 public:
  // The signer: `signer` (its key name must be `origin`), else `key`, else the key file at
  // `key_path` ("" = unsigned seals). InvalidArgument/the loader's error otherwise.
  static Result<Sealer> Make(std::string origin, std::string actor,
                             std::shared_ptr<const SealSigner> signer,
                             std::shared_ptr<const crypto::Ed25519PrivateKey> key,
                             const std::string& key_path);

  // Where the seal goes and what it covers.
  struct At {
    int64_t seal_index = 0;                   // the seal's own line
    int64_t sealed_index = 0;                 // the last line it covers
    const std::string* sealed_hash = nullptr;  // that line's entry_hash
    const crypto::merkle::CompactTree* tree = nullptr;  // over lines 1..sealed_index
    const std::string* previous_seal_hash = nullptr;    // "" for the segment's first seal
    int64_t segment = 0;
    std::string sealed_at;  // ISO-8601 UTC timestamp of the record
  };
  // Appends the seal line to *out and fills *info (the anchor record); returns the seal's
  // entry_hash. Unavailable (nothing appended) when the signer fails (an HSM outage).
  Result<std::string> BuildLine(const At& at, std::string* out, AnchorRecord* info) const;

  const SealSigner* signer() const { return signer_.get(); }
  const std::string& origin() const { return origin_; }
  const std::string& actor() const { return actor_; }

 private:
  Sealer(std::string origin, std::string actor, std::shared_ptr<const SealSigner> signer)
      : origin_(std::move(origin)), actor_(std::move(actor)), signer_(std::move(signer)) {}

  std::string origin_;
  std::string actor_;
  std::shared_ptr<const SealSigner> signer_;
};

}  // namespace vv::audit

#pragma once
// RFC 6962 / RFC 9162 Merkle tree hashing over SHA-256, as used by the audit log's signed
// checkpoints and the queue's batch envelope signatures (queue/envelope_auth.h):
//   leaf hash = SHA-256(0x00 || leaf data)      (for the audit log the leaf data is the 32 raw
//                                                bytes of a line's entry_hash)
//   node hash = SHA-256(0x01 || left || right)
//   MTH(empty) = SHA-256("")
// All hashes here are 32 raw bytes (std::string). Proof generation works on a vector of leaf
// hashes (O(n)); verification needs only the proof (O(log n)).
// Thread-safety: free functions are pure; a CompactTree is a plain value (not synchronised).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vv::crypto::merkle {

inline constexpr size_t kHashSize = 32;

std::string LeafHash(std::string_view leaf_data);
std::string NodeHash(std::string_view left, std::string_view right);
std::string EmptyRoot();
// Leaf hash of an audit line: LeafHash(hex-decoded entry_hash). nullopt-like: returns "" when
// entry_hash is not 64 hex characters.
std::string EntryLeafHash(std::string_view entry_hash_hex);

// Root of the tree over leaves[0, size). REQUIRES: size <= leaves.size().
std::string RootHash(const std::vector<std::string>& leaf_hashes, uint64_t size);

// Inclusion proof (RFC 6962 PATH) for leaf `index` in the tree of the first `size` leaves.
// InvalidArgument when index >= size or size > leaf_hashes.size().
Result<std::vector<std::string>> InclusionProof(const std::vector<std::string>& leaf_hashes,
                                                uint64_t index, uint64_t size);
// The root and every leaf's inclusion proof at once, for the tree of all `leaf_hashes`, in
// O(n log n) hashes (InclusionProof per leaf would be O(n^2)). An empty input gives EmptyRoot()
// and no proofs. proofs[i] equals InclusionProof(leaf_hashes, i, n).
struct AllProofs {
  std::string root;
  std::vector<std::vector<std::string>> proofs;
};
AllProofs AllInclusionProofs(const std::vector<std::string>& leaf_hashes);
// Consistency proof (RFC 6962 PROOF) between the trees of sizes size1 <= size2.
// InvalidArgument when 0 == size1, size1 > size2 or size2 > leaf_hashes.size().
Result<std::vector<std::string>> ConsistencyProof(const std::vector<std::string>& leaf_hashes,
                                                  uint64_t size1, uint64_t size2);

// RFC 9162 2.1.3.2: the root that `proof` leads to from `leaf_hash` at `index` in a tree of
// `size` leaves, or InvalidArgument when the proof cannot be one (index >= size, a hash not 32
// bytes, too long, too short). The caller compares the root (constant time).
Result<std::string> RootFromInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                                      const std::vector<std::string>& proof);
// RFC 9162 2.1.3.2. Ok when `proof` proves `leaf_hash` at `index` in the tree of `size` with
// `root`; an error Status (InvalidArgument / DataLoss) explaining why otherwise.
Status VerifyInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                       const std::vector<std::string>& proof, std::string_view root);
// RFC 9162 2.1.4.2, with size1 == size2 requiring an empty proof and equal roots (compared
// as given), and
// size1 == 0 rejected (as transparency-dev/merkle does).
Status VerifyConsistency(uint64_t size1, uint64_t size2, std::string_view root1,
                         std::string_view root2, const std::vector<std::string>& proof);

// Incremental tree (the "frontier" of perfect subtrees): Append is amortised O(1) hashes,
// Root is O(log n). Used by the writer and the streaming verifier.
class CompactTree {
 public:
  void Append(std::string leaf_hash);
  uint64_t size() const { return size_; }
  std::string Root() const;

 private:
  // Roots of the perfect subtrees, left (largest) to right; their sizes are the set bits of
  // size_ from high to low.
  std::vector<std::string> nodes_;
  uint64_t size_ = 0;
};

}  // namespace vv::crypto::merkle

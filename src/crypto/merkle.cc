#include "crypto/merkle.h"

#include "common/encoding.h"
#include "crypto/crypto.h"

namespace vv::crypto::merkle {

namespace {

// Largest power of two strictly smaller than n. REQUIRES: n >= 2.
uint64_t SplitPoint(uint64_t n) {
  uint64_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

// MTH of leaves[begin, begin + n). REQUIRES: n >= 1.
std::string RangeRoot(const std::vector<std::string>& leaves, uint64_t begin, uint64_t n) {
  if (n == 1) return leaves[begin];
  const uint64_t k = SplitPoint(n);
  return NodeHash(RangeRoot(leaves, begin, k), RangeRoot(leaves, begin + k, n - k));
}

void Path(const std::vector<std::string>& leaves, uint64_t m, uint64_t begin, uint64_t n,
          std::vector<std::string>* out) {
  if (n <= 1) return;
  const uint64_t k = SplitPoint(n);
  if (m < k) {
    Path(leaves, m, begin, k, out);
    out->push_back(RangeRoot(leaves, begin + k, n - k));
  } else {
    Path(leaves, m - k, begin + k, n - k, out);
    out->push_back(RangeRoot(leaves, begin, k));
  }
}

void SubProof(const std::vector<std::string>& leaves, uint64_t m, uint64_t begin, uint64_t n,
              bool whole, std::vector<std::string>* out) {
  if (m == n) {
    if (!whole) out->push_back(RangeRoot(leaves, begin, n));
    return;
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubProof(leaves, m, begin, k, whole, out);
    out->push_back(RangeRoot(leaves, begin + k, n - k));
  } else {
    SubProof(leaves, m - k, begin + k, n - k, false, out);
    out->push_back(RangeRoot(leaves, begin, k));
  }
}

bool Lsb(uint64_t x) { return (x & 1) != 0; }

// Root of leaves[begin, begin + n); appends to proofs[i], for every leaf i of the range, the
// siblings above the range's children (bottom-up order, as Path). REQUIRES: n >= 1.
std::string AllPaths(const std::vector<std::string>& leaves, uint64_t begin, uint64_t n,
                     std::vector<std::vector<std::string>>* proofs) {
  if (n == 1) return leaves[begin];
  const uint64_t k = SplitPoint(n);
  std::string left = AllPaths(leaves, begin, k, proofs);
  std::string right = AllPaths(leaves, begin + k, n - k, proofs);
  for (uint64_t i = begin; i < begin + k; ++i) (*proofs)[i].push_back(right);
  for (uint64_t i = begin + k; i < begin + n; ++i) (*proofs)[i].push_back(left);
  return NodeHash(left, right);
}

}  // namespace

std::string LeafHash(std::string_view leaf_data) {
  return crypto::Sha256Of({std::string_view("\x00", 1), leaf_data});
}

std::string NodeHash(std::string_view left, std::string_view right) {
  return crypto::Sha256Of({std::string_view("\x01", 1), left, right});
}

std::string EmptyRoot() { return crypto::Sha256(""); }

std::string EntryLeafHash(std::string_view entry_hash_hex) {
  if (!IsHex(entry_hash_hex, 64)) return "";
  auto raw = HexDecode(entry_hash_hex);
  if (!raw.has_value()) return "";
  return LeafHash(*raw);
}

std::string RootHash(const std::vector<std::string>& leaf_hashes, uint64_t size) {
  if (size == 0 || size > leaf_hashes.size()) return EmptyRoot();
  return RangeRoot(leaf_hashes, 0, size);
}

Result<std::vector<std::string>> InclusionProof(const std::vector<std::string>& leaf_hashes,
                                                uint64_t index, uint64_t size) {
  if (size > leaf_hashes.size()) {
    return Status::InvalidArgument("tree size " + std::to_string(size) + " exceeds the " +
                                   std::to_string(leaf_hashes.size()) + " leaves");
  }
  if (index >= size) {
    return Status::InvalidArgument("leaf index " + std::to_string(index) +
                                   " is not below the tree size " + std::to_string(size));
  }
  std::vector<std::string> out;
  Path(leaf_hashes, index, 0, size, &out);
  return out;
}

AllProofs AllInclusionProofs(const std::vector<std::string>& leaf_hashes) {
  AllProofs out;
  if (leaf_hashes.empty()) {
    out.root = EmptyRoot();
    return out;
  }
  out.proofs.resize(leaf_hashes.size());
  size_t depth = 0;  // ceil(log2(size)): the longest path
  while ((uint64_t{1} << depth) < leaf_hashes.size()) ++depth;
  for (std::vector<std::string>& p : out.proofs) p.reserve(depth);
  out.root = AllPaths(leaf_hashes, 0, leaf_hashes.size(), &out.proofs);
  return out;
}

Result<std::vector<std::string>> ConsistencyProof(const std::vector<std::string>& leaf_hashes,
                                                  uint64_t size1, uint64_t size2) {
  if (size2 > leaf_hashes.size()) {
    return Status::InvalidArgument("tree size " + std::to_string(size2) + " exceeds the " +
                                   std::to_string(leaf_hashes.size()) + " leaves");
  }
  if (size1 == 0 || size1 > size2) {
    return Status::InvalidArgument("consistency proof needs 0 < size1 <= size2");
  }
  std::vector<std::string> out;
  SubProof(leaf_hashes, size1, 0, size2, true, &out);
  return out;
}

Result<std::string> RootFromInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                                      const std::vector<std::string>& proof) {
  if (index >= size) {
    return Status::InvalidArgument("leaf index " + std::to_string(index) +
                                   " is not below the tree size " + std::to_string(size));
  }
  if (leaf_hash.size() != kHashSize) return Status::InvalidArgument("leaf hash must be 32 bytes");
  for (const std::string& p : proof) {
    if (p.size() != kHashSize) return Status::InvalidArgument("proof hash is not 32 bytes");
  }
  uint64_t fn = index;
  uint64_t sn = size - 1;
  std::string r(leaf_hash);
  for (const std::string& p : proof) {
    if (sn == 0) return Status::InvalidArgument("inclusion proof is too long");
    if (Lsb(fn) || fn == sn) {
      r = NodeHash(p, r);
      if (!Lsb(fn)) {
        while (!Lsb(fn) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Status::InvalidArgument("inclusion proof is too short");
  return r;
}

Status VerifyInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                       const std::vector<std::string>& proof, std::string_view root) {
  if (root.size() != kHashSize) return Status::InvalidArgument("leaf hash and root must be 32 bytes");
  VV_ASSIGN_OR_RETURN(const std::string r, RootFromInclusion(index, size, leaf_hash, proof));
  if (!ConstantTimeEquals(r, root)) {
    return Status::DataLoss("inclusion proof does not lead to the root");
  }
  return Status::Ok();
}

Status VerifyConsistency(uint64_t size1, uint64_t size2, std::string_view root1,
                         std::string_view root2, const std::vector<std::string>& proof) {
  if (size2 < size1) return Status::InvalidArgument("size2 is smaller than size1");
  if (size1 == 0) return Status::InvalidArgument("consistency from an empty tree is not proved");
  if (size1 == size2) {
    if (!proof.empty()) return Status::InvalidArgument("equal sizes need an empty proof");
    if (!ConstantTimeEquals(root1, root2)) return Status::DataLoss("roots differ at equal sizes");
    return Status::Ok();
  }
  if (root1.size() != kHashSize || root2.size() != kHashSize) {
    return Status::InvalidArgument("roots must be 32 bytes");
  }
  for (const std::string& p : proof) {
    if (p.size() != kHashSize) return Status::InvalidArgument("proof hash is not 32 bytes");
  }
  if (proof.empty()) return Status::InvalidArgument("empty consistency proof");
  std::vector<std::string> path;
  path.reserve(proof.size() + 1);
  if ((size1 & (size1 - 1)) == 0) path.emplace_back(root1);
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while (Lsb(fn)) {
    fn >>= 1;
    sn >>= 1;
  }
  std::string fr = path[0];
  std::string sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const std::string& c = path[i];
    if (sn == 0) return Status::InvalidArgument("consistency proof is too long");
    if (Lsb(fn) || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if (!Lsb(fn)) {
        while (!Lsb(fn) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Status::InvalidArgument("consistency proof is too short");
  if (!ConstantTimeEquals(fr, root1) || !ConstantTimeEquals(sr, root2)) {
    return Status::DataLoss("consistency proof does not match the roots");
  }
  return Status::Ok();
}

void CompactTree::Append(std::string leaf_hash) {
  nodes_.push_back(std::move(leaf_hash));
  // Merge equal-sized perfect subtrees: one merge per trailing 1 bit of the old size.
  for (uint64_t s = size_; Lsb(s); s >>= 1) {
    std::string right = std::move(nodes_.back());
    nodes_.pop_back();
    nodes_.back() = NodeHash(nodes_.back(), right);
  }
  ++size_;
}

std::string CompactTree::Root() const {
  if (nodes_.empty()) return EmptyRoot();
  std::string r = nodes_.back();
  for (size_t i = nodes_.size() - 1; i-- > 0;) r = NodeHash(nodes_[i], r);
  return r;
}

}  // namespace vv::crypto::merkle

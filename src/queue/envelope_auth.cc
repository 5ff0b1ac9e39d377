#include "queue/envelope_auth.h"

#include "common/encoding.h"
#include "crypto/merkle.h"

namespace vv::queue {

namespace {
std::string SigningInputFrom(std::string_view unsigned_bytes) {
  std::string in(kEnvelopeSigningDomain);
  in.append(unsigned_bytes);
  return in;
}
}  // namespace

std::string EnvelopeSigningInput(const Envelope& e) {
  return SigningInputFrom(e.UnsignedCanonicalBytes());
}

namespace {
std::string SigningInput(const Envelope& e, std::optional<std::string_view> unsigned_bytes) {
  return unsigned_bytes ? SigningInputFrom(*unsigned_bytes) : EnvelopeSigningInput(e);
}
}  // namespace

Result<std::unique_ptr<EnvelopeSigner>> EnvelopeSigner::Load(const std::string& path,
                                                             std::string kid) {
  if (kid.empty()) return Status::InvalidArgument("queue signing key id must not be empty");
  VV_ASSIGN_OR_RETURN(auto key,
                      crypto::Ed25519PrivateKey::LoadFile(path, /*check_permissions=*/true));
  return std::make_unique<EnvelopeSigner>(std::move(kid), std::move(key));
}

json::Value EnvelopeSigner::SingleAuth(std::string_view unsigned_bytes) const {
  json::Value auth = json::Value::MakeObject();
  auth.Set("alg", kEnvelopeAuthAlg);
  auth.Set("kid", kid_);
  auth.Set("sig", Base64Encode(key_.Sign(SigningInputFrom(unsigned_bytes))));
  return auth;
}

void EnvelopeSigner::Sign(Envelope* e) const { e->auth = SingleAuth(e->UnsignedCanonicalBytes()); }

namespace {
std::string BatchSigningInput(uint64_t size, std::string_view root) {
  return std::string(kEnvelopeBatchSigningDomain) + std::to_string(size) + "\n" + HexEncode(root);
}

// The "ed25519-merkle-v1" member set: exactly alg, index, kid, path, sig, size.
std::string VerifyBatchAuth(const Envelope& e, const EnvelopeVerifyKeys& keys,
                            VerifiedRoots* roots, std::optional<std::string_view> unsigned_bytes) {
  const json::Value* kid = e.auth.Find("kid");
  const json::Value* sig = e.auth.Find("sig");
  const json::Value* index = e.auth.Find("index");
  const json::Value* size = e.auth.Find("size");
  const json::Value* path = e.auth.Find("path");
  if (kid == nullptr || sig == nullptr || index == nullptr || size == nullptr || path == nullptr ||
      !kid->is_string() || !sig->is_string() || !index->is_int() || !size->is_int() ||
      !path->is_array() || e.auth.as_object().size() != 6)
    return kAuthMalformed;
  const std::optional<int64_t> n = size->as_int64();
  const std::optional<int64_t> i = index->as_int64();
  if (!n || !i || *n < 2 || *n > kEnvelopeBatchMaxSize || *i < 0 || *i >= *n ||
      path->as_array().size() > kEnvelopeBatchMaxPath)
    return kAuthMalformed;
  std::vector<std::string> proof;
  proof.reserve(path->as_array().size());
  for (const json::Value& p : path->as_array()) {
    if (!p.is_string()) return kAuthMalformed;
    auto raw = Base64DecodeStrict(p.as_string());
    if (!raw || raw->size() != crypto::merkle::kHashSize) return kAuthMalformed;
    proof.push_back(std::move(*raw));
  }
  auto key = keys.find(kid->as_string());
  if (key == keys.end()) return kAuthUnknownKid;
  auto raw_sig = Base64DecodeStrict(sig->as_string());
  if (!raw_sig) return kAuthBadSignature;
  const std::string leaf = crypto::merkle::LeafHash(SigningInput(e, unsigned_bytes));
  Result<std::string> root = crypto::merkle::RootFromInclusion(
      static_cast<uint64_t>(*i), static_cast<uint64_t>(*n), leaf, proof);
  if (!root.ok()) return kAuthMalformed;  // a path of the wrong length for (index, size)
  const std::string input = BatchSigningInput(static_cast<uint64_t>(*n), *root);
  // What was verified, exactly: the key's bytes (a kid re-bound to another key misses) and
  // the signed bytes with their signature.
  std::string cache_key;
  if (roots != nullptr) {
    cache_key = kid->as_string() + '\n' + key->second.raw() + input + '\n' + *raw_sig;
    if (roots->Contains(cache_key)) return "";
  }
  if (!key->second.Verify(input, *raw_sig)) return kAuthBadSignature;
  if (roots != nullptr) roots->Insert(std::move(cache_key));
  return "";
}

// SignBatch reads the envelopes only; SignBatchForWire may take their prebuilt bytes.
std::vector<std::string> UnsignedBytesOf(const std::vector<Envelope>& envelopes) {
  std::vector<std::string> out;
  out.reserve(envelopes.size());
  for (const Envelope& e : envelopes) out.push_back(e.UnsignedCanonicalBytes());
  return out;
}

std::vector<std::string> TakeUnsignedBytesOf(std::vector<Envelope>& envelopes) {
  std::vector<std::string> out;
  out.reserve(envelopes.size());
  for (Envelope& e : envelopes) out.push_back(e.TakeUnsignedBytes());
  return out;
}

}  // namespace

void EnvelopeSigner::SignBatch(std::vector<Envelope>* envelopes) const {
  SignGroup(envelopes, UnsignedBytesOf(*envelopes));
}

void EnvelopeSigner::SignBatchForWire(std::vector<Envelope>* envelopes) const {
  std::vector<std::string> wire = SignedWireBytes(TakeUnsignedBytesOf(*envelopes));
  for (size_t i = 0; i < envelopes->size(); ++i) (*envelopes)[i].wire = std::move(wire[i]);
}

PendingPublish MakePendingPublish(Envelope envelope, PublishCallback done, bool sign) {
  PendingPublish p;
  if (sign && envelope.auth.is_null() && envelope.wire.empty())
    p.unsigned_bytes = envelope.TakeUnsignedBytes();
  else
    p.wire_bytes = envelope.TakeWireBytes();
  p.envelope = std::move(envelope);
  p.envelope.trace = json::Value();
  p.envelope.payload = json::Value();
  p.done = std::move(done);
  return p;
}

void SignPendingGroup(const EnvelopeSigner& signer, std::vector<PendingPublish>& group) {
  std::vector<size_t> idx;
  for (size_t i = 0; i < group.size(); ++i)
    if (!group[i].unsigned_bytes.empty()) idx.push_back(i);
  if (idx.empty()) return;
  std::vector<std::string> unsigned_bytes;
  unsigned_bytes.reserve(idx.size());
  for (size_t i : idx) unsigned_bytes.push_back(std::move(group[i].unsigned_bytes));
  std::vector<std::string> wire = signer.SignedWireBytes(unsigned_bytes);
  for (size_t k = 0; k < idx.size(); ++k) {
    PendingPublish& p = group[idx[k]];
    p.wire_bytes = std::move(wire[k]);
    p.unsigned_bytes.clear();
  }
}

namespace {

// `{"auth":` + AUTH_MEMBERS + `},` + the unsigned canonical envelope after its `{`: the keys of
// the canonical signed envelope in order ("auth" sorts first). AUTH_MEMBERS are written by the
// caller in canonical (sorted) order; every value in them is ASCII without escapes (base64,
// decimal integers, the algorithm names) except the kid, which is quoted.
template <class AuthMembers>
std::string WireWithAuth(std::string_view unsigned_bytes, size_t auth_size_hint,
                         const AuthMembers& auth_members) {
  std::string out;
  out.reserve(unsigned_bytes.size() + auth_size_hint + 16);
  out.append("{\"auth\":{");
  auth_members(&out);
  out.append("},");
  out.append(unsigned_bytes.substr(1));
  return out;
}

}  // namespace

std::vector<std::string> EnvelopeSigner::SignedWireBytes(
    const std::vector<std::string>& unsigned_bytes) const {
  std::vector<std::string> out;
  out.reserve(unsigned_bytes.size());
  if (unsigned_bytes.empty()) return out;
  if (unsigned_bytes.size() == 1) {
    const std::string sig = Base64Encode(key_.Sign(SigningInputFrom(unsigned_bytes[0])));
    out.push_back(WireWithAuth(unsigned_bytes[0], 48 + kid_.size() + sig.size(),
                               [&](std::string* o) {
                                 o->append("\"alg\":\"");
                                 o->append(kEnvelopeAuthAlg);
                                 o->append("\",\"kid\":");
                                 json::AppendQuoted(kid_, o);
                                 o->append(",\"sig\":\"");
                                 o->append(sig);
                                 o->push_back('"');
                               }));
    return out;
  }
  std::vector<std::string> leaves;
  leaves.reserve(unsigned_bytes.size());
  for (const std::string& u : unsigned_bytes)
    leaves.push_back(crypto::merkle::LeafHash(SigningInputFrom(u)));
  const crypto::merkle::AllProofs all = crypto::merkle::AllInclusionProofs(leaves);
  const std::string sig =
      Base64Encode(key_.Sign(BatchSigningInput(unsigned_bytes.size(), all.root)));
  const std::string size = std::to_string(unsigned_bytes.size());
  for (size_t i = 0; i < unsigned_bytes.size(); ++i) {
    const std::vector<std::string>& path = all.proofs[i];
    out.push_back(WireWithAuth(
        unsigned_bytes[i], 96 + kid_.size() + sig.size() + path.size() * 47,
        [&](std::string* o) {
          o->append("\"alg\":\"");
          o->append(kEnvelopeBatchAuthAlg);
          o->append("\",\"index\":");
          o->append(std::to_string(i));
          o->append(",\"kid\":");
          json::AppendQuoted(kid_, o);
          o->append(",\"path\":[");
          for (size_t k = 0; k < path.size(); ++k) {
            if (k != 0) o->push_back(',');
            o->push_back('"');
            o->append(Base64Encode(path[k]));
            o->push_back('"');
          }
          o->append("],\"sig\":\"");
          o->append(sig);
          o->append("\",\"size\":");
          o->append(size);
        }));
  }
  return out;
}

void EnvelopeSigner::SignGroup(std::vector<Envelope>* envelopes,
                                  const std::vector<std::string>& unsigned_bytes) const {
  std::vector<Envelope>& es = *envelopes;
  if (es.empty()) return;
  if (es.size() == 1) {
    es[0].auth = SingleAuth(unsigned_bytes[0]);
    return;
  }
  std::vector<std::string> leaves;
  leaves.reserve(es.size());
  for (const std::string& u : unsigned_bytes)
    leaves.push_back(crypto::merkle::LeafHash(SigningInputFrom(u)));
  crypto::merkle::AllProofs all = crypto::merkle::AllInclusionProofs(leaves);
  const std::string sig = Base64Encode(key_.Sign(BatchSigningInput(es.size(), all.root)));
  for (size_t i = 0; i < es.size(); ++i) {
    json::Value path = json::Value::MakeArray();
    for (const std::string& h : all.proofs[i]) path.Push(Base64Encode(h));
    json::Value auth = json::Value::MakeObject();
    auth.Set("alg", kEnvelopeBatchAuthAlg);
    auth.Set("index", static_cast<int64_t>(i));
    auth.Set("kid", kid_);
    auth.Set("path", std::move(path));
    auth.Set("sig", sig);
    auth.Set("size", static_cast<int64_t>(es.size()));
    es[i].auth = std::move(auth);
  }
}

bool VerifiedRoots::Contains(const std::string& key) const {
  MutexLock l(&mu_);
  return keys_.count(key) != 0;
}

void VerifiedRoots::Insert(std::string key) {
  MutexLock l(&mu_);
  if (keys_.size() >= kCapacity) keys_.clear();
  keys_.insert(std::move(key));
}

std::string VerifyEnvelopeAuth(const Envelope& e, const EnvelopeVerifyKeys& keys,
                               VerifiedRoots* roots,
                               std::optional<std::string_view> unsigned_bytes) {
  if (e.auth.is_null()) return kAuthUnsigned;
  if (!e.auth.is_object()) return kAuthMalformed;
  const json::Value* alg = e.auth.Find("alg");
  if (alg == nullptr || !alg->is_string()) return kAuthMalformed;
  if (alg->as_string() == kEnvelopeBatchAuthAlg)
    return VerifyBatchAuth(e, keys, roots, unsigned_bytes);
  const json::Value* kid = e.auth.Find("kid");
  const json::Value* sig = e.auth.Find("sig");
  if (kid == nullptr || sig == nullptr || !kid->is_string() || !sig->is_string() ||
      e.auth.as_object().size() != 3)
    return kAuthMalformed;
  if (alg->as_string() != kEnvelopeAuthAlg) return kAuthUnsupportedAlg;
  auto key = keys.find(kid->as_string());
  if (key == keys.end()) return kAuthUnknownKid;
  auto raw = Base64DecodeStrict(sig->as_string());
  if (!raw || !key->second.Verify(SigningInput(e, unsigned_bytes), *raw)) return kAuthBadSignature;
  return "";
}

}  // namespace vv::queue

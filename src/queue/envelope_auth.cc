#include "queue/envelope_auth.h"

#include "common/encoding.h"

namespace vv::queue {

std::string EnvelopeSigningInput(const Envelope& e) {
  return std::string(kEnvelopeSigningDomain) + e.UnsignedCanonicalBytes();
}

Result<std::unique_ptr<EnvelopeSigner>> EnvelopeSigner::Load(const std::string& path,
                                                             std::string kid) {
  if (kid.empty()) return Status::InvalidArgument("queue signing key id must not be empty");
  VV_ASSIGN_OR_RETURN(auto key,
                      crypto::Ed25519PrivateKey::LoadFile(path, /*check_permissions=*/true));
  return std::make_unique<EnvelopeSigner>(std::move(kid), std::move(key));
}

void EnvelopeSigner::Sign(Envelope* e) const {
  json::Value auth = json::Value::MakeObject();
  auth.Set("alg", kEnvelopeAuthAlg);
  auth.Set("kid", kid_);
  auth.Set("sig", Base64Encode(key_.Sign(EnvelopeSigningInput(*e))));
  e->auth = std::move(auth);
}

std::string VerifyEnvelopeAuth(const Envelope& e, const EnvelopeVerifyKeys& keys) {
  if (e.auth.is_null()) return kAuthUnsigned;
  if (!e.auth.is_object()) return kAuthMalformed;
  const json::Value* alg = e.auth.Find("alg");
  const json::Value* kid = e.auth.Find("kid");
  const json::Value* sig = e.auth.Find("sig");
  if (alg == nullptr || kid == nullptr || sig == nullptr || !alg->is_string() ||
      !kid->is_string() || !sig->is_string() || e.auth.as_object().size() != 3)
    return kAuthMalformed;
  if (alg->as_string() != kEnvelopeAuthAlg) return kAuthUnsupportedAlg;
  auto key = keys.find(kid->as_string());
  if (key == keys.end()) return kAuthUnknownKid;
  auto raw = Base64DecodeStrict(sig->as_string());
  if (!raw || !key->second.Verify(EnvelopeSigningInput(e), *raw)) return kAuthBadSignature;
  return "";
}

}  // namespace vv::queue

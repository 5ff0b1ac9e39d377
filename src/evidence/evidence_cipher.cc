#include "evidence/evidence_cipher.h"

#include "evidence/aead.h"

namespace vv::evidence {

namespace {

std::string RandomBytes(Random& random, size_t n) {
  std::string out(n, '\0');
  random.Fill(reinterpret_cast<uint8_t*>(out.data()), n);
  return out;
}

std::string_view AlgorithmFor(KekScheme scheme) {
  return scheme == KekScheme::kHkdfV1 ? kAlgorithmV1 : kAlgorithmV2Pkcs11;
}

// Wraps `dek` for (tenant, key_id) of `provider` into `env` (wrapped_dek, dek_wrap_nonce).
Status WrapInto(const RootKeyProvider& provider, Random& random, std::string_view tenant_id,
                std::string_view key_id, const std::string& dek, EvidenceEnvelope* env) {
  VV_ASSIGN_OR_RETURN(std::string k, provider.DeriveKek(tenant_id, key_id));
  std::string wrap_nonce = RandomBytes(random, kNonceBytes);
  auto wrapped = AesGcmSeal(k, wrap_nonce, EvidenceAad(tenant_id, key_id), dek);
  Wipe(&k);
  if (!wrapped.ok()) return wrapped.status();
  env->wrapped_dek = std::move(wrapped).value();
  env->dek_wrap_nonce = std::move(wrap_nonce);
  return Status::Ok();
}

}  // namespace

std::string VersionFor(KekScheme scheme, std::string_view key_id, std::string_view data_key_id) {
  if (scheme == KekScheme::kPkcs11HmacV2) return std::string(kEnvelopeV2Pkcs11);
  return std::string(key_id == data_key_id ? kEnvelopeV1 : kEnvelopeV1Rewrapped);
}

Result<EvidenceEnvelope> EvidenceCipher::Encrypt(std::string_view tenant_id,
                                                 std::string_view plaintext) const {
  return EncryptWithKey(tenant_id, provider_.active_key_id(), plaintext);
}

Result<EvidenceEnvelope> EvidenceCipher::EncryptWithKey(std::string_view tenant_id,
                                                        std::string_view key_id,
                                                        std::string_view plaintext) const {
  if (tenant_id.empty()) return Status::InvalidArgument("evidence: empty tenant id");
  if (!provider_.HasKey(key_id))
    return Status::NotFound("unknown evidence root key id '" + std::string(key_id) + "'");
  std::string dek = RandomBytes(random_, kDekBytes);
  std::string data_nonce = RandomBytes(random_, kNonceBytes);
  EvidenceEnvelope env;
  env.version = VersionFor(provider_.scheme(), key_id, key_id);
  env.algorithm = std::string(AlgorithmFor(provider_.scheme()));
  env.key_id = std::string(key_id);
  env.tenant_id = std::string(tenant_id);
  auto ct = AesGcmSeal(dek, data_nonce, EvidenceAad(tenant_id, key_id), plaintext);
  if (!ct.ok()) {
    Wipe(&dek);
    return ct.status();
  }
  env.ciphertext = std::move(ct).value();
  env.data_nonce = std::move(data_nonce);
  Status s = WrapInto(provider_, random_, tenant_id, key_id, dek, &env);
  Wipe(&dek);
  if (!s.ok()) return s;
  return env;
}

Result<std::string> EvidenceCipher::UnwrapDek(std::string_view tenant_id,
                                              const EvidenceEnvelope& envelope) const {
  VV_ASSIGN_OR_RETURN(auto scheme, SchemeOfVersion(envelope.version));
  if (envelope.tenant_id != tenant_id)
    return Status::InvalidArgument(std::string(kErrTenantMismatch));
  if (scheme != provider_.scheme())
    return Status::InvalidArgument(std::string(kErrUnsupportedVersion) + " '" + envelope.version +
                                   "' for root key provider '" + std::string(provider_.kind()) +
                                   "'");
  if (!provider_.HasKey(envelope.key_id))
    return Status::NotFound("unknown evidence root key id '" + envelope.key_id + "'");
  VV_ASSIGN_OR_RETURN(std::string k, provider_.DeriveKek(tenant_id, envelope.key_id));
  auto dek = AesGcmOpen(k, envelope.dek_wrap_nonce, EvidenceAad(tenant_id, envelope.key_id),
                        envelope.wrapped_dek);
  Wipe(&k);
  if (!dek.ok()) {
    if (dek.status().code() == StatusCode::kDataLoss)
      return Status::DataLoss("evidence envelope: DEK unwrap failed (wrong key or tampered)");
    return dek.status();
  }
  if (dek->size() != kDekBytes) return Status::DataLoss("evidence envelope: bad DEK size");
  return dek;
}

Result<std::string> EvidenceCipher::Decrypt(std::string_view tenant_id,
                                            const EvidenceEnvelope& envelope) const {
  VV_ASSIGN_OR_RETURN(std::string d, UnwrapDek(tenant_id, envelope));
  auto pt = AesGcmOpen(d, envelope.data_nonce, EvidenceAad(tenant_id, envelope.DataKeyId()),
                       envelope.ciphertext);
  Wipe(&d);
  if (!pt.ok()) {
    if (pt.status().code() == StatusCode::kDataLoss)
      return Status::DataLoss("evidence envelope: ciphertext authentication failed");
    return pt.status();
  }
  return pt;
}

Result<EvidenceEnvelope> EvidenceCipher::Rewrap(std::string_view tenant_id,
                                                const EvidenceEnvelope& envelope,
                                                const RootKeyProvider& target,
                                                std::string_view new_key_id) const {
  if (!target.HasKey(new_key_id))
    return Status::NotFound("unknown evidence root key id '" + std::string(new_key_id) + "'");
  VV_ASSIGN_OR_RETURN(std::string d, UnwrapDek(tenant_id, envelope));
  EvidenceEnvelope out = envelope;
  std::string data_key_id = envelope.DataKeyId();
  out.key_id = std::string(new_key_id);
  out.data_key_id = data_key_id == new_key_id ? std::string() : data_key_id;
  out.version = VersionFor(target.scheme(), new_key_id, data_key_id);
  out.algorithm = std::string(AlgorithmFor(target.scheme()));
  Status s = WrapInto(target, random_, tenant_id, new_key_id, d, &out);
  Wipe(&d);
  if (!s.ok()) return s;
  return out;
}

}  // namespace vv::evidence

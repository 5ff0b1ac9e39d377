#include "audit/pkcs11_seal_signer.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace vv::audit {

namespace {

// DER of the OID 1.3.101.112 (id-Ed25519, RFC 8410): the CKA_EC_PARAMS of an Ed25519 key.
constexpr unsigned char kEd25519Params[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
constexpr std::string_view kProbe = "vectorvue audit seal signer self-test\n";

// CKA_EC_POINT of an Ed25519 public key: the DER OCTET STRING of the 32 raw bytes (PKCS#11
// 3.0), or the 32 bytes themselves (some tokens).
Result<crypto::Ed25519PublicKey> DecodeEcPoint(const std::string& point) {
  if (point.size() == 34 && static_cast<unsigned char>(point[0]) == 0x04 && point[1] == 0x20)
    return crypto::Ed25519PublicKey::FromRaw(point.substr(2));
  if (point.size() == 32) return crypto::Ed25519PublicKey::FromRaw(point);
  return Status::InvalidArgument("pkcs11: CKA_EC_POINT is not an Ed25519 point (" +
                                 std::to_string(point.size()) + " bytes)");
}

}  // namespace

Result<crypto::Ed25519PublicKey> ReadPkcs11PublicKey(const pkcs11::Token& token,
                                                    const std::string& key_label) {
  Status inner;
  std::string point;
  auto run = token.Run([&](const pkcs11::Session& s) {
    inner = Status::Ok();
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = pkcs11::Token::FindExisting(s, CKO_PUBLIC_KEY, key_label, "public key", &h, &inner);
    if (rv != CKR_OK || !inner.ok()) return rv;
    CK_KEY_TYPE type = 0;
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &type, sizeof(type)};
    rv = s.f->C_GetAttributeValue(s.handle, h, &a, 1);
    if (rv != CKR_OK) return rv;
    if (type != CKK_EC_EDWARDS) {
      inner = Status::InvalidArgument("pkcs11: key '" + key_label + "' is not an Ed25519 key");
      return static_cast<CK_RV>(CKR_OK);
    }
    auto value = pkcs11::Token::GetAttribute(s, h, CKA_EC_POINT, &rv);
    if (!value.has_value()) return rv == CKR_OK ? CKR_GENERAL_ERROR : rv;
    point = std::move(*value);
    return static_cast<CK_RV>(CKR_OK);
  });
  VV_RETURN_IF_ERROR(pkcs11::RunStatus(run, inner, "reading the seal public key"));
  return DecodeEcPoint(point);
}

Pkcs11SealSigner::Pkcs11SealSigner(std::string key_name, crypto::Ed25519PublicKey public_key,
                                   std::unique_ptr<pkcs11::Token> token, std::string key_label)
    : SealSigner(std::move(key_name), std::move(public_key)),
      token_(std::move(token)),
      key_label_(std::move(key_label)) {}

Result<std::unique_ptr<Pkcs11SealSigner>> Pkcs11SealSigner::Open(
    std::string key_name, std::unique_ptr<pkcs11::Token> token, std::string key_label) {
  if (token == nullptr) return Status::InvalidArgument("pkcs11 seal signer: no token");
  if (key_label.empty())
    return Status::InvalidArgument("pkcs11 seal signer: the key label must be configured");
  VV_ASSIGN_OR_RETURN(auto pub, ReadPkcs11PublicKey(*token, key_label));
  std::unique_ptr<Pkcs11SealSigner> signer(new Pkcs11SealSigner(
      std::move(key_name), std::move(pub), std::move(token), std::move(key_label)));
  VV_ASSIGN_OR_RETURN(auto probe, signer->Sign(kProbe));
  if (!signer->public_key().Verify(kProbe, probe))
    return Status::InvalidArgument("pkcs11 seal signer: the private and public keys labelled '" +
                                   signer->key_label_ +
                                   "' do not form a pair (probe signature does not verify)");
  return signer;
}

Result<std::string> Pkcs11SealSigner::Sign(std::string_view body) const {
  Status inner;
  std::string sig(64, '\0');
  auto run = token_->Run([&](const pkcs11::Session& s) {
    inner = Status::Ok();
    CK_MECHANISM mech = {CKM_EDDSA, nullptr, 0};  // no parameters: pure Ed25519
    // The key's handle is looked up once and kept (a lookup costs as much as the signature on
    // SoftHSM); a handle the token no longer knows (object re-created, token swapped) is
    // looked up again.
    CK_RV rv = key_handle_ == CK_INVALID_HANDLE
                   ? static_cast<CK_RV>(CKR_OBJECT_HANDLE_INVALID)
                   : s.f->C_SignInit(s.handle, &mech, key_handle_);
    if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID) {
      key_handle_ = CK_INVALID_HANDLE;
      CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
      rv = pkcs11::Token::FindExisting(s, CKO_PRIVATE_KEY, key_label_, "private key", &h, &inner);
      if (rv != CKR_OK || !inner.ok()) return rv;
      rv = s.f->C_SignInit(s.handle, &mech, h);
      if (rv == CKR_OK) key_handle_ = h;
    }
    if (rv != CKR_OK) return rv;
    std::string msg(body);
    CK_ULONG len = sig.size();
    rv = s.f->C_Sign(s.handle, reinterpret_cast<CK_BYTE_PTR>(msg.data()), msg.size(),
                     reinterpret_cast<CK_BYTE_PTR>(sig.data()), &len);
    if (rv == CKR_OK && len != 64)
      inner = Status::Internal("pkcs11: Ed25519 signature of " + std::to_string(len) + " bytes");
    return rv;
  });
  Status s = pkcs11::RunStatus(run, inner, "seal signature (C_SignInit/C_Sign)");
  if (!s.ok())
    return Status(s.code() == StatusCode::kNotFound ? StatusCode::kUnavailable : s.code(),
                  "audit seal signing on token '" + token_->token_label() + "': " + s.message());
  return sig;
}

Result<bool> Pkcs11SealSigner::KeyIsNonExtractable() const {
  return token_->KeyIsNonExtractable(CKO_PRIVATE_KEY, key_label_, "private key");
}

Result<crypto::Ed25519PublicKey> Pkcs11SealSigner::GenerateKeyPair(const pkcs11::Token& token,
                                                                   const std::string& key_label) {
  if (key_label.empty()) return Status::InvalidArgument("pkcs11: empty key label");
  Status inner;
  auto run = token.Run([&](const pkcs11::Session& s) {
    inner = Status::Ok();
    for (CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY}) {
      CK_RV rv = CKR_OK;
      auto existing = pkcs11::Token::FindObject(s, cls, key_label, &rv);
      if (!existing.ok()) {
        if (rv == CKR_OK) inner = existing.status();
        return rv;
      }
      if (*existing != CK_INVALID_HANDLE) {
        inner = Status::AlreadyExists("pkcs11: a key labelled '" + key_label + "' exists");
        return static_cast<CK_RV>(CKR_OK);
      }
    }
    CK_MECHANISM mech = {CKM_EC_EDWARDS_KEY_PAIR_GEN, nullptr, 0};
    CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY, priv_cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE type = CKK_EC_EDWARDS;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    std::string label = key_label;
    unsigned char params[sizeof(kEd25519Params)];
    std::copy(std::begin(kEd25519Params), std::end(kEd25519Params), params);
    CK_ATTRIBUTE pub[] = {
        {CKA_CLASS, &pub_cls, sizeof(pub_cls)},  {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &yes, sizeof(yes)},          {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_VERIFY, &yes, sizeof(yes)},         {CKA_ENCRYPT, &no, sizeof(no)},
        {CKA_WRAP, &no, sizeof(no)},             {CKA_EC_PARAMS, params, sizeof(params)},
        {CKA_LABEL, label.data(), label.size()},
    };
    CK_ATTRIBUTE priv[] = {
        {CKA_CLASS, &priv_cls, sizeof(priv_cls)}, {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &yes, sizeof(yes)},           {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},       {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},            {CKA_DECRYPT, &no, sizeof(no)},
        {CKA_UNWRAP, &no, sizeof(no)},            {CKA_DERIVE, &no, sizeof(no)},
        {CKA_LABEL, label.data(), label.size()},
    };
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
    return s.f->C_GenerateKeyPair(s.handle, &mech, pub, sizeof(pub) / sizeof(pub[0]), priv,
                                  sizeof(priv) / sizeof(priv[0]), &hpub, &hpriv);
  });
  VV_RETURN_IF_ERROR(pkcs11::RunStatus(run, inner, "C_GenerateKeyPair (Ed25519)"));
  return ReadPkcs11PublicKey(token, key_label);
}

Result<std::shared_ptr<const SealSigner>> OpenSealSigner(const SealKeyOptions& options,
                                                        const std::string& key_name,
                                                        const EnvLookup& env) {
  if (!options.key_path.empty() && !options.pkcs11_token_label.empty())
    return Status::InvalidArgument(
        "the audit seal key is configured twice: set either a key file or a PKCS#11 token");
  if (!options.key_path.empty()) {
    VV_ASSIGN_OR_RETURN(auto key, LoadSealKey(options.key_path));
    return std::shared_ptr<const SealSigner>(
        std::make_shared<CheckpointSigner>(key_name, std::move(key)));
  }
  if (options.pkcs11_token_label.empty()) return std::shared_ptr<const SealSigner>();
  if (options.pkcs11_key_label.empty())
    return Status::InvalidArgument("the PKCS#11 audit seal key label must be configured");
  VV_ASSIGN_OR_RETURN(auto pin, pkcs11::ResolvePin(options.pkcs11_pin_file, options.pkcs11_pin_env,
                                                   env, "audit seal PKCS#11 token"));
  pkcs11::TokenOptions to;
  to.module_path = options.pkcs11_module;
  to.token_label = options.pkcs11_token_label;
  to.pin = std::move(pin);
  auto token = pkcs11::Token::Open(to);
  crypto::Wipe(&to.pin);
  if (!token.ok()) return token.status();
  VV_ASSIGN_OR_RETURN(auto signer, Pkcs11SealSigner::Open(key_name, std::move(token).value(),
                                                          options.pkcs11_key_label));
  return std::shared_ptr<const SealSigner>(std::move(signer));
}

}  // namespace vv::audit

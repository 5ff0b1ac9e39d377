#include "evidence/pkcs11_root_key_provider.h"

#include <string_view>

#include "evidence/aead.h"

namespace vv::evidence {

namespace {

std::string KekLabel(std::string_view tenant_id) {
  std::string m(kKekLabelV2);
  m.push_back('\0');
  m.append(tenant_id);
  return m;
}

}  // namespace

Pkcs11RootKeyProvider::Pkcs11RootKeyProvider(Pkcs11Options options,
                                             std::unique_ptr<pkcs11::Token> token)
    : options_(std::move(options)), token_(std::move(token)) {}

Pkcs11RootKeyProvider::~Pkcs11RootKeyProvider() = default;

Result<std::unique_ptr<Pkcs11RootKeyProvider>> Pkcs11RootKeyProvider::Open(
    const Pkcs11Options& options) {
  if (options.token_label.empty())
    return Status::InvalidArgument("pkcs11: token_label must be configured");
  if (options.active_key_id.empty())
    return Status::InvalidArgument("pkcs11: the active root key id must be configured");
  pkcs11::TokenOptions to;
  to.module_path = options.module_path;
  to.token_label = options.token_label;
  to.pin = options.pin;
  auto token = pkcs11::Token::Open(to);
  crypto::Wipe(&to.pin);
  if (!token.ok()) return token.status();
  Pkcs11Options kept = options;
  crypto::Wipe(&kept.pin);  // the Token keeps the only copy
  std::unique_ptr<Pkcs11RootKeyProvider> p(
      new Pkcs11RootKeyProvider(std::move(kept), std::move(token).value()));
  if (options.require_active_key && !p->HasKey(options.active_key_id))
    return Status::NotFound("pkcs11: root key '" + options.active_key_id + "' not in token '" +
                            options.token_label + "'");
  return p;
}

Result<CK_OBJECT_HANDLE> Pkcs11RootKeyProvider::FindKey(const pkcs11::Session& s,
                                                        std::string_view key_id, CK_RV* rv) {
  return pkcs11::Token::FindObject(s, CKO_SECRET_KEY, key_id, rv);
}

bool Pkcs11RootKeyProvider::HasKey(std::string_view key_id) const {
  bool found = false;
  auto run = token_->Run([&](const pkcs11::Session& s) {
    CK_RV rv = CKR_OK;
    auto h = FindKey(s, key_id, &rv);
    found = h.ok() && *h != CK_INVALID_HANDLE;
    return rv;
  });
  return run.ok() && *run == CKR_OK && found;
}

std::vector<std::string> Pkcs11RootKeyProvider::key_ids() const {
  std::vector<std::string> out;
  token_->Run([&](const pkcs11::Session& s) {
    out.clear();
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    CK_RV rv = s.f->C_FindObjectsInit(s.handle, tmpl, 1);
    if (rv != CKR_OK) return rv;
    std::vector<CK_OBJECT_HANDLE> handles;
    for (;;) {
      CK_OBJECT_HANDLE h[16];
      CK_ULONG n = 0;
      rv = s.f->C_FindObjects(s.handle, h, 16, &n);
      if (rv != CKR_OK || n == 0) break;
      handles.insert(handles.end(), h, h + n);
    }
    s.f->C_FindObjectsFinal(s.handle);
    if (rv != CKR_OK) return rv;
    for (CK_OBJECT_HANDLE h : handles) {
      CK_RV arv = CKR_OK;
      if (auto label = pkcs11::Token::GetAttribute(s, h, CKA_LABEL, &arv)) out.push_back(*label);
    }
    return static_cast<CK_RV>(CKR_OK);
  });
  return out;
}

Status Pkcs11RootKeyProvider::GenerateRootKey(const std::string& key_id) {
  if (key_id.empty()) return Status::InvalidArgument("pkcs11: empty key id");
  Status inner;
  auto run = token_->Run([&](const pkcs11::Session& s) {
    inner = Status::Ok();
    CK_RV rv = CKR_OK;
    auto existing = FindKey(s, key_id, &rv);
    if (!existing.ok()) {
      if (rv == CKR_OK) inner = existing.status();
      return rv;
    }
    if (*existing != CK_INVALID_HANDLE) {
      inner = Status::AlreadyExists("pkcs11: key '" + key_id + "' exists");
      return static_cast<CK_RV>(CKR_OK);
    }
    CK_MECHANISM mech = {CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    std::string label = key_id;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},          {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_VALUE_LEN, &len, sizeof(len)},      {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},      {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_VERIFY, &yes, sizeof(yes)},         {CKA_ENCRYPT, &no, sizeof(no)},
        {CKA_DECRYPT, &no, sizeof(no)},          {CKA_WRAP, &no, sizeof(no)},
        {CKA_UNWRAP, &no, sizeof(no)},           {CKA_DERIVE, &no, sizeof(no)},
        {CKA_LABEL, label.data(), label.size()},
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    return s.f->C_GenerateKey(s.handle, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h);
  });
  return pkcs11::RunStatus(run, inner, "C_GenerateKey");
}

Result<bool> Pkcs11RootKeyProvider::KeyIsNonExtractable(const std::string& key_id) const {
  return token_->KeyIsNonExtractable(CKO_SECRET_KEY, key_id, "root key");
}

Result<std::string> Pkcs11RootKeyProvider::DeriveKek(std::string_view tenant_id,
                                                     std::string_view key_id) const {
  Status inner;
  std::string out(32, '\0');
  auto run = token_->Run([&](const pkcs11::Session& s) {
    inner = Status::Ok();
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = pkcs11::Token::FindExisting(s, CKO_SECRET_KEY, key_id, "root key", &h, &inner);
    if (rv != CKR_OK || !inner.ok()) {
      if (inner.code() == StatusCode::kNotFound)
        inner = Status::NotFound("unknown evidence root key id '" + std::string(key_id) + "'");
      return rv;
    }
    CK_MECHANISM mech = {CKM_SHA256_HMAC, nullptr, 0};
    rv = s.f->C_SignInit(s.handle, &mech, h);
    if (rv != CKR_OK) return rv;
    std::string msg = KekLabel(tenant_id);
    CK_ULONG out_len = out.size();
    rv = s.f->C_Sign(s.handle, reinterpret_cast<CK_BYTE_PTR>(msg.data()), msg.size(),
                     reinterpret_cast<CK_BYTE_PTR>(out.data()), &out_len);
    if (rv == CKR_OK && out_len != 32) inner = Status::Internal("pkcs11: unexpected HMAC length");
    return rv;
  });
  VV_RETURN_IF_ERROR(pkcs11::RunStatus(run, inner, "KEK derivation (C_SignInit/C_Sign)"));
  return out;
}

}  // namespace vv::evidence

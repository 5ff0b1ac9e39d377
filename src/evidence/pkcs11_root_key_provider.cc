#include "evidence/pkcs11_root_key_provider.h"

#include <dlfcn.h>
#include <p11-kit/pkcs11.h>

#include <cstring>

#include "evidence/aead.h"

namespace vv::evidence {

struct Pkcs11RootKeyProvider::Module {
  void* dl = nullptr;
  CK_FUNCTION_LIST_PTR f = nullptr;
  bool initialized_by_us = false;
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  bool logged_in = false;

  ~Module() {
    if (f != nullptr) {
      if (logged_in) f->C_Logout(session);
      if (session != CK_INVALID_HANDLE) f->C_CloseSession(session);
      if (initialized_by_us) f->C_Finalize(nullptr);
    }
    if (dl != nullptr) dlclose(dl);
  }
};

namespace {

std::string Rv(CK_RV rv) {
  char buf[32];
  snprintf(buf, sizeof(buf), "CKR 0x%lx", static_cast<unsigned long>(rv));
  return buf;
}

std::string TrimPadded(const unsigned char* p, size_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

std::string KekLabel(std::string_view tenant_id) {
  std::string m(kKekLabelV2);
  m.push_back('\0');
  m.append(tenant_id);
  return m;
}

}  // namespace

Pkcs11RootKeyProvider::Pkcs11RootKeyProvider(Pkcs11Options options)
    : options_(std::move(options)), module_(std::make_unique<Module>()) {}

Pkcs11RootKeyProvider::~Pkcs11RootKeyProvider() = default;

Result<std::unique_ptr<Pkcs11RootKeyProvider>> Pkcs11RootKeyProvider::Open(
    const Pkcs11Options& options) {
  if (options.token_label.empty())
    return Status::InvalidArgument("pkcs11: token_label must be configured");
  if (options.active_key_id.empty())
    return Status::InvalidArgument("pkcs11: the active root key id must be configured");
  std::unique_ptr<Pkcs11RootKeyProvider> p(new Pkcs11RootKeyProvider(options));
  Module& m = *p->module_;
  m.dl = dlopen(options.module_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (m.dl == nullptr) {
    const char* err = dlerror();
    return Status::Unavailable("pkcs11: cannot load module " + options.module_path + ": " +
                               (err ? err : "?"));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(m.dl, "C_GetFunctionList"));
  if (get_list == nullptr || get_list(&m.f) != CKR_OK || m.f == nullptr)
    return Status::Unavailable("pkcs11: C_GetFunctionList failed in " + options.module_path);
  CK_C_INITIALIZE_ARGS init_args;
  std::memset(&init_args, 0, sizeof(init_args));
  init_args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = m.f->C_Initialize(&init_args);
  if (rv == CKR_OK) {
    m.initialized_by_us = true;
  } else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    return Status::Unavailable("pkcs11: C_Initialize failed: " + Rv(rv));
  }
  CK_ULONG count = 0;
  rv = m.f->C_GetSlotList(CK_TRUE, nullptr, &count);
  if (rv != CKR_OK) return Status::Unavailable("pkcs11: C_GetSlotList failed: " + Rv(rv));
  std::vector<CK_SLOT_ID> slots(count);
  if (count > 0) {
    rv = m.f->C_GetSlotList(CK_TRUE, slots.data(), &count);
    if (rv != CKR_OK) return Status::Unavailable("pkcs11: C_GetSlotList failed: " + Rv(rv));
    slots.resize(count);
  }
  bool found = false;
  CK_SLOT_ID slot = 0;
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO info;
    if (m.f->C_GetTokenInfo(s, &info) != CKR_OK) continue;
    if (TrimPadded(info.label, sizeof(info.label)) == options.token_label) {
      slot = s;
      found = true;
      break;
    }
  }
  if (!found) return Status::Unavailable("pkcs11: no token labelled '" + options.token_label + "'");
  rv = m.f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &m.session);
  if (rv != CKR_OK) return Status::Unavailable("pkcs11: C_OpenSession failed: " + Rv(rv));
  std::string pin = options.pin;
  rv = m.f->C_Login(m.session, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()), pin.size());
  Wipe(&pin);
  if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE)
    return Status::PermissionDenied("pkcs11: login refused (wrong PIN)");
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
    return Status::Unavailable("pkcs11: C_Login failed: " + Rv(rv));
  m.logged_in = rv == CKR_OK;
  if (options.require_active_key && !p->HasKey(options.active_key_id))
    return Status::NotFound("pkcs11: root key '" + options.active_key_id + "' not in token '" +
                            options.token_label + "'");
  return p;
}

Result<unsigned long> Pkcs11RootKeyProvider::FindKeyLocked(std::string_view key_id) const {
  CK_FUNCTION_LIST_PTR f = module_->f;
  CK_SESSION_HANDLE s = module_->session;
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  std::string label(key_id);
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &cls, sizeof(cls)},
      {CKA_LABEL, label.data(), label.size()},
  };
  CK_RV rv = f->C_FindObjectsInit(s, tmpl, 2);
  if (rv != CKR_OK) return Status::Unavailable("pkcs11: C_FindObjectsInit failed: " + Rv(rv));
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  CK_ULONG n = 0;
  rv = f->C_FindObjects(s, &h, 1, &n);
  f->C_FindObjectsFinal(s);
  if (rv != CKR_OK) return Status::Unavailable("pkcs11: C_FindObjects failed: " + Rv(rv));
  return n == 1 ? static_cast<unsigned long>(h) : 0UL;
}

bool Pkcs11RootKeyProvider::HasKey(std::string_view key_id) const {
  std::lock_guard<std::mutex> l(mu_);
  auto h = FindKeyLocked(key_id);
  return h.ok() && *h != 0;
}

std::vector<std::string> Pkcs11RootKeyProvider::key_ids() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  CK_FUNCTION_LIST_PTR f = module_->f;
  CK_SESSION_HANDLE s = module_->session;
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}};
  if (f->C_FindObjectsInit(s, tmpl, 1) != CKR_OK) return out;
  std::vector<CK_OBJECT_HANDLE> handles;
  for (;;) {
    CK_OBJECT_HANDLE h[16];
    CK_ULONG n = 0;
    if (f->C_FindObjects(s, h, 16, &n) != CKR_OK || n == 0) break;
    handles.insert(handles.end(), h, h + n);
  }
  f->C_FindObjectsFinal(s);
  for (CK_OBJECT_HANDLE h : handles) {
    CK_ATTRIBUTE a = {CKA_LABEL, nullptr, 0};
    if (f->C_GetAttributeValue(s, h, &a, 1) != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
      continue;
    std::string label(a.ulValueLen, '\0');
    a.pValue = label.data();
    if (f->C_GetAttributeValue(s, h, &a, 1) == CKR_OK) out.push_back(label);
  }
  return out;
}

Status Pkcs11RootKeyProvider::GenerateRootKey(const std::string& key_id) {
  if (key_id.empty()) return Status::InvalidArgument("pkcs11: empty key id");
  std::lock_guard<std::mutex> l(mu_);
  auto existing = FindKeyLocked(key_id);
  if (!existing.ok()) return existing.status();
  if (*existing != 0) return Status::AlreadyExists("pkcs11: key '" + key_id + "' exists");
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
  CK_RV rv =
      module_->f->C_GenerateKey(module_->session, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h);
  if (rv != CKR_OK) return Status::Unavailable("pkcs11: C_GenerateKey failed: " + Rv(rv));
  return Status::Ok();
}

Result<bool> Pkcs11RootKeyProvider::KeyIsNonExtractable(const std::string& key_id) const {
  std::lock_guard<std::mutex> l(mu_);
  auto h = FindKeyLocked(key_id);
  if (!h.ok()) return h.status();
  if (*h == 0) return Status::NotFound("pkcs11: key '" + key_id + "' not found");
  CK_BBOOL extractable = CK_TRUE, sensitive = CK_FALSE;
  CK_ATTRIBUTE flags[] = {{CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
                          {CKA_SENSITIVE, &sensitive, sizeof(sensitive)}};
  if (module_->f->C_GetAttributeValue(module_->session, *h, flags, 2) != CKR_OK)
    return Status::Unavailable("pkcs11: cannot read key attributes");
  unsigned char buf[64];
  CK_ATTRIBUTE value = {CKA_VALUE, buf, sizeof(buf)};
  CK_RV rv = module_->f->C_GetAttributeValue(module_->session, *h, &value, 1);
  bool value_hidden =
      rv == CKR_ATTRIBUTE_SENSITIVE || value.ulValueLen == CK_UNAVAILABLE_INFORMATION;
  return value_hidden && extractable == CK_FALSE && sensitive == CK_TRUE;
}

Result<std::string> Pkcs11RootKeyProvider::DeriveKek(std::string_view tenant_id,
                                                     std::string_view key_id) const {
  std::lock_guard<std::mutex> l(mu_);
  auto h = FindKeyLocked(key_id);
  if (!h.ok()) return h.status();
  if (*h == 0)
    return Status::NotFound("unknown evidence root key id '" + std::string(key_id) + "'");
  CK_MECHANISM mech = {CKM_SHA256_HMAC, nullptr, 0};
  CK_RV rv = module_->f->C_SignInit(module_->session, &mech, *h);
  if (rv != CKR_OK) return Status::Unavailable("pkcs11: C_SignInit failed: " + Rv(rv));
  std::string msg = KekLabel(tenant_id);
  std::string out(32, '\0');
  CK_ULONG out_len = out.size();
  rv = module_->f->C_Sign(module_->session, reinterpret_cast<CK_BYTE_PTR>(msg.data()), msg.size(),
                          reinterpret_cast<CK_BYTE_PTR>(out.data()), &out_len);
  if (rv != CKR_OK) return Status::Unavailable("pkcs11: C_Sign failed: " + Rv(rv));
  if (out_len != 32) return Status::Internal("pkcs11: unexpected HMAC length");
  return out;
}

}  // namespace vv::evidence

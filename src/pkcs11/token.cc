#include "pkcs11/token.h"

#include <dlfcn.h>
#if defined(__SANITIZE_ADDRESS__)
#define VV_PKCS11_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VV_PKCS11_LSAN 1
#endif
#endif
#if defined(VV_PKCS11_LSAN)
#include <sanitizer/lsan_interface.h>
#endif

#include <cstdio>
#include <cstring>
#include <vector>

#include "common/encoding.h"
#include "crypto/crypto.h"

namespace vv::pkcs11 {

namespace {

// Marks the allocations made while a PKCS#11 module runs as not leak-checked (ASan builds
// only; nothing in other builds). SoftHSM2 2.6.1 (Debian 12) leaks the ASN1_OBJECT it decodes
// from CKA_EC_PARAMS on every EdDSA C_SignInit and key generation (OSSL::byteString2oid, fixed
// upstream in SoftHSMv2 PRs #858 and #863); its frames are not reachable by the sanitizer's
// fast unwinder (libcrypto has no frame pointers), so a suppression by module name cannot
// match. Scoping the exemption to module calls keeps every allocation of ours checked.
class ModuleCallScope {
 public:
#if defined(VV_PKCS11_LSAN)
  ModuleCallScope() { __lsan_disable(); }
  ~ModuleCallScope() { __lsan_enable(); }
#else
  ModuleCallScope() {}   // user-provided: a scope object, not an unused variable
  ~ModuleCallScope() {}  // NOLINT(modernize-use-equals-default)
#endif
  ModuleCallScope(const ModuleCallScope&) = delete;
  ModuleCallScope& operator=(const ModuleCallScope&) = delete;
};

}  // namespace

struct Token::Module {
  void* dl = nullptr;
  CK_FUNCTION_LIST_PTR f = nullptr;
  bool initialized_by_us = false;
  CK_SLOT_ID slot = 0;
  // Mutable through the const Run(): used only under Token::mu_ (module_ is PT_GUARDED_BY it).
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  bool logged_in = false;
  int sessions_opened = 0;

  void CloseSession() {
    if (f == nullptr || session == CK_INVALID_HANDLE) return;
    if (logged_in) f->C_Logout(session);
    f->C_CloseSession(session);
    session = CK_INVALID_HANDLE;
    logged_in = false;
  }

  ~Module() {
    ModuleCallScope scope;
    CloseSession();
    if (f != nullptr && initialized_by_us) f->C_Finalize(nullptr);
    if (dl != nullptr) dlclose(dl);
  }
};

std::string RvText(CK_RV rv) {
  const char* name = nullptr;
  switch (rv) {
    case CKR_OK: name = "CKR_OK"; break;
    case CKR_GENERAL_ERROR: name = "CKR_GENERAL_ERROR"; break;
    case CKR_FUNCTION_FAILED: name = "CKR_FUNCTION_FAILED"; break;
    case CKR_ARGUMENTS_BAD: name = "CKR_ARGUMENTS_BAD"; break;
    case CKR_ATTRIBUTE_SENSITIVE: name = "CKR_ATTRIBUTE_SENSITIVE"; break;
    case CKR_ATTRIBUTE_TYPE_INVALID: name = "CKR_ATTRIBUTE_TYPE_INVALID"; break;
    case CKR_ATTRIBUTE_VALUE_INVALID: name = "CKR_ATTRIBUTE_VALUE_INVALID"; break;
    case CKR_DEVICE_ERROR: name = "CKR_DEVICE_ERROR"; break;
    case CKR_DEVICE_REMOVED: name = "CKR_DEVICE_REMOVED"; break;
    case CKR_KEY_HANDLE_INVALID: name = "CKR_KEY_HANDLE_INVALID"; break;
    case CKR_KEY_TYPE_INCONSISTENT: name = "CKR_KEY_TYPE_INCONSISTENT"; break;
    case CKR_KEY_FUNCTION_NOT_PERMITTED: name = "CKR_KEY_FUNCTION_NOT_PERMITTED"; break;
    case CKR_MECHANISM_INVALID: name = "CKR_MECHANISM_INVALID"; break;
    case CKR_OBJECT_HANDLE_INVALID: name = "CKR_OBJECT_HANDLE_INVALID"; break;
    case CKR_PIN_INCORRECT: name = "CKR_PIN_INCORRECT"; break;
    case CKR_PIN_INVALID: name = "CKR_PIN_INVALID"; break;
    case CKR_PIN_LEN_RANGE: name = "CKR_PIN_LEN_RANGE"; break;
    case CKR_PIN_LOCKED: name = "CKR_PIN_LOCKED"; break;
    case CKR_SESSION_CLOSED: name = "CKR_SESSION_CLOSED"; break;
    case CKR_SESSION_HANDLE_INVALID: name = "CKR_SESSION_HANDLE_INVALID"; break;
    case CKR_TEMPLATE_INCOMPLETE: name = "CKR_TEMPLATE_INCOMPLETE"; break;
    case CKR_TEMPLATE_INCONSISTENT: name = "CKR_TEMPLATE_INCONSISTENT"; break;
    case CKR_TOKEN_NOT_PRESENT: name = "CKR_TOKEN_NOT_PRESENT"; break;
    case CKR_TOKEN_NOT_RECOGNIZED: name = "CKR_TOKEN_NOT_RECOGNIZED"; break;
    case CKR_USER_NOT_LOGGED_IN: name = "CKR_USER_NOT_LOGGED_IN"; break;
    case CKR_CRYPTOKI_NOT_INITIALIZED: name = "CKR_CRYPTOKI_NOT_INITIALIZED"; break;
    case CKR_CURVE_NOT_SUPPORTED: name = "CKR_CURVE_NOT_SUPPORTED"; break;
    case CKR_DOMAIN_PARAMS_INVALID: name = "CKR_DOMAIN_PARAMS_INVALID"; break;
    default: break;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s (0x%lx)", name != nullptr ? name : "CKR",
                static_cast<unsigned long>(rv));
  return buf;
}

bool IsSessionLost(CK_RV rv) {
  return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
         rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_DEVICE_REMOVED ||
         rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_ERROR;
}

namespace {

std::string TrimPadded(const unsigned char* p, size_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

}  // namespace

Token::Token(TokenOptions options)
    : options_(std::move(options)), module_(std::make_unique<Module>()) {}

Token::~Token() {
  module_.reset();
  crypto::Wipe(&options_.pin);
}

int Token::sessions_opened() const {
  MutexLock l(&mu_);
  return module_->sessions_opened;
}

Result<std::unique_ptr<Token>> Token::Open(const TokenOptions& options) {
  if (options.module_path.empty()) return Status::InvalidArgument("pkcs11: module path is empty");
  if (options.token_label.empty())
    return Status::InvalidArgument("pkcs11: token label must be configured");
  if (options.pin.empty()) return Status::InvalidArgument("pkcs11: empty user PIN");
  std::unique_ptr<Token> t(new Token(options));
  // Not shared yet; held so every use of the module is under mu_ (released after `t` moved).
  MutexLock l(&t->mu_);
  Module& m = *t->module_;
  // RTLD_NODELETE: the module stays mapped after dlclose(). Another user in the process may
  // still hold it (see CKR_CRYPTOKI_ALREADY_INITIALIZED), and unloading a library whose
  // OpenSSL objects or atexit handlers outlive it is a classic crash at exit.
  m.dl = dlopen(options.module_path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (m.dl == nullptr) {
    const char* err = dlerror();
    return Status::Unavailable("pkcs11: cannot load module " + options.module_path + ": " +
                               (err != nullptr ? err : "?"));
  }
  ModuleCallScope scope;
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(m.dl, "C_GetFunctionList"));
  if (get_list == nullptr || get_list(&m.f) != CKR_OK || m.f == nullptr) {
    m.f = nullptr;
    return Status::Unavailable("pkcs11: C_GetFunctionList failed in " + options.module_path);
  }
  CK_C_INITIALIZE_ARGS init_args;
  std::memset(&init_args, 0, sizeof(init_args));
  init_args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = m.f->C_Initialize(&init_args);
  if (rv == CKR_OK) {
    m.initialized_by_us = true;
  } else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    m.f = nullptr;
    return Status::Unavailable("pkcs11: C_Initialize failed: " + RvText(rv));
  }
  CK_ULONG count = 0;
  rv = m.f->C_GetSlotList(CK_TRUE, nullptr, &count);
  if (rv != CKR_OK) return Status::Unavailable("pkcs11: C_GetSlotList failed: " + RvText(rv));
  std::vector<CK_SLOT_ID> slots(count);
  if (count > 0) {
    rv = m.f->C_GetSlotList(CK_TRUE, slots.data(), &count);
    if (rv != CKR_OK) return Status::Unavailable("pkcs11: C_GetSlotList failed: " + RvText(rv));
    slots.resize(count);
  }
  bool found = false;
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO info;
    if (m.f->C_GetTokenInfo(s, &info) != CKR_OK) continue;
    if (TrimPadded(info.label, sizeof(info.label)) == options.token_label) {
      m.slot = s;
      found = true;
      break;
    }
  }
  if (!found)
    return Status::Unavailable("pkcs11: no token labelled '" + options.token_label + "' in " +
                               options.module_path);
  VV_RETURN_IF_ERROR(t->ConnectLocked());
  return t;
}

Status Token::ConnectLocked() const {
  ModuleCallScope scope;
  Module& m = *module_;
  m.CloseSession();
  CK_RV rv = m.f->C_OpenSession(m.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr,
                                &m.session);
  if (rv != CKR_OK) {
    m.session = CK_INVALID_HANDLE;
    return Status::Unavailable("pkcs11: C_OpenSession failed: " + RvText(rv));
  }
  ++m.sessions_opened;
  std::string pin = options_.pin;
  rv = m.f->C_Login(m.session, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()),
                    pin.size());
  crypto::Wipe(&pin);
  if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE ||
      rv == CKR_PIN_LOCKED) {
    m.CloseSession();
    return Status::PermissionDenied("pkcs11: login to token '" + options_.token_label +
                                    "' refused: " + RvText(rv));
  }
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    m.CloseSession();
    return Status::Unavailable("pkcs11: C_Login failed: " + RvText(rv));
  }
  // Logged in by us (or by another session of this application: the login is per token).
  m.logged_in = rv == CKR_OK;
  return Status::Ok();
}

Result<CK_RV> Token::Run(const std::function<CK_RV(const Session&)>& op) const {
  MutexLock l(&mu_);
  Module& m = *module_;
  if (m.session == CK_INVALID_HANDLE) VV_RETURN_IF_ERROR(ConnectLocked());
  ModuleCallScope scope;
  CK_RV rv = op(Session{m.f, m.session});
  if (!IsSessionLost(rv)) return rv;
  // The session (or the login) is gone: the handle is invalid, so do not log out on it.
  m.logged_in = false;
  m.f->C_CloseSession(m.session);
  m.session = CK_INVALID_HANDLE;
  Status s = ConnectLocked();
  if (!s.ok())
    return Status::Unavailable("pkcs11: session lost (" + RvText(rv) + ") and re-login failed: " +
                               s.message());
  return op(Session{m.f, m.session});
}

Result<CK_OBJECT_HANDLE> Token::FindObject(const Session& s, CK_OBJECT_CLASS cls,
                                           std::string_view label, CK_RV* rv) {
  std::string l(label);
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &cls, sizeof(cls)},
      {CKA_LABEL, l.data(), l.size()},
  };
  *rv = s.f->C_FindObjectsInit(s.handle, tmpl, 2);
  if (*rv != CKR_OK) return Status::Unavailable("pkcs11: C_FindObjectsInit: " + RvText(*rv));
  CK_OBJECT_HANDLE h[2] = {CK_INVALID_HANDLE, CK_INVALID_HANDLE};
  CK_ULONG n = 0;
  *rv = s.f->C_FindObjects(s.handle, h, 2, &n);
  s.f->C_FindObjectsFinal(s.handle);
  if (*rv != CKR_OK) return Status::Unavailable("pkcs11: C_FindObjects: " + RvText(*rv));
  if (n > 1)
    return Status::InvalidArgument("pkcs11: several objects are labelled '" + l +
                                   "' (labels must be unique)");
  return n == 1 ? h[0] : CK_INVALID_HANDLE;
}

CK_RV Token::FindExisting(const Session& s, CK_OBJECT_CLASS cls, std::string_view label,
                          std::string_view what, CK_OBJECT_HANDLE* h, Status* error) {
  CK_RV rv = CKR_OK;
  auto found = FindObject(s, cls, label, &rv);
  if (!found.ok()) {
    if (rv == CKR_OK) *error = found.status();
    return rv;
  }
  if (*found == CK_INVALID_HANDLE) {
    *error = Status::NotFound("pkcs11: no " + std::string(what) + " labelled '" +
                              std::string(label) + "' in the token");
    return CKR_OK;
  }
  *h = *found;
  return CKR_OK;
}

Result<bool> Token::KeyIsNonExtractable(CK_OBJECT_CLASS cls, std::string_view label,
                                        std::string_view what) const {
  Status inner;
  bool hidden = false;
  auto run = Run([&](const Session& s) {
    inner = Status::Ok();
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = FindExisting(s, cls, label, what, &h, &inner);
    if (rv != CKR_OK || !inner.ok()) return rv;
    CK_BBOOL extractable = CK_TRUE, sensitive = CK_FALSE;
    CK_ATTRIBUTE flags[] = {{CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
                            {CKA_SENSITIVE, &sensitive, sizeof(sensitive)}};
    rv = s.f->C_GetAttributeValue(s.handle, h, flags, 2);
    if (rv != CKR_OK) return rv;
    CK_ATTRIBUTE value = {CKA_VALUE, nullptr, 0};  // asks for the length only
    const CK_RV vrv = s.f->C_GetAttributeValue(s.handle, h, &value, 1);
    const bool value_hidden =
        vrv == CKR_ATTRIBUTE_SENSITIVE || value.ulValueLen == CK_UNAVAILABLE_INFORMATION;
    hidden = value_hidden && extractable == CK_FALSE && sensitive == CK_TRUE;
    return static_cast<CK_RV>(CKR_OK);
  });
  VV_RETURN_IF_ERROR(RunStatus(run, inner, "reading the attributes of " + std::string(what)));
  return hidden;
}

Status RunStatus(const Result<CK_RV>& run, const Status& error, std::string_view what) {
  if (!run.ok()) return run.status();
  if (!error.ok()) return error;
  if (*run != CKR_OK)
    return Status::Unavailable("pkcs11: " + std::string(what) + ": " + RvText(*run));
  return Status::Ok();
}

std::optional<std::string> Token::GetAttribute(const Session& s, CK_OBJECT_HANDLE h,
                                               CK_ATTRIBUTE_TYPE type, CK_RV* rv) {
  CK_ATTRIBUTE a = {type, nullptr, 0};
  *rv = s.f->C_GetAttributeValue(s.handle, h, &a, 1);
  if (*rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION) return std::nullopt;
  std::string value(a.ulValueLen, '\0');
  a.pValue = value.data();
  *rv = s.f->C_GetAttributeValue(s.handle, h, &a, 1);
  if (*rv != CKR_OK) return std::nullopt;
  value.resize(a.ulValueLen);
  return value;
}

Result<std::string> ResolvePin(const std::string& pin_file, const std::string& env_name,
                               const EnvLookup& env, std::string_view what) {
  if (!pin_file.empty()) {
    VV_RETURN_IF_ERROR(crypto::CheckSecretFilePermissions(pin_file));
    auto bytes = crypto::ReadFileBytes(pin_file);
    if (!bytes.ok()) return bytes.status();
    std::string pin(StripAsciiWhitespace(*bytes));
    crypto::Wipe(&bytes.value());
    if (pin.empty()) return Status::InvalidArgument(std::string(what) + ": PIN file is empty");
    return pin;
  }
  if (!env_name.empty() && env) {
    if (auto pin = env(env_name); pin.has_value() && !pin->empty()) return *pin;
  }
  return Status::InvalidArgument(std::string(what) + ": no PIN (set " +
                                 (env_name.empty() ? std::string("a PIN variable") : env_name) +
                                 " or the PIN file)");
}

}  // namespace vv::pkcs11

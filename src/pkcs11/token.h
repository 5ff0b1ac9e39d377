#pragma once
// A logged-in session on one PKCS#11 token (SoftHSM2 in tests, a hardware HSM in production),
// shared by the evidence root keys (src/evidence) and the audit seal key (src/audit).
//
// The module is loaded with dlopen() (no link-time dependency on a vendor library) and
// initialised with CKF_OS_LOCKING_OK; when another user in the process already initialised it
// (CKR_CRYPTOKI_ALREADY_INITIALIZED) this Token does not finalise it on destruction. Only the
// PKCS#11 header of p11-kit is used.
//
// Sessions get lost in production (HSM restart, network HSM failover, another client calling
// C_CloseAllSessions, a token re-inserted): Run() recognises the return values that mean "the
// session or login is gone", opens a new session, logs in again (the PIN is kept in memory for
// that, wiped on destruction) and runs the operation once more. Anything else is returned to
// the caller unchanged.
//
// Thread-safety: every call on the session goes through Run(), serialised by one mutex (a
// PKCS#11 session must not be used concurrently). Ownership: owns the module handle, the
// session and the PIN copy; logs out and closes the session on destruction.

#include <p11-kit/pkcs11.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/env.h"
#include "common/mutex.h"
#include "common/status.h"
#include "pkcs11/defaults.h"

namespace vv::pkcs11 {

struct TokenOptions {
  std::string module_path = kDefaultModule;
  std::string token_label;  // the first slot whose token carries this label
  std::string pin;          // user PIN (kept by the Token for re-login)
};

// What an operation sees: the module's function list and the current session.
struct Session {
  CK_FUNCTION_LIST_PTR f = nullptr;
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
};

// "CKR_PIN_INCORRECT (0xa0)" and the like, for error messages and logs.
std::string RvText(CK_RV rv);
// True for the return values after which a new session and login may succeed.
bool IsSessionLost(CK_RV rv);

class Token {
 public:
  // Loads the module, finds the token, opens a R/W session and logs in as the user.
  // InvalidArgument for missing options, Unavailable when the module or token cannot be used,
  // PermissionDenied for a refused PIN.
  static Result<std::unique_ptr<Token>> Open(const TokenOptions& options);
  ~Token();
  Token(const Token&) = delete;
  Token& operator=(const Token&) = delete;

  // Runs op on the session under the token's lock and returns its CK_RV. When op reports a
  // lost session (IsSessionLost), the session is re-opened, the user logged in again and op
  // run a second time. Unavailable when the re-login itself fails. op may run twice: it must
  // not keep state from a failed attempt.
  Result<CK_RV> Run(const std::function<CK_RV(const Session&)>& op) const;

  // The handle of the one object of class `cls` labelled `label` on the token, or
  // CK_INVALID_HANDLE when there is none; InvalidArgument when several objects share the label
  // (ambiguous: never pick one at random). REQUIRES: called from inside Run's op.
  static Result<CK_OBJECT_HANDLE> FindObject(const Session& s, CK_OBJECT_CLASS cls,
                                             std::string_view label, CK_RV* rv);
  // The one object of `cls` labelled `label`, inside an operation: returns the CK_RV to hand
  // back to Run (a failed lookup's) and sets *h; sets *error (NotFound naming `what` and the
  // label, or the ambiguity) when there is no usable object - the operation then returns
  // CKR_OK and the caller reports *error (see RunStatus).
  static CK_RV FindExisting(const Session& s, CK_OBJECT_CLASS cls, std::string_view label,
                            std::string_view what, CK_OBJECT_HANDLE* h, Status* error);
  // The value of one attribute; nullopt when the token refuses it (*rv says why).
  static std::optional<std::string> GetAttribute(const Session& s, CK_OBJECT_HANDLE h,
                                                 CK_ATTRIBUTE_TYPE type, CK_RV* rv);

  // True when the object of `cls` labelled `label` keeps its value inside the token: CKA_VALUE
  // unreadable, CKA_SENSITIVE true, CKA_EXTRACTABLE false. NotFound (naming `what`) when there
  // is no such object.
  Result<bool> KeyIsNonExtractable(CK_OBJECT_CLASS cls, std::string_view label,
                                   std::string_view what) const;

  const std::string& token_label() const { return options_.token_label; }
  const std::string& module_path() const { return options_.module_path; }
  // Sessions opened so far (1 after Open; +1 per recovery). For tests and metrics.
  int sessions_opened() const;

 private:
  struct Module;
  explicit Token(TokenOptions options);
  // Opens a session on slot_ and logs in.
  Status ConnectLocked() const VV_REQUIRES(mu_);

  TokenOptions options_;  // pin wiped on destruction
  mutable Mutex mu_;  // serialises every use of the session
  // The module and its session: used only under mu_ (Open fills it holding mu_ too).
  std::unique_ptr<Module> module_ VV_PT_GUARDED_BY(mu_);
};

// The outcome of a Token::Run whose operation may set `error`: Run's own failure, else
// `error`, else Unavailable naming `what` and the CK_RV when it is not CKR_OK.
Status RunStatus(const Result<CK_RV>& run, const Status& error, std::string_view what);

// The user PIN from a file (mode 0400/0600, surrounding whitespace stripped) when pin_file is
// set, else from the environment variable env_name via `env`. InvalidArgument (naming both
// places) when neither gives a non-empty PIN.
Result<std::string> ResolvePin(const std::string& pin_file, const std::string& env_name,
                               const EnvLookup& env, std::string_view what);

}  // namespace vv::pkcs11

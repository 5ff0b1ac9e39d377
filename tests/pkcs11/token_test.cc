// pkcs11::Token against a real SoftHSM2 token: login, refusals, object lookup, and recovery
// when the session is closed under it (what an HSM restart or failover looks like).

#include "pkcs11/token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>

#include "fakes/softhsm.h"
#include "fakes/temp_dir.h"

namespace vv::pkcs11 {
namespace {

using vv::testing::SoftHsmToken;

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override { VV_REQUIRE_SOFTHSM(hsm_); }

  Result<std::unique_ptr<Token>> OpenToken(const std::string& pin = SoftHsmToken::kUserPin,
                                           const std::string& label = "vv-test") {
    TokenOptions o;
    o.token_label = label;
    o.pin = pin;
    return Token::Open(o);
  }

  // Creates a CKO_DATA object labelled `label` on the token.
  static CK_RV CreateData(const Session& s, const std::string& label, const std::string& value) {
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    std::string l = label, v = value;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_TOKEN, &yes, sizeof(yes)},
                        {CKA_LABEL, l.data(), l.size()},
                        {CKA_VALUE, v.data(), v.size()}};
    CK_OBJECT_HANDLE h;
    return s.f->C_CreateObject(s.handle, t, 4, &h);
  }

  SoftHsmToken hsm_;
  vv::testing::TempDir dir_;
};

TEST_F(TokenTest, OpensAndLogsInWithTheUserPin) {
  auto t = OpenToken();
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->sessions_opened(), 1);
  auto rv = (*t)->Run([](const Session& s) {
    CK_SESSION_INFO info;
    CK_RV r = s.f->C_GetSessionInfo(s.handle, &info);
    EXPECT_EQ(info.state, static_cast<CK_STATE>(CKS_RW_USER_FUNCTIONS));
    return r;
  });
  ASSERT_TRUE(rv.ok());
  EXPECT_EQ(*rv, static_cast<CK_RV>(CKR_OK));
}

TEST_F(TokenTest, RefusalsNameTheirCause) {
  auto wrong_pin = OpenToken("0000");
  EXPECT_EQ(wrong_pin.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(wrong_pin.status().message().find("CKR_PIN_INCORRECT"), std::string::npos)
      << wrong_pin.status().message();
  auto no_token = OpenToken(SoftHsmToken::kUserPin, "no-such-token");
  EXPECT_EQ(no_token.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(no_token.status().message().find("no-such-token"), std::string::npos);
  TokenOptions bad_module;
  bad_module.module_path = "/nonexistent/libpkcs11.so";
  bad_module.token_label = "vv-test";
  bad_module.pin = "1234";
  EXPECT_EQ(Token::Open(bad_module).status().code(), StatusCode::kUnavailable);
  TokenOptions not_a_module = bad_module;
  not_a_module.module_path = "/lib/x86_64-linux-gnu/libc.so.6";
  EXPECT_EQ(Token::Open(not_a_module).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(OpenToken("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenToken(SoftHsmToken::kUserPin, "").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(TokenTest, FindObjectIsExactAndRefusesAmbiguousLabels) {
  auto t = OpenToken();
  ASSERT_TRUE(t.ok());
  Result<CK_OBJECT_HANDLE> found = CK_INVALID_HANDLE;
  std::optional<std::string> value;
  auto rv = (*t)->Run([&](const Session& s) {
    CK_RV r = CreateData(s, "one", "first");
    if (r != CKR_OK) return r;
    r = CreateData(s, "twice", "a");
    if (r != CKR_OK) return r;
    r = CreateData(s, "twice", "b");
    if (r != CKR_OK) return r;
    found = Token::FindObject(s, CKO_DATA, "one", &r);
    if (found.ok() && *found != CK_INVALID_HANDLE)
      value = Token::GetAttribute(s, *found, CKA_VALUE, &r);
    CK_RV r2;
    auto missing = Token::FindObject(s, CKO_DATA, "on", &r2);  // no prefix match
    EXPECT_TRUE(missing.ok());
    EXPECT_EQ(*missing, static_cast<CK_OBJECT_HANDLE>(CK_INVALID_HANDLE));
    auto other_class = Token::FindObject(s, CKO_SECRET_KEY, "one", &r2);
    EXPECT_EQ(*other_class, static_cast<CK_OBJECT_HANDLE>(CK_INVALID_HANDLE));
    auto ambiguous = Token::FindObject(s, CKO_DATA, "twice", &r2);
    EXPECT_EQ(ambiguous.status().code(), StatusCode::kInvalidArgument);
    return r;
  });
  ASSERT_TRUE(rv.ok());
  ASSERT_EQ(*rv, static_cast<CK_RV>(CKR_OK)) << RvText(*rv);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, "first");
}

TEST_F(TokenTest, ReconnectsWhenTheSessionIsClosedUnderIt) {
  auto t = OpenToken();
  ASSERT_TRUE(t.ok());
  auto other = OpenToken();  // the same module, initialised once per process
  ASSERT_TRUE(other.ok());
  // Another client closes every session of the slot (as an HSM restart does).
  auto closed = (*other)->Run([](const Session& s) {
    CK_SESSION_INFO info;
    CK_RV r = s.f->C_GetSessionInfo(s.handle, &info);
    if (r != CKR_OK) return r;
    return s.f->C_CloseAllSessions(info.slotID);
  });
  ASSERT_TRUE(closed.ok());
  ASSERT_EQ(*closed, static_cast<CK_RV>(CKR_OK));
  int attempts = 0;
  auto rv = (*t)->Run([&](const Session& s) {
    ++attempts;
    CK_SESSION_INFO info;
    CK_RV r = s.f->C_GetSessionInfo(s.handle, &info);
    if (r == CKR_OK && info.state != CKS_RW_USER_FUNCTIONS) return CKR_USER_NOT_LOGGED_IN;
    return r;
  });
  ASSERT_TRUE(rv.ok()) << rv.status().ToString();
  EXPECT_EQ(*rv, static_cast<CK_RV>(CKR_OK)) << RvText(*rv);
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ((*t)->sessions_opened(), 2);
}

TEST_F(TokenTest, OtherErrorsAreReturnedWithoutRetrying) {
  auto t = OpenToken();
  ASSERT_TRUE(t.ok());
  int attempts = 0;
  auto rv = (*t)->Run([&](const Session&) {
    ++attempts;
    return static_cast<CK_RV>(CKR_MECHANISM_INVALID);
  });
  ASSERT_TRUE(rv.ok());
  EXPECT_EQ(*rv, static_cast<CK_RV>(CKR_MECHANISM_INVALID));
  EXPECT_EQ(attempts, 1);
  EXPECT_EQ(RvText(CKR_MECHANISM_INVALID), "CKR_MECHANISM_INVALID (0x70)");
  EXPECT_TRUE(IsSessionLost(CKR_SESSION_HANDLE_INVALID));
  EXPECT_FALSE(IsSessionLost(CKR_PIN_INCORRECT));
}

TEST_F(TokenTest, PinComesFromAPrivateFileOrTheEnvironment) {
  std::map<std::string, std::string> vars = {{"VV_PIN", "from-env"}};
  EnvLookup env = [&](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  const std::string file = dir_.File("pin");
  vv::testing::WriteFile(file, "  9876\n");
  chmod(file.c_str(), 0600);
  auto from_file = ResolvePin(file, "VV_PIN", env, "test token");
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  EXPECT_EQ(*from_file, "9876");  // the file wins, whitespace stripped
  auto from_env = ResolvePin("", "VV_PIN", env, "test token");
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(*from_env, "from-env");
  chmod(file.c_str(), 0644);
  EXPECT_EQ(ResolvePin(file, "VV_PIN", env, "test token").status().code(),
            StatusCode::kPermissionDenied);
  auto none = ResolvePin("", "VV_NOPE", env, "test token");
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("VV_NOPE"), std::string::npos);
  const std::string empty = dir_.File("empty-pin");
  vv::testing::WriteFile(empty, "\n");
  chmod(empty.c_str(), 0400);
  EXPECT_EQ(ResolvePin(empty, "VV_PIN", env, "t").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vv::pkcs11

// verify/check.h: the reason names (the audit/metrics vocabulary), RequestContext::Header and
// Chain (runs in order, stops at the first rejection).

#include "verify/check.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

TEST(ReasonNameTest, EveryReasonHasItsFixedSnakeCaseName) {
  EXPECT_STREQ(ReasonName(Reason::kNone), "none");
  EXPECT_STREQ(ReasonName(Reason::kMissingIdentityHeader), "missing_identity_header");
  EXPECT_STREQ(ReasonName(Reason::kBadFingerprintFormat), "bad_fingerprint_format");
  EXPECT_STREQ(ReasonName(Reason::kCertPinMismatch), "cert_pin_mismatch");
  EXPECT_STREQ(ReasonName(Reason::kTimestampSkew), "timestamp_skew");
  EXPECT_STREQ(ReasonName(Reason::kBadSignature), "bad_signature");
  EXPECT_STREQ(ReasonName(Reason::kReplay), "replay");
  EXPECT_STREQ(ReasonName(Reason::kNonceStoreUnavailable), "nonce_store_unavailable");
  EXPECT_STREQ(ReasonName(Reason::kTopLevelSchema), "schema_validation");
  EXPECT_STREQ(ReasonName(Reason::kTimestampMismatch), "body_timestamp_mismatch");
  EXPECT_STREQ(ReasonName(Reason::kNonceMismatch), "body_nonce_mismatch");
  EXPECT_STREQ(ReasonName(Reason::kTenantMismatch), "tenant_mapping_violation");
  EXPECT_STREQ(ReasonName(Reason::kOperatorNotPermitted), "operator_not_permitted");
  EXPECT_STREQ(ReasonName(Reason::kBatchNotNdjson), "batch_not_ndjson");
}

TEST(ReasonNameTest, NamesAreDistinctAndSnakeCase) {
  std::set<std::string> seen;
  int n = 0;
#define VV_COLLECT(name, str)                                      \
  ++n;                                                             \
  EXPECT_STREQ(ReasonName(Reason::name), str);                     \
  EXPECT_TRUE(seen.insert(ReasonName(Reason::name)).second) << str;
  VV_REJECT_REASONS(VV_COLLECT)
#undef VV_COLLECT
  EXPECT_EQ(n, 45);
  for (const std::string& s : seen) {
    ASSERT_FALSE(s.empty());
    for (char c : s) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << s;
  }
  EXPECT_EQ(seen.count("none"), 0u);
}

TEST(VerdictTest, PassAndReject) {
  Verdict p = Verdict::Pass();
  EXPECT_TRUE(p.ok());
  EXPECT_EQ(p.http_status, 0);
  Verdict r = Verdict::Reject(Reason::kReplay, 409, "client text", "audit text");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.reason, Reason::kReplay);
  EXPECT_EQ(r.http_status, 409);
  EXPECT_EQ(r.detail, "client text");
  EXPECT_EQ(r.internal_detail, "audit text");
}

TEST(RequestContextHeaderTest, NoHeaderListIsAbsent) {
  RequestContext ctx;
  EXPECT_FALSE(ctx.Header("x-service-identity").has_value());
}

TEST(RequestContextHeaderTest, FirstValueWinsAndIsStripped) {
  Headers h = {{"x-service-identity", "  first \t"}, {"x-service-identity", "second"}};
  RequestContext ctx;
  ctx.headers = &h;
  ASSERT_TRUE(ctx.Header("x-service-identity").has_value());
  EXPECT_EQ(*ctx.Header("x-service-identity"), "first");
}

TEST(RequestContextHeaderTest, LookupIsByExactLowercaseName) {
  Headers h = {{"x-service-identity", "svc"}};
  RequestContext ctx;
  ctx.headers = &h;
  EXPECT_FALSE(ctx.Header("X-Service-Identity").has_value());
  EXPECT_FALSE(ctx.Header("x-service-identit").has_value());
  EXPECT_FALSE(ctx.Header("x-service-identity ").has_value());
}

TEST(RequestContextHeaderTest, PresentButBlankIsEmptyNotAbsent) {
  Headers h = {{"x-telemetry-nonce", "   "}};
  RequestContext ctx;
  ctx.headers = &h;
  ASSERT_TRUE(ctx.Header("x-telemetry-nonce").has_value());
  EXPECT_TRUE(ctx.Header("x-telemetry-nonce")->empty());
}

TEST(ChainTest, EmptyChainPasses) {
  Chain chain({});
  RequestContext ctx;
  EXPECT_PASSED(chain.Run(ctx));
}

TEST(ChainTest, StopsAtTheFirstRejectionSoLaterChecksNeverRun) {
  auto cfg = MakeConfig();
  testing::FakeClock clock;
  state::MemoryNonceStore nonces(clock);
  std::vector<CheckPtr> checks;
  checks.push_back(std::make_unique<IdentityCheck>(cfg));
  checks.push_back(std::make_unique<SignatureCheck>(cfg, clock));
  checks.push_back(std::make_unique<ReplayCheck>(cfg, nonces));
  Chain chain(std::move(checks));

  Request r = ValidRequest();
  RemoveHeader(r.headers, "x-service-identity");
  RequestContext ctx = r.Context();
  EXPECT_REJECTED(chain.Run(ctx), Reason::kMissingIdentityHeader, 401,
                  "Missing required header: X-Service-Identity");
  EXPECT_EQ(ctx.timestamp, 0);  // the signature check did not run
  EXPECT_FALSE(ctx.nonce_registered);
  EXPECT_EQ(nonces.SizeForTest(), 0u);
}

TEST(ChainTest, RunsEveryCheckInOrderOnTheAcceptPath) {
  auto cfg = MakeConfig();
  testing::FakeClock clock;
  state::MemoryNonceStore nonces(clock);
  std::vector<CheckPtr> checks;
  checks.push_back(std::make_unique<IdentityCheck>(cfg));
  checks.push_back(std::make_unique<SignatureCheck>(cfg, clock));
  checks.push_back(std::make_unique<ReplayCheck>(cfg, nonces));
  Chain chain(std::move(checks));

  Request r = ValidRequest();
  RequestContext ctx = r.Context();
  EXPECT_PASSED(chain.Run(ctx));
  EXPECT_TRUE(ctx.identity_authenticated);
  EXPECT_EQ(ctx.signing_kid, "default");
  EXPECT_TRUE(ctx.nonce_registered);
  EXPECT_EQ(nonces.SizeForTest(), 1u);
}

}  // namespace
}  // namespace vv::verify

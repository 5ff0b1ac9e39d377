// SignatureCheck (R6-R13): the three signature headers, an integer timestamp within
// +-allowed_clock_skew_seconds of the (injected) clock, lenient base64 with Python's padding
// rule, and strict Ed25519 over "{ts}.{nonce}." + raw body with any key of the identity.

#include <gtest/gtest.h>

#include <limits>

#include "verify/checks.h"
#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

class SignatureCheckTest : public ::testing::Test {
 protected:
  // Identity then signature, as in the chain (SignatureCheck needs ctx.identity).
  Verdict Run(const Request& r) {
    IdentityCheck identity(cfg_);
    SignatureCheck check(cfg_, clock_);
    ctx_ = r.Context();
    Verdict v = identity.Run(ctx_);
    if (!v.ok()) {
      ADD_FAILURE() << "identity check failed: " << v.detail;
      return v;
    }
    return check.Run(ctx_);
  }
  // A request signed for timestamp `ts` (header and body agree), at the clock's current time.
  Request SignedAt(int64_t ts, const std::string& nonce = "nonce-sig-0001") {
    return SignedRequest(testing::MakeTelemetryBody(ts, nonce), ts, nonce);
  }

  std::shared_ptr<config::GatewayConfig> cfg_ = MakeConfig();
  testing::FakeClock clock_{kNow};
  RequestContext ctx_;
};

TEST_F(SignatureCheckTest, ValidSignaturePassesAndFillsTheContext) {
  Request r = SignedAt(kNow);
  EXPECT_PASSED(Run(r));
  EXPECT_EQ(ctx_.timestamp, kNow);
  EXPECT_EQ(ctx_.nonce, "nonce-sig-0001");
  EXPECT_EQ(ctx_.signing_kid, "default");
}

TEST_F(SignatureCheckTest, SignatureDisabledByPolicyIs503) {
  cfg_->require_payload_signature = false;
  Request r = SignedAt(kNow);
  EXPECT_REJECTED(Run(r), Reason::kSignatureDisabled, 503,
                  "Unsigned telemetry is disabled by policy");
  EXPECT_EQ(ctx_.timestamp, 0);
}

TEST_F(SignatureCheckTest, MissingTimestampHeader) {
  Request r = SignedAt(kNow);
  RemoveHeader(r.headers, "x-telemetry-timestamp");
  EXPECT_REJECTED(Run(r), Reason::kMissingTimestampHeader, 401,
                  "Missing required header: X-Telemetry-Timestamp");
}

TEST_F(SignatureCheckTest, BlankTimestampHeaderIsMissing) {
  Request r = SignedAt(kNow);
  SetHeader(r.headers, "x-telemetry-timestamp", "   ");
  EXPECT_REJECTED(Run(r), Reason::kMissingTimestampHeader, 401,
                  "Missing required header: X-Telemetry-Timestamp");
}

TEST_F(SignatureCheckTest, MissingNonceHeader) {
  Request r = SignedAt(kNow);
  RemoveHeader(r.headers, "x-telemetry-nonce");
  EXPECT_REJECTED(Run(r), Reason::kMissingNonceHeader, 401,
                  "Missing required header: X-Telemetry-Nonce");
}

TEST_F(SignatureCheckTest, BlankNonceHeaderIsMissing) {
  Request r = SignedAt(kNow);
  SetHeader(r.headers, "x-telemetry-nonce", "\t");
  EXPECT_REJECTED(Run(r), Reason::kMissingNonceHeader, 401,
                  "Missing required header: X-Telemetry-Nonce");
}

TEST_F(SignatureCheckTest, MissingSignatureHeader) {
  Request r = SignedAt(kNow);
  RemoveHeader(r.headers, "x-telemetry-signature");
  EXPECT_REJECTED(Run(r), Reason::kMissingSignatureHeader, 401,
                  "Missing required header: X-Telemetry-Signature");
}

TEST_F(SignatureCheckTest, HeadersAreCheckedInOrderTimestampNonceSignature) {
  Request r = SignedAt(kNow);
  RemoveHeader(r.headers, "x-telemetry-nonce");
  RemoveHeader(r.headers, "x-telemetry-signature");
  EXPECT_REJECTED(Run(r), Reason::kMissingNonceHeader, 401,
                  "Missing required header: X-Telemetry-Nonce");
  RemoveHeader(r.headers, "x-telemetry-timestamp");
  EXPECT_REJECTED(Run(r), Reason::kMissingTimestampHeader, 401,
                  "Missing required header: X-Telemetry-Timestamp");
}

TEST_F(SignatureCheckTest, UrlSafeBase64IsNotTheSignatureAlphabet) {
  Request r = SignedAt(kNow);
  SetHeader(r.headers, "x-telemetry-signature", "ab-_cd==");
  EXPECT_REJECTED(Run(r), Reason::kSignatureNotBase64, 401, "Signature header is not valid base64");
}

TEST_F(SignatureCheckTest, InnerWhitespaceInTheSignatureIsNotBase64) {
  Request r = SignedAt(kNow);
  SetHeader(r.headers, "x-telemetry-signature", "abcd efgh");
  EXPECT_REJECTED(Run(r), Reason::kSignatureNotBase64, 401, "Signature header is not valid base64");
}

TEST_F(SignatureCheckTest, NonAsciiSignatureIsNotBase64) {
  Request r = SignedAt(kNow);
  SetHeader(r.headers, "x-telemetry-signature", "abcd\xc3\xa9");
  EXPECT_REJECTED(Run(r), Reason::kSignatureNotBase64, 401, "Signature header is not valid base64");
}

TEST_F(SignatureCheckTest, SignatureAlphabetIsCheckedBeforeTheTimestamp) {
  Request r = SignedAt(kNow);
  SetHeader(r.headers, "x-telemetry-signature", "!!!!");
  SetHeader(r.headers, "x-telemetry-timestamp", "not-a-number");
  EXPECT_REJECTED(Run(r), Reason::kSignatureNotBase64, 401, "Signature header is not valid base64");
}

TEST_F(SignatureCheckTest, TimestampNotAnInteger) {
  for (const char* ts : {"1772107200.0", "1.7721072e9", "0x69a0", "abc", "1772107200s", "--1",
                         "+-1", "+", "99999999999999999999", "1 772107200"}) {
    SCOPED_TRACE(std::string("ts header: ") + ts);
    Request r = SignedAt(kNow);
    SetHeader(r.headers, "x-telemetry-timestamp", ts);
    EXPECT_REJECTED(Run(r), Reason::kTimestampNotInteger, 401,
                    "Telemetry timestamp must be unix epoch seconds");
  }
}

TEST_F(SignatureCheckTest, TwoSignsAreNotAnIntegerNotASkewedTimestamp) {
  // Regression: "+-<n>" was read as -<n> (the '+' stripped, then from_chars took the '-') and
  // answered timestamp_skew; like int() and ParseIntSetting it is not an integer at all.
  Request r = SignedAt(kNow);
  SetHeader(r.headers, "x-telemetry-timestamp", "+-" + std::to_string(kNow));
  EXPECT_REJECTED(Run(r), Reason::kTimestampNotInteger, 401,
                  "Telemetry timestamp must be unix epoch seconds");
  SetHeader(r.headers, "x-telemetry-timestamp", "-+" + std::to_string(kNow));
  EXPECT_REJECTED(Run(r), Reason::kTimestampNotInteger, 401,
                  "Telemetry timestamp must be unix epoch seconds");
}

TEST_F(SignatureCheckTest, LeadingPlusAndZerosAreTheSameSignedInteger) {
  // Python int(): "+0001772107200" is 1772107200; the signed prefix is rebuilt from the integer,
  // so the signature over "1772107200.<nonce>." still verifies, and the context carries the
  // integer (so the nonce key - and replay detection - is the same as for "1772107200").
  for (const std::string& spelled : {"+" + std::to_string(kNow), "000" + std::to_string(kNow),
                                     " " + std::to_string(kNow) + " "}) {
    SCOPED_TRACE(spelled);
    Request r = SignedAt(kNow);
    SetHeader(r.headers, "x-telemetry-timestamp", spelled);
    EXPECT_PASSED(Run(r));
    EXPECT_EQ(ctx_.timestamp, kNow);
  }
}

// ---- clock skew: |now - ts| <= 30 passes, 31 does not ---------------------------------------

TEST_F(SignatureCheckTest, SkewExactlyAtTheLimitInThePastPasses) {
  EXPECT_PASSED(Run(SignedAt(kNow - 30)));
}

TEST_F(SignatureCheckTest, SkewExactlyAtTheLimitInTheFuturePasses) {
  EXPECT_PASSED(Run(SignedAt(kNow + 30)));
}

TEST_F(SignatureCheckTest, SkewOneSecondPastTheLimitInThePast) {
  Verdict v = Run(SignedAt(kNow - 31));
  EXPECT_REJECTED(v, Reason::kTimestampSkew, 401, "Telemetry timestamp out of allowed clock skew");
  EXPECT_EQ(v.internal_detail,
            "ts=" + std::to_string(kNow - 31) + " now=" + std::to_string(kNow));
}

TEST_F(SignatureCheckTest, SkewOneSecondPastTheLimitInTheFuture) {
  EXPECT_REJECTED(Run(SignedAt(kNow + 31)), Reason::kTimestampSkew, 401,
                  "Telemetry timestamp out of allowed clock skew");
}

TEST_F(SignatureCheckTest, SkewUsesTheInjectedClockNotTheTimestampOfTheBody) {
  Request r = SignedAt(kNow);
  clock_.AdvanceSeconds(30);
  EXPECT_PASSED(Run(r));
  clock_.AdvanceSeconds(1);
  EXPECT_REJECTED(Run(r), Reason::kTimestampSkew, 401,
                  "Telemetry timestamp out of allowed clock skew");
}

TEST_F(SignatureCheckTest, SubSecondClockIsTruncatedToWholeSeconds) {
  Request r = SignedAt(kNow - 30);
  clock_.SetMicros(kNow * 1000000 + 999999);  // now is still kNow in seconds
  EXPECT_PASSED(Run(r));
}

TEST_F(SignatureCheckTest, ZeroSkewAcceptsOnlyTheCurrentSecond) {
  cfg_->allowed_clock_skew_seconds = 0;
  EXPECT_PASSED(Run(SignedAt(kNow)));
  EXPECT_REJECTED(Run(SignedAt(kNow + 1)), Reason::kTimestampSkew, 401,
                  "Telemetry timestamp out of allowed clock skew");
  EXPECT_REJECTED(Run(SignedAt(kNow - 1)), Reason::kTimestampSkew, 401,
                  "Telemetry timestamp out of allowed clock skew");
}

TEST_F(SignatureCheckTest, NegativeSkewRejectsEverything) {
  cfg_->allowed_clock_skew_seconds = -1;
  EXPECT_REJECTED(Run(SignedAt(kNow)), Reason::kTimestampSkew, 401,
                  "Telemetry timestamp out of allowed clock skew");
}

TEST_F(SignatureCheckTest, ExtremeTimestampsAreSkewNotOverflow) {
  for (int64_t ts : {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                     int64_t{0}, int64_t{-1}}) {
    SCOPED_TRACE(ts);
    Request r = SignedAt(kNow);
    SetHeader(r.headers, "x-telemetry-timestamp", std::to_string(ts));
    EXPECT_REJECTED(Run(r), Reason::kTimestampSkew, 401,
                    "Telemetry timestamp out of allowed clock skew");
  }
}

TEST_F(SignatureCheckTest, ExtremeSkewConfigDoesNotWrap) {
  cfg_->allowed_clock_skew_seconds = std::numeric_limits<int64_t>::max();
  Request r = SignedAt(kNow);
  SetHeader(r.headers, "x-telemetry-timestamp",
            std::to_string(std::numeric_limits<int64_t>::min()));
  // The distance (> INT64_MAX) still exceeds the skew: no wrap-around into "fresh".
  EXPECT_REJECTED(Run(r), Reason::kTimestampSkew, 401,
                  "Telemetry timestamp out of allowed clock skew");
}

// ---- encoding and verification --------------------------------------------------------------

TEST_F(SignatureCheckTest, SignatureWithoutPaddingIsMalformedEncoding) {
  Request r = SignedAt(kNow);
  std::string sig(*r.Context().Header("x-telemetry-signature"));
  ASSERT_EQ(sig.size(), 88u);
  ASSERT_EQ(sig.substr(86), "==");
  SetHeader(r.headers, "x-telemetry-signature", sig.substr(0, 86));
  EXPECT_REJECTED(Run(r), Reason::kSignatureEncoding, 401, "Malformed signature encoding");
}

TEST_F(SignatureCheckTest, SingleCharacterSignatureIsMalformedEncoding) {
  Request r = SignedAt(kNow);
  SetHeader(r.headers, "x-telemetry-signature", "A");
  EXPECT_REJECTED(Run(r), Reason::kSignatureEncoding, 401, "Malformed signature encoding");
}

TEST_F(SignatureCheckTest, ShortSignatureIsBadSignatureNot64Bytes) {
  Request r = SignedAt(kNow);
  SetHeader(r.headers, "x-telemetry-signature", "AAAA");
  Verdict v = Run(r);
  EXPECT_REJECTED(v, Reason::kBadSignature, 401, "Invalid telemetry signature");
  EXPECT_EQ(v.internal_detail, "signature is not 64 bytes");
}

TEST_F(SignatureCheckTest, ZeroSignatureIsBadSignature) {
  Request r = SignedAt(kNow);
  SetHeader(r.headers, "x-telemetry-signature", Base64Encode(std::string(64, '\0')));
  Verdict v = Run(r);
  EXPECT_REJECTED(v, Reason::kBadSignature, 401, "Invalid telemetry signature");
  EXPECT_EQ(v.internal_detail, "no configured key verifies");
  EXPECT_TRUE(ctx_.signing_kid.empty());
}

TEST_F(SignatureCheckTest, TamperedBodyIsBadSignature) {
  Request r = SignedAt(kNow);
  r.body.back() = ' ';  // still the same JSON to a parser, different signed bytes
  EXPECT_REJECTED(Run(r), Reason::kBadSignature, 401, "Invalid telemetry signature");
}

TEST_F(SignatureCheckTest, NonceSwappedAfterSigningIsBadSignature) {
  Request r = SignedAt(kNow);
  SetHeader(r.headers, "x-telemetry-nonce", "nonce-sig-0002");
  EXPECT_REJECTED(Run(r), Reason::kBadSignature, 401, "Invalid telemetry signature");
}

TEST_F(SignatureCheckTest, TimestampSwappedWithinTheSkewIsBadSignature) {
  Request r = SignedAt(kNow);
  SetHeader(r.headers, "x-telemetry-timestamp", std::to_string(kNow + 1));
  EXPECT_REJECTED(Run(r), Reason::kBadSignature, 401, "Invalid telemetry signature");
}

TEST_F(SignatureCheckTest, SignatureByAnUnconfiguredKeyIsBadSignature) {
  Request r = SignedRequest(testing::MakeTelemetryBody(kNow, "n-other-key"), kNow, "n-other-key",
                            kOtherSeedHex);
  Verdict v = Run(r);
  EXPECT_REJECTED(v, Reason::kBadSignature, 401, "Invalid telemetry signature");
  EXPECT_EQ(v.internal_detail, "no configured key verifies");
}

TEST_F(SignatureCheckTest, TrailingGarbageAfterPaddingIsIgnoredLikePython) {
  // base64.b64decode(validate=False) stops at the completing "=="; the signature still verifies.
  Request r = SignedAt(kNow);
  std::string sig(*r.Context().Header("x-telemetry-signature"));
  SetHeader(r.headers, "x-telemetry-signature", sig + "AAAA");
  EXPECT_PASSED(Run(r));
}

TEST_F(SignatureCheckTest, IdentityKeysReplaceTheDefaultKeys) {
  // The identity lists its own keys: the default producer key no longer verifies for it.
  cfg_->identities[0].signing_keys = {{"k-other", PublicKeyOfSeed(kOtherSeedHex)}};
  EXPECT_REJECTED(Run(SignedAt(kNow)), Reason::kBadSignature, 401, "Invalid telemetry signature");
  Request r = SignedRequest(testing::MakeTelemetryBody(kNow, "n-other-key"), kNow, "n-other-key",
                            kOtherSeedHex);
  EXPECT_PASSED(Run(r));
  EXPECT_EQ(ctx_.signing_kid, "k-other");
}

TEST_F(SignatureCheckTest, AnyKeyOfARotatingIdentityVerifiesAndNamesItsKid) {
  cfg_->identities[0].signing_keys = {{"k-2025", PublicKeyOfSeed(kOtherSeedHex)},
                                      {"k-2026", ProducerKey()}};
  EXPECT_PASSED(Run(SignedAt(kNow)));
  EXPECT_EQ(ctx_.signing_kid, "k-2026");
}

TEST_F(SignatureCheckTest, AnotherIdentitysKeyDoesNotVerify) {
  // other-service has its own key; the producer (default key) cannot sign as other-service...
  cfg_->identities[1].signing_keys = {{"k-other", PublicKeyOfSeed(kOtherSeedHex)}};
  Request r = SignedAt(kNow);
  SetHeader(r.headers, "x-service-identity", "other-service");
  SetHeader(r.headers, "x-client-cert-sha256", kOtherPin);
  r.peer_cert_sha256 = kOtherPin;
  EXPECT_REJECTED(Run(r), Reason::kBadSignature, 401, "Invalid telemetry signature");
}

TEST_F(SignatureCheckTest, EmptyBodyIsStillSignedBytes) {
  Request r = IdentityRequest();
  r.body = "";
  r.headers.emplace_back("x-telemetry-timestamp", std::to_string(kNow));
  r.headers.emplace_back("x-telemetry-nonce", "n-empty");
  r.headers.emplace_back("x-telemetry-signature", testing::SignB64(kNow, "n-empty", ""));
  EXPECT_PASSED(Run(r));
}

}  // namespace
}  // namespace vv::verify

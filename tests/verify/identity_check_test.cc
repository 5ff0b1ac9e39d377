// IdentityCheck (R1-R4): X-Service-Identity names an allowlisted, non-revoked identity whose
// pinned fingerprint matches the certificate of the TLS handshake; X-Client-Cert-Sha256, when
// sent, is 64 hex and equals the presented certificate. Every reject path with its exact
// status, reason and client text.

#include <gtest/gtest.h>

#include "verify/checks.h"
#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

constexpr const char* kMismatch = "Service identity certificate fingerprint mismatch";

class IdentityCheckTest : public ::testing::Test {
 protected:
  Verdict Run(const Request& r) {
    IdentityCheck check(cfg_);
    ctx_ = r.Context();
    return check.Run(ctx_);
  }
  std::shared_ptr<config::GatewayConfig> cfg_ = MakeConfig();
  RequestContext ctx_;
};

TEST_F(IdentityCheckTest, PinnedIdentityWithMatchingHeaderPasses) {
  Request r = IdentityRequest();
  EXPECT_PASSED(Run(r));
  ASSERT_NE(ctx_.identity, nullptr);
  EXPECT_EQ(ctx_.identity->id, kIdentity);
  EXPECT_TRUE(ctx_.identity_authenticated);
}

TEST_F(IdentityCheckTest, CertHeaderIsOptionalUnderMtls) {
  Request r = IdentityRequest();
  RemoveHeader(r.headers, "x-client-cert-sha256");
  EXPECT_PASSED(Run(r));
  EXPECT_TRUE(ctx_.identity_authenticated);
}

TEST_F(IdentityCheckTest, EmptyCertHeaderCountsAsAbsent) {
  Request r = IdentityRequest();
  SetHeader(r.headers, "x-client-cert-sha256", "  ");
  EXPECT_PASSED(Run(r));
}

TEST_F(IdentityCheckTest, UppercaseHexHeaderIsTheSameFingerprint) {
  Request r = IdentityRequest();
  SetHeader(r.headers, "x-client-cert-sha256", std::string(64, 'A'));
  EXPECT_PASSED(Run(r));
}

TEST_F(IdentityCheckTest, MixedCaseHexHeaderIsTheSameFingerprint) {
  Request r = IdentityRequest();
  std::string fp = kPin;
  for (size_t i = 0; i < fp.size(); i += 2) fp[i] = 'A';
  SetHeader(r.headers, "x-client-cert-sha256", fp);
  EXPECT_PASSED(Run(r));
}

TEST_F(IdentityCheckTest, SecondPinOfARotatingIdentityPasses) {
  Request r = IdentityRequest();
  r.peer_cert_sha256 = kPin2;
  SetHeader(r.headers, "x-client-cert-sha256", kPin2);
  EXPECT_PASSED(Run(r));
  EXPECT_TRUE(ctx_.identity_authenticated);
}

TEST_F(IdentityCheckTest, MissingIdentityHeader) {
  Request r = IdentityRequest();
  RemoveHeader(r.headers, "x-service-identity");
  EXPECT_REJECTED(Run(r), Reason::kMissingIdentityHeader, 401,
                  "Missing required header: X-Service-Identity");
  EXPECT_EQ(ctx_.identity, nullptr);
  EXPECT_FALSE(ctx_.identity_authenticated);
}

TEST_F(IdentityCheckTest, BlankIdentityHeaderIsMissing) {
  Request r = IdentityRequest();
  SetHeader(r.headers, "x-service-identity", " \t ");
  EXPECT_REJECTED(Run(r), Reason::kMissingIdentityHeader, 401,
                  "Missing required header: X-Service-Identity");
}

TEST_F(IdentityCheckTest, NoHeadersAtAll) {
  Request r;
  r.headers.clear();
  EXPECT_REJECTED(Run(r), Reason::kMissingIdentityHeader, 401,
                  "Missing required header: X-Service-Identity");
}

TEST_F(IdentityCheckTest, MissingIdentityIsReportedBeforeABadFingerprint) {
  Request r = IdentityRequest();
  RemoveHeader(r.headers, "x-service-identity");
  SetHeader(r.headers, "x-client-cert-sha256", "zz");
  EXPECT_REJECTED(Run(r), Reason::kMissingIdentityHeader, 401,
                  "Missing required header: X-Service-Identity");
}

TEST_F(IdentityCheckTest, FingerprintHeaderOneCharShort) {
  Request r = IdentityRequest();
  SetHeader(r.headers, "x-client-cert-sha256", std::string(63, 'a'));
  EXPECT_REJECTED(Run(r), Reason::kBadFingerprintFormat, 401,
                  "Invalid client certificate fingerprint format");
  EXPECT_EQ(ctx_.identity, nullptr);
}

TEST_F(IdentityCheckTest, FingerprintHeaderOneCharLong) {
  Request r = IdentityRequest();
  SetHeader(r.headers, "x-client-cert-sha256", kPin + "a");
  EXPECT_REJECTED(Run(r), Reason::kBadFingerprintFormat, 401,
                  "Invalid client certificate fingerprint format");
}

TEST_F(IdentityCheckTest, FingerprintHeaderWithNonHexCharacter) {
  Request r = IdentityRequest();
  std::string fp = kPin;
  fp[10] = 'g';
  SetHeader(r.headers, "x-client-cert-sha256", fp);
  EXPECT_REJECTED(Run(r), Reason::kBadFingerprintFormat, 401,
                  "Invalid client certificate fingerprint format");
}

TEST_F(IdentityCheckTest, ColonSeparatedFingerprintIsNotAccepted) {
  Request r = IdentityRequest();
  std::string fp;
  for (int i = 0; i < 32; ++i) fp += (i ? ":aa" : "aa");
  SetHeader(r.headers, "x-client-cert-sha256", fp);
  EXPECT_REJECTED(Run(r), Reason::kBadFingerprintFormat, 401,
                  "Invalid client certificate fingerprint format");
}

TEST_F(IdentityCheckTest, OversizedFingerprintHeader) {
  Request r = IdentityRequest();
  SetHeader(r.headers, "x-client-cert-sha256", std::string(16384, 'a'));
  EXPECT_REJECTED(Run(r), Reason::kBadFingerprintFormat, 401,
                  "Invalid client certificate fingerprint format");
}

TEST_F(IdentityCheckTest, UnknownIdentity) {
  Request r = IdentityRequest();
  SetHeader(r.headers, "x-service-identity", "intruder");
  Verdict v = Run(r);
  EXPECT_REJECTED(v, Reason::kUnknownIdentity, 401, "Unknown service identity");
  EXPECT_EQ(v.internal_detail, "identity=intruder");
  EXPECT_EQ(ctx_.identity, nullptr);
  EXPECT_FALSE(ctx_.identity_authenticated);
}

TEST_F(IdentityCheckTest, IdentityNamesAreCaseSensitive) {
  Request r = IdentityRequest();
  SetHeader(r.headers, "x-service-identity", "SpectraStrike-Producer");
  EXPECT_REJECTED(Run(r), Reason::kUnknownIdentity, 401, "Unknown service identity");
}

TEST_F(IdentityCheckTest, OversizedIdentityHeaderIsUnknownNotACrash) {
  Request r = IdentityRequest();
  SetHeader(r.headers, "x-service-identity", std::string(16384, 'x'));
  Verdict v = Run(r);
  EXPECT_REJECTED(v, Reason::kUnknownIdentity, 401, "Unknown service identity");
  // The client-facing text never echoes the header; the audit detail keeps a bounded prefix.
  EXPECT_EQ(v.detail.find("xxxx"), std::string::npos);
  EXPECT_EQ(v.internal_detail, "identity=" + std::string(kMaxEchoedValueBytes, 'x') + "...");
}

TEST_F(IdentityCheckTest, SurroundingWhitespaceOfTheIdentityIsStripped) {
  Request r = IdentityRequest();
  SetHeader(r.headers, "x-service-identity", std::string("  ") + kIdentity + "\t");
  EXPECT_PASSED(Run(r));
}

TEST_F(IdentityCheckTest, RevokedIdentityIsRefusedWhateverItPresents) {
  cfg_->revoked_identities.insert(kIdentity);
  Request r = IdentityRequest();  // valid pin and header
  Verdict v = Run(r);
  EXPECT_REJECTED(v, Reason::kIdentityRevoked, 403, "Service identity revoked");
  EXPECT_EQ(v.internal_detail, std::string("identity=") + kIdentity + " revoked by the kill switch");
  ASSERT_NE(ctx_.identity, nullptr);  // known, so the audit record can name it
  EXPECT_FALSE(ctx_.identity_authenticated);
}

TEST_F(IdentityCheckTest, RevokingAnotherIdentityDoesNotAffectThisOne) {
  cfg_->revoked_identities.insert("other-service");
  EXPECT_PASSED(Run(IdentityRequest()));
}

TEST_F(IdentityCheckTest, NoClientCertificateUnderMtls) {
  Request r = IdentityRequest();
  r.peer_has_certificate = false;
  r.peer_cert_sha256.clear();
  Verdict v = Run(r);
  EXPECT_REJECTED(v, Reason::kNoClientCertificate, 401, kMismatch);
  EXPECT_EQ(v.internal_detail, "no verified client certificate on the connection");
  EXPECT_FALSE(ctx_.identity_authenticated);
}

TEST_F(IdentityCheckTest, NoClientCertificateAndNoHeaderUnderMtls) {
  Request r = IdentityRequest();
  RemoveHeader(r.headers, "x-client-cert-sha256");
  r.peer_has_certificate = false;
  r.peer_cert_sha256.clear();
  EXPECT_REJECTED(Run(r), Reason::kNoClientCertificate, 401, kMismatch);
}

TEST_F(IdentityCheckTest, CertificatePinnedForAnotherIdentity) {
  // "other-service"'s certificate claiming to be the producer (the header copies it).
  Request r = IdentityRequest();
  r.peer_cert_sha256 = kOtherPin;
  SetHeader(r.headers, "x-client-cert-sha256", kOtherPin);
  Verdict v = Run(r);
  EXPECT_REJECTED(v, Reason::kCertPinMismatch, 401, kMismatch);
  EXPECT_EQ(v.internal_detail, "presented certificate " + kOtherPin +
                                   " is not pinned for identity " + kIdentity);
  EXPECT_FALSE(ctx_.identity_authenticated);
}

TEST_F(IdentityCheckTest, HeaderCannotOverrideTheHandshakeCertificate) {
  // The header names a pinned fingerprint, the handshake presented an unpinned one.
  Request r = IdentityRequest();
  r.peer_cert_sha256 = std::string(64, 'd');
  SetHeader(r.headers, "x-client-cert-sha256", kPin);
  EXPECT_REJECTED(Run(r), Reason::kCertPinMismatch, 401, kMismatch);
}

TEST_F(IdentityCheckTest, EmptyPresentedFingerprintNeverMatches) {
  Request r = IdentityRequest();
  RemoveHeader(r.headers, "x-client-cert-sha256");
  r.peer_cert_sha256.clear();  // has_certificate but no fingerprint
  EXPECT_REJECTED(Run(r), Reason::kCertPinMismatch, 401, kMismatch);
}

TEST_F(IdentityCheckTest, HeaderDiffersFromThePresentedPinnedCertificate) {
  Request r = IdentityRequest();
  r.peer_cert_sha256 = kPin;
  SetHeader(r.headers, "x-client-cert-sha256", kPin2);  // also pinned, but not presented
  Verdict v = Run(r);
  EXPECT_REJECTED(v, Reason::kCertHeaderMismatch, 401, kMismatch);
  EXPECT_EQ(v.internal_detail, "X-Client-Cert-Sha256 differs from the presented certificate");
  ASSERT_NE(ctx_.identity, nullptr);
  EXPECT_FALSE(ctx_.identity_authenticated);
}

TEST_F(IdentityCheckTest, OnlyTheFirstIdentityHeaderCounts) {
  Request r = IdentityRequest();
  r.headers.insert(r.headers.begin(), {"x-service-identity", "intruder"});
  EXPECT_REJECTED(Run(r), Reason::kUnknownIdentity, 401, "Unknown service identity");
}

// ---- development mode (require_mtls off) -------------------------------------------------------

TEST_F(IdentityCheckTest, DevModeWithoutCertificateRequiresTheCertHeader) {
  cfg_->require_mtls = false;
  Request r = IdentityRequest();
  RemoveHeader(r.headers, "x-client-cert-sha256");
  r.peer_has_certificate = false;
  r.peer_cert_sha256.clear();
  EXPECT_REJECTED(Run(r), Reason::kMissingCertHeader, 401,
                  "Missing required header: X-Client-Cert-Sha256");
  EXPECT_EQ(ctx_.identity, nullptr);
}

TEST_F(IdentityCheckTest, DevModeMissingCertHeaderIsCheckedBeforeTheIdentityIsLookedUp) {
  cfg_->require_mtls = false;
  Request r = IdentityRequest();
  RemoveHeader(r.headers, "x-client-cert-sha256");
  SetHeader(r.headers, "x-service-identity", "intruder");
  r.peer_has_certificate = false;
  EXPECT_REJECTED(Run(r), Reason::kMissingCertHeader, 401,
                  "Missing required header: X-Client-Cert-Sha256");
}

TEST_F(IdentityCheckTest, DevModeAcceptsAnyWellFormedFingerprint) {
  cfg_->require_mtls = false;
  Request r = IdentityRequest();
  SetHeader(r.headers, "x-client-cert-sha256", std::string(64, 'e'));
  r.peer_has_certificate = false;
  r.peer_cert_sha256.clear();
  EXPECT_PASSED(Run(r));
  EXPECT_TRUE(ctx_.identity_authenticated);
}

TEST_F(IdentityCheckTest, DevModeStillRejectsAMalformedFingerprint) {
  cfg_->require_mtls = false;
  Request r = IdentityRequest();
  SetHeader(r.headers, "x-client-cert-sha256", "not-hex");
  r.peer_has_certificate = false;
  EXPECT_REJECTED(Run(r), Reason::kBadFingerprintFormat, 401,
                  "Invalid client certificate fingerprint format");
}

TEST_F(IdentityCheckTest, DevModeWithACertificateButNoHeaderPasses) {
  cfg_->require_mtls = false;
  Request r = IdentityRequest();
  RemoveHeader(r.headers, "x-client-cert-sha256");
  r.peer_cert_sha256 = std::string(64, 'd');  // unpinned: not checked in dev mode
  EXPECT_PASSED(Run(r));
}

TEST_F(IdentityCheckTest, DevModeStillRefusesUnknownAndRevokedIdentities) {
  cfg_->require_mtls = false;
  Request r = IdentityRequest();
  SetHeader(r.headers, "x-service-identity", "intruder");
  EXPECT_REJECTED(Run(r), Reason::kUnknownIdentity, 401, "Unknown service identity");
  cfg_->revoked_identities.insert(kIdentity);
  EXPECT_REJECTED(Run(IdentityRequest()), Reason::kIdentityRevoked, 403,
                  "Service identity revoked");
}

}  // namespace
}  // namespace vv::verify

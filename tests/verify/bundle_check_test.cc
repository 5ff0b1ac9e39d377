// Federation bundles: ParseFederationRequest (strict body, 422 with the bundle texts) and
// BundleCheck (freshness 401, strict Ed25519 over the pipe-joined fields 401, the bundle nonce
// cache 409 / 503, operator -> tenant 403).

#include "verify/bundle_check.h"

#include <gtest/gtest.h>

#include <limits>

#include "crypto/crypto.h"
#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

const std::string kHash = std::string(32, 'a') + std::string(32, '0');
constexpr const char* kBundleNonce = "bundle-nonce-0001";

SignedBundle MakeBundle(int64_t ts = kNow, const std::string& nonce = kBundleNonce,
                        const std::string& op = "op-001") {
  SignedBundle b;
  b.operator_id = op;
  b.campaign_id = "cmp-001";
  b.execution_hash = kHash;
  b.timestamp = ts;
  b.nonce = nonce;
  return b;
}

// Signs the bundle with `seed_hex` and fills both signature fields.
SignedBundle Sign(SignedBundle b, const std::string& seed_hex = testing::kProducerSeedHex) {
  auto key = crypto::Ed25519PrivateKey::FromSeed(*HexDecode(seed_hex));
  b.signature = key->Sign(BundleMessage(b));
  b.signature_b64 = Base64Encode(b.signature);
  return b;
}

json::Value BundleJson(const SignedBundle& b) {
  json::Value o = json::Value::MakeObject();
  o.Set("operator_id", b.operator_id);
  o.Set("campaign_id", b.campaign_id);
  o.Set("execution_hash", b.execution_hash);
  o.Set("timestamp", b.timestamp);
  o.Set("nonce", b.nonce);
  o.Set("signature", b.signature_b64);
  return o;
}

std::string RequestBody(const json::Value& bundle) {
  json::Value root = json::Value::MakeObject();
  root.Set("bundle", bundle);
  return json::Canonical(root);
}

// ---- helpers ----------------------------------------------------------------------------------

TEST(BundleMessageTest, PipeJoinedFieldsInOrder) {
  SignedBundle b = MakeBundle();
  EXPECT_EQ(BundleMessage(b),
            "op-001|cmp-001|" + kHash + "|" + std::to_string(kNow) + "|" + kBundleNonce);
  EXPECT_EQ(BundleHash(b), crypto::Sha256Hex(BundleMessage(b)));
}

TEST(BundleMessageTest, NonceKeyIsNamespacedPerOperator) {
  SignedBundle a = MakeBundle(kNow, kBundleNonce, "op-001");
  SignedBundle b = MakeBundle(kNow, kBundleNonce, "op-002");
  EXPECT_EQ(BundleNonceKey(a), crypto::Sha256Hex(std::string("federation-bundle|op-001|") +
                                                 kBundleNonce));
  EXPECT_NE(BundleNonceKey(a), BundleNonceKey(b));
  // Independent of the timestamp (unlike the telemetry nonce key) and of the signature.
  EXPECT_EQ(BundleNonceKey(a), BundleNonceKey(Sign(MakeBundle(kNow + 5, kBundleNonce, "op-001"))));
  EXPECT_NE(BundleNonceKey(a), state::NonceKey(kNow, kBundleNonce));
}

// ---- ParseFederationRequest -------------------------------------------------------------------

class ParseFederationRequestTest : public ::testing::Test {
 protected:
  Verdict Parse(const std::string& body) {
    out_ = SignedBundle();
    return ParseFederationRequest(body, &out_);
  }
  Verdict ParseBundle(const json::Value& bundle) { return Parse(RequestBody(bundle)); }
  void ExpectInvalid(const json::Value& bundle, const std::string& why) {
    Verdict v = ParseBundle(bundle);
    EXPECT_REJECTED(v, Reason::kTopLevelSchema, 422, kFederationBodyInvalid);
    EXPECT_EQ(v.internal_detail, why);
  }
  json::Value Valid() { return BundleJson(Sign(MakeBundle())); }
  SignedBundle out_;
};

TEST_F(ParseFederationRequestTest, ValidBodyIsParsed) {
  SignedBundle signed_bundle = Sign(MakeBundle());
  EXPECT_PASSED(ParseBundle(BundleJson(signed_bundle)));
  EXPECT_EQ(out_.operator_id, "op-001");
  EXPECT_EQ(out_.campaign_id, "cmp-001");
  EXPECT_EQ(out_.execution_hash, kHash);
  EXPECT_EQ(out_.timestamp, kNow);
  EXPECT_EQ(out_.nonce, kBundleNonce);
  EXPECT_EQ(out_.signature_b64, signed_bundle.signature_b64);
  EXPECT_EQ(out_.signature, signed_bundle.signature);
  EXPECT_EQ(out_.signature.size(), 64u);
}

TEST_F(ParseFederationRequestTest, InvalidJson) {
  Verdict v = Parse("{\"bundle\": {");
  EXPECT_REJECTED(v, Reason::kInvalidJson, 422, kFederationBodyInvalid);
  EXPECT_EQ(v.internal_detail.rfind("invalid JSON: ", 0), 0u) << v.internal_detail;
  EXPECT_REJECTED(Parse(""), Reason::kInvalidJson, 422, kFederationBodyInvalid);
}

TEST_F(ParseFederationRequestTest, DuplicateBundleKeyIsInvalidJson) {
  std::string body = RequestBody(Valid());
  body.insert(1, "\"bundle\":{},");
  EXPECT_REJECTED(Parse(body), Reason::kInvalidJson, 422, kFederationBodyInvalid);
}

TEST_F(ParseFederationRequestTest, BodyNotAnObject) {
  Verdict v = Parse("[]");
  EXPECT_REJECTED(v, Reason::kTopLevelSchema, 422, kFederationBodyInvalid);
  EXPECT_EQ(v.internal_detail, "body must be a JSON object");
}

TEST_F(ParseFederationRequestTest, ExtraTopLevelKey) {
  Verdict v = Parse(R"({"bundle":{},"admin":true})");
  EXPECT_REJECTED(v, Reason::kTopLevelSchema, 422, kFederationBodyInvalid);
  EXPECT_EQ(v.internal_detail, "extra field not permitted: admin");
}

TEST_F(ParseFederationRequestTest, ExtraKeyEchoIsBounded) {
  std::string key(200, 'k');
  Verdict v = Parse("{\"" + key + "\":1}");
  EXPECT_EQ(v.internal_detail, "extra field not permitted: " + std::string(64, 'k') + "...");
}

TEST_F(ParseFederationRequestTest, MissingBundle) {
  Verdict v = Parse("{}");
  EXPECT_REJECTED(v, Reason::kTopLevelSchema, 422, kFederationBodyInvalid);
  EXPECT_EQ(v.internal_detail, "bundle: field required");
}

TEST_F(ParseFederationRequestTest, BundleNotAnObject) {
  Verdict v = Parse(R"({"bundle":"x"})");
  EXPECT_REJECTED(v, Reason::kTopLevelSchema, 422, kFederationBodyInvalid);
  EXPECT_EQ(v.internal_detail, "bundle: must be an object");
}

TEST_F(ParseFederationRequestTest, ExtraBundleKey) {
  json::Value b = Valid();
  b.Set("tenant_id", testing::kTenant2);
  ExpectInvalid(b, "extra field not permitted: bundle.tenant_id");
}

TEST_F(ParseFederationRequestTest, EachMissingField) {
  for (const char* k :
       {"operator_id", "campaign_id", "execution_hash", "nonce", "signature", "timestamp"}) {
    SCOPED_TRACE(k);
    json::Value b = Valid();
    b.Erase(k);
    ExpectInvalid(b, std::string("bundle.") + k + ": field required");
  }
}

TEST_F(ParseFederationRequestTest, StringFieldOfTheWrongType) {
  json::Value b = Valid();
  b.Set("operator_id", 7);
  ExpectInvalid(b, "bundle.operator_id: must be a string");
}

TEST_F(ParseFederationRequestTest, LengthBounds) {
  json::Value b = Valid();
  b.Set("operator_id", "");
  ExpectInvalid(b, "bundle.operator_id: length must be 1..128");
  b = Valid();
  b.Set("campaign_id", std::string(129, 'c'));
  ExpectInvalid(b, "bundle.campaign_id: length must be 1..128");
  b = Valid();
  b.Set("nonce", std::string(11, 'n'));
  ExpectInvalid(b, "bundle.nonce: length must be 12..128");
  b = Valid();
  b.Set("nonce", std::string(12, 'n'));
  EXPECT_PASSED(ParseBundle(b));
  b.Set("nonce", std::string(129, 'n'));
  ExpectInvalid(b, "bundle.nonce: length must be 12..128");
  b = Valid();
  b.Set("signature", "AAAAAAAAAAA");  // 11
  ExpectInvalid(b, "bundle.signature: length must be 12..4096");
  b = Valid();
  b.Set("execution_hash", kHash.substr(1));
  ExpectInvalid(b, "bundle.execution_hash: length must be 64..64");
}

TEST_F(ParseFederationRequestTest, LengthsCountCodePointsNotBytes) {
  json::Value b = Valid();
  std::string op;
  for (int i = 0; i < 128; ++i) op += "\xc3\xa9";  // 128 code points, 256 bytes
  b.Set("operator_id", op);
  EXPECT_PASSED(ParseBundle(b));
  b.Set("operator_id", op + "\xc3\xa9");
  ExpectInvalid(b, "bundle.operator_id: length must be 1..128");
}

TEST_F(ParseFederationRequestTest, PipeCannotShiftFieldBoundaries) {
  // "op|x" + "cmp" and "op" + "x|cmp" would sign the same bytes.
  for (const char* k : {"operator_id", "campaign_id", "nonce"}) {
    SCOPED_TRACE(k);
    json::Value b = Valid();
    b.Set(k, std::string("abcdefgh|ijklmnop"));
    ExpectInvalid(b, std::string("bundle.") + k + ": contains a forbidden character");
  }
}

TEST_F(ParseFederationRequestTest, ControlCharactersAreRefused) {
  json::Value b = Valid();
  b.Set("operator_id", "op-001\n");
  ExpectInvalid(b, "bundle.operator_id: contains a forbidden character");
  b = Valid();
  b.Set("campaign_id", std::string("cmp\0-001", 8));
  ExpectInvalid(b, "bundle.campaign_id: contains a forbidden character");
  b = Valid();
  b.Set("nonce", "bundle-nonce\t0001");
  ExpectInvalid(b, "bundle.nonce: contains a forbidden character");
}

TEST_F(ParseFederationRequestTest, ExecutionHashMustBeHex) {
  json::Value b = Valid();
  b.Set("execution_hash", std::string(63, 'a') + "g");
  ExpectInvalid(b, "bundle.execution_hash: must be 64 hex chars");
}

TEST_F(ParseFederationRequestTest, UppercaseExecutionHashIsKeptAsSent) {
  std::string upper = std::string(32, 'A') + std::string(32, '0');
  SignedBundle sb = MakeBundle();
  sb.execution_hash = upper;
  EXPECT_PASSED(ParseBundle(BundleJson(Sign(sb))));
  EXPECT_EQ(out_.execution_hash, upper);
}

TEST_F(ParseFederationRequestTest, TimestampMustBeAJsonInteger) {
  json::Value b = Valid();
  b.Set("timestamp", std::to_string(kNow));
  ExpectInvalid(b, "bundle.timestamp: must be an integer");
  b.Set("timestamp", 1.5);
  ExpectInvalid(b, "bundle.timestamp: must be an integer");
  b.Set("timestamp", true);
  ExpectInvalid(b, "bundle.timestamp: must be an integer");
}

TEST_F(ParseFederationRequestTest, TimestampOutOfInt64Range) {
  std::string body = RequestBody(Valid());
  std::string ts = std::to_string(kNow);
  body.replace(body.find(ts), ts.size(), "99999999999999999999");
  Verdict v = Parse(body);
  EXPECT_REJECTED(v, Reason::kTopLevelSchema, 422, kFederationBodyInvalid);
  EXPECT_EQ(v.internal_detail, "bundle.timestamp: integer out of range");
}

TEST_F(ParseFederationRequestTest, SignatureMustBeStrictStandardBase64) {
  std::string good = Sign(MakeBundle()).signature_b64;
  ASSERT_EQ(good.substr(86), "==");
  for (const std::string& bad :
       {good.substr(0, 86),                  // padding dropped
        good + "AAAA",                       // data after the padding
        std::string(86, '-') + "==",         // URL-safe alphabet
        good.substr(0, 40) + " " + good.substr(40)}) {  // inner space
    SCOPED_TRACE(bad);
    json::Value b = Valid();
    b.Set("signature", bad);
    Verdict v = ParseBundle(b);
    EXPECT_REJECTED(v, Reason::kSignatureEncoding, 422, kFederationSignatureEncoding);
    EXPECT_EQ(v.internal_detail, "bundle.signature is not strict standard base64");
  }
}

TEST_F(ParseFederationRequestTest, OutputUntouchedOnFailure) {
  out_.operator_id = "sentinel";
  json::Value b = Valid();
  b.Erase("nonce");
  EXPECT_FALSE(ParseFederationRequest(RequestBody(b), &out_).ok());
  EXPECT_EQ(out_.operator_id, "sentinel");
}

// ---- BundleCheck ------------------------------------------------------------------------------

class BundleCheckTest : public ::testing::Test {
 protected:
  Verdict Run(const SignedBundle& b, state::NonceStore& store) {
    ctx_ = RequestContext();
    return BundleCheck(cfg_, clock_, store).Run(b, ctx_);
  }
  Verdict Run(const SignedBundle& b) { return Run(b, nonces_); }

  std::shared_ptr<config::GatewayConfig> cfg_ = MakeConfig();
  testing::FakeClock clock_{kNow};
  state::MemoryNonceStore nonces_{clock_};
  RequestContext ctx_;
};

TEST_F(BundleCheckTest, ValidBundlePassesAndFillsTheContext) {
  SignedBundle b = Sign(MakeBundle());
  EXPECT_PASSED(Run(b));
  EXPECT_EQ(ctx_.operator_id, "op-001");
  EXPECT_EQ(ctx_.campaign_id, "cmp-001");
  EXPECT_EQ(ctx_.tenant_id, testing::kTenant1);
  EXPECT_EQ(ctx_.timestamp, kNow);
  EXPECT_EQ(ctx_.nonce, kBundleNonce);
  EXPECT_EQ(ctx_.signing_kid, "default");
  EXPECT_TRUE(ctx_.nonce_registered);
  EXPECT_EQ(ctx_.nonce_key, BundleNonceKey(b));
}

TEST_F(BundleCheckTest, ParsedBundleVerifies) {
  SignedBundle parsed;
  ASSERT_TRUE(ParseFederationRequest(RequestBody(BundleJson(Sign(MakeBundle()))), &parsed).ok());
  EXPECT_PASSED(Run(parsed));
}

TEST_F(BundleCheckTest, SkewBoundaries) {
  EXPECT_PASSED(Run(Sign(MakeBundle(kNow - 30, "bundle-nonce-past"))));
  EXPECT_PASSED(Run(Sign(MakeBundle(kNow + 30, "bundle-nonce-future"))));
  Verdict v = Run(Sign(MakeBundle(kNow - 31, "bundle-nonce-old")));
  EXPECT_REJECTED(v, Reason::kTimestampSkew, 401, kFederationStale);
  EXPECT_EQ(v.internal_detail,
            "ts=" + std::to_string(kNow - 31) + " now=" + std::to_string(kNow));
  EXPECT_REJECTED(Run(Sign(MakeBundle(kNow + 31, "bundle-nonce-new"))), Reason::kTimestampSkew, 401,
                  kFederationStale);
  EXPECT_EQ(nonces_.SizeForTest(), 2u);  // stale bundles never reach the nonce cache
}

TEST_F(BundleCheckTest, ExtremeTimestampsAreStale) {
  for (int64_t ts : {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    SCOPED_TRACE(ts);
    EXPECT_REJECTED(Run(Sign(MakeBundle(ts))), Reason::kTimestampSkew, 401, kFederationStale);
  }
}

TEST_F(BundleCheckTest, NegativeSkewRejectsEverything) {
  cfg_->allowed_clock_skew_seconds = -1;
  EXPECT_REJECTED(Run(Sign(MakeBundle())), Reason::kTimestampSkew, 401, kFederationStale);
}

TEST_F(BundleCheckTest, StaleIsReportedBeforeABadSignature) {
  SignedBundle b = MakeBundle(kNow - 100);
  b.signature = std::string(64, '\0');
  EXPECT_REJECTED(Run(b), Reason::kTimestampSkew, 401, kFederationStale);
}

TEST_F(BundleCheckTest, ZeroSignature) {
  SignedBundle b = MakeBundle();
  b.signature = std::string(64, '\0');
  Verdict v = Run(b);
  EXPECT_REJECTED(v, Reason::kBadSignature, 401, kFederationProofFailed);
  EXPECT_EQ(v.internal_detail, "no federation key verifies");
  EXPECT_FALSE(ctx_.nonce_registered);
  EXPECT_EQ(nonces_.SizeForTest(), 0u);  // unsigned bundles never burn a nonce
}

TEST_F(BundleCheckTest, ShortSignature) {
  SignedBundle b = Sign(MakeBundle());
  b.signature.resize(63);
  Verdict v = Run(b);
  EXPECT_REJECTED(v, Reason::kBadSignature, 401, kFederationProofFailed);
  EXPECT_EQ(v.internal_detail, "signature is not 64 bytes");
}

TEST_F(BundleCheckTest, EveryFieldIsCoveredByTheSignature) {
  SignedBundle good = Sign(MakeBundle());
  std::vector<SignedBundle> tampered(5, good);
  tampered[0].operator_id = "op-002";
  tampered[1].campaign_id = "cmp-002";
  tampered[2].execution_hash = std::string(32, 'A') + std::string(32, '0');  // case changed
  tampered[3].timestamp = kNow + 1;
  tampered[4].nonce = "bundle-nonce-0002";
  for (size_t i = 0; i < tampered.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_REJECTED(Run(tampered[i]), Reason::kBadSignature, 401, kFederationProofFailed);
  }
  EXPECT_EQ(nonces_.SizeForTest(), 0u);
}

TEST_F(BundleCheckTest, UnconfiguredKey) {
  EXPECT_REJECTED(Run(Sign(MakeBundle(), kOtherSeedHex)), Reason::kBadSignature, 401,
                  kFederationProofFailed);
}

TEST_F(BundleCheckTest, FederationKeysReplaceTheDefaultKeys) {
  cfg_->federation_signing_keys = {{"fed-1", PublicKeyOfSeed(kOtherSeedHex)}};
  EXPECT_REJECTED(Run(Sign(MakeBundle())), Reason::kBadSignature, 401, kFederationProofFailed);
  EXPECT_PASSED(Run(Sign(MakeBundle(), kOtherSeedHex)));
  EXPECT_EQ(ctx_.signing_kid, "fed-1");
}

TEST_F(BundleCheckTest, RotatedFederationKeysBothVerify) {
  cfg_->federation_signing_keys = {{"fed-old", PublicKeyOfSeed(kOtherSeedHex)},
                                   {"fed-new", ProducerKey()}};
  EXPECT_PASSED(Run(Sign(MakeBundle(kNow, "bundle-nonce-new"))));
  EXPECT_EQ(ctx_.signing_kid, "fed-new");
  EXPECT_PASSED(Run(Sign(MakeBundle(kNow, "bundle-nonce-old"), kOtherSeedHex)));
  EXPECT_EQ(ctx_.signing_kid, "fed-old");
}

TEST_F(BundleCheckTest, ReplayWithinTheTtl) {
  SignedBundle b = Sign(MakeBundle());
  ASSERT_TRUE(Run(b).ok());
  Verdict v = Run(b);
  EXPECT_REJECTED(v, Reason::kReplay, 409, "Replay detected: nonce already used");
  EXPECT_EQ(v.internal_detail, "federation bundle nonce reused by operator op-001");
  EXPECT_FALSE(ctx_.nonce_registered);
}

TEST_F(BundleCheckTest, SameNonceWithAFreshTimestampIsStillAReplay) {
  // The bundle nonce key ignores the timestamp: re-signing with a new timestamp does not help.
  ASSERT_TRUE(Run(Sign(MakeBundle(kNow))).ok());
  clock_.AdvanceSeconds(10);
  EXPECT_REJECTED(Run(Sign(MakeBundle(kNow + 10))), Reason::kReplay, 409,
                  "Replay detected: nonce already used");
}

TEST_F(BundleCheckTest, SameNonceOfAnotherOperatorIsNotAReplay) {
  ASSERT_TRUE(Run(Sign(MakeBundle(kNow, kBundleNonce, "op-001"))).ok());
  EXPECT_PASSED(Run(Sign(MakeBundle(kNow, kBundleNonce, "op-002"))));
  EXPECT_EQ(ctx_.tenant_id, testing::kTenant2);
}

TEST_F(BundleCheckTest, NonceReusableAfterTheTtl) {
  ASSERT_TRUE(Run(Sign(MakeBundle(kNow))).ok());
  clock_.AdvanceSeconds(cfg_->nonce_ttl_seconds - 1);
  EXPECT_REJECTED(Run(Sign(MakeBundle(kNow + cfg_->nonce_ttl_seconds - 1))), Reason::kReplay, 409,
                  "Replay detected: nonce already used");
  clock_.AdvanceSeconds(1);
  EXPECT_PASSED(Run(Sign(MakeBundle(kNow + cfg_->nonce_ttl_seconds))));
}

TEST_F(BundleCheckTest, NonceStoreDownIs503) {
  UnavailableNonceStore down;
  Verdict v = Run(Sign(MakeBundle()), down);
  EXPECT_REJECTED(v, Reason::kNonceStoreUnavailable, 503, "Nonce store unavailable");
  EXPECT_NE(v.internal_detail.find("injected: redis down"), std::string::npos);
  EXPECT_FALSE(ctx_.nonce_registered);
  EXPECT_TRUE(ctx_.tenant_id.empty());  // no fallback to the tenant mapping
}

TEST_F(BundleCheckTest, UnmappedOperatorAfterTheNonceIsBurned) {
  Verdict v = Run(Sign(MakeBundle(kNow, kBundleNonce, "op-999")));
  EXPECT_REJECTED(v, Reason::kOperatorUnmapped, 403, "Operator is not mapped to any tenant");
  EXPECT_EQ(v.internal_detail, "operator=op-999");
  EXPECT_TRUE(ctx_.nonce_registered);
  EXPECT_TRUE(ctx_.tenant_id.empty());
  EXPECT_EQ(nonces_.SizeForTest(), 1u);
}

}  // namespace
}  // namespace vv::verify

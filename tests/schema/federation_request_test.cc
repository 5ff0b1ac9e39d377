// The federation bundle body model (schema/federation_request.h): the kind of each error (the
// gateway's verdicts are tested in tests/verify/bundle_check_test.cc).
#include "schema/federation_request.h"

#include <gtest/gtest.h>

#include <string>

namespace vv::schema {
namespace {

const std::string kHash(64, 'A');

std::string Body(const std::string& signature = "c2lnbmF0dXJlLWJ5dGVz") {
  return R"({"bundle":{"operator_id":"op-001","campaign_id":"cmp-001","execution_hash":")" +
         kHash + R"(","timestamp":1772107200,"nonce":"bundle-nonce-0001","signature":")" +
         signature + R"("}})";
}

TEST(FederationRequestTest, AValidBodyFillsTheBundleKeepingTheSignedCase) {
  FederationBody b = ParseFederationBody(Body());
  ASSERT_EQ(b.error, FederationBodyError::kNone) << b.why;
  EXPECT_EQ(b.bundle.operator_id, "op-001");
  EXPECT_EQ(b.bundle.execution_hash, kHash) << "case kept: these are the signed bytes";
  EXPECT_EQ(b.bundle.timestamp, 1772107200);
  EXPECT_EQ(b.bundle.signature, "signature-bytes");
}

TEST(FederationRequestTest, EachErrorHasItsKindAndPreciseCause) {
  FederationBody b = ParseFederationBody("{not json");
  EXPECT_EQ(b.error, FederationBodyError::kInvalidJson);
  EXPECT_EQ(b.why.rfind("invalid JSON: ", 0), 0u) << b.why;
  b = ParseFederationBody(R"({"bundle":{}})");
  EXPECT_EQ(b.error, FederationBodyError::kSchema);
  EXPECT_EQ(b.why, "bundle.operator_id: field required");
  b = ParseFederationBody(R"({"bundle":[]})");
  EXPECT_EQ(b.why, "bundle: must be an object");
  b = ParseFederationBody(R"({})");
  EXPECT_EQ(b.why, "bundle: field required");
  b = ParseFederationBody(Body("not base64 at all!"));
  EXPECT_EQ(b.error, FederationBodyError::kSignatureEncoding);
  EXPECT_EQ(b.why, "bundle.signature is not strict standard base64");
}

}  // namespace
}  // namespace vv::schema

// BodyBindingCheck: the body's own timestamp and nonce (ctx.body_timestamp / body_nonce, filled by
// the endpoint's parser) must be the signed header values; 401 with the telemetry texts.
// BodyCheck applies the same rule to a telemetry body (body_check_test).

#include <gtest/gtest.h>

#include "verify/checks.h"
#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

Verdict Bind(int64_t body_ts, const std::string& body_nonce) {
  RequestContext ctx;
  ctx.timestamp = kNow;
  ctx.nonce = "nonce-graph-0001";
  ctx.body_timestamp = body_ts;
  ctx.body_nonce = body_nonce;
  return BodyBindingCheck().Run(ctx);
}

TEST(BodyBindingCheckTest, MatchingValuesPass) { EXPECT_PASSED(Bind(kNow, "nonce-graph-0001")); }

TEST(BodyBindingCheckTest, TimestampMismatch) {
  EXPECT_REJECTED(Bind(kNow + 1, "nonce-graph-0001"), Reason::kTimestampMismatch, 401,
                  "Body timestamp mismatch with signed header");
  // The timestamp is compared first.
  EXPECT_REJECTED(Bind(kNow - 1, "other"), Reason::kTimestampMismatch, 401,
                  "Body timestamp mismatch with signed header");
}

TEST(BodyBindingCheckTest, NonceMismatch) {
  EXPECT_REJECTED(Bind(kNow, "nonce-graph-0002"), Reason::kNonceMismatch, 401,
                  "Body nonce mismatch with signed header");
  EXPECT_REJECTED(Bind(kNow, "NONCE-GRAPH-0001"), Reason::kNonceMismatch, 401,
                  "Body nonce mismatch with signed header");
  EXPECT_REJECTED(Bind(kNow, ""), Reason::kNonceMismatch, 401,
                  "Body nonce mismatch with signed header");
}

TEST(BodyBindingCheckTest, AnUnfilledContextNeverPasses) {
  // A parser that forgot to fill the body fields cannot pass a signed request through.
  RequestContext ctx;
  ctx.timestamp = kNow;
  ctx.nonce = "nonce-graph-0001";
  EXPECT_FALSE(BodyBindingCheck().Run(ctx).ok());
}

}  // namespace
}  // namespace vv::verify

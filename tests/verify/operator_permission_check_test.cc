// OperatorPermissionCheck (issue 12 item 2): the authenticated identity may act for the
// request's operator (its `operators` list; an unbound identity for any). 403 with the
// tenant-mapping text, reason operator_not_permitted; no identity fails closed.

#include <gtest/gtest.h>

#include "verify/checks.h"
#include "verify/verify_test_support.h"

namespace vv::verify {
namespace {

using namespace testsupport;  // NOLINT

constexpr const char* kText = "Operator tenant mapping violation";

class OperatorPermissionCheckTest : public ::testing::Test {
 protected:
  Verdict Run(const config::ServiceIdentity* identity, const std::string& op) {
    RequestContext ctx;
    ctx.identity = identity;
    ctx.operator_id = op;
    return OperatorPermissionCheck().Run(ctx);
  }
  config::ServiceIdentity Bound(std::vector<std::string> ops) {
    config::ServiceIdentity id;
    id.id = kIdentity;
    id.cert_sha256_pins = {kPin};
    id.operators = std::move(ops);
    return id;
  }
};

TEST_F(OperatorPermissionCheckTest, BoundIdentityActsForItsOperators) {
  config::ServiceIdentity id = Bound({"op-001", "op-002"});
  EXPECT_PASSED(Run(&id, "op-001"));
  EXPECT_PASSED(Run(&id, "op-002"));
}

TEST_F(OperatorPermissionCheckTest, BoundIdentityCannotActForAnotherOperator) {
  config::ServiceIdentity id = Bound({"op-001"});
  Verdict v = Run(&id, "op-002");
  EXPECT_REJECTED(v, Reason::kOperatorNotPermitted, 403, kText);
  EXPECT_EQ(v.internal_detail, std::string("identity=") + kIdentity + " may not act for operator=op-002");
}

TEST_F(OperatorPermissionCheckTest, OperatorMatchIsExact) {
  config::ServiceIdentity id = Bound({"op-001"});
  for (const char* op : {"OP-001", "op-001 ", "op-0011", "op-00", ""}) {
    SCOPED_TRACE(op);
    EXPECT_REJECTED(Run(&id, op), Reason::kOperatorNotPermitted, 403, kText);
  }
}

TEST_F(OperatorPermissionCheckTest, UnboundIdentityMayActForAnyOperator) {
  config::ServiceIdentity id = Bound({});
  EXPECT_PASSED(Run(&id, "op-001"));
  EXPECT_PASSED(Run(&id, "anything"));
}

TEST_F(OperatorPermissionCheckTest, NoIdentityFailsClosed) {
  Verdict v = Run(nullptr, "op-001");
  EXPECT_REJECTED(v, Reason::kOperatorNotPermitted, 403, kText);
  EXPECT_EQ(v.internal_detail, "identity=none may not act for operator=op-001");
}

TEST_F(OperatorPermissionCheckTest, LongOperatorIdIsBoundedInTheAuditDetail) {
  config::ServiceIdentity id = Bound({"op-001"});
  Verdict v = Run(&id, std::string(1000, 'z'));
  EXPECT_REJECTED(v, Reason::kOperatorNotPermitted, 403, kText);
  EXPECT_EQ(v.internal_detail, std::string("identity=") + kIdentity +
                                   " may not act for operator=" + std::string(128, 'z') + "...");
}

TEST_F(OperatorPermissionCheckTest, OperatorIdOfExactly128IsNotTruncated) {
  config::ServiceIdentity id = Bound({"op-001"});
  Verdict v = Run(&id, std::string(128, 'z'));
  EXPECT_EQ(v.internal_detail, std::string("identity=") + kIdentity +
                                   " may not act for operator=" + std::string(128, 'z'));
}

}  // namespace
}  // namespace vv::verify

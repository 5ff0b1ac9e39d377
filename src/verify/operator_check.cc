#include "verify/checks.h"

namespace vv::verify {

Verdict OperatorPermissionCheck::Run(RequestContext& ctx) const {
  // No identity means an unauthenticated path reached us: fail closed.
  if (ctx.identity == nullptr || !ctx.identity->MayActFor(ctx.operator_id))
    return Verdict::Reject(
        Reason::kOperatorNotPermitted, 403, "Operator tenant mapping violation",
        "identity=" + (ctx.identity ? ctx.identity->id : std::string("none")) +
            " may not act for operator=" + BoundedEcho(ctx.operator_id));
  return Verdict::Pass();
}

}  // namespace vv::verify

#include "verify/checks.h"

namespace vv::verify {

namespace {
// Operator ids come from the request: bounded before they reach the audit record.
std::string Bounded(std::string_view s) {
  constexpr size_t kMax = 128;
  return s.size() <= kMax ? std::string(s) : std::string(s.substr(0, kMax)) + "...";
}
}  // namespace

Verdict OperatorPermissionCheck::Run(RequestContext& ctx) const {
  // No identity means an unauthenticated path reached us: fail closed.
  if (ctx.identity == nullptr || !ctx.identity->MayActFor(ctx.operator_id))
    return Verdict::Reject(
        Reason::kOperatorNotPermitted, 403, "Operator tenant mapping violation",
        "identity=" + (ctx.identity ? ctx.identity->id : std::string("none")) +
            " may not act for operator=" + Bounded(ctx.operator_id));
  return Verdict::Pass();
}

}  // namespace vv::verify

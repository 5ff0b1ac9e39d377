#pragma once
// Verification pieces of the signed cognitive endpoints (execution-graph, feedback query),
// built from the telemetry checks: the same identity -> signature -> replay chain, then (after
// the endpoint parsed its body) the body/header binding, the operator -> tenant mapping and a
// rate limit keyed per endpoint ("graph:<operator_id>", "feedback:<operator_id>").
// Thread-safety: stateless functions and immutable checks.

#include <string>
#include <string_view>

#include "common/clock.h"
#include "config/gateway_config.h"
#include "state/state.h"
#include "verify/check.h"
#include "verify/checks.h"

namespace vv::verify {

// Identity (R1-R4), request signature (R6-R13), replay (R14), in that order.
Chain MakeSignedRequestChain(ConfigPtr cfg, const Clock& clock, state::NonceStore& nonces);

// The body's timestamp and nonce must be the signed header values (401, telemetry texts).
Verdict CheckBodyBinding(const RequestContext& ctx, int64_t body_timestamp,
                         std::string_view body_nonce);

// The operator maps to exactly `tenant_id` (403 "Operator is not mapped to any tenant" /
// "Operator tenant mapping violation"); case-insensitive tenant comparison.
Verdict CheckOperatorTenant(const config::GatewayConfig& cfg, std::string_view operator_id,
                            std::string_view tenant_id);

// Acquires one unit for `key` (429 "Operator burst anomaly detected" / 503 "Rate limiter
// unavailable"); on success ctx.rate_ticket holds it (refund on a later transient failure).
Verdict AcquireRate(state::RateLimiter& limiter, const std::string& key, RequestContext& ctx);

}  // namespace vv::verify

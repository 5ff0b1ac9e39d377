#pragma once
// FederationService: POST /internal/v1/federation/verify (wire-contract 1.5, 2.2) with the
// reference's gaps closed: identity first (R1-R4), then the strict body (422, never 500), then
// verify::BundleCheck (freshness 401, proof of origin 401, dedicated bundle nonce cache 409,
// operator -> tenant mapping 403). 200 {"accepted": true, "bundle_hash": "<sha256 hex>"} as the
// reference. Every outcome is audited: federation.accepted / federation.rejected.
//
// Thread-safety: Handle() may be called concurrently; members are immutable or thread-safe.
// Ownership: borrows every dependency (they must outlive the service).

#include <atomic>
#include <memory>
#include <mutex>

#include "app/published.h"
#include "app/router.h"
#include "audit/audit_log.h"
#include "common/clock.h"
#include "config/gateway_config.h"
#include "http/server.h"
#include "state/state.h"
#include "stats/service_metrics.h"
#include "verify/bundle_check.h"
#include "verify/chains.h"

namespace vv::app {

inline constexpr std::string_view kFederationVerifyPath = "/internal/v1/federation/verify";

struct FederationDeps {
  std::shared_ptr<const config::GatewayConfig> config;
  const Clock* clock = nullptr;
  Random* random = nullptr;
  state::NonceStore* bundle_nonces = nullptr;  // the dedicated bundle nonce cache
  state::RateLimiter* rejection_budget = nullptr;  // per-identity rejections; nullptr = none
  audit::AuditSink* audit = nullptr;
  stats::GatewayMetrics* metrics = nullptr;  // nullptr = a private registry
};

struct FederationCounters {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> audit_failures{0};
};

class FederationService {
 public:
  explicit FederationService(FederationDeps deps);
  // Answers exactly once (synchronously).
  void Handle(http::Request request, http::Responder respond);
  // This service's endpoint row (app/router.h): no media type checked at the head; the service
  // answers a wrong method itself (405, federation.rejected).
  std::vector<Endpoint> Endpoints();
  const FederationCounters& counters() const { return counters_; }
  // Hot reload: later requests use the checks built from `cfg`.
  void Reload(std::shared_ptr<const config::GatewayConfig> cfg);

 private:
  struct Snapshot {
    Snapshot(std::shared_ptr<const config::GatewayConfig> c, const Clock& clock,
             state::NonceStore& nonces)
        : config(c), chain(verify::MakeFederationChain(c, clock, nonces)) {}
    std::shared_ptr<const config::GatewayConfig> config;
    verify::EndpointChain chain;  // verify/chains.cc
  };
  std::shared_ptr<const Snapshot> Current() const { return snapshot_.Current(); }

  FederationDeps deps_;
  std::unique_ptr<stats::Registry> own_registry_;
  std::unique_ptr<stats::GatewayMetrics> own_metrics_;
  Published<Snapshot> snapshot_;
  FederationCounters counters_;
};

}  // namespace vv::app

#pragma once
// The security policy gate (manual sections 8, 25 and 27) as policy-as-code: evaluates named
// rules over a gateway configuration file and reports every violation instead of stopping at
// the first one. Used by `vvctl policy check` in CI on every shipped example config.
//
// The gate loads the file with config::LoadGatewayConfig: its rules are extra rules over the
// same loaded struct. The loader already refuses many insecure settings; when it does, the gate
// reports one "config_invalid" violation with the loader's message (every violation it found)
// and still evaluates its rules over the loader's unvalidated draft (config::DraftGatewayConfig:
// the same key table, YAML then environment), so the report names the specific rule as well.
// Only the allowlist and tenant map are also read as written (duplicate keys, unnormalised pins).
//
// Rules (RuleNames()): mtls_required, signatures_required, insecure_dev_mode_off,
// pinsets_explicit, production_backends, key_file_permissions, cert_expiry, nonce_ttl_vs_skew,
// tenant_map_valid, audit_seals_signed, production_backend_auth (issue 12: production needs a
// queue signing key, NATS credentials + TLS, a Redis password), no_published_test_keys (the
// wire contract's appendix keys, trusted or signing, in any profile) and no_placeholder_pins
// (pins with a repeating pattern such as "aaaa..."), replica_identity (issue 14: production
// with the shared jetstream audit anchor needs replica_id). Every rule has a fix (RuleFixes()), shown
// under each violation in text and as "fix" in JSON.
//
// Thread-safety: stateless functions; safe to call concurrently. Time comes from the injected
// Clock (certificate expiry), the environment from the injected EnvLookup.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/gateway_config.h"

namespace vv::policy {

// Severity strings used in reports.
inline constexpr char kCritical[] = "critical";
inline constexpr char kHigh[] = "high";
inline constexpr char kMedium[] = "medium";

struct Violation {
  std::string rule;      // a RuleNames() entry or "config_invalid"
  std::string severity;  // critical | high | medium
  std::string detail;    // human-readable, names the key or file (the message)
};

struct PolicyOptions {
  // cert_expiry: server cert and CA must stay valid for at least this many days.
  int64_t min_cert_days = 30;
};

struct PolicyReport {
  std::vector<Violation> violations;
  std::vector<std::string> checked;  // rules evaluated, in evaluation order
  bool ok() const { return violations.empty(); }
  // True if some violation has this rule name.
  bool Violates(const std::string& rule) const;
  // {"checked":[...],"ok":bool,"violations":[{"detail","fix","rule","severity"}]} on one line
  // (canonical JSON, keys sorted).
  std::string ToJson() const;
  // One line per violation ("FAIL rule [severity]: detail") and per passed rule ("PASS rule").
  std::string ToText() const;
};

// The rule names, in evaluation order ("config_invalid" is not among them: it is reported
// when the loader refuses the file).
const std::vector<std::string>& RuleNames();
// rule id (every RuleNames() entry and "config_invalid") -> how to fix a violation of it.
const std::map<std::string, std::string>& RuleFixes();

// Evaluates every rule over the gateway config file at `path` (environment overrides from
// `env`, as the gateway itself would apply them).
PolicyReport CheckGatewayConfigFile(const std::string& path, const config::EnvLookup& env,
                                    const Clock& clock, const PolicyOptions& options);

}  // namespace vv::policy

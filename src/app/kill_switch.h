#pragma once
// Kill switch (SD-03, manual section 32): dual-controlled revocation of a service identity on
// every gateway replica.
//
// Protocol:
//  * A change ("engage" or "release") is described by a canonical request,
//      json::Canonical({"action", "generation", "identity", "reason"}),
//    where `generation` is the current generation of the shared kill-switch state (so an
//    approval is valid for one change only and cannot be replayed later).
//  * Each approver signs those bytes with their Ed25519 key; an approval file is
//      {"approver": NAME, "signature": base64(sig)}.
//    The approvers' public keys are `kill_switch_approvers: {NAME: b64}` in the gateway config.
//  * Apply() needs two valid approvals by two DISTINCT configured approvers (the same approver
//    twice counts once; a requester alone is never enough), then writes the new state
//    (generation + 1) with a compare-and-swap: to Redis (key `kill_switch_redis_key`, plus a
//    PUBLISH on the same name) when `redis_url` is set, else to `kill_switch_file` (atomic
//    rename). The state document carries every active revocation with its request and approvals.
//  * Every gateway polls the state (KillSwitchWatcher in gateway_app, every 250 ms), applies
//    the revoked set to its config snapshot and audits kill_switch.engaged / .released.
//
// Thread-safety: free functions are pure; a KillSwitchStore is used by one thread at a time
// per instance (the Redis pool itself is thread-safe).

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "config/gateway_config.h"
#include "json/json.h"

namespace vv::state {
class RedisPool;
}

namespace vv::app::killswitch {

struct Approval {
  std::string approver;
  std::string signature_b64;
};

std::string CanonicalRequest(std::string_view action, std::string_view identity,
                             std::string_view reason, int64_t generation);
Result<Approval> ParseApproval(std::string_view text);
// An approval from its JSON object form {approver, signature}.
Result<Approval> ApprovalFrom(const json::Value& v);
std::string ApprovalJson(const Approval& a);
Approval Sign(std::string_view canonical_request, std::string_view approver,
              const crypto::Ed25519PrivateKey& key);

// The distinct approvers whose signatures verify, when there are at least two; else
// PermissionDenied naming the problem (unknown approver, bad signature, duplicate approver,
// fewer than two distinct approvers).
Result<std::vector<std::string>> VerifyApprovals(std::string_view canonical_request,
                                                 const std::vector<Approval>& approvals,
                                                 const std::vector<config::SigningKey>& approvers);

struct Revocation {
  std::string identity;
  std::string reason;
  std::string engaged_at;  // ISO-8601 UTC
  std::string request;     // the canonical request that was approved
  std::vector<Approval> approvals;
};

struct State {
  int64_t generation = 0;
  std::map<std::string, Revocation> revoked;  // by identity
  json::Value last_change;                    // {action, identity, reason, approvers, at}

  std::set<std::string> RevokedIds() const;
};

// "" (no state written yet) parses to the empty state at generation 0.
Result<State> ParseState(std::string_view text);
std::string SerializeState(const State& s);

// Where the shared state lives.
class Store {
 public:
  virtual ~Store() = default;
  // The raw state text ("" when none has been written).
  virtual Result<std::string> Read() = 0;
  // Writes `next` only if the stored text still equals `expected`; FailedPrecondition-like
  // (Aborted) error when it changed in between.
  virtual Status CompareAndSwap(const std::string& expected, const std::string& next) = 0;
  virtual std::string Describe() const = 0;
};

std::unique_ptr<Store> MakeFileStore(std::string path);
std::unique_ptr<Store> MakeRedisStore(std::shared_ptr<state::RedisPool> pool, std::string key);
// Redis when cfg.redis_url is set, else the file.
Result<std::unique_ptr<Store>> MakeStore(const config::GatewayConfig& cfg);

// Whether a gateway that last applied the state at `applied_generation` may lift the
// revocation of `identity` because of `st` (issue 12). The state itself is writable by anyone
// with access to the file or the Redis key, so it proves nothing by itself; the release must
// carry its own dual control, bound to this very state:
//   * st.generation > applied_generation (an older state written back is a replay);
//   * st.last_change.request is the canonical release request of `identity` approved by two
//     distinct configured approvers, and its generation is st.generation - 1 (the approvals
//     were given for the transition into this state, not for an earlier one).
// OK, or PermissionDenied naming the precise reason.
Status CheckRelease(const State& st, std::string_view identity, int64_t applied_generation,
                    const std::vector<config::SigningKey>& approvers);

// What applying the state `st` changes on a gateway whose current revocations are `revoked`,
// applied up to `applied_generation` (pure: no I/O, no clock, no logging). Every identity in
// `st` is revoked; an identity missing from `st` is released only when CheckRelease allows it,
// otherwise it stays revoked (fail closed) and is listed in `refused_releases` with the reason.
// The applied generation only moves forward: an older state (a replay) can add revocations but
// never lift one.
struct Plan {
  std::set<std::string> revoked;        // the revocations after applying `st`
  int64_t applied_generation = -1;      // max(applied_generation, st.generation)
  std::vector<std::string> engaged;     // newly revoked, sorted
  std::vector<std::string> released;    // lifted, sorted
  std::vector<std::pair<std::string, std::string>> refused_releases;  // identity, why; sorted
  // The revoked set changes (publish a new snapshot, audit each change).
  bool changed() const { return !engaged.empty() || !released.empty(); }
  // The applied record must be written (the set or the generation moved).
  bool save = false;
};
Plan Diff(const std::set<std::string>& revoked, int64_t applied_generation, const State& st,
          const std::vector<config::SigningKey>& approvers);

// What a gateway last applied, kept in its own data directory (<audit_log_path>.kill-switch,
// mode 0600) so a restart cannot be used to accept an older state written back into the
// shared store while the gateway was down (issue 12).
struct Applied {
  int64_t generation = -1;
  std::set<std::string> revoked;
};
// A missing file is the empty record (generation -1); a corrupt one is an error.
Result<Applied> LoadApplied(const std::string& path);
Status SaveApplied(const std::string& path, const Applied& applied);  // atomic rename, fsync

// Verifies and applies one change. `action` is "engage" or "release". Engage requires the
// identity to be configured and not yet revoked; release requires it to be revoked.
Result<State> Apply(Store& store, const config::GatewayConfig& cfg, std::string_view action,
                    const std::string& identity, const std::string& reason,
                    const std::vector<Approval>& approvals, const Clock& clock);

}  // namespace vv::app::killswitch

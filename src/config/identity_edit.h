#pragma once
// The edits behind `vvctl identity ...` (issue 8 rotation, issue 12 operators, issue 13: on a
// machine-owned file). An edit changes one identity of the identities file the gateway config
// names (identities_file, config/identities_file.h); the whole gateway config is validated
// with the edited identities as the gateway would load it (every violation reported), and only
// then is the file rewritten whole and atomically, its mode kept. The operator then reloads
// (SIGHUP or POST /admin/reload). Concurrent vvctl runs on one directory are serialised by an
// flock on it, so two edits cannot lose one another.
//
// A config whose identities are inline (allowed_service_identities in the YAML, or the env
// JSON) is refused with the way out: `vvctl identity export` writes the current identities to
// a new file, and the operator replaces the inline mapping with `identities_file: <that file>`.
// vvctl never rewrites the hand-owned YAML (it used to splice it; that editor is gone).
//
// Retiring refuses to remove an identity's last pin or last key (that would lock it out; use
// the kill switch instead).
// Thread-safety: functions over files; no shared state.

#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "config/gateway_config.h"

namespace vv::config::identity {

// kSetOperators replaces the identity's `operators` list (issue 12: the operators, hence
// tenants, the identity may act for; production refuses an identity without them).
enum class Op { kStageKey, kRetireKey, kStagePin, kRetirePin, kSetOperators };

struct Edit {
  Op op;
  std::string identity;
  std::string kid;             // keys
  std::string public_key_b64;  // kStageKey
  std::string pin;             // pins (any accepted pin notation; normalised)
  std::vector<std::string> operators = {};  // kSetOperators (each must be mapped)
};

// Applies `edit` to the list (no validation beyond the edit's own: unknown identity NotFound,
// duplicate AlreadyExists, last pin/key InvalidArgument, malformed pin/key InvalidArgument).
Status Apply(const Edit& edit, std::vector<ServiceIdentity>* identities);

// What ApplyToConfig and Export wrote.
struct Written {
  std::string path;  // the identities file
  std::size_t identities = 0;
};

// Loads the gateway config at `config_path` (with `env`), applies `edit` to its identities file,
// validates the whole config with the result and writes the file. The file is untouched on any
// error.
Result<Written> ApplyToConfig(const std::string& config_path, const Edit& edit,
                              const EnvLookup& env);

// Writes the identities of the (valid) gateway config at `config_path` to a new identities file
// `out` (mode 0644; refuses an existing file unless `overwrite`).
Result<Written> Export(const std::string& config_path, const std::string& out, bool overwrite,
                       const EnvLookup& env);

}  // namespace vv::config::identity

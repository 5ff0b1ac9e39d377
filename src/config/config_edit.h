#pragma once
// Rotation helpers behind `vvctl identity ...` (issue 8): edit one identity of the gateway
// YAML (vectorvue.telemetry_gateway.allowed_service_identities.<ID>) with yaml-cpp, validate
// the result as the gateway would (ParseGatewayConfig), and write it atomically (temp file +
// rename, the original file mode kept). The operator then reloads (SIGHUP or POST
// /admin/reload).
//
// The edit is surgical: only the lines of the entries whose data changed are rewritten (e.g.
// one `- <pin>` item appended under cert_sha256, one kid line removed, or a pin-only
// `ID: <pin>` line replaced by its mapping form, keeping that line's trailing comment); all
// other bytes - comments, blank lines, key order, quoting, CRLF line endings, a BOM - stay as
// they were. Rewritten entries are emitted in block style, indented like their siblings. The
// spliced text is re-parsed and must carry exactly the edited data. When it does not, or when
// the entries cannot be located safely (flow-style `{...}`/`[...]` collections, anchors,
// aliases or tags in the rewritten lines, mixed line endings, irregular layout), the whole
// document is re-emitted by yaml-cpp instead (same data, comments lost); ApplyReport says so
// and ApplyToFile logs a warning.
//
// A pin-only identity (`ID: <sha256>`) is converted to the mapping form
// {cert_sha256: [...], signing_keys: {...}} on the first edit. Retiring refuses to remove an
// identity's last pin or last key (that would lock it out; use the kill switch instead).
// Thread-safety: pure functions over files; no shared state.

#include <string>
#include <vector>

#include "common/status.h"
#include "config/gateway_config.h"

namespace vv::config::edit {

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

// How ApplyToText produced its text.
struct ApplyReport {
  bool surgical = false;        // only the changed entries' lines were rewritten
  std::string fallback_reason;  // why the whole document was re-emitted (when !surgical)
};

// Applies `edit` to the YAML text; returns the new text. Validates it with `env` (relative
// paths against `base_dir`) unless `validate` is false. `report` (optional) receives how.
Result<std::string> ApplyToText(const std::string& yaml_text, const Edit& edit,
                                const config::EnvLookup& env, const std::string& base_dir,
                                bool validate = true, ApplyReport* report = nullptr);
// Reads `path`, applies, validates and writes atomically.
Status ApplyToFile(const std::string& path, const Edit& edit, const config::EnvLookup& env);

// Writes `content` to `path` atomically (same directory temp file, fsync, rename) with `mode`.
Status WriteFileAtomic(const std::string& path, const std::string& content, int mode);

}  // namespace vv::config::edit

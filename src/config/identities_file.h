#pragma once
// The machine-owned identities file (issue 13: retire the comment-preserving YAML splicer).
// The gateway config names it with `identities_file: PATH` (VV_TG_IDENTITIES_FILE) in place of
// an inline `allowed_service_identities` mapping; `vvctl identity ...` rewrites it whole and
// atomically (config/identity_edit.h) and the gateway reads it at start-up and on every
// reload. Hand-owned YAML stays hand-owned: nothing ever rewrites gateway.yaml.
//
// Format (JSON, UTF-8; keys as below, nothing else):
//   {
//     "format": "vectorvue.identities.v1",
//     "identities": {
//       "<identity id>": {
//         "cert_sha256": ["<64 hex>", ...],
//         "operators": ["<operator id>", ...],
//         "signing_keys": {"<kid>": "<base64 Ed25519 public key>", ...}
//       }, ...
//     }
//   }
// An identity may also be written as a bare pin string, like VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON
// (one parser serves both); SerializeIdentities always writes the object form, one value per
// line, identities in list order, so a diff of two versions shows exactly what changed.
//
// LoadIdentitiesFile refuses (fail closed) a file that is not a regular file, is larger than
// kMaxIdentitiesFileBytes, or is writable by group or others (whoever can write it can admit a
// producer), as well as any syntax or field error; errors name the file.
//
// Thread-safety: pure functions; no shared state.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/gateway_config.h"
#include "json/json.h"

namespace vv::config {

inline constexpr std::string_view kIdentitiesFileFormat = "vectorvue.identities.v1";
inline constexpr std::size_t kMaxIdentitiesFileBytes = std::size_t{4} << 20;

// ---- Identity fields, shared by the YAML section, the env JSON and the file. ----

// A signing key: trimmed non-empty kid, standard base64 of a raw 32-byte Ed25519 public key.
Result<SigningKey> ParseSigningKey(const std::string& kid, std::string_view b64,
                                   const std::string& key);
// Adds trimmed, de-duplicated operator ids to an identity; an empty id is an error.
Status AddOperators(const std::vector<std::string>& raw, const std::string& key,
                    ServiceIdentity* ident);
// One identity from JSON: a pin string or {cert_sha256, signing_keys, operators}. `name`
// prefixes every error (the variable or the file).
Result<ServiceIdentity> ParseJsonIdentity(const std::string& id, const json::Value& v,
                                          const std::string& name);

// ---- The file. ----

// Parses the document above. `name` prefixes errors (e.g. "identities_file /etc/x.json").
Result<std::vector<ServiceIdentity>> ParseIdentitiesJson(std::string_view text,
                                                         const std::string& name);
// The document for `identities` (ends with a newline).
std::string SerializeIdentities(const std::vector<ServiceIdentity>& identities);
// Reads, checks (see above) and parses `path`.
Result<std::vector<ServiceIdentity>> LoadIdentitiesFile(const std::string& path);
// Writes the document atomically (common/file.h) with `mode` (group/other write bits refused).
Status WriteIdentitiesFile(const std::string& path,
                           const std::vector<ServiceIdentity>& identities, int mode);

}  // namespace vv::config

#include "evidence/root_key_provider.h"

#include <cstdlib>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "evidence/aead.h"
#include "json/json.h"

namespace vv::evidence {

namespace {
bool ValidRootSize(size_t n) { return n == 16 || n == 24 || n == 32; }
}  // namespace

Result<std::map<std::string, std::string>> ParseRootKeysJson(std::string_view text,
                                                             const std::string& what) {
  auto v = json::Parse(text);
  if (!v.ok()) return Status::InvalidArgument(what + " is not valid JSON");
  if (!v->is_object()) return Status::InvalidArgument(what + " must be a JSON object");
  std::map<std::string, std::string> keys;
  for (const auto& [kid, b64] : v->as_object()) {
    if (kid.empty()) return Status::InvalidArgument(what + ": empty key id");
    if (!b64.is_string())
      return Status::InvalidArgument(what + ": key '" + kid + "' must be a base64 string");
    auto raw = Base64DecodeStrict(StripAsciiWhitespace(b64.as_string()));
    if (!raw) return Status::InvalidArgument(what + ": key '" + kid + "' is not valid base64");
    if (!ValidRootSize(raw->size()))
      return Status::InvalidArgument(what + ": key '" + kid + "' must be 16, 24 or 32 bytes");
    keys[kid] = std::move(*raw);
  }
  return keys;
}

Result<std::unique_ptr<StaticRootKeyProvider>> StaticRootKeyProvider::Create(
    std::map<std::string, std::string> keys, std::string active_key_id, std::string kind) {
  if (keys.empty())
    return Status::InvalidArgument("root key provider '" + kind + "': no root keys");
  for (const auto& [kid, raw] : keys) {
    if (!ValidRootSize(raw.size()))
      return Status::InvalidArgument("root key '" + kid + "' must be 16, 24 or 32 bytes");
  }
  if (keys.count(active_key_id) == 0)
    return Status::InvalidArgument("root key provider '" + kind + "': active key id '" +
                                   active_key_id + "' is not configured");
  return std::unique_ptr<StaticRootKeyProvider>(
      new StaticRootKeyProvider(std::move(keys), std::move(active_key_id), std::move(kind)));
}

Result<std::unique_ptr<StaticRootKeyProvider>> StaticRootKeyProvider::FromEnv(
    const EnvLookup& env, std::string active_override) {
  std::optional<std::string> json_text = env ? env(std::string(kEnvRootKeysJson)) : std::nullopt;
  if (!json_text || StripAsciiWhitespace(*json_text).empty())
    return Status::InvalidArgument(std::string(kEnvRootKeysJson) + " is not set");
  VV_ASSIGN_OR_RETURN(auto keys, ParseRootKeysJson(*json_text, std::string(kEnvRootKeysJson)));
  std::string active = std::move(active_override);
  if (active.empty()) {
    if (auto v = env(std::string(kEnvRootKeyId)); v && !StripAsciiWhitespace(*v).empty())
      active = std::string(StripAsciiWhitespace(*v));
    else
      active = std::string(kDefaultRootKeyId);
  }
  return Create(std::move(keys), std::move(active), "env");
}

Result<std::unique_ptr<StaticRootKeyProvider>> StaticRootKeyProvider::FromFile(
    const std::string& path, std::string active_key_id) {
  VV_RETURN_IF_ERROR(crypto::CheckSecretFilePermissions(path));
  VV_ASSIGN_OR_RETURN(std::string content, crypto::ReadFileBytes(path));
  std::map<std::string, std::string> keys;
  std::string_view stripped = StripAsciiWhitespace(content);
  if (!stripped.empty() && stripped.front() == '{' && json::Parse(stripped).ok()) {
    auto parsed = ParseRootKeysJson(stripped, "root key file " + path);
    Wipe(&content);
    if (!parsed.ok()) return parsed.status();
    keys = std::move(parsed).value();
    if (active_key_id.empty()) {
      active_key_id = keys.size() == 1 ? keys.begin()->first : std::string(kDefaultRootKeyId);
    }
  } else {
    if (!ValidRootSize(content.size())) {
      Wipe(&content);
      return Status::InvalidArgument("root key file " + path +
                                     ": expected a JSON object or a raw 16/24/32-byte key");
    }
    if (active_key_id.empty()) active_key_id = std::string(kDefaultRootKeyId);
    keys[active_key_id] = content;
    Wipe(&content);
  }
  return Create(std::move(keys), std::move(active_key_id), "file");
}

StaticRootKeyProvider::~StaticRootKeyProvider() {
  for (auto& [kid, raw] : keys_) Wipe(&raw);
}

bool StaticRootKeyProvider::HasKey(std::string_view key_id) const {
  return keys_.find(key_id) != keys_.end();
}

std::vector<std::string> StaticRootKeyProvider::key_ids() const {
  std::vector<std::string> out;
  for (const auto& [kid, raw] : keys_) out.push_back(kid);
  return out;
}

Result<std::string> StaticRootKeyProvider::DeriveKek(std::string_view tenant_id,
                                                     std::string_view key_id) const {
  auto it = keys_.find(key_id);
  if (it == keys_.end())
    return Status::NotFound("unknown evidence root key id '" + std::string(key_id) + "'");
  return HkdfSha256(it->second, tenant_id, kKekInfoV1, 32);
}

}  // namespace vv::evidence

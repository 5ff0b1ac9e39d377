#include "app/redis_settings.h"

#include "common/encoding.h"
#include "crypto/crypto.h"

namespace vv::app {

namespace {

// `value` when set, else the trimmed contents of `file` ("" when neither is set).
Result<std::string> Secret(const std::string& value, const std::string& file,
                           const std::string& key) {
  if (!value.empty()) return value;
  if (file.empty()) return std::string();
  auto bytes = crypto::ReadFileBytes(file);
  if (!bytes.ok()) return Status(bytes.status().code(), key + ": " + bytes.status().message());
  std::string secret(StripAsciiWhitespace(*bytes));
  crypto::Wipe(&bytes.value());
  if (secret.empty()) return Status::InvalidArgument(key + ": the file is empty");
  return secret;
}

}  // namespace

Result<state::RedisConfig> RedisSettings(const config::GatewayConfig& cfg) {
  auto rc = state::ParseRedisUrl(cfg.redis_url);
  if (!rc.ok()) return Status(rc.status().code(), "redis_url: " + rc.status().message());
  rc->tls_ca_file = cfg.redis_tls_ca_path;
  VV_ASSIGN_OR_RETURN(auto password, Secret(cfg.redis_password, cfg.redis_password_file,
                                            "redis_password_file (VV_TG_REDIS_PASSWORD_FILE)"));
  if (!password.empty()) rc->password = std::move(password);
  VV_ASSIGN_OR_RETURN(rc->sentinel_password,
                      Secret(cfg.redis_sentinel_password, cfg.redis_sentinel_password_file,
                             "redis_sentinel_password_file (VV_TG_REDIS_SENTINEL_PASSWORD_FILE)"));
  rc->sentinel_username = cfg.redis_sentinel_username;
  return rc;
}

}  // namespace vv::app

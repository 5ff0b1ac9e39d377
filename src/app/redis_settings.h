#pragma once
// The gateway's Redis client settings from its configuration, in one place for every Redis
// user (nonce/rate pool, kill-switch store, vvctl): redis_url parsed (redis[s]:// or
// redis[s]-sentinel://), the TLS CA, and the passwords resolved from their files
// (redis_password_file / redis_sentinel_password_file, mode already checked by the config
// validator) or environment values (VV_TG_REDIS_PASSWORD / VV_TG_REDIS_SENTINEL_PASSWORD).
// A password from a file or the environment replaces one inside the URL. Secrets are never
// part of an error message. Pure function (reads the password files).

#include "common/status.h"
#include "config/gateway_config.h"
#include "state/redis_state.h"

namespace vv::app {

Result<state::RedisConfig> RedisSettings(const config::GatewayConfig& cfg);

}  // namespace vv::app

#pragma once
// Environment lookup, injectable so tests control it: configuration loaders, key providers
// and tools take an EnvLookup instead of calling getenv themselves.
// Thread-safety: ProcessEnv's lookup reads the process environment (getenv); do not call it
// concurrently with setenv.

#include <functional>
#include <optional>
#include <string>

namespace vv {

// The value of an environment variable, or nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The real process environment.
EnvLookup ProcessEnv();

}  // namespace vv

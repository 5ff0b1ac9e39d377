#include "config/listen_address.h"

#include "common/host_port.h"

namespace vv::config {

bool ListenerDisabled(std::string_view v) { return v.empty() || v == "off" || v == "disabled"; }

Status CheckListenAddress(std::string_view key, std::string_view value, bool loopback_only) {
  if (ListenerDisabled(value)) return Status::Ok();
  return ParseListenAddress(key, value, loopback_only).status();
}

}  // namespace vv::config

#include "verify/check.h"

#include "common/encoding.h"

namespace vv::verify {

std::string BoundedEcho(std::string_view client_value) {
  if (client_value.size() <= kMaxEchoedValueBytes) return std::string(client_value);
  return std::string(client_value.substr(0, kMaxEchoedValueBytes)) + "...";
}

const char* ReasonName(Reason r) {
  switch (r) {
    case Reason::kNone: return "none";
#define VV_CASE(name, str) \
  case Reason::name: return str;
    VV_REJECT_REASONS(VV_CASE)
#undef VV_CASE
  }
  return "unknown";
}

std::optional<std::string_view> RequestContext::Header(std::string_view lower_name) const {
  if (headers == nullptr) return std::nullopt;
  for (const auto& [k, v] : *headers)
    if (k == lower_name) return StripAsciiWhitespace(v);
  return std::nullopt;
}

Verdict Chain::Run(RequestContext& ctx) const {
  for (const auto& c : checks_) {
    Verdict v = c->Run(ctx);
    if (!v.ok()) return v;
  }
  return Verdict::Pass();
}

std::vector<std::string_view> Chain::Names() const {
  std::vector<std::string_view> out;
  out.reserve(checks_.size());
  for (const auto& c : checks_) out.push_back(c->name());
  return out;
}

}  // namespace vv::verify

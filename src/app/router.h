#pragma once
// The gateway's endpoint table (issue 13): one row per signed POST endpoint - its path, the
// audit event of its rejections, the media type its middleware checks before anything else
// (with the contract's 415 text), whether a wrong method is refused by the router (an
// `http.rejected` record) or by the endpoint itself (its own rejection event), and the handler.
// Each service lists its own rows (Endpoints()); GatewayApp puts them in one table and the
// gateway's HTTP handler routes requests and request heads through it, so the services never
// know each other. Thread-safety: built before the listener starts, then read-only.

#include <functional>
#include <string_view>
#include <vector>

#include "http/server.h"

namespace vv::app {

struct Endpoint {
  std::string_view path;
  std::string_view rejected_event;  // "telemetry.rejected", "federation.rejected", ...
  // Content-Type the endpoint requires first (a substring match, as the reference's middleware)
  // and the 415 detail; empty: the head is not refused for its media type.
  std::string_view media_type;
  std::string_view media_detail;
  // true: a method other than POST is answered 405 by the router; false: the endpoint answers
  // it (and audits it under its rejected_event).
  bool router_refuses_other_methods = true;
  std::function<void(http::Request, http::Responder)> handle;
};

class Router {
 public:
  // Adds a row; a path registered twice is a programming error (aborts).
  void Add(Endpoint e);
  void Add(std::vector<Endpoint> rows);
  // The row of `path`, or nullptr.
  const Endpoint* Find(std::string_view path) const;
  const std::vector<Endpoint>& endpoints() const { return endpoints_; }

 private:
  std::vector<Endpoint> endpoints_;
};

}  // namespace vv::app

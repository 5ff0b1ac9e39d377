#pragma once
// Per-request state of a telemetry request (single or batch) that must survive the
// asynchronous queue publish. Internal to the gateway service (gateway_service*.cc).

#include <cstdint>
#include <memory>
#include <string>

#include "http/server.h"
#include "verify/check.h"

namespace vv::app {

struct TelemetryCall {
  http::Request request;
  http::Responder respond;
  verify::RequestContext ctx;
  // Keeps the config generation alive for the request (ctx.identity points into it).
  std::shared_ptr<const void> snapshot;
  int64_t started_us = 0;

  // Takes the request and points the context's inputs at it (the context borrows them).
  void Init(http::Request req, http::Responder responder, std::shared_ptr<const void> snap,
            int64_t now_us, std::string id) {
    started_us = now_us;
    snapshot = std::move(snap);
    request = std::move(req);
    respond = std::move(responder);
    ctx.headers = &request.headers;
    ctx.body = request.body;
    ctx.peer_has_certificate = request.peer.has_certificate;
    ctx.peer_cert_sha256 = request.peer.cert_sha256_hex;
    ctx.request_id = std::move(id);
  }
};

}  // namespace vv::app

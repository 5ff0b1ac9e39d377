#pragma once
// What the gateway's in-process tests share (issue 13: the fixture was written out in five
// test files): the producer's configuration, a request from its pinned certificate, the
// in-process backends a GatewayService runs on, and a synchronous send. Each test file keeps
// only what it varies (rate, deps, request shape).

#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "app/gateway_service.h"
#include "crypto/crypto.h"
#include "fakes/fake_backends.h"
#include "fakes/fake_clock.h"
#include "fakes/telemetry_builder.h"
#include "json/json.h"
#include "state/memory_state.h"

namespace vv::app::testkit {

inline constexpr int64_t kNow = 1772107200;
inline const std::string kPin = std::string(64, 'a');
inline constexpr const char* kProducerId = "spectrastrike-producer";

// spectrastrike-producer pinned to kPin, the test producer key as the default signing key,
// op-001 -> tenant 1 and op-002 -> tenant 2, schema versions 1.0 and 2.0, `rate` per minute.
inline std::shared_ptr<config::GatewayConfig> ProducerConfig(int64_t rate = 120) {
  auto cfg = std::make_shared<config::GatewayConfig>();
  config::ServiceIdentity id;
  id.id = kProducerId;
  id.cert_sha256_pins = {kPin};
  cfg->identities.push_back(id);
  cfg->default_signing_keys.push_back(
      {"default", crypto::Ed25519PublicKey::FromBase64(testing::kProducerPublicKeyB64).value()});
  cfg->operator_tenant_map = {{"op-001", testing::kTenant1}, {"op-002", testing::kTenant2}};
  cfg->rate_limit_per_minute = rate;
  cfg->allowed_schema_versions = {"1.0", "2.0"};
  return cfg;
}

// A POST to `path` from the pinned producer certificate: Content-Type and identity headers
// only (tests add the signature headers and the body they need).
inline http::Request ProducerPost(std::string path, std::string content_type) {
  http::Request r;
  r.method = "POST";
  r.target = std::move(path);
  r.headers = {{"content-type", std::move(content_type)}, {"x-service-identity", kProducerId}};
  r.peer.has_certificate = true;
  r.peer.cert_sha256_hex = kPin;
  return r;
}

// ProducerPost carrying the signed-request headers (timestamp, nonce, signature) and `body`.
inline http::Request SignedProducerPost(std::string path, std::string content_type, int64_t ts,
                                        const std::string& nonce, const std::string& signature,
                                        std::string body) {
  http::Request r = ProducerPost(std::move(path), std::move(content_type));
  r.headers.insert(r.headers.end(), {{"x-telemetry-timestamp", std::to_string(ts)},
                                     {"x-telemetry-nonce", nonce},
                                     {"x-telemetry-signature", signature}});
  r.body = std::move(body);
  return r;
}

// The in-process backends of a GatewayService: a FakeClock at kNow, memory nonce store and
// rate limiter, the real MITRE catalog, a recording publisher and audit sink.
struct GatewayFakes {
  testing::FakeClock clock{kNow};
  testing::FakeRandom random;
  std::unique_ptr<state::MemoryNonceStore> nonces;
  std::unique_ptr<state::MemoryRateLimiter> limiter;
  std::unique_ptr<schema::MitreCatalog> catalog;
  testing::RecordingPublisher publisher;
  testing::RecordingAuditSink audit;

  // Deps over fresh state for `cfg`, the limiter at `rate` (< 0: the config's rate).
  GatewayDeps Deps(std::shared_ptr<const config::GatewayConfig> cfg, int64_t rate = -1) {
    nonces = std::make_unique<state::MemoryNonceStore>(clock);
    limiter = std::make_unique<state::MemoryRateLimiter>(
        clock, rate < 0 ? cfg->rate_limit_per_minute : rate);
    if (!catalog) {
      auto loaded = schema::MitreCatalog::Load();
      EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
      if (loaded.ok()) catalog = std::make_unique<schema::MitreCatalog>(std::move(loaded).value());
    }
    GatewayDeps d;
    d.config = std::move(cfg);
    d.clock = &clock;
    d.random = &random;
    d.catalog = catalog.get();
    d.nonces = nonces.get();
    d.limiter = limiter.get();
    d.publisher = &publisher;
    d.audit = &audit;
    return d;
  }
};

// Handles `r` and returns the answer; the fakes answer synchronously (a test fails otherwise).
inline http::Response SendSync(http::Handler& handler, http::Request r) {
  http::Response out;
  bool called = false;
  handler.Handle(std::move(r), [&](http::Response resp) {
    out = std::move(resp);
    called = true;
  });
  EXPECT_TRUE(called) << "the fakes answer synchronously";
  return out;
}

// The "detail" of a JSON answer, or a marker naming the body.
inline std::string Detail(const http::Response& r) {
  auto v = json::Parse(r.body);
  if (!v.ok() || !v->is_object() || !v->Find("detail") || !v->Find("detail")->is_string())
    return "<no detail: " + r.body + ">";
  return v->Find("detail")->as_string();
}

}  // namespace vv::app::testkit

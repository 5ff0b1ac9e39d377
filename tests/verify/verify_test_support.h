#pragma once
// Shared set-up of the tests/verify unit tests: a GatewayConfig like the one of
// tests/app/gateway_service_test.cc, a header list a RequestContext can borrow, and a signed
// request built with the A.1 producer key (tests/fakes/telemetry_builder.h). The stores are the
// real in-memory backends (state/memory_state.h) driven by a FakeClock; only "the backend is
// down" needs a stand-in (UnavailableNonceStore / UnavailableLimiter below, the same shape as
// DownLimiter in tests/app/authz_service_test.cc), since no in-memory store can fail.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "config/gateway_config.h"
#include "crypto/crypto.h"
#include "fakes/fake_clock.h"
#include "fakes/telemetry_builder.h"
#include "state/admission.h"
#include "state/memory_state.h"
#include "state/state.h"
#include "verify/check.h"
#include "verify/checks.h"

namespace vv::verify::testsupport {

inline constexpr int64_t kNow = 1772107200;  // FakeClock's default
inline const std::string kPin(64, 'a');        // pinned fingerprint of "spectrastrike-producer"
inline const std::string kPin2(64, 'b');       // its second pin (certificate rotation)
inline const std::string kOtherPin(64, 'c');   // pinned for "other-service"
inline constexpr const char* kIdentity = "spectrastrike-producer";
// A second Ed25519 seed (not the A.1 producer key).
inline constexpr const char* kOtherSeedHex =
    "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

inline crypto::Ed25519PublicKey PublicKeyOfSeed(const std::string& seed_hex) {
  return crypto::Ed25519PrivateKey::FromSeed(*HexDecode(seed_hex))->PublicKey();
}

inline crypto::Ed25519PublicKey ProducerKey() {
  return crypto::Ed25519PublicKey::FromBase64(testing::kProducerPublicKeyB64).value();
}

// Identities "spectrastrike-producer" (pins kPin, kPin2; no own keys: the default producer key
// verifies) and "other-service" (pin kOtherPin); op-001 -> tenant 1, op-002 -> tenant 2.
inline std::shared_ptr<config::GatewayConfig> MakeConfig() {
  auto cfg = std::make_shared<config::GatewayConfig>();
  config::ServiceIdentity id;
  id.id = kIdentity;
  id.cert_sha256_pins = {kPin, kPin2};
  cfg->identities.push_back(id);
  config::ServiceIdentity other;
  other.id = "other-service";
  other.cert_sha256_pins = {kOtherPin};
  cfg->identities.push_back(other);
  cfg->default_signing_keys.push_back({"default", ProducerKey()});
  cfg->operator_tenant_map = {{"op-001", testing::kTenant1}, {"op-002", testing::kTenant2}};
  cfg->allowed_schema_versions = {"1.0", "2.0"};
  return cfg;
}

using Headers = std::vector<std::pair<std::string, std::string>>;

inline void SetHeader(Headers& h, const std::string& name, const std::string& value) {
  for (auto& [k, v] : h)
    if (k == name) {
      v = value;
      return;
    }
  h.emplace_back(name, value);
}

inline void RemoveHeader(Headers& h, const std::string& name) {
  std::erase_if(h, [&](const auto& kv) { return kv.first == name; });
}

// A request's inputs, owned, so a RequestContext can borrow them.
struct Request {
  Headers headers;
  std::string body;
  bool peer_has_certificate = true;
  std::string peer_cert_sha256 = kPin;

  RequestContext Context() const {
    RequestContext ctx;
    ctx.headers = &headers;
    ctx.body = body;
    ctx.peer_has_certificate = peer_has_certificate;
    ctx.peer_cert_sha256 = peer_cert_sha256;
    ctx.request_id = "req-test";
    return ctx;
  }
};

// The identity headers only (no signature headers).
inline Request IdentityRequest() {
  Request r;
  r.headers = {{"content-type", "application/json"},
               {"x-service-identity", kIdentity},
               {"x-client-cert-sha256", kPin}};
  return r;
}

// A fully signed telemetry request (A.2 body) with the producer key or `seed_hex`.
inline Request SignedRequest(const json::Value& body, int64_t ts, const std::string& nonce,
                             const std::string& seed_hex = testing::kProducerSeedHex) {
  auto s = testing::SignBody(body, ts, nonce, seed_hex);
  Request r = IdentityRequest();
  r.headers.emplace_back("x-telemetry-timestamp", std::to_string(ts));
  r.headers.emplace_back("x-telemetry-nonce", nonce);
  r.headers.emplace_back("x-telemetry-signature", s.signature_b64);
  r.body = s.body;
  return r;
}

inline Request ValidRequest(int64_t ts = kNow, const std::string& nonce = "nonce-vector-0001") {
  return SignedRequest(testing::MakeTelemetryBody(ts, nonce), ts, nonce);
}

// A nonce store whose backend cannot decide: every call answers `status` (Unavailable by
// default), like a Redis that is down.
class UnavailableNonceStore final : public state::NonceStore {
 public:
  explicit UnavailableNonceStore(Status status = Status::Unavailable("injected: redis down"))
      : status_(std::move(status)) {}
  Status Register(std::string_view, int64_t) override {
    ++calls;
    return status_;
  }
  Status Release(std::string_view) override { return status_; }
  Status Health() const override { return status_; }
  int calls = 0;

 private:
  Status status_;
};

class UnavailableLimiter final : public state::RateLimiter {
 public:
  explicit UnavailableLimiter(Status status = Status::Unavailable("injected: redis down"))
      : status_(std::move(status)) {}
  Status Acquire(std::string_view, state::RateTicket*) override { return status_; }
  Status Refund(const state::RateTicket&) override { return Status::Ok(); }
  Status Health() const override { return status_; }

 private:
  Status status_;
};

// Asserts a rejection's reason, status and client-facing detail.
#define EXPECT_REJECTED(verdict_, reason_, status_, detail_)                             \
  do {                                                                                   \
    const ::vv::verify::Verdict& vv_v_ = (verdict_);                                     \
    EXPECT_EQ(vv_v_.reason, (reason_)) << ::vv::verify::ReasonName(vv_v_.reason) << " / " \
                                       << vv_v_.internal_detail;                         \
    EXPECT_EQ(vv_v_.http_status, (status_));                                             \
    EXPECT_EQ(vv_v_.detail, std::string(detail_));                                       \
  } while (0)

#define EXPECT_PASSED(verdict_)                                                                  \
  do {                                                                                          \
    const ::vv::verify::Verdict& vv_v_ = (verdict_);                                            \
    EXPECT_TRUE(vv_v_.ok()) << ::vv::verify::ReasonName(vv_v_.reason) << " " << vv_v_.http_status \
                            << " " << vv_v_.detail << " / " << vv_v_.internal_detail;           \
    EXPECT_EQ(vv_v_.http_status, 0);                                                            \
  } while (0)

}  // namespace vv::verify::testsupport

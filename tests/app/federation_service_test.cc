// Federation verify with in-process fakes and a FakeClock: wire-contract A.5 byte for byte
// (message, signature, bundle_hash), then accept / replay / stale / forged / key rotation /
// malformed bodies (422, never 500) and the audit record of every outcome.

#include "app/federation_service.h"

#include <gtest/gtest.h>

#include "app/gateway_service.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/fake_backends.h"
#include "fakes/fake_clock.h"
#include "fakes/telemetry_builder.h"
#include "state/memory_state.h"

namespace vv::app {
namespace {

constexpr int64_t kNow = 1772107200;
const std::string kPin(64, 'a');
constexpr const char* kA5Signature =
    "ROXfV7V7SPgHvwfvt7Nrgnn/pmxi8r80kMcjPyCcfPDW472mRo+AAjIGkKPQXZmvd3GcXmxOkWALL8f7flWXAw==";

verify::SignedBundle A5() {
  verify::SignedBundle b;
  b.operator_id = "op-001";
  b.campaign_id = "cmp-001";
  b.execution_hash = std::string(64, 'f');
  b.timestamp = 1772107200;
  b.nonce = "nonce-federation-00000001";
  return b;
}

std::string A5Body(const std::string& sig = kA5Signature, const std::string& nonce =
                                                              "nonce-federation-00000001") {
  return "{\"bundle\":{\"operator_id\":\"op-001\",\"campaign_id\":\"cmp-001\",\"execution_hash\":\"" +
         std::string(64, 'f') + "\",\"timestamp\":1772107200,\"nonce\":\"" + nonce +
         "\",\"signature\":\"" + sig + "\"}}";
}

TEST(FederationVectorTest, A5MessageSignatureAndBundleHashAreByteExact) {
  verify::SignedBundle b = A5();
  EXPECT_EQ(verify::BundleMessage(b), "op-001|cmp-001|" + std::string(64, 'f') +
                                          "|1772107200|nonce-federation-00000001");
  EXPECT_EQ(verify::BundleHash(b),
            "7262fd3691290de5a42514de68c0da5194f2f45024b074abf473a225c014e9b9");
  auto key = crypto::Ed25519PrivateKey::FromSeed(*HexDecode(testing::kProducerSeedHex)).value();
  EXPECT_EQ(Base64Encode(key.Sign(verify::BundleMessage(b))), kA5Signature);
}

class FederationServiceTest : public ::testing::Test {
 protected:
  void Build(std::vector<config::SigningKey> federation_keys = {}) {
    auto cfg = std::make_shared<config::GatewayConfig>();
    config::ServiceIdentity id;
    id.id = "spectrastrike-producer";
    id.cert_sha256_pins = {kPin};
    cfg->identities.push_back(id);
    cfg->default_signing_keys.push_back(
        {"default", crypto::Ed25519PublicKey::FromBase64(testing::kProducerPublicKeyB64).value()});
    cfg->federation_signing_keys = std::move(federation_keys);
    cfg->operator_tenant_map = {{"op-001", testing::kTenant1}};
    cfg_ = cfg;
    nonces_ = std::make_unique<state::MemoryNonceStore>(clock_);
    FederationDeps d;
    d.config = cfg_;
    d.clock = &clock_;
    d.random = &random_;
    d.bundle_nonces = nonces_.get();
    d.audit = &audit_;
    service_ = std::make_unique<FederationService>(std::move(d));
  }
  void SetUp() override { Build(); }

  http::Response Send(const std::string& body, bool with_identity = true) {
    http::Request r;
    r.method = "POST";
    r.target = "/internal/v1/federation/verify";
    r.headers = {{"content-type", "application/json"}};
    if (with_identity) r.headers.emplace_back("x-service-identity", "spectrastrike-producer");
    r.body = body;
    r.peer.has_certificate = true;
    r.peer.cert_sha256_hex = kPin;
    http::Response out;
    service_->Handle(std::move(r), [&](http::Response resp) { out = std::move(resp); });
    return out;
  }
  std::string LastEvent() {
    auto recs = audit_.records();
    return recs.empty() ? "" : recs.back().event_type;
  }
  std::string LastDetail() {
    auto recs = audit_.records();
    return recs.empty() ? "" : recs.back().details.Find("detail")->as_string();
  }

  testing::FakeClock clock_{kNow};
  testing::FakeRandom random_;
  std::shared_ptr<const config::GatewayConfig> cfg_;
  std::unique_ptr<state::MemoryNonceStore> nonces_;
  testing::RecordingAuditSink audit_;
  std::unique_ptr<FederationService> service_;
};

TEST_F(FederationServiceTest, A5IsAcceptedOnceThenReplayIs409) {
  auto r = Send(A5Body());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            "{\"accepted\":true,\"bundle_hash\":"
            "\"7262fd3691290de5a42514de68c0da5194f2f45024b074abf473a225c014e9b9\"}");
  EXPECT_EQ(LastEvent(), "federation.accepted");
  EXPECT_EQ(audit_.records().back().details.Find("tenant_id")->as_string(), testing::kTenant1);
  auto again = Send(A5Body());
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(LastEvent(), "federation.rejected");
}

TEST_F(FederationServiceTest, StaleBundleIs401) {
  clock_.AdvanceSeconds(31);
  auto r = Send(A5Body());
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(LastDetail(), "Federation bundle timestamp out of allowed clock skew");
}

TEST_F(FederationServiceTest, ForgedOrWrongKeyIs401AndRotationKeysVerify) {
  std::string sig = kA5Signature;
  sig[10] = sig[10] == 'A' ? 'B' : 'A';
  auto r = Send(A5Body(sig));
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(LastDetail(), "Federation proof-of-origin verification failed");
  // A federation key set that does not hold the producer key: 401; with it as the second
  // (rotation) kid: accepted.
  auto other = crypto::Ed25519PrivateKey::Generate().PublicKey();
  Build({{"fed-old", other}});
  EXPECT_EQ(Send(A5Body()).status, 401);
  Build({{"fed-old", other},
         {"fed-new", crypto::Ed25519PublicKey::FromBase64(testing::kProducerPublicKeyB64).value()}});
  auto ok = Send(A5Body());
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(audit_.records().back().details.Find("kid")->as_string(), "fed-new");
}

TEST_F(FederationServiceTest, MalformedBodiesAre422NeverA500) {
  const std::string bad_bodies[] = {
      "", "{", "[]", "{\"bundle\":null}", "{\"bundle\":{}}", "{\"other\":1}",
      A5Body().substr(0, A5Body().size() - 1) + ",\"x\":1}",
      A5Body("not base64 at all!!!"),
      A5Body(std::string(kA5Signature).substr(1)),
      A5Body(kA5Signature, "short"),
      A5Body(kA5Signature, "nonce|with|pipes-0001"),
  };
  for (const auto& b : bad_bodies) {
    auto r = Send(b);
    EXPECT_EQ(r.status, 422) << b << " -> " << r.body;
    EXPECT_EQ(LastEvent(), "federation.rejected");
  }
}

TEST_F(FederationServiceTest, IdentityIsCheckedFirst) {
  auto r = Send(A5Body(), false);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(LastDetail(), "Missing required header: X-Service-Identity");
}

}  // namespace
}  // namespace vv::app

// Red-team scenarios, area authz (issue 12 items 2, 5, 7, 11, 14, 15): a second producer with
// its own valid certificate and key acting for another producer's operator/tenant, tenant-id
// case variants, metric label floods, health details for unpinned certificates, a flood of
// rejected bodies, control characters in string fields and the binding of signed feedback to
// the query. Real vv-gateway, real mTLS (dev PKI), every outcome checked in the audit log.
//
// Two producer identities: "spectrastrike-producer" (cert "producer", the A.1 key, operators
// op-001 and op-003) and "producer-b" (cert "rogue", its own Ed25519 key, operator op-002).

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>
#include <sstream>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/raw_http.h"
#include "json/json.h"
#include "redteam/scenario.h"
#include "spectrastrike/feedback.h"

namespace vv::testing {
namespace {

constexpr const char* kTelemetryPath = "/internal/v1/telemetry";
constexpr const char* kFederationPath = "/internal/v1/federation/verify";
constexpr const char* kGraphPath = "/internal/v1/cognitive/execution-graph";
constexpr const char* kQueryPath = "/internal/v1/cognitive/feedback/adjustments/query";
constexpr const char* kIdA = "spectrastrike-producer";
constexpr const char* kIdB = "producer-b";
constexpr const char* kSeedB = "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf";
// A tenant with hex letters, so that its upper- and lower-case spellings differ.
constexpr const char* kTenantHex = "abcdef00-0000-4000-8000-0000000000aa";
constexpr const char* kTenantHexUpper = "ABCDEF00-0000-4000-8000-0000000000AA";
constexpr const char* kNotPermitted = "Operator tenant mapping violation";

std::string PublicKeyB64(const char* seed_hex) {
  return crypto::Ed25519PrivateKey::FromSeed(*HexDecode(seed_hex)).value().PublicKey().ToBase64();
}

std::string UniqueNonce(const std::string& tag) {
  static std::atomic<int> n{0};
  return "rt-authz-" + tag + "-" + std::to_string(n++) + "-" + std::to_string(NowSeconds());
}

// Options of a gateway with the two bound producer identities (env JSON form).
GatewayOptions TwoProducers(const std::string& extra_yaml = "") {
  const DevPki& pki = DevPki::Get();
  GatewayOptions o;
  o.extra_yaml = extra_yaml;
  o.env.push_back(std::string("VV_TG_OPERATOR_TENANT_MAP={\"op-001\":\"") + kTenant1 +
                  "\",\"op-002\":\"" + kTenant2 + "\",\"op-003\":\"" + kTenantHex + "\"}");
  o.env.push_back(std::string("VV_TG_ALLOWED_SERVICE_IDENTITIES_JSON={\"") + kIdA +
                  "\":{\"cert_sha256\":\"" + pki.Pin("producer") +
                  "\",\"operators\":[\"op-001\",\"op-003\"]},\"" + kIdB + "\":{\"cert_sha256\":\"" +
                  pki.Pin("rogue") + "\",\"signing_keys\":{\"b-1\":\"" + PublicKeyB64(kSeedB) +
                  "\"},\"operators\":[\"op-002\"]}}");
  return o;
}

json::Value TelemetryFor(const std::string& op, const std::string& tenant,
                         const std::string& event_id, int64_t ts, const std::string& nonce) {
  json::Value b = MakeTelemetryBody(ts, nonce, event_id);
  b.Set("operator_id", op);
  b.Set("tenant_id", tenant);
  b.Find("signed_metadata")->Set("operator_id", op);
  b.Find("signed_metadata")->Set("tenant_id", tenant);
  return b;
}

// Signs `body` (its timestamp and nonce) with `seed_hex` and posts it as `identity`.
spectrastrike::HttpResponse PostAs(spectrastrike::HttpsClient& c, const char* path,
                                   const json::Value& body, const std::string& identity,
                                   const char* seed_hex, std::string* sent_nonce = nullptr) {
  SignedRequest r = SignBody(body, body.Find("timestamp")->as_int64().value(),
                             body.Find("nonce")->as_string(), seed_hex);
  if (sent_nonce) *sent_nonce = r.nonce;
  return c.Post(path, TelemetryHeaders(r, identity), r.body);
}

json::Value GraphBody(const std::string& op, const std::string& tenant, int nodes,
                      const std::string& nonce) {
  json::Value graph = json::Value::MakeObject();
  graph.Set("graph_id", "g-" + nonce);
  graph.Set("tenant_id", tenant);
  graph.Set("target_urn", "urn:target:rt-authz");
  json::Value ns = json::Value::MakeArray();
  for (int i = 0; i < nodes; ++i) {
    json::Value n = json::Value::MakeObject();
    n.Set("id", "n" + std::to_string(i));
    ns.Push(std::move(n));
  }
  graph.Set("nodes", std::move(ns));
  graph.Set("edges", json::Value::MakeArray());
  json::Value b = json::Value::MakeObject();
  b.Set("operator_id", op);
  b.Set("tenant_id", tenant);
  b.Set("execution_fingerprint", std::string(64, 'e'));
  b.Set("timestamp", NowSeconds());
  b.Set("nonce", nonce);
  b.Set("schema_version", "execution.graph.v1");
  b.Set("attestation_measurement_hash", std::string(64, 'a'));
  b.Set("graph", std::move(graph));
  return b;
}

json::Value QueryBody(const std::string& op, const std::string& tenant, const std::string& nonce) {
  json::Value b = json::Value::MakeObject();
  b.Set("operator_id", op);
  b.Set("tenant_id", tenant);
  b.Set("timestamp", NowSeconds());
  b.Set("nonce", nonce);
  b.Set("limit", 100);
  return b;
}

// A federation bundle for `op`, signed with the federation key (the harness's default key).
std::string BundleBody(const std::string& op, const std::string& nonce) {
  const std::string hash(64, 'f');
  const int64_t ts = NowSeconds();
  std::string msg = op + "|cmp-001|" + hash + "|" + std::to_string(ts) + "|" + nonce;
  auto key = crypto::Ed25519PrivateKey::FromSeed(*HexDecode(kProducerSeedHex)).value();
  json::Value b = json::Value::MakeObject();
  b.Set("operator_id", op);
  b.Set("campaign_id", "cmp-001");
  b.Set("execution_hash", hash);
  b.Set("timestamp", ts);
  b.Set("nonce", nonce);
  b.Set("signature", Base64Encode(key.Sign(msg)));
  json::Value body = json::Value::MakeObject();
  body.Set("bundle", std::move(b));
  return json::Canonical(body);
}

std::string Detail(const spectrastrike::HttpResponse& r) {
  auto v = json::Parse(r.body);
  if (!v.ok() || !v->is_object() || v->Find("detail") == nullptr) return "";
  return v->Find("detail")->as_string();
}

std::string Observed(const spectrastrike::HttpResponse& r) {
  return "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200);
}

uint16_t AdminPort(const GatewayUnderTest& gw) {
  const std::string log = gw.log();
  auto p = log.find("ADMIN_PORT ");
  if (p == std::string::npos) return 0;
  return static_cast<uint16_t>(std::stoi(log.substr(p + 11)));
}

class AuthzRedTeam : public ::testing::Test {
 protected:
  void Start(const GatewayOptions& o) {
    gw_ = std::make_unique<GatewayUnderTest>(o);
    ASSERT_TRUE(gw_->started()) << gw_->log();
  }
  std::unique_ptr<GatewayUnderTest> gw_;
};

// ---- item 2: identities bound to their operators ----------------------------------------------

TEST_F(AuthzRedTeam, Authz_ProducerBWritesEventsForTenantA) {
  Start(TwoProducers());
  auto b = gw_->Client("rogue");
  const std::string nonce = UniqueNonce("b-writes-a");
  auto r = PostAs(b, kTelemetryPath,
                  TelemetryFor("op-001", kTenant1, "evt-rt-b-for-a", NowSeconds(), nonce), kIdB,
                  kSeedB);
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(Detail(r), kNotPermitted);
  const std::string audit = FindAuditRecord(
      *gw_, {"telemetry.rejected", "\"reason\":\"operator_not_permitted\"", kIdB, "op-001"});
  EXPECT_FALSE(audit.empty());
  // Control: B writing for its own operator is accepted.
  auto own = PostAs(b, kTelemetryPath,
                    TelemetryFor("op-002", kTenant2, "evt-rt-b-own", NowSeconds(),
                                 UniqueNonce("b-own")),
                    kIdB, kSeedB);
  EXPECT_EQ(own.status, 202) << own.body;
  Scenario("authz",
           "producer B (valid cert and key) writing for operator op-001 / tenant A: 403, audited "
           "operator_not_permitted; its own operator: 202",
           Observed(r) + "; own operator: HTTP " + std::to_string(own.status), audit);
  ExpectAuditVerifiesAndRestarts(*gw_);
}

TEST_F(AuthzRedTeam, Authz_PreSentEventIdDoesNotSuppressOwnersEvent) {
  Start(TwoProducers());
  auto b = gw_->Client("rogue");
  auto a = gw_->Client("producer");
  const std::string event_id = "evt-rt-presend-" + std::to_string(NowSeconds());
  const int64_t before = gw_->QueueCount("ingest");
  auto pre = PostAs(b, kTelemetryPath,
                    TelemetryFor("op-001", kTenant1, event_id, NowSeconds(), UniqueNonce("pre")),
                    kIdB, kSeedB);
  EXPECT_EQ(pre.status, 403) << pre.body;
  auto real = PostAs(a, kTelemetryPath,
                     TelemetryFor("op-001", kTenant1, event_id, NowSeconds(), UniqueNonce("real")),
                     kIdA, kProducerSeedHex);
  EXPECT_EQ(real.status, 202) << real.body;
  EXPECT_EQ(gw_->QueueCount("ingest"), before + 1);
  const std::string accepted = FindAuditRecord(*gw_, {"telemetry.accepted", event_id});
  ASSERT_FALSE(accepted.empty());
  EXPECT_EQ(accepted.find("\"duplicate\":true"), std::string::npos) << accepted;
  Scenario("authz",
           "B pre-sends A's event id: refused 403; A's real event is then stored (not a duplicate)",
           "pre-send " + Observed(pre) + "; A: HTTP " + std::to_string(real.status) +
               ", ingest rows +" + std::to_string(gw_->QueueCount("ingest") - before),
           accepted);
  ExpectAuditVerifiesAndRestarts(*gw_);
}

TEST_F(AuthzRedTeam, Authz_ProducerBReadsTenantAFeedback) {
  Start(TwoProducers());
  auto b = gw_->Client("rogue");
  auto r = PostAs(b, kQueryPath, QueryBody("op-001", kTenant1, UniqueNonce("b-query")), kIdB,
                  kSeedB);
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(Detail(r), kNotPermitted);
  EXPECT_EQ(r.body.find("signature"), std::string::npos);
  const std::string audit = FindAuditRecord(
      *gw_, {"cognitive.feedback.rejected", "operator_not_permitted", kIdB});
  EXPECT_FALSE(audit.empty());
  Scenario("authz", "B queries tenant A's signed feedback: 403, no feedback, audited",
           Observed(r), audit);
  ExpectAuditVerifiesAndRestarts(*gw_);
}

TEST_F(AuthzRedTeam, Authz_ProducerBInjectsGraphForTenantA) {
  Start(TwoProducers());
  auto b = gw_->Client("rogue");
  auto r = PostAs(b, kGraphPath, GraphBody("op-001", kTenant1, 12, UniqueNonce("b-graph")), kIdB,
                  kSeedB);
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 403) << r.body;
  // A's feedback stays free of B's "tighten".
  auto a = gw_->Client("producer");
  auto q = PostAs(a, kQueryPath, QueryBody("op-001", kTenant1, UniqueNonce("a-query")), kIdA,
                  kProducerSeedHex);
  EXPECT_EQ(q.status, 200) << q.body;
  EXPECT_EQ(q.body.find("tighten"), std::string::npos) << q.body;
  const std::string audit =
      FindAuditRecord(*gw_, {"cognitive.graph.rejected", "operator_not_permitted", kIdB});
  EXPECT_FALSE(audit.empty());
  Scenario("authz",
           "B posts a 12-node graph for tenant A (would turn A's feedback into tighten): 403; "
           "A's feedback has no tighten",
           Observed(r) + "; A's feedback: HTTP " + std::to_string(q.status), audit);
  ExpectAuditVerifiesAndRestarts(*gw_);
}

TEST_F(AuthzRedTeam, Authz_ProducerBVerifiesFederationBundleOfOperatorA) {
  Start(TwoProducers());
  // The bundle speaks for op-001 (tenant A): only an identity bound to op-001 may verify it.
  auto b = gw_->Client("rogue");
  auto r = b.Post(kFederationPath,
                  {{"Content-Type", "application/json"}, {"X-Service-Identity", kIdB}},
                  BundleBody("op-001", UniqueNonce("b-fed")));
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(Detail(r), kNotPermitted);
  auto a = gw_->Client("producer");
  auto ok = a.Post(kFederationPath,
                   {{"Content-Type", "application/json"}, {"X-Service-Identity", kIdA}},
                   BundleBody("op-001", UniqueNonce("a-fed")));
  EXPECT_EQ(ok.status, 200) << ok.body;
  const std::string audit =
      FindAuditRecord(*gw_, {"federation.rejected", "operator_not_permitted", kIdB});
  EXPECT_FALSE(audit.empty());
  Scenario("authz",
           "B has A's federation bundle (operator op-001) verified: 403; A itself: 200",
           Observed(r) + "; A: HTTP " + std::to_string(ok.status), audit);
  ExpectAuditVerifiesAndRestarts(*gw_);
}

// ---- item 7: tenant ids canonical ---------------------------------------------------------------

TEST_F(AuthzRedTeam, Schema_TenantCaseVariantsAreOneTenant) {
  Start(TwoProducers());
  auto a = gw_->Client("producer");
  const std::string event_id = "evt-rt-case-" + std::to_string(NowSeconds());
  const int64_t before = gw_->QueueCount("ingest");
  auto upper = PostAs(
      a, kTelemetryPath,
      TelemetryFor("op-003", kTenantHexUpper, event_id, NowSeconds(), UniqueNonce("upper")), kIdA,
      kProducerSeedHex);
  auto lower = PostAs(
      a, kTelemetryPath,
      TelemetryFor("op-003", kTenantHex, event_id, NowSeconds(), UniqueNonce("lower")), kIdA,
      kProducerSeedHex);
  EXPECT_EQ(upper.status, 202) << upper.body;
  EXPECT_EQ(lower.status, 202) << lower.body;
  const int64_t stored = gw_->QueueCount("ingest") - before;
  EXPECT_EQ(stored, 1);
  const std::string dup = FindAuditRecord(*gw_, {"telemetry.accepted", event_id, "duplicate"});
  EXPECT_NE(dup.find(std::string("\"tenant_id\":\"") + kTenantHex + "\""), std::string::npos)
      << dup;
  EXPECT_EQ(FindAuditRecord(*gw_, {"telemetry.accepted", kTenantHexUpper}), "");
  Scenario("schema",
           "the same event with an upper- then a lower-case tenant id: stored once, under the "
           "canonical (lowercase) tenant",
           "upper: HTTP " + std::to_string(upper.status) + ", lower: HTTP " +
               std::to_string(lower.status) + ", ingest rows +" + std::to_string(stored),
           dup);
  ExpectAuditVerifiesAndRestarts(*gw_);
}

// ---- item 11: metric labels bounded -------------------------------------------------------------

TEST_F(AuthzRedTeam, Resource_RandomOperatorsDoNotGrowMetricSeries) {
  // No rejection budget here: this scenario floods rejections on purpose.
  Start(TwoProducers("    admin_listen: 127.0.0.1:0\n    rejection_budget_per_minute: 0\n"));
  const uint16_t admin = AdminPort(*gw_);
  ASSERT_NE(admin, 0) << gw_->log();
  auto a = gw_->Client("producer");
  // Each random operator: one signed request (403 unmapped, nonce burned) and its replay (409,
  // the rejection whose metric carries an operator label).
  constexpr int kOperators = 1500;
  std::mt19937_64 rng(12);
  int replays = 0;
  for (int i = 0; i < kOperators; ++i) {
    const std::string op = "op-rand-" + std::to_string(rng());
    json::Value body = TelemetryFor(op, kTenant1, "evt-rt-rand", NowSeconds(), UniqueNonce("rand"));
    SignedRequest r = SignBody(body, body.Find("timestamp")->as_int64().value(),
                               body.Find("nonce")->as_string());
    a.Post(kTelemetryPath, TelemetryHeaders(r, kIdA), r.body);
    auto again = a.Post(kTelemetryPath, TelemetryHeaders(r, kIdA), r.body);
    if (again.status == 409) ++replays;
  }
  EXPECT_EQ(replays, kOperators);
  const std::string metrics = LoopbackHttpExchange(
      admin, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  ASSERT_NE(metrics.find("vv_gateway_replay_detections_total"), std::string::npos) << metrics;
  int series = 0, operator_series = 0;
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    ++series;
    if (line.find("operator=\"") != std::string::npos) ++operator_series;
  }
  EXPECT_LE(operator_series, 4) << "one series per configured operator, plus other/unknown";
  EXPECT_NE(metrics.find("vv_gateway_replay_detections_total{operator=\"other\"} " +
                         std::to_string(kOperators)),
            std::string::npos);
  Scenario("resource",
           std::to_string(kOperators) +
               " random operator ids rejected and replayed: the operator label stays bounded "
               "(configured operators + other)",
           std::to_string(replays) + " replays; " + std::to_string(operator_series) +
               " operator-labelled series, " + std::to_string(series) + " series in total");
  ExpectAuditVerifiesAndRestarts(*gw_);
}

// ---- item 14: health details only for pinned certificates --------------------------------------

TEST_F(AuthzRedTeam, Ops_HealthzHidesConfigurationFromUnpinnedCertificate) {
  Start(GatewayOptions{});  // "rogue" is CA-signed but pinned by no identity here
  auto rogue = gw_->Client("rogue");
  auto h = rogue.Get("/healthz");
  ASSERT_TRUE(h.transport_ok) << h.error;
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "{\"status\":\"healthy\"}");
  auto ready = rogue.Get("/readyz");
  EXPECT_EQ(ready.body, "{\"ready\":true}");
  auto pinned = gw_->Client("producer").Get("/healthz");
  EXPECT_NE(pinned.body.find("trusted_identities"), std::string::npos) << pinned.body;
  Scenario("ops",
           "/healthz and /readyz from a CA-signed but unpinned certificate: status only, no "
           "identities, flags or backends (pinned callers still get them)",
           "unpinned: " + h.body + " " + ready.body + "; pinned: " + pinned.body.substr(0, 120));
  ExpectAuditVerifiesAndRestarts(*gw_);
}

// ---- item 5: rejected requests are throttled ----------------------------------------------------

TEST_F(AuthzRedTeam, Resource_RejectedBodyFloodIsThrottled) {
  constexpr int kBudget = 10;
  Start(TwoProducers("    rejection_budget_per_minute: " + std::to_string(kBudget) + "\n"));
  auto a = gw_->Client("producer");
  int n422 = 0, n429 = 0, first_429 = -1;
  for (int i = 0; i < 3 * kBudget; ++i) {
    json::Value body = TelemetryFor("op-001", kTenant1, "evt-rt-flood", NowSeconds(),
                                    UniqueNonce("flood"));
    body.Find("payload")->Set("severity", "not-a-severity");  // 422
    auto r = PostAs(a, kTelemetryPath, body, kIdA, kProducerSeedHex);
    if (r.status == 422) ++n422;
    if (r.status == 429) {
      ++n429;
      if (first_429 < 0) first_429 = i;
    }
  }
  EXPECT_EQ(n422, kBudget);
  EXPECT_EQ(n429, 2 * kBudget);
  EXPECT_EQ(first_429, kBudget);
  // The budget is the identity's, on every endpoint: an invalid execution graph is 429 too.
  json::Value graph = GraphBody("op-001", kTenant1, 2, UniqueNonce("flood-graph"));
  graph.Set("schema_version", "execution.graph.v0");
  auto rg = PostAs(a, kGraphPath, graph, kIdA, kProducerSeedHex);
  EXPECT_EQ(rg.status, 429) << rg.body;
  // Another identity is not affected.
  auto b = gw_->Client("rogue");
  json::Value bad = TelemetryFor("op-002", kTenant2, "evt-rt-flood-b", NowSeconds(),
                                 UniqueNonce("flood-b"));
  bad.Find("payload")->Set("severity", "not-a-severity");
  auto rb = PostAs(b, kTelemetryPath, bad, kIdB, kSeedB);
  EXPECT_EQ(rb.status, 422) << rb.body;
  const std::string audit =
      FindAuditRecord(*gw_, {"telemetry.rejected", "rejection_budget_exceeded", kIdA});
  EXPECT_FALSE(audit.empty());
  Scenario("resource",
           "a pinned identity floods invalid bodies: 422 up to its rejection budget (" +
               std::to_string(kBudget) + "/min), then 429; other identities unaffected",
           std::to_string(n422) + " x 422, " + std::to_string(n429) + " x 429 (first at #" +
               std::to_string(first_429) + "); invalid graph: HTTP " + std::to_string(rg.status) +
               "; other identity: HTTP " +
               std::to_string(rb.status),
           audit);
  ExpectAuditVerifiesAndRestarts(*gw_);
}

// ---- item 15: control characters, feedback bound to the query ----------------------------------

TEST_F(AuthzRedTeam, Schema_NulInStringFieldIsRejected) {
  Start(TwoProducers());
  auto a = gw_->Client("producer");
  const int64_t before = gw_->QueueCount("ingest");
  json::Value body = TelemetryFor("op-001", kTenant1, "evt-rt-nul", NowSeconds(), UniqueNonce("nul"));
  body.Find("payload")->Set("source_system", std::string("sensor\0evil", 11));
  auto r = PostAs(a, kTelemetryPath, body, kIdA, kProducerSeedHex);
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(gw_->QueueCount("ingest"), before);
  json::Value esc = TelemetryFor("op-001", kTenant1, "evt-rt-esc", NowSeconds(), UniqueNonce("esc"));
  esc.Find("payload")->Find("attributes")->Set("asset_ref", "host\x1b[31m");
  auto r2 = PostAs(a, kTelemetryPath, esc, kIdA, kProducerSeedHex);
  EXPECT_EQ(r2.status, 422) << r2.body;
  const std::string audit =
      FindAuditRecord(*gw_, {"telemetry.rejected", "canonical_schema", "control characters"});
  EXPECT_FALSE(audit.empty());
  Scenario("schema",
           "\\u0000 in payload.source_system and ESC in an attribute value: 422 canonical_schema, "
           "nothing queued",
           Observed(r) + "; ESC: HTTP " + std::to_string(r2.status), audit);
  ExpectAuditVerifiesAndRestarts(*gw_);
}

TEST_F(AuthzRedTeam, Replay_FeedbackResponseIsBoundToTheQueryNonce) {
  Start(TwoProducers());
  auto a = gw_->Client("producer");
  std::string sent;
  auto r = PostAs(a, kQueryPath, QueryBody("op-001", kTenant1, UniqueNonce("fb-q")), kIdA,
                  kProducerSeedHex, &sent);
  ASSERT_EQ(r.status, 200) << r.body;
  spectrastrike::FeedbackKeys keys;
  keys.emplace(kFeedbackKid, crypto::Ed25519PublicKey::FromBase64(kFeedbackPublicKeyB64)->raw());
  auto cache1 = spectrastrike::ReplayCache::Open("");
  auto cache2 = spectrastrike::ReplayCache::Open("");
  auto cache3 = spectrastrike::ReplayCache::Open("");
  spectrastrike::SystemClock clock;
  // The reference form still verifies (no nonce check) ...
  spectrastrike::FeedbackVerifier reference(keys, **cache1, clock);
  auto ref = reference.Verify(r.body, kTenant1);
  EXPECT_TRUE(ref.ok()) << ref.status().message();
  // ... the SDK accepts it as the answer to the query it sent ...
  spectrastrike::FeedbackVerifier sdk(keys, **cache2, clock);
  auto mine = sdk.Verify(r.body, kTenant1, nullptr, sent);
  EXPECT_TRUE(mine.ok()) << mine.status().message();
  // ... and refuses it as the answer to any other query.
  spectrastrike::FeedbackVerifier other(keys, **cache3, clock);
  auto swapped = other.Verify(r.body, kTenant1, nullptr, sent + "-other");
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.status().message(), "feedback response is not bound to this query");
  const std::string audit = FindAuditRecord(*gw_, {"cognitive.feedback.issued", kIdA});
  EXPECT_FALSE(audit.empty());
  Scenario("replay",
           "a signed feedback response verifies as the answer to its own query (and in the "
           "reference form) but not as the answer to another query",
           std::string("reference: ") + (ref.ok() ? "verified" : ref.status().message()) +
               "; own query: " + (mine.ok() ? "verified" : mine.status().message()) +
               "; other query: " + (swapped.ok() ? "verified" : swapped.status().message()),
           audit);
  ExpectAuditVerifiesAndRestarts(*gw_);
}

}  // namespace
}  // namespace vv::testing

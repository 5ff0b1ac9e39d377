// Shared state in the production profile (issue 14 items 2 and 3), black-box: two vv-gateway
// replicas on ONE PostgreSQL graph store, Redis with an ACL user whose password comes from a
// file, and NATS JetStream - a graph accepted by either replica gives identical signed
// feedback from both. The production profile refuses the per-replica SQLite graph store and a
// wrong Redis password at start-up (the password never in the log).

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <string>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/postgres_server.h"
#include "fakes/process.h"
#include "fakes/servers.h"
#include "integration/gateway_harness.h"
#include "json/json.h"

namespace vv::testing {
namespace {

constexpr char kRedisPassword[] = "shared-state-acl-password-3c1e";
constexpr char kGraphPath[] = "/internal/v1/cognitive/execution-graph";
constexpr char kQueryPath[] = "/internal/v1/cognitive/feedback/adjustments/query";

std::string Nonce(const std::string& tag) {
  static std::atomic<int> n{0};
  return "nonce-shared-" + tag + "-" + std::to_string(n++) + "-" + std::to_string(NowSeconds());
}

spectrastrike::HttpResponse PostSigned(spectrastrike::HttpsClient& c, const char* path,
                                       json::Value body) {
  const int64_t ts = NowSeconds();
  const std::string nonce = Nonce("req");
  body.Set("operator_id", "op-001");
  body.Set("tenant_id", kTenant1);
  body.Set("timestamp", ts);
  body.Set("nonce", nonce);
  SignedRequest r = SignBody(body, ts, nonce);
  return c.Post(path, TelemetryHeaders(r), r.body);
}

spectrastrike::HttpResponse PostGraph(spectrastrike::HttpsClient& c, int nodes,
                                      const std::string& target) {
  json::Value graph = json::Value::MakeObject();
  graph.Set("graph_id", "g-" + Nonce("graph"));
  graph.Set("tenant_id", kTenant1);
  graph.Set("target_urn", target);
  json::Value ns = json::Value::MakeArray();
  for (int i = 0; i < nodes; ++i) {
    json::Value n = json::Value::MakeObject();
    n.Set("id", "n" + std::to_string(i));
    ns.Push(std::move(n));
  }
  graph.Set("nodes", std::move(ns));
  graph.Set("edges", json::Value::MakeArray());
  json::Value b = json::Value::MakeObject();
  b.Set("execution_fingerprint", std::string(64, 'E'));
  b.Set("schema_version", "execution.graph.v1");
  b.Set("attestation_measurement_hash", std::string(64, 'a'));
  b.Set("graph", std::move(graph));
  return PostSigned(c, kGraphPath, std::move(b));
}

// The feedback `data` (canonical JSON) after checking the response's Ed25519 signature over
// tenant|signed_at|nonce|schema_version|kid|canonical(data) (wire-contract 2.3).
std::string VerifiedFeedbackData(const std::string& body) {
  auto v = json::Parse(body);
  if (!v.ok()) return "unparseable: " + body;
  const json::Value* data = v->Find("data");
  const json::Value* sig = v->Find("signature");
  const json::Value* kid = v->Find("kid");
  if (data == nullptr || sig == nullptr || kid == nullptr) return "unsigned: " + body;
  const std::string message = std::string(kTenant1) + "|" +
                              v->Find("signed_at")->int_text() + "|" +
                              v->Find("nonce")->as_string() + "|" +
                              v->Find("schema_version")->as_string() + "|" + kid->as_string() +
                              "|" + json::Canonical(*data);
  auto key = crypto::Ed25519PublicKey::FromBase64(kFeedbackPublicKeyB64);
  auto raw = Base64DecodeStrict(sig->as_string());
  if (!key.ok() || !raw || kid->as_string() != kFeedbackKid || !key->Verify(message, *raw))
    return "bad signature: " + body;
  return json::Canonical(*data);
}

class SharedStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VV_REQUIRE_SERVER(redis_);
    VV_REQUIRE_SERVER(nats_);
    VV_REQUIRE_SERVER(pg_);
    // The gateway's least-privilege role and the graph table owned by another role.
    ASSERT_TRUE(pg_.Psql("CREATE ROLE vv_graph_owner NOLOGIN NOSUPERUSER NOBYPASSRLS; "
                         "CREATE ROLE vv_gateway LOGIN NOSUPERUSER NOBYPASSRLS;")
                    .ok());
    std::string out;
    ASSERT_EQ(RunCommand({std::string(VV_BIN_DIR) + "/vv-evidence", "init-postgres-graphs",
                          "--admin-url", pg_.admin_url(), "--owner-role", "vv_graph_owner",
                          "--app-role", "vv_gateway"},
                         &out),
              0)
        << out;
    password_file_ = dir_.File("redis-password.key");
    WriteFile(password_file_, std::string(kRedisPassword) + "\n", 0600);
  }

  GatewayOptions Production(const std::string& password_file, bool postgres = true) const {
    GatewayOptions o;
    o.nonce_backend = o.rate_limit_backend = "redis";
    o.redis_url = redis_.url();  // redis://vv-gateway@127.0.0.1:<port>/0: no password inside
    o.queue_backend = "nats";
    o.nats_url = nats_.url();
    o.extra_yaml = "    profile: production\n    redis_password_file: " + password_file + "\n";
    o.identity_operators = "[op-001, op-002]";
    if (postgres)
      o.env = {"VV_EVIDENCE_STORE_BACKEND=postgres",
               "VV_EVIDENCE_POSTGRES_URL=" + pg_.Url("vv_gateway")};
    return o;
  }

  RedisServer redis_{RedisServerOptions{"vv-gateway", kRedisPassword, "", "", 0}};
  NatsServer nats_;
  PostgresServer pg_;
  TempDir dir_;
  std::string password_file_;
};

TEST_F(SharedStateTest, TwoReplicasOnOnePostgresGraphStoreGiveIdenticalSignedFeedback) {
  GatewayUnderTest a(Production(password_file_));
  ASSERT_TRUE(a.started()) << a.log();
  GatewayUnderTest b(Production(password_file_));
  ASSERT_TRUE(b.started()) << b.log();
  EXPECT_EQ(a.log().find(kRedisPassword), std::string::npos) << "password logged";
  auto ca = a.Client();
  auto cb = b.Client();
  // A graph through replica A, another through replica B.
  const std::string target = "urn:target:shared-" + std::to_string(NowSeconds());
  auto ga = PostGraph(ca, 9, target + "-a");
  ASSERT_EQ(ga.status, 202) << ga.body;
  auto gb = PostGraph(cb, 3, target + "-b");
  ASSERT_EQ(gb.status, 202) << gb.body;

  auto qa = PostSigned(ca, kQueryPath, [] {
    json::Value q = json::Value::MakeObject();
    q.Set("limit", 100);
    return q;
  }());
  auto qb = PostSigned(cb, kQueryPath, [] {
    json::Value q = json::Value::MakeObject();
    q.Set("limit", 100);
    return q;
  }());
  ASSERT_EQ(qa.status, 200) << qa.body;
  ASSERT_EQ(qb.status, 200) << qb.body;
  const std::string da = VerifiedFeedbackData(qa.body);
  const std::string db = VerifiedFeedbackData(qb.body);
  // Both replicas see both graphs: tighten for the large one, observe for the small one.
  EXPECT_NE(da.find(target + "-a"), std::string::npos) << da;
  EXPECT_NE(da.find(target + "-b"), std::string::npos) << da;
  EXPECT_NE(da.find("\"tighten\""), std::string::npos) << da;
  EXPECT_NE(da.find("\"observe\""), std::string::npos) << da;
  // Items carry the query time; equal when both queries fell in the same second, so compare
  // with the per-item timestamps masked.
  auto mask = [](const std::string& data) {
    auto v = json::Parse(data);
    if (!v.ok() || !v->is_array()) return data;
    json::Value out = json::Value::MakeArray();
    for (const auto& item : v->as_array()) {
      json::Value m = item;
      m.Set("timestamp", 0);
      out.Push(std::move(m));
    }
    return json::Canonical(out);
  };
  EXPECT_EQ(mask(da), mask(db)) << "feedback differs by replica";
}

TEST_F(SharedStateTest, ProductionRefusesSqliteGraphStoreAndAWrongRedisPassword) {
  {
    GatewayUnderTest gw(Production(password_file_, /*postgres=*/false));
    EXPECT_FALSE(gw.started()) << "production started on a per-replica SQLite graph store";
    EXPECT_NE(gw.log().find("requires the execution-graph store on PostgreSQL"), std::string::npos)
        << gw.log();
  }
  const std::string wrong = dir_.File("wrong-password.key");
  WriteFile(wrong, "not-the-password-9d8e\n", 0600);
  GatewayUnderTest gw(Production(wrong));
  EXPECT_FALSE(gw.started());
  EXPECT_NE(gw.log().find("AUTH failed"), std::string::npos) << gw.log();
  EXPECT_EQ(gw.log().find("not-the-password-9d8e"), std::string::npos) << "password logged";
  // A password file others can read is refused before anything is dialled.
  const std::string loose = dir_.File("loose-password.key");
  WriteFile(loose, std::string(kRedisPassword) + "\n", 0644);
  GatewayUnderTest open(Production(loose));
  EXPECT_FALSE(open.started());
  EXPECT_NE(open.log().find("redis_password_file"), std::string::npos) << open.log();
}

}  // namespace
}  // namespace vv::testing

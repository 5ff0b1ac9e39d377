// Black-box: the real vv-gateway (HTTPS + mTLS) on the federation verify and cognitive
// endpoints (issue 6): federation accept / forged / replayed / stale / unknown field / bad
// base64; execution graph then signed feedback query (>= 8 nodes gives tighten 0.82); tenant
// isolation of stored graphs; graphs surviving a restart; every outcome in the audit log.
//
// The feedback response is checked with an independent re-implementation of the Python
// producer's verification rules (wire-contract 2.3, SpectraStrike _verify_feedback_signature /
// _enforce_feedback_replay): its own canonical JSON writer (Python json.dumps sort_keys,
// compact, ensure_ascii, float repr), the wire-contract's public key for kid-001, the +-300 s
// window and the nonce replay cache - none of the gateway's signing code is used.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "integration/gateway_harness.h"
#include "json/json.h"

namespace vv::testing {
namespace {

constexpr const char* kFederationPath = "/internal/v1/federation/verify";
constexpr const char* kGraphPath = "/internal/v1/cognitive/execution-graph";
constexpr const char* kQueryPath = "/internal/v1/cognitive/feedback/adjustments/query";

// ---- Independent producer-side verification (wire-contract 2.3) ------------------------------

void PyDumpString(const std::string& s, std::string* out) {
  out->push_back('"');
  size_t i = 0;
  auto hex4 = [&](unsigned v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04x", v);
    out->append(buf);
  };
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out->append("\\\""); break;
        case '\\': out->append("\\\\"); break;
        case '\n': out->append("\\n"); break;
        case '\r': out->append("\\r"); break;
        case '\t': out->append("\\t"); break;
        case '\b': out->append("\\b"); break;
        case '\f': out->append("\\f"); break;
        default:
          if (c < 0x20 || c == 0x7f) hex4(c);
          else out->push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    uint32_t cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0F : 0x1F);
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      hex4(0xD800 + (cp >> 10));
      hex4(0xDC00 + (cp & 0x3FF));
    } else {
      hex4(cp);
    }
  }
  out->push_back('"');
}

std::string PyFloatRepr(double d) {
  for (int prec = 1; prec <= 17; ++prec) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d) {
      std::string s = buf;
      if (s.find_first_of(".e") == std::string::npos) s += ".0";
      return s;
    }
  }
  return "nan";
}

// json.dumps(v, sort_keys=True, separators=(",", ":")) with ensure_ascii.
void PyDump(const json::Value& v, std::string* out) {
  switch (v.type()) {
    case json::Type::kNull: out->append("null"); return;
    case json::Type::kBool: out->append(v.as_bool() ? "true" : "false"); return;
    case json::Type::kInt: out->append(v.int_text()); return;
    case json::Type::kDouble: out->append(PyFloatRepr(v.as_double())); return;
    case json::Type::kString: PyDumpString(v.as_string(), out); return;
    case json::Type::kArray: {
      out->push_back('[');
      for (size_t i = 0; i < v.as_array().size(); ++i) {
        if (i) out->push_back(',');
        PyDump(v.as_array()[i], out);
      }
      out->push_back(']');
      return;
    }
    case json::Type::kObject: {
      std::vector<const json::Member*> members;
      for (const auto& m : v.as_object()) members.push_back(&m);
      // Python sorts str keys by code point; for UTF-8 that is byte order.
      std::sort(members.begin(), members.end(),
                [](const json::Member* a, const json::Member* b) { return a->first < b->first; });
      out->push_back('{');
      for (size_t i = 0; i < members.size(); ++i) {
        if (i) out->push_back(',');
        PyDumpString(members[i]->first, out);
        out->push_back(':');
        PyDump(members[i]->second, out);
      }
      out->push_back('}');
      return;
    }
  }
}

// The producer's feedback checks, in its order. Returns "" when verified, else its message.
class ProducerFeedbackVerifier {
 public:
  // VECTORVUE_FEEDBACK_VERIFY_KEYS_JSON with one entry: kid -> base64 raw public key.
  ProducerFeedbackVerifier(const std::string& kid, const std::string& public_key_b64)
      : keys_{{kid, public_key_b64}} {}

  std::string Verify(const std::string& response_body, const std::string& requested_tenant,
                     int64_t now) {
    auto parsed = json::Parse(response_body);
    if (!parsed.ok() || !parsed->is_object()) return "response is not a JSON object";
    const json::Value& env = *parsed;
    const json::Value* data = env.Find("data");
    if (data == nullptr || !data->is_array()) return "feedback response data must be an array";
    auto str = [&](const char* k) -> std::string {
      const json::Value* v = env.Find(k);
      return v && v->is_string() ? v->as_string() : std::string();
    };
    const json::Value* signed_at_v = env.Find("signed_at");
    int64_t signed_at = signed_at_v && signed_at_v->is_int() ? *signed_at_v->as_int64() : 0;
    std::string signature = str("signature"), nonce = str("nonce"), kid = str("kid"),
                schema = str("schema_version");
    if (signature.empty() || signed_at == 0 || nonce.empty() || kid.empty() || schema.empty())
      return "signed feedback response is required";
    if (env.Find("signature_algorithm") && str("signature_algorithm") != "Ed25519")
      return "unsupported feedback signature algorithm";
    // Replay window (TTL 300 s): prune, then nonce, then timestamp; nonce recorded first.
    for (auto it = seen_.begin(); it != seen_.end();)
      it = it->second < now - 300 ? seen_.erase(it) : std::next(it);
    if (seen_.count(nonce)) return "feedback replay detected: nonce already used";
    seen_[nonce] = signed_at;
    if (std::llabs(now - signed_at) > 300) return "feedback signature timestamp out of allowed window";
    auto key_it = keys_.find(kid);
    if (key_it == keys_.end()) return "feedback response uses unknown key id";
    auto key = crypto::Ed25519PublicKey::FromBase64(key_it->second);
    if (!key.ok()) return "invalid feedback verify key encoding for kid '" + kid + "'";
    std::string canonical;
    PyDump(*data, &canonical);
    std::string message = requested_tenant + "|" + std::to_string(signed_at) + "|" + nonce + "|" +
                          schema + "|" + kid + "|" + canonical;
    auto sig = Base64DecodeStrict(signature);
    if (!sig) return "feedback response signature encoding is invalid";
    if (!key->Verify(message, *sig)) return "feedback response signature verification failed";
    return "";
  }

 private:
  std::map<std::string, std::string> keys_;
  std::map<std::string, int64_t> seen_;
};

// ---- Request builders ----------------------------------------------------------------------

std::string Detail(const spectrastrike::HttpResponse& r) {
  auto v = json::Parse(r.body);
  if (!v.ok() || !v->is_object() || !v->Find("detail") || !v->Find("detail")->is_string())
    return "<" + r.body + ">";
  return v->Find("detail")->as_string();
}

std::string UniqueNonce(const std::string& tag) {
  static std::atomic<int> n{0};
  return "nonce-" + tag + "-" + std::to_string(n++) + "-" + std::to_string(NowSeconds());
}

json::Value BundleBody(const std::string& op, int64_t ts, const std::string& nonce,
                       const std::string& seed_hex = kProducerSeedHex) {
  const std::string hash(64, 'f');
  std::string msg = op + "|cmp-001|" + hash + "|" + std::to_string(ts) + "|" + nonce;
  auto key = crypto::Ed25519PrivateKey::FromSeed(*HexDecode(seed_hex)).value();
  json::Value b = json::Value::MakeObject();
  b.Set("operator_id", op);
  b.Set("campaign_id", "cmp-001");
  b.Set("execution_hash", hash);
  b.Set("timestamp", ts);
  b.Set("nonce", nonce);
  b.Set("signature", Base64Encode(key.Sign(msg)));
  json::Value body = json::Value::MakeObject();
  body.Set("bundle", std::move(b));
  return body;
}

spectrastrike::HttpResponse PostSigned(spectrastrike::HttpsClient& c, const char* path,
                                       const json::Value& body) {
  SignedRequest r = SignBody(body, body.Find("timestamp")->as_int64().value(),
                             body.Find("nonce")->as_string());
  return c.Post(path, TelemetryHeaders(r), r.body);
}

spectrastrike::HttpResponse PostGraph(spectrastrike::HttpsClient& c, const std::string& op,
                                      const std::string& tenant, int nodes,
                                      const std::string& target) {
  return PostSigned(c, kGraphPath,
                    GraphBody(op, tenant, nodes, target, NowSeconds(), UniqueNonce("graph")));
}

spectrastrike::HttpResponse Query(spectrastrike::HttpsClient& c, const std::string& op,
                                  const std::string& tenant, int limit = 100) {
  return PostSigned(c, kQueryPath, QueryBody(op, tenant, NowSeconds(), UniqueNonce("q"), limit));
}

spectrastrike::HttpResponse PostBundle(spectrastrike::HttpsClient& c, const std::string& body) {
  return c.Post(kFederationPath,
                {{"Content-Type", "application/json"},
                 {"X-Service-Identity", "spectrastrike-producer"}},
                body);
}

int CountAudit(const GatewayUnderTest& gw, const std::string& event, const std::string& needle) {
  int n = 0;
  for (const auto& line : gw.AuditLines())
    if (line.find("\"event_type\":\"" + event + "\"") != std::string::npos &&
        line.find(needle) != std::string::npos)
      ++n;
  return n;
}

class FederationCognitiveTest : public SharedGatewayTest {};

TEST_F(FederationCognitiveTest, FederationVerifyAcceptForgedReplayedStaleUnknownFieldBadBase64) {
  auto c = gw_->Client();
  const std::string nonce = UniqueNonce("fed-ok-0001");
  const std::string ok_body = json::Canonical(BundleBody("op-001", NowSeconds(), nonce));
  auto ok = PostBundle(c, ok_body);
  ASSERT_TRUE(ok.transport_ok) << ok.error;
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto okj = json::Parse(ok.body).value();
  EXPECT_TRUE(okj.Find("accepted")->as_bool());
  const std::string bundle_hash = okj.Find("bundle_hash")->as_string();
  EXPECT_EQ(bundle_hash.size(), 64u);

  // Replay of the same bytes: 409.
  auto replay = PostBundle(c, ok_body);
  EXPECT_EQ(replay.status, 409) << replay.body;
  EXPECT_EQ(Detail(replay), "Replay detected: nonce already used");

  // Forged: signed with another key.
  auto forged = PostBundle(c, json::Canonical(BundleBody("op-001", NowSeconds(),
                                                         UniqueNonce("fed-forged"),
                                                         kFeedbackSeedHex)));
  EXPECT_EQ(forged.status, 401) << forged.body;
  EXPECT_EQ(Detail(forged), "Federation proof-of-origin verification failed");

  // Stale: validly signed an hour ago.
  auto stale = PostBundle(
      c, json::Canonical(BundleBody("op-001", NowSeconds() - 3600, UniqueNonce("fed-stale"))));
  EXPECT_EQ(stale.status, 401) << stale.body;
  EXPECT_EQ(Detail(stale), "Federation bundle timestamp out of allowed clock skew");

  // Unknown field at either level: 422.
  json::Value extra = BundleBody("op-001", NowSeconds(), UniqueNonce("fed-extra"));
  extra.Set("unexpected", 1);
  auto e1 = PostBundle(c, json::Canonical(extra));
  EXPECT_EQ(e1.status, 422) << e1.body;
  json::Value extra2 = BundleBody("op-001", NowSeconds(), UniqueNonce("fed-extra2"));
  extra2.Find("bundle")->Set("tenant_id", kTenant1);
  auto e2 = PostBundle(c, json::Canonical(extra2));
  EXPECT_EQ(e2.status, 422) << e2.body;

  // Bad base64 (bad padding, which gave the reference a 500): 422.
  json::Value bad = BundleBody("op-001", NowSeconds(), UniqueNonce("fed-b64"));
  std::string sig = bad.Find("bundle")->Find("signature")->as_string();
  bad.Find("bundle")->Set("signature", sig.substr(0, sig.size() - 1));
  auto b64 = PostBundle(c, json::Canonical(bad));
  EXPECT_EQ(b64.status, 422) << b64.body;
  EXPECT_EQ(Detail(b64), "Federation bundle signature is not valid base64");
  auto junk = PostBundle(c, "{not json");
  EXPECT_EQ(junk.status, 422) << junk.body;

  // Unmapped operator: 403.
  auto unmapped = PostBundle(
      c, json::Canonical(BundleBody("op-unmapped", NowSeconds(), UniqueNonce("fed-unmapped"))));
  EXPECT_EQ(unmapped.status, 403) << unmapped.body;

  // Every outcome audited.
  EXPECT_EQ(CountAudit(*gw_, "federation.accepted", bundle_hash), 1);
  EXPECT_GE(CountAudit(*gw_, "federation.rejected", "\"status_code\":409"), 1);
  EXPECT_GE(CountAudit(*gw_, "federation.rejected", "Federation proof-of-origin"), 1);
  EXPECT_GE(CountAudit(*gw_, "federation.rejected", "out of allowed clock skew"), 1);
  EXPECT_GE(CountAudit(*gw_, "federation.rejected", "\"status_code\":422"), 4);
  EXPECT_GE(CountAudit(*gw_, "federation.rejected", "\"status_code\":403"), 1);
}

TEST_F(FederationCognitiveTest, GraphThenQueryRoundTripTightensAt082AndVerifiesAsTheProducer) {
  auto c = gw_->Client();
  const std::string target = "urn:target:ip:10.9.9." + std::to_string(NowSeconds() % 200);
  auto g = PostGraph(c, "op-001", kTenant1, 8, target);
  ASSERT_TRUE(g.transport_ok) << g.error;
  ASSERT_EQ(g.status, 202) << g.body;
  auto gj = json::Parse(g.body).value();
  EXPECT_EQ(gj.Find("status")->as_string(), "accepted");
  EXPECT_TRUE(gj.Find("data")->Find("graph_synced")->as_bool());
  EXPECT_TRUE(gj.Find("errors")->as_array().empty());
  EXPECT_EQ(g.body.rfind("{\"request_id\":", 0), 0u) << "reference member order";

  auto q = Query(c, "op-001", kTenant1, 1);
  ASSERT_EQ(q.status, 200) << q.body;
  ProducerFeedbackVerifier verifier(kFeedbackKid, kFeedbackPublicKeyB64);
  EXPECT_EQ(verifier.Verify(q.body, kTenant1, NowSeconds()), "");
  auto qj = json::Parse(q.body).value();
  ASSERT_EQ(qj.Find("data")->as_array().size(), 1u);
  const json::Value& item = qj.Find("data")->as_array()[0];
  EXPECT_EQ(item.Find("action")->as_string(), "tighten");
  EXPECT_EQ(item.Find("confidence")->as_double(), 0.82);
  EXPECT_EQ(item.Find("target_urn")->as_string(), target);
  EXPECT_EQ(item.Find("execution_fingerprint")->as_string(), std::string(64, 'e'));
  EXPECT_EQ(item.Find("tenant_id")->as_string(), kTenant1);
  EXPECT_EQ(item.as_object().size(), 11u);
  EXPECT_EQ(qj.Find("kid")->as_string(), kFeedbackKid);
  EXPECT_EQ(qj.Find("signature_algorithm")->as_string(), "Ed25519");
  EXPECT_EQ(qj.Find("schema_version")->as_string(), "feedback.response.v1");
  EXPECT_EQ(qj.Find("nonce")->as_string().size(), 24u);

  // The producer's rules are not vacuous: the same response replayed, a response read for
  // another tenant, a tampered item and an unknown kid all fail.
  EXPECT_EQ(verifier.Verify(q.body, kTenant1, NowSeconds()),
            "feedback replay detected: nonce already used");
  ProducerFeedbackVerifier fresh(kFeedbackKid, kFeedbackPublicKeyB64);
  EXPECT_EQ(fresh.Verify(q.body, kTenant2, NowSeconds()),
            "feedback response signature verification failed");
  std::string tampered = q.body;
  tampered.replace(tampered.find("tighten"), 7, "observe");
  ProducerFeedbackVerifier fresh2(kFeedbackKid, kFeedbackPublicKeyB64);
  EXPECT_EQ(fresh2.Verify(tampered, kTenant1, NowSeconds()),
            "feedback response signature verification failed");
  ProducerFeedbackVerifier other_kid("kid-other", kFeedbackPublicKeyB64);
  EXPECT_EQ(other_kid.Verify(q.body, kTenant1, NowSeconds()),
            "feedback response uses unknown key id");
  ProducerFeedbackVerifier late(kFeedbackKid, kFeedbackPublicKeyB64);
  EXPECT_EQ(late.Verify(q.body, kTenant1, NowSeconds() + 1000),
            "feedback signature timestamp out of allowed window");

  // A small graph observes at 0.55.
  ASSERT_EQ(PostGraph(c, "op-001", kTenant1, 3, target).status, 202);
  auto q2 = Query(c, "op-001", kTenant1, 1);
  ASSERT_EQ(q2.status, 200) << q2.body;
  ProducerFeedbackVerifier v2(kFeedbackKid, kFeedbackPublicKeyB64);
  EXPECT_EQ(v2.Verify(q2.body, kTenant1, NowSeconds()), "");
  json::Value q2j = json::Parse(q2.body).value();
  ASSERT_EQ(q2j.Find("data")->as_array().size(), 1u);
  const json::Value& small = q2j.Find("data")->as_array()[0];
  EXPECT_EQ(small.Find("action")->as_string(), "observe");
  EXPECT_EQ(small.Find("confidence")->as_double(), 0.55);

  EXPECT_GE(CountAudit(*gw_, "cognitive.graph.accepted", kTenant1), 2);
  EXPECT_GE(CountAudit(*gw_, "cognitive.feedback.issued", kTenant1), 2);
}

TEST_F(FederationCognitiveTest, StoredGraphsAreTenantIsolated) {
  auto c = gw_->Client();
  const std::string t2_target = "urn:target:tenant2-only-" + UniqueNonce("t2");
  ASSERT_EQ(PostGraph(c, "op-002", kTenant2, 9, t2_target).status, 202);
  auto q1 = Query(c, "op-001", kTenant1, 1000);
  ASSERT_EQ(q1.status, 200) << q1.body;
  EXPECT_EQ(q1.body.find(t2_target), std::string::npos);
  EXPECT_EQ(q1.body.find(kTenant2), std::string::npos);
  auto q2 = Query(c, "op-002", kTenant2, 1000);
  ASSERT_EQ(q2.status, 200) << q2.body;
  EXPECT_NE(q2.body.find(t2_target), std::string::npos);
  // An operator cannot read another tenant's feedback, nor write into another tenant.
  auto cross = Query(c, "op-001", kTenant2);
  EXPECT_EQ(cross.status, 403) << cross.body;
  EXPECT_EQ(Detail(cross), "Operator tenant mapping violation");
  auto cross_write = PostGraph(c, "op-001", kTenant2, 9, "urn:target:cross");
  EXPECT_EQ(cross_write.status, 403) << cross_write.body;
  EXPECT_GE(CountAudit(*gw_, "cognitive.feedback.rejected", "\"status_code\":403"), 1);
  EXPECT_GE(CountAudit(*gw_, "cognitive.graph.rejected", "\"status_code\":403"), 1);
}

TEST_F(FederationCognitiveTest, CognitiveRejectionsAreCleanAndAudited) {
  auto c = gw_->Client();
  // Body nonce differs from the signed header nonce: 401.
  json::Value body = GraphBody("op-001", kTenant1, 2, "urn:x", NowSeconds(), UniqueNonce("bind"));
  SignedRequest r = SignBody(body, body.Find("timestamp")->as_int64().value(), "other-nonce-123");
  auto bind = c.Post(kGraphPath, TelemetryHeaders(r), r.body);
  EXPECT_EQ(bind.status, 401) << bind.body;
  EXPECT_EQ(Detail(bind), "Body nonce mismatch with signed header");
  // Wrong schema version: 422.
  json::Value v = GraphBody("op-001", kTenant1, 2, "urn:x", NowSeconds(), UniqueNonce("ver"));
  v.Set("schema_version", "execution.graph.v9");
  auto ver = PostSigned(c, kGraphPath, v);
  EXPECT_EQ(ver.status, 422) << ver.body;
  EXPECT_EQ(Detail(ver), "Execution graph schema version is not allowed");
  // Unknown field: 422 (the reference answered 500).
  json::Value x = QueryBody("op-001", kTenant1, NowSeconds(), UniqueNonce("x"));
  x.Set("surprise", true);
  auto extra = PostSigned(c, kQueryPath, x);
  EXPECT_EQ(extra.status, 422) << extra.body;
  // Replay of a signed query: 409.
  json::Value rq = QueryBody("op-001", kTenant1, NowSeconds(), UniqueNonce("rq"));
  ASSERT_EQ(PostSigned(c, kQueryPath, rq).status, 200);
  EXPECT_EQ(PostSigned(c, kQueryPath, rq).status, 409);
  // Forged signature: 401.
  SignedRequest f = SignBody(QueryBody("op-001", kTenant1, NowSeconds(), UniqueNonce("f")),
                             NowSeconds(), "forged-nonce-1", kFeedbackSeedHex);
  auto forged = c.Post(kQueryPath, TelemetryHeaders(f), f.body);
  EXPECT_EQ(forged.status, 401) << forged.body;
  EXPECT_GE(CountAudit(*gw_, "cognitive.graph.rejected", "body_nonce_mismatch"), 1);
  EXPECT_GE(CountAudit(*gw_, "cognitive.graph.rejected", "schema_version_not_allowed"), 1);
  EXPECT_GE(CountAudit(*gw_, "cognitive.feedback.rejected", "\"status_code\":409"), 1);
  EXPECT_GE(CountAudit(*gw_, "cognitive.feedback.rejected", "bad_signature"), 1);
}

TEST(FederationCognitiveRestartTest, GraphsSurviveARestart) {
  GatewayUnderTest gw;
  ASSERT_TRUE(gw.started()) << gw.log();
  {
    auto c = gw.Client();
    ASSERT_EQ(PostGraph(c, "op-001", kTenant1, 12, "urn:target:persisted").status, 202);
  }
  ASSERT_TRUE(gw.Restart()) << gw.log();
  auto c = gw.Client();
  auto q = Query(c, "op-001", kTenant1);
  ASSERT_EQ(q.status, 200) << q.body;
  EXPECT_NE(q.body.find("urn:target:persisted"), std::string::npos) << q.body;
  ProducerFeedbackVerifier v(kFeedbackKid, kFeedbackPublicKeyB64);
  EXPECT_EQ(v.Verify(q.body, kTenant1, NowSeconds()), "");
}

TEST(FederationCognitiveStartupTest, RefusesToStartWithoutFeedbackKeysNamingTheKey) {
  GatewayOptions o;
  o.extra_yaml = "";  // the harness configures keys; override them away below
  GatewayUnderTest probe(o);  // to get a valid config file to edit
  ASSERT_TRUE(probe.started()) << probe.log();
  probe.Stop();
  std::string yaml = ReadFile(probe.config_path());
  size_t at = yaml.find("    feedback_ed25519_keys:");
  ASSERT_NE(at, std::string::npos);
  yaml.erase(at);
  TempDir dir;
  WriteFile(dir.File("gw.yaml"), yaml, 0600);
  std::string out;
  int rc = RunCommand({std::string(VV_BIN_DIR) + "/vv-gateway", "--config", dir.File("gw.yaml")},
                      &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("VV_TG_FEEDBACK_ED25519_KEYS_JSON"), std::string::npos) << out;
}

}  // namespace
}  // namespace vv::testing

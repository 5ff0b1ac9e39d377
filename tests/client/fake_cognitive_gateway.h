#pragma once
// Test helper: an in-process fake of the gateway's federation-verify, execution-graph and
// feedback endpoints (wire contract 1.5-1.7, 2.2, 2.3, 10) on vv::http::Server with the dev
// PKI, so producer tests do not depend on the real implementation of those endpoints.
// Response formats follow the reference; the feedback response is signed with the A.1
// feedback key under kid "kid-001". `fail_next` answers the next requests with scripted
// statuses (e.g. 503, 429) before behaving normally.

#include <deque>
#include <set>
#include <mutex>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "http/server.h"
#include "json/json.h"
#include "spectrastrike/feedback.h"

namespace spectrastrike::test_support {

class FakeCognitiveGateway final : public vv::http::Handler {
 public:
  FakeCognitiveGateway()
      : producer_key_(*vv::crypto::Ed25519PublicKey::FromBase64(
            "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")),
        feedback_key_(*vv::crypto::Ed25519PrivateKey::FromSeed(*vv::HexDecode(
            "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"))) {}

  void FailNext(std::vector<int> statuses) {
    std::lock_guard<std::mutex> l(mu_);
    for (int s : statuses) fail_next_.push_back(s);
  }
  // Corrupt the next feedback response's signature (a forged response).
  void ForgeNextFeedback() {
    std::lock_guard<std::mutex> l(mu_);
    forge_next_ = true;
  }
  // Send the same feedback nonce every time (a replaying gateway / MITM).
  void FixFeedbackNonce(std::string nonce) {
    std::lock_guard<std::mutex> l(mu_);
    fixed_nonce_ = std::move(nonce);
  }
  std::vector<vv::http::Request> requests() const {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

  void Handle(vv::http::Request req, vv::http::Responder respond) override {
    std::lock_guard<std::mutex> l(mu_);
    requests_.push_back(req);
    if (!fail_next_.empty()) {
      int s = fail_next_.front();
      fail_next_.pop_front();
      return respond(Json(s, R"({"detail":"scripted failure"})"));
    }
    std::string path = req.Path();
    if (path == "/internal/v1/federation/verify") return respond(Federation(req));
    const std::string* id = req.Header("x-service-identity");
    if (id == nullptr || *id != "spectrastrike-producer")
      return respond(Json(401, R"({"detail":"Unknown service identity"})"));
    if (!SignatureOk(req)) return respond(Json(401, R"({"detail":"Invalid telemetry signature"})"));
    const std::string* nonce = req.Header("x-telemetry-nonce");
    if (!seen_nonces_.insert(*nonce).second)
      return respond(Json(409, R"({"detail":"Replay detected: nonce already used"})"));
    if (path == "/internal/v1/cognitive/execution-graph") return respond(Graph(req));
    if (path == "/internal/v1/cognitive/feedback/adjustments/query") return respond(Feedback(req));
    return respond(Json(404, R"({"detail":"Not Found"})"));
  }
  vv::http::Response OnBodyTooLarge(const vv::http::Request&) override {
    return Json(413, R"({"detail":"too large"})");
  }

 private:
  static vv::http::Response Json(int status, std::string body) {
    vv::http::Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }

  bool SignatureOk(const vv::http::Request& req) const {
    const std::string* ts = req.Header("x-telemetry-timestamp");
    const std::string* nonce = req.Header("x-telemetry-nonce");
    const std::string* sig = req.Header("x-telemetry-signature");
    if (!ts || !nonce || !sig) return false;
    auto raw = vv::Base64DecodeStrict(*sig);
    return raw && producer_key_.Verify(*ts + "." + *nonce + "." + req.body, *raw);
  }

  vv::http::Response Federation(const vv::http::Request& req) {
    auto v = vv::json::Parse(req.body);
    const vv::json::Value* b = v.ok() && v->is_object() ? v->Find("bundle") : nullptr;
    if (b == nullptr || !b->is_object() || v->as_object().size() != 1)
      return Json(422, R"({"detail":[{"msg":"bad body"}]})");
    auto s = [&](const char* k) {
      const vv::json::Value* f = b->Find(k);
      return f && f->is_string() ? f->as_string() : std::string();
    };
    const vv::json::Value* ts = b->Find("timestamp");
    if (!ts || !ts->is_int() || s("nonce").size() < 12)
      return Json(422, R"({"detail":[{"msg":"bad bundle"}]})");
    std::string msg = s("operator_id") + "|" + s("campaign_id") + "|" + s("execution_hash") + "|" +
                      ts->int_text() + "|" + s("nonce");
    auto sig = vv::Base64DecodeStrict(s("signature"));
    if (!sig || !producer_key_.Verify(msg, *sig))
      return Json(401, R"({"detail":"Federation proof-of-origin verification failed"})");
    return Json(200, R"({"accepted":true,"bundle_hash":")" + vv::crypto::Sha256Hex(msg) + "\"}");
  }

  vv::http::Response Graph(const vv::http::Request& req) {
    auto v = vv::json::Parse(req.body);
    if (!v.ok() || !v->is_object()) return Json(500, "Internal Server Error");
    graphs_.push_back(*v);
    return Json(202, R"({"request_id":"g-1","status":"accepted","data":{"graph_synced":true},"errors":[]})");
  }

  vv::http::Response Feedback(const vv::http::Request& req) {
    auto q = vv::json::Parse(req.body);
    if (!q.ok() || !q->is_object()) return Json(500, "Internal Server Error");
    std::string tenant = q->Find("tenant_id")->as_string();
    int64_t now = *q->Find("timestamp")->as_int64();
    vv::json::Value data = vv::json::Value::MakeArray();
    for (const auto& g : graphs_) {
      if (g.Find("tenant_id")->as_string() != tenant) continue;
      const vv::json::Value* graph = g.Find("graph");
      const vv::json::Value* nodes = graph->Find("nodes");
      bool tighten = nodes && nodes->is_array() && nodes->as_array().size() >= 8;
      const vv::json::Value* urn = graph->Find("target_urn");
      vv::json::Value item = vv::json::Value::MakeObject();
      item.Set("tenant_id", tenant);
      item.Set("execution_fingerprint", *g.Find("execution_fingerprint"));
      item.Set("target_urn", urn && urn->is_string() ? urn->as_string() : "urn:target:unknown");
      item.Set("action", tighten ? "tighten" : "observe");
      item.Set("confidence", tighten ? 0.82 : 0.55);
      item.Set("rationale", tighten ? "high-complexity execution graph exceeded cognitive threshold"
                                    : "graph telemetry received; monitoring baseline adjustments");
      item.Set("control", "execution");
      item.Set("ttl_seconds", 1800);
      item.Set("timestamp", vv::json::Value(now));
      item.Set("schema_version", "feedback.adjustment.v1");
      item.Set("attestation_measurement_hash", *g.Find("attestation_measurement_hash"));
      data.Push(std::move(item));
    }
    // A fixed nonce replays the first response made with it verbatim (an attacker replaying a
    // captured signed answer); fresh responses bind the query's nonce like the real gateway.
    if (!fixed_nonce_.empty() && !fixed_response_.empty()) return Json(200, fixed_response_);
    const std::string request_nonce =
        q->Find("nonce") && q->Find("nonce")->is_string() ? q->Find("nonce")->as_string() : "";
    std::string nonce = (fixed_nonce_.empty() ? "resp-nonce-" + std::to_string(counter_++) + "-xyz"
                                              : fixed_nonce_) +
                        spectrastrike::FeedbackRequestNonceTag(request_nonce);
    std::string sig = vv::Base64Encode(feedback_key_.Sign(FeedbackVerifier::SigningInput(
        tenant, now, nonce, "feedback.response.v1", "kid-001", vv::json::Canonical(data))));
    if (forge_next_) {
      sig[5] = sig[5] == 'A' ? 'B' : 'A';
      forge_next_ = false;
    }
    vv::json::Value r = vv::json::Value::MakeObject();
    r.Set("request_id", "fb-1");
    r.Set("status", "accepted");
    r.Set("data", std::move(data));
    r.Set("errors", vv::json::Value::MakeArray());
    r.Set("signature", sig);
    r.Set("kid", "kid-001");
    r.Set("signature_algorithm", "Ed25519");
    r.Set("signed_at", vv::json::Value(now));
    r.Set("nonce", nonce);
    r.Set("schema_version", "feedback.response.v1");
    if (!fixed_nonce_.empty()) fixed_response_ = vv::json::Canonical(r);
    return Json(200, vv::json::Canonical(r));
  }

  mutable std::mutex mu_;
  vv::crypto::Ed25519PublicKey producer_key_;
  vv::crypto::Ed25519PrivateKey feedback_key_;
  std::deque<int> fail_next_;
  bool forge_next_ = false;
  std::string fixed_nonce_;
  std::string fixed_response_;  // the response replayed while fixed_nonce_ is set
  int counter_ = 0;
  std::set<std::string> seen_nonces_;
  std::vector<vv::json::Value> graphs_;
  std::vector<vv::http::Request> requests_;
};

}  // namespace spectrastrike::test_support

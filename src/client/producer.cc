#include "spectrastrike/producer.h"

#include <functional>
#include <utility>

#include "client/status_bridge.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "json/json.h"

namespace spectrastrike {
namespace {

using vv::json::Value;

std::string NormaliseFingerprint(std::string_view fp) {
  std::string out;
  for (char c : vv::StripAsciiWhitespace(fp))
    if (c != ':') out.push_back(c);
  return vv::ToLowerAscii(out);
}

const std::string* StringField(const Value& obj, std::string_view key) {
  const Value* v = obj.Find(key);
  return (v != nullptr && v->is_string() && !v->as_string().empty()) ? &v->as_string() : nullptr;
}

}  // namespace

struct Producer::Attempt {
  std::string target;
  HeaderList headers;
  std::string body;
};

class Producer::AttemptBuilder {
 public:
  template <typename F>
  AttemptBuilder(F build) : build_(std::move(build)) {}  // NOLINT(implicit): a lambda
  vv::Result<Attempt> operator()(int64_t ts, const std::string& nonce) const {
    return build_(ts, nonce);
  }

 private:
  std::function<vv::Result<Attempt>(int64_t, const std::string&)> build_;
};

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAccepted:
      return "accepted";
    case Outcome::kRejected:
      return "rejected";
    case Outcome::kExhausted:
      return "failed";
  }
  return "unknown";
}

std::string DetailOf(const HttpResponse& response) {
  if (!response.transport_ok) return response.error.empty() ? "network error" : response.error;
  auto v = vv::json::Parse(response.body);
  if (v.ok() && v->is_object()) {
    if (const Value* d = v->Find("detail")) {
      if (d->is_string()) return d->as_string();
      return vv::json::Canonical(*d);
    }
    if (const Value* e = v->Find("errors"); e != nullptr && e->is_array() && !e->as_array().empty())
      return vv::json::Canonical(*e);
  }
  std::string raw = response.body.substr(0, 200);
  return raw.empty() ? "HTTP " + std::to_string(response.status) : raw;
}

// ---------------------------------------------------------------- FederationBundle

std::string FederationBundle::Message() const {
  return operator_id + "|" + campaign_id + "|" + execution_hash + "|" + std::to_string(timestamp) +
         "|" + nonce;
}

std::string FederationBundle::BundleHash() const { return vv::crypto::Sha256Hex(Message()); }

std::string FederationBundle::ToJson() const {
  Value b = Value::MakeObject();
  b.Set("operator_id", operator_id);
  b.Set("campaign_id", campaign_id);
  b.Set("execution_hash", execution_hash);
  b.Set("timestamp", Value(timestamp));
  b.Set("nonce", nonce);
  b.Set("signature", signature);
  Value outer = Value::MakeObject();
  outer.Set("bundle", std::move(b));
  return vv::json::Canonical(outer);
}

// ---------------------------------------------------------------- Producer

Producer::Producer(ProducerOptions options, const RequestSigner& signer, Transport& transport,
                   const Clock& clock, Random& random, Sleeper& sleeper)
    : options_(std::move(options)),
      signer_(signer),
      transport_(transport),
      clock_(clock),
      random_(random),
      sleeper_(sleeper) {
  options_.client_cert_sha256 = NormaliseFingerprint(options_.client_cert_sha256);
  if (options_.retry.max_attempts < 1) options_.retry.max_attempts = 1;
}

HeaderList Producer::SignedHeaders(int64_t ts, const std::string& nonce,
                                   const std::string& body) const {
  HeaderList h;
  h.emplace_back("Content-Type", "application/json");
  h.emplace_back("X-Service-Identity", options_.service_identity);
  if (!options_.client_cert_sha256.empty())
    h.emplace_back("X-Client-Cert-Sha256", options_.client_cert_sha256);
  auto s = signer_.Sign(ts, nonce, body);
  h.emplace_back("X-Telemetry-Timestamp", s.timestamp);
  h.emplace_back("X-Telemetry-Nonce", s.nonce);
  h.emplace_back("X-Telemetry-Signature", s.signature);
  return h;
}

DeliveryResult Producer::Deliver(const AttemptBuilder& build) {
  DeliveryResult result;
  for (int attempt = 1; attempt <= options_.retry.max_attempts; ++attempt) {
    // Fresh timestamp and nonce for every attempt, taken now (at signing time).
    int64_t ts = clock_.NowSeconds();
    std::string nonce = MakeNonce(random_, options_.nonce_length);
    auto a = build(ts, nonce);
    if (!a.ok()) {
      result.outcome = Outcome::kRejected;
      result.detail = a.status().message();
      return result;
    }
    HttpResponse r = transport_.Post(options_.base_path + a->target, a->headers, a->body);
    result.attempts = attempt;
    result.status = r.transport_ok ? r.status : 0;
    result.response_body = r.body;
    if (r.transport_ok && r.status >= 200 && r.status < 300) {
      result.outcome = Outcome::kAccepted;
      result.detail.clear();
      return result;
    }
    result.detail = DetailOf(r);
    if (!IsRetryable(r)) {
      result.outcome = Outcome::kRejected;
      return result;
    }
    result.outcome = Outcome::kExhausted;
    if (attempt < options_.retry.max_attempts)
      sleeper_.SleepMillis(BackoffDelayMs(options_.retry, attempt, random_, &r));
  }
  return result;
}

DeliveryResult Producer::Send(const PreparedEvent& event) {
  return Deliver([&](int64_t ts, const std::string& nonce) -> vv::Result<Attempt> {
    Attempt a;
    a.target = kTelemetryPath;
    a.body = StampEvent(event, ts, nonce);
    a.headers = SignedHeaders(ts, nonce, a.body);
    a.headers.emplace_back("Idempotency-Key", event.execution_hash);
    return a;
  });
}

std::vector<DeliveryResult> Producer::SendBatch(const std::vector<PreparedEvent>& events) {
  std::vector<DeliveryResult> results(events.size());
  std::vector<size_t> todo;  // indexes still to deliver
  for (size_t i = 0; i < events.size(); ++i) todo.push_back(i);
  for (int attempt = 1; attempt <= options_.retry.max_attempts && !todo.empty(); ++attempt) {
    if (!batch_supported_) break;
    // Fresh timestamp and nonce for every attempt, taken now (at signing time).
    const int64_t ts = clock_.NowSeconds();
    const std::string nonce = MakeNonce(random_, options_.nonce_length);
    std::string body;
    for (size_t i : todo) {
      body += StampEvent(events[i], ts, nonce);
      body += '\n';
    }
    HeaderList headers = SignedHeaders(ts, nonce, body);
    headers.front() = {"Content-Type", "application/x-ndjson"};
    HttpResponse r = transport_.Post(options_.base_path + kTelemetryBatchPath, headers, body);
    if (r.transport_ok && (r.status == 404 || r.status == 405)) {
      batch_supported_ = false;  // an older gateway: single sends from now on
      break;
    }
    auto fail_all = [&](Outcome o) {
      for (size_t i : todo) {
        DeliveryResult& d = results[i];
        d.outcome = o;
        d.status = r.transport_ok ? r.status : 0;
        d.attempts = attempt;
        d.detail = DetailOf(r);
        d.response_body = r.body;
      }
    };
    vv::Result<Value> parsed = r.transport_ok && r.status == 207
                                   ? vv::json::Parse(r.body)
                                   : vv::Result<Value>(vv::Status::InvalidArgument("not a 207"));
    const Value* list = parsed.ok() && parsed->is_object() ? parsed->Find("results") : nullptr;
    if (list == nullptr || !list->is_array() || list->as_array().size() != todo.size()) {
      if (r.transport_ok && r.status == 207) {
        fail_all(Outcome::kRejected);  // a 207 we cannot map to the events: final, reported
        for (size_t i : todo) results[i].detail = "malformed batch response";
        return results;
      }
      if (!IsRetryable(r)) {
        fail_all(Outcome::kRejected);
        return results;
      }
      fail_all(Outcome::kExhausted);
      if (attempt < options_.retry.max_attempts)
        sleeper_.SleepMillis(BackoffDelayMs(options_.retry, attempt, random_, &r));
      continue;
    }
    std::vector<size_t> again;
    for (size_t k = 0; k < todo.size(); ++k) {
      const Value& item = list->as_array()[k];
      const Value* st = item.is_object() ? item.Find("status") : nullptr;
      const int status =
          st != nullptr && st->is_int() ? static_cast<int>(st->as_int64().value_or(0)) : 0;
      DeliveryResult& d = results[todo[k]];
      d.status = status;
      d.attempts = attempt;
      d.response_body = vv::json::Canonical(item);
      if (status >= 200 && status < 300) {
        d.outcome = Outcome::kAccepted;
        d.detail.clear();
        continue;
      }
      const Value* det = item.is_object() ? item.Find("detail") : nullptr;
      d.detail = det != nullptr && det->is_string() ? det->as_string()
                                                    : "HTTP " + std::to_string(status);
      if (IsRetryableStatus(status)) {
        d.outcome = Outcome::kExhausted;
        again.push_back(todo[k]);
      } else {
        d.outcome = Outcome::kRejected;
      }
    }
    todo = std::move(again);
    if (!todo.empty() && attempt < options_.retry.max_attempts)
      sleeper_.SleepMillis(BackoffDelayMs(options_.retry, attempt, random_, nullptr));
  }
  if (!batch_supported_) {
    for (size_t i : todo) results[i] = Send(events[i]);
  }
  return results;
}

namespace {

// The execution-graph request body (canonical JSON) for one attempt.
vv::Result<std::string> GraphBody(const ProducerOptions& options, std::string_view graph_json,
                                  int64_t ts, const std::string& nonce) {
  auto parsed = vv::json::Parse(graph_json);
  if (!parsed.ok() || !parsed->is_object())
    return vv::Status::InvalidArgument("execution graph must be a JSON object");
  const Value& graph = *parsed;
  const std::string* op = StringField(graph, "operator_id");
  if (op == nullptr) op = StringField(graph, "actor");
  std::string operator_id = op ? *op : options.identity.operator_id;
  if (operator_id.empty() || operator_id.size() > 128)
    return vv::Status::InvalidArgument("execution graph needs operator_id (graph or config)");
  const std::string* t = StringField(graph, "tenant_id");
  std::string tenant = t ? *t : options.identity.tenant_id;
  if (!IsValidTenantId(tenant))
    return vv::Status::InvalidArgument("execution graph needs a valid tenant_id (graph or config)");
  const std::string* fp = StringField(graph, "execution_fingerprint");
  if (fp == nullptr || !vv::IsHex(*fp, 64))
    return vv::Status::InvalidArgument("graph.execution_fingerprint must be 64 hex characters");
  std::string fingerprint = vv::ToLowerAscii(*fp);
  const std::string* sv = StringField(graph, "schema_version");
  std::string schema = sv ? *sv : "execution.graph.v1";
  if (schema.size() > 32)
    return vv::Status::InvalidArgument("graph.schema_version exceeds 32 chars");
  const std::string* att = StringField(graph, "attestation_measurement_hash");
  std::string attestation =
      att ? vv::ToLowerAscii(*att)
          : vv::crypto::Sha256Hex(fingerprint + "|" + tenant + "|attestation");
  if (!vv::IsHex(attestation, 64))
    return vv::Status::InvalidArgument(
        "graph.attestation_measurement_hash must be 64 hex characters");
  Value body = Value::MakeObject();
  body.Set("operator_id", operator_id);
  body.Set("tenant_id", tenant);
  body.Set("execution_fingerprint", fingerprint);
  body.Set("timestamp", Value(ts));
  body.Set("nonce", nonce);
  body.Set("schema_version", schema);
  body.Set("attestation_measurement_hash", attestation);
  body.Set("graph", graph);
  return vv::json::Canonical(body);
}

}  // namespace

Result<std::string> Producer::BuildGraphRequest(std::string_view graph_json, int64_t ts,
                                                const std::string& nonce) const {
  return Public(GraphBody(options_, graph_json, ts, nonce));
}

DeliveryResult Producer::SendGraph(std::string_view graph_json) {
  return Deliver([&](int64_t ts, const std::string& nonce) -> vv::Result<Attempt> {
    VV_ASSIGN_OR_RETURN(auto body, GraphBody(options_, graph_json, ts, nonce));
    Attempt a;
    a.target = kExecutionGraphPath;
    a.body = std::move(body);
    a.headers = SignedHeaders(ts, nonce, a.body);
    return a;
  });
}

FederationBundle Producer::BuildBundle(const std::string& execution_hash, int64_t ts,
                                       const std::string& nonce) const {
  FederationBundle b;
  b.operator_id = options_.identity.operator_id;
  b.campaign_id = options_.identity.campaign_id;
  b.execution_hash = execution_hash;
  b.timestamp = ts;
  b.nonce = nonce;
  b.signature = signer_.SignMessageB64(b.Message());
  return b;
}

DeliveryResult Producer::Federate(const std::string& execution_hash) {
  std::string expected_hash;
  DeliveryResult r = Deliver([&](int64_t ts, const std::string& nonce) -> vv::Result<Attempt> {
    if (!vv::IsHex(execution_hash, 64))
      return vv::Status::InvalidArgument("execution_hash must be 64 hex characters");
    if (options_.identity.operator_id.empty() || options_.identity.campaign_id.empty())
      return vv::Status::InvalidArgument("federation needs operator_id and campaign_id");
    if (nonce.size() < 12)
      return vv::Status::InvalidArgument("federation nonce must be >= 12 chars");
    FederationBundle b = BuildBundle(execution_hash, ts, nonce);
    expected_hash = b.BundleHash();
    Attempt a;
    a.target = kFederationVerifyPath;
    a.body = b.ToJson();
    a.headers.emplace_back("Content-Type", "application/json");
    a.headers.emplace_back("X-Service-Identity", options_.service_identity);
    if (!options_.client_cert_sha256.empty())
      a.headers.emplace_back("X-Client-Cert-Sha256", options_.client_cert_sha256);
    return a;
  });
  if (r.outcome == Outcome::kAccepted) {
    auto v = vv::json::Parse(r.response_body);
    const Value* h = (v.ok() && v->is_object()) ? v->Find("bundle_hash") : nullptr;
    if (h == nullptr || !h->is_string() || h->as_string() != expected_hash) {
      r.outcome = Outcome::kRejected;
      r.detail = "gateway bundle_hash does not match the bundle sent";
    }
  }
  return r;
}

Result<VerifiedFeedback> Producer::QueryFeedback(int limit, FeedbackVerifier& verifier,
                                                 const FeedbackAnchors* anchors,
                                                 DeliveryResult* delivery) {
  if (limit < 1 || limit > 1000)
    return Public(vv::Status::InvalidArgument("limit must be 1..1000"));
  const ProducerIdentity& id = options_.identity;
  if (id.operator_id.empty() || !IsValidTenantId(id.tenant_id))
    return Public(
        vv::Status::InvalidArgument("feedback query needs operator_id and a valid tenant_id"));
  std::string sent_nonce;  // the nonce of the attempt that got the answer
  DeliveryResult r = Deliver([&](int64_t ts, const std::string& nonce) -> vv::Result<Attempt> {
    sent_nonce = nonce;
    Value body = Value::MakeObject();
    body.Set("operator_id", id.operator_id);
    body.Set("tenant_id", id.tenant_id);
    body.Set("timestamp", Value(ts));
    body.Set("nonce", nonce);
    body.Set("limit", Value(static_cast<int64_t>(limit)));
    Attempt a;
    a.target = kFeedbackQueryPath;
    a.body = vv::json::Canonical(body);
    a.headers = SignedHeaders(ts, nonce, a.body);
    return a;
  });
  if (delivery != nullptr) *delivery = r;
  if (!r.ok())
    return Public(vv::Status::Unavailable(
        "feedback query " + std::string(OutcomeName(r.outcome)) +
        (r.status ? " (HTTP " + std::to_string(r.status) + ")" : "") + ": " + r.detail));
  return verifier.Verify(r.response_body, id.tenant_id, anchors, sent_nonce);
}

}  // namespace spectrastrike

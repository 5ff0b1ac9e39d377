#pragma once
// SpectraStrike SDK: the producer. Signs and delivers telemetry events, execution graphs,
// federation bundles and feedback queries, retrying safely.
//
// Retry safety (wire-contract 13 item 3): every attempt is re-stamped with a fresh timestamp
// (taken from the injected clock at signing time) and a fresh nonce, and re-signed, so a
// gateway that burns nonces before failing (the reference) never answers a retry with 409.
// The event_id (and execution_hash / Idempotency-Key) stay the same, so the gateway's queue
// stores a retried event once. Network errors and 429/502/503/504 are retried with backoff
// (retry.h); every other status is final.
// Thread-safety: not thread-safe (one Producer per thread). Ownership: borrows the signer,
// transport, clock, random and sleeper; all must outlive the Producer.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "spectrastrike/clock.h"
#include "spectrastrike/event.h"
#include "spectrastrike/feedback.h"
#include "spectrastrike/https_client.h"
#include "spectrastrike/retry.h"
#include "spectrastrike/signer.h"
#include "spectrastrike/status.h"
#include "spectrastrike/telemetry_client.h"

namespace spectrastrike {

inline constexpr char kTelemetryBatchPath[] = "/internal/v1/telemetry/batch";
inline constexpr char kFederationVerifyPath[] = "/internal/v1/federation/verify";
inline constexpr char kExecutionGraphPath[] = "/internal/v1/cognitive/execution-graph";
inline constexpr char kFeedbackQueryPath[] = "/internal/v1/cognitive/feedback/adjustments/query";

// Where requests go. Implementations: HttpsTransport (real), fakes in tests.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual HttpResponse Post(const std::string& target, const HeaderList& headers,
                            const std::string& body) = 0;
};

// Transport over an HttpsClient (borrowed).
class HttpsTransport final : public Transport {
 public:
  explicit HttpsTransport(HttpsClient& client) : client_(client) {}
  HttpResponse Post(const std::string& target, const HeaderList& headers,
                    const std::string& body) override {
    return client_.Post(target, headers, body);
  }

 private:
  HttpsClient& client_;
};

struct ProducerOptions {
  std::string service_identity = "spectrastrike-producer";
  std::string client_cert_sha256;  // optional X-Client-Cert-Sha256 value ("" = not sent)
  std::string base_path;           // prefix before /internal/... ("" normally)
  ProducerIdentity identity;
  size_t nonce_length = 24;
  RetryPolicy retry;
};

enum class Outcome {
  kAccepted,   // 2xx
  kRejected,   // a final non-2xx answer (4xx other than 429, 5xx other than 502/503/504)
  kExhausted,  // still retryable after max_attempts (network down, 503, 429 ...)
};
const char* OutcomeName(Outcome o);

struct DeliveryResult {
  Outcome outcome = Outcome::kExhausted;
  int status = 0;          // last HTTP status (0: no response)
  int attempts = 0;
  std::string detail;      // gateway's {"detail"} text, or the transport error
  std::string response_body;
  bool ok() const { return outcome == Outcome::kAccepted; }
};

// A federation bundle (wire contract 1.5 / 2.2).
struct FederationBundle {
  std::string operator_id;
  std::string campaign_id;
  std::string execution_hash;
  int64_t timestamp = 0;
  std::string nonce;
  std::string signature;  // base64 Ed25519 over Message()
  std::string Message() const;     // operator|campaign|execution_hash|timestamp|nonce
  std::string BundleHash() const;  // SHA-256 hex of Message()
  std::string ToJson() const;      // {"bundle": {...}} as canonical JSON text
};

class Producer {
 public:
  Producer(ProducerOptions options, const RequestSigner& signer, Transport& transport,
           const Clock& clock, Random& random, Sleeper& sleeper);

  // POST /internal/v1/telemetry with retries (Idempotency-Key: execution_hash).
  DeliveryResult Send(const PreparedEvent& event);
  // Several events in ONE signed request to POST /internal/v1/telemetry/batch (NDJSON, every
  // line stamped with the request's timestamp and nonce; docs/producer.md "Batched ingest").
  // Returns one result per event, in order. A whole-batch answer that is retryable (network,
  // 429/502/503/504) re-sends the batch re-stamped and re-signed; events the 207 lists with a
  // retryable status go again in the next attempt; the others are final. Discovery: a gateway
  // without the endpoint answers 404 (or 405); the producer then remembers that and sends
  // each event with Send() from then on (batch_supported() turns false). An empty span returns
  // an empty vector and sends nothing.
  std::vector<DeliveryResult> SendBatch(const std::vector<PreparedEvent>& events);
  bool batch_supported() const { return batch_supported_; }
  // POST /internal/v1/cognitive/execution-graph (wire contract 10), 202 expected. `graph_json`
  // is the graph as JSON text (an object); one that does not parse is kRejected.
  DeliveryResult SendGraph(std::string_view graph_json);
  // Builds, signs and POSTs a federation bundle; a 200 whose bundle_hash differs from ours is
  // reported as kRejected.
  DeliveryResult Federate(const std::string& execution_hash);
  // Queries feedback (limit 1..1000) and verifies the response with `verifier`.
  Result<VerifiedFeedback> QueryFeedback(int limit, FeedbackVerifier& verifier,
                                         const FeedbackAnchors* anchors = nullptr,
                                         DeliveryResult* delivery = nullptr);

  // Builders (exposed for tests and tooling). BuildGraphRequest returns the request body as
  // canonical JSON text.
  Result<std::string> BuildGraphRequest(std::string_view graph_json, int64_t ts,
                                        const std::string& nonce) const;
  FederationBundle BuildBundle(const std::string& execution_hash, int64_t ts,
                               const std::string& nonce) const;
  HeaderList SignedHeaders(int64_t ts, const std::string& nonce, const std::string& body) const;
  const ProducerOptions& options() const { return options_; }

 private:
  struct Attempt;        // one request: target, headers, body (producer.cc)
  class AttemptBuilder;  // builds the Attempt for (ts, nonce), or the error (producer.cc)
  // Runs attempts built by `build(ts, nonce)` until success, a final answer or max_attempts.
  DeliveryResult Deliver(const AttemptBuilder& build);

  ProducerOptions options_;
  const RequestSigner& signer_;
  Transport& transport_;
  const Clock& clock_;
  Random& random_;
  Sleeper& sleeper_;
  bool batch_supported_ = true;  // until the gateway answered the batch path 404/405
};

// Human-readable reason from a gateway error body ({"detail": str | list}) or the raw body.
std::string DetailOf(const HttpResponse& response);

}  // namespace spectrastrike

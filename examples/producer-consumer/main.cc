// Example SDK consumer: reads a producer configuration, prepares a telemetry event, spools it,
// and drains the spool through a Producer whose transport only records the request (no
// network), then checks what would have been sent. Uses the public headers only
// (<spectrastrike/...>); run with a writable working directory (the spool file).
#include <spectrastrike/config.h>
#include <spectrastrike/event.h>
#include <spectrastrike/feedback.h>
#include <spectrastrike/https_client.h>
#include <spectrastrike/producer.h>
#include <spectrastrike/signer.h>
#include <spectrastrike/spool.h>
#include <spectrastrike/status.h>

#include <cstdio>
#include <iostream>
#include <string>

namespace {

constexpr char kConfig[] = R"(spectrastrike:
  producer:
    endpoint: https://gateway.example:8443/internal/v1/telemetry
    operator_id: op-001
    tenant_id: 10000000-0000-0000-0000-000000000001
    campaign_id: cmp-001
    spool_path: producer-consumer-spool.db
)";

class RecordingTransport final : public spectrastrike::Transport {
 public:
  spectrastrike::HttpResponse Post(const std::string& target,
                                   const spectrastrike::HeaderList& headers,
                                   const std::string& body) override {
    target_ = target;
    headers_ = headers;
    body_ = body;
    spectrastrike::HttpResponse r;
    r.transport_ok = true;
    r.status = 202;
    r.body = R"({"status":"accepted"})";
    return r;
  }
  std::string target_, body_;
  spectrastrike::HeaderList headers_;
};

class NoSleep final : public spectrastrike::Sleeper {
 public:
  void SleepMillis(int64_t) override {}
};

int Fail(const std::string& what) {
  std::cerr << "producer_consumer: " << what << std::endl;
  return 1;
}

}  // namespace

int main() {
  auto signer = spectrastrike::RequestSigner::FromSeed(std::string(32, '\x01'));
  if (!signer.ok()) return Fail(signer.status().message());
  // The one error type: a wrong seed length is a Status with a code and a message.
  auto bad = spectrastrike::RequestSigner::FromSeed("short");
  if (bad.ok() || bad.status().code() != spectrastrike::StatusCode::kInvalidArgument)
    return Fail("a short seed should be InvalidArgument");

  auto config = spectrastrike::ParseProducerConfig(kConfig, /*env=*/{});
  if (!config.ok()) return Fail("config: " + config.status().message());
  auto event = spectrastrike::PrepareEvent(
      R"({"event_id":"evt-example-1","event_type":"PROCESS_ANOMALY","severity":"high"})",
      config->identity);
  if (!event.ok()) return Fail(event.status().message());

  spectrastrike::SystemClock clock;
  spectrastrike::SystemRandom random;
  std::remove(config->spool_path.c_str());
  auto spool = spectrastrike::Spool::Open(config->spool_path, clock);
  if (!spool.ok()) return Fail("spool: " + spool.status().message());
  auto queued = (*spool)->Enqueue({*event});
  if (!queued.ok()) return Fail("enqueue: " + queued.status().message());

  spectrastrike::ProducerOptions options;
  options.identity = config->identity;
  RecordingTransport transport;
  NoSleep sleeper;
  spectrastrike::Producer producer(options, *signer, transport, clock, random, sleeper);
  auto drained = spectrastrike::DrainSpool(**spool, producer);
  if (!drained.ok()) return Fail("drain: " + drained.status().message());
  if (drained->accepted != 1 || drained->remaining != 0) return Fail("the event was not delivered");

  // Feedback verification refuses an unsigned answer with the same error type.
  auto cache = spectrastrike::ReplayCache::Open("");  // in memory
  if (!cache.ok()) return Fail(cache.status().message());
  spectrastrike::FeedbackVerifier verifier({}, **cache, clock);
  auto feedback = verifier.Verify(R"({"data":[]})", config->identity.tenant_id);
  if (feedback.ok() || feedback.status().code() != spectrastrike::StatusCode::kPermissionDenied)
    return Fail("an unsigned feedback response should be PermissionDenied");
  if (transport.target_ != spectrastrike::kTelemetryPath) return Fail("wrong target");
  if (transport.body_.find("\"event_id\":\"evt-example-1\"") == std::string::npos)
    return Fail("body lacks the event");
  // The real transport: an mTLS client (constructing it does not connect).
  spectrastrike::TlsClientConfig tls;
  tls.cert_path = config->cert_path;
  tls.key_path = config->key_path;
  spectrastrike::HttpsClient http(config->host, config->port, tls);
  spectrastrike::HttpsTransport https(http);
  if (!http.ConfigError().empty()) return Fail("TLS: " + http.ConfigError());
  if (spectrastrike::CertificateSha256Hex("no-such.crt").ok()) return Fail("missing certificate");

  std::string signature;
  for (const auto& [name, value] : transport.headers_)
    if (name == "X-Telemetry-Signature") signature = value;
  if (signature.size() != 88) return Fail("no Ed25519 signature header");
  std::cout << "signed " << event->event_id << " (" << transport.body_.size()
            << " bytes), signature " << signature.substr(0, 16) << "..." << std::endl;
  return 0;
}

// Per-request cost of the gateway's verification chain against the per-request floor, a
// libsodium Ed25519 verify of the same ~1 KB signed message, measured in the same run.
//
//   build/bin/verify_chain_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// BM_Ed25519Verify          the floor (one strict verify of "{ts}.{nonce}." + A.2 body)
// BM_TelemetryChain         GatewayService end to end without TLS/HTTP: identity, signature,
//                           replay, JSON + schema + MITRE + sanitisation, tenant, rate, envelope
//                           build; null queue and audit sinks
// BM_TelemetryChainDurable  the same with the real embedded SQLite queue and the audit log
//                           (batched fsync), 64 requests in flight
// BM_TelemetryBatchDurable/N  POST /internal/v1/telemetry/batch of N events (one signature
//                           over the NDJSON body) into the signed embedded queue and the sealed
//                           audit log, 4 batches in flight; cpu_us_per_event is the process's
//                           CPU (every thread) per accepted event, to set beside the floor
// BM_AuditAppend            one audit record (kBatch fsync)
// BM_CanonicalJson          canonicalising the A.2 body

#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "app/gateway_service.h"
#include "audit/audit_log.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "queue/embedded_queue.h"
#include "queue/envelope_auth.h"
#include "state/memory_state.h"

namespace {

using namespace vv;

constexpr const char* kSeedHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr const char* kTenant = "10000000-0000-0000-0000-000000000001";

std::string Body(int64_t ts, const std::string& nonce, const std::string& event_id) {
  return "{\"campaign_id\":\"cmp-001\",\"execution_hash\":\"" + std::string(64, 'f') +
         "\",\"nonce\":\"" + nonce +
         "\",\"operator_id\":\"op-001\",\"payload\":{\"attributes\":{\"asset_ref\":\"host-nyc-01\","
         "\"attestation_measurement_hash\":\"" +
         std::string(64, 'b') +
         "\",\"schema_version\":\"1.0\"},\"description\":\"Observed suspicious process chain\","
         "\"event_id\":\"" +
         event_id +
         "\",\"event_type\":\"PROCESS_ANOMALY\",\"mitre_tactics\":[\"TA0002\"],\"mitre_techniques\":["
         "\"T1059.001\"],\"observed_at\":\"2026-02-26T12:00:00Z\",\"severity\":\"high\","
         "\"source_system\":\"spectrastrike-sensor\"},\"signed_metadata\":{\"campaign_id\":\"cmp-001\","
         "\"operator_id\":\"op-001\",\"tenant_id\":\"" +
         std::string(kTenant) + "\"},\"tenant_id\":\"" + kTenant + "\",\"timestamp\":" +
         std::to_string(ts) + "}";
}

const crypto::Ed25519PrivateKey& Key() {
  static auto* k = new crypto::Ed25519PrivateKey(
      crypto::Ed25519PrivateKey::FromSeed(*HexDecode(kSeedHex)).value());
  return *k;
}

void BM_Ed25519Verify(benchmark::State& state) {
  std::string msg = "1772107200.nonce-vector-0001." + Body(1772107200, "nonce-vector-0001", "e");
  std::string sig = Key().Sign(msg);
  crypto::Ed25519PublicKey pk = Key().PublicKey();
  for (auto _ : state) benchmark::DoNotOptimize(pk.Verify(msg, sig));
  state.SetLabel(std::to_string(msg.size()) + " byte message");
}
BENCHMARK(BM_Ed25519Verify);

void BM_CanonicalJson(benchmark::State& state) {
  auto v = json::Parse(Body(1772107200, "nonce-vector-0001", "e")).value();
  for (auto _ : state) benchmark::DoNotOptimize(json::Canonical(v));
}
BENCHMARK(BM_CanonicalJson);

class NullPublisher final : public queue::Publisher {
 public:
  void Publish(queue::Envelope, queue::PublishCallback done) override {
    done(Status::Ok(), queue::PublishOutcome::kStored);
  }
  Status Health() const override { return Status::Ok(); }
};
class NullAudit final : public audit::AuditSink {
 public:
  Status Append(std::string_view, std::string_view, json::Value) override { return Status::Ok(); }
};

std::shared_ptr<const config::GatewayConfig> Config() {
  auto cfg = std::make_shared<config::GatewayConfig>();
  config::ServiceIdentity id;
  id.id = "spectrastrike-producer";
  id.cert_sha256_pins = {std::string(64, 'a')};
  cfg->identities.push_back(id);
  cfg->default_signing_keys.push_back({"default", Key().PublicKey()});
  cfg->operator_tenant_map = {{"op-001", kTenant}};
  cfg->rate_limit_per_minute = 1'000'000'000;
  return cfg;
}

// A request signed as the producer signs it (signing is the producer's cost, not the gateway's).
http::Request SignedRequest(std::string target, std::string content_type, std::string body,
                            int64_t ts, const std::string& nonce) {
  http::Request r;
  r.method = "POST";
  r.target = std::move(target);
  r.body = std::move(body);
  std::string sig = Base64Encode(Key().Sign(std::to_string(ts) + "." + nonce + "." + r.body));
  r.headers = {{"content-type", std::move(content_type)},
               {"x-service-identity", "spectrastrike-producer"},
               {"x-telemetry-timestamp", std::to_string(ts)},
               {"x-telemetry-nonce", nonce},
               {"x-telemetry-signature", sig}};
  r.peer.has_certificate = true;
  r.peer.cert_sha256_hex = std::string(64, 'a');
  return r;
}

// Pre-signs `n` distinct requests.
std::vector<http::Request> MakeRequests(int n, int64_t ts) {
  std::vector<http::Request> reqs;
  reqs.reserve(n);
  for (int i = 0; i < n; ++i) {
    std::string nonce = "bench-nonce-" + std::to_string(i);
    reqs.push_back(SignedRequest("/internal/v1/telemetry", "application/json",
                                 Body(ts, nonce, "evt-" + std::to_string(i)), ts, nonce));
  }
  return reqs;
}

struct Fixture {
  SystemClock clock;
  SystemRandom random;
  schema::MitreCatalog catalog = schema::MitreCatalog::Load().value();
  state::MemoryNonceStore nonces{clock};
  state::MemoryRateLimiter limiter{clock, 1'000'000'000};

  // The service's dependencies on this fixture, with the given config, queue and audit sink.
  app::GatewayDeps Deps(std::shared_ptr<const config::GatewayConfig> cfg, queue::Publisher* pub,
                        audit::AuditSink* audit) {
    app::GatewayDeps d;
    d.config = std::move(cfg);
    d.clock = &clock;
    d.random = &random;
    d.catalog = &catalog;
    d.nonces = &nonces;
    d.limiter = &limiter;
    d.publisher = pub;
    d.audit = audit;
    return d;
  }
};

void BM_TelemetryChain(benchmark::State& state) {
  Fixture f;
  NullPublisher pub;
  NullAudit audit;
  app::GatewayService svc(f.Deps(Config(), &pub, &audit));
  app::GatewayHandler handler(svc.HandlerDeps());
  constexpr int kBatch = 20000;
  std::vector<http::Request> reqs;
  size_t i = kBatch;
  int bad = 0;
  for (auto _ : state) {
    if (i == static_cast<size_t>(kBatch)) {
      state.PauseTiming();
      static int64_t round = 0;
      reqs = MakeRequests(kBatch, f.clock.NowSeconds() + (round++ % 2));  // fresh nonces
      i = 0;
      state.ResumeTiming();
    }
    handler.Handle(std::move(reqs[i++]), [&](http::Response r) { bad += r.status != 202; });
  }
  if (bad) state.SkipWithError("non-202 responses");
}
BENCHMARK(BM_TelemetryChain)->Iterations(40000);

void BM_TelemetryChainDurable(benchmark::State& state) {
  Fixture f;
  std::string dir = "/tmp/vv-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  queue::EmbeddedQueueOptions qo;
  qo.clock = &f.clock;
  auto q = queue::EmbeddedQueue::Open(dir + "/q.db", qo).value();
  audit::AuditLogOptions ao;
  auto audit = audit::AuditLog::Open(dir + "/audit.jsonl", ao, f.clock).value();
  app::GatewayService svc(f.Deps(Config(), q.get(), audit.get()));
  app::GatewayHandler handler(svc.HandlerDeps());
  const int n = static_cast<int>(state.max_iterations);
  auto reqs = MakeRequests(n, f.clock.NowSeconds());
  std::mutex mu;
  std::condition_variable cv;
  int inflight = 0, bad = 0;
  int i = 0;
  for (auto _ : state) {
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return inflight < 64; });
      ++inflight;
    }
    handler.Handle(std::move(reqs[i++]), [&](http::Response r) {
      std::lock_guard<std::mutex> l(mu);
      bad += r.status != 202;
      --inflight;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> l(mu);
  cv.wait(l, [&] { return inflight == 0; });
  if (bad) state.SkipWithError("non-202 responses");
  q.reset();
  audit.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_TelemetryChainDurable)->Iterations(20000)->UseRealTime();

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void BM_TelemetryBatchDurable(benchmark::State& state) {
  Fixture f;
  const int per_batch = static_cast<int>(state.range(0));
  std::string dir = "/tmp/vv-bench-batch-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  queue::EmbeddedQueueOptions qo;
  qo.clock = &f.clock;
  // Signed as the gateway signs: one signature per commit group, in the queue's writer.
  qo.signer = std::make_shared<const queue::EnvelopeSigner>(
      "bench", crypto::Ed25519PrivateKey::FromSeed(std::string(32, '\x07')).value());
  auto pub = queue::EmbeddedQueue::Open(dir + "/q.db", qo).value();
  audit::AuditLogOptions ao;
  ao.seal_key = std::make_shared<const crypto::Ed25519PrivateKey>(Key());
  auto audit = audit::AuditLog::Open(dir + "/audit.jsonl", ao, f.clock).value();
  auto cfg = std::make_shared<config::GatewayConfig>(*Config());
  cfg->batch_max_events = static_cast<size_t>(per_batch);
  cfg->max_body_bytes = 64 << 20;
  auto svc = std::make_unique<app::GatewayService>(f.Deps(cfg, pub.get(), audit.get()));
  auto handler = std::make_unique<app::GatewayHandler>(svc->HandlerDeps());
  // Pre-signed batches, distinct event ids and nonces.
  const int batches = static_cast<int>(state.max_iterations);
  const int64_t ts = f.clock.NowSeconds();
  std::vector<http::Request> reqs;
  for (int b = 0; b < batches; ++b) {
    std::string nonce = "bench-batch-nonce-" + std::to_string(b);
    std::string body;
    for (int i = 0; i < per_batch; ++i)
      body += Body(ts, nonce, "evt-" + std::to_string(b) + "-" + std::to_string(i)) + "\n";
    reqs.push_back(SignedRequest(std::string(app::kTelemetryBatchPath), "application/x-ndjson",
                                 std::move(body), ts, nonce));
  }
  std::mutex mu;
  std::condition_variable cv;
  int inflight = 0, bad = 0;
  int i = 0;
  const double cpu0 = ProcessCpuSeconds();
  for (auto _ : state) {
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return inflight < 4; });
      ++inflight;
    }
    handler->Handle(std::move(reqs[i++]), [&](http::Response r) {
      std::lock_guard<std::mutex> l(mu);
      bad += r.status != 207 || r.body.find("\"rejected\":0") == std::string::npos;
      --inflight;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return inflight == 0; });
  }
  const double events = static_cast<double>(batches) * per_batch;
  state.counters["events_per_s"] =
      benchmark::Counter(events, benchmark::Counter::kIsRate);
  state.counters["cpu_us_per_event"] = (ProcessCpuSeconds() - cpu0) * 1e6 / events;
  if (bad) state.SkipWithError("a batch was not 207 with every event accepted");
  handler.reset();
  svc.reset();
  pub.reset();
  audit.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_TelemetryBatchDurable)->Arg(500)->Iterations(40)->UseRealTime();

void BM_AuditAppend(benchmark::State& state) {
  SystemClock clock;
  std::string path = "/tmp/vv-bench-audit-" + std::to_string(getpid()) + ".jsonl";
  {
    auto log = audit::AuditLog::Open(path, audit::AuditLogOptions{}, clock).value();
    for (auto _ : state) {
      json::Value d = json::Value::MakeObject();
      d.Set("request_id", "00000000-0000-4000-8000-000000000000");
      d.Set("tenant_id", kTenant);
      benchmark::DoNotOptimize(log->Append("telemetry.accepted", "telemetry_gateway", std::move(d)));
    }
  }
  std::filesystem::remove(path);
}
BENCHMARK(BM_AuditAppend);

}  // namespace

BENCHMARK_MAIN();

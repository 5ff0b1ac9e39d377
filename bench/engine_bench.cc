// The processing engine's per-message path in process (issue 15 item 4), on embedded backends:
// N gateway-signed ingest envelopes in a fresh EmbeddedQueue (published outside the timing),
// signed one by one (the single endpoint) or S at a time under one Merkle-root signature (the
// batch endpoint, queue/envelope_auth.h), then one Engine drain (batch_size 64, 256, 500) into a
// fresh SQLite evidence store: signature and
// integrity check per message, per-payload DEK, HKDF root key from memory behind the KEK cache
// (as vv-engine wires it), audit log with the default batched fsync. items_per_second =
// events/s of the drain.
//
//   ninja -C build engine_bench && build/bin/engine_bench --benchmark_repetitions=3
//
// For a profile: perf record -F 999 -g build/bin/engine_bench --benchmark_min_time=5s

#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "engine/engine.h"
#include "engine/message_source.h"
#include "evidence/evidence_cipher.h"
#include "evidence/kek_cache.h"
#include "evidence/root_key_provider.h"
#include "evidence/sqlite_evidence_store.h"
#include "json/json.h"
#include "queue/embedded_queue.h"
#include "queue/envelope_auth.h"

namespace {

using namespace vv;

constexpr const char* kTenant = "10000000-0000-0000-0000-000000000001";
constexpr const char* kKid = "queue-bench";

const crypto::Ed25519PrivateKey& QueueKey() {
  static auto* k =
      new crypto::Ed25519PrivateKey(crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'q')).value());
  return *k;
}

// The payload the gateway enqueues for one A.2-shaped event (about 1.2 KB as wire bytes).
json::Value Payload(const std::string& event_id) {
  const std::string body =
      "{\"campaign_id\":\"cmp-001\",\"execution_hash\":\"" + std::string(64, 'f') +
      "\",\"nonce\":\"nonce-" + event_id +
      "\",\"operator_id\":\"op-001\",\"payload\":{\"attributes\":{\"asset_ref\":\"host-nyc-01\","
      "\"attestation_measurement_hash\":\"" + std::string(64, 'b') +
      "\",\"schema_version\":\"1.0\"},\"description\":\"Observed suspicious process chain\","
      "\"event_id\":\"" + event_id +
      "\",\"event_type\":\"PROCESS_ANOMALY\",\"mitre_tactics\":[\"TA0002\"],\"mitre_techniques\":["
      "\"T1059.001\"],\"observed_at\":\"2026-02-26T12:00:00Z\",\"severity\":\"high\","
      "\"source_system\":\"spectrastrike-sensor\"},\"signed_metadata\":{\"campaign_id\":\"cmp-001\","
      "\"operator_id\":\"op-001\",\"tenant_id\":\"" + std::string(kTenant) +
      "\"},\"tenant_id\":\"" + kTenant + "\",\"timestamp\":1772107200}";
  return json::Parse(body).value();
}

void Fill(queue::EmbeddedQueue& q, int n, int per_signature, const Clock& clock,
          Random& random) {
  const queue::EnvelopeSigner signer(kKid, QueueKey());
  std::vector<queue::Envelope> envs;
  for (int i = 0; i < n; ++i) {
    const std::string event_id = "evt-" + std::to_string(i);
    json::Value trace = json::Value::MakeObject();
    trace.Set("operator_id", "op-001");
    trace.Set("tenant_id", kTenant);
    queue::Envelope e = queue::MakeIngestEnvelope(Payload(event_id), std::move(trace),
                                                  std::string(kTenant) + "/" + event_id, clock,
                                                  random);
    envs.push_back(std::move(e));
  }
  for (size_t at = 0; at < envs.size(); at += static_cast<size_t>(per_signature)) {
    const size_t end = std::min(envs.size(), at + static_cast<size_t>(per_signature));
    std::vector<queue::Envelope> group(std::make_move_iterator(envs.begin() + at),
                                       std::make_move_iterator(envs.begin() + end));
    signer.SignBatch(&group);
    std::move(group.begin(), group.end(), envs.begin() + at);
  }
  std::promise<Status> done;
  q.PublishBatch(std::move(envs), [&done](Status s, std::vector<queue::PublishOutcome>) {
    done.set_value(s);
  });
  if (Status s = done.get_future().get(); !s.ok()) std::abort();
}

void BM_EngineDrainEmbedded(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int batch_size = static_cast<int>(state.range(1));
  const int per_signature = static_cast<int>(state.range(2));
  SystemClock clock;
  SystemRandom random;
  auto provider = evidence::StaticRootKeyProvider::Create({{"root-1", std::string(32, 'R')}},
                                                          "root-1", "bench")
                      .value();
  // As vv-engine wires it: the per-tenant KEK cache in front of the root key provider.
  evidence::CachingRootKeyProvider kek_cache(*provider, {}, clock);
  evidence::EvidenceCipher cipher(kek_cache, random);
  int run = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const auto dir = std::filesystem::temp_directory_path() /
                     ("vv-engine-bench-" + std::to_string(::getpid()) + "-" + std::to_string(run++));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    {
      auto q = queue::EmbeddedQueue::Open((dir / "queue.db").string(), {}).value();
      Fill(*q, n, per_signature, clock, random);
      auto store = evidence::SqliteEvidenceStore::Open((dir / "evidence.db").string()).value();
      audit::AuditLogOptions ao;
      ao.file_anchor = false;
      auto audit = audit::AuditLog::Open((dir / "audit.jsonl").string(), ao, clock).value();
      auto source = engine::EmbeddedSource::Open(*q, (dir / "queue.db").string()).value();
      engine::EngineOptions eo;
      eo.operator_tenant_map = {{"op-001", kTenant}};
      eo.queue_verify_keys = {{kKid, QueueKey().PublicKey()}};
      eo.poll_interval_ms = 1;
      eo.batch_size = batch_size;
      engine::Engine engine(eo, *source, *q, cipher, *store, *audit, clock, random);
      std::atomic<bool> stop{false};
      state.ResumeTiming();
      if (!engine.Run(stop, /*drain=*/true).ok() || engine.counters().stored.load() != uint64_t(n))
        state.SkipWithError("drain did not store every event");
      state.PauseTiming();
    }
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
// Args: events, engine batch size, envelopes per gateway signature (1: the single endpoint;
// 500: the batch endpoint's batches).
BENCHMARK(BM_EngineDrainEmbedded)
    ->Args({4000, 64, 1})
    ->Args({4000, 500, 1})
    ->Args({4000, 500, 500})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

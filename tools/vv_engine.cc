// vv-engine --config FILE [--drain]: the VectorVue processing + evidence engine. Consumes
// accepted envelopes from the queue (embedded SQLite queue, or JetStream durable pull consumer
// with queue_backend nats), re-checks integrity and tenant mapping, encrypts each payload per
// tenant and stores it (vectorvue.evidence_engine section; see
// deploy/config/engine.example.yaml). Writes its own audit log (one writer per file);
// SIGUSR1 rotates it (sealed, anchored, renamed LOG.NNNNNN, new segment linked to it).
// Prints "ENGINE READY" once consuming. SIGTERM/SIGINT: finishes the message in hand, then
// exits 0. --drain: consumes until the queue itself reports nothing pending and nothing in
// flight (embedded: no unacked row; JetStream: the durable's pending + ack-pending are 0),
// prints a progress line to stderr at most once a second plus a final one, then exits 0.
// Embedded queue: one engine per queue file (a second one refuses to start, exit 2);
// JetStream: several engines may share one durable consumer.
// Exit status (tools/cli/cli.h, docs/cli.md): 0 clean, 1 runtime failure, 2 usage or
// configuration error.

#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "common/sd_notify.h"
#include "audit/audit_log.h"
#include "cli/cli.h"
#include "audit/pkcs11_seal_signer.h"
#include "common/file.h"
#include "common/logging.h"
#include "config/effective_config.h"
#include "config/engine_config.h"
#include "config/nats_client.h"
#include "engine/engine.h"
#include "engine/message_source.h"
#include "engine/metrics_exporter.h"
#include "config/listen_address.h"
#include "engine/wiring.h"
#include "http/admin_server.h"
#include "json/json.h"
#include "stats/service_metrics.h"
#include "evidence/evidence_cipher.h"
#include "evidence/kek_cache.h"
#include "queue/embedded_queue.h"
#include "queue/jetstream_queue.h"

namespace {

int Refuse(const std::string& what) {
  return vv::cli::Error("vv-engine", "refusing to start: " + what,
                        "correct the configuration (deploy/config/engine.example.yaml) or start "
                        "the backend it names",
                        vv::cli::kExitUsage);
}

// The metrics text file is rewritten every interval and may be lost: no fsync. A failed
// write leaves the previous file in place (atomic replace) and is not fatal.
void WriteMetrics(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  (void)vv::WriteFileAtomic(path, text, 0644, vv::Durability::kFast);
}

vv::audit::FsyncPolicy ToAuditFsync(vv::config::FsyncPolicy p) {
  switch (p) {
    case vv::config::FsyncPolicy::kNone:
      return vv::audit::FsyncPolicy::kNone;
    case vv::config::FsyncPolicy::kAlways:
      return vv::audit::FsyncPolicy::kAlways;
    default:
      return vv::audit::FsyncPolicy::kBatch;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"VectorVue processing + evidence engine"};
  vv::cli::Setup(cli, {"vv-engine",
                       "  vv-engine --config /etc/vectorvue/engine.yaml\n"
                       "  vv-engine --config engine.yaml --drain      # exit once the queue is empty\n"
                       "  vv-engine --config engine.yaml --admin-listen 127.0.0.1:9464",
                       "  1: the engine failed while running (reason on stderr)."});
  std::string config_path;
  std::string log_level;  // "" = the config's log_level
  bool drain = false;
  cli.add_option("--config", config_path, "YAML config file (vectorvue.evidence_engine)")
      ->required();
  cli.add_option("--log-level", log_level,
                 "trace|debug|info|warn|error|critical|off (overrides log_level)")
      ->check(CLI::IsMember(vv::cli::LogLevels()));
  std::string admin_listen;
  cli.add_option("--admin-listen", admin_listen,
                 "loopback host:port for GET /metrics (Prometheus); default: off");
  cli.add_flag("--drain", drain, "exit once the queue is empty");
  if (int rc = vv::cli::Parse(cli, argc, argv); rc >= 0) return rc;
  // Logging (issue 16): an unknown level is a usage error (exit 2, above); the config's
  // log_level/log_format apply once it is loaded.
  vv::logging::Setup("vv-engine", vv::logging::Format::kText, spdlog::level::info);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);  // audit log rotation
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto cfg = vv::config::LoadEngineConfig(config_path, vv::config::ProcessEnv());
  if (!cfg.ok()) return Refuse(cfg.status().message());
  if (!log_level.empty()) cfg->log_level = log_level;
  // Both validated by LoadEngineConfig (and the flag above).
  vv::logging::Setup("vv-engine", *vv::logging::ParseFormat(cfg->log_format),
                     *vv::logging::ParseLevel(cfg->log_level));
  spdlog::info("effective configuration: {}", vv::config::DescribeEngineConfig(*cfg));
  // Queue authentication (issue 12): without the gateway's public key(s) every envelope would
  // be dead-lettered; refuse to start instead, unless unsigned ones are explicitly allowed.
  vv::queue::EnvelopeVerifyKeys queue_keys;
  for (const auto& [kid, b64] : cfg->queue_verify_keys)
    queue_keys.emplace(kid, vv::crypto::Ed25519PublicKey::FromBase64(b64).value());
  if (queue_keys.empty() && !cfg->allow_unsigned_queue_messages)
    return Refuse(
        "evidence_engine.queue_verify_keys (VV_EVIDENCE_QUEUE_VERIFY_KEYS_JSON) is empty: "
        "configure the gateway's queue signing public key(s), or allow_unsigned_queue_messages: "
        "true (development only)");
  if (cfg->allow_unsigned_queue_messages)
    spdlog::warn("allow_unsigned_queue_messages: envelopes WITHOUT a gateway signature are "
                 "stored (development only)");
  auto env = vv::ProcessEnv();
  auto provider = vv::engine::MakeRootKeyProvider(*cfg, env);
  if (!provider.ok()) return Refuse(provider.status().ToString());
  auto store = vv::engine::MakeEvidenceStore(*cfg);
  if (!store.ok()) return Refuse(store.status().ToString());

  vv::SystemClock clock;
  vv::SystemRandom random;
  vv::audit::AuditLogOptions ao;
  ao.seal_every = cfg->audit_seal_every;
  ao.fsync = ToAuditFsync(cfg->audit_fsync);
  ao.actor_system = "evidence_engine";
  vv::audit::SealKeyOptions seal_key;
  seal_key.key_path = cfg->audit_seal_key_path;
  seal_key.pkcs11_module = cfg->audit_seal_pkcs11.module;
  seal_key.pkcs11_token_label = cfg->audit_seal_pkcs11.token_label;
  seal_key.pkcs11_key_label = cfg->audit_seal_pkcs11.key_label;
  seal_key.pkcs11_pin_file = cfg->audit_seal_pkcs11.pin_file;
  seal_key.pkcs11_pin_env = cfg->audit_seal_pkcs11.pin_env;
  auto seal_signer =
      vv::audit::OpenSealSigner(seal_key, ao.checkpoint_origin, env);
  if (!seal_signer.ok()) return Refuse("audit seal key: " + seal_signer.status().ToString());
  ao.seal_signer = std::move(seal_signer).value();
  if (ao.seal_signer == nullptr)
    spdlog::warn("no audit seal key: the engine's audit checkpoints are NOT signed "
                 "(development only)");
  const std::string audit_path = cfg->EffectiveAuditLogPath();
  auto audit = vv::audit::AuditLog::Open(audit_path, ao, clock);
  if (!audit.ok()) return Refuse("audit log " + audit_path + ": " + audit.status().ToString());

  std::unique_ptr<vv::queue::EmbeddedQueue> embedded;
  std::unique_ptr<vv::queue::JetStreamPublisher> js_publisher;
  std::unique_ptr<vv::queue::JetStreamConsumer> js_consumer;
  std::unique_ptr<vv::engine::MessageSource> source;
  vv::queue::Publisher* dlq = nullptr;
  if (cfg->queue_backend == vv::config::QueueBackend::kEmbedded) {
    vv::queue::EmbeddedQueueOptions qo;
    qo.on_notice = [](const std::string& m) { spdlog::warn("{}", m); };
    auto q = vv::queue::EmbeddedQueue::Open(cfg->queue_path, qo);
    if (!q.ok()) return Refuse("queue " + cfg->queue_path + ": " + q.status().ToString());
    embedded = std::move(q).value();
    vv::engine::EmbeddedSourceOptions so;
    so.retention_seconds = cfg->queue_retention_seconds;
    so.clock = &clock;
    auto s = vv::engine::EmbeddedSource::Open(*embedded, cfg->queue_path, so);
    if (!s.ok()) return Refuse(s.status().ToString());
    source = std::move(s).value();
    dlq = embedded.get();
  } else {
    vv::queue::JetStreamOptions jo;
    vv::config::ApplyNatsConfig(*cfg, &jo.nats);
    jo.nats.name = "vectorvue-evidence-engine";
    jo.replicas = static_cast<int>(cfg->nats_replicas);
    jo.ingest_subject = cfg->queue_subject;
    jo.dlq_subject = cfg->dlq_subject;
    jo.ingest_stream = cfg->jetstream_stream;
    jo.dlq_stream = cfg->jetstream_dlq_stream;
    jo.reconcile_existing = false;  // the gateway owns the streams' limits and replicas
    auto p = vv::queue::JetStreamPublisher::Create(jo);
    if (!p.ok()) return Refuse("jetstream: " + p.status().ToString());
    js_publisher = std::move(p).value();
    auto c = vv::queue::JetStreamConsumer::Create(jo, cfg->jetstream_stream, cfg->queue_subject,
                                                  cfg->jetstream_durable,
                                                  cfg->jetstream_ack_wait_seconds * 1000);
    if (!c.ok()) return Refuse("jetstream consumer: " + c.status().ToString());
    js_consumer = std::move(c).value();
    source = std::make_unique<vv::engine::JetStreamSource>(*js_consumer);
    dlq = js_publisher.get();
  }

  // The per-tenant KEK cache (kek_cache_seconds; 0 = every payload derives its KEK).
  vv::evidence::KekCacheOptions kco;
  kco.ttl_ms = cfg->kek_cache_seconds * 1000;
  vv::evidence::CachingRootKeyProvider kek_cache(**provider, kco, clock);
  vv::evidence::EvidenceCipher cipher(kek_cache, random);
  vv::engine::EngineOptions eo;
  eo.batch_size = static_cast<int>(cfg->batch_size);
  eo.max_deliveries = cfg->max_deliveries;
  eo.poll_interval_ms = cfg->poll_interval_ms;
  eo.operator_tenant_map = cfg->operator_tenant_map;
  eo.store_name = cfg->store_backend == vv::config::StoreBackend::kPostgres ? "postgresql" : "sqlite";
  eo.queue_name = "queue (" + std::string(vv::config::Name(cfg->queue_backend)) + ")";
  eo.queue_verify_keys = std::move(queue_keys);
  eo.allow_unsigned_queue_messages = cfg->allow_unsigned_queue_messages;
  if (drain) {
    eo.on_progress = [](const vv::engine::DrainProgress& p) {
      char rate[32];
      std::snprintf(rate, sizeof rate, "%.1f", p.rate_per_s);
      char elapsed[32];
      std::snprintf(elapsed, sizeof elapsed, "%.1f", p.elapsed_s);
      const std::string total = p.total < 0 ? "?" : std::to_string(p.total);
      if (p.final)
        std::cerr << "vv-engine: drain done: processed " << p.processed << "/" << total << " in "
                  << elapsed << " s (" << rate << " msg/s)" << std::endl;
      else
        std::cerr << "vv-engine: drain: processed " << p.processed << "/" << total << " ("
                  << rate << " msg/s, " << elapsed << " s)" << std::endl;
    };
  }
  vv::engine::Engine engine(eo, *source, *dlq, cipher, **store, **audit, clock, random);

  spdlog::info("consuming queue={} store={} root_key_provider={} active_key_id={} audit={}",
               vv::config::Name(cfg->queue_backend), vv::config::Name(cfg->store_backend),
               (*provider)->kind(),
               (*provider)->active_key_id(), audit_path);
  // One metric name set (issue 14) for the metrics file, the loopback admin listener and the
  // probe listener: EngineMetricsExporter.
  vv::engine::EngineMetricsExporter exporter(engine);
  const vv::http::Response not_found{404, "{\"detail\":\"Not Found\"}", "application/json"};
  std::unique_ptr<vv::http::AdminServer> admin;
  if (!admin_listen.empty()) {
    auto a = vv::http::AdminServer::Create(admin_listen, [&](const vv::http::AdminRequest& r) {
      if (r.path != "/metrics" || r.method != "GET") return not_found;
      return vv::http::Response{200, exporter.Render(), vv::stats::Registry::kContentType};
    }, [&] {
      // Refused admin requests (non-loopback Host, browser Origin, POST without a token; the
      // engine configures no token: it has no POST endpoint) go to the engine's audit log.
      vv::http::AdminOptions ao;
      ao.on_refused = [&audit](const vv::http::AdminRefusal& f) {
        vv::json::Value d = vv::json::Value::MakeObject();
        d.Set("method", f.method);
        d.Set("path", f.path);
        d.Set("reason", f.reason);
        d.Set("status", static_cast<int64_t>(f.status));
        (void)(*audit)->Append("admin.refused", "evidence_engine", std::move(d));
      };
      return ao;
    }());
    if (!a.ok()) return Refuse("admin_listen: " + a.status().message());
    admin = std::move(a).value();
    admin->Start();
    std::cout << "ADMIN_PORT " << admin->port() << std::endl;
  }
  // Probe and scrape listener (probe_listen: any address, read-only, no configuration in
  // its answers): /livez, /readyz (the engine's queue, store and audit log), /metrics.
  std::unique_ptr<vv::http::ProbeServer> probe;
  if (!vv::config::ListenerDisabled(cfg->probe_listen)) {
    auto p = vv::http::ProbeServer::Create(cfg->probe_listen, [&](std::string_view path) {
      if (path == "/metrics")
        return vv::http::Response{200, exporter.Render(), vv::stats::Registry::kContentType};
      if (path == "/livez")
        return vv::http::Response{200, "{\"status\":\"alive\"}", "application/json"};
      vv::Status ready = exporter.Ready();
      if (!ready.ok()) spdlog::debug("not ready: {}", ready.ToString());
      return ready.ok() ? vv::http::Response{200, "{\"ready\":true}", "application/json"}
                        : vv::http::Response{503, "{\"ready\":false}", "application/json"};
    });
    if (!p.ok()) return Refuse(p.status().message());
    probe = std::move(p).value();
    probe->Start();
    std::cout << "PROBE_PORT " << probe->port() << std::endl;
  }
  std::cout << "ENGINE READY" << std::endl;
  (void)vv::SdNotify("READY=1");  // Type=notify units (deploy/systemd/vv-engine.service)

  std::atomic<bool> stop{false};
  std::atomic<bool> finished{false};
  std::thread waiter([&] {
    timespec ts{0, 100 * 1000 * 1000};
    while (!finished.load()) {
      int sig = sigtimedwait(&set, nullptr, &ts);
      if (sig == SIGUSR1) {
        // Same rotation as the gateway's (docs/operations.md, "Audit log rotation").
        auto r = (*audit)->Rotate();
        vv::json::Value d = vv::json::Value::MakeObject();
        d.Set("trigger", "SIGUSR1");
        if (r.ok()) {
          spdlog::info("audit log rotated: segment {} sealed as {}, now writing segment {}",
                       r->sealed_segment, r->rotated_path, r->segment);
          d.Set("sealed_segment", r->sealed_segment);
          d.Set("rotated_path", r->rotated_path);
          d.Set("sealed_lines", r->sealed_lines);
          d.Set("last_seal_hash", r->last_seal_hash);
        } else {
          spdlog::error("audit log rotation refused: {}", r.status().ToString());
          d.Set("error", r.status().message());
        }
        (void)(*audit)->Append(r.ok() ? "audit.rotated" : "audit.rotate_failed",
                               "evidence_engine", std::move(d));
        std::cout << (r.ok() ? "ROTATED segment " + std::to_string(r->segment)
                             : "ROTATED refused: " + r.status().message())
                  << std::endl;
        continue;
      }
      if (sig > 0) {
        spdlog::info("signal {} received, shutting down", sig);
        stop.store(true);
        return;
      }
    }
  });
  std::thread metrics([&] {
    int64_t ticks = 0;
    while (!finished.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (++ticks % (cfg->metrics_interval_seconds * 10) == 0 && !cfg->metrics_path.empty())
        WriteMetrics(cfg->metrics_path, exporter.Render());
    }
  });
  vv::Status s = engine.Run(stop, drain);
  (void)vv::SdNotify("STOPPING=1");
  finished.store(true);
  waiter.join();
  metrics.join();
  if (!cfg->metrics_path.empty()) WriteMetrics(cfg->metrics_path, exporter.Render());
  if (probe) probe->Stop();
  if (admin) admin->Stop();
  // A clean shutdown leaves the audit log ending on a checkpoint that covers every entry.
  if (vv::Status sealed = (*audit)->SealNow(); !sealed.ok())
    spdlog::error("audit: final seal at shutdown failed: {}", sealed.ToString());
  (*audit)->FlushAnchor();
  const auto& c = engine.counters();
  spdlog::info(
      "stopped: consumed={} stored={} duplicates={} integrity_failures={} rejected={} "
      "dead_lettered={} transient_failures={} lag={}",
      c.consumed.load(), c.stored.load(), c.duplicates.load(), c.integrity_failures.load(),
      c.rejected.load(), c.dead_lettered.load(), c.transient_failures.load(), c.lag.load());
  std::cout << "ENGINE STOPPED stored=" << c.stored.load() << " duplicates=" << c.duplicates.load()
            << " integrity_failures=" << c.integrity_failures.load() << std::endl;
  if (!s.ok()) {
    return vv::cli::Error("vv-engine", s.ToString(), "", vv::cli::kExitFailed);
  }
  return 0;
}

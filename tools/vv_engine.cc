// vv-engine --config FILE [--drain]: the VectorVue processing + evidence engine. Consumes
// accepted envelopes from the queue (embedded SQLite queue, or JetStream durable pull consumer
// with queue_backend nats), re-checks integrity and tenant mapping, encrypts each payload per
// tenant and stores it (vectorvue.evidence_engine section; see
// deploy/config/engine.example.yaml). Writes its own audit log (one writer per file).
// Prints "ENGINE READY" once consuming. SIGTERM/SIGINT: finishes the message in hand, then
// exits 0. --drain: exits 0 as soon as the queue is empty.
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
#include "common/logging.h"
#include "config/effective_config.h"
#include "config/engine_config.h"
#include "config/nats_client.h"
#include "engine/engine.h"
#include "engine/message_source.h"
#include "engine/wiring.h"
#include "http/admin_server.h"
#include "json/json.h"
#include "stats/service_metrics.h"
#include "evidence/evidence_cipher.h"
#include "queue/embedded_queue.h"
#include "queue/jetstream_queue.h"

namespace {

int Refuse(const std::string& what) {
  return vv::cli::Error("vv-engine", "refusing to start: " + what,
                        "correct the configuration (deploy/config/engine.example.yaml) or start "
                        "the backend it names",
                        vv::cli::kExitUsage);
}

void WriteMetrics(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << text;
    if (!f) return;
  }
  std::rename(tmp.c_str(), path.c_str());
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
  if (cfg->queue_backend == "embedded") {
    auto q = vv::queue::EmbeddedQueue::Open(cfg->queue_path, {});
    if (!q.ok()) return Refuse("queue " + cfg->queue_path + ": " + q.status().ToString());
    embedded = std::move(q).value();
    auto s = vv::engine::EmbeddedSource::Open(*embedded, cfg->queue_path);
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
    auto p = vv::queue::JetStreamPublisher::Create(jo);
    if (!p.ok()) return Refuse("jetstream: " + p.status().ToString());
    js_publisher = std::move(p).value();
    auto c = vv::queue::JetStreamConsumer::Create(jo, cfg->jetstream_stream, cfg->queue_subject,
                                                  cfg->jetstream_durable);
    if (!c.ok()) return Refuse("jetstream consumer: " + c.status().ToString());
    js_consumer = std::move(c).value();
    source = std::make_unique<vv::engine::JetStreamSource>(*js_consumer);
    dlq = js_publisher.get();
  }

  vv::evidence::EvidenceCipher cipher(**provider, random);
  vv::engine::EngineOptions eo;
  eo.batch_size = static_cast<int>(cfg->batch_size);
  eo.max_deliveries = cfg->max_deliveries;
  eo.poll_interval_ms = cfg->poll_interval_ms;
  eo.operator_tenant_map = cfg->operator_tenant_map;
  eo.store_name = cfg->store_backend == "postgres" ? "postgresql" : cfg->store_backend;
  eo.queue_name = "queue (" + cfg->queue_backend + ")";
  eo.queue_verify_keys = std::move(queue_keys);
  eo.allow_unsigned_queue_messages = cfg->allow_unsigned_queue_messages;
  vv::engine::Engine engine(eo, *source, *dlq, cipher, **store, **audit, clock, random);

  spdlog::info("consuming queue={} store={} root_key_provider={} active_key_id={} audit={}",
               cfg->queue_backend, cfg->store_backend, (*provider)->kind(),
               (*provider)->active_key_id(), audit_path);
  // Optional loopback admin listener: GET /metrics with the EngineMetrics set (issue 8). The
  // engine's own atomics are the source of truth; a scrape brings the registry up to date.
  vv::stats::Registry registry;
  vv::stats::EngineMetrics em(registry);
  std::mutex scrape_mu;
  std::unique_ptr<vv::http::AdminServer> admin;
  if (!admin_listen.empty()) {
    auto a = vv::http::AdminServer::Create(admin_listen, [&](const vv::http::AdminRequest& r) {
      if (r.path != "/metrics" || r.method != "GET")
        return vv::http::Response{404, "{\"detail\":\"Not Found\"}", "application/json"};
      std::lock_guard<std::mutex> l(scrape_mu);
      const auto& c = engine.counters();
      auto sync = [](vv::stats::Counter& m, uint64_t v) {
        if (v > m.value()) m.Inc(v - m.value());
      };
      sync(em.messages_consumed, c.consumed.load());
      sync(em.messages_stored, c.stored.load());
      sync(em.duplicates, c.duplicates.load());
      sync(em.integrity_failures, c.integrity_failures.load());
      sync(em.dead_lettered, c.dead_lettered.load());
      em.consumer_lag.Set(static_cast<double>(c.lag.load()));
      return vv::http::Response{200, registry.Render(), vv::stats::Registry::kContentType};
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
  std::cout << "ENGINE READY" << std::endl;
  (void)vv::SdNotify("READY=1");  // Type=notify units (deploy/systemd/vv-engine.service)

  std::atomic<bool> stop{false};
  std::atomic<bool> finished{false};
  std::thread waiter([&] {
    timespec ts{0, 100 * 1000 * 1000};
    while (!finished.load()) {
      int sig = sigtimedwait(&set, nullptr, &ts);
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
      if (++ticks % (cfg->metrics_interval_seconds * 10) == 0)
        WriteMetrics(cfg->metrics_path, engine.MetricsText());
    }
  });
  vv::Status s = engine.Run(stop, drain);
  (void)vv::SdNotify("STOPPING=1");
  finished.store(true);
  waiter.join();
  metrics.join();
  WriteMetrics(cfg->metrics_path, engine.MetricsText());
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

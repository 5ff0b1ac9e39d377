#include "app/gateway_app.h"

#include "common/sd_notify.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "app/kill_switch.h"
#include "app/replies.h"
#include "config/listen_address.h"
#include "app/redis_settings.h"
#include "common/logging.h"
#include "cognitive/store_config.h"
#include "config/nats_client.h"
#include "common/encoding.h"
#include "common/host_port.h"
#include "crypto/crypto.h"
#include "audit/jetstream_anchor.h"
#include "audit/pkcs11_seal_signer.h"
#include "queue/embedded_queue.h"
#include "queue/envelope_auth.h"
#include "queue/grouping_publisher.h"
#include "queue/jetstream_queue.h"
#include "state/memory_state.h"
#include "state/redis_state.h"

namespace vv::app {

namespace {

// One Redis pool per gateway process, shared by the nonce store, the rate limiter and the
// admission script (persistent connections; created only when a redis backend is configured).
Result<std::shared_ptr<state::RedisPool>> MakeRedisPool(const config::GatewayConfig& cfg) {
  using config::StateBackend;
  if (cfg.nonce_backend != StateBackend::kRedis && cfg.rate_limit_backend != StateBackend::kRedis)
    return std::shared_ptr<state::RedisPool>();
  if (cfg.redis_url.empty())
    return Status::InvalidArgument("nonce_backend/rate_limit_backend 'redis' needs redis_url");
  VV_ASSIGN_OR_RETURN(auto rc, RedisSettings(cfg));
  // A connection per io thread at least: each holds one for its request's round trip, and a
  // thread waiting for a free connection is a thread not serving.
  rc.pool_size = std::clamp(cfg.EffectiveWorkerThreads(std::thread::hardware_concurrency()),
                            rc.pool_size, 1024);
  auto pool = state::RedisPool::Create(rc);
  if (!pool.ok()) return Status(pool.status().code(), "redis_url: " + pool.status().message());
  return std::move(pool).value();
}

Result<std::unique_ptr<state::NonceStore>> MakeNonceStore(
    const config::GatewayConfig& cfg, const Clock& clock,
    const std::shared_ptr<state::RedisPool>& pool) {
  switch (cfg.nonce_backend) {
    case config::StateBackend::kMemory:
      return std::unique_ptr<state::NonceStore>(std::make_unique<state::MemoryNonceStore>(clock));
    case config::StateBackend::kRedis:
      return std::unique_ptr<state::NonceStore>(std::make_unique<state::RedisNonceStore>(pool));
  }
  return Status::InvalidArgument("nonce_backend: unknown backend");
}

Result<std::unique_ptr<state::RateLimiter>> MakeRateLimiter(
    const config::GatewayConfig& cfg, const Clock& clock,
    const std::shared_ptr<state::RedisPool>& pool, int64_t per_minute) {
  switch (cfg.rate_limit_backend) {
    case config::StateBackend::kMemory:
      return std::unique_ptr<state::RateLimiter>(
          std::make_unique<state::MemoryRateLimiter>(clock, per_minute));
    case config::StateBackend::kRedis:
      return std::unique_ptr<state::RateLimiter>(
          std::make_unique<state::RedisRateLimiter>(pool, clock, per_minute));
  }
  return Status::InvalidArgument("rate_limit_backend: unknown backend");
}

// Nonce + rate admission: one Lua round trip when both live in Redis, else the composite.
std::unique_ptr<state::Admission> MakeAdmission(const config::GatewayConfig& cfg,
                                                const Clock& clock,
                                                const std::shared_ptr<state::RedisPool>& pool,
                                                state::NonceStore& nonces,
                                                state::RateLimiter& limiter) {
  using config::StateBackend;
  if (cfg.nonce_backend == StateBackend::kRedis && cfg.rate_limit_backend == StateBackend::kRedis)
    return std::make_unique<state::RedisAdmission>(pool, clock, cfg.rate_limit_per_minute);
  return std::make_unique<state::CompositeAdmission>(nonces, limiter);
}

}  // namespace

void FillJetStreamOptions(const config::GatewayConfig& cfg, queue::JetStreamOptions* o) {
  config::ApplyNatsConfig(cfg, &o->nats);
  o->nats.send_asap = cfg.nats_send_asap;
  o->ingest_subject = cfg.queue_subject;
  o->dlq_subject = cfg.dlq_subject;
  o->ingest_stream = cfg.nats_stream;
  o->dlq_stream = cfg.nats_dlq_stream;
  o->replicas = static_cast<int>(cfg.nats_replicas);
  o->duplicate_window_ms = cfg.nats_duplicate_window_seconds * 1000;
  o->max_age_ms = cfg.nats_stream_max_age_seconds * 1000;
  o->max_bytes = cfg.nats_stream_max_bytes;
  o->discard_new = cfg.nats_stream_discard == "new";
}

namespace {

// The queue, signing every envelope with `signer` when set (issue 12): the embedded queue
// signs each commit group in its writer (one signature per group, issue 15); JetStream
// publishes go through a GroupingPublisher (one signature per group of concurrent publishes or
// per batch, their completions run in groups too). Every group's size goes to `group_size`,
// which must outlive the publisher.
Result<std::unique_ptr<queue::Publisher>> MakePublisher(
    const config::GatewayConfig& cfg, const Clock& clock,
    std::shared_ptr<const queue::EnvelopeSigner> signer, stats::Histogram* group_size) {
  auto on_group = [group_size](size_t n) { group_size->Observe(static_cast<double>(n)); };
  switch (cfg.queue_backend) {
    case config::QueueBackend::kEmbedded: {
      queue::EmbeddedQueueOptions o;
      o.clock = &clock;
      o.signer = std::move(signer);
      o.on_notice = [](const std::string& m) { spdlog::warn("{}", m); };
      o.on_group = on_group;
      auto q = queue::EmbeddedQueue::Open(cfg.queue_path, o);
      if (!q.ok()) return Status(q.status().code(), "queue_path: " + q.status().message());
      return std::unique_ptr<queue::Publisher>(std::move(q).value());
    }
    case config::QueueBackend::kNats: {
      if (cfg.nats_url.empty())
        return Status::InvalidArgument("queue_backend 'nats' needs nats_url");
      queue::JetStreamOptions o;
      FillJetStreamOptions(cfg, &o);
      auto p = queue::JetStreamPublisher::Create(o);
      if (!p.ok()) return Status(p.status().code(), "nats_url: " + p.status().message());
      queue::GroupingPublisherOptions go;
      go.on_group = on_group;
      go.max_groups_in_flight = static_cast<size_t>(cfg.nats_publish_groups_in_flight);
      return std::unique_ptr<queue::Publisher>(std::make_unique<queue::GroupingPublisher>(
          std::move(p).value(), std::move(signer), std::move(go)));
    }
  }
  return Status::InvalidArgument("queue_backend: unknown backend");
}

audit::FsyncPolicy ToAuditFsync(config::FsyncPolicy p) {
  switch (p) {
    case config::FsyncPolicy::kNone: return audit::FsyncPolicy::kNone;
    case config::FsyncPolicy::kAlways: return audit::FsyncPolicy::kAlways;
    case config::FsyncPolicy::kBatch: break;
  }
  return audit::FsyncPolicy::kBatch;
}

// The admin token: VV_TG_ADMIN_TOKEN, else the contents of admin_token_file (mode already
// checked by the config validator), trailing whitespace/newline stripped. "" = none.
Result<std::string> ResolveAdminToken(const config::GatewayConfig& cfg) {
  if (!cfg.admin_token.empty()) return cfg.admin_token;
  if (cfg.admin_token_file.empty()) return std::string();
  auto bytes = crypto::ReadFileBytes(cfg.admin_token_file);
  if (!bytes.ok())
    return Status(bytes.status().code(),
                  "admin_token_file (VV_TG_ADMIN_TOKEN_FILE): " + bytes.status().message());
  std::string token(StripAsciiWhitespace(*bytes));
  crypto::Wipe(&bytes.value());
  if (token.size() < 16)
    return Status::InvalidArgument(
        "admin_token_file (VV_TG_ADMIN_TOKEN_FILE): token must be at least 16 characters");
  return token;
}

}  // namespace

Result<std::unique_ptr<GatewayApp>> GatewayApp::Create(
    std::shared_ptr<const config::GatewayConfig> cfg) {
  std::unique_ptr<GatewayApp> app(new GatewayApp());
  app->cfg_ = cfg;
  {
    MutexLock l(&app->reload_mu_);
    app->base_cfg_ = cfg;
  }
  app->metrics_ = std::make_unique<stats::GatewayMetrics>(app->registry_);
  const config::GatewayConfig& c = *cfg;
  for (const std::string& w : config::GatewayConfigWarnings(c)) spdlog::warn("{}", w);

  const std::string catalog_dir =
      c.mitre_catalog_dir.empty() ? schema::MitreCatalog::DefaultDir() : c.mitre_catalog_dir;
  auto catalog = schema::MitreCatalog::Load(catalog_dir);
  if (!catalog.ok()) return Status(catalog.status().code(), "mitre_catalog_dir: " + catalog.status().message());
  spdlog::info("ATT&CK catalog loaded from {}", catalog_dir);
  app->catalog_ = std::make_unique<schema::MitreCatalog>(std::move(catalog).value());

  VV_ASSIGN_OR_RETURN(auto pool, MakeRedisPool(c));
  VV_ASSIGN_OR_RETURN(app->nonces_, MakeNonceStore(c, app->clock_, pool));
  VV_ASSIGN_OR_RETURN(app->limiter_,
                      MakeRateLimiter(c, app->clock_, pool, c.rate_limit_per_minute));
  if (c.rejection_budget_per_minute > 0) {
    // Same backend as the rate limiter (shared across replicas with Redis); keys are
    // "rejections:<identity>", apart from the per-operator rate keys.
    VV_ASSIGN_OR_RETURN(app->rejection_budget_,
                        MakeRateLimiter(c, app->clock_, pool, c.rejection_budget_per_minute));
  }
  app->admission_ = MakeAdmission(c, app->clock_, pool, *app->nonces_, *app->limiter_);

  audit::AuditLogOptions ao;
  ao.seal_every = c.audit_seal_every;
  ao.fsync = ToAuditFsync(c.audit_fsync);
  ao.seal_interval_seconds = c.audit_seal_interval_seconds;
  // Each replica seals under its own origin: its own signature key name and anchor subject.
  ao.checkpoint_origin = c.EffectiveAuditOrigin();
  audit::SealKeyOptions seal_key;
  seal_key.key_path = c.audit_signing_key_path;
  seal_key.pkcs11_module = c.audit_seal_pkcs11.module;
  seal_key.pkcs11_token_label = c.audit_seal_pkcs11.token_label;
  seal_key.pkcs11_key_label = c.audit_seal_pkcs11.key_label;
  seal_key.pkcs11_pin_file = c.audit_seal_pkcs11.pin_file;
  seal_key.pkcs11_pin_env = c.audit_seal_pkcs11.pin_env;
  auto seal_signer = audit::OpenSealSigner(seal_key, ao.checkpoint_origin, config::ProcessEnv());
  if (!seal_signer.ok())
    return Status(seal_signer.status().code(), "audit seal key: " + seal_signer.status().message());
  ao.seal_signer = std::move(seal_signer).value();
  if (ao.seal_signer == nullptr) {
    spdlog::warn(
        "no audit seal key (audit_seal_key_path or audit_seal_pkcs11_token_label): audit "
        "checkpoints carry the Merkle root but are NOT signed (development only)");
  } else {
    spdlog::info("audit seals signed by {} key {}", ao.seal_signer->kind(),
                 audit::NoteVerifierKey(ao.checkpoint_origin, ao.seal_signer->public_key()));
  }
  if (c.audit_anchor == "jetstream") {
    // Seals are anchored in a write-once JetStream stream; the log keeps the sink alive. If
    // NATS is down at start-up the log opens with the anchor lagging and catches up later.
    audit::JetStreamAnchorOptions jo;
    config::ApplyNatsConfig(c, &jo.nats);
    if (!c.audit_anchor_nats_url.empty()) jo.nats.url = c.audit_anchor_nats_url;
    jo.origin = ao.checkpoint_origin;
    jo.replicas = static_cast<int>(c.nats_replicas);
    auto sink = audit::JetStreamAnchorSink::Open(jo);
    if (!sink.ok()) return Status(sink.status().code(), "audit_anchor: " + sink.status().message());
    ao.shared_anchor_sink = std::move(sink).value();
  }
  // A fork found at run time is an integrity failure of the audit trail (alert
  // VectorVueTamperLogIntegrityFailure); metrics_ outlives audit_ (declared before it).
  ao.on_integrity_failure = [m = app->metrics_.get()](const Status&) {
    m->audit_integrity_failures.Inc();
  };
  auto audit = audit::AuditLog::Open(c.audit_log_path, ao, app->clock_);
  if (!audit.ok()) return Status(audit.status().code(), "audit_log_path: " + audit.status().message());
  app->audit_ = std::move(audit).value();

  // Every envelope is signed on its way to the queue (issue 12): the engine stores only what
  // verifies under one of its configured queue keys, so a forged or injected message is
  // dead-lettered instead of becoming evidence. Without a key the envelopes stay unsigned
  // (development only: the engine refuses them unless it explicitly allows unsigned ones).
  std::shared_ptr<const queue::EnvelopeSigner> queue_signer;
  if (!c.queue_signing_key_path.empty()) {
    auto qs = queue::EnvelopeSigner::Load(c.queue_signing_key_path, c.queue_signing_kid);
    if (!qs.ok())
      return Status(qs.status().code(),
                    "queue_signing_key_path (VV_TG_QUEUE_SIGNING_KEY_PATH): " +
                        qs.status().message());
    queue_signer = std::move(qs).value();
  }
  VV_ASSIGN_OR_RETURN(app->publisher_, MakePublisher(c, app->clock_, queue_signer,
                                                            &app->metrics_->queue_group_size));
  if (queue_signer == nullptr) {
    spdlog::warn("queue_signing_key_path is not set: envelopes are enqueued UNSIGNED; the "
                 "engine accepts them only with allow_unsigned_queue_messages (development)");
  }

  // Readiness (issue 14): one model for /healthz, /readyz and the probe listener, fed by the
  // request path through the observed audit log and queue every service writes to.
  app->readiness_ = std::make_unique<Readiness>(app->clock_);
  AddGatewayComponents(*app->readiness_, *app->audit_, *app->publisher_, *app->nonces_,
                       *app->limiter_);
  app->observed_audit_ = std::make_unique<ObservedAuditSink>(*app->audit_, *app->readiness_);
  app->observed_publisher_ =
      std::make_unique<ObservedPublisher>(*app->publisher_, *app->readiness_);
  app->process_metrics_ = std::make_unique<stats::ProcessMetrics>(app->registry_, "gateway");

  // Signed feedback keys, loaded once. Refuse to start without them (the reference's default
  // deployment failed every request instead).
  VV_ASSIGN_OR_RETURN(app->feedback_signer_,
                      cognitive::FeedbackSigner::Load(c.feedback_key_paths, c.feedback_active_kid));

  // Execution graphs: tenant-scoped, in the evidence store database (vectorvue.evidence_engine).
  VV_ASSIGN_OR_RETURN(auto store_cfg, cognitive::LoadGraphStoreConfig(
                                          c.source_path, config::ProcessEnv(), c.queue_path));
  if (c.profile == "production" && store_cfg.backend != config::StoreBackend::kPostgres)
    // Issue 14 item 3: replicas must answer feedback from the same graphs.
    return Status::InvalidArgument(
        "evidence_engine.store_backend: profile production requires the execution-graph store "
        "on PostgreSQL (got " + std::string(config::Name(store_cfg.backend)) + " at " + store_cfg.path +
        ", a file per replica, so feedback would differ by replica): set "
        "vectorvue.evidence_engine.store_backend: postgres and postgres_url "
        "(VV_EVIDENCE_STORE_BACKEND=postgres, VV_EVIDENCE_POSTGRES_URL)");
  store_cfg.require_least_privilege = c.profile == "production";
  auto graphs = cognitive::OpenGraphStore(store_cfg);
  if (!graphs.ok())
    return Status(graphs.status().code(),
                  "evidence_engine store (graph store): " + graphs.status().message());
  app->graphs_ = std::move(graphs).value();

  // Federation bundle nonce cache: a dedicated store with the memory backend; with Redis the
  // shared store, in its own key namespace (verify::BundleNonceKey).
  if (c.nonce_backend == config::StateBackend::kMemory) {
    app->own_bundle_nonces_ = std::make_unique<state::MemoryNonceStore>(app->clock_);
    app->bundle_nonces_ = app->own_bundle_nonces_.get();
  } else {
    app->bundle_nonces_ = app->nonces_.get();
  }

  FederationDeps fd;
  fd.config = cfg;
  fd.clock = &app->clock_;
  fd.random = &app->random_;
  fd.bundle_nonces = app->bundle_nonces_;
  fd.rejection_budget = app->rejection_budget_.get();
  fd.audit = app->observed_audit_.get();
  fd.metrics = app->metrics_.get();
  app->federation_ = std::make_unique<FederationService>(std::move(fd));

  CognitiveDeps cd;
  cd.config = cfg;
  cd.clock = &app->clock_;
  cd.random = &app->random_;
  cd.nonces = app->nonces_.get();
  cd.limiter = app->limiter_.get();
  cd.rejection_budget = app->rejection_budget_.get();
  cd.audit = app->observed_audit_.get();
  cd.graphs = app->graphs_.get();
  cd.signer = app->feedback_signer_;
  cd.metrics = app->metrics_.get();
  app->cognitive_ = std::make_unique<CognitiveService>(std::move(cd));

  GatewayDeps deps;
  deps.config = cfg;
  deps.clock = &app->clock_;
  deps.random = &app->random_;
  deps.catalog = app->catalog_.get();
  deps.nonces = app->nonces_.get();
  deps.limiter = app->limiter_.get();
  deps.admission = app->admission_.get();
  deps.rejection_budget = app->rejection_budget_.get();
  deps.publisher = app->observed_publisher_.get();
  deps.audit = app->observed_audit_.get();
  deps.readiness = app->readiness_.get();
  deps.metrics = app->metrics_.get();
  app->service_ = std::make_unique<GatewayService>(std::move(deps));
  // One HTTP handler routes to every service's rows (which never know each other).
  std::vector<Endpoint> rows = app->federation_->Endpoints();
  for (Endpoint& e : app->cognitive_->Endpoints()) rows.push_back(std::move(e));
  app->handler_ = std::make_unique<GatewayHandler>(app->service_->HandlerDeps(std::move(rows)));

  http::ServerOptions so;
  so.host = c.listen_host;
  so.port = c.listen_port;
  so.tls.cert_path = c.tls.cert_path;
  so.tls.key_path = c.tls.key_path;
  so.tls.ca_path = c.tls.ca_path;
  so.tls.crl_path = c.tls.crl_path;
  so.tls.require_client_cert = c.require_mtls;
  so.threads = c.EffectiveWorkerThreads(std::thread::hardware_concurrency());
  so.max_body_bytes = c.max_body_bytes;
  so.max_header_bytes = c.max_header_bytes;
  so.max_header_count = c.max_header_count;
  so.header_timeout_seconds = c.header_timeout_seconds;
  so.body_timeout_seconds = c.body_timeout_seconds;
  so.idle_timeout_seconds = c.idle_timeout_seconds;
  so.max_connections = c.max_connections;
  so.handshake_timeout_seconds = c.handshake_timeout_seconds;
  so.max_pending_handshakes = c.EffectiveMaxPendingHandshakes();
  so.max_pending_handshakes_per_source = c.EffectiveMaxPendingHandshakesPerSource();
  auto server = http::Server::Create(so, *app->handler_);
  if (!server.ok()) return Status(server.status().code(), "listen/tls: " + server.status().message());
  app->server_ = std::move(server).value();
  {
    MutexLock l(&app->reload_mu_);
    app->PublishTlsExpiry();
  }

  // Kill switch: apply the current revocations before serving anything.
  auto store = killswitch::MakeStore(c);
  if (!store.ok()) return Status(store.status().code(), "kill switch: " + store.status().message());
  app->ks_store_ = std::move(store).value();
  // What this gateway applied before it stopped: the revocations stay in force and the
  // generation stays the floor, whatever the shared store says now (issue 12).
  app->ks_applied_path_ = c.audit_log_path + ".kill-switch";
  auto applied = killswitch::LoadApplied(app->ks_applied_path_);
  if (!applied.ok())
    return Status(applied.status().code(), "kill switch: " + applied.status().message());
  app->ks_applied_generation_ = applied->generation;
  if (!applied->revoked.empty()) {
    MutexLock l(&app->reload_mu_);
    app->revoked_ = applied->revoked;
    app->PublishSnapshot();
  }
  app->PollKillSwitch();

  // Admin listener (loopback only). A bind failure (e.g. the default port is taken by another
  // gateway on this host) is logged and the gateway runs without it; a non-loopback address
  // is a configuration error.
  if (!config::ListenerDisabled(c.admin_listen)) {
    VV_RETURN_IF_ERROR(
        ParseListenAddress("admin_listen", c.admin_listen, /*loopback_only=*/true).status());
    GatewayApp* raw = app.get();
    http::AdminOptions ao;
    VV_ASSIGN_OR_RETURN(ao.token, ResolveAdminToken(c));
    if (ao.token.empty())
      spdlog::warn("admin listener: no admin_token_file / VV_TG_ADMIN_TOKEN: POST endpoints "
                   "(reload) are refused");
    ao.on_refused = [raw](const http::AdminRefusal& f) {
      json::Value d = json::Value::MakeObject();
      d.Set("method", f.method);
      d.Set("path", f.path);
      d.Set("reason", f.reason);
      d.Set("status", static_cast<int64_t>(f.status));
      raw->AuditApp("admin.refused", std::move(d));
    };
    auto admin = http::AdminServer::Create(
        c.admin_listen, [raw](const http::AdminRequest& r) { return raw->HandleAdmin(r); },
        std::move(ao));
    if (admin.ok()) {
      app->admin_ = std::move(admin).value();
    } else {
      spdlog::error("admin listener disabled: {}", admin.status().message());
    }
  }
  // Probe and scrape listener (any address, read-only, unauthenticated). Unlike the admin
  // listener's default port, it is configured on purpose: failing to bind refuses to start.
  if (!config::ListenerDisabled(c.probe_listen)) {
    GatewayApp* raw = app.get();
    auto probe = http::ProbeServer::Create(
        c.probe_listen, [raw](std::string_view path) { return raw->HandleProbe(path); });
    if (!probe.ok()) return Status(probe.status().code(), probe.status().message());
    app->probe_ = std::move(probe).value();
  }
  return app;
}

void GatewayApp::Start() {
  server_->Start();
  if (admin_) admin_->Start();
  if (probe_) probe_->Start();
  WatchBackends();
  ks_thread_ = std::thread([this] {
    MutexLock l(&ks_mu_);
    int ticks = 0;
    for (;;) {
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(kKillSwitchPollMillis);
      while (!ks_stop_) {
        if (ks_cv_.WaitUntil(&ks_mu_, deadline) == std::cv_status::timeout) break;
      }
      if (ks_stop_) break;
      l.Unlock();
      PollKillSwitch();
      if (++ticks % kBackendWatchTicks == 0) WatchBackends();
      l.Lock();
    }
  });
  // Type=notify units: started = listening with every backend open (Create checked them).
  Status notified = SdNotify("READY=1");
  if (!notified.ok()) spdlog::warn("systemd readiness notification failed: {}", notified.ToString());
}

void GatewayApp::Stop() {
  (void)SdNotify("STOPPING=1");
  {
    MutexLock l(&ks_mu_);
    ks_stop_ = true;
  }
  ks_cv_.SignalAll();
  server_->Stop();
}

void GatewayApp::WatchBackends() {
  const auto cfg = cfg_;
  if (cfg->nonce_backend == config::StateBackend::kRedis)
    logging::Backends().Observe("redis", nonces_->Health());
  else if (cfg->rate_limit_backend == config::StateBackend::kRedis)
    logging::Backends().Observe("redis", limiter_->Health());
  if (cfg->queue_backend != config::QueueBackend::kNats)
    logging::Backends().Observe("queue (" + std::string(config::Name(cfg->queue_backend)) + ")",
                                publisher_->Health());
  const audit::AnchorState anchor = audit_->anchor_state();
  if (anchor.configured)
    logging::Backends().Observe("audit anchor (" + cfg->audit_anchor + ")",
                                audit_->anchor_status());
}

void GatewayApp::AuditApp(std::string_view event_type, json::Value details) {
  Status s = observed_audit_->Append(event_type, "telemetry_gateway", std::move(details));
  if (!s.ok()) {
    metrics_->audit_append_failures.Inc();
    metrics_->BackendError("audit").Inc();
    spdlog::error("audit append failed ({}): {}", event_type, s.ToString());
  }
}

Result<audit::RotateResult> GatewayApp::RotateAudit(std::string_view trigger) {
  auto r = audit_->Rotate();
  if (!r.ok()) {
    spdlog::error("audit log rotation ({}) refused: {}", trigger, r.status().ToString());
    json::Value d = json::Value::MakeObject();
    d.Set("trigger", std::string(trigger));
    d.Set("error", r.status().message());
    AuditApp("audit.rotate_failed", std::move(d));
    return r.status();
  }
  spdlog::info("audit log rotated ({}): segment {} sealed as {} ({} lines), now writing segment {}",
               trigger, r->sealed_segment, r->rotated_path, r->sealed_lines, r->segment);
  json::Value d = json::Value::MakeObject();
  d.Set("trigger", std::string(trigger));
  d.Set("sealed_segment", r->sealed_segment);
  d.Set("rotated_path", r->rotated_path);
  d.Set("sealed_lines", r->sealed_lines);
  d.Set("last_seal_hash", r->last_seal_hash);
  AuditApp("audit.rotated", std::move(d));
  return r;
}

void GatewayApp::PublishTlsExpiry() {
  tls::ContextExpiry e = server_->TlsExpiry();
  metrics_->tls_crl_next_update.Set(static_cast<double>(e.crl_next_update));
  metrics_->tls_certificate_expiry.WithLabels({"server"}).Set(
      static_cast<double>(e.server_cert_not_after));
  metrics_->tls_certificate_expiry.WithLabels({"ca"}).Set(static_cast<double>(e.ca_not_after));
  // The CA bundles the gateway trusts its backends with: an expired one fails the connection.
  const auto cfg = base_cfg_ ? base_cfg_ : cfg_;
  for (const auto& [label, path] : {std::pair<const char*, std::string>{"nats_ca", cfg->nats_tls_ca_path},
                                    {"redis_ca", cfg->redis_tls_ca_path}}) {
    if (path.empty()) continue;
    auto not_after = tls::EarliestCertificateExpiry(path);
    if (!not_after.ok()) {
      spdlog::warn("certificate expiry of {}: {}", label, not_after.status().message());
      continue;
    }
    metrics_->tls_certificate_expiry.WithLabels({label}).Set(static_cast<double>(*not_after));
  }
}

void GatewayApp::PublishSnapshot() {
  auto eff = std::make_shared<config::GatewayConfig>(*base_cfg_);
  eff->revoked_identities = revoked_;
  std::shared_ptr<const config::GatewayConfig> snap = eff;
  handler_->Reload(snap);
  service_->Reload(snap);
  federation_->Reload(snap);
  cognitive_->Reload(snap);
  metrics_->revoked_identities.Set(static_cast<double>(revoked_.size()));
}

namespace {
// Settings a hot reload cannot change (the components using them are built once).
std::vector<std::string> RestartOnlyChanges(const config::GatewayConfig& a,
                                            const config::GatewayConfig& b) {
  std::vector<std::string> out;
  auto cmp = [&](bool differ, const char* name) {
    if (differ) out.emplace_back(name);
  };
  cmp(a.listen_host != b.listen_host || a.listen_port != b.listen_port, "listen");
  cmp(a.worker_threads != b.worker_threads, "worker_threads");
  cmp(a.max_body_bytes != b.max_body_bytes || a.max_header_bytes != b.max_header_bytes ||
          a.max_header_count != b.max_header_count || a.max_connections != b.max_connections ||
          a.header_timeout_seconds != b.header_timeout_seconds ||
          a.body_timeout_seconds != b.body_timeout_seconds ||
          a.idle_timeout_seconds != b.idle_timeout_seconds ||
          a.handshake_timeout_seconds != b.handshake_timeout_seconds ||
          a.max_pending_handshakes != b.max_pending_handshakes ||
          a.max_pending_handshakes_per_source != b.max_pending_handshakes_per_source,
      "limits");
  cmp(a.require_mtls != b.require_mtls, "require_mtls");
  cmp(a.nonce_backend != b.nonce_backend, "nonce_backend");
  cmp(a.rate_limit_backend != b.rate_limit_backend, "rate_limit_backend");
  cmp(a.rate_limit_per_minute != b.rate_limit_per_minute, "rate_limit_per_minute");
  cmp(a.rejection_budget_per_minute != b.rejection_budget_per_minute,
      "rejection_budget_per_minute");
  cmp(a.redis_url != b.redis_url, "redis_url");
  cmp(a.queue_backend != b.queue_backend || a.queue_path != b.queue_path ||
          a.nats_url != b.nats_url || a.queue_subject != b.queue_subject ||
          a.dlq_subject != b.dlq_subject || a.nats_send_asap != b.nats_send_asap ||
          a.nats_publish_groups_in_flight != b.nats_publish_groups_in_flight,
      "queue");
  cmp(a.audit_log_path != b.audit_log_path || a.audit_signing_key_path != b.audit_signing_key_path ||
          a.replica_id != b.replica_id || a.audit_origin != b.audit_origin ||
          !(a.audit_seal_pkcs11 == b.audit_seal_pkcs11),
      "audit_log_path/audit_seal_key_path/audit_seal_pkcs11_*");
  cmp(a.feedback_key_paths != b.feedback_key_paths ||
          a.feedback_active_kid != b.feedback_active_kid,
      "feedback keys");
  cmp(a.mitre_catalog_dir != b.mitre_catalog_dir, "mitre_catalog_dir");
  cmp(a.admin_listen != b.admin_listen || a.admin_token_file != b.admin_token_file,
      "admin_listen/admin_token_file");
  cmp(a.probe_listen != b.probe_listen, "probe_listen");
  cmp(a.queue_signing_key_path != b.queue_signing_key_path ||
          a.queue_signing_kid != b.queue_signing_kid,
      "queue_signing_key_path/queue_signing_kid");
  cmp(a.kill_switch_file != b.kill_switch_file ||
          a.kill_switch_redis_key != b.kill_switch_redis_key,
      "kill_switch_file/kill_switch_redis_key");
  return out;
}
}  // namespace

Status GatewayApp::Reload(std::string_view trigger) {
  MutexLock l(&reload_mu_);
  const std::string path = base_cfg_->source_path;
  auto reject = [&](const Status& why) {
    metrics_->config_reloads.WithLabels({"rejected"}).Inc();
    spdlog::error("config reload ({}) rejected, keeping the running config: {}", trigger,
                  why.message());
    json::Value d = json::Value::MakeObject();
    d.Set("trigger", trigger);
    d.Set("source", path);
    d.Set("error", why.message());
    AuditApp("config.reload_rejected", std::move(d));
    return why;
  };
  if (path.empty()) return reject(Status::InvalidArgument("config has no source file"));
  auto loaded = config::LoadGatewayConfig(path, config::ProcessEnv());
  if (!loaded.ok()) return reject(loaded.status());
  for (const std::string& w : config::GatewayConfigWarnings(*loaded)) spdlog::warn("{}", w);
  auto changed = RestartOnlyChanges(*base_cfg_, *loaded);
  if (!changed.empty()) {
    std::string list;
    for (const auto& c : changed) list += (list.empty() ? "" : ", ") + c;
    return reject(Status::InvalidArgument("these settings need a restart, not a reload: " + list));
  }
  tls::ServerTlsOptions t;
  t.cert_path = loaded->tls.cert_path;
  t.key_path = loaded->tls.key_path;
  t.ca_path = loaded->tls.ca_path;
  t.crl_path = loaded->tls.crl_path;
  t.require_client_cert = loaded->require_mtls;
  // ReloadTls also re-verifies every open connection against the new CA/CRL (issue 12 item 6).
  Status ts = server_->ReloadTls(t);
  if (!ts.ok()) return reject(Status(ts.code(), "tls: " + ts.message()));
  PublishTlsExpiry();
  base_cfg_ = std::make_shared<const config::GatewayConfig>(std::move(loaded).value());
  PublishSnapshot();
  metrics_->config_reloads.WithLabels({"ok"}).Inc();
  json::Value d = json::Value::MakeObject();
  d.Set("trigger", trigger);
  d.Set("source", path);
  json::Value ids = json::Value::MakeObject();
  for (const auto& i : base_cfg_->identities) {
    json::Value e = json::Value::MakeObject();
    json::Value kids = json::Value::MakeArray();
    for (const auto& k : base_cfg_->KeysFor(i)) kids.Push(k.kid);
    json::Value pins = json::Value::MakeArray();
    for (const auto& p : i.cert_sha256_pins) pins.Push(p);
    e.Set("kids", std::move(kids));
    e.Set("pins", std::move(pins));
    ids.Set(i.id, std::move(e));
  }
  d.Set("identities", std::move(ids));
  d.Set("crl_path", base_cfg_->tls.crl_path);
  AuditApp("config.reloaded", std::move(d));
  spdlog::info("config reloaded ({}) from {}", trigger, path);
  return Status::Ok();
}

void GatewayApp::PollKillSwitch() {
  auto text = ks_store_->Read();
  if (!text.ok()) {
    metrics_->BackendError(cfg_->redis_url.empty() ? "kill_switch_file" : "redis").Inc();
    if (!ks_read_failing_)
      spdlog::error("kill switch: cannot read {}: {} (keeping the last applied state)",
                    ks_store_->Describe(), text.status().message());
    ks_read_failing_ = true;
    return;
  }
  ks_read_failing_ = false;
  if (*text == ks_last_text_) return;
  auto st = killswitch::ParseState(*text);
  if (!st.ok()) {
    spdlog::error("kill switch: invalid state in {}: {} (keeping the last applied state)",
                  ks_store_->Describe(), st.status().message());
    ks_last_text_ = *text;
    return;
  }
  ks_last_text_ = *text;
  // What the state changes, decided by killswitch::Diff (pure; unit-tested): a release is
  // applied only when it carries its own dual control bound to this state's generation (issue
  // 12); anything else keeps the identity revoked - fail closed - and is audited. Generations
  // only move forward: an older state can add revocations but never lift one. The plan is
  // applied under reload_mu_ (a concurrent Reload replaces base_cfg_ and reads revoked_).
  killswitch::Plan plan;
  std::shared_ptr<const config::GatewayConfig> base;
  {
    MutexLock l(&reload_mu_);
    base = base_cfg_;
    plan = killswitch::Diff(revoked_, ks_applied_generation_, *st, base->kill_switch_approvers);
    ks_applied_generation_ = plan.applied_generation;
    if (plan.changed()) {
      revoked_ = plan.revoked;
      PublishSnapshot();
    }
    if (plan.save) {
      Status saved = killswitch::SaveApplied(ks_applied_path_,
                                             {ks_applied_generation_, revoked_});
      if (!saved.ok()) {
        metrics_->BackendError("kill_switch_file").Inc();
        spdlog::error("kill switch: {} (a restart may not remember this state)",
                      saved.message());
      }
    }
  }
  for (const auto& [id, why] : plan.refused_releases) {
    spdlog::error("kill switch: release of {} NOT applied: {}", id, why);
    json::Value d = json::Value::MakeObject();
    d.Set("identity", id);
    d.Set("generation", st->generation);
    d.Set("source", ks_store_->Describe());
    d.Set("reason", why);
    AuditApp("kill_switch.release_rejected", std::move(d));
  }
  for (const auto& id : plan.engaged) {
    const auto& r = st->revoked.at(id);
    json::Value d = json::Value::MakeObject();
    d.Set("identity", id);
    d.Set("generation", st->generation);
    d.Set("source", ks_store_->Describe());
    d.Set("reason", r.reason);
    d.Set("engaged_at", r.engaged_at);
    d.Set("request", r.request);
    json::Value names = json::Value::MakeArray();
    for (const auto& a : r.approvals) names.Push(a.approver);
    d.Set("approvers", std::move(names));
    // Re-verify the dual control locally; a revocation is applied either way (fail closed).
    auto ok = killswitch::VerifyApprovals(r.request, r.approvals, base->kill_switch_approvers);
    d.Set("approvals_verified", ok.ok());
    spdlog::warn("KILL SWITCH engaged for identity {}: {}", id, r.reason);
    AuditApp("kill_switch.engaged", std::move(d));
  }
  for (const auto& id : plan.released) {
    json::Value d = json::Value::MakeObject();
    d.Set("identity", id);
    d.Set("generation", st->generation);
    d.Set("source", ks_store_->Describe());
    if (st->last_change.is_object()) d.Set("change", st->last_change);
    spdlog::warn("kill switch released for identity {}", id);
    AuditApp("kill_switch.released", std::move(d));
  }
}

std::string GatewayApp::RenderMetrics() {
  metrics_->ready.Set(readiness_->Check().ready ? 1 : 0);
  (void)process_metrics_->Update();  // a /proc read failure keeps the previous values
  return registry_.Render();
}

http::Response GatewayApp::HandleProbe(std::string_view path) {
  if (path == "/metrics") return {200, RenderMetrics(), stats::Registry::kContentType};
  if (path == "/livez") return {200, R"({"status":"alive"})", "application/json"};
  // /readyz: the verdict's fixed reason code only (the precise error may name hosts/paths).
  const ReadinessVerdict v = readiness_->Check();
  metrics_->ready.Set(v.ready ? 1 : 0);
  json::Value body = json::Value::MakeObject();
  body.Set("ready", v.ready);
  if (!v.ready) body.Set("reason", v.reason);
  return {v.ready ? 200 : 503, json::Canonical(body), "application/json"};
}

http::Response GatewayApp::HandleAdmin(const http::AdminRequest& r) {
  if (r.path == "/metrics" && r.method == "GET")
    return {200, RenderMetrics(), stats::Registry::kContentType};
  if (r.path == "/admin/reload" && r.method == "POST") {
    Status s = Reload("admin");
    json::Value v = json::Value::MakeObject();
    v.Set("reloaded", s.ok());
    if (!s.ok()) v.Set("error", s.message());
    return {s.ok() ? 200 : 422, json::Canonical(v), "application/json"};
  }
  if (r.path == "/admin/audit/rotate" && r.method == "POST") {
    auto rotated = RotateAudit("admin");
    json::Value v = json::Value::MakeObject();
    v.Set("rotated", rotated.ok());
    if (rotated.ok()) {
      v.Set("sealed_segment", rotated->sealed_segment);
      v.Set("rotated_path", rotated->rotated_path);
      v.Set("sealed_lines", rotated->sealed_lines);
      v.Set("last_seal_hash", rotated->last_seal_hash);
      v.Set("segment", rotated->segment);
      return {200, json::Canonical(v), "application/json"};
    }
    v.Set("error", rotated.status().message());
    // 409: nothing to rotate / target exists; 503: the seal could not be anchored (retry).
    const StatusCode sc = rotated.status().code();
    const int code = sc == StatusCode::kNotFound || sc == StatusCode::kAlreadyExists ? 409 : 503;
    return {code, json::Canonical(v), "application/json"};
  }
  if (r.path == "/admin/kill-switch" && r.method == "GET") {
    json::Value v = json::Value::MakeObject();
    json::Value ids = json::Value::MakeArray();
    {
      MutexLock l(&reload_mu_);
      for (const auto& id : revoked_) ids.Push(id);
    }
    v.Set("revoked", std::move(ids));
    v.Set("source", ks_store_->Describe());
    return {200, json::Canonical(v), "application/json"};
  }
  return DetailResponse(404, "Not Found");
}

GatewayApp::~GatewayApp() {
  {
    MutexLock l(&ks_mu_);
    ks_stop_ = true;
  }
  ks_cv_.SignalAll();
  if (ks_thread_.joinable()) ks_thread_.join();
  probe_.reset();
  admin_.reset();
  if (server_) {
    server_->Stop();
    server_.reset();
  }
  handler_.reset();
  service_.reset();
  cognitive_.reset();
  federation_.reset();
  graphs_.reset();
  publisher_.reset();  // drains pending publishes (their callbacks still audit)
  if (audit_ != nullptr) {
    // A clean shutdown leaves the log ending on a checkpoint that covers every entry (and
    // anchored), so a verifier sees sealed_size == entries without waiting for a restart.
    if (Status s = audit_->SealNow(); !s.ok())
      spdlog::error("audit: final seal at shutdown failed: {}", s.ToString());
    audit_->FlushAnchor();
  }
  audit_.reset();
}

}  // namespace vv::app

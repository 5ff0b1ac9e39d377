#include "app/gateway_app.h"

#include <spdlog/spdlog.h>

#include "cognitive/store_config.h"
#include "queue/embedded_queue.h"
#include "queue/jetstream_queue.h"
#include "state/memory_state.h"
#include "state/redis_state.h"

namespace vv::app {

namespace {

// One Redis pool per gateway process, shared by the nonce store, the rate limiter and the
// admission script (persistent connections; created only when a redis backend is configured).
Result<std::shared_ptr<state::RedisPool>> MakeRedisPool(const config::GatewayConfig& cfg) {
  if (cfg.nonce_backend != "redis" && cfg.rate_limit_backend != "redis")
    return std::shared_ptr<state::RedisPool>();
  if (cfg.redis_url.empty())
    return Status::InvalidArgument("nonce_backend/rate_limit_backend 'redis' needs redis_url");
  auto rc = state::ParseRedisUrl(cfg.redis_url);
  if (!rc.ok()) return Status(rc.status().code(), "redis_url: " + rc.status().message());
  auto pool = state::RedisPool::Create(*rc);
  if (!pool.ok()) return Status(pool.status().code(), "redis_url: " + pool.status().message());
  return std::move(pool).value();
}

Result<std::unique_ptr<state::NonceStore>> MakeNonceStore(
    const config::GatewayConfig& cfg, const Clock& clock,
    const std::shared_ptr<state::RedisPool>& pool) {
  if (cfg.nonce_backend == "memory")
    return std::unique_ptr<state::NonceStore>(std::make_unique<state::MemoryNonceStore>(clock));
  if (cfg.nonce_backend == "redis")
    return std::unique_ptr<state::NonceStore>(std::make_unique<state::RedisNonceStore>(pool));
  return Status::InvalidArgument("nonce_backend '" + cfg.nonce_backend +
                                 "' is not available in this build");
}

Result<std::unique_ptr<state::RateLimiter>> MakeRateLimiter(
    const config::GatewayConfig& cfg, const Clock& clock,
    const std::shared_ptr<state::RedisPool>& pool) {
  if (cfg.rate_limit_backend == "memory")
    return std::unique_ptr<state::RateLimiter>(
        std::make_unique<state::MemoryRateLimiter>(clock, cfg.rate_limit_per_minute));
  if (cfg.rate_limit_backend == "redis")
    return std::unique_ptr<state::RateLimiter>(
        std::make_unique<state::RedisRateLimiter>(pool, clock, cfg.rate_limit_per_minute));
  return Status::InvalidArgument("rate_limit_backend '" + cfg.rate_limit_backend +
                                 "' is not available in this build");
}

// Nonce + rate admission: one Lua round trip when both live in Redis, else the composite.
std::unique_ptr<state::Admission> MakeAdmission(const config::GatewayConfig& cfg,
                                                const Clock& clock,
                                                const std::shared_ptr<state::RedisPool>& pool,
                                                state::NonceStore& nonces,
                                                state::RateLimiter& limiter) {
  if (cfg.nonce_backend == "redis" && cfg.rate_limit_backend == "redis")
    return std::make_unique<state::RedisAdmission>(pool, clock, cfg.rate_limit_per_minute);
  return std::make_unique<state::CompositeAdmission>(nonces, limiter);
}

Result<std::unique_ptr<queue::Publisher>> MakePublisher(const config::GatewayConfig& cfg,
                                                        const Clock& clock) {
  if (cfg.queue_backend == "embedded" || cfg.queue_backend == "memory") {
    queue::EmbeddedQueueOptions o;
    o.clock = &clock;
    auto q = queue::EmbeddedQueue::Open(cfg.queue_path, o);
    if (!q.ok()) return Status(q.status().code(), "queue_path: " + q.status().message());
    return std::unique_ptr<queue::Publisher>(std::move(q).value());
  }
  if (cfg.queue_backend == "nats") {
    if (cfg.nats_url.empty()) return Status::InvalidArgument("queue_backend 'nats' needs nats_url");
    queue::JetStreamOptions o;
    o.url = cfg.nats_url;
    o.ingest_subject = cfg.queue_subject;
    o.dlq_subject = cfg.dlq_subject;
    auto p = queue::JetStreamPublisher::Create(o);
    if (!p.ok()) return Status(p.status().code(), "nats_url: " + p.status().message());
    return std::unique_ptr<queue::Publisher>(std::move(p).value());
  }
  return Status::InvalidArgument("queue_backend '" + cfg.queue_backend +
                                 "' is not available in this build");
}

audit::FsyncPolicy ToAuditFsync(config::FsyncPolicy p) {
  switch (p) {
    case config::FsyncPolicy::kNone: return audit::FsyncPolicy::kNone;
    case config::FsyncPolicy::kAlways: return audit::FsyncPolicy::kAlways;
    case config::FsyncPolicy::kBatch: break;
  }
  return audit::FsyncPolicy::kBatch;
}

}  // namespace

Result<std::unique_ptr<GatewayApp>> GatewayApp::Create(
    std::shared_ptr<const config::GatewayConfig> cfg) {
  std::unique_ptr<GatewayApp> app(new GatewayApp());
  app->cfg_ = cfg;
  const config::GatewayConfig& c = *cfg;

  auto catalog = c.mitre_catalog_dir.empty() ? schema::MitreCatalog::Load()
                                             : schema::MitreCatalog::Load(c.mitre_catalog_dir);
  if (!catalog.ok()) return Status(catalog.status().code(), "mitre_catalog_dir: " + catalog.status().message());
  app->catalog_ = std::make_unique<schema::MitreCatalog>(std::move(catalog).value());

  auto pool = MakeRedisPool(c);
  if (!pool.ok()) return pool.status();
  auto nonces = MakeNonceStore(c, app->clock_, *pool);
  if (!nonces.ok()) return nonces.status();
  app->nonces_ = std::move(nonces).value();
  auto limiter = MakeRateLimiter(c, app->clock_, *pool);
  if (!limiter.ok()) return limiter.status();
  app->limiter_ = std::move(limiter).value();
  app->admission_ = MakeAdmission(c, app->clock_, *pool, *app->nonces_, *app->limiter_);

  audit::AuditLogOptions ao;
  ao.seal_every = c.audit_seal_every;
  ao.fsync = ToAuditFsync(c.audit_fsync);
  ao.seal_interval_seconds = c.audit_seal_interval_seconds;
  ao.seal_key_path = c.audit_signing_key_path;
  if (ao.seal_key_path.empty()) {
    spdlog::warn(
        "audit_seal_key_path is not set: audit checkpoints carry the Merkle root but are NOT "
        "signed (development only)");
  }
  auto audit = audit::AuditLog::Open(c.audit_log_path, ao, app->clock_);
  if (!audit.ok()) return Status(audit.status().code(), "audit_log_path: " + audit.status().message());
  app->audit_ = std::move(audit).value();

  auto publisher = MakePublisher(c, app->clock_);
  if (!publisher.ok()) return publisher.status();
  app->publisher_ = std::move(publisher).value();

  // Signed feedback keys, loaded once. Refuse to start without them (the reference's default
  // deployment failed every request instead).
  auto signer = cognitive::FeedbackSigner::Load(c.feedback_key_paths, c.feedback_active_kid);
  if (!signer.ok()) return signer.status();
  app->feedback_signer_ = std::move(signer).value();

  // Execution graphs: tenant-scoped, in the evidence store database (vectorvue.evidence_engine).
  auto store_cfg = cognitive::LoadGraphStoreConfig(c.source_path, config::ProcessEnv(), c.queue_path);
  if (!store_cfg.ok()) return store_cfg.status();
  auto graphs = cognitive::OpenGraphStore(*store_cfg);
  if (!graphs.ok())
    return Status(graphs.status().code(),
                  "evidence_engine store (graph store): " + graphs.status().message());
  app->graphs_ = std::move(graphs).value();

  // Federation bundle nonce cache: a dedicated store with the memory backend; with Redis the
  // shared store, in its own key namespace (verify::BundleNonceKey).
  if (c.nonce_backend == "memory") {
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
  fd.audit = app->audit_.get();
  app->federation_ = std::make_unique<FederationService>(std::move(fd));

  CognitiveDeps cd;
  cd.config = cfg;
  cd.clock = &app->clock_;
  cd.random = &app->random_;
  cd.nonces = app->nonces_.get();
  cd.limiter = app->limiter_.get();
  cd.audit = app->audit_.get();
  cd.graphs = app->graphs_.get();
  cd.signer = app->feedback_signer_;
  app->cognitive_ = std::make_unique<CognitiveService>(std::move(cd));

  GatewayDeps deps;
  deps.config = cfg;
  deps.federation = app->federation_.get();
  deps.cognitive = app->cognitive_.get();
  deps.clock = &app->clock_;
  deps.random = &app->random_;
  deps.catalog = app->catalog_.get();
  deps.nonces = app->nonces_.get();
  deps.limiter = app->limiter_.get();
  deps.admission = app->admission_.get();
  deps.publisher = app->publisher_.get();
  deps.audit = app->audit_.get();
  app->service_ = std::make_unique<GatewayService>(std::move(deps));

  http::ServerOptions so;
  so.host = c.listen_host;
  so.port = c.listen_port;
  so.tls.cert_path = c.tls.cert_path;
  so.tls.key_path = c.tls.key_path;
  so.tls.ca_path = c.tls.ca_path;
  so.tls.crl_path = c.tls.crl_path;
  so.tls.require_client_cert = c.require_mtls;
  so.threads = c.worker_threads;
  so.max_body_bytes = c.max_body_bytes;
  so.max_header_bytes = c.max_header_bytes;
  so.max_header_count = c.max_header_count;
  so.header_timeout_seconds = c.header_timeout_seconds;
  so.body_timeout_seconds = c.body_timeout_seconds;
  so.idle_timeout_seconds = c.idle_timeout_seconds;
  so.max_connections = c.max_connections;
  auto server = http::Server::Create(so, *app->service_);
  if (!server.ok()) return Status(server.status().code(), "listen/tls: " + server.status().message());
  app->server_ = std::move(server).value();
  return app;
}

GatewayApp::~GatewayApp() {
  if (server_) {
    server_->Stop();
    server_.reset();
  }
  service_.reset();
  cognitive_.reset();
  federation_.reset();
  graphs_.reset();
  publisher_.reset();  // drains pending publishes (their callbacks still audit)
  audit_.reset();
}

}  // namespace vv::app

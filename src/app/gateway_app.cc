#include "app/gateway_app.h"

#include <spdlog/spdlog.h>

#include "queue/embedded_queue.h"
#include "queue/jetstream_queue.h"
#include "state/memory_state.h"
#include "state/redis_state.h"

namespace vv::app {

namespace {

Result<std::unique_ptr<state::NonceStore>> MakeNonceStore(const config::GatewayConfig& cfg,
                                                          const Clock& clock) {
  if (cfg.nonce_backend == "memory")
    return std::unique_ptr<state::NonceStore>(std::make_unique<state::MemoryNonceStore>(clock));
  if (cfg.nonce_backend == "redis") {
    if (cfg.redis_url.empty())
      return Status::InvalidArgument("nonce_backend 'redis' needs redis_url");
    auto rc = state::ParseRedisUrl(cfg.redis_url);
    if (!rc.ok()) return rc.status();
    auto pool = state::RedisPool::Create(*rc);
    if (!pool.ok()) return Status(pool.status().code(), "redis_url: " + pool.status().message());
    return std::unique_ptr<state::NonceStore>(std::make_unique<state::RedisNonceStore>(*pool));
  }
  return Status::InvalidArgument("nonce_backend '" + cfg.nonce_backend +
                                 "' is not available in this build");
}

Result<std::unique_ptr<state::RateLimiter>> MakeRateLimiter(const config::GatewayConfig& cfg,
                                                            const Clock& clock) {
  if (cfg.rate_limit_backend == "memory")
    return std::unique_ptr<state::RateLimiter>(
        std::make_unique<state::MemoryRateLimiter>(clock, cfg.rate_limit_per_minute));
  if (cfg.rate_limit_backend == "redis") {
    if (cfg.redis_url.empty())
      return Status::InvalidArgument("rate_limit_backend 'redis' needs redis_url");
    auto rc = state::ParseRedisUrl(cfg.redis_url);
    if (!rc.ok()) return rc.status();
    auto pool = state::RedisPool::Create(*rc);
    if (!pool.ok()) return Status(pool.status().code(), "redis_url: " + pool.status().message());
    return std::unique_ptr<state::RateLimiter>(
        std::make_unique<state::RedisRateLimiter>(*pool, clock, cfg.rate_limit_per_minute));
  }
  return Status::InvalidArgument("rate_limit_backend '" + cfg.rate_limit_backend +
                                 "' is not available in this build");
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

  auto nonces = MakeNonceStore(c, app->clock_);
  if (!nonces.ok()) return nonces.status();
  app->nonces_ = std::move(nonces).value();
  auto limiter = MakeRateLimiter(c, app->clock_);
  if (!limiter.ok()) return limiter.status();
  app->limiter_ = std::move(limiter).value();

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

  GatewayDeps deps;
  deps.config = cfg;
  deps.clock = &app->clock_;
  deps.random = &app->random_;
  deps.catalog = app->catalog_.get();
  deps.nonces = app->nonces_.get();
  deps.limiter = app->limiter_.get();
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
  publisher_.reset();  // drains pending publishes (their callbacks still audit)
  audit_.reset();
}

}  // namespace vv::app

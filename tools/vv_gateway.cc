// vv-gateway --config FILE: the VectorVue telemetry gateway (HTTPS + mTLS).
// SIGUSR1 rotates the audit log (seal, anchor, rename to LOG.NNNNNN, new linked segment).
// SIGHUP re-reads and validates the config file and applies it without dropping connections
// (same as POST /admin/reload on the loopback admin listener); a bad file is refused and the
// running config stays.
// Exit status (tools/cli/cli.h, docs/cli.md): 0 after a clean shutdown (SIGINT/SIGTERM), 2 on a
// usage or configuration error (nothing started).

#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <thread>

#include "app/gateway_app.h"
#include "cli/cli.h"
#include "common/logging.h"
#include "config/effective_config.h"
#include "config/gateway_config.h"

int main(int argc, char** argv) {
  CLI::App cli{"VectorVue telemetry gateway (HTTPS + mTLS)"};
  vv::cli::Setup(cli, {"vv-gateway",
                       "  vv-gateway --config /etc/vectorvue/gateway.yaml\n"
                       "  vv-gateway --config gateway.yaml --log-level debug\n"
                       "  kill -HUP <pid>    # reload the config without dropping connections",
                       "  1: the server failed while running.\n"
                       "  2: also a config file the gateway refuses (reason on stderr)."});
  std::string config_path;
  std::string log_level;  // "" = the config's log_level
  cli.add_option("--config", config_path, "YAML config file (vectorvue.telemetry_gateway)")
      ->required();
  cli.add_option("--log-level", log_level,
                 "trace|debug|info|warn|error|critical|off (overrides log_level)")
      ->check(CLI::IsMember(vv::cli::LogLevels()));
  if (int rc = vv::cli::Parse(cli, argc, argv); rc >= 0) return rc;
  // Logging (issue 16): an unknown level is a usage error (exit 2, above); the config's
  // log_level/log_format apply once it is loaded.
  vv::logging::Setup("vv-gateway", vv::logging::Format::kText, spdlog::level::info);

  // Block the termination signals in every thread; a dedicated thread waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto cfg = vv::config::LoadGatewayConfig(config_path, vv::config::ProcessEnv());
  if (!cfg.ok()) {
    return vv::cli::Error("vv-gateway", "refusing to start: " + cfg.status().message(),
                          "correct " + config_path + " (vvctl policy check shows every problem)",
                          vv::cli::kExitUsage);
  }
  if (!log_level.empty()) cfg->log_level = log_level;
  // Both validated by LoadGatewayConfig (and the flag above).
  vv::logging::Setup("vv-gateway", *vv::logging::ParseFormat(cfg->log_format),
                     *vv::logging::ParseLevel(cfg->log_level));
  spdlog::info("effective configuration: {}", vv::config::DescribeGatewayConfig(*cfg));
  auto shared = std::make_shared<const vv::config::GatewayConfig>(std::move(cfg).value());
  if (shared->insecure_dev_mode && (!shared->require_mtls || !shared->require_payload_signature))
    spdlog::critical(
        "INSECURE DEV MODE: require_mtls={} require_payload_signature={} - never use in production",
        shared->require_mtls, shared->require_payload_signature);
  auto app = vv::app::GatewayApp::Create(shared);
  if (!app.ok()) {
    return vv::cli::Error("vv-gateway", "refusing to start: " + app.status().message(),
                          "correct the configuration or start the backend it names",
                          vv::cli::kExitUsage);
  }
  (*app)->Start();
  spdlog::info("listening on {}:{} (queue={}, audit={})", shared->listen_host, (*app)->port(),
               vv::config::Name(shared->queue_backend), shared->audit_log_path);
  // Machine-readable line for supervisors and tests that bind port 0.
  std::cout << "LISTENING " << (*app)->port() << std::endl;
  // Printed after LISTENING (which supervisors wait for): the admin listener's port.
  if ((*app)->admin_port() != 0) {
    spdlog::info("admin listener (GET /metrics, POST /admin/reload) on {}:{}",
                 shared->admin_listen.substr(0, shared->admin_listen.rfind(':')),
                 (*app)->admin_port());
    std::cout << "ADMIN_PORT " << (*app)->admin_port() << std::endl;
  }
  if ((*app)->probe_port() != 0) {
    spdlog::info("probe listener (GET /livez, /readyz, /metrics) on {}:{}",
                 shared->probe_listen.substr(0, shared->probe_listen.rfind(':')),
                 (*app)->probe_port());
    std::cout << "PROBE_PORT " << (*app)->probe_port() << std::endl;
  }

  // Wait() returns only after Stop(), which only the signal thread calls; join it before the
  // app is destroyed so Stop() never runs on a destroyed server.
  std::thread waiter([&] {
    int sig = 0;
    for (;;) {
      sigwait(&set, &sig);
      if (sig == SIGUSR1) {
        // Audit log rotation (docs/operations.md); same as POST /admin/audit/rotate.
        auto r = (*app)->RotateAudit("SIGUSR1");
        if (r.ok()) std::cout << "ROTATED segment " << r->segment << " " << r->rotated_path << std::endl;
        else std::cout << "ROTATED refused: " << r.status().message() << std::endl;
        continue;
      }
      if (sig != SIGHUP) break;
      vv::Status s = (*app)->Reload("SIGHUP");
      if (s.ok()) std::cout << "RELOADED ok" << std::endl;
      else std::cout << "RELOADED rejected: " << s.message() << std::endl;
    }
    spdlog::info("signal {} received, shutting down", sig);
    (*app)->Stop();
  });
  (*app)->Wait();
  waiter.join();
  app->reset();
  spdlog::info("stopped");
  return 0;
}

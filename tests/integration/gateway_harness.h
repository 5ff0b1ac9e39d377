#pragma once
// Test harness: a dev PKI (scripts/dev-pki.sh), a gateway config written from options, and the
// real vv-gateway binary started on an ephemeral loopback port. Clients are
// spectrastrike::HttpsClient instances presenting one of the PKI's client certificates.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "fakes/process.h"
#include "fakes/telemetry_builder.h"
#include "fakes/temp_dir.h"
#include "spectrastrike/https_client.h"

namespace vv::testing {

// A PKI generated once per test binary (shared by all tests; read-only afterwards).
class DevPki {
 public:
  static const DevPki& Get();
  std::string Path(const std::string& file) const { return dir_.File(file); }
  std::string Pin(const std::string& name) const;  // contents of <name>.sha256

 private:
  DevPki();
  TempDir dir_;
};

struct GatewayOptions {
  int64_t rate_limit_per_minute = 1000;
  std::string nonce_backend = "memory";       // memory | redis
  std::string rate_limit_backend = "memory";  // memory | redis
  std::string redis_url;
  std::string queue_backend = "embedded";     // embedded | nats
  std::string nats_url;
  bool with_crl = false;
  int64_t seal_every = 50;
  std::string extra_yaml;  // appended inside telemetry_gateway (2-space indented keys)
  // Non-empty: the identities are bound to these operators (YAML flow list, e.g.
  // "[op-001, op-002]"), as the production profile requires (issue 12 item 2).
  std::string identity_operators;
  std::vector<std::string> env;  // extra environment of the gateway process ("K=V")
};

// The feedback signing key every GatewayUnderTest is configured with (wire-contract A.1).
inline constexpr const char* kFeedbackSeedHex =
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
inline constexpr const char* kFeedbackPublicKeyB64 = "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc=";
inline constexpr const char* kFeedbackKid = "kid-001";

// The queue signing key every GatewayUnderTest signs its envelopes with (issue 12), and the
// engine-config lines that verify it.
inline constexpr const char* kQueueSeedHex =
    "5151515151515151515151515151515151515151515151515151515151515151";
inline constexpr const char* kQueueKid = "queue-001";
std::string QueueVerifyPublicKeyB64();
// "    queue_verify_keys:\n      queue-001: <b64>\n" (for an evidence_engine section).
std::string QueueVerifyKeysYaml();
// The admin token every GatewayUnderTest is configured with (admin_token_file).
inline constexpr const char* kAdminToken = "harness-admin-token-0123456789abcdef";

class GatewayUnderTest {
 public:
  explicit GatewayUnderTest(const GatewayOptions& opts = {});
  ~GatewayUnderTest();

  bool started() const { return port_ != 0; }
  uint16_t port() const { return port_; }
  // The probe listener's port (PROBE_PORT line), 0 unless extra_yaml sets probe_listen.
  uint16_t probe_port() const { return probe_port_; }
  // The gateway process id (-1 when not running), e.g. for /proc/PID/status or SIGHUP.
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  std::string log() const { return proc_ ? proc_->Log() : ""; }
  const std::string& audit_path() const { return audit_path_; }
  const std::string& queue_path() const { return queue_path_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& feedback_key_path() const { return feedback_key_path_; }
  const std::string& queue_signing_key_path() const { return queue_key_path_; }
  // The directory holding the config, queue, audit log and keys.
  std::string dir() const { return dir_.path().string(); }
  // The graph store (evidence database) beside the queue: <dir>/vv-evidence.db.
  std::string evidence_db_path() const { return dir_.File("vv-evidence.db"); }
  // Starts the gateway again on the same config, files and stores (after Stop()).
  bool Restart();
  // SIGTERM and wait; returns the exit status.
  int Stop();
  // SIGKILL and wait (no shutdown: what a crash leaves on disk); returns the exit status.
  int Kill();

  // A client presenting the named PKI cert ("producer", "rogue", "revoked", "untrusted"), or
  // no client certificate when `cert` is empty.
  spectrastrike::HttpsClient Client(const std::string& cert = "producer") const;

  // Rows in the embedded queue of a kind ("ingest" / "dead_letter").
  int64_t QueueCount(const std::string& kind) const;
  // The dedupe ids ("<tenant>/<event_id>") of the embedded queue's ingest rows (a failure to
  // read is a test failure, ADD_FAILURE).
  std::set<std::string> QueueDedupeIds() const;
  // The audit log's records (parsed lines).
  std::vector<std::string> AuditLines() const;

 private:
  TempDir dir_;
  std::string config_path_, audit_path_, queue_path_, feedback_key_path_, queue_key_path_;
  std::vector<std::string> env_;
  std::unique_ptr<ChildProcess> proc_;
  uint16_t port_ = 0;
  uint16_t probe_port_ = 0;
  bool expect_probe_ = false;
  void ReadPorts();
};

// A test suite sharing one default GatewayUnderTest: started before the suite's first test,
// stopped after its last; every test first asserts that it started.
class SharedGatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { gw_ = new GatewayUnderTest(); }
  static void TearDownTestSuite() {
    delete gw_;
    gw_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(gw_->started()) << gw_->log(); }
  static inline GatewayUnderTest* gw_ = nullptr;
};

// Headers for a signed telemetry request.
spectrastrike::HeaderList TelemetryHeaders(const SignedRequest& r,
                                           const std::string& identity = "spectrastrike-producer");

// A signed-request body for POST /internal/v1/cognitive/execution-graph: `nodes` nodes (>= 8
// gives "tighten 0.82" feedback) for `target`, execution fingerprint 'e' x 64.
json::Value GraphBody(const std::string& op, const std::string& tenant, int nodes,
                      const std::string& target, int64_t ts, const std::string& nonce);
// A body for POST /internal/v1/cognitive/feedback/adjustments/query.
json::Value QueryBody(const std::string& op, const std::string& tenant, int64_t ts,
                      const std::string& nonce, int limit = 100);

int64_t NowSeconds();

// Every ingest event id in the JetStream ingest stream at `nats_url` (a seed list allowed),
// with its multiplicity, read through a fresh durable consumer `durable`. Consumer creation is
// retried (up to 30 s) while JetStream answers Unavailable, e.g. a cluster re-electing leaders
// after a node died. A failure to read is a test failure (ADD_FAILURE).
std::map<std::string, int> StoredEventIds(const std::string& nats_url, const std::string& durable);

}  // namespace vv::testing

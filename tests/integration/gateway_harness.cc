#include "integration/gateway_harness.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "json/json.h"
#include "queue/jetstream_queue.h"
#include <sstream>

namespace vv::testing {

DevPki::DevPki() {
  std::string out;
  int rc = RunCommand({"/bin/bash", std::string(VV_SOURCE_DIR) + "/scripts/dev-pki.sh",
                       dir_.path().string()},
                      &out);
  if (rc != 0) ADD_FAILURE() << "dev-pki.sh failed: " << out;
}

const DevPki& DevPki::Get() {
  static DevPki* pki = new DevPki();  // lives for the whole test binary
  return *pki;
}

std::string DevPki::Pin(const std::string& name) const {
  std::string s = ReadFile(Path(name + ".sha256"));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

GatewayUnderTest::GatewayUnderTest(const GatewayOptions& opts) {
  const DevPki& pki = DevPki::Get();
  config_path_ = dir_.File("gateway.yaml");
  audit_path_ = dir_.File("audit.jsonl");
  queue_path_ = dir_.File("queue.db");
  // Signed feedback key (the gateway refuses to start without one): the wire-contract A.1
  // feedback seed as a PEM PKCS#8 file, mode 0600, active kid "kid-001".
  feedback_key_path_ = dir_.File("feedback_ed25519.pem");
  WriteFile(feedback_key_path_,
            crypto::Ed25519PrivateKey::FromSeed(*HexDecode(kFeedbackSeedHex)).value().ToPem(),
            0600);
  // Queue envelopes are signed (issue 12); engines started by tests verify with
  // QueueVerifyKeysYaml().
  queue_key_path_ = dir_.File("queue_ed25519.pem");
  WriteFile(queue_key_path_,
            crypto::Ed25519PrivateKey::FromSeed(*HexDecode(kQueueSeedHex)).value().ToPem(), 0600);
  WriteFile(dir_.File("admin.token"), std::string(kAdminToken) + "\n", 0600);
  std::ostringstream y;
  y << "vectorvue:\n  telemetry_gateway:\n"
    << "    listen: 127.0.0.1:0\n"
    << "    worker_threads: 2\n"
    << "    tls:\n"
    << "      cert_path: " << pki.Path("gateway.crt") << "\n"
    << "      key_path: " << pki.Path("gateway.key") << "\n"
    << "      ca_path: " << pki.Path("ca.crt") << "\n";
  if (opts.with_crl) y << "      crl_path: " << pki.Path("crl.pem") << "\n";
  y << "    require_mtls: true\n    require_payload_signature: true\n"
    << "    allowed_clock_skew_seconds: 30\n    nonce_ttl_seconds: 120\n"
    << "    nonce_backend: " << opts.nonce_backend << "\n"
    << "    rate_limit_backend: " << opts.rate_limit_backend << "\n"
    << (opts.redis_url.empty() ? "" : "    redis_url: " + opts.redis_url + "\n")
    << (opts.nats_url.empty() ? "" : "    nats_url: " + opts.nats_url + "\n")
    << "    rate_limit_per_minute: " << opts.rate_limit_per_minute << "\n"
    << "    queue_backend: " << opts.queue_backend << "\n    queue_path: " << queue_path_ << "\n"
    << "    audit_log_path: " << audit_path_ << "\n"
    << "    audit_seal_every: " << opts.seal_every << "\n"
    << "    spectrastrike_ed25519_public_key_b64: " << kProducerPublicKeyB64 << "\n"
    << "    allowed_service_identities:\n";
  if (opts.identity_operators.empty()) {
    y << "      spectrastrike-producer: " << pki.Pin("producer") << "\n"
      << "      other-service: " << pki.Pin("untrusted") << "\n";
  } else {
    y << "      spectrastrike-producer:\n        cert_sha256: " << pki.Pin("producer")
      << "\n        operators: " << opts.identity_operators << "\n"
      << "      other-service:\n        cert_sha256: " << pki.Pin("untrusted")
      << "\n        operators: " << opts.identity_operators << "\n";
  }
  y << "    operator_tenant_map:\n"
    << "      op-001: " << kTenant1 << "\n"
    << "      op-002: " << kTenant2 << "\n"
    << "    enforce_schema_version: true\n"
    << "    allowed_schema_versions: [\"1.0\", \"2.0\"]\n"
    << "    feedback_ed25519_keys:\n"
    << "      " << kFeedbackKid << ": " << feedback_key_path_ << "\n"
    << "    feedback_active_kid: " << kFeedbackKid << "\n"
    << "    queue_signing_key_path: " << queue_key_path_ << "\n"
    << "    queue_signing_kid: " << kQueueKid << "\n"
    << "    admin_token_file: " << dir_.File("admin.token") << "\n"
    << opts.extra_yaml;
  WriteFile(config_path_, y.str(), 0600);
  env_ = opts.env;
  proc_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{std::string(VV_BIN_DIR) + "/vv-gateway", "--config", config_path_},
      dir_.File("gateway.log"), env_);
  expect_probe_ = opts.extra_yaml.find("probe_listen:") != std::string::npos;
  ReadPorts();
}

void GatewayUnderTest::ReadPorts() {
  auto line = proc_->WaitForLine("LISTENING ", std::chrono::seconds(20));
  if (line) port_ = static_cast<uint16_t>(std::stoi(*line));
  probe_port_ = 0;
  if (port_ != 0 && expect_probe_) {
    auto probe = proc_->WaitForLine("PROBE_PORT ", std::chrono::seconds(5));
    if (probe) probe_port_ = static_cast<uint16_t>(std::stoi(*probe));
  }
}

GatewayUnderTest::~GatewayUnderTest() { Stop(); }

bool GatewayUnderTest::Restart() {
  Stop();
  static int restarts = 0;
  port_ = 0;
  proc_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{std::string(VV_BIN_DIR) + "/vv-gateway", "--config", config_path_},
      dir_.File("gateway-restart-" + std::to_string(++restarts) + ".log"), env_);
  ReadPorts();
  return port_ != 0;
}

int GatewayUnderTest::Stop() {
  if (!proc_) return -1;
  return proc_->Terminate(15, std::chrono::seconds(15));
}

int GatewayUnderTest::Kill() {
  if (!proc_) return -1;
  return proc_->Terminate(9, std::chrono::seconds(15));
}

spectrastrike::HttpsClient GatewayUnderTest::Client(const std::string& cert) const {
  const DevPki& pki = DevPki::Get();
  spectrastrike::TlsClientConfig c;
  c.ca_path = pki.Path("ca.crt");
  if (!cert.empty()) {
    c.cert_path = pki.Path(cert + ".crt");
    c.key_path = pki.Path(cert + ".key");
  }
  c.server_name = "localhost";
  spectrastrike::HttpTimeouts t;
  t.io_ms = 15000;
  return spectrastrike::HttpsClient("127.0.0.1", port_, c, t);
}

namespace {
// The queue file opened read-only with a 5 s busy timeout; null when it cannot be opened.
sqlite3* OpenQueueReadOnly(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return nullptr;
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}
}  // namespace

std::set<std::string> GatewayUnderTest::QueueDedupeIds() const {
  std::set<std::string> out;
  sqlite3* db = OpenQueueReadOnly(queue_path_);
  if (db == nullptr) {
    ADD_FAILURE() << "cannot open " << queue_path_;
    return out;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT dedupe_id FROM messages WHERE kind = 'ingest'", -1, &st,
                         nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      if (t != nullptr) out.insert(reinterpret_cast<const char*>(t));
    }
  } else {
    ADD_FAILURE() << sqlite3_errmsg(db);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

int64_t GatewayUnderTest::QueueCount(const std::string& kind) const {
  sqlite3* db = OpenQueueReadOnly(queue_path_);
  if (db == nullptr) return -1;
  sqlite3_stmt* st = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM messages WHERE kind = ?1", -1, &st, nullptr) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, kind.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

std::vector<std::string> GatewayUnderTest::AuditLines() const {
  std::vector<std::string> lines;
  std::ifstream f(audit_path_);
  std::string line;
  while (std::getline(f, line)) lines.push_back(line);
  return lines;
}

spectrastrike::HeaderList TelemetryHeaders(const SignedRequest& r, const std::string& identity) {
  return {{"Content-Type", "application/json"},
          {"X-Service-Identity", identity},
          {"X-Telemetry-Timestamp", std::to_string(r.ts)},
          {"X-Telemetry-Nonce", r.nonce},
          {"X-Telemetry-Signature", r.signature_b64}};
}

std::string QueueVerifyPublicKeyB64() {
  return crypto::Ed25519PrivateKey::FromSeed(*HexDecode(kQueueSeedHex))
      .value()
      .PublicKey()
      .ToBase64();
}

std::string QueueVerifyKeysYaml() {
  return std::string("    queue_verify_keys:\n      ") + kQueueKid + ": " +
         QueueVerifyPublicKeyB64() + "\n";
}

json::Value GraphBody(const std::string& op, const std::string& tenant, int nodes,
                      const std::string& target, int64_t ts, const std::string& nonce) {
  json::Value graph = json::Value::MakeObject();
  graph.Set("graph_id", "g-" + nonce);
  graph.Set("tenant_id", tenant);
  graph.Set("target_urn", target);
  json::Value ns = json::Value::MakeArray();
  for (int i = 0; i < nodes; ++i) {
    json::Value n = json::Value::MakeObject();
    n.Set("id", "n" + std::to_string(i));
    ns.Push(std::move(n));
  }
  graph.Set("nodes", std::move(ns));
  graph.Set("edges", json::Value::MakeArray());
  json::Value b = json::Value::MakeObject();
  b.Set("operator_id", op);
  b.Set("tenant_id", tenant);
  b.Set("execution_fingerprint", std::string(64, 'E'));
  b.Set("timestamp", ts);
  b.Set("nonce", nonce);
  b.Set("schema_version", "execution.graph.v1");
  b.Set("attestation_measurement_hash", std::string(64, 'a'));
  b.Set("graph", std::move(graph));
  return b;
}

json::Value QueryBody(const std::string& op, const std::string& tenant, int64_t ts,
                      const std::string& nonce, int limit) {
  json::Value b = json::Value::MakeObject();
  b.Set("operator_id", op);
  b.Set("tenant_id", tenant);
  b.Set("timestamp", ts);
  b.Set("nonce", nonce);
  b.Set("limit", limit);
  return b;
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::map<std::string, int> StoredEventIds(const std::string& nats_url, const std::string& durable) {
  std::map<std::string, int> ids;
  queue::JetStreamOptions o;
  o.nats.url = nats_url;
  auto consumer = queue::JetStreamConsumer::Create(o, o.ingest_stream, o.ingest_subject, durable);
  for (int i = 0; i < 60 && !consumer.ok() &&
                  consumer.status().code() == StatusCode::kUnavailable;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    consumer = queue::JetStreamConsumer::Create(o, o.ingest_stream, o.ingest_subject, durable);
  }
  if (!consumer.ok()) {
    ADD_FAILURE() << consumer.status().ToString();
    return ids;
  }
  // An empty fetch is not the end: right after a node was killed the new consumer's leader
  // may still be elected (fetches time out empty). Read until the server says nothing is
  // pending or in flight for this durable, within 60 s.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    auto batch = (*consumer)->Fetch(256, 1000);
    if (batch.ok() && !batch->empty()) {
      for (const auto& m : *batch) {
        const json::Value* p = m.envelope.payload.Find("payload");
        if (p && p->Find("event_id")) ids[p->Find("event_id")->as_string()]++;
        (*consumer)->Ack(m.sequence);
      }
      continue;
    }
    auto state = (*consumer)->State();
    if (state.ok() && state->pending == 0 && state->ack_pending == 0) return ids;
  }
  ADD_FAILURE() << "the stream was not drained within 60 s (" << ids.size() << " events read)";
  return ids;
}

}  // namespace vv::testing

#pragma once
// Helpers shared by the engine tests: gateway-shaped ingest envelopes, synchronous publish
// into an EmbeddedQueue, raw SQL on the queue file (tampering), audit log reading.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <future>
#include <sstream>
#include <string>
#include <vector>

#include "fakes/telemetry_builder.h"
#include "fakes/temp_dir.h"
#include "json/json.h"
#include "crypto/crypto.h"
#include "queue/embedded_queue.h"
#include "queue/envelope_auth.h"
#include "queue/queue.h"

namespace vv::engine::testing {

// The gateway's queue signing key in these tests (issue 12): kid "queue-test", a fixed seed.
inline constexpr const char* kQueueKid = "queue-test";
inline crypto::Ed25519PrivateKey QueueSigningKey() {
  return crypto::Ed25519PrivateKey::FromSeed(std::string(32, '\x51')).value();
}
inline const queue::EnvelopeSigner& QueueSigner() {
  static const auto* s = new queue::EnvelopeSigner(kQueueKid, QueueSigningKey());
  return *s;
}
inline queue::EnvelopeVerifyKeys QueueVerifyKeys() {
  return {{kQueueKid, QueueSigningKey().PublicKey()}};
}
// For engine config files: "    queue_verify_keys:\n      queue-test: <b64>\n".
inline std::string QueueVerifyKeysYaml() {
  return std::string("    queue_verify_keys:\n      ") + kQueueKid + ": " +
         QueueSigningKey().PublicKey().ToBase64() + "\n";
}

// The ingest envelope the gateway would publish for an A.2-shaped request, signed as the
// gateway signs it (QueueSigner).
inline queue::Envelope MakeIngest(const std::string& tenant, const std::string& op,
                                  const std::string& event_id, const Clock& clock, Random& random) {
  json::Value body = vv::testing::MakeTelemetryBody(1772107200, "nonce-" + event_id, event_id);
  body.Set("tenant_id", tenant);
  body.Set("operator_id", op);
  json::Value sm = *body.Find("signed_metadata");
  sm.Set("tenant_id", tenant);
  sm.Set("operator_id", op);
  body.Set("signed_metadata", sm);
  json::Value trace = json::Value::MakeObject();
  trace.Set("operator_id", op);
  trace.Set("campaign_id", body.Find("campaign_id")->as_string());
  trace.Set("tenant_id", tenant);
  queue::Envelope e = queue::MakeIngestEnvelope(std::move(body), std::move(trace),
                                                tenant + "/" + event_id, clock, random);
  QueueSigner().Sign(&e);
  return e;
}

inline Status PublishSync(queue::Publisher& q, queue::Envelope env) {
  std::promise<Status> p;
  auto f = p.get_future();
  q.Publish(std::move(env), [&p](Status s, queue::PublishOutcome) { p.set_value(s); });
  return f.get();
}

// Runs SQL on an SQLite file with a separate connection (what an attacker with file access
// could do). Returns the number of changed rows, or -1 on error.
inline int SqlExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return -1;
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  int changes = sqlite3_changes(db);
  if (err) {
    ADD_FAILURE() << "SQL error: " << err;
    sqlite3_free(err);
  }
  sqlite3_close(db);
  return rc == SQLITE_OK ? changes : -1;
}

// Audit records (parsed lines) of a JSONL audit log, seal lines excluded.
inline std::vector<json::Value> AuditRecords(const std::string& path) {
  std::vector<json::Value> out;
  std::istringstream in(vv::testing::ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    auto v = json::Parse(line);
    if (!v.ok()) continue;
    const json::Value* t = v->Find("event_type");
    if (t && t->is_string() && t->as_string().rfind("evidence.", 0) == 0) out.push_back(*v);
  }
  return out;
}

inline int CountAudit(const std::vector<json::Value>& recs, const std::string& type) {
  int n = 0;
  for (const auto& r : recs) n += r.Find("event_type")->as_string() == type;
  return n;
}

}  // namespace vv::engine::testing

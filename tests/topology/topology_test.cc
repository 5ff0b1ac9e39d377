// The whole production topology on loopback (issue 14 item 7), black-box: a 3-node NATS
// JetStream cluster (stream replicas: 3), Redis (replay + rate state), PostgreSQL (evidence
// store, row-level security, the engines connect as a non-owner role), SoftHSM2 (the evidence
// root key never leaves the token), two vv-gateway replicas and two vv-engine processes on
// one durable consumer - the real binaries over real mTLS with signed requests.
//
// One scenario (Scenario::Get(), run once per test binary) streams signed events alternately
// through both replicas, with bad signatures and cross-replica replays mixed in, while one
// NATS node and one engine are SIGKILLed and restarted. Requests that got 503 are retried
// with the same bytes until accepted, as the producer does. The TESTs below then check one
// property each, so a property whose feature has not landed yet is skipped by name
// (GTEST_SKIP with the reason) while the others still run:
//   - every accepted event is stored exactly once in PostgreSQL, nothing else is stored, and
//     every row decrypts through the HSM with integrity intact;
//   - both replicas' audit logs verify against their own anchor and seal key (and not against
//     the other replica's key), and record exactly the requests they answered;
//   - the gateway and engine metrics agree with the responses and rows; promtool evaluates
//     the shipped alert rules over the scraped values;
//   - signed feedback is identical from either replica (both on one PostgreSQL graph store).
// Needs nats-server, redis-server, PostgreSQL 15 and SoftHSM2 (fails unless
// VV_ALLOW_MISSING_SERVERS=1). CTest label: topology. Registered as ONE ctest entry (the
// scenario is expensive; the TESTs share it).

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/nats_cluster.h"
#include "fakes/postgres_server.h"
#include "fakes/process.h"
#include "fakes/servers.h"
#include "fakes/softhsm.h"
#include "integration/gateway_harness.h"
#include "json/json.h"

namespace vv::testing {
namespace {

using namespace std::chrono_literals;

// Features other parts of issue 14 deliver. While one is false, the part of the scenario or
// the assertion that needs it is done the way main supports (said below) or skipped by name.
// Item 2: nats_url takes a seed list and the clients reconnect across nodes. Until then each
// replica/engine is given ONE node and the killed node is one no client is connected to (the
// stream keeps its quorum); with it, everyone gets the seed list and the killed node is the
// first seed.
constexpr bool kNatsSeedLists = true;
// Item 1: per-replica audit identity (replica_id; own checkpoint origin and anchor subject)
// so both replicas can anchor in JetStream. Until then each replica anchors in its own file
// (LOG.anchor, the default) and vv-audit verifies against that.
constexpr bool kReplicaAuditIdentity = true;
// Item 5: the engine's consumer lag on JetStream is real (not -1).
constexpr bool kRealEngineLag = true;

constexpr int kEvents = 200;           // distinct events, alternately through replica A and B
constexpr int kKillNatsAt = 40;        // SIGKILL one NATS node before this event
constexpr int kKillEngineAt = 70;      // SIGKILL engine A
constexpr int kRestartNatsAt = 110;    // NATS node back
constexpr int kRestartEngineAt = 130;  // engine A back
constexpr int kBadEvery = 20;          // every 20th event: a forged signature and a replay
constexpr const char* kRootKeyId = "hsm-root-topology";
constexpr const char* kTokenLabel = "vv-topology";

const std::string kBin = VV_BIN_DIR;
// Appended to each replica's config: its execution-graph store on the shared PostgreSQL.
const std::string kGraphStoreSection =
    "  evidence_engine:\n    store_backend: postgres\n    postgres_url: ";

// The gateway's config without the graph-store section (the engine gets its own).
std::string GatewayPart(const std::string& config) {
  return config.substr(0, config.find(kGraphStoreSection));
}

// Parsed Prometheus text exposition: "name{labels}" -> value.
using Samples = std::map<std::string, double>;

Samples ParseMetrics(const std::string& text) {
  Samples out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    try {
      out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    } catch (...) {
    }
  }
  return out;
}

// Sum of every sample of `name` (any labels) whose label text contains `label_filter`.
double Sum(const Samples& s, const std::string& name, const std::string& label_filter = "") {
  double total = 0;
  for (const auto& [k, v] : s) {
    std::string base = k.substr(0, k.find('{'));
    if (base == name && k.find(label_filter) != std::string::npos) total += v;
  }
  return total;
}

std::string Scrape(int port) {
  std::string out;
  if (port <= 0) return out;
  RunCommand({"/usr/bin/curl", "-s", "-m", "10", "http://127.0.0.1:" + std::to_string(port) +
                                                      "/metrics"},
             &out);
  return out;
}

std::string Detail(const spectrastrike::HttpResponse& r) {
  auto v = json::Parse(r.body);
  if (!v.ok() || !v->is_object() || !v->Find("detail") || !v->Find("detail")->is_string())
    return "<" + r.body.substr(0, 200) + ">";
  return v->Find("detail")->as_string();
}

json::Value LastJson(const std::string& out) {
  std::istringstream in(out);
  std::string last;
  for (std::string l; std::getline(in, l);)
    if (!l.empty() && l[0] == '{') last = l;
  auto v = json::Parse(last);
  return v.ok() ? *v : json::Value();
}

// JetStream consumer state {num_pending, num_ack_pending} as the durable's current leader
// reports it (monitoring endpoint /jsz of that node: a follower, e.g. a node that was just
// restarted, may report a stale view); {-1,-1} when unreadable.
std::pair<int64_t, int64_t> ConsumerBacklog(NatsCluster& nats, const std::string& durable) {
  // The consumer's entry in node i's /jsz, or nullptr.
  auto consumer_of = [&](int i, json::Value* doc) -> const json::Value* {
    if (!nats.running(i)) return nullptr;
    auto v = json::Parse(nats.Monitor(i, "/jsz?consumers=true&accounts=true"));
    if (!v.ok()) return nullptr;
    *doc = std::move(v).value();
    const json::Value* accounts = doc->Find("account_details");
    if (!accounts || !accounts->is_array()) return nullptr;
    for (const auto& a : accounts->as_array()) {
      const json::Value* streams = a.Find("stream_detail");
      if (!streams || !streams->is_array()) continue;
      for (const auto& st : streams->as_array()) {
        const json::Value* consumers = st.Find("consumer_detail");
        if (!consumers || !consumers->is_array()) continue;
        for (const auto& c : consumers->as_array()) {
          const json::Value* name = c.Find("name");
          if (name && name->is_string() && name->as_string() == durable) return &c;
        }
      }
    }
    return nullptr;
  };
  for (int i = 0; i < nats.size(); ++i) {
    json::Value doc;
    const json::Value* c = consumer_of(i, &doc);
    if (c == nullptr) continue;
    const json::Value* cluster = c->Find("cluster");
    const json::Value* leader = cluster ? cluster->Find("leader") : nullptr;
    if (!leader || !leader->is_string() || leader->as_string() != "n" + std::to_string(i))
      continue;  // not the leader's own view
    auto num = [&](const char* k) {
      const json::Value* f = c->Find(k);
      return f ? f->as_int64().value_or(-1) : -1;
    };
    return {num("num_pending"), num("num_ack_pending")};
  }
  return {-1, -1};
}

// ---- The scenario ------------------------------------------------------------------------------

struct Scenario {
  std::string missing;  // a required server that is not installed (skip or fail per policy)
  std::string error;    // the scenario could not run to the end: every TEST fails with it

  NatsCluster nats{3};
  RedisServer redis;
  PostgresServer pg;
  SoftHsmToken hsm{kTokenLabel};
  TempDir dir;
  std::unique_ptr<GatewayUnderTest> gw[2];
  std::string seal_public[2];  // each replica's audit seal key (base64 public half)
  std::string engine_cfg[2];
  std::unique_ptr<ChildProcess> engine[2];
  int engine_admin_port[2] = {0, 0};
  int engine_starts = 0;
  int victim_node = 0;

  // Outcomes, by replica.
  std::set<std::string> accepted_events;         // event ids that got 202
  int responses[2][600] = {};                    // [replica][status] counts
  int first_try_503 = 0;                         // 503s during the outage (retried later)
  int64_t rows_at_engine_kill = -1;              // rows stored when engine A was killed
  std::vector<std::string> stored_events;        // event_id of every row (superuser view)
  std::string evidence_list;                     // vv-evidence list output (decrypts via HSM)
  int evidence_list_rc = -1;
  Samples gw_metrics[2], gw_baseline[2], engine_metrics[2];
  std::string engine_a_killed_metrics;           // engine A's scrape just before SIGKILL
  std::pair<int64_t, int64_t> backlog{-1, -1};
  std::string feedback_data[2];                  // the `data` member of each replica's answer
                                                 // (without the adjustments' timestamps)
  int64_t feedback_time[2] = {0, 0};             // the latest adjustment timestamp of each
  std::string feedback_error;
  std::string audit_verify_out[2], audit_cross_out;
  int audit_verify_rc[2] = {-1, -1}, audit_cross_rc = -1;
  std::vector<std::string> audit_lines[2];
  std::string sizing;

  // The one scenario of this binary, run on first use; ScenarioCleanup destroys it after the
  // last test, which stops every server and process it started (PostgreSQL runs under setpriv,
  // whose change of user drops the parent-death signal: a leaked scenario left a postmaster
  // running after each CI run).
  static std::unique_ptr<Scenario>& Slot() {
    static std::unique_ptr<Scenario> s;
    return s;
  }
  static Scenario& Get() {
    std::unique_ptr<Scenario>& s = Slot();
    if (!s) {
      s = std::make_unique<Scenario>();
      s->Run();
    }
    return *s;
  }

  std::vector<std::string> HsmEnv() const {
    return {hsm.env(), std::string("VV_PKCS11_PIN=") + SoftHsmToken::kUserPin};
  }

  std::string NatsUrlFor(int i) const {
    return kNatsSeedLists ? nats.urls() : nats.url(i);  // without seed lists: node i only
  }

  bool StartEngine(int i) {
    ++engine_starts;
    engine[i] = std::make_unique<ChildProcess>(
        std::vector<std::string>{kBin + "/vv-engine", "--config", engine_cfg[i], "--admin-listen",
                                 "127.0.0.1:0"},
        dir.File("engine-" + std::to_string(i) + "-" + std::to_string(engine_starts) + ".log"),
        HsmEnv());
    auto port = engine[i]->WaitForLine("ADMIN_PORT ", 60s);
    if (!port || !engine[i]->WaitForLine("ENGINE READY", 60s)) {
      error = "engine " + std::to_string(i) + " did not start: " + engine[i]->Log();
      return false;
    }
    engine_admin_port[i] = std::stoi(*port);
    return true;
  }

  int64_t RowCount() {
    std::string out;
    if (!pg.Psql("SELECT count(*) FROM vv_evidence", &out).ok()) return -1;
    try {
      return std::stoll(out);
    } catch (...) {
      return -1;
    }
  }

  // Bytes per event on each store, measured on this run (docs/operations.md "Sizing" quotes
  // these lines: `build/tests/topology/topology_test | grep SIZING`).
  void MeasureSizing() {
    std::ostringstream o;
    std::string out;
    const double events = static_cast<double>(accepted_events.size());
    if (pg.Psql("SELECT avg(pg_column_size(t.*))::bigint, pg_total_relation_size('vv_evidence') "
                "FROM vv_evidence t",
                &out)
            .ok())
      o << "SIZING evidence_row_avg_bytes|table_plus_indexes_bytes=" << out;
    out = nats.Monitor(0, "/jsz?streams=true&accounts=true");
    if (auto v = json::Parse(out); v.ok() && v->Find("account_details")) {
      for (const auto& a : v->Find("account_details")->as_array())
        for (const auto& st : a.Find("stream_detail")->as_array()) {
          const json::Value* state = st.Find("state");
          const int64_t msgs = state->Find("messages")->as_int64().value_or(0);
          const int64_t bytes = state->Find("bytes")->as_int64().value_or(0);
          o << "SIZING jetstream stream=" << st.Find("name")->as_string() << " messages=" << msgs
            << " bytes=" << bytes << " bytes_per_message=" << (msgs ? bytes / msgs : 0)
            << " (x3 replicas on disk)\n";
        }
    }
    size_t audit_bytes = 0, audit_records = 0;
    for (int i = 0; i < 2; ++i)
      for (const auto& l : gw[i]->AuditLines()) {
        audit_bytes += l.size() + 1;
        ++audit_records;
      }
    o << "SIZING gateway_audit records=" << audit_records << " bytes=" << audit_bytes
      << " bytes_per_record=" << (audit_records ? audit_bytes / audit_records : 0)
      << " bytes_per_accepted_event=" << static_cast<int64_t>(audit_bytes / events) << "\n";
    const std::string cli = FindBinary("redis-cli").value_or("/usr/bin/redis-cli");
    const std::vector<std::string> base = {cli, "-h", "127.0.0.1", "-p",
                                           std::to_string(redis.port())};
    auto redis_cmd = [&](std::vector<std::string> args) {
      std::vector<std::string> argv = base;
      argv.insert(argv.end(), args.begin(), args.end());
      std::string r;
      RunCommand(argv, &r);
      while (!r.empty() && (r.back() == '\n' || r.back() == '\r')) r.pop_back();
      return r;
    };
    std::map<std::string, std::pair<int, std::string>> prefixes;  // prefix -> (keys, sample)
    std::istringstream keys(redis_cmd({"--scan"}));
    for (std::string k; std::getline(keys, k);) {
      if (k.empty()) continue;
      std::string prefix = k.substr(0, k.find(':', k.find(':', k.find(':') + 1) + 1));
      auto& [n, sample] = prefixes[prefix];
      ++n;
      sample = k;
    }
    for (const auto& [prefix, ns] : prefixes)
      o << "SIZING redis prefix=" << prefix << " keys=" << ns.first
        << " memory_usage_bytes_of_one=" << redis_cmd({"MEMORY", "USAGE", ns.second}) << "\n";
    sizing = o.str();
  }

  void Run() {
    if (!nats.binary_found()) missing += "nats-server ";
    if (!redis.binary_found()) missing += redis.name() + " ";
    if (!pg.binary_found()) missing += "postgres ";
    if (!hsm.available()) missing += "softhsm2 (" + hsm.error() + ") ";
    if (!missing.empty()) return;
    if (Status s = nats.Start(); !s.ok()) return void(error = s.ToString());
    if (Status s = redis.Start(); !s.ok()) return void(error = s.ToString());
    if (Status s = pg.Start(); !s.ok()) return void(error = s.ToString());
    if (Status s = pg.Psql("CREATE ROLE vv_owner NOLOGIN; CREATE ROLE vv_engine LOGIN;"); !s.ok())
      return void(error = s.ToString());
    std::string out;
    if (RunCommand({kBin + "/vv-evidence", "init-postgres", "--admin-url", pg.admin_url(),
                    "--owner-role", "vv_owner", "--app-role", "vv_engine"},
                   &out) != 0)
      return void(error = "init-postgres: " + out);
    // The execution-graph store the replicas share (feedback must not depend on the replica).
    if (Status s = pg.Psql("CREATE ROLE vv_graph_owner NOLOGIN; CREATE ROLE vv_gateway LOGIN;");
        !s.ok())
      return void(error = s.ToString());
    if (RunCommand({kBin + "/vv-evidence", "init-postgres-graphs", "--admin-url", pg.admin_url(),
                    "--owner-role", "vv_graph_owner", "--app-role", "vv_gateway"},
                   &out) != 0)
      return void(error = "init-postgres-graphs: " + out);

    // Two replicas: shared Redis, the JetStream cluster (stream replicas: 3), each its own
    // audit log, seal key and anchor.
    for (int i = 0; i < 2; ++i) {
      const auto seal = crypto::Ed25519PrivateKey::Generate();
      const std::string seal_path = dir.File("seal-" + std::to_string(i) + ".key");
      WriteFile(seal_path, seal.Seed(), 0600);
      seal_public[i] = seal.PublicKey().ToBase64();
      GatewayOptions o;
      o.rate_limit_per_minute = 100000;
      o.nonce_backend = "redis";
      o.rate_limit_backend = "redis";
      o.redis_url = redis.url();
      o.queue_backend = "nats";
      o.nats_url = NatsUrlFor(i);
      o.seal_every = 16;
      o.extra_yaml = "    nats_replicas: 3\n    admin_listen: 127.0.0.1:0\n"
                     "    audit_seal_key_path: " + seal_path + "\n";
      if (kReplicaAuditIdentity)
        o.extra_yaml += "    replica_id: gw-" + std::string(1, static_cast<char>('a' + i)) +
                        "\n    audit_anchor: jetstream\n";
      // Last in the file: the gateway's graph store (read from evidence_engine).
      o.extra_yaml += kGraphStoreSection + pg.Url("vv_gateway") + "\n";
      gw[i] = std::make_unique<GatewayUnderTest>(o);
      if (!gw[i]->started()) return void(error = "gateway " + std::to_string(i) + ": " + gw[i]->log());
    }
    // Engines: the gateway's file plus an evidence_engine section (one durable, one audit log
    // each); the root key lives in the SoftHSM2 token.
    for (int i = 0; i < 2; ++i) {
      engine_cfg[i] = dir.File("engine-" + std::to_string(i) + ".yaml");
      WriteFile(engine_cfg[i],
                GatewayPart(ReadFile(gw[i]->config_path())) +
                    "  evidence_engine:\n"
                    "    store_backend: postgres\n"
                    "    postgres_url: " + pg.Url("vv_engine") + "\n"
                    "    root_key_provider: pkcs11\n"
                    "    pkcs11_token_label: " + kTokenLabel + "\n"
                    "    root_key_id: " + kRootKeyId + "\n"
                    "    audit_log_path: " + dir.File("engine-audit-" + std::to_string(i) + ".jsonl") + "\n"
                    "    audit_fsync: none\n"
                    "    batch_size: 8\n"
                    "    poll_interval_ms: 20\n"
                    "    metrics_path: \"\"\n" +
                    QueueVerifyKeysYaml(),
                0600);
    }
    if (RunCommand({kBin + "/vv-evidence", "pkcs11-keygen", "--config", engine_cfg[0], "--key-id",
                    kRootKeyId},
                   &out, HsmEnv()) != 0)
      return void(error = "pkcs11-keygen: " + out);
    for (int i = 0; i < 2; ++i)
      if (!StartEngine(i)) return;

    // Baseline scrape of each replica (admin listener).
    int gw_admin[2];
    for (int i = 0; i < 2; ++i) {
      auto line = gw[i]->log();
      size_t at = line.find("ADMIN_PORT ");
      gw_admin[i] = at == std::string::npos ? 0 : std::atoi(line.c_str() + at + 11);
      gw_baseline[i] = ParseMetrics(Scrape(gw_admin[i]));
    }

    // The stream. Statuses other than 202/503 for a genuine request fail the scenario.
    victim_node = kNatsSeedLists ? 0 : 2;  // see kNatsSeedLists
    spectrastrike::HttpsClient client[2] = {gw[0]->Client(), gw[1]->Client()};
    const int64_t ts = NowSeconds();
    std::vector<std::pair<int, std::string>> retry;  // (replica, event id) after a 503
    std::vector<std::pair<int, SignedRequest>> accepted_requests;
    auto post = [&](int r, const SignedRequest& req) {
      auto resp = client[r].Post("/internal/v1/telemetry", TelemetryHeaders(req), req.body);
      int st = resp.transport_ok ? resp.status : 0;
      if (st > 0 && st < 600) ++responses[r][st];
      return std::make_pair(st, resp);
    };
    for (int i = 0; i < kEvents; ++i) {
      if (i == kKillNatsAt) nats.Kill(victim_node);
      if (i == kKillEngineAt) {
        engine_a_killed_metrics = Scrape(engine_admin_port[0]);
        engine[0]->Terminate(SIGKILL);
        rows_at_engine_kill = RowCount();
      }
      if (i == kRestartNatsAt) {
        if (Status s = nats.Restart(victim_node); !s.ok()) return void(error = s.ToString());
      }
      if (i == kRestartEngineAt && !StartEngine(0)) return;
      const int r = i % 2;
      const std::string id = "evt-topo-" + std::to_string(i) + "-" + std::to_string(ts);
      const int64_t now = NowSeconds();  // the outages take longer than the allowed skew
      const std::string nonce = "nonce-" + id;
      SignedRequest req = SignBody(MakeTelemetryBody(now, nonce, id), now, nonce);
      auto [st, resp] = post(r, req);
      if (st == 202) {
        accepted_events.insert(id);
        accepted_requests.emplace_back(r, req);
      } else if (st == 503) {
        ++first_try_503;
        retry.emplace_back(r, id);
      } else {
        return void(error = "event " + std::to_string(i) + " via replica " + std::to_string(r) +
                            ": status " + std::to_string(st) + " " + resp.error + " " + resp.body);
      }
      if (i % kBadEvery == kBadEvery - 1) {
        // A forged signature (never stored) through this replica ...
        const std::string bad_id = "evt-forged-" + std::to_string(i) + "-" + std::to_string(ts);
        SignedRequest forged =
            SignBody(MakeTelemetryBody(now, "nonce-" + bad_id, bad_id), now, "nonce-" + bad_id);
        forged.signature_b64 = SignB64(now, forged.nonce, forged.body, kQueueSeedHex);
        if (int s = post(r, forged).first; s != 401 && s != 503)
          return void(error = "forged request got " + std::to_string(s));
        // ... and a replay of an accepted request through the OTHER replica (shared nonces).
        if (!accepted_requests.empty()) {
          const auto& [orig_r, orig] = accepted_requests.back();  // fresh: inside the skew
          if (int s = post(1 - orig_r, orig).first; s != 409 && s != 503)
            return void(error = "replay got " + std::to_string(s));
        }
      }
    }
    // The producer's retries: the same event, re-signed with a fresh timestamp and nonce (the
    // outage outlasted the allowed clock skew), through the same replica until accepted.
    for (const auto& [r, id] : retry) {
      int st = 0;
      auto deadline = std::chrono::steady_clock::now() + 60s;
      for (int attempt = 0; st != 202 && std::chrono::steady_clock::now() < deadline; ++attempt) {
        const int64_t now = NowSeconds();
        const std::string nonce = "nonce-retry-" + std::to_string(attempt) + "-" + id;
        const SignedRequest req = SignBody(MakeTelemetryBody(now, nonce, id), now, nonce);
        st = post(r, req).first;
        if (st == 202) break;
        if (st != 503) return void(error = "retry got " + std::to_string(st));
        std::this_thread::sleep_for(200ms);
      }
      if (st != 202) return void(error = "a retried request never got 202");
      accepted_events.insert(id);
    }
    for (int i = 0; i < 2; ++i) gw_metrics[i] = ParseMetrics(Scrape(gw_admin[i]));

    // Both engines drain the durable consumer (a message engine A held when killed comes back
    // after the consumer's ack wait, 30 s).
    const int64_t want = static_cast<int64_t>(accepted_events.size());
    for (auto deadline = std::chrono::steady_clock::now() + 150s;
         std::chrono::steady_clock::now() < deadline;) {
      backlog = ConsumerBacklog(nats, "vv-evidence-engine");
      if (RowCount() >= want && backlog.first == 0 && backlog.second == 0) break;
      std::this_thread::sleep_for(250ms);
    }
    if (!pg.Psql("SELECT event_id FROM vv_evidence ORDER BY event_id", &out).ok())
      return void(error = "psql: " + out);
    std::istringstream rows(out);
    for (std::string l; std::getline(rows, l);)
      if (!l.empty()) stored_events.push_back(l);
    evidence_list_rc = RunCommand({kBin + "/vv-evidence", "list", "--config", engine_cfg[1],
                                   "--tenant", kTenant1},
                                  &evidence_list, HsmEnv());
    // Each engine refreshes its lag gauge after its next fetch (every <= 200 ms): a scrape taken
    // the moment the consumer drained may still show the previous poll's value.
    for (auto deadline = std::chrono::steady_clock::now() + 15s;;) {
      for (int i = 0; i < 2; ++i) engine_metrics[i] = ParseMetrics(Scrape(engine_admin_port[i]));
      if (Sum(engine_metrics[0], "vv_engine_consumer_lag_messages") == 0 &&
          Sum(engine_metrics[1], "vv_engine_consumer_lag_messages") == 0)
        break;
      if (std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(100ms);
    }
    MeasureSizing();

    // Feedback through both replicas: graph via A, the same query shape via A and via B.
    {
      const std::string target = "urn:target:ip:10.14.7." + std::to_string(ts % 200);
      json::Value g = GraphBody("op-001", kTenant1, 8, target, NowSeconds(),
                                "nonce-graph-" + std::to_string(ts));
      SignedRequest gr = SignBody(g, g.Find("timestamp")->as_int64().value(),
                                  g.Find("nonce")->as_string());
      auto resp = client[0].Post("/internal/v1/cognitive/execution-graph", TelemetryHeaders(gr),
                                 gr.body);
      if (resp.status != 202) feedback_error = "graph: " + std::to_string(resp.status) + resp.body;
      for (int r = 0; r < 2 && feedback_error.empty(); ++r) {
        json::Value q = QueryBody("op-001", kTenant1, NowSeconds(), "nonce-q-" + std::to_string(r) + "-" +
                                                    std::to_string(ts));
        SignedRequest qr = SignBody(q, q.Find("timestamp")->as_int64().value(),
                                    q.Find("nonce")->as_string());
        auto a = client[r].Post("/internal/v1/cognitive/feedback/adjustments/query",
                                TelemetryHeaders(qr), qr.body);
        auto v = json::Parse(a.body);
        if (a.status != 200 || !v.ok() || !v->Find("data")) {
          feedback_error = "query via " + std::to_string(r) + ": " + std::to_string(a.status) +
                           " " + Detail(a);
          break;
        }
        // Each adjustment's `timestamp` is when that replica answered (two queries may fall in
        // different seconds); everything else must be the same from either replica.
        json::Value data = *v->Find("data");
        if (data.is_array()) {
          for (json::Value& adj : data.as_array()) {
            if (const json::Value* t = adj.Find("timestamp"); t != nullptr && t->as_int64())
              feedback_time[r] = std::max(feedback_time[r], *t->as_int64());
            adj.Erase("timestamp");
          }
        }
        feedback_data[r] = json::Canonical(data);
      }
    }

    // Clean shutdown: engines, then gateways (each seals up to its last entry).
    for (int i = 0; i < 2; ++i)
      if (engine[i]) engine[i]->Terminate(SIGTERM, 30s);
    for (int i = 0; i < 2; ++i) {
      gw[i]->Stop();
      audit_lines[i] = gw[i]->AuditLines();
      std::vector<std::string> argv = {kBin + "/vv-audit", "verify", gw[i]->audit_path(),
                                       "--public-key", seal_public[i]};
      if (kReplicaAuditIdentity) {
        argv.push_back("--anchor");
        argv.push_back(NatsUrlFor(i));
      }
      audit_verify_rc[i] = RunCommand(argv, &audit_verify_out[i]);
    }
    audit_cross_rc = RunCommand({kBin + "/vv-audit", "verify", gw[0]->audit_path(),
                                 "--public-key", seal_public[1]},
                                &audit_cross_out);
  }
};

class ScenarioCleanup : public ::testing::Environment {
 public:
  void TearDown() override { Scenario::Slot().reset(); }
};
[[maybe_unused]] ::testing::Environment* const kScenarioCleanup =
    ::testing::AddGlobalTestEnvironment(new ScenarioCleanup);

class TopologyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Scenario& s = Scenario::Get();
    if (!s.missing.empty()) {
      if (AllowMissingServers()) GTEST_SKIP() << "not installed: " << s.missing;
      GTEST_FAIL() << "not installed: " << s.missing
                   << "(scripts/install-deps.sh; VV_ALLOW_MISSING_SERVERS=1 to skip)";
    }
    ASSERT_TRUE(s.error.empty()) << s.error;
  }
  static Scenario& S() { return Scenario::Get(); }
};

TEST_F(TopologyTest, TheOutagesHappenedAndEveryGenuineRequestWasAcceptedInTheEnd) {
  // Both replicas answered; the killed engine came back; every event was accepted at last.
  EXPECT_GT(S().responses[0][202], 0);
  EXPECT_GT(S().responses[1][202], 0);
  EXPECT_EQ(S().accepted_events.size(), static_cast<size_t>(kEvents));
  EXPECT_EQ(S().engine_starts, 3);
  EXPECT_GE(S().rows_at_engine_kill, 0);
  std::cout << "first-try 503s during the outage: " << S().first_try_503 << "\n" << S().sizing;
}

TEST_F(TopologyTest, EveryAcceptedEventIsStoredExactlyOnceAndNothingElse) {
  const auto& s = S();
  std::map<std::string, int> multiplicity;
  for (const auto& e : s.stored_events) multiplicity[e]++;
  for (const auto& id : s.accepted_events) {
    auto it = multiplicity.find(id);
    ASSERT_NE(it, multiplicity.end()) << id << " got 202 but is not stored";
    EXPECT_EQ(it->second, 1) << id << " stored " << it->second << " times";
  }
  for (const auto& [id, n] : multiplicity)
    EXPECT_TRUE(s.accepted_events.count(id)) << id << " stored but never accepted";
  EXPECT_EQ(s.stored_events.size(), s.accepted_events.size());
  EXPECT_EQ(s.backlog.first, 0) << "consumer not drained (num_pending)";
  EXPECT_EQ(s.backlog.second, 0) << "consumer not drained (num_ack_pending)";
  // Every row decrypts through the HSM with its integrity hash intact.
  ASSERT_EQ(s.evidence_list_rc, 0) << s.evidence_list.substr(0, 2000);
  auto list = json::Parse(s.evidence_list);
  ASSERT_TRUE(list.ok() && list->is_array()) << s.evidence_list.substr(0, 400);
  EXPECT_EQ(list->as_array().size(), s.accepted_events.size());
  for (const auto& r : list->as_array()) {
    EXPECT_TRUE(r.Find("integrity_ok")->as_bool()) << json::Canonical(r).substr(0, 300);
    EXPECT_EQ(r.Find("envelope_version")->as_string(), "vv-evidence-env-v2-pkcs11");
  }
}

TEST_F(TopologyTest, EachReplicaAuditLogVerifiesAgainstItsOwnAnchorAndKey) {
  const auto& s = S();
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE("replica " + std::to_string(i));
    ASSERT_EQ(s.audit_verify_rc[i], 0) << s.audit_verify_out[i];
    json::Value v = LastJson(s.audit_verify_out[i]);
    ASSERT_TRUE(v.is_object()) << s.audit_verify_out[i];
    EXPECT_TRUE(v.Find("ok")->as_bool()) << s.audit_verify_out[i];
    EXPECT_EQ(v.Find("signature_key")->as_string(), "pinned") << s.audit_verify_out[i];
    const int64_t entries = v.Find("entries")->as_int64().value_or(-1);
    EXPECT_EQ(v.Find("sealed_size")->as_int64().value_or(-2), entries - 1)
        << "sealed up to the last entry by the clean shutdown: " << s.audit_verify_out[i];
    // The log records exactly the requests this replica accepted.
    int accepted_records = 0;
    for (const auto& line : s.audit_lines[i])
      if (line.find("\"event_type\":\"telemetry.accepted\"") != std::string::npos)
        ++accepted_records;
    EXPECT_EQ(accepted_records, s.responses[i][202]);
  }
  // A replica's log does not verify with the other replica's seal key.
  EXPECT_EQ(s.audit_cross_rc, 3) << s.audit_cross_out;
  if (!kReplicaAuditIdentity)
    GTEST_SKIP() << "verified against each replica's FILE anchor only: JetStream anchors per "
                    "replica need per-replica audit identity (issue 14 item 1, replica_id / "
                    "audit_origin), not on main yet";
}

TEST_F(TopologyTest, GatewayAndEngineMetricsAgreeWithResponsesAndRows) {
  const auto& s = S();
  double accepted = 0, forged = 0, replays = 0, unavailable = 0;
  int want_accepted = 0, want_401 = 0, want_409 = 0, want_503 = 0;
  for (int i = 0; i < 2; ++i) {
    auto delta = [&](const std::string& name, const std::string& filter = "") {
      return Sum(s.gw_metrics[i], name, filter) - Sum(s.gw_baseline[i], name, filter);
    };
    accepted += delta("vv_gateway_requests_accepted_total");
    forged += delta("vv_gateway_requests_rejected_total", "status=\"401\"");
    replays += delta("vv_gateway_requests_rejected_total", "status=\"409\"");
    unavailable += delta("vv_gateway_requests_rejected_total", "status=\"503\"");
    want_accepted += s.responses[i][202];
    want_401 += s.responses[i][401];
    want_409 += s.responses[i][409];
    want_503 += s.responses[i][503];
    EXPECT_EQ(Sum(s.gw_metrics[i], "vv_gateway_audit_append_failures_total"), 0);
    EXPECT_EQ(Sum(s.gw_metrics[i], "vv_gateway_audit_integrity_failures_total"), 0);
  }
  EXPECT_EQ(accepted, want_accepted);
  EXPECT_EQ(forged, want_401);
  EXPECT_EQ(replays, want_409);
  EXPECT_EQ(unavailable, want_503);
  EXPECT_GT(want_401, 0);
  EXPECT_GT(want_409, 0);
  // Engines: B ran throughout, A was restarted; what A's first run stored is at most the rows
  // present when it was killed, so the live counters cover the rest exactly once.
  const double stored_live = Sum(s.engine_metrics[0], "vv_engine_messages_stored_total") +
                             Sum(s.engine_metrics[1], "vv_engine_messages_stored_total");
  const double rows = static_cast<double>(s.stored_events.size());
  EXPECT_LE(stored_live, rows);
  EXPECT_GE(stored_live, rows - static_cast<double>(s.rows_at_engine_kill));
  EXPECT_GT(Sum(s.engine_metrics[1], "vv_engine_messages_stored_total"), 0)
      << "engine B took no share of the work";
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(Sum(s.engine_metrics[i], "vv_engine_integrity_failures_total"), 0);
  if (!kRealEngineLag)
    GTEST_SKIP() << "engine consumer lag on JetStream is hard-coded to -1 on main (issue 14 "
                    "item 5, helper health-metrics): lag == 0 after the drain not asserted";
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(Sum(s.engine_metrics[i], "vv_engine_consumer_lag_messages"), 0);
}

// promtool evaluates the shipped rules over the scraped values (before traffic at 0m, after
// it from 1m on, one series per replica/engine): the accepted total and the alert verdicts
// must be what the responses imply.
TEST_F(TopologyTest, PromtoolOnTheScrapedValues) {
  const auto promtool = FindBinary("promtool");
  if (!promtool) {
    if (AllowMissingServers()) GTEST_SKIP() << "promtool not installed";
    GTEST_FAIL() << "promtool not installed (Debian package prometheus, scripts/install-deps.sh)";
  }
  const auto& s = S();
  TempDir dir;
  WriteFile(dir.File("rules.yml"),
            ReadFile(std::string(VV_SOURCE_DIR) + "/deploy/prometheus/vectorvue-alerts.yml"));
  std::ostringstream y;
  y << "rule_files:\n  - rules.yml\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n"
    << "    input_series:\n";
  auto series = [&](const Samples& before, const Samples& after, const std::string& instance) {
    for (const auto& [key, value] : after) {
      std::string sel = key;
      const std::string label = "instance=\"" + instance + "\"";
      if (sel.find('{') == std::string::npos) sel += "{" + label + "}";
      else sel.insert(sel.find('{') + 1, label + ",");
      auto b = before.find(key);
      std::ostringstream vals;
      vals.precision(17);
      vals << (b == before.end() ? value : b->second) << " " << value << "x10";
      std::string quoted;
      for (char c : sel) quoted += c == '\'' ? std::string("''") : std::string(1, c);
      y << "      - series: '" << quoted << "'\n        values: '" << vals.str() << "'\n";
    }
  };
  series(s.gw_baseline[0], s.gw_metrics[0], "gw-a");
  series(s.gw_baseline[1], s.gw_metrics[1], "gw-b");
  series(s.engine_metrics[0], s.engine_metrics[0], "engine-a");
  series(s.engine_metrics[1], s.engine_metrics[1], "engine-b");
  const int accepted = s.responses[0][202] + s.responses[1][202];
  const int unavailable = s.responses[0][503] + s.responses[1][503];
  y << "    promql_expr_test:\n"
    << "      - expr: sum(vv_gateway_requests_accepted_total) - sum(vv_gateway_requests_accepted_total offset 1m)\n"
    << "        eval_time: 1m\n        exp_samples:\n          - labels: '{}'\n"
    << "            value: " << accepted << "\n"
    << "      - expr: sum(vv_gateway_requests_rejected_total{status=\"409\"})\n"
    << "        eval_time: 2m\n        exp_samples:\n          - labels: '{}'\n"
    << "            value: " << (Sum(s.gw_metrics[0], "vv_gateway_requests_rejected_total", "status=\"409\"") +
                                 Sum(s.gw_metrics[1], "vv_gateway_requests_rejected_total", "status=\"409\""))
    << "\n    alert_rule_test:\n";
  // Integrity, audit append, DLQ publish failures: none happened, none may fire.
  for (const char* alert : {"VectorVueTamperLogIntegrityFailure", "VectorVueAuditAppendFailures",
                            "VectorVueDlqPublishFailures", "VectorVueCertMismatchSurge"})
    y << "      - eval_time: 5m\n        alertname: " << alert << "\n        exp_alerts: []\n";
  if (unavailable == 0)
    y << "      - eval_time: 8m\n        alertname: VectorVueDependencyErrors503\n"
      << "        exp_alerts: []\n";
  WriteFile(dir.File("scraped.test.yml"), y.str());
  std::string out;
  int rc = RunCommand({"/bin/sh", "-c",
                       "cd '" + dir.path().string() + "' && exec '" + *promtool +
                           "' test rules scraped.test.yml"},
                      &out);
  EXPECT_EQ(rc, 0) << out << "\n" << y.str().substr(0, 3000);
}

TEST_F(TopologyTest, FeedbackIsIdenticalFromEitherReplica) {
  const auto& s = S();
  ASSERT_TRUE(s.feedback_error.empty()) << s.feedback_error;
  EXPECT_NE(s.feedback_data[0], "[]");
  EXPECT_EQ(s.feedback_data[0], s.feedback_data[1]);
  // Stamped when each replica answered: the two queries ran a moment apart.
  EXPECT_GT(s.feedback_time[0], 0);
  EXPECT_LE(std::abs(s.feedback_time[1] - s.feedback_time[0]), 5);
}

}  // namespace
}  // namespace vv::testing

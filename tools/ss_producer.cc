// ss-producer: the SpectraStrike producer CLI (issue 7, docs/producer.md).
//
//   ss-producer --config FILE [--json] send FILE|-        events: JSON object or NDJSON
//   ss-producer --config FILE [--json] federate --execution-hash HEX
//   ss-producer --config FILE [--json] graph GRAPH.json
//   ss-producer --config FILE [--json] feedback [--limit N] [--graph GRAPH.json]
//   ss-producer --config FILE [--json] spool status|drain
//   ss-producer [--json] keygen --out PATH [--force]
//   ss-producer [--json] fingerprint CERT
//
// Exit status: 0 success (send: every event accepted), 1 some events/requests rejected or
// failed, 2 usage or configuration error.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "common/clock.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "json/json.h"
#include "spectrastrike/config.h"
#include "spectrastrike/event.h"
#include "spectrastrike/feedback.h"
#include "spectrastrike/https_client.h"
#include "spectrastrike/producer.h"
#include "spectrastrike/spool.h"

namespace {

using spectrastrike::DeliveryResult;
using spectrastrike::Outcome;
using vv::json::Value;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

bool g_json = false;

void PrintJson(const Value& v) { std::cout << vv::json::Canonical(v) << std::endl; }

int Fail(const std::string& message, int code = kExitUsage) {
  if (g_json) {
    Value v = Value::MakeObject();
    v.Set("ok", false);
    v.Set("error", message);
    PrintJson(v);
  } else {
    std::cerr << "ss-producer: " << message << std::endl;
  }
  return code;
}

std::optional<std::string> ReadInput(const std::string& path, std::string* error) {
  std::ostringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read " + path;
    return std::nullopt;
  }
  ss << in.rdbuf();
  return ss.str();
}

// Everything a network command needs, built from the config.
struct Runtime {
  spectrastrike::ProducerConfig config;
  vv::SystemClock clock;
  vv::SystemRandom random;
  spectrastrike::RealSleeper sleeper;
  std::optional<spectrastrike::RequestSigner> signer;
  std::unique_ptr<spectrastrike::HttpsClient> http;
  std::unique_ptr<spectrastrike::HttpsTransport> transport;
  std::unique_ptr<spectrastrike::Producer> producer;
};

std::unique_ptr<Runtime> MakeRuntime(const std::string& config_path, std::string* error) {
  auto rt = std::make_unique<Runtime>();
  if (config_path.empty()) {
    *error = "--config FILE is required for this command";
    return nullptr;
  }
  auto cfg = spectrastrike::LoadProducerConfig(config_path, spectrastrike::ProcessEnvironment());
  if (!cfg.ok()) {
    *error = cfg.status().message();
    return nullptr;
  }
  rt->config = std::move(cfg).value();
  const auto& c = rt->config;
  if (c.private_key_path.empty()) {
    *error = "signing.private_key_path is required";
    return nullptr;
  }
  std::string key_error;
  rt->signer = spectrastrike::RequestSigner::FromKeyFile(c.private_key_path, &key_error, true);
  if (!rt->signer) {
    *error = "signing key: " + key_error;
    return nullptr;
  }
  spectrastrike::TlsClientConfig tls;
  tls.ca_path = c.ca_path;
  tls.cert_path = c.cert_path;
  tls.key_path = c.key_path;
  tls.verify_peer = true;  // always on
  tls.server_name = c.server_name;
  tls.pinned_server_cert_sha256 = c.pinned_server_cert_sha256;
  rt->http = std::make_unique<spectrastrike::HttpsClient>(c.host, c.port, tls);
  rt->transport = std::make_unique<spectrastrike::HttpsTransport>(*rt->http);
  spectrastrike::ProducerOptions o;
  o.service_identity = c.service_identity;
  o.client_cert_sha256 = c.client_cert_sha256;
  o.base_path = c.base_path;
  o.identity = c.identity;
  o.nonce_length = c.nonce_length;
  o.retry = c.retry;
  rt->producer = std::make_unique<spectrastrike::Producer>(o, *rt->signer, *rt->transport,
                                                           rt->clock, rt->random, rt->sleeper);
  return rt;
}

Value ResultJson(const DeliveryResult& r) {
  Value v = Value::MakeObject();
  v.Set("outcome", spectrastrike::OutcomeName(r.outcome));
  v.Set("status", r.status);
  v.Set("attempts", r.attempts);
  if (!r.detail.empty()) v.Set("detail", r.detail);
  return v;
}

// A progress bar on stderr when it is a terminal.
class Progress {
 public:
  Progress(int64_t total, bool enabled) : total_(total), enabled_(enabled && total >= 20) {}
  void Update(int64_t done) {
    if (!enabled_) return;
    int width = 40;
    int filled = total_ ? static_cast<int>(width * done / total_) : width;
    std::fprintf(stderr, "\r[%s%s] %lld/%lld", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total_));
    if (done >= total_) std::fprintf(stderr, "\n");
  }

 private:
  int64_t total_;
  bool enabled_;
};

struct SendTally {
  int64_t events = 0, accepted = 0, rejected = 0, failed = 0, invalid = 0;
  std::map<std::string, int64_t> reasons;
  Value problems = Value::MakeArray();
  void Add(const std::string& event_id, const DeliveryResult& r) {
    if (r.outcome == Outcome::kAccepted) {
      ++accepted;
      return;
    }
    (r.outcome == Outcome::kRejected ? rejected : failed)++;
    std::string reason = (r.status ? "HTTP " + std::to_string(r.status) + ": " : "") + r.detail;
    ++reasons[reason];
    Value p = ResultJson(r);
    p.Set("event_id", event_id);
    if (problems.as_array().size() < 1000) problems.Push(std::move(p));
    if (!g_json)
      std::cerr << "event " << event_id << ": " << spectrastrike::OutcomeName(r.outcome) << " ("
                << reason << ")" << std::endl;
  }
};

int CmdSend(const std::string& config_path, const std::string& input_path, bool no_spool) {
  std::string error;
  auto rt = MakeRuntime(config_path, &error);
  if (!rt) return Fail(error);
  auto text = ReadInput(input_path, &error);
  if (!text) return Fail(error);

  SendTally tally;
  std::vector<spectrastrike::PreparedEvent> events;
  auto add_invalid = [&](const std::string& where, const std::string& why) {
    ++tally.events;
    ++tally.invalid;
    ++tally.rejected;
    ++tally.reasons["invalid event: " + why];
    Value p = Value::MakeObject();
    p.Set("line", where);
    p.Set("outcome", "invalid");
    p.Set("detail", why);
    tally.problems.Push(std::move(p));
    if (!g_json) std::cerr << "line " << where << ": invalid event: " << why << std::endl;
  };
  // One JSON object (possibly pretty-printed) or NDJSON.
  auto whole = vv::json::Parse(*text);
  if (whole.ok() && whole->is_object()) {
    auto ev = spectrastrike::PrepareEvent(*whole, rt->config.identity);
    if (ev.ok()) events.push_back(std::move(ev).value());
    else add_invalid("1", ev.status().message());
  } else {
    std::istringstream lines(*text);
    std::string line;
    int64_t n = 0;
    while (std::getline(lines, line)) {
      ++n;
      if (vv::StripAsciiWhitespace(line).empty()) continue;
      auto ev = spectrastrike::PrepareEventText(line, rt->config.identity);
      if (ev.ok()) events.push_back(std::move(ev).value());
      else add_invalid(std::to_string(n), ev.status().message());
    }
  }
  tally.events += static_cast<int64_t>(events.size());
  Progress progress(static_cast<int64_t>(events.size()), ::isatty(2) == 1 && !g_json);
  int64_t done = 0;

  if (!no_spool && !rt->config.spool_path.empty()) {
    auto spool = spectrastrike::Spool::Open(rt->config.spool_path, rt->clock);
    if (!spool.ok()) return Fail(spool.status().message());
    // Write first (one transaction per 1000 events), then deliver.
    std::map<int64_t, std::string> mine;  // spool id -> event_id, for this invocation
    for (size_t i = 0; i < events.size(); i += 1000) {
      std::vector<spectrastrike::PreparedEvent> chunk(
          events.begin() + i, events.begin() + std::min(events.size(), i + 1000));
      auto res = (*spool)->Enqueue(chunk);
      if (!res.ok()) return Fail(res.status().message());
      for (size_t j = 0; j < res->size(); ++j) {
        const auto& r = (*res)[j];
        if (r.state == "delivered") {
          ++tally.accepted;  // already delivered by an earlier run (exactly once)
          ++done;
        } else if (r.state == "rejected") {
          DeliveryResult d;
          d.outcome = Outcome::kRejected;
          d.detail = "rejected earlier (see spool status)";
          tally.Add(chunk[j].event_id, d);
          ++done;
        } else {
          mine[r.id] = chunk[j].event_id;
        }
      }
    }
    int64_t backlog = 0;
    auto stats = spectrastrike::DrainSpool(
        **spool, *rt->producer,
        [&](const spectrastrike::SpoolEntry& e, const DeliveryResult& r) {
          if (!mine.count(e.id)) {
            ++backlog;
            return;
          }
          tally.Add(e.event_id, r);
          mine.erase(e.id);
          progress.Update(++done);
        });
    if (!stats.ok()) return Fail(stats.status().message());
    // Events of this run still pending (gateway unreachable): kept for `spool drain`.
    for (const auto& [id, event_id] : mine) {
      (void)id;
      ++tally.failed;
      ++tally.reasons["not delivered yet: kept in spool"];
    }
    if (backlog && !g_json) std::cerr << backlog << " older spooled events delivered too\n";
  } else {
    bool down = false;
    for (const auto& ev : events) {
      if (down) {
        DeliveryResult r;
        r.outcome = Outcome::kExhausted;
        r.detail = "not sent: gateway unavailable";
        tally.Add(ev.event_id, r);
      } else {
        DeliveryResult r = rt->producer->Send(ev);
        down = r.outcome == Outcome::kExhausted;
        tally.Add(ev.event_id, r);
      }
      progress.Update(++done);
    }
  }

  bool all_ok = tally.accepted == tally.events;
  if (g_json) {
    Value v = Value::MakeObject();
    v.Set("ok", all_ok);
    v.Set("events", tally.events);
    v.Set("accepted", tally.accepted);
    v.Set("rejected", tally.rejected);
    v.Set("failed", tally.failed);
    Value reasons = Value::MakeObject();
    for (const auto& [k, n] : tally.reasons) reasons.Set(k, n);
    v.Set("reasons", std::move(reasons));
    v.Set("problems", std::move(tally.problems));
    PrintJson(v);
  } else {
    std::cout << "events " << tally.events << ", accepted " << tally.accepted << ", rejected "
              << tally.rejected << ", failed " << tally.failed << std::endl;
    for (const auto& [k, n] : tally.reasons) std::cout << "  " << n << " x " << k << std::endl;
  }
  return all_ok ? kExitOk : kExitFailed;
}

int Report(const DeliveryResult& r, const std::string& what, Value extra = Value()) {
  if (g_json) {
    Value v = ResultJson(r);
    v.Set("ok", r.ok());
    if (extra.is_object())
      for (auto& [k, val] : extra.as_object()) v.Set(k, val);
    PrintJson(v);
  } else {
    std::cout << what << ": " << spectrastrike::OutcomeName(r.outcome);
    if (r.status) std::cout << " (HTTP " << r.status << ")";
    if (!r.detail.empty()) std::cout << ": " << r.detail;
    std::cout << std::endl;
    if (extra.is_object())
      for (auto& [k, val] : extra.as_object())
        std::cout << "  " << k << ": " << (val.is_string() ? val.as_string() : vv::json::Canonical(val))
                  << std::endl;
  }
  return r.ok() ? kExitOk : kExitFailed;
}

int CmdFederate(const std::string& config_path, const std::string& execution_hash) {
  std::string error;
  auto rt = MakeRuntime(config_path, &error);
  if (!rt) return Fail(error);
  DeliveryResult r = rt->producer->Federate(execution_hash);
  Value extra = Value::MakeObject();
  if (r.ok()) {
    auto v = vv::json::Parse(r.response_body);
    if (v.ok() && v->Find("bundle_hash")) extra.Set("bundle_hash", *v->Find("bundle_hash"));
  }
  return Report(r, "federation bundle", std::move(extra));
}

std::optional<Value> ReadJsonFile(const std::string& path, std::string* error) {
  auto text = ReadInput(path, error);
  if (!text) return std::nullopt;
  auto v = vv::json::Parse(*text);
  if (!v.ok()) {
    *error = path + ": " + v.status().message();
    return std::nullopt;
  }
  return std::move(v).value();
}

int CmdGraph(const std::string& config_path, const std::string& graph_path) {
  std::string error;
  auto rt = MakeRuntime(config_path, &error);
  if (!rt) return Fail(error);
  auto graph = ReadJsonFile(graph_path, &error);
  if (!graph) return Fail(error);
  return Report(rt->producer->SendGraph(*graph), "execution graph");
}

int CmdFeedback(const std::string& config_path, int limit, const std::string& graph_path) {
  std::string error;
  auto rt = MakeRuntime(config_path, &error);
  if (!rt) return Fail(error);
  const auto& c = rt->config;
  if (c.feedback_verify_keys.empty())
    return Fail("no feedback verify keys (feedback.verify_keys or VECTORVUE_FEEDBACK_VERIFY_KEYS_JSON)");
  auto keys = spectrastrike::LoadFeedbackKeys(c.feedback_verify_keys);
  if (!keys.ok()) return Fail(keys.status().message());
  std::string cache_path = c.feedback_replay_cache_path;
  if (cache_path.empty())
    cache_path = (std::filesystem::path(config_path).parent_path() / "feedback-replay.cache").string();
  auto cache = spectrastrike::ReplayCache::Open(cache_path);
  if (!cache.ok()) return Fail(cache.status().message());
  std::optional<spectrastrike::FeedbackAnchors> anchors;
  if (!graph_path.empty()) {
    auto graph = ReadJsonFile(graph_path, &error);
    if (!graph) return Fail(error);
    anchors = spectrastrike::FeedbackAnchors::FromGraph(*graph);
  }
  spectrastrike::FeedbackVerifyOptions opts;
  opts.window_seconds = c.feedback_window_seconds;
  spectrastrike::FeedbackVerifier verifier(std::move(keys).value(), **cache, rt->clock, opts);
  DeliveryResult delivery;
  auto fb = rt->producer->QueryFeedback(limit, verifier, anchors ? &*anchors : nullptr, &delivery);
  if (!fb.ok()) return Fail(fb.status().message(), kExitFailed);
  if (g_json) {
    Value v = Value::MakeObject();
    v.Set("ok", true);
    v.Set("verified", true);
    v.Set("kid", fb->kid);
    v.Set("signed_at", fb->signed_at);
    Value items = Value::MakeArray();
    for (const auto& i : fb->items) items.Push(i);
    v.Set("items", std::move(items));
    v.Set("dropped", fb->dropped);
    Value reasons = Value::MakeObject();
    for (const auto& [k, n] : fb->drop_reasons) reasons.Set(k, n);
    v.Set("drop_reasons", std::move(reasons));
    PrintJson(v);
  } else {
    std::cout << "feedback verified (kid " << fb->kid << "): " << fb->items.size()
              << " adjustment(s), " << fb->dropped << " dropped" << std::endl;
    for (const auto& [k, n] : fb->drop_reasons) std::cout << "  dropped " << n << " x " << k << "\n";
    for (const auto& i : fb->items) std::cout << vv::json::Canonical(i) << std::endl;
  }
  return kExitOk;
}

int CmdSpool(const std::string& config_path, const std::string& action) {
  std::string error;
  auto rt = MakeRuntime(config_path, &error);
  if (!rt) return Fail(error);
  if (rt->config.spool_path.empty()) return Fail("spool_path is not configured");
  auto spool = spectrastrike::Spool::Open(rt->config.spool_path, rt->clock);
  if (!spool.ok()) return Fail(spool.status().message());
  if (action == "drain") {
    SendTally tally;
    auto counts = (*spool)->Counts();
    Progress progress(counts.ok() ? counts->pending : 0, ::isatty(2) == 1 && !g_json);
    int64_t done = 0;
    auto stats = spectrastrike::DrainSpool(
        **spool, *rt->producer,
        [&](const spectrastrike::SpoolEntry& e, const DeliveryResult& r) {
          tally.Add(e.event_id, r);
          progress.Update(++done);
        });
    if (!stats.ok()) return Fail(stats.status().message());
    if (g_json) {
      Value v = Value::MakeObject();
      v.Set("ok", stats->remaining == 0 && stats->rejected == 0);
      v.Set("accepted", stats->accepted);
      v.Set("rejected", stats->rejected);
      v.Set("failed", stats->failed);
      v.Set("remaining", stats->remaining);
      v.Set("problems", std::move(tally.problems));
      PrintJson(v);
    } else {
      std::cout << "drained: accepted " << stats->accepted << ", rejected " << stats->rejected
                << ", still pending " << stats->remaining << std::endl;
    }
    return stats->remaining == 0 && stats->rejected == 0 ? kExitOk : kExitFailed;
  }
  auto c = (*spool)->Counts();
  if (!c.ok()) return Fail(c.status().message());
  auto rejections = (*spool)->Rejections(20);
  if (g_json) {
    Value v = Value::MakeObject();
    v.Set("ok", true);
    v.Set("pending", c->pending);
    v.Set("delivered", c->delivered);
    v.Set("rejected", c->rejected);
    Value rej = Value::MakeArray();
    if (rejections.ok())
      for (const auto& [id, why] : *rejections) {
        Value r = Value::MakeObject();
        r.Set("event_id", id);
        r.Set("detail", why);
        rej.Push(std::move(r));
      }
    v.Set("recent_rejections", std::move(rej));
    PrintJson(v);
  } else {
    std::cout << "pending " << c->pending << ", delivered " << c->delivered << ", rejected "
              << c->rejected << std::endl;
    if (rejections.ok())
      for (const auto& [id, why] : *rejections) std::cout << "  " << id << ": " << why << "\n";
  }
  return kExitOk;
}

int CmdKeygen(const std::string& out, bool force) {
  if (out.empty()) return Fail("keygen needs --out PATH");
  auto key = vv::crypto::Ed25519PrivateKey::Generate();
  std::string pem = key.ToPem();
  if (force) ::unlink(out.c_str());
  int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
  if (fd < 0)
    return Fail("cannot create " + out + (errno == EEXIST ? " (exists; use --force)" : ""));
  bool ok = ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
  ok = ::fchmod(fd, 0400) == 0 && ok;
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) return Fail("cannot write " + out);
  std::string pub_path = out + ".pub";
  std::string pub_pem = vv::crypto::PublicKeyToPem(key.PublicKey());
  {
    std::ofstream pub(pub_path, std::ios::binary | std::ios::trunc);
    pub << pub_pem;
    if (!pub) return Fail("cannot write " + pub_path);
  }
  std::string b64 = key.PublicKey().ToBase64();
  if (g_json) {
    Value v = Value::MakeObject();
    v.Set("ok", true);
    v.Set("private_key_path", out);
    v.Set("public_key_path", pub_path);
    v.Set("public_key_b64", b64);
    PrintJson(v);
  } else {
    std::cout << "private key: " << out << " (mode 0400)\npublic key:  " << pub_path
              << "\n\nGateway configuration:\n  spectrastrike_ed25519_public_key_b64: " << b64
              << "\n  VV_TG_SPECTRASTRIKE_ED25519_PUBKEY=" << b64 << std::endl;
  }
  return kExitOk;
}

int CmdFingerprint(const std::string& cert) {
  std::string error;
  std::string fp = spectrastrike::CertificateSha256Hex(cert, &error);
  if (fp.empty()) return Fail(error.empty() ? "cannot read certificate " + cert : error);
  if (g_json) {
    Value v = Value::MakeObject();
    v.Set("ok", true);
    v.Set("sha256", fp);
    PrintJson(v);
  } else {
    std::cout << fp << std::endl;
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ss-producer: SpectraStrike producer (sign, send over mTLS, spool, verify feedback)"};
  std::string config_path;
  app.add_option("-c,--config", config_path, "producer config.yaml (manual section 9)");
  app.add_flag("--json", g_json, "machine-readable JSON output");
  app.require_subcommand(1);

  std::string send_input;
  bool no_spool = false;
  auto* send = app.add_subcommand("send", "send events (JSON object or NDJSON; '-' = stdin)");
  send->add_option("input", send_input, "FILE or -")->required();
  send->add_flag("--no-spool", no_spool, "deliver directly, bypassing the spool");

  std::string execution_hash;
  auto* federate = app.add_subcommand("federate", "sign a federation bundle and verify it");
  federate->add_option("--execution-hash", execution_hash, "64 hex chars")->required();

  std::string graph_path;
  auto* graph = app.add_subcommand("graph", "send an execution graph");
  graph->add_option("graph", graph_path, "GRAPH.json")->required();

  int limit = 100;
  std::string anchor_graph;
  auto* feedback = app.add_subcommand("feedback", "query and verify feedback adjustments");
  feedback->add_option("--limit", limit, "1..1000")->check(CLI::Range(1, 1000));
  feedback->add_option("--graph", anchor_graph, "keep only items anchored in this graph");

  std::string out;
  bool force = false;
  auto* keygen = app.add_subcommand("keygen", "generate an Ed25519 signing key pair");
  keygen->add_option("--out", out, "private key path (written 0400)")->required();
  keygen->add_flag("--force", force, "replace an existing file");

  std::string cert;
  auto* fingerprint = app.add_subcommand("fingerprint", "SHA-256 pin of a PEM certificate");
  fingerprint->add_option("cert", cert, "CERT.pem")->required();

  std::string spool_action;
  auto* spool = app.add_subcommand("spool", "inspect or drain the durable spool");
  spool->add_option("action", spool_action, "status | drain")
      ->required()
      ->check(CLI::IsMember({"status", "drain"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  try {
    if (*send) return CmdSend(config_path, send_input, no_spool);
    if (*federate) return CmdFederate(config_path, execution_hash);
    if (*graph) return CmdGraph(config_path, graph_path);
    if (*feedback) return CmdFeedback(config_path, limit, anchor_graph);
    if (*keygen) return CmdKeygen(out, force);
    if (*fingerprint) return CmdFingerprint(cert);
    if (*spool) return CmdSpool(config_path, spool_action);
  } catch (const std::exception& e) {
    return Fail(std::string("internal error: ") + e.what(), kExitFailed);
  }
  return kExitUsage;
}

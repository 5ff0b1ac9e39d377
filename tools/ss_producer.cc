// ss-producer: the SpectraStrike producer CLI (issue 7, docs/producer.md, docs/cli.md).
//
//   ss-producer --config FILE [--json] send FILE|- [--no-spool] [--dry-run] [--batch-size N]
//                                                   events: JSON object or NDJSON, streamed
//   ss-producer --config FILE [--json] federate --execution-hash HEX
//   ss-producer --config FILE [--json] graph GRAPH.json
//   ss-producer --config FILE [--json] feedback [--limit N] [--graph GRAPH.json]
//   ss-producer --config FILE [--json] spool status|drain
//   ss-producer [--json] keygen --out PATH [--force]
//   ss-producer [--json] fingerprint CERT
// Options may come before or after the subcommand. HTTPS goes through the HTTP proxy in
// https_proxy / HTTPS_PROXY (CONNECT tunnel) unless no_proxy / NO_PROXY exempts the gateway.
//
// Exit status (tools/cli/cli.h): 0 success (send: every event accepted), 1 some events or
// requests rejected or failed, or feedback that does not verify (kept at 1, docs/cli.md),
// 2 usage or configuration error (never retried: a missing certificate is not "gateway
// unavailable").

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <unordered_set>

#include "cli/cli.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "json/json.h"
#include "spectrastrike/clock.h"
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
using vv::cli::kExitFailed;
using vv::cli::kExitOk;
using vv::cli::kExitUsage;
using vv::cli::kExitVerifyFailed;

constexpr char kTool[] = "ss-producer";
bool g_json = false;

void PrintJson(const Value& v) { std::cout << vv::json::Canonical(v) << std::endl; }

// Errors: stderr names the problem and the fix; with --json the same as the last stdout line.
int Fail(const std::string& message, int code = kExitUsage, const std::string& fix = "",
         bool verification_failed = false) {
  if (g_json) {
    Value v = Value::MakeObject();
    v.Set("ok", false);
    v.Set("error", message);
    if (verification_failed) v.Set("verification_failed", true);
    if (!fix.empty()) v.Set("fix", fix);
    v.Set("exit_code", code);
    PrintJson(v);
  }
  return vv::cli::Error(kTool, message, fix, code);
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
  spectrastrike::SystemClock clock;
  spectrastrike::SystemRandom random;
  spectrastrike::RealSleeper sleeper;
  std::optional<spectrastrike::RequestSigner> signer;
  std::unique_ptr<spectrastrike::HttpsClient> http;
  std::unique_ptr<spectrastrike::HttpsTransport> transport;
  std::unique_ptr<spectrastrike::Producer> producer;
};

struct RuntimeError {
  std::string problem;
  std::string fix;
};

// A configured file must exist and be readable now: finding out at connect time turned a
// typo into three retries and "gateway unavailable".
bool CheckReadable(const char* what, const std::string& path, RuntimeError* error) {
  if (path.empty()) return true;
  if (::access(path.c_str(), R_OK) == 0) return true;
  error->problem = std::string(what) + " " + vv::cli::Printable(path) + ": " + std::strerror(errno);
  error->fix = std::string("fix ") + what + " in the config file (or its VECTORVUE_* override)";
  return false;
}

std::unique_ptr<Runtime> MakeRuntime(const std::string& config_path, RuntimeError* error) {
  auto rt = std::make_unique<Runtime>();
  if (config_path.empty()) {
    *error = {"--config FILE is required for this command",
              "pass --config producer.yaml (deploy/config/producer.example.yaml)"};
    return nullptr;
  }
  auto cfg = spectrastrike::LoadProducerConfig(config_path, spectrastrike::ProcessEnvironment());
  if (!cfg.ok()) {
    *error = {cfg.status().message(), "correct the config file (docs/producer.md lists the keys)"};
    return nullptr;
  }
  rt->config = std::move(cfg).value();
  const auto& c = rt->config;
  if (c.private_key_path.empty()) {
    *error = {"signing.private_key_path is required",
              "set spectrastrike.producer.signing.private_key_path (ss-producer keygen makes one)"};
    return nullptr;
  }
  auto signer = spectrastrike::RequestSigner::FromKeyFile(c.private_key_path, true);
  if (!signer.ok()) {
    *error = {"signing key: " + signer.status().message(),
              "point signing.private_key_path at an Ed25519 key file with mode 0400 or 0600"};
    return nullptr;
  }
  rt->signer = std::move(signer).value();
  if (c.cert_path.empty() != c.key_path.empty()) {
    *error = {"mtls.cert_path and mtls.key_path must be given together",
              "set both (the gateway requires a client certificate)"};
    return nullptr;
  }
  if (!CheckReadable("mtls.cert_path", c.cert_path, error) ||
      !CheckReadable("mtls.key_path", c.key_path, error) ||
      !CheckReadable("mtls.ca_path", c.ca_path, error))
    return nullptr;
  spectrastrike::TlsClientConfig tls;
  tls.ca_path = c.ca_path;
  tls.cert_path = c.cert_path;
  tls.key_path = c.key_path;
  tls.verify_peer = true;  // always on
  tls.server_name = c.server_name;
  tls.pinned_server_cert_sha256 = c.pinned_server_cert_sha256;
  auto proxy = spectrastrike::ProxyFromEnvironment(
      c.host, c.port, [](const char* name) -> std::optional<std::string> {
        const char* v = std::getenv(name);
        return v ? std::optional<std::string>(v) : std::nullopt;
      });
  if (!proxy.ok()) {
    *error = {proxy.status().message(), "set https_proxy to http://HOST:PORT, or unset it"};
    return nullptr;
  }
  tls.proxy = *proxy;
  rt->http = std::make_unique<spectrastrike::HttpsClient>(c.host, c.port, tls);
  if (std::string e = rt->http->ConfigError(); !e.empty()) {
    *error = {"TLS configuration: " + e,
              "check mtls.cert_path / key_path / ca_path (PEM files; the key must match the "
              "certificate)"};
    return nullptr;
  }
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

int FailRuntime(const RuntimeError& e) { return Fail(e.problem, kExitUsage, e.fix); }

Value ResultJson(const DeliveryResult& r) {
  Value v = Value::MakeObject();
  v.Set("outcome", spectrastrike::OutcomeName(r.outcome));
  v.Set("status", r.status);
  v.Set("attempts", r.attempts);
  if (!r.detail.empty()) v.Set("detail", r.detail);
  return v;
}

// Progress on stderr when it is a terminal (never in --json mode or into a pipe/file): a count
// with the rate, and percentage + ETA when the total is known (a file's size, the spool's
// pending count). Redrawn at most 5 times a second.
class Progress {
 public:
  Progress(const char* unit, bool enabled) : unit_(unit), enabled_(enabled) {}
  // fraction < 0: total unknown.
  void Update(int64_t done, double fraction) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    drawn_ = true;
    double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r\033[K%s", vv::cli::ProgressLine(done, unit_, secs, fraction).c_str());
    std::fflush(stderr);
  }
  void Finish() {
    if (enabled_ && drawn_) std::fprintf(stderr, "\n");
    drawn_ = false;
  }

 private:
  const char* unit_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

bool ProgressWanted() { return ::isatty(2) == 1 && !g_json; }

// Events from a stream, one at a time, in bounded memory: NDJSON line by line (each line at
// most kMaxLine bytes; a longer one is an invalid event, skipped), or one JSON object that may
// be pretty-printed over several lines: when the first non-empty line is not JSON on its own,
// up to kMaxWhole bytes are buffered and parsed as one object; if that fails the buffered
// lines are replayed as NDJSON (each then reported on its own).
class EventReader {
 public:
  static constexpr size_t kMaxLine = 1 << 20;
  static constexpr size_t kMaxWhole = 16 << 20;

  explicit EventReader(std::istream& in) : in_(in), buf_(kMaxLine + 1) {}

  // false at the end. *too_long: the line exceeded kMaxLine (text empty).
  bool Next(std::string* text, int64_t* line_no, bool* too_long) {
    *too_long = false;
    for (;;) {
      if (!ReadLine(text, too_long)) return false;
      *line_no = ++line_;
      if (!*too_long && vv::StripAsciiWhitespace(*text).empty()) continue;
      if (first_ && !*too_long) {
        first_ = false;
        if (!vv::json::Parse(*text).ok() && TryWhole(text)) {
          *line_no = 1;
          return true;
        }
      }
      first_ = false;
      return true;
    }
  }
  int64_t bytes() const { return bytes_; }

 private:
  bool ReadLine(std::string* text, bool* too_long) {
    if (!replay_.empty()) {
      *text = std::move(replay_.front().first);
      *too_long = replay_.front().second;
      replay_.pop_front();
      return true;
    }
    if (!in_.good()) return false;
    in_.getline(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    std::streamsize got = in_.gcount();
    if (got == 0 && in_.eof()) return false;
    if (in_.fail() && !in_.eof()) {  // line longer than the buffer
      in_.clear();
      bytes_ += got;
      in_.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
      bytes_ += in_.gcount();
      text->clear();
      *too_long = true;
      return true;
    }
    bytes_ += got;
    // gcount includes the consumed '\n' when there was one.
    size_t len = static_cast<size_t>(got);
    if (len > 0 && !in_.eof()) --len;
    text->assign(buf_.data(), len);
    if (!text->empty() && text->back() == '\r') text->pop_back();
    return true;
  }

  // The first line is not JSON by itself: maybe a pretty-printed object.
  bool TryWhole(std::string* text) {
    std::string whole = *text;
    std::deque<std::pair<std::string, bool>> lines;
    std::string line;
    bool too_long = false;
    bool complete = true;
    while (whole.size() <= kMaxWhole) {
      if (!ReadLine(&line, &too_long)) break;
      lines.emplace_back(line, too_long);
      if (too_long) {
        complete = false;
        break;
      }
      whole += "\n" + line;
    }
    if (complete && whole.size() <= kMaxWhole && !in_.good()) {
      auto v = vv::json::Parse(whole);
      if (v.ok() && v->is_object()) {
        *text = vv::json::Canonical(*v);
        return true;
      }
    }
    replay_ = std::move(lines);
    return false;
  }

  std::istream& in_;
  std::vector<char> buf_;
  std::deque<std::pair<std::string, bool>> replay_;  // (line, too long)
  int64_t line_ = 0;
  int64_t bytes_ = 0;
  bool first_ = true;
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

// The request a send would make, signed now, printed instead of sent (--dry-run).
Value DryRunJson(Runtime& rt, const spectrastrike::PreparedEvent& ev) {
  const int64_t ts = rt.clock.NowSeconds();
  const std::string nonce = spectrastrike::MakeNonce(rt.random, rt.config.nonce_length);
  const std::string body = spectrastrike::StampEvent(ev, ts, nonce);
  Value headers = Value::MakeObject();
  for (const auto& [k, v] : rt.producer->SignedHeaders(ts, nonce, body)) headers.Set(k, v);
  headers.Set("Idempotency-Key", ev.execution_hash);
  Value v = Value::MakeObject();
  v.Set("dry_run", true);
  v.Set("event_id", ev.event_id);
  v.Set("method", "POST");
  v.Set("url", "https://" + rt.config.host + ":" + std::to_string(rt.config.port) +
                   rt.config.base_path + "/internal/v1/telemetry");
  v.Set("headers", std::move(headers));
  v.Set("body", body);
  return v;
}

// Streams events from FILE or stdin in bounded memory (line by line, never the whole input).
//  * --no-spool / --dry-run: each event is sent (printed) as soon as it is read.
//  * spool, regular FILE: the whole file is written to the spool first (chunks of kChunk, one
//    transaction each), then delivered: a producer killed mid-send loses nothing, the spool
//    holds every event (the file can be re-read, so nothing is gained by sending early).
//  * spool, stdin or a pipe: each chunk is spooled and delivered before more is read, and a
//    partial chunk is flushed as soon as stdin has nothing more to give right now, so `send -`
//    works at the end of a pipe (`tail -f ... | ss-producer send -`).
// Once the gateway is unreachable the rest is only spooled (kept for `spool drain`), not
// retried chunk after chunk.
// --batch-size N (> 1): up to N events per request to the gateway's batch endpoint
// (Producer::SendBatch; single sends when the gateway does not offer it).
int CmdSend(const std::string& config_path, const std::string& input_path, bool no_spool,
            bool dry_run, size_t batch_size) {
  constexpr size_t kChunk = 256;
  RuntimeError rerr;
  auto rt = MakeRuntime(config_path, &rerr);
  if (!rt) return FailRuntime(rerr);
  std::ifstream file;
  double total_bytes = -1;
  if (input_path != "-") {
    file.open(input_path, std::ios::binary);
    if (!file)
      return Fail("cannot read " + vv::cli::Printable(input_path) + ": " + std::strerror(errno),
                  kExitUsage, "give an existing NDJSON file, or - for stdin");
    std::error_code ec;
    auto size = std::filesystem::file_size(input_path, ec);
    if (!ec && std::filesystem::is_regular_file(input_path, ec)) total_bytes = static_cast<double>(size);
  }
  // Own buffer for std::cin, so in_avail() tells whether a line is already here (stdio sync
  // would hide it); nothing has been read or written through the standard streams yet.
  if (input_path == "-") std::ios::sync_with_stdio(false);
  std::istream& in = input_path == "-" ? std::cin : file;
  EventReader reader(in);
  const bool spool_first = total_bytes >= 0;  // a regular file
  auto stdin_idle = [&] {
    if (input_path != "-" || std::cin.rdbuf()->in_avail() > 0) return false;
    pollfd p{0, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  };

  SendTally tally;
  auto add_invalid = [&](int64_t line, const std::string& why) {
    ++tally.events;
    ++tally.invalid;
    ++tally.rejected;
    ++tally.reasons["invalid event: " + why];
    Value p = Value::MakeObject();
    p.Set("line", std::to_string(line));
    p.Set("outcome", "invalid");
    p.Set("detail", why);
    if (tally.problems.as_array().size() < 1000) tally.problems.Push(std::move(p));
    if (!g_json) std::cerr << "line " << line << ": invalid event: " << why << std::endl;
  };
  Progress progress("events", ProgressWanted() && !dry_run);
  int64_t done = 0;
  bool reading = true;
  int64_t to_deliver = 0;  // spool-first: events spooled when the reading ended
  auto tick = [&] {
    if (reading)
      progress.Update(done, total_bytes > 0 ? std::min(1.0, reader.bytes() / total_bytes) : -1);
    else
      progress.Update(done, to_deliver > 0 ? std::min(1.0, double(done) / double(to_deliver)) : -1);
  };

  std::unique_ptr<spectrastrike::Spool> spool;
  if (!dry_run && !no_spool && !rt->config.spool_path.empty()) {
    auto opened = spectrastrike::Spool::Open(rt->config.spool_path, rt->clock);
    if (!opened.ok())
      return Fail(opened.status().message(), kExitFailed, "check spool_path and its directory");
    spool = std::move(opened).value();
  }
  bool down = false;  // the gateway stopped answering: deliver no more in this run
  int64_t backlog = 0;
  std::vector<spectrastrike::PreparedEvent> chunk;
  // Which spooled entries are this run's, in bounded memory: rows inserted by this run have
  // ids >= first_new_id (SQLite rowids grow); events this run re-sent that were still pending
  // from an earlier run are remembered by id (at most the old backlog).
  int64_t first_new_id = std::numeric_limits<int64_t>::max();
  std::unordered_set<int64_t> old_pending;
  int64_t mine_total = 0, mine_done = 0;
  auto is_mine = [&](int64_t id) { return id >= first_new_id || old_pending.count(id) > 0; };

  auto enqueue_chunk = [&]() -> spectrastrike::Status {
    if (chunk.empty()) return {};
    auto res = spool->Enqueue(chunk);
    if (!res.ok()) return res.status();
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
        if (r.inserted)
          first_new_id = std::min(first_new_id, r.id);
        else
          old_pending.insert(r.id);
        ++mine_total;
      }
    }
    chunk.clear();
    return {};
  };
  auto drain = [&]() -> spectrastrike::Status {
    if (down || mine_done == mine_total) return {};
    auto stats = spectrastrike::DrainSpool(
        *spool, *rt->producer,
        [&](const spectrastrike::SpoolEntry& e, const DeliveryResult& r) {
          if (!is_mine(e.id)) {
            ++backlog;
            return;
          }
          tally.Add(e.event_id, r);
          ++mine_done;
          ++done;
          tick();
        },
        0, batch_size);
    if (!stats.ok()) return stats.status();
    if (stats->remaining > 0) down = true;
    return {};
  };
  auto flush_chunk = [&]() -> spectrastrike::Status {
    if (auto st = enqueue_chunk(); !st.ok()) return st;
    return drain();
  };

  // --no-spool: events go out as they are read, batch_size at a time.
  std::vector<spectrastrike::PreparedEvent> direct;
  auto send_direct = [&] {
    if (direct.empty()) return;
    std::vector<DeliveryResult> rs;
    if (direct.size() > 1) {
      rs = rt->producer->SendBatch(direct);
    } else {
      rs.push_back(rt->producer->Send(direct.front()));
    }
    for (size_t i = 0; i < rs.size(); ++i) {
      if (rs[i].outcome == Outcome::kExhausted) down = true;
      tally.Add(direct[i].event_id, rs[i]);
      ++done;
    }
    direct.clear();
  };

  std::string text;
  int64_t line_no = 0;
  bool too_long = false;
  for (;;) {
    if (spool && !spool_first && !chunk.empty() && stdin_idle()) {
      if (auto st = flush_chunk(); !st.ok()) return Fail(st.message(), kExitFailed);
    }
    if (!reader.Next(&text, &line_no, &too_long)) break;
    if (too_long) {
      add_invalid(line_no, "line longer than " + std::to_string(EventReader::kMaxLine) + " bytes");
      continue;
    }
    auto ev = spectrastrike::PrepareEvent(text, rt->config.identity);
    if (!ev.ok()) {
      add_invalid(line_no, ev.status().message());
      continue;
    }
    ++tally.events;
    if (dry_run) {
      PrintJson(DryRunJson(*rt, *ev));
      ++done;
    } else if (spool) {
      chunk.push_back(std::move(ev).value());
      if (chunk.size() >= kChunk) {
        if (auto st = spool_first ? enqueue_chunk() : flush_chunk(); !st.ok())
          return Fail(st.message(), kExitFailed);
      }
    } else if (down) {
      DeliveryResult r;
      r.outcome = Outcome::kExhausted;
      r.detail = "not sent: gateway unavailable";
      tally.Add(ev->event_id, r);
      ++done;
    } else {
      direct.push_back(std::move(ev).value());
      if (direct.size() >= batch_size) send_direct();
    }
    tick();
  }
  send_direct();
  if (in.bad()) return Fail("reading " + vv::cli::Printable(input_path) + " failed", kExitFailed);
  if (spool) {
    if (auto st = enqueue_chunk(); !st.ok()) return Fail(st.message(), kExitFailed);
    reading = false;
    to_deliver = done + (mine_total - mine_done);
    if (auto st = drain(); !st.ok()) return Fail(st.message(), kExitFailed);
  }
  progress.Finish();
  // Events of this run still pending (gateway unreachable): kept for `spool drain`.
  const int64_t kept = mine_total - mine_done;
  if (kept > 0) {
    tally.failed += kept;
    tally.reasons["not delivered yet: kept in spool"] += kept;
  }
  if (backlog && !g_json) std::cerr << backlog << " older spooled events delivered too\n";

  if (dry_run) {
    const bool ok = tally.invalid == 0;
    if (g_json) {
      Value v = Value::MakeObject();
      v.Set("ok", ok);
      v.Set("dry_run", true);
      v.Set("events", tally.events);
      v.Set("signed", done);
      v.Set("invalid", tally.invalid);
      v.Set("problems", std::move(tally.problems));
      PrintJson(v);
    } else {
      std::cerr << "dry run: " << done << " event(s) signed, " << tally.invalid
                << " invalid, nothing sent" << std::endl;
    }
    return ok ? kExitOk : kExitFailed;
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
  RuntimeError rerr;
  auto rt = MakeRuntime(config_path, &rerr);
  if (!rt) return FailRuntime(rerr);
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
  RuntimeError rerr;
  auto rt = MakeRuntime(config_path, &rerr);
  if (!rt) return FailRuntime(rerr);
  auto graph = ReadJsonFile(graph_path, &error);
  if (!graph) return Fail(error);
  return Report(rt->producer->SendGraph(vv::json::Canonical(*graph)), "execution graph");
}

int CmdFeedback(const std::string& config_path, int limit, const std::string& graph_path) {
  std::string error;
  RuntimeError rerr;
  auto rt = MakeRuntime(config_path, &rerr);
  if (!rt) return FailRuntime(rerr);
  const auto& c = rt->config;
  if (c.feedback_verify_keys.empty())
    return Fail("no feedback verify keys", kExitUsage,
                "set feedback.verify_keys or VECTORVUE_FEEDBACK_VERIFY_KEYS_JSON");
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
    // A graph that is not an object anchors nothing (no filtering), as before.
    auto from_graph = spectrastrike::FeedbackAnchors::FromGraph(vv::json::Canonical(*graph));
    anchors = from_graph.ok() ? *from_graph : spectrastrike::FeedbackAnchors{};
  }
  spectrastrike::FeedbackVerifyOptions opts;
  opts.window_seconds = c.feedback_window_seconds;
  spectrastrike::FeedbackVerifier verifier(std::move(keys).value(), **cache, rt->clock, opts);
  DeliveryResult delivery;
  auto fb = rt->producer->QueryFeedback(limit, verifier, anchors ? &*anchors : nullptr, &delivery);
  if (!fb.ok()) {
    // A 2xx answer that does not verify (forged, replayed, stale, unknown kid) is a
    // verification failure: exit 3, "verification_failed" in the JSON (docs/cli.md).
    if (delivery.ok())
      return Fail("feedback does not verify: " + fb.status().message(), kExitVerifyFailed,
                  "check feedback.verify_keys against the gateway's feedback key",
                  /*verification_failed=*/true);
    return Fail(fb.status().message(), kExitFailed);
  }
  if (g_json) {
    Value v = Value::MakeObject();
    v.Set("ok", true);
    v.Set("verified", true);
    v.Set("kid", fb->kid);
    v.Set("signed_at", fb->signed_at);
    Value items = Value::MakeArray();
    for (const auto& i : fb->items) items.Push(*vv::json::Parse(i));
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
    for (const auto& i : fb->items) std::cout << i << std::endl;
  }
  return kExitOk;
}

int CmdSpool(const std::string& config_path, const std::string& action) {
  std::string error;
  RuntimeError rerr;
  auto rt = MakeRuntime(config_path, &rerr);
  if (!rt) return FailRuntime(rerr);
  if (rt->config.spool_path.empty())
    return Fail("spool_path is not configured", kExitUsage,
                "set spectrastrike.producer.spool_path (or VECTORVUE_SPOOL_PATH)");
  auto spool = spectrastrike::Spool::Open(rt->config.spool_path, rt->clock);
  if (!spool.ok()) return Fail(spool.status().message());
  if (action == "drain") {
    SendTally tally;
    auto counts = (*spool)->Counts();
    const int64_t total = counts.ok() ? counts->pending : 0;
    Progress progress("events", ProgressWanted());
    int64_t done = 0;
    auto stats = spectrastrike::DrainSpool(
        **spool, *rt->producer,
        [&](const spectrastrike::SpoolEntry& e, const DeliveryResult& r) {
          tally.Add(e.event_id, r);
          ++done;
          progress.Update(done, total > 0 ? std::min(1.0, double(done) / double(total)) : -1);
        });
    progress.Finish();
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
    return Fail("cannot create " + out + ": " + std::strerror(errno), kExitFailed,
                errno == EEXIST ? "choose another --out, or replace it with --force" : "");
  bool ok = ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
  ok = ::fchmod(fd, 0400) == 0 && ok;
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) return Fail("cannot write " + out, kExitFailed);
  std::string pub_path = out + ".pub";
  std::string pub_pem = vv::crypto::PublicKeyToPem(key.PublicKey());
  {
    std::ofstream pub(pub_path, std::ios::binary | std::ios::trunc);
    pub << pub_pem;
    if (!pub) return Fail("cannot write " + pub_path, kExitFailed);
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
  auto sha = spectrastrike::CertificateSha256Hex(cert);
  if (!sha.ok() || sha->empty())
    return Fail(sha.ok() || sha.status().message().empty() ? "cannot read certificate " + cert
                                                           : sha.status().message(),
                kExitFailed, "give a PEM certificate file");
  const std::string fp = *sha;
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
  vv::cli::Setup(app, {kTool,
                       "  ss-producer --config producer.yaml send events.ndjson\n"
                       "  tail -f events.ndjson | ss-producer send - --config producer.yaml\n"
                       "  ss-producer send events.ndjson --dry-run --config producer.yaml --json\n"
                       "  ss-producer --config producer.yaml spool drain\n"
                       "  ss-producer keygen --out producer_ed25519.key\n"
                       "  https_proxy=http://proxy:3128 ss-producer --config producer.yaml send e.ndjson",
                       "  1: some events were rejected or not delivered (kept in the spool).\n"
                       "     Also feedback that does not verify (\"verification_failed\" in the JSON).\n"
                       "  2: also a missing/unreadable certificate, key or config file (not retried)."});
  std::string config_path;
  app.add_option("-c,--config", config_path, "producer config.yaml (manual section 9)");
  app.add_flag("--json", g_json, "machine-readable JSON output (last stdout line)");
  app.require_subcommand(1);

  std::string send_input;
  bool no_spool = false;
  bool dry_run = false;
  auto* send = app.add_subcommand("send", "send events (JSON object or NDJSON; '-' = stdin), streamed");
  send->add_option("input", send_input, "FILE or -")->required();
  send->add_flag("--no-spool", no_spool, "deliver directly, bypassing the spool");
  send->add_flag("--dry-run", dry_run, "sign and print each request (JSON lines), send nothing");
  size_t batch_size = 1;
  send->add_option("--batch-size", batch_size,
                   "events per request to the batch endpoint (1 = single requests; falls back "
                   "to single requests when the gateway has no batch endpoint)")
      ->check(CLI::Range(1, 10000));

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

  if (int rc = vv::cli::Parse(app, argc, argv); rc >= 0) return rc;
  try {
    if (*send) return CmdSend(config_path, send_input, no_spool, dry_run, batch_size);
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

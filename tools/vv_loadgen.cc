// vv-loadgen: a bounded load generator for the gateway over keep-alive mTLS connections.
//
//   vv-loadgen --port P --ca ca.crt --cert producer.crt --key producer.key --seed-hex SEED
//              [--connections 4] [--requests 20000] [--gateway-pid PID] [--batch-size N]
//              [--random-event-ids] [--rate R]
//
// Pre-signs --requests distinct telemetry requests (signing is the producer's cost and must not
// compete with the gateway for the same cores during the timed phase), then sends them over
// --connections keep-alive connections, one thread each, and reports requests/s, latency
// percentiles and status counts. With --gateway-pid it also reads the gateway's CPU time
// (utime+stime from /proc/PID/stat) before and after, giving gateway CPU µs per request, and
// measures one libsodium Ed25519 verify of the same message size in this process, so the
// result is a ratio against the per-request floor measured in the same run. Loopback only;
// the run is bounded by --requests. Output: one JSON object (--json is accepted; JSON is the
// only format). With --batch-size N (N > 1) every request is one POST
// /internal/v1/telemetry/batch of N NDJSON events under one signature (the same pre-signed
// way), and the report adds events/s and gateway CPU per event. With --rate R the load is open
// loop: request i is due at i/R s and its latency counts from then (target_requests_per_second
// in the report), for latency at a given load rather than at saturation.
// Exit (tools/cli/cli.h): 0 every request got 202 (batch: 207 with every event accepted),
// 1 otherwise, 2 usage error.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <latch>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "cli/cli.h"
#include "common/clock.h"
#include "demo_event.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "json/json.h"
#include "spectrastrike/https_client.h"

namespace {

struct Prepared {
  std::string body;
  spectrastrike::HeaderList headers;
};

std::string Body(int64_t ts, const std::string& nonce, const std::string& event_id) {
  return vv::json::Canonical(vv::tools::DemoTelemetryRequest(
      ts, nonce, event_id, "10000000-0000-0000-0000-000000000001",
      "Observed suspicious process chain"));
}

double ProcessCpuSeconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), {});
  size_t rp = s.rfind(')');
  if (rp == std::string::npos) return -1;
  std::istringstream in(s.substr(rp + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"bounded load generator for vv-gateway (loopback)"};
  vv::cli::Setup(cli, {"vv-loadgen",
                       "  vv-loadgen --port 8443 --ca ca.crt --cert producer.crt --key producer.key \\\n"
                       "      --seed-hex <64 hex> --connections 4 --requests 20000 --gateway-pid <pid>",
                       "  1: some request did not get 202 (see \"statuses\")."});
  bool json = true;
  cli.add_flag("--json", json, "JSON output (always on for this tool)");
  std::string host = "127.0.0.1", ca, cert, key, seed_hex, identity = "spectrastrike-producer";
  uint16_t port = 0;
  int connections = 4, requests = 20000, gateway_pid = 0;
  cli.add_option("--host", host)->check([](const std::string& h) {
    return (h.rfind("127.", 0) == 0 || h == "localhost" || h == "::1") ? std::string()
                                                                       : "loopback only";
  });
  cli.add_option("--port", port)->required();
  cli.add_option("--ca", ca)->required();
  cli.add_option("--cert", cert)->required();
  cli.add_option("--key", key)->required();
  cli.add_option("--seed-hex", seed_hex, "producer Ed25519 seed (hex)")->required();
  cli.add_option("--identity", identity);
  cli.add_option("--connections", connections)->check(CLI::Range(1, 256));
  cli.add_option("--requests", requests)->check(CLI::Range(1, 1000000));
  cli.add_option("--gateway-pid", gateway_pid);
  int batch_size = 1;
  cli.add_option("--batch-size", batch_size, "events per request (>1: the batch endpoint)")
      ->check(CLI::Range(1, 100000));
  bool random_ids = false;
  cli.add_flag("--random-event-ids", random_ids,
               "random event ids (as producers using uuid4 send them) instead of ids that sort "
               "in the order they are sent; the queue's dedupe index then takes random inserts");
  double rate = 0;
  cli.add_option("--rate", rate,
                 "open loop: request i is due i/RATE seconds after the start and its latency "
                 "counts from then (a late send shows as latency, no coordinated omission); "
                 "0 = closed loop, each connection sends as soon as its previous answer came")
      ->check(CLI::Range(0.0, 10000000.0));
  if (int rc = vv::cli::Parse(cli, argc, argv); rc >= 0) return rc;

  auto seed = vv::HexDecode(seed_hex);
  auto key_r = seed ? vv::crypto::Ed25519PrivateKey::FromSeed(*seed)
                    : vv::Result<vv::crypto::Ed25519PrivateKey>(vv::Status::InvalidArgument("hex"));
  if (!key_r.ok()) {
    return vv::cli::Error("vv-loadgen", "bad --seed-hex",
                          "give the producer's 32-byte Ed25519 seed as 64 hex characters");
  }
  const auto& sk = key_r.value();

  // Pre-sign.
  vv::SystemRandom random;
  int64_t ts = vv::SystemClock().NowSeconds();
  std::string run = random.TokenUrlSafe(6);
  std::vector<Prepared> prepared(static_cast<size_t>(requests));
  const bool batch = batch_size > 1;
  for (int i = 0; i < requests; ++i) {
    std::string nonce = "lg-" + run + "-" + std::to_string(i);
    Prepared& p = prepared[static_cast<size_t>(i)];
    if (batch) {
      for (int e = 0; e < batch_size; ++e) {
        p.body += Body(ts, nonce, random_ids ? "evt-" + random.Uuid4()
                                             : "evt-" + nonce + "-" + std::to_string(e));
        p.body += '\n';
      }
    } else {
      p.body = Body(ts, nonce, random_ids ? "evt-" + random.Uuid4() : "evt-" + nonce);
    }
    std::string sig = vv::Base64Encode(sk.Sign(std::to_string(ts) + "." + nonce + "." + p.body));
    p.headers = {{"Content-Type", batch ? "application/x-ndjson" : "application/json"},
                 {"X-Service-Identity", identity},
                 {"X-Telemetry-Timestamp", std::to_string(ts)},
                 {"X-Telemetry-Nonce", nonce},
                 {"X-Telemetry-Signature", sig}};
  }
  const std::string target = batch ? "/internal/v1/telemetry/batch" : "/internal/v1/telemetry";

  // The floor, measured here: one strict verify of a message of the same size.
  std::string msg = std::to_string(ts) + ".nonce." + Body(ts, "nonce", "evt-floor");
  std::string sig = sk.Sign(msg);
  auto pk = sk.PublicKey();
  auto v0 = std::chrono::steady_clock::now();
  constexpr int kVerifies = 3000;
  int okv = 0;
  for (int i = 0; i < kVerifies; ++i) okv += pk.Verify(msg, sig);
  double verify_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - v0).count() /
      kVerifies;
  if (okv != kVerifies) {
    std::cerr << "vv-loadgen: the baseline Ed25519 verify failed\n";
    return 1;
  }

  spectrastrike::TlsClientConfig tls;
  tls.ca_path = ca;
  tls.cert_path = cert;
  tls.key_path = key;
  tls.server_name = "localhost";
  std::atomic<int> next{0};
  std::mutex mu;
  std::map<int, int> statuses;
  std::atomic<int64_t> events_accepted{0};
  std::vector<double> latencies;
  latencies.reserve(static_cast<size_t>(requests));
  // Every connection is opened (TCP + TLS handshake, one GET /healthz) before the clock and the
  // gateway's CPU reading start: the timed phase measures requests, not handshakes (which
  // would otherwise make the first requests of an open-loop run late by the handshakes of all).
  std::latch connected(connections);
  std::latch go(1);
  double cpu0 = 0;
  std::chrono::steady_clock::time_point t0;
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c)
    threads.emplace_back([&] {
      spectrastrike::HttpsClient client(host, port, tls);
      (void)client.Get("/healthz");  // a failure shows in the timed requests' statuses
      connected.count_down();
      go.wait();
      std::map<int, int> local;
      std::vector<double> lat;
      for (int i; (i = next.fetch_add(1)) < requests;) {
        const Prepared& p = prepared[static_cast<size_t>(i)];
        auto s = std::chrono::steady_clock::now();
        if (rate > 0) {  // open loop: wait for the request's slot; latency counts from the slot
          s = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                       std::chrono::duration<double>(i / rate));
          std::this_thread::sleep_until(s);
        }
        auto r = client.Post(target, p.headers, p.body);
        lat.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s).count());
        local[r.transport_ok ? r.status : -1]++;
        if (batch && r.transport_ok && r.status == 207) {
          auto v = vv::json::Parse(r.body);
          const vv::json::Value* a = v.ok() ? v->Find("accepted") : nullptr;
          if (a != nullptr && a->is_int()) events_accepted += a->as_int64().value_or(0);
        } else if (!batch && r.transport_ok && r.status == 202) {
          events_accepted++;
        }
      }
      std::lock_guard<std::mutex> l(mu);
      for (auto [k, v] : local) statuses[k] += v;
      latencies.insert(latencies.end(), lat.begin(), lat.end());
    });
  connected.wait();
  cpu0 = gateway_pid ? ProcessCpuSeconds(gateway_pid) : 0;
  t0 = std::chrono::steady_clock::now();
  go.count_down();
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu1 = gateway_pid ? ProcessCpuSeconds(gateway_pid) : 0;

  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) {
    return latencies.empty() ? 0.0 : latencies[static_cast<size_t>(q * (latencies.size() - 1))];
  };
  vv::json::Value out = vv::json::Value::MakeObject();
  out.Set("requests", requests);
  out.Set("connections", connections);
  out.Set("seconds", secs);
  out.Set("requests_per_second", requests / secs);
  out.Set("target_requests_per_second", rate);  // 0: closed loop
  out.Set("latency_p50_us", pct(0.5));
  out.Set("latency_p99_us", pct(0.99));
  const int64_t events = static_cast<int64_t>(requests) * batch_size;
  out.Set("batch_size", batch_size);
  out.Set("events", events);
  out.Set("events_accepted", events_accepted.load());
  out.Set("events_per_second", static_cast<double>(events) / secs);
  vv::json::Value st = vv::json::Value::MakeObject();
  for (auto [k, v] : statuses) st.Set(k < 0 ? "transport_error" : std::to_string(k), v);
  out.Set("statuses", std::move(st));
  out.Set("ed25519_verify_us", verify_us);
  if (gateway_pid) {
    double cpu_us = (cpu1 - cpu0) * 1e6 / requests;
    out.Set("gateway_cpu_us_per_request", cpu_us);
    out.Set("gateway_cpu_per_request_over_verify", cpu_us / verify_us);
    const double cpu_event_us = (cpu1 - cpu0) * 1e6 / static_cast<double>(events);
    out.Set("gateway_cpu_us_per_event", cpu_event_us);
    out.Set("gateway_cpu_per_event_over_verify", cpu_event_us / verify_us);
  }
  std::cout << vv::json::Canonical(out) << std::endl;
  const int want = batch ? 207 : 202;
  return (statuses.size() == 1 && statuses.count(want) && events_accepted.load() == events)
             ? vv::cli::kExitOk
             : vv::cli::kExitFailed;
}

// Throughput/latency figures of the real backends on this machine, printed (not asserted
// beyond correctness): Redis round trip per nonce+rate decision (combined Lua call and the
// two-call path), JetStream async publish throughput with bounded in-flight acks.
// VV_BENCH_OPS (default 1000) sets the operation count; CI keeps the default so the test
// stays well under 2 s.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/servers.h"
#include "queue/jetstream_queue.h"
#include "state/redis_state.h"

namespace vv {
namespace {

using Clk = std::chrono::steady_clock;

int Ops() {
  const char* v = std::getenv("VV_BENCH_OPS");
  int n = v ? std::atoi(v) : 0;
  return n > 0 ? n : 1000;
}

double Micros(Clk::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

void Report(const char* what, std::vector<double>& lat_us, double total_s) {
  std::sort(lat_us.begin(), lat_us.end());
  double p50 = lat_us[lat_us.size() / 2], p99 = lat_us[lat_us.size() * 99 / 100];
  std::printf("[bench] %-44s n=%zu  %.0f ops/s  p50 %.1f us  p99 %.1f us\n", what, lat_us.size(),
              lat_us.size() / total_s, p50, p99);
}

TEST(BackendsThroughput, RedisNonceAndRateDecision) {
  testing::RedisServer redis;
  VV_REQUIRE_SERVER(redis);
  auto cfg = state::ParseRedisUrl(redis.url());
  ASSERT_TRUE(cfg.ok());
  cfg->pool_size = 4;
  auto pool = state::RedisPool::Create(*cfg);
  ASSERT_TRUE(pool.ok());
  SystemClock clock;
  state::RedisGate gate(*pool);
  state::RedisNonceStore nonces(*pool);
  state::RedisRateLimiter limiter(*pool, clock, 1'000'000'000);
  const int n = Ops();

  std::vector<double> lat;
  auto t0 = Clk::now();
  for (int i = 0; i < n; ++i) {
    auto s = Clk::now();
    state::RateTicket t;
    ASSERT_TRUE(gate.RegisterAndAcquire(state::NonceKey(i, "g"), 120, "op-1", 1'000'000'000,
                                        clock.NowMicros(), &t)
                    .ok());
    lat.push_back(Micros(Clk::now() - s));
  }
  Report("redis gate (1 Lua call), 1 thread", lat, Micros(Clk::now() - t0) / 1e6);

  lat.clear();
  t0 = Clk::now();
  for (int i = 0; i < n; ++i) {
    auto s = Clk::now();
    state::RateTicket t;
    ASSERT_TRUE(nonces.Register(state::NonceKey(i, "s"), 120).ok());
    ASSERT_TRUE(limiter.Acquire("op-2", &t).ok());
    lat.push_back(Micros(Clk::now() - s));
  }
  Report("redis SET NX + rate Lua (2 calls), 1 thread", lat, Micros(Clk::now() - t0) / 1e6);

  constexpr int kThreads = 4;
  std::vector<std::vector<double>> per(kThreads);
  std::vector<std::thread> threads;
  t0 = Clk::now();
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int i = 0; i < n / kThreads; ++i) {
        auto s = Clk::now();
        state::RateTicket t;
        Status st = gate.RegisterAndAcquire(state::NonceKey(i, "p" + std::to_string(th)), 120,
                                            "op-" + std::to_string(th), 1'000'000'000,
                                            clock.NowMicros(), &t);
        if (st.ok()) per[th].push_back(Micros(Clk::now() - s));
      }
    });
  }
  for (auto& t : threads) t.join();
  double total = Micros(Clk::now() - t0) / 1e6;
  lat.clear();
  for (auto& v : per) lat.insert(lat.end(), v.begin(), v.end());
  EXPECT_EQ(lat.size(), static_cast<size_t>(n / kThreads * kThreads));
  Report("redis gate, 4 threads / 4 connections", lat, total);
}

class JetStreamThroughput : public ::testing::TestWithParam<bool> {};

TEST_P(JetStreamThroughput, AsyncPublish) {
  testing::NatsServer nats;
  VV_REQUIRE_SERVER(nats);
  queue::JetStreamOptions o;
  o.nats.url = nats.url();
  o.nats.send_asap = GetParam();
  std::printf("[bench] send_asap=%d\n", o.nats.send_asap ? 1 : 0);
  o.max_in_flight = 4096;
  auto pub = queue::JetStreamPublisher::Create(o);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  testing::FakeClock clock;
  SystemRandom random;
  const int n = Ops() * 5;
  std::string filler(900, 'x');  // ~1 KB envelopes
  std::vector<queue::Envelope> envs;
  envs.reserve(n);
  for (int i = 0; i < n; ++i) {
    json::Value payload = json::Value::MakeObject();
    payload.Set("event_id", "e" + std::to_string(i));
    payload.Set("filler", filler);
    envs.push_back(queue::MakeIngestEnvelope(std::move(payload), json::Value::MakeObject(),
                                             "t/e" + std::to_string(i), clock, random));
  }
  std::atomic<int> ok{0}, done{0}, rejected{0};
  auto t0 = Clk::now();
  for (int i = 0; i < n; ++i) {
    // Respect the in-flight bound like a server would (back off, never block on one ack).
    while ((*pub)->in_flight() >= o.max_in_flight) std::this_thread::yield();
    (*pub)->Publish(envs[i], [&](Status s, queue::PublishOutcome) {
      s.ok() ? ++ok : ++rejected;
      ++done;
    });
  }
  while (done.load() < n) std::this_thread::sleep_for(std::chrono::microseconds(200));
  double total = Micros(Clk::now() - t0) / 1e6;
  EXPECT_EQ(ok.load(), n);
  std::printf("[bench] %-44s n=%d  %.0f msgs/s (1 KB, file storage, max in-flight %zu)\n",
              "jetstream async publish, 1 thread", n, n / total, o.max_in_flight);

  // One-at-a-time (wait for each ack) for comparison.
  std::vector<double> lat;
  int m = std::min(n, 1000);
  t0 = Clk::now();
  for (int i = 0; i < m; ++i) {
    json::Value payload = json::Value::MakeObject();
    payload.Set("event_id", "s" + std::to_string(i));
    payload.Set("filler", filler);
    auto e = queue::MakeIngestEnvelope(std::move(payload), json::Value::MakeObject(),
                                       "t/s" + std::to_string(i), clock, random);
    std::atomic<bool> acked{false};
    auto s = Clk::now();
    (*pub)->Publish(std::move(e), [&](Status, queue::PublishOutcome) { acked = true; });
    while (!acked.load()) std::this_thread::yield();
    lat.push_back(Micros(Clk::now() - s));
  }
  Report("jetstream publish, wait for each ack", lat, Micros(Clk::now() - t0) / 1e6);
}

INSTANTIATE_TEST_SUITE_P(SendAsap, JetStreamThroughput, ::testing::Bool());

}  // namespace
}  // namespace vv

// Black-box on a 3-node NATS JetStream cluster (tests/fakes/nats_cluster.h): vv-gateway
// configured with all three seeds and nats_replicas: 3 creates its queue, DLQ and audit anchor
// streams as R3; when the node its queue connection is on is killed it reconnects to another
// node and keeps accepting (only 202 or 503 while it moves, 202 afterwards; every 202 stored
// exactly once, no 503 stored); it (re)starts with the first seed down and refuses to start
// when no seed answers.

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <map>
#include <thread>

#include "fakes/nats_cluster.h"
#include "fakes/servers.h"
#include "integration/gateway_harness.h"
#include "json/json.h"
#include "queue/jetstream_queue.h"

namespace vv::testing {
namespace {

using namespace std::chrono_literals;

GatewayOptions ClusterOptions(const std::string& urls) {
  GatewayOptions o;
  o.queue_backend = "nats";
  o.nats_url = urls;
  o.seal_every = 2;
  o.extra_yaml = "    nats_replicas: 3\n    audit_anchor: jetstream\n";
  return o;
}

int Send(spectrastrike::HttpsClient& c, const std::string& id, int64_t ts) {
  const std::string nonce = "nonce-" + id;
  auto r = SignBody(MakeTelemetryBody(ts, nonce, id), ts, nonce);
  return c.Post("/internal/v1/telemetry", TelemetryHeaders(r), r.body).status;
}

// Configured replicas of `stream` (-1 when it cannot be read).
int StreamReplicas(const std::string& urls, const std::string& stream) {
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  int replicas = -1;
  std::vector<std::string> list;
  size_t start = 0;
  while (start <= urls.size()) {
    size_t comma = urls.find(',', start);
    if (comma == std::string::npos) comma = urls.size();
    list.push_back(urls.substr(start, comma - start));
    start = comma + 1;
  }
  std::vector<const char*> ptrs;
  for (const auto& u : list) ptrs.push_back(u.c_str());
  if (natsOptions_Create(&opts) == NATS_OK &&
      natsOptions_SetServers(opts, ptrs.data(), static_cast<int>(ptrs.size())) == NATS_OK &&
      natsConnection_Connect(&nc, opts) == NATS_OK && natsConnection_JetStream(&js, nc, nullptr) == NATS_OK) {
    jsStreamInfo* si = nullptr;
    if (js_GetStreamInfo(&si, js, stream.c_str(), nullptr, nullptr) == NATS_OK) {
      replicas = static_cast<int>(si->Config->Replicas);
      jsStreamInfo_Destroy(si);
    }
  }
  if (js) jsCtx_Destroy(js);
  if (nc) natsConnection_Destroy(nc);
  if (opts) natsOptions_Destroy(opts);
  return replicas;
}

TEST(NatsClusterTest, GatewayKeepsAcceptingWhenItsNodeIsKilledAndStreamsAreR3) {
  NatsCluster cluster;
  VV_REQUIRE_CLUSTER(cluster);
  GatewayUnderTest gw(ClusterOptions(cluster.urls()));
  ASSERT_TRUE(gw.started()) << gw.log();
  auto c = gw.Client();
  const int64_t ts = NowSeconds();
  std::map<std::string, int> status_of;
  for (int i = 0; i < 10; ++i) {
    const std::string id = "evt-before-" + std::to_string(i) + "-" + std::to_string(ts);
    status_of[id] = Send(c, id, ts);
    ASSERT_EQ(status_of[id], 202) << gw.log();
  }
  EXPECT_EQ(StreamReplicas(cluster.urls(), "VV_TELEMETRY"), 3);
  EXPECT_EQ(StreamReplicas(cluster.urls(), "VV_TELEMETRY_DLQ"), 3);
  int anchor_replicas = -1;  // created by the anchor sink when it first seals
  for (int i = 0; i < 100 && anchor_replicas != 3; ++i) {
    anchor_replicas = StreamReplicas(cluster.urls(), "VV_AUDIT_ANCHOR");
    if (anchor_replicas != 3) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(anchor_replicas, 3);

  const int victim = cluster.NodeWithClient("vectorvue-telemetry-gateway");
  ASSERT_GE(victim, 0) << "the gateway's queue connection is on no node";
  cluster.Kill(victim);

  // While the connection moves: only 202 or 503 (fail fast, never a hang or a 500); then 202.
  int recovered_at = -1;
  for (int i = 0; i < 600 && recovered_at < 0; ++i) {
    const std::string id = "evt-move-" + std::to_string(i) + "-" + std::to_string(ts);
    const int st = Send(c, id, ts);
    ASSERT_TRUE(st == 202 || st == 503) << "request " << i << " got " << st;
    status_of[id] = st;
    if (st == 202) recovered_at = i;
    else std::this_thread::sleep_for(50ms);
  }
  ASSERT_GE(recovered_at, 0) << "no 202 within the deadline after the node was killed\n" << gw.log();
  for (int i = 0; i < 40; ++i) {
    const std::string id = "evt-after-" + std::to_string(i) + "-" + std::to_string(ts);
    status_of[id] = Send(c, id, ts);
    EXPECT_EQ(status_of[id], 202) << "request " << i << " after recovery";
  }
  const int now_on = cluster.NodeWithClient("vectorvue-telemetry-gateway");
  EXPECT_GE(now_on, 0);
  EXPECT_NE(now_on, victim);

  // With the killed node still down: every 202 stored exactly once, no 503 stored.
  auto stored = StoredEventIds(cluster.urls(), "cluster-check");
  for (const auto& [id, st] : status_of) {
    auto it = stored.find(id);
    if (st == 202) {
      ASSERT_NE(it, stored.end()) << id << " got 202 but is not in the stream";
      EXPECT_EQ(it->second, 1) << id << " stored " << it->second << " times";
    } else {
      EXPECT_EQ(it, stored.end()) << id << " got 503 but is in the stream";
    }
  }
  // The node comes back into the cluster (the fixture waits for it).
  ASSERT_TRUE(cluster.Restart(victim).ok()) << cluster.Log(victim);
}

TEST(NatsClusterTest, GatewayStartsWithTheFirstSeedDownAndRefusesWithNone) {
  NatsCluster cluster;
  VV_REQUIRE_CLUSTER(cluster);
  {
    // First start with every node up creates the R3 streams (as a deployment's first start).
    GatewayUnderTest first(ClusterOptions(cluster.urls()));
    ASSERT_TRUE(first.started()) << first.log();
  }
  cluster.Kill(0);  // the first seed; the other two keep a JetStream quorum
  ASSERT_TRUE(cluster.WaitHealthy().ok());
  {
    GatewayUnderTest gw(ClusterOptions(cluster.urls()));
    ASSERT_TRUE(gw.started()) << gw.log();
    auto c = gw.Client();
    const int64_t ts = NowSeconds();
    EXPECT_EQ(Send(c, "evt-seed-down-" + std::to_string(ts), ts), 202) << gw.log();
  }
  cluster.Kill(1);
  cluster.Kill(2);
  GatewayOptions o = ClusterOptions(cluster.urls());
  o.extra_yaml = "    nats_replicas: 3\n";
  GatewayUnderTest refused(o);
  EXPECT_FALSE(refused.started()) << "started with no NATS seed answering";
  EXPECT_NE(refused.log().find("cannot connect to NATS"), std::string::npos) << refused.log();
}

}  // namespace
}  // namespace vv::testing

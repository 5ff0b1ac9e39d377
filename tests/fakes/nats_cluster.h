#pragma once
// NatsCluster: N real nats-server processes clustered with JetStream on free loopback ports
// (client, cluster-route and monitoring port per node), each with its own store directory.
// Start() starts every node and waits until each one's /healthz reports JetStream current (a
// meta leader elected), so streams with replicas: N can be created right away. Kill(i) stops a
// node with SIGKILL; Restart(i) starts it again on the same ports and store (it rejoins the
// cluster and catches up). urls() is the seed list clients are given ("nats://a,nats://b,...").
//
// Missing nats-server: VV_REQUIRE_SERVER(cluster.node(0)) fails the test unless
// VV_ALLOW_MISSING_SERVERS=1 (then it skips), like every other fixture.
// Thread-safety: none (used from the test thread). Ownership: owns the nodes and their dirs.

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "fakes/servers.h"

namespace vv::testing {

// One clustered node (a TestServer whose ports are chosen by the cluster before any starts).
class NatsClusterNode final : public TestServer {
 public:
  NatsClusterNode(int index, int client_port, int cluster_port, int monitor_port,
                  std::vector<int> route_ports, std::string cluster_name);
  std::string url() const override;  // nats://127.0.0.1:<client port>
  int monitor_port() const { return monitor_port_; }
  // The node's /healthz says JetStream is current (contact with a meta leader).
  bool JetStreamHealthy() const;

 protected:
  std::vector<std::string> Argv() const override;
  bool Answers() const override;  // INFO on the client port and "Server is ready" logged

 private:
  int index_;
  int cluster_port_;
  int monitor_port_;
  std::vector<int> route_ports_;
  std::string cluster_name_;
};

class NatsCluster {
 public:
  explicit NatsCluster(int nodes = 3);
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  // Starts every node, then waits (up to 60 s) until all report JetStream healthy.
  Status Start();
  int size() const { return static_cast<int>(nodes_.size()); }
  NatsClusterNode& node(int i) { return *nodes_.at(static_cast<size_t>(i)); }
  // Every node's client URL, comma-separated (a seed list).
  std::string urls() const;
  std::string url(int i) const { return nodes_.at(static_cast<size_t>(i))->url(); }
  // SIGKILL node i (its ports and store are kept).
  void Kill(int i);
  // Starts node i again and waits (up to 60 s) until every running node is JetStream-healthy.
  Status Restart(int i);
  // Waits until every running node's /healthz is ok.
  Status WaitHealthy(std::chrono::seconds timeout);
  // The logs of every node (for failure messages).
  std::string Logs() const;

 private:
  std::vector<std::unique_ptr<NatsClusterNode>> nodes_;
};

}  // namespace vv::testing

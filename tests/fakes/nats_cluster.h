#pragma once
// NatsCluster: an N-node (default 3) nats-server JetStream cluster on loopback for tests that
// need NATS to survive a node: every node has a client port, a route port and a monitoring
// port (all free loopback ports picked once and kept across restarts), its own JetStream
// store in a private TempDir, and routes to every other node. Start() returns once every node
// answers /healthz and the JetStream meta group has a leader, so R3 streams can be created.
//
//   NatsCluster cluster;            // 3 nodes
//   VV_REQUIRE_CLUSTER(cluster);    // starts it or fails/skips like VV_REQUIRE_SERVER
//   cfg.nats_url = cluster.urls();  // "nats://127.0.0.1:p1,nats://127.0.0.1:p2,..."
//   cluster.Kill(i);                // SIGKILL node i (data and ports kept)
//   cluster.Restart(i);             // start node i again, wait until it is back in the cluster
//   cluster.NodeWithClient("vectorvue-telemetry-gateway")  // which node a client is on
//
// Thread-safety: none; used from the test's thread. Ownership: owns the child processes (killed
// in the destructor) and the temp dir.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "fakes/process.h"
#include "fakes/temp_dir.h"

namespace vv::testing {

class NatsCluster {
 public:
  explicit NatsCluster(int nodes = 3);
  ~NatsCluster();
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  bool binary_found() const { return binary_.has_value(); }
  int size() const { return static_cast<int>(nodes_.size()); }

  // Starts every node that is not running and waits (up to 60 s) until all answer and the
  // JetStream meta group has a leader.
  Status Start();
  // The seed list of every node ("nats://127.0.0.1:p0,nats://127.0.0.1:p1,...").
  std::string urls() const;
  // One node's client URL.
  std::string url(int i) const;
  // SIGKILL node i (no-op when not running); its ports and store are kept.
  void Kill(int i);
  // Starts node i again (after Kill) and waits until it answers /healthz and sees the leader.
  Status Restart(int i);
  // Waits (up to `seconds`) until every running node answers /healthz and sees a meta leader
  // again, e.g. after Kill(i) so that streams led by the killed node have a new leader.
  Status WaitHealthy(int seconds = 60);
  bool running(int i) const { return nodes_[i].process != nullptr; }
  // The node (index) that has a client connection named `connection_name`, or -1.
  int NodeWithClient(const std::string& connection_name) const;
  // The body of GET `path` on node i's monitoring port ("" when it does not answer).
  std::string Monitor(int i, const std::string& path) const;
  // The log of node i (the current run).
  std::string Log(int i) const;

 private:
  struct Node {
    std::string name;
    int client_port = 0, route_port = 0, http_port = 0;
    int starts = 0;
    std::unique_ptr<ChildProcess> process;
  };
  Status StartNode(int i);
  // True once node i answers /healthz with ok and names a meta leader.
  bool Ready(int i) const;
  Status WaitReady(const std::vector<int>& nodes, int seconds);

  std::optional<std::string> binary_;
  TempDir dir_;
  std::vector<Node> nodes_;
};

}  // namespace vv::testing

// Starts `cluster` (a NatsCluster) or fails/skips the current test, as VV_REQUIRE_SERVER.
#define VV_REQUIRE_CLUSTER(cluster)                                                          \
  do {                                                                                       \
    if (!(cluster).binary_found()) {                                                         \
      if (::vv::testing::AllowMissingServers()) {                                            \
        GTEST_SKIP() << "nats-server not installed (VV_ALLOW_MISSING_SERVERS=1)";            \
      }                                                                                      \
      GTEST_FAIL() << "nats-server binary not found: install it (scripts/install-deps.sh) " \
                      "or set VV_ALLOW_MISSING_SERVERS=1 to skip";                           \
    }                                                                                        \
    ::vv::Status _vv_start = (cluster).Start();                                              \
    if (!_vv_start.ok()) GTEST_FAIL() << _vv_start.ToString();                               \
  } while (0)

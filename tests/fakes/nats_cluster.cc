#include "fakes/nats_cluster.h"

#include <chrono>
#include <thread>

namespace vv::testing {

NatsClusterNode::NatsClusterNode(int index, int client_port, int cluster_port, int monitor_port,
                                 std::vector<int> route_ports, std::string cluster_name)
    : TestServer("nats-server"),
      index_(index),
      cluster_port_(cluster_port),
      monitor_port_(monitor_port),
      route_ports_(std::move(route_ports)),
      cluster_name_(std::move(cluster_name)) {
  port_ = client_port;  // fixed before start: the other nodes route to this node's ports
}

std::string NatsClusterNode::url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

std::vector<std::string> NatsClusterNode::Argv() const {
  std::string routes;
  for (int p : route_ports_) {
    if (!routes.empty()) routes += ",";
    routes += "nats://127.0.0.1:" + std::to_string(p);
  }
  return {*binary_,
          "-js",
          "-n", cluster_name_ + "-n" + std::to_string(index_),
          "-a", "127.0.0.1",
          "-p", std::to_string(port_),
          "-m", std::to_string(monitor_port_),
          "--cluster_name", cluster_name_,
          "--cluster", "nats://127.0.0.1:" + std::to_string(cluster_port_),
          "--routes", routes,
          "-sd", (dir_.path() / "jetstream").string()};
}

bool NatsClusterNode::Answers() const {
  return process_ && process_->Log().find("Server is ready") != std::string::npos;
}

bool NatsClusterNode::JetStreamHealthy() const {
  if (!running()) return false;
  std::string out;
  int rc = RunCommand({"/usr/bin/curl", "-s", "-m", "2",
                       "http://127.0.0.1:" + std::to_string(monitor_port_) + "/healthz"},
                      &out);
  return rc == 0 && out.find("\"ok\"") != std::string::npos;
}

NatsCluster::NatsCluster(int nodes) {
  std::vector<int> client, cluster, monitor;
  for (int i = 0; i < nodes; ++i) {
    client.push_back(FreeLoopbackPort());
    cluster.push_back(FreeLoopbackPort());
    monitor.push_back(FreeLoopbackPort());
  }
  const std::string name = "vvtest" + std::to_string(client[0]);
  for (int i = 0; i < nodes; ++i) {
    std::vector<int> routes;
    for (int j = 0; j < nodes; ++j)
      if (j != i) routes.push_back(cluster[static_cast<size_t>(j)]);
    nodes_.push_back(std::make_unique<NatsClusterNode>(
        i, client[static_cast<size_t>(i)], cluster[static_cast<size_t>(i)],
        monitor[static_cast<size_t>(i)], routes, name));
  }
}

Status NatsCluster::Start() {
  for (auto& n : nodes_) {
    Status s = n->Start();
    if (!s.ok()) return s;
  }
  return WaitHealthy(std::chrono::seconds(60));
}

std::string NatsCluster::urls() const {
  std::string out;
  for (const auto& n : nodes_) {
    if (!out.empty()) out += ",";
    out += n->url();
  }
  return out;
}

void NatsCluster::Kill(int i) { node(i).Stop(/*hard=*/true); }

Status NatsCluster::Restart(int i) {
  Status s = node(i).Start();  // same ports, same store directory
  if (!s.ok()) return s;
  return WaitHealthy(std::chrono::seconds(60));
}

Status NatsCluster::WaitHealthy(std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool all = true;
    for (const auto& n : nodes_)
      if (n->running() && !n->JetStreamHealthy()) all = false;
    if (all) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline)
      return Status::Unavailable("NATS cluster not JetStream-healthy within " +
                                 std::to_string(timeout.count()) + " s:\n" + Logs());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::string NatsCluster::Logs() const {
  std::string out;
  for (const auto& n : nodes_) {
    std::string log = n->Log();
    if (log.size() > 4000) log = log.substr(log.size() - 4000);
    out += "--- " + n->url() + "\n" + log;
  }
  return out;
}

}  // namespace vv::testing

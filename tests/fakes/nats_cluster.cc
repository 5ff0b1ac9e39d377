#include "fakes/nats_cluster.h"

#include <chrono>
#include <filesystem>
#include <thread>

#include "fakes/raw_http.h"
#include "fakes/servers.h"
#include "json/json.h"

namespace vv::testing {

namespace {

std::string Loopback(int port) { return "127.0.0.1:" + std::to_string(port); }

// The body of an HTTP response ("" when there is none).
std::string Body(const std::string& response) {
  const size_t sep = response.find("\r\n\r\n");
  return sep == std::string::npos ? std::string() : response.substr(sep + 4);
}

}  // namespace

NatsCluster::NatsCluster(int nodes) : binary_(FindBinary("nats-server")), nodes_(nodes) {
  for (int i = 0; i < nodes; ++i) {
    Node& n = nodes_[i];
    n.name = "n" + std::to_string(i);
    n.client_port = FreeLoopbackPort();
    n.route_port = FreeLoopbackPort();
    n.http_port = FreeLoopbackPort();
  }
}

NatsCluster::~NatsCluster() {
  for (int i = 0; i < size(); ++i) Kill(i);
}

std::string NatsCluster::url(int i) const {
  return "nats://" + Loopback(nodes_[i].client_port);
}

std::string NatsCluster::urls() const {
  std::string out;
  for (int i = 0; i < size(); ++i) out += (i == 0 ? "" : ",") + url(i);
  return out;
}

Status NatsCluster::StartNode(int i) {
  if (!binary_) return Status::NotFound("nats-server binary not found");
  Node& n = nodes_[i];
  if (n.process) return Status::Ok();
  if (n.client_port == 0 || n.route_port == 0 || n.http_port == 0)
    return Status::Unavailable("no free loopback port");
  std::string routes;
  for (int j = 0; j < size(); ++j) {
    if (j == i) continue;
    routes += std::string(routes.empty() ? "" : ", ") + "nats-route://" +
              Loopback(nodes_[j].route_port);
  }
  const std::string store = (dir_.path() / (n.name + "-store")).string();
  std::filesystem::create_directories(store);
  const std::string conf = dir_.File(n.name + ".conf");
  WriteFile(conf,
            "server_name: " + n.name + "\n"
            "listen: " + Loopback(n.client_port) + "\n"
            "http: " + Loopback(n.http_port) + "\n"
            "jetstream { store_dir: \"" + store + "\" }\n"
            "cluster {\n"
            "  name: vvtest\n"
            "  listen: " + Loopback(n.route_port) + "\n"
            "  routes: [" + routes + "]\n"
            "}\n");
  ++n.starts;
  n.process = std::make_unique<ChildProcess>(
      std::vector<std::string>{*binary_, "-c", conf},
      dir_.File(n.name + "-" + std::to_string(n.starts) + ".log"));
  return Status::Ok();
}

std::string NatsCluster::Monitor(int i, const std::string& path) const {
  if (!nodes_[i].process) return std::string();
  // HTTP/1.0: the server then never answers with chunked transfer encoding (Go's net/http
  // chunks bodies over 2 KiB for 1.1 clients, e.g. /jsz?consumers=true), so Body() is the JSON.
  return Body(LoopbackHttpExchange(
      static_cast<uint16_t>(nodes_[i].http_port),
      "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
}

bool NatsCluster::Ready(int i) const {
  auto health = json::Parse(Monitor(i, "/healthz"));
  if (!health.ok() || !health->is_object() || !health->Find("status") ||
      health->Find("status")->as_string() != "ok")
    return false;
  auto jsz = json::Parse(Monitor(i, "/jsz"));
  if (!jsz.ok() || !jsz->is_object()) return false;
  const json::Value* meta = jsz->Find("meta_cluster");
  if (meta == nullptr || !meta->is_object()) return false;
  const json::Value* leader = meta->Find("leader");
  return leader != nullptr && leader->is_string() && !leader->as_string().empty();
}

Status NatsCluster::WaitReady(const std::vector<int>& which, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    bool all = true;
    for (int i : which) {
      if (nodes_[i].process && nodes_[i].process->WaitExit(std::chrono::milliseconds(0))) {
        std::string log = nodes_[i].process->Log();
        nodes_[i].process.reset();
        return Status::Unavailable(nodes_[i].name + " exited during start-up: " + log);
      }
      all = all && Ready(i);
    }
    if (all) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string logs;
  for (int i : which) logs += "\n--- " + nodes_[i].name + " ---\n" + Log(i);
  return Status::Unavailable("nats cluster not ready within " + std::to_string(seconds) +
                             " s (healthz ok and a JetStream meta leader on every node)" + logs);
}

Status NatsCluster::Start() {
  std::vector<int> all;
  for (int i = 0; i < size(); ++i) {
    if (Status s = StartNode(i); !s.ok()) return s;
    all.push_back(i);
  }
  return WaitReady(all, 60);
}

Status NatsCluster::WaitHealthy(int seconds) {
  std::vector<int> up;
  for (int i = 0; i < size(); ++i)
    if (running(i)) up.push_back(i);
  return WaitReady(up, seconds);
}

void NatsCluster::Kill(int i) {
  if (!nodes_[i].process) return;
  nodes_[i].process->Terminate(9, std::chrono::seconds(5));
  nodes_[i].process.reset();
}

Status NatsCluster::Restart(int i) {
  if (Status s = StartNode(i); !s.ok()) return s;
  return WaitReady({i}, 60);
}

int NatsCluster::NodeWithClient(const std::string& connection_name) const {
  for (int i = 0; i < size(); ++i) {
    auto connz = json::Parse(Monitor(i, "/connz?limit=1024"));
    if (!connz.ok() || !connz->is_object()) continue;
    const json::Value* conns = connz->Find("connections");
    if (conns == nullptr || !conns->is_array()) continue;
    for (const json::Value& c : conns->as_array()) {
      const json::Value* name = c.is_object() ? c.Find("name") : nullptr;
      if (name != nullptr && name->is_string() && name->as_string() == connection_name) return i;
    }
  }
  return -1;
}

std::string NatsCluster::Log(int i) const {
  return nodes_[i].process ? nodes_[i].process->Log() : std::string();
}

}  // namespace vv::testing

#include "app/router.h"

#include <cstdio>
#include <cstdlib>

namespace vv::app {

void Router::Add(Endpoint e) {
  if (Find(e.path) != nullptr) {
    // A wiring bug, found at start-up: say so on stderr and stop.
    std::fprintf(stderr, "router: endpoint %.*s registered twice\n",
                 static_cast<int>(e.path.size()), e.path.data());
    std::abort();
  }
  endpoints_.push_back(std::move(e));
}

void Router::Add(std::vector<Endpoint> rows) {
  for (auto& e : rows) Add(std::move(e));
}

const Endpoint* Router::Find(std::string_view path) const {
  for (const Endpoint& e : endpoints_)
    if (e.path == path) return &e;
  return nullptr;
}

}  // namespace vv::app

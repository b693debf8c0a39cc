#include "model/model.h"

#include <set>

namespace tern::model {

const char* ToString(Protocol p) {
  switch (p) {
    case Protocol::kHttp: return "http";
    case Protocol::kHttp2: return "http2";
    case Protocol::kGrpc: return "grpc";
    case Protocol::kTcp: return "tcp";
  }
  return "?";
}

const char* ToString(Health h) {
  switch (h) {
    case Health::kPassing: return "passing";
    case Health::kWarning: return "warning";
    case Health::kCritical: return "critical";
    case Health::kMaintenance: return "maintenance";
  }
  return "?";
}

const char* ToString(LbPolicy p) {
  switch (p) {
    case LbPolicy::kRoundRobin: return "round_robin";
    case LbPolicy::kLeastRequest: return "least_request";
    case LbPolicy::kRandom: return "random";
    case LbPolicy::kRingHash: return "ring_hash";
    case LbPolicy::kMaglev: return "maglev";
  }
  return "?";
}

namespace {
template <typename Map>
void MergeMap(const Map& from, Map& into, const char* what, std::vector<Problem>* problems) {
  for (const auto& [name, value] : from) {
    auto [it, inserted] = into.emplace(name, value);
    if (!inserted && problems) {
      problems->push_back({value.origin, std::string(what) + " '" + name +
                                             "' is already defined at " + it->second.origin});
    }
  }
}

void CheckRoutes(const World& w, const std::vector<Route>& routes, std::vector<Problem>& out) {
  for (const auto& r : routes) {
    if (r.action.redirect) continue;
    if (r.action.clusters.empty()) {
      out.push_back({r.origin, "route has no destination"});
      continue;
    }
    uint64_t total = 0;
    for (const auto& wc : r.action.clusters) {
      total += wc.weight;
      if (!w.clusters.contains(wc.cluster)) {
        out.push_back({r.origin, "route refers to unknown service '" + wc.cluster + "'"});
      }
    }
    if (r.action.clusters.size() > 1 && total == 0) {
      out.push_back({r.origin, "weighted split has a total weight of 0"});
    }
  }
}
}  // namespace

World Merge(const std::vector<const World*>& fragments, std::vector<Problem>* problems) {
  World out;
  for (const World* f : fragments) {
    MergeMap(f->clusters, out.clusters, "service", problems);
    MergeMap(f->gateways, out.gateways, "gateway", problems);
    MergeMap(f->service_routes, out.service_routes, "routes for service", problems);
  }
  return out;
}

std::vector<Problem> Validate(const World& world) {
  std::vector<Problem> out;
  std::set<std::string> listener_names;
  for (const auto& [gname, g] : world.gateways) {
    std::set<std::pair<std::string, uint32_t>> ports;
    for (const auto& l : g.listeners) {
      if (!ports.emplace(l.address, l.port).second) {
        out.push_back({l.origin, "port " + std::to_string(l.port) + " is used twice in gateway '" + gname + "'"});
      }
      if (l.protocol == Protocol::kTcp) {
        if (!world.clusters.contains(l.tcp_cluster)) {
          out.push_back({l.origin, "tcp listener refers to unknown service '" + l.tcp_cluster + "'"});
        }
      }
      for (const auto& vh : l.virtual_hosts) CheckRoutes(world, vh.routes, out);
    }
  }
  for (const auto& [svc, sr] : world.service_routes) CheckRoutes(world, sr.routes, out);
  return out;
}

}  // namespace tern::model

#include "translate/endpoint_builder.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

namespace tern::translate {
namespace {

namespace core = envoy::config::core::v3;

bool Usable(const model::Endpoint& e) {
  return e.weight > 0 && (e.health == model::Health::kPassing || e.health == model::Health::kWarning);
}

}  // namespace

std::unique_ptr<envoy::config::endpoint::v3::ClusterLoadAssignment> BuildLoadAssignment(
    const model::Cluster& c) {
  auto out = std::make_unique<envoy::config::endpoint::v3::ClusterLoadAssignment>();
  out->set_cluster_name(c.name);

  std::map<std::pair<uint32_t, std::string>, std::vector<const model::Endpoint*>> groups;
  for (const auto& e : c.endpoints) {
    if (Usable(e)) groups[{e.priority, e.zone}].push_back(&e);
  }
  // gRPC rejects an assignment whose priorities have gaps, so 2 and 5 become 0 and 1.
  std::map<uint32_t, uint32_t> priority_rank;
  for (const auto& [key, _] : groups) priority_rank.emplace(key.first, 0);
  uint32_t next = 0;
  for (auto& [_, rank] : priority_rank) rank = next++;

  for (auto& [key, endpoints] : groups) {
    std::sort(endpoints.begin(), endpoints.end(), [](const model::Endpoint* a, const model::Endpoint* b) {
      return std::tie(a->address, a->port, a->id) < std::tie(b->address, b->port, b->id);
    });
    auto* loc = out->add_endpoints();
    loc->mutable_locality()->set_zone(key.second);
    loc->set_priority(priority_rank[key.first]);
    uint64_t total = 0;
    for (const model::Endpoint* e : endpoints) {
      auto* lb = loc->add_lb_endpoints();
      auto* sa = lb->mutable_endpoint()->mutable_address()->mutable_socket_address();
      sa->set_address(e->address);
      sa->set_port_value(e->port);
      lb->set_health_status(e->health == model::Health::kPassing ? core::HEALTHY : core::DEGRADED);
      lb->mutable_load_balancing_weight()->set_value(e->weight);
      total += e->weight;
    }
    // Envoy caps a locality's weight at uint32 (and the sum over a priority too); gRPC ignores
    // a locality without weight, so it is always at least 1 here.
    constexpr uint64_t kMax = 0xFFFFFFFFull;
    loc->mutable_load_balancing_weight()->set_value(static_cast<uint32_t>(std::clamp<uint64_t>(total, 1, kMax)));
  }
  return out;
}

}  // namespace tern::translate

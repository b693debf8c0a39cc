#include "sources/consul/limits.h"

#include <optional>
#include <set>

namespace tern::sources::consul {
namespace {

model::OutlierDetection ToOutlierDetection(const PassiveHealthCheck& c) {
  model::OutlierDetection o;  // Envoy's defaults where Consul sets nothing
  if (c.interval) o.interval = *c.interval;
  if (c.max_failures) o.consecutive_5xx = *c.max_failures;
  if (c.enforcing_consecutive_5xx) o.enforcing_consecutive_5xx = c.enforcing_consecutive_5xx;
  if (c.max_ejection_percent) o.max_ejection_percent = *c.max_ejection_percent;
  if (c.base_ejection_time) o.base_ejection_time = *c.base_ejection_time;
  return o;
}

// UpstreamConfig as Consul resolves it for one upstream: the override named like it merged into
// Defaults block by block (its Limits, PassiveHealthCheck and ConnectTimeoutMs each replace
// Defaults' whole when set).
UpstreamSettings UpstreamConfigFor(const ServiceDefaults& own, const std::string& service) {
  UpstreamSettings out = own.upstream_defaults;
  auto o = own.upstream_overrides.find(service);
  if (o == own.upstream_overrides.end()) return out;
  const UpstreamSettings& over = o->second;
  if (over.max_connections || over.max_pending_requests || over.max_concurrent_requests) {
    out.max_connections = over.max_connections;
    out.max_pending_requests = over.max_pending_requests;
    out.max_concurrent_requests = over.max_concurrent_requests;
  }
  if (over.passive_health_check) out.passive_health_check = over.passive_health_check;
  if (over.connect_timeout) out.connect_timeout = over.connect_timeout;
  if (!over.empty()) out.origin = over.origin;
  return out;
}

bool SameSettings(model::UpstreamPolicy a, model::UpstreamPolicy b) {
  a.origin.clear();
  b.origin.clear();
  return a == b;
}

}  // namespace

model::UpstreamPolicy MergeUpstreamSettings(const std::vector<const UpstreamSettings*>& layers) {
  model::UpstreamPolicy p;
  for (const UpstreamSettings* l : layers) {
    if (!l || l->empty()) continue;
    if (p.origin.empty()) p.origin = l->origin;
    model::CircuitBreakers& cb = p.circuit_breakers;
    if (!cb.max_connections) cb.max_connections = l->max_connections;
    if (!cb.max_pending_requests) cb.max_pending_requests = l->max_pending_requests;
    if (!cb.max_requests) cb.max_requests = l->max_concurrent_requests;
    if (!p.outlier_detection && l->passive_health_check) p.outlier_detection = ToOutlierDetection(*l->passive_health_check);
    if (!p.connect_timeout) p.connect_timeout = l->connect_timeout;
  }
  return p;
}

void ApplyIngressLimits(const std::vector<IngressGateway>& ingress, const std::map<std::string, ServiceDefaults>& defaults,
                        model::World* world, std::vector<model::Problem>* problems) {
  for (const IngressGateway& entry : ingress) {
    auto gw = world->gateways.find(entry.name);
    if (gw == world->gateways.end()) continue;
    // The gateway's own service-defaults: the gateway as a caller of the services it exposes.
    const ServiceDefaults* own = nullptr;
    if (auto d = defaults.find(entry.name); d != defaults.end()) own = &d->second;
    std::map<std::string, model::UpstreamPolicy>& out = gw->second.upstreams;
    out.clear();
    std::map<std::string, std::string> set_by;  // cluster → the exposed service whose settings it has
    for (const IngressListener& il : entry.listeners) {
      const model::Listener* l = nullptr;
      for (const auto& candidate : gw->second.listeners) {
        if (candidate.port == il.port) l = &candidate;
      }
      if (!l) continue;
      // (service, clusters it reaches) for this listener
      std::vector<std::pair<std::string, std::set<std::string>>> reached;
      if (l->protocol == model::Protocol::kTcp) {
        if (!il.services.empty() && !l->tcp_cluster.empty()) reached.push_back({il.services[0].name, {l->tcp_cluster}});
      } else {
        for (const auto& vh : l->virtual_hosts) {
          std::set<std::string> clusters;
          for (const auto& r : vh.routes) {
            for (const auto& wc : r.action.clusters) clusters.insert(wc.cluster);
          }
          reached.push_back({vh.name, std::move(clusters)});
        }
      }
      for (const auto& [service, clusters] : reached) {
        const IngressService* exposed = nullptr;
        const IngressService* wildcard = nullptr;
        for (const auto& s : il.services) {
          if (s.name == service) exposed = &s;
          if (s.name == "*") wildcard = &s;
        }
        if (!exposed) exposed = wildcard;
        std::optional<UpstreamSettings> upstream_config;
        if (own) upstream_config = UpstreamConfigFor(*own, service);
        model::UpstreamPolicy policy = MergeUpstreamSettings(
            {exposed ? &exposed->limits : nullptr, &entry.defaults, upstream_config ? &*upstream_config : nullptr});
        if (policy.empty()) continue;
        for (const auto& c : clusters) {
          auto [it, added] = out.emplace(c, policy);
          if (added) {
            set_by[c] = service;
          } else if (!SameSettings(it->second, policy)) {
            problems->push_back({policy.origin, "cluster '" + c + "' is reached through services '" + set_by[c] +
                                                    "' and '" + service + "' with different limits; the gateway uses "
                                                    "those of '" + set_by[c] + "' (" + it->second.origin + ")"});
          }
        }
      }
    }
  }
}

}  // namespace tern::sources::consul

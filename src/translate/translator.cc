#include "translate/translator.h"

#include <algorithm>
#include <set>

#include "translate/cluster_builder.h"
#include "translate/endpoint_builder.h"
#include "translate/http_policy.h"
#include "translate/listener_builder.h"
#include "translate/route_builder.h"
#include "translate/tls_builder.h"

namespace tern::translate {
namespace {

constexpr char kServiceRoutePrefix[] = "svc/";

void AddClusterDependencies(const std::set<std::string>& clusters, GatewayResources* out) {
  for (const auto& c : clusters) {
    out->clusters.push_back(c);
    out->dependencies.push_back({ResourceType::kCluster, c, ResourceType::kEndpoint, c});
  }
}

void AddRouteDependencies(const std::string& route_name, const std::set<std::string>& clusters,
                          GatewayResources* out) {
  for (const auto& c : clusters) {
    out->dependencies.push_back({ResourceType::kRoute, route_name, ResourceType::kCluster, c});
  }
}

// The secrets a gateway's listeners and used clusters name, with the dependencies that make the
// snapshot consistency check cover them.
void AddSecrets(const model::World& world, const std::vector<const model::Listener*>& listeners,
                const std::set<std::string>& clusters, GatewayResources* out) {
  std::set<std::string> secrets;
  auto use = [&](ResourceType from_type, const std::string& from, const std::string& secret) {
    if (secret.empty()) return;
    secrets.insert(secret);
    out->dependencies.push_back({from_type, from, ResourceType::kSecret, secret});
  };
  for (const model::Listener* l : listeners) {
    if (!l->tls) continue;
    for (const auto& cert : l->tls->certs) use(ResourceType::kListener, l->name, cert.secret);
    use(ResourceType::kListener, l->name, l->tls->client_ca_secret);
  }
  for (const auto& c : clusters) {
    auto it = world.clusters.find(c);
    if (it == world.clusters.end() || !it->second.tls) continue;
    use(ResourceType::kCluster, c, it->second.tls->ca_secret);
    use(ResourceType::kCluster, c, it->second.tls->client_cert_secret);
  }
  out->secrets.assign(secrets.begin(), secrets.end());
}

// The gateway with the world's defaults filled in where it has no setting of its own: what its
// translation depends on (so a change of defaults rebuilds the gateways that use them).
model::Gateway Effective(const model::World& world, const model::Gateway& gw) {
  model::Gateway out = gw;
  if (!world.defaults) return out;
  if (!out.tracing) out.tracing = world.defaults->tracing;
  if (!out.access_logs) out.access_logs = world.defaults->access_logs;
  if (!out.request_id) out.request_id = world.defaults->request_id;
  return out;
}

GatewayResources TranslateGateway(const model::World& world, const model::Gateway& gw,
                                  const Options& options) {
  GatewayResources out;
  HttpPolicy policy{.gateway = gw.name,
                    .tracing = gw.tracing ? &*gw.tracing : nullptr,
                    .access_logs = gw.access_logs ? &*gw.access_logs : nullptr,
                    .request_id = gw.request_id.value_or(model::RequestId{})};
  std::vector<const model::Listener*> listeners;
  for (const auto& l : gw.listeners) listeners.push_back(&l);
  std::sort(listeners.begin(), listeners.end(),
            [](const model::Listener* a, const model::Listener* b) { return a->name < b->name; });

  std::set<std::string> used;
  // Telemetry collectors are clusters the gateway's Envoys must have, like those it routes to.
  std::vector<std::string> collectors;
  if (gw.tracing) collectors.push_back(gw.tracing->collector_cluster);
  if (gw.access_logs) {
    for (const auto& log : *gw.access_logs) {
      if (log.sink == model::AccessLog::Sink::kGrpc) collectors.push_back(log.grpc_cluster);
    }
  }
  for (const model::Listener* l : listeners) {
    out.listeners.push_back({l->name, BuildGatewayListener(*l, options.ads_config_source, policy)});
    if (l->protocol != model::Protocol::kTcp) {
      for (const auto& c : collectors) {
        if (!world.clusters.contains(c)) continue;
        used.insert(c);
        out.dependencies.push_back({ResourceType::kListener, l->name, ResourceType::kCluster, c});
      }
    }
    if (l->protocol == model::Protocol::kTcp) {
      if (world.clusters.contains(l->tcp_cluster)) {
        used.insert(l->tcp_cluster);
        out.dependencies.push_back({ResourceType::kListener, l->name, ResourceType::kCluster, l->tcp_cluster});
      }
      continue;
    }
    std::set<std::string> route_used;
    RouteBuilder routes(world.clusters, &route_used, /*gateway_filters=*/true);
    out.routes.push_back({l->name, routes.Build(l->name, l->virtual_hosts)});
    out.dependencies.push_back({ResourceType::kListener, l->name, ResourceType::kRoute, l->name});
    AddRouteDependencies(l->name, route_used, &out);
    used.insert(route_used.begin(), route_used.end());
  }
  AddClusterDependencies(used, &out);
  AddSecrets(world, listeners, used, &out);
  return out;
}

// One service's API listener and route configuration (what a proxyless client dialing
// xds:///SERVICE receives).
GatewayResources TranslateService(const model::World& world, const std::string& service, const Options& options) {
  GatewayResources out;
  const std::string route_name = kServiceRoutePrefix + service;
  out.listeners.push_back({service, BuildApiListener(service, route_name, options.ads_config_source)});
  out.dependencies.push_back({ResourceType::kListener, service, ResourceType::kRoute, route_name});

  model::VirtualHost vh;
  vh.name = service;
  vh.domains = {"*"};
  if (auto it = world.service_routes.find(service); it != world.service_routes.end()) {
    vh.routes = it->second.routes;
  } else {
    model::Route all;
    all.action.clusters.push_back({.cluster = service, .weight = 1});
    vh.routes.push_back(std::move(all));
  }
  std::set<std::string> route_used;
  RouteBuilder routes(world.clusters, &route_used);
  out.routes.push_back({route_name, routes.Build(route_name, {vh})});
  AddRouteDependencies(route_name, route_used, &out);
  return out;
}

void Append(GatewayResources& into, const GatewayResources& piece) {
  into.listeners.insert(into.listeners.end(), piece.listeners.begin(), piece.listeners.end());
  into.routes.insert(into.routes.end(), piece.routes.begin(), piece.routes.end());
  into.dependencies.insert(into.dependencies.end(), piece.dependencies.begin(), piece.dependencies.end());
}

// What gateway and service translations depend on beyond their own model: which clusters exist
// (a route to a missing cluster becomes a 503) and the clusters' TLS settings (their secrets).
std::string Shape(const model::World& world) {
  std::string out;
  for (const auto& [name, c] : world.clusters) {
    out += name;
    if (c.tls) out += "\x01" + c.tls->ca_secret + "\x01" + c.tls->client_cert_secret;
    out += '\0';
  }
  return out;
}

}  // namespace

Translation Translate(const model::World& world, const Options& options) {
  return IncrementalTranslator(options).Translate(world);
}

Translation IncrementalTranslator::Translate(const model::World& world) {
  Translation out;
  const std::string shape = Shape(world);
  const bool same_shape = shape == shape_;

  std::map<std::string, ClusterEntry> clusters;
  for (const auto& [name, c] : world.clusters) {
    auto prev = clusters_.find(name);
    if (prev != clusters_.end() && prev->second.model == c) {
      clusters.emplace(name, std::move(prev->second));
    } else {
      // The map key is the resource name; a model cluster whose own name field disagrees is
      // translated under the key so that references (which use keys) resolve.
      model::Cluster named = c;
      named.name = name;
      ClusterEntry e{c, BuildCluster(named, options_.ads_config_source), BuildLoadAssignment(named)};
      clusters.emplace(name, std::move(e));
    }
    out.clusters.emplace(name, clusters[name].cluster);
    out.endpoints.emplace(name, clusters[name].endpoints);
  }
  clusters_ = std::move(clusters);

  for (const auto& [name, s] : world.secrets) {
    model::Secret named = s;
    named.name = name;
    out.secrets.emplace(name, BuildSecret(named));
  }

  std::map<std::string, GatewayEntry> gateways;
  for (const auto& [name, declared] : world.gateways) {
    model::Gateway gw = Effective(world, declared);
    auto prev = gateways_.find(name);
    if (same_shape && prev != gateways_.end() && prev->second.model == gw) {
      gateways.emplace(name, std::move(prev->second));
    } else {
      auto out_gw = TranslateGateway(world, gw, options_);
      gateways.emplace(name, GatewayEntry{std::move(gw), std::move(out_gw)});
    }
    out.gateways.emplace(name, gateways[name].out);
  }
  gateways_ = std::move(gateways);

  std::set<std::string> services;
  for (const auto& [name, _] : world.clusters) services.insert(name);
  for (const auto& [name, _] : world.service_routes) services.insert(name);
  std::map<std::string, ServiceEntry> entries;
  for (const auto& service : services) {
    std::optional<model::ServiceRoutes> routes;
    if (auto it = world.service_routes.find(service); it != world.service_routes.end()) routes = it->second;
    auto prev = services_.find(service);
    if (same_shape && prev != services_.end() && prev->second.routes == routes) {
      entries.emplace(service, std::move(prev->second));
    } else {
      entries.emplace(service, ServiceEntry{routes, TranslateService(world, service, options_)});
    }
    Append(out.mesh, entries[service].out);
  }
  services_ = std::move(entries);
  std::set<std::string> all;
  for (const auto& [name, _] : world.clusters) all.insert(name);
  AddClusterDependencies(all, &out.mesh);
  shape_ = shape;
  return out;
}

}  // namespace tern::translate

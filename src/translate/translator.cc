#include "translate/translator.h"

#include <algorithm>
#include <set>

#include "translate/cluster_builder.h"
#include "translate/endpoint_builder.h"
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

GatewayResources TranslateGateway(const model::World& world, const model::Gateway& gw,
                                  const Options& options) {
  GatewayResources out;
  std::vector<const model::Listener*> listeners;
  for (const auto& l : gw.listeners) listeners.push_back(&l);
  std::sort(listeners.begin(), listeners.end(),
            [](const model::Listener* a, const model::Listener* b) { return a->name < b->name; });

  std::set<std::string> used;
  for (const model::Listener* l : listeners) {
    out.listeners.push_back({l->name, BuildGatewayListener(*l, options.ads_config_source)});
    if (l->protocol == model::Protocol::kTcp) {
      if (world.clusters.contains(l->tcp_cluster)) {
        used.insert(l->tcp_cluster);
        out.dependencies.push_back({ResourceType::kListener, l->name, ResourceType::kCluster, l->tcp_cluster});
      }
      continue;
    }
    std::set<std::string> route_used;
    RouteBuilder routes(world.clusters, &route_used);
    out.routes.push_back({l->name, routes.Build(l->name, l->virtual_hosts)});
    out.dependencies.push_back({ResourceType::kListener, l->name, ResourceType::kRoute, l->name});
    AddRouteDependencies(l->name, route_used, &out);
    used.insert(route_used.begin(), route_used.end());
  }
  AddClusterDependencies(used, &out);
  AddSecrets(world, listeners, used, &out);
  return out;
}

GatewayResources TranslateMesh(const model::World& world, const Options& options) {
  GatewayResources out;
  std::set<std::string> services;
  for (const auto& [name, _] : world.clusters) services.insert(name);
  for (const auto& [name, _] : world.service_routes) services.insert(name);

  for (const auto& service : services) {
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
  }
  std::set<std::string> all;
  for (const auto& [name, _] : world.clusters) all.insert(name);
  AddClusterDependencies(all, &out);
  return out;
}

}  // namespace

Translation Translate(const model::World& world, const Options& options) {
  Translation out;
  for (const auto& [name, c] : world.clusters) {
    // The map key is the resource name; a model cluster whose own name field disagrees is
    // translated under the key so that references (which use keys) resolve.
    model::Cluster named = c;
    named.name = name;
    out.clusters.emplace(name, BuildCluster(named, options.ads_config_source));
    out.endpoints.emplace(name, BuildLoadAssignment(named));
  }
  for (const auto& [name, s] : world.secrets) {
    model::Secret named = s;
    named.name = name;
    out.secrets.emplace(name, BuildSecret(named));
  }
  for (const auto& [name, gw] : world.gateways) out.gateways.emplace(name, TranslateGateway(world, gw, options));
  out.mesh = TranslateMesh(world, options);
  return out;
}

}  // namespace tern::translate

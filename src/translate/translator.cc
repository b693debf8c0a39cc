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
// Only its policy fields (not its listeners: copying thousands of virtual hosts per change would
// cost what the gateway is, not what changed).
model::Gateway Effective(const model::World& world, const model::Gateway& gw) {
  model::Gateway out;
  out.name = gw.name;
  out.tracing = gw.tracing;
  out.access_logs = gw.access_logs;
  out.request_id = gw.request_id;
  out.vhds = gw.vhds;
  if (!world.defaults) return out;
  if (!out.tracing) out.tracing = world.defaults->tracing;
  if (!out.access_logs) out.access_logs = world.defaults->access_logs;
  if (!out.request_id) out.request_id = world.defaults->request_id;
  return out;
}

// `host` without its origins (which name file positions and never reach Envoy): a host that
// only moved in its file is the same host.
model::VirtualHost WithoutOrigins(const model::VirtualHost& host) {
  model::VirtualHost out = host;
  out.origin.clear();
  if (out.rate_limit) out.rate_limit->origin.clear();
  for (auto& r : out.routes) {
    r.origin.clear();
    if (r.rate_limit) r.rate_limit->origin.clear();
  }
  return out;
}

// The on-demand virtual hosts of gateway listener `l`, reusing from `previous` the message of
// every host whose inputs did not change; `next` receives every host's entry.
void TranslateHosts(const model::World& world, const model::Listener& l, IncrementalTranslator::HostCache* previous,
                    IncrementalTranslator::HostCache* next, size_t* built, std::set<std::string>* used,
                    GatewayResources* out) {
  auto domains = RouteBuilder::ClaimDomains(l.virtual_hosts);
  for (size_t i = 0; i < l.virtual_hosts.size(); ++i) {
    if (domains[i].empty()) continue;  // dropped, as inline
    const model::VirtualHost& vh = l.virtual_hosts[i];
    // Resource names must be unique; virtual host names are unique in a listener as sources make
    // them, but an unnamed host is named after its first domain, which may be taken.
    const std::string base = l.name + "/" + (vh.name.empty() ? domains[i].front() : vh.name);
    std::string name = base;
    for (int n = 2; next->contains(name); ++n) name = base + "#" + std::to_string(n);
    std::vector<std::pair<std::string, bool>> clusters;
    for (const auto& r : vh.routes) {
      for (const auto& wc : r.action.clusters) clusters.emplace_back(wc.cluster, world.clusters.contains(wc.cluster));
    }
    IncrementalTranslator::HostEntry e;
    bool reused = false;
    if (auto it = previous->find(name); it != previous->end()) {
      IncrementalTranslator::HostEntry& was = it->second;
      if (was.domains == domains[i] && was.clusters == clusters) {
        if (was.host == vh) {
          e = std::move(was);
          reused = true;
        } else if (WithoutOrigins(was.host) == WithoutOrigins(vh)) {  // moved in its file
          e = std::move(was);
          e.host = vh;
          reused = true;
        }
      }
    }
    if (!reused) {
      e.host = vh;
      e.domains = domains[i];
      e.clusters = std::move(clusters);
      auto msg = std::make_unique<envoy::config::route::v3::VirtualHost>();
      RouteBuilder(world.clusters, &e.used, /*gateway_filters=*/true).BuildHost(l.name, vh, domains[i], msg.get(), name);
      e.message = MessagePtr(std::move(msg));
      ++*built;
    }
    for (const auto& c : e.used) out->dependencies.push_back({ResourceType::kVirtualHost, name, ResourceType::kCluster, c});
    used->insert(e.used.begin(), e.used.end());
    out->virtual_hosts.push_back({name, e.message, e.domains});
    next->emplace(std::move(name), std::move(e));
  }
}

// `previous_hosts`: the on-demand virtual hosts of this gateway's last translation (may be null);
// `hosts` receives this one's; `built` counts the host messages built.
// `gw`: the gateway's listeners and, from Effective(), its policy.
GatewayResources TranslateGateway(const model::World& world, const model::Gateway& own, const model::Gateway& gw,
                                  const Options& options, IncrementalTranslator::HostCache* previous_hosts,
                                  IncrementalTranslator::HostCache* hosts, size_t* built) {
  GatewayResources out;
  HttpPolicy policy{.gateway = gw.name,
                    .tracing = gw.tracing ? &*gw.tracing : nullptr,
                    .access_logs = gw.access_logs ? &*gw.access_logs : nullptr,
                    .request_id = gw.request_id.value_or(model::RequestId{})};
  std::vector<const model::Listener*> listeners;
  for (const auto& l : own.listeners) listeners.push_back(&l);
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
    const bool on_demand = OnDemandHosts(gw.vhds, *l);
    out.listeners.push_back({l->name, BuildGatewayListener(*l, options.ads_config_source, policy, on_demand)});
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
    out.dependencies.push_back({ResourceType::kListener, l->name, ResourceType::kRoute, l->name});
    if (on_demand) {
      out.routes.push_back({l->name, routes.BuildOnDemand(l->name, options.xds_cluster)});
      TranslateHosts(world, *l, previous_hosts, hosts, built, &route_used, &out);
    } else {
      out.routes.push_back({l->name, routes.Build(l->name, l->virtual_hosts)});
      AddRouteDependencies(l->name, route_used, &out);
    }
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

// A cluster's settings: everything but its endpoints (which only its ClusterLoadAssignment reads).
model::Cluster Settings(const model::Cluster& c) {
  // Everything the Cluster message reads, including fields added later: the model minus endpoints.
  model::Cluster out = c;
  out.endpoints.clear();
  return out;
}

// What gateway and service translations read of a cluster: that it exists, and its TLS secrets.
bool SameShape(const std::optional<model::UpstreamTls>& a, const std::optional<model::UpstreamTls>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->ca_secret == b->ca_secret && a->client_cert_secret == b->client_cert_secret);
}

}  // namespace

bool OnDemandHosts(model::VhdsMode mode, const model::Listener& listener) {
  if (listener.protocol == model::Protocol::kTcp) return false;
  switch (mode) {
    case model::VhdsMode::kInline: return false;
    case model::VhdsMode::kOnDemand: return true;
    case model::VhdsMode::kAuto: return listener.virtual_hosts.size() > model::kVhdsAutoThreshold;
  }
  return false;
}

Translation Translate(const model::World& world, const Options& options) {
  return IncrementalTranslator(options).Translate(world);
}

void IncrementalTranslator::ForgetVariants(const std::string& gateway) {
  auto it = variants_.find(gateway);
  if (it == variants_.end()) return;
  for (const auto& [cluster, _] : it->second) {
    auto r = variant_readers_.find(cluster);
    if (r == variant_readers_.end()) continue;
    r->second.erase(gateway);
    if (r->second.empty()) variant_readers_.erase(r);
  }
  variants_.erase(it);
}

size_t IncrementalTranslator::TranslateVariants(const model::World& world, const std::string& name,
                                                const model::Gateway& gw, GatewayResources* out) {
  std::map<std::string, VariantEntry> previous;
  if (auto it = variants_.find(name); it != variants_.end()) previous = it->second;  // shares the messages
  ForgetVariants(name);
  std::map<std::string, VariantEntry> next;
  size_t built = 0;
  for (const auto& [cluster, policy] : gw.upstreams) {
    if (policy.empty()) continue;
    // Only clusters the gateway uses (out->clusters is sorted): a policy for another is inert.
    if (!std::binary_search(out->clusters.begin(), out->clusters.end(), cluster)) continue;
    auto c = world.clusters.find(cluster);
    if (c == world.clusters.end()) continue;
    model::Cluster named = Settings(c->second);
    named.name = cluster;
    VariantEntry e{WithUpstreamPolicy(named, policy), nullptr};
    if (auto was = previous.find(cluster); was != previous.end() && was->second.settings == e.settings) {
      e.message = was->second.message;
    } else {
      e.message = BuildCluster(e.settings, options_.ads_config_source);
      ++built;
    }
    out->cluster_variants[cluster] = e.message;
    variant_readers_[cluster].insert(name);
    next.emplace(cluster, std::move(e));
  }
  if (!next.empty()) variants_[name] = std::move(next);
  return built;
}

void IncrementalTranslator::Reset() {
  variants_.clear();
  variant_readers_.clear();
  clusters_.clear();
  secrets_.clear();
  gateways_.clear();
  services_.clear();
  hosts_.clear();
}

TranslationChanges IncrementalTranslator::Update(const model::World& world, const model::ChangeSet& changes,
                                                 const model::DependencyIndex& index) {
  TranslationChanges out;
  std::set<std::string> cluster_names, secret_names, gateway_names, service_names;
  if (changes.everything) {
    Reset();
    out.everything = true;
    for (const auto& [n, _] : world.clusters) cluster_names.insert(cluster_names.end(), n);
    for (const auto& [n, _] : world.secrets) secret_names.insert(secret_names.end(), n);
    for (const auto& [n, _] : world.gateways) gateway_names.insert(gateway_names.end(), n);
    for (const auto& [n, _] : world.clusters) service_names.insert(n);
    for (const auto& [n, _] : world.service_routes) service_names.insert(n);
  } else {
    cluster_names = changes.clusters;
    secret_names = changes.secrets;
    gateway_names = changes.gateways;
    service_names = changes.service_routes;
  }

  // Clusters: the endpoints message is rebuilt for every touched cluster, the cluster message
  // only when its settings changed. A cluster appearing, disappearing or changing its TLS secrets
  // reaches the gateways and services that name it.
  std::set<std::string> reshaped;
  std::set<std::string> resettled;  // clusters whose settings (not only endpoints) changed
  for (const auto& name : cluster_names) {
    auto it = world.clusters.find(name);
    auto prev = clusters_.find(name);
    if (it == world.clusters.end()) {
      if (prev != clusters_.end()) {
        clusters_.erase(prev);
        reshaped.insert(name);
        out.clusters.insert(name);
      }
      continue;
    }
    // The map key is the resource name; a model cluster whose own name field disagrees is
    // translated under the key so that references (which use keys) resolve.
    model::Cluster named = it->second;
    named.name = name;
    model::Cluster settings = Settings(named);
    if (prev == clusters_.end()) {
      ClusterEntry e{std::move(settings), BuildCluster(named, options_.ads_config_source), BuildLoadAssignment(named)};
      out.messages += 2;
      clusters_.emplace(name, std::move(e));
      reshaped.insert(name);
    } else {
      if (!SameShape(prev->second.settings.tls, settings.tls)) reshaped.insert(name);
      if (!(prev->second.settings == settings)) {
        resettled.insert(name);
        prev->second.cluster = BuildCluster(named, options_.ads_config_source);
        prev->second.settings = std::move(settings);
        out.messages++;
      }
      prev->second.endpoints = BuildLoadAssignment(named);
      out.messages++;
    }
    out.clusters.insert(name);
  }

  for (const auto& name : secret_names) {
    auto it = world.secrets.find(name);
    if (it == world.secrets.end()) {
      if (secrets_.erase(name)) out.secrets.insert(name);
      continue;
    }
    model::Secret named = it->second;
    named.name = name;
    secrets_[name] = BuildSecret(named);
    out.messages++;
    out.secrets.insert(name);
  }

  if (!changes.everything) {
    if (changes.defaults) {
      for (const auto& [n, _] : world.gateways) gateway_names.insert(n);
    }
    // A gateway's variant of a cluster reads the cluster's settings (not its endpoints).
    for (const auto& c : resettled) {
      if (auto r = variant_readers_.find(c); r != variant_readers_.end()) {
        gateway_names.insert(r->second.begin(), r->second.end());
      }
    }
    if (!reshaped.empty()) {
      if (index.DefaultsRead(reshaped)) {
        for (const auto& [n, _] : world.gateways) gateway_names.insert(n);  // the defaults' collectors
      }
      auto gws = index.GatewaysReadingClusters(reshaped);
      gateway_names.insert(gws.begin(), gws.end());
      auto svcs = index.ServicesReadingClusters(reshaped);
      service_names.insert(svcs.begin(), svcs.end());
      service_names.insert(reshaped.begin(), reshaped.end());  // each cluster is a service of its own
    }
  }

  for (const auto& name : gateway_names) {
    auto it = world.gateways.find(name);
    if (it == world.gateways.end()) {
      hosts_.erase(name);
      ForgetVariants(name);
      if (gateways_.erase(name)) out.gateways.insert(name);
      continue;
    }
    HostCache previous;
    if (auto prev_hosts = hosts_.find(name); prev_hosts != hosts_.end()) previous = std::move(prev_hosts->second);
    HostCache hosts;
    size_t built = 0;
    gateways_[name] = TranslateGateway(world, it->second, Effective(world, it->second), options_, &previous, &hosts, &built);
    built += TranslateVariants(world, name, it->second, &gateways_[name]);
    if (hosts.empty()) {
      hosts_.erase(name);
    } else {
      hosts_[name] = std::move(hosts);
    }
    out.messages += gateways_[name].listeners.size() + gateways_[name].routes.size() + built;
    out.gateways.insert(name);
  }

  for (const auto& name : service_names) {
    if (!world.clusters.contains(name) && !world.service_routes.contains(name)) {
      if (services_.erase(name)) out.services.insert(name);
      continue;
    }
    services_[name] = TranslateService(world, name, options_);
    out.messages += 2;
    out.services.insert(name);
  }
  return out;
}

GatewayResources IncrementalTranslator::Mesh() const {
  GatewayResources mesh;
  for (const auto& [name, piece] : services_) Append(mesh, piece);
  std::set<std::string> all;
  for (const auto& [name, _] : clusters_) all.insert(all.end(), name);
  AddClusterDependencies(all, &mesh);
  return mesh;
}

Translation IncrementalTranslator::Current() const {
  Translation out;
  for (const auto& [name, e] : clusters_) {
    out.clusters.emplace_hint(out.clusters.end(), name, e.cluster);
    out.endpoints.emplace_hint(out.endpoints.end(), name, e.endpoints);
  }
  out.secrets = secrets_;
  out.gateways = gateways_;
  out.mesh = Mesh();
  return out;
}

Translation IncrementalTranslator::Translate(const model::World& world) {
  model::DependencyIndex index;
  index.Update(world, model::ChangeSet::Everything());
  Update(world, model::ChangeSet::Everything(), index);
  return Current();
}

}  // namespace tern::translate

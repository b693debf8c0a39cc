#include "sources/consul/mapper.h"

#include <cmath>
#include <set>

#include "sources/consul/limits.h"

namespace tern::sources::consul {
namespace {

// Splitter weights are percentages with up to two decimals; the model wants integers. Whole
// percentages stay as they are (they sum to 100, which proxyless gRPC 1.51 requires when a
// route's total_weight is unset); a split with decimals is scaled to hundredths of a percent.
bool WholePercents(const ChainNode& splitter) {
  for (const auto& s : splitter.splits) {
    if (std::fabs(s.weight - std::round(s.weight)) > 1e-9) return false;
  }
  return true;
}
uint32_t ScaledWeight(double percent, bool whole) {
  return static_cast<uint32_t>(std::llround(whole ? percent : percent * 100));
}

// Where a node leads: one cluster for a resolver, weighted clusters for a splitter.
std::vector<model::WeightedCluster> NodeClusters(const DiscoveryChain& chain, const std::string& key, int depth = 0) {
  std::vector<model::WeightedCluster> out;
  auto it = chain.nodes.find(key);
  if (it == chain.nodes.end() || depth > 8) return out;
  const ChainNode& n = it->second;
  if (n.type == "resolver") {
    out.push_back({.cluster = n.target, .weight = 1});
  } else if (n.type == "splitter") {
    std::map<std::string, uint32_t> weights;
    std::vector<std::string> order;
    const bool whole = WholePercents(n);
    for (const auto& s : n.splits) {
      for (const auto& wc : NodeClusters(chain, s.next_node, depth + 1)) {
        if (!weights.count(wc.cluster)) order.push_back(wc.cluster);
        weights[wc.cluster] += ScaledWeight(s.weight, whole);
      }
    }
    for (const auto& c : order) out.push_back({.cluster = c, .weight = weights[c]});
  } else if (n.type == "router" && !n.routes.empty()) {
    // A router only starts a chain; reaching one here means "its default route".
    return NodeClusters(chain, n.routes.back().next_node, depth + 1);
  }
  return out;
}

// The RequestTimeout of the resolver a route leads to directly (a router route's own wins).
std::optional<std::chrono::milliseconds> ResolverRequestTimeout(const DiscoveryChain& chain, const std::string& key) {
  auto it = chain.nodes.find(key);
  if (it == chain.nodes.end() || it->second.type != "resolver") return std::nullopt;
  return it->second.request_timeout;
}

model::Route CatchAll(const DiscoveryChain& chain, const std::string& origin) {
  model::Route r;
  r.name = chain.service + "/default";
  r.action.clusters = NodeClusters(chain, chain.start_node);
  r.action.timeout = ResolverRequestTimeout(chain, chain.start_node);
  r.origin = origin;
  return r;
}

}  // namespace

std::string UrlEscape(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string ServiceHealthPath(const std::string& service) { return "/v1/health/service/" + UrlEscape(service); }

std::string HealthPath(const ChainTarget& t, const std::string& chain_datacenter, const std::string& chain_namespace,
                       const std::string& chain_partition) {
  std::string path = ServiceHealthPath(t.service);
  char sep = '?';
  if (!t.filter.empty()) {
    path += sep + std::string("filter=") + UrlEscape(t.filter);
    sep = '&';
  }
  if (t.only_passing) {
    path += sep + std::string("passing=true");
    sep = '&';
  }
  if (!t.datacenter.empty() && t.datacenter != chain_datacenter) {
    path += sep + std::string("dc=") + UrlEscape(t.datacenter);
    sep = '&';
  }
  // Consul Enterprise: a target in another namespace or partition than the chain's is read there,
  // never from the chain's namespace under the same service name.
  auto named = [](const std::string& v) { return v.empty() ? std::string("default") : v; };
  if (named(t.ns) != named(chain_namespace)) {
    path += sep + std::string("ns=") + UrlEscape(named(t.ns));
    sep = '&';
  }
  if (named(t.partition) != named(chain_partition)) path += sep + std::string("partition=") + UrlEscape(named(t.partition));
  return path;
}

std::vector<std::string> HealthPaths(const DiscoveryChain& chain) {
  std::set<std::string> out;
  for (const auto& [id, t] : chain.targets) out.insert(HealthPath(t, chain.datacenter, chain.ns, chain.partition));
  return {out.begin(), out.end()};
}

std::vector<EndpointSource> EndpointSources(const DiscoveryChain& chain, const std::string& target_id) {
  std::vector<EndpointSource> out;
  auto t = chain.targets.find(target_id);
  if (t == chain.targets.end()) return out;
  out.push_back({HealthPath(t->second, chain.datacenter, chain.ns, chain.partition), 0});
  for (const auto& [key, n] : chain.nodes) {
    if (n.type != "resolver" || n.target != target_id) continue;
    for (size_t f = 0; f < n.failover_targets.size(); ++f) {
      auto ft = chain.targets.find(n.failover_targets[f]);
      if (ft == chain.targets.end()) continue;
      out.push_back({HealthPath(ft->second, chain.datacenter, chain.ns, chain.partition), static_cast<uint32_t>(f + 1)});
    }
  }
  return out;
}

std::vector<model::Endpoint> EndpointsFrom(const std::map<std::string, std::vector<Instance>>& health,
                                           const std::vector<EndpointSource>& sources) {
  std::vector<model::Endpoint> out;
  for (const auto& s : sources) {
    auto it = health.find(s.health_path);
    if (it == health.end()) continue;
    for (const auto& inst : it->second) {
      if (auto ep = ToEndpoint(inst)) {
        ep->priority = s.priority;
        out.push_back(std::move(*ep));
      }
    }
  }
  return out;
}

model::Protocol ProtocolFromConsul(const std::string& p) {
  if (p == "http") return model::Protocol::kHttp;
  if (p == "http2") return model::Protocol::kHttp2;
  if (p == "grpc") return model::Protocol::kGrpc;
  return model::Protocol::kTcp;
}

std::string DefaultTarget(const DiscoveryChain& chain) {
  auto clusters = NodeClusters(chain, chain.start_node);
  if (clusters.empty()) return "";
  // A split's default is its heaviest share.
  const model::WeightedCluster* best = &clusters.front();
  for (const auto& c : clusters) if (c.weight > best->weight) best = &c;
  return best->cluster;
}

std::vector<model::Route> ChainRoutes(const DiscoveryChain& chain) {
  const std::string origin = "discovery-chain/" + chain.service;
  std::vector<model::Route> out;
  auto start = chain.nodes.find(chain.start_node);
  if (start == chain.nodes.end()) return out;
  if (start->second.type != "router") {
    out.push_back(CatchAll(chain, origin));
    return out;
  }
  const auto& routes = start->second.routes;
  for (size_t i = 0; i < routes.size(); ++i) {
    const ChainRoute& cr = routes[i];
    model::Route r;
    r.name = chain.service + "/" + std::to_string(i);
    r.origin = origin + " " + chain.start_node + " Routes[" + std::to_string(i) + "]";
    r.match = cr.match;
    r.action.clusters = NodeClusters(chain, cr.next_node);
    const ChainDestination& d = cr.destination;
    r.action.prefix_rewrite = d.prefix_rewrite;
    r.action.timeout = d.request_timeout ? d.request_timeout : ResolverRequestTimeout(chain, cr.next_node);
    r.action.idle_timeout = d.idle_timeout;
    r.action.request_headers = d.request_headers;
    r.action.response_headers = d.response_headers;
    // As Consul's own Envoy configuration: a retry policy whenever any retry field is set; its
    // conditions are RetryOn, then connect-failure, then retriable-status-codes. NumRetries alone
    // gives an empty condition list, as in Consul (see docs/consul.md, "Retries").
    if (d.num_retries > 0 || d.retry_on_connect_failure || !d.retry_on_status_codes.empty() || !d.retry_on.empty()) {
      model::RetryPolicy retry;
      retry.num_retries = d.num_retries > 0 ? d.num_retries : 1;
      retry.on_connect_failure = d.retry_on_connect_failure;
      retry.on_status_codes = d.retry_on_status_codes;
      retry.retry_on = d.retry_on;
      r.action.retry = retry;
    }
    out.push_back(std::move(r));
  }
  return out;
}

bool PlainChain(const DiscoveryChain& chain) {
  if (chain.nodes.size() != 1 || chain.targets.size() != 1) return false;
  auto start = chain.nodes.find(chain.start_node);
  if (start == chain.nodes.end() || start->second.type != "resolver" || !start->second.failover_targets.empty()) return false;
  auto t = chain.targets.find(start->second.target);
  if (t == chain.targets.end()) return false;
  auto named = [](const std::string& v) { return v.empty() ? std::string("default") : v; };
  return t->second.service == chain.service && t->second.subset.empty() &&
         (t->second.datacenter.empty() || t->second.datacenter == chain.datacenter) &&
         named(t->second.ns) == named(chain.ns) && named(t->second.partition) == named(chain.partition);
}

model::World BuildWorld(const ConsulView& view, std::vector<model::Problem>* problems, const TagRouting& tags) {
  model::World world;
  auto protocol_of = [&](const std::string& service, const DiscoveryChain& chain) {
    if (auto it = view.defaults.find(service); it != view.defaults.end() && !it->second.protocol.empty())
      return ProtocolFromConsul(it->second.protocol);
    if (service == chain.service) return ProtocolFromConsul(chain.protocol);
    return model::Protocol::kTcp;
  };
  for (const auto& [service, chain] : view.chains) {
    const std::string origin = "discovery-chain/" + service;
    // One cluster per target; a resolver node gives its target's connection settings.
    for (const auto& [id, t] : chain.targets) {
      if (world.clusters.count(id)) continue;
      model::Cluster c;
      c.name = id;
      c.service = t.service;
      c.protocol = protocol_of(t.service, chain);
      c.origin = origin + " Targets." + id;
      c.endpoints = EndpointsFrom(view.health, EndpointSources(chain, id));
      for (const auto& [key, n] : chain.nodes) {
        if (n.type != "resolver" || n.target != id) continue;
        if (n.connect_timeout && n.connect_timeout->count() > 0) c.connect_timeout = *n.connect_timeout;
        if (n.lb_policy) c.lb_policy = *n.lb_policy;
      }
      world.clusters.emplace(id, std::move(c));
    }
  }

  // What a request addressed to each service follows: its chain's routes, or for a service with
  // no routing of its own, the routes its instance tags give (Fabio weights, Nomad canaries).
  std::map<std::string, std::vector<model::Route>> routes_of;
  tags::FabioWorld fabio;
  if (!tags.fabio.gateways.empty()) {
    std::vector<tags::TaggedService> tagged;
    for (const auto& [service, chain] : view.chains) {
      tags::TaggedService ts{.name = service, .origin = "consul service " + service,
                             .protocol = protocol_of(service, chain), .endpoints = {}};
      if (auto it = view.health.find(ServiceHealthPath(service)); it != view.health.end()) {
        for (const auto& inst : it->second) {
          if (auto ep = ToEndpoint(inst)) ts.endpoints.push_back(std::move(*ep));
        }
      }
      tagged.push_back(std::move(ts));
    }
    fabio = tags::BuildFabioRoutes(tagged, tags.fabio, problems);
    for (auto& [name, c] : fabio.clusters) world.clusters.emplace(name, std::move(c));
  }
  for (const auto& [service, chain] : view.chains) {
    std::vector<model::Route> routes = ChainRoutes(chain);
    if (PlainChain(chain)) {
      const std::string origin = "consul service " + service;
      std::vector<model::Route> own;
      if (auto f = fabio.service_routes.find(service); f != fabio.service_routes.end()) own = f->second;
      auto base = world.clusters.find(chain.nodes.begin()->second.target);
      std::optional<tags::CanaryRouting> canary;
      if (base != world.clusters.end()) canary = tags::Canary(base->second, tags.canary, origin, problems);
      if (canary) {
        world.clusters[canary->canary.name] = canary->canary;
        world.clusters[canary->stable.name] = canary->stable;
        routes = canary->routes;
      }
      own.insert(own.end(), routes.begin(), routes.end());
      routes = std::move(own);
    }
    routes_of[service] = routes;
    world.service_routes[service] = {.service = service, .routes = std::move(routes), .origin = "discovery-chain/" + service};
  }

  for (const auto& entry : view.ingress) {
    const std::string origin = "ingress-gateway/" + entry.name;
    model::Gateway g;
    g.name = entry.name;
    g.origin = origin;
    g.vhds = entry.vhds;
    std::optional<model::ListenerTls> tls;
    if (entry.tls_enabled) {
      auto leaf = view.leaves.find(entry.name);
      if (leaf == view.leaves.end() || !view.roots) {
        problems->push_back({origin, "TLS is enabled but the Connect CA " +
                                         std::string(leaf == view.leaves.end() ? "leaf certificate" : "roots") +
                                         " could not be read yet; the gateway's listeners are left out"});
        world.gateways[g.name] = std::move(g);
        continue;
      }
      const std::string leaf_name = ConnectLeafSecret(entry.name);
      model::Secret cert{.name = leaf_name, .kind = model::Secret::Kind::kTlsCertificate,
                         .cert_chain_pem = leaf->second.cert_pem, .private_key_pem = leaf->second.private_key_pem,
                         .origin = "consul " + ConnectLeafPath(entry.name)};
      for (const auto& pem : view.roots->ActiveIntermediates()) {
        if (cert.cert_chain_pem.find(pem) != std::string::npos) continue;
        if (!cert.cert_chain_pem.empty() && cert.cert_chain_pem.back() != '\n') cert.cert_chain_pem += '\n';
        cert.cert_chain_pem += pem;
      }
      world.secrets[leaf_name] = std::move(cert);
      world.secrets[kConnectRootsSecret] = {.name = kConnectRootsSecret,
                                            .kind = model::Secret::Kind::kValidationContext,
                                            .trusted_ca_pem = view.roots->TrustedCaPem(),
                                            .origin = std::string("consul ") + kConnectRootsPath};
      tls.emplace();
      tls->certs.push_back({.server_names = {}, .secret = leaf_name});
      tls->client_ca_secret = kConnectRootsSecret;
    }
    for (size_t li = 0; li < entry.listeners.size(); ++li) {
      const IngressListener& il = entry.listeners[li];
      const std::string lorigin = origin + " Listeners[" + std::to_string(li) + "]";
      model::Listener l;
      l.name = il.protocol + "_" + std::to_string(il.port);
      l.port = il.port;
      l.protocol = ProtocolFromConsul(il.protocol);
      l.origin = lorigin;
      if (il.protocol != "tcp") {
        if (auto it = entry.rate_limits.ports.find(il.port); it != entry.rate_limits.ports.end()) {
          l.rate_limit = it->second;
        } else {
          l.rate_limit = entry.rate_limits.gateway;
        }
      }
      if (il.protocol == "tcp") {
        if (il.services.empty()) continue;
        auto chain = view.chains.find(il.services[0].name);
        if (chain == view.chains.end()) {
          problems->push_back({lorigin, "service '" + il.services[0].name + "' is not in the catalog"});
          continue;
        }
        l.tcp_cluster = DefaultTarget(chain->second);
        l.tls = tls;
        g.listeners.push_back(std::move(l));
        continue;
      }
      std::vector<std::string> services;
      for (const auto& s : il.services) {
        if (s.name != "*") {
          services.push_back(s.name);
          continue;
        }
        for (const auto& [name, chain] : view.chains) {
          if (name != "consul" && chain.protocol != "tcp" && !chain.protocol.empty()) services.push_back(name);
        }
      }
      std::set<std::string> domains_used;
      for (const auto& name : services) {
        auto chain = view.chains.find(name);
        if (chain == view.chains.end()) continue;  // not registered (yet): nothing to route to
        std::vector<std::string> hosts;
        const IngressService* exposed = nullptr;
        for (const auto& s : il.services) if (s.name == name) exposed = &s;
        if (exposed) hosts = exposed->hosts;
        if (hosts.empty()) hosts = {name + ".ingress.*", name + ".ingress.*:" + std::to_string(il.port)};
        model::VirtualHost vh;
        vh.name = name;
        vh.origin = lorigin;
        if (exposed) {
          vh.request_headers = exposed->request_headers;
          vh.response_headers = exposed->response_headers;
        }
        if (auto rl = entry.rate_limits.services.find(name); rl != entry.rate_limits.services.end()) {
          vh.rate_limit = rl->second;
        }
        for (const auto& h : hosts) {
          if (domains_used.insert(h).second) vh.domains.push_back(h);
          else problems->push_back({lorigin, "host '" + h + "' is exposed twice; kept for the first service only"});
        }
        if (vh.domains.empty()) continue;
        vh.routes = routes_of[name];
        l.virtual_hosts.push_back(std::move(vh));
      }
      l.tls = tls;
      g.listeners.push_back(std::move(l));
    }
    world.gateways[g.name] = std::move(g);
  }
  ApplyIngressLimits(view.ingress, view.defaults, &world, problems);  // limits.h
  for (auto& g : fabio.gateways) {
    if (world.gateways.count(g.name)) {
      problems->push_back({g.origin, "an ingress-gateway entry has the same name; the Fabio routes are not added to it"});
      continue;
    }
    world.gateways[g.name] = std::move(g);
  }
  // proxy-defaults "global": tern-wide gateway defaults and the static clusters their tracers name.
  if (view.proxy_defaults) {
    for (const auto& c : view.proxy_defaults->clusters) {
      if (world.clusters.contains(c.name)) {
        problems->push_back({c.origin, "cluster '" + c.name + "' is also a Consul service target; the target is kept"});
        continue;
      }
      world.clusters.emplace(c.name, c);
    }
    const model::GatewayDefaults& d = view.proxy_defaults->defaults;
    if (d.tracing || d.access_logs) world.defaults = d;
  }
  return world;
}

}  // namespace tern::sources::consul
